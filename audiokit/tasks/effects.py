"""Effect modeling: dry input + knobs -> wet output, trained on paired crops."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from audiokit.losses import CombinedLoss
from audiokit.metrics import esr, l1, mrstft
from audiokit.models.effects.base import EffectModule
from audiokit.tasks.base import Task


class EffectsTask(Task):
    """Train an :class:`EffectModule` on batches ``{"input", "target": (B, 1, T), "knobs": (B, K)}``.

    The first ``warmup`` output samples of a random crop are excluded from the loss: the target
    there depends on audio before the crop (compressor state), which the model never saw.

    Args:
        model: the effect model.
        loss: term -> weight, e.g. ``{l1: 1.0, mrstft: 1.0}`` (see audiokit.losses).
        optimizer, scheduler, augment, augment_seed: see :class:`audiokit.tasks.base.Task`. Input and
            target are augmented together, so only transforms the effect commutes with keep the pair
            valid: polarity for symmetric effects (compressors, tanh drive), shifts.
        warmup: samples excluded at the start of each training crop (default: the model's receptive
            field minus one; required for recurrent models, whose receptive field is unbounded —
            NAM burns in 4096 samples).
    """

    family = "effects"
    augment_keys = ("input", "target")  # a pair: only transforms the effect commutes with (e.g. polarity)

    def __init__(self, model: EffectModule, loss: Mapping[str, float] | None = None,
                 optimizer: Mapping[str, Any] | None = None, scheduler: Mapping[str, Any] | None = None,
                 warmup: int | None = None, augment: Any = None, augment_seed: int = 0):
        super().__init__(model, optimizer, scheduler, augment, augment_seed)
        if warmup is None:
            if model.receptive_field is None:
                raise ValueError(f"task.warmup: required for {type(model).__name__}, whose receptive field is "
                                 "unbounded (e.g. warmup: 4096)")
            warmup = model.receptive_field - 1
        self.warmup = int(warmup)
        self.loss = CombinedLoss(dict(loss or {"l1": 1.0, "mrstft": 1.0}), sample_rate=model.sample_rate)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        pred = self.model(batch["input"], batch["knobs"])
        skip = min(self.warmup, pred.shape[-1] // 2)
        total, terms = self.loss(pred[..., skip:], batch["target"][..., skip:])
        self.log("train/loss", total, prog_bar=True, batch_size=pred.shape[0])
        for name, value in terms.items():
            self.log(f"train/{name}", value, batch_size=pred.shape[0])
        return total

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        pred = self.model(batch["input"], batch["knobs"])
        target = batch["target"]
        n = pred.shape[0]
        total, _ = self.loss(pred, target)
        self.log("val/loss", total, batch_size=n, sync_dist=True)
        self.log("val/esr", esr(pred, target).mean(), prog_bar=True, batch_size=n, sync_dist=True)
        self.log("val/l1", l1(pred, target).mean(), batch_size=n, sync_dist=True)
        if pred.shape[-1] >= 2048:
            self.log("val/mrstft", mrstft(pred, target).mean(), batch_size=n, sync_dist=True)
