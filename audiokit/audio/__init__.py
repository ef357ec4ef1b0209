"""Audio core: file I/O, resampling, spectral front-ends, loudness, and chunked overlap-add."""
from audiokit.audio.features import ISTFT, MFCC, STFT, LogMel, MelSpectrogram, Spectrogram
from audiokit.audio.io import AudioError, AudioInfo, check_waveform, info, load, save
from audiokit.audio.loudness import (
    LoudnessNormalize,
    integrated_loudness,
    loudness_normalize,
    peak_normalize,
    rms,
)
from audiokit.audio.overlap_add import OverlapAddAccumulator, chunk_starts, iter_chunks, overlap_add
from audiokit.audio.resample import Resample, resample

__all__ = [
    "AudioError",
    "AudioInfo",
    "ISTFT",
    "LogMel",
    "LoudnessNormalize",
    "MFCC",
    "MelSpectrogram",
    "OverlapAddAccumulator",
    "Resample",
    "STFT",
    "Spectrogram",
    "check_waveform",
    "chunk_starts",
    "info",
    "integrated_loudness",
    "iter_chunks",
    "load",
    "loudness_normalize",
    "overlap_add",
    "peak_normalize",
    "resample",
    "rms",
    "save",
]
