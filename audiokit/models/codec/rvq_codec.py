"""RVQ codec (SoundStream / EnCodec): a convolutional encoder, a residual vector quantizer and a decoder.

``RVQCodec(encoder, quantizer, decoder, sample_rate)`` composes the three; it reads everything else from them:

    hop_length = encoder.hop_length                       samples per frame (320 for ratios 8, 5, 4, 2)
    frame_rate = sample_rate / hop_length                 frames per second (75 Hz at 24 kHz)
    bitrate(n) = frame_rate * n * log2(codebook_size)     bit/s with the first n codebooks

so at 24 kHz with codebooks of 1024 entries (10 bits) one codebook costs 0.75 kbit/s: 2, 4, 8, 16 and 32
codebooks give EnCodec's 1.5, 3, 6, 12 and 24 kbit/s. Any prefix of the residual codebooks decodes, so one
model serves every bitrate up to its ``num_codebooks``; quantizer dropout in training makes each prefix good.

Lengths: ``T`` samples make ``F = ceil(T / hop_length)`` frames (the audio is zero-padded on the right to a
whole frame); decoding ``F`` frames gives ``F * hop_length`` samples, cut back to ``T`` when ``length`` is
given (``forward`` does this itself).

Streaming (causal encoder and decoder): ``encode_step`` takes blocks of samples and returns the codes of the
frames they complete; ``decode_step`` takes blocks of frames and returns ``hop_length`` samples per frame.
Concatenated, they equal ``encode`` / ``decode`` of the whole signal (codes exactly, audio up to float
rounding). End a stream by encoding ``-T % hop_length`` zeros, the padding ``encode`` adds.

Symbols: ``B`` batch, ``C`` audio channels, ``T`` samples, ``D`` latent channels, ``F`` frames,
``K`` codebooks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from audiokit.models.codec.seanet import SEANetDecoder, SEANetEncoder
from audiokit.nn.quantization import CodebookUsage, GroupResidualVectorQuantizer, ResidualVectorQuantizer


@dataclass
class CodecOutput:
    """What :meth:`RVQCodec.forward` returns.

    Attributes:
        audio: ``(B, C, T)`` reconstruction, as long as the input.
        codes: ``(B, K, F)`` long, ``K`` the codebooks asked for (examples under quantizer dropout use only
            their first ``active_codebooks``).
        commitment_loss: scalar, weighted, from the quantizer (trains the encoder).
        codebook_loss: scalar, weighted (gradient codebooks only; zero for EMA codebooks).
        perplexity: ``(K,)`` per codebook: ``exp(entropy)`` of this batch's codes, 1..codebook_size.
        active_codebooks: ``(B,)`` long, codebooks each example used.
    """

    audio: Tensor
    codes: Tensor
    commitment_loss: Tensor
    codebook_loss: Tensor
    perplexity: Tensor
    active_codebooks: Tensor

    @property
    def quantizer_loss(self) -> Tensor:
        """``commitment_loss + codebook_loss``: add to the reconstruction losses."""
        return self.commitment_loss + self.codebook_loss


class RVQCodec(nn.Module):
    """Neural audio codec: ``encoder`` -> residual VQ -> ``decoder``.

    Args:
        encoder: audio ``(B, C, T)`` to latent frames ``(B, D, ceil(T / hop_length))``, with attributes
            ``channels``, ``dimension``, ``hop_length`` and ``causal`` (e.g. :class:`SEANetEncoder`); with
            ``causal`` also ``init_state(B)`` and ``step(x, state)``.
        quantizer: :class:`~audiokit.nn.quantization.ResidualVectorQuantizer` over ``D`` channels, or a
            :class:`~audiokit.nn.quantization.GroupResidualVectorQuantizer` (HiFi-Codec): then codebooks come
            ``groups`` at a time (one residual level of every group), and ``n_quantizers`` must be a multiple
            of ``groups``.
        decoder: latent frames ``(B, D, F)`` to audio ``(B, C, F * hop_length)``, same attributes (e.g.
            :class:`SEANetDecoder`).
        sample_rate: Hz of the audio (24000 for EnCodec 24 kHz).
        target_bandwidths: the bitrates, kbit/s, the model is meant for (EnCodec 24 kHz: 1.5, 3, 6, 12, 24);
            each must fit at least one codebook and at most all. Default: every number of codebooks.
    """

    def __init__(self, encoder: nn.Module, quantizer: ResidualVectorQuantizer | GroupResidualVectorQuantizer,
                 decoder: nn.Module,
                 sample_rate: int, target_bandwidths: Sequence[float] | None = None):
        super().__init__()
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1:
            raise ValueError(f"RVQCodec sample_rate must be a positive int (Hz), got sample_rate={sample_rate!r}")
        for name, part in (("encoder", encoder), ("decoder", decoder)):
            missing = [a for a in ("channels", "dimension", "hop_length", "causal") if not hasattr(part, a)]
            if missing:
                raise ValueError(f"RVQCodec {name} must have attributes channels, dimension, hop_length and causal; "
                                 f"{type(part).__name__} lacks {', '.join(missing)}")
        if not isinstance(quantizer, (ResidualVectorQuantizer, GroupResidualVectorQuantizer)):
            raise ValueError(f"RVQCodec quantizer must be a ResidualVectorQuantizer or GroupResidualVectorQuantizer, "
                             f"got {type(quantizer).__name__}")
        if not encoder.dimension == quantizer.dim == decoder.dimension:
            raise ValueError(f"RVQCodec needs one latent dimension: encoder.dimension={encoder.dimension}, "
                             f"quantizer.dim={quantizer.dim}, decoder.dimension={decoder.dimension}")
        if encoder.hop_length != decoder.hop_length:
            raise ValueError(f"RVQCodec needs the same hop_length in encoder and decoder, got "
                             f"{encoder.hop_length} and {decoder.hop_length}")
        if encoder.channels != decoder.channels:
            raise ValueError(f"RVQCodec needs the same audio channels in encoder and decoder, got "
                             f"{encoder.channels} and {decoder.channels}")
        self.encoder, self.quantizer, self.decoder = encoder, quantizer, decoder
        self.sample_rate = sample_rate
        self.target_bandwidths = None
        if target_bandwidths is not None:
            bandwidths = [float(b) for b in target_bandwidths]
            if not bandwidths or bandwidths != sorted(set(bandwidths)):
                raise ValueError(f"RVQCodec target_bandwidths must be distinct kbit/s values in increasing order, "
                                 f"got {list(target_bandwidths)}")
            for bandwidth in bandwidths:
                self.num_quantizers_for_bitrate(bandwidth)  # raises for one that fits no codebook or too many
            self.target_bandwidths = bandwidths

    # ----------------------------------------------------------------------------------- properties
    @property
    def channels(self) -> int:
        """C, audio channels."""
        return int(self.encoder.channels)

    @property
    def hop_length(self) -> int:
        """Samples per frame."""
        return int(self.encoder.hop_length)

    @property
    def frame_rate(self) -> float:
        """Frames per second: ``sample_rate / hop_length``."""
        return self.sample_rate / self.hop_length

    @property
    def num_codebooks(self) -> int:
        """K at full bitrate."""
        return self.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    @property
    def codebooks_per_level(self) -> int:
        """Codebooks added by one residual level: 1 for residual VQ, ``groups`` for group-residual VQ."""
        return int(getattr(self.quantizer, "groups", 1))

    @property
    def causal(self) -> bool:
        """True when both encoder and decoder are causal (and can stream)."""
        return bool(self.encoder.causal and self.decoder.causal)

    @property
    def latency(self) -> int | None:
        """Causal: samples a sample waits for the end of its frame before it can be encoded, at most
        ``hop_length - 1``. None for non-causal models (they cannot stream)."""
        return self.hop_length - 1 if self.causal else None

    @property
    def bitrates(self) -> list[float]:
        """Supported bitrates, kbit/s: ``target_bandwidths`` when given, else one per number of codebooks."""
        if self.target_bandwidths is not None:
            return list(self.target_bandwidths)
        step = self.codebooks_per_level
        return [self.bitrate(n) for n in range(step, self.num_codebooks + 1, step)]

    def bitrate(self, n_quantizers: int | None = None) -> float:
        """kbit/s with the first ``n_quantizers`` codebooks (default all), without entropy coding."""
        return self.quantizer.bitrate(self.frame_rate, n_quantizers) / 1000.0

    def num_quantizers_for_bitrate(self, bitrate: float) -> int:
        """The most codebooks whose bitrate fits in ``bitrate`` kbit/s (EnCodec 24 kHz: 1.5 -> 2, 6 -> 8)."""
        return self._levels_for_bitrate(bitrate) * self.codebooks_per_level

    def _levels_for_bitrate(self, bitrate: float) -> int:
        lowest, highest = self.bitrate(self.codebooks_per_level), self.bitrate()
        if isinstance(bitrate, bool) or not isinstance(bitrate, (int, float)) \
                or not lowest - 1e-9 <= bitrate <= highest + 1e-9:
            raise ValueError(f"bitrate must be a number of kbit/s in {lowest:g}..{highest:g} ({lowest:g} kbit/s per "
                             f"codebook at {self.frame_rate:g} frames/s, {self.num_codebooks} codebooks), "
                             f"got {bitrate!r}")
        return self.quantizer.quantizers_for_bitrate(bitrate * 1000.0, self.frame_rate)


    # ----------------------------------------------------------------------------------- offline
    def forward(self, wav: Tensor, n_quantizers: int | None = None) -> CodecOutput:
        """Encode, quantize and decode ``wav`` ``(B, C, T)`` with the first ``n_quantizers`` codebooks (default all;
        fewer for some examples under quantizer dropout in training). Returns a :class:`CodecOutput`."""
        self._check_audio(wav)
        length = wav.shape[-1]
        z = self.encoder(wav)  # (B, C, T) -> (B, D, F)
        q = self.quantizer(z, None if n_quantizers is None else self._resolve(None, n_quantizers))
        audio = self.decoder(q.quantized)[..., :length]  # (B, D, F) -> (B, C, F * hop) -> (B, C, T)
        return CodecOutput(audio, q.codes, q.commitment_loss, q.codebook_loss, q.perplexity, q.active_codebooks)

    def encode(self, wav: Tensor, bitrate: float | None = None, n_quantizers: int | None = None) -> Tensor:
        """Codes ``(B, K, ceil(T / hop_length))`` of ``wav`` ``(B, C, T)``.

        Args:
            wav: audio at ``sample_rate``; any length (zero-padded to whole frames).
            bitrate: kbit/s; uses the most codebooks that fit (see :meth:`num_quantizers_for_bitrate`).
            n_quantizers: codebooks, 1..num_codebooks. Give at most one of the two; default all codebooks.
        """
        self._check_audio(wav)
        n = self._resolve(bitrate, n_quantizers)
        return self.quantizer.encode(self.encoder(wav), n)  # (B, C, T) -> (B, D, F) -> (B, K, F)

    def decode(self, codes: Tensor, length: int | None = None) -> Tensor:
        """Audio ``(B, C, F * hop_length)`` of ``codes`` ``(B, K, F)`` (any ``K`` in 1..num_codebooks), cut to
        ``length`` samples when given (the original length, between ``(F - 1) * hop_length + 1`` and
        ``F * hop_length``)."""
        audio = self.decoder(self.quantizer.decode(codes))  # (B, K, F) -> (B, D, F) -> (B, C, F * hop)
        if length is not None:
            frames = codes.shape[-1]
            if isinstance(length, bool) or not isinstance(length, int) \
                    or not (frames - 1) * self.hop_length < length <= frames * self.hop_length:
                raise ValueError(f"length must be an int in {(frames - 1) * self.hop_length + 1}.."
                                 f"{frames * self.hop_length} samples for {frames} frames of {self.hop_length}, "
                                 f"got {length!r}")
            audio = audio[..., :length]
        return audio

    def usage(self) -> CodebookUsage:
        """Running codebook usage over recent training steps, per codebook ``(K,)``."""
        return self.quantizer.usage()

    # ----------------------------------------------------------------------------------- streaming
    def init_encode_state(self, batch_size: int) -> Any:
        """Zero state of :meth:`encode_step` for ``batch_size`` signals."""
        self._check_streamable()
        return self.encoder.init_state(batch_size)

    def encode_step(self, wav: Tensor, state: Any, bitrate: float | None = None,
                    n_quantizers: int | None = None) -> tuple[Tensor, Any]:
        """Encode the next block ``(B, C, n)``: codes ``(B, K, f)`` of the ``f`` frames it completes
        (``n / hop_length`` for blocks of whole frames) and the new state. ``bitrate``/``n_quantizers`` as
        :meth:`encode`."""
        self._check_streamable()
        self._check_audio(wav, allow_empty=True)
        n = self._resolve(bitrate, n_quantizers)
        z, state = self.encoder.step(wav, state)  # (B, C, n) -> (B, D, f)
        if z.shape[-1] == 0:
            return torch.zeros(wav.shape[0], n, 0, dtype=torch.long, device=wav.device), state
        return self.quantizer.encode(z, n), state

    def init_decode_state(self, batch_size: int) -> Any:
        """Zero state of :meth:`decode_step` for ``batch_size`` signals."""
        self._check_streamable()
        return self.decoder.init_state(batch_size)

    def decode_step(self, codes: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Decode the next frames ``(B, K, f)``: audio ``(B, C, f * hop_length)`` and the new state."""
        self._check_streamable()
        return self.decoder.step(self.quantizer.decode(codes), state)

    # ----------------------------------------------------------------------------------- checks
    def _resolve(self, bitrate: float | None, n_quantizers: int | None) -> int:
        """Residual levels to use (codebooks / ``codebooks_per_level``): from ``bitrate`` (kbit/s) or
        ``n_quantizers`` codebooks, default all."""
        if bitrate is not None and n_quantizers is not None:
            raise ValueError(f"give bitrate or n_quantizers, not both (got bitrate={bitrate!r}, "
                             f"n_quantizers={n_quantizers!r})")
        step = self.codebooks_per_level
        if bitrate is not None:
            return self._levels_for_bitrate(bitrate)
        if n_quantizers is None:
            return self.num_codebooks // step
        if isinstance(n_quantizers, bool) or not isinstance(n_quantizers, int) \
                or not 1 <= n_quantizers <= self.num_codebooks or n_quantizers % step:
            every = "" if step == 1 else f", a multiple of {step} (the quantizer's groups)"
            raise ValueError(f"n_quantizers must be an int in 1..{self.num_codebooks}{every}, got {n_quantizers!r}")
        return n_quantizers // step

    def _check_audio(self, wav: Tensor, allow_empty: bool = False) -> None:
        if not isinstance(wav, Tensor) or not wav.is_floating_point() or wav.dim() != 3 \
                or wav.shape[1] != self.channels or (wav.shape[-1] == 0 and not allow_empty):
            got = f"shape {tuple(wav.shape)} of {wav.dtype}" if isinstance(wav, Tensor) else type(wav).__name__
            raise ValueError(f"expected float audio of shape (batch, {self.channels}, time) at {self.sample_rate} Hz, "
                             f"got {got}")

    def _check_streamable(self) -> None:
        if not self.causal:
            raise ValueError("RVQCodec streams only with a causal encoder and decoder (built with causal=True)")


# ------------------------------------------------------------------------------------------------ builders
def rvq_codec(sample_rate: int = 24000, channels: int = 1, *, dimension: int = 128, n_filters: int = 32,
              ratios: Sequence[int] = (8, 5, 4, 2), n_residual_layers: int = 1, lstm_layers: int = 2,
              activation: str = "elu", causal: bool = True, weight_norm: bool = True, num_quantizers: int = 16,
              codebook_size: int = 1024, quantizer_dropout: float = 0.5, commitment_weight: float = 1.0,
              decay: float = 0.99, kmeans_init: bool = True, threshold_dead_code: float = 2.0,
              target_bandwidths: Sequence[float] | None = None, true_skip: bool = False) -> RVQCodec:
    """An :class:`RVQCodec` from plain config values: SEANet encoder and decoder, EMA residual VQ.

    The defaults are EnCodec 24 kHz's network with 16 codebooks of 1024: 75 Hz frames, 0.75 kbit/s per
    codebook, 1.5 / 3 / 6 / 12 kbit/s with 2 / 4 / 8 / 16 codebooks; 14.85 M parameters (the codebooks are
    buffers).

    Args:
        sample_rate: Hz.
        channels: C, audio channels.
        # Network (see :class:`SEANetEncoder`)
        dimension: D, latent channels.
        n_filters: width of the outermost stages.
        ratios: up-sampling ratios of the decoder; hop ``prod(ratios)``.
        n_residual_layers: residual blocks per stage.
        lstm_layers: LSTM layers at the bottleneck of encoder and decoder (0: none).
        activation: ``"elu"`` or ``"snake"``.
        causal: causal, streamable encoder and decoder.
        weight_norm: weight-normalise every conv.
        true_skip: identity shortcuts in the residual blocks (DAC) instead of 1x1 convs (EnCodec).
        # Quantizer (see :class:`~audiokit.nn.quantization.ResidualVectorQuantizer`)
        num_quantizers: K, codebooks at the highest bitrate.
        codebook_size: entries per codebook (bits per code: log2).
        quantizer_dropout: probability that a training example uses only its first ``n ~ U{1..K}`` codebooks
            (SoundStream; DAC uses 0.5; EnCodec instead draws one target bandwidth per batch).
        commitment_weight: weight of the commitment loss (EnCodec 1.0).
        decay: EMA decay of the codebooks (EnCodec 0.99).
        kmeans_init: k-means initialisation of the codebooks on the first training batch (EnCodec).
        threshold_dead_code: replace codes used by fewer vectors per step than this (EnCodec 2; scale it with
            the number of frames per batch).
        target_bandwidths: kbit/s the model is meant for (see :class:`RVQCodec`).
    """
    network = dict(channels=channels, dimension=dimension, n_filters=n_filters, ratios=tuple(ratios),
                   n_residual_layers=n_residual_layers, lstm_layers=lstm_layers, activation=activation,
                   causal=causal, weight_norm=weight_norm, true_skip=true_skip)
    quantizer = ResidualVectorQuantizer(dimension, num_quantizers, codebook_size, update="ema", decay=decay,
                                        commitment_weight=commitment_weight, kmeans_init=kmeans_init,
                                        threshold_dead_code=threshold_dead_code,
                                        quantizer_dropout=quantizer_dropout)
    return RVQCodec(SEANetEncoder(**network), quantizer, SEANetDecoder(**network), sample_rate,
                    target_bandwidths=target_bandwidths)


def encodec_24khz_config() -> dict[str, Any]:
    """EnCodec 24 kHz's published hyperparameters as :func:`rvq_codec` arguments (facebookresearch/encodec
    ``model.py`` and ``modules/seanet.py``): mono, SEANet with ``n_filters`` 32, ratios 8, 5, 4, 2 (hop 320,
    75 Hz), latent 128, one residual block per stage, 2-layer LSTM, ELU, causal, weight norm; 32 codebooks of
    1024 (EMA decay 0.99, k-means init, dead-code threshold 2, commitment weight 1) for 1.5 / 3 / 6 / 12 /
    24 kbit/s. 14,851,810 parameters, as EnCodec's encoder + decoder (7,425,792 + 7,426,018).

    Differences: the convolutions pad with zeros where EnCodec reflects (zeros stream exactly), and quantizer
    dropout draws a prefix per example (0.5) where EnCodec draws a target bandwidth per batch.
    """
    return dict(sample_rate=24000, channels=1, dimension=128, n_filters=32, ratios=(8, 5, 4, 2),
                n_residual_layers=1, lstm_layers=2, activation="elu", causal=True, weight_norm=True,
                num_quantizers=32, codebook_size=1024, quantizer_dropout=0.5, commitment_weight=1.0, decay=0.99,
                kmeans_init=True, threshold_dead_code=2.0, target_bandwidths=(1.5, 3.0, 6.0, 12.0, 24.0))


def encodec_24khz(**overrides: Any) -> RVQCodec:
    """The EnCodec 24 kHz architecture (:func:`encodec_24khz_config`), untrained; ``overrides`` replace any of
    its :func:`rvq_codec` arguments."""
    unknown = sorted(set(overrides) - set(encodec_24khz_config()))
    if unknown:
        raise ValueError(f"encodec_24khz got unknown arguments {unknown}; known: {sorted(encodec_24khz_config())}")
    return rvq_codec(**{**encodec_24khz_config(), **overrides})
