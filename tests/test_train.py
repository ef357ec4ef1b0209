"""The training layer: exact resume mid-epoch, DDP with 2 processes, EMA and model export."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

import audiokit
from audiokit.testing import tiny_train_config
from audiokit.train.builder import ConfigError, TrainingStopped, compose_config, train

REPO = Path(__file__).resolve().parents[1]


def lightning_ckpt(exp: Path) -> dict:
    return torch.load(exp / "checkpoints" / "last.ckpt", weights_only=True)


AUGMENT = ["+task.augment=[{name:polarity,p:0.5},{name:shift,max_shift:0.1,p:0.5}]", "+task.augment_seed=3"]


@pytest.mark.parametrize("extra", [[], AUGMENT], ids=["plain", "augmented"])
def test_resume_mid_epoch_equals_uninterrupted(paired_dirs, tmp_path, extra):
    config = tiny_train_config(paired_dirs, tmp_path)
    # 16 crops / batch 4 = 4 steps per epoch: stopping at step 6 is in the middle of epoch 2.
    train(compose_config(config, ["trainer.max_steps=10", *extra]), tmp_path / "straight")
    train(compose_config(config, ["trainer.max_steps=6", *extra]), tmp_path / "broken")
    assert lightning_ckpt(tmp_path / "broken")["global_step"] == 6
    if extra:  # the augmentation generator's position is part of the resume state
        assert "augment_rng" in lightning_ckpt(tmp_path / "broken")
    train(compose_config(config, ["trainer.max_steps=10", *extra]), tmp_path / "broken")
    a, b = lightning_ckpt(tmp_path / "straight"), lightning_ckpt(tmp_path / "broken")
    assert a["global_step"] == b["global_step"] == 10
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
    for name, value in a["callbacks"]["EMA"]["shadow"].items():
        assert torch.equal(value, b["callbacks"]["EMA"]["shadow"][name]), name
    for opt_a, opt_b in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
        assert torch.equal(opt_a["exp_avg"], opt_b["exp_avg"])
    best_a = torch.load(tmp_path / "straight" / "best.pt", weights_only=True)
    best_b = torch.load(tmp_path / "broken" / "best.pt", weights_only=True)
    assert best_a["metadata"]["step"] == best_b["metadata"]["step"]
    assert all(torch.equal(v, best_b["state_dict"][k]) for k, v in best_a["state_dict"].items())


def test_exported_model_is_the_ema_and_loads(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    result = train(compose_config(config), tmp_path / "run")
    ckpt = lightning_ckpt(tmp_path / "run")
    last = torch.load(result.last, weights_only=True)
    shadow = ckpt["callbacks"]["EMA"]["shadow"]
    assert all(torch.equal(last["state_dict"][k], v) for k, v in shadow.items())
    raw = {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    assert any(not torch.equal(raw[k], v) for k, v in shadow.items())  # EMA differs from raw weights
    assert last["metadata"]["knobs"][0]["name"] == "drive_db" and last["sample_rate"] == 8000
    fx = audiokit.load(result.best)
    assert fx.knobs.names == ["drive_db"] and fx.receptive_field == 1 + 4 * 1 + 4 * 4


def test_config_errors_name_the_problem(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    with pytest.raises(ConfigError, match="config file not found"):
        compose_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="trainer.max_stepz"):
        compose_config(config, ["trainer.max_stepz=3"])
    bad = compose_config(config, ["+model.channelz=3"])
    with pytest.raises(ConfigError, match="(?s)model: cannot build audiokit.models.effects.tcn.TCN.*channelz"):
        train(bad, tmp_path / "bad")


@pytest.mark.timeout(300)
def test_ddp_two_processes_gloo(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    torchrun = Path(sys.executable).parent / "torchrun"
    res = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", str(REPO / "tests" / "ddp_worker.py"),
                          str(config), str(tmp_path / "ddp")], capture_output=True, text=True, env=env,
                         timeout=280)
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = json.loads((tmp_path / "ddp" / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "ddp" / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2 and r0["backend"] == "gloo"
    # 4 steps x batch 4 per rank; each rank takes half of each epoch's 4 batches, so 2 epochs pass
    assert len(r0["keys"]) == len(r1["keys"]) == 16 and r0["epoch"] == 2
    assert not set(r0["keys"]) & set(r1["keys"])  # disjoint shards
    # gradients are all-reduced: parameters agree across ranks (BatchNorm stats are per rank)
    params = [k for k in r0["weights"] if "running" not in k and "num_batches" not in k]
    assert all(abs(r0["weights"][k] - r1["weights"][k]) < 1e-9 for k in params)


def test_augmentation_transforms_input_and_target_together():
    from types import SimpleNamespace

    from audiokit.models.effects import TCN
    from audiokit.tasks.effects import EffectsTask

    model = TCN(8000, 1, num_blocks=1, channels=4, kernel_size=3, film_batch_norm=False)
    task = EffectsTask(model, augment=[{"name": "polarity", "p": 0.5}], augment_seed=0)
    x, y = torch.randn(16, 1, 400), torch.randn(16, 1, 400)
    batch = {"input": x, "target": y, "knobs": torch.rand(16, 1)}
    task._trainer = SimpleNamespace(training=False)
    assert task.on_after_batch_transfer(batch, 0) is batch  # validation batches are left alone
    task._trainer = SimpleNamespace(training=True)
    out = task.on_after_batch_transfer(batch, 0)
    flipped = (out["input"] == -x).all(dim=(1, 2))
    assert torch.equal(flipped, (out["target"] == -y).all(dim=(1, 2)))  # the pair flips together
    assert 0 < int(flipped.sum()) < 16 and torch.equal(out["knobs"], batch["knobs"])
    with pytest.raises(Exception, match="nois"):
        EffectsTask(model, augment=[{"name": "nois"}], augment_seed=0)


class _SigtermAt(L.Callback):
    """Send this process SIGTERM after training step ``step`` (as a scheduler or `kill` would)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_fails_the_run_and_resumes_exactly(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    train(compose_config(config, ["trainer.max_steps=10"]), tmp_path / "straight")
    with pytest.raises(TrainingStopped, match="stopped by SIGTERM at step 3.*run the same command again"):
        train(compose_config(config, ["trainer.max_steps=10"]), tmp_path / "killed", callbacks=[_SigtermAt(3)])
    assert lightning_ckpt(tmp_path / "killed")["global_step"] == 3
    train(compose_config(config, ["trainer.max_steps=10"]), tmp_path / "killed")
    a, b = lightning_ckpt(tmp_path / "straight"), lightning_ckpt(tmp_path / "killed")
    assert a["global_step"] == b["global_step"] == 10
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
