"""Spatial loss of multichannel codecs: how far the decoded channels' inter-channel relations are from the
reference's (Hirvonen & Namazi, "Compression of Higher Order Ambisonics with Multichannel RVQGAN", 2024).

The paper adds "a loss function for accounting for spatial perception in immersive reproduction" with weight
1.0. Its formula was *not* checked against the paper's text (§3 was not available to us); this module
implements it as three independent design notes describe it: an L1 distance between broadband, time-domain
inter-channel correlation (or covariance) matrices of the reference and of the decoded signal. The notes
quote the paper saying the covariance is broadband but could be made frequency-dependent; this one is
broadband.

For each example ``b`` with channels ``x_1..x_C`` over ``T`` samples, means removed over time::

    S_ij  = (1 / T) sum_t x_i(t) x_j(t)                                  covariance
    R_ij  = S_ij / sqrt((S_ii + eps) (S_jj + eps))                       Pearson correlation ('correlation')
    R'_ij = S_ij / (trace(S_ref) / C + eps)                              covariance on the reference's scale
                                                                          ('covariance')
    loss  = mean over b, i, j of |R_ij(pred) - R_ij(target)|

``'correlation'`` (the default) is scale-free and bounded (each entry in [-1, 1]), so a weight of 1.0 is
meaningful next to the other terms whatever the signal level; it ignores the channels' relative levels.
``'covariance'`` keeps the relative levels (in Ambisonics they carry the direction: ``X / W`` is
``cos(azimuth) cos(elevation)`` for a plane wave), normalised by the reference's mean channel power so that
it too is level-free. Both are 0 exactly when the matrices agree, e.g. for ``pred == target``.

Symbols: ``B`` batch, ``C`` channels, ``T`` samples.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SPATIAL_KINDS", "SpatialCovarianceLoss", "channel_covariance", "channel_correlation"]

SPATIAL_KINDS = ("correlation", "covariance")


def channel_covariance(x: Tensor) -> Tensor:
    """``(B, C, T) -> (B, C, C)``: covariance of the channels over time (means removed, divided by ``T``)."""
    x = x - x.mean(dim=-1, keepdim=True)
    return x @ x.transpose(-1, -2) / x.shape[-1]  # (B, C, T) @ (B, T, C) -> (B, C, C)


def channel_correlation(x: Tensor, eps: float = 1e-8) -> Tensor:
    """``(B, C, T) -> (B, C, C)``: Pearson correlation of the channels; ``eps`` is added to each variance so
    that a silent channel correlates 0 with everything (and about 0 with itself)."""
    cov = channel_covariance(x)
    scale = (torch.diagonal(cov, dim1=-2, dim2=-1) + eps).sqrt()  # (B, C)
    return cov / (scale[:, :, None] * scale[:, None, :])


class SpatialCovarianceLoss(nn.Module):
    """L1 distance between the inter-channel correlation (or covariance) matrices of ``pred`` and ``target``
    (see the module docstring for the formula and for what was and was not verified against the paper).

    Args:
        kind: ``'correlation'`` (default: Pearson, scale-free) or ``'covariance'`` (normalised by the
            reference's mean channel power).
        eps: floor added to variances / powers (default 1e-8).
    """

    def __init__(self, kind: str = "correlation", eps: float = 1e-8):
        super().__init__()
        if kind not in SPATIAL_KINDS:
            raise ValueError(f"SpatialCovarianceLoss: kind must be one of {SPATIAL_KINDS}, got {kind!r}")
        if not eps > 0:
            raise ValueError(f"SpatialCovarianceLoss: eps must be positive, got {eps!r}")
        self.kind, self.eps = kind, float(eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """``pred``, ``target`` ``(B, C, T)`` with ``C >= 2`` -> scalar."""
        if not isinstance(pred, Tensor) or not isinstance(target, Tensor) or pred.shape != target.shape \
                or pred.dim() != 3 or pred.shape[1] < 2 or pred.shape[-1] < 2:
            raise ValueError(f"SpatialCovarianceLoss: expected pred and target of one shape (batch, channels >= 2, "
                             f"time >= 2), got {getattr(pred, 'shape', type(pred).__name__)} and "
                             f"{getattr(target, 'shape', type(target).__name__)}")
        if self.kind == "correlation":
            return (channel_correlation(pred, self.eps) - channel_correlation(target, self.eps)).abs().mean()
        cov_pred, cov_target = channel_covariance(pred), channel_covariance(target)
        power = torch.diagonal(cov_target, dim1=-2, dim2=-1).mean(dim=-1) + self.eps  # (B,)
        return ((cov_pred - cov_target).abs() / power[:, None, None]).mean()

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
