"""Codec-style degradations: mu-law quantisation to a few bits, and band-limiting by resampling down and
back up (what a low-bitrate or telephone channel does to the bandwidth).

Mu-law with ``mu = 2^bits - 1`` compresses ``x`` in [-1, 1] to ``y = sign(x) ln(1 + mu |x|) / ln(1 + mu)``,
rounds ``y`` to ``2^bits`` evenly spaced levels (step ``2 / mu``), and expands back. The error is
therefore at most the expansion's slope times half a step::

    |x' - x| <= (1 + mu)^(|y| + 1 / mu) ln(1 + mu) / mu * (1 / mu)

small near zero and largest at full scale. Samples beyond [-1, 1] are clipped first.
"""
from __future__ import annotations

import math

import torch

from audiokit.audio.resample import Resample
from audiokit.augment.base import Transform, choice


def mu_law_round_trip(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Quantise ``x`` ``(N, ...)`` with ``bits[n]`` bits of mu-law and decode it again."""
    mu = (2.0 ** bits.to(x.dtype) - 1).reshape(-1, *[1] * (x.dim() - 1))  # (N, 1, ...)
    x = x.clamp(-1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / torch.log1p(mu)
    level = torch.round((y + 1) / 2 * mu)  # 0 .. mu: 2^bits levels
    y = level / mu * 2 - 1
    return torch.sign(y) * torch.expm1(y.abs() * torch.log1p(mu)) / mu


class MuLaw(Transform):
    """Mu-law quantisation with a number of bits drawn uniformly from ``[min_bits, max_bits]``.

    Args:
        bits: a fixed number of bits (give it, or the range, not both).
        min_bits: fewest bits (default 4).
        max_bits: most bits (default 8).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "mu_law"

    def __init__(self, *, bits: int | None = None, min_bits: int | None = None, max_bits: int | None = None,
                 p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        if bits is not None:
            if min_bits is not None or max_bits is not None:
                raise self.error("give bits or min_bits/max_bits, not both")
            min_bits = max_bits = bits
        low, high = self.number_range("min_bits", 4 if min_bits is None else min_bits, "max_bits",
                                      8 if max_bits is None else max_bits, minimum=1, maximum=16, integer=True)
        self.min_bits, self.max_bits = int(low), int(high)

    def sample(self, count, channels, time, generator):
        return {"bits": self.min_bits + choice(generator, count, self.max_bits - self.min_bits + 1)}

    def apply(self, x, lengths, params):
        return mu_law_round_trip(x, params["bits"]), lengths

    def extra_repr(self) -> str:
        return f"bits=[{self.min_bits}, {self.max_bits}], {super().extra_repr()}"


class Downsample(Transform):
    """Resample each example down to a rate drawn from ``rates`` and back up: everything above the lower
    Nyquist frequency is lost (e.g. ``[8000]`` for telephone bandwidth).

    Args:
        sample_rate: rate of the batch in Hz (a chain passes its own).
        rates: the lower rates in Hz to draw from (default ``[8000]``), each below ``sample_rate``.
        lowpass_filter_width: zero crossings of the resampling sinc on each side (default 16).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "downsample"

    def __init__(self, *, sample_rate: int, rates: list[int] | int = (8000,), lowpass_filter_width: int = 16,
                 p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.sample_rate = int(self.number("sample_rate", sample_rate, minimum=1, integer=True))
        self.rates = [int(r) for r in self.numbers("rates", rates, minimum=1, integer=True)]
        for i, rate in enumerate(self.rates):
            if rate >= self.sample_rate:
                raise self.error(f"rates[{i}] ({rate} Hz) must be below sample_rate ({self.sample_rate} Hz)")
        self.lowpass_filter_width = int(self.number("lowpass_filter_width", lowpass_filter_width, minimum=1,
                                                    integer=True))
        self._resamplers: dict[tuple[int, torch.device, torch.dtype], tuple[Resample, Resample]] = {}

    def resamplers(self, rate: int, x: torch.Tensor) -> tuple[Resample, Resample]:
        key = (rate, x.device, x.dtype)
        if key not in self._resamplers:
            g = math.gcd(rate, self.sample_rate)  # smaller integers, same kernel
            high, low = self.sample_rate // g, rate // g
            self._resamplers[key] = tuple(
                Resample(orig_sample_rate=a, new_sample_rate=b, lowpass_filter_width=self.lowpass_filter_width)
                .to(x.device, x.dtype) for a, b in ((high, low), (low, high)))
        return self._resamplers[key]

    def sample(self, count, channels, time, generator):
        return {"rate": choice(generator, count, len(self.rates))}

    def apply(self, x, lengths, params):
        time = x.shape[-1]
        y = torch.empty_like(x)
        for i in params["rate"].unique().tolist():
            index = (params["rate"] == i).nonzero().squeeze(1)
            down, up = self.resamplers(self.rates[i], x)
            y[index] = up(down(x[index]))[..., :time]
        return y, lengths

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, rates={self.rates}, {super().extra_repr()}"
