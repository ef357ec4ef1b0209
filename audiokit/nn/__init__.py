"""Shared layers used by several model families."""
from audiokit.nn.causal_conv import CausalConv1d
from audiokit.nn.film import FiLM, KnobMLP

__all__ = ["CausalConv1d", "FiLM", "KnobMLP"]
