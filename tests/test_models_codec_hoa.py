"""The multichannel (third-order Ambisonics) RVQ codec: the mono model's bitrate and body, the transfer from a
mono codec (exact on W), the spatial loss by hand, and a 16-channel CodecTask training step with it."""
from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from audiokit.audio.ambisonics import encode_source
from audiokit.audio.io import save
from audiokit.data.kaldi import write_table
from audiokit.losses import CodecLoss, SpatialCovarianceLoss
from audiokit.models.codec import from_mono, hoa_rvq_codec, inflate_from_mono, rvq_codec
from audiokit.models.codec.multichannel import input_conv, output_conv
from audiokit.train.builder import build_task, train
from audiokit.train.checkpoint import load_model, save_model

RATE = 8000
NETWORK = dict(dimension=16, n_filters=4, ratios=[4, 2], lstm_layers=0, num_quantizers=4, codebook_size=16,
               threshold_dead_code=0.0)


def trained_mono(weight_norm: bool = True) -> torch.nn.Module:
    """A mono codec whose codebooks are initialised (k-means on one batch) and whose biases are not zero."""
    torch.manual_seed(0)
    mono = rvq_codec(RATE, 1, weight_norm=weight_norm, **NETWORK)
    with torch.no_grad():
        for module in mono.modules():
            if isinstance(module, torch.nn.Conv1d) and module.bias is not None:
                module.bias.uniform_(-0.1, 0.1)
        mono.train()(0.1 * torch.randn(2, 1, 1600))
    return mono.eval()


# ------------------------------------------------------------------------------------------------ bitrate
def test_bitrate_and_body_are_the_mono_models():
    mono, hoa = rvq_codec(RATE, 1, **NETWORK), hoa_rvq_codec(RATE, 16, **NETWORK)
    # 1000 frames/s x 4 codebooks x 4 bits, for the whole 16-channel scene as for the mono signal
    assert hoa.channels == 16 and hoa.bitrates == mono.bitrates and hoa.bitrate() == mono.bitrate() == 16.0
    wav = 0.1 * torch.randn(1, 16, 800)
    assert hoa.encode(wav).shape == mono.encode(wav[:, :1]).shape == (1, 4, 100)  # one code stream for 16 channels
    # only the encoder's first conv and the decoder's last conv differ
    mono_state, hoa_state = mono.state_dict(), hoa.state_dict()
    assert mono_state.keys() == hoa_state.keys()
    differ = sorted(k for k in mono_state if mono_state[k].shape != hoa_state[k].shape)
    last = len(hoa.decoder.layers) - 1
    assert differ == [f"decoder.layers.{last}.conv.bias",
                      f"decoder.layers.{last}.conv.parametrizations.weight.original0",
                      f"decoder.layers.{last}.conv.parametrizations.weight.original1",
                      "encoder.layers.0.conv.parametrizations.weight.original1"]
    with pytest.raises(ValueError, match=r"unknown arguments \['filters'\]"):
        hoa_rvq_codec(RATE, 16, filters=4)


# ------------------------------------------------------------------------------------------------ transfer
@pytest.mark.parametrize("weight_norm", [True, False], ids=["weight_norm", "plain"])
def test_from_mono_codes_w_exactly_as_the_mono_codec(weight_norm):
    mono = trained_mono(weight_norm)
    hoa = from_mono(mono, channels=16).eval()
    w_only = torch.zeros(2, 16, 1200)
    w_only[:, 0] = 0.1 * torch.randn(2, 1200)
    full = w_only.clone()
    full[:, 1:] = 0.1 * torch.randn(2, 15, 1200)  # the other input channels are ignored at first
    with torch.no_grad():
        reference = mono(w_only[:, :1]).audio
        for wav in (w_only, full):
            out = hoa(wav).audio
            assert (out[:, 0] - reference[:, 0]).abs().max() < 1e-6  # W: the mono codec's output
            assert torch.equal(out[:, 1:], torch.zeros_like(out[:, 1:]))  # the other channels start silent
            assert torch.equal(hoa.encode(wav), mono.encode(wav[:, :1]))  # the same codes
    assert mono.channels == 1 and hoa.bitrate() == mono.bitrate()  # mono untouched; same bitrate


def test_new_weights_get_gradients_from_the_first_step():
    hoa = from_mono(trained_mono(), channels=16).train()
    wav = 0.1 * torch.randn(2, 16, 800)
    out = hoa(wav)
    (out.audio - wav).abs().mean().backward()
    conv_in = input_conv(hoa).conv.parametrizations.weight
    conv_out = output_conv(hoa).conv.parametrizations.weight
    assert conv_in.original1.grad[:, 1:].abs().sum(dim=(0, 2)).min() > 0  # every new input channel
    assert conv_out.original0.grad[1:].abs().flatten().min() > 0  # every silent output channel's gain


def test_preset_transfers_from_a_checkpoint_and_the_trained_model_does_not_need_it(tmp_path):
    mono = trained_mono()
    path = save_model(tmp_path / "mono.pt", mono, "audiokit.models.codec.rvq_codec",
                      {"sample_rate": RATE, "channels": 1, **NETWORK}, family="codec", sample_rate=RATE)
    hoa = hoa_rvq_codec(RATE, 16, mono_checkpoint=str(path), **NETWORK).eval()
    wav = torch.zeros(1, 16, 800)
    wav[:, 0] = 0.1 * torch.randn(1, 800)
    with torch.no_grad():
        assert (hoa(wav).audio[:, 0] - mono(wav[:, :1]).audio[:, 0]).abs().max() < 1e-6
    cfg = OmegaConf.create({"model": {"_target_": "audiokit.models.codec.hoa_rvq_codec", "sample_rate": RATE,
                                      "channels": 16, "mono_checkpoint": str(path), **NETWORK},
                            "task": {"_target_": "audiokit.tasks.codec.CodecTask",
                                     "loss": {"weights": {"l1": 1.0, "spatial": 1.0}}}})
    _, (target, args) = build_task(cfg)
    assert target == "audiokit.models.codec.hoa_rvq_codec" and "mono_checkpoint" not in args
    save_model(tmp_path / "hoa.pt", hoa, target, args, family="codec", sample_rate=RATE)
    path.unlink()  # the trained multichannel model loads without the mono checkpoint
    loaded, _ = load_model(tmp_path / "hoa.pt")
    with torch.no_grad():
        assert torch.equal(loaded(wav).audio, hoa(wav).audio)
    stereo = rvq_codec(RATE, 2, **NETWORK)
    with pytest.raises(ValueError, match="expected a mono"):
        inflate_from_mono(hoa, stereo)
    with pytest.raises(ValueError, match="differs from the multichannel one"):
        inflate_from_mono(hoa_rvq_codec(RATE, 16, **{**NETWORK, "dimension": 8}), mono)


# ------------------------------------------------------------------------------------------------ spatial loss
def test_spatial_loss_by_hand_on_two_channels():
    target = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 1.0, 0.0]]], dtype=torch.float64)
    pred = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]]], dtype=torch.float64)
    # centred: x1 = [-1.5, -0.5, 0.5, 1.5], x2 = +-[0.5, -0.5, 0.5, -0.5]: var 1.25 and 0.25, cov -+0.25,
    # correlation -+1/sqrt(5): the off-diagonal entries differ by 2/sqrt(5), the mean of 4 entries is 1/sqrt(5)
    loss = SpatialCovarianceLoss()
    assert abs(float(loss(pred, target)) - 1 / math.sqrt(5)) < 1e-7
    # covariance: off-diagonal entries differ by 0.5, divided by the reference's mean power (1.25 + 0.25) / 2
    assert abs(float(SpatialCovarianceLoss("covariance")(pred, target)) - (2 * 0.5 / 4) / 0.75) < 1e-7
    assert float(loss(target, target)) == 0.0 and float(SpatialCovarianceLoss("covariance")(target, target)) == 0.0


def test_spatial_loss_prefers_a_noisy_decoding_to_swapped_channels():
    gen = torch.Generator().manual_seed(0)
    talkers = torch.randn(2, 8000, generator=gen, dtype=torch.float64)
    scene = (encode_source(talkers[0], 0.8, 0.2, 3) + encode_source(talkers[1], -2.0, -0.4, 3)
             + 0.05 * torch.randn(16, 8000, generator=gen, dtype=torch.float64))[None]
    noisy = scene + 0.05 * scene.std() * torch.randn(scene.shape, generator=gen, dtype=torch.float64)
    swapped = scene[:, [0, 3, 2, 1, *range(4, 16)]]  # X and Y exchanged: the scene mirrored about azimuth 45
    for kind in ("correlation", "covariance"):
        loss = SpatialCovarianceLoss(kind)
        assert float(loss(scene, scene)) == 0.0
        assert float(loss(swapped, scene)) > 10 * float(loss(noisy, scene)) > 0
    with pytest.raises(ValueError, match="channels >= 2"):
        loss(scene[:, :1], scene[:, :1])


def test_codec_loss_adds_the_weighted_spatial_term():
    pred, target = torch.randn(2, 4, 800), torch.randn(2, 4, 800)
    total, terms = CodecLoss({"l1": 1.0, "spatial": 1.0}, sample_rate=RATE)(pred, target)
    assert set(terms) == {"l1", "spatial"}
    assert torch.allclose(terms["spatial"], SpatialCovarianceLoss()(pred, target))
    assert torch.allclose(total, terms["l1"] + terms["spatial"])
    total3, _ = CodecLoss({"l1": 1.0, "spatial": 3.0}, sample_rate=RATE, spatial_kind="covariance")(pred, target)
    assert torch.allclose(total3, terms["l1"] + 3 * SpatialCovarianceLoss("covariance")(pred, target))


# ------------------------------------------------------------------------------------------------ training
def hoa_dir(root: Path, items: int = 3) -> Path:
    rng = np.random.default_rng(0)
    wavs, durs = {}, {}
    for i in range(items):
        talker = torch.from_numpy(0.1 * rng.standard_normal(RATE))
        scene = encode_source(talker, float(rng.uniform(-3, 3)), float(rng.uniform(-1, 1)), 3)  # (16, T)
        save(root / "wav" / f"s{i}.wav", scene.float(), RATE)
        wavs[f"s{i}"], durs[f"s{i}"] = f"wav/s{i}.wav", "1.0000"
    write_table(root / "wav.scp", wavs)
    write_table(root / "utt2dur", durs)
    return root


class Metrics(L.Callback):
    def __init__(self):
        self.logged = []

    def on_train_batch_end(self, trainer, *args):
        self.logged.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def test_codec_task_trains_16_channels_with_the_spatial_loss(tmp_path):
    data = hoa_dir(tmp_path / "data")
    cfg = OmegaConf.create({
        "seed": 0, "sample_rate": RATE,
        "data": {"train": {"dir": str(data), "kind": "crops", "tables": ["wav.scp"], "segment_seconds": 0.2,
                           "sample_rate": RATE, "batch_size": 2, "crops_per_epoch": 4, "num_workers": 0, "seed": 0},
                 "valid": {"dir": str(data), "kind": "sequential", "tables": ["wav.scp"], "sample_rate": RATE,
                           "batch_size": 1}},
        "model": {"_target_": "audiokit.models.codec.hoa_rvq_codec", "sample_rate": RATE, "channels": 16,
                  **NETWORK},
        "task": {"_target_": "audiokit.tasks.codec.CodecTask",
                 "loss": {"weights": {"mel": 1.0, "l1": 1.0, "spatial": 1.0, "commitment": 1.0, "adversarial": 1.0,
                                      "feature_matching": 1.0}},
                 "discriminator": {"msstftd": {"filters": 4, "n_ffts": [128, 64]}},
                 "warmup_steps": 1, "optimizer": {"name": "adam", "lr": 1e-3}},
        "checkpoint": {"monitor": "val/mel", "mode": "min", "every_n_steps": 2},
        "trainer": {"max_steps": 2, "val_check_interval": 2, "accelerator": "cpu", "devices": 1,
                    "precision": "32-true", "log_every_n_steps": 1, "enable_progress_bar": False,
                    "enable_model_summary": False},
    })
    metrics = Metrics()
    res = train(cfg, tmp_path / "exp", resume=False, callbacks=[metrics])
    assert len(metrics.logged) == 2  # a warm-up step, then a GAN step with the 16-channel discriminator
    for step in metrics.logged:
        assert 0 < step["train/spatial"] < 2 and math.isfinite(step["train/loss"])
    assert "train/disc" in metrics.logged[1]
    model, ckpt = load_model(res.best)
    assert model.channels == 16 and ckpt["args"]["channels"] == 16
