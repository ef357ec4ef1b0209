"""Scoring trained models on held-out data dirs, with the trivial baseline side by side."""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import torch
from tqdm import tqdm

from audiokit.api import EffectModel
from audiokit.data.datasets import CropDataset
from audiokit.metrics import esr, l1, loudness_error, mrstft

EFFECT_METRICS = ("esr", "esr_pre", "mrstft", "l1", "loudness")  # loudness: |LUFS error| in LU


def _scores(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> dict[str, float]:
    pred, target = pred[None], target[None]  # (1, T) -> (1, 1, T)
    return {"esr": float(esr(pred, target)), "esr_pre": float(esr(pred, target, pre_emphasis=0.85)),
            "mrstft": float(mrstft(pred, target)), "l1": float(l1(pred, target)),
            "loudness": float(loudness_error(pred, target, sample_rate))}


def evaluate_effect(fx: EffectModel, data_dir: str | Path, progress: bool = True) -> dict:
    """Score ``fx`` on every clip of a paired data dir with its recorded knobs.

    Returns ``{"model": {metric: mean}, "identity": {metric: mean}, "per_item": [...], "num_items": N}``;
    the identity baseline is the unprocessed input scored against the target.
    """
    data = CropDataset(data_dir, ["input.scp", "target.scp"], segment_seconds=None,
                       sample_rate=fx.sample_rate, with_params=True)
    if data.schema.names != fx.knobs.names:
        raise ValueError(f"{data_dir}: knobs {data.schema.names} differ from the model's {fx.knobs.names}")
    rows = []
    for i in tqdm(range(len(data)), desc=f"eval {Path(data_dir).name}", disable=not progress):
        ex = data[i]
        knobs = data.data.params(ex["key"])
        pred = fx.process(ex["input"], fx.sample_rate, **knobs)
        rows.append({"key": ex["key"], "model": _scores(pred, ex["target"], fx.sample_rate),
                     "identity": _scores(ex["input"], ex["target"], fx.sample_rate)})

    def mean(system: str, metric: str) -> float:
        values = [r[system][metric] for r in rows]
        return math.fsum(values) / len(values)

    # Means are dominated by clips whose target is much quieter than the input (ESR >> 1 for the
    # identity there): the median clip and the number of clips won say how a typical clip fares.
    return {"num_items": len(rows), "data": str(data_dir),
            "model": {m: mean("model", m) for m in EFFECT_METRICS},
            "identity": {m: mean("identity", m) for m in EFFECT_METRICS},
            "median_esr": {s: statistics.median(r[s]["esr"] for r in rows) for s in ("model", "identity")},
            "clips_better": sum(r["model"]["esr"] < r["identity"]["esr"] for r in rows),
            "per_item": rows}


def format_table(result: dict, title: str = "") -> str:
    """A fixed-width table of model vs identity (and their ratio) for each metric."""
    lines = [title] if title else []
    lines.append(f"{'metric':<10} {'model':>10} {'identity':>10} {'model/identity':>15}")
    for m in EFFECT_METRICS:
        a, b = result["model"][m], result["identity"][m]
        lines.append(f"{m:<10} {a:>10.4f} {b:>10.4f} {a / b if b else float('nan'):>15.3f}")
    a, b = result["median_esr"]["model"], result["median_esr"]["identity"]
    lines.append(f"{'esr median':<10} {a:>10.4f} {b:>10.4f} {a / b if b else float('nan'):>15.3f}")
    lines.append(f"(means over {result['num_items']} clips of {result['data']}; model ESR below the identity's "
                 f"on {result['clips_better']} of them)")
    return "\n".join(lines)
