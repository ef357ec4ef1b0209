"""CodecTask: GAN training of a codec through the shared training layer (warm-up, two optimisers, resume)."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from audiokit.testing import make_speech_dir
from audiokit.train.builder import build_task, train
from audiokit.train.checkpoint import load_model

REPO = Path(__file__).resolve().parents[1]
RATE = 8000


def codec_config(data: Path, steps: int, warmup: int, **task) -> OmegaConf:
    cfg = OmegaConf.create({
        "seed": 0, "sample_rate": RATE,
        "data": {
            "train": {"dir": str(data), "kind": "crops", "tables": ["wav.scp"], "segment_seconds": 0.2,
                      "sample_rate": RATE, "batch_size": 2, "crops_per_epoch": 8, "num_workers": 0, "seed": 0},
            "valid": {"dir": str(data), "kind": "sequential", "tables": ["wav.scp"], "sample_rate": RATE,
                      "batch_size": 1},
        },
        "model": {"_target_": "audiokit.models.codec.rvq_codec", "sample_rate": RATE, "dimension": 8,
                  "n_filters": 4, "ratios": [4, 2], "lstm_layers": 0, "num_quantizers": 4, "codebook_size": 16,
                  "threshold_dead_code": 0.0},
        "task": {"_target_": "audiokit.tasks.codec.CodecTask",
                 "loss": {"weights": {"mel": 1.0, "l1": 1.0, "commitment": 1.0, "adversarial": 1.0,
                                      "feature_matching": 1.0}},
                 "discriminator": {"msstftd": {"filters": 4, "n_ffts": [128, 64]}},
                 "warmup_steps": warmup, "optimizer": {"name": "adam", "lr": 1e-3}, "grad_clip": 5.0, **task},
        "checkpoint": {"monitor": "val/mel", "mode": "min", "every_n_steps": 1},
        "trainer": {"max_steps": steps, "val_check_interval": steps, "accelerator": "cpu", "devices": 1,
                    "precision": "32-true", "log_every_n_steps": 1, "enable_progress_bar": False,
                    "enable_model_summary": False},
    })
    return cfg


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return make_speech_dir(tmp_path_factory.mktemp("speech"), num_items=4, sample_rate=RATE)


def _disc_params(task) -> list[torch.Tensor]:
    return [p.detach().clone() for p in task.discriminator.parameters()]


def test_discriminator_idle_during_warmup_then_trained(speech, tmp_path):
    cfg = codec_config(speech, steps=3, warmup=3)
    L.seed_everything(0, verbose=False)  # as train() does before it builds the task
    task, _ = build_task(cfg)
    before = _disc_params(task)
    res = train(cfg, tmp_path / "warm", resume=False)
    after = torch.load(tmp_path / "warm" / "checkpoints" / "last.ckpt", weights_only=False)
    disc = {k[len("discriminator."):]: v for k, v in after["state_dict"].items() if k.startswith("discriminator.")}
    assert after["global_step"] == 3  # codec steps
    # seeded: the same initial discriminator; untouched in the 3 warm-up steps
    assert all(torch.equal(b, disc[k]) for (k, _), b in zip(task.discriminator.named_parameters(), before))
    cfg2 = codec_config(speech, steps=3, warmup=1)
    train(cfg2, tmp_path / "gan", resume=False)
    after2 = torch.load(tmp_path / "gan" / "checkpoints" / "last.ckpt", weights_only=False)
    assert after2["global_step"] == 3  # the discriminator's steps are not counted
    disc2 = {k[len("discriminator."):]: v for k, v in after2["state_dict"].items() if k.startswith("discriminator.")}
    changed = [not torch.equal(b, disc2[k]) for (k, _), b in zip(task.discriminator.named_parameters(), before)]
    assert sum(changed) > len(changed) // 2  # two discriminator steps moved its weights
    assert res.best.is_file() and res.best_score is not None


def test_best_checkpoint_is_the_codec_alone_and_decodes(speech, tmp_path):
    cfg = codec_config(speech, steps=2, warmup=1)
    train(cfg, tmp_path / "exp", resume=False)
    model, ckpt = load_model(tmp_path / "exp" / "best.pt")
    assert ckpt["family"] == "codec" and not any(k.startswith("discriminator") for k in ckpt["state_dict"])
    model.eval()
    wav = 0.1 * torch.randn(1, 1, 800)
    with torch.no_grad():
        codes = model.encode(wav, n_quantizers=2)
        out = model.decode(codes, length=800)
    assert codes.shape == (1, 2, 100) and out.shape == (1, 1, 800) and torch.isfinite(out).all()


def test_resume_equals_uninterrupted(speech, tmp_path):
    full = codec_config(speech, steps=4, warmup=2)
    train(full, tmp_path / "full", resume=False)
    half = codec_config(speech, steps=2, warmup=2)
    train(half, tmp_path / "split", resume=False)
    train(full, tmp_path / "split", resume=True)  # continues from step 2 (the discriminator's first step)
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "split" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


def test_adversarial_terms_need_a_discriminator(speech):
    from audiokit.utils import AudiokitError

    cfg = codec_config(speech, steps=2, warmup=0)
    cfg.task.discriminator = None
    with pytest.raises(AudiokitError, match="adversarial/feature_matching need task.discriminator"):
        build_task(cfg)
