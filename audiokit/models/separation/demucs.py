"""Demucs: a waveform U-Net with an LSTM bottleneck (Défossez et al., "Music Source Separation in the
Waveform Domain", 2019/2021: Demucs v1/v2).

Encoder layer ``i``: strided conv (kernel 8, stride 4) + ReLU, then a 1x1 "rewrite" conv doubling the
channels + GLU. Channels start at ``channels`` and grow by ``growth`` each layer. A 2-layer BiLSTM
(with a linear projection back to the width) sits at the bottom. Decoder layer ``i`` mirrors it: the
encoder output of the same layer is added (skip), a context conv (kernel 3) + GLU, then a transposed
conv (kernel 8, stride 4) + ReLU (no ReLU on the last one, which outputs ``S * C`` channels).

At init, every conv's weights and bias are divided by ``sqrt(std / rescale)``, so a weight std ``s``
becomes ``sqrt(s * rescale)`` (the paper's rescaling, reference 0.1). With ``resample`` the mixture is
upsampled x2 before the encoder and the output downsampled back (band-limited sinc, see
:mod:`audiokit.audio.resample`; 24 zero crossings and rolloff 0.945 as the reference's ``julius``).

Lengths. Without padding, the encoder uses every input sample only when each layer's input length is
``(n - 1) * stride + kernel`` for an integer ``n``::

    n_depth >= 1,   n_{i-1} = (n_i - 1) * stride + kernel      (input length = n_0)

:meth:`Demucs.valid_length` returns the smallest such length ``>= T``; ``forward`` pads the mixture
with zeros up to it on the right and crops the stems back, so it takes any length. The context conv
is padded ("same"), so the stems are exactly as long as the padded mixture.

Causal variant (``causal=True``). A unidirectional LSTM (no projection), and every layer padded or
cropped on the left only::

    encoder conv : pad (kernel - stride) zeros on the left -> frame j sees inputs < (j + 1) * stride
    context conv : pad (context - 1) zeros on the left     -> frame j sees frames <= j
    transp. conv : keep the first n * stride outputs       -> frame j writes outputs j*stride ...

Frame ``j`` of layer ``l`` summarises input block ``[j * stride**l, (j + 1) * stride**l)``; it feeds
back into the first sample of that block, so the output at ``t`` depends on inputs up to the end of its
deepest block: ``latency = stride**depth - 1`` samples (4095 = 93 ms at 44.1 kHz for the paper's
sizes), exact for ``t`` a multiple of ``stride**depth``. Valid lengths are multiples of
``stride**depth``. Resampling (a symmetric sinc) is not causal and is refused with ``causal=True``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from audiokit.audio.resample import Resample
from audiokit.models.separation.base import SeparationModule


def rescale_conv_weights(module: nn.Module, reference: float) -> None:
    """Divide each conv's weight and bias by ``sqrt(std(weight) / reference)`` (in place, at init).

    A weight std ``s`` becomes ``sqrt(s * reference)``: large default inits shrink towards ``reference``.
    """
    for sub in module.modules():
        if isinstance(sub, (nn.Conv1d, nn.ConvTranspose1d)):
            with torch.no_grad():
                scale = (sub.weight.std() / reference).sqrt()
                sub.weight.div_(scale)
                if sub.bias is not None:
                    sub.bias.div_(scale)


class BottleneckLSTM(nn.Module):
    """LSTM over the time frames: ``(B, C, N) -> (B, C, N)``.

    Bidirectional (non-causal): hidden size C each way, then a linear ``2C -> C``.
    Unidirectional (causal): hidden size C, no projection.
    """

    def __init__(self, channels: int, num_layers: int, bidirectional: bool):
        super().__init__()
        self.lstm = nn.LSTM(channels, channels, num_layers=num_layers, batch_first=True,
                            bidirectional=bidirectional)
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x.transpose(1, 2))  # (B, C, N) -> (B, N, C) -> (B, N, C or 2C)
        if self.linear is not None:
            h = self.linear(h)
        return h.transpose(1, 2)  # (B, N, C) -> (B, C, N)


class EncoderLayer(nn.Module):
    """conv(kernel, stride) + ReLU, then 1x1 conv + GLU (or ReLU): ``(B, C_in, N) -> (B, C_out, ~N/stride)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, glu: bool,
                 causal: bool):
        super().__init__()
        self.left_pad = kernel_size - stride if causal else 0
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride)
        self.rewrite = nn.Conv1d(out_channels, (2 if glu else 1) * out_channels, 1)
        self.act = nn.GLU(dim=1) if glu else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.left_pad:  # (F.pad copies even when it pads nothing)
            x = F.pad(x, (self.left_pad, 0))
        x = F.relu(self.conv(x), inplace=True)  # in place: the conv's output is ours alone
        return self.act(self.rewrite(x))


class DecoderLayer(nn.Module):
    """context conv + GLU (or ReLU), then transposed conv(kernel, stride) [+ ReLU]:
    ``(B, C_in, N) -> (B, C_out, N * stride)`` (causal) or ``(B, C_out, (N - 1) * stride + kernel)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, context: int,
                 glu: bool, causal: bool, last: bool):
        super().__init__()
        self.causal = causal
        self.stride = stride
        # Causal: all context on the left; otherwise "same" padding (odd context sizes keep the length).
        self.context_pad = (context - 1, 0) if causal else ((context - 1) // 2, context // 2)
        # a symmetric pad is the conv's own zero padding, which costs no copy of the input
        own = self.context_pad[0] if self.context_pad[0] == self.context_pad[1] else 0
        if own:
            self.context_pad = (0, 0)
        self.context = nn.Conv1d(in_channels, (2 if glu else 1) * in_channels, context, padding=own)
        self.act = nn.GLU(dim=1) if glu else nn.ReLU()
        self.conv_tr = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        if any(self.context_pad):
            x = F.pad(x, self.context_pad)
        x = self.conv_tr(self.act(self.context(x)))
        if self.causal:
            x = x[..., : frames * self.stride]  # drop the (kernel - stride) tail: frame j writes from j*stride on
        return x if self.last else F.relu(x, inplace=True)


class Demucs(SeparationModule):
    """Demucs v2: waveform U-Net with strided convs, GLU rewrites, an LSTM bottleneck and skip sums.

    Args:
        sources: stem names, in output order (S = len(sources)).
        audio_channels: C, channels of the mixture and of every stem (default 2).
        sample_rate: rate the model is trained at, Hz (default 44100).
        # Structure
        channels: width of the first encoder layer (default 64; the paper also uses 48 and 100).
        growth: each layer's width is ``growth`` times the previous one (default 2).
        depth: number of encoder/decoder layers (default 6).
        kernel_size: taps of the strided convs (default 8).
        stride: stride of the strided convs (default 4).
        context: taps of the decoder's context conv (default 3; 1 disables context).
        glu: GLU after the 1x1 rewrite and context convs (default True, v2); False uses ReLU and
            half as many rewrite channels (v1).
        lstm_layers: layers of the bottleneck LSTM (default 2; 0 removes it).
        # Signal handling
        rescale: reference std of the conv weight rescaling at init (default 0.1; 0 disables it).
        resample: upsample the mixture x2 before the network and downsample the output (default True).
        normalize: standardise each mixture by the mean and std of its channel average and undo it on
            the stems (default False: :class:`audiokit.separate.SeparationModel` already standardises
            whole tracks; turn it on for training on raw-level crops).
        causal: unidirectional LSTM and left-only padding; ``latency = stride**depth - 1`` (default False).
    """

    def __init__(self, sources: Sequence[str], audio_channels: int = 2, sample_rate: int = 44100,
                 channels: int = 64, growth: float = 2.0, depth: int = 6, kernel_size: int = 8,
                 stride: int = 4, context: int = 3, glu: bool = True, lstm_layers: int = 2,
                 rescale: float = 0.1, resample: bool = True, normalize: bool = False, causal: bool = False):
        super().__init__()
        self.sources = [str(s) for s in sources]
        if len(self.sources) < 1 or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"Demucs needs at least one source name, all distinct; got sources={list(sources)}")
        _check_positive("audio_channels", audio_channels)
        _check_positive("sample_rate", sample_rate)
        _check_positive("channels", channels)
        _check_positive("depth", depth)
        _check_positive("stride", stride)
        _check_positive("context", context)
        if not growth >= 1:
            raise ValueError(f"Demucs growth must be >= 1, got growth={growth}")
        if not kernel_size >= stride:
            raise ValueError(f"Demucs kernel_size must be >= stride ({stride}), got kernel_size={kernel_size}")
        if not causal and context % 2 == 0:
            raise ValueError(f"Demucs context must be odd when not causal (same padding), got context={context}")
        if lstm_layers < 0:
            raise ValueError(f"Demucs lstm_layers must be >= 0, got lstm_layers={lstm_layers}")
        if rescale < 0:
            raise ValueError(f"Demucs rescale must be >= 0 (0 disables it), got rescale={rescale}")
        if causal and resample:
            raise ValueError("Demucs resample=True is not causal (symmetric sinc filter); use resample=False "
                             "with causal=True")
        self.audio_channels = int(audio_channels)
        self.sample_rate = int(sample_rate)
        self.depth = int(depth)
        self.kernel_size = int(kernel_size)
        self.stride = int(stride)
        self.causal = bool(causal)
        self.normalize = bool(normalize)

        # The reference's filter size (julius' resample_frac: 24 zero crossings, rolloff 0.945), with
        # our Kaiser window: wide audiokit defaults (64 crossings) would cost 2.7x the time for nothing
        # the network cannot learn around.
        filt = dict(lowpass_filter_width=24, rolloff=0.945)
        self.upsample = Resample(orig_sample_rate=1, new_sample_rate=2, **filt) if resample else None
        self.downsample = Resample(orig_sample_rate=2, new_sample_rate=1, **filt) if resample else None
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()  # built deepest last, used deepest first
        in_ch, width = self.audio_channels, int(channels)
        for index in range(self.depth):
            self.encoder.append(EncoderLayer(in_ch, width, kernel_size, stride, glu, causal))
            out_ch = len(self.sources) * self.audio_channels if index == 0 else in_ch
            self.decoder.insert(0, DecoderLayer(width, out_ch, kernel_size, stride, context, glu, causal,
                                                last=index == 0))
            in_ch, width = width, int(growth * width)
        self.lstm = BottleneckLSTM(in_ch, lstm_layers, bidirectional=not causal) if lstm_layers else None
        if rescale:
            rescale_conv_weights(self, rescale)

    # ----------------------------------------------------------------------------------- lengths
    def _network_valid_length(self, length: int) -> int:
        """Smallest length >= ``length`` the strided convs use completely (at the network's rate)."""
        span = self.stride ** self.depth
        if self.causal:
            return max(1, math.ceil(length / span)) * span
        # n_0 = span * n_D + (kernel - stride) * (span - 1) / (stride - 1), n_D >= 1 (see module doc)
        extra = sum((self.kernel_size - self.stride) * self.stride ** i for i in range(self.depth))
        return max(1, math.ceil((length - extra) / span)) * span + extra

    def valid_length(self, length: int) -> int:
        """Smallest mixture length ``>= length`` the network uses without padding."""
        if self.upsample is None:
            return self._network_valid_length(length)
        # Valid network lengths are even here (extra is even when kernel - stride is), so halve exactly.
        return math.ceil(self._network_valid_length(2 * length) / 2)

    @property
    def latency(self) -> int:
        return self.stride ** self.depth - 1 if self.causal else 0

    # ----------------------------------------------------------------------------------- forward
    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """B batch, C channels, T samples, S sources: ``mix (B, C, T) -> stems (B, S, C, T)``."""
        self.check_input(mix)
        length = mix.shape[-1]
        x = mix
        if self.normalize:
            mono = mix.mean(dim=1, keepdim=True)  # (B, 1, T)
            mean = mono.mean(dim=-1, keepdim=True)
            std = mono.std(dim=-1, keepdim=True)
            x = (x - mean) / (std + 1e-5)
        x = F.pad(x, (0, self.valid_length(length) - length))
        if self.upsample is not None:
            x = self.upsample(x)
        x = F.pad(x, (0, self._network_valid_length(x.shape[-1]) - x.shape[-1]))  # no-op unless rounding

        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        if self.lstm is not None:
            x = self.lstm(x)
        for layer in self.decoder:
            skip = skips.pop()
            assert skip.shape[-1] == x.shape[-1], (skip.shape, x.shape)
            x = layer(x + skip)

        if self.downsample is not None:
            x = self.downsample(x)
        x = x[..., :length]
        stems = x.reshape(x.shape[0], len(self.sources), self.audio_channels, length)  # (B, S*C, T) -> (B, S, C, T)
        if self.normalize:
            # The sources share the mixture's mean: their sum keeps it.
            stems = stems * (std + 1e-5)[:, None] + mean[:, None] / len(self.sources)
        return stems


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Demucs {name} must be a positive integer, got {name}={value!r}")


def demucs_paper(sources: Sequence[str] = ("drums", "bass", "other", "vocals"), audio_channels: int = 2,
                 channels: int = 64) -> Demucs:
    """The paper's Demucs v2 for MUSDB18 at 44.1 kHz: depth 6, kernel 8, stride 4, growth 2, GLU
    rewrites, context 3, 2-layer BiLSTM, rescale 0.1, x2 resampling (``channels`` 64; 48 and 100 in
    the paper's size study)."""
    return Demucs(sources, audio_channels=audio_channels, sample_rate=44100, channels=channels, growth=2.0,
                  depth=6, kernel_size=8, stride=4, context=3, glu=True, lstm_layers=2, rescale=0.1,
                  resample=True)


def demucs_tiny(sources: Sequence[str] = ("bass", "treble"), audio_channels: int = 1, sample_rate: int = 8000,
                causal: bool = False) -> Demucs:
    """A CPU-sized Demucs for tests and tiny recipes: 8 channels, depth 3, 1 LSTM layer, no resampling
    (about 40k parameters; valid lengths ``64 n + 84``, or multiples of 64 when causal)."""
    return Demucs(sources, audio_channels=audio_channels, sample_rate=sample_rate, channels=8, growth=2.0,
                  depth=3, kernel_size=8, stride=4, context=3, glu=True, lstm_layers=1, rescale=0.1,
                  resample=False, causal=causal)
