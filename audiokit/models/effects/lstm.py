"""Recurrent baseline for effect modeling: an LSTM over the audio with the knob values appended to
every input sample (the LSTM-32 baseline of micro-TCN; Wright et al.'s amp models; NAM's LSTM).

The recurrence carries its state from block to block, so streaming is exact by construction. Its
receptive field is unbounded (``None``); training crops need a burn-in (``warmup`` of the task).
"""
from __future__ import annotations

import torch
from torch import nn

from audiokit.models.effects.base import EffectModule


class LSTM(EffectModule):
    """LSTM effect model: ``[x_t, knobs] -> LSTM -> Linear -> y_t`` (+ ``x_t`` with ``residual``).

    Args:
        sample_rate: rate the model is trained at, Hz.
        num_knobs: K, normalised knob values appended to every input sample.
        # Structure
        hidden_size: H, LSTM width (default 32, micro-TCN's LSTM-32; NAM's "standard" is 24).
        num_layers: stacked LSTM layers (default 1).
        residual: add the dry input to the output, so the network learns the difference (NAM's
            LSTM does this); the output is then not squashed by tanh (default True).
    """

    def __init__(self, sample_rate: int, num_knobs: int, hidden_size: int = 32, num_layers: int = 1,
                 residual: bool = True):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.num_knobs = int(num_knobs)
        self.residual = residual
        self.lstm = nn.LSTM(1 + num_knobs, hidden_size, num_layers=num_layers, batch_first=True)
        self.output = nn.Linear(hidden_size, 1)

    @property
    def receptive_field(self) -> None:
        return None  # recurrent: every output depends on all past input

    def _run(self, x: torch.Tensor, knobs: torch.Tensor, state):
        # (B, 1, T) -> (B, T, 1 + K): knobs repeated along time as extra input channels
        inp = torch.cat([x.transpose(1, 2), knobs[:, None, :].expand(-1, x.shape[-1], -1)], dim=-1)
        h, state = self.lstm(inp, state)
        y = self.output(h).transpose(1, 2)  # (B, T, 1) -> (B, 1, T)
        return (x + y if self.residual else torch.tanh(y)), state

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        return self._run(x, knobs, None)[0]

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.output.weight
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        return torch.zeros(shape, device=w.device, dtype=w.dtype), torch.zeros(shape, device=w.device, dtype=w.dtype)

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state):
        self.check_input(x, knobs)
        return self._run(x, knobs, state)


def lstm_32(sample_rate: int = 44100, num_knobs: int = 2) -> LSTM:
    """micro-TCN's LSTM-32 baseline: one layer of 32 units."""
    return LSTM(sample_rate, num_knobs, hidden_size=32, num_layers=1, residual=False)
