"""audiokit.load() and the CLI on a trained (tiny) effect model: file streaming equals offline."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import audiokit
from audiokit.audio.io import load, save
from audiokit.models.effects import TCN
from audiokit.testing import DRIVE
from audiokit.train.checkpoint import CheckpointError, save_model

ARGS = dict(sample_rate=8000, num_knobs=1, num_blocks=3, channels=8, kernel_size=5, dilation_growth=3)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    model = TCN(**ARGS)
    with torch.no_grad():  # give BatchNorm non-trivial running stats
        model(torch.randn(4, 1, 4000), torch.rand(4, 1))
    path = tmp_path_factory.mktemp("model") / "best.pt"
    save_model(path, model.eval(), "audiokit.models.effects.tcn.TCN", ARGS, family="effects", sample_rate=8000,
               metadata={"knobs": DRIVE.to_json()})
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "audiokit.cli", *map(str, args)], capture_output=True, text=True)


def test_process_equals_offline_model_for_each_channel(model_path):
    fx = audiokit.load(model_path)
    wav = torch.randn(2, 10000) * 0.3
    out = fx.process(wav, 8000, block_size=777, drive_db=12.0)
    knob = DRIVE.normalize({"drive_db": 12.0})[None]
    with torch.no_grad():
        ref = torch.cat([fx.model(wav[c][None, None], knob)[0] for c in range(2)])
    assert out.shape == wav.shape and (out - ref).abs().max() < 1e-5


def test_process_file_streams_from_disk_and_matches(model_path, tmp_path):
    fx = audiokit.load(model_path)
    wav = torch.randn(2, 20000) * 0.3
    save(tmp_path / "in.wav", wav, 8000)
    fx.process_file(tmp_path / "in.wav", tmp_path / "out.wav", block_size=4096, drive_db=3.0)
    got, rate = load(tmp_path / "out.wav")
    assert rate == 8000 and (got - fx.process(wav, 8000, drive_db=3.0)).abs().max() < 1e-5


@pytest.mark.parametrize("block_size", [5, 777, 4096])
def test_lookahead_model_is_compensated_in_process_and_files(tmp_path, block_size):
    """A TCN with 9 samples of lookahead streams 9 samples late; process() and process_file() return
    the offline output, aligned, at every block size (blocks shorter than the latency included)."""
    torch.manual_seed(0)
    args = dict(ARGS, film_batch_norm=False, lookahead=9)
    path = save_model(tmp_path / "la.pt", TCN(**args).eval(), "audiokit.models.effects.tcn.TCN", args,
                      family="effects", sample_rate=8000, metadata={"knobs": DRIVE.to_json()})
    fx = audiokit.load(path)
    assert fx.latency == 9
    wav = torch.randn(2, 5000) * 0.3
    knob = DRIVE.normalize({"drive_db": 6.0})[None]
    with torch.no_grad():
        ref = torch.cat([fx.model(wav[c][None, None], knob)[0] for c in range(2)])
    out = fx.process(wav, 8000, block_size=block_size, drive_db=6.0)
    assert out.shape == wav.shape and (out - ref).abs().max() < 1e-5
    save(tmp_path / "in.wav", wav, 8000)
    fx.process_file(tmp_path / "in.wav", tmp_path / "out.wav", block_size=block_size, drive_db=6.0)
    got, _ = load(tmp_path / "out.wav")
    assert got.shape == wav.shape and (got - ref).abs().max() < 1e-5


def test_resampled_input_comes_back_at_its_rate(model_path):
    fx = audiokit.load(model_path)
    out = fx.process(torch.randn(1, 16000) * 0.1, 16000)
    assert out.shape == (1, 16000) and torch.isfinite(out).all()


def test_cli_fx_process_and_info(model_path, tmp_path):
    save(tmp_path / "in.wav", torch.randn(1, 8000) * 0.3, 8000)
    res = cli("fx", "process", tmp_path / "in.wav", tmp_path / "out.wav", "-m", model_path, "--knob", "drive_db=20")
    assert res.returncode == 0, res.stderr
    out, _ = load(tmp_path / "out.wav")
    ref = audiokit.load(model_path).process(load(tmp_path / "in.wav")[0], 8000, drive_db=20)
    assert (out - ref).abs().max() < 1e-5
    info = cli("fx", "info", "-m", model_path)
    assert "drive_db" in info.stdout and "0..24 dB" in info.stdout


def test_cli_errors_are_clear(model_path, tmp_path):
    save(tmp_path / "in.wav", torch.randn(1, 800), 8000)
    res = cli("fx", "process", tmp_path / "in.wav", tmp_path / "o.wav", "-m", model_path, "--knob", "gain=3")
    assert res.returncode == 2 and "unknown knob 'gain'; this model's knobs are: drive_db" in res.stderr
    res = cli("fx", "process", tmp_path / "in.wav", tmp_path / "o.wav", "-m", model_path, "--knob", "drive_db=99")
    assert res.returncode == 2 and "outside its range [0.0, 24.0] dB" in res.stderr
    res = cli("fx", "process", tmp_path / "missing.wav", tmp_path / "o.wav", "-m", model_path)
    assert res.returncode == 2 and "missing.wav" in res.stderr
    res = cli("fx", "process", tmp_path / "in.wav", tmp_path / "o.wav", "-m", "no-such-model")
    assert res.returncode == 2
    assert "no checkpoint file, experiment dir or pretrained model named 'no-such-model'" in res.stderr
    res = cli("fx", "process", tmp_path / "in.wav", "-m", model_path)
    assert res.returncode == 2 and "required" in res.stderr  # argparse usage error
    res = cli("train", "x.yaml", "--exp-dir", "e", "--bogus")
    assert res.returncode == 2 and "unrecognized arguments: --bogus" in res.stderr
    assert not (tmp_path / "o.wav").exists()


def test_nan_input_file_is_rejected_without_output(model_path, tmp_path):
    data = np.zeros(1000, np.float32)
    data[500] = np.nan
    sf.write(tmp_path / "nan.wav", data, 8000, subtype="FLOAT")
    with pytest.raises(Exception, match="nan.wav' contains NaN"):
        audiokit.load(model_path).process_file(tmp_path / "nan.wav", tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists() and not list(tmp_path.glob(".out.wav*"))


def test_load_rejects_lightning_ckpt(tmp_path):
    torch.save({"state_dict": {}, "global_step": 3}, tmp_path / "last.ckpt")
    with pytest.raises(CheckpointError, match="not an audiokit model checkpoint"):
        audiokit.load(tmp_path / "last.ckpt")
