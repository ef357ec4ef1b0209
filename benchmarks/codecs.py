"""Codec speed, size and memory: audiokit's codecs beside the peer packages' at their published configs.

    python benchmarks/codecs.py [--seconds 10] [--repeats 3] [--batch 16] [--devices cpu,cuda] [--threads 1]
                                [--models all] [--dac-python .venv-dac/bin/python] [--json OUT] [--quick]

One run prints a table per device (CPU, and CUDA when there is one) and the ratios ours / peer:

    audiokit-rvq        vs encodec         EnCodec 24 kHz's network at 6 kbit/s (8 codebooks), both 14.85 M
    audiokit-dac16k     vs dac-16k         DAC 16 kHz's shapes (widths 64 -> 1024 -> 1536 -> 96, strides 2-4-5-8,
                                           Snake, 3 residual units of dilations 1-3-9, 12 factorised codebooks of
                                           dim 8) built from audiokit's SEANet parts with identity residual
                                           shortcuts as DAC's (``true_skip``), 6 kbit/s
    audiokit-rvq-16k    vs dac-16k         the same 6 kbit/s, 50 frames/s and 12 codebooks with the EnCodec-size
                                           network (5x fewer parameters than DAC)
    audiokit-esc        vs esc-reference   ESC-Base at 9 kbit/s (6 streams)
    audiokit-hificodec  vs hificodec-ref.  HiFi-Codec 16 kHz at 2 kbit/s (4 codebooks)

Every model has random weights (seeded): speed does not depend on their values. The peers are the packages'
own model classes: ``encodec.EncodecModel.encodec_model_24khz(pretrained=False)`` at 6 kbit/s, and
``dac.DAC`` at ``conf/final/16khz.yml`` of descript-audio-codec (encoder_dim 64, rates 2-4-5-8, decoder_dim
1536, 12 codebooks of 1024 x dim 8, latent 1024: 74.18 M). ESC and HiFi-Codec (AcademiCodec) are not on
PyPI: their rows are the CPU real-time factors measured for ``shared/research/codecs.md`` section 4 (1 thread,
10 s, median of 3, torch 2.13 CPU, the authors' code at the released configs; HiFi-Codec's is the 24 kHz
320d model, ours the 16 kHz one), marked "ref" and not measured by this run.

Measured, per model, each (model, device) in a fresh process:

- parameters (``nn.Parameter`` only: EnCodec's and audiokit's EMA codebooks are buffers);
- MACs per second of audio of ``encode`` and of ``decode``, counted on 1 s of audio on the CPU with
  ``torch.utils.flop_counter.FlopCounterMode`` (MACs = FLOPs / 2: convolutions, matrix products and
  attention; LSTMs are added by a formula for their matrix products; element-wise ops, activations and FFTs
  are not counted);
- real-time factor (compute seconds / audio seconds, < 1 is faster than real time) of ``encode`` (audio to
  codes) and ``decode`` (codes to audio), ``--seconds`` of mono noise, one warm-up call then the median of
  ``--repeats``; ``--threads`` CPU threads (default 1). On CUDA, synchronised, at batch 1 and at batch
  ``--batch`` (RTF = seconds / (batch x audio seconds));
- peak memory above the loaded model during ``encode`` and during ``decode``. CPU: in a separate fresh
  process, the growth of the resident set (``VmHWM`` reset after a 0.25 s warm-up, minus ``VmRSS`` before
  the call), with glibc's mmap threshold fixed at its 128 KiB default (``MALLOC_MMAP_THRESHOLD_``) so freed
  tensors go back to the system and the peak follows the live tensors. CUDA: ``max_memory_allocated`` minus
  the memory allocated before the call.
- kbit/s of the codes each model actually produced (frames x codebooks x 10 bits / audio seconds).

Denormal floats are flushed to zero for every model (``torch.set_flush_denormal``): random LSTM weights make
decaying states that otherwise slow a CPU run many-fold. Weight norm is left unfolded in all models.

The peers are optional. EnCodec installs beside audiokit (``pip install encodec``). DAC runs in its own
virtual environment (descript-audiotools' pins clash with ours): this script runs itself under
``--dac-python`` with ``--worker`` and reads the figures back as JSON. Set it up once::

    python -m venv .venv-dac && .venv-dac/bin/pip install descript-audio-codec "torch>=2.9"

A peer that is not installed, or an audiokit codec not in this checkout, gets a row saying so. ``--quick``
(2 s, one run, batch 2, CPU memory measured in the timing process) checks that everything runs; its figures
are not benchmarks. The load average is printed first: timings from a busy machine are not final.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DAC_PYTHON = REPO / ".venv-dac" / "bin" / "python"
RESULT_PREFIX = "CODEC-BENCHMARK-RESULT "  # marks the worker's JSON line among whatever libraries print

# descript-audio-codec conf/final/16khz.yml (the latent is encoder_dim * 2 ** 4 = 1024)
DAC_16KHZ = dict(sample_rate=16000, encoder_dim=64, encoder_rates=[2, 4, 5, 8], decoder_dim=1536,
                 decoder_rates=[8, 5, 4, 2], n_codebooks=12, codebook_size=1024, codebook_dim=8,
                 quantizer_dropout=0.5)


# ------------------------------------------------------------------------------------------------ MAC counting
def _rnn_flops(input_shape, weight_shapes) -> int:
    """FLOPs of an RNN's matrix products: every step multiplies its input and hidden state by each 2-D weight
    (LSTM: 4H x I and 4H x H per layer and direction), so 2 x steps x batch x sum of the weights' sizes."""
    steps_times_batch = math.prod(input_shape[:-1])
    return 2 * steps_times_batch * sum(math.prod(w) for w in weight_shapes if len(w) == 2)


def _lstm_flops(input, *args, out_shape=None, **kwargs) -> int:
    """aten.lstm / aten.gru, both overloads: ``(input, hx, params, ...)`` and packed ``(data, batch_sizes, hx,
    params, ...)``; the weights are the list holding 2-D shapes (``hx`` holds 3-D ones)."""
    params = next(a for a in args if isinstance(a, (list, tuple)) and any(len(s) == 2 for s in a))
    return _rnn_flops(input, params)


def _mkldnn_rnn_layer_flops(input, weight0, weight1, *args, out_shape=None, **kwargs) -> int:
    return _rnn_flops(input, [weight0, weight1])  # one layer, one direction: what aten.lstm runs on CPU


# keyed by overload packet, as FlopCounterMode looks formulas up
_RNN_FORMULAS = {torch.ops.aten.lstm: _lstm_flops, torch.ops.aten.gru: _lstm_flops,
                 torch.ops.aten.mkldnn_rnn_layer: _mkldnn_rnn_layer_flops}


def count_macs(fn: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """Multiply-accumulates of ``fn(*args)`` (run once, without gradients) and its result.

    FlopCounterMode counts convolutions (transposed too), matrix products and attention; LSTM/GRU layers are
    counted here by :func:`_rnn_flops`. MACs = FLOPs / 2."""
    # no_grad, not inference_mode: the counter's module tracker hooks tensors that require grad, which fails on
    # inference tensors (weight-norm parametrisations take the parameters as inputs)
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_RNN_FORMULAS) as counter:
        out = fn(*args)
    return counter.get_total_flops() // 2, out


# ------------------------------------------------------------------------------------------------ the models
@dataclass
class Runner:
    """One codec as the benchmark drives it: ``encode(audio) -> codes``, ``decode(codes, length) -> audio``."""

    model: torch.nn.Module
    sample_rate: int
    channels: int
    codebook_size: int
    encode: Callable[[torch.Tensor], Any]
    decode: Callable[[Any, int], torch.Tensor]


def _audiokit_runner(model, bitrate: float | None = None) -> Runner:
    def encode(x):
        return model.encode(x) if bitrate is None else model.encode(x, bitrate=bitrate)

    return Runner(model, model.sample_rate, model.channels, model.codebook_size, encode,
                  lambda codes, length: model.decode(codes, length=length))


def audiokit_rvq() -> Runner:
    from audiokit.models.codec import encodec_24khz

    return _audiokit_runner(encodec_24khz(), bitrate=6.0)


def audiokit_rvq_16k() -> Runner:
    from audiokit.models.codec import rvq_codec

    return _audiokit_runner(rvq_codec(sample_rate=16000, num_quantizers=12), bitrate=6.0)


def audiokit_dac16k() -> Runner:
    """DAC 16 kHz's shapes from audiokit's parts: non-causal SEANet with Snake, kernel 7, 3 full-width residual
    units per stage (dilations 1, 3, 9) adding their input, no LSTM, encoder 64 -> 1024 channels, decoder
    1536 -> 96, latent 1024, 12 gradient codebooks of 1024 factorised to dim 8 and L2-normalised (DAC's lookup)."""
    from audiokit.models.codec import RVQCodec, SEANetDecoder, SEANetEncoder
    from audiokit.nn.quantization import ResidualVectorQuantizer

    net = dict(channels=1, dimension=1024, ratios=(8, 5, 4, 2), kernel_size=7, residual_kernel_size=7,
               dilation_base=3, n_residual_layers=3, compress=1, lstm_layers=0, activation="snake", causal=False,
               weight_norm=True, true_skip=True)
    quantizer = ResidualVectorQuantizer(1024, 12, 1024, codebook_dim=8, update="gradient", kmeans_init=False,
                                        threshold_dead_code=0.0, l2_normalize=True, quantizer_dropout=0.5)
    model = RVQCodec(SEANetEncoder(n_filters=64, last_kernel_size=3, **net), quantizer,
                     SEANetDecoder(n_filters=96, last_kernel_size=7, **net), sample_rate=16000)
    return _audiokit_runner(model)


def audiokit_esc() -> Runner:
    from audiokit.models.codec import esc_base  # being written: an ImportError makes a "not available" row

    return _audiokit_runner(esc_base())  # all 6 streams: 9 kbit/s


def audiokit_hificodec() -> Runner:
    from audiokit.models.codec import hificodec_16khz

    return _audiokit_runner(hificodec_16khz())


def encodec_peer() -> Runner:
    from encodec import EncodecModel

    model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(6.0)
    return Runner(model, model.sample_rate, model.channels, model.quantizer.bins, model.encode,
                  lambda frames, length: model.decode(frames)[..., :length])


def dac_peer() -> Runner:
    import dac

    model = dac.DAC(**DAC_16KHZ)

    def encode(x):
        return model.encode(model.preprocess(x, model.sample_rate))[1]  # (z, codes, latents, losses...) -> codes

    def decode(codes, length):
        return model.decode(model.quantizer.from_codes(codes)[0])[..., :length]  # codes -> z -> audio

    return Runner(model, model.sample_rate, 1, DAC_16KHZ["codebook_size"], encode, decode)


@dataclass
class Entry:
    label: str
    build: Callable[[], Runner] | None  # None: a reference row from the research notes
    side: str  # "ours", "peer" or "ref"
    python: str = "main"  # "main": this environment; "dac": --dac-python


MODELS: dict[str, Entry] = {
    "audiokit-rvq": Entry("audiokit encodec_24khz() at 6 kbit/s", audiokit_rvq, "ours"),
    "encodec": Entry("encodec EncodecModel.encodec_model_24khz(pretrained=False) at 6 kbit/s", encodec_peer, "peer"),
    "audiokit-dac16k": Entry("audiokit SEANet + RVQ at DAC 16 kHz shapes, 6 kbit/s", audiokit_dac16k, "ours"),
    "audiokit-rvq-16k": Entry("audiokit rvq_codec(sample_rate=16000, num_quantizers=12) at 6 kbit/s",
                              audiokit_rvq_16k, "ours"),
    "dac-16k": Entry("descript-audio-codec dac.DAC at conf/final/16khz.yml, 12 codebooks (6 kbit/s)", dac_peer,
                     "peer", python="dac"),
    "audiokit-esc": Entry("audiokit esc_base()", audiokit_esc, "ours"),
    "esc-reference": Entry("ESC-Base 9 kbit/s, authors' code (codecs.md section 4; not measured here)", None, "ref"),
    "audiokit-hificodec": Entry("audiokit hificodec_16khz() at 2 kbit/s", audiokit_hificodec, "ours"),
    "hificodec-reference": Entry("HiFi-Codec 24k-320d 3 kbit/s, AcademiCodec (codecs.md section 4; not measured "
                                 "here)", None, "ref"),
}

# shared/research/codecs.md: section 4 (1 thread, 10 s, median of 3, torch 2.13 CPU) and section 1.1 (parameters)
REFERENCES = {
    "esc-reference": {"params": 8.39e6, "kbps": 9.0, "encode_rtf": 0.233, "decode_rtf": 0.179},
    "hificodec-reference": {"params": 63.6e6, "kbps": 3.0, "encode_rtf": 0.604, "decode_rtf": 0.714},
}

PAIRS = [  # (ours, peer, what is equal)
    ("audiokit-rvq", "encodec", "same network and bitrate"),
    ("audiokit-dac16k", "dac-16k", "same shapes and bitrate"),
    ("audiokit-rvq-16k", "dac-16k", "same bitrate and frame rate, EnCodec-size network"),
    ("audiokit-esc", "esc-reference", "vs the notes' CPU figures"),
    ("audiokit-hificodec", "hificodec-reference", "vs the notes' CPU figures (their 24k-320d)"),
]


# ------------------------------------------------------------------------------------------------ worker
def _integer_tensor(obj: Any) -> torch.Tensor | None:
    """The codes inside what an ``encode`` returned (a tensor, or EnCodec's list of (codes, scale) frames)."""
    if isinstance(obj, torch.Tensor):
        return obj if not obj.is_floating_point() else None
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _integer_tensor(item)
            if found is not None:
                return found
    return getattr(obj, "codes", None)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Callable[[], Any], repeats: int, device: str) -> tuple[list[float], float | None, Any]:
    """Seconds of ``repeats`` calls of ``fn`` after one warm-up call, the peak CUDA memory (MB) above what was
    allocated before (None on CPU), and the last result."""
    fn()
    _sync(device)
    peak_mb = None
    seconds = []
    for i in range(repeats):
        if device.startswith("cuda") and i == 0:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        start = time.perf_counter()
        out = fn()
        _sync(device)
        seconds.append(time.perf_counter() - start)
        if device.startswith("cuda") and i == 0:
            peak_mb = (torch.cuda.max_memory_allocated() - before) / 2**20
    return seconds, peak_mb, out


def _speed(runner: Runner, seconds: float, batch: int, repeats: int, device: str) -> dict[str, Any]:
    length = int(seconds * runner.sample_rate)
    x = 0.1 * torch.randn(batch, runner.channels, length, device=device)
    with torch.inference_mode():
        enc_s, enc_peak, codes = _timed(lambda: runner.encode(x), repeats, device)
        dec_s, dec_peak, audio = _timed(lambda: runner.decode(codes, length), repeats, device)
    # DAC's unpadded convolutions give a few samples less (8 at 16 kHz); anything further off is a wrong call
    if audio.shape[:2] != x.shape[:2] or not 0.99 * length <= audio.shape[-1] <= length:
        raise RuntimeError(f"decode gave shape {tuple(audio.shape)} for input {tuple(x.shape)}")
    audio_seconds = batch * seconds
    return {"encode_s": enc_s, "decode_s": dec_s,
            "encode_rtf": statistics.median(enc_s) / audio_seconds,
            "decode_rtf": statistics.median(dec_s) / audio_seconds,
            "encode_peak_mb": enc_peak, "decode_peak_mb": dec_peak}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # VmHWM := VmRSS (Linux >= 4.0)
        f.write("5")


def _cpu_memory(runner: Runner, seconds: float) -> dict[str, Any]:
    length = int(seconds * runner.sample_rate)
    x = 0.1 * torch.randn(1, runner.channels, length)
    warm = x[..., : max(runner.sample_rate // 4, 1)]
    with torch.inference_mode():
        runner.decode(runner.encode(warm), warm.shape[-1])  # lazy initialisations, kernel choices
        _reset_peak_rss()
        before = _status_mb("VmRSS")
        codes = runner.encode(x)
        encode_mb = _status_mb("VmHWM") - before
        _reset_peak_rss()
        before = _status_mb("VmRSS")
        runner.decode(codes, length)
        decode_mb = _status_mb("VmHWM") - before
    return {"encode_peak_mb": encode_mb, "decode_peak_mb": decode_mb}


def run_worker(name: str, task: str, device: str, seconds: float, batches: Sequence[int], repeats: int,
               threads: int) -> dict[str, Any]:
    """One model's figures in this process: ``task`` "speed" (parameters, MACs, kbit/s, timings), "memory" (CPU
    peak resident memory) or "both" (memory first, then speed: ``--quick`` saves a process start per model)."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    entry = MODELS[name]
    try:
        runner = entry.build()
    except ImportError as e:
        return {"status": "not installed" if entry.side == "peer" else "not available", "detail": str(e)}
    runner.model.eval()
    memory = _cpu_memory(runner, seconds) if task in ("memory", "both") else None
    if task == "memory":
        return memory
    out: dict[str, Any] = {"params": sum(p.numel() for p in runner.model.parameters()),
                           "sample_rate": runner.sample_rate}
    one_second = 0.1 * torch.randn(1, runner.channels, runner.sample_rate)
    out["encode_macs_per_s"], codes = count_macs(runner.encode, one_second)
    out["decode_macs_per_s"], _ = count_macs(runner.decode, codes, runner.sample_rate)
    codes = _integer_tensor(codes)
    out["kbps"] = codes[0].numel() * math.log2(runner.codebook_size) / 1000.0 if codes is not None else None
    runner.model.to(device)
    out["speed"] = {str(b): _speed(runner, seconds, b, repeats, device) for b in batches}
    if memory is not None:
        out["memory"] = memory
    return out


# ------------------------------------------------------------------------------------------------ parent
def measure(name: str, task: str, device: str, args, batches: Sequence[int]) -> dict[str, Any]:
    """Run one worker in a fresh process (under the DAC environment for DAC) and read its JSON back."""
    entry = MODELS[name]
    python = sys.executable
    if entry.python == "dac":
        if not args.dac_python or not Path(args.dac_python).exists():
            return {"status": "not installed",
                    "detail": f"no DAC environment at {args.dac_python or DEFAULT_DAC_PYTHON} (see --help)"}
        python = str(args.dac_python)
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, "--task", task, "--devices", device,
           "--seconds", str(args.seconds), "--repeats", str(args.repeats), "--threads", str(args.threads),
           "--worker-batches", ",".join(str(b) for b in batches)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONWARNINGS": "ignore"}
    if task in ("memory", "both"):
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # glibc's default, fixed: freed tensors leave the resident set
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    lines = [line for line in res.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if res.returncode != 0 or not lines:
        tail = (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"status": "error", "detail": f"exit {res.returncode}: {tail}"}
    return json.loads(lines[-1][len(RESULT_PREFIX):])


def collect(names: Sequence[str], device: str, args) -> dict[str, dict[str, Any]]:
    batches = [1] if device == "cpu" or args.batch == 1 else [1, args.batch]
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        if MODELS[name].build is None:
            if device == "cpu":
                results[name] = {"status": "ref", **REFERENCES[name]}
            continue
        t0 = time.perf_counter()
        both = args.quick and device == "cpu"
        result = measure(name, "both" if both else "speed", device, args, batches)
        if device == "cpu" and not both and "status" not in result:
            result["memory"] = measure(name, "memory", device, args, batches)
        result["wall_s"] = time.perf_counter() - t0
        results[name] = result
        print(f"  measured {name} on {device} in {result['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return results


def figures(result: dict[str, Any], batch: int = 1) -> dict[str, float | None]:
    """The table's numbers of one result (None where there is none)."""
    if result.get("status") == "ref":
        return {"params_m": result["params"] / 1e6, "kbps": result["kbps"], "encode_gmacs": None,
                "decode_gmacs": None, "encode_rtf": result["encode_rtf"], "decode_rtf": result["decode_rtf"],
                "encode_peak_mb": None, "decode_peak_mb": None}
    speed = result["speed"].get(str(batch), {})
    memory = result.get("memory", speed)
    return {"params_m": result["params"] / 1e6, "kbps": result["kbps"],
            "encode_gmacs": result["encode_macs_per_s"] / 1e9, "decode_gmacs": result["decode_macs_per_s"] / 1e9,
            "encode_rtf": speed.get("encode_rtf"), "decode_rtf": speed.get("decode_rtf"),
            "encode_peak_mb": memory.get("encode_peak_mb"), "decode_peak_mb": memory.get("decode_peak_mb")}


def ratios(ours: dict[str, float | None], peer: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (ours[k] / peer[k] if ours[k] is not None and peer[k] else None) for k in ours}


COLUMNS = [("kbps", "kbps", 5), ("params_m", "params M", 8), ("encode_gmacs", "GMAC/s enc", 10),
           ("decode_gmacs", "dec", 6), ("encode_rtf", "RTF enc", 8), ("decode_rtf", "dec", 7),
           ("encode_peak_mb", "peak MB enc", 11), ("decode_peak_mb", "dec", 7)]


def _cell(value: float | None, width: int) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width}.3g}" if abs(value) < 1000 else f"{value:>{width}.0f}"


def table(results: dict[str, dict[str, Any]], batch: int, name_width: int) -> list[str]:
    header = f"{'model':<{name_width}} " + " ".join(f"{title:>{w}}" for _, title, w in COLUMNS)
    lines = [header]
    for name, result in results.items():
        status = result.get("status")
        if status in ("not installed", "not available", "error"):
            lines.append(f"{name:<{name_width}} {status}: {result['detail'][:100]}")
            continue
        row = figures(result, batch)
        label = f"{name} (ref)" if status == "ref" else name
        lines.append(f"{label:<{name_width}} " + " ".join(_cell(row[k], w) for k, _, w in COLUMNS))
        if "status" in result.get("memory", {}):
            lines.append(f"{'':<{name_width}} memory: {result['memory']['status']}: {result['memory']['detail'][:100]}")
    return lines


def ratio_table(results: dict[str, dict[str, Any]], batch: int, name_width: int) -> tuple[list[str], dict]:
    lines, out = [], {}
    for ours, peer, what in PAIRS:
        a, b = results.get(ours, {}), results.get(peer, {})
        if not a or not b or a.get("status") or b.get("status") not in (None, "ref"):
            continue
        r = ratios(figures(a, batch), figures(b, batch))
        out[f"{ours}/{peer}"] = r
        label = f"{ours} / {peer}"
        lines.append(f"{label:<{name_width}} " + " ".join(_cell(r[k], w) for k, _, w in COLUMNS) + f"   {what}")
    return lines, out


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    machine = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
               "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    if torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(0)
    return machine


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="input length, seconds (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up; the median counts")
    parser.add_argument("--batch", type=int, default=16, help="CUDA only: the larger batch timed (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--devices", default="cpu,cuda", help="cpu and/or cuda (skipped without a GPU)")
    parser.add_argument("--models", default="all", help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--dac-python", default=str(DEFAULT_DAC_PYTHON) if DEFAULT_DAC_PYTHON.exists() else None,
                        help="python of the environment with descript-audio-codec (default .venv-dac/bin/python)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--quick", action="store_true", help="2 s, one run, batch 2: checks that it all runs")
    parser.add_argument("--worker", choices=list(MODELS), help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=["speed", "memory", "both"], default="speed", help=argparse.SUPPRESS)
    parser.add_argument("--worker-batches", default="1", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = run_worker(args.worker, args.task, args.devices, args.seconds,
                            [int(b) for b in args.worker_batches.split(",")], args.repeats, args.threads)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return result
    if args.quick:
        args.seconds, args.repeats, args.batch = 2.0, 1, 2

    names = list(MODELS) if args.models == "all" else [n.strip() for n in args.models.split(",")]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(MODELS)}")
    devices = [d.strip() for d in args.devices.split(",")]
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
    machine = _machine()
    report: dict[str, Any] = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                                           if k not in ("worker", "task", "worker_batches")},
                              "machine": machine, "results": {}, "ratios": {}, "labels": {}}
    load = machine["load_average"]
    print(f"Codecs, random weights, mono noise: {args.seconds:g} s, warm-up + median of {args.repeats}; "
          f"torch {machine['torch']}; {machine['cpu']} ({machine['cores']} cores)"
          + (f"; {machine['gpu']}" if "gpu" in machine else ""))
    if load is not None:
        print(f"load average {load[0]:.2f} (1 min): timings from a busy machine are not final", flush=True)
    print("RTF: compute s / audio s (< 1 faster than real time); GMAC/s: 1e9 multiply-accumulates per second of "
          "audio; peak MB: memory above the loaded model during the call; (ref): codecs.md section 4, not measured",
          flush=True)
    name_width = max(len(f"{a} / {b}") for a, b, _ in PAIRS) + 1
    for device in devices:
        results = collect(names, device, args)
        report["results"][device] = results
        batches = [1] if device == "cpu" or args.batch == 1 else [1, args.batch]
        for batch in batches:
            what = (f"CPU, {args.threads} thread{'s' if args.threads > 1 else ''}" if device == "cpu"
                    else f"{machine.get('gpu', device)}, batch {batch}")
            print(f"\n{what}", flush=True)
            shown = results if batch == 1 else {k: v for k, v in results.items() if v.get("status") != "ref"}
            print("\n".join(table(shown, batch, name_width)), flush=True)
            lines, pair_ratios = ratio_table(results, batch, name_width)
            if lines:
                print("ratios ours / peer (< 1: ours smaller, cheaper, faster or leaner)")
                print("\n".join(lines), flush=True)
            report["ratios"][f"{device}-batch{batch}"] = pair_ratios
    print()
    for name in names:
        print(f"{name}: {MODELS[name].label}")
        report["labels"][name] = MODELS[name].label
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
