"""Channel and source mixing: channel swap, and Demucs-style remixing of sources across the batch."""
from __future__ import annotations

import torch

from audiokit.augment.base import Augmented, AugmentError, Transform, check_batch, make_generator, merge, uniform


class ChannelSwap(Transform):
    """Reverse the order of the channels (left <-> right for stereo).

    Args:
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform` (default ``p = 0.5``).
    """

    name = "channel_swap"

    def __init__(self, *, p: float = 0.5, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)

    def apply(self, x, lengths, params):
        if x.shape[1] < 2:
            raise AugmentError(f"{self.name}: needs at least 2 channels, got {x.shape[1]}")
        return x.flip(1), lengths


class Remix(Transform):
    """Recombine sources across examples (Demucs): each source is permuted independently over the
    drawn examples, so example ``b`` gets source ``s`` of example ``perm_s[b]``.

    The input must be stems ``(B, S, C, T)``; the mixture of a remixed example is the sum of its new
    stems (:func:`mixture`), so compute it after the chain, never before. A remixed example's length is
    the shortest of the lengths its stems came with; its stems are zero past it.

    Args:
        p: probability that an example takes part (those left out keep their stems).
        group_size: permute within consecutive groups of this many drawn examples (Demucs uses 4 so
            that a batch keeps some of its original mixtures); None: across all drawn examples.
    """

    name = "remix"

    def __init__(self, *, p: float = 1.0, group_size: int | None = None) -> None:
        super().__init__(p=p, same_for_sources=False)
        self.group_size = None if group_size is None else self.number("group_size", group_size, minimum=2,
                                                                      integer=True)

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, *,
                generator: torch.Generator | None = None, seed: int | None = None) -> Augmented:
        stems, lengths = check_batch(wav, lengths, self.name)  # (B, S, C, T), (B,)
        if wav.dim() != 4:
            raise AugmentError(f"{self.name}: expected stems (batch, sources, channels, time), got shape "
                               f"{tuple(wav.shape)}")
        generator = make_generator(generator, seed, wav.device)
        batch, sources, channels, time = stems.shape
        drawn = (uniform(generator, batch) < self.p).nonzero().squeeze(1)  # (K,) example indices
        count = drawn.numel()
        group = torch.arange(count, device=drawn.device) // (self.group_size or max(count, 1))
        # argsort of (group + uniform) permutes within each group: (S, K)
        perm = (group + uniform(generator, (sources, count))).argsort(dim=1)
        drawn, perm = drawn.to(wav.device), perm.to(wav.device)
        if count < 2:
            return Augmented(wav, lengths)
        donors = drawn[perm].T  # (S, K) -> (K, S): the example each new stem comes from
        source = torch.arange(sources, device=wav.device)
        units = stems.reshape(batch * sources, channels, time)  # (B, S, C, T) -> (U, C, T)
        y = units[(donors * sources + source).reshape(-1)]  # (K * S, C, T)
        selected = (drawn[:, None] * sources + source).reshape(-1)  # (K * S,)
        return merge(stems, lengths, selected, y, lengths[donors].reshape(-1), waveform=False)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, group_size={self.group_size}"


def mixture(stems: torch.Tensor) -> torch.Tensor:
    """The mixture of stems: ``(B, S, C, T) -> (B, C, T)``, the sum over sources."""
    return stems.sum(dim=1)
