"""LibriSpeech, LibriTTS and MUSDB18-HQ on fake trees with the real folder layout and file names (a few
hundred ms of noise per file, written here): preparation into validated data dirs with the right
transcripts, speakers and stems; clear errors naming the paths for broken trees; and the downloaders end
to end against a local HTTP server serving tiny archives with the real top-level layout."""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit.corpora import DOWNLOADERS, PREPARERS, common, librispeech, libritts, musdb18hq
from audiokit.corpora import download as download_module
from audiokit.corpora.download import ArchiveError, DownloadError
from audiokit.data.kaldi import DataDir, read_table
from audiokit.data.validate import validate_data_dir


def _noise(path: Path, seconds: float, rate: int, channels: int = 1, seed: int = 0, **kwargs) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = 0.1 * rng.standard_normal((int(round(seconds * rate)), channels))  # (T, C), soundfile's order
    sf.write(path, data, rate, subtype="PCM_16", **kwargs)


def _tar_gz(members: dict[str, Path]) -> bytes:
    """A tar.gz holding each folder or file under its archive name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for arcname, path in members.items():
            tar.add(path, arcname=arcname)
    return buf.getvalue()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------------------------ LibriSpeech
# part -> speaker -> chapter -> [(utterance index, transcript, seconds)]; ids as in the real corpus
# (e.g. dev-clean/84/121123/84-121123-0000.flac)
LIBRISPEECH = {
    "dev-clean": {"84": {"121123": [(0, "GO DO YOU HEAR", 0.30), (1, "BUT IN LESS THAN FIVE MINUTES", 0.25)]},
                  "174": {"50561": [(3, "FORGOTTEN TOO THE NAME OF GILLIAN", 0.20)]}},
    "test-clean": {"1089": {"134686": [(0, "HE HOPED THERE WOULD BE STEW", 0.35)],
                            "134691": [(12, "A COLD LUCID INDIFFERENCE", 0.20)]}},
    "train-clean-100": {"19": {"198": [(1, "NORTHANGER ABBEY", 0.25), (2, "CHAPTER ONE", 0.30)]}},
}
# LibriSpeech's SPEAKERS.TXT format (Kaldi's data_prep.sh and lhotse parse it): ';' comments, then
# "<id> | <sex> | <subset> | <minutes> | <name>"; a name may hold '|'.
SPEAKERS_TXT = """\
; Some readers of the corpus
;ID  |SEX| SUBSET           |MINUTES| NAME
19   | F | train-clean-100  | 25.19 | Kara Shallenberg
84   | F | dev-clean        |  8.02 | Christie Nowak
174  | M | dev-clean        |  8.04 | Peter Eastman
1089 | M | test-clean       |  8.00 | Reader |Pipe| Name
"""
GENDERS = {"19": "f", "84": "f", "174": "m", "1089": "m"}


def make_librispeech(root: Path, tree=LIBRISPEECH, speakers: bool = True) -> Path:
    corpus = root / "LibriSpeech"
    for p, (part, speakers_) in enumerate(tree.items()):
        for speaker, chapters in speakers_.items():
            for chapter, utts in chapters.items():
                folder = corpus / part / speaker / chapter
                lines = []
                for i, (index, text, seconds) in enumerate(utts):
                    utt = f"{speaker}-{chapter}-{index:04d}"
                    _noise(folder / f"{utt}.flac", seconds, 16000, seed=100 * p + i)
                    lines.append(f"{utt} {text}\n")
                (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")
    if speakers:
        (corpus / "SPEAKERS.TXT").write_text(SPEAKERS_TXT, encoding="utf-8")
    return corpus


def test_librispeech_prepare_writes_valid_dirs_with_transcripts_speakers_and_genders(tmp_path):
    corpus = make_librispeech(tmp_path / "corpora")
    out = librispeech.prepare_librispeech(tmp_path / "corpora", tmp_path / "data", progress=False)
    for part, speakers in LIBRISPEECH.items():
        d = out / part
        assert validate_data_dir(d) == [], part
        data = DataDir(d)
        expected = {f"{s}-{c}-{i:04d}": (s, text, seconds) for s, chapters in speakers.items()
                    for c, utts in chapters.items() for i, text, seconds in utts}
        assert data.keys() == sorted(expected)
        for utt, (speaker, text, seconds) in expected.items():
            assert data.table("text")[utt] == text
            assert data.table("utt2spk")[utt] == speaker
            assert float(data.table("utt2dur")[utt]) == pytest.approx(seconds, abs=1e-4)
            flac = data.audio(utt).path
            assert flac.suffix == ".flac" and flac.resolve() == (corpus / part / speaker / flac.parent.name /
                                                                 f"{utt}.flac").resolve()
        assert {s: data.table("spk2utt")[s].split() for s in speakers} == {
            s: sorted(u for u, v in expected.items() if v[0] == s) for s in speakers}
        assert (d / "spk2gender").read_text() == "".join(f"{s} {GENDERS[s]}\n" for s in sorted(speakers))
    # a re-run returns the finished dirs; the LibriSpeech folder itself works as root too
    assert librispeech.prepare_librispeech(tmp_path / "corpora", out, progress=False) == out
    again = librispeech.prepare_librispeech(corpus, tmp_path / "data2", parts=["test-clean"], progress=False)
    assert (again / "test-clean" / "text").read_text() == (out / "test-clean" / "text").read_text()
    assert sorted(p.name for p in again.iterdir() if not p.name.startswith(".")) == ["test-clean"]


def test_librispeech_without_speakers_txt_has_no_spk2gender(tmp_path):
    make_librispeech(tmp_path, {"dev-clean": LIBRISPEECH["dev-clean"]}, speakers=False)
    out = librispeech.prepare_librispeech(tmp_path, tmp_path / "data", parts=("dev-clean",), progress=False)
    assert validate_data_dir(out / "dev-clean") == [] and not (out / "dev-clean" / "spk2gender").exists()


def test_librispeech_missing_parts_and_unknown_names_are_named(tmp_path):
    with pytest.raises(common.CorpusError, match=r"no LibriSpeech folder under .*: expected .*LibriSpeech' "
                                                 r"holding dev-clean/, test-clean/, train-clean-100/"):
        librispeech.prepare_librispeech(tmp_path, tmp_path / "data", progress=False)
    make_librispeech(tmp_path, {"dev-clean": LIBRISPEECH["dev-clean"]})
    missing = (r"LibriSpeech part\(s\) missing: '.*LibriSpeech/test-clean', '.*LibriSpeech/train-clean-100' "
               r"\(found: dev-clean; download them with `audiokit corpus download librispeech")
    with pytest.raises(common.CorpusError, match=missing):
        librispeech.prepare_librispeech(tmp_path, tmp_path / "data", progress=False)
    with pytest.raises(common.CorpusError, match=r"unknown LibriSpeech part\(s\) \['dev_clean'\]: expected some of "):
        librispeech.prepare_librispeech(tmp_path, tmp_path / "data", parts=["dev_clean"], progress=False)


def test_librispeech_every_problem_of_a_part_is_reported_at_once(tmp_path):
    corpus = make_librispeech(tmp_path, {"dev-clean": LIBRISPEECH["dev-clean"]})
    chapter = corpus / "dev-clean" / "84" / "121123"
    (chapter / "84-121123-0001.flac").rename(chapter / "84-121123-one.flac")   # unparsable name
    (corpus / "dev-clean" / "174" / "50561" / "174-50561.trans.txt").unlink()   # transcripts gone
    _noise(corpus / "dev-clean" / "notes" / "1" / "x.flac", 0.1, 16000)           # not a speaker folder
    with open(chapter / "84-121123.trans.txt", "a", encoding="utf-8") as f:
        f.write("84-121123-0007 NO AUDIO FOR THIS ONE\n84_121123_0008 WRONG SEPARATOR\n")
    (corpus / "SPEAKERS.TXT").write_text(SPEAKERS_TXT.replace("84   | F", "84   | X"), encoding="utf-8")
    with pytest.raises(common.CorpusError) as err:
        librispeech.prepare_librispeech(tmp_path, tmp_path / "data", parts=["dev-clean"], progress=False)
    msg = str(err.value)
    assert "8 problem(s)" in msg
    assert "84-121123-one.flac' does not follow the LibriSpeech name 84-121123-<utt>.flac" in msg
    assert "174/50561/174-50561.trans.txt' is missing (the transcripts of the 1 FLAC file(s)" in msg
    assert "dev-clean/notes': expected a numeric speaker folder" in msg
    assert "84-121123.trans.txt:2: '84-121123-0001' has no audio: " in msg
    assert "84-121123.trans.txt:3: '84-121123-0007' has no audio: '" in msg and "84-121123-0007.flac' is missing" in msg
    assert "84-121123.trans.txt:4: '84_121123_0008' does not follow 84-121123-<utt>" in msg
    assert "SPEAKERS.TXT:4: expected '<id> | <M or F> |" in msg  # and reader 84 is then unknown:
    assert "reader(s) 84 are not in '" in msg
    assert not (tmp_path / "data" / "dev-clean").exists()


def _serve_librispeech_parts(server, tree: Path, corpus_dir: str, parts, extra_files=("SPEAKERS.TXT",)):
    """Serve ``<part>.tar.gz`` archives laid out as OpenSLR's (``<corpus dir>/<part>/...`` plus the metadata
    files); return the base URL and the archives' md5 digests."""
    md5s, url = {}, ""
    for part in parts:
        members = {f"{corpus_dir}/{part}": tree / corpus_dir / part}
        members.update({f"{corpus_dir}/{name}": tree / corpus_dir / name for name in extra_files})
        data = _tar_gz(members)
        url = server.serve(f"/resources/12/{part}.tar.gz", data)
        md5s[part] = _md5(data)
    return url.rsplit("/", 1)[0], md5s


def test_librispeech_download_fetches_checks_and_unpacks_each_part_then_prepares(tmp_path, server, monkeypatch):
    make_librispeech(tmp_path / "served")
    base, md5s = _serve_librispeech_parts(server, tmp_path / "served", "LibriSpeech", LIBRISPEECH)
    monkeypatch.setattr(librispeech, "BASE_URL", base)
    monkeypatch.setattr(librispeech, "ARCHIVE_MD5", md5s)
    root = tmp_path / "fresh"
    corpus = DOWNLOADERS["librispeech"](root, progress=False)  # the CLI's call: the default parts
    assert corpus == root / "LibriSpeech" and (corpus / "SPEAKERS.TXT").read_text() == SPEAKERS_TXT
    assert sorted(p.name for p in corpus.iterdir()) == ["SPEAKERS.TXT", "dev-clean", "test-clean", "train-clean-100"]
    assert sorted(path for path, _ in server.requests) == sorted(f"/resources/12/{p}.tar.gz" for p in LIBRISPEECH)
    assert sorted(p.name for p in root.iterdir()) == ["LibriSpeech"] + sorted(
        f"librispeech-{p}.tar.gz" for p in LIBRISPEECH)  # archives kept, no unpacking leftovers
    out = PREPARERS["librispeech"](root, tmp_path / "data", progress=False)
    assert all(validate_data_dir(out / part) == [] for part in LIBRISPEECH)
    first = (out / "dev-clean" / "text").read_text().splitlines()[0]
    assert first == "174-50561-0003 FORGOTTEN TOO THE NAME OF GILLIAN"
    # parts already there are not fetched again
    n = len(server.requests)
    assert librispeech.download_librispeech(root, parts=("dev-clean",), progress=False) == corpus
    assert len(server.requests) == n
    # an archive that does not match its checksum is refused and deleted
    monkeypatch.setitem(librispeech.ARCHIVE_MD5, "dev-other", "0" * 32)
    server.serve("/resources/12/dev-other.tar.gz", b"not the archive")
    with pytest.raises(DownloadError, match=r"checksum mismatch for 'librispeech-dev-other.tar.gz'"):
        librispeech.download_librispeech(root, parts=("dev-other",), progress=False)
    assert not (root / "librispeech-dev-other.tar.gz").exists() and not (corpus / "dev-other").exists()


def test_librispeech_download_refuses_an_archive_escaping_its_folder(tmp_path, server, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in (("LibriSpeech/dev-clean/84/121123/84-121123.trans.txt", b"84-121123-0000 HI\n"),
                              ("LibriSpeech/../../escaped.txt", b"gotcha")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    data = buf.getvalue()
    url = server.serve("/resources/12/dev-clean.tar.gz", data)
    monkeypatch.setattr(librispeech, "BASE_URL", url.rsplit("/", 1)[0])
    monkeypatch.setattr(librispeech, "ARCHIVE_MD5", {"dev-clean": _md5(data)})
    root = tmp_path / "deep" / "root"
    with pytest.raises(ArchiveError, match=r"member 'LibriSpeech/\.\./\.\./escaped\.txt' contains '\.\.'"):
        librispeech.download_librispeech(root, parts=["dev-clean"], progress=False)
    assert not list(tmp_path.rglob("escaped.txt")) and not (root / "LibriSpeech").exists()
    assert [p.name for p in root.iterdir()] == ["librispeech-dev-clean.tar.gz"]  # nothing unpacked


# ------------------------------------------------------------------------------------------ LibriTTS
# speaker -> chapter -> [(paragraph, sentence, normalized text, original text, seconds)], per part; names as
# in the real corpus (dev-clean/84/121123/84_121123_000007_000001.wav)
LIBRITTS = {
    "dev-clean": {"84": {"121123": [(7, 1, "Maximilian.", "Maximilian.", 0.30),
                                    (8, 0, "Villefort rose, half ashamed.", "Villefort rose, half ashamed.", 0.25)]},
                  "174": {"50561": [(2, 3, "It was the nineteenth of May.", "It was the 19th of May.", 0.20)]}},
    "test-clean": {"1089": {"134686": [(4, 0, "Mister Smith paid ten dollars.", "Mr. Smith paid $10.", 0.35)]}},
    "train-clean-100": {"19": {"198": [(1, 2, "Chapter one.", "CHAPTER I.", 0.25)]}},
}


def make_libritts(root: Path, tree=LIBRITTS) -> Path:
    corpus = root / "LibriTTS"
    for p, (part, speakers) in enumerate(tree.items()):
        for speaker, chapters in speakers.items():
            for chapter, utts in chapters.items():
                folder = corpus / part / speaker / chapter
                rows = []
                for i, (paragraph, sentence, normalized, original, seconds) in enumerate(utts):
                    utt = f"{speaker}_{chapter}_{paragraph:06d}_{sentence:06d}"
                    _noise(folder / f"{utt}.wav", seconds, 24000, seed=10 * p + i)
                    (folder / f"{utt}.normalized.txt").write_text(normalized, encoding="utf-8")
                    (folder / f"{utt}.original.txt").write_text(original, encoding="utf-8")
                    rows.append(f"{utt}\t{original}\t{normalized}\n")
                # per-chapter tables of the real corpus (lhotse reads them; the preparer does not need them)
                (folder / f"{speaker}_{chapter}.trans.tsv").write_text("".join(rows), encoding="utf-8")
                (folder / f"{speaker}_{chapter}.book.tsv").write_text("", encoding="utf-8")
    (corpus / "SPEAKERS.txt").write_text(SPEAKERS_TXT, encoding="utf-8")
    return corpus


def test_libritts_prepare_takes_the_normalized_text_and_the_reader(tmp_path):
    corpus = make_libritts(tmp_path)
    out = libritts.prepare_libritts(tmp_path, tmp_path / "data", progress=False)
    for part, speakers in LIBRITTS.items():
        assert validate_data_dir(out / part) == [], part
        data = DataDir(out / part)
        for speaker, chapters in speakers.items():
            for chapter, utts in chapters.items():
                for paragraph, sentence, normalized, _, seconds in utts:
                    utt = f"{speaker}_{chapter}_{paragraph:06d}_{sentence:06d}"
                    assert data.table("text")[utt] == normalized
                    assert data.table("utt2spk")[utt] == speaker
                    assert float(data.table("utt2dur")[utt]) == pytest.approx(seconds, abs=1e-4)
                    wav = corpus / part / speaker / chapter / f"{utt}.wav"
                    assert data.audio(utt).path.resolve() == wav.resolve()
        assert (out / part / "spk2gender").read_text() == "".join(f"{s} {GENDERS[s]}\n" for s in sorted(speakers))
    assert DataDir(out / "test-clean").table("text")["1089_134686_000004_000000"] == "Mister Smith paid ten dollars."


def test_libritts_broken_names_and_missing_texts_are_named(tmp_path):
    corpus = make_libritts(tmp_path, {"dev-clean": LIBRITTS["dev-clean"]})
    chapter = corpus / "dev-clean" / "84" / "121123"
    (chapter / "84_121123_000007_000001.normalized.txt").unlink()
    (chapter / "84_121123_000008_000000.wav").rename(chapter / "84_121123_000008.wav")
    (chapter / "84_121123_000009_000000.normalized.txt").write_text("Orphan text.", encoding="utf-8")
    with pytest.raises(common.CorpusError) as err:
        libritts.prepare_libritts(tmp_path, tmp_path / "data", parts=["dev-clean"], progress=False)
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "84_121123_000007_000001.normalized.txt' is missing (the transcript of '84_121123_000007_000001.wav')" in msg
    assert ("84_121123_000008.wav' does not follow the LibriTTS name 84_121123_<paragraph>_<sentence>.wav" in msg)
    assert "84_121123_000009_000000.normalized.txt' has no audio: '" in msg
    assert "84_121123_000008_000000.normalized.txt' has no audio: '" in msg  # its WAV was renamed
    with pytest.raises(common.CorpusError, match=r"LibriTTS part\(s\) missing: '.*LibriTTS/test-clean'"):
        libritts.prepare_libritts(tmp_path, tmp_path / "data2", progress=False)


def test_libritts_download_unpacks_into_libritts_then_prepares(tmp_path, server, monkeypatch):
    make_libritts(tmp_path / "served")
    base, md5s = _serve_librispeech_parts(server, tmp_path / "served", "LibriTTS", LIBRITTS,
                                          extra_files=("SPEAKERS.txt",))
    monkeypatch.setattr(libritts, "BASE_URL", base)
    monkeypatch.setattr(libritts, "ARCHIVE_MD5", md5s)
    corpus = DOWNLOADERS["libritts"](tmp_path / "fresh", progress=False)
    assert corpus == tmp_path / "fresh" / "LibriTTS"
    out = PREPARERS["libritts"](tmp_path / "fresh", tmp_path / "data", progress=False)
    assert all(validate_data_dir(out / part) == [] for part in LIBRITTS)
    assert (out / "dev-clean" / "utt2spk").read_text() == ("174_50561_000002_000003 174\n84_121123_000007_000001 84\n"
                                                          "84_121123_000008_000000 84\n")


# ------------------------------------------------------------------------------------------ MUSDB18-HQ
EXTRA_TRAIN = ("A Classic Education - NightOwl", "Zeno - Signs")
TEST_TRACKS = ("Al James - Schoolboy Facination", "The Doppler Shift - Atrophy")
SOURCES = ("mixture", *musdb18hq.STEMS)


def make_musdb(root: Path, train=EXTRA_TRAIN + musdb18hq.VALID_TRACKS, test=TEST_TRACKS,
               seconds: float = 0.1) -> Path:
    """train/<track>/{mixture,drums,bass,other,vocals}.wav and test/...: stereo 44.1 kHz, as MUSDB18-HQ."""
    for folder, tracks in (("train", train), ("test", test)):
        for t, name in enumerate(tracks):
            for s, source in enumerate(SOURCES):
                _noise(root / folder / name / f"{source}.wav", seconds, 44100, channels=2, seed=10 * t + s)
    return root


@pytest.fixture(scope="module")
def musdb_tree(tmp_path_factory) -> Path:
    return make_musdb(tmp_path_factory.mktemp("musdb") / "musdb18hq")


def test_musdb_prepare_writes_train_valid_test_separation_dirs(musdb_tree, tmp_path):
    out = musdb18hq.prepare_musdb18hq(musdb_tree.parent, tmp_path / "data", progress=False)
    expected = {"train": EXTRA_TRAIN, "valid": musdb18hq.VALID_TRACKS, "test": TEST_TRACKS}
    for split, names in expected.items():
        d = out / split
        assert validate_data_dir(d) == [], split
        data = DataDir(d)
        assert sorted(data.stems) == sorted(SOURCES)
        assert (d / "stems").read_text().split() == ["drums", "bass", "other", "vocals"]
        assert data.keys("mixture.scp") == sorted(musdb18hq.track_key(n) for n in names)
        tracks = read_table(d / "utt2track").entries
        assert sorted(tracks.values()) == sorted(names)
        folder = "test" if split == "test" else "train"
        for key, name in tracks.items():
            assert " " not in key
            for source in SOURCES:
                assert data.audio(key, f"{source}.scp").path.resolve() == (musdb_tree / folder / name /
                                                                         f"{source}.wav").resolve()
            assert float(data.table("utt2dur")[key]) == pytest.approx(0.1, abs=1e-4)
    assert len(musdb18hq.VALID_TRACKS) == 14 and len(set(musdb18hq.VALID_TRACKS)) == 14
    track = read_table(out / "valid" / "utt2track")["Johnny_Lokke_-_Promises_&_Lies"]
    assert track == "Johnny Lokke - Promises & Lies"
    assert musdb18hq.prepare_musdb18hq(musdb_tree, out, progress=False) == out  # finished: returned as is


def test_musdb_broken_tracks_are_named(tmp_path):
    root = make_musdb(tmp_path / "musdb18hq", train=EXTRA_TRAIN + musdb18hq.VALID_TRACKS[:-1])
    (root / "train" / "Zeno - Signs" / "vocals.wav").unlink()
    _noise(root / "test" / "Al James - Schoolboy Facination" / "bass.wav", 0.2, 44100, channels=2)
    _noise(root / "test" / "The Doppler Shift - Atrophy" / "drums.wav", 0.1, 44100, channels=1)
    with pytest.raises(common.CorpusError) as err:
        musdb18hq.prepare_musdb18hq(root, tmp_path / "data", progress=False)
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "train/Zeno - Signs' lacks vocals.wav (every track has mixture.wav and drums.wav" in msg
    assert "validation track(s) missing from '" in msg and "'Traffic Experiment - Sirens'" in msg
    assert ("Al James - Schoolboy Facination/bass.wav' does not match the track's mixture.wav "
            "(frames 8820 vs 4410)") in msg
    assert "The Doppler Shift - Atrophy/drums.wav' does not match the track's mixture.wav (channels 1 vs 2)" in msg
    assert not (tmp_path / "data" / "train").exists()
    shutil.rmtree(root / "test")
    with pytest.raises(common.CorpusError, match=r"incomplete MUSDB18-HQ tree in .*musdb18hq': missing test/ "
                                                 r"\(found train/\)"):
        musdb18hq.prepare_musdb18hq(root, tmp_path / "data2", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(common.CorpusError, match=r"no MUSDB18-HQ tree under .*empty': expected train/ and test/ in"):
        musdb18hq.find_dataset_dir(tmp_path / "empty")


def test_musdb_download_uses_a_copy_or_fetches_checks_and_unzips(musdb_tree, tmp_path, server, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("must not download: a copy is there")

    monkeypatch.setattr(download_module, "download", no_network)
    assert musdb18hq.download_musdb18hq(musdb_tree.parent, progress=False) == musdb_tree
    monkeypatch.undo()
    # the archive as Zenodo serves it: train/ and test/ at its top level
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(musdb_tree.rglob("*.wav")):
            zf.write(path, path.relative_to(musdb_tree).as_posix())
    data = buf.getvalue()
    monkeypatch.setattr(musdb18hq, "ARCHIVE_URL", server.serve("/records/3338373/files/musdb18hq.zip", data))
    monkeypatch.setattr(musdb18hq, "ARCHIVE_MD5", _md5(data))
    root = tmp_path / "fresh"
    dataset = DOWNLOADERS["musdb18hq"](root, progress=False)
    assert dataset == root / "musdb18hq" and (root / "musdb18hq.zip").is_file()
    assert sorted(p.name for p in (dataset / "test").iterdir()) == sorted(TEST_TRACKS)
    out = PREPARERS["musdb18hq"](root, tmp_path / "data", progress=False)
    assert [len(DataDir(out / s).keys("mixture.scp")) for s in ("train", "valid", "test")] == [2, 14, 2]
    assert all(validate_data_dir(out / s) == [] for s in ("train", "valid", "test"))
