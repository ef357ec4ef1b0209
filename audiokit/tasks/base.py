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
        augment: None, or a chain config for :mod:`audiokit.augment` (a list of ``{name, fields...}``)
            applied to training batches on their device, after the transfer. The batch tensors named
            by the family's ``augment_keys`` go through it together, as sources of one example, with one
            draw per example shared by all of them (a dry/wet pair stays a consistent pair).
        augment_seed: seed of the chain's generator; its state is saved in checkpoints, so a resumed
            run draws what the uninterrupted one would have.
    """

    family: str = ""
    augment_keys: tuple[str, ...] = ()

    def __init__(self, model: torch.nn.Module, optimizer: Mapping[str, Any] | None = None,
                 scheduler: Mapping[str, Any] | None = None, augment: Any = None, augment_seed: int = 0):
        super().__init__()
        self.model = model
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.scheduler_cfg = dict(scheduler) if scheduler else None
        self.augment = None
        if augment:
            from audiokit.augment import Chain

            self.augment = Chain.from_config(augment, sample_rate=getattr(model, "sample_rate", None),
                                             seed=int(augment_seed))
            if not self.augment_keys:
                raise AudiokitError(f"task.augment: {type(self).__name__} does not support augmentation")

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self.augment is None or self._trainer is None or not self.trainer.training:
            return batch
        wav = torch.stack([batch[k] for k in self.augment_keys], dim=1)  # S x (B, C, T) -> (B, S, C, T)
        out = self.augment(wav, batch.get("length"))
        batch = dict(batch)
        for i, key in enumerate(self.augment_keys):
            batch[key] = out.wav[:, i]
        if "length" in batch:
            batch["length"] = out.lengths
        return batch

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.augment is not None and self.augment._generator is not None:
            checkpoint["augment_rng"] = self.augment._generator.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if self.augment is not None and "augment_rng" in checkpoint:
            from audiokit.augment.base import make_generator

            self.augment._generator = make_generator(None, self.augment.seed, self.device)
            self.augment._generator.set_state(checkpoint["augment_rng"])

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
