"""Codec metrics: mel distance (0 for identical signals, growing with noise), wide-band PESQ and STOI at their
maxima for identical speech-like signals and lower with noise, and codebook utilisation computed by hand."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from audiokit.metrics import codebook_utilisation, mel_distance, pesq_wb, stoi
from audiokit.utils import AudiokitError

RATE = 16000
NOISE_LEVELS = (0.003, 0.01, 0.03)  # white noise std against a 0.5 peak signal


def speech_like(seconds: float = 3.0, rate: int = RATE) -> torch.Tensor:
    """``(1, T)`` voiced 'syllables': a gliding 95..155 Hz pitch, harmonics shaped by three formants, 4 bursts
    a second with silent gaps between them (what PESQ's voice activity detection and STOI expect)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 25 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = np.zeros_like(t)
    for k in range(1, 40):
        amp = sum(np.exp(-0.5 * ((k * f0 - fc) / bw) ** 2) for fc, bw in ((500, 80), (1500, 120), (2500, 160)))
        x += np.where(k * f0 < rate / 2 - 200, amp + 0.05 / k, 0.0) * np.sin(k * phase)
    x *= np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None) ** 0.7
    return torch.from_numpy((0.5 * x / np.abs(x).max()).astype(np.float32))[None]


@pytest.fixture(scope="module")
def clean_and_noisy() -> tuple[torch.Tensor, list[torch.Tensor]]:
    x = speech_like()
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return x, [x + level * n for level in NOISE_LEVELS]


# ------------------------------------------------------------------------------------------------ mel distance
def test_mel_distance_is_zero_for_identical_signals_and_grows_with_noise(clean_and_noisy):
    x, noisy = clean_and_noisy
    assert mel_distance(x, x.clone(), RATE) == 0.0
    distances = [mel_distance(y, x, RATE) for y in noisy]
    assert 0 < distances[0] < distances[1] < distances[2]
    assert mel_distance(x, noisy[1], RATE) == pytest.approx(distances[1], rel=1e-6)  # symmetric
    assert mel_distance(noisy[1][0], x[0], RATE) == pytest.approx(distances[1], rel=1e-6)  # (time,) as (1, time)
    with pytest.raises(ValueError, match=r"pred \(1, 100\) and target \(1, 101\) differ in shape"):
        mel_distance(torch.zeros(1, 100), torch.zeros(1, 101), RATE)


# ------------------------------------------------------------------------------------------------ PESQ, STOI
def test_pesq_wb_at_its_maximum_for_identical_speech_and_lower_with_noise(clean_and_noisy):
    pytest.importorskip("pesq")
    x, noisy = clean_and_noisy
    assert pesq_wb(x, x.clone(), RATE) == pytest.approx(4.644, abs=0.01)  # P.862.2's ceiling
    assert pesq_wb(speech_like(rate=8000), speech_like(rate=8000), 8000) == pytest.approx(4.644, abs=0.01)  # resampled
    scores = [pesq_wb(y, x, RATE) for y in noisy]
    assert 4.0 > scores[0] > scores[1] > scores[2] >= 1.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_pesq_wb_is_nan_without_speech_in_the_reference():
    pytest.importorskip("pesq")
    assert math.isnan(pesq_wb(torch.zeros(1, RATE), torch.zeros(1, RATE), RATE))


def test_stoi_at_its_maximum_for_identical_speech_and_lower_with_noise(clean_and_noisy):
    pytest.importorskip("pystoi")
    x, noisy = clean_and_noisy
    assert stoi(x, x.clone(), RATE) == pytest.approx(1.0, abs=1e-6)
    scores = [stoi(y, x, RATE) for y in noisy]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0
    # channels are averaged: a stereo copy of the mono signal scores as the mono one
    assert stoi(noisy[1].repeat(2, 1), x.repeat(2, 1), RATE) == pytest.approx(scores[1], abs=1e-9)


def test_missing_packages_raise_a_clear_error(monkeypatch):
    x = torch.zeros(1, RATE)
    monkeypatch.setitem(sys.modules, "pesq", None)  # import pesq -> ImportError
    monkeypatch.setitem(sys.modules, "pystoi", None)
    with pytest.raises(AudiokitError, match=r"PESQ needs the 'pesq' package: pip install 'audiokit\[codec-metrics\]'"):
        pesq_wb(x, x, RATE)
    with pytest.raises(AudiokitError, match=r"STOI needs the 'pystoi' package"):
        stoi(x, x, RATE)


# ------------------------------------------------------------------------------------------------ utilisation
def test_codebook_utilisation_by_hand():
    # (2 utterances, 3 codebooks, 4 frames), codebooks of 8 codes; pooled over the utterances (8 codes each):
    codes = torch.tensor([[[0, 0, 1, 1], [5, 5, 5, 5], [0, 0, 0, 0]],
                          [[2, 2, 3, 3], [5, 5, 5, 5], [0, 0, 1, 2]]])
    out = codebook_utilisation(codes, 8)
    # codebook 0: 0, 1, 2, 3 twice each: 2 bits of entropy of log2(8) = 3; perplexity 4; 4 of 8 codes used
    # codebook 1: only 5: 0 bits, perplexity 1, 1 of 8 codes
    # codebook 2: 0 six times, 1 and 2 once: H = 6/8 log2(8/6) + 2 x 1/8 log2(8) = 0.75 log2(4/3) + 0.75 bits
    h2 = 0.75 * math.log2(4 / 3) + 0.75
    assert out["entropy_ratio"] == pytest.approx([2 / 3, 0.0, h2 / 3], abs=1e-12)
    assert out["perplexity"] == pytest.approx([4.0, 1.0, 2**h2], abs=1e-12)
    assert out["used_fraction"] == [0.5, 0.125, 0.375]
    # every code equally often: ratio 1, perplexity = codebook size, all used; leading axes pool alike
    uniform = codebook_utilisation(torch.arange(16).repeat(3, 2, 1, 1), 16)  # (3, 2, 1, 16)
    assert uniform == {"entropy_ratio": [pytest.approx(1.0)], "perplexity": [pytest.approx(16.0)],
                       "used_fraction": [1.0]}
    with pytest.raises(ValueError, match=r"expected codes \(\.\.\., codebooks, frames\), got \(5,\)"):
        codebook_utilisation(torch.zeros(5, dtype=torch.long), 8)
