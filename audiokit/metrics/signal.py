"""Waveform-matching metrics for effect models (and any audio-to-audio model).

All take ``pred`` and ``target`` of shape ``(B, C, T)`` and return one value per example ``(B,)``.
"""
from __future__ import annotations

import auraloss
import torch
from torch.nn import functional as F

_MRSTFT: dict[int, auraloss.freq.MultiResolutionSTFTLoss] = {}


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"expected pred and target of equal shape (batch, channels, time), "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")


def esr(pred: torch.Tensor, target: torch.Tensor, pre_emphasis: float | None = None,
        eps: float = 1e-8) -> torch.Tensor:
    """Error-to-signal ratio ``sum((y - y_hat)^2) / sum(y^2)`` per example.

    ``pre_emphasis``: coefficient ``c`` of ``1 - c z^-1`` applied to both signals first (0.85 is the
    usual choice at 44.1 kHz; None: plain ESR). 0 is perfect; 1 is as bad as predicting silence.
    """
    _check(pred, target)
    if pre_emphasis is not None:
        pred = pred[..., 1:] - pre_emphasis * pred[..., :-1]
        target = target[..., 1:] - pre_emphasis * target[..., :-1]
    err = (target - pred).pow(2).flatten(1).sum(-1)
    return err / (target.pow(2).flatten(1).sum(-1) + eps)


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per example."""
    _check(pred, target)
    return F.l1_loss(pred, target, reduction="none").flatten(1).mean(-1)


def mrstft(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """auraloss' multi-resolution STFT distance (FFT 1024/2048/512, spectral convergence + log
    magnitude), per example, as effect-modeling papers report it."""
    _check(pred, target)
    if pred.shape[-1] < 2048:
        raise ValueError(f"mrstft needs at least 2048 samples, got {pred.shape[-1]}")
    loss = _MRSTFT.setdefault(0, auraloss.freq.MultiResolutionSTFTLoss())
    with torch.no_grad():
        return torch.stack([loss(p[None], t[None]) for p, t in zip(pred, target)])


def si_sdr(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB per example (channels flattened), zero-mean signals."""
    _check(pred, target)
    pred = pred.flatten(1) - pred.flatten(1).mean(-1, keepdim=True)
    target = target.flatten(1) - target.flatten(1).mean(-1, keepdim=True)
    scale = (pred * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    proj = scale * target
    return 10 * torch.log10(proj.pow(2).sum(-1) / ((pred - proj).pow(2).sum(-1) + eps) + eps)


def loudness_error(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Absolute difference of BS.1770 integrated loudness, in LU (dB): ``(..., C, T) -> (...)``.

    How far the model's output level is from the target's (a compressor's make-up gain, a
    distortion's output level); 0 when both are silent, ``inf`` when only one is.
    """
    from audiokit.audio.loudness import integrated_loudness

    _check(pred, target)
    a, b = integrated_loudness(pred, sample_rate), integrated_loudness(target, sample_rate)
    diff = (a - b).abs()
    return torch.where(torch.isinf(a) & torch.isinf(b), torch.zeros_like(diff), diff)
