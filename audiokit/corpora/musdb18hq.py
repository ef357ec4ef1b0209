"""MUSDB18-HQ (Rafii, Liutkus, Stöter, Mimilakis & Bittner, 2019): the 150 tracks of MUSDB18 (SiSEC 2018)
as uncompressed 44.1 kHz stereo WAV, each with its mixture and four stems; Zenodo record 3338373
(doi:10.5281/zenodo.3338373), for non-commercial research.

One zip archive (``musdb18hq.zip``, 22,656,664,047 bytes) that unpacks to::

    train/<track name>/{mixture,drums,bass,other,vocals}.wav     100 tracks
    test/<track name>/{mixture,drums,bass,other,vocals}.wav       50 tracks

with track names such as ``A Classic Education - NightOwl`` (spaces, ``&``, ``'``). Sources: musdb's
``musdb/configs/mus.yaml`` (sigsep/sigsep-mus-db: the source files ``vocals.wav`` ``drums.wav`` ``bass.wav``
``other.wav`` and ``mixture.wav``, stem order mixture, drums, bass, other, vocals), Demucs' ``demucs/wav.py``
(reads ``<musdb>/train/<track>/<source>.wav`` and requires every file of a track to have the same length and
rate), and download scripts that unzip the archive straight into the dataset folder and then find
``train/A Classic Education - NightOwl/mixture.wav`` (chenchy/D3Net ``egs/common/prepare_musdb18hq.sh``).

Validation split: the 14 training tracks of musdb's ``validation_tracks`` (:data:`VALID_TRACKS`, from
``musdb/configs/mus.yaml``); Demucs (``_get_musdb_valid`` in ``demucs/wav.py``) and Open-Unmix
(``musdb.DB(split="valid")``) both take them from that file, leaving 86 tracks to train on.

:func:`prepare_musdb18hq` writes the separation data dirs of :mod:`audiokit.corpora.music`'s layout::

    out/{train,valid,test}/mixture.scp, <stem>.scp   <utt> <path of the WAV, relative to the data dir>
    out/{train,valid,test}/stems                     drums bass other vocals, one a line
    out/{train,valid,test}/utt2dur                   seconds
    out/{train,valid,test}/utt2track                 <utt> the track's folder name, spaces and all
    out/.params.json, out/.done                      run markers (see audiokit.corpora.common)

Utterance ids are the track names with each run of whitespace replaced by ``_``
(``A_Classic_Education_-_NightOwl``), since table keys cannot hold spaces; the paths in the ``.scp`` tables
keep the real names (a table's value is the rest of its line). Each utterance is a whole track (3-10
minutes); training crops are read from the files without loading them whole.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from audiokit.audio import io as audio_io
from audiokit.corpora import common
from audiokit.corpora.download import fetch_corpus_archive
from audiokit.data.kaldi import write_table
from audiokit.utils import write_text_atomic

__all__ = ["download_musdb18hq", "prepare_musdb18hq", "find_dataset_dir", "track_key", "STEMS", "VALID_TRACKS",
           "SPLITS"]

FORMAT_VERSION = 1

# The archive: Zenodo record 3338373 (https://zenodo.org/records/3338373; cited as "MUSDB18-HQ - an
# uncompressed version of MUSDB18 (1.0.0)", doi:10.5281/zenodo.3338373, in ymtoo/MUSDB18Datasets.jl's README);
# "records/" is Zenodo's current address form and ?download=1 asks for the file itself (as in MERL's and
# other download scripts of this file). The md5 and size are those
# of Zenodo's record (its API lists "md5:12d4f2ecd55245a4688754dd76363103" and 22656664047 bytes), as quoted
# by several public download scripts that verify the archive with them.
ARCHIVE_NAME = "musdb18hq.zip"
ARCHIVE_URL = f"https://zenodo.org/records/3338373/files/{ARCHIVE_NAME}?download=1"
ARCHIVE_MD5: str | None = "12d4f2ecd55245a4688754dd76363103"
DATASET_DIR = "musdb18hq"

#: stems in musdb's order (mus.yaml stem_ids: mixture 0, drums 1, bass 2, other 3, vocals 4)
STEMS = ("drums", "bass", "other", "vocals")
MIXTURE = "mixture"

#: musdb's validation_tracks (sigsep/sigsep-mus-db, musdb/configs/mus.yaml), all in train/
VALID_TRACKS = (
    "Actions - One Minute Smile",
    "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies",
    "Patrick Talbot - A Reason To Leave",
    "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero",
    "Fergessen - Nos Palpitants",
    "Leaf - Summerghost",
    "Skelpolu - Human Mistakes",
    "Young Griffo - Pennies",
    "ANiMAL - Rockshow",
    "James May - On The Line",
    "Meaxic - Take A Step",
    "Traffic Experiment - Sirens",
)

FOLDERS = ("train", "test")
#: data dir -> the dataset folder its tracks come from
SPLITS = {"train": "train", "valid": "train", "test": "test"}
_MAX_LISTED = 10


@dataclass(frozen=True)
class _Track:
    key: str
    name: str
    folder: Path

    def path(self, source: str) -> Path:
        return self.folder / f"{source}.wav"


def track_key(name: str) -> str:
    """A track's utterance id: its folder name with every run of whitespace replaced by ``_``."""
    return re.sub(r"\s+", "_", name.strip())


# ------------------------------------------------------------------------------------------ the tree
def _locate(root: Path) -> Path | None:
    """The folder holding train/ and test/: ``root`` or ``root/musdb18hq``; None if neither has one of them,
    an error if the first that has one lacks the other."""
    for candidate in (root, root / DATASET_DIR):
        present = [f for f in FOLDERS if (candidate / f).is_dir()]
        if not present:
            continue
        missing = [f"{f}/" for f in FOLDERS if f not in present]
        if missing:
            raise common.CorpusError(f"incomplete MUSDB18-HQ tree in '{candidate}': missing {', '.join(missing)} "
                                     f"(found {', '.join(p + '/' for p in present)}); an interrupted copy? "
                                     f"Expected train/ and test/ side by side")
        return candidate
    return None


def find_dataset_dir(root: str | os.PathLike) -> Path:
    """The MUSDB18-HQ folder (holding train/ and test/): ``root`` itself or ``root/musdb18hq`` (where
    :func:`download_musdb18hq` puts it). Raises a :class:`~audiokit.corpora.common.CorpusError` naming what
    is missing."""
    root = Path(root)
    hint = f"download the corpus with `audiokit corpus download musdb18hq --root {root}`"
    if not root.is_dir():
        raise common.CorpusError(f"MUSDB18-HQ root '{root}' is not a folder ({hint})")
    found = _locate(root)
    if found is None:
        raise common.CorpusError(f"no MUSDB18-HQ tree under '{root}': expected train/ and test/ in it or in "
                                 f"'{root / DATASET_DIR}' ({hint})")
    return found


def _scan_folder(folder: Path, problems: list[str]) -> list[_Track]:
    """The tracks of train/ or test/, each with all five WAV files; problems are appended, not raised."""
    tracks = []
    for track_dir in sorted(folder.iterdir()):
        if not track_dir.is_dir() or track_dir.name.startswith((".", "__")):
            continue
        track = _Track(track_key(track_dir.name), track_dir.name, track_dir)
        missing = [f"{s}.wav" for s in (MIXTURE, *STEMS) if not track.path(s).is_file()]
        if not track.key:
            problems.append(f"'{track_dir}': a track folder needs a name")
        elif missing:
            problems.append(f"'{track_dir}' lacks {', '.join(missing)} (every track has mixture.wav and "
                            f"{', '.join(s + '.wav' for s in STEMS)})")
        else:
            tracks.append(track)
    if not tracks and not any(str(folder) in p for p in problems):
        problems.append(f"'{folder}' holds no track folders (<track name>/mixture.wav, ...)")
    return tracks


def _check_audio(track: _Track, problems: list[str]) -> audio_io.AudioInfo | None:
    """The mixture's header, or None (with a problem noted) when a file is unreadable or differs from it."""
    try:
        infos = {s: audio_io.info(track.path(s)) for s in (MIXTURE, *STEMS)}
    except audio_io.AudioError as e:
        problems.append(str(e))
        return None
    mix = infos[MIXTURE]
    if mix.num_frames == 0:
        problems.append(f"'{track.path(MIXTURE)}' is empty")
        return None
    ok = True
    for stem in STEMS:
        differences = [f"{what} {getattr(infos[stem], attr)} vs {getattr(mix, attr)}"
                       for what, attr in (("frames", "num_frames"), ("sample rate", "sample_rate"),
                                          ("channels", "channels"))
                       if getattr(infos[stem], attr) != getattr(mix, attr)]
        if differences:
            problems.append(f"'{track.path(stem)}' does not match the track's mixture.wav ({', '.join(differences)})")
            ok = False
    return mix if ok else None


def _listing(items: list[str]) -> str:
    shown = "".join(f"\n  - {item}" for item in items[:_MAX_LISTED])
    return shown + (f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


# ------------------------------------------------------------------------------------------ download
def download_musdb18hq(root: str | os.PathLike, progress: bool = True, keep_archive: bool = True) -> Path:
    """Download and unpack MUSDB18-HQ under ``root`` unless a copy is there; return its folder.

    An existing tree under ``root`` (see :func:`find_dataset_dir`) is used as is, with no network access.
    Otherwise ``root/musdb18hq.zip`` (22.7 GB) is downloaded (resuming an interrupted ``.part``, checked
    against :data:`ARCHIVE_MD5`) and unpacked to ``root/musdb18hq/{train,test}``; the archive is deleted
    afterwards unless ``keep_archive``. A partial tree under ``root`` is an error, never overwritten.
    """
    fetch_corpus_archive(root, _locate, url=ARCHIVE_URL, archive_name=ARCHIVE_NAME, md5=ARCHIVE_MD5,
                         dataset_dir=DATASET_DIR, progress=progress, keep_archive=keep_archive)
    return find_dataset_dir(root)


# ------------------------------------------------------------------------------------------ prepare
def prepare_musdb18hq(root: str | os.PathLike, out: str | os.PathLike, progress: bool = True,
                      valid_tracks: tuple[str, ...] = VALID_TRACKS) -> Path:
    """Write the separation data dirs ``out/{train,valid,test}`` of the MUSDB18-HQ tree under ``root``.

    Args:
        root: the MUSDB18-HQ folder (holding train/ and test/) or ``root/musdb18hq`` (see
            :func:`find_dataset_dir`).
        out: output folder (created; must be new, empty, or an earlier run on the same tree, which is then
            returned as is).
        progress: show a progress bar while reading the WAV headers.
        valid_tracks: names of the train/ tracks that form ``valid`` (default: musdb's 14,
            :data:`VALID_TRACKS`); the other train/ tracks form ``train``.

    Every problem of the tree (a missing train/ or test/, tracks lacking a stem, stems that differ from their
    mixture in length, rate or channels, validation tracks missing from train/) is reported in one
    :class:`~audiokit.corpora.common.CorpusError`, before anything but the run marker is written.
    """
    dataset = find_dataset_dir(root).resolve()
    valid_tracks = tuple(valid_tracks)
    if not valid_tracks:
        raise common.CorpusError("valid_tracks is empty: name the train/ tracks of the validation split")
    out = Path(out)
    params = {"corpus": "musdb18hq", "format_version": FORMAT_VERSION, "dataset_dir": str(dataset),
              "valid_tracks": sorted(valid_tracks)}
    if common.begin_run(out, params):
        return out

    problems: list[str] = []
    found = {folder: _scan_folder(dataset / folder, problems) for folder in FOLDERS}
    names = {t.name for t in found["train"]}
    absent = [name for name in valid_tracks if name not in names and not (dataset / "train" / name).is_dir()]
    if absent:
        problems.append(f"validation track(s) missing from '{dataset / 'train'}': {', '.join(map(repr, absent))}")
    keys: dict[str, _Track] = {}
    for track in found["train"] + found["test"]:
        if track.key in keys:
            problems.append(f"'{track.folder}' and '{keys[track.key].folder}' have the same utterance id "
                            f"'{track.key}'")
        keys.setdefault(track.key, track)
    splits = {
        "train": [t for t in found["train"] if t.name not in valid_tracks],
        "valid": [t for t in found["train"] if t.name in valid_tracks],
        "test": found["test"],
    }
    if found["train"] and not splits["train"]:
        problems.append(f"every track of '{dataset / 'train'}' is a validation track: none is left to train on")
    frames: dict[str, int] = {}
    rates: dict[int, Path] = {}
    with common.progress_bar(sum(len(t) for t in splits.values()), "musdb18hq headers", progress) as bar:
        for tracks in splits.values():
            for track in tracks:
                meta = _check_audio(track, problems)
                if meta is not None:
                    frames[track.key] = meta.num_frames
                    rates.setdefault(meta.sample_rate, track.path(MIXTURE))
                bar.update(1)
    if len(rates) > 1:
        problems.append(f"tracks differ in sample rate: {', '.join(f'{r} Hz ({p})' for r, p in rates.items())}")
    if problems:
        raise common.CorpusError(f"MUSDB18-HQ tree '{dataset}': {len(problems)} problem(s):{_listing(problems)}")
    (rate,) = rates

    for split, tracks in splits.items():
        data_dir = (out / split).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        for source in (MIXTURE, *STEMS):
            write_table(data_dir / f"{source}.scp",
                        {t.key: common.relpath_from(data_dir, t.path(source).resolve()) for t in tracks})
        write_table(data_dir / "utt2dur", {t.key: common.format_duration(frames[t.key], rate) for t in tracks})
        write_table(data_dir / "utt2track", {t.key: t.name for t in tracks})
        write_text_atomic(data_dir / "stems", "".join(f"{s}\n" for s in STEMS))
    common.finish_run(out, params, {
        "sample_rate": rate,
        "tracks": {split: len(t) for split, t in splits.items()},
        "hours": {split: round(sum(frames[x.key] for x in t) / rate / 3600, 3) for split, t in splits.items()},
    })
    return out
