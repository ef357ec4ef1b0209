"""Reading and writing audio files through soundfile, with errors that name the file.

Waveforms are ``(channels, time)`` float32 tensors here; batches add a leading dimension elsewhere.
"""
from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiokit.utils import AudiokitError, atomic_path

SUPPORTED_FORMATS = ("wav", "flac", "ogg")
FLAC_MAX_CHANNELS = 8


class AudioError(AudiokitError, ValueError):
    """An audio file or tensor is missing, unreadable, empty, non-finite or of the wrong shape/rate."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: enough to plan crops without reading samples."""

    path: str
    sample_rate: int
    num_frames: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.num_frames / self.sample_rate


def _is_positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of ``path``; raise :class:`AudioError` naming the file if it is not audio."""
    path = str(path)
    if not os.path.exists(path):
        raise AudioError(f"audio file not found: '{path}'")
    try:
        i = sf.info(path)
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError/TypeError by case
        raise AudioError(f"cannot read '{path}' as audio ({SUPPORTED_FORMATS}): {e}") from e
    return AudioInfo(path, int(i.samplerate), int(i.frames), int(i.channels), i.format, i.subtype)


def load(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = False,
    offset: float = 0.0,
    duration: float | None = None,
    *,
    channels: int | None = None,
    allow_empty: bool = False,
) -> tuple[torch.Tensor, int]:
    """Load ``path`` as a float32 ``(channels, time)`` tensor and its sample rate.

    Only the span ``[offset, offset + duration)`` (seconds, in the file's own rate) is read from disk,
    so a crop of a long file costs the crop, not the file.

    Args:
        sample_rate: resample to this rate (Hz) if given and different from the file's.
        mono: average channels down to one.
        offset: start of the span in seconds.
        duration: length of the span in seconds (None: to the end).
        channels: if given, the number of channels the caller expects; any other count is an error.
        allow_empty: return a zero-length tensor instead of raising when the span is empty.
    """
    meta = info(path)
    if sample_rate is not None and not _is_positive_int(sample_rate):
        raise AudioError(
            f"cannot load '{path}': sample_rate must be a positive int (Hz), got {sample_rate!r}"
        )
    if offset < 0 or (duration is not None and duration < 0):
        raise AudioError(f"negative offset/duration ({offset}, {duration}) for '{path}'")
    start = int(round(offset * meta.sample_rate))
    frames = -1 if duration is None else int(round(duration * meta.sample_rate))
    if start > meta.num_frames:
        raise AudioError(
            f"offset {offset:.3f}s is past the end of '{path}' ({meta.duration:.3f}s long)"
        )
    try:
        data, file_rate = sf.read(
            str(path), start=start, frames=frames, dtype="float32", always_2d=True
        )
    except Exception as e:
        raise AudioError(f"cannot decode '{path}': {e}") from e
    wav = torch.from_numpy(np.ascontiguousarray(data.T))  # (T, C) -> (C, T)
    if wav.shape[-1] == 0 and not allow_empty:
        raise AudioError(f"'{path}' has no samples in the requested span (zero length)")
    if not torch.isfinite(wav).all():
        raise AudioError(f"'{path}' contains NaN or Inf samples")
    if channels is not None and wav.shape[0] != channels:
        raise AudioError(f"expected {channels}-channel audio, got {wav.shape[0]} channels in '{path}'")
    if mono and wav.shape[0] > 1:
        wav = wav.mean(dim=0, keepdim=True)
    if sample_rate is not None and sample_rate != file_rate:
        from audiokit.audio.resample import resample

        wav = resample(wav, file_rate, sample_rate)
        file_rate = sample_rate
    return wav, int(file_rate)


def check_waveform(wav: torch.Tensor, what: str = "waveform") -> torch.Tensor:
    """Validate a ``(channels, time)`` tensor: 2-D, non-empty, finite. Returns it unchanged."""
    if not isinstance(wav, torch.Tensor):
        raise AudioError(f"{what}: expected a torch.Tensor, got {type(wav).__name__}")
    if wav.dim() != 2:
        raise AudioError(f"{what}: expected shape (channels, time), got {tuple(wav.shape)}")
    if wav.shape[-1] == 0:
        raise AudioError(f"{what}: zero-length audio")
    if not torch.isfinite(wav).all():
        raise AudioError(f"{what}: contains NaN or Inf samples")
    return wav


def save(
    path: str | os.PathLike,
    wav: torch.Tensor,
    sample_rate: int,
    subtype: str | None = None,
) -> Path:
    """Write a ``(channels, time)`` tensor to ``path`` atomically (temp file + rename).

    The format follows the extension (.wav, .flac, .ogg). ``subtype`` is soundfile's
    ('PCM_16', 'PCM_24', 'FLOAT'); default: FLOAT for WAV, the format's default otherwise.
    """
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_FORMATS:
        raise AudioError(f"cannot write '{path}': extension must be one of {SUPPORTED_FORMATS}")
    check_waveform(wav, f"audio to write to '{path}'")
    if not _is_positive_int(sample_rate):
        raise AudioError(f"cannot write '{path}': sample_rate must be a positive int, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    if subtype is None and ext == "wav":
        subtype = "FLOAT"
    if ext == "flac" and wav.shape[0] > FLAC_MAX_CHANNELS:
        raise AudioError(
            f"cannot write '{path}': FLAC holds at most {FLAC_MAX_CHANNELS} channels, got {wav.shape[0]} "
            f"(use .wav or .ogg)"
        )
    data = wav.detach().to("cpu", torch.float32).numpy().T  # (C, T) -> (T, C)
    try:
        with atomic_path(path) as tmp:
            with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=data.shape[1], subtype=subtype,
                              format=ext.upper()) as f:
                if ext == "wav":
                    _no_peak_chunk(f)
                f.write(data)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as e:  # bad subtype, disk full, ...
        raise AudioError(f"cannot write '{path}' ({ext}, subtype {subtype}): {e}") from e
    return path


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command code (sndfile.h)


def _no_peak_chunk(f: sf.SoundFile) -> None:
    """For float WAV, libsndfile adds a PEAK chunk holding the *time of writing*, so two writes of the
    same samples differ in bytes. The chunk is optional and readers ignore it: switch it off so that
    equal audio gives byte-identical files (the corpora's determinism depends on it)."""
    snd, ffi = getattr(sf, "_snd", None), getattr(sf, "_ffi", None)
    if snd is not None and ffi is not None and hasattr(f, "_file"):  # soundfile has no public call for it
        snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, ffi.NULL, snd.SF_FALSE)


def load_frames(path: str | os.PathLike, start: int = 0, num_frames: int = -1) -> torch.Tensor:
    """Read ``num_frames`` frames from frame ``start`` exactly (no rate conversion), as ``(C, T)``.

    Used by datasets for sample-exact crops. Reading past the end zero-pads, so a crop is always
    ``num_frames`` long; a start past the end is an error.
    """
    meta = info(path)
    if start < 0 or start > meta.num_frames:
        raise AudioError(f"frame {start} is outside '{path}' ({meta.num_frames} frames)")
    try:
        data, _ = sf.read(str(path), start=start, frames=num_frames, dtype="float32", always_2d=True,
                          fill_value=0.0 if num_frames >= 0 else None)
    except Exception as e:
        raise AudioError(f"cannot decode '{path}': {e}") from e
    wav = torch.from_numpy(np.ascontiguousarray(data.T))  # (T, C) -> (C, T)
    if not torch.isfinite(wav).all():
        raise AudioError(f"'{path}' contains NaN or Inf samples")
    return wav
