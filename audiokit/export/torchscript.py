"""TorchScript export: a self-contained streaming module for C++ hosts and the Neutone plugin.

The chunk step is traced (the models' streaming code is plain tensor code at a fixed chunk size);
a small scripted module around it keeps the state, checks its input and loops over the chunks of a
host block::

    m = torch.jit.load("fx.ts")                 # C++: torch::jit::load("fx.ts")
    y = m(x, knobs)                             # x (C, N), N a multiple of m.chunk; knobs (K,) in 0..1
    m.reset()                                   # new stream: zero state, knobs snap to their targets
    m.sample_rate, m.channels, m.chunk, m.latency, m.num_knobs, m.metadata (JSON)

TorchScript is deprecated in recent PyTorch but is what the Neutone plugin and most libtorch hosts
load; :mod:`audiokit.export.aoti` is the ``torch.export`` path.
"""

import base64
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from audiokit.export.golden import check_golden, pack, read_metadata, unpack
from audiokit.export.streaming import ExportError, StreamingEffect
from audiokit.utils import atomic_path

EXTRA_META, EXTRA_GOLDEN = "audiokit.json", "golden.npz.b64"


class _ListStep(nn.Module):
    """The chunk step with the state as one list (a scripted caller cannot splat arguments)."""

    def __init__(self, stream: StreamingEffect):
        super().__init__()
        self.stream = stream

    def forward(self, x: torch.Tensor, knobs: torch.Tensor, smoothed: torch.Tensor, state: list[torch.Tensor]):
        y, smoothed, *new_state = self.stream(x, knobs, smoothed, *state)
        return y, smoothed, new_state


class ScriptedEffect(nn.Module):
    """Stateful streaming wrapper, compiled with ``torch.jit.script`` around the traced step."""

    state: list[torch.Tensor]
    initial: list[torch.Tensor]

    def __init__(self, step: nn.Module, stream: StreamingEffect, metadata_json: str, default_knobs: torch.Tensor):
        super().__init__()
        self.step = step
        self.initial = stream.initial_state()
        self.state = [t.clone() for t in self.initial]
        self.smoothed = stream.initial_smoothed()
        self.default_knobs = default_knobs
        self.sample_rate = stream.sample_rate
        self.channels = stream.channels
        self.chunk = stream.chunk
        self.num_knobs = stream.num_knobs
        self.latency = int(stream.model.latency)
        self.metadata = metadata_json

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.size(0) != self.channels:
            raise ValueError(f"audio: expected shape ({self.channels}, N) (channels, samples), got {x.shape}")
        if x.size(1) % self.chunk != 0:
            raise ValueError(f"audio: block of {x.size(1)} samples is not a multiple of the chunk size {self.chunk}")
        if knobs.dim() != 1 or knobs.size(0) != self.num_knobs:
            raise ValueError(f"knobs: expected {self.num_knobs} normalised values, got shape {knobs.shape}")
        if x.dtype != torch.float32:
            raise ValueError(f"audio: expected float32 samples, got {x.dtype}")
        if not bool(((knobs >= 0.0) & (knobs <= 1.0)).all()):  # NaN fails this too
            raise ValueError(f"knobs: normalised values must lie in [0, 1], got {knobs}")
        out = torch.empty_like(x)
        for i in range(x.size(1) // self.chunk):
            y, smoothed, state = self.step(x[:, i * self.chunk : (i + 1) * self.chunk], knobs, self.smoothed,
                                           self.state)
            out[:, i * self.chunk : (i + 1) * self.chunk] = y
            self.smoothed = smoothed
            self.state = state
        return out

    @torch.jit.export
    def reset(self) -> None:
        self.state = [t.clone() for t in self.initial]
        self.smoothed = torch.full_like(self.smoothed, float("nan"))

    @torch.jit.export
    def describe(self) -> tuple[int, int, int, int, int]:
        """``(sample_rate, channels, chunk, num_knobs, latency)`` for hosts."""
        return self.sample_rate, self.channels, self.chunk, self.num_knobs, self.latency


def default_knobs(stream: StreamingEffect, metadata_json: str) -> torch.Tensor:
    """The knob schema's defaults, normalised (0.5 where the export has no schema)."""
    from audiokit.data.knobs import KnobSchema

    knobs = json.loads(metadata_json).get("knobs") or []
    if len(knobs) != stream.num_knobs:
        return torch.full((stream.num_knobs,), 0.5)
    return KnobSchema.from_json(knobs).normalize({})


def script(stream: StreamingEffect, metadata_json: str) -> torch.jit.ScriptModule:
    example = (torch.zeros(stream.channels, stream.chunk), torch.full((stream.num_knobs,), 0.5),
               stream.initial_smoothed(), stream.initial_state())
    stream.requires_grad_(False)  # no autograd graphs in the host's process call
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks; deprecation notice
        step = torch.jit.trace(_ListStep(stream), example, check_trace=False)
        return torch.jit.script(ScriptedEffect(step, stream, metadata_json, default_knobs(stream, metadata_json)))


def save(stream: StreamingEffect, meta_json: str, golden: dict, out: str | os.PathLike) -> Path:
    module = script(stream, meta_json)
    extra = {EXTRA_META: meta_json, EXTRA_GOLDEN: base64.b64encode(pack(golden)).decode()}
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(module, str(tmp), _extra_files=extra)
    return Path(out)


def load(path: str | os.PathLike):
    """Reload an export: ``(module, metadata, golden)``."""
    extra = {EXTRA_META: "", EXTRA_GOLDEN: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path), _extra_files=extra)
    except (RuntimeError, ValueError) as e:
        raise ExportError(f"'{path}': not a loadable TorchScript file ({str(e).splitlines()[0]})") from None
    if not extra[EXTRA_META]:
        raise ExportError(f"'{path}': TorchScript file without audiokit metadata (not made by audiokit export)")
    meta = read_metadata(extra[EXTRA_META], str(path))
    golden = unpack(base64.b64decode(extra[EXTRA_GOLDEN]), str(path))
    return module, meta, golden


def verify(path: str | os.PathLike) -> dict:
    module, meta, golden = load(path)
    module.reset()
    with torch.no_grad():
        err = check_golden(lambda x, k: module(x, k), golden, meta["chunk"], str(path))
    return {**meta, "max_abs_error": err}
