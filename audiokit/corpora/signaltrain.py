"""The SignalTrain LA2A Dataset 1.1 (Hawley, Colburn & Mimilakis, 2019): a Teletronix LA-2A compressor
recorded with its Peak Reduction knob and Compress/Limit switch varied; the data of micro-TCN
(Steinmetz & Reiss) and S4-LA2A.

About 20 GB (micro-tcn's README) of 44.1 kHz mono WAV pairs in a tgz archive on Zenodo (record 3824876,
doi:10.5281/zenodo.3824876), unpacked as::

    SignalTrain_LA2A_Dataset_1.1/
      Train/ Val/ Test/
        input_<id>_.wav                                   dry input
        target_<id>_LA2A_<tag>__<limit>__<peak reduction>.wav   the LA-2A's output for that input

e.g. ``Train/input_138_.wav`` and ``Train/target_138_LA2A_3c__0__0.wav``. ``<limit>`` is the switch (0
compress, 1 limit) and ``<peak reduction>`` the knob position, 0..100 in steps of 5; ``<tag>`` is 2c or
3c. Sources: micro-tcn's loader (``csteinmetz1/micro-tcn`` ``microtcn/data.py``: globs
``<Split>/input_*.wav`` and ``target_*.wav``, takes the id as the second ``_`` field and the knobs as
the second and third ``__`` fields, scales peak reduction by 1/100), and the S4-LA2A code
(``int0thewind/s4-dynamic-range-compressor`` ``src/dataset.py``: the complete file list ``param_dict``,
and a loader asserting mono 44.1 kHz audio). Ids 138..263: 42 knob settings, each recorded one to three
times; Test holds 3 pairs of 900 s, Train about 19.5 hours and Val about 4 hours, in recordings of 13 to
20 minutes (that repository's ``dataset-analysis.ipynb``). Version 1.1 trimmed the pairs whose target
was delayed and shorter (the dataset card, mirrored at huggingface.co/datasets/drscotthawley/SignalTrain-LA2A),
and micro-tcn's loader stops at a pair of unequal length ("potentially corrupt file"), so
:func:`prepare_signaltrain` requires equal lengths too.

:func:`prepare_signaltrain` writes the paired data dirs of the effect recipes (as the offline fx corpus,
:mod:`audiokit.corpora.fx`)::

    out/{train,dev,test}/input.scp, target.scp   <utt> <path of the WAV, relative to the data dir>
    out/{train,dev,test}/params                  <utt> limit=0 peak_reduction=45
    out/{train,dev,test}/utt2dur, knobs.json     seconds; the knob schema (LA2A_KNOBS)
    out/.params.json, out/.done                  run markers (see audiokit.corpora.common)

with Train -> train, Val -> dev, Test -> test. Utterance ids are ``st<id>-LA2A_<tag>-limit<l>-pr<p>``, e.g.
``st138-LA2A_3c-limit0-pr0``. Each utterance is a whole file (13-20 minutes): the data layer's
``segments`` table applies to ``wav.scp`` only, and random crops (training) and file starts
(validation) are read from the long files without loading them whole. The tables point at the files
where they are (nothing is copied); moving the dataset means preparing again.

Knobs (:data:`LA2A_KNOBS`): ``limit`` 0..1 and ``peak_reduction`` 0..100, both linear, so the model's
normalised knob vector is micro-TCN's ``[limit, peak_reduction / 100]``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from audiokit.audio import io as audio_io
from audiokit.corpora import common
from audiokit.corpora.download import fetch_corpus_archive
from audiokit.data.kaldi import format_params, write_table
from audiokit.data.knobs import Knob, KnobSchema
from audiokit.utils import write_text_atomic

__all__ = [
    "download_signaltrain", "prepare_signaltrain", "find_dataset_dir", "parse_target_name", "LA2A_KNOBS",
    "ARCHIVE_URL", "ARCHIVE_NAME", "ARCHIVE_MD5", "DATASET_DIR", "SPLIT_FOLDERS",
]

FORMAT_VERSION = 1

# The archive: its name and Zenodo address are those used by int0thewind/s4-dynamic-range-compressor
# (src/dataset.py: https://zenodo.org/record/3824876/files/SignalTrain_LA2A_Dataset_1.1.tgz); "records/"
# is Zenodo's current form of the address (that repository's README links zenodo.org/records/3824876;
# "record/" redirects to it) and ?download=1 asks for the file itself, as other download scripts of this
# archive do. Its size is "~20GB" (csteinmetz1/micro-tcn README). Zenodo shows an md5 on the record page,
# which no source available here quotes: it is left unset, so the archive is not verified (set
# ARCHIVE_MD5 to the record's value to have it checked).
ARCHIVE_NAME = "SignalTrain_LA2A_Dataset_1.1.tgz"
ARCHIVE_URL = f"https://zenodo.org/records/3824876/files/{ARCHIVE_NAME}?download=1"
ARCHIVE_MD5: str | None = None
DATASET_DIR = "SignalTrain_LA2A_Dataset_1.1"

#: data dir name -> folder of the dataset
SPLIT_FOLDERS = {"train": "Train", "dev": "Val", "test": "Test"}

LA2A_KNOBS = KnobSchema([
    Knob("limit", 0.0, 1.0, 0.0, ""),               # the Compress (0) / Limit (1) switch
    Knob("peak_reduction", 0.0, 100.0, 50.0, ""),   # the Peak Reduction knob's position
])

_INPUT = re.compile(r"input_(?P<id>\d+)_\.wav")
_TARGET = re.compile(r"target_(?P<id>\d+)_(?P<tag>\w+?)__(?P<limit>\d+(?:\.\d+)?)__(?P<peak>\d+(?:\.\d+)?)\.wav")
_TARGET_PATTERN = "target_<id>_LA2A_<tag>__<limit 0|1>__<peak reduction 0..100>.wav"
_MAX_LISTED = 10


@dataclass(frozen=True)
class _Pair:
    utt: str
    input: Path
    target: Path
    knobs: dict[str, float]


# ------------------------------------------------------------------------------------------ the tree
def parse_target_name(name: str) -> tuple[str, str, dict[str, float]]:
    """``target_138_LA2A_3c__0__45.wav`` -> ``("138", "LA2A_3c", {"limit": 0.0, "peak_reduction": 45.0})``.

    Raises :class:`~audiokit.corpora.common.CorpusError` for names that do not follow the pattern or
    knob values outside their ranges (limit 0 or 1, peak reduction 0..100).
    """
    match = _TARGET.fullmatch(name)
    if match is None:
        raise common.CorpusError(f"'{name}' does not follow the SignalTrain pattern {_TARGET_PATTERN}")
    limit, peak = float(match["limit"]), float(match["peak"])
    if limit not in (0.0, 1.0) or not 0.0 <= peak <= 100.0:
        raise common.CorpusError(f"'{name}': knob values out of range (limit {limit:g}: expected 0 or 1; "
                                 f"peak reduction {peak:g}: expected 0..100)")
    return match["id"], match["tag"], {"limit": limit, "peak_reduction": peak}


def _split_folders_in(folder: Path) -> list[str]:
    return [f for f in SPLIT_FOLDERS.values() if (folder / f).is_dir()]


def _subfolders(folder: Path) -> list[Path]:
    """Visible subfolders, the dataset's usual folder name first (skips '.*' and '__MACOSX'-like ones)."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: (p.name != DATASET_DIR, p.name))
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and not p.name.startswith((".", "__"))]


def _locate(root: Path) -> Path | None:
    """The folder holding Train/, Val/ and Test/: ``root`` itself, ``root/SignalTrain_LA2A_Dataset_1.1``, or
    another folder up to two levels down, nearest first. None if no split folder is found; an error if
    the first folder with one lacks the others."""
    level = [root]
    for depth in range(3):
        for candidate in level:
            present = _split_folders_in(candidate)
            if not present:
                continue
            missing = [f"{f}/" for f in SPLIT_FOLDERS.values() if f not in present]
            if missing:
                raise common.CorpusError(
                    f"incomplete SignalTrain tree in '{candidate}': missing {', '.join(missing)} (found "
                    f"{', '.join(p + '/' for p in present)}); an interrupted copy? Expected "
                    f"{'/, '.join(SPLIT_FOLDERS.values())}/ side by side"
                )
            return candidate
        if depth < 2:
            level = [child for folder in level for child in _subfolders(folder)]
    return None


def find_dataset_dir(root: str | os.PathLike) -> Path:
    """The SignalTrain folder (holding Train/, Val/, Test/) under ``root``: ``root`` itself,
    ``root/SignalTrain_LA2A_Dataset_1.1`` (where :func:`download_signaltrain` puts it) or another folder
    up to two levels down. Raises a :class:`~audiokit.corpora.common.CorpusError` naming what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise common.CorpusError(f"SignalTrain root '{root}' is not a folder (download the corpus with "
                                 f"`audiokit corpus download signaltrain --root {root}`)")
    found = _locate(root)
    if found is None:
        raise common.CorpusError(
            f"no SignalTrain tree under '{root}': expected Train/, Val/ and Test/ in it or in "
            f"'{root / DATASET_DIR}' (download the corpus with `audiokit corpus download signaltrain "
            f"--root {root}`)"
        )
    return found


def _listing(items: list[str]) -> str:
    shown = "".join(f"\n  - {item}" for item in items[:_MAX_LISTED])
    return shown + (f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _scan_folder(folder: Path, problems: list[str]) -> list[_Pair]:
    """Pair the inputs and targets of one split folder; problems are appended, not raised."""
    inputs: dict[str, Path] = {}
    targets: list[tuple[str, str, dict[str, float], Path]] = []
    claimed = set()  # ids of targets whose name is wrong: their input is not reported as unpaired too
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file() or not name.endswith(".wav"):
            continue  # hidden files (macOS '._*' copies), notes, anything not audio
        if name.startswith("input_"):
            match = _INPUT.fullmatch(name)
            if match is None:
                problems.append(f"'{path}' does not follow the SignalTrain pattern input_<id>_.wav")
            else:
                inputs[match["id"]] = path
        elif name.startswith("target_"):
            try:
                file_id, tag, knobs = parse_target_name(name)
            except common.CorpusError as e:
                problems.append(f"in '{folder}': {e}")
                if match := re.match(r"target_(\d+)_", name):
                    claimed.add(match[1])
                continue
            targets.append((file_id, tag, knobs, path))
    if not inputs and not targets:
        problems.append(f"'{folder}' holds no input_*.wav / target_*.wav files")
        return []
    pairs, used = [], set()
    for file_id, tag, knobs, path in targets:
        if file_id not in inputs:
            problems.append(f"'{path}' has no input: '{folder / f'input_{file_id}_.wav'}' is missing")
            continue
        used.add(file_id)
        utt = f"st{file_id}-{tag}-limit{knobs['limit']:g}-pr{knobs['peak_reduction']:g}"
        pairs.append(_Pair(utt, inputs[file_id], path, knobs))
    for file_id in sorted(inputs.keys() - used - claimed):
        problems.append(f"'{inputs[file_id]}' has no target (target_{file_id}_LA2A_<tag>__<limit>__<peak>.wav "
                        f"is missing from '{folder}')")
    return pairs


def _check_audio(pair: _Pair, problems: list[str]) -> audio_io.AudioInfo | None:
    """The input's header, or None (with a problem noted) when the files are unreadable or differ."""
    try:
        dry, wet = audio_io.info(pair.input), audio_io.info(pair.target)
    except audio_io.AudioError as e:
        problems.append(str(e))
        return None
    differences = [f"{what} {getattr(wet, attr)} vs {getattr(dry, attr)}"
                   for what, attr in (("frames", "num_frames"), ("sample rate", "sample_rate"),
                                      ("channels", "channels"))
                   if getattr(wet, attr) != getattr(dry, attr)]
    if differences:
        problems.append(f"'{pair.target}' does not match its input '{pair.input.name}' "
                        f"({', '.join(differences)}); SignalTrain 1.1 pairs are sample-aligned and equal-length")
        return None
    if dry.num_frames == 0:
        problems.append(f"'{pair.input}' is empty")
        return None
    return dry


# ------------------------------------------------------------------------------------------ download
def download_signaltrain(root: str | os.PathLike, progress: bool = True, keep_archive: bool = True) -> Path:
    """Download and unpack SignalTrain LA2A 1.1 under ``root`` unless a copy is there; return its folder.

    An existing tree under ``root`` (see :func:`find_dataset_dir`) is used as is, with no network access.
    Otherwise ``root/SignalTrain_LA2A_Dataset_1.1.tgz`` (~20 GB) is downloaded (resuming an interrupted
    ``.part``) and unpacked to ``root/SignalTrain_LA2A_Dataset_1.1/{Train,Val,Test}``; the archive is
    deleted afterwards unless ``keep_archive``. A partial tree under ``root`` is an error (naming the
    missing folders), never overwritten.
    """
    fetch_corpus_archive(root, _locate, url=ARCHIVE_URL, archive_name=ARCHIVE_NAME, md5=ARCHIVE_MD5,
                         dataset_dir=DATASET_DIR, progress=progress, keep_archive=keep_archive)
    return find_dataset_dir(root)


# ------------------------------------------------------------------------------------------ prepare
def _relative(data_dir: Path, path: Path) -> str:
    """``path`` relative to ``data_dir``, both with links resolved (the shared recipe opens
    ``data/<split>/<path>`` where ``data/<split>`` is a link to ``data_dir``)."""
    return common.relpath_from(data_dir, path.resolve())


def prepare_signaltrain(root: str | os.PathLike, out: str | os.PathLike, progress: bool = True) -> Path:
    """Write the paired data dirs ``out/{train,dev,test}`` of the SignalTrain tree under ``root``.

    Args:
        root: the SignalTrain folder (holding Train/, Val/, Test/) or a folder above it (see
            :func:`find_dataset_dir`).
        out: output folder (created; must be new, empty, or an earlier run on the same tree, which is then
            returned as is).
        progress: show a progress bar while reading the WAV headers.

    Every problem of the tree (missing split folders, names that do not parse, inputs without targets
    and the reverse, pairs of unequal length or rate) is reported in one
    :class:`~audiokit.corpora.common.CorpusError`, before anything but the run marker is written.
    """
    dataset = find_dataset_dir(root).resolve()
    out = Path(out)
    params = {"corpus": "signaltrain", "format_version": FORMAT_VERSION, "dataset_dir": str(dataset)}
    if common.begin_run(out, params):
        return out

    problems: list[str] = []
    pairs = {split: _scan_folder(dataset / folder, problems) for split, folder in SPLIT_FOLDERS.items()}
    frames: dict[str, int] = {}
    rates: dict[int, str] = {}
    total = sum(len(p) for p in pairs.values())
    with common.progress_bar(total, "signaltrain headers", progress) as bar:
        for split_pairs in pairs.values():
            for pair in split_pairs:
                meta = _check_audio(pair, problems)
                if meta is not None:
                    frames[pair.utt] = meta.num_frames
                    rates.setdefault(meta.sample_rate, str(pair.input))
                bar.update(1)
    if len(rates) > 1:
        problems.append(f"files differ in sample rate: {', '.join(f'{r} Hz ({f})' for r, f in rates.items())}")
    if problems:
        raise common.CorpusError(f"SignalTrain tree '{dataset}': {len(problems)} problem(s):{_listing(problems)}")
    (rate,) = rates

    for split, split_pairs in pairs.items():
        data_dir = (out / split).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        write_table(data_dir / "input.scp", {p.utt: _relative(data_dir, p.input) for p in split_pairs})
        write_table(data_dir / "target.scp", {p.utt: _relative(data_dir, p.target) for p in split_pairs})
        write_table(data_dir / "params", {p.utt: format_params(p.knobs) for p in split_pairs})
        write_table(data_dir / "utt2dur", {p.utt: common.format_duration(frames[p.utt], rate) for p in split_pairs})
        write_text_atomic(data_dir / "knobs.json", json.dumps(LA2A_KNOBS.to_json(), indent=2) + "\n")
    common.finish_run(out, params, {
        "sample_rate": rate,
        "pairs": {split: len(p) for split, p in pairs.items()},
        "hours": {split: round(sum(frames[p.utt] for p in sp) / rate / 3600, 3) for split, sp in pairs.items()},
    })
    return out
