"""Shared fixtures: tiny data dirs and configs built from audiokit.testing."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from audiokit.testing import make_paired_dir, make_speech_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _threads():
    # Test tensors are small: one thread avoids pool overhead, which grows 10-50x on a busy machine.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def paired_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("paired")
    return {"train": make_paired_dir(root / "train", num_items=6, seconds=1.5, seed=0),
            "valid": make_paired_dir(root / "valid", num_items=2, seconds=1.0, seed=1)}


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return make_speech_dir(tmp_path_factory.mktemp("speech") / "train", num_items=12)


@pytest.fixture(scope="session")
def fx_corpus(tmp_path_factory) -> Path:
    """The tiny offline fx corpus at seed 0 (what the flagship recipe and the model card use)."""
    from audiokit.corpora.fx import make_fx

    return make_fx(tmp_path_factory.mktemp("corpus") / "fx_tiny_seed0", size="tiny", seed=0, progress=False)
