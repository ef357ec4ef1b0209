"""benchmarks/codecs.py: its MAC counter against hand counts, and a --quick run of our RVQ codec."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _load_benchmark():
    # a module name of its own: "codecs" would shadow the standard library's in sys.modules; registered before
    # running it because dataclasses look their module up there
    spec = importlib.util.spec_from_file_location("benchmark_codecs", REPO / "benchmarks" / "codecs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def test_mac_counter_matches_hand_counts():
    x = torch.randn(2, 3, 101)
    conv = torch.nn.Conv1d(3, 8, kernel_size=5, stride=2, padding=2)
    macs, y = bench.count_macs(conv, x)
    # each output sample of each output channel: in_channels * kernel MACs
    assert y.shape == (2, 8, 51)
    assert macs == 2 * 51 * 8 * 3 * 5 == 12240

    # transposed: each input sample of each input channel scatters kernel * out_channels MACs
    deconv = torch.nn.ConvTranspose1d(3, 4, kernel_size=8, stride=4)
    macs, _ = bench.count_macs(deconv, x)
    assert macs == 2 * 101 * 3 * 4 * 8 == 19392

    # LSTM (FlopCounterMode alone counts 0): per step, per layer, 4H x (I + H)
    lstm = torch.nn.LSTM(16, 32, num_layers=2)
    macs, _ = bench.count_macs(lstm, torch.randn(50, 3, 16))  # (steps, batch, features)
    assert macs == 50 * 3 * (4 * 32 * (16 + 32) + 4 * 32 * (32 + 32)) == 2150400


def test_our_encodec_config_costs_what_encodec_costs():
    pytest.importorskip("encodec")
    ours, peer = bench.audiokit_rvq(), bench.encodec_peer()
    x = torch.randn(1, 1, 24000)
    macs = {}
    for name, runner in (("ours", ours), ("peer", peer)):
        runner.model.eval()
        macs[name + "_encode"], codes = bench.count_macs(runner.encode, x)
        macs[name + "_decode"], _ = bench.count_macs(runner.decode, codes, x.shape[-1])
    assert macs["ours_encode"] == macs["peer_encode"] > 1e9
    assert macs["ours_decode"] == macs["peer_decode"] > 1e9


def test_quick_run_of_our_rvq_codec(tmp_path, capsys):
    out = tmp_path / "codecs.json"
    bench.main(["--quick", "--models", "audiokit-rvq", "--devices", "cpu", "--json", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    result = report["results"]["cpu"]["audiokit-rvq"]
    assert "status" not in result, result
    assert result["params"] == 14_851_810
    assert result["kbps"] == pytest.approx(6.0)
    speed = result["speed"]["1"]
    figures = [result["encode_macs_per_s"], result["decode_macs_per_s"], speed["encode_rtf"], speed["decode_rtf"],
               result["memory"]["encode_peak_mb"], result["memory"]["decode_peak_mb"]]
    assert all(f > 0 for f in figures), figures
    assert len(speed["encode_s"]) == 1 and report["settings"]["seconds"] == 2.0
    row = next(line for line in printed.splitlines() if line.startswith("audiokit-rvq "))
    assert f"{result['params'] / 1e6:.3g}" in row and f"{result['encode_macs_per_s'] / 1e9:.3g}" in row
