"""Band-limiting and EQ with biquads (RBJ cookbook designs from :mod:`audiokit.nn.biquad`), one random
filter per example.

Kinds: ``lowpass``/``highpass`` (corner drawn log-uniformly in ``[min_cutoff_hz, max_cutoff_hz]``),
``bandpass`` (a highpass at ``centre / sqrt(1 + w)`` then a lowpass at ``centre * sqrt(1 + w)``, with the
centre drawn log-uniformly and ``w`` the bandwidth as a fraction of the centre; the upper corner stops
at 0.95 of Nyquist), ``peaking``, ``low_shelf`` and ``high_shelf`` (gain drawn in ``[min_gain_db,
max_gain_db]``). ``num_sections`` identical sections in series make the slope steeper (12 dB/octave
each). Filters are causal, so an example's output never depends on its padding.

The filtering is done in the frequency domain: the cascade's impulse response is computed by its
recursion (:func:`~audiokit.nn.biquad.biquad_cascade`) up to its decay time (from the pole radius ``r``:
``ln(1e-8) / ln(r)`` samples, doubled), and each example's spectrum, zero-padded past that time, is
multiplied by the response's. That equals the recursion run over the whole signal (to 1e-7, see the
tests), costs FFTs instead of a sequential loop over every sample, and lets a chain fuse the filter with
its neighbours (reverb, gain) into one FFT convolution.
"""
from __future__ import annotations

import math

import torch

from audiokit.augment.base import LinearTransform, fft_convolve, log_uniform, uniform
from audiokit.nn.biquad import biquad_cascade, biquad_coefficients

DECAY = 1e-8  # an impulse response counts as over once its envelope is this far below its start

FILTER_KINDS = ("lowpass", "highpass", "bandpass", "peaking", "low_shelf", "high_shelf")
UPPER_CORNER = 0.95  # a bandpass' upper corner stops at this fraction of Nyquist


class Filter(LinearTransform):
    """Filter each example with a random biquad (or a cascade of identical ones).

    Args:
        sample_rate: rate of the batch in Hz (a chain passes its own).
        kind: one of :data:`FILTER_KINDS` (default ``'lowpass'``).
        min_cutoff_hz: lowest corner/centre frequency in Hz (default 1000).
        max_cutoff_hz: highest corner/centre frequency in Hz, below Nyquist (default 6000).
        q: quality factor of each section (default ``1/sqrt(2)``, Butterworth for one section).
        min_bandwidth: ``bandpass`` only: lowest bandwidth as a fraction of the centre (default 0.5).
        max_bandwidth: ``bandpass`` only: highest bandwidth fraction (default 1.5).
        min_gain_db: peaking/shelves only: lowest gain in dB (default -12).
        max_gain_db: peaking/shelves only: highest gain in dB (default 12).
        num_sections: identical sections in series (default 1).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "filter"

    def __init__(self, *, sample_rate: int, kind: str = "lowpass", min_cutoff_hz: float = 1000.0,
                 max_cutoff_hz: float = 6000.0, q: float = 1 / math.sqrt(2), min_bandwidth: float = 0.5,
                 max_bandwidth: float = 1.5, min_gain_db: float = -12.0, max_gain_db: float = 12.0,
                 num_sections: int = 1, p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.sample_rate = int(self.number("sample_rate", sample_rate, minimum=1, integer=True))
        self.kind = self.one_of("kind", kind, FILTER_KINDS)
        nyquist = self.sample_rate / 2
        self.min_cutoff_hz, self.max_cutoff_hz = self.number_range(
            "min_cutoff_hz", min_cutoff_hz, "max_cutoff_hz", max_cutoff_hz, minimum=0.0, open_minimum=True)
        if self.max_cutoff_hz >= nyquist:
            raise self.error(f"max_cutoff_hz must be below Nyquist ({nyquist:g} Hz), got {self.max_cutoff_hz:g}")
        self.q = self.number("q", q, minimum=0.0, open_minimum=True)
        self.min_bandwidth, self.max_bandwidth = self.number_range(
            "min_bandwidth", min_bandwidth, "max_bandwidth", max_bandwidth, minimum=0.0, open_minimum=True)
        self.min_gain_db, self.max_gain_db = self.number_range("min_gain_db", min_gain_db, "max_gain_db", max_gain_db)
        self.num_sections = int(self.number("num_sections", num_sections, minimum=1, integer=True))

    def sample(self, count, channels, time, generator):
        return {"cutoff_hz": log_uniform(generator, count, self.min_cutoff_hz, self.max_cutoff_hz),
                "bandwidth": uniform(generator, count, self.min_bandwidth, self.max_bandwidth),
                "gain_db": uniform(generator, count, self.min_gain_db, self.max_gain_db)}

    def coefficients(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(N, sections, 5)`` float64 coefficients for drawn parameters."""
        cutoff, gain = params["cutoff_hz"], params["gain_db"]
        if self.kind == "bandpass":
            spread = (1 + params["bandwidth"]).sqrt()
            upper = (cutoff * spread).clamp(max=UPPER_CORNER * self.sample_rate / 2)
            sections = [biquad_coefficients("highpass", 0.0, cutoff / spread, self.q, self.sample_rate),
                        biquad_coefficients("lowpass", 0.0, upper, self.q, self.sample_rate)]
        else:
            sections = [biquad_coefficients(self.kind, gain, cutoff, self.q, self.sample_rate)]
        return torch.stack(sections * self.num_sections, dim=1)

    def tail(self, params):
        # pole radius of each section: sqrt(a2) for a complex pair, the larger |root| for real poles
        coefficients = self.coefficients(params)  # (N, sections, 5)
        a1, a2 = coefficients[..., 3], coefficients[..., 4]
        discriminant = a1**2 - 4 * a2
        real_radius = ((a1.abs() + discriminant.clamp(min=0).sqrt()) / 2)
        radius = torch.where(discriminant < 0, a2.clamp(min=0).sqrt(), real_radius).clamp(1e-3, 1 - 1e-9)
        per_section = 2 * math.log(DECAY) / radius.log()  # doubled: repeated poles decay as n^k r^n
        return int(per_section.sum(dim=1).max().ceil()) + 16

    def response(self, params, length, dtype, device):
        """The drawn cascades' impulse responses ``(N, length)``, by running the recursion on an impulse."""
        coefficients = self.coefficients(params).to(dtype)  # (N, sections, 5)
        impulse = torch.zeros(coefficients.shape[0], length, dtype=dtype, device=device)
        impulse[:, 0] = 1.0
        return biquad_cascade(impulse, coefficients)[0]

    def apply(self, x, lengths, params):
        # the response truncated where it has died out, applied by FFT: the recursion's result without
        # its sequential loop over every sample
        response = self.response(params, min(self.tail(params), x.shape[-1]), x.dtype, x.device)
        return fft_convolve(x, response), lengths

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, kind={self.kind!r}, cutoff_hz=[{self.min_cutoff_hz:g}, "
                f"{self.max_cutoff_hz:g}], num_sections={self.num_sections}, {super().extra_repr()}")
