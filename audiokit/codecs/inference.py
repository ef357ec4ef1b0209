"""Codec inference: ``codec = audiokit.load(...)``; ``enc = codec.encode(wav, sr, bitrate=6)``; ``codec.decode(enc)``.

A codec model (:class:`~audiokit.models.codec.RVQCodec`, ESC, ...) maps ``(B, M, T)`` audio at its
``sample_rate`` to codes ``(B, K, F)`` and back. Around it this layer adds:

- channels: a mono model (``M = 1``) codes each channel of a file as its own stream (a stereo file makes
  two streams of codes, twice the bitrate); a multichannel model (``M > 1``, e.g. 16-channel ambisonics)
  codes exactly ``M`` channels as one stream. Codes are ``(S, K, F)``: ``S`` streams, ``K`` codebooks.
- resampling to the model's rate and back (``decode`` of an :class:`EncodedAudio` returns audio at the rate
  and length that went in);
- long inputs in bounded memory: audio is coded ``chunk_seconds`` at a time. A causal model runs its
  streaming ``encode_step``/``decode_step`` over the chunks, so the result is exactly that of one pass.
  A non-causal model codes each chunk with ``context_frames`` frames of real audio (or codes) on either
  side, and keeps the middle: equal to one pass wherever the model's receptive field fits in the context
  (:meth:`Codec.context_frames` defaults to one second, far beyond the convolutional codecs' fields). The
  context starts at a multiple of the model's ``frame_alignment`` (default 1; ESC: 2 frames, so that its
  attention windows fall where they fall in one pass).
- files: ``encode_file`` writes a ``.akc`` bitstream (:mod:`audiokit.codecs.bitstream`) chunk by chunk,
  ``decode_file`` checks it was written by this very model (the weights' fingerprint) before decoding.

Symbols: ``C`` audio channels, ``M`` model channels, ``S`` code streams, ``K`` codebooks, ``F`` frames.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
import torch
from torch import Tensor

from audiokit.audio.io import AudioError, check_waveform, info
from audiokit.audio.io import load as load_audio
from audiokit.audio.resample import resample
from audiokit.codecs.bitstream import BitstreamHeader, BitstreamReader, BitstreamWriter, model_fingerprint
from audiokit.utils import AudiokitError, atomic_path


class CodecError(AudiokitError):
    """A codec request the model cannot serve (bitrate, channels, streaming, codes of another model)."""


@dataclass
class EncodedAudio:
    """What :meth:`Codec.encode` returns.

    Attributes:
        codes: ``(S, K, F)`` int64: per stream, ``K`` codebooks, ``F`` frames.
        sample_rate: the model's rate, Hz; ``num_samples``: the audio's length at that rate (the decoder's
            ``F * hop_length`` samples are cut to it).
        input_sample_rate, input_num_samples: rate and length of the audio that was encoded (decode
            returns audio like it).
        model_id, model_hash: which model wrote the codes (the hash is a fingerprint of its weights).
        hop_length: samples per frame at ``sample_rate``; ``codebook_size``: entries per codebook.
    """

    codes: Tensor
    sample_rate: int
    num_samples: int
    input_sample_rate: int
    input_num_samples: int
    model_id: str
    model_hash: bytes
    hop_length: int
    codebook_size: int

    @property
    def bitrate(self) -> float:
        """kbit/s of the codes (all streams), without entropy coding."""
        frames_per_second = self.sample_rate / self.hop_length
        bits = self.codes.shape[0] * self.codes.shape[1] * math.ceil(math.log2(self.codebook_size))
        return frames_per_second * bits / 1000.0


class Codec:
    """A trained neural codec: audio to codes to audio, in memory, in streams, or ``.akc`` files.

    Attributes:
        sample_rate: the model's rate, Hz; ``channels``: ``M``, channels one stream of codes carries.
        bitrates: supported kbit/s per stream (the model's ``target_bandwidths`` or one per codebook level).
        model_id: a name written into bitstreams (the pretrained model's name, else the checkpoint's).
        model_hash: fingerprint of the weights; a bitstream decodes only with the model that wrote it.
    """

    def __init__(self, model: torch.nn.Module, checkpoint: dict, device: str | torch.device = "cpu",
                 model_id: str | None = None):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.sample_rate = int(checkpoint["sample_rate"])
        if int(getattr(model, "sample_rate", self.sample_rate)) != self.sample_rate:
            raise CodecError(f"checkpoint sample_rate {self.sample_rate} differs from the model's {model.sample_rate}")
        self.channels = int(getattr(model, "channels", 1))
        self.metadata = dict(checkpoint.get("metadata", {}))
        self.model_id = model_id or str(self.metadata.get("name") or checkpoint.get("target", "codec").split(".")[-1])
        self.model_hash = model_fingerprint(self.model)

    def __repr__(self) -> str:
        kind = "causal" if self.causal else "non-causal"
        return (f"Codec({self.model_id!r}: {type(self.model).__name__}, {self.sample_rate} Hz, {self.channels} ch, "
                f"{kind}, {self.frame_rate:g} frames/s, bitrates {self.bitrates} kbit/s)")

    # ----------------------------------------------------------------------------------- properties
    @property
    def hop_length(self) -> int:
        return int(self.model.hop_length)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def num_codebooks(self) -> int:
        return int(self.model.num_codebooks)

    @property
    def codebook_size(self) -> int:
        return int(self.model.codebook_size)

    @property
    def bitrates(self) -> list[float]:
        return [float(b) for b in self.model.bitrates]

    @property
    def causal(self) -> bool:
        return bool(getattr(self.model, "causal", False))

    @property
    def context_frames(self) -> int:
        """Frames of context each side of a chunk for non-causal models (default: one second's worth)."""
        return int(self.metadata.get("context_frames", math.ceil(self.frame_rate)))

    @property
    def frame_alignment(self) -> int:
        """Frames a non-causal chunk's context must start at a multiple of to see what one pass sees there."""
        return int(getattr(self.model, "frame_alignment", 1))

    def num_codebooks_for(self, bitrate: float | None) -> int:
        """Codebooks used at ``bitrate`` kbit/s per stream (default: the highest bitrate)."""
        if bitrate is None:
            return self.num_codebooks
        try:
            return int(self.model.num_quantizers_for_bitrate(bitrate))
        except (ValueError, TypeError) as err:
            raise CodecError(f"bitrate: {err} (supported: {self.bitrates} kbit/s)") from err

    # ----------------------------------------------------------------------------------- channels
    def _streams(self, channels: int, what: str) -> int:
        if self.channels == 1:
            return channels
        if channels != self.channels:
            raise CodecError(f"{what} has {channels} channels; this codec codes exactly {self.channels} "
                             f"channels together (one stream)")
        return 1

    def _to_model(self, wav: Tensor, streams: int) -> Tensor:
        """``(C, t)`` audio -> ``(S, M, t)`` model input on the device."""
        return wav.to(self.device, torch.float32).reshape(streams, self.channels, wav.shape[-1])

    @staticmethod
    def _from_model(audio: Tensor) -> Tensor:
        """``(S, M, t)`` model output -> ``(C, t)`` on the CPU (``t`` may be 0)."""
        return audio.flatten(0, 1).cpu()

    # ----------------------------------------------------------------------------------- chunked core
    def _chunk_frames(self, chunk_seconds: float) -> int:
        if not chunk_seconds > 0:
            raise CodecError(f"chunk_seconds must be > 0, got {chunk_seconds}")
        return max(1, round(chunk_seconds * self.frame_rate))

    @torch.inference_mode()
    def _encode_chunks(self, read: Callable[[int, int], Tensor], num_samples: int, streams: int, codebooks: int,
                       chunk_seconds: float) -> Iterator[Tensor]:
        """Codes ``(S, K, f)`` chunk by chunk of audio given by ``read(start, stop)`` -> ``(C, stop - start)``
        at the model's rate (zeros past the end)."""
        hop, frames = self.hop_length, math.ceil(num_samples / self.hop_length)
        step = self._chunk_frames(chunk_seconds)
        if self.causal:
            state = self.model.init_encode_state(streams)
            for a in range(0, frames, step):
                b = min(a + step, frames)
                codes, state = self.model.encode_step(self._to_model(read(a * hop, b * hop), streams), state,
                                                      n_quantizers=codebooks)
                yield codes.cpu()
            return
        context, align = self.context_frames, self.frame_alignment
        for a in range(0, frames, step):
            #   frames  | lo ... a [ kept: a .. b ) b ... hi |    lo = a - context, hi = b + context (clipped)
            b = min(a + step, frames)  # lo rounded down to a multiple of align
            lo, hi = max(0, (a - context) // align * align), min(frames, b + context)
            codes = self.model.encode(self._to_model(read(lo * hop, hi * hop), streams), n_quantizers=codebooks)
            yield codes[..., a - lo:b - lo].cpu()

    @torch.inference_mode()
    def _decode_chunks(self, read: Callable[[int, int], Tensor], frames: int, chunk_seconds: float) -> Iterator[Tensor]:
        """Audio ``(C, f * hop)`` chunk by chunk of codes given by ``read(a, b)`` -> ``(S, K, b - a)``."""
        hop, step = self.hop_length, self._chunk_frames(chunk_seconds)
        if self.causal:
            state = None
            for a in range(0, frames, step):
                codes = read(a, min(a + step, frames)).to(self.device)
                if state is None:
                    state = self.model.init_decode_state(codes.shape[0])
                audio, state = self.model.decode_step(codes, state)
                yield self._from_model(audio)
            return
        context, align = self.context_frames, self.frame_alignment
        for a in range(0, frames, step):
            b = min(a + step, frames)
            lo, hi = max(0, (a - context) // align * align), min(frames, b + context)
            audio = self.model.decode(read(lo, hi).to(self.device))
            yield self._from_model(audio[..., (a - lo) * hop:(b - lo) * hop])

    def _check_codes(self, codes: Tensor, what: str) -> Tensor:
        if not isinstance(codes, Tensor) or codes.dim() != 3 or codes.dtype.is_floating_point:
            got = f"shape {tuple(codes.shape)} of {codes.dtype}" if isinstance(codes, Tensor) else type(codes).__name__
            raise CodecError(f"{what}: expected integer codes of shape (streams, codebooks, frames), got {got}")
        k = codes.shape[1]
        allowed = sorted({self.num_codebooks_for(b) for b in self.bitrates} | {self.num_codebooks})
        if not 1 <= k <= self.num_codebooks:
            raise CodecError(f"{what}: {k} codebooks; this codec has {self.num_codebooks} (e.g. {allowed})")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise CodecError(f"{what}: codes must lie in 0..{self.codebook_size - 1}, found "
                             f"{int(codes.min())}..{int(codes.max())}")
        return codes.long()

    # ----------------------------------------------------------------------------------- in memory
    def encode(self, wav: Tensor, sample_rate: int, bitrate: float | None = None,
               chunk_seconds: float = 30.0) -> EncodedAudio:
        """Codes of ``(channels, time)`` audio at ``sample_rate`` (resampled to the model's rate).

        Args:
            bitrate: kbit/s per stream (one of :attr:`bitrates`, or any rate between: the most codebooks that
                fit); default the highest.
            chunk_seconds: audio coded per model call (memory is bounded by it, not by the input's length).
        """
        check_waveform(wav, "input audio")
        if wav.shape[-1] == 0:
            raise CodecError("input audio is empty (0 samples)")
        streams = self._streams(wav.shape[0], "input audio")
        codebooks = self.num_codebooks_for(bitrate)
        x = resample(wav.float(), int(sample_rate), self.sample_rate)
        length = x.shape[-1]

        def read(start: int, stop: int) -> Tensor:
            return torch.nn.functional.pad(x[:, start:stop], (0, max(0, stop - max(start, length))))

        codes = torch.cat(list(self._encode_chunks(read, length, streams, codebooks, chunk_seconds)), dim=-1)
        return EncodedAudio(codes, self.sample_rate, length, int(sample_rate), wav.shape[-1], self.model_id,
                            self.model_hash, self.hop_length, self.codebook_size)

    def decode(self, encoded: EncodedAudio | Tensor, chunk_seconds: float = 30.0) -> Tensor:
        """Audio ``(channels, time)`` of :meth:`encode`'s result, at the rate and length that went in; or of bare
        codes ``(S, K, F)``, at the model's rate, ``F * hop_length`` samples."""
        if isinstance(encoded, EncodedAudio):
            if encoded.model_hash != self.model_hash:
                raise CodecError(f"these codes were made by model {encoded.model_id!r} (hash "
                                 f"{encoded.model_hash.hex()}), not by this one ({self.model_id!r}, "
                                 f"{self.model_hash.hex()}): decode them with the model that encoded them")
            codes = self._check_codes(encoded.codes, "encoded.codes")
        else:
            codes = self._check_codes(encoded, "codes")
        audio = torch.cat(list(self._decode_chunks(lambda a, b: codes[..., a:b], codes.shape[-1], chunk_seconds)),
                          dim=-1)
        if isinstance(encoded, EncodedAudio):
            audio = resample(audio[:, :encoded.num_samples], self.sample_rate, encoded.input_sample_rate)
            audio = audio[:, :encoded.input_num_samples]
        return audio

    # ----------------------------------------------------------------------------------- streaming
    def streaming_encoder(self, channels: int = 1, bitrate: float | None = None) -> StreamingEncoder:
        """A frame-by-frame encoder for ``channels``-channel audio at the model's rate (causal models only)."""
        return StreamingEncoder(self, channels, bitrate)

    def streaming_decoder(self) -> StreamingDecoder:
        """A frame-by-frame decoder (causal models only)."""
        return StreamingDecoder(self)

    def _check_streamable(self) -> None:
        if not self.causal:
            raise CodecError(f"{self.model_id!r} is not causal: it cannot stream; use encode/decode (chunked "
                             f"with context) instead")

    # ----------------------------------------------------------------------------------- files
    def encode_file(self, src: str | os.PathLike, dst: str | os.PathLike, bitrate: float | None = None,
                    chunk_seconds: float = 30.0) -> BitstreamHeader:
        """Encode an audio file to an ``.akc`` bitstream, written atomically.

        At the model's rate the file is read chunk by chunk (memory flat in its length); a file at another
        rate is loaded whole and resampled first.
        """
        meta = info(src)
        if meta.num_frames == 0:
            raise AudioError(f"'{src}' has zero length")
        streams = self._streams(meta.channels, f"'{src}'")
        codebooks = self.num_codebooks_for(bitrate)
        if meta.sample_rate == self.sample_rate:
            length, handle = meta.num_frames, sf.SoundFile(str(src))

            def read(start: int, stop: int) -> Tensor:
                if start >= length:
                    return torch.zeros(meta.channels, stop - start)
                handle.seek(start)
                x = torch.from_numpy(handle.read(stop - start, dtype="float32", always_2d=True,
                                                 fill_value=0.0).T.copy())
                if not torch.isfinite(x).all():
                    raise AudioError(f"'{src}' contains NaN or Inf samples")
                return x
        else:
            wav, rate = load_audio(src)
            x = resample(wav, rate, self.sample_rate)
            length, handle = x.shape[-1], None

            def read(start: int, stop: int) -> Tensor:
                return torch.nn.functional.pad(x[:, start:stop], (0, max(0, stop - max(start, length))))
        try:
            with BitstreamWriter(dst, model_id=self.model_id, model_hash=self.model_hash,
                                 sample_rate=self.sample_rate, hop_length=self.hop_length,
                                 codebook_sizes=[self.codebook_size] * codebooks, channels=streams) as writer:
                for codes in self._encode_chunks(read, length, streams, codebooks, chunk_seconds):
                    writer.write(codes)
                writer.num_samples = length
        finally:
            if handle is not None:
                handle.close()
        return writer.header

    def decode_file(self, src: str | os.PathLike, dst: str | os.PathLike, subtype: str = "FLOAT",
                    chunk_seconds: float = 30.0) -> Path:
        """Decode an ``.akc`` file written by this model to audio at the model's rate, chunk by chunk, atomically.

        Raises :class:`~audiokit.codecs.bitstream.BitstreamError` for a truncated, corrupted or foreign file
        (before any audio is written) and :class:`CodecError` for codes this model cannot decode.
        """
        dst = Path(dst)
        with BitstreamReader(src, expected_hash=self.model_hash) as reader:
            header = reader.header
            problems = [f"{name} {got} (this model: {want})" for name, got, want in (
                ("sample rate", header.sample_rate, self.sample_rate), ("hop length", header.hop_length,
                                                                          self.hop_length))
                if got != want]
            if set(header.codebook_sizes) != {self.codebook_size} or header.num_codebooks > self.num_codebooks:
                problems.append(f"codebooks {list(header.codebook_sizes)} (this model: up to {self.num_codebooks} "
                                f"of {self.codebook_size})")
            if problems:
                raise CodecError(f"'{src}' does not fit this model: {'; '.join(problems)}")
            self._check_codes(torch.zeros(header.channels, header.num_codebooks, 0, dtype=torch.long), f"'{src}'")
            channels, written = header.channels * self.channels, 0
            with atomic_path(dst, suffix=dst.suffix or ".wav") as tmp, \
                    sf.SoundFile(str(tmp), "w", samplerate=self.sample_rate, channels=channels, subtype=subtype) as out:
                for audio in self._decode_chunks(lambda a, b: reader.read_frames(a, b - a), header.num_frames,
                                                 chunk_seconds):
                    keep = min(audio.shape[-1], header.num_samples - written)
                    out.write(audio[:, :keep].T.numpy())  # (C, t) -> (t, C)
                    written += keep
        return dst


class StreamingEncoder:
    """Encode audio block by block; the codes equal :meth:`Codec.encode` of the whole signal.

    ``push(block)`` takes ``(channels, n)`` audio at the model's rate (any ``n``) and returns the codes
    ``(S, K, f)`` of the frames completed so far; ``flush()`` pads the last partial frame with zeros and
    returns its codes. ``latency``: samples a sample waits before its frame is coded (``hop_length - 1``).
    """

    def __init__(self, codec: Codec, channels: int, bitrate: float | None):
        codec._check_streamable()
        self.codec, self.channels = codec, int(channels)
        self.streams = codec._streams(self.channels, "the stream")
        self.codebooks = codec.num_codebooks_for(bitrate)
        self.state = codec.model.init_encode_state(self.streams)
        self.num_samples = 0
        self.latency = codec.hop_length - 1

    @torch.inference_mode()
    def push(self, block: Tensor) -> Tensor:
        if not isinstance(block, Tensor) or block.dim() != 2 or block.shape[0] != self.channels:
            got = tuple(block.shape) if isinstance(block, Tensor) else type(block).__name__
            raise CodecError(f"expected a block of shape ({self.channels}, samples), got {got}")
        self.num_samples += block.shape[-1]
        codes, self.state = self.codec.model.encode_step(self.codec._to_model(block, self.streams), self.state,
                                                         n_quantizers=self.codebooks)
        return codes.cpu()

    def flush(self) -> Tensor:
        pad = -self.num_samples % self.codec.hop_length
        return self.push(torch.zeros(self.channels, pad))


class StreamingDecoder:
    """Decode codes frame block by frame block: ``push(codes (S, K, f))`` -> audio ``(C, f * hop_length)``."""

    def __init__(self, codec: Codec):
        codec._check_streamable()
        self.codec, self.state = codec, None

    @torch.inference_mode()
    def push(self, codes: Tensor) -> Tensor:
        codes = self.codec._check_codes(codes, "codes").to(self.codec.device)
        if self.state is None:
            self.state = self.codec.model.init_decode_state(codes.shape[0])
        audio, self.state = self.codec.model.decode_step(codes, self.state)
        return self.codec._from_model(audio)
