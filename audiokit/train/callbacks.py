"""Callbacks Lightning lacks: EMA of weights, RNG state in checkpoints, weights-only model export."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from audiokit.train.checkpoint import save_model
from audiokit.utils import AudiokitError


class EMA(L.Callback):
    """Exponential moving average of the model's weights, used for validation and export.

    ``ema = d * ema + (1 - d) * w`` after every optimiser step, with ``d = min(decay, (1+n)/(10+n))``
    so early averages are not dominated by the random init. Validation runs on the averaged weights
    (swapped in and out exactly); the average lives in this callback's state in every checkpoint.

    Args:
        decay: d, e.g. 0.999 (0.99 for very short runs).
    """

    def __init__(self, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema.decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {}
        self._backup: dict[str, torch.Tensor] | None = None

    @staticmethod
    def _model(pl_module) -> torch.nn.Module:
        return pl_module.model

    def _tracked(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if v.dtype.is_floating_point}

    def on_fit_start(self, trainer, pl_module) -> None:
        tracked = self._tracked(self._model(pl_module))
        if not self.shadow:
            self.shadow = {k: v.detach().clone() for k, v in tracked.items()}
        else:  # restored from a checkpoint: move to the model's device
            self.shadow = {k: v.to(tracked[k].device) for k, v in self.shadow.items()}

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for k, v in self._tracked(self._model(pl_module)).items():
            self.shadow[k].lerp_(v.detach(), 1.0 - d)
        self.num_updates += 1

    def averaged_state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        state = model.state_dict()
        return {k: self.shadow.get(k, v) for k, v in state.items()}

    @torch.no_grad()
    def _swap_in(self, pl_module) -> None:
        model = self._model(pl_module)
        self._backup = {k: v.detach().clone() for k, v in self._tracked(model).items()}
        model.load_state_dict(self.averaged_state_dict(model))

    @torch.no_grad()
    def _swap_out(self, pl_module) -> None:
        if self._backup is not None:
            model = self._model(pl_module)
            model.load_state_dict({**model.state_dict(), **self._backup})
            self._backup = None

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.shadow:
            self._swap_in(pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        self._swap_out(pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "num_updates": self.num_updates,
                "shadow": {k: v.detach().cpu() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = state["decay"]
        self.num_updates = state["num_updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}


class RNGState(L.Callback):
    """Save and restore the Python, NumPy and torch RNGs so a resumed run draws the same numbers."""

    def state_dict(self) -> dict[str, Any]:
        # Plain types and tensors only, so Lightning can read the checkpoint with weights_only=True.
        name, keys, pos, has_gauss, cached = np.random.get_state()
        return {"python": random.getstate(), "torch": torch.get_rng_state(),
                "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                          "has_gauss": int(has_gauss), "cached": float(cached)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending = state

    def on_train_start(self, trainer, pl_module) -> None:
        state = getattr(self, "_pending", None)
        if state is not None:
            random.setstate(state["python"])
            n = state["numpy"]
            np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                                 n["cached"]))
            torch.set_rng_state(state["torch"])
            self._pending = None


class ModelExport(L.Callback):
    """After each validation, write ``last.pt`` and, when ``monitor`` improved, ``best.pt``.

    Both are weights-only model checkpoints (see audiokit.train.checkpoint) of the EMA weights when an
    :class:`EMA` callback is present. The best score survives resume through this callback's state.

    Args:
        out_dir: folder of the .pt files.
        monitor: logged metric to select on, e.g. 'val/esr'.
        mode: 'min' or 'max'.
        spec: ``{"target", "args", "family", "sample_rate", "metadata"}`` of the model.
    """

    def __init__(self, out_dir: str | Path, monitor: str, mode: str, spec: dict, ema: EMA | None = None):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.out_dir = Path(out_dir)
        self.monitor, self.mode, self.spec, self.ema = monitor, mode, spec, ema
        self.best: float | None = None
        self.best_step: int | None = None

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _write(self, name: str, trainer, pl_module, metrics: dict) -> None:
        model = pl_module.model
        state = self.ema.averaged_state_dict(model) if self.ema is not None and self.ema.shadow else None
        meta = dict(self.spec.get("metadata", {}))
        meta.update(step=trainer.global_step, epoch=trainer.current_epoch, metrics=metrics,
                    ema=self.ema is not None)
        save_model(self.out_dir / name, model, self.spec["target"], self.spec["args"],
                   family=self.spec["family"], sample_rate=self.spec["sample_rate"], metadata=meta,
                   state_dict=state)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if self.monitor not in metrics:
            raise AudiokitError(f"checkpoint.monitor: '{self.monitor}' was not logged; logged: {sorted(metrics)}")
        self._write("last.pt", trainer, pl_module, metrics)
        if self._better(metrics[self.monitor]):
            self.best, self.best_step = metrics[self.monitor], trainer.global_step
            self._write("best.pt", trainer, pl_module, metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state["best"], state["best_step"]
