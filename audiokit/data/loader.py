"""The one dataloader builder every recipe uses.

    loader = build_dataloader({"dir": "data/train", "kind": "crops", "tables": ["input.scp", "target.scp"],
                               "segment_seconds": 1.5, "with_params": True, "batch_size": 8,
                               "crops_per_epoch": 800, "num_workers": 1, "seed": 0})

Kinds:
  crops       random fixed-length crops of long (multi-table) files: effects, separation, codecs
  sequential  every file once, cropped to ``segment_seconds`` from its start (or whole): validation
  utterances  whole utterances with text, batched by duration: ASR, SSL

``mono: true`` (crops, sequential) mixes every file down to one channel, so mono and stereo files share batches.

The loader is torchdata's ``StatefulDataLoader``: Lightning saves its state (our sampler's epoch and
position) in checkpoints, so a run resumes mid-epoch on exactly the next batch.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from audiokit.data.datasets import CropDataset, UtteranceDataset, pad_collate
from audiokit.data.samplers import (
    DurationBucketBatchSampler,
    RandomCropBatchSampler,
    SequentialBatchSampler,
)
from audiokit.utils import AudiokitError

KINDS = ("crops", "sequential", "utterances")
_KEYS = {
    "common": {"dir", "kind", "batch_size", "num_workers", "seed", "sample_rate", "pin_memory"},
    "crops": {"tables", "segment_seconds", "with_params", "crops_per_epoch", "mono"},
    "sequential": {"tables", "segment_seconds", "with_params", "mono"},
    "utterances": {"max_seconds", "num_buckets", "shuffle", "max_batch_size"},
}


class DataConfigError(AudiokitError, ValueError):
    """A dataloader config field is missing or has the wrong value."""


def _seed_worker(worker_id: int) -> None:
    # Datasets draw nothing random themselves, but third-party code in workers might: seed it.
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def build_dataset(cfg: Mapping[str, Any]):
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise DataConfigError(f"data.kind: expected one of {KINDS}, got {kind!r}")
    unknown = set(cfg) - _KEYS["common"] - _KEYS[kind]
    if unknown:
        raise DataConfigError(f"data ({kind}): unknown fields {sorted(unknown)}; allowed: "
                              f"{sorted(_KEYS['common'] | _KEYS[kind])}")
    if "dir" not in cfg:
        raise DataConfigError("data.dir: missing (path of a Kaldi data directory)")
    if kind == "utterances":
        return UtteranceDataset(cfg["dir"], sample_rate=cfg.get("sample_rate"))
    if "tables" not in cfg:
        raise DataConfigError(f"data.tables: missing for kind '{kind}' (e.g. [input.scp, target.scp])")
    segment = cfg.get("segment_seconds")
    if kind == "crops" and not segment:
        raise DataConfigError("data.segment_seconds: required for random crops")
    return CropDataset(cfg["dir"], list(cfg["tables"]), segment, sample_rate=cfg.get("sample_rate"),
                       with_params=bool(cfg.get("with_params", False)), mono=bool(cfg.get("mono", False)))


def build_dataloader(cfg: Mapping[str, Any], rank: int | None = None,
                     world_size: int | None = None) -> StatefulDataLoader:
    """Build the dataset, its batch sampler (sharded over DDP ranks) and a stateful loader."""
    if cfg.get("kind") == "utterances" and "max_seconds" not in cfg:
        raise DataConfigError("data.max_seconds: required for utterances (padded seconds per batch)")
    dataset = build_dataset(cfg)
    kind = cfg["kind"]
    seed = int(cfg.get("seed", 0))
    batch_size = int(cfg.get("batch_size", 1))
    if kind == "crops":
        sampler = RandomCropBatchSampler(dataset.durations, batch_size,
                                         int(cfg.get("crops_per_epoch", len(dataset) * 4)), seed=seed,
                                         rank=rank, world_size=world_size)
    elif kind == "sequential":
        sampler = SequentialBatchSampler(len(dataset), batch_size, rank=rank, world_size=world_size)
    else:
        sampler = DurationBucketBatchSampler(
            dataset.durations, float(cfg["max_seconds"]), num_buckets=int(cfg.get("num_buckets", 10)),
            shuffle=bool(cfg.get("shuffle", True)), seed=seed, max_batch_size=cfg.get("max_batch_size"),
            rank=rank, world_size=world_size)
    num_workers = int(cfg.get("num_workers", 0))
    generator = torch.Generator().manual_seed(seed)
    return StatefulDataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=pad_collate,
        num_workers=num_workers,
        worker_init_fn=_seed_worker,
        generator=generator,
        pin_memory=bool(cfg.get("pin_memory", False)),
        persistent_workers=num_workers > 0,
    )
