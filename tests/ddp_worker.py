"""Run by tests/test_train.py under torchrun: trains with 2 CPU processes (gloo) and records, per
rank, the utterance keys each rank trained on and a fingerprint of its final weights."""
import json
import sys
from pathlib import Path

import lightning as L
import torch

from audiokit.train.builder import compose_config, train


class Record(L.Callback):
    def __init__(self, out: Path):
        self.out, self.keys = out, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.keys += [f"{k}@{float(x.sum()):.6f}" for k, x in zip(batch["key"], batch["input"])]

    def on_train_end(self, trainer, pl_module):
        weights = {k: v.double().sum().item() for k, v in pl_module.model.state_dict().items()}
        rank = trainer.global_rank
        (self.out / f"rank{rank}.json").write_text(json.dumps(
            {"keys": self.keys, "weights": weights, "world_size": trainer.world_size,
             "epoch": trainer.current_epoch, "backend": torch.distributed.get_backend()}))


if __name__ == "__main__":
    config, exp_dir = sys.argv[1], Path(sys.argv[2])
    cfg = compose_config(config, ["trainer.devices=2", "trainer.strategy=ddp", "trainer.max_steps=4",
                                  "trainer.val_check_interval=4"])
    train(cfg, exp_dir, callbacks=[Record(exp_dir)])
