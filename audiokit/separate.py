"""Separation inference: ``sep = audiokit.load(...)``; ``stems = sep.separate(wav, sample_rate)``.

A separation model (``forward(mix (B, C, T)) -> (B, S, C, T)``, ``sources``, ``audio_channels``,
``sample_rate``) runs over chunks of ``segment`` seconds cut by the shared overlap-add helper, cross-
faded with a triangular window, ``batch_chunks`` chunks per call. Around it:

- channel mapping: a mono file through a stereo model is duplicated in and averaged out; a stereo file
  through a mono model is averaged in and the stems duplicated out; other combinations are errors;
- resampling to the model's rate and back;
- normalisation as Demucs: the mixture is standardised by the mean and std of its channel average
  over the whole track, and the stems scaled back;
- ``shifts``: the "shift trick" — the average over ``K`` random time offsets (up to half a second)
  of the whole separation, seeded, so results repeat.

Files go through :meth:`SeparationModel.separate_file` in flat memory: two passes over the input
(statistics, then chunks read as the accumulator needs them), every stem written as it becomes final
to a temporary file that is renamed when complete.
"""
from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf
import torch

from audiokit.audio.io import AudioError, check_waveform, info
from audiokit.audio.overlap_add import OverlapAddAccumulator, chunk_starts, overlap_add
from audiokit.audio.resample import resample
from audiokit.utils import AudiokitError, atomic_path


class SeparationError(AudiokitError):
    """A separation request the model cannot serve (stems, channels, options)."""


class SeparationModel:
    """A trained separation model with its stems, sample rate and channel count."""

    def __init__(self, model: torch.nn.Module, checkpoint: dict, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.sources = list(model.sources)
        self.sample_rate = int(checkpoint["sample_rate"])
        self.audio_channels = int(getattr(model, "audio_channels", 1))
        self.metadata = checkpoint.get("metadata", {})
        self.default_segment = float(self.metadata.get("segment_seconds", 6.0))

    def __repr__(self) -> str:
        return (f"SeparationModel({type(self.model).__name__}, {self.sample_rate} Hz, {self.audio_channels} ch, "
                f"stems: {', '.join(self.sources)})")

    # ------------------------------------------------------------------------------------ helpers
    def _stem_indices(self, stems) -> list[int]:
        if stems is None:
            return list(range(len(self.sources)))
        unknown = [s for s in stems if s not in self.sources]
        if unknown:
            raise SeparationError(f"stems {unknown} not in this model's {self.sources}")
        return [self.sources.index(s) for s in stems]

    def _map_in(self, wav: torch.Tensor) -> torch.Tensor:
        c, m = wav.shape[0], self.audio_channels
        if c == m:
            return wav
        if c == 1:
            return wav.expand(m, -1)
        if m == 1:
            return wav.mean(0, keepdim=True)
        raise SeparationError(f"input has {c} channels; this model takes {m} (mono or {m}-channel input only)")

    def _map_out(self, stems: torch.Tensor, channels: int) -> torch.Tensor:
        """``(S, M, T)`` model channels -> ``(S, channels, T)``."""
        if stems.shape[1] == channels:
            return stems
        if channels == 1:
            return stems.mean(1, keepdim=True)
        return stems.expand(-1, channels, -1)

    def _segment(self, segment: float | None) -> int:
        seconds = self.default_segment if segment is None else float(segment)
        if not seconds > 0:
            raise SeparationError(f"segment must be > 0 seconds, got {segment}")
        return max(1, round(seconds * self.sample_rate))

    def _apply(self, chunks: torch.Tensor) -> torch.Tensor:
        """``(n, C, L) -> (n, S, C, L)`` for any ``L``: padded to a length the model takes, cropped back."""
        x = chunks.to(self.device)
        if hasattr(self.model, "forward_aligned"):  # pads to a valid length and aligns context-aware output
            return self.model.forward_aligned(x)
        length = x.shape[-1]
        valid = int(self.model.valid_length(length)) if hasattr(self.model, "valid_length") else length
        return self.model(torch.nn.functional.pad(x, (0, valid - length)))[..., :length]

    # --------------------------------------------------------------------------------- in memory
    @torch.inference_mode()
    def separate(self, wav: torch.Tensor, sample_rate: int, stems=None, segment: float | None = None,
                 overlap: float = 0.25, shifts: int = 0, batch_chunks: int = 4) -> dict[str, torch.Tensor]:
        """Separate ``(channels, time)`` audio; returns ``{stem: (channels, time)}`` at ``sample_rate``."""
        check_waveform(wav, "input audio")
        index = self._stem_indices(stems)
        x = wav.float()
        if sample_rate != self.sample_rate:
            x = resample(x, sample_rate, self.sample_rate)
        x = self._map_in(x)
        ref = x.mean(0)
        mean, std = ref.mean(), ref.std().clamp_min(1e-8)
        x = (x - mean) / std
        seg = self._segment(segment)
        out = self._run(x, seg, overlap, batch_chunks, shifts)  # (S, M, T)
        out = out * std + mean / len(self.sources)
        result = {}
        for i in index:
            y = self._map_out(out[i][None], wav.shape[0])[0].cpu()
            if sample_rate != self.sample_rate:
                y = resample(y, self.sample_rate, sample_rate)[..., : wav.shape[-1]]
            result[self.sources[i]] = y
        return result

    def _run(self, x: torch.Tensor, seg: int, overlap: float, batch_chunks: int, shifts: int) -> torch.Tensor:
        if shifts < 0:
            raise SeparationError(f"shifts must be >= 0, got {shifts}")
        fn = self._apply
        if shifts == 0:  # a last chunk the signal ends inside runs at its own length, not padded
            return overlap_add(fn, x, seg, overlap, "triangular", batch_chunks, ragged_last=True)
        g = torch.Generator().manual_seed(0)
        max_shift = self.sample_rate // 2
        padded = torch.nn.functional.pad(x, (max_shift, max_shift))
        total = 0
        for _ in range(shifts):
            offset = int(torch.randint(0, max_shift + 1, (1,), generator=g))
            y = overlap_add(fn, padded[..., offset : offset + x.shape[-1] + max_shift], seg, overlap, "triangular",
                            batch_chunks, ragged_last=True)
            total = total + y[..., max_shift - offset : max_shift - offset + x.shape[-1]]
        return total / shifts

    # -------------------------------------------------------------------------------------- files
    @torch.inference_mode()
    def separate_file(self, src: str | os.PathLike, outdir: str | os.PathLike, stems=None,
                      segment: float | None = None, overlap: float = 0.25, batch_chunks: int = 4,
                      subtype: str = "FLOAT") -> dict[str, Path]:
        """Separate a file into ``outdir/<stem>.wav`` with memory flat in the file's length.

        Files at another rate than the model's are loaded whole and resampled (memory grows with them).
        """
        meta = info(src)
        index = self._stem_indices(stems)
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        if meta.num_frames == 0:
            raise AudioError(f"'{src}' has zero length")
        if meta.sample_rate != self.sample_rate:
            from audiokit.audio.io import load, save

            wav, rate = load(src)
            result = self.separate(wav, rate, [self.sources[i] for i in index], segment, overlap, 0, batch_chunks)
            return {name: save(outdir / f"{name}.wav", y, rate) for name, y in result.items()}
        self._map_in(torch.zeros(meta.channels, 1))  # channel check before any work
        # pass 1: statistics of the channel average, block by block
        total, total_sq, n = 0.0, 0.0, 0
        for block in sf.blocks(str(src), blocksize=1 << 16, dtype="float64", always_2d=True):
            avg = block.mean(1)
            total, total_sq, n = total + avg.sum(), total_sq + (avg**2).sum(), n + len(avg)
        mean = total / n
        std = max(((total_sq - n * mean * mean) / max(n - 1, 1)) ** 0.5, 1e-8)
        # pass 2: chunks read as needed, accumulated, written as they become final
        seg = self._segment(segment)
        acc = OverlapAddAccumulator(segment=seg, overlap=overlap, window="triangular", length=meta.num_frames)
        paths = {self.sources[i]: outdir / f"{self.sources[i]}.wav" for i in index}
        with _StemWriters(paths, meta.sample_rate, meta.channels, subtype) as writers, sf.SoundFile(str(src)) as fin:
            starts = list(chunk_starts(meta.num_frames, seg, overlap))
            # chunk groups as overlap_add(ragged_last=True) makes them: a last chunk that the file ends
            # inside is read and run alone at its true length, its output padded back to the segment
            ragged = starts[-1] + seg > meta.num_frames
            full = starts[:-1] if ragged else starts
            groups = [full[i : i + batch_chunks] for i in range(0, len(full), batch_chunks)]
            groups += [starts[-1:]] if ragged else []
            for group in groups:
                size = min(seg, meta.num_frames - group[0]) if group[0] == starts[-1] and ragged else seg
                pieces = []
                for start in group:
                    fin.seek(start)
                    x = torch.from_numpy(fin.read(size, dtype="float32", always_2d=True).T.copy())
                    if not torch.isfinite(x).all():
                        raise AudioError(f"'{src}' contains NaN or Inf samples")
                    pieces.append((self._map_in(x) - mean) / std)
                y = self._apply(torch.stack(pieces)).cpu()  # (n, S, M, size)
                y = torch.nn.functional.pad(y, (0, seg - size))
                writers.write(self._finish(acc.push(y), index, mean, std, meta.channels))
            writers.write(self._finish(acc.finish(), index, mean, std, meta.channels))
        return paths

    def _finish(self, out: torch.Tensor, index: list[int], mean: float, std: float, channels: int):
        out = out * std + mean / len(self.sources)  # (S, M, t)
        return {self.sources[i]: self._map_out(out[i][None], channels)[0] for i in index}


class _StemWriters:
    """One open temporary file per stem; renamed into place only if everything was written."""

    def __init__(self, paths: dict[str, Path], rate: int, channels: int, subtype: str):
        self.paths, self.rate, self.channels, self.subtype = paths, rate, channels, subtype
        self._contexts, self._files = [], {}

    def __enter__(self):
        try:
            for name, path in self.paths.items():
                ctx = atomic_path(path)
                tmp = ctx.__enter__()
                self._contexts.append(ctx)
                self._files[name] = sf.SoundFile(str(tmp), "w", samplerate=self.rate, channels=self.channels,
                                                  subtype=self.subtype, format="WAV")
        except BaseException as e:
            self.__exit__(type(e), e, e.__traceback__)
            raise
        return self

    def write(self, stems: dict[str, torch.Tensor]) -> None:
        for name, y in stems.items():
            self._files[name].write(y.T.numpy())  # (C, t) -> (t, C)

    def __exit__(self, exc_type, exc, tb):
        for f in self._files.values():
            f.close()
        for ctx in reversed(self._contexts):  # each renames its temp file on success, removes it on error
            ctx.__exit__(exc_type, exc, tb)
        return False
