"""The offline chorale stem corpus: stems sum to the mixture, no clipping, split by piece and tune,
instruments and drums as drawn, determinism, resume."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

for _module in ("music21", "pretty_midi", "midirenderer"):
    pytest.importorskip(_module, reason=f"the music corpus needs '{_module}' (pip install audiokit[corpora])")

from audiokit.audio.io import info, load  # noqa: E402
from audiokit.corpora import CORPORA, music  # noqa: E402
from audiokit.corpora.common import CorpusError  # noqa: E402
from audiokit.data.kaldi import DataDir, read_table  # noqa: E402
from audiokit.data.validate import validate_data_dir  # noqa: E402

SIZES = {"train": (2, 2), "dev": 1, "test": 1}  # 6 tracks: two train pieces rendered twice
CLIP_SECONDS = 3.0
SAMPLE_RATE = 44100
LENGTH = int(CLIP_SECONDS * SAMPLE_RATE)


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def make(out: Path, seed: int = 0) -> Path:
    return music.make_music(out, sizes=SIZES, seed=seed, clip_seconds=CLIP_SECONDS, progress=False)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("music") / "a")


def arrangements(corpus: Path, split: str) -> dict[str, dict[str, str]]:
    entries = read_table(corpus / split / "utt2arrangement").entries
    assert sorted(entries) == DataDir(corpus / split).keys()
    return {utt: dict(f.split("=", 1) for f in value.split()) for utt, value in entries.items()}


def pieces(corpus: Path, split: str) -> dict[str, str]:
    return read_table(corpus / split / "utt2piece").entries


def tracks(corpus: Path, split: str):
    """(utt, {stem: (C, T) float32 array}, mixture) of every track of a split."""
    d = DataDir(corpus / split)
    for utt in d.keys():
        stems = {s: load(d.audio(utt, f"{s}.scp").path)[0].numpy() for s in music.STEMS}
        yield utt, stems, load(d.audio(utt, "mixture.scp").path)[0].numpy()


def centroid_hz(x: np.ndarray, sample_rate: int) -> float:
    """Spectral centroid of the long-term magnitude spectrum (2048-point frames)."""
    frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::512] * np.hanning(2048)
    mag = np.abs(np.fft.rfft(frames, axis=-1)).mean(axis=0)
    freqs = np.fft.rfftfreq(2048, 1 / sample_rate)
    return float((mag * freqs).sum() / mag.sum())


# ------------------------------------------------------------------------------------------ layout
def test_registry_and_cli(monkeypatch, tmp_path):
    from audiokit import cli

    assert CORPORA["music"] is music.make_music
    calls = []
    monkeypatch.setitem(CORPORA, "music", lambda out, **kw: calls.append((out, kw)) or out)
    assert cli.main(["corpus", "make", "music", "--out", str(tmp_path / "m"), "--size", "small",
                     "--seed", "3", "-q"]) == 0
    assert calls == [(tmp_path / "m", {"size": "small", "seed": 3, "progress": False})]


def test_layout_validates(corpus):
    for split, size in SIZES.items():
        num_pieces, renditions = (size, 1) if isinstance(size, int) else size
        d = DataDir(corpus / split)
        assert validate_data_dir(corpus / split) == []
        assert (corpus / split / "stems").read_text().split() == list(music.STEMS)
        assert sorted(d.stems) == sorted([*music.STEMS, "mixture"])
        assert len(d.keys()) == num_pieces * renditions
        piece_of = pieces(corpus, split)
        for utt in d.keys():
            assert utt.rsplit("_r", 1)[0] == piece_of[utt]
            assert d.table("mixture.scp")[utt] == f"../wav/{utt}/mixture.wav"
            for stem in (*music.STEMS, "mixture"):
                meta = info(d.audio(utt, f"{stem}.scp").path)
                assert (meta.sample_rate, meta.num_frames, meta.channels, meta.subtype) == (
                    SAMPLE_RATE, LENGTH, 2, "FLOAT")
            assert float(d.table("utt2dur")[utt]) == CLIP_SECONDS


def test_validate_checks_the_stems_list(corpus, tmp_path):
    work = tmp_path / "dev"
    shutil.copytree(corpus / "dev", work)
    (work / "stems").write_text("soprano\nviolin\nmixture\n")
    messages = [p.message for p in validate_data_dir(work, check_audio=False)]
    assert messages == ["stem 'violin' has no violin.scp", "expected one new stem name (not 'mixture'), got 'mixture'"]


# -------------------------------------------------------------------------------------- the audio
def test_stems_sum_to_the_mixture_and_nothing_clips(corpus):
    for split in SIZES:
        arr = arrangements(corpus, split)
        for utt, stems, mixture in tracks(corpus, split):
            total = np.sum([s.astype(np.float64) for s in stems.values()], axis=0)
            assert np.max(np.abs(total - mixture)) < 1e-6
            # one factor put the largest peak (mixture or stem) at the drawn level, -6..-1 dBFS
            peak = max(float(np.max(np.abs(a))) for a in (mixture, *stems.values()))
            peak_db = float(arr[utt]["peak_db"])
            assert -6.0 <= peak_db <= -1.0
            assert abs(20 * np.log10(peak) - peak_db) < 1e-3
            assert np.max(np.abs(mixture)) < 1.0


def test_stems_are_silent_exactly_when_absent(corpus):
    seen = {"contrabass": set(), "drums": set()}
    for split in SIZES:
        arr = arrangements(corpus, split)
        for utt, stems, _ in tracks(corpus, split):
            for stem, audio in stems.items():
                absent = arr[utt][stem] == "none"
                rms_db = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-30)
                assert (not np.any(audio)) if absent else rms_db > -50, (utt, stem, rms_db)
                if stem in seen:
                    seen[stem].add(absent)
    assert seen == {"contrabass": {True, False}, "drums": {True, False}}  # this seed draws both cases


def test_each_track_has_distinct_programs_and_its_own_arrangement(corpus):
    rows = [a for split in SIZES for a in arrangements(corpus, split).values()]
    for a in rows:
        programs = [int(a[v]) for v in music.VOICES] + ([int(a["contrabass"])] if a["contrabass"] != "none" else [])
        assert len(set(programs)) == len(programs)
        assert all(int(a[v]) in music.ENSEMBLES[a["ensemble"]][v] for v in music.VOICES)
        assert 60 <= float(a["tempo_bpm"]) <= 110 and -4 <= int(a["transpose"]) <= 4
    # renditions of one piece are arranged independently
    assert len({(a["tempo_bpm"], a["transpose"], a["ensemble"]) for a in rows}) == len(rows)


def test_different_instruments_have_different_spectra():
    chorale = music.load_chorale(next(p for p in music.chorale_paths() if p.stem == "bwv10.7"))
    arrangement = music.Arrangement("band", {s: 0 for s in music.STEMS}, 90.0, 0, 0.0, {}, {}, -3.0)
    events = music._voice_events(np.random.default_rng(0), chorale.voices[0], arrangement, 0, 3.0)
    centroids = {}
    for program in (71, 73, 19, 64):  # clarinet, flute, church organ, soprano sax: the same soprano line
        audio = music.render_part(events, program, SAMPLE_RATE, 3 * SAMPLE_RATE, channels=1)[0]
        centroids[program] = centroid_hz(audio, SAMPLE_RATE)
    values = sorted(centroids.values())
    assert all(b / a > 1.15 for a, b in zip(values, values[1:])), centroids  # measured: 1.24 and more


def test_transposition_moves_the_pitch():
    chorale = music.load_chorale(next(p for p in music.chorale_paths() if p.stem == "bwv10.7"))
    arrangement = music.Arrangement("band", {s: 0 for s in music.STEMS}, 90.0, 0, 0.0, {}, {}, -3.0)
    base = music._voice_events(np.random.default_rng(0), chorale.voices[3], arrangement, 0, 5.0)
    down = music._voice_events(np.random.default_rng(0), chorale.voices[3], arrangement, -12, 5.0, lowest=28)
    assert [e[:2] for e in base] == [e[:2] for e in down]
    assert all(d[2] == b[2] - 12 or (b[2] - 12 < 28 and d[2] == b[2]) for b, d in zip(base, down))


def test_drums_follow_the_bars():
    # bwv104.6 opens with a one-beat pick-up in 4/4; at 60 bpm a quarter note lasts one second
    chorale = music.load_chorale(next(p for p in music.chorale_paths() if p.stem == "bwv104.6"))
    first = chorale.bars[0]
    assert (first.beat, first.beats) == (1.0, 4) and first.downbeat < first.onset
    arrangement = music.Arrangement("band", {s: 0 for s in music.STEMS}, 60.0, 0, 0.0, {}, {}, -3.0)
    events = music.drum_events(np.random.default_rng(1), chorale, arrangement, 12.0)
    downbeats = {b.downbeat for b in chorale.bars}
    kicks = sorted({start for start, _, pitch, _ in events if pitch == 36})
    snares = sorted({start for start, _, pitch, _ in events if pitch in (37, 38, 40)})
    assert kicks and snares
    assert all(k in downbeats or k - 2.0 in downbeats for k in kicks)  # beats 1 and 3
    assert all(s - 1.0 in downbeats or s - 3.0 in downbeats for s in snares)  # beats 2 and 4
    assert min(kicks) == first.onset + (first.end - first.onset)  # nothing strong in the pick-up bar
    assert all(start == round(start) or start * 2 == round(start * 2) for start, *_ in events)


# ---------------------------------------------------------------------------------------- splits
def test_split_by_piece_and_tune(corpus):
    piece_ids, tunes = {}, {}
    for split in SIZES:
        piece_ids[split] = set(pieces(corpus, split).values())
        tunes[split] = {a["tune"] for a in arrangements(corpus, split).values()}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not piece_ids[a] & piece_ids[b] and not tunes[a] & tunes[b]


def test_assignment_keeps_tunes_apart():
    # bwv10.7 and bwv324 harmonise the same tune: they can never land in different splits
    names = ("bwv10.7", "bwv324", "bwv1.6", "bwv102.7", "bwv104.6", "bwv11.6", "bwv248.12-2", "bwv114.7", "bwv258")
    paths = [p for p in music.chorale_paths() if p.stem in names]
    assert music.load_chorale(next(p for p in paths if p.stem == "bwv1.6")) is None  # not four parts
    tune = {p.stem: music.load_chorale(p).tune for p in paths if p.stem != "bwv1.6"}
    assert tune["bwv10.7"] == tune["bwv324"] and tune["bwv11.6"] == tune["bwv248.12-2"] != tune["bwv10.7"]
    placements = set()
    for seed in range(8):
        out = music.assign_pieces(seed, {"test": 2, "dev": 1, "train": None}, paths)
        split_of_tune = {}
        for split, chorales in out.items():
            for c in chorales:
                assert split_of_tune.setdefault(c.tune, split) == split
        placed = sorted((split, c.piece) for split, cs in out.items() for c in cs)
        assert "bwv1.6" not in {piece for _, piece in placed}
        placements.add(tuple(placed))
    assert len(placements) > 4  # the seed shuffles the pieces


# ------------------------------------------------------------------------------- determinism, resume
def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    assert tree_hashes(make(tmp_path / "b")) == tree_hashes(corpus)
    a, c = tree_hashes(corpus), tree_hashes(make(tmp_path / "c", seed=1))
    mixtures = [{v for k, v in h.items() if k.endswith("/mixture.wav")} for h in (a, c)]
    assert len(mixtures[0]) == 6 and mixtures[0].isdisjoint(mixtures[1])


def test_resume_recreates_missing_tracks_identically(corpus, tmp_path):
    work = tmp_path / "resume"
    shutil.copytree(corpus, work)
    before, stamps = tree_hashes(work), mtimes(work)
    utts = sorted(p.name for p in (work / "wav").iterdir())
    shutil.rmtree(work / "wav" / utts[0])  # a whole track
    (work / "wav" / utts[1] / "drums.wav").unlink()  # one stem of another
    (work / ".done").unlink()  # an interrupted run has no .done marker yet
    make(work)
    assert tree_hashes(work) == before
    after = mtimes(work)
    untouched = [k for k in stamps if k.startswith("wav/") and not k.startswith((f"wav/{utts[0]}/", f"wav/{utts[1]}/"))]
    assert untouched and all(after[k] == stamps[k] for k in untouched)


def test_finished_corpus_returns_at_once_and_bad_arguments_are_refused(corpus):
    stamps = mtimes(corpus)
    assert make(corpus) == corpus and mtimes(corpus) == stamps
    with pytest.raises(CorpusError, match="pick another output directory"):
        make(corpus, seed=1)
    with pytest.raises(CorpusError, match="size must be one of"):
        music.make_music(corpus.parent / "x", size="huge", progress=False)
    with pytest.raises(CorpusError, match="renditions in 1..8"):
        music.make_music(corpus.parent / "x", sizes={"train": (1, 0), "dev": 1, "test": 1}, progress=False)
    with pytest.raises(CorpusError, match="channels must be 1 or 2"):
        music.make_music(corpus.parent / "x", channels=6, progress=False)
    assert not (corpus.parent / "x").exists()

