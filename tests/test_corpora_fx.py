"""The offline effect corpus: real pedalboard targets, held-out knob ranges, determinism, resume."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from audiokit.audio.io import info, load
from audiokit.corpora import fx
from audiokit.corpora.common import CorpusError, item_rng
from audiokit.corpora.speech import split_voices
from audiokit.data.kaldi import DataDir
from audiokit.data.validate import validate_data_dir

SIZES = {"train": 6, "dev": 2, "test": 4}
CLIP_SECONDS = 1.0
SAMPLE_RATE = 44100


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def make(out: Path, seed: int = 0) -> Path:
    return fx.make_fx(out, sizes=SIZES, seed=seed, clip_seconds=CLIP_SECONDS, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("fx") / "a")


def clips(corpus: Path, effect: str, split: str):
    """(utt, input, target, params) of every clip of a split, audio as 1-D float32 arrays."""
    d = DataDir(corpus / effect / split)
    for utt in d.keys():
        x, _ = load(d.audio(utt, "input.scp").path)
        y, _ = load(d.audio(utt, "target.scp").path)
        yield utt, x[0].numpy(), y[0].numpy(), d.params(utt)


# ------------------------------------------------------------------------------------------ layout
def test_layout_tables_and_schema(corpus):
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    for effect, schema in (("compressor", fx.COMPRESSOR_KNOBS), ("distortion", fx.DISTORTION_KNOBS)):
        for split, n in SIZES.items():
            d = DataDir(corpus / effect / split)
            assert validate_data_dir(corpus / effect / split) == []
            assert len(d.keys()) == n and d.knob_schema() == schema
            assert json.loads((corpus / effect / split / "knobs.json").read_text()) == schema.to_json()
            for utt in d.keys():
                assert d.table("input.scp")[utt] == f"../wav/{utt}_input.wav"
                for table in ("input.scp", "target.scp"):
                    meta = info(d.audio(utt, table).path)
                    assert (meta.sample_rate, meta.num_frames, meta.channels, meta.subtype) == (
                        SAMPLE_RATE, length, 1, "FLOAT")
                assert set(d.params(utt)) == set(schema.names)
    # the same clip id has the same dry input in both effects
    a = (corpus / "compressor" / "wav" / "train-00000_input.wav").read_bytes()
    assert a == (corpus / "distortion" / "wav" / "train-00000_input.wav").read_bytes()


def test_input_levels_span_the_range(corpus):
    peaks = [20 * np.log10(np.max(np.abs(x)))
             for split in SIZES for _, x, _, _ in clips(corpus, "compressor", split)]
    assert all(-30.01 <= p <= -0.99 for p in peaks)
    assert max(peaks) - min(peaks) > 10


# ----------------------------------------------------------------------------------------- targets
def test_compressor_target_is_pedalboard_on_the_input(corpus):
    for split in SIZES:
        for utt, x, y, p in clips(corpus, "compressor", split):
            comp = pedalboard.Compressor(threshold_db=p["threshold_db"], ratio=p["ratio"],
                                         attack_ms=p["attack_ms"], release_ms=p["release_ms"])
            ref = comp(x[None], SAMPLE_RATE, reset=True)[0]
            assert np.max(np.abs(ref - y)) < 1e-6, utt
            assert np.max(np.abs(y)) <= np.max(np.abs(x)) + 1e-7  # a compressor never makes louder


def test_distortion_target_is_pedalboard_on_the_input(corpus):
    for split in SIZES:
        for utt, x, y, p in clips(corpus, "distortion", split):
            board = pedalboard.Pedalboard([
                pedalboard.Distortion(drive_db=p["drive_db"]),
                pedalboard.LowpassFilter(cutoff_frequency_hz=500.0 * 24.0 ** p["tone"]),
                pedalboard.Gain(gain_db=-(1.0 + 0.5 * p["drive_db"])),
            ])
            ref = board(x[None], SAMPLE_RATE, reset=True)[0]
            assert np.max(np.abs(ref - y)) < 1e-6, utt
            assert np.max(np.abs(y)) < 1.0
            if p["drive_db"] >= 20:  # not a gain change: a least-squares gain leaves > 1% residual energy
                g = float(np.dot(x, y) / np.dot(x, x))
                assert np.sum((y - g * x) ** 2) / np.sum(y**2) > 0.01, utt


def test_compressor_reaches_the_static_curve():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # -6 dBFS peak
    for threshold, ratio in ((-30.0, 4.0), (-20.0, 2.0), (-30.0, 20.0)):
        y = fx.apply_effect("compressor", x, SAMPLE_RATE,
                            {"threshold_db": threshold, "ratio": ratio, "attack_ms": 5.0, "release_ms": 50.0})
        steady_db = 20 * np.log10(np.max(np.abs(y[SAMPLE_RATE // 2 :])))
        expected_db = threshold + (20 * np.log10(0.5) - threshold) / ratio
        assert abs(steady_db - expected_db) < 1.5, (threshold, ratio, steady_db, expected_db)


def test_distortion_adds_harmonics_with_drive():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    def third_harmonic_db(drive_db):
        y = fx.apply_effect("distortion", x, SAMPLE_RATE, {"drive_db": drive_db, "tone": 1.0})
        spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))  # 1 Hz bins
        return 20 * np.log10(spectrum[1320] / spectrum[440])

    assert third_harmonic_db(30.0) > -15.0
    assert third_harmonic_db(0.0) < -25.0


def test_processors_have_no_latency():
    rng = np.random.default_rng(0)
    x = np.zeros(4096, np.float32)
    x[1000] = 1e-3
    for effect in fx.EFFECTS:
        for _ in range(5):
            params = fx.sample_knobs(fx.EFFECTS[effect].knobs, rng, "train")
            y = fx.apply_effect(effect, x, SAMPLE_RATE, params)
            assert y.shape == x.shape
            assert np.all(y[:1000] == 0) and y[1000] != 0, (effect, params)


# ----------------------------------------------------------------------------------- held-out knobs
def test_held_out_intervals_respected_in_corpus(corpus):
    for effect in ("compressor", "distortion"):
        schema = fx.EFFECTS[effect].knobs
        for split in SIZES:
            d = DataDir(corpus / effect / split)
            for utt in d.keys():
                inside = fx.held_out_knobs(schema, d.params(utt))
                assert bool(inside) == (split == "test"), (effect, split, utt, d.params(utt))


def test_knob_sampling_respects_intervals_at_scale():
    lo, hi = fx.HELD_OUT
    for schema in (fx.COMPRESSOR_KNOBS, fx.DISTORTION_KNOBS):
        rng = item_rng(0, "knob-test")
        train = [schema.normalize(fx.sample_knobs(schema, rng, "train")).numpy() for _ in range(1000)]
        test = [schema.normalize(fx.sample_knobs(schema, rng, "test")).numpy() for _ in range(1000)]
        train, test = np.stack(train), np.stack(test)
        inside_train = (train >= lo) & (train <= hi)
        inside_test = (test >= lo) & (test <= hi)
        assert not inside_train.any()
        assert inside_test.any(axis=1).all()
        # train covers both sides of the gap, for every knob
        assert ((train < lo).mean(axis=0) > 0.3).all() and ((train > hi).mean(axis=0) > 0.3).all()
        # every knob is the held-out one in some test clips
        assert (inside_test.mean(axis=0) > 0.2).all()


def test_recorded_params_reproduce_exactly():
    rng = item_rng(1, "params-test")
    for schema in (fx.COMPRESSOR_KNOBS, fx.DISTORTION_KNOBS):
        for _ in range(100):
            p = fx.sample_knobs(schema, rng, "train")
            assert all(float(f"{v:.6g}") == v for v in p.values())


def test_test_dry_audio_is_disjoint_from_train():
    voices = split_voices(0, fx._FX_VOICES, salt="fx")
    assert not set(voices["test"]) & set(voices["train"])
    assert not set(voices["dev"]) & set(voices["train"])


@pytest.mark.parametrize("material", fx.MATERIALS)
def test_dry_materials(material):
    length = SAMPLE_RATE
    x = fx.make_dry(material, item_rng(0, "dry-test", material), SAMPLE_RATE, length)
    y = fx.make_dry(material, item_rng(0, "dry-test", material), SAMPLE_RATE, length)
    assert x.dtype == np.float32 and x.shape == (length,)
    np.testing.assert_array_equal(x, y)
    peak_db = 20 * np.log10(np.max(np.abs(x)))
    assert -30.01 <= peak_db <= -0.99
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 10 ** (-60 / 20)  # not near-silent


# ------------------------------------------------------------------------------- determinism, resume
def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    assert tree_hashes(make(tmp_path / "b")) == tree_hashes(corpus)
    a, c = tree_hashes(corpus), tree_hashes(make(tmp_path / "c", seed=1))
    wavs = [k for k in a if k.endswith(".wav")]
    assert wavs and all(a[k] != c[k] for k in wavs)


def test_resume_recreates_a_missing_file_identically(corpus, tmp_path):
    work = tmp_path / "resume"
    shutil.copytree(corpus, work)
    before, stamps = tree_hashes(work), mtimes(work)
    victim = work / "compressor" / "wav" / "test-00001_target.wav"
    victim.unlink()
    (work / ".done").unlink()  # an interrupted run has no .done marker yet
    make(work)
    assert tree_hashes(work) == before
    after = mtimes(work)
    untouched = [k for k in stamps if k.endswith(".wav") and not k.endswith("test-00001_target.wav")]
    assert all(after[k] == stamps[k] for k in untouched)


def test_finished_corpus_returns_at_once_and_other_params_are_refused(corpus):
    stamps = mtimes(corpus)
    assert make(corpus) == corpus and mtimes(corpus) == stamps
    with pytest.raises(CorpusError, match="effects"):
        fx.make_fx(corpus, sizes=SIZES, clip_seconds=CLIP_SECONDS, effects=("compressor",), progress=False)
    with pytest.raises(CorpusError, match="unknown effect 'reverb'"):
        fx.make_fx(corpus.parent / "x", effects=("reverb",), progress=False)
