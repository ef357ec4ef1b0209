"""What the offline corpus generators share: seeded per-item randomness, the output directory's
run markers (resume / refuse to mix parameters), small signal helpers, and progress bars.

Determinism: every random draw of an item comes from ``item_rng(seed, *keys)``, a
``numpy.random.default_rng`` seeded from the corpus seed and the item's own keys (split, index, ...),
never from a shared stream. An item is therefore the same whatever order items are made in, and a
resumed run re-creates a missing file byte for byte.

Run markers in ``out_dir``:

    .params.json   written when a run starts: the parameters that define the corpus
    .done          written last, when every file and table is complete: the same parameters plus
                   provenance (library versions, counts)

A re-run with the same parameters returns at once if ``.done`` exists and otherwise resumes, skipping
items whose files are complete; a run with different parameters in the same directory is refused.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiokit.audio import io as audio_io
from audiokit.audio.resample import Resample
from audiokit.utils import AudiokitError, write_text_atomic

PARAMS_FILE = ".params.json"
DONE_FILE = ".done"
SPLITS = ("train", "dev", "test")


class CorpusError(AudiokitError, ValueError):
    """A corpus cannot be made as asked: bad arguments, or an output directory holding another corpus."""


def item_rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator seeded from ``seed`` and the item's keys (strings are hashed with CRC-32, which,
    unlike ``hash()``, is the same in every process)."""
    entropy = [int(seed) & 0xFFFFFFFF]
    for k in keys:
        entropy.append(zlib.crc32(k.encode("utf-8")) if isinstance(k, str) else int(k) & 0xFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _canonical(params: Mapping[str, Any]) -> dict:
    """Parameters as they round-trip through JSON (tuples become lists), for comparison."""
    return json.loads(json.dumps(dict(params), sort_keys=True))


def begin_run(out_dir: str | os.PathLike, params: Mapping[str, Any]) -> bool:
    """Prepare ``out_dir`` for a run with ``params``; True if a finished corpus with them is already there.

    Raises :class:`CorpusError` if the directory holds a corpus (finished or not) made with other
    parameters, or is a non-empty directory that is not a corpus at all.
    """
    out = Path(out_dir)
    want = _canonical(params)
    done, started = out / DONE_FILE, out / PARAMS_FILE
    for marker in (done, started):
        if marker.exists():
            try:
                record = json.loads(marker.read_text(encoding="utf-8"))
                have = record["params"] if marker == done else record
            except (ValueError, KeyError, TypeError) as e:
                raise CorpusError(
                    f"'{marker}' is unreadable ({e}); delete '{out}' or pick another output directory"
                ) from None
            if have != want:
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                details = ", ".join(f"{k}: {have.get(k)!r} there vs {want.get(k)!r} now" for k in diff)
                raise CorpusError(
                    f"'{out}' already holds a corpus made with other parameters ({details}); "
                    f"pick another output directory (or delete this one)"
                )
            if marker == done:
                return True
            return False
    if out.exists() and not out.is_dir():
        raise CorpusError(f"output path '{out}' exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise CorpusError(
            f"output directory '{out}' is not empty and holds no corpus markers ({PARAMS_FILE}); "
            f"pick an empty or new directory"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(started, json.dumps(want, indent=2, sort_keys=True) + "\n")
    return False


def finish_run(out_dir: str | os.PathLike, params: Mapping[str, Any], provenance: Mapping[str, Any]) -> None:
    """Write the ``.done`` marker, last of all."""
    record = {"params": _canonical(params), "provenance": _canonical(provenance)}
    write_text_atomic(Path(out_dir) / DONE_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def audio_complete(path: Path, num_frames: int | None = None) -> bool:
    """True if ``path`` is a readable audio file (with ``num_frames`` frames, if given).

    Files are written atomically, so existing ones are whole; the header check guards against files
    damaged by something else.
    """
    if not path.is_file():
        return False
    try:
        meta = audio_io.info(path)
    except audio_io.AudioError:
        return False
    return meta.num_frames > 0 and (num_frames is None or meta.num_frames == num_frames)


def save_mono(path: Path, samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """Write a 1-D float array as a mono WAV file through :func:`audiokit.audio.io.save` (atomic, and
    byte-identical for equal input)."""
    data = np.ascontiguousarray(samples, dtype=np.float32)
    if data.ndim != 1:
        raise audio_io.AudioError(f"audio to write to '{path}': expected a 1-D array, got shape {data.shape}")
    audio_io.save(path, torch.from_numpy(data)[None], sample_rate, subtype=subtype)  # (T,) -> (1, T)


@contextlib.contextmanager
def torch_single_thread() -> Iterator[None]:
    """Run torch ops on one thread inside the block (restoring the setting after).

    A corpus resamples many short clips one after another: torch's intra-op thread pool brings nothing
    there and, on a busy machine, costs 10-100x (measured: a 40k-sample conv1d took 38 ms with 2
    threads under load, about 1 ms with one).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=8)
def _resampler(orig_rate: int, new_rate: int) -> Resample:
    return Resample(orig_sample_rate=orig_rate, new_sample_rate=new_rate)


def resample(samples: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Resample a 1-D float array with :class:`audiokit.audio.resample.Resample` (kernel built once per
    pair of rates); ``ceil(T * new / orig)`` samples come out."""
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if orig_rate == new_rate:
        return x.numpy()
    with torch.no_grad():
        return _resampler(orig_rate, new_rate)(x[None])[0].numpy()


def db_to_gain(db: float | np.ndarray) -> float | np.ndarray:
    return 10.0 ** (np.asarray(db) / 20.0)


def peak_normalize(samples: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so that the absolute peak is ``peak_db`` dBFS (silence stays silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples
    return samples * (db_to_gain(peak_db) / peak)


def trim_silence(
    samples: np.ndarray, sample_rate: int, margins_s: tuple[float, float], threshold_db: float = -40.0
) -> np.ndarray:
    """Cut leading/trailing audio quieter than ``threshold_db`` below the peak, keeping ``margins_s``
    (before, after) seconds around the rest; pads with zeros where the file has less than the margin."""
    mag = np.abs(samples)
    peak = float(mag.max()) if mag.size else 0.0
    if peak == 0.0:
        return samples
    loud = np.flatnonzero(mag > peak * db_to_gain(threshold_db))
    first, last = int(loud[0]), int(loud[-1]) + 1
    before, after = (int(round(m * sample_rate)) for m in margins_s)
    start, end = first - before, last + after
    out = samples[max(start, 0) : min(end, len(samples))]
    pad_before = np.zeros(max(-start, 0), samples.dtype)
    pad_after = np.zeros(max(end - len(samples), 0), samples.dtype)
    return np.concatenate([pad_before, out, pad_after])


def fades(samples: np.ndarray, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fade-in/out over the given numbers of samples (returns a new array)."""
    out = np.array(samples, dtype=np.float64, copy=True)
    n = len(out)
    fade_in, fade_out = min(fade_in, n), min(fade_out, n)
    if fade_in > 0:
        out[:fade_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / fade_in)
    if fade_out > 0:
        out[n - fade_out :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade_out + 1) / fade_out)
    return out


def check_sizes(sizes: Mapping[str, Any], what: str) -> None:
    missing = [s for s in SPLITS if s not in sizes]
    extra = [s for s in sizes if s not in SPLITS]
    if missing or extra:
        raise CorpusError(f"{what}: sizes must name exactly the splits {SPLITS}, got {sorted(sizes)}")


def progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, dynamic_ncols=True)


def format_duration(num_frames: int, sample_rate: int) -> str:
    return f"{num_frames / sample_rate:.4f}"


def ceil_div(a: int, b: int) -> int:
    return int(math.ceil(a / b))


def relpath_from(data_dir: Path, target: Path) -> str:
    """``target`` relative to ``data_dir`` (how tables point at audio, so a corpus can be moved)."""
    return Path(os.path.relpath(target, data_dir)).as_posix()
