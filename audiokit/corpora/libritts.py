"""LibriTTS (Zen, Dang, Clark, Zhang, Weiss, Jia, Chen & Wu, Interspeech 2019): about 585 hours of
LibriSpeech's source recordings re-cut at sentence breaks for speech synthesis, 24 kHz WAV, with the
original and the normalized text of every utterance; OpenSLR resource 60.

Each part is one archive, ``https://www.openslr.org/resources/60/<part>.tar.gz``, that unpacks to::

    LibriTTS/
      SPEAKERS.txt  (and the corpus' other metadata files)
      <part>/<speaker>/<chapter>/
        <speaker>_<chapter>_<paragraph>_<sentence>.wav     e.g. dev-clean/84/121123/84_121123_000007_000001.wav
        <speaker>_<chapter>_<paragraph>_<sentence>.normalized.txt   the normalized text, one line
        <speaker>_<chapter>_<paragraph>_<sentence>.original.txt     the book's text
        <speaker>_<chapter>.trans.tsv, <speaker>_<chapter>.book.tsv   per-chapter tables (not read here)

Sources: torchaudio's ``torchaudio/datasets/libritts.py`` (the archives unpack under ``LibriTTS/<part>``;
globs ``*/*/*.wav`` and splits every file id into exactly four ``_`` fields, speaker, chapter, segment and
utterance; reads ``<id>.normalized.txt`` and ``<id>.original.txt``), ESPnet's
``egs/libritts/tts1/local/data_prep.sh`` (numeric reader and chapter folders, the text of ``<id>.wav`` from
``<id>.normalized.txt``, genders from ``LibriTTS/SPEAKERS.txt`` in LibriSpeech's format) and lhotse's
``lhotse/recipes/libritts.py`` (the example path and ``SPEAKERS.txt``). Parts: ``dev-clean``, ``dev-other``,
``test-clean``, ``test-other``, ``train-clean-100``, ``train-clean-360``, ``train-other-500``.

:func:`prepare_libritts` writes one Kaldi data dir per part, as :func:`audiokit.corpora.librispeech.
prepare_librispeech` does: ``wav.scp`` (the WAV files where they are), ``text`` (the normalized text),
``utt2spk``/``spk2utt`` (speaker = the reader id), ``utt2dur`` (from the WAV headers) and ``spk2gender``
(when ``SPEAKERS.txt`` is there). Utterance ids are the file names (``84_121123_000007_000001``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from audiokit.corpora.librispeech import ReaderCorpus, Utterance, download_parts, prepare_parts

__all__ = ["download_libritts", "prepare_libritts", "PARTS", "DEFAULT_PARTS", "ARCHIVE_MD5"]

FORMAT_VERSION = 1
CORPUS_DIR = "LibriTTS"
BASE_URL = "https://www.openslr.org/resources/60"
PARTS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
         "train-other-500")
DEFAULT_PARTS = ("dev-clean", "test-clean", "train-clean-100")

# md5 of each archive: torchaudio's libritts.py _CHECKSUMS as it stood before pytorch/audio pull request
# #2073 (which turned three of them into sha256 digests and kept the md5 of test-other and the train parts,
# e.g. train-clean-100 "4a8c202b..."); the same seven values appear in other download scripts for
# https://www.openslr.org/resources/60 (one states them as the files' "expected md5sums").
ARCHIVE_MD5 = {
    "dev-clean": "0c3076c1e5245bb3f0af7d82087ee207",
    "dev-other": "815555d8d75995782ac3ccd7f047213d",
    "test-clean": "7bed3bdb047c4c197f1ad3bc412db59f",
    "test-other": "ae3258249472a13b5abef2a816f733e4",
    "train-clean-100": "4a8c202b78fe1bc0c47916a98f3a2ea8",
    "train-clean-360": "a84ef10ddade5fd25df69596a2767b2d",
    "train-other-500": "7b181dd5ace343a5f38427999684aa6f",
}

_UTT = re.compile(r"(?P<speaker>\d+)_(?P<chapter>\d+)_(?P<paragraph>\d+)_(?P<sentence>\d+)")
_UTT_PATTERN = "<speaker>_<chapter>_<paragraph>_<sentence>"
_NORMALIZED = ".normalized.txt"


def _scan_chapter(folder: Path, speaker: str, chapter: str, problems: list[str]) -> list[Utterance]:
    """The WAV files of one chapter folder, each with its ``.normalized.txt``."""
    prefix = f"{speaker}_{chapter}_"
    utterances, texts = [], set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name.endswith(_NORMALIZED):
            texts.add(path.name[: -len(_NORMALIZED)])
            continue
        if path.suffix != ".wav":
            continue
        utt = path.stem
        if not (_UTT.fullmatch(utt) and utt.startswith(prefix)):
            problems.append(f"'{path}' does not follow the LibriTTS name {prefix}<paragraph>_<sentence>.wav of its "
                            f"folder ({_UTT_PATTERN}.wav in <speaker>/<chapter>/)")
            continue
        normalized = folder / f"{utt}{_NORMALIZED}"
        if not normalized.is_file():
            problems.append(f"'{normalized}' is missing (the transcript of '{path.name}')")
            continue
        text = " ".join(normalized.read_text(encoding="utf-8").split())
        if not text:
            problems.append(f"'{normalized}' is empty")
            continue
        utterances.append(Utterance(utt, speaker, path, text))
    for utt in sorted(texts - {path.stem for path in folder.glob("*.wav")}):
        problems.append(f"'{folder / (utt + _NORMALIZED)}' has no audio: '{folder / (utt + '.wav')}' is missing")
    return utterances


LIBRITTS = ReaderCorpus("LibriTTS", "libritts", CORPUS_DIR, PARTS, _scan_chapter, FORMAT_VERSION)


def download_libritts(root: str | os.PathLike, parts: Sequence[str] = DEFAULT_PARTS, progress: bool = True,
                      keep_archives: bool = True) -> Path:
    """Download and unpack LibriTTS ``parts`` under ``root`` (those already there are kept); return the
    ``LibriTTS`` folder.

    ``root/LibriTTS/<part>/`` is made from ``https://www.openslr.org/resources/60/<part>.tar.gz`` (checked
    against :data:`ARCHIVE_MD5`), with ``SPEAKERS.txt`` and the other metadata files beside the parts;
    ``root`` may also be the ``LibriTTS`` folder itself. See :func:`audiokit.corpora.librispeech.download_parts`.
    """
    return download_parts(LIBRITTS, root, parts, BASE_URL, ARCHIVE_MD5, progress, keep_archives)


def prepare_libritts(root: str | os.PathLike, out: str | os.PathLike, parts: Sequence[str] = DEFAULT_PARTS,
                     progress: bool = True) -> Path:
    """Write the Kaldi data dirs ``out/<part>`` of the LibriTTS ``parts`` under ``root``.

    Args:
        root: the folder holding ``LibriTTS/`` (where :func:`download_libritts` puts it) or the ``LibriTTS``
            folder itself.
        out: output folder (created; must be new, empty, or an earlier run with the same parts, which is then
            returned as is).
        parts: which parts (:data:`PARTS`); each must be there.
        progress: show a progress bar while reading the WAV headers.

    ``text`` holds the normalized text (``<id>.normalized.txt``). Every problem of the tree (missing parts,
    names that do not parse, WAV files without their text and the reverse, unreadable audio) is reported at
    once in a :class:`~audiokit.corpora.common.CorpusError` naming the files.
    """
    return prepare_parts(LIBRITTS, root, out, parts, progress)
