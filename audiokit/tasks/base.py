"""What every task shares: the optimiser/scheduler from config and the model spec for export."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from audiokit.utils import AudiokitError


class Task(L.LightningModule):
    """Base of the family tasks.

    Args:
        model: the ``nn.Module`` being trained (built by the builder from ``model._target_``).
        optimizer: ``{name: adam|adamw, lr, betas, weight_decay}``.
        scheduler: None, or ``{name: plateau, monitor, factor, patience}`` or ``{name: cosine, min_lr}``.
    """

    family: str = ""

    def __init__(self, model: torch.nn.Module, optimizer: Mapping[str, Any] | None = None,
                 scheduler: Mapping[str, Any] | None = None):
        super().__init__()
        self.model = model
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.scheduler_cfg = dict(scheduler) if scheduler else None

    def configure_optimizers(self):
        cfg = dict(self.optimizer_cfg)
        name = cfg.pop("name", "adam")
        classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
        if name not in classes:
            raise AudiokitError(f"task.optimizer.name: expected one of {sorted(classes)}, got {name!r}")
        if "betas" in cfg:
            cfg["betas"] = tuple(cfg["betas"])
        opt = classes[name](self.model.parameters(), **cfg)
        if not self.scheduler_cfg:
            return opt
        sched = dict(self.scheduler_cfg)
        kind = sched.pop("name")
        if kind == "plateau":
            monitor = sched.pop("monitor", "val/loss")
            s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", **sched)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "monitor": monitor}}
        if kind == "cosine":
            total = self.trainer.max_steps
            if not total or total < 0:
                raise AudiokitError("task.scheduler cosine needs trainer.max_steps")
            s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=sched.get("min_lr", 0.0))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": s, "interval": "step"}}
        raise AudiokitError(f"task.scheduler.name: expected plateau or cosine, got {kind!r}")
