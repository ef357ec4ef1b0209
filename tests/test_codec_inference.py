"""The codec inference layer on tiny random-weight codecs loaded through ``audiokit.load``: streaming and chunked
coding equal one pass, ``.akc`` files round-trip at every bitrate with the nominal size, errors are clear and leave
no output behind, the ``audiokit codec`` CLI, and ``evaluate_codec`` / ``audiokit eval`` on a data dir."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import audiokit
from audiokit.audio.io import AudioError, save
from audiokit.audio.resample import resample, resampled_length
from audiokit.cli import main
from audiokit.codecs import BitstreamError, model_fingerprint, read_codes, write_codes
from audiokit.codecs.inference import Codec, CodecError, EncodedAudio
from audiokit.data.kaldi import write_table
from audiokit.evaluate import evaluate_codec
from audiokit.metrics import codebook_utilisation, mel_distance
from audiokit.train.checkpoint import build_model, save_model

RATE = 8000  # the RVQ codecs: ratios (4, 2), hop 8 -> 1000 frames/s; 4 codebooks of 64 (6 bits): 6 kbit/s each
HOP = 8
NETWORK = dict(dimension=16, n_filters=4, ratios=[4, 2], num_quantizers=4, codebook_size=64, quantizer_dropout=0.0,
               threshold_dead_code=0.0)
MODELS = {
    # name: (target, args, metadata); "context_frames" (beyond the receptive field of the lstm-free SEANet, a
    # few frames) lets chunks of a few frames run with context and still be exact; the default would be 1 s
    "causal": ("audiokit.models.codec.rvq_codec", dict(sample_rate=RATE, lstm_layers=1, causal=True, **NETWORK), {}),
    "other": ("audiokit.models.codec.rvq_codec", dict(sample_rate=RATE, lstm_layers=1, causal=True, **NETWORK), {}),
    "noncausal": ("audiokit.models.codec.rvq_codec", dict(sample_rate=RATE, lstm_layers=0, causal=False, **NETWORK),
                  {"context_frames": 16}),
    "hifi": ("audiokit.models.codec.hificodec", dict(sample_rate=RATE, dimension=16, n_filters=4, ratios=[4, 2],
                                                     groups=2, num_quantizers_per_group=2, codebook_size=64),
             {"context_frames": 16}),
    "esc": ("audiokit.models.codec.esc_tiny", {}, {}),  # 16 kHz, hop 320 (50 frames/s), default context 50 frames
}


def _init(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights, codebooks initialised by one training-mode pass (k-means where the model does it)."""
    with torch.no_grad():
        model.train()(0.1 * torch.randn(2, 1, model.sample_rate // 4, generator=torch.Generator().manual_seed(seed)))
    return model.eval()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("codecs")
    paths = {}
    for seed, (name, (target, args, metadata)) in enumerate(MODELS.items()):
        torch.manual_seed(seed)
        model = _init(build_model(target, args), seed)
        paths[name] = save_model(root / f"{name}.pt", model, target, args, family="codec",
                                 sample_rate=model.sample_rate, metadata=metadata)
    return paths


@pytest.fixture(scope="module")
def codecs(checkpoints) -> dict[str, Codec]:
    return {name: audiokit.load(path) for name, path in checkpoints.items()}


def noise(samples: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(channels, samples, generator=g)


def leftovers(folder: Path) -> list[str]:
    """Temporary files atomic writes leave behind on failure (``.NAME.*.tmp*``)."""
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def expected_file_bytes(model_id: str, num_codebooks: int, frames: int, streams: int, bits: int) -> int:
    """60 fixed header bytes + model id + 4 per codebook, ceil(payload bits / 8), 4 CRC bytes."""
    return 60 + len(model_id.encode("utf-8")) + 4 * num_codebooks + math.ceil(frames * streams * num_codebooks
                                                                             * bits / 8) + 4


# ------------------------------------------------------------------------------------------------ load
def test_load_makes_a_codec_with_the_models_properties(codecs, checkpoints, tmp_path):
    codec = codecs["causal"]
    assert isinstance(codec, Codec) and codec.causal and not codecs["noncausal"].causal
    assert (codec.sample_rate, codec.hop_length, codec.frame_rate, codec.channels) == (RATE, HOP, 1000.0, 1)
    assert (codec.num_codebooks, codec.codebook_size) == (4, 64)
    assert codec.bitrates == [6.0, 12.0, 18.0, 24.0]  # 1000 frames/s x 6 bits per codebook
    assert codecs["hifi"].bitrates == [12.0, 24.0]  # 2 groups: codebooks come in pairs
    assert codecs["esc"].bitrates == [1.5, 3.0, 4.5, 6.0, 7.5, 9.0] and codecs["esc"].frame_rate == 50.0
    assert [codec.num_codebooks_for(b) for b in (None, 6, 12, 13.5, 18, 24)] == [4, 1, 2, 2, 3, 4]
    assert codec.context_frames == 1000 and codecs["noncausal"].context_frames == 16  # 1 s, or the metadata's
    # the model id is the checkpoint's stem, or its folder's name for model.pt / best.pt; the hash fingerprints
    # the stored weights, so two loads agree and another model differs
    assert codec.model_id == "causal"
    state = torch.load(checkpoints["causal"], weights_only=True)["state_dict"]
    assert codec.model_hash == model_fingerprint(state) == audiokit.load(checkpoints["causal"]).model_hash
    assert codec.model_hash != codecs["other"].model_hash
    (tmp_path / "codec-tiny").mkdir()
    shutil.copy(checkpoints["causal"], tmp_path / "codec-tiny" / "best.pt")
    assert audiokit.load(tmp_path / "codec-tiny").model_id == "codec-tiny"
    assert "causal" in repr(codec) and "bitrates [6.0, 12.0, 18.0, 24.0]" in repr(codec)


# ------------------------------------------------------------------------------------------------ streaming
def test_streaming_encoder_and_decoder_in_irregular_blocks_equal_offline(codecs):
    codec = codecs["causal"]
    x = noise(2403, channels=2, seed=1)  # not a whole number of frames; stereo: 2 code streams
    offline = codec.encode(x, RATE)
    assert offline.codes.shape == (2, 4, math.ceil(2403 / HOP))
    assert len(offline.codes.unique()) > 16  # codes that carry information, not one constant code
    encoder = codec.streaming_encoder(channels=2)
    assert encoder.latency == HOP - 1
    blocks, pushed, sizes = [], 0, [137, 1000, 3, 0, 5, 1, 250]
    while pushed < x.shape[-1]:
        n = sizes[len(blocks) % len(sizes)]
        blocks.append(encoder.push(x[:, pushed:pushed + n]))
        pushed = min(pushed + n, x.shape[-1])
        assert sum(b.shape[-1] for b in blocks) == pushed // HOP  # every completed frame, as soon as complete
    blocks.append(encoder.flush())
    assert torch.equal(torch.cat(blocks, -1), offline.codes)

    decoder, audio, done = codec.streaming_decoder(), [], 0
    frames = offline.codes.shape[-1]
    for n in [1, 7, 0, 50, 3, 100, 1000]:
        y = decoder.push(offline.codes[..., done:done + n])
        assert y.shape == (2, min(n, frames - done) * HOP)
        audio.append(y)
        done = min(done + n, frames)
    streamed = torch.cat(audio, -1)
    assert (streamed - codec.decode(offline.codes)).abs().max() < 1e-5  # bare codes: all F * hop samples
    assert (streamed[:, :2403] - codec.decode(offline)).abs().max() < 1e-5
    assert streamed.abs().max() > 1e-3  # not trivially silent
    # a live pipeline: each block's codes (none yet for the short ones) straight into the decoder
    encoder, decoder, live, pushed = codec.streaming_encoder(channels=2), codec.streaming_decoder(), [], 0
    while pushed < x.shape[-1]:
        n = sizes[len(live) % len(sizes)]
        live.append(decoder.push(encoder.push(x[:, pushed:pushed + n])))
        pushed += n
    live.append(decoder.push(encoder.flush()))
    assert (torch.cat(live, -1) - streamed).abs().max() < 1e-5


def test_streaming_at_a_lower_bitrate_and_refusals(codecs):
    codec = codecs["causal"]
    x = noise(400, seed=2)
    encoder = codec.streaming_encoder(bitrate=12)
    codes = torch.cat([encoder.push(x[:, :123]), encoder.push(x[:, 123:]), encoder.flush()], -1)
    assert torch.equal(codes, codec.encode(x, RATE, bitrate=12).codes) and codes.shape[1] == 2
    with pytest.raises(CodecError, match=r"expected a block of shape \(1, samples\), got \(2, 10\)"):
        encoder.push(torch.zeros(2, 10))
    with pytest.raises(CodecError, match="'noncausal' is not causal: it cannot stream"):
        codecs["noncausal"].streaming_encoder()
    with pytest.raises(CodecError, match="is not causal"):
        codecs["esc"].streaming_decoder()
    with pytest.raises(CodecError, match=r"codes must lie in 0\.\.63, found 0\.\.64"):
        codec.streaming_decoder().push(torch.tensor([[[0, 64]]]))


# ------------------------------------------------------------------------------------------------ chunked
def test_chunked_causal_coding_is_exactly_one_pass(codecs):
    codec = codecs["causal"]
    x = noise(1601, seed=3)
    with torch.no_grad():
        one_pass = codec.model.encode(x[None], n_quantizers=3)[0]  # (1, 1, T) -> (K, F)
        audio = codec.model.decode(one_pass[None])[0, :, :1601]
    enc = codec.encode(x, RATE, bitrate=18, chunk_seconds=0.013)  # 13-frame chunks through encode_step
    assert torch.equal(enc.codes[0], one_pass)
    assert (codec.decode(enc, chunk_seconds=0.007) - audio).abs().max() < 1e-5


@pytest.mark.parametrize("name", ["noncausal", "hifi"])
def test_chunked_non_causal_coding_with_context_equals_one_pass(codecs, checkpoints, name):
    codec = codecs[name]
    x = noise(2001, seed=4)
    with torch.no_grad():
        one_pass = codec.model.encode(x[None])[0]
        audio = codec.model.decode(one_pass[None])[0, :, :2001]
    # 11-frame chunks with 16 frames of context each side, beyond the lstm-free SEANet's field (6 suffice here)
    enc = codec.encode(x, RATE, chunk_seconds=0.011)
    assert torch.equal(enc.codes[0], one_pass)
    assert (codec.decode(enc, chunk_seconds=0.011) - audio).abs().max() < 1e-5
    # the context is what makes it exact: without any, the chunk edges code differently
    bare = audiokit.load(checkpoints[name])
    bare.metadata["context_frames"] = 0
    assert bare.context_frames == 0
    assert not torch.equal(bare.encode(x, RATE, chunk_seconds=0.011).codes[0], one_pass)
    assert (bare.decode(one_pass[None], chunk_seconds=0.011)[:, :2001] - audio).abs().max() > 1e-4


def test_chunked_esc_equals_one_pass_for_any_chunk_length(codecs):
    # ESC's Swin windows (4 time patches, 2 patches per frame) partition time from the first patch of what the
    # model sees: a chunk whose context starts at an odd frame sees other windows. With the default context
    # (1 s = 50 frames), chunks of 25 frames (odd) start their context at odd frames.
    codec = codecs["esc"]
    assert (codec.frame_alignment, codec.context_frames, codecs["noncausal"].frame_alignment) == (2, 50, 1)
    x = noise(33600, seed=5)
    with torch.no_grad():
        one_pass = codec.model.encode(x[None])[0]
        audio = codec.model.decode(one_pass[None])[0, :, :x.shape[-1]]
    for seconds in (0.5, 0.4):
        enc = codec.encode(x, 16000, chunk_seconds=seconds)
        assert torch.equal(enc.codes[0], one_pass), f"chunks of {seconds} s"
        assert (codec.decode(enc, chunk_seconds=seconds) - audio).abs().max() < 1e-5, f"chunks of {seconds} s"


# ------------------------------------------------------------------------------------------------ in memory
def test_encode_resamples_and_decode_returns_the_input_rate_and_length(codecs):
    codec = codecs["causal"]
    x = noise(1599, seed=6)
    enc = codec.encode(x, 16000)
    assert isinstance(enc, EncodedAudio)
    low = resample(x, 16000, RATE)
    assert (enc.sample_rate, enc.input_sample_rate, enc.input_num_samples) == (RATE, 16000, 1599)
    assert enc.num_samples == low.shape[-1] == resampled_length(1599, 16000, RATE) == 800
    assert torch.equal(enc.codes, codec.encode(low, RATE).codes)
    assert (enc.model_id, enc.model_hash, enc.hop_length, enc.codebook_size) == ("causal", codec.model_hash, HOP, 64)
    assert enc.bitrate == 24.0 and codec.encode(x, 16000, bitrate=6).bitrate == 6.0
    y = codec.decode(enc)
    assert y.shape == (1, 1599)
    expected = resample(codec.decode(codec.encode(low, RATE)), RATE, 16000)[:, :1599]
    assert (y - expected).abs().max() < 1e-5
    # a stereo input to a mono codec: one stream per channel, twice the bitrate
    stereo = codec.encode(torch.cat([x, 0.5 * x]), 16000, bitrate=12)
    assert stereo.codes.shape[:2] == (2, 2) and stereo.bitrate == 24.0
    assert torch.equal(stereo.codes[:1], codec.encode(x, 16000, bitrate=12).codes)


def test_in_memory_errors(codecs):
    codec = codecs["causal"]
    x = noise(400, seed=7)
    for bitrate in (5, 30, "6"):
        with pytest.raises(CodecError, match=r"bitrate: .*\(supported: \[6\.0, 12\.0, 18\.0, 24\.0\] kbit/s\)"):
            codec.encode(x, RATE, bitrate=bitrate)
    with pytest.raises(CodecError, match="chunk_seconds must be > 0, got 0"):
        codec.encode(x, RATE, chunk_seconds=0)
    with pytest.raises(AudioError, match="zero-length audio"):
        codec.encode(torch.zeros(1, 0), RATE)
    foreign = codecs["other"].encode(x, RATE)
    with pytest.raises(CodecError, match=f"made by model 'other' \\(hash {foreign.model_hash.hex()}\\), not by this "
                                         "one \\('causal'"):
        codec.decode(foreign)
    with pytest.raises(CodecError, match="5 codebooks; this codec has 4"):
        codec.decode(torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(CodecError, match="expected integer codes of shape"):
        codec.decode(torch.zeros(1, 4, 3))


# ------------------------------------------------------------------------------------------------ files
@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """0.2005 s at 8 kHz (1604 samples: 201 frames, the last one partial), mono."""
    x = noise(1604, seed=8)
    return save(tmp_path_factory.mktemp("wav") / "speech.wav", x, RATE), x


def test_file_round_trip_at_every_bitrate_with_the_nominal_size(codecs, speech_wav, tmp_path):
    codec = codecs["causal"]
    src, x = speech_wav
    frames, sizes = math.ceil(1604 / HOP), []
    for k, kbps in enumerate(codec.bitrates, start=1):
        akc, wav = tmp_path / f"{kbps:g}.akc", tmp_path / f"{kbps:g}.wav"
        header = codec.encode_file(src, akc, bitrate=kbps, chunk_seconds=0.05)
        assert header.num_codebooks == k and header.codebook_sizes == (64,) * k
        assert (header.channels, header.num_frames, header.num_samples) == (1, frames, 1604)
        assert (header.sample_rate, header.hop_length, header.model_id, header.model_hash) == (
            RATE, HOP, "causal", codec.model_hash)
        size = akc.stat().st_size
        # nominal bitrate x the frames' duration / 8, rounded up to whole bytes, plus header and payload CRC
        assert header.bitrate == kbps * 1000
        payload = math.ceil(header.bitrate * (header.num_frames * header.hop_length / header.sample_rate) / 8)
        assert size == 60 + len(b"causal") + 4 * k + payload + 4 == header.file_bytes
        assert size == expected_file_bytes("causal", k, frames, 1, 6)
        sizes.append(size)
        # the file holds the in-memory codes; decoding it gives the in-memory decoding
        enc = codec.encode(x, RATE, bitrate=kbps)
        assert torch.equal(read_codes(akc, expected_hash=codec.model_hash)[1], enc.codes)
        assert codec.decode_file(akc, wav, chunk_seconds=0.02) == wav
        meta = sf.info(str(wav))
        assert (meta.samplerate, meta.frames, meta.channels, meta.subtype) == (RATE, 1604, 1, "FLOAT")
        decoded = torch.from_numpy(sf.read(str(wav), dtype="float32", always_2d=True)[0].T)
        assert (decoded - codec.decode(enc)).abs().max() < 1e-5
    assert sizes == sorted(set(sizes))  # strictly growing with the bitrate
    assert leftovers(tmp_path) == []


def test_file_round_trip_non_causal_stereo_and_resampled(codecs, tmp_path):
    codec = codecs["hifi"]
    x = noise(1601, channels=2, seed=9)
    src = save(tmp_path / "in16k.wav", x, 16000)  # another rate: loaded whole and resampled to the model's
    header = codec.encode_file(src, tmp_path / "out.akc", bitrate=12)
    low = resample(x, 16000, RATE)
    assert (header.channels, header.num_codebooks, header.num_samples) == (2, 2, low.shape[-1])
    assert header.num_frames == math.ceil(low.shape[-1] / HOP) and header.bitrate == 2 * 12000  # two streams
    assert (tmp_path / "out.akc").stat().st_size == expected_file_bytes("hifi", 2, header.num_frames, 2, 6)
    codec.decode_file(tmp_path / "out.akc", tmp_path / "out.wav")
    decoded, rate = sf.read(str(tmp_path / "out.wav"), dtype="float32", always_2d=True)
    assert rate == RATE and decoded.shape == (low.shape[-1], 2)  # decode_file writes at the model's rate
    reference = codec.decode(codec.encode(low, RATE, bitrate=12))
    assert np.abs(decoded.T - reference.numpy()).max() < 1e-5


def test_long_files_are_coded_in_bounded_chunks(codecs, tmp_path, monkeypatch):
    """A 30 s file at the model's rate: no read, model call or write ever holds more than a chunk and its context,
    whatever the file's length, and the result is that of in-memory coding."""
    codec = codecs["noncausal"]  # 16 frames of context each side
    x = noise(30 * RATE, seed=12)  # 30000 frames
    src = save(tmp_path / "long.wav", x, RATE)
    chunk_frames, context = 250, codec.context_frames
    bound = (chunk_frames + 2 * context) * HOP  # samples
    seen: dict[str, list[int]] = {"read": [], "encode": [], "frames": [], "decode": [], "write": []}

    def spy(owner, name, key, size):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            seen[key].append(size(args, out))
            return out
        monkeypatch.setattr(owner, name, wrapper)

    spy(sf.SoundFile, "read", "read", lambda args, out: out.shape[0])
    spy(sf.SoundFile, "write", "write", lambda args, out: args[1].shape[0])
    spy(codec.model, "encode", "encode", lambda args, out: args[0].shape[-1])
    spy(codec.model, "decode", "decode", lambda args, out: out.shape[-1])
    from audiokit.codecs.bitstream import BitstreamReader
    spy(BitstreamReader, "read_frames", "frames", lambda args, out: out.shape[-1])

    codec.encode_file(src, tmp_path / "long.akc", bitrate=12, chunk_seconds=chunk_frames / 1000)
    codec.decode_file(tmp_path / "long.akc", tmp_path / "long.wav", chunk_seconds=chunk_frames / 1000)
    chunks = 30000 // chunk_frames
    assert len(seen["read"]) == len(seen["encode"]) == len(seen["frames"]) == len(seen["decode"]) == chunks
    assert max(seen["read"]) == max(seen["encode"]) == max(seen["decode"]) == bound
    assert max(seen["frames"]) == chunk_frames + 2 * context
    assert seen["write"] == [chunk_frames * HOP] * chunks
    # chunking changed nothing: the codes and audio of one in-memory pass over the whole signal. The latents agree
    # to ~1e-7; over 60000 codes of random 64-code books a few such near ties round the other way (measured 46).
    monkeypatch.undo()
    one_pass = codec.encode(x, RATE, bitrate=12, chunk_seconds=60.0).codes
    codes = read_codes(tmp_path / "long.akc", expected_hash=codec.model_hash)[1]
    assert codes.shape == one_pass.shape == (1, 2, 30000) and (codes != one_pass).float().mean() < 2e-3
    decoded = torch.from_numpy(sf.read(str(tmp_path / "long.wav"), dtype="float32", always_2d=True)[0].T)
    assert (decoded - codec.decode(codes, chunk_seconds=60.0)).abs().max() < 1e-5


@pytest.fixture
def encoded(codecs, speech_wav, tmp_path) -> Path:
    path = tmp_path / "speech.akc"
    codecs["causal"].encode_file(speech_wav[0], path, bitrate=18)
    return path


def decode_fails(codec: Codec, src: Path, dst: Path, error, match: str) -> None:
    """decode_file raises and leaves ``dst`` as it was (here: holding b"old") and no temporary file."""
    dst.write_bytes(b"old")
    with pytest.raises(error, match=match):
        codec.decode_file(src, dst)
    assert dst.read_bytes() == b"old" and leftovers(dst.parent) == []


def test_decode_file_refuses_truncated_corrupted_and_foreign_files(codecs, encoded, tmp_path):
    codec, data = codecs["causal"], encoded.read_bytes()
    header_size = 60 + len(b"causal") + 4 * 3
    assert len(data) == header_size + math.ceil(201 * 3 * 6 / 8) + 4
    out = tmp_path / "out.wav"
    truncated = tmp_path / "truncated.akc"
    truncated.write_bytes(data[:-5])
    decode_fails(codec, truncated, out, BitstreamError,
                 f"is truncated: expected {len(data)} bytes .* found {len(data) - 5}")
    flipped = tmp_path / "flipped.akc"
    flipped.write_bytes(data[:header_size + 10] + bytes([data[header_size + 10] ^ 0x01]) + data[header_size + 11:])
    decode_fails(codec, flipped, out, BitstreamError, "payload checksum mismatch")
    header_flip = tmp_path / "header_flip.akc"
    header_flip.write_bytes(data[:20] + bytes([data[20] ^ 0x40]) + data[21:])
    decode_fails(codec, header_flip, out, BitstreamError, "header checksum mismatch")
    decode_fails(codecs["other"], encoded, out, BitstreamError,
                 f"was written by model 'causal' \\(hash {codec.model_hash.hex()}\\), expected hash "
                 f"{codecs['other'].model_hash.hex()}: decode it with the model that encoded it")
    decode_fails(codec, tmp_path / "missing.akc", out, BitstreamError, "codec file not found")
    (tmp_path / "text.akc").write_text("hello world, not a codec file at all" * 3)
    decode_fails(codec, tmp_path / "text.akc", out, BitstreamError, "is not an audiokit codec file")
    # the right hash with framing this model does not have: refused before any audio is written
    args = dict(model_id="causal", model_hash=codec.model_hash, hop_length=HOP)
    write_codes(tmp_path / "rate.akc", torch.zeros(1, 2, 5, dtype=torch.long), sample_rate=16000,
                codebook_sizes=[64, 64], **args)
    decode_fails(codec, tmp_path / "rate.akc", out, CodecError, r"does not fit this model: sample rate 16000 "
                                                                r"\(this model: 8000\)")
    write_codes(tmp_path / "books.akc", torch.zeros(1, 5, 5, dtype=torch.long), sample_rate=RATE,
                codebook_sizes=[64] * 5, **args)
    decode_fails(codec, tmp_path / "books.akc", out, CodecError, r"codebooks \[64, 64, 64, 64, 64\] \(this model: "
                                                                 r"up to 4 of 64\)")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wav") == ["out.wav"]  # only the b"old" one


def test_encode_file_errors_leave_no_output(codecs, speech_wav, tmp_path):
    codec, (src, _) = codecs["causal"], speech_wav
    dst = tmp_path / "out.akc"
    for bitrate in (5, 25):
        with pytest.raises(CodecError, match=r"bitrate: .*supported: \[6\.0, 12\.0, 18\.0, 24\.0\]"):
            codec.encode_file(src, dst, bitrate=bitrate)
    with pytest.raises(AudioError, match="audio file not found: '.*missing.wav'"):
        codec.encode_file(tmp_path / "missing.wav", dst)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="cannot read '.*empty.wav' as audio"):
        codec.encode_file(tmp_path / "empty.wav", dst)
    bad = noise(80, seed=10)
    bad[0, 70] = float("nan")
    sf.write(str(tmp_path / "nan.wav"), bad.T.numpy(), RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="contains NaN or Inf samples"):
        codec.encode_file(tmp_path / "nan.wav", dst)  # raised while the bitstream is being written
    assert not dst.exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_encode_info_decode(codecs, checkpoints, speech_wav, tmp_path, capsys):
    codec, (src, x), model = codecs["causal"], speech_wav, str(checkpoints["causal"])
    akc, out, out16 = tmp_path / "s.akc", tmp_path / "s.wav", tmp_path / "s16.wav"
    assert main(["codec", "encode", str(src), str(akc), "-m", model, "--bitrate", "12"]) == 0
    size = expected_file_bytes("causal", 2, 201, 1, 6)
    assert akc.stat().st_size == size
    assert f"201 frames x 1 stream(s) x 2 codebooks, 0.20 s at 12 kbit/s; {size} bytes" in capsys.readouterr().out
    assert main(["codec", "info", str(akc)]) == 0
    printed = capsys.readouterr().out
    assert f"model 'causal' (hash {codec.model_hash.hex()}), 8000 Hz, hop 8, 1 stream(s), 2 codebooks" in printed
    assert "201 frames, 1604 samples" in printed and "12 kbit/s; checksums OK" in printed
    assert main(["codec", "info", "-m", model, "--bitrates"]) == 0
    assert capsys.readouterr().out.strip() == "6 12 18 24"

    assert main(["codec", "decode", str(akc), str(out), "-m", model]) == 0
    reference = codec.decode(codec.encode(x, RATE, bitrate=12)).numpy()
    decoded, rate = sf.read(str(out), dtype="float32", always_2d=True)
    assert rate == RATE and sf.info(str(out)).subtype == "FLOAT"
    assert np.abs(decoded.T - reference).max() < 1e-5
    assert main(["codec", "decode", str(akc), str(out16), "-m", model, "--int16"]) == 0
    assert sf.info(str(out16)).subtype == "PCM_16"
    pcm, _ = sf.read(str(out16), dtype="float32", always_2d=True)
    assert np.abs(reference).max() < 1  # no clipping: 16-bit rounding is the only difference
    assert np.abs(pcm.T - reference).max() <= 2 / 32768 and np.abs(pcm.T - reference).max() > 0


def test_cli_decode_finds_the_pretrained_model_named_in_the_file(checkpoints, speech_wav, tmp_path, monkeypatch,
                                                                 capsys):
    pretrained = tmp_path / "pretrained"
    (pretrained / "codec-tiny").mkdir(parents=True)
    shutil.copy(checkpoints["causal"], pretrained / "codec-tiny" / "model.pt")
    monkeypatch.setenv("AUDIOKIT_PRETRAINED", str(pretrained))
    src = speech_wav[0]
    assert main(["codec", "encode", str(src), str(tmp_path / "a.akc"), "-m", "codec-tiny"]) == 0
    assert main(["codec", "decode", str(tmp_path / "a.akc"), str(tmp_path / "a.wav")]) == 0  # no -m
    expected = audiokit.load("codec-tiny").decode(audiokit.load("codec-tiny").encode(speech_wav[1], RATE))
    assert np.abs(sf.read(str(tmp_path / "a.wav"), dtype="float32")[0] - expected[0].numpy()).max() < 1e-5
    capsys.readouterr()
    # a file of a checkpoint that is not a pretrained model needs -m; a corrupted file fails with exit status 2
    assert main(["codec", "encode", str(src), str(tmp_path / "b.akc"), "-m", str(checkpoints["causal"])]) == 0
    assert main(["codec", "decode", str(tmp_path / "b.akc"), str(tmp_path / "b.wav")]) == 2
    assert "written by model 'causal', which is not a pretrained model here: pass -m" in capsys.readouterr().err
    data = bytearray((tmp_path / "b.akc").read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / "b.akc").write_bytes(bytes(data))
    assert main(["codec", "decode", str(tmp_path / "b.akc"), str(tmp_path / "b.wav"), "-m",
                 str(checkpoints["causal"])]) == 2
    assert "payload checksum mismatch" in capsys.readouterr().err
    assert main(["codec", "info", str(tmp_path / "b.akc")]) == 2
    assert "payload checksum mismatch" in capsys.readouterr().err
    assert not (tmp_path / "b.wav").exists() and leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------------ evaluation
@pytest.fixture(scope="module")
def codec_data(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A data dir of two short utterances (wav.scp with absolute paths) at the codecs' 8 kHz."""
    root = tmp_path_factory.mktemp("codec_data")
    wavs = {"utt-a": noise(2400, seed=11), "utt-b": 0.5 * noise(3000, seed=12)}
    write_table(root / "wav.scp", {key: str(save(root / "wav" / f"{key}.wav", x, RATE).resolve())
                                   for key, x in wavs.items()})
    return root, wavs


def test_evaluate_codec_scores_every_bitrate_and_utterance(codecs, codec_data):
    codec, (data, wavs) = codecs["causal"], codec_data
    result = evaluate_codec(codec, data, progress=False, perceptual=False)
    assert result["num_items"] == 2 and result["bitrates"] == [6.0, 12.0, 18.0, 24.0]
    tags = ["6", "12", "18", "24"]
    assert list(result["model"]) == tags and list(result["baseline"]) == tags
    rows = result["per_utterance"]
    assert sorted(r["key"] for r in rows) == sorted(wavs)
    for row in rows:
        x = wavs[row["key"]]
        for tag in tags:
            scores = row["model"][tag]
            assert set(scores) == {"mel", "mrstft", "si_sdr"}
            assert all(math.isfinite(v) for v in scores.values())
            decoded = codec.decode(codec.encode(x, RATE, bitrate=float(tag)))
            assert scores["mel"] == pytest.approx(mel_distance(decoded, x, RATE), rel=1e-6)
            assert row["baseline"][tag]["kind"] in ("mulaw", "adpcm") and math.isfinite(row["baseline"][tag]["mel"])
            base = row["baseline"][tag]  # at the model's bitrate: bits x its sample rate (rounded to an int)
            assert base["bits"] * base["sample_rate"] == pytest.approx(float(tag) * 1000, abs=base["bits"])
    for tag in tags:  # the table's values are the means over the utterances
        for metric in ("mel", "mrstft", "si_sdr"):
            assert result["model"][tag][metric] == pytest.approx(np.mean([r["model"][tag][metric] for r in rows]))
    top = torch.cat([codec.encode(wavs[r["key"]], RATE).codes for r in rows], dim=-1)
    expected = codebook_utilisation(top, 64)
    assert {key: pytest.approx(value) for key, value in expected.items()} == result["utilisation"]
    assert len(result["utilisation"]["entropy_ratio"]) == 4

    some = evaluate_codec(codec, data, bitrates=[12, 6], progress=False, perceptual=False, baseline=False)
    assert some["bitrates"] == [6.0, 12.0] and list(some["model"]) == ["6", "12"] and some["baseline"] == {}
    assert some["model"]["12"] == pytest.approx(result["model"]["12"])


def test_evaluate_codec_gives_the_baseline_the_same_total_bits_for_stereo(codecs, tmp_path):
    """A mono codec codes each channel of a stereo file as a stream (2 x 6 kbit/s): each baseline channel
    gets 6 kbit/s, and the stereo file gets a spatial score (its channels' correlations)."""
    x = torch.stack([noise(2400, seed=21)[0], noise(2400, seed=22)[0]])
    write_table(tmp_path / "wav.scp", {"st": str(save(tmp_path / "st.wav", x, RATE).resolve())})
    result = evaluate_codec(codecs["causal"], tmp_path, bitrates=[6], progress=False, perceptual=False)
    base, model = result["per_utterance"][0]["baseline"]["6"], result["model"]["6"]
    assert base["bits"] * base["sample_rate"] == pytest.approx(6000, abs=base["bits"])
    assert 0 < model["spatial"] < 2 and "spatial" in base


def test_multichannel_baseline_truncates_to_the_channels_the_bits_can_pay_for():
    from audiokit.evaluate import _multichannel_baseline

    scene = 0.1 * torch.randn(16, 8000, generator=torch.Generator().manual_seed(3))  # third-order Ambisonics
    decoded, settings = _multichannel_baseline(scene, RATE, 1500.0)  # 94 bit/s a channel: too few for 2 bits
    assert settings["channels_coded"] == 4 and decoded.shape == scene.shape  # first order: W, Y, Z, X
    assert decoded[4:].abs().max() == 0 and decoded[:4].abs().max() > 0
    assert settings["bits"] * settings["sample_rate"] * 4 == pytest.approx(1500, abs=4 * settings["bits"])
    decoded, settings = _multichannel_baseline(scene, RATE, 16 * 6000.0)  # enough for every channel
    assert "channels_coded" not in settings and decoded[15].abs().max() > 0


@pytest.mark.filterwarnings("ignore:Not enough STFT frames")  # pystoi on 0.3 s of noise
def test_evaluate_codec_perceptual_scores(codecs, codec_data):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    result = evaluate_codec(codecs["causal"], codec_data[0], bitrates=[24], progress=False, baseline=False)
    scores = result["model"]["24"]
    assert set(scores) == {"mel", "mrstft", "si_sdr", "pesq", "stoi"}
    assert 0.0 <= scores["stoi"] <= 1.0 and (math.isnan(scores["pesq"]) or 1.0 <= scores["pesq"] <= 4.65)


def test_cli_eval_writes_tables_and_per_utterance_json(checkpoints, codec_data, tmp_path, capsys):
    data, wavs = codec_data
    folder, out = tmp_path / "per_utt", tmp_path / "result.json"
    assert main(["eval", "-m", str(checkpoints["causal"]), "--data", str(data), "--bitrates", "6", "12",
                 "--no-perceptual", "--per-track", str(folder), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "mel model" in printed and "pesq" not in printed and f"wrote 2 utterance scores to {folder}/" in printed
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{key}.json" for key in wavs)
    result = json.loads(out.read_text())
    assert result["bitrates"] == [6.0, 12.0] and list(result["model"]) == ["6", "12"]
    for key in wavs:
        row = json.loads((folder / f"{key}.json").read_text())
        assert row["key"] == key and list(row["model"]) == ["6", "12"]
        assert row == next(r for r in result["per_utterance"] if r["key"] == key)
    with pytest.raises(SystemExit, match="--bsseval is for separation models"):
        main(["eval", "-m", str(checkpoints["causal"]), "--data", str(data), "--bsseval", "-q"])
