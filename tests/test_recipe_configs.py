"""Every recipe config composes and builds its model and task (a typo in a config fails here, not
an hour into a run)."""
from __future__ import annotations

from pathlib import Path

import pytest

from audiokit.train.builder import build_task, compose_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(REPO.glob("egs/*/*/conf/*.yaml"))


def test_recipes_have_configs():
    assert len(CONFIGS) >= 12


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c.relative_to(REPO / "egs")) for c in CONFIGS])
def test_config_builds_model_and_task(config):
    cfg = compose_config(config)
    task, (target, args) = build_task(cfg)
    model = task.model
    assert target.startswith("audiokit.models.") and model.sample_rate == cfg.sample_rate
    if "num_knobs" in cfg.model:  # effects
        assert model.num_knobs == cfg.model.num_knobs
    elif task.family == "codec":  # the audio table is the task's key; the validation bitrates exist
        assert cfg.data.train.tables == [f"{task.key}.scp"]
        assert all(model.num_quantizers_for_bitrate(b) >= 1 for b in (task.val_bitrates or []))
    else:  # separation: the stems the data tables hold are the model's sources
        stems = [t[: -len(".scp")] for t in cfg.data.train.tables if t != "mixture.scp"]
        assert model.sources == stems == task.sources
    if cfg.task.get("augment"):
        assert task.augment is not None and len(task.augment) == len(cfg.task.augment)
