"""Plugin export: every format reloads and re-runs its golden vectors; exported streaming equals the
offline model; knob smoothing bounds the jump; hosts get clear errors; the C++ host matches Python."""
from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import warnings
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.export import ExportError, StreamingEffect, export_effect, verify
from audiokit.export import torchscript as ts
from audiokit.export.streaming import make_golden, run_chunks
from audiokit.train.checkpoint import load_model, save_model

SR = 8000
KNOBS = [dict(name="drive", minimum=0.0, maximum=40.0, default=10.0, unit="dB"),
         dict(name="tone", minimum=0.0, maximum=1.0, default=0.5)]
MODELS = {  # name -> (target, constructor args after sample_rate, num_knobs)
    "tcn": ("audiokit.models.effects.tcn.TCN",
            dict(num_blocks=3, channels=8, kernel_size=5, dilation_growth=3, film_batch_norm=False)),
    "lstm": ("audiokit.models.effects.lstm.LSTM", dict(hidden_size=16)),
    "gcn_tfilm": ("audiokit.models.effects.gcn.GCN",
                  dict(num_blocks=1, layers_per_block=4, channels=8, tfilm_block_size=64)),
    "s4": ("audiokit.models.effects.s4.S4", dict(num_blocks=2, channels=8, state_size=4)),
    "graybox": ("audiokit.models.effects.graybox.graybox_compressor", {}),
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from audiokit.train.checkpoint import import_target

    root = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for name, (target, kwargs) in MODELS.items():
        torch.manual_seed(0)
        args = dict(sample_rate=SR, num_knobs=2, **kwargs)
        model = import_target(target)(**args)
        paths[name] = save_model(root / f"{name}.pt", model, target, args, family="effects", sample_rate=SR,
                                 metadata={"knobs": KNOBS})
    return paths


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_reloads_and_matches_golden(checkpoints, tmp_path, name, fmt):
    out = export_effect(checkpoints[name], fmt, tmp_path / f"m.{'ts' if fmt == 'torchscript' else 'onnx'}",
                        channels=2)
    report = verify(out)
    assert report["max_abs_error"] < 1e-5
    assert report["sample_rate"] == SR and report["channels"] == 2 and report["num_knobs"] == 2
    assert [k["name"] for k in report["knobs"]] == ["drive", "tone"]
    assert report["chunk"] == 128  # the default; for GCN also a whole number of its 64-sample TFiLM blocks


@pytest.mark.parametrize("name", ["tcn", "s4", "graybox"])
def test_aoti_export_verifies(checkpoints, tmp_path, name):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    out = export_effect(checkpoints[name], "aoti", tmp_path / "m.pt2", chunk=64)
    assert verify(out)["max_abs_error"] < 1e-5


def test_failed_export_leaves_the_previous_file(checkpoints, tmp_path, monkeypatch):
    out = export_effect(checkpoints["tcn"], "torchscript", tmp_path / "m.ts")
    before = out.read_bytes()

    def broken(path):
        raise ExportError("golden vectors differ (simulated)")
    monkeypatch.setattr(ts, "verify", broken)
    with pytest.raises(ExportError, match="simulated"):
        export_effect(checkpoints["lstm"], "torchscript", out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.ts"]
    with pytest.raises(ExportError, match="written to a '.onnx' file"):
        export_effect(checkpoints["tcn"], "onnx", tmp_path / "m2.ts")


def test_python_runners_reject_bad_blocks(checkpoints, tmp_path):
    from audiokit.export.onnx import OnnxEffect

    fx = OnnxEffect(export_effect(checkpoints["lstm"], "onnx", tmp_path / "m.onnx", chunk=64))
    k = torch.full((2,), 0.5)
    for x, knobs, message in [(torch.zeros(1, 100), k, "not a multiple of the chunk size 64"),
                              (torch.zeros(2, 64), k, r"expected shape \(1, N\)"),
                              (torch.zeros(1, 64), torch.tensor([0.5, float("nan")]), r"must lie in \[0, 1\]"),
                              (torch.zeros(1, 64, dtype=torch.float64), k, "expected float32")]:
        with pytest.raises(ExportError, match=message):
            fx(x, knobs)


def test_nan_knob_cannot_poison_the_stream(checkpoints):
    model, _ = load_model(checkpoints["lstm"])
    stream = StreamingEffect(model, channels=1, chunk=64)
    x = torch.randn(1, 64)
    y, current, *_ = stream(x, torch.tensor([float("nan"), 0.2]), stream.initial_smoothed(), *stream.initial_state())
    assert torch.isfinite(y).all() and torch.isfinite(current).all()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_stream_equals_offline_model(checkpoints, name):
    """With constant knobs, the scripted plugin module over host blocks equals the offline forward."""
    model, _ = load_model(checkpoints[name])
    model.eval()
    stream = StreamingEffect(model, channels=2, chunk=64, smoothing_ms=20.0)
    module = ts.script(stream, '{"knobs": []}')
    x = torch.randn(2, 64 * 24) * 0.3
    knobs = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        offline = model(x[:, None], knobs.expand(2, -1))[:, 0]
        got = torch.cat([module(x[:, i : i + 192], knobs) for i in range(0, x.shape[1], 192)], dim=1)
    assert (got - offline).abs().max() < 1e-5
    module.reset()  # a fresh stream: zero state, and knobs snap to the new targets (no glide from the old)
    other = torch.tensor([0.9, 0.1])
    with torch.no_grad():
        again = module(x[:, :192], other)
        offline_other = model(x[:, None, :192], other.expand(2, -1))[:, 0]
    assert (again - offline_other).abs().max() < 1e-5


def test_neutone_export_passes_the_sdk_checks_and_golden_vectors(checkpoints, tmp_path):
    pytest.importorskip("neutone_sdk")
    out = export_effect(checkpoints["tcn"], "neutone", tmp_path / "m.nm")  # the SDK saves, reloads, checks
    report = verify(out)  # golden vectors through the plugin's own entry point (sample queue wrapper)
    assert report["max_abs_error"] < 1e-5 and report["format"] == "audiokit.export/neutone/1"
    from neutone_sdk.utils import load_neutone_model

    model, meta = load_neutone_model(str(out))
    assert [p["name"] for p in meta["neutone_parameters"].values()] == ["drive", "tone"]
    assert model.get_native_sample_rates() == [SR] and 128 in model.get_native_buffer_sizes()


def test_neutone_without_schema_or_native_sizes(checkpoints, tmp_path):
    pytest.importorskip("neutone_sdk")
    from audiokit.models.effects import LSTM

    path = save_model(tmp_path / "plain.pt", LSTM(SR, 2, hidden_size=4), "audiokit.models.effects.lstm.LSTM",
                      dict(sample_rate=SR, num_knobs=2, hidden_size=4), family="effects", sample_rate=SR)
    out = export_effect(path, "neutone", tmp_path / "m.nm")  # no knob schema: generic parameter names
    assert [k["name"] for k in verify(out)["knobs"]] == ["knob1", "knob2"]
    with pytest.raises(ExportError, match="divides none of"):
        export_effect(checkpoints["tcn"], "neutone", tmp_path / "m2.nm", chunk=96)


def test_neutone_refuses_more_than_four_knobs(tmp_path):
    pytest.importorskip("neutone_sdk")
    from audiokit.models.effects import LSTM

    knobs = [dict(name=f"k{i}", minimum=0.0, maximum=1.0, default=0.5) for i in range(5)]
    path = save_model(tmp_path / "five.pt", LSTM(SR, 5, hidden_size=4), "audiokit.models.effects.lstm.LSTM",
                      dict(sample_rate=SR, num_knobs=5, hidden_size=4), family="effects", sample_rate=SR,
                      metadata={"knobs": knobs})
    with pytest.raises(ExportError, match="at most 4 knobs"):
        export_effect(path, "neutone", tmp_path / "m.nm")
    assert not (tmp_path / "m.nm").exists()


def test_verifier_catches_a_wrong_export(checkpoints, tmp_path):
    out = export_effect(checkpoints["tcn"], "torchscript", tmp_path / "m.ts")
    module, meta, golden = ts.load(out)
    golden["output"] = golden["output"] + 1e-3  # as if the file's program computed something else
    stream_meta = json.dumps(meta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(module, str(tmp_path / "bad.ts"), _extra_files={
            ts.EXTRA_META: stream_meta, ts.EXTRA_GOLDEN: base64.b64encode(_pack(golden)).decode()})
    with pytest.raises(ExportError, match="golden vectors differ"):
        verify(tmp_path / "bad.ts")


def _pack(golden):
    buf = io.BytesIO()
    np.savez(buf, **{k: v.numpy() for k, v in golden.items()})
    return buf.getvalue()


def test_onnx_and_aoti_files_without_metadata_are_refused(tmp_path):
    (tmp_path / "x.pt2").write_bytes(b"not a zip")
    with pytest.raises(ExportError, match="not a .pt2 package"):
        verify(tmp_path / "x.pt2")
    with zipfile.ZipFile(tmp_path / "y.pt2", "w") as z:
        z.writestr("model/data.bin", b"")
    with pytest.raises(ExportError, match="without audiokit metadata"):
        verify(tmp_path / "y.pt2")
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ExportError, match="unknown export file type"):
        verify(tmp_path / "x.bin")
    with pytest.raises(ExportError, match="not found"):
        verify(tmp_path / "missing.ts")


def test_onnx_file_without_metadata_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(tmp_path / "plain.onnx"))
    with pytest.raises(ExportError, match="without audiokit metadata"):
        verify(tmp_path / "plain.onnx")


def test_tfilm_model_needs_whole_blocks_per_chunk(checkpoints, tmp_path):
    with pytest.raises(ExportError, match="multiple of 64"):
        export_effect(checkpoints["gcn_tfilm"], "torchscript", tmp_path / "m.ts", chunk=32)
    assert not (tmp_path / "m.ts").exists()


def test_scripted_module_rejects_bad_input(checkpoints):
    model, _ = load_model(checkpoints["tcn"])
    module = ts.script(StreamingEffect(model, channels=1, chunk=64), "{}")
    ok = torch.zeros(1, 128)
    with pytest.raises(Exception, match=r"expected shape \(1, N\)"):
        module(torch.zeros(2, 128), torch.full((2,), 0.5))  # wrong channel count
    with pytest.raises(Exception, match="not a multiple of the chunk size 64"):
        module(torch.zeros(1, 100), torch.full((2,), 0.5))
    with pytest.raises(Exception, match="expected 2 normalised values"):
        module(ok, torch.full((3,), 0.5))
    with pytest.raises(Exception, match=r"must lie in \[0, 1\]"):
        module(ok, torch.tensor([0.5, 1.5]))


def test_knob_jump_is_smoothed(checkpoints):
    """A knob jump between blocks moves the output by at most about the smoother's per-chunk step;
    without smoothing it moves the whole way at once; both settle on the new setting."""
    model, _ = load_model(checkpoints["tcn"])
    model.eval()
    chunk, n = 64, 40
    x = (0.5 * torch.sin(torch.arange(chunk * n) * 2 * torch.pi * 220 / SR))[None]
    low, high = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    jump = 10
    track = torch.stack([low if i < jump else high for i in range(n)])

    def run(smoothing_ms, knob_track):
        s = StreamingEffect(model, channels=1, chunk=chunk, smoothing_ms=smoothing_ms)
        return run_chunks(s, x, knob_track, s.initial_smoothed(), s.initial_state(), chunk)[0][0]

    ref_low, ref_high = run(0.0, low.expand(n, -1)), run(0.0, high.expand(n, -1))
    first = slice(jump * chunk, (jump + 1) * chunk)  # the first chunk after the jump
    full_move = (ref_high[first] - ref_low[first]).abs().max()
    assert full_move > 5e-3  # the knobs matter for this (random) model
    hard, smooth = run(0.0, track), run(20.0, track)
    c = StreamingEffect(model, 1, chunk, 20.0).coefficient
    assert (hard[first] - ref_low[first]).abs().max() > 0.5 * full_move
    assert (smooth[first] - ref_low[first]).abs().max() <= 2 * c * full_move
    assert (smooth[: jump * chunk] - ref_low[: jump * chunk]).abs().max() < 1e-6  # nothing before the jump
    tail = slice((n - 2) * chunk, n * chunk)  # after ~ 7 time constants: on the new setting
    assert (smooth[tail] - ref_high[tail]).abs().max() < 0.02 * full_move
    # the knob values in use: exactly a fraction c of the remaining way per chunk
    stream = StreamingEffect(model, channels=1, chunk=chunk, smoothing_ms=20.0)
    smoothed, state, used = stream.initial_smoothed(), stream.initial_state(), []
    for i in range(n):
        _, smoothed, *state = stream(x[:, i * chunk : (i + 1) * chunk], track[i], smoothed, *state)
        used.append(smoothed[0].item())
    assert used[:jump] == [0.0] * jump
    expected = [1 - (1 - c) ** (i + 1) for i in range(n - jump)]
    assert max(abs(a - b) for a, b in zip(used[jump:], expected)) < 1e-6


def test_golden_track_contains_a_knob_jump(checkpoints):
    model, _ = load_model(checkpoints["lstm"])
    golden = make_golden(StreamingEffect(model, 1, 32), num_chunks=8)
    assert golden["input"].shape == (1, 256) and golden["output"].shape == (1, 256)
    assert not torch.equal(golden["knobs"][0], golden["knobs"][-1])


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    from audiokit.export.host import build_host

    return build_host(tmp_path_factory.mktemp("host") / "effect_host")


@pytest.mark.parametrize("fmt", ["torchscript", "aoti"])
def test_cpp_host_matches_python(checkpoints, host, tmp_path, fmt):
    out = export_effect(checkpoints["gcn_tfilm"], fmt, tmp_path / ("m.ts" if fmt == "torchscript" else "m.pt2"),
                        channels=2)
    x = (torch.randn(2, 3000) * 0.3).T.numpy()  # not a whole number of blocks: the host pads the last
    sf.write(tmp_path / "in.wav", x, SR, subtype="PCM_24")
    proc = subprocess.run([str(host), str(out), str(tmp_path / "in.wav"), str(tmp_path / "out.wav"),
                           "--block", "256", "--knobs", "0.25,0.75"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "x real time" in proc.stdout
    got, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert rate == SR and got.shape == x.shape
    if fmt == "aoti":
        from audiokit.export.aoti import AotiEffect

        module = AotiEffect(out)
    else:
        module, _, _ = ts.load(out)
    wav, _ = sf.read(tmp_path / "in.wav", dtype="float32", always_2d=True)
    padded = torch.nn.functional.pad(torch.from_numpy(wav.T.copy()), (0, 72))
    with torch.no_grad():
        ref = module(padded, torch.tensor([0.25, 0.75]))[:, : x.shape[0]]
    assert np.abs(got.T - ref.numpy()).max() < 1e-6


@pytest.mark.parametrize("subtype,fmt", [("PCM_16", "WAV"), ("DOUBLE", "WAV"), ("FLOAT", "WAVEX"), ("PCM_32", "WAV")])
def test_cpp_host_reads_wav_variants(checkpoints, host, tmp_path, subtype, fmt):
    out = export_effect(checkpoints["tcn"], "torchscript", tmp_path / "m.ts", chunk=64)
    x = (0.3 * torch.randn(1, 1000)).clamp(-1, 1).T.numpy()
    sf.write(tmp_path / "in.wav", x, SR, subtype=subtype, format=fmt)
    proc = subprocess.run([str(host), str(out), str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--block", "64"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    wav, _ = sf.read(tmp_path / "in.wav", dtype="float32", always_2d=True)  # what the host should have read
    module, _, _ = ts.load(out)
    with torch.no_grad():
        ref = module(torch.nn.functional.pad(torch.from_numpy(wav.T.copy()), (0, 24)), module.default_knobs)
    got, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert np.abs(got.T - ref[:, :1000].numpy()).max() < 1e-6


def test_cpp_host_rejects_bad_input(checkpoints, host, tmp_path):
    out = export_effect(checkpoints["tcn"], "torchscript", tmp_path / "m.ts")
    sf.write(tmp_path / "stereo.wav", np.zeros((800, 2), np.float32), SR)
    sf.write(tmp_path / "rate.wav", np.zeros(800, np.float32), 16000)
    sf.write(tmp_path / "ok.wav", np.zeros(800, np.float32), SR)
    cases = [("stereo.wav", [], "has 2 channel(s); the model was exported for 1"),
             ("rate.wav", [], "at 16000 Hz; the model runs at 8000 Hz"),
             ("ok.wav", ["--knobs", "0.5"], "the model has 2 knobs, got 1"),
             ("ok.wav", ["--knobs", "0.5,1.5"], "outside [0, 1]"),
             ("ok.wav", ["--block", "100"], "multiple of the model's chunk 128"),
             ("ok.wav", ["--block", "abc"], "expected a positive whole number")]
    for wav, extra, message in cases:
        proc = subprocess.run([str(host), str(out), str(tmp_path / wav), str(tmp_path / "o.wav"), *extra],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, (wav, extra, proc.stderr)
        assert not (tmp_path / "o.wav").exists()
