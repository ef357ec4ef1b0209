"""Temporal convolutional network for effect modeling (Steinmetz & Reiss, "Efficient neural
networks for real-time modeling of analog dynamic range compression", 2022: micro-TCN).

Blocks of causal dilated convolutions whose dilation grows quickly (``growth ** n``), each followed
by FiLM from an MLP over the knob values, PReLU, and a 1x1 residual path. A 1x1 convolution and
tanh make the output. With 4 blocks, kernel 13, growth 10 the receptive field is 13,333 samples
(302 ms at 44.1 kHz): the paper's TCN-300-C.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from audiokit.models.effects.base import EffectModule
from audiokit.nn import CausalConv1d, FiLM, KnobMLP


class TCNBlock(nn.Module):
    """conv(k, d) -> FiLM(knobs) -> PReLU, plus a 1x1 residual: ``(B, C_in, T) -> (B, C_out, T)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 cond_features: int, batch_norm: bool = True):
        super().__init__()
        self.conv = CausalConv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=False)
        self.film = FiLM(out_channels, cond_features, batch_norm)
        self.act = nn.PReLU(out_channels)
        self.residual = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.act(self.film(self.conv(x), cond)) + self.residual(x)

    def step(self, x: torch.Tensor, cond: torch.Tensor, state: torch.Tensor):
        y, state = self.conv.step(x, state)
        return self.act(self.film(y, cond)) + self.residual(x), state


class TCN(EffectModule):
    """Causal micro-TCN conditioned on knobs.

    Args:
        sample_rate: rate the model is trained at, Hz.
        num_knobs: K, number of normalised knob inputs (0..1).
        # Structure
        num_blocks: B, number of dilated conv blocks (default 4).
        channels: C, width of every block (default 32).
        kernel_size: k, taps per conv (default 13).
        dilation_growth: g, block n uses dilation ``g ** (n % stack_size)`` (default 10).
        stack_size: dilation pattern period in blocks (default 10).
        # Conditioning
        cond_hidden: widths of the knob MLP (default (16, 32, 32)).
        film_batch_norm: BatchNorm before each FiLM, as micro-TCN (default True); see
            :class:`audiokit.nn.FiLM` for why level-dependent effects may train better without it.
        lookahead: samples of future input each output may see (default 0: causal). Offline, output
            ``t`` sees inputs up to ``t + lookahead``; streaming, the output comes ``lookahead``
            samples late (``latency``), which ``audiokit.load(...).process`` compensates.
    """

    def __init__(self, sample_rate: int, num_knobs: int, num_blocks: int = 4, channels: int = 32,
                 kernel_size: int = 13, dilation_growth: int = 10, stack_size: int = 10,
                 cond_hidden: tuple[int, ...] = (16, 32, 32), film_batch_norm: bool = True, lookahead: int = 0):
        super().__init__()
        if num_knobs < 1:
            raise ValueError(f"TCN needs at least one knob, got num_knobs={num_knobs}")
        self.lookahead = int(lookahead)
        self.sample_rate = int(sample_rate)
        self.num_knobs = int(num_knobs)
        self.knob_mlp = KnobMLP(num_knobs, tuple(cond_hidden))
        self.blocks = nn.ModuleList(
            TCNBlock(1 if n == 0 else channels, channels, kernel_size,
                     dilation_growth ** (n % stack_size), self.knob_mlp.out_features, film_batch_norm)
            for n in range(num_blocks)
        )
        self.output = nn.Conv1d(channels, 1, 1)
        if not 0 <= self.lookahead < self.receptive_field:
            raise ValueError(f"TCN lookahead must be in [0, receptive field {self.receptive_field}), got {lookahead}")

    @property
    def receptive_field(self) -> int:
        return 1 + sum(block.conv.context for block in self.blocks)

    @property
    def latency(self) -> int:
        return self.lookahead

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h = F.pad(x, (0, self.lookahead)) if self.lookahead else x  # the causal net, read lookahead late
        for block in self.blocks:
            h = block(h, cond)
        return torch.tanh(self.output(h))[..., self.lookahead :]

    def init_state(self, batch_size: int) -> list[torch.Tensor]:
        return [block.conv.init_state(batch_size) for block in self.blocks]

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[torch.Tensor]):
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h, new_state = x, []
        for block, s in zip(self.blocks, state):
            h, s = block.step(h, cond, s)
            new_state.append(s)
        return torch.tanh(self.output(h)), new_state


def micro_tcn_300(sample_rate: int = 44100, num_knobs: int = 2) -> TCN:
    """The paper's TCN-300-C: 4 blocks, kernel 13, growth 10, 32 channels (~300 ms at 44.1 kHz)."""
    return TCN(sample_rate, num_knobs, num_blocks=4, channels=32, kernel_size=13, dilation_growth=10)
