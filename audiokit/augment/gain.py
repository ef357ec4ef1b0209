"""Level and sign: random gain in dB and polarity inversion."""
from __future__ import annotations

import torch

from audiokit.augment.base import LinearTransform, uniform


class Gain(LinearTransform):
    """Multiply each example by a gain drawn uniformly in dB from ``[min_db, max_db]``.

    Args:
        min_db: lowest gain in dB (default -6).
        max_db: highest gain in dB (default 6).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "gain"
    needs_fft = False

    def __init__(self, *, min_db: float = -6.0, max_db: float = 6.0, p: float = 1.0,
                 same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.min_db, self.max_db = self.number_range("min_db", min_db, "max_db", max_db)

    def sample(self, count, channels, time, generator):
        return {"gain_db": uniform(generator, count, self.min_db, self.max_db)}

    def apply(self, x, lengths, params):
        gain = 10.0 ** (params["gain_db"] / 20.0)  # (N,)
        return x * gain.to(x.dtype)[:, None, None], lengths

    def response(self, params, length, dtype, device):
        out = torch.zeros(params["gain_db"].shape[0], length, dtype=dtype, device=device)
        out[:, 0] = 10.0 ** (params["gain_db"] / 20.0)
        return out

    def extra_repr(self) -> str:
        return f"min_db={self.min_db:g}, max_db={self.max_db:g}, {super().extra_repr()}"


class Polarity(LinearTransform):
    """Invert the sign of each example (``x -> -x``); pair with ``p = 0.5`` for a random polarity.

    Args:
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform` (default ``p = 0.5``).
    """

    name = "polarity"
    needs_fft = False

    def __init__(self, *, p: float = 0.5, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)

    def sample(self, count, channels, time, generator):
        return {"sign": torch.full((count,), -1.0, device=generator.device)}  # nothing random: p decides

    def apply(self, x: torch.Tensor, lengths: torch.Tensor, params):
        return -x, lengths
