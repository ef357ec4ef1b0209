"""Loader throughput, and whether the loader is the bottleneck of a training step.

    python benchmarks/dataloader.py [--recipe egs/fx/compressor] [--config conf/tcn_tiny.yaml] [--batches 40]

1. crops/s of the recipe's training loader (random crops of paired input/target audio, knob values)
   with 0, 1 and 2 worker processes;
2. utterances/s of the sequential loader over whole clips of the same data dir (as validation and
   evaluation read them), 0/1/2 workers;
3. the time per training step of the recipe's model and loss (forward, backward, optimizer) on one
   pre-loaded batch, next to the time per batch of the loader: the loader is not the bottleneck when
   its time per batch is well below the step's (with workers it overlaps the step entirely).

The recipe's data must exist (run its stage 0 first: ``cd egs/fx/compressor && ./run.sh --stop-stage 1``).
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import torch
from omegaconf import OmegaConf

from audiokit.data.loader import build_dataloader
from audiokit.train.builder import build_task, compose_config


def loader_rate(cfg: dict, batches: int) -> tuple[float, float]:
    """(items per second, seconds per batch) over ``batches`` batches, after the first (worker start)."""
    loader = build_dataloader(cfg)
    it = iter(loader)
    next(it)
    items, t0 = 0, time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        items += len(batch["key"]) if "key" in batch else next(iter(batch.values())).shape[0]
    dt = time.perf_counter() - t0
    return items / dt, dt / batches


def step_time(cfg, batch: dict, steps: int) -> float:
    task, _ = build_task(cfg)
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-4)
    task.train()
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            t0 = time.perf_counter()
        loss = task.training_step(batch, i)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    warnings.filterwarnings("ignore", message=".*self.trainer.*")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", type=Path, default=Path("egs/fx/compressor"))
    parser.add_argument("--config", default="conf/tcn_tiny.yaml", help="relative to the recipe")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    os.chdir(args.recipe)
    cfg = compose_config(args.config)
    train = OmegaConf.to_container(cfg.data.train, resolve=True)
    print(f"{args.recipe}/{args.config}: batch {train['batch_size']} crops of {train['segment_seconds']} s, "
          f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}")

    print(f"\n{'loader':<32} {'workers':>7} {'items/s':>9} {'ms/batch':>9}")
    per_batch = {}
    for workers in (0, 1, 2):
        rate, sec = loader_rate({**train, "num_workers": workers}, args.batches)
        per_batch[workers] = sec
        print(f"{'random crops (training)':<32} {workers:>7} {rate:>9.1f} {1000 * sec:>9.1f}")
    utts = {"dir": train["dir"], "kind": "sequential", "tables": train["tables"], "with_params": True,
            "sample_rate": train["sample_rate"], "batch_size": 4}
    for workers in (0, 1, 2):
        rate, sec = loader_rate({**utts, "num_workers": workers}, max(5, args.batches // 4))
        print(f"{'whole clips (4 per batch)':<32} {workers:>7} {rate:>9.1f} {1000 * sec:>9.1f}")

    batch = next(iter(build_dataloader(train)))
    step = step_time(cfg, batch, args.steps)
    print(f"\ntraining step of {cfg.model._target_.rsplit('.', 1)[-1]} (forward + backward + Adam), one batch "
          f"pre-loaded: {1000 * step:.0f} ms")
    print(f"loader without workers: {1000 * per_batch[0]:.1f} ms per batch = {100 * per_batch[0] / step:.1f}% "
          f"of a step; with workers it runs beside the step")


if __name__ == "__main__":
    main()
