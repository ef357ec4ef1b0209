"""The neural-codec bitstream: ``.akc`` files holding a codec's discrete codes at their real bit width.

``audiokit codec encode IN.wav OUT.akc`` writes one; ``audiokit codec decode OUT.akc OUT.wav`` reads it
back. A file is a header, the packed codes, and a checksum; its size is the nominal bitrate's worth of
bytes plus a header::

    file = header (H bytes) + payload (ceil(T * C * sum(bits) / 8) bytes) + payload CRC32 (4 bytes)

Symbols: ``C`` audio channels, ``K`` codebooks, ``T`` frames; ``bits[k] = ceil(log2(codebook_size[k]))``.

Header, version 1 (every integer little-endian; ``L`` the model id's length in bytes)::

    offset        size  type     field
    0             4     bytes    magic b"AKCB" (AudioKit Codec Bitstream); never changes
    4             2     u16      format version, 1; a reader refuses versions it does not know
    6             4     u32      header length H = 60 + L + 4K: bytes from offset 0 through the header CRC
    10            4     u32      sample rate of the audio, Hz
    14            4     u32      hop length: samples per frame; frame rate = sample rate / hop length
    18            2     u16      channels C (each channel has its own codes)
    20            2     u16      codebooks K
    22            8     u64      num samples: original length per channel; the decoder trims its
                                 T * hop-length output to it (num samples <= T * hop length)
    30            8     u64      frames T
    38            16    bytes    model hash: first 16 bytes of a SHA-256 of the weights (model_fingerprint)
    54            2     u16      L
    56            L     utf-8    model id, e.g. "codec-rvq-24khz"
    56 + L        4K    u32[K]   codebook size of each codebook (2 .. 2**32 - 1); sets its bit width
    56 + L + 4K   4     u32      header CRC32 (zlib.crc32) of bytes 0 .. H - 5

Payload: frames in order; within a frame, channel by channel, codebook by codebook, each code at
``bits[k]`` bits, least significant bit first; the bit stream is cut into bytes least significant bit
first (as DEFLATE does) and its last byte padded with zero bits. A frame is ``C * sum(bits)`` bits long,
so frame ``t`` starts at bit ``t * C * sum(bits)``: a reader can seek to any frame, and a writer can append
frames chunk by chunk. Example, two 3-bit codes 5 (101) and 6 (110) then a 2-bit code 3 (11)::

    bit stream   1 0 1 | 0 1 1 | 1 1        byte 0 = 0b11_110_101 (read right to left) = 0xF5

Trailer: the CRC32 of the payload bytes. The header has its own CRC so that a streaming writer can
finalise the frame count after the payload is written; a reader checks both, and the total size, before
it returns a single code: a truncated, corrupted or foreign file raises :class:`BitstreamError`, never
garbage codes.

Writing goes through a temporary file in the destination folder renamed at the end
(:func:`audiokit.utils.atomic_path`), so a failure never leaves half a file under the final name.
:class:`BitstreamWriter` and :class:`BitstreamReader` stream chunks of frames in bounded memory;
:func:`write_codes` and :func:`read_codes` are the one-shot forms.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from audiokit.utils import AudiokitError, atomic_path

MAGIC = b"AKCB"
VERSION = 1
HASH_BYTES = 16
MAX_BITS = 32
CRC_BYTES = 4
CHUNK_FRAMES = 4096  # frames packed or unpacked per step by the one-shot functions

# magic, version, header length, sample rate, hop length, channels, codebooks, num samples, frames, hash, L
_FIXED = struct.Struct(f"<4sHIIIHHQQ{HASH_BYTES}sH")
_CRC = struct.Struct("<I")
_READ_BLOCK = 1 << 16  # bytes per read while checking the payload CRC


class BitstreamError(AudiokitError, ValueError):
    """A codec bitstream file is not one, is truncated or corrupted, or belongs to another model."""


# ----------------------------------------------------------------------------------------------- helpers
def bits_per_code(codebook_size: int) -> int:
    """Bits that hold any code of a codebook: ``ceil(log2(codebook_size))`` (1024 codes -> 10 bits)."""
    return (int(codebook_size) - 1).bit_length()


def nominal_bytes(num_frames: int, codebook_sizes: Sequence[int], channels: int = 1) -> int:
    """Payload bytes of ``num_frames`` frames: ``ceil(T * C * sum(bits) / 8)``, the nominal bitrate's worth.

    At 75 Hz with 8 codebooks of 1024 codes (6 kbit/s), a minute (4500 frames) is 45,000 bytes.
    """
    frame_bits = channels * sum(bits_per_code(size) for size in codebook_sizes)
    return (num_frames * frame_bits + 7) // 8


def header_bytes(model_id: str, num_codebooks: int) -> int:
    """Size of a version-1 header: ``60 + len(model_id in UTF-8) + 4 * num_codebooks``."""
    return _FIXED.size + len(model_id.encode("utf-8")) + 4 * num_codebooks + CRC_BYTES


def model_fingerprint(state_dict: Mapping[str, object] | torch.nn.Module) -> bytes:
    """First 16 bytes of a SHA-256 over a model's weights: the ``model hash`` of the files it writes.

    Entries are hashed in sorted key order as ``key NUL dtype:shape NUL raw bytes``, so the fingerprint
    depends on names, dtypes, shapes and values, not on the device or the order of the dict. Values that
    are not tensors (a module's extra state) are hashed through their ``repr``.
    """
    if isinstance(state_dict, torch.nn.Module):
        state_dict = state_dict.state_dict()
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        digest.update(key.encode("utf-8") + b"\0")
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{flat.dtype}:{tuple(value.shape)}".encode() + b"\0")
            digest.update(flat.view(torch.uint8).numpy())  # raw bytes; works for bfloat16 too
        else:
            digest.update(f"{type(value).__name__}:{value!r}".encode() + b"\0")
    return digest.digest()[:HASH_BYTES]


def _as_hash(value: bytes | str, path: Path) -> bytes:
    """A model hash given as 16 bytes or 32 hex digits."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise BitstreamError(f"'{path}': model_hash must be {HASH_BYTES} bytes or {2 * HASH_BYTES} hex "
                                 f"digits, got {value!r}") from None
    value = bytes(value)
    if len(value) != HASH_BYTES:
        raise BitstreamError(f"'{path}': model_hash must be {HASH_BYTES} bytes (see model_fingerprint), "
                             f"got {len(value)}")
    return value


def _layout(codebook_sizes: Sequence[int], channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Bit width and bit offset of each of the ``C * K`` codes in a frame (channel-major)."""
    widths = np.tile(np.array([bits_per_code(s) for s in codebook_sizes], dtype=np.int64), channels)
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    return widths, offsets


def _container_bytes(width: int) -> int:
    """Bytes of the unsigned integer type that holds ``width`` bits: 1, 2 or 4."""
    return 1 if width <= 8 else 2 if width <= 16 else 4


def _pack_bits(codes: np.ndarray, widths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Frames of codes ``(n, C*K)`` -> their bit stream ``(n * frame_bits,)`` of 0/1 uint8, LSB first.

    Codes of one width are spread to bits together (``K`` distinct widths at most): no loop over codes.
    """
    n = codes.shape[0]
    bits = np.empty((n, int(widths.sum())), dtype=np.uint8)
    for width in np.unique(widths).tolist():
        slots = np.flatnonzero(widths == width)
        size = _container_bytes(width)
        as_bytes = codes[:, slots].astype(f"<u{size}", order="C").view(np.uint8).reshape(n, len(slots), size)
        spread = np.unpackbits(as_bytes, axis=-1, bitorder="little")  # (n, slots, 8 * size)
        columns = offsets[slots][:, None] + np.arange(width)  # (slots, width): where each bit goes
        bits[:, columns] = spread[..., :width]
    return bits.reshape(-1)


def _unpack_bits(bits: np.ndarray, widths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_pack_bits`: bits ``(n, frame_bits)`` -> codes ``(n, C*K)`` int64."""
    n = bits.shape[0]
    codes = np.empty((n, len(widths)), dtype=np.int64)
    for width in np.unique(widths).tolist():
        slots = np.flatnonzero(widths == width)
        size = _container_bytes(width)
        spread = np.zeros((n, len(slots), 8 * size), dtype=np.uint8)
        spread[..., :width] = bits[:, offsets[slots][:, None] + np.arange(width)]
        codes[:, slots] = np.packbits(spread, axis=-1, bitorder="little").view(f"<u{size}")[..., 0]
    return codes


# ------------------------------------------------------------------------------------------------ header
@dataclass(frozen=True)
class BitstreamHeader:
    """What an ``.akc`` file says about its codes (see the module docstring for the byte layout)."""

    model_id: str
    model_hash: bytes
    sample_rate: int
    hop_length: int
    channels: int
    codebook_sizes: tuple[int, ...]
    num_samples: int
    num_frames: int
    version: int = VERSION

    @property
    def num_codebooks(self) -> int:
        return len(self.codebook_sizes)

    @property
    def bits_per_code(self) -> tuple[int, ...]:
        return tuple(bits_per_code(size) for size in self.codebook_sizes)

    @property
    def frame_bits(self) -> int:
        """Bits of one frame: ``C * sum(bits)``."""
        return self.channels * sum(self.bits_per_code)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def bitrate(self) -> float:
        """Nominal bitrate in bit/s: ``frame_rate * frame_bits`` (75 Hz x 8 x 10 bits = 6000)."""
        return self.frame_rate * self.frame_bits

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def header_bytes(self) -> int:
        return header_bytes(self.model_id, self.num_codebooks)

    @property
    def payload_bytes(self) -> int:
        return nominal_bytes(self.num_frames, self.codebook_sizes, self.channels)

    @property
    def file_bytes(self) -> int:
        """Size of the whole file: header + payload + payload CRC."""
        return self.header_bytes + self.payload_bytes + CRC_BYTES

    def to_bytes(self) -> bytes:
        model_id = self.model_id.encode("utf-8")
        fixed = _FIXED.pack(MAGIC, self.version, self.header_bytes, self.sample_rate, self.hop_length,
                            self.channels, self.num_codebooks, self.num_samples, self.num_frames, self.model_hash,
                            len(model_id))
        body = fixed + model_id + struct.pack(f"<{self.num_codebooks}I", *self.codebook_sizes)
        return body + _CRC.pack(zlib.crc32(body))


def _check_header(header: BitstreamHeader, path: Path) -> None:
    """Field ranges a version-1 file can hold; messages name the file and the field."""
    def need(ok: bool, field: str, expected: str, got) -> None:
        if not ok:
            raise BitstreamError(f"'{path}': {field} must be {expected}, got {got!r}")

    need(isinstance(header.model_id, str) and len(header.model_id.encode("utf-8")) < 1 << 16, "model_id",
         "a string of at most 65535 UTF-8 bytes", header.model_id)
    need(0 < header.sample_rate < 1 << 32, "sample_rate", "a positive integer (Hz)", header.sample_rate)
    need(0 < header.hop_length < 1 << 32, "hop_length", "a positive integer (samples per frame)",
         header.hop_length)
    need(0 < header.channels < 1 << 16, "channels", "in 1 .. 65535", header.channels)
    need(0 < header.num_codebooks < 1 << 16, "codebook_sizes", "a list of 1 .. 65535 codebook sizes",
         header.codebook_sizes)
    for k, size in enumerate(header.codebook_sizes):
        need(2 <= size < 1 << MAX_BITS, f"codebook_sizes[{k}]", f"in 2 .. 2**{MAX_BITS} - 1", size)
    need(0 <= header.num_samples <= header.num_frames * header.hop_length, "num_samples",
         f"at most frames x hop length = {header.num_frames} x {header.hop_length}", header.num_samples)


def _as_codes(codes, channels: int, num_codebooks: int, path: Path) -> np.ndarray:
    """Codes ``(K, T)`` or ``(C, K, T)``, tensor or array, -> an integer ndarray ``(C, K, T)``."""
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise BitstreamError(f"'{path}': codes must be integers, got dtype {codes.dtype}")
    shape = codes.shape
    if codes.ndim == 2:
        codes = codes[None]  # (K, T) -> (1, K, T)
    if codes.ndim != 3 or codes.shape[:2] != (channels, num_codebooks):
        raise BitstreamError(f"'{path}': expected codes of shape ({channels}, {num_codebooks}, frames)"
                             + (f" or ({num_codebooks}, frames)" if channels == 1 else "") + f", got {shape}")
    return codes


# ------------------------------------------------------------------------------------------------ writing
class BitstreamWriter:
    """Write an ``.akc`` file chunk by chunk, in memory bounded by the chunk size.

    ::

        with BitstreamWriter("out.akc", model_id="codec-rvq-24khz", model_hash=model_fingerprint(model),
                             sample_rate=24000, hop_length=320, codebook_sizes=[1024] * 8) as writer:
            for codes in chunks:          # (K, t) or (C, K, t) integer tensors
                writer.write(codes)
            writer.num_samples = length   # optional; defaults to frames x hop length

    Bytes go to a temporary file next to ``path``; leaving the block normally finalises the header
    (frame count, length, CRCs) and renames it onto ``path``, leaving it with an exception deletes it, so
    ``path`` holds either its previous content or a complete file.
    """

    def __init__(self, path: str | os.PathLike, *, model_id: str, model_hash: bytes | str, sample_rate: int,
                 hop_length: int, codebook_sizes: Sequence[int], channels: int = 1,
                 num_samples: int | None = None):
        self.path = Path(path)
        self.num_samples = num_samples
        self.num_frames = 0
        self._header = BitstreamHeader(model_id=model_id, model_hash=_as_hash(model_hash, self.path),
                                       sample_rate=int(sample_rate), hop_length=int(hop_length),
                                       channels=int(channels), codebook_sizes=tuple(int(s) for s in codebook_sizes),
                                       num_samples=0, num_frames=0)
        _check_header(self._header, self.path)
        self._sizes = np.array(self._header.codebook_sizes, dtype=np.int64)
        self._widths, self._offsets = _layout(self._header.codebook_sizes, self._header.channels)
        self._carry = np.zeros(0, dtype=np.uint8)  # bits (< 8) that do not fill a byte yet
        self._crc = 0
        self._stack = contextlib.ExitStack()
        self._file = None
        try:
            tmp = self._stack.enter_context(atomic_path(self.path))
            self._file = self._stack.enter_context(open(tmp, "wb"))
            self._file.write(self._header.to_bytes())  # placeholder, rewritten by close()
        except BaseException as e:
            self._file = None
            self._stack.__exit__(type(e), e, e.__traceback__)
            raise

    def __enter__(self) -> BitstreamWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, codes) -> None:
        """Append frames: codes ``(C, K, t)`` (or ``(K, t)`` for one channel), integers in their codebooks."""
        if self.closed:
            raise BitstreamError(f"'{self.path}': write() on a closed BitstreamWriter")
        codes = _as_codes(codes, self._header.channels, self._header.num_codebooks, self.path)
        if codes.shape[-1] == 0:
            return
        bad = (codes < 0) | (codes >= self._sizes[:, None])
        if bad.any():
            c, k, t = (int(i) for i in np.argwhere(bad)[0])
            size = int(self._sizes[k])
            raise BitstreamError(f"'{self.path}': codes of codebook {k} must be in [0, {size}) "
                                 f"({bits_per_code(size)} bits), got {int(codes[c, k, t])} "
                                 f"at channel {c}, frame {self.num_frames + t}")
        frames = codes.transpose(2, 0, 1).reshape(codes.shape[-1], -1)  # (C, K, t) -> (t, C*K)
        bits = np.concatenate([self._carry, _pack_bits(frames, self._widths, self._offsets)])
        whole = len(bits) // 8 * 8
        data = np.packbits(bits[:whole], bitorder="little").tobytes()
        self._carry = bits[whole:]
        self._file.write(data)
        self._crc = zlib.crc32(data, self._crc)
        self.num_frames += codes.shape[-1]

    def close(self) -> BitstreamHeader:
        """Finish the file: last partial byte, final header, payload CRC, then rename onto ``path``."""
        if self.closed:
            return self.header
        try:
            tail = np.packbits(self._carry, bitorder="little").tobytes()  # zero-padded last byte
            self._file.write(tail)
            self._crc = zlib.crc32(tail, self._crc)
            num_samples = self.num_frames * self._header.hop_length if self.num_samples is None else self.num_samples
            header = replace(self._header, num_frames=self.num_frames, num_samples=int(num_samples))
            _check_header(header, self.path)
            self._file.write(_CRC.pack(self._crc))
            self._file.seek(0)
            self._file.write(header.to_bytes())
            self._header = header
        except BaseException as e:
            self.abort(e)
            raise
        self._file = None
        self._stack.close()  # closes the file, renames it onto the final path
        return header

    def abort(self, exc: BaseException | None = None) -> None:
        """Give up: delete the temporary file; ``path`` keeps what it held before."""
        if self.closed:
            return
        self._file = None
        exc = exc or BitstreamError(f"'{self.path}': writing aborted")
        self._stack.__exit__(type(exc), exc, exc.__traceback__)

    @property
    def header(self) -> BitstreamHeader:
        """The header as written so far (final once closed)."""
        return self._header


def write_codes(path: str | os.PathLike, codes, *, model_id: str, model_hash: bytes | str, sample_rate: int,
                hop_length: int, codebook_sizes: Sequence[int], num_samples: int | None = None) -> BitstreamHeader:
    """Write codes ``(K, T)`` or ``(C, K, T)`` (tensor or array) to an ``.akc`` file atomically.

    ``codebook_sizes`` has one entry per codebook and sets each one's bit width; ``num_samples`` is the
    audio's length before padding to whole frames (default ``T * hop_length``). Returns the header.
    """
    path = Path(path)
    channels = 1 if np.ndim(codes) == 2 else int(np.shape(codes)[0])
    codes = _as_codes(codes, channels, len(codebook_sizes), path)
    with BitstreamWriter(path, model_id=model_id, model_hash=model_hash, sample_rate=sample_rate,
                         hop_length=hop_length, codebook_sizes=codebook_sizes, channels=channels,
                         num_samples=num_samples) as writer:
        for start in range(0, codes.shape[-1], CHUNK_FRAMES):
            writer.write(codes[..., start:start + CHUNK_FRAMES])
    return writer.header


# ------------------------------------------------------------------------------------------------ reading
class BitstreamReader:
    """Read an ``.akc`` file, all of it checked before any code is returned, in chunks of frames.

    ::

        with BitstreamReader("out.akc", "codec-rvq-24khz", model_fingerprint(model)) as reader:
            reader.header.sample_rate, reader.header.num_samples
            for codes in reader.chunks(1024):   # (C, K, <=1024) int64 tensors, frames in order
                ...

    Opening checks the magic, the version, the header CRC, the model (when ``expected_*`` are given),
    the file's size against the header, and (``verify=True``) the payload CRC, reading the file in
    64 KiB blocks; each failure raises :class:`BitstreamError` naming the file.
    """

    def __init__(self, path: str | os.PathLike, expected_model_id: str | None = None,
                 expected_hash: bytes | str | None = None, verify: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise BitstreamError(f"codec file not found: '{self.path}'")
        self._file = open(self.path, "rb")
        try:
            self.header = self._read_header()
            self._check_model(expected_model_id, expected_hash)
            self._check_size()
            if verify:
                self._check_payload_crc()
        except BaseException:
            self._file.close()
            raise
        self._widths, self._offsets = _layout(self.header.codebook_sizes, self.header.channels)
        self._sizes = np.tile(np.array(self.header.codebook_sizes, dtype=np.int64), self.header.channels)

    def __enter__(self) -> BitstreamReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _fail(self, message: str) -> BitstreamError:
        return BitstreamError(f"'{self.path}' {message}")

    def _read_header(self) -> BitstreamHeader:
        size = os.fstat(self._file.fileno()).st_size
        start = self._file.read(_FIXED.size)
        if not start:
            raise self._fail(f"is not an audiokit codec file: it is empty (expected magic {MAGIC!r})")
        if start[:len(MAGIC)] != MAGIC[:len(start)]:
            raise self._fail(f"is not an audiokit codec file (starts with {start[:len(MAGIC)]!r}, "
                             f"expected {MAGIC!r})")
        if len(start) >= len(MAGIC) + 2:
            version = struct.unpack_from("<H", start, len(MAGIC))[0]
            if version != VERSION:
                raise self._fail(f"has bitstream format version {version}; this audiokit reads version "
                                 f"{VERSION} (a newer audiokit may read it)")
        if len(start) < _FIXED.size:
            raise self._fail(f"is truncated inside its header: expected at least {_FIXED.size} bytes, "
                             f"found {size}")
        (_, version, length, sample_rate, hop_length, channels, num_codebooks, num_samples, num_frames,
         model_hash, id_length) = _FIXED.unpack(start)
        if length < _FIXED.size + CRC_BYTES:
            raise self._fail(f"is corrupted: header length {length} is shorter than the fixed header "
                             f"({_FIXED.size + CRC_BYTES} bytes)")
        if size < length:
            raise self._fail(f"is truncated inside its header: expected {length} header bytes, found {size}")
        data = start + self._file.read(length - _FIXED.size)
        stored, computed = _CRC.unpack_from(data, length - CRC_BYTES)[0], zlib.crc32(data[:-CRC_BYTES])
        if stored != computed:
            raise self._fail(f"is corrupted: header checksum mismatch (CRC32 stored {stored:#010x}, "
                             f"computed {computed:#010x})")
        # The header CRC matched: what follows only fails for files written by a faulty writer.
        if length != header_bytes("", num_codebooks) + id_length:
            raise self._fail(f"has an invalid header: length {length} does not fit a {id_length}-byte model id "
                             f"and {num_codebooks} codebooks")
        try:
            model_id = data[_FIXED.size:_FIXED.size + id_length].decode("utf-8")
        except UnicodeDecodeError as e:
            raise self._fail(f"has an invalid header: model id is not UTF-8 ({e})") from None
        sizes = struct.unpack_from(f"<{num_codebooks}I", data, _FIXED.size + id_length)
        header = BitstreamHeader(model_id=model_id, model_hash=model_hash, sample_rate=sample_rate,
                                 hop_length=hop_length, channels=channels, codebook_sizes=sizes,
                                 num_samples=num_samples, num_frames=num_frames, version=version)
        _check_header(header, self.path)
        return header

    def _check_model(self, expected_model_id: str | None, expected_hash: bytes | str | None) -> None:
        header = self.header
        expected = []
        if expected_model_id is not None and header.model_id != expected_model_id:
            expected.append(f"model {expected_model_id!r}")
        if expected_hash is not None and header.model_hash != _as_hash(expected_hash, self.path):
            expected.append(f"hash {_as_hash(expected_hash, self.path).hex()}")
        if expected:
            raise self._fail(f"was written by model {header.model_id!r} (hash {header.model_hash.hex()}), "
                             f"expected {' and '.join(expected)}: decode it with the model that encoded it")

    def _check_size(self) -> None:
        header = self.header
        size = os.fstat(self._file.fileno()).st_size
        if size != header.file_bytes:
            what = "is truncated" if size < header.file_bytes else "has extra bytes at the end"
            raise self._fail(f"{what}: expected {header.file_bytes} bytes ({header.header_bytes} header + "
                             f"{header.payload_bytes} payload for {header.num_frames} frames + {CRC_BYTES} "
                             f"checksum), found {size}")

    def _check_payload_crc(self) -> None:
        self._file.seek(self.header.header_bytes)
        crc, left = 0, self.header.payload_bytes
        while left:
            block = self._file.read(min(left, _READ_BLOCK))
            if not block:
                raise self._fail(f"is truncated: {left} payload bytes missing")
            crc, left = zlib.crc32(block, crc), left - len(block)
        stored = _CRC.unpack(self._file.read(CRC_BYTES))[0]
        if stored != crc:
            raise self._fail(f"is corrupted: payload checksum mismatch (CRC32 stored {stored:#010x}, "
                             f"computed {crc:#010x}); refusing to decode it")

    def read_frames(self, start: int = 0, count: int | None = None) -> torch.Tensor:
        """Codes of frames ``start .. start + count`` as an int64 tensor ``(C, K, count)``."""
        header = self.header
        count = header.num_frames - start if count is None else count
        if not (0 <= start and 0 <= count and start + count <= header.num_frames):
            raise BitstreamError(f"'{self.path}': frames {start} .. {start + count} outside the file's "
                                 f"0 .. {header.num_frames}")
        first_bit, end_bit = start * header.frame_bits, (start + count) * header.frame_bits
        #   bytes   |........|........|........|     read whole bytes first_bit // 8 .. ceil(end_bit / 8),
        #   frames       [t0 ..........t1)           then drop the first_bit % 8 bits of the first byte
        self._file.seek(header.header_bytes + first_bit // 8)
        data = self._file.read((end_bit + 7) // 8 - first_bit // 8)
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        skip = first_bit % 8
        frames = _unpack_bits(bits[skip:skip + count * header.frame_bits].reshape(count, header.frame_bits),
                              self._widths, self._offsets)
        bad = frames >= self._sizes
        if bad.any():  # only reachable without verify, or if a writer packed a code its codebook lacks
            t, slot = (int(i) for i in np.argwhere(bad)[0])
            raise self._fail(f"is corrupted: frame {start + t} holds code {int(frames[t, slot])} for codebook "
                             f"{slot % header.num_codebooks} of size {int(self._sizes[slot])}")
        frames = frames.reshape(count, header.channels, header.num_codebooks)  # (t, C*K) -> (t, C, K)
        return torch.from_numpy(np.ascontiguousarray(frames.transpose(1, 2, 0)))  # (t, C, K) -> (C, K, t)

    def chunks(self, frames: int = CHUNK_FRAMES) -> Iterator[torch.Tensor]:
        """Yield the codes in order, ``frames`` frames at a time: ``(C, K, <=frames)`` int64 tensors."""
        if frames < 1:
            raise BitstreamError(f"'{self.path}': chunk size must be at least 1 frame, got {frames}")
        for start in range(0, self.header.num_frames, frames):
            yield self.read_frames(start, min(frames, self.header.num_frames - start))


def read_codes(path: str | os.PathLike, expected_model_id: str | None = None,
               expected_hash: bytes | str | None = None) -> tuple[BitstreamHeader, torch.Tensor]:
    """Read a whole ``.akc`` file: its header and codes, an int64 tensor ``(C, K, T)``.

    The channel axis is always there: codes written as ``(K, T)`` come back as ``(1, K, T)``. Raises
    :class:`BitstreamError` for a file that is truncated, corrupted, not a codec file, or (when
    ``expected_model_id`` / ``expected_hash`` are given) written by another model.
    """
    with BitstreamReader(path, expected_model_id, expected_hash) as reader:
        header = reader.header
        codes = torch.empty((header.channels, header.num_codebooks, header.num_frames), dtype=torch.int64)
        for start in range(0, header.num_frames, CHUNK_FRAMES):
            chunk = reader.read_frames(start, min(CHUNK_FRAMES, header.num_frames - start))
            codes[..., start:start + chunk.shape[-1]] = chunk
    return header, codes
