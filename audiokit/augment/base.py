"""The contract every augmentation follows, and the one place that enforces it.

A transform is called on a whole batch, on the batch's device::

    out = transform(wav, lengths, generator=g)        # out.wav, out.lengths

- ``wav`` is ``(B, C, T)`` waveforms or ``(B, S, C, T)`` stems (S sources); ``lengths`` ``(B,)`` says
  how many samples of each example are signal (``None``: all ``T``). Samples at or past an example's
  length are padding: a transform never reads them (it sees zeros there) and returns them as they came,
  unless it changed the example's length (speed, remix), in which case everything past the new length
  is zero.
- Each example is augmented with probability ``p``, with its own random parameters. Every random
  number comes from ``generator`` (or a generator seeded with ``seed``), drawn on the generator's
  device: the same seed on the same device gives the same output.
- With stems, ``same_for_sources=True`` draws one set of parameters per example and applies it to all
  its sources; ``False`` draws them per source. An example's new length is the shortest of its
  sources' new lengths.

How the base class runs a transform, for ``B = 2`` examples of ``S = 2`` sources where only example 1
is drawn (``p``)::

    units (b, s):   (0,0) (0,1) (1,0) (1,1)      one unit = one (C, T) waveform
    selected:                   (1,0) (1,1)      -> parameters drawn for 1 example, repeated per source
    apply():        x[(1,0)], x[(1,1)] with padding zeroed -> y, new lengths
    merge:          y written back; past each example's new length: input (same length) or zeros

Subclasses implement :meth:`Transform.sample` (draw parameters for ``count`` units) and
:meth:`Transform.apply` (transform ``(N, C, T)`` units with those parameters); linear time-invariant
ones derive from :class:`LinearTransform` so that a chain can fuse them.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from audiokit.utils import AudiokitError


class AugmentError(AudiokitError, ValueError):
    """A bad augmentation config or input; the message names the transform and the field."""


class Augmented(NamedTuple):
    """What a transform returns: the augmented batch and each example's length in samples (or frames)."""

    wav: torch.Tensor
    lengths: torch.Tensor


# ---------------------------------------------------------------------------------------------------
# Helpers: random draws, masks, checks
# ---------------------------------------------------------------------------------------------------


def make_generator(generator: torch.Generator | None, seed: int | None, device: torch.device) -> torch.Generator:
    """The generator to draw from: ``generator``, else a new one on ``device`` seeded with ``seed``,
    else one seeded from torch's global generator (so ``torch.manual_seed`` makes runs repeat)."""
    if generator is not None and seed is not None:
        raise AugmentError("pass either a generator or a seed, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise AugmentError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        return generator
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise AugmentError(f"seed: expected an integer, got {seed!r}")
    return torch.Generator(device=device).manual_seed(int(seed))


def uniform(generator: torch.Generator, shape: int | Sequence[int], low: float | torch.Tensor = 0.0,
            high: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Uniform draws in ``[low, high)`` of ``shape``, float64 on the generator's device."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64)
    return low + (high - low) * u


def log_uniform(generator: torch.Generator, count: int, low: float, high: float) -> torch.Tensor:
    """Draws whose logarithm is uniform in ``[log low, log high)`` (for frequencies, ratios)."""
    return torch.exp(uniform(generator, count, math.log(low), math.log(high)))


def choice(generator: torch.Generator, count: int, options: int) -> torch.Tensor:
    """``count`` indices drawn uniformly from ``range(options)``, int64 on the generator's device."""
    return torch.randint(0, options, (count,), generator=generator, device=generator.device)


def time_mask(lengths: torch.Tensor, time: int) -> torch.Tensor:
    """``(N,)`` lengths -> ``(N, 1, time)`` bool, True on the valid samples."""
    return torch.arange(time, device=lengths.device) < lengths[:, None, None]


def valid_power(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean square over channels and the valid samples of each ``(N, C, T)`` unit -> ``(N,)``.

    Padding is excluded (the caller has zeroed it); an empty example measures 0.
    """
    energy = torch.linalg.vector_norm(x, dim=(-2, -1)).square()  # a reduction: no squared copy of x
    return energy / (lengths.clamp(min=1) * x.shape[-2]).to(energy.dtype)


def next_fast_length(n: int) -> int:
    """The smallest ``m >= n`` whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


# ---------------------------------------------------------------------------------------------------
# The base class
# ---------------------------------------------------------------------------------------------------


class Transform(nn.Module):
    """One batched augmentation. Subclasses set :attr:`name` and implement ``sample`` and ``apply``.

    Args:
        p: probability that an example (or, with ``same_for_sources=False``, a source) is augmented.
        same_for_sources: with stems ``(B, S, C, T)``, one draw per example shared by its sources
            (True) or one per source (False).
    """

    name: ClassVar[str] = "transform"
    """The name a chain config uses (``{"name": "gain", ...}``)."""

    def __init__(self, *, p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__()
        self.p = self.number("p", p, minimum=0.0, maximum=1.0)
        self.same_for_sources = self.flag("same_for_sources", same_for_sources)

    # -- checks, for subclasses' constructors: every message names the transform and the field
    def error(self, message: str) -> AugmentError:
        return AugmentError(f"{self.name}: {message}")

    def number(self, field: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
               integer: bool = False, open_minimum: bool = False) -> float:
        """``value`` as a float (or int) within bounds, else an error naming ``field``."""
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
                integer and not float(value).is_integer()):
            raise self.error(f"{field} must be {kind}, got {value!r}")
        value = int(value) if integer else float(value)
        if not math.isfinite(value):
            raise self.error(f"{field} must be finite, got {value!r}")
        if minimum is not None and (value <= minimum if open_minimum else value < minimum):
            raise self.error(f"{field} must be {'>' if open_minimum else '>='} {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise self.error(f"{field} must be <= {maximum:g}, got {value:g}")
        return value

    def number_range(self, low_field: str, low: Any, high_field: str, high: Any, **bounds) -> tuple[float, float]:
        """Two :meth:`number` checks plus ``low <= high``."""
        low, high = self.number(low_field, low, **bounds), self.number(high_field, high, **bounds)
        if low > high:
            raise self.error(f"{low_field} ({low:g}) must be <= {high_field} ({high:g})")
        return low, high

    def flag(self, field: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(f"{field} must be true or false, got {value!r}")
        return value

    def one_of(self, field: str, value: Any, options: Sequence[str]) -> str:
        if value not in options:
            raise self.error(f"{field} must be one of {', '.join(map(str, options))}; got {value!r}")
        return value

    def numbers(self, field: str, values: Any, **bounds) -> list[float]:
        """A non-empty list of numbers (a single number is a list of one)."""
        if isinstance(values, numbers.Real) and not isinstance(values, bool):
            values = [values]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise self.error(f"{field} must be a number or a non-empty list of numbers, got {values!r}")
        return [self.number(f"{field}[{i}]", v, **bounds) for i, v in enumerate(values)]

    # -- what subclasses implement
    def sample(self, count: int, channels: int, time: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Draw parameters for ``count`` units (tensors with a leading ``count`` axis, on the generator's
        device); the base moves them to the batch's device."""
        return {}

    def apply(self, x: torch.Tensor, lengths: torch.Tensor,
              params: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Transform ``x`` ``(N, C, T)`` (padding zeroed) given ``lengths`` ``(N,)``; return the result
        ``(N, C, T')`` and the new lengths ``(N,)``."""
        raise NotImplementedError

    # -- the driver
    def draw(self, batch: int, sources: int, channels: int, time: int, generator: torch.Generator,
             device: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        """Which units to augment and their parameters: ``(selected (N,), params)``, or None if none is.

        ``selected`` indexes the ``B * S`` units example-major; the draws depend on the shapes only, never
        on the signal, so a chain can draw for several transforms before running them (see
        :class:`~audiokit.augment.chain.Chain`).
        """
        draws = batch if self.same_for_sources else batch * sources
        drawn = (uniform(generator, draws) < self.p).to(device)
        count = int(drawn.sum())
        if count == 0:
            return None
        params = {k: v.to(device) for k, v in self.sample(count, channels, time, generator).items()}
        if self.same_for_sources and sources > 1:
            drawn = drawn[:, None].expand(batch, sources)
            params = {k: v.repeat_interleave(sources, dim=0) for k, v in params.items()}
        if count == draws:  # every unit: no indexing needed downstream
            return torch.arange(batch * sources, device=device), params
        return drawn.reshape(-1).nonzero().squeeze(1), params

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, *,
                generator: torch.Generator | None = None, seed: int | None = None) -> Augmented:
        """Augment ``wav`` ``(B, C, T)`` or ``(B, S, C, T)``; see the module docstring for the contract."""
        # B batch, S sources, C channels, T samples; a unit is one (C, T) waveform, U = B * S of them
        stems, lengths = check_batch(wav, lengths, self.name)  # (B, S, C, T), (B,)
        generator = make_generator(generator, seed, wav.device)
        drawn = self.draw(*stems.shape, generator, wav.device)
        if drawn is None:
            return Augmented(wav, lengths)
        selected, params = drawn
        x, unit_lengths = gather_units(stems, lengths, selected)
        y, new_lengths = self.apply(x, unit_lengths, params)
        return merge(stems, lengths, selected, y, new_lengths, wav.dim() == 3)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, same_for_sources={self.same_for_sources}"


class LinearTransform(Transform):
    """A linear, time-invariant, causal transform (gain, polarity, filter, reverb): each unit is convolved
    with an impulse response that has died out after :meth:`tail` samples.

    A chain fuses consecutive ones: it takes the first one's :meth:`response`, runs the others'
    :meth:`~Transform.apply` on it to get the combined response of each unit, then convolves the batch
    with that by one FFT.
    """

    needs_fft: ClassVar[bool] = True
    """False for those whose own apply() is cheaper than an FFT (gains): a chain fuses them only into a
    run that holds an FFT transform."""

    def tail(self, params: dict[str, torch.Tensor]) -> int:
        """Samples after which every drawn impulse response has died out (below about 1e-8 of its start)."""
        return 0

    def response(self, params: dict[str, torch.Tensor], length: int, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
        """The drawn impulse responses ``(N, length)``: by default, what :meth:`apply` makes of an impulse."""
        count = next(iter(params.values())).shape[0]
        impulse = torch.zeros(count, 1, length, dtype=dtype, device=device)
        impulse[..., 0] = 1.0
        return self.apply(impulse, torch.full((count,), length, device=device), params)[0][:, 0]


def fft_convolve(x: torch.Tensor, response: torch.Tensor, spectrum: torch.Tensor | None = None,
                 n_fft: int | None = None) -> torch.Tensor:
    """Causal convolution of ``x`` ``(N, C, T)`` with one impulse response per unit ``(N, K)``, cut to
    ``T`` samples, by FFTs of size ``n_fft >= T + K - 1`` (nothing wraps round). ``spectrum``: the
    responses' FFT of that size ``(N, n_fft // 2 + 1)``, if already known."""
    time = x.shape[-1]
    n_fft = next_fast_length(time + response.shape[-1] - 1) if n_fft is None else n_fft
    if spectrum is None:
        spectrum = torch.fft.rfft(response.to(x.dtype), n=n_fft)
    product = torch.fft.rfft(x, n=n_fft).mul_(spectrum[:, None, :])  # (N, C, F)
    return torch.fft.irfft(product, n=n_fft)[..., :time]


def gather_units(stems: torch.Tensor, lengths: torch.Tensor,
                 selected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The selected units ``(N, C, T)`` with their padding zeroed, and their lengths ``(N,)``."""
    batch, sources, channels, time = stems.shape
    units = stems.reshape(batch * sources, channels, time)  # (B, S, C, T) -> (U, C, T)
    unit_lengths = lengths.repeat_interleave(sources) if sources > 1 else lengths
    if selected.numel() < units.shape[0]:
        units, unit_lengths = units[selected], unit_lengths[selected]
    if bool((unit_lengths < time).any()):
        units = units.masked_fill(~time_mask(unit_lengths, time), 0.0)
    return units, unit_lengths


def check_batch(wav: Any, lengths: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch; return it as stems ``(B, S, C, T)`` (S = 1 for waveforms) and lengths ``(B,)``."""
    if not isinstance(wav, torch.Tensor) or not wav.is_floating_point() or wav.dim() not in (3, 4):
        got = f"shape {tuple(wav.shape)} {wav.dtype}" if isinstance(wav, torch.Tensor) else type(wav).__name__
        raise AugmentError(f"{name}: expected a floating point (batch, channels, time) or "
                           f"(batch, sources, channels, time) tensor, got {got}")
    stems = wav[:, None] if wav.dim() == 3 else wav  # (B, C, T) -> (B, 1, C, T)
    batch, time = wav.shape[0], wav.shape[-1]
    if time == 0 or batch == 0:
        raise AugmentError(f"{name}: expected a non-empty batch, got shape {tuple(wav.shape)}")
    if lengths is None:
        return stems, torch.full((batch,), time, dtype=torch.long, device=wav.device)
    if not isinstance(lengths, torch.Tensor) or lengths.shape != (batch,) or lengths.is_floating_point():
        got = f"{tuple(lengths.shape)} {lengths.dtype}" if isinstance(lengths, torch.Tensor) else repr(lengths)
        raise AugmentError(f"{name}: expected integer lengths of shape ({batch},) for a batch of {batch}, got {got}")
    lengths = lengths.to(device=wav.device, dtype=torch.long)
    if bool(((lengths < 0) | (lengths > time)).any()):
        raise AugmentError(f"{name}: lengths must lie in [0, {time}] (the time axis), got {lengths.tolist()}")
    return stems, lengths


def merge(stems: torch.Tensor, lengths: torch.Tensor, selected: torch.Tensor, y: torch.Tensor,
          new_lengths: torch.Tensor, waveform: bool) -> Augmented:
    """Write the transformed units ``y`` back among the untouched ones; fix padding and lengths.

    The time axis grows to ``y``'s if that is longer. Past an example's new length (the shortest of
    its sources'), samples are the input's when the length did not change, else zeros.
    """
    batch, sources, channels, time = stems.shape
    out_time = max(time, y.shape[-1])
    units = stems.reshape(batch * sources, channels, time)  # (B, S, C, T) -> (U, C, T)
    if out_time > time:
        units = torch.nn.functional.pad(units, (0, out_time - time))
    elif y.shape[-1] < out_time:
        y = torch.nn.functional.pad(y, (0, out_time - y.shape[-1]))
    y = y.to(units.dtype)
    every_unit = selected.numel() == units.shape[0]
    out = y if every_unit else units.index_copy(0, selected, y)
    unit_lengths = lengths.repeat_interleave(sources) if sources > 1 else lengths
    unit_lengths = new_lengths.to(lengths.dtype) if every_unit else unit_lengths.index_copy(
        0, selected, new_lengths.to(lengths.dtype))
    example_lengths = unit_lengths.view(batch, sources).amin(dim=1)  # (B,)
    if bool((example_lengths < out_time).any()):
        per_unit = example_lengths.repeat_interleave(sources) if sources > 1 else example_lengths
        keep_input = (example_lengths == lengths).repeat_interleave(sources)[:, None, None]  # (U, 1, 1)
        past = ~time_mask(per_unit, out_time)  # (U, 1, T')
        out = torch.where(past & keep_input, units, out.masked_fill(past, 0.0))
    out = out.reshape(batch, sources, channels, out_time)  # (U, C, T') -> (B, S, C, T')
    return Augmented(out[:, 0] if waveform else out, example_lengths)
