"""Throughput of one augmentation chain in audiokit and in torch-audiomentations, on the same batch.

    python benchmarks/augment.py [--batch 16] [--seconds 4] [--sample-rate 16000] [--repeats 20]
                                 [--threads 1] [--devices cpu,cuda]

The chain, with every transform applied to every example (p = 1) and per-example parameters:

    gain -6..6 dB  >  coloured noise (white/pink/brown) at 10..30 dB SNR  >  reverb (8 shoebox RIRs,
    RT60 0.2..0.6 s)  >  lowpass 2..7.5 kHz  >  shift (roll, -0.5..0.5 of the length)

torch-audiomentations runs ``Compose([Gain, AddColoredNoise, ApplyImpulseResponse, LowPassFilter, Shift])``
with the same ranges; its impulse responses are audiokit's 8 RIRs written as WAV files (it reads a file
per example per call, which is how it works). Its low-pass is a windowed-sinc FIR (julius), ours a
biquad; its noise SNR is measured per channel, ours per example: the work is the same in kind, not in
every detail.

torch-audiomentations 0.12 reads files with ``torchaudio.info``/``torchaudio.load``, which torchaudio
2.9+ no longer provides without torchcodec; where they are missing, this script gives it soundfile-based
stand-ins (same work: one file read per draw). It is a benchmark-only dependency:
``pip install torch-audiomentations``.

Reported: audio samples per second of compute (batch x channels x time / seconds, best of
``--repeats`` timed runs after a warm-up, the two libraries' runs alternating) and how many times faster
audiokit is.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import soundfile as sf
import torch
import torchaudio

from audiokit.augment import Chain

GAIN_DB = (-6.0, 6.0)
SNR_DB = (10.0, 30.0)
RT60 = (0.2, 0.6)
NUM_RIRS = 8
CUTOFF_HZ = (2000.0, 7500.0)
SHIFT = (-0.5, 0.5)


def audiokit_chain(sample_rate: int) -> Chain:
    return Chain.from_config([
        {"name": "gain", "min_db": GAIN_DB[0], "max_db": GAIN_DB[1]},
        {"name": "noise", "min_snr_db": SNR_DB[0], "max_snr_db": SNR_DB[1], "color": ["white", "pink", "brown"]},
        {"name": "reverb", "min_rt60": RT60[0], "max_rt60": RT60[1], "num_rirs": NUM_RIRS},
        {"name": "filter", "kind": "lowpass", "min_cutoff_hz": CUTOFF_HZ[0], "max_cutoff_hz": CUTOFF_HZ[1]},
        {"name": "shift", "min_shift": SHIFT[0], "max_shift": SHIFT[1], "rollover": True},
    ], sample_rate=sample_rate, seed=0)


def _soundfile_io_for_torch_audiomentations() -> None:
    """Stand-ins for the torchaudio file functions torch-audiomentations 0.12 calls, if torchaudio lacks them."""
    import torch_audiomentations.utils.io as ta_io

    if hasattr(torchaudio, "info"):
        return

    def metadata(path):
        info = sf.info(str(path))
        return info.frames, info.samplerate

    def load(path, frame_offset=0, num_frames=-1):
        data, rate = sf.read(str(path), start=frame_offset, frames=num_frames, dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), rate  # (T, C) -> (C, T)

    ta_io.Audio.get_audio_metadata = staticmethod(metadata)
    ta_io.torchaudio = types.SimpleNamespace(load=load, functional=torchaudio.functional)


def torch_audiomentations_chain(sample_rate: int, ir_dir: Path):
    import torch_audiomentations as ta

    _soundfile_io_for_torch_audiomentations()
    common = {"p": 1.0, "mode": "per_example", "sample_rate": sample_rate, "output_type": "dict"}
    return ta.Compose([
        ta.Gain(min_gain_in_db=GAIN_DB[0], max_gain_in_db=GAIN_DB[1], **common),
        ta.AddColoredNoise(min_snr_in_db=SNR_DB[0], max_snr_in_db=SNR_DB[1], min_f_decay=0.0, max_f_decay=2.0,
                           **common),
        ta.ApplyImpulseResponse(ir_paths=str(ir_dir), **common),
        ta.LowPassFilter(min_cutoff_freq=CUTOFF_HZ[0], max_cutoff_freq=CUTOFF_HZ[1], **common),
        ta.Shift(min_shift=SHIFT[0], max_shift=SHIFT[1], shift_unit="fraction", rollover=True, **common),
    ], shuffle=False, p=1.0, output_type="dict")


def write_irs(chain: Chain, folder: Path, sample_rate: int) -> None:
    """audiokit's RIR bank as WAV files, so both libraries convolve with the same rooms."""
    reverb = next(t for t in chain.transforms if t.name == "reverb")
    responses, _ = reverb.bank()
    for i, response in enumerate(responses):
        sf.write(str(folder / f"rir{i}.wav"), response.numpy(), sample_rate, subtype="FLOAT")


def throughputs(runs: dict, batch: torch.Tensor, repeats: int) -> dict[str, float]:
    """Best samples per second of each ``run(batch.clone())`` over ``repeats`` timed calls after a warm-up;
    the calls alternate between the runs, so that a busy machine slows them alike."""
    def once(run) -> float:
        x = batch.clone()  # torch-audiomentations' low-pass writes into its input
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = run(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        assert out.shape == batch.shape and torch.isfinite(out).all()
        return elapsed

    best = {name: (once(run), math.inf)[1] for name, run in runs.items()}
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], once(run))
    return {name: batch.numel() / seconds for name, seconds in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls of each (the best counts)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both libraries")
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated; cuda is skipped when absent")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", module="torch_audiomentations")
    try:
        import torch_audiomentations  # noqa: F401
    except ImportError:
        print("torch-audiomentations is not installed: pip install torch-audiomentations", file=sys.stderr)
        return 1

    rate = args.sample_rate
    batch = 0.1 * torch.randn(args.batch, 1, round(args.seconds * rate), generator=torch.Generator().manual_seed(0))
    ours = audiokit_chain(rate)
    with tempfile.TemporaryDirectory() as tmp:
        write_irs(ours, Path(tmp), rate)
        theirs = torch_audiomentations_chain(rate, Path(tmp))
        print(f"batch {args.batch} x 1 x {batch.shape[-1]} ({args.seconds:g} s at {rate} Hz), chain: gain > noise > "
              f"reverb > lowpass > shift, p = 1, {args.threads} CPU thread(s), torch {torch.__version__}")
        for device in args.devices.split(","):
            if device == "cuda" and not torch.cuda.is_available():
                print("cuda: not available, skipped")
                continue
            rates = throughputs({"audiokit": lambda b: ours(b).wav,
                                 "torch-audiomentations": lambda b: theirs(b, sample_rate=rate).samples},
                                batch.to(device), args.repeats)
            ours_rate, theirs_rate = rates["audiokit"], rates["torch-audiomentations"]
            print(f"{device:>5}: audiokit {ours_rate / 1e6:8.2f} M samples/s ({ours_rate / rate:7.0f}x real time) | "
                  f"torch-audiomentations {theirs_rate / 1e6:8.2f} M samples/s ({theirs_rate / rate:7.0f}x real time) "
                  f"| audiokit is {ours_rate / theirs_rate:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
