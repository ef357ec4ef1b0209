"""Knob schemas: the named, ranged controls of an effect, and their 0..1 normalisation.

A knob maps its physical value ``v`` in ``[minimum, maximum]`` to ``u`` in ``[0, 1]`` with a skew
(as plugin frameworks do, so that e.g. ratio 1..20 spends half its travel below 4)::

    u = ((v - minimum) / (maximum - minimum)) ** skew        v = minimum + (maximum - minimum) * u ** (1 / skew)

The schema travels with data directories (``knobs.json``) and with checkpoints, so a model is
always driven in the units it was trained with.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch

from audiokit.utils import AudiokitError


class KnobError(AudiokitError, ValueError):
    """A knob name or value is not what the schema expects."""


@dataclass(frozen=True)
class Knob:
    """One continuous control.

    Args:
        name: identifier used in `params` files and on the command line (``threshold_db``).
        minimum, maximum: physical range, in ``unit``.
        default: physical value used when a caller does not set the knob.
        unit: display unit ('dB', 'ms', ':1', '').
        skew: normalisation exponent (1 = linear; <1 gives more travel to low values).
    """

    name: str
    minimum: float
    maximum: float
    default: float
    unit: str = ""
    skew: float = 1.0

    def __post_init__(self):
        if not self.maximum > self.minimum:
            raise KnobError(f"knob '{self.name}': maximum {self.maximum} must exceed minimum {self.minimum}")
        if not self.minimum <= self.default <= self.maximum:
            raise KnobError(f"knob '{self.name}': default {self.default} outside [{self.minimum}, {self.maximum}]")
        if not (self.skew > 0 and math.isfinite(self.skew)):
            raise KnobError(f"knob '{self.name}': skew must be a positive number, got {self.skew}")

    def normalize(self, value: float) -> float:
        if not self.minimum - 1e-9 <= value <= self.maximum + 1e-9:
            raise KnobError(
                f"knob '{self.name}' = {value} {self.unit} is outside its range "
                f"[{self.minimum}, {self.maximum}] {self.unit}"
            )
        frac = (value - self.minimum) / (self.maximum - self.minimum)
        return min(max(frac, 0.0), 1.0) ** self.skew

    def denormalize(self, u: float) -> float:
        if not -1e-9 <= u <= 1 + 1e-9:
            raise KnobError(f"knob '{self.name}': normalised value {u} outside [0, 1]")
        u = min(max(u, 0.0), 1.0)
        return self.minimum + (self.maximum - self.minimum) * u ** (1.0 / self.skew)


class KnobSchema:
    """An ordered list of knobs; order fixes the layout of the model's knob vector."""

    def __init__(self, knobs: Sequence[Knob]):
        names = [k.name for k in knobs]
        if len(set(names)) != len(names):
            raise KnobError(f"duplicate knob names in schema: {names}")
        self.knobs = list(knobs)

    def __len__(self) -> int:
        return len(self.knobs)

    def __iter__(self):
        return iter(self.knobs)

    def __eq__(self, other) -> bool:
        return isinstance(other, KnobSchema) and self.knobs == other.knobs

    def __repr__(self) -> str:
        return f"KnobSchema({[k.name for k in self.knobs]})"

    @property
    def names(self) -> list[str]:
        return [k.name for k in self.knobs]

    def __getitem__(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise KnobError(f"unknown knob '{name}'; this model's knobs are: {', '.join(self.names) or '(none)'}")

    def defaults(self) -> dict[str, float]:
        return {k.name: k.default for k in self.knobs}

    def normalize(self, values: Mapping[str, float], fill_defaults: bool = True) -> torch.Tensor:
        """Physical values by name -> ``(num_knobs,)`` float32 tensor in 0..1, in schema order."""
        for name in values:
            self[name]  # raises on unknown names
        out = []
        for k in self.knobs:
            if k.name in values:
                out.append(k.normalize(float(values[k.name])))
            elif fill_defaults:
                out.append(k.normalize(k.default))
            else:
                raise KnobError(f"knob '{k.name}' has no value (expected all of {self.names})")
        return torch.tensor(out, dtype=torch.float32)

    def denormalize(self, u: torch.Tensor) -> dict[str, float]:
        return {k.name: k.denormalize(float(x)) for k, x in zip(self.knobs, u.tolist())}

    def to_json(self) -> list[dict]:
        return [asdict(k) for k in self.knobs]

    @classmethod
    def from_json(cls, data: list[dict], where: str = "knob schema") -> KnobSchema:
        if not isinstance(data, list):
            raise KnobError(f"{where}: expected a list of knobs, got {type(data).__name__}")
        knobs = []
        for i, d in enumerate(data):
            try:
                knobs.append(Knob(**d))
            except TypeError as e:
                raise KnobError(f"{where}: knob #{i} {d!r}: {e}") from None
        return cls(knobs)
