"""Codec metrics as the codec papers report them: mel distance, PESQ (wide band), STOI, codebook utilisation.

- :func:`mel_distance`: DAC's multi-resolution log-mel L1 (7 resolutions, windows 32 .. 2048 samples,
  5 .. 320 mel bands), **summed** over resolutions (:class:`audiokit.losses.gan.MultiResolutionMelLoss`):
  lower is better; identical signals score 0.
- :func:`pesq_wb`: ITU-T P.862.2 wide-band PESQ (MOS-LQO, about 1.0 .. 4.64) through the ``pesq``
  package at 16 kHz (other rates are resampled); :func:`stoi`: short-time objective intelligibility
  (0 .. 1) through ``pystoi`` (resampled internally to 10 kHz). Both packages come with
  ``pip install audiokit[codec-metrics]``; without them these functions raise a clear error.
- :func:`codebook_utilisation`: per codebook, the entropy of the codes used over a set of utterances
  divided by ``log2(codebook_size)`` (ESC's "bitrate utilisation": 1 when every code is equally likely),
  their perplexity and the share of codes used at least once.

Multi-resolution STFT distance and SI-SDR live in :mod:`audiokit.metrics.signal`.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from audiokit.audio.resample import resample
from audiokit.utils import AudiokitError

PESQ_SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=4)
def _mel_loss(sample_rate: int):
    from audiokit.losses.gan import MultiResolutionMelLoss

    return MultiResolutionMelLoss(sample_rate)


def mel_distance(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> float:
    """DAC's multi-resolution log-mel L1 between ``(channels, time)`` (or ``(time,)``) signals, summed over
    resolutions; needs more than 1024 samples."""
    if pred.shape != target.shape:
        raise ValueError(f"mel_distance: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    with torch.no_grad():
        return float(_mel_loss(int(sample_rate))(pred.float(), target.float()))


def _mono_16k(x: torch.Tensor, sample_rate: int, rate: int) -> np.ndarray:
    x = x.float().reshape(-1, x.shape[-1]).mean(0)
    return resample(x, int(sample_rate), rate).double().numpy()


def pesq_wb(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> float:
    """Wide-band PESQ of ``pred`` against ``target`` (channel average, resampled to 16 kHz); NaN when PESQ finds
    no speech in the reference."""
    try:
        from pesq import NoUtterancesError, pesq
    except ImportError as err:
        raise AudiokitError("PESQ needs the 'pesq' package: pip install 'audiokit[codec-metrics]'") from err
    ref, deg = _mono_16k(target, sample_rate, PESQ_SAMPLE_RATE), _mono_16k(pred, sample_rate, PESQ_SAMPLE_RATE)
    try:
        return float(pesq(PESQ_SAMPLE_RATE, ref, deg, "wb"))
    except NoUtterancesError:
        return math.nan


def stoi(pred: torch.Tensor, target: torch.Tensor, sample_rate: int) -> float:
    """STOI of ``pred`` against ``target`` (channel average), 0 .. 1, higher is more intelligible."""
    try:
        from pystoi import stoi as _stoi
    except ImportError as err:
        raise AudiokitError("STOI needs the 'pystoi' package: pip install 'audiokit[codec-metrics]'") from err
    ref = target.float().reshape(-1, target.shape[-1]).mean(0).double().numpy()
    deg = pred.float().reshape(-1, pred.shape[-1]).mean(0).double().numpy()
    return float(_stoi(ref, deg, int(sample_rate), extended=False))


def codebook_utilisation(codes: torch.Tensor, codebook_size: int) -> dict[str, list[float]]:
    """Usage of each codebook over ``codes`` ``(..., K, frames)`` (all leading axes pooled).

    Returns ``{"entropy_ratio": [K], "perplexity": [K], "used_fraction": [K]}``: entropy in bits divided by
    ``log2(codebook_size)``, ``2 ** entropy``, and the share of the ``codebook_size`` codes that occur.
    """
    if codes.dim() < 2:
        raise ValueError(f"codebook_utilisation: expected codes (..., codebooks, frames), got {tuple(codes.shape)}")
    k = codes.shape[-2]
    flat = codes.transpose(-2, -1).reshape(-1, k).long()  # (..., K, F) -> (N, K)
    out = {"entropy_ratio": [], "perplexity": [], "used_fraction": []}
    for i in range(k):
        counts = torch.bincount(flat[:, i], minlength=codebook_size).double()
        p = counts / counts.sum().clamp_min(1)
        entropy = float(-(torch.xlogy(p, p)).sum() / math.log(2))
        out["entropy_ratio"].append(entropy / math.log2(codebook_size))
        out["perplexity"].append(2.0 ** entropy)
        out["used_fraction"].append(float((counts > 0).double().mean()))
    return out
