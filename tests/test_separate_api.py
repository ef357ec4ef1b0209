"""Separation inference: chunked equals one-shot for an exact model, files in flat memory equal the
in-memory result, channel mapping, and clear errors."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import audiokit
from audiokit.separate import SeparationError
from audiokit.testing import GainSeparator
from audiokit.train.checkpoint import save_model


@pytest.fixture(scope="module")
def sep_path(tmp_path_factory):
    model = GainSeparator()
    path = tmp_path_factory.mktemp("sep") / "sep.pt"
    return save_model(path, model, "audiokit.testing.GainSeparator",
                      {"sources": ["a", "b"], "audio_channels": 2, "sample_rate": 8000},
                      family="separation", sample_rate=8000, metadata={"segment_seconds": 0.25})


def one_shot(sep, wav):
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std()
    with torch.no_grad():
        out = sep.model(((wav - mean) / std)[None])[0] * std + mean / 2
    return out


def test_chunked_separation_equals_one_shot_and_sums_to_mixture(sep_path):
    sep = audiokit.load(sep_path)
    assert sep.sources == ["a", "b"] and sep.audio_channels == 2
    wav = torch.randn(2, 12345) * 0.3 + 0.01
    stems = sep.separate(wav, 8000, segment=0.25, overlap=0.3, batch_chunks=3)
    ref = one_shot(sep, wav)
    for i, name in enumerate(sep.sources):
        assert stems[name].shape == wav.shape and (stems[name] - ref[i]).abs().max() < 1e-5
    gains = sep.model.gain.detach()
    assert (stems["a"] + stems["b"] - wav * gains.sum() - 0.01 * (1 - gains.sum())).abs().max() < 1e-3
    shifted = sep.separate(wav, 8000, segment=0.25, shifts=2)  # a pointwise model is shift-invariant
    assert (shifted["a"] - stems["a"]).abs().max() < 1e-5


def test_file_separation_streams_and_matches(sep_path, tmp_path):
    sep = audiokit.load(sep_path)
    wav = torch.randn(2, 30000) * 0.3
    sf.write(tmp_path / "mix.wav", wav.T.numpy(), 8000, subtype="FLOAT")
    paths = sep.separate_file(tmp_path / "mix.wav", tmp_path / "out", segment=0.25, batch_chunks=2)
    assert sorted(paths) == ["a", "b"] and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav"]
    ref = sep.separate(wav, 8000, segment=0.25)
    for name, path in paths.items():
        got, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == 8000 and np.abs(got.T - ref[name].numpy()).max() < 1e-5
    only = sep.separate_file(tmp_path / "mix.wav", tmp_path / "only", stems=["b"], segment=0.25)
    assert list(only) == ["b"]


def test_channel_mapping_and_resampling(sep_path):
    sep = audiokit.load(sep_path)
    mono = torch.randn(1, 8000) * 0.3
    out = sep.separate(mono, 8000, segment=0.25)
    assert out["a"].shape == (1, 8000)
    assert (out["a"] - one_shot(sep, mono.expand(2, -1))[0].mean(0, keepdim=True)).abs().max() < 1e-5
    assert sep.separate(torch.randn(2, 16000) * 0.1, 16000, segment=0.25)["b"].shape == (2, 16000)


def test_errors_name_the_problem(sep_path, tmp_path):
    sep = audiokit.load(sep_path)
    with pytest.raises(SeparationError, match=r"stems \['vocals'\] not in"):
        sep.separate(torch.zeros(2, 100), 8000, stems=["vocals"])
    with pytest.raises(SeparationError, match="input has 3 channels; this model takes 2"):
        sep.separate(torch.zeros(3, 100), 8000)
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    with pytest.raises(audiokit.utils.AudiokitError):
        sep.separate_file(tmp_path / "bad.wav", tmp_path / "o")
    sf.write(tmp_path / "three.wav", np.zeros((100, 3), np.float32), 8000)
    with pytest.raises(SeparationError, match="3 channels"):
        sep.separate_file(tmp_path / "three.wav", tmp_path / "o3")
    assert not (tmp_path / "o3").exists() or not any((tmp_path / "o3").iterdir())


def test_cli_separate_writes_track_folders(sep_path, tmp_path):

    sf.write(tmp_path / "song.wav", (np.random.default_rng(0).standard_normal((4000, 2)) * 0.2).astype(np.float32),
             8000)
    run = [sys.executable, "-m", "audiokit.cli", "separate", str(tmp_path / "song.wav"), "-m", str(sep_path),
           "-o", str(tmp_path / "sep"), "--segment", "0.25"]
    proc = subprocess.run([*run, "--int24"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(tmp_path / "sep" / "song" / "a.wav")).subtype == "PCM_24"
    proc = subprocess.run([*run, "--stems", "drums"], capture_output=True, text=True)
    assert proc.returncode == 2 and "not in this model's ['a', 'b']" in proc.stderr


def write_sep_dir(d, tracks):
    """A separation data dir of stems a and b at 8 kHz: track t<k> is ``tracks[k] = (a, b)``, mixture a + b."""
    from audiokit.audio.io import save
    from audiokit.data.kaldi import write_table

    tables = {"mixture": {}, "a": {}, "b": {}}
    for k, (a, b) in enumerate(tracks):
        for name, wav in (("a", a), ("b", b), ("mixture", a + b)):
            save(d / "wav" / f"t{k}_{name}.wav", wav, 8000)
            tables[name][f"t{k}"] = f"wav/t{k}_{name}.wav"
    for name, table in tables.items():
        write_table(d / f"{name}.scp", table)
    (d / "stems").write_text("a\nb\n")
    return d


def test_eval_on_a_separation_dir(sep_path, tmp_path):
    from audiokit.evaluate import evaluate_separation, format_separation_table

    g = torch.Generator().manual_seed(0)
    tracks = [(torch.randn(2, 4000, generator=g) * 0.3, torch.randn(2, 4000, generator=g) * 0.1) for _ in range(3)]
    d = write_sep_dir(tmp_path / "test", tracks)
    res = evaluate_separation(audiokit.load(sep_path), d, progress=False, segment=0.25)
    assert res["num_tracks"] == 3 and res["aggregation"] == "median over tracks"
    # the mixture as estimate of stem a (10 dB louder than b) scores about 10 dB
    assert 8 < res["mixture"]["nsdr"]["a"] < 12 and res["mixture"]["nsdr"]["b"] < -8
    table = format_separation_table(res)
    assert "nsdr model" in table and "median over 3 tracks" in table


def test_eval_bsseval_columns_and_per_track_json(sep_path, tmp_path):
    from audiokit.metrics.separation import bss_eval_v4, track_score

    g = torch.Generator().manual_seed(1)
    tracks = [(torch.randn(2, 20000, generator=g) * 0.3, torch.randn(2, 20000, generator=g) * 0.1),
              (torch.randn(2, 20000, generator=g) * 0.3, torch.zeros(2, 20000))]  # t1: b absent
    d = write_sep_dir(tmp_path / "test", tracks)
    out, tracks = tmp_path / "scores.json", tmp_path / "tracks"
    proc = subprocess.run([sys.executable, "-m", "audiokit", "eval", "-m", str(sep_path), "--data", str(d),
                           "--bsseval", "--per-track", str(tracks), "--out", str(out), "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sdr model" in proc.stdout and "sar model" in proc.stdout and "BSSEval v4" in proc.stdout
    assert sorted(p.name for p in tracks.iterdir()) == ["t0.json", "t1.json"]
    t0, t1 = (json.loads((tracks / f"t{k}.json").read_text()) for k in range(2))
    assert math.isnan(t1["model"]["b"]["sdr"]) and not math.isnan(t1["model"]["a"]["sdr"])
    # the values are bss_eval_v4's on the same estimates (median over 1 s frames)
    sep = audiokit.load(sep_path)
    mix = torch.from_numpy(sf.read(d / "wav" / "t0_mixture.wav", dtype="float32")[0].T.copy())
    est = sep.separate(mix, 8000)
    refs = torch.stack([torch.from_numpy(sf.read(d / "wav" / f"t0_{s}.wav", dtype="float32")[0].T.copy())
                        for s in "ab"])
    want = track_score(bss_eval_v4(torch.stack([est["a"], est["b"]]), refs, 8000))
    for j, s in enumerate("ab"):
        for m in ("sdr", "sir", "isr", "sar"):
            assert t0["model"][s][m] == pytest.approx(float(getattr(want, m)[j]), abs=1e-4), (s, m)
    summary = json.loads(out.read_text())
    assert summary["metrics"] == ["nsdr", "si_sdr", "sdr", "sir", "isr", "sar"]
    assert summary["model"]["sdr"]["b"] == pytest.approx(t0["model"]["b"]["sdr"])  # t1 has no b: skipped
