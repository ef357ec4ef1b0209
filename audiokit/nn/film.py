"""Feature-wise linear modulation (FiLM) from a conditioning vector, e.g. effect knob values."""
from __future__ import annotations

import torch
from torch import nn


class KnobMLP(nn.Module):
    """Map normalised knob values to a conditioning vector (micro-TCN: K -> 16 -> 32 -> 32, ReLU).

    Args:
        num_knobs: K, knob values in 0..1.
        hidden: widths of the layers; the last one is the conditioning size.
    """

    def __init__(self, num_knobs: int, hidden: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        layers, width = [], num_knobs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, knobs: torch.Tensor) -> torch.Tensor:
        # (B, K) -> (B, D)
        return self.net(knobs)


class FiLM(nn.Module):
    """``y = gamma(c) * norm(x) + beta(c)`` with gamma, beta linear in the condition ``c``.

    ``norm`` is BatchNorm without affine parameters (micro-TCN, NablAFx) when ``batch_norm`` is set:
    in eval mode it is a fixed per-channel affine map, so it streams like any pointwise layer. In
    training it rescales each batch by its own statistics, which hides the absolute level a
    level-dependent effect (a compressor) depends on when batches mix loud and quiet crops; without it
    ``norm`` is the identity.

    Args:
        num_channels: C of ``x`` ``(B, C, T)``.
        cond_features: D of ``c`` ``(B, D)``.
        batch_norm: normalise ``x`` with BatchNorm (affine=False) first (default True, as micro-TCN).
    """

    def __init__(self, num_channels: int, cond_features: int, batch_norm: bool = True):
        super().__init__()
        self.norm = nn.BatchNorm1d(num_channels, affine=False) if batch_norm else nn.Identity()
        self.proj = nn.Linear(cond_features, 2 * num_channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond).unsqueeze(-1).chunk(2, dim=1)  # (B, 2C) -> 2 x (B, C, 1)
        return gamma * self.norm(x) + beta
