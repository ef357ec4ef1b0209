"""A LightningDataModule over the one dataloader builder."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from audiokit.data.loader import build_dataloader


class AudioDataModule(L.LightningDataModule):
    """Loaders are built when Lightning asks for them, after DDP is set up, so samplers shard by rank.

    Args:
        train: dataloader config of the training split (see audiokit.data.loader).
        valid: dataloader config of the validation split, or None.
    """

    def __init__(self, train: Mapping[str, Any], valid: Mapping[str, Any] | None = None):
        super().__init__()
        self.train_cfg = dict(train)
        self.valid_cfg = dict(valid) if valid else None

    def train_dataloader(self):
        return build_dataloader(self.train_cfg)

    def val_dataloader(self):
        return build_dataloader(self.valid_cfg) if self.valid_cfg else []
