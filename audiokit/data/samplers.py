"""Batch samplers: the only source of randomness in data loading.

Every batch sampler here yields lists of *requests* and keeps ``(epoch, position)`` as its state, so
that torchdata's ``StatefulDataLoader`` (and Lightning, which checkpoints it) can resume mid-epoch
exactly: the same batches, in the same order, with the same random crops. Crop positions are drawn
from a per-request seed carried in the request, never from a worker's RNG, so results do not depend
on the number of workers.

DDP: every rank computes the same epoch plan from ``(seed, epoch)`` and takes every
``world_size``-th batch from ``rank``; the plan is truncated so all ranks see the same number of
batches (no rank waits on a collective that the others never reach).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch.distributed as dist


def dist_info(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world_size) from arguments, else from torch.distributed, else (0, 1)."""
    if rank is not None and world_size is not None:
        return rank, world_size
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _StatefulBatchSampler:
    """Shared epoch/position bookkeeping. Subclasses implement ``_plan(rng) -> list[batch]``."""

    def __init__(self, seed: int, rank: int | None, world_size: int | None, drop_last: bool):
        self.seed = int(seed)
        self.rank, self.world_size = dist_info(rank, world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world of size {self.world_size}")
        self.drop_last = drop_last
        self.epoch = 0
        self.position = 0  # batches of this epoch already handed out
        self._resume = False  # next __iter__ continues from `position` (set by load_state_dict)

    def _plan(self, rng: np.random.Generator) -> list[list]:
        raise NotImplementedError

    def _epoch_batches(self) -> list[list]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = self._plan(rng)
        per_rank = len(batches) // self.world_size
        return batches[self.rank : per_rank * self.world_size : self.world_size]

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch = int(epoch)
            self.position = 0

    def __len__(self) -> int:
        return len(self._epoch_batches())

    def __iter__(self) -> Iterator[list]:
        # A fresh iteration starts the epoch over, unless we were just restored mid-epoch.
        if not self._resume:
            self.position = 0
        self._resume = False
        batches = self._epoch_batches()
        while self.position < len(batches):
            batch = batches[self.position]
            self.position += 1
            yield batch
        # Epoch finished: the next iteration is the next epoch unless set_epoch says otherwise.
        self.epoch += 1
        self.position = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"sampler state was saved with seed {state['seed']}, this sampler has {self.seed}")
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._resume = True


class RandomCropBatchSampler(_StatefulBatchSampler):
    """Batches of ``(item, crop_seed)`` requests for fixed-length random crops of long files.

    Items are drawn with probability proportional to ``weights`` (their durations), so every second
    of audio is equally likely to be seen, as Demucs does by enumerating segments.

    Args:
        weights: one non-negative weight per item (usually its duration in seconds).
        batch_size: crops per batch.
        crops_per_epoch: crops in one epoch over all ranks (the epoch length is arbitrary for crops).
        seed: fixes every epoch's plan together with the epoch number.
    """

    def __init__(self, weights: Sequence[float], batch_size: int, crops_per_epoch: int, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None, drop_last: bool = True):
        super().__init__(seed, rank, world_size, drop_last)
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights must be a non-empty list of non-negative numbers with a positive sum")
        if batch_size < 1 or crops_per_epoch < batch_size:
            raise ValueError(f"need 1 <= batch_size <= crops_per_epoch, got {batch_size}, {crops_per_epoch}")
        self.p = w / w.sum()
        self.batch_size = batch_size
        self.crops_per_epoch = crops_per_epoch

    def _plan(self, rng: np.random.Generator) -> list[list[tuple[int, int]]]:
        items = rng.choice(len(self.p), size=self.crops_per_epoch, p=self.p)
        seeds = rng.integers(0, 2**31 - 1, size=self.crops_per_epoch)
        requests = [(int(i), int(s)) for i, s in zip(items, seeds)]
        n = len(requests) // self.batch_size if self.drop_last else math.ceil(len(requests) / self.batch_size)
        return [requests[b * self.batch_size : (b + 1) * self.batch_size] for b in range(n)]


class SequentialBatchSampler(_StatefulBatchSampler):
    """Every item once, in order, ``batch_size`` at a time (validation and test)."""

    def __init__(self, num_items: int, batch_size: int = 1, rank: int | None = None,
                 world_size: int | None = None):
        super().__init__(0, rank, world_size, drop_last=False)
        self.num_items = num_items
        self.batch_size = batch_size

    def _epoch_batches(self) -> list[list]:
        # Validation must see every item: shard items (not batches) and keep the remainder.
        idx = list(range(self.num_items))[self.rank :: self.world_size]
        return [[(i, 0) for i in idx[b : b + self.batch_size]] for b in range(0, len(idx), self.batch_size)]


class DurationBucketBatchSampler(_StatefulBatchSampler):
    """Variable-length utterances batched by total duration (lhotse's DynamicBucketing idea).

    Utterances are sorted into ``num_buckets`` buckets of similar duration; each bucket is shuffled
    and cut into batches whose padded size ``max(duration) * len(batch)`` stays under
    ``max_seconds``; the batches of all buckets are then shuffled together.

    Args:
        durations: seconds per utterance.
        max_seconds: budget of padded audio per batch, in seconds.
        num_buckets: duration buckets (more: less padding, less randomness).
        max_batch_size: optional cap on utterances per batch.
    """

    def __init__(self, durations: Sequence[float], max_seconds: float, num_buckets: int = 10,
                 shuffle: bool = True, seed: int = 0, max_batch_size: int | None = None,
                 rank: int | None = None, world_size: int | None = None, drop_last: bool = False):
        super().__init__(seed, rank, world_size, drop_last)
        self.durations = np.asarray(durations, dtype=np.float64)
        too_long = np.flatnonzero(self.durations > max_seconds)
        if len(too_long):
            raise ValueError(f"{len(too_long)} utterances are longer than max_seconds={max_seconds} "
                             f"(longest {self.durations.max():.2f}s): raise max_seconds or filter them")
        self.max_seconds = max_seconds
        self.num_buckets = max(1, min(num_buckets, len(self.durations)))
        self.shuffle = shuffle
        self.max_batch_size = max_batch_size

    def _plan(self, rng: np.random.Generator) -> list[list[tuple[int, int]]]:
        order = np.argsort(self.durations, kind="stable")
        batches: list[list[tuple[int, int]]] = []
        for bucket in np.array_split(order, self.num_buckets):
            if self.shuffle:
                bucket = rng.permutation(bucket)
            batch: list[tuple[int, int]] = []
            longest = 0.0
            for i in bucket:
                d = self.durations[i]
                full = self.max_batch_size is not None and len(batch) >= self.max_batch_size
                if batch and (max(longest, d) * (len(batch) + 1) > self.max_seconds or full):
                    batches.append(batch)
                    batch, longest = [], 0.0
                batch.append((int(i), 0))
                longest = max(longest, d)
            if batch and not self.drop_last:
                batches.append(batch)
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        return batches
