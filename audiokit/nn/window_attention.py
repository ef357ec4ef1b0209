"""Shifted-window self-attention (Swin Transformer, Liu et al. 2021) on a (time, frequency) grid of tokens.

Tokens live on a grid ``(B, T, F, C)``: time-major, channels last (``B`` batch, ``T`` time positions,
``F`` frequency positions, ``C`` channels). Attention is computed inside non-overlapping windows of
``window_size`` x ``window_size`` tokens (time x frequency); a *shifted* block first rolls the grid by
``window_size // 2`` on both axes so that its windows straddle the previous block's window borders. Tokens that
the roll wraps around from one end of an axis to the other may not attend to the tokens they now sit next to
(Swin's attention mask)::

    time positions 0..7, window 4, shift 2:   [0 1 2 3][4 5 6 7]      plain block
    rolled by -2:                             [2 3 4 5][6 7|0 1]      shifted block: 0 1 are wrapped,
                                                                      they attend to each other only

Two rules keep any grid valid:

- **Frequency** is short and fixed by the model (ESC: 64 down to 2 positions). A window never exceeds it:
  ``F < window_size`` uses windows ``F`` tall and no frequency shift (Swin's rule for small resolutions), and a
  frequency shift needs ``F > window_size``. ``F`` must be a multiple of the window height.
- **Time** has any length. It is padded at the end to whole windows; the padding tokens are masked out as
  keys and dropped from the output, so a token's result never depends on padding.

Speed: every window of the batch is one batch entry of a single ``scaled_dot_product_attention`` call (no Python
loop over windows) on strided views of one fused q/k/v projection; the roll, the padding and the window
partition are one precomputed gather (``index_select``) in, and one out; the mask is precomputed per grid
size. The relative-position bias is gathered from its table on each call (it is a parameter; the gather is
``heads x N x N`` numbers). On the CPU without autograd, the linear layers run through oneDNN with bias and
GELU fused (:func:`linear`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils import _python_dispatch

__all__ = ["FeedForward", "WindowAttention", "WindowAttentionBlock", "linear"]


# ------------------------------------------------------------------------------------------------ helpers
def _onednn_linear():
    """oneDNN's fused linear (+ activation) op, or None where this build lacks it."""
    try:
        return torch.ops.mkldnn._linear_pointwise.default if torch.backends.mkldnn.is_available() else None
    except (AttributeError, RuntimeError):
        return None


_ONEDNN_LINEAR = _onednn_linear()


def _tracing() -> bool:
    """True under anything that records or counts ops (export, TorchScript, torch.compile, FlopCounterMode,
    fake tensors): they get the standard ``F.linear``."""
    return (torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling()
            or _python_dispatch._get_current_dispatch_mode() is not None)


def linear(x: Tensor, layer: nn.Linear, activation: str | None = None) -> Tensor:
    """``layer(x)``, then ``activation`` (None or ``"gelu"``, exact erf GELU).

    On the CPU in float32 without autograd (inference) this runs oneDNN's linear with the bias and GELU fused
    (``torch.ops.mkldnn._linear_pointwise``, the kernel ``torch.compile`` uses): on an AVX-512 AMD EPYC core it
    is 1.5-3x faster than ``F.linear``'s BLAS call for ESC's narrow layers (45..384 channels). Same result up
    to float rounding; anywhere else (GPU, other dtypes, gradients needed, tracing, export, op counting) it is
    ``F.linear``.
    """
    if activation not in (None, "gelu"):
        raise ValueError(f"activation must be None or 'gelu', got {activation!r}")
    if (_ONEDNN_LINEAR is not None and x.device.type == "cpu" and x.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad))
            and not _tracing()):
        return _ONEDNN_LINEAR(x, layer.weight, layer.bias, activation or "none", [],
                              "none" if activation else "")
    y = F.linear(x, layer.weight, layer.bias)
    return F.gelu(y) if activation == "gelu" else y


@dataclass
class _WindowPlan:
    """How a ``(T, F)`` grid maps to windows, for one block (shifted or not)."""

    windows: int                 # nW, windows per example
    size: int                    # N, tokens per window
    index: Tensor | None         # (nW * N,) grid token of each window slot (T * F: the zero padding token);
                                 # None when the grid already is in window order (a view suffices)
    inverse: Tensor | None       # (T * F,) window slot of each grid token; None as above
    padded: bool                 # index points at the padding token T * F
    mask: Tensor | None          # (nW, 1, N, N) additive: 0 or -inf; None when nothing is masked
    bias_index: Tensor           # (N, N) rows of the relative-position table


def _relative_index(window_t: int, window_f: int, table_width: int) -> Tensor:
    """``(N, N)`` row of the relative-position table for each pair of slots of a ``window_t x window_f`` window.

    The table has a row per offset ``(dt, df)``, ``dt, df`` in ``-(w-1)..(w-1)`` of the nominal window ``w``
    (``table_width = 2w - 1``); smaller windows use the rows of the offsets they have.
    """
    t, f = torch.meshgrid(torch.arange(window_t), torch.arange(window_f), indexing="ij")
    t, f = t.reshape(-1), f.reshape(-1)  # (N,) slot -> position in the window, time-major
    half = table_width // 2
    return (t[:, None] - t[None, :] + half) * table_width + (f[:, None] - f[None, :] + half)


@torch.no_grad()
def _make_plan(frames: int, freqs: int, window: int, shift: int, device: torch.device) -> _WindowPlan:
    window_t, window_f = window, min(window, freqs)
    if freqs % window_f:
        raise ValueError(f"window attention needs a frequency size that is a multiple of the window "
                         f"({window_f}) or smaller than {window}, got {freqs}")
    shift_t, shift_f = shift, (shift if freqs > window else 0)
    padded_t = math.ceil(frames / window_t) * window_t
    blocks_t, blocks_f = padded_t // window_t, freqs // window_f
    size = window_t * window_f
    # Slot (window (i, j), position (a, b)) of the rolled grid holds grid token
    # ((i * wt + a + shift_t) mod Tp, (j * wf + b + shift_f) mod F).
    rolled_t = torch.arange(padded_t, device=device).view(blocks_t, 1, window_t, 1)
    rolled_f = torch.arange(freqs, device=device).view(1, blocks_f, 1, window_f)
    source_t = (rolled_t + shift_t) % padded_t
    source_f = (rolled_f + shift_f) % freqs
    # (blocks_t, blocks_f, wt, wf) -> (nW * N,), windows time-major, slots time-major
    shape = (blocks_t, blocks_f, window_t, window_f)
    source_t, source_f = source_t.expand(shape).reshape(-1), source_f.expand(shape).reshape(-1)
    valid = source_t < frames
    index = torch.where(valid, source_t * freqs + source_f, frames * freqs)

    mask = None
    if shift_t or shift_f or padded_t != frames:
        # Tokens rolled past an end (wrapped) form their own region; padding tokens are never keys.
        wrapped_t = (rolled_t + shift_t >= padded_t).expand(shape).reshape(-1)
        wrapped_f = (rolled_f + shift_f >= freqs).expand(shape).reshape(-1)
        region = (wrapped_t.long() * 2 + wrapped_f.long()).view(-1, size)  # (nW, N)
        keys = valid.view(-1, 1, size)
        allowed = (region[:, :, None] == region[:, None, :]) & keys  # (nW, N query, N key)
        allowed |= torch.eye(size, dtype=torch.bool, device=device)  # a padding query keeps one key: itself
        mask = torch.zeros(allowed.shape, device=device).masked_fill_(~allowed, float("-inf"))[:, None]

    in_order = shift_t == 0 and shift_f == 0 and padded_t == frames and window_f == freqs
    inverse = None
    if not in_order:
        inverse = torch.empty(frames * freqs, dtype=torch.long, device=device)
        slots = torch.arange(index.numel(), device=device)
        inverse[index[valid]] = slots[valid]
    return _WindowPlan(windows=blocks_t * blocks_f, size=size, index=None if in_order else index,
                       inverse=inverse, padded=padded_t != frames, mask=mask,
                       bias_index=_relative_index(window_t, window_f, 2 * window - 1).to(device))


# ------------------------------------------------------------------------------------------------ blocks
class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, with a learnt relative-position bias (Swin).

    Args:
        dim: ``C``, token channels.
        num_heads: attention heads; must divide ``dim``.
        window_size: ``w``, nominal window side in tokens; the bias table has ``(2w - 1)^2`` offsets per head.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads must divide dim, got dim {dim} and num_heads {num_heads}")
        self.dim, self.num_heads, self.window_size = dim, num_heads, window_size
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_bias = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_bias, std=0.02)

    def forward(self, x: Tensor, plan: _WindowPlan, first_window: int = 0) -> Tensor:
        """``x`` ``(B, nW', N, C)`` tokens of windows ``first_window ..`` of the plan -> ``(B, nW', N, C)``."""
        batch, windows, size, dim = x.shape
        heads, head_dim = self.num_heads, dim // self.num_heads
        # (N*N, heads) -> (1, heads, N, N), plus the (nW, 1, N, N) mask -> (nW, heads, N, N)
        bias = self.relative_bias[plan.bias_index.reshape(-1)].view(1, size, size, heads).permute(0, 3, 1, 2)
        if plan.mask is not None:
            bias = bias + plan.mask[first_window:first_window + windows]
            if batch > 1:  # (nW, heads, N, N) -> (B*nW, heads, N, N)
                bias = bias.expand(batch, windows, heads, size, size).reshape(-1, heads, size, size)
        # (B, nW, N, 3C) -> 3 x (B*nW, heads, N, d): strided views, no copy. One attention call for every window;
        # its CPU kernel reads the strides and never materialises the scores of all windows at once.
        qkv = linear(x, self.qkv).view(batch * windows, size, 3, heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B*nW, heads, N, d)
        out = out.transpose(1, 2).reshape(batch, windows, size, dim)  # (B*nW, N, heads, d) -> (B, nW, N, C)
        return linear(out, self.proj)


class FeedForward(nn.Module):
    """Position-wise MLP: ``Linear(C, r C) -> GELU -> Linear(r C, C)``."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return linear(linear(x, self.fc1, "gelu"), self.fc2)


class WindowAttentionBlock(nn.Module):
    """A Swin block on a ``(B, T, F, C)`` grid: ``x + WA(LN(x))`` then ``x + MLP(LN(x))``.

    Args:
        dim: ``C``, token channels.
        num_heads: attention heads (divides ``dim``).
        window_size: window side in tokens (4 in ESC); frequency windows shrink to ``F`` when it is smaller.
        shifted: roll the grid by ``window_size // 2`` before partitioning (Swin's SW-MSA; every other block).
        mlp_ratio: hidden width of the MLP over ``dim`` (4 in ESC).

    Grids of any time length and any frequency size that is a multiple of the window height work; the window
    layout of each grid size is computed once and cached (not part of the state dict).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int = 4, shifted: bool = False,
                 mlp_ratio: float = 4.0):
        super().__init__()
        for name, value in (("dim", dim), ("num_heads", num_heads), ("window_size", window_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if shifted and window_size < 2:
            raise ValueError(f"a shifted block needs window_size >= 2, got {window_size}")
        self.dim, self.window_size, self.shifted = dim, window_size, bool(shifted)
        self.shift = window_size // 2 if shifted else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, mlp_ratio)
        self._plans: dict[tuple, _WindowPlan] = {}

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift={self.shift}"

    def plan(self, frames: int, freqs: int, device: torch.device) -> _WindowPlan:
        """The (cached) window layout of a ``frames x freqs`` grid."""
        key = (frames, freqs, str(device))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:  # many distinct lengths (variable-length inference): keep memory flat
                self._plans.clear()
            plan = self._plans[key] = _make_plan(frames, freqs, self.window_size, self.shift, device)
        return plan

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(B, T, F, C)`` -> ``(B, T, F, C)``."""
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"expected tokens of shape (batch, time, freq, {self.dim}), got {tuple(x.shape)}")
        batch, frames, freqs, dim = x.shape
        plan = self.plan(frames, freqs, x.device)
        if not (torch.is_grad_enabled() and (x.requires_grad or self.norm1.weight.requires_grad)):
            return self._chunked_mlp(self._chunked_attention(x, plan))  # inference
        y = self.norm1(x).reshape(batch, frames * freqs, dim)  # (B, T, F, C) -> (B, T*F, C)
        if plan.index is not None:
            if plan.padded:
                y = F.pad(y, (0, 0, 0, 1))  # token T*F: zeros, what padding slots read
            y = y.index_select(1, plan.index)  # (B, T*F (+1), C) -> (B, nW*N, C)
        y = self.attn(y.view(batch, plan.windows, plan.size, dim), plan).reshape(batch, -1, dim)
        if plan.inverse is not None:
            y = y.index_select(1, plan.inverse)  # (B, nW*N, C) -> (B, T*F, C)
        x = x + y.view(batch, frames, freqs, dim)
        return x + self.mlp(self.norm2(x))

    # Inference runs in chunks of about _CHUNK numbers of the widest intermediate (q/k/v, the MLP's hidden
    # layer): they stay in cache, and no allocation is large enough to be served by fresh, page-faulting mmap
    # memory (glibc maps allocations over 32 MB afresh every time). ESC-Base's finest MLP runs 2.8x faster so.
    # Both are exact: the MLP works per token, attention per window (LayerNorm, per token, moves after the
    # gather; padding tokens, LN(0) there, are never keys and their outputs are dropped).
    _CHUNK = 1 << 20

    def _chunked_attention(self, x: Tensor, plan: _WindowPlan) -> Tensor:
        """``x + WA(LN(x))`` window chunk by window chunk, each chunk's result added into a copy of ``x``."""
        batch, frames, freqs, dim = x.shape
        tokens, size = frames * freqs, plan.size
        flat = x.reshape(batch, tokens, dim)
        # the result, with one spare row that padding slots add into (dropped at the end)
        out = F.pad(flat, (0, 0, 0, 1)) if plan.padded else flat.clone()
        if plan.index is None:
            windows = flat.view(batch, plan.windows, size, dim)
        else:
            windows = out.index_select(1, plan.index).view(batch, plan.windows, size, dim)  # (B, nW, N, C)
        step = max(1, self._CHUNK // (3 * size * dim))
        for b in range(batch):
            for start in range(0, plan.windows, step):
                y = self.attn(self.norm1(windows[b:b + 1, start:start + step]), plan, start)  # (1, nW', N, C)
                if plan.index is None:
                    out[b].view(plan.windows, size, dim)[start:start + step] += y[0]
                else:
                    slots = plan.index[start * size:(start + y.shape[1]) * size]
                    out[b].index_add_(0, slots, y[0].reshape(-1, dim))
        return out[:, :tokens].view(batch, frames, freqs, dim)

    def _chunked_mlp(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, self.dim)  # (B, T, F, C) -> (B*T*F, C)
        step = max(1, self._CHUNK // self.mlp.fc1.out_features)
        out = torch.empty_like(flat)
        for start in range(0, flat.shape[0], step):
            part = flat[start:start + step]
            torch.add(part, self.mlp(self.norm2(part)), out=out[start:start + step])
        return out.view_as(x)
