"""Size and streaming speed of every effect architecture as configured by a recipe.

    python benchmarks/fx_models.py [--recipe egs/fx/compressor] [--block 512] [--threads 1]

For each ``conf/*_tiny.yaml`` of the recipe: parameters, receptive field, and the real-time factor
(seconds of audio per second of compute) of block streaming through ``step`` at 44.1 kHz, one
thread, as a plugin would run it. Speed does not depend on the weights, so untrained models are used.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from audiokit.train.builder import build_task


def streaming_rtf(model, block: int, seconds: float = 4.0, repeats: int = 3) -> float:
    x = torch.randn(1, 1, int(seconds * model.sample_rate)) * 0.3
    knobs = torch.rand(1, model.num_knobs)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            state = model.init_state(1)
            t0 = time.perf_counter()
            for i in range(0, x.shape[-1], block):
                _, state = model.step(x[..., i : i + block], knobs, state)
            best = min(best, time.perf_counter() - t0)
    return seconds / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", type=Path, default=Path("egs/fx/compressor"))
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"{'config':<16} {'model':<6} {'params':>8} {'receptive field':>16} {f'RTF @ {args.block}':>11}")
    for conf in sorted((args.recipe / "conf").glob("*_tiny.yaml")):
        cfg = OmegaConf.load(conf)
        task, _ = build_task(cfg)
        model = task.model.eval()
        rf = model.receptive_field
        params = sum(p.numel() for p in model.parameters())
        rf_text = "unbounded" if rf is None else f"{rf} ({1000 * rf / model.sample_rate:.0f} ms)"
        print(f"{conf.stem:<16} {type(model).__name__:<6} {params:>8,} {rf_text:>16} "
              f"{streaming_rtf(model, args.block):>11.1f}")


if __name__ == "__main__":
    main()
