"""audiokit: one PyTorch toolkit for audio and speech models, trained by recipe.

    >>> import audiokit
    >>> fx = audiokit.load("fx-compressor-tcn")          # doctest: +SKIP
    >>> wet = fx.process(dry, sample_rate, threshold_db=-20)  # doctest: +SKIP

Submodules are imported on first use so ``import audiokit`` stays fast and has no side effects.
"""
from audiokit.version import __version__

__all__ = ["__version__", "load"]


def load(path_or_name, device="cpu", **kwargs):
    """Load a checkpoint written by the trainer, or a model of ``pretrained/`` by name.

    Returns the family's inference object (e.g. :class:`audiokit.api.EffectModel`).
    """
    from audiokit.api import load as _load

    return _load(path_or_name, device=device, **kwargs)
