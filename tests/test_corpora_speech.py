"""The eSpeak binding and the offline speech corpus: determinism, resume, held-out speakers, vocabulary."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from audiokit.audio.io import info, load
from audiokit.corpora import CORPORA, espeak, make_fx, make_speech
from audiokit.corpora.common import CorpusError, item_rng
from audiokit.corpora.speech import VOCABULARY, random_digits, random_sentence, split_voices
from audiokit.data.kaldi import DataDir
from audiokit.data.validate import validate_data_dir

SIZES = {"train": (6, 3), "dev": (2, 1), "test": (3, 2)}


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_speech(tmp_path_factory.mktemp("speech") / "a", sizes=SIZES, seed=0, progress=False)


# ------------------------------------------------------------------------------------------- espeak
def test_espeak_is_deterministic_whatever_came_before():
    first, rate = espeak.synthesize("seven three nine one", "en-us+m3", rate=170, pitch=40)
    espeak.synthesize("the quick brown fox", "en-gb-scotland+klatt", rate=250, pitch=80)
    espeak.synthesize("whispered words", "en+whisper")  # breath noise draws random numbers
    second, _ = espeak.synthesize("seven three nine one", "en-us+m3", rate=170, pitch=40)
    assert rate == 22050 and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    assert 0.05 < np.max(np.abs(first)) <= 1.0 and len(first) > 0.5 * rate


def test_espeak_parameters_change_the_sound():
    base, _ = espeak.synthesize("seven three", "en+m3")
    other_voice, _ = espeak.synthesize("seven three", "en+f3")
    faster, _ = espeak.synthesize("seven three", "en+m3", rate=300)
    assert len(faster) < 0.8 * len(base)
    n = min(len(base), len(other_voice))
    assert not np.array_equal(base[:n], other_voice[:n])


def test_espeak_errors_are_clear():
    with pytest.raises(espeak.EspeakError, match="unknown voice 'xx-nope'"):
        espeak.synthesize("hello", "xx-nope")
    with pytest.raises(espeak.EspeakError, match="pitch=101"):
        espeak.synthesize("hello", "en", pitch=101)


def test_espeak_lists_voices_and_variants():
    accents = {v.language for v in espeak.list_voices("en")}
    assert {"en-us", "en-gb-scotland", "en-029"} <= accents
    variants = espeak.list_variants()
    assert {"m3", "f3", "klatt", "whisper"} <= set(variants) and len(variants) > 80


# ---------------------------------------------------------------------------------------- grammar
def test_grammar_uses_only_the_vocabulary():
    rng = item_rng(0, "grammar-test")
    words = set()
    for _ in range(3000):
        words.update(random_sentence(rng).split())
        words.update(random_digits(rng).split())
    assert words <= VOCABULARY
    assert len(words) > 0.8 * len(VOCABULARY)  # the grammar reaches most of it
    assert 250 <= len(VOCABULARY) <= 600


# ----------------------------------------------------------------------------------------- corpus
def test_registry():
    from audiokit.corpora.ambisonics import make_ambisonics
    from audiokit.corpora.music import make_music

    assert CORPORA == {"speech": make_speech, "fx": make_fx, "music": make_music, "ambisonics": make_ambisonics}


def test_layout_and_tables(corpus):
    for split, (num_utts, num_spks) in SIZES.items():
        d = DataDir(corpus / split)
        assert validate_data_dir(corpus / split) == []
        keys = d.keys()
        assert len(keys) == num_utts
        utt2spk = d.table("utt2spk").entries
        assert len(set(utt2spk.values())) == num_spks
        assert all(utt.startswith(spk + "-") for utt, spk in utt2spk.items())  # speaker-prefixed ids
        durations = d.durations()
        for utt in keys:
            assert d.table("wav.scp")[utt] == f"../wav/{utt}.wav"  # relative to the data dir
            meta = info(d.audio(utt).path)
            assert meta.sample_rate == 16000 and meta.channels == 1 and meta.subtype == "PCM_16"
            assert abs(meta.duration - durations[utt]) < 1e-3
            wav, _ = load(d.audio(utt).path)
            peak_db = 20 * np.log10(float(wav.abs().max()))
            assert -20.5 < peak_db < -1.5  # peak-normalised to -20..-2 dBFS
            assert 0.5 < meta.duration < 10.0


def test_held_out_speakers_are_disjoint(corpus):
    speakers = {s: set(DataDir(corpus / s).table("utt2spk").entries.values()) for s in SIZES}
    assert not speakers["train"] & speakers["dev"]
    assert not speakers["train"] & speakers["test"]
    assert not speakers["dev"] & speakers["test"]
    # and at corpus scale: the full size's split of voices is disjoint too
    voices = split_voices(0, {"train": 400, "dev": 40, "test": 40})
    assert sum(map(len, voices.values())) == len(set().union(*voices.values())) == 480


def test_text_is_uppercase_vocabulary(corpus):
    for split in SIZES:
        for text in DataDir(corpus / split).table("text").entries.values():
            assert text == text.upper() and text.split()
            assert set(text.split()) <= VOCABULARY


def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    again = make_speech(tmp_path / "b", sizes=SIZES, seed=0, progress=False)
    assert tree_hashes(again) == tree_hashes(corpus)
    other = make_speech(tmp_path / "c", sizes=SIZES, seed=1, progress=False)
    a, c = tree_hashes(corpus), tree_hashes(other)
    assert a.keys() != c.keys() or all(a[k] != c[k] for k in a if k.startswith("wav/"))
    assert (corpus / "train" / "text").read_text() != (other / "train" / "text").read_text()


def test_resume_recreates_a_missing_file_identically(corpus, tmp_path):
    work = tmp_path / "resume"
    shutil.copytree(corpus, work)
    before, stamps = tree_hashes(work), mtimes(work)
    victim = sorted((work / "wav").iterdir())[3]
    victim.unlink()
    (work / ".done").unlink()  # an interrupted run has no .done marker yet
    make_speech(work, sizes=SIZES, seed=0, progress=False)
    assert tree_hashes(work) == before
    after = mtimes(work)
    untouched = [k for k in stamps if k.startswith("wav/") and k != f"wav/{victim.name}"]
    assert untouched and all(after[k] == stamps[k] for k in untouched)


def test_finished_corpus_returns_at_once_and_other_params_are_refused(corpus):
    stamps = mtimes(corpus)
    assert make_speech(corpus, sizes=SIZES, seed=0, progress=False) == corpus
    assert mtimes(corpus) == stamps
    with pytest.raises(CorpusError, match="pick another output directory"):
        make_speech(corpus, sizes=SIZES, seed=1, progress=False)
    with pytest.raises(CorpusError, match="size must be one of"):
        make_speech(corpus.parent / "x", size="huge", progress=False)


def test_refuses_a_non_corpus_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError, match="not empty"):
        make_speech(tmp_path, sizes=SIZES, progress=False)
