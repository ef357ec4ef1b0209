"""HiFi-Codec (Yang et al. 2023, "HiFi-Codec: Group-residual Vector quantization for High Fidelity Audio Codec").

The codec's point is its quantizer: the latent is split into ``groups`` channel groups and each group gets a
short residual stack (:class:`~audiokit.nn.quantization.GroupResidualVectorQuantizer`), so 4 codebooks
(2 groups x 2 levels of 1024 codes) carry what plain RVQ needs many more for. At 16 kHz with 50 frames/s::

    bitrate = 50 frames/s * 4 codebooks * 10 bits = 2 kbit/s        (1 kbit/s with the first level only)

The network is the :class:`~audiokit.models.codec.RVQCodec` composition with SEANet convolutions in place of
the paper's HiFi-GAN-style generator pair (same strides 8-5-4-2 and channel widths 32 -> 512, fewer
residual branches), so every codec of the family shares training, streaming and the bitstream. Codes are
stage-major: ``[level 0 group 0, level 0 group 1, level 1 group 0, level 1 group 1]``, so the first
``groups`` codebooks alone decode (the lower bitrate) when the model was trained with quantizer dropout.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audiokit.models.codec.rvq_codec import RVQCodec
from audiokit.models.codec.seanet import SEANetDecoder, SEANetEncoder
from audiokit.nn.quantization import GroupResidualVectorQuantizer


def hificodec(sample_rate: int = 16000, channels: int = 1, *, dimension: int = 512, n_filters: int = 32,
              ratios: Sequence[int] = (8, 5, 4, 2), n_residual_layers: int = 1, lstm_layers: int = 0,
              activation: str = "elu", causal: bool = False, weight_norm: bool = True, groups: int = 2,
              num_quantizers_per_group: int = 2, codebook_size: int = 1024, update: str = "gradient",
              commitment_weight: float = 0.25, codebook_weight: float = 1.0, decay: float = 0.99,
              kmeans_init: bool = False, threshold_dead_code: float = 0.0, quantizer_dropout: float = 0.0,
              target_bandwidths: Sequence[float] | None = None) -> RVQCodec:
    """A HiFi-Codec: SEANet encoder and decoder around a group-residual VQ.

    Args:
        sample_rate: Hz.
        channels: C, audio channels.
        # Network (see :class:`~audiokit.models.codec.SEANetEncoder`)
        dimension: D, latent channels, split in ``groups`` (HiFi-Codec: 512 = 2 x 256).
        n_filters, ratios, n_residual_layers, lstm_layers, activation, causal, weight_norm: as
            :func:`~audiokit.models.codec.rvq_codec`; hop ``prod(ratios)`` (320: 50 frames/s at 16 kHz).
        # Quantizer (see :class:`~audiokit.nn.quantization.GroupResidualVectorQuantizer`)
        groups: G, channel groups (HiFi-Codec 2).
        num_quantizers_per_group: residual levels per group (HiFi-Codec 2).
        codebook_size: entries per codebook (HiFi-Codec 1024).
        update: ``"gradient"`` (HiFi-Codec: codebooks trained by the codebook loss) or ``"ema"``.
        commitment_weight, codebook_weight: HiFi-Codec 0.25 and 1.0.
        decay, kmeans_init, threshold_dead_code: EMA decay, k-means initialisation and dead-code threshold
            (HiFi-Codec uses none of them: defaults off).
        quantizer_dropout: probability that a training example uses only its first levels (HiFi-Codec 0:
            it always uses all 4 codebooks).
        target_bandwidths: kbit/s the model is meant for (default: every number of levels).
    """
    network = dict(channels=channels, dimension=dimension, n_filters=n_filters, ratios=tuple(ratios),
                   n_residual_layers=n_residual_layers, lstm_layers=lstm_layers, activation=activation,
                   causal=causal, weight_norm=weight_norm)
    quantizer = GroupResidualVectorQuantizer(
        dimension, groups, num_quantizers_per_group, codebook_size, update=update, decay=decay,
        commitment_weight=commitment_weight, codebook_weight=codebook_weight, kmeans_init=kmeans_init,
        threshold_dead_code=threshold_dead_code, quantizer_dropout=quantizer_dropout)
    return RVQCodec(SEANetEncoder(**network), quantizer, SEANetDecoder(**network), sample_rate,
                    target_bandwidths=target_bandwidths)


def hificodec_16khz_config() -> dict[str, Any]:
    """HiFi-Codec-16k-320d's published quantizer and framing (AcademiCodec ``config_16k_320d.json``): 16 kHz,
    strides 8-5-4-2 (hop 320, 50 frames/s), latent 512 in 2 groups of 256, 2 residual levels of 1024 codes
    per group (4 codebooks: 2 kbit/s), gradient codebooks with codebook weight 1 and commitment 0.25, no
    quantizer dropout; non-causal. The encoder/decoder are SEANet with widths 32 -> 512 (see module doc)."""
    return dict(sample_rate=16000, channels=1, dimension=512, n_filters=32, ratios=(8, 5, 4, 2),
                n_residual_layers=1, lstm_layers=0, activation="elu", causal=False, weight_norm=True, groups=2,
                num_quantizers_per_group=2, codebook_size=1024, update="gradient", commitment_weight=0.25,
                codebook_weight=1.0, kmeans_init=False, threshold_dead_code=0.0, quantizer_dropout=0.0,
                target_bandwidths=(2.0,))


def hificodec_16khz(**overrides: Any) -> RVQCodec:
    """The HiFi-Codec 16 kHz configuration (:func:`hificodec_16khz_config`), untrained; ``overrides`` replace
    any of its :func:`hificodec` arguments."""
    unknown = sorted(set(overrides) - set(hificodec_16khz_config()))
    if unknown:
        raise ValueError(f"hificodec_16khz got unknown arguments {unknown}; known: {sorted(hificodec_16khz_config())}")
    return hificodec(**{**hificodec_16khz_config(), **overrides})
