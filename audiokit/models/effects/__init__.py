"""Effect models: audio in, audio out, conditioned on normalised knob values."""
from audiokit.models.effects.base import EffectModule
from audiokit.models.effects.tcn import TCN, micro_tcn_300

__all__ = ["EffectModule", "TCN", "micro_tcn_300"]
