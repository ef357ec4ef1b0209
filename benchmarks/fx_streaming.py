"""Real-time factor of block streaming: audiokit's cached-state TCN vs micro-TCN's inference method.

micro-TCN's speed test (csteinmetz1/micro-tcn, speed.py) runs each block of N samples as a fresh
forward over N + receptive_field - 1 samples, recomputing the whole history every block. audiokit's
``step`` keeps a cache of past activations per layer and computes only the N new samples. Both run
the same weights here and give the same output once the receptive field has filled (checked below:
the two differ only in the first receptive field of samples, where micro-TCN feeds zeros of *audio*
through every layer while the cached state starts from zeros of each layer's *input*, as the
offline ``forward`` does); the figure is the speed ratio.

    python benchmarks/fx_streaming.py [--channels 32] [--threads 1] [--seconds 4]

RTF = seconds of audio processed per second of compute (> 1 is faster than real time).
"""
from __future__ import annotations

import argparse
import time

import torch

from audiokit.models.effects import TCN


def rtf_cached(model: TCN, x: torch.Tensor, knobs: torch.Tensor, block: int) -> tuple[float, torch.Tensor]:
    state, out = model.init_state(1), []
    t0 = time.perf_counter()
    for i in range(0, x.shape[-1], block):
        y, state = model.step(x[..., i : i + block], knobs, state)
        out.append(y)
    return x.shape[-1] / model.sample_rate / (time.perf_counter() - t0), torch.cat(out, -1)


def rtf_recompute(model: TCN, x: torch.Tensor, knobs: torch.Tensor, block: int) -> tuple[float, torch.Tensor]:
    context = model.receptive_field - 1
    padded = torch.nn.functional.pad(x, (context, 0))
    out = []
    t0 = time.perf_counter()
    for i in range(0, x.shape[-1], block):
        n = min(block, x.shape[-1] - i)
        y = model(padded[..., i : i + context + n], knobs)  # history recomputed every block
        out.append(y[..., -n:])
    return x.shape[-1] / model.sample_rate / (time.perf_counter() - t0), torch.cat(out, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=32, help="TCN width (32: the paper's TCN-300-C)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a plugin gets one)")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio length per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = TCN(44100, 2, num_blocks=4, channels=args.channels, kernel_size=13, dilation_growth=10).eval()
    x, knobs = torch.randn(1, 1, int(args.seconds * 44100)) * 0.3, torch.rand(1, 2)
    print(f"TCN-300 ({args.channels} ch, receptive field {model.receptive_field} samples), 44.1 kHz, "
          f"{args.threads} thread(s), {args.seconds:g} s of audio")
    print(f"{'block':>6} {'audiokit RTF':>13} {'micro-TCN method RTF':>21} {'speed-up':>9} "
          f"{'max |diff| after warm-up':>26}")
    with torch.inference_mode():
        for block in (128, 256, 512, 1024, 2048, 4096):
            fast, y_fast = rtf_cached(model, x, knobs, block)
            slow, y_slow = rtf_recompute(model, x, knobs, block)
            diff = (y_fast - y_slow)[..., model.receptive_field :].abs().max().item()
            print(f"{block:>6} {fast:>13.1f} {slow:>21.2f} {fast / slow:>8.1f}x {diff:>26.1e}")


if __name__ == "__main__":
    main()
