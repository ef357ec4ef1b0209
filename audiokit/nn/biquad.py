"""Biquads (second-order IIR sections): RBJ-cookbook design from gain, cutoff and Q, differentiable
filtering of whole signals with per-example coefficients, and exact block streaming with a carried
state.

Coefficients are normalised by ``a0`` and kept on the last axis as ``(b0, b1, b2, a1, a2)``::

    y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]

The streaming state is the transposed direct form II state ``(s1, s2)`` of every section::

    y[n] = b0 x[n] + s1          s1 <- b1 x[n] - a1 y[n] + s2          s2 <- b2 x[n] - a2 y[n]

A block is filtered as if it started from silence, plus the free response of the carried state. Both
go through the same all-pole recursion ``1 / (1 + a1 z^-1 + a2 z^-2)``, whose input is the block's FIR
part plus the state as an impulse pair at the block start::

    u = [b0 x0 + s1,  b0 x1 + b1 x0 + s2,  b0 x2 + b1 x1 + b2 x0,  ...]      y = allpole(u)

The state after the block comes from its last two inputs and outputs, so any sequence of block lengths
gives the offline output, and nothing before the block is recomputed. The recursion runs in
torchaudio's ``lfilter`` (a compiled loop with gradients); under a tracer or exporter, whose graphs
cannot hold that custom op, it is the product with the block's Toeplitz matrix of impulse response.

Stability is guaranteed by the parameterisation: the cookbook designs are bilinear transforms of
stable analog prototypes, so for ``0 < cutoff_hz < sample_rate / 2``, ``q > 0`` and a finite gain
the poles lie strictly inside the unit circle (``|a2| < 1``, ``|a1| < 1 + a2``). Callers that learn
these parameters squash them into such ranges (see :mod:`audiokit.models.effects.graybox`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchaudio.functional as AF

BIQUAD_KINDS = ("peaking", "low_shelf", "high_shelf", "lowpass", "highpass")
"""The cookbook designs :func:`biquad_coefficients` knows; lowpass and highpass ignore the gain."""


def biquad_coefficients(kind: str, gain_db: torch.Tensor | float, cutoff_hz: torch.Tensor | float,
                        q: torch.Tensor | float, sample_rate: float) -> torch.Tensor:
    """RBJ Audio EQ Cookbook coefficients, differentiable in gain, cutoff and Q.

    Args:
        kind: one of :data:`BIQUAD_KINDS`. Shelves use ``alpha = sin(w0) / (2 q)``, as peaks do
            (``q = 1/sqrt(2)`` is the steepest shelf without overshoot).
        gain_db: peak/shelf gain in dB (ignored by lowpass and highpass); any shape that broadcasts
            with the others, e.g. ``(B, N)`` for N filters per example.
        cutoff_hz: centre (peaking), corner (lowpass, highpass) or midpoint (shelves) frequency in Hz;
            must lie in ``(0, sample_rate / 2)``.
        q: quality factor, ``> 0``.
        sample_rate: Hz.

    Returns:
        ``(..., 5)``: ``(b0, b1, b2, a1, a2)`` normalised by ``a0``, the broadcast shape of the inputs
        then the coefficient axis.
    """
    if kind not in BIQUAD_KINDS:
        raise ValueError(f"kind: expected one of {BIQUAD_KINDS}, got {kind!r}")
    gain_db, cutoff_hz, q = (torch.as_tensor(v) for v in (gain_db, cutoff_hz, q))
    gain_db, cutoff_hz, q = torch.broadcast_tensors(gain_db, cutoff_hz, q)
    w0 = 2 * math.pi * cutoff_hz / sample_rate
    cos, alpha = torch.cos(w0), torch.sin(w0) / (2 * q)
    if kind == "lowpass":
        b0 = b2 = (1 - cos) / 2
        b = (b0, 1 - cos, b2)
        a = (1 + alpha, -2 * cos, 1 - alpha)
    elif kind == "highpass":
        b0 = b2 = (1 + cos) / 2
        b = (b0, -(1 + cos), b2)
        a = (1 + alpha, -2 * cos, 1 - alpha)
    elif kind == "peaking":
        amp = 10 ** (gain_db / 40)
        b = (1 + alpha * amp, -2 * cos, 1 - alpha * amp)
        a = (1 + alpha / amp, -2 * cos, 1 - alpha / amp)
    else:  # shelves
        amp = 10 ** (gain_db / 40)
        k = 2 * amp.sqrt() * alpha
        sign = 1 if kind == "high_shelf" else -1  # the high shelf is the low shelf with cos -> -cos
        b = (amp * ((amp + 1) + sign * (amp - 1) * cos + k),
             -2 * sign * amp * ((amp - 1) + sign * (amp + 1) * cos),
             amp * ((amp + 1) + sign * (amp - 1) * cos - k))
        a = ((amp + 1) - sign * (amp - 1) * cos + k,
             2 * sign * ((amp - 1) - sign * (amp + 1) * cos),
             (amp + 1) - sign * (amp - 1) * cos - k)
    a0 = a[0]
    return torch.stack([b[0] / a0, b[1] / a0, b[2] / a0, a[1] / a0, a[2] / a0], dim=-1)


def biquad_response(coefficients: torch.Tensor, frequency_hz: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Complex frequency response ``H(e^{jw})`` of biquads ``(..., 5)`` at ``(F,)`` frequencies -> ``(..., F)``."""
    w = 2 * math.pi * torch.as_tensor(frequency_hz, dtype=coefficients.dtype, device=coefficients.device) / sample_rate
    z1 = torch.polar(torch.ones_like(w), -w)  # e^{-jw}
    b0, b1, b2, a1, a2 = (c[..., None] for c in coefficients.unbind(-1))  # each (..., 1)
    return (b0 + b1 * z1 + b2 * z1**2) / (1 + a1 * z1 + a2 * z1**2)


def _capturing_graph() -> bool:
    """Whether the code runs under a tracer or exporter (torch.jit.trace, torch.export, ONNX)."""
    return bool(torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting())


def _all_pole_toeplitz(u: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """:func:`_all_pole` with standard operations only, for exporters (torchaudio's loop is a custom
    op that torch.export and ONNX cannot take); ``O(T^2)``, meant for one streaming chunk.

    The impulse response is ``h[n] = (M^n)[0, 0]`` with the companion matrix ``M = [[-a1, -a2], [1, 0]]``
    (powers by doubling: ``[M^0 .. M^(k-1)]`` then ``M^k`` times those), and ``y = toeplitz(h) u``.
    """
    length = u.shape[-1]
    companion = torch.stack([torch.stack([-a1, -a2], -1), torch.stack([torch.ones_like(a1), torch.zeros_like(a1)], -1)],
                            dim=-2)  # (N, 2, 2)
    powers = torch.eye(2, dtype=u.dtype, device=u.device).expand(u.shape[0], 1, 2, 2)  # (N, 1, 2, 2): M^0
    step = companion
    while powers.shape[1] < length:
        powers = torch.cat([powers, step[:, None] @ powers], dim=1)  # M^0..M^(2k-1)
        step = step @ step
    h = powers[:, :length, 0, 0]  # (N, T)
    # lag[n, k] = n - k: y[n] = sum_{k <= n} h[n - k] u[k]
    lag = torch.arange(length, device=u.device)[:, None] - torch.arange(length, device=u.device)[None, :]
    toeplitz = torch.where(lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=u.dtype, device=u.device))
    return (toeplitz @ u[..., None])[..., 0]  # (N, T, T) @ (N, T, 1) -> (N, T)


def _all_pole(u: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """``y[n] = u[n] - a1 y[n-1] - a2 y[n-2]`` from rest, per row: u ``(N, T)``, a1, a2 ``(N,)``."""
    if _capturing_graph():
        return _all_pole_toeplitz(u, a1, a2)
    one, zero = torch.ones_like(a1), torch.zeros_like(a1)
    a = torch.stack([one, a1, a2], dim=-1)  # (N, 3)
    b = torch.stack([one, zero, zero], dim=-1)
    # batching=True: row i of u gets filter i; clamp=False: audio is not clipped to [-1, 1]
    return AF.lfilter(u, a, b, clamp=False, batching=True)


def biquad_filter(x: torch.Tensor, coefficients: torch.Tensor,
                  state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` by one biquad per row, from ``state`` (or from rest); return the output and new state.

    Args:
        x: ``(..., T)`` signal, e.g. ``(B, T)``.
        coefficients: ``(..., 5)`` normalised ``(b0, b1, b2, a1, a2)``, one filter per row of ``x``.
        state: ``(..., 2)`` transposed direct form II state ``(s1, s2)``; ``None`` is silence.

    Returns:
        ``y`` ``(..., T)`` and the state ``(..., 2)`` after the last sample.
    """
    lead = x.shape[:-1]
    if coefficients.shape != (*lead, 5):
        raise ValueError(f"expected coefficients of shape {(*lead, 5)} for a signal {tuple(x.shape)}, "
                         f"got {tuple(coefficients.shape)}")
    if state is None:
        state = x.new_zeros(*lead, 2)
    elif state.shape != (*lead, 2):
        raise ValueError(f"expected a state of shape {(*lead, 2)}, got {tuple(state.shape)}")
    length = x.shape[-1]
    if length == 0:
        return x, state
    b0, b1, b2, a1, a2 = (c[..., None] for c in coefficients.unbind(-1))  # each (..., 1)
    s1, s2 = state[..., :1], state[..., 1:]  # each (..., 1)
    # FIR part from silence:  xp = [0, 0, x0, x1, ...]
    xp = F.pad(x, (2, 0))
    u = b0 * x + b1 * xp[..., 1:-1] + b2 * xp[..., :-2]
    # the carried state enters as an impulse pair at the block start: [s1, s2, 0, 0, ...][:T]
    u = u + torch.cat([s1, s2, torch.zeros_like(x)], dim=-1)[..., :length]
    y = _all_pole(u.reshape(-1, length), a1.reshape(-1), a2.reshape(-1)).reshape(x.shape)
    # s2 after sample n is w[n] = b2 x[n] - a2 y[n]; before the block it is the carried s2
    w = torch.cat([s2, b2 * x[..., -2:] - a2 * y[..., -2:]], dim=-1)  # [s2, w[T-2], w[T-1]] or [s2, w[0]]
    s1_next = b1[..., 0] * x[..., -1] - a1[..., 0] * y[..., -1] + w[..., -2]
    return y, torch.stack([s1_next, w[..., -1]], dim=-1)


def biquad_cascade(x: torch.Tensor, coefficients: torch.Tensor,
                   state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` through N biquads in series (index 0 first).

    Args:
        x: ``(..., T)`` signal.
        coefficients: ``(..., N, 5)``, N sections per row of ``x``.
        state: ``(..., N, 2)`` per-section state; ``None`` is silence.

    Returns:
        ``y`` ``(..., T)`` and the state ``(..., N, 2)`` after the last sample.
    """
    if coefficients.dim() != x.dim() + 1 or coefficients.shape[-1] != 5:
        raise ValueError(f"expected coefficients of shape (..., sections, 5) for a signal {tuple(x.shape)}, "
                         f"got {tuple(coefficients.shape)}")
    states = [None] * coefficients.shape[-2] if state is None else state.unbind(-2)
    new_states = []
    for n, section_state in enumerate(states):
        x, section_state = biquad_filter(x, coefficients[..., n, :], section_state)
        new_states.append(section_state)
    return x, torch.stack(new_states, dim=-2)
