"""Shared layers used by several model families."""
from audiokit.nn.causal_conv import CausalConv1d
from audiokit.nn.film import FiLM, KnobMLP
from audiokit.nn.s4d import S4D
from audiokit.nn.tfilm import TFiLM, TFiLMState

__all__ = ["CausalConv1d", "FiLM", "KnobMLP", "S4D", "TFiLM", "TFiLMState"]
