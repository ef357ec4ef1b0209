"""Snake activation (Ziyin, Hartwig & Ueda, "Neural Networks Fail to Learn Periodic Functions and How to Fix
It", NeurIPS 2020), as used by BigVGAN and DAC in waveform generators::

    snake(x) = x + sin^2(alpha * x) / alpha          one learnable alpha per channel

It is monotone-ish around 0 like ReLU-family activations but has a periodic component whose frequency
``alpha`` is learnt, which helps decoders produce periodic waveforms.
"""
from __future__ import annotations

import torch
from torch import nn


class Snake(nn.Module):
    """``x + sin^2(alpha x) / alpha`` with a learnable ``alpha`` per channel: ``(B, C, T) -> (B, C, T)``.

    Args:
        channels: C, channels of the input (one ``alpha`` each).
        alpha: initial value of every ``alpha`` (default 1.0, as DAC and BigVGAN).
        eps: added to ``alpha`` in the division so that an ``alpha`` trained to 0 gives ``x`` instead of a
            division by zero (default 1e-9, as DAC).
    """

    def __init__(self, channels: int, alpha: float = 1.0, eps: float = 1e-9):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"Snake channels must be a positive int, got channels={channels!r}")
        self.channels = channels
        self.eps = float(eps)
        self.alpha = nn.Parameter(torch.full((channels,), float(alpha)))

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.channels:
            raise ValueError(f"Snake expected input of shape (batch, {self.channels}, time), got {tuple(x.shape)}")
        alpha = self.alpha[:, None]  # (C,) -> (C, 1): broadcasts over (B, C, T)
        return x + torch.sin(alpha * x).pow(2) / (alpha + self.eps)
