"""Metrics as papers report them; per-example values, averaged by the caller."""
from audiokit.metrics.signal import esr, l1, loudness_error, mrstft, si_sdr

__all__ = ["esr", "l1", "loudness_error", "mrstft", "si_sdr"]
