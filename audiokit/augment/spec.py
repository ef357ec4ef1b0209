"""SpecAugment (Park et al., 2019) on features ``(batch, freq, frames)``: frequency and time masks.

Each example gets ``freq_masks`` bands of width drawn uniformly in ``[0, freq_width]`` bins and
``time_masks`` spans of width drawn uniformly in ``[0, min(time_width, max_time_fraction * L)]`` frames,
``L`` its length in frames; masks start uniformly where they fit, spans inside the valid frames
(masks may overlap). Masked cells are set to ``mask_value``; padding frames are left as they came.

With ``(batch, channels, freq, frames)`` features, the channels play the role of sources: the same
masks for all of them unless ``same_for_sources=False``. Lengths count frames.
"""
from __future__ import annotations

import torch

from audiokit.augment.base import Transform, uniform


class SpecAugment(Transform):
    """Frequency and time masking of spectral features.

    Args:
        freq_masks: number of frequency masks per example (default 2).
        freq_width: widest frequency mask in bins, F in the paper (default 27).
        time_masks: number of time masks per example (default 2).
        time_width: widest time mask in frames, T in the paper (default 40).
        max_time_fraction: a time mask covers at most this fraction of the example's frames, p in the
            paper (default 1.0: no limit beyond ``time_width``).
        mask_value: value written into masked cells (default 0).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "spec_augment"

    def __init__(self, *, freq_masks: int = 2, freq_width: int = 27, time_masks: int = 2, time_width: int = 40,
                 max_time_fraction: float = 1.0, mask_value: float = 0.0, p: float = 1.0,
                 same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.freq_masks = int(self.number("freq_masks", freq_masks, minimum=0, integer=True))
        self.freq_width = int(self.number("freq_width", freq_width, minimum=0, integer=True))
        self.time_masks = int(self.number("time_masks", time_masks, minimum=0, integer=True))
        self.time_width = int(self.number("time_width", time_width, minimum=0, integer=True))
        self.max_time_fraction = self.number("max_time_fraction", max_time_fraction, minimum=0.0, maximum=1.0)
        self.mask_value = self.number("mask_value", mask_value)

    def sample(self, count, channels, time, generator):
        # uniform numbers only: widths and starts depend on each unit's length, known in apply()
        return {"freq": uniform(generator, (count, self.freq_masks, 2)),
                "time": uniform(generator, (count, self.time_masks, 2))}

    @staticmethod
    def _spans(draws: torch.Tensor, widest: torch.Tensor, size: torch.Tensor, axis: int) -> torch.Tensor:
        """``(N, K, 2)`` uniform draws -> ``(N, axis)`` bool, True inside any of the K spans.

        Width ``floor(u0 (widest + 1))`` in ``[0, widest]``, start ``floor(u1 (size - width + 1))``.
        """
        width = torch.minimum((draws[..., 0] * (widest[:, None] + 1)).floor(), widest[:, None])  # (N, K)
        start = (draws[..., 1] * (size[:, None] - width + 1)).floor().clamp(min=0)  # (N, K)
        position = torch.arange(axis, device=draws.device, dtype=draws.dtype)  # (A,)
        inside = (position >= start[..., None]) & (position < (start + width)[..., None])  # (N, K, A)
        return inside.any(dim=1)

    def apply(self, x, lengths, params):
        # x: (N, F, M) features of N units: here "channels" are frequency bins and "time" is frames
        count, bins, frames = x.shape
        size = lengths.to(params["time"].dtype)
        widest_time = torch.minimum(torch.full_like(size, self.time_width), (self.max_time_fraction * size).floor())
        widest_freq = torch.full_like(size, min(self.freq_width, bins))
        masked = (self._spans(params["freq"], widest_freq, torch.full_like(size, bins), bins)[:, :, None]
                  | self._spans(params["time"], widest_time, size, frames)[:, None, :])  # (N, F, M)
        return x.masked_fill(masked, self.mask_value), lengths

    def extra_repr(self) -> str:
        return (f"freq_masks={self.freq_masks}x{self.freq_width}, time_masks={self.time_masks}x{self.time_width}, "
                f"max_time_fraction={self.max_time_fraction:g}, {super().extra_repr()}")
