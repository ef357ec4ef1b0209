"""Metrics as papers report them; per-example values, averaged by the caller."""
from audiokit.metrics.codec import codebook_utilisation, mel_distance, pesq_wb, stoi
from audiokit.metrics.separation import aggregate_tracks, bss_eval_v4, new_sdr, track_score
from audiokit.metrics.signal import esr, l1, loudness_error, mrstft, si_sdr

__all__ = ["aggregate_tracks", "bss_eval_v4", "codebook_utilisation", "esr", "l1", "loudness_error", "mel_distance",
           "mrstft", "new_sdr", "pesq_wb", "si_sdr", "stoi", "track_score"]
