"""An effect model as a plugin processes it: fixed-size chunks, explicit state, smoothed knobs.

:class:`StreamingEffect` turns any :class:`~audiokit.models.effects.EffectModule` into a pure
function of one chunk of ``G`` samples and explicit state tensors::

    y, smoothed, *state = step(x, knobs, smoothed, *state)
    x (C, G) audio, knobs (K,) targets in 0..1, smoothed (K,) the knob values in use (NaN: none yet)

which is what every export format traces or compiles: TorchScript and AOTInductor wrap it in a
module that keeps the state inside; ONNX exposes the state as graph inputs and outputs.

**Knob smoothing.** A knob that jumps between host callbacks would switch the model's conditioning
from one sample to the next and click. Each chunk moves the knob values in use a fraction
``c = 1 - exp(-G / (tau * fs))`` of the way to the targets (a one-pole smoother with time constant
``tau``, advanced once per chunk), so a jump is spread over about ``tau`` and the knob changes by at
most ``c`` of the jump at any chunk boundary. The first chunk after a reset starts at the targets.
``tau = 0`` switches smoothing off.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import torch
from torch import nn

from audiokit.models.effects.base import EffectModule
from audiokit.utils import AudiokitError


class ExportError(AudiokitError):
    """A model cannot be exported as asked, or an exported file fails verification."""


# ------------------------------------------------------------------------------ state flattening
def flatten_state(state: Any) -> tuple[list[torch.Tensor], Any]:
    """Split a model's nested streaming state into its tensors and a template with slots for them.

    Lists, tuples and dataclasses are walked; tensors become ``("tensor", i)`` slots; anything else
    (ints, None) stays in the template as a constant.
    """
    tensors: list[torch.Tensor] = []

    def walk(s):
        if isinstance(s, torch.Tensor):
            tensors.append(s)
            return ("tensor", len(tensors) - 1)
        if isinstance(s, (list, tuple)):
            return (type(s), [walk(v) for v in s])
        if dataclasses.is_dataclass(s) and not isinstance(s, type):
            return (type(s), {f.name: walk(getattr(s, f.name)) for f in dataclasses.fields(s)})
        return ("const", s)

    return tensors, walk(state)


def unflatten_state(template: Any, tensors: list[torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    kind, value = template
    if kind == "tensor":
        return tensors[value]
    if kind == "const":
        return value
    if kind in (list, tuple):
        return kind(unflatten_state(v, tensors) for v in value)
    return kind(**{k: unflatten_state(v, tensors) for k, v in value.items()})


def _constants(template: Any) -> list:
    kind, value = template
    if kind == "const":
        return [value]
    if kind == "tensor":
        return []
    items = value.values() if isinstance(value, dict) else value
    return [c for v in items for c in _constants(v)]


def smoothing_coefficient(chunk: int, sample_rate: int, smoothing_ms: float) -> float:
    """Fraction of the way to the target the knobs move per chunk (1.0: no smoothing)."""
    if smoothing_ms < 0:
        raise ExportError(f"smoothing_ms must be >= 0, got {smoothing_ms}")
    if smoothing_ms == 0:
        return 1.0
    return 1.0 - math.exp(-chunk / (smoothing_ms * 1e-3 * sample_rate))


class StreamingEffect(nn.Module):
    """One chunk of an effect model as a function of explicit state (see the module docstring).

    Args:
        model: the effect model (put in eval mode; its weights are shared, not copied).
        channels: C, audio channels processed together (each through the mono model).
        chunk: G, samples per step. Models whose streaming state holds a position inside a block
            (TFiLM) need ``G`` to be a multiple of that block; this is checked.
        smoothing_ms: knob smoothing time constant in ms (0: off).
    """

    def __init__(self, model: EffectModule, channels: int = 1, chunk: int = 128, smoothing_ms: float = 20.0):
        super().__init__()
        if channels < 1:
            raise ExportError(f"channels must be >= 1, got {channels}")
        if chunk < 1:
            raise ExportError(f"chunk must be >= 1 sample, got {chunk}")
        self.model = copy.deepcopy(model).eval()  # a copy: exporting must not change the caller's model
        self.channels, self.chunk = int(channels), int(chunk)
        self.num_knobs = int(model.num_knobs)
        self.sample_rate = int(model.sample_rate)
        self.smoothing_ms = float(smoothing_ms)
        self.coefficient = smoothing_coefficient(self.chunk, self.sample_rate, self.smoothing_ms)
        tensors, self._template = flatten_state(model.init_state(self.channels))
        self._check_chunk_invariant(tensors)

    def _check_chunk_invariant(self, tensors: list[torch.Tensor]) -> None:
        """Non-tensor state (a position in a block) must be the same after every chunk, or a traced
        step would bake in the wrong value."""
        with torch.no_grad():
            _, new_state = self.model.step(torch.zeros(self.channels, 1, self.chunk),
                                           torch.zeros(self.channels, self.num_knobs),
                                           unflatten_state(self._template, tensors))
        new_tensors, template = flatten_state(new_state)
        if _constants(template) != _constants(self._template) or len(new_tensors) != len(tensors):
            period = getattr(self.model, "stream_period", None)
            hint = f" (a multiple of {period})" if period else ""
            raise ExportError(f"{type(self.model).__name__} cannot stream in chunks of {self.chunk} samples: its "
                              f"state keeps a position inside a block; choose a chunk size that is a whole number "
                              f"of its blocks{hint}")
        for t, u in zip(tensors, new_tensors):
            if t.shape != u.shape or t.dtype != u.dtype:
                raise ExportError(f"{type(self.model).__name__}: a state tensor changes from {tuple(t.shape)} "
                                  f"{t.dtype} to {tuple(u.shape)} {u.dtype} after a chunk; it cannot be exported")

    def initial_state(self) -> list[torch.Tensor]:
        """Fresh state tensors (zeros as the model's ``init_state``), in the order ``forward`` takes them."""
        return [t.clone() for t in flatten_state(self.model.init_state(self.channels))[0]]

    def initial_smoothed(self) -> torch.Tensor:
        return torch.full((self.num_knobs,), math.nan)

    def state_spec(self) -> list[dict]:
        return [{"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")} for t in self.initial_state()]

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, smoothed: torch.Tensor, *state: torch.Tensor):
        """``(C, G), (K,), (K,), *state -> (C, G), (K,), *state``."""
        target = torch.nan_to_num(knobs, nan=0.5).clamp(0.0, 1.0)  # hosts check; a NaN must not poison state
        current = torch.where(torch.isnan(smoothed), target, smoothed + self.coefficient * (target - smoothed))
        y, new_state = self.model.step(x[:, None, :], current[None, :].expand(x.shape[0], -1),
                                       unflatten_state(self._template, list(state)))
        return (y[:, 0, :], current, *flatten_state(new_state)[0])


def check_block(x: torch.Tensor, knobs: torch.Tensor, channels: int, chunk: int, num_knobs: int) -> None:
    """The checks every runner makes on a host block (the TorchScript module makes them in-graph)."""
    if x.dim() != 2 or x.shape[0] != channels:
        raise ExportError(f"audio: expected shape ({channels}, N) (channels, samples), got {tuple(x.shape)}")
    if x.dtype != torch.float32:
        raise ExportError(f"audio: expected float32 samples, got {x.dtype}")
    if x.shape[1] % chunk:
        raise ExportError(f"audio: block of {x.shape[1]} samples is not a multiple of the chunk size {chunk}")
    if knobs.shape != (num_knobs,):
        raise ExportError(f"knobs: expected {num_knobs} normalised values, got shape {tuple(knobs.shape)}")
    if not bool(((knobs >= 0) & (knobs <= 1)).all()):
        raise ExportError(f"knobs: normalised values must lie in [0, 1], got {knobs.tolist()}")


def golden_signal(channels: int, length: int, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """A test input that exercises an effect: a swept sine with an amplitude envelope plus noise, ``(C, T)``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64) / sample_rate
    sweep = torch.sin(2 * math.pi * (110 * t + 800 * t**2))
    envelope = 0.05 + 0.5 * (0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t))
    x = [(envelope * sweep + 0.02 * torch.randn(length, generator=g, dtype=torch.float64)) * (0.8 ** c)
         for c in range(channels)]
    return torch.stack(x).float()


@torch.no_grad()
def run_chunks(step, x: torch.Tensor, knob_track: torch.Tensor, smoothed, state: list, chunk: int):
    """Run a step callable over ``x (C, T)`` chunk by chunk; ``knob_track (n_chunks, K)`` the targets."""
    out = []
    for i in range(x.shape[-1] // chunk):
        y, smoothed, *state = step(x[:, i * chunk : (i + 1) * chunk], knob_track[i], smoothed, *state)
        out.append(y)
    return torch.cat(out, dim=-1), smoothed, state


def make_golden(stream: StreamingEffect, num_chunks: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Golden vectors: input, a knob track with a jump half-way, and the eager PyTorch output."""
    g = torch.Generator().manual_seed(seed + 1)
    x = golden_signal(stream.channels, num_chunks * stream.chunk, stream.sample_rate, seed)
    k0, k1 = torch.rand(stream.num_knobs, generator=g), torch.rand(stream.num_knobs, generator=g)
    track = torch.stack([k0 if i < num_chunks // 2 else k1 for i in range(num_chunks)])
    y, _, _ = run_chunks(stream, x, track, stream.initial_smoothed(), stream.initial_state(), stream.chunk)
    return {"input": x, "knobs": track, "output": y}
