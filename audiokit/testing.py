"""Tiny synthetic data directories for tests and examples (no corpus generation needed).

``make_paired_dir`` writes an effect data dir whose target is a known function of the input and
knobs (a soft clipper with a drive knob), so a model can learn it in a few steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from audiokit.audio.io import save
from audiokit.data.kaldi import format_params, write_table
from audiokit.data.knobs import Knob, KnobSchema

DRIVE = KnobSchema([Knob("drive_db", 0.0, 24.0, 6.0, "dB")])


def soft_clip(x: torch.Tensor, drive_db: float) -> torch.Tensor:
    """The dummy effect: ``tanh(g x) / tanh(g)`` with ``g`` the drive as a linear gain."""
    g = 10 ** (drive_db / 20)
    return torch.tanh(g * x) / float(np.tanh(g))


def make_paired_dir(root: str | Path, num_items: int = 4, seconds: float = 1.0, sample_rate: int = 8000,
                    seed: int = 0) -> Path:
    """Write ``root`` as a paired effect data dir of ``num_items`` clips (noise bursts + tones)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    inputs, targets, params, durs = {}, {}, {}, {}
    t = np.arange(n) / sample_rate
    for i in range(num_items):
        key = f"clip{i:03d}"
        env = np.abs(np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)) * rng.uniform(0.2, 0.9)
        sig = env * (0.6 * np.sin(2 * np.pi * rng.uniform(80, 600) * t) + 0.4 * rng.standard_normal(n) * 0.3)
        x = torch.from_numpy(sig.astype(np.float32))[None]
        drive = float(rng.uniform(0, 24))
        save(root / "wav" / f"{key}_input.wav", x, sample_rate)
        save(root / "wav" / f"{key}_target.wav", soft_clip(x, drive), sample_rate)
        inputs[key], targets[key] = f"wav/{key}_input.wav", f"wav/{key}_target.wav"
        params[key], durs[key] = format_params({"drive_db": drive}), f"{seconds:.4f}"
    write_table(root / "input.scp", inputs)
    write_table(root / "target.scp", targets)
    write_table(root / "params", params)
    write_table(root / "utt2dur", durs)
    import json

    (root / "knobs.json").write_text(json.dumps(DRIVE.to_json(), indent=1))
    return root


def make_speech_dir(root: str | Path, num_items: int = 6, sample_rate: int = 8000, seed: int = 0) -> Path:
    """Write ``root`` as an utterance data dir (wav.scp, text, utt2spk, spk2utt, utt2dur)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    wavs, text, u2s, durs = {}, {}, {}, {}
    words = ["ONE", "TWO", "THREE", "FOUR", "FIVE"]
    for i in range(num_items):
        spk = f"spk{i % 2}"
        key = f"{spk}-utt{i:03d}"
        dur = float(rng.uniform(0.3, 1.2))
        x = torch.from_numpy((0.1 * rng.standard_normal(int(dur * sample_rate))).astype(np.float32))[None]
        save(root / "wav" / f"{key}.wav", x, sample_rate)
        wavs[key], u2s[key] = f"wav/{key}.wav", spk
        text[key] = " ".join(rng.choice(words, size=3))
        durs[key] = f"{x.shape[-1] / sample_rate:.4f}"
    write_table(root / "wav.scp", wavs)
    write_table(root / "text", text)
    write_table(root / "utt2spk", u2s)
    spk2utt: dict[str, list[str]] = {}
    for u, s in sorted(u2s.items()):
        spk2utt.setdefault(s, []).append(u)
    write_table(root / "spk2utt", {s: " ".join(us) for s, us in spk2utt.items()})
    write_table(root / "utt2dur", durs)
    return root


def tiny_train_config(paired_dirs: dict, out_dir: str | Path) -> Path:
    """Write a small TCN training config over ``{"train": dir, "valid": dir}`` paired dirs; return its path."""
    text = f"""
seed: 0
sample_rate: 8000
data:
  train: {{dir: {paired_dirs['train']}, kind: crops, tables: [input.scp, target.scp], segment_seconds: 0.5,
          with_params: true, batch_size: 4, crops_per_epoch: 16, num_workers: 0, seed: 0}}
  valid: {{dir: {paired_dirs['valid']}, kind: sequential, tables: [input.scp, target.scp], with_params: true,
          batch_size: 2}}
model: {{_target_: audiokit.models.effects.tcn.TCN, sample_rate: "${{sample_rate}}", num_knobs: 1, num_blocks: 2,
        channels: 8, kernel_size: 5, dilation_growth: 4}}
task: {{_target_: audiokit.tasks.effects.EffectsTask, loss: {{l1: 1.0, mrstft: 0.1}},
       optimizer: {{name: adam, lr: 0.003}}}}
ema: {{decay: 0.99}}
checkpoint: {{monitor: val/esr, mode: min, every_n_steps: 1}}
trainer: {{max_steps: 10, val_check_interval: 5, accelerator: cpu, devices: 1, strategy: auto,
          enable_progress_bar: false, log_every_n_steps: 1, enable_model_summary: false}}
"""
    path = Path(out_dir) / "conf" / "tiny.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class GainSeparator(torch.nn.Module):
    """A pointwise toy separation model (learned gain per source) for API and task tests:
    ``(B, C, T) -> (B, S, C, T)``, exact under any chunking."""

    def __init__(self, sources=("a", "b"), audio_channels: int = 2, sample_rate: int = 8000):
        super().__init__()
        self.sources = list(sources)
        self.audio_channels = int(audio_channels)
        self.sample_rate = int(sample_rate)
        self.gain = torch.nn.Parameter(torch.linspace(0.2, 0.8, len(self.sources)))

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return mix[:, None] * self.gain[None, :, None, None]
