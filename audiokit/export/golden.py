"""Golden vectors and metadata carried inside every exported file, and the check that re-runs them.

Each format stores two byte strings next to its program: ``audiokit.json`` (the metadata below) and
``golden.npz`` (input, knob track, expected output). :func:`check_golden` re-runs a reloaded export
on the input chunk by chunk with the knob track and compares with the expected output.
"""
from __future__ import annotations

import io
import json

import numpy as np
import torch

from audiokit.export.streaming import ExportError, StreamingEffect
from audiokit.version import __version__

TOLERANCE = 1e-4  # max abs difference to the eager PyTorch output (float32 kernels differ by ~1e-6)


def metadata(stream: StreamingEffect, checkpoint: dict, fmt: str) -> dict:
    """What a host needs to run the export: rate, channels, chunk, latency, knobs, state layout."""
    model = stream.model
    return {
        "format": f"audiokit.export/{fmt}/1",
        "audiokit_version": __version__,
        "model": type(model).__name__,
        "target": checkpoint.get("target"),
        "sample_rate": stream.sample_rate,
        "channels": stream.channels,
        "chunk": stream.chunk,
        "latency": int(model.latency),
        "receptive_field": model.receptive_field,
        "num_knobs": stream.num_knobs,
        "knobs": checkpoint.get("metadata", {}).get("knobs", []),
        "knob_smoothing_ms": stream.smoothing_ms,
        "state": stream.state_spec(),
        "interface": (
            "forward(x (C, N), knobs (K,) normalised 0..1) -> (C, N); N a multiple of chunk; reset()"
            if fmt in ("torchscript", "neutone") else
            "step(audio (C, chunk), knobs (K,), smoothed (K,), *state) -> (output, smoothed, *state); "
            "state starts at zeros, smoothed at NaN"),
    }


def pack(golden: dict[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: v.numpy() for k, v in golden.items()})
    return buf.getvalue()


def unpack(data: bytes, where: str) -> dict[str, torch.Tensor]:
    try:
        with np.load(io.BytesIO(data)) as z:
            golden = {k: torch.from_numpy(z[k]) for k in ("input", "knobs", "output")}
    except (OSError, ValueError, KeyError) as e:
        raise ExportError(f"'{where}': golden vectors unreadable ({e})") from None
    return golden


def read_metadata(data: bytes | str, where: str) -> dict:
    try:
        meta = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"'{where}': metadata is not valid JSON ({e})") from None
    if not str(meta.get("format", "")).startswith("audiokit.export/"):
        raise ExportError(f"'{where}': not an audiokit export (metadata format {meta.get('format')!r})")
    return meta


def check_golden(run_block, golden: dict[str, torch.Tensor], chunk: int, where: str,
                 calls_per_block: int = 2) -> float:
    """Feed the golden input to ``run_block(x (C, n), knobs (K,)) -> (C, n)`` in blocks of
    ``calls_per_block`` chunks (each chunk's knob target from the track) and return the max error.

    A block spans chunks of one knob value only, so multi-chunk calls are exercised too.
    """
    x, track, expected = golden["input"], golden["knobs"], golden["output"]
    outs, i, n_chunks = [], 0, track.shape[0]
    while i < n_chunks:
        n = 1
        while n < calls_per_block and i + n < n_chunks and torch.equal(track[i + n], track[i]):
            n += 1
        outs.append(torch.as_tensor(run_block(x[:, i * chunk : (i + n) * chunk].contiguous(), track[i].clone())))
        i += n
    got = torch.cat(outs, dim=-1)
    if got.shape != expected.shape:
        raise ExportError(f"'{where}': output shape {tuple(got.shape)} != golden {tuple(expected.shape)}")
    err = float((got.float() - expected).abs().max())
    if not err <= TOLERANCE:
        raise ExportError(f"'{where}': golden vectors differ by {err:.3g} (tolerance {TOLERANCE:g})")
    return err
