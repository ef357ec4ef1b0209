"""Effect models: audio in, audio out, conditioned on normalised knob values."""
from audiokit.models.effects.base import EffectModule
from audiokit.models.effects.gcn import GCN, gcn_tfilm_1, gcn_tfilm_250
from audiokit.models.effects.graybox import (
    Chain,
    Compressor,
    ParametricEQ,
    Waveshaper,
    graybox_compressor,
    graybox_distortion,
)
from audiokit.models.effects.lstm import LSTM, lstm_32
from audiokit.models.effects.s4 import S4, s4_la2a, s4_nablafx_l, s4_nablafx_s
from audiokit.models.effects.tcn import TCN, micro_tcn_300

__all__ = [
    "Chain",
    "Compressor",
    "EffectModule",
    "GCN",
    "LSTM",
    "ParametricEQ",
    "S4",
    "TCN",
    "Waveshaper",
    "gcn_tfilm_1",
    "gcn_tfilm_250",
    "graybox_compressor",
    "graybox_distortion",
    "lstm_32",
    "micro_tcn_300",
    "s4_la2a",
    "s4_nablafx_l",
    "s4_nablafx_s",
]
