"""The MUSDB18-HQ separation recipe (egs/musdb18hq/sep_demucs) end to end on a fake tree: real track names
(spaces and all), short stereo 44.1 kHz noise stems; the download stage finds the copy, every stage runs."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from audiokit.audio.io import info, save
from audiokit.corpora import musdb18hq
from audiokit.data.kaldi import read_table

REPO = Path(__file__).resolve().parents[1]
RATE = 44100
# prepare_musdb18hq needs all 14 validation tracks in train/ besides the tracks it trains on
TRAIN = ("A Classic Education - NightOwl", "ANiMAL - Clinic A")
TEST = ("Al James - Schoolboy Facination", "The Doppler Shift - Atrophy")
# data.valid.segment_seconds: the tiny config reads 30 s of each validation track, padding these 1 s ones
FAST = (
    "trainer.max_steps=2 trainer.val_check_interval=2 data.train.segment_seconds=0.5 data.valid.segment_seconds=1 "
    "model.channels=4 model.depth=2"
)


def make_tree(dataset: Path) -> Path:
    """train/ and test/ of MUSDB18-HQ under ``dataset``: noise stems (2 s; 1 s for the validation tracks)
    and their sum as mixture.wav."""
    gen = torch.Generator().manual_seed(0)
    tracks = [("train", name, 2.0) for name in TRAIN] + [("train", name, 1.0) for name in musdb18hq.VALID_TRACKS]
    tracks += [("test", name, 2.0) for name in TEST]
    for folder, name, seconds in tracks:
        stems = 0.05 * torch.randn(len(musdb18hq.STEMS), 2, int(seconds * RATE), generator=gen)  # (S, C, T)
        for stem, wav in zip(musdb18hq.STEMS, stems):
            save(dataset / folder / name / f"{stem}.wav", wav, RATE, subtype="FLOAT")
        save(dataset / folder / name / "mixture.wav", stems.sum(dim=0), RATE, subtype="FLOAT")
    return dataset


def test_recipe_runs_every_stage_on_a_fake_tree(tmp_path):
    root = tmp_path / "musdb"
    make_tree(root / musdb18hq.DATASET_DIR)  # as `audiokit corpus download musdb18hq --root` unpacks it
    recipe = tmp_path / "egs" / "musdb18hq" / "sep_demucs"
    skip = shutil.ignore_patterns("exp", "data", "corpus")  # what a run in the checkout left there
    shutil.copytree(REPO / "egs" / "musdb18hq" / "sep_demucs", recipe, ignore=skip)
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MUSDB_ROOT", None)
    args = ["--root", str(root), "--config", "conf/demucs_tiny.yaml", "--tag", "fast", "--overrides", FAST]
    res = subprocess.run(["bash", "run.sh", *args], cwd=recipe, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    exp = recipe / "exp" / "fast"
    assert all((exp / ".done" / f"stage{n}").exists() for n in range(5))
    assert not (recipe / "corpus" / "download").exists()  # the copy under --root was used, nothing fetched

    # data/dev is the prepared `valid` split: musdb's 14 validation tracks
    expected = {"train": TRAIN, "dev": musdb18hq.VALID_TRACKS, "test": TEST}
    for split, names in expected.items():
        prepared = "valid" if split == "dev" else split
        assert (recipe / "data" / split).resolve() == (recipe / "corpus" / "musdb18hq" / prepared).resolve()
        assert f"data/{split}: OK" in res.stdout
        table = read_table(recipe / "data" / split / "mixture.scp")
        assert sorted(table.keys()) == sorted(musdb18hq.track_key(n) for n in names)

    scores = json.loads((exp / "test.json").read_text())
    assert scores["num_tracks"] == 2
    for system in ("model", "mixture"):
        nsdr = scores[system]["nsdr"]
        assert sorted(nsdr) == sorted(musdb18hq.STEMS) and all(math.isfinite(v) for v in nsdr.values()), nsdr
    assert "== results: musdb18hq, fast" in res.stdout and "nsdr model" in res.stdout

    # the demo separates the first test track, whose path holds spaces, into its 4 stems
    demo = exp / "demo" / TEST[0]
    assert sorted(p.name for p in demo.iterdir()) == sorted(f"{s}.wav" for s in musdb18hq.STEMS)
    for stem in musdb18hq.STEMS:
        meta = info(demo / f"{stem}.wav")
        assert (meta.sample_rate, meta.channels, meta.num_frames) == (RATE, 2, 2 * RATE)
