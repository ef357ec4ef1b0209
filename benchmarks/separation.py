"""Separation speed and memory: audiokit's Demucs beside the ``demucs`` package's, file in, stems out.

    python benchmarks/separation.py [--channels 64] [--seconds 30,600] [--threads 1,2] [--segment 10]
                                    [--device cpu] [--sources 4]

Both libraries run the paper's Demucs v2 at the same hyperparameters (depth 6, kernel 8, stride 4,
growth 2, GLU rewrites, context 3, 2-layer BiLSTM, x2 resampling; ``--channels`` wide) with random
weights (seeded): the work, not the quality, is measured. The reference is ``demucs.demucs.Demucs`` of
the ``demucs`` package (4.x) with its later additions switched off (``dconv_mode=0``, no GELU, no group
norm: the v2 layout), run as its ``separate`` command runs a track: the whole file loaded, standardised,
``demucs.apply.apply_model(split=True)`` over ``--segment`` s chunks with 25% overlap and a triangular
cross-fade, every stem written. audiokit runs ``SeparationModel.separate_file`` with the same segment
and overlap: two passes over the file, chunks read as needed and stems written as they are final.

Each (library, input length, thread count) runs in a fresh process (so peak memory is its own),
after a 1-second warm-up. Reported:

- parameters of each model;
- seconds of compute per minute of audio (wall clock of the whole file-to-files call);
- peak resident memory of the process during the call (``VmHWM``, reset after the warm-up) and the
  part of it above the process's memory before the call (the model and libraries are in the first,
  not in the second);
- denormal floats are flushed to zero in both (``torch.set_flush_denormal``): with random weights the
  LSTM's states decay into denormals, which make a CPU run up to 100x slower whichever library runs it;
- the ratios reference / audiokit (> 1: audiokit faster or smaller).

The inputs are stereo 44.1 kHz noise bursts (the network's cost does not depend on the content),
written once to a temporary folder. The ``demucs`` package is a benchmark-only dependency
(``pip install demucs``; it is in the ``dev`` extra).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SAMPLE_RATE = 44100
SOURCES = ("drums", "bass", "other", "vocals", "piano", "guitar")


def reference_model(sources, channels: int):
    from demucs.demucs import Demucs as Reference

    # context=1 is their half-width: a kernel of 3, our context=3; norm_starts past the depth: no norm
    return Reference(list(sources), audio_channels=2, channels=channels, depth=6, growth=2.0, kernel_size=8,
                     stride=4, context=1, glu=True, rewrite=True, gelu=False, dconv_mode=0, norm_starts=100,
                     lstm_layers=2, normalize=False, resample=True, rescale=0.1, samplerate=SAMPLE_RATE)


def audiokit_model(sources, channels: int):
    from audiokit.models.separation import demucs_paper

    return demucs_paper(list(sources), audio_channels=2, channels=channels)


def run_reference(model, src: Path, out: Path, segment: float, device: str) -> None:
    """What ``demucs.separate`` does with a track (I/O through soundfile instead of ffmpeg)."""
    from demucs.apply import apply_model

    data, rate = sf.read(str(src), dtype="float32", always_2d=True)
    wav = torch.from_numpy(data.T.copy())
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std()
    wav = (wav - mean) / std
    with torch.no_grad():
        stems = apply_model(model, wav[None], shifts=0, split=True, overlap=0.25, segment=segment,
                            device=device, progress=False)[0]
    stems = stems * std + mean
    out.mkdir(parents=True, exist_ok=True)
    for name, stem in zip(model.sources, stems):
        sf.write(str(out / f"{name}.wav"), stem.T.cpu().numpy(), rate, subtype="FLOAT")


def run_audiokit(sep, src: Path, out: Path, segment: float) -> None:
    sep.separate_file(src, out, segment=segment, overlap=0.25, batch_chunks=1)


def child(args) -> None:
    """One measurement in this process; prints a JSON line."""
    torch.set_num_threads(args.child_threads)
    # denormal floats in the LSTM's decaying states can slow a CPU run 100-fold; flushed for both libraries
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    sources = SOURCES[: args.sources]
    device = args.device
    if args.child == "demucs":
        model = reference_model(sources, args.channels).to(device).eval()

        def call(src, out):
            run_reference(model, src, out, args.segment, device)
    else:
        from audiokit.separate import SeparationModel

        model = audiokit_model(sources, args.channels)
        sep = SeparationModel(model, {"sample_rate": SAMPLE_RATE}, device=device)

        def call(src, out):
            run_audiokit(sep, src, out, args.segment)
    params = sum(p.numel() for p in model.parameters())
    work = Path(args.child_input).parent
    call(work / "warmup.wav", work / f"warm-{args.child}")  # first-call allocations, kernel choices
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with open("/proc/self/clear_refs", "w") as f:  # peak RSS (VmHWM) := current RSS (Linux >= 4.0)
        f.write("5")
    before = _status_mb("VmRSS")
    start = time.perf_counter()
    call(Path(args.child_input), work / f"out-{args.child}")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    result = {"params": params, "seconds": seconds, "peak_mb": peak, "before_mb": before}
    if device.startswith("cuda"):
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def write_input(path: Path, seconds: float, seed: int) -> None:
    """Stereo noise bursts, block by block (a 10-minute input never sits whole in this process)."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SAMPLE_RATE)
    with sf.SoundFile(str(path), "w", samplerate=SAMPLE_RATE, channels=2, subtype="FLOAT") as f:
        for start in range(0, total, SAMPLE_RATE):
            n = min(SAMPLE_RATE, total - start)
            envelope = 0.05 + 0.2 * rng.random() * np.exp(-np.arange(n) / (0.2 * SAMPLE_RATE))
            f.write((rng.standard_normal((n, 2)) * envelope[:, None]).astype(np.float32))


def measure(lib: str, src: Path, threads: int, args) -> dict:
    cmd = [sys.executable, __file__, "--child", lib, "--child-input", str(src), "--child-threads", str(threads),
           "--channels", str(args.channels), "--segment", str(args.segment), "--device", args.device,
           "--sources", str(args.sources)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{lib} run failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=64, help="first layer width (the paper: 64)")
    parser.add_argument("--sources", type=int, default=4, help="stems (default 4, as MUSDB18)")
    parser.add_argument("--seconds", default="30,600", help="input lengths in seconds, comma-separated")
    parser.add_argument("--threads", default="1,2", help="CPU thread counts, comma-separated")
    parser.add_argument("--segment", type=float, default=10.0, help="chunk length in seconds (both libraries)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (threads then only drive the host side)")
    parser.add_argument("--child", choices=["audiokit", "demucs"], help=argparse.SUPPRESS)
    parser.add_argument("--child-input", help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    try:
        import demucs  # noqa: F401
    except ImportError:
        raise SystemExit("benchmarks/separation.py compares with the demucs package: pip install demucs") from None

    lengths = [float(s) for s in args.seconds.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    print(f"Demucs v2, {args.channels} channels, depth 6, {args.sources} stems, stereo 44.1 kHz; segment "
          f"{args.segment:g} s, overlap 0.25; device {args.device}; torch {torch.__version__}")
    print("s/min: seconds of compute per minute of audio (file in, stem files out); peak: process peak RSS, "
          "+call: peak above the memory before the call")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_input(work / "warmup.wav", 1.0, seed=1)
        header = (f"{'input':>7} {'thr':>3} | {'audiokit s/min':>14} {'peak MB':>8} {'+call':>7} | "
                  f"{'demucs s/min':>12} {'peak MB':>8} {'+call':>7} | {'speed x':>7} {'+call x':>7}")
        rows, params = [], {}
        for seconds in lengths:
            src = work / f"input_{int(seconds)}s.wav"
            write_input(src, seconds, seed=0)
            for n in threads:
                ours, ref = measure("audiokit", src, n, args), measure("demucs", src, n, args)
                params = {"audiokit": ours["params"], "demucs": ref["params"]}
                per_min = 60.0 / seconds
                grow = {k: r["peak_mb"] - r["before_mb"] for k, r in (("ours", ours), ("ref", ref))}
                rows.append(f"{_fmt_len(seconds):>7} {n:>3} | {ours['seconds'] * per_min:>14.2f} "
                            f"{ours['peak_mb']:>8.0f} {grow['ours']:>7.0f} | {ref['seconds'] * per_min:>12.2f} "
                            f"{ref['peak_mb']:>8.0f} {grow['ref']:>7.0f} | {ref['seconds'] / ours['seconds']:>7.2f} "
                            f"{grow['ref'] / max(grow['ours'], 1.0):>7.1f}")
                print(rows[-1] if len(rows) > 1 else f"{header}\n{rows[-1]}", flush=True)
                for p in work.glob("out-*"):
                    for f in p.iterdir():
                        f.unlink()
            src.unlink()
        print(f"parameters: audiokit {params['audiokit']:,} | demucs {params['demucs']:,}")


def _fmt_len(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


if __name__ == "__main__":
    main()
