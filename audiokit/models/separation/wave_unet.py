"""Wave-U-Net (Stoller, Ewert & Dixon, "Wave-U-Net: A Multi-Scale Neural Network for End-to-End Audio
Source Separation", ISMIR 2018), context-aware version.

Downsampling block ``i = 1..L``: conv (kernel ``f_d = 15``, ``F_c * i`` filters, no padding) + LeakyReLU,
then decimation (every other sample). A bottleneck conv (``F_c * (L + 1)`` filters). Upsampling block
``i = L..1``: upsampling x2 (linear interpolation, or the paper's learned per-channel interpolation),
concatenation with block ``i``'s pre-decimation features cropped to the centre, conv (kernel ``f_u = 5``,
``F_c * i`` filters, no padding) + LeakyReLU. The output layer concatenates the centre-cropped mixture
and maps to the sources with a 1x1 conv + tanh. With the difference output the network predicts the
first ``S - 1`` sources and the last one is ``mixture - sum(others)``, so the stems add up to the
(cropped) mixture exactly.

Lengths. Every conv is valid, decimation keeps both ends of an odd-length signal and upsampling
interpolates between neighbours (``n -> 2n - 1``), so the network only accepts particular input lengths
and returns the centre of its input. For a bottleneck of ``b`` frames::

    input   n_L = b + f_d - 1,   n_{i-1} = 2 n_i + f_d - 2            (input length = n_0)
    output  u_{L+1} = b,         u_i = 2 u_{i+1} - f_u                (output length = u_1)

Both grow by ``2**L`` per extra bottleneck frame, so the input exceeds the output by a constant
``2 * output_offset`` samples, centred: output ``j`` lines up with input ``j + output_offset``. The
paper's M4 (L = 12) maps 147443 input samples to 16389 outputs (``output_offset`` 65527).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from audiokit.models.separation.base import SeparationModule


def center_crop(x: torch.Tensor, length: int) -> torch.Tensor:
    """Keep the central ``length`` samples of ``(..., T)``; ``T - length`` must be even."""
    extra = x.shape[-1] - length
    assert extra >= 0 and extra % 2 == 0, (x.shape, length)
    return x[..., extra // 2 : x.shape[-1] - extra // 2]


class Upsample(nn.Module):
    """Interpolate between neighbouring frames: ``(B, C, N) -> (B, C, 2N - 1)``.

    Each new frame is ``w * f_t + (1 - w) * f_{t+1}``: ``w = 0.5`` (linear interpolation) or, learned,
    ``w = sigmoid(theta)`` with one ``theta`` per channel (initialised at 0, i.e. linear).
    """

    def __init__(self, channels: int, learned: bool):
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(channels)) if learned else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = 0.5 if self.theta is None else torch.sigmoid(self.theta)[:, None]  # (C, 1)
        middle = w * x[..., :-1] + (1 - w) * x[..., 1:]  # (B, C, N - 1)
        pairs = torch.stack([x[..., :-1], middle], dim=-1)  # (B, C, N - 1, 2)
        pairs = pairs.flatten(-2)  # (B, C, N - 1, 2) -> (B, C, 2N - 2): f_0, m_0, f_1, m_1, ...
        return torch.cat([pairs, x[..., -1:]], dim=-1)


class DownBlock(nn.Module):
    """conv(f_d) + LeakyReLU, then decimate: returns (features before decimation, decimated)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, negative_slope: float):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = F.leaky_relu(self.conv(x), self.negative_slope)  # (B, C_out, N - f_d + 1), odd
        return features, features[..., ::2]  # (B, C_out, (N - f_d + 2) / 2)


class UpBlock(nn.Module):
    """upsample, concat the centre of the skip features, conv(f_u) + LeakyReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, kernel_size: int,
                 negative_slope: float, learned_upsampling: bool):
        super().__init__()
        self.upsample = Upsample(in_channels, learned_upsampling)
        self.conv = nn.Conv1d(in_channels + skip_channels, out_channels, kernel_size)
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.upsample(x)  # (B, C_in, 2N - 1)
        x = torch.cat([x, center_crop(skip, x.shape[-1])], dim=1)  # (B, C_in + C_skip, 2N - 1)
        return F.leaky_relu(self.conv(x), self.negative_slope)  # (B, C_out, 2N - f_u)


class WaveUNet(SeparationModule):
    """Context-aware Wave-U-Net: ``mix (B, C, T_in) -> stems (B, S, C, T_in - 2 * output_offset)``.

    Args:
        sources: stem names, in output order (S = len(sources)); with ``difference_output`` the last
            one is the mixture minus the others.
        audio_channels: C, channels of the mixture and of every stem (default 2: the paper's M4/M5).
        sample_rate: rate the model is trained at, Hz (default 22050, as the paper).
        # Structure
        num_layers: L, downsampling/upsampling blocks (default 12).
        extra_filters: F_c, block ``i`` has ``F_c * i`` filters (default 24).
        down_kernel_size: f_d, taps of the downsampling convs (default 15).
        up_kernel_size: f_u, taps of the upsampling convs (default 5).
        learned_upsampling: learned per-channel interpolation weights (M5) instead of linear
            interpolation (M4) (default False).
        negative_slope: slope of the LeakyReLUs for negative inputs (default 0.2).
        # Output
        difference_output: predict ``S - 1`` sources and make the last one the mixture minus their sum,
            so the stems add up to the mixture (default True).
        output_tanh: tanh on the predicted sources, as the paper (audio in [-1, 1]) (default True).
    """

    def __init__(self, sources: Sequence[str], audio_channels: int = 2, sample_rate: int = 22050,
                 num_layers: int = 12, extra_filters: int = 24, down_kernel_size: int = 15,
                 up_kernel_size: int = 5, learned_upsampling: bool = False, negative_slope: float = 0.2,
                 difference_output: bool = True, output_tanh: bool = True):
        super().__init__()
        self.sources = [str(s) for s in sources]
        if len(set(self.sources)) != len(self.sources) or len(self.sources) < (2 if difference_output else 1):
            raise ValueError(f"WaveUNet needs distinct source names, at least 2 with difference_output; got "
                             f"sources={list(sources)}")
        for name, value in (("audio_channels", audio_channels), ("sample_rate", sample_rate),
                            ("num_layers", num_layers), ("extra_filters", extra_filters),
                            ("down_kernel_size", down_kernel_size), ("up_kernel_size", up_kernel_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"WaveUNet {name} must be a positive integer, got {name}={value!r}")
        for name, value in (("down_kernel_size", down_kernel_size), ("up_kernel_size", up_kernel_size)):
            if value % 2 == 0:
                raise ValueError(f"WaveUNet {name} must be odd (centred crops), got {name}={value}")
        self.audio_channels = int(audio_channels)
        self.sample_rate = int(sample_rate)
        self.num_layers = int(num_layers)
        self.down_kernel_size = int(down_kernel_size)
        self.up_kernel_size = int(up_kernel_size)
        self.difference_output = bool(difference_output)
        self.output_tanh = bool(output_tanh)

        width = [extra_filters * i for i in range(num_layers + 2)]  # width[i] = F_c * i
        self.down = nn.ModuleList(
            DownBlock(self.audio_channels if i == 1 else width[i - 1], width[i], down_kernel_size, negative_slope)
            for i in range(1, num_layers + 1)
        )
        self.bottleneck = nn.Conv1d(width[num_layers], width[num_layers + 1], down_kernel_size)
        self.negative_slope = negative_slope
        self.up = nn.ModuleList(  # deepest first
            UpBlock(width[i + 1], width[i], width[i], up_kernel_size, negative_slope, learned_upsampling)
            for i in range(num_layers, 0, -1)
        )
        predicted = len(self.sources) - 1 if difference_output else len(self.sources)
        self.output = nn.Conv1d(width[1] + self.audio_channels, predicted * self.audio_channels, 1)

    # ----------------------------------------------------------------------------------- lengths
    def _lengths(self, bottleneck: int) -> tuple[int, int]:
        """(input length, output length) for a bottleneck of ``bottleneck`` frames (module doc)."""
        n = bottleneck + self.down_kernel_size - 1
        for _ in range(self.num_layers):
            n = 2 * n + self.down_kernel_size - 2
        u = bottleneck
        for _ in range(self.num_layers):
            u = 2 * u - self.up_kernel_size
        return n, u

    def _min_bottleneck(self) -> int:
        """Fewest bottleneck frames for which every upsampling conv still has an output."""
        b = 1
        while True:
            u, ok = b, True
            for _ in range(self.num_layers):
                u = 2 * u - self.up_kernel_size
                ok = ok and u >= 1
            if ok:
                return b
            b += 1

    @property
    def output_offset(self) -> int:
        n, u = self._lengths(self._min_bottleneck())
        return (n - u) // 2

    def valid_length(self, length: int) -> int:
        """Smallest valid input length whose output has at least ``length`` samples."""
        span = 2 ** self.num_layers
        b0 = self._min_bottleneck()
        u0 = self._lengths(b0)[1]
        b = b0 + max(0, math.ceil((length - u0) / span))
        return self._lengths(b)[0]

    def output_length(self, length: int) -> int:
        """Output samples for a valid input of ``length`` samples (``ValueError`` if it is not valid)."""
        span = 2 ** self.num_layers
        n0, u0 = self._lengths(self._min_bottleneck())
        if length < n0 or (length - n0) % span:
            raise ValueError(f"WaveUNet takes input lengths {n0} + k * {span} (see valid_length), got {length} "
                             f"samples; pad the mixture to valid_length(T) or use forward_aligned")
        return length - (n0 - u0)

    # ----------------------------------------------------------------------------------- forward
    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """B batch, C channels, S sources: ``mix (B, C, T_in) -> stems (B, S, C, T_out)`` with
        ``T_in`` a valid length and ``T_out = output_length(T_in)`` centred in it."""
        self.check_input(mix)
        out_length = self.output_length(mix.shape[-1])
        x, skips = mix, []
        for block in self.down:
            features, x = block(x)
            skips.append(features)
        x = F.leaky_relu(self.bottleneck(x), self.negative_slope)
        for block in self.up:
            x = block(x, skips.pop())
        cropped_mix = center_crop(mix, out_length)  # (B, C, T_out)
        x = self.output(torch.cat([x, cropped_mix], dim=1))  # (B, S' * C, T_out)
        if self.output_tanh:
            x = torch.tanh(x)
        stems = x.reshape(x.shape[0], -1, self.audio_channels, out_length)  # (B, S'*C, T) -> (B, S', C, T)
        if self.difference_output:
            last = cropped_mix - stems.sum(dim=1)  # (B, C, T_out)
            stems = torch.cat([stems, last[:, None]], dim=1)
        return stems


def wave_unet_paper(sources: Sequence[str] = ("accompaniment", "vocals"), audio_channels: int = 2,
                    learned_upsampling: bool = False) -> WaveUNet:
    """The paper's M4 (stereo, context-aware, difference output; L = 12, F_c = 24, f_d = 15, f_u = 5,
    22.05 kHz); ``learned_upsampling=True`` gives M5. 147443 input samples -> 16389 output samples."""
    return WaveUNet(sources, audio_channels=audio_channels, sample_rate=22050, num_layers=12, extra_filters=24,
                    down_kernel_size=15, up_kernel_size=5, learned_upsampling=learned_upsampling,
                    difference_output=True)


def wave_unet_tiny(sources: Sequence[str] = ("bass", "treble"), audio_channels: int = 1,
                   sample_rate: int = 8000) -> WaveUNet:
    """A CPU-sized Wave-U-Net for tests and tiny recipes: L = 4, F_c = 8, difference output."""
    return WaveUNet(sources, audio_channels=audio_channels, sample_rate=sample_rate, num_layers=4,
                    extra_filters=8, down_kernel_size=15, up_kernel_size=5, difference_output=True)
