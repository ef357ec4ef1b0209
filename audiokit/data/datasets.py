"""Datasets over Kaldi data directories. Indexed by the requests of audiokit.data.samplers.

A request is ``(item_index, crop_seed)``; datasets are deterministic functions of the request, so the
sampler alone decides what a batch holds (exact resume, worker-count independence).

Examples returned are dicts of tensors; waveforms are ``(channels, time)`` and the collate function
stacks them to ``(batch, channels, time)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from audiokit.audio.io import AudioError, info, load_frames
from audiokit.data.kaldi import DataDir, DataDirError


@dataclass(frozen=True)
class _Item:
    key: str
    paths: dict[str, Path]  # table name -> file
    num_frames: int
    start: int = 0  # from `segments`: span inside the recording, in frames


def _scan(data: DataDir, tables: list[str], sample_rate: int | None) -> tuple[list[_Item], int]:
    """Read headers once: per-utterance lengths, and check one sample rate across everything."""
    items, rate, rate_from = [], sample_rate, "the config"
    for key in data.keys():
        paths, lengths, start = {}, {}, 0
        for t in tables:
            seg = data.audio(key, t)
            meta = info(seg.path)
            if rate is None:
                rate, rate_from = meta.sample_rate, str(seg.path)
            if meta.sample_rate != rate:
                raise AudioError(f"expected {rate} Hz (from {rate_from}), got {meta.sample_rate} Hz in '{seg.path}'")
            paths[t] = seg.path
            if seg.end is not None:
                start = int(round(seg.start * rate))
                lengths[t] = int(round(seg.end * rate)) - start
            else:
                lengths[t] = meta.num_frames
        if len(set(lengths.values())) > 1:
            raise DataDirError(f"{data.path}: '{key}' has different lengths across {tables}: {lengths}")
        items.append(_Item(key, paths, next(iter(lengths.values())), start))
    if not items:
        raise DataDirError(f"{data.path}: no utterances")
    return items, int(rate)


class CropDataset(Dataset):
    """Fixed-length, time-aligned crops of one or more tables of a data directory.

    The same span is cut from every table, so it serves paired effect data
    (``tables=["input.scp", "target.scp"]``, with the knob values of `params`) and multi-stem
    separation data (``tables=["mixture.scp", "drums.scp", ...]``) alike. Files shorter than the
    segment are zero-padded at the end, and ``length`` says how much is real.

    Args:
        data_dir: Kaldi data directory.
        tables: audio tables to crop, e.g. ``["input.scp", "target.scp"]``.
        segment_seconds: crop length in seconds (None: whole files, for batch size 1).
        sample_rate: expected sample rate in Hz (None: take the first file's, require the rest equal).
        with_params: also return the normalised knob vector from `params` + `knobs.json`.
        mono: mix every file down to one channel (the mean of its channels), so mono and stereo files can
            share a batch, e.g. speech and music for a general-audio codec.
    """

    def __init__(self, data_dir: str | Path, tables: list[str], segment_seconds: float | None,
                 sample_rate: int | None = None, with_params: bool = False, mono: bool = False):
        self.data = DataDir(data_dir)
        for t in tables:
            self.data.table(t)
        self.tables, self.mono = list(tables), bool(mono)
        self.items, self.sample_rate = _scan(self.data, self.tables, sample_rate)
        self.segment = None if segment_seconds is None else int(round(segment_seconds * self.sample_rate))
        self.schema = self.data.knob_schema() if with_params else None
        self.knobs = None
        if with_params:
            self.knobs = [self.schema.normalize(self.data.params(it.key), fill_defaults=False)
                          for it in self.items]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def durations(self) -> list[float]:
        return [it.num_frames / self.sample_rate for it in self.items]

    def __getitem__(self, request) -> dict:
        index, crop_seed = request if isinstance(request, tuple) else (request, 0)
        it = self.items[index]
        if self.segment is None:
            start, n = 0, it.num_frames
        else:
            n = self.segment
            room = max(it.num_frames - n, 0)
            # A seed of 0 means "deterministic": take the start (validation); else a random offset.
            start = 0 if crop_seed == 0 else int(np.random.default_rng(crop_seed).integers(0, room + 1))
        out = {"key": it.key, "length": torch.tensor(min(n, it.num_frames - start))}
        for t in self.tables:
            name = t[:-4] if t.endswith(".scp") else t
            wav = load_frames(it.paths[t], it.start + start, n)
            out[name] = wav.mean(dim=0, keepdim=True) if self.mono else wav
        if self.knobs is not None:
            out["knobs"] = self.knobs[index]
        return out


class UtteranceDataset(Dataset):
    """Whole utterances (or `segments`) of ``wav.scp`` with their transcript and speaker.

    Args:
        data_dir: Kaldi data directory with wav.scp (and optionally text, utt2spk, segments).
        sample_rate: expected sample rate in Hz (None: take the first file's).
    """

    def __init__(self, data_dir: str | Path, sample_rate: int | None = None):
        self.data = DataDir(data_dir)
        self.items, self.sample_rate = _scan(self.data, ["wav.scp"], sample_rate)
        self.text = self.data.table("text") if "text" in self.data else None
        self.utt2spk = self.data.table("utt2spk") if "utt2spk" in self.data else None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def durations(self) -> list[float]:
        return [it.num_frames / self.sample_rate for it in self.items]

    def __getitem__(self, request) -> dict:
        index = request[0] if isinstance(request, tuple) else request
        it = self.items[index]
        wav = load_frames(it.paths["wav.scp"], it.start, it.num_frames)
        out = {"key": it.key, "wav": wav, "length": torch.tensor(wav.shape[-1])}
        if self.text is not None:
            out["text"] = self.text[it.key]
        if self.utt2spk is not None:
            out["speaker"] = self.utt2spk[it.key]
        return out


def pad_collate(examples: list[dict]) -> dict:
    """Stack examples into a batch; waveforms are zero-padded at the end to the longest.

    Tensors with a time axis become ``(batch, channels, time)``; ``length`` becomes ``(batch,)``;
    strings become lists.
    """
    batch: dict = {}
    for name in examples[0]:
        values = [ex[name] for ex in examples]
        if isinstance(values[0], torch.Tensor) and values[0].dim() == 2:
            channels = {v.shape[0] for v in values}
            if len(channels) > 1:
                keys = [f"{ex.get('key', i)} ({v.shape[0]})" for i, (ex, v) in enumerate(zip(examples, values))]
                raise DataDirError(f"'{name}': files of a batch have different channel counts: {', '.join(keys)}; "
                                   f"set `mono: true` in the data config to mix every file down to mono")
            longest = max(v.shape[-1] for v in values)
            out = values[0].new_zeros(len(values), values[0].shape[0], longest)
            for i, v in enumerate(values):
                out[i, :, : v.shape[-1]] = v
            batch[name] = out
        elif isinstance(values[0], torch.Tensor):
            batch[name] = torch.stack(values)
        else:
            batch[name] = values
    return batch
