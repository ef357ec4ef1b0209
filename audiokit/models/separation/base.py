"""The base class and length contract of every separation model.

``stems = model(mix)`` with ``mix (B, C, T)`` and ``stems (B, S, C, T_out)``, ``S = len(model.sources)``.

Most models return as many samples as they receive (``T_out = T``). Models built from valid
(unpadded) convolutions, such as the context-aware Wave-U-Net, return only the centre of their input:
output sample ``j`` lines up with input sample ``j + output_offset``::

    input  : [ offset | .......... T_out .......... | rest ]
    output :          [ .......... T_out .......... ]

:meth:`SeparationModule.forward_aligned` hides this: it pads any mixture so that the stems cover
exactly its ``T`` samples, aligned with it.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SeparationModule(nn.Module):
    """Mixture-to-stems model: ``forward(mix (B, C, T)) -> (B, S, C, output_length(T))``.

    Subclasses set ``sources`` (stem names, in output order), ``audio_channels`` (C) and
    ``sample_rate`` (Hz), implement ``forward`` and override the length methods when their output is
    not simply as long as their input.

    Length contract:
        - ``valid_length(T)``: the smallest input length whose output covers at least ``T`` samples
          (for same-length models that accept any length this is ``T`` itself);
        - ``output_length(T)``: output samples for an input of ``T`` samples;
        - ``output_offset``: input samples before the one that output sample 0 lines up with;
        - ``latency``: samples of future input each output may depend on (0 for non-causal models,
          which have no streaming latency to report; causal variants state theirs).
    """

    sources: list[str]
    audio_channels: int
    sample_rate: int
    causal: bool = False

    def valid_length(self, length: int) -> int:
        return int(length)

    def output_length(self, length: int) -> int:
        return int(length)

    @property
    def output_offset(self) -> int:
        return 0

    @property
    def latency(self) -> int:
        return 0

    def check_input(self, mix: torch.Tensor) -> None:
        """Validate the mixture at the boundary: a floating ``(batch, audio_channels, time)`` tensor."""
        if not isinstance(mix, torch.Tensor) or not mix.is_floating_point():
            raise ValueError(f"expected a floating-point mixture tensor, got {type(mix).__name__}"
                             + (f" of {mix.dtype}" if isinstance(mix, torch.Tensor) else ""))
        if mix.dim() != 3 or mix.shape[1] != self.audio_channels:
            raise ValueError(f"expected a mixture of shape (batch, {self.audio_channels}, time), "
                             f"got {tuple(mix.shape)}")

    def forward_aligned(self, mix: torch.Tensor) -> torch.Tensor:
        """Stems aligned with the mixture, for any length: ``(B, C, T) -> (B, S, C, T)``.

        Pads ``output_offset`` zeros on the left and enough on the right to reach
        ``valid_length(T)`` (plus the offset on both sides), runs ``forward`` and keeps ``T`` samples.
        """
        self.check_input(mix)
        length = mix.shape[-1]
        total = self.valid_length(length)
        left = self.output_offset
        right = total - length - left
        if right < 0:
            raise AssertionError(f"valid_length({length}) = {total} leaves no room for offset {left}")
        stems = self(F.pad(mix, (left, right)))  # (B, S, C, >= T)
        return stems[..., :length]
