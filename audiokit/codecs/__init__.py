"""Neural-codec inference: the ``.akc`` bitstream file format that ``audiokit codec encode/decode`` use."""
from audiokit.codecs.bitstream import (
    BitstreamError,
    BitstreamHeader,
    BitstreamReader,
    BitstreamWriter,
    bits_per_code,
    header_bytes,
    model_fingerprint,
    nominal_bytes,
    read_codes,
    write_codes,
)

__all__ = [
    "BitstreamError",
    "BitstreamHeader",
    "BitstreamReader",
    "BitstreamWriter",
    "bits_per_code",
    "header_bytes",
    "model_fingerprint",
    "nominal_bytes",
    "read_codes",
    "write_codes",
]
