"""S4D: a diagonal state-space layer (Gu et al. 2022, "On the Parameterization and Initialization of
Diagonal State Space Models"), with a convolution mode for training and an exact recurrent mode for
streaming.

Every channel ``c`` is an independent linear system with ``M = N/2`` complex modes ``m``::

    s'(t) = A s(t) + B u(t),   y(t) = 2 Re(C s(t)) + D u(t)        (continuous time, B = 1)

The modes come in conjugate pairs, so only one of each pair is kept and the output is ``2 Re``.
Zero-order hold with step ``dt`` (learned per channel) gives the discrete recurrence::

    s[n] = A_bar s[n-1] + B_bar u[n],   A_bar = exp(dt A),   B_bar = (A_bar - 1) / A
    y[n] = 2 Re(C s[n]) + D u[n]  =  sum_j K[j] u[n-j] + D u[n],   K[j] = 2 Re(C B_bar A_bar^j)

Initialisation is S4D-Lin: ``A_m = -1/2 + i pi m``, ``C ~ CN(0, 1)``, ``D ~ N(0, 1)``,
``log dt ~ U(log dt_min, log dt_max)``. (S4-LA2A used S4D-LegS, the diagonal part of the HiPPO-LegS
matrix; S4D reports Lin and LegS within noise of each other.) ``B`` is fixed at 1: only the product
``C B`` reaches the output, so a learned ``B`` would be redundant.

Offline (``forward``), the layer builds ``K`` for the whole input and convolves with FFTs. Streaming
(``step``), a block of ``L`` samples adds the carried state's free response to the block's own
convolution, and the state jumps ``L`` samples in closed form::

    y[t]   = sum_{k<=t} K[t-k] u[k] + D u[t] + 2 Re(C A_bar^(t+1) s_prev)       t = 0..L-1
    s_next = A_bar^L s_prev + sum_k A_bar^(L-1-k) B_bar u[k]

so any sequence of block lengths gives the offline output, without a per-sample loop.
"""
from __future__ import annotations

import math

import torch
from torch import nn

FROZEN_BLOCK = 256  # inference sub-block length
TOEPLITZ_MAX = 32  # sub-blocks up to this length convolve by a (C, L, L) matrix, longer ones by FFT


def _fft_size(n: int) -> int:
    """Smallest power of two >= n (a fast, exact-enough length for the FFT convolution)."""
    return 1 << max(0, (n - 1).bit_length())


def causal_fft_conv(u: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-channel causal convolution ``y[t] = sum_{j<=t} kernel[j] u[t-j]`` via zero-padded FFTs.

    Padding to at least ``2L`` keeps the circular wrap-around out of the first ``L`` outputs::

        u:      [u0 .. u_{L-1} | 0 ... 0]      kernel: [k0 .. k_{L-1} | 0 ... 0]
        y:      [y0 .. y_{L-1} | tail   ]      keep the first L samples

    Args:
        u: ``(B, C, L)`` input; half precision is computed in float32 (FFTs need it).
        kernel: ``(C, L)`` taps.
    """
    dtype = torch.promote_types(u.dtype, torch.float32)
    u, kernel = u.to(dtype), kernel.to(dtype)
    n = _fft_size(2 * u.shape[-1])
    spec = torch.fft.rfft(u, n=n) * torch.fft.rfft(kernel, n=n)  # (B, C, n//2 + 1)
    return torch.fft.irfft(spec, n=n)[..., : u.shape[-1]]


class S4D(nn.Module):
    """Diagonal state-space layer over ``(B, C, T)``, one independent SSM per channel.

    Args:
        channels: C, independent channels (each its own ``A``, ``C``, ``D``, ``dt``).
        state_size: N, real state size per channel; N/2 complex modes are kept (default 4, even).
        dt_min, dt_max: range of the initial step ``dt`` in units of one sample, log-uniform per
            channel (default 0.001, 0.1). The slowest mode at init decays in ``2 / dt_min`` samples.
    """

    def __init__(self, channels: int, state_size: int = 4, dt_min: float = 0.001, dt_max: float = 0.1):
        super().__init__()
        if state_size < 2 or state_size % 2:
            raise ValueError(f"S4D state_size must be an even number >= 2 (N/2 complex modes), got {state_size}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"S4D needs 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        self.channels = channels
        self.state_size = state_size
        modes = state_size // 2
        log_dt = torch.rand(channels) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)                                             # (C,)
        self.log_a_real = nn.Parameter(torch.full((channels, modes), math.log(0.5)))   # Re A = -exp(.)
        self.a_imag = nn.Parameter(math.pi * torch.arange(modes, dtype=torch.float32).repeat(channels, 1))
        self.c = nn.Parameter(torch.view_as_real(torch.randn(channels, modes, dtype=torch.cfloat)))  # (C, M, 2)
        self.d = nn.Parameter(torch.randn(channels))

    @property
    def modes(self) -> int:
        return self.state_size // 2

    def discretize(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ZOH in float64: ``(dt A, B_bar, C)`` as complex128, each ``(C, M)``.

        float64 here costs nothing (a few numbers per channel) and avoids the cancellation of
        ``exp(dt A) - 1`` for the small ``dt A`` of slow modes.
        """
        a = torch.complex(-self.log_a_real.double().exp(), self.a_imag.double())   # (C, M)
        dt_a = a * self.log_dt.double().exp()[:, None]
        # exp(x + iy) - 1 = expm1(x) e^{iy} + expm1(iy), accurate for small dt A
        b_bar = (torch.expm1(dt_a.real) * torch.exp(1j * dt_a.imag) + torch.expm1(1j * dt_a.imag)) / a
        return dt_a, b_bar, torch.view_as_complex(self.c).to(torch.complex128)

    @staticmethod
    def powers(dt_a: torch.Tensor, length: int, dtype: torch.dtype) -> torch.Tensor:
        """``A_bar^j = exp(j dt A)`` for ``j < length`` as complex ``dtype``: ``(C, M) -> (C, M, length)``.

        ``exp(j dt A)`` in float32 loses the phase ``j Im(dt A)`` for large ``j`` (an error that grows
        with ``j``). Instead ``j = q P + r`` with ``P ~ sqrt(length)``: the two short tables
        ``A_bar^(qP)`` and ``A_bar^r`` are exact in float64, and their products in ``dtype`` are
        accurate to a couple of roundings at every ``j``.
        """
        span = max(1, math.isqrt(max(length - 1, 0)) + 1)
        rows = -(-length // span)
        r = torch.arange(span, device=dt_a.device, dtype=torch.float64)
        q = torch.arange(rows, device=dt_a.device, dtype=torch.float64) * span
        low = torch.exp(dt_a[..., None] * r).to(dtype)                      # (C, M, P)
        high = torch.exp(dt_a[..., None] * q).to(dtype)                     # (C, M, Q)
        # (C, M, Q, 1) * (C, M, 1, P) -> (C, M, Q*P), row q holds j = qP .. qP + P - 1
        return (high[..., :, None] * low[..., None, :]).flatten(-2)[..., :length]

    def kernel(self, length: int) -> torch.Tensor:
        """The convolution kernel ``K[j] = 2 Re(C B_bar A_bar^j)``, ``j < length``: ``(C, length)``
        (the impulse response without the ``D`` skip), in the parameters' precision."""
        cdtype = torch.complex128 if self.d.dtype == torch.float64 else torch.complex64
        dt_a, b_bar, c = self.discretize()
        return 2 * torch.einsum("cm,cml->cl", (c * b_bar).to(cdtype), self.powers(dt_a, length, cdtype)).real

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Convolution mode from a zero state. B batch, C channels, T samples: ``(B, C, T) -> (B, C, T)``."""
        return causal_fft_conv(u, self.kernel(u.shape[-1])) + self.d[:, None] * u

    def init_state(self, batch_size: int) -> torch.Tensor:
        """Zero state, the modes as ``(re, im)`` pairs in float64: ``(B, C, M, 2)``.

        float64 keeps the carried state exact over hours of audio; it is a few numbers per channel.
        """
        return torch.zeros(batch_size, self.channels, self.modes, 2, device=self.d.device, dtype=torch.float64)

    def _frozen_key(self, dtype: torch.dtype) -> tuple:
        return (dtype, self.d.device, *(p._version for p in self.parameters()),
                *(p.data_ptr() for p in self.parameters()))

    @torch.no_grad()
    def frozen_step_tables(self, length: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Real matrices that make a block of ``length`` samples plain matmuls (inference only).

        ``toeplitz (C, L, L)``: the block's zero-state response; ``free (C, 2M, L)``: output of the
        carried state ``[Re s, Im s]``; ``drive (C, L, 2M)``: the block's input into the new state;
        ``decay_re, decay_im (C, M)``: ``A_bar^L``. Cached until a parameter changes, so streaming does
        no per-block discretisation and exported graphs hold only real arithmetic.
        """
        cache = getattr(self, "_frozen", None)
        if torch.compiler.is_compiling() and cache is not None and (length, dtype) in cache[1]:
            return cache[1][length, dtype]  # torch.export traces with fake parameters: tables become constants
        key = self._frozen_key(dtype)
        if cache is None or cache[0] != key:
            cache = self._frozen = (key, {})
        if (length, dtype) in cache[1]:
            return cache[1][length, dtype]
        dt_a, b_bar, c = self.discretize()
        powers = self.powers(dt_a, length + 1, torch.complex128)                    # (C, M, L+1)
        kernel = 2 * torch.einsum("cm,cml->cl", c * b_bar, powers[..., :length]).real  # (C, L)
        j = torch.arange(length, device=kernel.device)
        lag = j[:, None] - j[None, :]                                               # t - s
        toeplitz = torch.where(lag >= 0, kernel[:, lag.clamp(min=0)], torch.zeros((), dtype=kernel.dtype))
        toeplitz = toeplitz + torch.diag_embed(self.d.double()[:, None].expand(-1, length))  # + D skip
        ca = c[..., None] * powers[..., 1:]                                         # C A_bar^(t+1): (C, M, L)
        free = torch.cat([2 * ca.real, -2 * ca.imag], dim=1)                        # (C, 2M, L)
        ba = b_bar[..., None] * powers[..., :length].flip(-1)                       # B_bar A_bar^(L-1-t)
        drive = torch.cat([ba.real, ba.imag], dim=1).transpose(1, 2)                # (C, L, 2M)
        n_fft = _fft_size(2 * length)
        kernel_f = torch.fft.rfft(kernel, n=n_fft)                                  # (C, n_fft/2 + 1)
        tables = {"toeplitz": toeplitz.to(dtype), "free": free, "drive": drive, "n_fft": n_fft,
                  "kernel_re": kernel_f.real.to(dtype), "kernel_im": kernel_f.imag.to(dtype),
                  "decay_re": powers[..., length].real, "decay_im": powers[..., length].imag}
        cache[1][length, dtype] = tables
        return tables

    def frozen_step(self, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``step`` through :meth:`frozen_step_tables`: same result, real matmuls only (no autograd)."""
        t = self.frozen_step_tables(int(u.shape[-1]), u.dtype)
        uc = u.transpose(0, 1)                                                      # (B, C, L) -> (C, B, L)
        if int(u.shape[-1]) <= TOEPLITZ_MAX or torch.compiler.is_compiling():
            y = torch.bmm(uc, t["toeplitz"].transpose(1, 2))                        # (C, B, L)
        else:  # longer blocks: FFT convolution with the cached kernel spectrum (less memory traffic)
            uf = torch.fft.rfft(uc, n=t["n_fft"])                                   # (C, B, F)
            kr, ki = t["kernel_re"][:, None], t["kernel_im"][:, None]
            yf = torch.complex(uf.real * kr - uf.imag * ki, uf.real * ki + uf.imag * kr)
            y = torch.fft.irfft(yf, n=t["n_fft"])[..., : u.shape[-1]] + self.d[:, None, None] * uc
        s_re, s_im = state[..., 0], state[..., 1]                                   # (B, C, M) each
        s = torch.cat([s_re, s_im], dim=-1).transpose(0, 1)                         # (C, B, 2M)
        y = y + torch.bmm(s, t["free"]).to(u.dtype)
        d = torch.bmm(uc.double(), t["drive"]).transpose(0, 1)                      # (B, C, 2M)
        m = self.modes
        a_re, a_im = t["decay_re"], t["decay_im"]                                   # (C, M)
        new = torch.stack([a_re * s_re - a_im * s_im + d[..., :m], a_im * s_re + a_re * s_im + d[..., m:]], dim=-1)
        return y.transpose(0, 1), new

    def step(self, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Process one block ``(B, C, L)`` of any length ``L >= 1`` exactly; return output and new state.

        At inference (no autograd) the block runs as sub-blocks of ``FROZEN_BLOCK`` samples through
        cached tables (:meth:`frozen_step`): cost per sample flat in the block size.

        The carried state and its terms are float64; the block's own convolution runs in the
        input's precision, as offline. Every sum over modes or samples is a batched matmul over
        channels with the powers stacked as real rows ``[Re A_bar^j; Im A_bar^j]``.
        """
        if not torch.is_grad_enabled():  # inference: cached tables, sub-blocks of at most FROZEN_BLOCK
            outs = []
            for start in range(0, int(u.shape[-1]), FROZEN_BLOCK):
                y, state = self.frozen_step(u[..., start : start + FROZEN_BLOCK], state)
                outs.append(y)
            return (outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)), state
        length, modes = u.shape[-1], self.modes
        dt_a, b_bar, c = self.discretize()
        powers = self.powers(dt_a, length + 1, torch.complex128)                    # (C, M, L+1)
        rows = torch.cat([powers.real, powers.imag], dim=1)                         # (C, 2M, L+1)

        def two_re(z: torch.Tensor) -> torch.Tensor:  # 2 Re(z w) = [2 Re z, -2 Im z] . [Re w; Im w]
            return torch.cat([2 * z.real, -2 * z.imag], dim=-1)

        # the block's response from a zero state: K[j] = 2 Re(C B_bar A_bar^j)
        kernel = torch.bmm(two_re(c * b_bar)[:, None, :], rows[..., :length])[:, 0]  # (C, 1, 2M) @ (C, 2M, L)
        y = causal_fft_conv(u, kernel.to(u.dtype)) + self.d[:, None] * u
        # plus the free response of the carried state: 2 Re(C A_bar^(t+1) s_prev)
        s_prev = torch.view_as_complex(state)                                       # (B, C, M)
        coef = two_re(s_prev * c).transpose(0, 1)                                   # (B, C, 2M) -> (C, B, 2M)
        free = torch.bmm(coef, rows[..., 1:]).transpose(0, 1)                       # (C, B, L) -> (B, C, L)
        # jump the state L samples: A_bar^L s_prev + B_bar sum_j A_bar^j u[L-1-j]
        u_rev = u.double().flip(-1).transpose(0, 1)                                 # (B, C, L) -> (C, B, L)
        drive = torch.bmm(u_rev, rows[..., :length].transpose(1, 2)).transpose(0, 1)  # (C, B, 2M) -> (B, C, 2M)
        drive = torch.complex(drive[..., :modes], drive[..., modes:])               # (B, C, M)
        s_next = powers[..., length] * s_prev + drive * b_bar
        return y + free.to(u.dtype), torch.view_as_real(s_next)

    @torch.no_grad()
    def effective_length(self, tol: float = 1e-6) -> int:
        """Taps holding all but ``tol`` of the impulse response's energy, the longest over channels.

        The response ``h = D delta + K`` is infinite; this is the smallest ``L`` with
        ``sum_{n>=L} h[n]^2 <= tol * sum_n h[n]^2``, found by bisection on the closed-form tail
        ``sum_{n>=L} K[n]^2 = sum_{ij} u_i u_j (w_i w_j)^L / (1 - w_i w_j)`` over the 2M poles
        ``w`` (each mode and its conjugate) with residues ``u``.
        """
        dt_a, b_bar, c = self.discretize()
        log_w = torch.cat([dt_a, dt_a.conj()], dim=-1)                  # (C, 2M)
        res = torch.cat([c * b_bar, (c * b_bar).conj()], dim=-1)         # (C, 2M)
        log_ww = log_w[:, :, None] + log_w[:, None, :]                   # (C, 2M, 2M)
        coef = res[:, :, None] * res[:, None, :] / (1 - log_ww.exp())

        def tail(n: torch.Tensor) -> torch.Tensor:  # (C,) -> (C,): sum_{k>=n} K[k]^2
            return (coef * (log_ww * n[:, None, None]).exp()).sum((1, 2)).real.clamp_min(0)

        zero = torch.zeros(self.channels, dtype=torch.float64, device=dt_a.device)
        k0 = 2 * (c * b_bar).sum(-1).real
        total = tail(zero) - k0**2 + (k0 + self.d.double()) ** 2
        threshold = tol * total
        # upper bound from the slowest pole: |K[n]| <= sum|u| r^n, so tail(n) <= (sum|u|)^2 r^2n / (1 - r^2)
        log_r = log_w.real.max(-1).values                                # (C,), < 0
        scale = res.abs().sum(-1) ** 2 / -torch.expm1(2 * log_r)
        hi = ((threshold / scale).clamp_max(1).log() / (2 * log_r)).ceil().clamp_min(1)
        lo = torch.zeros_like(hi)
        while bool((open_ := hi - lo > 1).any()):
            mid = torch.floor((lo + hi) / 2)
            ok = tail(mid) <= threshold
            hi, lo = torch.where(open_ & ok, mid, hi), torch.where(open_ & ~ok, mid, lo)
        return int(hi.max().item())
