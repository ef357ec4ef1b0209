"""The separation recipes end to end on the tiny offline music corpus (a few steps: the stages run)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FAST = {"sep_waveunet": "model.num_layers=3 model.extra_filters=4",
        "sep_demucs": "model.channels=4 model.depth=2"}


@pytest.mark.parametrize("recipe_name", sorted(FAST))
def test_separation_recipe_runs_end_to_end(tmp_path, recipe_name):
    pytest.importorskip("midirenderer")
    shutil.copytree(REPO / "egs" / "music" / recipe_name, tmp_path / "egs" / "music" / recipe_name,
                    ignore=shutil.ignore_patterns("exp", "data", "corpus"))
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    recipe = tmp_path / "egs" / "music" / recipe_name
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    overrides = f"trainer.max_steps=2 trainer.val_check_interval=2 data.train.segment_seconds=0.5 {FAST[recipe_name]}"
    res = subprocess.run(["bash", "run.sh", "--size", "tiny", "--tag", "fast", "--overrides", overrides], cwd=recipe,
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    exp = recipe / "exp" / "fast"
    assert all((exp / ".done" / f"stage{n}").exists() for n in range(5))
    scores = json.loads((exp / "test.json").read_text())
    assert scores["num_tracks"] == 2 and scores["aggregation"] == "median over tracks"
    assert "== results: music, fast" in res.stdout and "nsdr model" in res.stdout
    demo = next((exp / "demo").iterdir())
    assert sorted(p.stem for p in demo.iterdir()) == sorted(scores["model"]["nsdr"])
