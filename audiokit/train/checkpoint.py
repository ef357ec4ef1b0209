"""The one model checkpoint format: weights-only, self-describing, written atomically.

A model checkpoint (``*.pt``) is a plain dict that ``torch.load(path, weights_only=True)`` reads::

    {
      "format": "audiokit.model/1",
      "family": "effects",                              # which inference object load() returns
      "target": "audiokit.models.effects.tcn.TCN",      # import path of the model class/preset
      "args": {"sample_rate": 44100, "num_knobs": 4, ...},  # its constructor arguments
      "state_dict": {...},
      "sample_rate": 44100,
      "metadata": {"knobs": [...], "metrics": {...}, "step": 400, "config": "<yaml>", ...},
    }

Lightning's own ``.ckpt`` files (optimizer, loops, sampler position, EMA, RNG) are for resuming a
run; they are written through :class:`AtomicCheckpointIO` so a kill never leaves half a file.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from audiokit.utils import AudiokitError, atomic_path

FORMAT = "audiokit.model/1"
TRUSTED_PREFIXES = ("audiokit.",)


class CheckpointError(AudiokitError, ValueError):
    """A checkpoint file is missing, corrupt or not an audiokit model checkpoint."""


def save_model(path: str | os.PathLike, model: torch.nn.Module, target: str, args: dict, *, family: str,
               sample_rate: int, metadata: dict | None = None, state_dict: dict | None = None) -> Path:
    """Write a weights-only model checkpoint atomically (temp file + rename)."""
    ckpt = {
        "format": FORMAT,
        "family": family,
        "target": target,
        "args": args,
        "state_dict": {k: v.detach().cpu().clone() for k, v in (state_dict or model.state_dict()).items()},
        "sample_rate": int(sample_rate),
        "metadata": metadata or {},
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a model checkpoint dict (weights only: no code runs while reading)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: '{path}'")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"cannot read '{path}' as a weights-only torch checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"'{path}' is not an audiokit model checkpoint (format {got!r}, expected {FORMAT!r}; "
                              "Lightning .ckpt files are for resuming training, use the exported .pt)")
    for field in ("family", "target", "args", "state_dict", "sample_rate"):
        if field not in ckpt:
            raise CheckpointError(f"'{path}': missing field '{field}'")
    return ckpt


def import_target(target: str, trust: bool = False):
    """Resolve 'package.module.Name'. Only audiokit's own classes unless ``trust`` is set."""
    if not trust and not target.startswith(TRUSTED_PREFIXES):
        raise CheckpointError(f"refusing to import '{target}' from a checkpoint (not an audiokit class); "
                              "pass trust=True if you trust this file")
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise CheckpointError(f"cannot import model class '{target}': {e}") from e


def build_model(target: str, args: dict, trust: bool = False) -> torch.nn.Module:
    """Instantiate ``target(**args)``; nested dicts with ``_target_`` become submodules first."""

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and "_target_" in value:
            inner = dict(value)
            return build_model(inner.pop("_target_"), {k: resolve(v) for k, v in inner.items()}, trust)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    cls = import_target(target, trust)
    try:
        return cls(**{k: resolve(v) for k, v in args.items()})
    except TypeError as e:
        raise CheckpointError(f"cannot build {target} from its stored arguments {sorted(args)}: {e}") from e


def load_model(path: str | os.PathLike, trust: bool = False) -> tuple[torch.nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode; return it and the checkpoint dict."""
    ckpt = read_checkpoint(path)
    model = build_model(ckpt["target"], ckpt["args"], trust)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"'{path}': weights do not fit {ckpt['target']}: {e}") from e
    return model.eval(), ckpt


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO that writes to a temp file in the same folder, then renames."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"AtomicCheckpointIO takes no storage_options, got {storage_options!r}")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)
