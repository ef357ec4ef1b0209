"""Effect models: audio in, audio out, conditioned on normalised knob values."""
from audiokit.models.effects.base import EffectModule
from audiokit.models.effects.lstm import LSTM, lstm_32
from audiokit.models.effects.tcn import TCN, micro_tcn_300

__all__ = ["EffectModule", "LSTM", "TCN", "lstm_32", "micro_tcn_300"]
