"""``audiokit.load(...)``: checkpoints and pretrained models as ready-to-use inference objects.

    fx = audiokit.load("fx-compressor-tcn")             # a model of pretrained/, by name
    fx = audiokit.load("exp/tcn/best.pt")               # or any checkpoint the trainer wrote
    wet = fx.process(dry, 44100, threshold_db=-25, ratio=6)

This layer stays thin: model math lives in the model files, block streaming in each model's
``step``, resampling in audiokit.audio.
"""
from __future__ import annotations

import os
from pathlib import Path

import soundfile as sf
import torch

from audiokit.audio.io import AudioError, check_waveform, info, save
from audiokit.audio.io import load as load_audio
from audiokit.audio.resample import resample
from audiokit.data.knobs import KnobSchema
from audiokit.train.checkpoint import CheckpointError, load_model
from audiokit.utils import AudiokitError, atomic_path

PRETRAINED_ENV = "AUDIOKIT_PRETRAINED"


def pretrained_dir() -> Path:
    """Where named models live: ``$AUDIOKIT_PRETRAINED`` or the repository's ``pretrained/``."""
    return Path(os.environ.get(PRETRAINED_ENV, Path(__file__).resolve().parents[1] / "pretrained"))


def available_models() -> list[str]:
    root = pretrained_dir()
    return sorted(p.name for p in root.iterdir() if (p / "model.pt").is_file()) if root.is_dir() else []


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A checkpoint file, an experiment dir (its best.pt), or the name of a pretrained model."""
    p = Path(path_or_name)
    if p.is_file():
        return p
    if p.is_dir():
        for name in ("best.pt", "model.pt", "last.pt"):
            if (p / name).is_file():
                return p / name
        raise CheckpointError(f"'{p}' is a directory without best.pt, model.pt or last.pt")
    named = pretrained_dir() / str(path_or_name) / "model.pt"
    if named.is_file():
        return named
    raise CheckpointError(f"no checkpoint file, experiment dir or pretrained model named '{path_or_name}' "
                          f"(pretrained: {', '.join(available_models()) or 'none'})")


class EffectModel:
    """A trained effect model: process audio with knob values in their physical units.

    Attributes:
        sample_rate: the model's rate in Hz (inputs at other rates are resampled and back).
        knobs: the :class:`KnobSchema` it was trained with (names, ranges, units, defaults).
        receptive_field, latency: in samples at ``sample_rate``.
    """

    def __init__(self, model: torch.nn.Module, checkpoint: dict, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.sample_rate = int(checkpoint["sample_rate"])
        self.metadata = checkpoint.get("metadata", {})
        self.knobs = KnobSchema.from_json(self.metadata.get("knobs", []), where="checkpoint metadata 'knobs'")
        if len(self.knobs) != model.num_knobs:
            raise CheckpointError(f"checkpoint has {len(self.knobs)} knobs in its schema but the model takes "
                                  f"{model.num_knobs}")

    @property
    def receptive_field(self) -> int | None:
        return self.model.receptive_field

    @property
    def latency(self) -> int:
        return self.model.latency

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k.name}={k.default:g}{k.unit}" for k in self.knobs)
        rf = "unbounded" if self.receptive_field is None else f"{self.receptive_field} samples"
        return f"EffectModel({type(self.model).__name__}, {self.sample_rate} Hz, knobs: {knobs}, receptive field {rf})"

    def _knob_vector(self, batch: int, knobs: dict[str, float]) -> torch.Tensor:
        return self.knobs.normalize(knobs).to(self.device).expand(batch, -1)  # (K,) -> (B, K)

    @torch.inference_mode()
    def process(self, wav: torch.Tensor, sample_rate: int, block_size: int = 65536, **knobs: float) -> torch.Tensor:
        """Process ``(channels, time)`` audio; each channel goes through the (mono) model.

        Runs block by block through the model's streaming ``step``, so memory is bounded by the
        block and the output equals offline processing. Returns audio at ``sample_rate``.
        """
        check_waveform(wav, "input audio")
        x = wav
        if sample_rate != self.sample_rate:
            x = resample(x, sample_rate, self.sample_rate)
        x = x.to(self.device, torch.float32).unsqueeze(1)  # (C, T) -> (C, 1, T): channels as batch
        k = self._knob_vector(x.shape[0], knobs)
        state = self.model.init_state(x.shape[0])
        out = []
        for start in range(0, x.shape[-1], block_size):
            y, state = self.model.step(x[..., start : start + block_size], k, state)
            out.append(y)
        if self.latency:  # a lookahead model answers `latency` samples late: flush with zeros, drop the lead
            out.append(self.model.step(x.new_zeros(*x.shape[:2], self.latency), k, state)[0])
        y = torch.cat(out, dim=-1)[..., self.latency :].squeeze(1).cpu()  # (C, 1, T) -> (C, T)
        if sample_rate != self.sample_rate:
            y = resample(y, self.sample_rate, sample_rate)[..., : wav.shape[-1]]
        return y

    @torch.inference_mode()
    def process_file(self, src: str | os.PathLike, dst: str | os.PathLike, block_size: int = 65536,
                     **knobs: float) -> Path:
        """Process an audio file into another, atomically. Files at the model's rate are streamed
        block by block from disk to disk (flat memory however long the file)."""
        meta = info(src)
        dst = Path(dst)
        if meta.sample_rate != self.sample_rate:
            wav, rate = load_audio(src)
            return save(dst, self.process(wav, rate, block_size, **knobs), rate)
        if meta.num_frames == 0:
            raise AudioError(f"'{src}' has zero length")
        k = self._knob_vector(meta.channels, knobs)
        state = self.model.init_state(meta.channels)
        ext = dst.suffix.lower().lstrip(".")
        with atomic_path(dst) as tmp:
            with sf.SoundFile(str(tmp), "w", samplerate=meta.sample_rate, channels=meta.channels,
                              subtype="FLOAT" if ext == "wav" else None, format=ext.upper()) as out:
                skip = self.latency  # output samples still to drop (a lookahead model answers late)
                for block in sf.blocks(str(src), blocksize=block_size, dtype="float32", always_2d=True):
                    x = torch.from_numpy(block.T.copy()).to(self.device).unsqueeze(1)  # (n, C) -> (C, 1, n)
                    if not torch.isfinite(x).all():
                        raise AudioError(f"'{src}' contains NaN or Inf samples")
                    y, state = self.model.step(x, k, state)
                    drop, skip = min(skip, y.shape[-1]), skip - min(skip, y.shape[-1])
                    out.write(y[..., drop:].squeeze(1).T.cpu().numpy())  # (C, 1, n) -> (n, C)
                if self.latency:
                    flush = torch.zeros(meta.channels, 1, self.latency, device=self.device)
                    y, state = self.model.step(flush, k, state)
                    out.write(y[..., skip:].squeeze(1).T.cpu().numpy())
        return dst


def _separation(model, checkpoint, device):
    from audiokit.separate import SeparationModel

    return SeparationModel(model, checkpoint, device)


def _codec(model, checkpoint, device):
    from audiokit.codecs.inference import Codec

    return Codec(model, checkpoint, device)


FAMILIES = {"codec": _codec, "effects": EffectModel, "separation": _separation}


def load(path_or_name: str | os.PathLike, device: str | torch.device = "cpu", trust: bool = False):
    """Load a checkpoint or pretrained model into its family's inference object."""
    path = resolve(path_or_name)
    model, ckpt = load_model(path, trust=trust)
    family = ckpt["family"]
    # a name for the model (codecs write it into their bitstreams): the pretrained model's or the experiment's
    metadata = ckpt.setdefault("metadata", {})
    metadata.setdefault("name", path.parent.name if path.name in ("model.pt", "best.pt", "last.pt") else path.stem)
    if family not in FAMILIES:
        raise AudiokitError(f"'{path}': family '{family}' has no inference API yet (have: {sorted(FAMILIES)})")
    return FAMILIES[family](model, ckpt, device)
