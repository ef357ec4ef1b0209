"""Neural audio codecs: audio to discrete codes and back (see :mod:`.rvq_codec` for the bitrate arithmetic)."""
from audiokit.models.codec.esc import ESC, esc_base, esc_tiny
from audiokit.models.codec.hificodec import hificodec, hificodec_16khz, hificodec_16khz_config
from audiokit.models.codec.multichannel import from_mono, hoa_rvq_codec, inflate_from_mono
from audiokit.models.codec.rvq_codec import CodecOutput, RVQCodec, encodec_24khz, encodec_24khz_config, rvq_codec
from audiokit.models.codec.seanet import SEANetDecoder, SEANetEncoder

__all__ = [
    "ESC",
    "CodecOutput",
    "RVQCodec",
    "SEANetDecoder",
    "SEANetEncoder",
    "encodec_24khz",
    "encodec_24khz_config",
    "esc_base",
    "esc_tiny",
    "from_mono",
    "hificodec",
    "hificodec_16khz",
    "hificodec_16khz_config",
    "hoa_rvq_codec",
    "inflate_from_mono",
    "rvq_codec",
]
