"""SEANet convolutional encoder and decoder of SoundStream / EnCodec (Zeghidour et al. 2021, "SoundStream: An
End-to-End Neural Audio Codec"; Défossez et al. 2022, "High Fidelity Neural Audio Compression").

Encoder: a conv (``kernel_size``), then per ratio ``r`` (the decoder's ratios, reversed) residual blocks and
a strided conv (kernel ``2r``, stride ``r``) doubling the channels, an optional LSTM, and a conv
(``last_kernel_size``) to ``dimension`` channels. The decoder mirrors it with transposed convs halving the
channels. Every conv is weight-normalised; activations are ELU (EnCodec) or Snake (DAC). With EnCodec's
values (``n_filters`` 32, ratios 8,5,4,2, ``dimension`` 128, 2 LSTM layers) the encoder turns 24 kHz audio
into 75 frames per second (hop 320) and each half has 7.43 M parameters.

Padding. A conv with kernel ``k``, dilation ``d`` and stride ``s`` spans ``(k-1)d + 1`` samples; it is padded
by ``P = (k-1)d - (s-1)`` zeros so that ``T`` samples (a multiple of ``s``) give ``T / s`` frames::

    causal     :  [0 .. 0 (P) | x0 x1 x2 ...]                frame j sees inputs < (j + 1) s
    non-causal :  [0 .. 0 (P - P//2) | x0 x1 ... | 0 .. 0 (P//2)]

A transposed conv (kernel ``k``, stride ``s``) writes frame ``j`` to outputs ``[j s, j s + k)``; of its
``n s + (k - s)`` outputs, the causal layer drops the last ``k - s`` (frame ``j`` writes only from ``j s``
on), the non-causal one ``(k - s) - (k - s)//2`` on the left and ``(k - s)//2`` on the right. The padding is
zeros (EnCodec pads by reflection, which looks at the signal's future and cannot stream).

Streaming (causal only). ``state = module.init_state(B)``, then ``y, state = module.step(x, state)`` block
after block; concatenated outputs equal ``forward`` on the concatenated input exactly (up to float rounding):

- a conv keeps the last inputs it has not finished with (the ``P`` samples of context plus, for a strided
  conv, any remainder short of a whole stride), as :class:`audiokit.nn.CausalConv1d` keeps its ``P``;
- a transposed conv keeps its ``k - s`` outputs past the block's end (before the bias) and adds them to the
  next block's first outputs;
- the LSTM keeps ``(h, c)``.

The encoder therefore takes blocks of any length and returns the frames they complete (a multiple of the hop
gives exactly ``n / hop`` frames); the decoder takes frames and returns ``hop`` samples per frame.

Symbols: ``B`` batch, ``C`` audio channels, ``T`` samples, ``D`` latent channels, ``F`` frames.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from audiokit.nn.snake import Snake

ACTIVATIONS = ("elu", "snake")


# ------------------------------------------------------------------------------------------------ helpers
def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"SEANet {name} must be a positive int, got {name}={value!r}")


def _activation(name: str, channels: int) -> nn.Module:
    return nn.ELU(alpha=1.0) if name == "elu" else Snake(channels)


def _param(module: nn.Module) -> torch.Tensor:
    return next(module.parameters())


class _Stack(nn.Sequential):
    """``nn.Sequential`` that streams: layers with ``init_state``/``step`` get a state, the others (pointwise
    activations) are applied as they are."""

    def init_state(self, batch_size: int) -> list[Any]:
        return [layer.init_state(batch_size) if hasattr(layer, "init_state") else None for layer in self]

    def step(self, x: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        new_state = []
        for layer, layer_state in zip(self, state):
            if layer_state is None:
                x = layer(x)
            else:
                x, layer_state = layer.step(x, layer_state)
            new_state.append(layer_state)
        return x, new_state


# ------------------------------------------------------------------------------------------------ layers
class SConv1d(nn.Module):
    """Padded (causal or centred), optionally strided and weight-normalised conv: ``(B, C_in, T) ->
    (B, C_out, ceil(T / stride))``; the input is zero-padded on the right to a whole stride.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: taps ``k``.
        stride: ``s``, one frame per ``s`` input samples.
        dilation: ``d``, spacing between taps.
        causal: pad on the left only (see the module docstring); required for ``step``.
        weight_norm: reparametrise the weight as ``g * v / |v|`` (one ``g`` per output channel).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 causal: bool = True, weight_norm: bool = True):
        super().__init__()
        self.span = (kernel_size - 1) * dilation + 1
        if self.span < stride:
            raise ValueError(f"SConv1d needs (kernel_size - 1) * dilation + 1 >= stride, got kernel_size="
                             f"{kernel_size}, dilation={dilation}, stride={stride}")
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation)
        self.conv = _weight_norm(conv) if weight_norm else conv
        self.stride, self.causal = stride, causal
        self.padding = self.span - stride  # P: total zeros added around a whole number of strides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = -x.shape[-1] % self.stride  # up to a whole stride: the last frame is complete
        if self.causal:
            left, right = self.padding, extra
        else:
            left, right = self.padding - self.padding // 2, self.padding // 2 + extra
        return self.conv(F.pad(x, (left, right)))

    def init_state(self, batch_size: int) -> torch.Tensor:
        """Zero context ``(B, C_in, P)``: the causal padding."""
        self._check_streamable()
        w = _param(self)
        return torch.zeros(batch_size, self.conv.in_channels, self.padding, device=w.device, dtype=w.dtype)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every frame that ``state + x`` completes, and the inputs kept for the next block."""
        self._check_streamable()
        buffer = torch.cat([state, x], dim=-1)  # (B, C_in, kept + n)
        if buffer.shape[-1] < self.span:
            return x.new_zeros(x.shape[0], self.conv.out_channels, 0), buffer
        frames = (buffer.shape[-1] - self.span) // self.stride + 1
        # Frame j reads buffer[j s : j s + span]; the next frame starts at frames * s.
        return self.conv(buffer), buffer[..., frames * self.stride :]

    def _check_streamable(self) -> None:
        if not self.causal:
            raise ValueError("streaming needs a causal layer (causal=True): a centred conv reads future inputs")


class SConvTranspose1d(nn.Module):
    """Trimmed, optionally weight-normalised transposed conv: ``(B, C_in, F) -> (B, C_out, F * stride)``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: taps ``k`` (``>= stride``; SEANet uses ``2 * stride``).
        stride: ``s``, output samples per input frame.
        causal: trim the ``k - s`` overlap on the right only (see the module docstring); required for ``step``.
        weight_norm: reparametrise the weight as ``g * v / |v|`` (one ``g`` per input channel, torch's
            default ``dim=0`` of a transposed conv's ``(C_in, C_out, k)`` weight, as EnCodec).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, causal: bool = True,
                 weight_norm: bool = True):
        super().__init__()
        if kernel_size < stride:
            raise ValueError(f"SConvTranspose1d needs kernel_size >= stride, got kernel_size={kernel_size}, "
                             f"stride={stride}")
        conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride)
        self.conv = _weight_norm(conv) if weight_norm else conv
        self.stride, self.causal = stride, causal
        self.overlap = kernel_size - stride  # outputs each frame writes past the next frame's start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)  # (B, C_out, F s + overlap)
        right = self.overlap if self.causal else self.overlap // 2
        left = self.overlap - right
        return y[..., left : y.shape[-1] - right]

    def init_state(self, batch_size: int) -> torch.Tensor:
        """Zero overlap tail ``(B, C_out, k - s)``."""
        self._check_streamable()
        w = _param(self)
        return torch.zeros(batch_size, self.conv.out_channels, self.overlap, device=w.device, dtype=w.dtype)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``F * stride`` outputs of ``F`` frames, and the new tail (the outputs past them, without bias)."""
        self._check_streamable()
        if x.shape[-1] == 0:
            return x.new_zeros(x.shape[0], self.conv.out_channels, 0), state
        #   previous tail : [t t t]
        #   this block    : [y y y y y y y y y | z z z]   (F s outputs | overlap)
        #   output        : [y+t .. y y y y y y]          new tail [z z z]
        y = F.conv_transpose1d(x, self.conv.weight, None, stride=self.stride)  # (B, C_out, F s + overlap)
        y = torch.cat([y[..., : self.overlap] + state, y[..., self.overlap :]], dim=-1)
        length = x.shape[-1] * self.stride
        out = y[..., :length]
        if self.conv.bias is not None:
            out = out + self.conv.bias[:, None]
        return out, y[..., length:]

    def _check_streamable(self) -> None:
        if not self.causal:
            raise ValueError("streaming needs a causal layer (causal=True): a centred transposed conv writes "
                             "outputs before its frame")


class ResidualLSTM(nn.Module):
    """Unidirectional LSTM over frames with a skip connection (EnCodec's SLSTM): ``(B, D, F) -> (B, D, F)``.

    Args:
        channels: D, input and hidden size.
        num_layers: stacked LSTM layers.
    """

    def __init__(self, channels: int, num_layers: int):
        super().__init__()
        self.lstm = nn.LSTM(channels, channels, num_layers=num_layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x.transpose(1, 2))  # (B, D, F) -> (B, F, D)
        return x + y.transpose(1, 2)  # (B, F, D) -> (B, D, F)

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero ``(h, c)``, each ``(num_layers, B, D)``."""
        w = _param(self)
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        return (torch.zeros(shape, device=w.device, dtype=w.dtype), torch.zeros(shape, device=w.device, dtype=w.dtype))

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        if x.shape[-1] == 0:
            return x, state
        y, state = self.lstm(x.transpose(1, 2), state)  # (B, D, F) -> (B, F, D)
        return x + y.transpose(1, 2), state


class ResidualBlock(nn.Module):
    """SEANet residual unit: ``act -> conv(k, d) to dim // compress -> act -> conv(1) back``, plus a 1x1 conv
    shortcut (EnCodec's ``true_skip=False``) or, with ``true_skip``, the input itself (DAC's residual units):
    ``(B, dim, T) -> (B, dim, T)``."""

    def __init__(self, dim: int, kernel_size: int, dilation: int, activation: str, causal: bool,
                 weight_norm: bool, compress: int = 2, true_skip: bool = False):
        super().__init__()
        hidden = max(1, dim // compress)
        self.block = _Stack(
            _activation(activation, dim),
            SConv1d(dim, hidden, kernel_size, dilation=dilation, causal=causal, weight_norm=weight_norm),
            _activation(activation, hidden),
            SConv1d(hidden, dim, 1, causal=causal, weight_norm=weight_norm),
        )
        self.shortcut = None if true_skip else SConv1d(dim, dim, 1, causal=causal, weight_norm=weight_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x if self.shortcut is None else self.shortcut(x)) + self.block(x)

    def init_state(self, batch_size: int) -> list[Any]:
        skip_state = None if self.shortcut is None else self.shortcut.init_state(batch_size)
        return [self.block.init_state(batch_size), skip_state]

    def step(self, x: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        y, block_state = self.block.step(x, state[0])
        if self.shortcut is None:
            return x + y, [block_state, None]
        skip, skip_state = self.shortcut.step(x, state[1])
        return skip + y, [block_state, skip_state]


# ------------------------------------------------------------------------------------------------ models
class _SEANet(nn.Module):
    """What the encoder and decoder share: argument checks, ``hop_length`` and ``init_state``."""

    def __init__(self, channels: int, dimension: int, n_filters: int, ratios: Sequence[int], kernel_size: int,
                 residual_kernel_size: int, last_kernel_size: int, dilation_base: int, n_residual_layers: int,
                 activation: str, causal: bool, lstm_layers: int, compress: int, true_skip: bool):
        super().__init__()
        for name, value in (("channels", channels), ("dimension", dimension), ("n_filters", n_filters),
                            ("kernel_size", kernel_size), ("residual_kernel_size", residual_kernel_size),
                            ("last_kernel_size", last_kernel_size), ("dilation_base", dilation_base),
                            ("compress", compress)):
            _check_positive(name, value)
        ratios = list(ratios) if isinstance(ratios, Sequence) else ratios
        if not isinstance(ratios, list) or not ratios or any(
                isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ratios):
            raise ValueError(f"SEANet ratios must be a non-empty sequence of positive ints, got ratios={ratios!r}")
        if isinstance(n_residual_layers, bool) or not isinstance(n_residual_layers, int) or n_residual_layers < 0:
            raise ValueError(f"SEANet n_residual_layers must be an int >= 0, got {n_residual_layers!r}")
        if isinstance(lstm_layers, bool) or not isinstance(lstm_layers, int) or lstm_layers < 0:
            raise ValueError(f"SEANet lstm_layers must be an int >= 0 (0: no LSTM), got lstm_layers={lstm_layers!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"SEANet activation must be one of {ACTIVATIONS}, got activation={activation!r}")
        self.channels, self.dimension, self.n_filters = channels, dimension, n_filters
        self.ratios = ratios
        self.causal, self.true_skip = bool(causal), bool(true_skip)
        self.hop_length = math.prod(ratios)
        self.layers: _Stack

    def _residual_blocks(self, dim: int, kernel_size: int, dilation_base: int, n_residual_layers: int,
                         activation: str, weight_norm: bool, compress: int) -> list[nn.Module]:
        return [ResidualBlock(dim, kernel_size, dilation_base ** j, activation, self.causal, weight_norm, compress,
                              self.true_skip) for j in range(n_residual_layers)]

    def init_state(self, batch_size: int) -> list[Any]:
        """Zero streaming state for ``batch_size`` signals (causal models only)."""
        if not self.causal:
            raise ValueError(f"{type(self).__name__} streams only when causal (built with causal=True)")
        return self.layers.init_state(batch_size)


class SEANetEncoder(_SEANet):
    """SEANet encoder: audio ``(B, C, T)`` to latent frames ``(B, D, ceil(T / hop_length))``.

    Args:
        # Channels
        channels: C, audio channels (default 1).
        dimension: D, latent channels (default 128).
        n_filters: width of the first conv; doubled by each strided conv (default 32).
        # Structure
        ratios: up-sampling ratios in the decoder's order (default (8, 5, 4, 2)); the encoder down-samples by
            them in reverse order, ``hop_length = prod(ratios)`` samples per frame (320: 75 Hz at 24 kHz).
        kernel_size: taps of the first conv (default 7).
        residual_kernel_size: taps of the residual blocks' first conv (default 3).
        last_kernel_size: taps of the last conv (default 7).
        dilation_base: residual block ``j`` of a stage has dilation ``dilation_base ** j`` (default 2).
        n_residual_layers: residual blocks per stage (default 1).
        compress: residual blocks run at ``channels // compress`` inside (default 2).
        true_skip: residual blocks add their input itself (DAC) instead of a 1x1 conv of it (EnCodec, the
            default False).
        lstm_layers: layers of the unidirectional LSTM before the last conv (default 2 as EnCodec; 0: none).
        # Signal handling
        activation: ``"elu"`` (EnCodec) or ``"snake"`` (DAC; one learnable frequency per channel).
        causal: left-only padding, so frame ``j`` depends only on samples ``< (j + 1) * hop_length``, and
            block streaming with ``init_state``/``step`` (default True; False centres every conv).
        weight_norm: weight-normalise every conv (default True).
    """

    def __init__(self, channels: int = 1, dimension: int = 128, n_filters: int = 32,
                 ratios: Sequence[int] = (8, 5, 4, 2), kernel_size: int = 7, residual_kernel_size: int = 3,
                 last_kernel_size: int = 7, dilation_base: int = 2, n_residual_layers: int = 1,
                 compress: int = 2, lstm_layers: int = 2, activation: str = "elu", causal: bool = True,
                 weight_norm: bool = True, true_skip: bool = False):
        super().__init__(channels, dimension, n_filters, ratios, kernel_size, residual_kernel_size,
                         last_kernel_size, dilation_base, n_residual_layers, activation, causal, lstm_layers,
                         compress, true_skip)
        conv = dict(causal=self.causal, weight_norm=weight_norm)
        width = n_filters
        layers: list[nn.Module] = [SConv1d(channels, width, kernel_size, **conv)]
        for ratio in reversed(self.ratios):
            layers += self._residual_blocks(width, residual_kernel_size, dilation_base, n_residual_layers,
                                            activation, weight_norm, compress)
            layers += [_activation(activation, width), SConv1d(width, 2 * width, 2 * ratio, stride=ratio, **conv)]
            width *= 2
        if lstm_layers:
            layers.append(ResidualLSTM(width, lstm_layers))
        layers += [_activation(activation, width), SConv1d(width, dimension, last_kernel_size, **conv)]
        self.layers = _Stack(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B batch, C channels, T samples, D latent channels: ``(B, C, T) -> (B, D, ceil(T / hop_length))``;
        the input is zero-padded on the right to a whole frame."""
        self._check_audio(x)
        return self.layers(F.pad(x, (0, -x.shape[-1] % self.hop_length)))

    def step(self, x: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """Encode the next block ``(B, C, n)``, any ``n``: the frames it completes ``(B, D, f)`` (``f = n /
        hop_length`` when every block is a multiple of the hop) and the new state."""
        self._check_audio(x, allow_empty=True)
        if not self.causal:
            raise ValueError("SEANetEncoder streams only when causal (built with causal=True)")
        return self.layers.step(x, state)

    def _check_audio(self, x: torch.Tensor, allow_empty: bool = False) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 3 \
                or x.shape[1] != self.channels or (x.shape[-1] == 0 and not allow_empty):
            got = (f"shape {tuple(x.shape)} of {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__)
            raise ValueError(f"expected float audio of shape (batch, {self.channels}, time) with time >= 1, got {got}")


class SEANetDecoder(_SEANet):
    """SEANet decoder: latent frames ``(B, D, F)`` to audio ``(B, C, F * hop_length)``.

    Args:
        # Channels
        channels: C, audio channels (default 1).
        dimension: D, latent channels (default 128).
        n_filters: width of the last stage; the first runs at ``n_filters * 2 ** len(ratios)`` (default 32).
        # Structure
        ratios: up-sampling ratios, first to last (default (8, 5, 4, 2)); ``hop_length = prod(ratios)``.
        kernel_size: taps of the first conv (default 7).
        residual_kernel_size: taps of the residual blocks' first conv (default 3).
        last_kernel_size: taps of the last conv (default 7).
        dilation_base: residual block ``j`` of a stage has dilation ``dilation_base ** j`` (default 2).
        n_residual_layers: residual blocks per stage (default 1).
        compress: residual blocks run at ``channels // compress`` inside (default 2).
        true_skip: residual blocks add their input itself (DAC) instead of a 1x1 conv of it (EnCodec, the
            default False).
        lstm_layers: layers of the unidirectional LSTM after the first conv (default 2 as EnCodec; 0: none).
        # Signal handling
        activation: ``"elu"`` (EnCodec) or ``"snake"`` (DAC).
        causal: left-only padding and right-trimmed transposed convs, so output sample ``t`` depends only on
            frames ``<= t // hop_length``, and block streaming with ``init_state``/``step`` (default True).
        weight_norm: weight-normalise every conv (default True).
    """

    def __init__(self, channels: int = 1, dimension: int = 128, n_filters: int = 32,
                 ratios: Sequence[int] = (8, 5, 4, 2), kernel_size: int = 7, residual_kernel_size: int = 3,
                 last_kernel_size: int = 7, dilation_base: int = 2, n_residual_layers: int = 1,
                 compress: int = 2, lstm_layers: int = 2, activation: str = "elu", causal: bool = True,
                 weight_norm: bool = True, true_skip: bool = False):
        super().__init__(channels, dimension, n_filters, ratios, kernel_size, residual_kernel_size,
                         last_kernel_size, dilation_base, n_residual_layers, activation, causal, lstm_layers,
                         compress, true_skip)
        conv = dict(causal=self.causal, weight_norm=weight_norm)
        width = n_filters * 2 ** len(self.ratios)
        layers: list[nn.Module] = [SConv1d(dimension, width, kernel_size, **conv)]
        if lstm_layers:
            layers.append(ResidualLSTM(width, lstm_layers))
        for ratio in self.ratios:
            layers += [_activation(activation, width), SConvTranspose1d(width, width // 2, 2 * ratio, ratio, **conv)]
            width //= 2
            layers += self._residual_blocks(width, residual_kernel_size, dilation_base, n_residual_layers,
                                            activation, weight_norm, compress)
        layers += [_activation(activation, width), SConv1d(width, channels, last_kernel_size, **conv)]
        self.layers = _Stack(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """B batch, D latent channels, F frames, C channels: ``(B, D, F) -> (B, C, F * hop_length)``."""
        self._check_latent(z)
        return self.layers(z)

    def step(self, z: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """Decode the next frames ``(B, D, f)``: ``(B, C, f * hop_length)`` samples and the new state."""
        self._check_latent(z, allow_empty=True)
        if not self.causal:
            raise ValueError("SEANetDecoder streams only when causal (built with causal=True)")
        return self.layers.step(z, state)

    def _check_latent(self, z: torch.Tensor, allow_empty: bool = False) -> None:
        if not isinstance(z, torch.Tensor) or not z.is_floating_point() or z.dim() != 3 \
                or z.shape[1] != self.dimension or (z.shape[-1] == 0 and not allow_empty):
            got = (f"shape {tuple(z.shape)} of {z.dtype}" if isinstance(z, torch.Tensor) else type(z).__name__)
            raise ValueError(f"expected float latent frames of shape (batch, {self.dimension}, frames) with "
                             f"frames >= 1, got {got}")
