"""Chains of transforms built from a config: a list of ``{name: ..., <field>: ...}`` dicts (YAML, Hydra),
or the inline form the CLI takes::

    gain:min_db=-6,max_db=6;noise:snr_db=10;speed:factors=[0.9, 1.1]

Items are separated by ``;``, a name from its fields by ``:``, fields by ``,`` (outside brackets); values
are read as YAML scalars or flow lists. ``sample_rate`` is given once, to the chain, and passed to every
transform that takes one. A config mistake raises :class:`AugmentError` naming the item, the transform and
the field.

Consecutive linear time-invariant transforms (gain, polarity, filter, reverb) are fused: their draws
are made exactly as if they ran one by one, each unit's combined impulse response is what they make of
an impulse, and the batch goes through one FFT convolution with it instead of one per transform. The
result is the same as running them in turn (to float rounding: the tests check 1e-5), since each is
causal and an example's padding is never read.
"""
from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from audiokit.augment.base import (
    Augmented,
    AugmentError,
    LinearTransform,
    Transform,
    check_batch,
    fft_convolve,
    gather_units,
    make_generator,
    merge,
)
from audiokit.augment.codec import Downsample, MuLaw
from audiokit.augment.filters import Filter
from audiokit.augment.gain import Gain, Polarity
from audiokit.augment.mix import ChannelSwap, Remix
from audiokit.augment.noise import Noise
from audiokit.augment.reverb import Reverb
from audiokit.augment.spec import SpecAugment
from audiokit.augment.time import PitchShift, Shift, Speed

TRANSFORMS: dict[str, type[Transform]] = {t.name: t for t in (
    Gain, Polarity, Shift, ChannelSwap, Remix, Noise, Reverb, Filter, Speed, PitchShift, SpecAugment, MuLaw,
    Downsample)}
"""Every transform a config can name, by name."""


class Chain(nn.Module):
    """Transforms applied in order, all drawing from one generator.

    Args:
        transforms: the transforms, first applied first.
        seed: seed of the chain's own generator, used when a call passes neither a generator nor a seed:
            a chain built with a seed gives the same sequence of batches in every run (a generator is
            made on the first batch's device). None: seeded from torch's global generator. In distributed
            training give each rank its own seed.
        fuse: run consecutive linear time-invariant transforms as one FFT convolution (default True; the
            output is the same to float rounding).
    """

    def __init__(self, transforms: Sequence[Transform], *, seed: int | None = None, fuse: bool = True) -> None:
        super().__init__()
        for i, t in enumerate(transforms):
            if not isinstance(t, Transform):
                raise AugmentError(f"augment chain item {i}: expected a Transform, got {type(t).__name__}")
        self.transforms = nn.ModuleList(transforms)
        self.seed = seed
        self.fuse = fuse
        self._generator: torch.Generator | None = None

    @classmethod
    def from_config(cls, config: Any, *, sample_rate: int | None = None, seed: int | None = None,
                    fuse: bool = True) -> Chain:
        """Build a chain from a list of ``{name, fields...}`` dicts (plain, OmegaConf, or a YAML/inline
        string or path: see :func:`load_chain_config`)."""
        return cls([build_transform(item, sample_rate=sample_rate, index=i)
                    for i, item in enumerate(load_chain_config(config))], seed=seed, fuse=fuse)

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, *,
                generator: torch.Generator | None = None, seed: int | None = None) -> Augmented:
        """Apply every transform to ``wav`` ``(B, C, T)`` or ``(B, S, C, T)``; see :mod:`audiokit.augment.base`."""
        if generator is None and seed is None:
            if self._generator is None or self._generator.device != wav.device:
                self._generator = make_generator(None, self.seed, wav.device)
            generator = self._generator
        else:
            generator = make_generator(generator, seed, wav.device)
        out = Augmented(wav, lengths)
        for run in self._runs():
            if len(run) == 1:
                out = run[0](out.wav, out.lengths, generator=generator)
            else:
                out = apply_fused(run, out.wav, out.lengths, generator)
        if out.lengths is None:  # an empty chain
            out = Augmented(wav, torch.full((wav.shape[0],), wav.shape[-1], dtype=torch.long, device=wav.device))
        return out

    def __len__(self) -> int:
        return len(self.transforms)

    def _runs(self) -> list[list[Transform]]:
        """The transforms in order, in runs of one, or of several consecutive linear ones to fuse."""
        runs: list[list[Transform]] = []
        for t in self.transforms:
            if self.fuse and runs and isinstance(t, LinearTransform) and isinstance(runs[-1][0], LinearTransform):
                runs[-1].append(t)
            else:
                runs.append([t])
        out = []
        for run in runs:
            # fusing pays when the run holds a transform that needs an FFT anyway; gains alone stay products
            out.extend([run] if len(run) > 1 and any(t.needs_fft for t in run) else [[t] for t in run])
        return out


def apply_fused(transforms: Sequence[LinearTransform], wav: torch.Tensor, lengths: torch.Tensor | None,
                generator: torch.Generator) -> Augmented:
    """Run linear time-invariant transforms as one FFT convolution, drawing as they would one by one.

    Each unit's combined impulse response is what its transforms make of an impulse (the first one's own
    response when every unit drew it), as long as the sum of their tails (or the batch, if shorter: later
    samples cannot reach it).
    """
    stems, lengths = check_batch(wav, lengths, "+".join(t.name for t in transforms))  # (B, S, C, T), (B,)
    batch, sources, channels, time = stems.shape
    drawn = [(t, d) for t in transforms if (d := t.draw(*stems.shape, generator, wav.device)) is not None]
    if not drawn:
        return Augmented(wav, lengths)
    chosen = torch.zeros(batch * sources, dtype=torch.bool, device=wav.device)
    for _, (units, _) in drawn:
        chosen[units] = True
    selected = chosen.nonzero().squeeze(1)  # (N,) units touched by at least one transform
    position = torch.cumsum(chosen, 0) - 1  # unit index -> row among the selected
    length = min(1 + sum(t.tail(params) for t, (_, params) in drawn), time)
    full = torch.full((selected.numel(),), length, dtype=torch.long, device=wav.device)
    response = None  # (N, 1, K): each selected unit's combined impulse response
    for t, (units, params) in drawn:
        every = units.numel() == selected.numel()
        if response is None and every:
            response = t.response(params, length, wav.dtype, wav.device)[:, None, :]
            continue
        if response is None:
            response = torch.zeros(selected.numel(), 1, length, dtype=wav.dtype, device=wav.device)
            response[..., 0] = 1.0
        if every:
            response = t.apply(response, full, params)[0]
        else:
            rows = position[units]
            response = response.index_copy(0, rows, t.apply(response[rows], full[rows], params)[0])
    x, unit_lengths = gather_units(stems, lengths, selected)
    y = fft_convolve(x, response[:, 0])
    return merge(stems, lengths, selected, y, unit_lengths, wav.dim() == 3)


def build_transform(item: Any, *, sample_rate: int | None = None, index: int = 0) -> Transform:
    """One transform from ``{"name": ..., <field>: <value>, ...}``; ``sample_rate`` goes to those that take it."""
    where = f"augment chain item {index}"
    if not isinstance(item, Mapping):
        raise AugmentError(f"{where}: expected a mapping with a 'name' and fields, got {item!r}")
    fields = dict(item)
    name = fields.pop("name", None)
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise AugmentError(f"{where}: unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    cls = TRANSFORMS[name]
    parameters = inspect.signature(cls.__init__).parameters
    accepted = [p for p in parameters if p != "self"]
    for field in fields:
        if field not in accepted:
            raise AugmentError(f"{where} ({name}): unknown field '{field}'; {name} takes {', '.join(accepted)}")
    if "sample_rate" in accepted and "sample_rate" not in fields:
        if sample_rate is None and parameters["sample_rate"].default is inspect.Parameter.empty:
            raise AugmentError(f"{where} ({name}): needs sample_rate; give it to the chain or the item")
        fields["sample_rate"] = sample_rate
    try:
        return cls(**fields)
    except AugmentError as e:
        raise AugmentError(f"{where}: {e}") from None


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += (char in "[{") - (char in "]}")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_chain_spec(text: str) -> list[dict[str, Any]]:
    """``'gain:min_db=-6,max_db=6;noise:snr_db=10'`` -> ``[{'name': 'gain', ...}, {'name': 'noise', ...}]``."""
    items = []
    for i, chunk in enumerate(c.strip() for c in _split_top_level(text, ";")):
        if not chunk:
            continue
        name, _, rest = chunk.partition(":")
        item: dict[str, Any] = {"name": name.strip()}
        for field in (f.strip() for f in _split_top_level(rest, ",")):
            if not field:
                continue
            key, sep, value = field.partition("=")
            if not sep or not key.strip():
                raise AugmentError(f"augment chain item {i} ({name.strip()}): expected field=value, got '{field}'")
            try:
                item[key.strip()] = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                raise AugmentError(f"augment chain item {i} ({name.strip()}): cannot read the value of "
                                   f"'{key.strip()}': '{value}'") from None
        items.append(item)
    return items


def load_chain_config(config: Any) -> list[Mapping[str, Any]]:
    """The list of items of a chain config: a list of dicts (or OmegaConf list), a dict with a
    ``chain`` (or ``augment``) list, a path to a YAML file holding either, or an inline spec string."""
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(config):
            config = OmegaConf.to_container(config, resolve=True)
    except ImportError:  # omegaconf is a dependency; plain configs work without it all the same
        pass
    if isinstance(config, os.PathLike) or (isinstance(config, str) and config.strip().endswith((".yaml", ".yml"))):
        path = Path(config)
        if not path.is_file():
            raise AugmentError(f"augment chain config not found: '{path}'")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise AugmentError(f"'{path}' is not valid YAML: {e}") from None
    elif isinstance(config, str):
        config = parse_chain_spec(config)
    if isinstance(config, Mapping):
        for key in ("chain", "augment"):
            if key in config:
                config = config[key]
                break
        else:
            raise AugmentError(f"augment chain config: expected a list of transforms or a mapping with a 'chain' "
                               f"list, got keys {list(config)}")
    if not isinstance(config, Sequence) or isinstance(config, str):
        raise AugmentError(f"augment chain config: expected a list of transforms, got {type(config).__name__}")
    return list(config)
