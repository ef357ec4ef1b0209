"""Training losses: thin wrappers over auraloss, combined by weights from the config.

    loss = CombinedLoss({"l1": 1.0, "mrstft": 1.0, "esr_pre": 0.0}, sample_rate=44100)
    total, terms = loss(pred, target)          # terms: {"l1": tensor, "mrstft": tensor, ...}

GAN-trained codecs and vocoders use ``audiokit.losses.gan`` (re-exported here): ``discriminator_loss``,
``generator_adversarial_loss``, ``feature_matching_loss``, ``MultiResolutionMelLoss`` and ``CodecLoss``;
multichannel codecs add ``audiokit.losses.spatial``'s ``SpatialCovarianceLoss`` (CodecLoss's ``spatial`` term).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import auraloss
import torch
from torch import nn
from torch.nn import functional as F

from audiokit.losses.gan import (  # noqa: F401  (re-exported: GAN codec and vocoder losses)
    CodecLoss,
    MultiResolutionMelLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from audiokit.losses.spatial import (  # noqa: F401  (re-exported: multichannel codecs' spatial loss)
    SpatialCovarianceLoss,
    channel_correlation,
    channel_covariance,
)
from audiokit.utils import AudiokitError


class PooledESR(nn.Module):
    """Error-to-signal ratio pooled over the batch: ``sum((y - y_hat)^2) / sum(y^2)`` over all examples.

    auraloss's ``ESRLoss`` averages per-example ratios, which explode on near-silent random crops
    (a quiet passage of a compressed target); pooling weighs every sample equally and stays bounded.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (target - pred).pow(2).sum() / (target.pow(2).sum() + self.eps)


class PreEmphasisESR(nn.Module):
    """Pooled ESR after a first-order pre-emphasis ``1 - c z^-1`` (Wright & Valimaki 2019), the
    pre-emphasis being auraloss's ``FIRFilter('hp', coef)``."""

    def __init__(self, coef: float = 0.85, sample_rate: int = 44100):
        super().__init__()
        self.pre = auraloss.perceptual.FIRFilter(filter_type="hp", coef=coef, fs=sample_rate)
        self.esr = PooledESR()

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = self.pre(pred, target)
        return self.esr(pred, target)


def _l1(**_) -> nn.Module:
    return nn.L1Loss()


def _mrstft(sample_rate: int, **_) -> nn.Module:
    return auraloss.freq.MultiResolutionSTFTLoss(sample_rate=sample_rate)


def _stft(**_) -> nn.Module:
    return auraloss.freq.STFTLoss()


def _esr(**_) -> nn.Module:
    return PooledESR()


def _esr_pre(sample_rate: int, **_) -> nn.Module:
    return PreEmphasisESR(sample_rate=sample_rate)


def _dc(**_) -> nn.Module:
    return auraloss.time.DCLoss()


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "l1": _l1,
    "mrstft": _mrstft,
    "stft": _stft,
    "esr": _esr,
    "esr_pre": _esr_pre,
    "dc": _dc,
}


class CombinedLoss(nn.Module):
    """Weighted sum of named loss terms; terms with weight 0 are skipped.

    Args:
        weights: term name -> weight; names from ``LOSSES`` (l1, mrstft, stft, esr, esr_pre, dc).
        sample_rate: Hz, for the terms that depend on it.
    """

    def __init__(self, weights: Mapping[str, float], sample_rate: int):
        super().__init__()
        unknown = set(weights) - set(LOSSES)
        if unknown:
            raise AudiokitError(f"loss: unknown terms {sorted(unknown)}; available: {sorted(LOSSES)}")
        self.weights = {k: float(v) for k, v in weights.items() if float(v) != 0.0}
        if not self.weights:
            raise AudiokitError("loss: every weight is zero")
        self.terms = nn.ModuleDict({k: LOSSES[k](sample_rate=sample_rate) for k in self.weights})

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        values = {k: term(pred, target) for k, term in self.terms.items()}
        total = sum(self.weights[k] * v for k, v in values.items())
        return total, values


def masked_l1(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """L1 over the valid samples of each example only (padding excluded)."""
    mask = torch.arange(pred.shape[-1], device=pred.device) < lengths[:, None, None]
    return (F.l1_loss(pred, target, reduction="none") * mask).sum() / (mask.sum() * pred.shape[1])
