"""Diagonal state-space (S4D) effect model, as S4-LA2A (Yin et al. 2024, "Modeling Analog Dynamic
Range Compressors using Deep Learning and State-space Models") and NablAFx's S4.

A 1x1 convolution lifts the mono input to C channels; each block mixes channels (1x1), applies
PReLU, an :class:`audiokit.nn.S4D` layer (an IIR filter per channel), FiLM from an MLP over the knob
values, and PReLU, plus a depthwise 1x1 residual; a 1x1 convolution and tanh make the output.

The S4D layers are infinite impulse response filters: every output depends on all past input. The
``receptive_field`` reported is an *effective* one, computed from the current weights: the taps
holding all but 1e-6 of each layer's impulse-response energy (see :meth:`S4D.effective_length`),
chained through the blocks. It changes as ``dt`` and ``A`` train. The effects task takes it minus one
as its default ``warmup`` (capped at half a crop): at init ``s4_la2a`` reports 35,000-40,000 samples
(0.8-0.9 s at 44.1 kHz), set by the slowest channel (``dt`` near ``dt_min`` = 0.001); set ``task.warmup``
to choose another burn-in.
"""
from __future__ import annotations

import torch
from torch import nn

from audiokit.models.effects.base import EffectModule
from audiokit.nn import S4D, FiLM, KnobMLP

ENERGY_TOL = 1e-6  # impulse-response energy left out of the effective receptive field


class S4Block(nn.Module):
    """1x1 -> PReLU -> S4D -> FiLM(knobs) -> PReLU, plus a depthwise 1x1 residual: ``(B, C, T) -> (B, C, T)``."""

    def __init__(self, channels: int, state_size: int, cond_features: int, batch_norm: bool = False):
        super().__init__()
        self.linear = nn.Conv1d(channels, channels, 1)
        self.act_in = nn.PReLU(channels)
        self.ssm = S4D(channels, state_size)
        self.film = FiLM(channels, cond_features, batch_norm)
        self.act_out = nn.PReLU(channels)
        self.residual = nn.Conv1d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.ssm(self.act_in(self.linear(x)))
        return self.act_out(self.film(h, cond)) + self.residual(x)

    def step(self, x: torch.Tensor, cond: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.ssm.step(self.act_in(self.linear(x)), state)
        return self.act_out(self.film(h, cond)) + self.residual(x), state


class S4(EffectModule):
    """S4D effect model conditioned on knobs (S4-LA2A's architecture).

    Args:
        sample_rate: rate the model is trained at, Hz.
        num_knobs: K, number of normalised knob inputs (0..1).
        # Structure
        num_blocks: number of S4 blocks (default 4, S4-LA2A's depth).
        channels: C, width of every block (default 32, S4-LA2A; NablAFx uses 16).
        state_size: N, real state size of each S4D channel, N/2 complex modes (default 4, S4-LA2A).
        # Conditioning
        cond_hidden: widths of the knob MLP (default (16, 32, 32), S4-LA2A's; NablAFx's is (32, 32, 32)).
        film_batch_norm: BatchNorm (affine=False) before each FiLM, as S4-LA2A and NablAFx (default
            False: see :class:`audiokit.nn.FiLM` for why level-dependent effects train better without it).
    """

    def __init__(self, sample_rate: int, num_knobs: int, num_blocks: int = 4, channels: int = 32,
                 state_size: int = 4, cond_hidden: tuple[int, ...] = (16, 32, 32), film_batch_norm: bool = False):
        super().__init__()
        if num_knobs < 1:
            raise ValueError(f"S4 needs at least one knob, got num_knobs={num_knobs}")
        self.sample_rate = int(sample_rate)
        self.num_knobs = int(num_knobs)
        self.knob_mlp = KnobMLP(num_knobs, tuple(cond_hidden))
        self.expand = nn.Conv1d(1, channels, 1)
        self.blocks = nn.ModuleList(
            S4Block(channels, state_size, self.knob_mlp.out_features, film_batch_norm) for _ in range(num_blocks)
        )
        self.contract = nn.Conv1d(channels, 1, 1)

    @property
    def receptive_field(self) -> int:
        """Effective receptive field in samples: ``1 + sum_blocks (L_b - 1)``, ``L_b`` the longest
        channel's impulse response length holding all but 1e-6 of its energy (the true one is
        unbounded: S4D is IIR). Recomputed from the current weights on every access."""
        return 1 + sum(block.ssm.effective_length(ENERGY_TOL) - 1 for block in self.blocks)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h = self.expand(x)  # (B, 1, T) -> (B, C, T)
        for block in self.blocks:
            h = block(h, cond)
        return torch.tanh(self.contract(h))

    def init_state(self, batch_size: int) -> list[torch.Tensor]:
        """Per block, the S4D modes as (re, im) in float64: ``num_blocks x (B, C, N/2, 2)``."""
        return [block.ssm.init_state(batch_size) for block in self.blocks]

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[torch.Tensor]):
        """One block ``(B, 1, L)`` of any length; concatenated outputs equal ``forward``."""
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h, new_state = self.expand(x), []
        for block, s in zip(self.blocks, state):
            h, s = block.step(h, cond, s)
            new_state.append(s)
        return torch.tanh(self.contract(h)), new_state


def s4_la2a(sample_rate: int = 44100, num_knobs: int = 2, film_batch_norm: bool = False) -> S4:
    """S4-LA2A's default: 4 blocks, 32 channels, state 4, knob MLP (16, 32, 32). The paper normalises
    with BatchNorm before FiLM (``film_batch_norm=True``)."""
    return S4(sample_rate, num_knobs, num_blocks=4, channels=32, state_size=4, cond_hidden=(16, 32, 32),
              film_batch_norm=film_batch_norm)


def s4_nablafx_s(sample_rate: int = 48000, num_knobs: int = 2, film_batch_norm: bool = False) -> S4:
    """NablAFx's S4-S: 4 blocks, 16 channels, state 4, knob MLP (32, 32, 32) (BatchNorm in the paper)."""
    return S4(sample_rate, num_knobs, num_blocks=4, channels=16, state_size=4, cond_hidden=(32, 32, 32),
              film_batch_norm=film_batch_norm)


def s4_nablafx_l(sample_rate: int = 48000, num_knobs: int = 2, film_batch_norm: bool = False) -> S4:
    """NablAFx's S4-L: 8 blocks, 16 channels, state 32, knob MLP (32, 32, 32) (BatchNorm in the paper)."""
    return S4(sample_rate, num_knobs, num_blocks=8, channels=16, state_size=32, cond_hidden=(32, 32, 32),
              film_batch_norm=film_batch_norm)
