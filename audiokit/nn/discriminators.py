"""GAN discriminators for waveform generators (vocoders, codecs): multi-period, multi-scale, multi-scale STFT.

- :class:`MultiPeriodDiscriminator` (MPD, HiFi-GAN): for each period ``p`` the waveform is folded into a 2-D
  image of ``p`` columns, so that samples ``p`` apart are vertical neighbours, and judged by 2-D convolutions
  whose kernels span rows only. Each column is a ``p``-times decimated copy of the signal, which exposes
  periodic structure (pitch, its harmonics) that a plain 1-D discriminator sees only through long kernels.
- :class:`MultiScaleDiscriminator` (MSD, MelGAN / HiFi-GAN): the same grouped, strided 1-D conv stack applied
  to the waveform and to versions average-pooled by 2, 4, ...; coarse scales judge the envelope, the first
  one the fine detail.
- :class:`MultiScaleSTFTDiscriminator` (MS-STFTD, EnCodec): 2-D convs on the *complex* STFT (real and
  imaginary parts as channels) at several FFT sizes, with dilations growing in time. It sees phase, not only
  magnitude.
- :class:`MultiBandMultiScaleSTFTDiscriminator` (MRD, DAC): the complex STFT cut into frequency bands, each
  band with its own conv stack.

Every discriminator maps a waveform batch ``(B, C, T)`` to a :class:`DiscriminatorOutput`, a named tuple
``(logits, features)`` that unpacks like a pair: one logits tensor per sub-discriminator (a period, a scale
or an FFT size) and, per sub-discriminator, the list of its hidden activations in order (for feature
matching; the logits are not repeated among the features). :class:`CombinedDiscriminator` concatenates the
lists of several discriminators, so losses (``audiokit.losses.gan``) never need to know which ran.

Multichannel audio: the ``C`` channels are *input channels* of the first layer (``in_channels=C``), the
choice of the multichannel (ambisonics) RVQGAN, which widens only the discriminator's input layer, so that
inter-channel structure is judged too. To judge channels independently instead (EnCodec's
``sep_channels``), fold them into the batch: ``disc(x.reshape(B * C, 1, T))`` with ``in_channels=1``.

Symbols: ``B`` batch, ``C`` audio channels, ``T`` samples, ``P`` period, ``H`` rows of the folded waveform,
``F`` frequency bins, ``M`` STFT frames.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils import parametrizations

from audiokit.audio.features import STFT

__all__ = [
    "DAC_BANDS",
    "DISCRIMINATORS",
    "NORMS",
    "CombinedDiscriminator",
    "Discriminator",
    "DiscriminatorOutput",
    "MultiBandMultiScaleSTFTDiscriminator",
    "MultiBandSTFTDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "PeriodDiscriminator",
    "STFTDiscriminator",
    "ScaleDiscriminator",
    "fold_periods",
]

NORMS = ("weight_norm", "spectral_norm", "none")
_HIFIGAN_SLOPE = 0.1  # LeakyReLU slope of HiFi-GAN's MPD and MSD, and of DAC's MRD
_ENCODEC_SLOPE = 0.2  # LeakyReLU slope of EnCodec's MS-STFTD


# ------------------------------------------------------------------------------------------------ helpers
def _check_norm(norm: str, name: str = "norm") -> str:
    if norm not in NORMS:
        raise ValueError(f"{name} must be one of {NORMS}, got {norm!r}")
    return norm


def _normed(conv: nn.Module, norm: str) -> nn.Module:
    """``conv`` with its weight reparametrised by weight or spectral normalisation (or left as it is)."""
    if norm == "weight_norm":
        return parametrizations.weight_norm(conv)
    if norm == "spectral_norm":
        return parametrizations.spectral_norm(conv)
    return conv


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_ints(values: object, name: str, length: int | None = None) -> tuple[int, ...]:
    """A non-empty sequence of positive integers (of ``length`` items when given) as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {values!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {values!r}")
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must have {length} items, got {len(values)}: {tuple(values)}")
    return tuple(int(v) for v in values)


def _odd_kernel(value: object, name: str) -> int:
    kernel = _positive_int(value, name)
    if kernel % 2 == 0:
        raise ValueError(f"{name} must be odd so that padding keeps the layout centred, got {kernel}")
    return kernel


def fold_periods(x: Tensor, period: int) -> Tensor:
    """Fold a waveform into ``period`` columns: ``(B, C, T) -> (B, C, ceil(T / P), P)``, row-major.

    The end is reflect-padded up to a multiple of the period (HiFi-GAN), so ``T >= period`` is needed.
    Column ``j`` holds samples ``j, j + P, j + 2P, ...``; for ``P = 3``, ``T = 7`` (pad 2: ``t5 t4``)::

        t0 t1 t2 t3 t4 t5 t6 | t5 t4    ->    t0 t1 t2
                                              t3 t4 t5
                                              t6 t5 t4
    """
    period = _positive_int(period, "period")
    length = x.shape[-1]
    if length < period:
        raise ValueError(f"fold_periods needs at least period={period} samples, got shape {tuple(x.shape)}")
    pad = (period - length % period) % period
    if pad:
        x = F.pad(x, (0, pad), mode="reflect")
    return x.reshape(*x.shape[:-1], -1, period)  # (B, C, T + pad) -> (B, C, H, P)


def _conv2d(cin: int, cout: int, kernel: tuple[int, int], norm: str, stride: Sequence[int] = (1, 1),
            dilation: tuple[int, int] = (1, 1)) -> nn.Module:
    """A normalised 2-D conv padded so that a stride of 1 keeps the size (odd kernels)."""
    padding = (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)
    return _normed(nn.Conv2d(cin, cout, kernel, tuple(stride), padding=padding, dilation=dilation), norm)


def _spectral_stack(in_channels: int, filters: int, max_filters: int, filters_scale: int, kernel: tuple[int, int],
                    stride: Sequence[int], dilations: Sequence[int], norm: str) -> tuple[nn.ModuleList, int]:
    """EnCodec's conv stack over a ``(time, frequency)`` image, and its output channels: a ``kernel`` conv to
    ``filters``; per dilation ``d`` a ``kernel`` conv strided by ``stride`` and dilated ``(d, 1)``; a square
    ``(kt, kt)`` conv. DAC's band stacks are the same with dilations ``(1, 1, 1)``."""
    kt = kernel[0]
    width = min(filters, max_filters)
    convs = [_conv2d(in_channels, width, kernel, norm)]
    for i, d in enumerate(dilations):
        out = min(filters * filters_scale ** (i + 1), max_filters)
        convs.append(_conv2d(width, out, kernel, norm, stride, (d, 1)))
        width = out
    out = min(filters * filters_scale ** (len(dilations) + 1), max_filters)
    convs.append(_conv2d(width, out, (kt, kt), norm))
    return nn.ModuleList(convs), out


def _complex_image(spec: Tensor) -> Tensor:
    """Complex STFT ``(B, C, F, M)`` -> real image ``(B, 2C, M, F)``: channels ``Re x_1..Re x_C, Im x_1..Im x_C``."""
    h = torch.cat([spec.real, spec.imag], dim=1)  # (B, C, F, M) -> (B, 2C, F, M)
    return h.transpose(2, 3)  # (B, 2C, F, M) -> (B, 2C, M, F)


# ------------------------------------------------------------------------------------------------ the family
class DiscriminatorOutput(NamedTuple):
    """What every discriminator returns; unpacks as ``logits, features = disc(x)``.

    Attributes:
        logits: one real-vs-fake score map per sub-discriminator (shapes in each class's docstring).
        features: per sub-discriminator, the activations of its hidden layers in order, for feature matching.
    """

    logits: list[Tensor]
    features: list[list[Tensor]]


class Discriminator(nn.Module):
    """Base of the discriminator family: waveforms ``(B, C, T)`` -> :class:`DiscriminatorOutput`.

    Subclasses keep their sub-discriminators in ``self.discriminators``; ``num_discriminators`` is the
    length of both lists of the output.

    Args:
        in_channels: C, audio channels the first layers take.
    """

    def __init__(self, in_channels: int):
        super().__init__()
        self._in_channels = _positive_int(in_channels, "in_channels")

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def num_discriminators(self) -> int:
        return len(self.discriminators)

    def _check_input(self, x: Tensor, min_length: int = 1) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a tensor (batch, {self.in_channels}, time), "
                            f"got {type(x).__name__}")
        if x.dim() != 3 or x.shape[1] != self.in_channels or not x.is_floating_point():
            raise ValueError(f"{type(self).__name__}: expected float audio (batch, {self.in_channels}, time), "
                             f"got shape {tuple(x.shape)} of {x.dtype}")
        if x.shape[-1] < min_length:
            raise ValueError(f"{type(self).__name__}: expected at least {min_length} samples, "
                             f"got shape {tuple(x.shape)}")


# ------------------------------------------------------------------------------------------------ MPD
class PeriodDiscriminator(nn.Module):
    """One period of the MPD: fold ``(B, C, T)`` into ``(B, C, H, P)`` rows and judge it with 2-D convs.

    Every kernel is ``(k, 1)``: it mixes samples ``P`` apart within a column and never across columns, so
    column ``j`` of every feature map and of the logits depends on input samples ``t = j (mod P)`` only
    (up to the reflect padding at the end).

    Args:
        period: P, samples between vertical neighbours (HiFi-GAN: 2, 3, 5, 7, 11).
        in_channels: C, audio channels (default 1).
        channels: output channels of the conv layers; all but the last stride by ``stride`` in time
            (default (32, 128, 512, 1024, 1024), HiFi-GAN).
        kernel_size: odd kernel height, in rows (default 5).
        stride: stride of the strided layers, in rows (default 3).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, period: int, in_channels: int = 1, channels: Sequence[int] = (32, 128, 512, 1024, 1024),
                 kernel_size: int = 5, stride: int = 3, norm: str = "weight_norm"):
        super().__init__()
        self.period = _positive_int(period, "period")
        channels = _positive_ints(channels, "channels")
        kernel_size, stride = _odd_kernel(kernel_size, "kernel_size"), _positive_int(stride, "stride")
        _check_norm(norm)
        width, pad = _positive_int(in_channels, "in_channels"), (kernel_size - 1) // 2
        convs = []
        for i, out in enumerate(channels):
            step = stride if i < len(channels) - 1 else 1
            convs.append(_normed(nn.Conv2d(width, out, (kernel_size, 1), (step, 1), padding=(pad, 0)), norm))
            width = out
        self.convs = nn.ModuleList(convs)
        self.post = _normed(nn.Conv2d(width, 1, (3, 1), padding=(1, 0)), norm)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(B, C, T)`` -> logits ``(B, 1, H', P)`` and the activation of every conv layer."""
        h = fold_periods(x, self.period)  # (B, C, T) -> (B, C, H, P)
        features = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), _HIFIGAN_SLOPE)
            features.append(h)
        return self.post(h), features

    def extra_repr(self) -> str:
        return f"period={self.period}"


class MultiPeriodDiscriminator(Discriminator):
    """HiFi-GAN's multi-period discriminator: one :class:`PeriodDiscriminator` per period.

    Output for ``(B, C, T)`` (``T >= max(periods)``): per period ``P``, logits ``(B, 1, ceil(T / P / s^n), P)``
    with ``s = stride`` and ``n = len(channels) - 1`` strided layers (81 = 3^4 at the defaults), and
    ``len(channels)`` feature maps.

    Parameters at the defaults (``in_channels=1``): 41,092,165 weights and biases; weight normalisation
    adds 13,605 gains (41,105,770 trainable), as HiFi-GAN's MPD (~41.1 M).

    Args:
        periods: the periods P (default (2, 3, 5, 7, 11), HiFi-GAN and DAC: primes, so they overlap little).
        in_channels: C, audio channels judged jointly (default 1; 16 for third-order ambisonics).
        channels: output channels of each period's conv layers (default (32, 128, 512, 1024, 1024)).
        kernel_size: odd kernel height in rows (default 5).
        stride: row stride of all but the last conv layer (default 3).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), in_channels: int = 1,
                 channels: Sequence[int] = (32, 128, 512, 1024, 1024), kernel_size: int = 5, stride: int = 3,
                 norm: str = "weight_norm"):
        super().__init__(in_channels)
        self.periods = _positive_ints(periods, "periods")
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, in_channels, channels, kernel_size, stride, norm) for p in self.periods)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``(B, C, T)`` -> one ``(B, 1, H', P)`` logits map and its feature maps per period."""
        self._check_input(x, min_length=max(self.periods))
        logits, features = [], []
        for disc in self.discriminators:
            logit, feats = disc(x)
            logits.append(logit)
            features.append(feats)
        return DiscriminatorOutput(logits, features)


# ------------------------------------------------------------------------------------------------ MSD
class ScaleDiscriminator(nn.Module):
    """One scale of the MSD: grouped, strided 1-D convs, ``(B, C, T) -> (B, 1, T')``.

    Each layer pads ``(kernel - 1) // 2`` on both sides, so a layer of stride ``s`` maps ``L`` samples to
    ``ceil(L / s)``: ``T' = ceil(T / prod(strides))`` (``T / 64`` at the defaults).

    Args:
        in_channels: C, audio channels (default 1).
        channels: output channels per layer (default (128, 128, 256, 512, 1024, 1024, 1024), HiFi-GAN).
        kernel_sizes: odd kernel size per layer (default (15, 41, 41, 41, 41, 41, 5)).
        strides: stride per layer (default (1, 2, 2, 4, 4, 1, 1)).
        groups: groups per layer; must divide the layer's input and output channels
            (default (1, 4, 16, 16, 16, 16, 1)).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (128, 128, 256, 512, 1024, 1024, 1024),
                 kernel_sizes: Sequence[int] = (15, 41, 41, 41, 41, 41, 5),
                 strides: Sequence[int] = (1, 2, 2, 4, 4, 1, 1),
                 groups: Sequence[int] = (1, 4, 16, 16, 16, 16, 1), norm: str = "weight_norm"):
        super().__init__()
        channels = _positive_ints(channels, "channels")
        layers = len(channels)
        kernel_sizes = _positive_ints(kernel_sizes, "kernel_sizes", layers)
        for k in kernel_sizes:
            _odd_kernel(k, "kernel_sizes")
        strides = _positive_ints(strides, "strides", layers)
        groups = _positive_ints(groups, "groups", layers)
        _check_norm(norm)
        width, convs = _positive_int(in_channels, "in_channels"), []
        for i, (out, k, s, g) in enumerate(zip(channels, kernel_sizes, strides, groups)):
            if width % g or out % g:
                raise ValueError(f"groups[{i}]={g} must divide the layer's input and output channels, "
                                 f"got {width} -> {out}")
            convs.append(_normed(nn.Conv1d(width, out, k, s, padding=(k - 1) // 2, groups=g), norm))
            width = out
        self.convs = nn.ModuleList(convs)
        self.post = _normed(nn.Conv1d(width, 1, 3, padding=1), norm)
        self.hop = math.prod(strides)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(B, C, T)`` -> logits ``(B, 1, ceil(T / hop))`` and the activation of every conv layer."""
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _HIFIGAN_SLOPE)
            features.append(x)
        return self.post(x), features


class MultiScaleDiscriminator(Discriminator):
    """MelGAN / HiFi-GAN multi-scale discriminator: :class:`ScaleDiscriminator` s on the waveform and on
    copies average-pooled ``scales - 1`` times (kernel 4, stride 2, padding 2: ``L -> L // 2 + 1``).

    Output for ``(B, C, T)``: scale ``k`` sees ``L_0 = T``, ``L_k = L_{k-1} // 2 + 1`` samples and gives
    logits ``(B, 1, ceil(L_k / prod(strides)))`` and ``len(channels)`` feature maps.

    Parameters at the defaults (``in_channels=1``): 29,610,627 weights and biases; weight normalisation of
    scales 2 and 3 adds 2 x 4,097 gains (29,618,821 trainable), as HiFi-GAN's MSD (~29.6 M). Spectral
    normalisation keeps its power-iteration vectors in buffers and adds no parameters.

    Args:
        scales: number of scales (default 3).
        in_channels: C, audio channels judged jointly (default 1; 16 for third-order ambisonics).
        channels: output channels per layer (default (128, 128, 256, 512, 1024, 1024, 1024)).
        kernel_sizes: odd kernel size per layer (default (15, 41, 41, 41, 41, 41, 5)).
        strides: stride per layer (default (1, 2, 2, 4, 4, 1, 1)).
        groups: groups per layer (default (1, 4, 16, 16, 16, 16, 1)).
        norm: normalisation of the scales after the first (default ``'weight_norm'``).
        first_norm: normalisation of the first, full-rate scale (default ``'spectral_norm'``, HiFi-GAN, which
            found it stabilises training; ``'weight_norm'`` as MelGAN).
    """

    def __init__(self, scales: int = 3, in_channels: int = 1,
                 channels: Sequence[int] = (128, 128, 256, 512, 1024, 1024, 1024),
                 kernel_sizes: Sequence[int] = (15, 41, 41, 41, 41, 41, 5),
                 strides: Sequence[int] = (1, 2, 2, 4, 4, 1, 1),
                 groups: Sequence[int] = (1, 4, 16, 16, 16, 16, 1), norm: str = "weight_norm",
                 first_norm: str = "spectral_norm"):
        super().__init__(in_channels)
        scales = _positive_int(scales, "scales")
        _check_norm(norm)
        _check_norm(first_norm, "first_norm")
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(in_channels, channels, kernel_sizes, strides, groups, first_norm if i == 0 else norm)
            for i in range(scales))
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``(B, C, T)`` -> one ``(B, 1, T'_k)`` logits map and its feature maps per scale ``k``."""
        self._check_input(x)
        logits, features = [], []
        for i, disc in enumerate(self.discriminators):
            if i > 0:
                x = self.pool(x)  # (B, C, L) -> (B, C, L // 2 + 1)
            logit, feats = disc(x)
            logits.append(logit)
            features.append(feats)
        return DiscriminatorOutput(logits, features)


# ------------------------------------------------------------------------------------------------ MS-STFTD
class STFTDiscriminator(nn.Module):
    """One resolution of EnCodec's MS-STFTD: 2-D convs over the complex STFT seen as ``2C`` real channels.

    The STFT (periodic Hann window of ``n_fft`` samples, centred frames, zero padding) is divided by
    ``sqrt(sum(window^2))`` (torchaudio's ``normalized=True``) so that levels do not depend on ``n_fft``.
    Channels are ``(Re x_1, ..., Re x_C, Im x_1, ..., Im x_C)``; the image is laid out ``(time, frequency)``.
    Layers (kernel ``(kt, kf)``, LeakyReLU 0.2): a conv to ``filters`` channels; one conv per dilation,
    dilated in time by it and strided by ``stride``; a ``(kt, kt)`` conv; a ``(kt, kt)`` conv to the logits.

    Output for ``(B, C, T)``: logits ``(B, 1, M, F')`` with ``M = 1 + T // hop_length`` frames and
    ``F' = ceil((n_fft // 2 + 1) / sf^len(dilations))`` for a frequency stride ``sf``, and
    ``len(dilations) + 2`` feature maps.

    Args:
        n_fft: FFT size and window length, in samples (default 1024).
        hop_length: frame step in samples (default ``n_fft // 4``).
        in_channels: C, audio channels (default 1).
        filters: channels of the first layer (default 32).
        max_filters: cap on the channels of every layer (default 1024).
        filters_scale: channel growth per dilated layer (default 1: all layers have ``filters``).
        kernel_size: odd ``(time, frequency)`` kernel (default (3, 9)).
        stride: ``(time, frequency)`` stride of the dilated layers (default (1, 2)).
        dilations: time dilation of each dilated layer (default (1, 2, 4)).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, n_fft: int = 1024, hop_length: int | None = None, in_channels: int = 1, filters: int = 32,
                 max_filters: int = 1024, filters_scale: int = 1, kernel_size: Sequence[int] = (3, 9),
                 stride: Sequence[int] = (1, 2), dilations: Sequence[int] = (1, 2, 4), norm: str = "weight_norm"):
        super().__init__()
        n_fft = _positive_int(n_fft, "n_fft")
        hop_length = max(n_fft // 4, 1) if hop_length is None else _positive_int(hop_length, "hop_length")
        filters, max_filters = _positive_int(filters, "filters"), _positive_int(max_filters, "max_filters")
        filters_scale = _positive_int(filters_scale, "filters_scale")
        kt, kf = (_odd_kernel(k, "kernel_size") for k in _positive_ints(kernel_size, "kernel_size", 2))
        stride = _positive_ints(stride, "stride", 2)
        dilations = _positive_ints(dilations, "dilations")
        _check_norm(norm)
        self.stft = STFT(n_fft=n_fft, hop_length=hop_length, window="hann", center=True)
        self.scale = float(self.stft.window.pow(2).sum().rsqrt())
        self.convs, width = _spectral_stack(2 * _positive_int(in_channels, "in_channels"), filters, max_filters,
                                            filters_scale, (kt, kf), stride, dilations, norm)
        self.post = _conv2d(width, 1, (kt, kt), norm)

    @property
    def n_fft(self) -> int:
        return self.stft.n_fft

    @property
    def hop_length(self) -> int:
        return self.stft.hop_length

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(B, C, T)`` -> logits ``(B, 1, M, F')`` and the activation of every conv layer."""
        spec = self.stft(x) * self.scale  # (B, C, T) -> (B, C, F, M) complex
        h = _complex_image(spec)  # (B, C, F, M) -> (B, 2C, M, F)
        features = []
        for layer in self.convs:
            h = F.leaky_relu(layer(h), _ENCODEC_SLOPE)
            features.append(h)
        return self.post(h), features

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}"


class MultiScaleSTFTDiscriminator(Discriminator):
    """EnCodec's multi-scale STFT discriminator: one :class:`STFTDiscriminator` per FFT size.

    Output for ``(B, C, T)``: per FFT size ``N``, logits ``(B, 1, 1 + T // hop, ceil((N // 2 + 1) / 8))``
    at the default strides and ``len(dilations) + 2`` (5) feature maps.

    Parameters at the defaults (``in_channels=1``): 471,685 weights and biases; weight normalisation adds
    5 x 161 gains (472,490 trainable).

    Args:
        n_ffts: FFT sizes (default (2048, 1024, 512, 256, 128), AudioCraft's EnCodec recipe).
        hop_lengths: frame step per FFT size (default ``n_fft // 4`` each).
        in_channels: C, audio channels judged jointly (default 1; 16 for third-order ambisonics).
        filters: channels of the conv layers (default 32).
        max_filters: cap on the channels (default 1024).
        filters_scale: channel growth per dilated layer (default 1).
        kernel_size: odd ``(time, frequency)`` kernel (default (3, 9)).
        stride: ``(time, frequency)`` stride of the dilated layers (default (1, 2)).
        dilations: time dilations (default (1, 2, 4)).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, n_ffts: Sequence[int] = (2048, 1024, 512, 256, 128), hop_lengths: Sequence[int] | None = None,
                 in_channels: int = 1, filters: int = 32, max_filters: int = 1024, filters_scale: int = 1,
                 kernel_size: Sequence[int] = (3, 9), stride: Sequence[int] = (1, 2),
                 dilations: Sequence[int] = (1, 2, 4), norm: str = "weight_norm"):
        super().__init__(in_channels)
        self.n_ffts = _positive_ints(n_ffts, "n_ffts")
        if hop_lengths is None:
            self.hop_lengths = tuple(max(n // 4, 1) for n in self.n_ffts)
        else:
            self.hop_lengths = _positive_ints(hop_lengths, "hop_lengths", len(self.n_ffts))
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(n, hop, in_channels, filters, max_filters, filters_scale, kernel_size, stride,
                              dilations, norm)
            for n, hop in zip(self.n_ffts, self.hop_lengths))

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``(B, C, T)`` -> one ``(B, 1, M, F')`` logits map and its feature maps per FFT size."""
        self._check_input(x)
        logits, features = [], []
        for disc in self.discriminators:
            logit, feats = disc(x)
            logits.append(logit)
            features.append(feats)
        return DiscriminatorOutput(logits, features)


DAC_BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class MultiBandSTFTDiscriminator(nn.Module):
    """One resolution of DAC's multi-band complex STFT discriminator (MRD).

    The complex STFT (periodic Hann window of ``n_fft`` samples, centred frames, unnormalised, as DAC) seen
    as ``2C`` real channels is cut along frequency into ``bands`` (fractions of the ``n_fft // 2 + 1`` bins,
    bin ``int(lo * bins)`` up to ``int(hi * bins)``); each band has its own conv stack (EnCodec's stack with
    dilations (1, 1, 1), LeakyReLU 0.1), their outputs are concatenated along frequency, and one ``(3, 3)``
    conv gives the logits. Each band gets weights suited to its part of the spectrum.

    Output for ``(B, C, T)``: logits ``(B, 1, M, sum_b ceil(bins_b / 8))``, ``M = 1 + T // hop_length``, and
    ``5 * len(bands)`` feature maps (band by band).

    Args:
        n_fft: FFT size and window length, in samples (default 2048).
        hop_length: frame step in samples (default ``n_fft // 4``).
        in_channels: C, audio channels (default 1).
        bands: ``(lo, hi)`` fractions of the bins, each holding at least one bin (default DAC's five:
            0-0.1, 0.1-0.25, 0.25-0.5, 0.5-0.75, 0.75-1).
        filters: channels of every conv layer (default 32).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, n_fft: int = 2048, hop_length: int | None = None, in_channels: int = 1,
                 bands: Sequence[Sequence[float]] = DAC_BANDS, filters: int = 32, norm: str = "weight_norm"):
        super().__init__()
        n_fft = _positive_int(n_fft, "n_fft")
        hop_length = max(n_fft // 4, 1) if hop_length is None else _positive_int(hop_length, "hop_length")
        filters = _positive_int(filters, "filters")
        _check_norm(norm)
        bins = n_fft // 2 + 1
        if isinstance(bands, (str, bytes)) or not isinstance(bands, Sequence) or not bands:
            raise ValueError(f"bands must be a non-empty sequence of (lo, hi) fractions of the bins, got {bands!r}")
        self.band_bins = []
        for band in bands:
            if len(band) != 2 or not 0.0 <= band[0] < band[1] <= 1.0:
                raise ValueError(f"each band must be (lo, hi) with 0 <= lo < hi <= 1, got {tuple(band)}")
            lo, hi = int(band[0] * bins), int(band[1] * bins)
            if hi <= lo:
                raise ValueError(f"band {tuple(band)} holds no frequency bin at n_fft={n_fft} ({bins} bins)")
            self.band_bins.append((lo, hi))
        self.stft = STFT(n_fft=n_fft, hop_length=hop_length, window="hann", center=True)
        in_channels = 2 * _positive_int(in_channels, "in_channels")
        self.band_convs = nn.ModuleList(
            _spectral_stack(in_channels, filters, filters, 1, (3, 9), (1, 2), (1, 1, 1), norm)[0] for _ in bands)
        self.post = _conv2d(filters, 1, (3, 3), norm)

    @property
    def n_fft(self) -> int:
        return self.stft.n_fft

    @property
    def hop_length(self) -> int:
        return self.stft.hop_length

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(B, C, T)`` -> logits ``(B, 1, M, F')`` and the activation of every conv layer of every band."""
        image = _complex_image(self.stft(x))  # (B, C, T) -> (B, C, F, M) -> (B, 2C, M, F)
        features, outputs = [], []
        for (lo, hi), convs in zip(self.band_bins, self.band_convs):
            h = image[..., lo:hi]  # (B, 2C, M, F) -> (B, 2C, M, F_band)
            for conv in convs:
                h = F.leaky_relu(conv(h), _HIFIGAN_SLOPE)
                features.append(h)
            outputs.append(h)
        return self.post(torch.cat(outputs, dim=-1)), features  # bands side by side along frequency

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, band_bins={self.band_bins}"


class MultiBandMultiScaleSTFTDiscriminator(Discriminator):
    """DAC's multi-band multi-scale STFT discriminator: one :class:`MultiBandSTFTDiscriminator` per FFT size.

    DAC pairs it with the MPD (:class:`CombinedDiscriminator`); its wrapper also removes the DC offset and
    peak-normalises the input to 0.8 first, which this class leaves to the caller.

    Parameters at the defaults (``in_channels=1``): 1,411,587 weights and biases; weight normalisation adds
    3 x 801 gains (1,413,990 trainable). With the default MPD: 42,519,760, DAC's 42.5 M.

    Args:
        n_ffts: FFT sizes (default (2048, 1024, 512), DAC).
        hop_lengths: frame step per FFT size (default ``n_fft // 4`` each).
        in_channels: C, audio channels judged jointly (default 1).
        bands: ``(lo, hi)`` fractions of the bins (default DAC's five bands).
        filters: channels of the conv layers (default 32).
        norm: ``'weight_norm'`` (default), ``'spectral_norm'`` or ``'none'``.
    """

    def __init__(self, n_ffts: Sequence[int] = (2048, 1024, 512), hop_lengths: Sequence[int] | None = None,
                 in_channels: int = 1, bands: Sequence[Sequence[float]] = DAC_BANDS, filters: int = 32,
                 norm: str = "weight_norm"):
        super().__init__(in_channels)
        self.n_ffts = _positive_ints(n_ffts, "n_ffts")
        if hop_lengths is None:
            self.hop_lengths = tuple(max(n // 4, 1) for n in self.n_ffts)
        else:
            self.hop_lengths = _positive_ints(hop_lengths, "hop_lengths", len(self.n_ffts))
        self.discriminators = nn.ModuleList(
            MultiBandSTFTDiscriminator(n, hop, in_channels, bands, filters, norm)
            for n, hop in zip(self.n_ffts, self.hop_lengths))

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``(B, C, T)`` -> one ``(B, 1, M, F')`` logits map and its feature maps per FFT size."""
        self._check_input(x)
        logits, features = [], []
        for disc in self.discriminators:
            logit, feats = disc(x)
            logits.append(logit)
            features.append(feats)
        return DiscriminatorOutput(logits, features)


# ------------------------------------------------------------------------------------------------ combined
DISCRIMINATORS: dict[str, type[Discriminator]] = {
    "mpd": MultiPeriodDiscriminator,
    "msd": MultiScaleDiscriminator,
    "msstftd": MultiScaleSTFTDiscriminator,
    "mrd": MultiBandMultiScaleSTFTDiscriminator,
}


class CombinedDiscriminator(Discriminator):
    """Several discriminators as one: their logits and features lists concatenated, in the order given.

        disc = CombinedDiscriminator(MultiPeriodDiscriminator(), MultiScaleSTFTDiscriminator())
        disc = CombinedDiscriminator.from_config({"mpd": {}, "msstftd": {"filters": 32}})   # the same
        logits, features = disc(audio)   # 5 + 5 logits maps, 5 + 5 feature lists

    Args:
        *discriminators: :class:`Discriminator` s taking the same ``in_channels``.
    """

    def __init__(self, *discriminators: Discriminator):
        if not discriminators:
            raise ValueError("CombinedDiscriminator needs at least one discriminator, got none")
        for i, disc in enumerate(discriminators):
            if not isinstance(disc, Discriminator):
                raise TypeError(f"CombinedDiscriminator: discriminator {i} must be an audiokit Discriminator, "
                                f"got {type(disc).__name__}")
        channels = {disc.in_channels for disc in discriminators}
        if len(channels) > 1:
            raise ValueError(f"CombinedDiscriminator: all discriminators must take the same in_channels, "
                             f"got {[disc.in_channels for disc in discriminators]}")
        super().__init__(channels.pop())
        self.members = nn.ModuleList(discriminators)

    @classmethod
    def from_config(cls, config: Mapping[str, Mapping[str, Any] | None]) -> CombinedDiscriminator:
        """Build from ``{name: constructor kwargs}``, names from ``DISCRIMINATORS`` (mpd, msd, msstftd, mrd).

        A Hydra config can point ``_target_`` at this method; ``None`` kwargs mean the defaults.
        """
        if not isinstance(config, Mapping) or not config:
            raise ValueError(f"discriminator config must be a non-empty mapping of name -> kwargs with names "
                             f"from {sorted(DISCRIMINATORS)}, got {config!r}")
        unknown = sorted(set(config) - set(DISCRIMINATORS))
        if unknown:
            raise ValueError(f"unknown discriminators {unknown} in the config; available: {sorted(DISCRIMINATORS)}")
        members = []
        for name, kwargs in config.items():
            kwargs = {} if kwargs is None else dict(kwargs)  # constructors take any sequence (a ListConfig too)
            members.append(DISCRIMINATORS[name](**kwargs))
        return cls(*members)

    @property
    def num_discriminators(self) -> int:
        return sum(member.num_discriminators for member in self.members)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """``(B, C, T)`` -> the members' logits and features, concatenated."""
        self._check_input(x)
        logits, features = [], []
        for member in self.members:
            out = member(x)
            logits += out.logits
            features += out.features
        return DiscriminatorOutput(logits, features)
