"""Batched on-device augmentation: per-example random parameters from a seeded generator, padding
respected, stems supported, chains built from config::

    import torch

    from audiokit.augment import Chain

    chain = Chain.from_config("gain:min_db=-6,max_db=6;noise:min_snr_db=10,max_snr_db=30;reverb:p=0.5,num_rirs=4",
                              sample_rate=16000, seed=0)
    wav = 0.1 * torch.randn(8, 1, 16000)               # (batch, channels, time), on any device
    lengths = torch.tensor([16000] * 4 + [12000] * 4)  # samples of signal per example; the rest is padding
    out = chain(wav, lengths)                          # out.wav (8, 1, 16000), out.lengths (8,)

The same config as YAML (a list of ``{name: ..., <field>: ...}``) builds the same chain, from Python,
Hydra or ``audiokit augment IN.wav OUT.wav --chain CHAIN.yaml``. See :mod:`audiokit.augment.base` for the
contract every transform follows and :data:`TRANSFORMS` for their names.
"""
from audiokit.augment.base import Augmented, AugmentError, LinearTransform, Transform, make_generator
from audiokit.augment.chain import TRANSFORMS, Chain, build_transform, load_chain_config, parse_chain_spec
from audiokit.augment.codec import Downsample, MuLaw, mu_law_round_trip
from audiokit.augment.filters import FILTER_KINDS, Filter
from audiokit.augment.gain import Gain, Polarity
from audiokit.augment.mix import ChannelSwap, Remix, mixture
from audiokit.augment.noise import COLORS, Noise, colored_noise
from audiokit.augment.reverb import Reverb, reflection_coefficient, rir_bank, shoebox_rir
from audiokit.augment.spec import SpecAugment
from audiokit.augment.time import PitchShift, Shift, Speed

__all__ = [
    "COLORS",
    "FILTER_KINDS",
    "TRANSFORMS",
    "AugmentError",
    "Augmented",
    "Chain",
    "ChannelSwap",
    "Downsample",
    "Filter",
    "Gain",
    "LinearTransform",
    "MuLaw",
    "Noise",
    "PitchShift",
    "Polarity",
    "Remix",
    "Reverb",
    "Shift",
    "SpecAugment",
    "Speed",
    "Transform",
    "build_transform",
    "colored_noise",
    "load_chain_config",
    "make_generator",
    "mixture",
    "mu_law_round_trip",
    "parse_chain_spec",
    "reflection_coefficient",
    "rir_bank",
    "shoebox_rir",
]
