"""Boundary checks shared by the audio modules: one wording for every bad tensor or rate."""
from __future__ import annotations

import numbers

import torch

from audiokit.audio.io import AudioError


def check_signal(wav: object, what: str, *, min_dim: int = 1, max_dim: int | None = None) -> torch.Tensor:
    """Raise :class:`AudioError` unless ``wav`` is a floating tensor of shape ``(..., time)``.

    ``min_dim``/``max_dim`` bound ``wav.dim()``; ``what`` names the argument in the message.
    """
    if not isinstance(wav, torch.Tensor):
        raise AudioError(f"{what}: expected a torch.Tensor, got {type(wav).__name__}")
    if not wav.is_floating_point():
        raise AudioError(f"{what}: expected a floating point tensor, got dtype {wav.dtype}")
    if wav.dim() < min_dim or (max_dim is not None and wav.dim() > max_dim):
        dims = f"{min_dim}" if max_dim == min_dim else f"{min_dim} to {max_dim or 'any'}"
        raise AudioError(f"{what}: expected {dims} dimensions, got shape {tuple(wav.shape)}")
    return wav


def check_sample_rate(sample_rate: object, what: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an ``int`` or raise :class:`AudioError` if it is not a positive integer."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Integral) or sample_rate <= 0:
        raise AudioError(f"{what} must be a positive integer (Hz), got {sample_rate!r}")
    return int(sample_rate)


def check_positive_int(value: object, what: str) -> int:
    """Return ``value`` as an ``int`` or raise ``ValueError`` if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)
