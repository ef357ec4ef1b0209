"""Source separation: mixture -> stems, trained on aligned crops of a separation data dir.

Batches come from ``CropDataset`` over ``[mixture.scp, <stem>.scp, ...]``: ``{"mixture": (B, C, T),
"<stem>": (B, C, T), ..., "length": (B,)}``. The model maps the mixture to ``(B, S, C, T)`` in the order
of its ``sources``.

Augmentation (``task.augment``, Demucs style: per-source shift, channel swap, sign flip, gain, remix
across the batch) runs on the stems stacked as ``(B, S, C, T)``, after which the mixture is rebuilt
as their sum, so mixture and stems stay consistent whatever the chain does.

Scale. Inference (:class:`audiokit.separate.SeparationModel`) standardises each track by the mean and
std of its channel average and gives every stem ``1/S`` of the mean back. With ``standardize`` (the
default) training does the same to each example (a crop in training, a whole track in validation):
``mix' = (mix - m) / s`` and ``stem' = (stem - m / S) / s``, so ``sum(stem') = mix'`` still holds and the
model sees at training time the level it will see at inference (a raw-level crop is 10-20 dB quieter
than a standardised track, and a network with biases and ReLUs is not gain-equivariant).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from audiokit.metrics import si_sdr
from audiokit.metrics.separation import new_sdr
from audiokit.tasks.base import Task
from audiokit.utils import AudiokitError


class SeparationTask(Task):
    """Train a separation model with an L1 waveform loss on every stem.

    Args:
        model: a separation model: ``forward(mix (B, C, T)) -> (B, S, C, T)``, ``sources`` attribute.
        sources: the stems the batches hold, in the model's order (default: ``model.sources``).
        loss: ``l1`` (default, as Demucs) or ``mse``.
        standardize: standardise each example as inference does (default True; see the module doc).
        optimizer, scheduler, augment, augment_seed: see :class:`audiokit.tasks.base.Task`.
    """

    family = "separation"

    def __init__(self, model: torch.nn.Module, sources: Sequence[str] | None = None, loss: str = "l1",
                 optimizer: Mapping[str, Any] | None = None, scheduler: Mapping[str, Any] | None = None,
                 augment: Any = None, augment_seed: int = 0, standardize: bool = True):
        self.standardize = bool(standardize)
        self.sources = list(sources if sources is not None else getattr(model, "sources", []))
        self.augment_keys = tuple(self.sources)
        super().__init__(model, optimizer, scheduler, augment, augment_seed)
        if not self.sources:
            raise AudiokitError("task.sources: the model names no sources and none were given")
        model_sources = list(getattr(model, "sources", self.sources))
        if model_sources != self.sources:
            raise AudiokitError(f"task.sources {self.sources} differ from the model's {model_sources}")
        if loss not in ("l1", "mse"):
            raise AudiokitError(f"task.loss: expected 'l1' or 'mse', got {loss!r}")
        self.loss_name = loss

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if self.augment is not None and self._trainer is not None and self.trainer.training:
            batch["mixture"] = torch.stack([batch[s] for s in self.sources], dim=1).sum(dim=1)  # consistent again
        return batch

    def _targets(self, batch: dict) -> torch.Tensor:
        missing = [s for s in self.sources if s not in batch]
        if missing:
            raise AudiokitError(f"batch has no stems {missing}: add their <stem>.scp to data.*.tables")
        return torch.stack([batch[s] for s in self.sources], dim=1)  # S x (B, C, T) -> (B, S, C, T)

    def _loss(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        diff = est - ref
        return diff.abs().mean() if self.loss_name == "l1" else diff.square().mean()

    def _estimate(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Model output and the aligned targets. A context-aware model (Wave-U-Net) predicts only the
        centre of its input: the targets are cropped to it (``output_offset``, ``output_length``)."""
        ref = self._targets(batch)
        mix = batch["mixture"]
        if self.standardize:
            mix, ref = standardize_example(mix, ref)
        # forward_aligned: any crop length, stems aligned with it (what inference runs on each chunk)
        est = self.model.forward_aligned(mix) if hasattr(self.model, "forward_aligned") else self.model(mix)
        if est.shape[-1] != ref.shape[-1]:
            offset = int(getattr(self.model, "output_offset", 0))
            ref = ref[..., offset : offset + est.shape[-1]]
        return est, ref

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        est, ref = self._estimate(batch)
        loss = self._loss(est, ref)
        self.log("train/loss", loss, prog_bar=True, batch_size=ref.shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        est, ref = self._estimate(batch)
        n = ref.shape[0]
        self.log("val/loss", self._loss(est, ref), batch_size=n, sync_dist=True)
        usdr = new_sdr(est, ref)  # (B, S)
        # (B, S): a stem absent from a track (silent before standardisation) is not scored
        present = self._targets(batch).abs().amax(dim=(-2, -1)) > 0
        mean = usdr[present].mean() if bool(present.any()) else usdr.new_zeros(())
        self.log("val/nsdr", mean, prog_bar=True, batch_size=n, sync_dist=True)
        self.log("val/neg_nsdr", -mean, batch_size=n, sync_dist=True)  # a "min" monitor for checkpoints
        for i, name in enumerate(self.sources):
            if bool(present[:, i].any()):
                self.log(f"val/nsdr_{name}", usdr[present[:, i], i].mean(), batch_size=n, sync_dist=True)
        # SI-SDR per example and source over channels and time, (B, S, C, T) -> (B*S, C, T), present stems
        scores = si_sdr(est.flatten(0, 1), ref.flatten(0, 1)).view(n, -1)
        self.log("val/si_sdr", scores[present].mean() if bool(present.any()) else scores.new_zeros(()), batch_size=n,
                 sync_dist=True)


def standardize_example(mix: torch.Tensor, stems: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """``mix (B, C, T)``, ``stems (B, S, C, T)`` scaled as inference scales a track: by the mean ``m`` and
    std ``s`` of each example's channel average, ``(mix - m) / s`` and ``(stem - m / S) / s``."""
    ref = mix.mean(dim=1)  # (B, T)
    mean = ref.mean(dim=-1)[:, None, None]  # (B, 1, 1)
    std = ref.std(dim=-1).clamp_min(eps)[:, None, None]
    return (mix - mean) / std, (stems - mean[:, None] / stems.shape[1]) / std[:, None]
