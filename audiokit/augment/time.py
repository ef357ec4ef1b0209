"""Time and pitch: shift, speed perturbation (resampling), pitch shift (phase vocoder + resampling).

Shift moves each example within its own length, so padding never enters the signal::

    roll by 2:   [a b c d e | pad pad] -> [d e a b c | pad pad]
    zero-fill:   [a b c d e | pad pad] -> [0 0 a b c | pad pad]

Speed and pitch draw from a finite set of ratios (exact fractions ``n / d``), because each ratio needs
its own resampling kernel; examples sharing a ratio are processed together, one kernel per ratio,
built once and kept. Speed by ``f = n / d`` resamples from ``n`` to ``d``: the example lasts
``ceil(L * d / n)`` samples and every frequency is multiplied by ``f`` (Kaldi's speed perturbation).
Pitch shift by ``r = n / d`` first stretches the example to ``r`` times its duration with a phase vocoder,
then resamples it from ``n`` to ``d``: the duration is back to ``L`` and every frequency is ``r`` times higher.
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch
import torchaudio

from audiokit.audio.features import ISTFT, STFT
from audiokit.audio.resample import Resample
from audiokit.augment.base import Transform, choice, uniform

MAX_DENOMINATOR = 64  # ratios are rounded to fractions n / d with d <= 64: at most 0.03 % (0.005 semitone) off


def shift_units(x: torch.Tensor, lengths: torch.Tensor, shift: torch.Tensor, rollover: bool, *,
                 vectorized: bool) -> torch.Tensor:
    """``y[n, :, t] = x[n, :, t - shift[n]]`` for ``t < lengths[n]``, rolled round the length or zero-filled.

    ``vectorized`` gathers every unit at once (for GPUs); otherwise one copy per unit, which on a CPU
    is several times faster than building a gather index.
    """
    count, channels, time = x.shape
    if vectorized:
        position = torch.arange(time, device=x.device)
        source = position - shift[:, None]  # (N, T)
        length = lengths[:, None]
        if rollover:
            source = torch.remainder(source, length.clamp(min=1))
        inside = (source >= 0) & (source < length) & (position < length)
        y = x.gather(-1, source.clamp(0, time - 1)[:, None, :].expand(count, channels, time))
        return y * inside[:, None, :]
    y = torch.zeros_like(x)
    for n, (length, s) in enumerate(zip(lengths.tolist(), shift.tolist())):
        if length == 0:
            continue
        if rollover:
            y[n, :, :length] = torch.roll(x[n, :, :length], s % length, dims=-1)
        elif 0 <= s < length:
            y[n, :, s:length] = x[n, :, :length - s]
        elif -length < s < 0:
            y[n, :, :length + s] = x[n, :, -s:length]
    return y


class Shift(Transform):
    """Shift each example in time by a random amount, rolling it around its length or filling with zeros.

    Args:
        min_shift: most negative shift (earlier) (default -0.5).
        max_shift: most positive shift (later) (default 0.5).
        unit: ``'fraction'`` of the example's length (default) or ``'seconds'`` (needs ``sample_rate``).
        rollover: roll the signal around its length (default), or shift in zeros.
        sample_rate: rate of the batch in Hz (a chain passes its own).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "shift"

    def __init__(self, *, min_shift: float = -0.5, max_shift: float = 0.5, unit: str = "fraction",
                 rollover: bool = True, sample_rate: int | None = None, p: float = 1.0,
                 same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.min_shift, self.max_shift = self.number_range("min_shift", min_shift, "max_shift", max_shift)
        self.unit = self.one_of("unit", unit, ("fraction", "seconds"))
        self.rollover = self.flag("rollover", rollover)
        if self.unit == "seconds" and sample_rate is None:
            raise self.error("sample_rate is needed with unit='seconds'")
        self.sample_rate = None if sample_rate is None else int(self.number("sample_rate", sample_rate, minimum=1,
                                                                            integer=True))

    def sample(self, count, channels, time, generator):
        return {"shift": uniform(generator, count, self.min_shift, self.max_shift)}

    def apply(self, x, lengths, params):
        scale = lengths.double() if self.unit == "fraction" else float(self.sample_rate)
        shift = torch.round(params["shift"] * scale).long()  # (N,) samples
        return shift_units(x, lengths, shift, self.rollover, vectorized=x.device.type != "cpu"), lengths

    def extra_repr(self) -> str:
        return (f"shift=[{self.min_shift:g}, {self.max_shift:g}] {self.unit}, rollover={self.rollover}, "
                f"{super().extra_repr()}")


class _Ratios(Transform):
    """Shared by speed and pitch: a finite set of fractions and one cached resampler per (ratio, device, dtype)."""

    def __init__(self, *, lowpass_filter_width: int, p: float, same_for_sources: bool) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.lowpass_filter_width = int(self.number("lowpass_filter_width", lowpass_filter_width, minimum=1,
                                                    integer=True))
        self._resamplers: dict[tuple[int, int, torch.device, torch.dtype], Resample] = {}
        self.ratios: list[Fraction] = []

    def fraction(self, value: float) -> Fraction:
        return Fraction(value).limit_denominator(MAX_DENOMINATOR)

    def resample(self, x: torch.Tensor, ratio: Fraction) -> torch.Tensor:
        """Resample ``(..., T)`` from ``ratio.numerator`` to ``ratio.denominator``: ``ceil(T / ratio)`` samples."""
        if ratio == 1:
            return x
        key = (ratio.numerator, ratio.denominator, x.device, x.dtype)
        if key not in self._resamplers:
            self._resamplers[key] = Resample(orig_sample_rate=ratio.numerator, new_sample_rate=ratio.denominator,
                                             lowpass_filter_width=self.lowpass_filter_width).to(x.device, x.dtype)
        return self._resamplers[key](x)

    def sample(self, count, channels, time, generator):
        return {"ratio": choice(generator, count, len(self.ratios))}

    def groups(self, params: dict[str, torch.Tensor]):
        """``(ratio, unit indices)`` for each ratio drawn at least once."""
        drawn = params["ratio"]
        for i in drawn.unique().tolist():
            yield self.ratios[i], (drawn == i).nonzero().squeeze(1)


class Speed(_Ratios):
    """Speed perturbation: play each example ``factor`` times faster (shorter, higher) by resampling.

    An example of ``L`` samples becomes ``ceil(L / factor)`` long and ``lengths`` follow; the time axis
    grows if an example gets longer than it (unless ``keep_length``).

    Args:
        factors: speed factors to draw from uniformly (default ``[0.9, 1.0, 1.1]``, Kaldi's); each is used
            as the nearest fraction with a denominator up to 64.
        keep_length: crop to the input's time axis (the batch keeps its shape; lengths are capped).
        lowpass_filter_width: zero crossings of the resampling sinc on each side (default 16).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "speed"

    def __init__(self, *, factors: list[float] | float = (0.9, 1.0, 1.1), keep_length: bool = False,
                 lowpass_filter_width: int = 16, p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(lowpass_filter_width=lowpass_filter_width, p=p, same_for_sources=same_for_sources)
        self.factors = self.numbers("factors", factors, minimum=0.25, maximum=4.0)
        self.ratios = [self.fraction(f) for f in self.factors]
        self.keep_length = self.flag("keep_length", keep_length)

    def apply(self, x, lengths, params):
        count, channels, time = x.shape
        out_time = max(math.ceil(time / ratio) for ratio, _ in self.groups(params))
        out_time = time if self.keep_length else out_time
        y = x.new_zeros(count, channels, max(out_time, time))
        new_lengths = lengths.clone()
        for ratio, index in self.groups(params):
            part = self.resample(x[index], ratio)[..., :out_time]
            y[index, :, :part.shape[-1]] = part
            # ceil(L * d / n), in integers
            new_lengths[index] = -(-lengths[index] * ratio.denominator // ratio.numerator)
        return y[..., :out_time], new_lengths.clamp(max=out_time)

    def extra_repr(self) -> str:
        return f"factors={self.factors}, keep_length={self.keep_length}, {super().extra_repr()}"


class PitchShift(_Ratios):
    """Shift the pitch of each example by a whole number of ``step`` semitones in
    ``[min_semitones, max_semitones]``, keeping its duration.

    Args:
        min_semitones: lowest shift (default -2).
        max_semitones: highest shift (default 2).
        step: spacing of the shifts drawn from, in semitones (default 1).
        n_fft: FFT size of the phase vocoder (default 1024; hop ``n_fft / 4``, Hann window).
        lowpass_filter_width: zero crossings of the resampling sinc on each side (default 16).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "pitch_shift"

    def __init__(self, *, min_semitones: float = -2.0, max_semitones: float = 2.0, step: float = 1.0,
                 n_fft: int = 1024, lowpass_filter_width: int = 16, p: float = 1.0,
                 same_for_sources: bool = True) -> None:
        super().__init__(lowpass_filter_width=lowpass_filter_width, p=p, same_for_sources=same_for_sources)
        self.min_semitones, self.max_semitones = self.number_range("min_semitones", min_semitones, "max_semitones",
                                                                   max_semitones, minimum=-24.0, maximum=24.0)
        self.step = self.number("step", step, minimum=0.0, open_minimum=True)
        count = int((self.max_semitones - self.min_semitones) / self.step + 1e-9) + 1
        self.semitones = [self.min_semitones + i * self.step for i in range(count)]
        self.ratios = [self.fraction(2 ** (s / 12)) for s in self.semitones]
        self.n_fft = int(self.number("n_fft", n_fft, minimum=16, integer=True))
        self.stft = STFT(n_fft=self.n_fft, hop_length=self.n_fft // 4)
        self.istft = ISTFT(n_fft=self.n_fft, hop_length=self.n_fft // 4)

    def stretch(self, x: torch.Tensor, ratio: Fraction) -> torch.Tensor:
        """Phase-vocoder time stretch of ``(N, C, T)`` to ``round(T * ratio)`` samples, pitch kept."""
        time = x.shape[-1]
        hop = self.stft.hop_length
        spec = self.stft.to(x.device)(x)  # (N, C, F, M) complex
        advance = torch.linspace(0, math.pi * hop, spec.shape[-2], device=x.device, dtype=x.dtype)[:, None]  # (F, 1)
        stretched = torchaudio.functional.phase_vocoder(spec, float(1 / ratio), advance)  # (N, C, F, M')
        return self.istft.to(x.device)(stretched, length=round(time * ratio))

    def apply(self, x, lengths, params):
        time = x.shape[-1]
        y = torch.zeros_like(x)
        for ratio, index in self.groups(params):
            if ratio == 1:
                y[index] = x[index]
                continue
            part = self.resample(self.stretch(x[index], ratio), ratio)[..., :time]
            y[index, :, :part.shape[-1]] = part
        return y, lengths

    def extra_repr(self) -> str:
        return f"semitones={self.semitones}, n_fft={self.n_fft}, {super().extra_repr()}"
