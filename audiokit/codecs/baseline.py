"""Classic waveform codecs as the trivial baseline of a neural codec at the same bitrate.

A bitrate of ``B`` bit/s spent on ``b``-bit samples allows ``B / b`` samples per second, so each
baseline resamples the audio to ``B / b`` Hz, quantises every sample to ``b`` bits and resamples back::

    wav (sr) -> resample to B/b Hz -> b-bit code per sample -> decode -> resample to sr

- ``mulaw``: G.711-style companding (mu = 2**b - 1) of each sample, uniform ``b``-bit levels in the
  companded domain; peak-normalised per signal (the scale is side information, not counted).
- ``adpcm``: IMA-style adaptive differential PCM: each ``b``-bit code is the sign and magnitude of the
  difference from the decoder's prediction (the previous decoded sample) in units of an adaptive step,
  which grows after large codes and shrinks after small ones (steps ``7 * 1.1**i``, as the IMA table).

:func:`best_baseline` tries every bit depth and both kinds and keeps the one a metric likes best on the
signal itself: a baseline tuned on the test data, so beating it is a fair claim.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from audiokit.audio.resample import resample
from audiokit.utils import AudiokitError

KINDS = ("mulaw", "adpcm")
_STEPS = np.minimum(np.round(7.0 * 1.1 ** np.arange(89)), 32767.0) / 32768.0  # IMA-like step sizes, full scale 1


def _check(wav: torch.Tensor, sample_rate: int, bitrate: float, bits: int, kind: str) -> int:
    if not isinstance(wav, torch.Tensor) or wav.dim() != 2:
        raise AudiokitError(f"baseline codec: expected wav as a (channels, time) tensor, got "
                            f"{tuple(wav.shape) if isinstance(wav, torch.Tensor) else type(wav).__name__}")
    if kind not in KINDS:
        raise AudiokitError(f"baseline codec: kind must be one of {KINDS}, got {kind!r}")
    if not 2 <= int(bits) <= 16:
        raise AudiokitError(f"baseline codec: bits must be in 2..16, got {bits}")
    rate = int(round(float(bitrate) / int(bits)))
    if rate < 100 or bitrate <= 0:
        raise AudiokitError(f"baseline codec: {bitrate} bit/s at {bits} bits per sample leaves {rate} samples/s "
                            "(at least 100 needed)")
    return min(rate, int(sample_rate))


def mulaw_codes(x: np.ndarray, bits: int) -> np.ndarray:
    """Samples in [-1, 1] -> codes 0 .. 2**bits - 1 (mu-law companded, uniform levels)."""
    mu = 2**bits - 1
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)  # [-1, 1]
    return np.clip(np.round((y + 1) / 2 * mu), 0, mu).astype(np.int64)


def mulaw_decode(codes: np.ndarray, bits: int) -> np.ndarray:
    mu = 2**bits - 1
    y = codes.astype(np.float64) / mu * 2 - 1
    return np.sign(y) * np.expm1(np.abs(y) * math.log1p(mu)) / mu


def adpcm_roundtrip(x: np.ndarray, bits: int) -> np.ndarray:
    """Encode and decode one channel (samples in [-1, 1]) with ``bits``-bit ADPCM; returns the decoded signal.

    The encoder runs the decoder's own state (prediction, step index), so the two never drift apart.
    """
    levels = 2 ** (bits - 1) - 1  # magnitude codes 0..levels, plus a sign bit
    # step index change after a code of magnitude m: shrink for small codes, grow for large ones (IMA: -1..8)
    change = np.round(np.interp(np.arange(levels + 1), [0, levels / 2, levels], [-1, -1, 8])).astype(int)
    out = np.empty_like(x, dtype=np.float64)
    pred, index = 0.0, 0
    for t, sample in enumerate(x.astype(np.float64)):
        step = _STEPS[index]
        diff = sample - pred
        magnitude = min(int(abs(diff) / step + 0.5), levels)
        pred = float(np.clip(pred + math.copysign(magnitude * step, diff), -1.0, 1.0))
        out[t] = pred
        index = int(np.clip(index + change[magnitude], 0, len(_STEPS) - 1))
    return out


def baseline_codec(wav: torch.Tensor, sample_rate: int, bitrate: float, bits: int = 4,
                   kind: str = "adpcm") -> torch.Tensor:
    """``wav (channels, time)`` through a ``kind`` codec at ``bitrate`` bit/s per channel with ``bits``-bit
    samples; returns the decoded ``(channels, time)`` at ``sample_rate``."""
    rate = _check(wav, sample_rate, bitrate, bits, kind)
    low = resample(wav.float(), int(sample_rate), rate) if rate != sample_rate else wav.float()
    peak = float(low.abs().max().clamp_min(1e-8))
    x = (low / peak).double().numpy()
    if kind == "mulaw":
        y = mulaw_decode(mulaw_codes(x, bits), bits)
    else:
        y = np.stack([adpcm_roundtrip(ch, bits) for ch in x])
    out = torch.from_numpy(y).float() * peak
    if rate != sample_rate:
        out = resample(out, rate, int(sample_rate))
    length = wav.shape[-1]
    if out.shape[-1] < length:
        out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
    return out[..., :length]


def best_baseline(wav: torch.Tensor, sample_rate: int, bitrate: float,
                  distance: Callable[[torch.Tensor, torch.Tensor], float],
                  bits: tuple[int, ...] = (2, 3, 4, 5, 6, 8)) -> tuple[torch.Tensor, dict]:
    """The baseline (kind, bits) with the lowest ``distance(decoded, wav)``; returns it and its settings."""
    best = None
    for kind in KINDS:
        for b in bits:
            if bitrate / b < 100:
                continue
            decoded = baseline_codec(wav, sample_rate, bitrate, b, kind)
            d = float(distance(decoded, wav))
            if best is None or d < best[0]:
                best = (d, decoded, {"kind": kind, "bits": b, "sample_rate": int(round(bitrate / b))})
    if best is None:
        raise AudiokitError(f"baseline codec: no bit depth fits {bitrate} bit/s")
    return best[1], best[2]
