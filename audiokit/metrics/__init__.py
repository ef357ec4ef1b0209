"""Metrics as papers report them; per-example values, averaged by the caller."""
from audiokit.metrics.separation import aggregate_tracks, bss_eval_v4, new_sdr, track_score
from audiokit.metrics.signal import esr, l1, loudness_error, mrstft, si_sdr

__all__ = ["aggregate_tracks", "bss_eval_v4", "esr", "l1", "loudness_error", "mrstft", "new_sdr", "si_sdr",
           "track_score"]
