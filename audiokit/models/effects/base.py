"""The base class and streaming contract of every effect model.

Offline:   ``y = model(x, knobs)`` with x ``(B, 1, T)`` audio and knobs ``(B, K)`` in 0..1.
Streaming: ``state = model.init_state(B)`` then, block after block,
           ``y, state = model.step(x_block, knobs, state)``; concatenated blocks equal the offline
           output (tested for every architecture and random block sizes).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class EffectModule(nn.Module):
    """Audio-to-audio model driven by knob values.

    Subclasses set ``sample_rate`` and ``num_knobs`` and implement ``forward``, ``init_state`` and
    ``step``, and report ``receptive_field`` (samples of input each output depends on, including
    itself; ``None`` for recurrent models, whose memory is unbounded; for convolutional models with a
    recurrent modulation such as TFiLM, the convolutions' field, which is also the training warm-up)
    and ``latency`` (lookahead in samples; 0 for causal models).
    """

    sample_rate: int
    num_knobs: int

    @property
    def receptive_field(self) -> int | None:
        raise NotImplementedError

    @property
    def latency(self) -> int:
        return 0

    def check_input(self, x: torch.Tensor, knobs: torch.Tensor) -> None:
        """Validate shapes at the boundary: x ``(B, 1, T)``, knobs ``(B, K)``."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"expected audio of shape (batch, 1, time), got {tuple(x.shape)}")
        if knobs.shape != (x.shape[0], self.num_knobs):
            raise ValueError(f"expected knobs of shape ({x.shape[0]}, {self.num_knobs}), got {tuple(knobs.shape)}")

    def init_state(self, batch_size: int) -> Any:
        raise NotImplementedError

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError
