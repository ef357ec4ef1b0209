"""The ``.akc`` codec bitstream: exact round trips at every bit width, the documented byte layout, a size equal
to the nominal bitrate plus a header, streaming equal to one-shot, and errors naming the file for every
truncation, every flipped byte, foreign files and wrong models; failed writes leave nothing behind."""
import contextlib
import hashlib
import math
import os
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import torch

from audiokit.codecs import (
    BitstreamError,
    BitstreamReader,
    BitstreamWriter,
    header_bytes,
    model_fingerprint,
    nominal_bytes,
    read_codes,
    write_codes,
)

MODEL_ID = "codec-rvq-24khz"
MODEL_HASH = bytes(range(16))
RATE, HOP = 24000, 320  # 75 frames per second


def random_codes(sizes, frames, channels=1, seed=0) -> np.ndarray:
    """``(C, K, T)`` int64 codes, uniform in each codebook, with 0 and the largest code in frames 0 and 1."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, size, (channels, frames)) for size in sizes], axis=1)
    if frames >= 2:
        codes[:, :, 0] = 0
        codes[:, :, 1] = np.array(sizes) - 1
    return codes


def write(path, codes, sizes, **overrides):
    args = dict(model_id=MODEL_ID, model_hash=MODEL_HASH, sample_rate=RATE, hop_length=HOP, codebook_sizes=sizes)
    return write_codes(path, codes, **{**args, **overrides})


def expected_size(sizes, frames, channels=1, model_id=MODEL_ID) -> int:
    """Header (60 fixed bytes + model id + 4 per codebook) + ceil(bits / 8) + 4 CRC bytes, computed by hand."""
    bits = frames * channels * sum(math.ceil(math.log2(size)) for size in sizes)
    return 60 + len(model_id.encode()) + 4 * len(sizes) + math.ceil(bits / 8) + 4


@contextlib.contextmanager
def raises_naming(path, match: str = ""):
    """A BitstreamError whose message names ``path`` and contains ``match`` (plain text, not a regex)."""
    with pytest.raises(BitstreamError) as info:
        yield info
    message = str(info.value)
    assert str(path) in message and match in message, message


def leftovers(directory) -> list[str]:
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------------------------------------------
# Round trips and size
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes, bits", [
    ([2], [1]), ([128], [7]), ([1024] * 8, [10] * 8), ([2048, 2048], [11, 11]), ([65536], [16]),
    ([2, 1000, 3, 2048, 65536, 2**32 - 1], [1, 10, 2, 11, 16, 32]),
])
@pytest.mark.parametrize("channels", [1, 3])
def test_round_trip_is_exact_at_each_bit_width(tmp_path, sizes, bits, channels):
    codes = random_codes(sizes, frames=301, channels=channels)
    path = tmp_path / "a.akc"
    written = write(path, torch.from_numpy(codes) if channels == 1 else codes, sizes, num_samples=301 * HOP - 17)
    header, decoded = read_codes(path, expected_model_id=MODEL_ID, expected_hash=MODEL_HASH)

    assert decoded.dtype == torch.int64 and decoded.shape == (channels, len(sizes), 301)
    assert np.array_equal(decoded.numpy(), codes)
    assert header == written
    assert header.bits_per_code == tuple(bits)
    assert (header.model_id, header.model_hash, header.sample_rate, header.hop_length, header.channels,
            header.codebook_sizes, header.num_frames, header.num_samples) == (
            MODEL_ID, MODEL_HASH, RATE, HOP, channels, tuple(sizes), 301, 301 * HOP - 17)
    assert os.path.getsize(path) == expected_size(sizes, 301, channels) == header.file_bytes


def test_mono_codes_come_back_with_a_channel_axis(tmp_path):
    codes = random_codes([1024] * 4, 50)[0]  # (K, T)
    write(tmp_path / "a.akc", codes, [1024] * 4)
    _, decoded = read_codes(tmp_path / "a.akc")
    assert decoded.shape == (1, 4, 50) and np.array_equal(decoded[0].numpy(), codes)


def test_zero_frames_round_trip(tmp_path):
    header = write(tmp_path / "a.akc", np.zeros((2, 0), np.int64), [1024, 1024], num_samples=0)
    again, decoded = read_codes(tmp_path / "a.akc")
    assert again == header and decoded.shape == (1, 2, 0)
    assert os.path.getsize(tmp_path / "a.akc") == header_bytes(MODEL_ID, 2) + 4 == expected_size([1024] * 2, 0)


def test_six_kbps_minute_is_45000_bytes_plus_header(tmp_path):
    """75 Hz x 8 codebooks x 10 bits = 6000 bit/s: a minute is 45,000 payload bytes, plus header and CRC."""
    sizes, frames = [1024] * 8, 60 * 75
    header = write(tmp_path / "a.akc", random_codes(sizes, frames), sizes)
    assert header.frame_rate == 75.0 and header.bitrate == 6000.0 and header.num_samples == 60 * RATE
    assert nominal_bytes(frames, sizes) == header.payload_bytes == 45_000
    assert header.header_bytes == 60 + len(MODEL_ID) + 4 * 8 == 107
    assert os.path.getsize(tmp_path / "a.akc") == 45_000 + 107 + 4


def test_bytes_follow_the_documented_layout(tmp_path):
    """Header fields at the offsets of the module docstring; codes 5, 6 (3 bits) and 3 (2 bits) pack to 0xF5."""
    path = tmp_path / "a.akc"
    write(path, np.array([[5], [6], [3]]), [8, 8, 4], num_samples=100)
    data = path.read_bytes()
    model_id = MODEL_ID.encode()
    length = 60 + len(model_id) + 12
    assert data[0:4] == b"AKCB"
    assert struct.unpack_from("<HIIIHHQQ", data, 4) == (1, length, RATE, HOP, 1, 3, 100, 1)
    assert data[38:54] == MODEL_HASH
    assert struct.unpack_from("<H", data, 54)[0] == len(model_id) and data[56:56 + len(model_id)] == model_id
    assert struct.unpack_from("<3I", data, 56 + len(model_id)) == (8, 8, 4)
    assert struct.unpack_from("<I", data, length - 4)[0] == zlib.crc32(data[:length - 4])
    assert data[length:] == bytes([0xF5]) + struct.pack("<I", zlib.crc32(bytes([0xF5])))


def test_ten_minutes_pack_and_unpack_well_under_a_second(tmp_path):
    sizes, frames = [1024] * 8, 10 * 60 * 75
    codes = random_codes(sizes, frames)
    start = time.perf_counter()
    write(tmp_path / "a.akc", codes, sizes)
    write_seconds = time.perf_counter() - start
    start = time.perf_counter()
    _, decoded = read_codes(tmp_path / "a.akc")
    read_seconds = time.perf_counter() - start
    assert np.array_equal(decoded.numpy(), codes)
    assert write_seconds < 0.5 and read_seconds < 0.5, (write_seconds, read_seconds)


# ---------------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------------


def test_streaming_writer_and_reader_equal_the_one_shot_functions(tmp_path):
    sizes, channels, frames = [3, 2048, 128, 2], 2, 1000  # 2 x 21 bits a frame: chunks end mid-byte
    codes = random_codes(sizes, frames, channels, seed=1)
    write(tmp_path / "one.akc", codes, sizes, num_samples=frames * HOP - 5)

    rng = np.random.default_rng(2)
    cuts = np.sort(np.concatenate([[0, 0, 1, 2, 3, 500, 500], rng.integers(0, frames, 40), [frames]]))
    with BitstreamWriter(tmp_path / "stream.akc", model_id=MODEL_ID, model_hash=MODEL_HASH.hex(), sample_rate=RATE,
                         hop_length=HOP, codebook_sizes=sizes, channels=channels) as writer:
        for start, stop in zip(cuts[:-1], cuts[1:]):
            writer.write(torch.from_numpy(codes[..., start:stop]))  # some chunks have 0 frames
            assert writer.num_frames == stop
        writer.num_samples = frames * HOP - 5
    assert (tmp_path / "stream.akc").read_bytes() == (tmp_path / "one.akc").read_bytes()

    for chunk_frames in (1, 7, 333, 5000):
        with BitstreamReader(tmp_path / "stream.akc", MODEL_ID, MODEL_HASH) as reader:
            chunks = list(reader.chunks(chunk_frames))
        assert [c.shape[-1] for c in chunks] == [min(chunk_frames, frames - s) for s in range(0, frames, chunk_frames)]
        assert np.array_equal(torch.cat(chunks, dim=-1).numpy(), codes)
    with BitstreamReader(tmp_path / "stream.akc") as reader:
        for start, count in [(0, 1), (1, 1), (13, 100), (999, 1), (400, 0)]:
            assert np.array_equal(reader.read_frames(start, count).numpy(), codes[..., start:start + count])


def test_streaming_runs_in_bounded_memory(tmp_path):
    """Writing and reading an hour chunk by chunk peaks below twice the memory of a minute and below 1 MB, while
    the hour's payload is 2.7 MB (tracemalloc sees numpy's buffers)."""
    sizes, chunk = [1024] * 8, 750

    def peak_bytes(minutes: int) -> int:
        path = tmp_path / f"{minutes}.akc"
        rng = np.random.default_rng(0)
        tracemalloc.start()
        with BitstreamWriter(path, model_id=MODEL_ID, model_hash=MODEL_HASH, sample_rate=RATE, hop_length=HOP,
                             codebook_sizes=sizes) as writer:
            for _ in range(minutes * 60 * 75 // chunk):
                writer.write(rng.integers(0, 1024, (8, chunk)))
        with BitstreamReader(path) as reader:
            total = sum(int(c.sum()) for c in reader.chunks(chunk))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert total > 0 and os.path.getsize(path) == 45_000 * minutes + 111
        return peak

    peak_bytes(1)  # warm-up: first calls allocate numpy's and the RNG's caches
    one, sixty = peak_bytes(1), peak_bytes(60)
    assert sixty < 2 * one and sixty < 1_000_000, (one, sixty)


# ---------------------------------------------------------------------------------------------------
# Errors: foreign, truncated, corrupted, wrong model, bad codes
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def small_file(tmp_path):
    """A 2-channel, 3-codebook, 20-frame file: 87 header bytes, payload 20 x 2 x (10 + 11 + 2) bits = 115 bytes."""
    path = tmp_path / "small.akc"
    write(path, random_codes([1000, 2048, 3], 20, channels=2), [1000, 2048, 3])
    return path


def test_foreign_and_empty_files_are_not_codec_files(tmp_path):
    wav = tmp_path / "in.wav"
    wav.write_bytes(b"RIFF" + bytes(100))
    with raises_naming(wav, "is not an audiokit codec file (starts with b'RIFF', expected b'AKCB')"):
        read_codes(wav)
    empty = tmp_path / "empty.akc"
    empty.write_bytes(b"")
    with raises_naming(empty, "it is empty"):
        read_codes(empty)
    with raises_naming(tmp_path / "missing.akc", "not found"):
        read_codes(tmp_path / "missing.akc")


def test_future_version_is_refused(small_file):
    data = bytearray(small_file.read_bytes())
    data[4:6] = struct.pack("<H", 2)
    length = struct.unpack_from("<I", data, 6)[0]
    data[length - 4:length] = struct.pack("<I", zlib.crc32(data[:length - 4]))  # a valid version-2 header
    small_file.write_bytes(bytes(data))
    with raises_naming(small_file, "format version 2; this audiokit reads version 1"):
        read_codes(small_file)


def test_impossible_header_fields_with_a_valid_checksum_are_refused(small_file):
    data = bytearray(small_file.read_bytes())
    data[14:18] = struct.pack("<I", 0)  # hop length 0, as a faulty writer might store it
    data[83:87] = struct.pack("<I", zlib.crc32(data[:83]))
    small_file.write_bytes(bytes(data))
    with raises_naming(small_file, "hop_length must be a positive integer (samples per frame), got 0"):
        read_codes(small_file)


def test_every_truncation_is_an_error(small_file):
    data = small_file.read_bytes()
    assert len(data) == expected_size([1000, 2048, 3], 20, channels=2) == 87 + 115 + 4
    for cut in range(len(data)):
        small_file.write_bytes(data[:cut])
        with raises_naming(small_file, "truncated" if cut else "it is empty"):
            read_codes(small_file)
    small_file.write_bytes(data[:-50])
    with raises_naming(small_file, f"is truncated: expected {len(data)} bytes (87 header + 115 payload for 20 frames "
                                   f"+ 4 checksum), found {len(data) - 50}"):
        read_codes(small_file)
    small_file.write_bytes(data[:40])
    with raises_naming(small_file, "is truncated inside its header: expected at least 56 bytes, found 40"):
        read_codes(small_file)
    small_file.write_bytes(data + b"\0")
    with raises_naming(small_file, f"has extra bytes at the end: expected {len(data)} bytes"):
        read_codes(small_file)


def test_every_flipped_byte_is_an_error(small_file):
    """One changed byte anywhere (header, payload, checksum) raises before any code is returned."""
    data = small_file.read_bytes()
    for position in range(len(data)):
        for mask in (0x01, 0xFF):
            corrupted = bytearray(data)
            corrupted[position] ^= mask
            small_file.write_bytes(bytes(corrupted))
            with raises_naming(small_file):
                with BitstreamReader(small_file) as reader:
                    next(reader.chunks())

    def flip(position: int) -> bytes:
        return data[:position] + bytes([data[position] ^ 1]) + data[position + 1:]

    small_file.write_bytes(flip(10))  # the sample rate
    with raises_naming(small_file, "is corrupted: header checksum mismatch"):
        read_codes(small_file)
    small_file.write_bytes(flip(87 + 50))  # a payload byte
    with raises_naming(small_file, "is corrupted: payload checksum mismatch"):
        read_codes(small_file)


def test_unverified_reader_still_refuses_codes_outside_the_codebook(tmp_path):
    path = tmp_path / "a.akc"
    write(path, np.array([[999]]), [1000])  # 10 bits: 999 = 0b1111100111
    data = bytearray(path.read_bytes())
    data[header_bytes(MODEL_ID, 1)] |= 0b00011000  # bits 3, 4: 1023, not in a 1000-code book (the CRC would say so)
    path.write_bytes(bytes(data))
    with BitstreamReader(path, verify=False) as reader:
        with raises_naming(path, "frame 0 holds code 1023 for codebook 0 of size 1000"):
            reader.read_frames()


def test_wrong_model_is_refused(small_file):
    other = model_fingerprint({"w": torch.ones(3)})
    with raises_naming(small_file, f"written by model '{MODEL_ID}' (hash {MODEL_HASH.hex()}), expected model 'x'"):
        read_codes(small_file, expected_model_id="x")
    with raises_naming(small_file, f"expected hash {other.hex()}: decode it with the model that encoded it"):
        read_codes(small_file, expected_hash=other)
    with raises_naming(small_file, f"expected model 'x' and hash {other.hex()}"):
        read_codes(small_file, expected_model_id="x", expected_hash=other.hex())
    header, _ = read_codes(small_file, expected_model_id=MODEL_ID, expected_hash=MODEL_HASH.hex())
    assert header.model_hash == MODEL_HASH


@pytest.mark.parametrize("codes, match", [
    (np.array([[1, 2], [3, 1000]]), "codes of codebook 1 must be in [0, 1000) (10 bits), got 1000 at channel 0, "
                                    "frame 1"),
    (np.array([[1, -1], [3, 4]]), "codes of codebook 0 must be in [0, 2048) (11 bits), got -1 at channel 0, frame 1"),
    (np.zeros((2, 5), np.float32), "codes must be integers, got dtype float32"),
    (np.zeros((3, 5), np.int64), "expected codes of shape (1, 2, frames) or (2, frames), got (3, 5)"),
])
def test_bad_codes_are_refused_on_write(tmp_path, codes, match):
    path = tmp_path / "a.akc"
    with raises_naming(path, match):
        write(path, codes, [2048, 1000])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("field, value, match", [
    ("hop_length", 0, "hop_length must be a positive integer (samples per frame), got 0"),
    ("sample_rate", -1, "sample_rate must be a positive integer (Hz), got -1"),
    ("codebook_sizes", [1024, 1], "codebook_sizes[1] must be in 2 .. 2**32 - 1, got 1"),
    ("num_samples", 10 * HOP + 1, f"num_samples must be at most frames x hop length = 10 x {HOP}, got 3201"),
    ("model_hash", b"short", "model_hash must be 16 bytes (see model_fingerprint), got 5"),
])
def test_bad_header_fields_are_refused_on_write(tmp_path, field, value, match):
    path = tmp_path / "a.akc"
    with raises_naming(path, match):
        write(path, np.zeros((2, 10), np.int64), [1024, 1024], **{field: value})
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------


def stream(path, chunks, fail_after=None):
    with BitstreamWriter(path, model_id=MODEL_ID, model_hash=MODEL_HASH, sample_rate=RATE, hop_length=HOP,
                         codebook_sizes=[1024] * 2) as writer:
        for i, chunk in enumerate(chunks):
            if i == fail_after:
                raise RuntimeError("encoder crashed")
            writer.write(chunk)


def test_failed_write_leaves_no_file_and_keeps_an_existing_one(tmp_path):
    chunks = [random_codes([1024] * 2, 100, seed=s)[0] for s in range(4)]
    path = tmp_path / "out.akc"
    with pytest.raises(RuntimeError, match="encoder crashed"):
        stream(path, chunks, fail_after=2)
    assert leftovers(tmp_path) == []

    stream(path, chunks[:1])
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="encoder crashed"):
        stream(path, chunks, fail_after=3)
    bad = chunks[:2] + [np.full((2, 10), 1024)]
    with raises_naming(path, "got 1024 at channel 0, frame 200"):  # frame counted from the file's start
        stream(path, bad)
    writer = BitstreamWriter(path, model_id=MODEL_ID, model_hash=MODEL_HASH, sample_rate=RATE, hop_length=HOP,
                             codebook_sizes=[1024] * 2)
    writer.write(chunks[1])
    writer.abort()
    assert leftovers(tmp_path) == ["out.akc"] and path.read_bytes() == before
    _, decoded = read_codes(path)
    assert np.array_equal(decoded[0].numpy(), chunks[0])


# ---------------------------------------------------------------------------------------------------
# Model fingerprint
# ---------------------------------------------------------------------------------------------------


def test_model_fingerprint_hashes_names_dtypes_shapes_and_values():
    weights = {"b": torch.zeros(2, dtype=torch.float64), "a": torch.tensor([1.0, 2.0])}
    by_hand = hashlib.sha256(b"a\0torch.float32:(2,)\0" + struct.pack("<2f", 1.0, 2.0)
                             + b"b\0torch.float64:(2,)\0" + bytes(16)).digest()[:16]
    assert model_fingerprint(weights) == by_hand
    assert model_fingerprint(dict(reversed(weights.items()))) == by_hand

    model = torch.nn.Linear(3, 2)
    before = model_fingerprint(model)
    assert before == model_fingerprint({k: v.clone() for k, v in model.state_dict().items()})
    with torch.no_grad():
        model.bias[0] = torch.nextafter(model.bias[0], torch.tensor(1.0))  # one ulp
    assert model_fingerprint(model) != before
    assert model_fingerprint({"a": torch.ones(2, 1)}) != model_fingerprint({"a": torch.ones(1, 2)})
    assert model_fingerprint({"a": torch.ones(2, dtype=torch.bfloat16)}) != model_fingerprint({"a": torch.ones(2)})
