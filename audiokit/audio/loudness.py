"""Level measurement and normalisation: peak, RMS and ITU-R BS.1770-4 integrated loudness (LUFS).

Integrated loudness, as implemented here (BS.1770-4, Annex 1 and 2):

1. K-weighting: a high-shelf (+4 dB above ~1.7 kHz, the head's acoustic effect) followed by a
   high-pass (~38 Hz, the "RLB" curve). Both biquads are derived for *any* sample rate by the bilinear
   transform of analog prototypes whose parameters were fitted so that at 48 kHz they reproduce the
   coefficient tables of the standard (to ~1e-8, see the tests).
2. Mean square per channel over 400 ms blocks with 75 % overlap (100 ms step); only whole blocks, so a
   signal of ``T`` samples has ``1 + (T - block) // step`` of them (block = round(0.4 fs), step =
   round(0.1 fs)).
3. Block loudness ``l_j = -0.691 + 10 log10(sum_c G_c z_cj)`` with channel weights ``G = (1, 1, 1, 1.41,
   1.41)`` for the first five channels (L, R, C, Ls, Rs in the standard's order). Other layouts (5.1
   with LFE, ambisonics, ...) must pass ``channel_weights`` explicitly.
4. Absolute gate: keep blocks above -70 LUFS; relative gate: keep those also above (loudness of the
   absolute-gated blocks - 10 LU). The result is the loudness of the mean power of the kept blocks.

A signal with no block above -70 LUFS (silence) measures ``-inf``; the normalisers leave such examples
unchanged rather than raising, so one silent item does not break a batch. Nothing here modifies its
input in place, and no limiter is applied: loudness normalisation can push peaks past 0 dBFS.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from audiokit.audio._validate import check_sample_rate, check_signal
from audiokit.audio.io import AudioError

BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LOUDNESS_OFFSET = -0.691  # cancels the K-weighting gain at 1 kHz
SURROUND_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)

# Analog prototypes of the two K-weighting stages (fitted to the 48 kHz tables of BS.1770).
_SHELF_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_BANDWIDTH_EXPONENT = 0.4996667741545416
_HIGHPASS_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------

Biquad = tuple[tuple[float, float, float], tuple[float, float, float]]  # ((b0, b1, b2), (1, a1, a2))


def k_weighting_filters(sample_rate: int) -> tuple[Biquad, Biquad]:
    """The two K-weighting biquads ``((b, a), (b, a))`` for ``sample_rate`` Hz, with ``a[0] = 1``."""
    sample_rate = check_sample_rate(sample_rate)
    # Stage 1: high shelf.
    k = math.tan(math.pi * _SHELF_HZ / sample_rate)
    v_high = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    v_band = v_high**_SHELF_BANDWIDTH_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf_b = (
        (v_high + v_band * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - v_high) / a0,
        (v_high - v_band * k / _SHELF_Q + k * k) / a0,
    )
    shelf_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _SHELF_Q + k * k) / a0)
    # Stage 2: second-order high-pass (numerator kept at 1, -2, 1 as in the standard's table).
    k = math.tan(math.pi * _HIGHPASS_HZ / sample_rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    highpass_b = (1.0, -2.0, 1.0)
    highpass_a = (1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0)
    return (shelf_b, shelf_a), (highpass_b, highpass_a)


def k_weight(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Apply K-weighting along the last axis, in float64 (the 38 Hz pole is too close to 1 for float32)."""
    out = wav.to(torch.float64)
    for b, a in k_weighting_filters(sample_rate):
        b_coeffs = torch.tensor(b, dtype=torch.float64, device=wav.device)
        a_coeffs = torch.tensor(a, dtype=torch.float64, device=wav.device)
        out = torchaudio.functional.lfilter(out, a_coeffs, b_coeffs, clamp=False)
    return out


def _channel_weights(num_channels: int, channel_weights: Sequence[float] | None) -> tuple[float, ...]:
    if channel_weights is not None:
        weights = tuple(float(w) for w in channel_weights)
        if len(weights) != num_channels:
            raise AudioError(f"got {len(weights)} channel_weights for {num_channels}-channel audio")
        if any(w < 0 for w in weights):
            raise AudioError(f"channel_weights must be non-negative, got {weights}")
        return weights
    if num_channels > len(SURROUND_WEIGHTS):
        raise AudioError(
            f"no default BS.1770 channel weights for {num_channels} channels (defaults cover up to 5: "
            f"L, R, C, Ls, Rs); pass channel_weights, e.g. (1, 1, 1, 0, 1.41, 1.41) for 5.1 as "
            f"L, R, C, LFE, Ls, Rs"
        )
    return SURROUND_WEIGHTS[:num_channels]


def _check_multichannel(wav: object, what: str) -> torch.Tensor:
    check_signal(wav, what, min_dim=1)
    if wav.dim() < 2:
        raise AudioError(
            f"{what}: expected (channels, time) or (batch, channels, time), got shape {tuple(wav.shape)}"
        )
    return wav


def _example_dims(wav: torch.Tensor) -> tuple[int, ...]:
    """Dimensions forming one example: ``(channels, time)``, or ``(time,)`` for a 1-D signal."""
    return (-2, -1) if wav.dim() >= 2 else (-1,)


def _gain_to_example(gain: torch.Tensor, wav: torch.Tensor) -> torch.Tensor:
    """Broadcast a per-example gain ``(...,)`` against ``wav`` ``(..., C, T)``."""
    return gain.reshape(*gain.shape, *([1] * len(_example_dims(wav))))


# ---------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------


def rms(wav: torch.Tensor) -> torch.Tensor:
    """Root mean square per example (over channels and time): ``(..., C, T) -> (...)``, linear scale."""
    check_signal(wav, "rms input", min_dim=1)
    return wav.square().mean(dim=_example_dims(wav)).sqrt()


def integrated_loudness(
    wav: torch.Tensor, sample_rate: int, *, channel_weights: Sequence[float] | None = None
) -> torch.Tensor:
    """ITU-R BS.1770-4 integrated loudness in LUFS, per example: ``(..., C, T) -> (...)`` float64.

    ``-inf`` where no 400 ms block is louder than -70 LUFS (e.g. digital silence).

    Args:
        wav: ``(channels, time)`` or ``(batch, channels, time)`` audio, at least 0.4 s long.
        sample_rate: rate of ``wav`` in Hz.
        channel_weights: one weight per channel (default ``(1, 1, 1, 1.41, 1.41)[:C]``, up to 5 channels).
    """
    _check_multichannel(wav, "integrated_loudness input")
    sample_rate = check_sample_rate(sample_rate)
    weights = _channel_weights(wav.shape[-2], channel_weights)
    block, step = round(BLOCK_SECONDS * sample_rate), round(STEP_SECONDS * sample_rate)
    if wav.shape[-1] < block:
        raise AudioError(
            f"integrated_loudness needs at least {BLOCK_SECONDS} s ({block} samples at {sample_rate} Hz), "
            f"got {wav.shape[-1]} samples"
        )
    lead, (num_channels, length) = wav.shape[:-2], wav.shape[-2:]
    filtered = k_weight(wav.reshape(-1, num_channels, length), sample_rate)  # (..., C, T) -> (N, C, T)
    block_power = F.avg_pool1d(filtered.square(), kernel_size=block, stride=step)  # (N, C, J): z_cj
    g = torch.tensor(weights, dtype=torch.float64, device=wav.device)
    weighted = torch.einsum("c,ncj->nj", g, block_power)  # (N, J): sum_c G_c z_cj
    block_loudness = LOUDNESS_OFFSET + 10.0 * torch.log10(weighted)

    def gated_mean(keep: torch.Tensor) -> torch.Tensor:  # mean power of the kept blocks, 0 if none
        return (weighted * keep).sum(-1) / keep.sum(-1).clamp(min=1)

    above_absolute = block_loudness > ABSOLUTE_GATE_LUFS
    relative_gate = LOUDNESS_OFFSET + 10.0 * torch.log10(gated_mean(above_absolute)) + RELATIVE_GATE_LU
    kept = above_absolute & (block_loudness > relative_gate[:, None])
    loudness = LOUDNESS_OFFSET + 10.0 * torch.log10(gated_mean(kept))  # log10(0) = -inf when nothing kept
    return loudness.reshape(lead)


# ---------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------


def peak_normalize(wav: torch.Tensor, target_db: float = -1.0) -> torch.Tensor:
    """Scale each example so its largest absolute sample is ``target_db`` dBFS; returns a new tensor.

    An example is one ``(channels, time)`` waveform (all channels share one gain, keeping the balance).
    All-zero examples are returned unchanged.

    Args:
        wav: ``(..., channels, time)`` audio (or a 1-D ``(time,)`` signal).
        target_db: wanted peak in dB relative to full scale 1.0 (default -1.0).
    """
    check_signal(wav, "peak_normalize input", min_dim=1)
    peak = wav.abs().amax(dim=_example_dims(wav))  # (...,)
    target = 10.0 ** (target_db / 20.0)
    gain = torch.where(peak > 0, target / peak.clamp(min=torch.finfo(peak.dtype).tiny), torch.ones_like(peak))
    return wav * _gain_to_example(gain, wav)


def loudness_normalize(
    wav: torch.Tensor,
    sample_rate: int,
    target_lufs: float = -23.0,
    *,
    channel_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Scale each example to ``target_lufs`` BS.1770-4 integrated loudness; returns a new tensor.

    Examples measuring ``-inf`` (nothing above the -70 LUFS gate, e.g. silence) are returned unchanged.
    No limiting: peaks may exceed 0 dBFS after a large gain.

    Args:
        wav: ``(channels, time)`` or ``(batch, channels, time)`` audio, at least 0.4 s long.
        sample_rate: rate of ``wav`` in Hz.
        target_lufs: wanted integrated loudness in LUFS (default -23, EBU R128).
        channel_weights: per-channel BS.1770 weights (default ``(1, 1, 1, 1.41, 1.41)[:C]``).
    """
    loudness = integrated_loudness(wav, sample_rate, channel_weights=channel_weights)  # (...,)
    gain_db = torch.where(torch.isfinite(loudness), target_lufs - loudness, torch.zeros_like(loudness))
    gain = (10.0 ** (gain_db / 20.0)).to(wav.dtype)
    return wav * _gain_to_example(gain, wav)


class LoudnessNormalize(nn.Module):
    """Module form of :func:`loudness_normalize`: ``(..., C, T) -> (..., C, T)`` at ``target_lufs``.

    Args:
        sample_rate: rate of the input in Hz.
        target_lufs: wanted integrated loudness in LUFS (default -23, EBU R128).
        channel_weights: per-channel BS.1770 weights (default ``(1, 1, 1, 1.41, 1.41)[:C]``).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        target_lufs: float = -23.0,
        channel_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.target_lufs = float(target_lufs)
        self.channel_weights = None if channel_weights is None else tuple(float(w) for w in channel_weights)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return loudness_normalize(
            wav, self.sample_rate, self.target_lufs, channel_weights=self.channel_weights
        )

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, target_lufs={self.target_lufs}"
