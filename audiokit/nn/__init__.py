"""Shared layers used by several model families."""
from audiokit.nn.causal_conv import CausalConv1d
from audiokit.nn.film import FiLM, KnobMLP
from audiokit.nn.quantization import (
    CodebookUsage,
    CrossScaleResidualVectorQuantizer,
    GroupResidualVectorQuantizer,
    Quantizer,
    QuantizerOutput,
    ResidualVectorQuantizer,
    VectorQuantizer,
)
from audiokit.nn.s4d import S4D
from audiokit.nn.tfilm import TFiLM, TFiLMState

__all__ = [
    "CausalConv1d",
    "CodebookUsage",
    "CrossScaleResidualVectorQuantizer",
    "FiLM",
    "GroupResidualVectorQuantizer",
    "KnobMLP",
    "Quantizer",
    "QuantizerOutput",
    "ResidualVectorQuantizer",
    "S4D",
    "TFiLM",
    "TFiLMState",
    "VectorQuantizer",
]
