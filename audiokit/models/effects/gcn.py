"""Gated convolutional network with time-varying feature modulation (Comunità, Steinmetz, Phan &
Reiss, "Modelling black-box audio effects with time-varying feature modulation", ICASSP 2023: GCN-TF).

Stacks of gated layers: causal dilated conv to 2C channels, ``tanh(a) * sigmoid(b)``, modulation by
the knobs (causal :class:`TFiLM`, or static :class:`FiLM`), a 1x1 mix conv plus the residual. Every
layer's modulated gated output is a skip; their concatenation is mixed to the output by a 1x1 conv::

    x -> [conv -> gate -> TFiLM -> mix (+ x)] -> [ ... ] -> ...      (residual path)
                               |                  |
                               +------ skips -----+--> concat -> 1x1 conv -> y

The output is linear (no tanh): the skips are already bounded by the gates, and a tanh would add a
saturation at +-1 that a level-raising effect (a fuzz with make-up gain) does not have.

Two differences from the paper's code (gcn-tfilm): TFiLM here is causal (block ``b`` is modulated
from blocks before it, see :mod:`audiokit.nn.tfilm`), so the model has no latency and streams with
any block size; and TFiLM gives a scale and a shift (as NablAFx), conditioned on the knob MLP's
output rather than the raw knob values.
"""
from __future__ import annotations

import torch
from torch import nn

from audiokit.models.effects.base import EffectModule
from audiokit.nn import CausalConv1d, FiLM, KnobMLP
from audiokit.nn.tfilm import TFiLM, TFiLMState


class GatedLayer(nn.Module):
    """conv(k, d) -> tanh * sigmoid -> (T)FiLM -> 1x1 mix, plus the residual.

    ``(B, C_in, T), (B, D) -> (B, C, T)`` residual output and ``(B, C, T)`` skip. With ``C_in = 1``
    (the first layer) the residual is the input copied to every channel. The last layer's residual
    output would feed nothing, so it is built with ``mix=False``: no mix conv, residual output None
    (an unused parameter would also make DDP fail).
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, dilation: int, cond_features: int,
                 tfilm_block_size: int | None, mix: bool = True):
        super().__init__()
        self.conv = CausalConv1d(in_channels, 2 * channels, kernel_size, dilation=dilation)
        self.modulation = (FiLM(channels, cond_features, batch_norm=False) if tfilm_block_size is None
                           else TFiLM(channels, cond_features, tfilm_block_size))
        self.mix = nn.Conv1d(channels, channels, 1) if mix else None

    def _gate(self, z: torch.Tensor) -> torch.Tensor:
        a, b = z.chunk(2, dim=1)  # (B, 2C, T) -> 2 x (B, C, T)
        return torch.tanh(a) * torch.sigmoid(b)

    def _residual(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor | None:
        return None if self.mix is None else x + self.mix(skip)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        skip = self.modulation(self._gate(self.conv(x)), cond)
        return self._residual(x, skip), skip

    def init_state(self, batch_size: int) -> tuple[torch.Tensor, TFiLMState | None]:
        tfilm = self.modulation.init_state(batch_size) if isinstance(self.modulation, TFiLM) else None
        return self.conv.init_state(batch_size), tfilm

    def step(self, x: torch.Tensor, cond: torch.Tensor, state: tuple[torch.Tensor, TFiLMState | None]):
        cache, tfilm = state
        z, cache = self.conv.step(x, cache)
        if tfilm is None:
            skip = self.modulation(self._gate(z), cond)
        else:
            skip, tfilm = self.modulation.step(self._gate(z), cond, tfilm)
        return self._residual(x, skip), skip, (cache, tfilm)


class GCN(EffectModule):
    """Causal gated convolutional network conditioned on knobs, with time-varying FiLM.

    ``receptive_field`` counts the samples the convolutions see (the paper's figure); with TFiLM the
    LSTM also carries a summary of every earlier block, so the dependence on the past is unbounded.

    Args:
        sample_rate: rate the model is trained at, Hz.
        num_knobs: K, number of normalised knob inputs (0..1).
        # Structure
        num_blocks: B, stacks of layers (default 1).
        layers_per_block: L, gated layers per stack; layer n has dilation ``g ** (n % L)`` (default 10).
        channels: C, width of every layer (default 16).
        kernel_size: k, taps per conv (default 3).
        dilation_growth: g (default 2).
        # Conditioning
        tfilm_block_size: samples per TFiLM block (default 128), or None for static FiLM from the knobs.
        cond_hidden: widths of the knob MLP (default (16, 32, 32)).
    """

    def __init__(self, sample_rate: int, num_knobs: int, num_blocks: int = 1, layers_per_block: int = 10,
                 channels: int = 16, kernel_size: int = 3, dilation_growth: int = 2,
                 tfilm_block_size: int | None = 128, cond_hidden: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        if num_knobs < 1:
            raise ValueError(f"GCN needs at least one knob, got num_knobs={num_knobs}")
        self.sample_rate = int(sample_rate)
        self.num_knobs = int(num_knobs)
        self.tfilm_block_size = tfilm_block_size
        self.knob_mlp = KnobMLP(num_knobs, tuple(cond_hidden))
        num_layers = num_blocks * layers_per_block
        self.layers = nn.ModuleList(
            GatedLayer(1 if n == 0 else channels, channels, kernel_size, dilation_growth ** (n % layers_per_block),
                       self.knob_mlp.out_features, tfilm_block_size, mix=n < num_layers - 1)
            for n in range(num_layers)
        )
        self.output = nn.Conv1d(num_layers * channels, 1, 1)

    @property
    def receptive_field(self) -> int:
        return 1 + sum(layer.conv.context for layer in self.layers)

    @property
    def stream_period(self) -> int:
        """Fixed-chunk streaming (plugin export) needs chunks that are whole TFiLM blocks."""
        return self.tfilm_block_size or 1

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h, skips = x, []
        for layer in self.layers:
            h, skip = layer(h, cond)
            skips.append(skip)
        return self.output(torch.cat(skips, dim=1))  # n_layers x (B, C, T) -> (B, n_layers*C, T) -> (B, 1, T)

    def init_state(self, batch_size: int) -> list[tuple[torch.Tensor, TFiLMState | None]]:
        """Per layer: the conv's input cache and the TFiLM state (None with static FiLM)."""
        return [layer.init_state(batch_size) for layer in self.layers]

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[tuple[torch.Tensor, TFiLMState | None]]):
        self.check_input(x, knobs)
        cond = self.knob_mlp(knobs)
        h, skips, new_state = x, [], []
        for layer, s in zip(self.layers, state):
            h, skip, s = layer.step(h, cond, s)
            skips.append(skip)
            new_state.append(s)
        return self.output(torch.cat(skips, dim=1)), new_state


def gcn_tfilm_1(sample_rate: int = 44100, num_knobs: int = 2) -> GCN:
    """The paper's GCNTF1: 1 stack of 10 layers, 16 channels, kernel 3, growth 2 (RF 2,047 samples)."""
    return GCN(sample_rate, num_knobs, num_blocks=1, layers_per_block=10, channels=16, kernel_size=3,
               dilation_growth=2, tfilm_block_size=128)


def gcn_tfilm_250(sample_rate: int = 44100, num_knobs: int = 2) -> GCN:
    """The paper's GCNTF250: 1 stack of 4 layers, 16 channels, kernel 41, growth 6 (RF 10,361 samples)."""
    return GCN(sample_rate, num_knobs, num_blocks=1, layers_per_block=4, channels=16, kernel_size=41,
               dilation_growth=6, tfilm_block_size=128)
