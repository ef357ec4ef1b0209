"""SignalTrain LA2A 1.1 on a fake tree (real folder and file names, short WAVs made here): preparation
into validated paired data dirs, clear errors for broken trees, the download path, and the recipe's
first two stages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.audio.io import save
from audiokit.corpora import common, signaltrain
from audiokit.corpora import download as download_module
from audiokit.corpora.signaltrain import (
    LA2A_KNOBS,
    download_signaltrain,
    find_dataset_dir,
    parse_target_name,
    prepare_signaltrain,
)
from audiokit.data.datasets import CropDataset
from audiokit.data.kaldi import DataDir
from audiokit.data.validate import validate_data_dir

REPO = Path(__file__).resolve().parents[1]
RATE = 44100
SECONDS = 0.25
# (folder, id, tag, limit, peak reduction): names from the dataset's file list (int0thewind/
# s4-dynamic-range-compressor, src/dataset.py), e.g. Test holds 235 (0, 65), 256 (1, 65) and 259 (1, 80).
PAIRS = [
    ("Train", "138", "3c", 0, 0), ("Train", "159", "3c", 1, 0), ("Train", "244", "2c", 1, 5),
    ("Val", "140", "3c", 0, 10), ("Val", "245", "2c", 1, 10),
    ("Test", "235", "2c", 0, 65), ("Test", "256", "2c", 1, 65), ("Test", "259", "2c", 1, 80),
]


def make_tree(root: Path, pairs=PAIRS, seconds: float = SECONDS) -> Path:
    """A SignalTrain tree under ``root``: inputs are noise, targets a knob-dependent gain of them."""
    rng = np.random.default_rng(0)
    dataset = root / signaltrain.DATASET_DIR
    for folder, file_id, tag, limit, peak in pairs:
        x = torch.from_numpy((0.3 * rng.standard_normal(int(seconds * RATE))).astype(np.float32))[None]
        save(dataset / folder / f"input_{file_id}_.wav", x, RATE, subtype="PCM_16")
        gain = 1.0 - 0.005 * peak - 0.1 * limit
        save(dataset / folder / f"target_{file_id}_LA2A_{tag}__{limit}__{peak}.wav", gain * x, RATE, subtype="PCM_16")
    return dataset


@pytest.fixture
def tree(tmp_path) -> Path:
    make_tree(tmp_path / "signaltrain")
    return tmp_path / "signaltrain"


def test_target_names_parse_to_knob_values():
    assert parse_target_name("target_138_LA2A_3c__0__45.wav") == ("138", "LA2A_3c", {"limit": 0.0,
                                                                                      "peak_reduction": 45.0})
    assert parse_target_name("target_221_LA2A_3c__1__100.wav")[2] == {"limit": 1.0, "peak_reduction": 100.0}
    with pytest.raises(common.CorpusError, match=r"does not follow the SignalTrain pattern"):
        parse_target_name("target_138_LA2A_3c__0.wav")
    with pytest.raises(common.CorpusError, match=r"limit 2: expected 0 or 1"):
        parse_target_name("target_138_LA2A_3c__2__45.wav")


def test_prepare_writes_valid_paired_dirs_with_the_knobs_of_each_file(tree, tmp_path):
    out = prepare_signaltrain(tree, tmp_path / "data", progress=False)
    expected = {"train": "Train", "dev": "Val", "test": "Test"}
    for split, folder in expected.items():
        d = out / split
        assert validate_data_dir(d) == []
        data = DataDir(d)
        assert data.knob_schema() == LA2A_KNOBS
        keys = data.keys()
        assert len(keys) == sum(p[0] == folder for p in PAIRS)
        for key in keys:
            target = data.audio(key, "target.scp").path
            file_id, tag, knobs = parse_target_name(target.name)
            assert target.resolve().parent.name == folder and data.audio(key, "input.scp").path.name == \
                f"input_{file_id}_.wav"
            assert data.params(key) == knobs and key == f"st{file_id}-{tag}-limit{knobs['limit']:g}-pr" \
                f"{knobs['peak_reduction']:g}"
            assert float(data.table("utt2dur")[key]) == SECONDS
    assert DataDir(out / "test").params("st259-LA2A_2c-limit1-pr80") == {"limit": 1.0, "peak_reduction": 80.0}
    # the model's knob vector is micro-TCN's conditioning [limit, peak_reduction / 100]
    test = CropDataset(out / "test", ["input.scp", "target.scp"], segment_seconds=None, with_params=True)
    vectors = {it.key: k.tolist() for it, k in zip(test.items, test.knobs)}
    assert vectors["st256-LA2A_2c-limit1-pr65"] == pytest.approx([1.0, 0.65])
    # a re-run finds the finished dirs; the dataset folder itself works as root as well
    assert prepare_signaltrain(tree, out, progress=False) == out
    again = prepare_signaltrain(tree / signaltrain.DATASET_DIR, tmp_path / "data2", progress=False)
    assert (again / "dev" / "params").read_text() == (out / "dev" / "params").read_text()


def test_missing_or_incomplete_trees_are_named(tree, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(common.CorpusError, match=r"no SignalTrain tree under .*empty': expected Train/, Val/ "):
        find_dataset_dir(empty)
    shutil.rmtree(tree / signaltrain.DATASET_DIR / "Test")
    incomplete = r"incomplete SignalTrain tree .* missing Test/ \(found Train/, Val/\)"
    with pytest.raises(common.CorpusError, match=incomplete):
        prepare_signaltrain(tree, tmp_path / "data", progress=False)
    with pytest.raises(common.CorpusError, match=r"missing Test/"):  # never downloads over a partial copy
        download_signaltrain(tree, progress=False)


def test_every_problem_of_the_tree_is_reported_at_once(tree, tmp_path):
    val = tree / signaltrain.DATASET_DIR / "Val"
    (val / "target_140_LA2A_3c__0__10.wav").rename(val / "target_140_LA2A_3c__0.wav")
    shutil.copy(val / "input_245_.wav", val / "target_245_LA2A_2c__7__10.wav")
    (val / "target_245_LA2A_2c__1__10.wav").unlink()
    (val / "._input_245_.wav").write_bytes(b"macOS metadata")  # ignored
    test = tree / signaltrain.DATASET_DIR / "Test"
    save(test / "target_259_LA2A_2c__1__80.wav", torch.zeros(1, 100), RATE)  # shorter than its input
    (test / "target_256_LA2A_2c__1__65.wav").unlink()
    with pytest.raises(common.CorpusError) as err:
        prepare_signaltrain(tree, tmp_path / "data", progress=False)
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "'target_140_LA2A_3c__0.wav' does not follow the SignalTrain pattern" in msg
    assert "'target_245_LA2A_2c__7__10.wav': knob values out of range (limit 7" in msg
    assert "Test/input_256_.wav' has no target (target_256_LA2A_<tag>__<limit>__<peak>.wav is missing" in msg
    assert "input_140_.wav' has no target" not in msg  # its target is there, with a broken name
    assert "target_259_LA2A_2c__1__80.wav' does not match its input 'input_259_.wav' (frames 100 vs 11025)" in msg
    assert not (tmp_path / "data" / "dev").exists()


def test_download_uses_an_existing_copy_or_fetches_and_unpacks_the_archive(tree, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("must not download: a copy is there")

    monkeypatch.setattr(download_module, "download", no_network)
    assert download_signaltrain(tree, progress=False) == tree / signaltrain.DATASET_DIR
    monkeypatch.undo()
    # the archive as Zenodo serves it: one top-level folder SignalTrain_LA2A_Dataset_1.1/
    archive = tmp_path / "served" / signaltrain.ARCHIVE_NAME
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree / signaltrain.DATASET_DIR, arcname=signaltrain.DATASET_DIR)
    monkeypatch.setattr(signaltrain, "ARCHIVE_URL", archive.as_uri())
    root = tmp_path / "fresh"
    dataset = download_signaltrain(root, progress=False, keep_archive=False)
    assert dataset == root / signaltrain.DATASET_DIR and not (root / signaltrain.ARCHIVE_NAME).exists()
    assert sorted(p.name for p in (dataset / "Test").iterdir()) == sorted(
        p.name for p in (tree / signaltrain.DATASET_DIR / "Test").iterdir())
    out = prepare_signaltrain(root, tmp_path / "data", progress=False)
    assert all(validate_data_dir(out / split) == [] for split in ("train", "dev", "test"))


def test_recipe_stages_0_and_1_on_a_fake_tree(tree, tmp_path):
    recipe = tmp_path / "egs" / "signaltrain" / "fx_la2a"
    shutil.copytree(REPO / "egs" / "signaltrain" / "fx_la2a", recipe,
                    ignore=shutil.ignore_patterns("exp", "data", "corpus"))
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SIGNALTRAIN_ROOT", None)
    res = subprocess.run(["bash", "run.sh", "--root", str(tree), "--stop-stage", "1", "--tag", "t"], cwd=recipe,
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for split in ("train", "dev", "test"):
        assert (recipe / "data" / split).resolve() == (recipe / "corpus" / "signaltrain" / split).resolve()
        assert f"data/{split}: OK" in res.stdout
    assert (recipe / "exp" / "t" / ".done" / "stage1").exists() and not (recipe / "corpus" / "download").exists()
    # the demo stage opens data/test/<path of input.scp>: the relative path must resolve through the link
    first = (recipe / "data" / "test" / "input.scp").read_text().split()[1]
    assert (recipe / "data" / "test" / first).resolve() == (tree / signaltrain.DATASET_DIR / "Test" /
                                                            "input_235_.wav").resolve()
