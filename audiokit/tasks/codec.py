"""Neural codecs: audio -> codes -> audio, trained as a GAN (generator = the codec) on crops of a data dir.

Batches come from ``CropDataset`` over ``[wav.scp]``: ``{"wav": (B, C, T), "length": (B,)}`` (the table's
name without ``.scp`` is the key; ``key`` picks another one).

One training step (manual optimisation, two optimisers)::

    out = codec(wav)                                  # reconstruction, codes, quantizer losses
    after the warm-up:  D step on  disc(wav)  vs  disc(out.audio.detach())   (hinge or least squares)
    G step on  loss(out.audio, wav, disc(out.audio), disc(wav) features, quantizer losses)

During the first ``warmup_steps`` steps the discriminator is idle and the codec learns from its
reconstruction and quantizer terms alone (a discriminator warm-up, as SoundStream and HiFi-Codec do
to keep an untrained discriminator from steering a random codec). ``trainer.max_steps`` counts codec
(generator) steps: the discriminator's optimiser steps are not counted.

Gradient clipping is the task's (``grad_clip``), not ``trainer.gradient_clip_val``, which Lightning does
not apply under manual optimisation. Validation reconstructs each clip at every bitrate in
``val_bitrates`` (default: the codec's highest) and logs the multi-resolution mel distance
(``val/mel``, at the highest) and ``val/mel_<kbps>kbps``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from audiokit.losses.gan import CodecLoss, MultiResolutionMelLoss, discriminator_loss
from audiokit.tasks.base import Task
from audiokit.utils import AudiokitError


class CodecTask(Task):
    """Train a codec (``forward(wav) -> CodecOutput``) with reconstruction, quantizer and GAN losses.

    Args:
        model: the codec, e.g. :class:`audiokit.models.codec.RVQCodec`.
        loss: ``{weights: {l1, mel, stft, spatial, adversarial, feature_matching, commitment, codebook},
            adversarial: hinge|lsgan, relative_features, spatial_kind}``, see
            :class:`audiokit.losses.gan.CodecLoss` (``spatial``: multichannel codecs).
        discriminator: None (no GAN) or ``{name: kwargs}`` for
            :meth:`audiokit.nn.discriminators.CombinedDiscriminator.from_config`, e.g. ``{mpd: {}, msstftd: {}}``.
        warmup_steps: codec steps before the discriminator (and the adversarial and feature-matching
            terms) come in (default 0).
        optimizer: the codec's, see :class:`audiokit.tasks.base.Task`.
        disc_optimizer: the discriminator's (default: the codec's).
        scheduler: applied to both optimisers (cosine: over ``trainer.max_steps`` codec steps; the
            discriminator's over the steps after the warm-up).
        grad_clip: max gradient norm of each network (default None: no clipping).
        val_bitrates: kbit/s to validate at (default: the codec's highest).
        key: the batch key of the audio (default ``wav``).
        augment, augment_seed: see :class:`audiokit.tasks.base.Task`.
    """

    family = "codec"

    def __init__(self, model: torch.nn.Module, loss: Mapping[str, Any] | None = None,
                 discriminator: Mapping[str, Any] | None = None, warmup_steps: int = 0,
                 optimizer: Mapping[str, Any] | None = None, disc_optimizer: Mapping[str, Any] | None = None,
                 scheduler: Mapping[str, Any] | None = None, grad_clip: float | None = None,
                 val_bitrates: Sequence[float] | None = None, key: str = "wav", augment: Any = None,
                 augment_seed: int = 0):
        self.key = str(key)
        self.augment_keys = (self.key,)
        super().__init__(model, optimizer, scheduler, augment, augment_seed)
        self.automatic_optimization = False
        sample_rate = int(getattr(model, "sample_rate", 0))
        if sample_rate <= 0:
            raise AudiokitError(f"task.model: a codec needs a sample_rate attribute, {type(model).__name__} has none")
        cfg = dict(loss or {"weights": {"l1": 1.0, "mel": 15.0, "commitment": 1.0, "codebook": 1.0}})
        weights = dict(cfg.pop("weights", {}))
        if not weights:
            raise AudiokitError("task.loss.weights: give at least one term, e.g. {mel: 15, l1: 1, commitment: 1}")
        adversarial_terms = ("adversarial", "feature_matching")
        self.discriminator = None
        if discriminator:
            from audiokit.nn.discriminators import CombinedDiscriminator

            self.discriminator = CombinedDiscriminator.from_config(
                {name: {"in_channels": int(getattr(model, "channels", 1)), **dict(kw or {})}
                 for name, kw in dict(discriminator).items()})
        elif any(float(weights.get(t, 0.0)) for t in adversarial_terms):
            raise AudiokitError("task.loss.weights: adversarial/feature_matching need task.discriminator")
        try:
            self.loss = CodecLoss(weights, sample_rate=sample_rate, **cfg)
            reconstruction = {k: v for k, v in weights.items() if k not in adversarial_terms}
            self.warmup_loss = CodecLoss(reconstruction, sample_rate=sample_rate, mel=self.loss.mel,
                                         stft=self.loss.stft, **cfg)
        except (TypeError, ValueError) as err:
            raise AudiokitError(f"task.loss: {err}") from err
        self.adversarial_kind = cfg.get("adversarial", "hinge")
        self.warmup_steps = int(warmup_steps)
        self.disc_optimizer_cfg = dict(disc_optimizer) if disc_optimizer else dict(self.optimizer_cfg)
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.val_bitrates = [float(b) for b in val_bitrates] if val_bitrates else None
        self.val_mel = MultiResolutionMelLoss(sample_rate)

    # ------------------------------------------------------------------------------------------ optimisers
    def _optimizer(self, cfg: Mapping[str, Any], params) -> torch.optim.Optimizer:
        cfg = dict(cfg)
        name = cfg.pop("name", "adam")
        classes = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
        if name not in classes:
            raise AudiokitError(f"task.optimizer.name: expected one of {sorted(classes)}, got {name!r}")
        if "betas" in cfg:
            cfg["betas"] = tuple(cfg["betas"])
        return classes[name](params, **cfg)

    def _scheduler(self, opt: torch.optim.Optimizer, skip_steps: int = 0):
        if not self.scheduler_cfg:
            return None
        sched = dict(self.scheduler_cfg)
        kind = sched.pop("name")
        if kind != "cosine":
            raise AudiokitError(f"task.scheduler.name: a codec task supports cosine only, got {kind!r}")
        total = self.trainer.max_steps
        if not total or total < 0:
            raise AudiokitError("task.scheduler cosine needs trainer.max_steps")
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total - skip_steps, 1),
                                                          eta_min=sched.get("min_lr", 0.0))

    def configure_optimizers(self):
        opts = [self._optimizer(self.optimizer_cfg, self.model.parameters())]
        if self.discriminator is not None:
            opts.append(self._optimizer(self.disc_optimizer_cfg, self.discriminator.parameters()))
        # the discriminator's schedule spans the steps after the warm-up, the only ones it trains in
        scheds = [s for s in (self._scheduler(o, i * self.warmup_steps) for i, o in enumerate(opts)) if s is not None]
        return (opts, scheds) if scheds else opts

    def _clip(self, opt) -> None:
        if self.grad_clip is not None:
            self.clip_gradients(opt, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")

    # ------------------------------------------------------------------------------------------ steps
    def _audio(self, batch: dict) -> torch.Tensor:
        if self.key not in batch:
            raise AudiokitError(f"batch has no '{self.key}': data.*.tables must hold {self.key}.scp "
                                f"(or set task.key); it has {sorted(k for k in batch if k != 'length')}")
        return batch[self.key]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if hasattr(self.model, "set_training_step"):  # step-dependent models (ESC's pre-training stage)
            self.model.set_training_step(int(self.global_step))
        wav = self._audio(batch)
        opts = self.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        out = self.model(wav)
        gan = self.discriminator is not None and self.global_step >= self.warmup_steps
        n = wav.shape[0]
        if gan:
            d_opt = opts[1]
            real = self.discriminator(wav)
            fake = self.discriminator(out.audio.detach())
            d_loss = discriminator_loss(real.logits, fake.logits, self.adversarial_kind)
            d_opt.zero_grad()
            self.manual_backward(d_loss)
            self._clip(d_opt)
            d_opt.optimizer.step()  # the raw optimiser: trainer.global_step counts codec steps only
            self.log("train/disc", d_loss, batch_size=n)
            with torch.no_grad():
                real_features = self.discriminator(wav)
            total, terms = self.loss(out.audio, wav, fake=self.discriminator(out.audio), real=real_features,
                                     commitment_loss=out.commitment_loss, codebook_loss=out.codebook_loss)
        else:
            total, terms = self.warmup_loss(out.audio, wav, commitment_loss=out.commitment_loss,
                                            codebook_loss=out.codebook_loss)
        g_opt = opts[0]
        g_opt.zero_grad()
        self.manual_backward(total)
        if self.discriminator is not None:
            self.discriminator.zero_grad(set_to_none=True)  # the G step's gradients into D are not D's
        self._clip(g_opt)
        g_opt.step()
        scheds = self.lr_schedulers()
        scheds = scheds if isinstance(scheds, list) else [scheds] if scheds is not None else []
        for i, sched in enumerate(scheds):
            if i == 0 or gan:  # the discriminator's only after it stepped
                sched.step()
        self.log("train/loss", total, prog_bar=True, batch_size=n)
        for name, value in terms.items():
            self.log(f"train/{name}", value, batch_size=n)
        perplexity = getattr(out, "perplexity", None)
        if perplexity is not None and perplexity.numel():
            self.log("train/perplexity", perplexity.float().mean(), batch_size=n)
        return total

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        wav = self._audio(batch)
        n = wav.shape[0]
        bitrates = self.val_bitrates or [max(self.model.bitrates)]
        for i, kbps in enumerate(sorted(bitrates, reverse=True)):
            codes = self.model.encode(wav, bitrate=kbps)
            rec = self.model.decode(codes, length=wav.shape[-1])
            mel = self.val_mel(rec, wav)
            self.log(f"val/mel_{kbps:g}kbps", mel, batch_size=n, sync_dist=True)
            if i == 0:
                self.log("val/mel", mel, prog_bar=True, batch_size=n, sync_dist=True)
                self.log("val/loss", mel, batch_size=n, sync_dist=True)
