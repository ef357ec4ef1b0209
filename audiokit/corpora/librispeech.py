"""LibriSpeech (Panayotov, Chen, Povey & Khudanpur, ICASSP 2015): about 1000 hours of read English
audiobooks from LibriVox, 16 kHz FLAC, OpenSLR resource 12.

Each part is one archive, ``https://www.openslr.org/resources/12/<part>.tar.gz``, that unpacks to::

    LibriSpeech/
      SPEAKERS.TXT  CHAPTERS.TXT  BOOKS.TXT  LICENSE.TXT  README.TXT    (in every part's archive)
      <part>/<speaker>/<chapter>/
        <speaker>-<chapter>-<utt>.flac      e.g. dev-clean/84/121123/84-121123-0000.flac
        <speaker>-<chapter>.trans.txt       a line per utterance: ``84-121123-0000 GO DO YOU HEAR``

Sources for the layout: Kaldi's ``egs/librispeech/s5/local/data_prep.sh`` (numeric ``<reader>/<chapter>``
folders, ``<reader>-<chapter>.trans.txt`` beside the FLAC files, ``SPEAKERS.TXT`` one level above the part
folders: ``;`` comment lines, then ``<id> | <sex> | <subset> | <minutes> | <name>``), torchaudio's
``torchaudio/datasets/librispeech.py`` (the file id splits on ``-`` into speaker, chapter and utterance;
the archives unpack under ``LibriSpeech/<part>``) and lhotse's ``lhotse/recipes/librispeech.py`` (the
transcript lines). Parts: ``dev-clean``, ``dev-other``, ``test-clean``, ``test-other``,
``train-clean-100``, ``train-clean-360``, ``train-other-500`` (the OpenSLR page: 337 MB, 314 MB, 346 MB,
328 MB, 6.3 GB, 23 GB and 30 GB).

:func:`prepare_librispeech` writes one Kaldi data dir per part (the speech layout of
:mod:`audiokit.data.kaldi`)::

    out/<part>/wav.scp          <utt> <path of the FLAC, relative to the data dir>
    out/<part>/text             <utt> GO DO YOU HEAR        (the corpus' upper-case transcript)
    out/<part>/utt2spk, spk2utt speaker = the reader id (Kaldi's recipe uses <reader>-<chapter>)
    out/<part>/utt2dur          seconds, from the FLAC headers
    out/<part>/spk2gender       <reader> m|f, when SPEAKERS.TXT is there
    out/.params.json, out/.done run markers (see audiokit.corpora.common)

Utterance ids are the file names (``84-121123-0000``), which start with the speaker id, so utterance and
speaker orders agree as Kaldi expects. The tables point at the files where they are (nothing is copied).

The download, the tree walk and the table writing are shared with LibriTTS
(:mod:`audiokit.corpora.libritts`), which is cut from the same recordings and ships the same way.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from audiokit.audio import io as audio_io
from audiokit.corpora import common
from audiokit.corpora.download import ArchiveError, download, extract
from audiokit.data.kaldi import write_table

__all__ = [
    "download_librispeech", "prepare_librispeech", "PARTS", "DEFAULT_PARTS", "ARCHIVE_MD5", "Utterance",
    "ReaderCorpus", "download_parts", "prepare_parts", "read_speakers",
]

FORMAT_VERSION = 1
CORPUS_DIR = "LibriSpeech"
BASE_URL = "https://www.openslr.org/resources/12"
PARTS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
         "train-other-500")
DEFAULT_PARTS = ("dev-clean", "test-clean", "train-clean-100")

# md5 of each archive as OpenSLR publishes it in https://www.openslr.org/resources/12/md5sum.txt, quoted
# identically by PaddlePaddle's DeepSpeech2 downloader (PaddlePaddle/models pull request #78,
# deep_speech_2/data/librispeech.py: MD5_DEV_CLEAN = "42e2...", ...) and other download scripts. torchaudio's
# librispeech.py lists sha256 digests of the same files instead (dev-clean: 76f87d09...).
ARCHIVE_MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}

# Kaldi's data_prep.sh reads LibriSpeech/SPEAKERS.TXT; LibriTTS ships the same table as SPEAKERS.txt (ESPnet's
# egs/libritts/tts1/local/data_prep.sh and lhotse's libritts.py read that name).
SPEAKERS_FILES = ("SPEAKERS.TXT", "SPEAKERS.txt")
_UTT = re.compile(r"(?P<speaker>\d+)-(?P<chapter>\d+)-(?P<index>\d+)")
_UTT_PATTERN = "<speaker>-<chapter>-<utt>"
_MAX_LISTED = 10


@dataclass(frozen=True)
class Utterance:
    """One audio file of a reader corpus with its transcript."""

    utt: str
    speaker: str
    path: Path
    text: str


@dataclass(frozen=True)
class ReaderCorpus:
    """What differs between LibriSpeech and LibriTTS for :func:`download_parts` / :func:`prepare_parts`.

    ``scan_chapter(folder, speaker, chapter, problems)`` lists the utterances of one
    ``<part>/<speaker>/<chapter>`` folder, appending (not raising) what is wrong with it.
    """

    name: str                 # "LibriSpeech": messages and the CLI name's spelling
    cli_name: str             # "librispeech": `audiokit corpus download <cli_name>`
    corpus_dir: str           # the archives' top-level folder
    parts: tuple[str, ...]    # every part the corpus has
    scan_chapter: Callable[[Path, str, str, list[str]], list[Utterance]]
    format_version: int


# ------------------------------------------------------------------------------------------ the tree
def check_parts(corpus: ReaderCorpus, parts: str | Sequence[str]) -> tuple[str, ...]:
    """``parts`` as a tuple without repeats; an error naming any that the corpus does not have."""
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    unknown = [p for p in parts if p not in corpus.parts]
    if unknown or not parts:
        raise common.CorpusError(f"unknown {corpus.name} part(s) {unknown if parts else '(none given)'}: expected "
                                 f"some of {', '.join(corpus.parts)}")
    return tuple(dict.fromkeys(parts))


def corpus_folder(corpus: ReaderCorpus, root: str | os.PathLike) -> Path:
    """Where the part folders are (or go): ``root/<corpus dir>`` if it exists, ``root`` itself if it holds a
    part folder or is named like the corpus dir, else ``root/<corpus dir>`` (which may not exist yet)."""
    root = Path(root)
    if (root / corpus.corpus_dir).is_dir():
        return root / corpus.corpus_dir
    if root.name == corpus.corpus_dir or any((root / p).is_dir() for p in corpus.parts):
        return root
    return root / corpus.corpus_dir


def read_speakers(path: Path, problems: list[str]) -> dict[str, str]:
    """``SPEAKERS.TXT`` -> {reader id: "m" | "f"}: ``;`` starts a comment line, the others read
    ``<id> | <sex> | <subset> | <minutes> | <name>`` (the name may itself hold ``|``)."""
    genders: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|", 2)]
        if len(fields) < 2 or not fields[0].isdigit() or fields[1].lower() not in ("m", "f"):
            problems.append(f"{path}:{n}: expected '<id> | <M or F> | <subset> | <minutes> | <name>', got {line!r}")
            continue
        genders[fields[0]] = fields[1].lower()
    return genders


def _subfolders(folder: Path) -> list[Path]:
    """Visible subfolders in name order (skips '.*' and '__MACOSX'-like ones)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _scan_part(corpus: ReaderCorpus, folder: Path, problems: list[str]) -> list[Utterance]:
    """Every utterance of ``<part>/<speaker>/<chapter>/``; problems are appended, not raised."""
    utterances: list[Utterance] = []
    speakers = _subfolders(folder)
    if not speakers:
        problems.append(f"'{folder}' holds no <speaker>/<chapter>/ folders")
    for speaker_dir in speakers:
        if not speaker_dir.name.isdigit():
            problems.append(f"'{speaker_dir}': expected a numeric speaker folder (<part>/<speaker>/<chapter>/)")
            continue
        chapters = _subfolders(speaker_dir)
        if not chapters:
            problems.append(f"'{speaker_dir}' holds no <chapter>/ folders")
        for chapter_dir in chapters:
            if not chapter_dir.name.isdigit():
                problems.append(f"'{chapter_dir}': expected a numeric chapter folder (<part>/<speaker>/<chapter>/)")
                continue
            utterances += corpus.scan_chapter(chapter_dir, speaker_dir.name, chapter_dir.name, problems)
    return utterances


def _scan_librispeech_chapter(folder: Path, speaker: str, chapter: str, problems: list[str]) -> list[Utterance]:
    """``<speaker>-<chapter>.trans.txt`` and the FLAC files beside it."""
    prefix = f"{speaker}-{chapter}-"
    audio: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix != ".flac" or path.name.startswith("."):
            continue
        if _UTT.fullmatch(path.stem) and path.stem.startswith(prefix):
            audio[path.stem] = path
        else:
            problems.append(f"'{path}' does not follow the LibriSpeech name {prefix}<utt>.flac of its folder "
                            f"({_UTT_PATTERN}.flac in <speaker>/<chapter>/)")
    trans = folder / f"{speaker}-{chapter}.trans.txt"
    if not trans.is_file():
        problems.append(f"'{trans}' is missing (the transcripts of the {len(audio)} FLAC file(s) in '{folder}')")
        return []
    utterances, listed = [], set()
    for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        utt, _, text = line.strip().partition(" ")
        text = " ".join(text.split())
        if not (_UTT.fullmatch(utt) and utt.startswith(prefix)):
            problems.append(f"{trans}:{n}: '{utt}' does not follow {prefix}<utt> ({_UTT_PATTERN})")
            continue
        listed.add(utt)
        if not text:
            problems.append(f"{trans}:{n}: '{utt}' has an empty transcript")
        elif utt not in audio:
            problems.append(f"{trans}:{n}: '{utt}' has no audio: '{folder / (utt + '.flac')}' is missing")
        else:
            utterances.append(Utterance(utt, speaker, audio[utt], text))
    for utt in sorted(audio.keys() - listed):
        problems.append(f"'{audio[utt]}' has no transcript in '{trans}'")
    return utterances


LIBRISPEECH = ReaderCorpus("LibriSpeech", "librispeech", CORPUS_DIR, PARTS, _scan_librispeech_chapter,
                           FORMAT_VERSION)


# ------------------------------------------------------------------------------------------ download
def download_parts(corpus: ReaderCorpus, root: str | os.PathLike, parts: Sequence[str], base_url: str,
                   md5: Mapping[str, str | None], progress: bool = True, keep_archives: bool = True) -> Path:
    """Download and unpack the missing ``parts`` of an OpenSLR reader corpus; return its folder.

    A part whose folder exists (see :func:`corpus_folder`) is used as is, with no network access. Otherwise
    ``<base_url>/<part>.tar.gz`` goes to ``<corpus folder>/../<cli name>-<part>.tar.gz`` (resuming a
    ``.part`` file, checked against ``md5[part]``), is unpacked beside it into a hidden folder (the archive
    holds ``<corpus dir>/<part>/`` and the corpus' metadata files), and ``<part>/`` is moved into the corpus
    folder with the metadata files not there yet. The archive is deleted afterwards unless ``keep_archives``.
    """
    parts = check_parts(corpus, parts)
    folder = corpus_folder(corpus, root)
    for part in parts:
        if (folder / part).is_dir():
            continue
        archive = download(f"{base_url}/{part}.tar.gz", folder.parent / f"{corpus.cli_name}-{part}.tar.gz",
                           md5=md5.get(part), progress=progress)
        staging = extract(archive, folder.parent / f".{corpus.cli_name}-{part}.unpacked", progress=progress)
        unpacked = staging / corpus.corpus_dir
        if not (unpacked / part).is_dir():
            found = sorted(p.name for p in staging.iterdir() if p.name != ".audiokit-extracted")
            raise ArchiveError(f"'{archive}' does not hold {corpus.corpus_dir}/{part}/ (its top level: "
                               f"{', '.join(found) or 'nothing'}); is it the {part} archive of {corpus.name}?")
        folder.mkdir(parents=True, exist_ok=True)
        for meta in sorted(unpacked.iterdir()):
            if meta.is_file() and not (folder / meta.name).exists():
                os.replace(meta, folder / meta.name)
        os.replace(unpacked / part, folder / part)  # the part appears whole or not at all
        shutil.rmtree(staging)
        if not keep_archives:
            archive.unlink()
    return folder


def download_librispeech(root: str | os.PathLike, parts: Sequence[str] = DEFAULT_PARTS, progress: bool = True,
                         keep_archives: bool = True) -> Path:
    """Download and unpack LibriSpeech ``parts`` under ``root`` (those already there are kept); return the
    ``LibriSpeech`` folder.

    ``root/LibriSpeech/<part>/`` is made from ``https://www.openslr.org/resources/12/<part>.tar.gz``
    (checked against :data:`ARCHIVE_MD5`), with ``SPEAKERS.TXT`` and the other metadata files beside the
    parts; ``root`` may also be the ``LibriSpeech`` folder itself. See :func:`download_parts`.
    """
    return download_parts(LIBRISPEECH, root, parts, BASE_URL, ARCHIVE_MD5, progress, keep_archives)


# ------------------------------------------------------------------------------------------ prepare
def _listing(items: list[str]) -> str:
    shown = "".join(f"\n  - {item}" for item in items[:_MAX_LISTED])
    return shown + (f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _relative(data_dir: Path, path: Path) -> str:
    """``path`` relative to ``data_dir``, both with links resolved (recipes link ``data/<part>`` to it)."""
    return common.relpath_from(data_dir, path.resolve())


def find_parts(corpus: ReaderCorpus, root: str | os.PathLike, parts: Sequence[str]) -> Path:
    """The corpus folder under ``root`` holding every one of ``parts``; an error naming the missing ones."""
    root = Path(root)
    parts = check_parts(corpus, parts)
    folder = corpus_folder(corpus, root)
    hint = (f"download them with `audiokit corpus download {corpus.cli_name} --root {root}` or "
            f"download_{corpus.cli_name}(root, parts=...)")
    if not folder.is_dir():
        raise common.CorpusError(f"no {corpus.name} folder under '{root}': expected '{root / corpus.corpus_dir}' "
                                 f"holding {', '.join(p + '/' for p in parts)} ({hint})")
    missing = [p for p in parts if not (folder / p).is_dir()]
    if missing:
        present = [p for p in corpus.parts if (folder / p).is_dir()]
        raise common.CorpusError(
            f"{corpus.name} part(s) missing: {', '.join(repr(str(folder / p)) for p in missing)} (found: "
            f"{', '.join(present) or 'no part'}; {hint})")
    return folder


def prepare_parts(corpus: ReaderCorpus, root: str | os.PathLike, out: str | os.PathLike, parts: Sequence[str],
                  progress: bool = True) -> Path:
    """Write the data dirs ``out/<part>`` of a reader corpus (see :func:`prepare_librispeech`).

    Every problem (missing part folders, names that do not parse, transcripts without audio and the
    reverse, unreadable audio, a part with two sample rates, readers missing from SPEAKERS.TXT) is reported
    in one :class:`~audiokit.corpora.common.CorpusError` before anything but the run marker is written.
    """
    parts = check_parts(corpus, parts)
    folder = find_parts(corpus, root, parts).resolve()
    out = Path(out)
    params = {"corpus": corpus.cli_name, "format_version": corpus.format_version, "corpus_dir": str(folder),
              "parts": sorted(parts)}
    if common.begin_run(out, params):
        return out

    problems: list[str] = []
    genders: dict[str, str] | None = None
    speakers_file = next((folder / n for n in SPEAKERS_FILES if (folder / n).is_file()), None)
    if speakers_file is not None:
        genders = read_speakers(speakers_file, problems)
    utterances = {part: _scan_part(corpus, folder / part, problems) for part in parts}
    for part, part_utts in utterances.items():
        if not part_utts and not any(str(folder / part) in p for p in problems):
            problems.append(f"'{folder / part}' holds no utterances")
    frames: dict[str, int] = {}
    rates: dict[str, dict[int, Path]] = {part: {} for part in parts}
    with common.progress_bar(sum(len(u) for u in utterances.values()), f"{corpus.cli_name} headers",
                             progress) as bar:
        for part, part_utts in utterances.items():
            for u in part_utts:
                try:
                    meta = audio_io.info(u.path)
                except audio_io.AudioError as e:
                    problems.append(str(e))
                else:
                    if meta.num_frames == 0:
                        problems.append(f"'{u.path}' is empty")
                    frames[u.utt] = meta.num_frames
                    rates[part].setdefault(meta.sample_rate, u.path)
                bar.update(1)
    for part, seen in rates.items():
        if len(seen) > 1:
            problems.append(f"{part}: files differ in sample rate: "
                            f"{', '.join(f'{r} Hz ({p})' for r, p in seen.items())}")
    if genders is not None:
        unknown = sorted({u.speaker for us in utterances.values() for u in us} - genders.keys(), key=int)
        if unknown:
            problems.append(f"reader(s) {', '.join(unknown)} are not in '{speakers_file}'")
    if problems:
        raise common.CorpusError(f"{corpus.name} tree '{folder}': {len(problems)} problem(s):{_listing(problems)}")

    for part, part_utts in utterances.items():
        (rate,) = rates[part]
        data_dir = (out / part).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        spk2utt: dict[str, list[str]] = {}
        for u in part_utts:
            spk2utt.setdefault(u.speaker, []).append(u.utt)
        write_table(data_dir / "wav.scp", {u.utt: _relative(data_dir, u.path) for u in part_utts})
        write_table(data_dir / "text", {u.utt: u.text for u in part_utts})
        write_table(data_dir / "utt2spk", {u.utt: u.speaker for u in part_utts})
        write_table(data_dir / "spk2utt", {spk: " ".join(sorted(utts)) for spk, utts in spk2utt.items()})
        write_table(data_dir / "utt2dur", {u.utt: common.format_duration(frames[u.utt], rate) for u in part_utts})
        if genders is not None:
            write_table(data_dir / "spk2gender", {spk: genders[spk] for spk in spk2utt})
    common.finish_run(out, params, {
        "sample_rate": {part: next(iter(r)) for part, r in rates.items()},
        "utterances": {part: len(u) for part, u in utterances.items()},
        "speakers": {part: len({x.speaker for x in u}) for part, u in utterances.items()},
        "hours": {part: round(sum(frames[x.utt] / next(iter(rates[part])) for x in u) / 3600, 3)
                  for part, u in utterances.items()},
    })
    return out


def prepare_librispeech(root: str | os.PathLike, out: str | os.PathLike, parts: Sequence[str] = DEFAULT_PARTS,
                        progress: bool = True) -> Path:
    """Write the Kaldi data dirs ``out/<part>`` of the LibriSpeech ``parts`` under ``root``.

    Args:
        root: the folder holding ``LibriSpeech/`` (where :func:`download_librispeech` puts it) or the
            ``LibriSpeech`` folder itself.
        out: output folder (created; must be new, empty, or an earlier run with the same parts, which is then
            returned as is).
        parts: which parts (:data:`PARTS`); each must be there.
        progress: show a progress bar while reading the FLAC headers.

    Writes ``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``, ``utt2dur`` and, when ``SPEAKERS.TXT`` is
    there, ``spk2gender`` per part (see the module docstring). Every problem of the tree is reported at once
    in a :class:`~audiokit.corpora.common.CorpusError` naming the files.
    """
    return prepare_parts(LIBRISPEECH, root, out, parts, progress)
