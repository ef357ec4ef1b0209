"""Plugin export of effect models: ``audiokit export -m MODEL --format F -o OUT`` and its verifier.

Formats (each a streaming module with its state inside or explicit, knob smoothing, metadata and
golden vectors; see each module):

    torchscript  ``.ts``   libtorch hosts, the C++ host in ``audiokit/export/host``
    onnx         ``.onnx`` onnxruntime and other ONNX runtimes (state as inputs/outputs)
    aoti         ``.pt2``  torch.export + AOTInductor (native code)
    neutone      ``.nm``   the Neutone plugin (needs the optional ``neutone_sdk``)

    from audiokit.export import export_effect, verify
    export_effect("fx-compressor-tcn", "torchscript", "fx.ts")
    verify("fx.ts")      # reloads it and re-runs the golden vectors; raises ExportError on mismatch
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from audiokit.export.golden import metadata
from audiokit.export.streaming import ExportError, StreamingEffect, make_golden

FORMATS = {"torchscript": ".ts", "onnx": ".onnx", "aoti": ".pt2", "neutone": ".nm"}
DEFAULT_CHUNK = 128


def _module(fmt: str):
    if fmt == "torchscript":
        from audiokit.export import torchscript as mod
    elif fmt == "onnx":
        from audiokit.export import onnx as mod
    elif fmt == "aoti":
        from audiokit.export import aoti as mod
    elif fmt == "neutone":
        from audiokit.export import neutone as mod
    else:
        raise ExportError(f"unknown export format '{fmt}' (expected one of: {', '.join(FORMATS)})")
    return mod


def default_chunk(model) -> int:
    """128 samples, or the least common multiple of 128 and the model's streaming period (TFiLM block)."""
    period = int(getattr(model, "stream_period", 1) or 1)
    return DEFAULT_CHUNK * period // math.gcd(DEFAULT_CHUNK, period)


def export_effect(model: str | os.PathLike, fmt: str, out: str | os.PathLike, channels: int = 1,
                  chunk: int | None = None, smoothing_ms: float = 20.0, golden_chunks: int = 16) -> Path:
    """Export an effect model (checkpoint path, experiment dir or pretrained name) and verify it.

    Returns the written path. The file is written beside ``out`` and moves there only once its golden
    vectors re-run within tolerance after reloading; a failed export leaves ``out`` as it was.
    """
    from audiokit.api import resolve
    from audiokit.train.checkpoint import load_model

    mod = _module(fmt)
    out = Path(out)
    if out.suffix.lower() != FORMATS[fmt]:
        raise ExportError(f"'{out}': a {fmt} export is written to a '{FORMATS[fmt]}' file (got '{out.suffix}')")
    path = resolve(model)
    net, ckpt = load_model(path)
    if ckpt.get("family") != "effects":
        raise ExportError(f"'{path}': only effect models export as plugins (this is a '{ckpt.get('family')}' model)")
    stream = StreamingEffect(net, channels=channels, chunk=chunk or default_chunk(net), smoothing_ms=smoothing_ms)
    meta = metadata(stream, ckpt, fmt)
    golden = make_golden(stream, num_chunks=golden_chunks)
    # Written next to the target and verified there; only a verified file replaces what was at `out`.
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        mod.save(stream, json.dumps(meta), golden, tmp)
        mod.verify(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    for fmt, ext in FORMATS.items():
        if suffix == ext:
            return fmt
    raise ExportError(f"'{path}': unknown export file type '{suffix}' (expected {', '.join(FORMATS.values())})")


def verify(path: str | os.PathLike) -> dict:
    """Reload an export, re-run its golden vectors; return its metadata and the max error."""
    if not Path(path).is_file():
        raise ExportError(f"export file not found: '{path}'")
    return _module(format_of(path)).verify(path)


__all__ = ["ExportError", "FORMATS", "StreamingEffect", "export_effect", "verify"]
