"""The flagship recipe (egs/fx/compressor/run.sh) end to end, and the committed pretrained model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import audiokit
from audiokit.evaluate import evaluate_effect

REPO = Path(__file__).resolve().parents[1]
FAST = ("trainer.max_steps=4 trainer.val_check_interval=2 model.channels=4 data.train.segment_seconds=0.5 "
        "data.train.crops_per_epoch=16 data.train.batch_size=4")


def recipe_copy(tmp_path: Path, fx_corpus: Path) -> Path:
    """egs/fx/compressor copied under tmp (recipes/ linked) with the session's corpus pre-made."""
    shutil.copytree(REPO / "egs" / "fx" / "compressor", tmp_path / "egs" / "fx" / "compressor",
                    ignore=shutil.ignore_patterns("exp", "data", "corpus"))
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    recipe = tmp_path / "egs" / "fx" / "compressor"
    (recipe / "corpus").mkdir()
    (recipe / "corpus" / "fx_tiny_seed0").symlink_to(fx_corpus)
    return recipe


def run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "run.sh", *args], cwd=recipe, capture_output=True, text=True, env=env,
                          timeout=900)


def test_recipe_runs_every_stage_then_skips_them(tmp_path, fx_corpus):
    recipe = recipe_copy(tmp_path, fx_corpus)
    res = run(recipe, "--overrides", FAST, "--tag", "fast")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    exp = recipe / "exp" / "fast"
    for n in range(5):
        assert (exp / ".done" / f"stage{n}").exists() and (exp / "logs" / f"stage{n}.log").exists()
    scores = json.loads((exp / "test.json").read_text())
    assert scores["num_items"] == 12 and scores["identity"]["esr"] > 0
    assert "== results: compressor, fast" in res.stdout and "model/identity" in res.stdout
    assert "esr median" in res.stdout and 0 <= scores["clips_better"] <= 12
    assert (exp / "demo.wav").exists() and (exp / "best.pt").exists()
    again = run(recipe, "--overrides", FAST, "--tag", "fast")
    assert again.returncode == 0 and again.stdout.count("done already, skipping") == 5


def test_recipe_rejects_unknown_options(tmp_path, fx_corpus):
    recipe = recipe_copy(tmp_path, fx_corpus)
    res = run(recipe, "--stgae", "2")
    assert res.returncode == 1 and "unknown option --stgae" in res.stderr
    res = run(recipe, "--config", "conf/nope.yaml")
    assert res.returncode == 1 and "config not found: conf/nope.yaml" in res.stderr


def test_pretrained_compressor_beats_identity_on_test(fx_corpus):
    fx = audiokit.load("fx-compressor-tcn")
    assert fx.knobs.names == ["threshold_db", "ratio", "attack_ms", "release_ms"] and fx.sample_rate == 44100
    res = evaluate_effect(fx, fx_corpus / "compressor" / "test", progress=False)
    assert res["model"]["esr"] < 0.5 * res["identity"]["esr"]
    assert res["model"]["mrstft"] < res["identity"]["mrstft"]
    # the model card's figure is what this split gives
    card = (REPO / "pretrained" / "fx-compressor-tcn" / "README.md").read_text()
    assert f"{res['model']['esr']:.3f}" in card
    assert res["clips_better"] == 4 and f"{res['median_esr']['model']:.4f}" in card


# every other model in pretrained/: (name, effect); their cards come from one template
PRETRAINED = [("fx-distortion-graybox", "distortion"), ("fx-compressor-graybox", "compressor")]


@pytest.mark.parametrize("name,effect", PRETRAINED)
def test_pretrained_models_reproduce_their_cards(fx_corpus, name, effect):
    fx = audiokit.load(name)
    res = evaluate_effect(fx, fx_corpus / effect / "test", progress=False)
    assert res["model"]["esr"] < 0.5 * res["identity"]["esr"] and res["model"]["mrstft"] < res["identity"]["mrstft"]
    card = (REPO / "pretrained" / name / "README.md").read_text()
    for metric, label in (("esr", "ESR"), ("mrstft", "MR-STFT"), ("loudness", "loudness error (LU)")):
        assert f"| {label} | {res['model'][metric]:.4f} | {res['identity'][metric]:.4f} |" in card, metric
    assert f"| ESR, median clip | {res['median_esr']['model']:.4f} |" in card
    assert f"on {res['clips_better']} of the {res['num_items']} clips" in card
    assert all(f"`{k.name}`" in card for k in fx.knobs) and f"| latency | {fx.latency} samples" in card


@pytest.mark.slow
def test_tiny_recipe_learns_to_beat_identity(tmp_path, fx_corpus):
    recipe = recipe_copy(tmp_path, fx_corpus)
    res = run(recipe)
    assert res.returncode == 0, res.stderr[-3000:]
    scores = json.loads((recipe / "exp" / "tcn_tiny" / "test.json").read_text())
    assert scores["model"]["esr"] < 0.5 * scores["identity"]["esr"]
