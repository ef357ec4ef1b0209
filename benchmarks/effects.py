"""Real-time factor of every effect architecture as a plugin runs it: eager PyTorch, the exported
TorchScript module and the C++ host, against the recompute-the-receptive-field method and against
each model's compute ceiling measured in the same run.

    python benchmarks/effects.py [--blocks 32,128,512,2048] [--seconds 3] [--models tcn300,lstm32,...]
                                 [--no-host] [--no-aoti] [--threads 1]

At 48 kHz, one thread, random weights (speed does not depend on them), mono, knobs fixed.

- eager:      ``model.step`` per block, state carried (what ``audiokit.load(...).process`` does)
- torchscript: ``audiokit export --format torchscript --chunk <block>``, called once per block
- C++ host:   ``audiokit/export/host/effect_host`` on the same export, reading/writing WAV, its own timer
              (after a warm-up of 3 blocks, as a plugin warms up when loaded)
- C++ AOTI:   the same host on ``audiokit export --format aoti --chunk <block>`` (compiled by AOTInductor)
- recompute:  micro-tcn's plugin method, a fresh forward over ``receptive_field - 1 + block`` samples
              per block (TCN only; the other models have no finite receptive field to recompute)
- ceiling:    the model's FLOPs per second of audio (matmuls, convolutions and LSTM cells, counted
              by ``torch.utils.flop_counter`` on a 2048-sample step; element-wise ops and FFTs are
              not counted: for S4, whose long blocks convolve by FFT, the ceiling is loose; gray-box
              models are IIR filters and recursions, shown without one) against the single-thread matrix
              multiply throughput measured here: the RTF a perfect implementation would reach.

RTF = seconds of audio per second of compute (> 1: faster than real time). Quoted peers: micro-tcn's
plugin ~0.14x at block 128 on a laptop (its paper's plot); S4-LA2A streaming 0.75x at 128 (its paper).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import soundfile as sf
import torch
from torch.utils.flop_counter import FlopCounterMode

from audiokit.export import StreamingEffect
from audiokit.export import torchscript as ts
from audiokit.export.streaming import golden_signal
from audiokit.models import effects

RATE = 48000


def presets() -> dict:
    """Paper-size models: name -> (constructor, note)."""
    out = {
        "tcn300": (lambda: effects.micro_tcn_300(RATE, 2), "micro-TCN TCN-300-C, 32 ch"),
        "lstm32": (lambda: effects.lstm_32(RATE, 2), "micro-TCN LSTM-32"),
        "s4_la2a": (lambda: effects.s4_la2a(RATE, 2), "S4-LA2A, 4 blocks x 32 ch"),
        "gcn_tfilm1": (lambda: effects.gcn_tfilm_1(RATE, 2), "GCN-TF1 (10 layers x 16 ch, TFiLM 128)"),
    }
    if hasattr(effects, "graybox_compressor"):
        out["graybox_comp"] = (lambda: effects.graybox_compressor(RATE, 2), "EQ > compressor > EQ")
    return out


def matmul_gflops(seconds: float = 0.5) -> float:
    best = 0.0
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        t0, reps = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            torch.mm(a, b)
            reps += 1
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9)
    return best


@torch.no_grad()
def flops_per_second(model) -> float:
    state = model.init_state(1)
    x, k = torch.randn(1, 1, 2048) * 0.3, torch.full((1, model.num_knobs), 0.5)
    model.step(x, k, state)  # warm caches (S4 tables) outside the count
    lstm_flops = [0]

    def count_lstm(module, inputs, output):  # the flop counter does not see fused LSTM kernels
        steps = inputs[0].shape[0] * inputs[0].shape[1]
        for layer in range(module.num_layers):
            width = module.input_size if layer == 0 else module.hidden_size
            lstm_flops[0] += 2 * 4 * module.hidden_size * (width + module.hidden_size) * steps

    hooks = [m.register_forward_hook(count_lstm) for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    with FlopCounterMode(display=False) as counter:
        model.step(x, k, state)
    for h in hooks:
        h.remove()
    return (counter.get_total_flops() + lstm_flops[0]) / 2048 * RATE


def timed(fn, x: torch.Tensor, block: int, reset=None) -> float:
    """RTF of calling ``fn(block)`` over x once, after 3 warm-up blocks (TorchScript optimises its
    graph on the first calls, as the C++ host's warm-up does) and ``reset()``."""
    for _ in range(3):
        fn(x[..., :block])
    if reset is not None:
        reset()
    t0 = time.perf_counter()
    for i in range(0, x.shape[-1] - block + 1, block):
        fn(x[..., i : i + block])
    n = (x.shape[-1] // block) * block
    return n / RATE / (time.perf_counter() - t0)


@torch.no_grad()
def eager_rtf(model, x, block):
    k = torch.full((1, model.num_knobs), 0.5)
    state = [model.init_state(1)]

    def run(xb):
        y, state[0] = model.step(xb, k, state[0])
    return timed(run, x, block)


@torch.no_grad()
def recompute_rtf(model, x, block):
    context = model.receptive_field - 1
    padded = torch.nn.functional.pad(x, (context, 0))
    k = torch.full((1, model.num_knobs), 0.5)
    pos = [0]

    def run(xb):
        i = pos[0]
        model(padded[..., i : i + context + xb.shape[-1]], k)
        pos[0] = i + xb.shape[-1]

    def rewind():
        pos[0] = 0
    return timed(run, x, block, reset=rewind)


def export_ts(model, block: int, path: Path):
    stream = StreamingEffect(model, channels=1, chunk=block)
    module = ts.script(stream, "{}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(module, str(path))
    return module


@torch.no_grad()
def script_rtf(module, x, block):
    k = torch.full((module.num_knobs,), 0.5)
    return timed(lambda xb: module(xb[0], k), x, block, reset=module.reset)


def host_rtf(host: Path, ts_path: Path, wav: Path, block: int, threads: int) -> float:
    out = wav.with_name("out.wav")
    proc = subprocess.run([str(host), str(ts_path), str(wav), str(out), "--block", str(block),
                           "--threads", str(threads)],
                          capture_output=True, text=True)
    m = re.search(r"([\d.]+)x real time", proc.stdout)
    if proc.returncode or not m:
        raise RuntimeError(f"effect_host failed: {proc.stderr}")
    return float(m.group(1))


def export_aoti(model, block: int, path: Path) -> None:
    import json

    from audiokit.export import aoti
    from audiokit.export.golden import metadata
    from audiokit.export.streaming import make_golden

    stream = StreamingEffect(model, channels=1, chunk=block)
    aoti.save(stream, json.dumps(metadata(stream, {}, "aoti")), make_golden(stream, num_chunks=4), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", default="32,128,512,2048", help="host block sizes (comma separated)")
    parser.add_argument("--seconds", type=float, default=3.0, help="audio per measurement")
    parser.add_argument("--models", default=None, help=f"subset of: {', '.join(presets())}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a plugin gets one)")
    parser.add_argument("--no-host", action="store_true", help="skip building and timing the C++ host")
    parser.add_argument("--no-aoti", action="store_true", help="skip the AOTInductor exports (~10 s to compile each)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    blocks = [int(b) for b in args.blocks.split(",")]
    chosen = presets() if args.models is None else {m: presets()[m] for m in args.models.split(",")}

    gflops = matmul_gflops()
    tmp = Path(tempfile.mkdtemp(prefix="audiokit-bench-"))
    host = None
    if not args.no_host:
        from audiokit.export.host import build_host

        host = build_host(Path("build") / "effect_host")
    x = golden_signal(1, int(args.seconds * RATE), RATE)[None]  # (1, 1, T)
    wav = tmp / "in.wav"
    sf.write(wav, x[0, 0].numpy(), RATE, subtype="FLOAT")

    print(f"effects at {RATE} Hz, {args.threads} thread(s), {args.seconds:g} s of audio per figure; "
          f"matrix multiply {gflops:.0f} GFLOP/s")
    head = (f"{'model':<13} {'params':>8} {'GFLOP/s audio':>13} {'ceiling':>8} {'block':>6} {'eager':>7} "
            f"{'script':>7} {'C++ ts':>7} {'C++ aoti':>8} {'best/ceil':>9} {'recompute':>9} {'best/recomp':>11}")
    print(head)
    print("-" * len(head))
    torch.manual_seed(0)
    for name, (make, note) in chosen.items():
        model = make().eval()
        params = sum(p.numel() for p in model.parameters())
        fps = flops_per_second(model)
        # gray-box models are IIR filters and per-sample recursions the counter cannot see: no ceiling
        countable = not name.startswith("graybox")
        ceiling = gflops * 1e9 / fps if fps and countable else float("nan")
        period = int(getattr(model, "stream_period", 1) or 1)
        for block in blocks:
            ceil_text = f"{ceiling:>7.1f}x" if countable else f"{'-':>8}"
            row = [f"{name:<13} {params:>8,} {fps / 1e9:>13.2f} {ceil_text} {block:>6}"]
            row.append(f"{eager_rtf(model, x, block):>6.1f}x")
            best = None
            if block % period:
                row += [f"{'n/a':>7}", f"{'n/a':>7}", f"{'n/a':>8}", f"{'':>9}"]
            else:
                path = tmp / f"{name}_{block}.ts"
                module = export_ts(model, block, path)
                row.append(f"{script_rtf(module, x, block):>6.1f}x")
                host_ts = host_rtf(host, path, wav, block, args.threads) if host is not None else None
                host_aoti = None
                if host is not None and not args.no_aoti:
                    export_aoti(model, block, tmp / f"{name}_{block}.pt2")
                    host_aoti = host_rtf(host, tmp / f"{name}_{block}.pt2", wav, block, args.threads)
                row.append(f"{host_ts:>6.1f}x" if host_ts else f"{'-':>7}")
                row.append(f"{host_aoti:>7.1f}x" if host_aoti else f"{'-':>8}")
                best = max(v for v in (host_ts, host_aoti, 0.0) if v is not None) or None
                row.append(f"{100 * best / ceiling:>8.0f}%" if best and countable else f"{'-':>9}")
            if isinstance(model, effects.TCN):
                rec = recompute_rtf(model, x, block)
                row.append(f"{rec:>8.2f}x")
                if best:
                    row.append(f"{best / rec:>10.1f}x")
            print(" ".join(row), flush=True)
        print(f"{'':<13} ({note}; receptive field {model.receptive_field or 'unbounded'})")
    print("\nn/a: TFiLM models export in chunks of whole TFiLM blocks (128 samples); smaller host blocks "
          "would need a buffering wrapper (added latency).")


if __name__ == "__main__":
    main()
