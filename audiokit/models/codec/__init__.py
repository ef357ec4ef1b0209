"""Neural audio codecs: audio to discrete codes and back (see :mod:`.rvq_codec` for the bitrate arithmetic)."""
from audiokit.models.codec.rvq_codec import CodecOutput, RVQCodec, encodec_24khz, encodec_24khz_config, rvq_codec
from audiokit.models.codec.seanet import SEANetDecoder, SEANetEncoder

__all__ = [
    "CodecOutput",
    "RVQCodec",
    "SEANetDecoder",
    "SEANetEncoder",
    "encodec_24khz",
    "encodec_24khz_config",
    "rvq_codec",
]
