"""Resampling: parity with soxr (librosa 'soxr_hq'), an analytic reference, and the output-length rule."""
import math

import librosa
import numpy as np
import pytest
import torch

from audiokit.audio import AudioError, Resample, resample
from audiokit.audio.resample import resampled_length

HALVE = dict(orig_sample_rate=16000, new_sample_rate=8000)
RATE_PAIRS = [(44100, 16000), (16000, 44100), (48000, 44100), (22050, 24000), (8000, 16000)]


def sines(sample_rate: int, length: int, max_hz: float, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Sum of 12 random sines per channel below ``max_hz``, sampled at ``sample_rate``: ``(C, T)`` float64.

    The same seed gives the same continuous signal at any rate, so it is its own analytic reference.
    """
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(20.0, max_hz, size=(channels, 12, 1))
    phases = rng.uniform(0.0, 2 * np.pi, size=(channels, 12, 1))
    amps = rng.uniform(0.1, 1.0, size=(channels, 12, 1))
    t = np.arange(length) / sample_rate
    return (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1) / 12


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10((reference**2).sum() / ((reference - estimate) ** 2).sum()))


@pytest.mark.parametrize("orig, new", RATE_PAIRS)
def test_matches_soxr_hq_and_analytic_signal_on_band_limited_audio(orig, new):
    length = orig // 2
    max_hz = 0.4 * min(orig, new)
    x = sines(orig, length, max_hz)
    y = resample(torch.from_numpy(x).float(), orig, new).double().numpy()
    expected = math.ceil(length * new / orig)
    assert y.shape == (2, expected)

    reference = librosa.resample(x, orig_sr=orig, target_sr=new, res_type="soxr_hq")
    assert abs(reference.shape[-1] - expected) <= 1  # librosa's float ceil can add one sample
    reference = reference[:, :expected]
    # Whole signal, edges included (each resampler treats the signal's boundary its own way):
    # measured 60.2-72.4 dB.
    assert snr_db(reference, y) > 55.0
    # Away from the edges the two agree to soxr HQ's own accuracy: measured 80.7-128.9 dB.
    edge = 200
    assert snr_db(reference[:, edge:-edge], y[:, edge:-edge]) > 75.0
    # ... and ours is closer to the exact continuous signal than that: measured 106-130 dB (float32).
    truth = sines(new, expected, max_hz)
    assert snr_db(truth[:, edge:-edge], y[:, edge:-edge]) > 100.0


@pytest.mark.parametrize("orig, new", RATE_PAIRS + [(16000, 16100), (48000, 8000)])
def test_output_length_is_ceil_of_t_times_ratio(orig, new):
    module = Resample(orig_sample_rate=orig, new_sample_rate=new)
    for length in [1, 2, 99, 160, 441, 4410, 4411]:
        expected = -(-length * new // orig)  # ceil in integer arithmetic
        assert resampled_length(length, orig, new) == expected
        assert module.output_length(length) == expected
        assert module(torch.zeros(1, length)).shape == (1, expected)
    assert resample(torch.zeros(3, 4411), orig, new).shape == (3, -(-4411 * new // orig))


def test_first_sample_stays_at_time_zero():
    # Upsampling by an integer factor keeps the original samples on the new grid (linear-phase kernel,
    # no delay): y[3 n] == x[n] away from the edges, to the filter's accuracy.
    x = sines(16000, 2000, 0.4 * 16000, channels=1)
    y = resample(torch.from_numpy(x), 16000, 48000).numpy()
    np.testing.assert_allclose(y[0, 3 * 300 : 3 * 1700 : 3], x[0, 300:1700], atol=1e-5)


def test_module_matches_function_and_keeps_leading_dims():
    x = torch.from_numpy(sines(44100, 4410, 0.4 * 16000, seed=3, channels=6)).float().reshape(2, 3, 4410)
    module = Resample(orig_sample_rate=44100, new_sample_rate=16000)
    y = module(x)
    assert y.shape == (2, 3, 1600)
    # Same kernel design; the module builds it once in float32, the function per call (measured 9e-7).
    torch.testing.assert_close(y, resample(x, 44100, 16000), atol=2e-6, rtol=0.0)
    # Batched equals one item at a time.
    torch.testing.assert_close(y[1], module(x[1]), atol=1e-7, rtol=0.0)
    assert module.state_dict() == {}  # the kernel is a cache, not a parameter to checkpoint


def test_equal_rates_are_the_identity():
    x = torch.randn(2, 100)
    assert resample(x, 16000, 16000) is x
    assert Resample(orig_sample_rate=8000, new_sample_rate=8000)(x) is x


def test_float64_module_after_to():
    x = torch.from_numpy(sines(16000, 1600, 6000.0))
    module = Resample(orig_sample_rate=16000, new_sample_rate=8000).to(torch.float64)
    y = module(x)
    assert y.dtype == torch.float64
    # The module's kernel was designed in float32 then converted (measured 2.9e-9 from a float64 design).
    torch.testing.assert_close(y, resample(x, 16000, 8000), atol=1e-8, rtol=0.0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: resample(torch.zeros(1, 10), 0, 16000), "orig_sample_rate"),
        (lambda: resample(torch.zeros(1, 10), 16000, 22050.5), "new_sample_rate"),
        (lambda: resample(torch.zeros(1, 10, dtype=torch.int16), 16000, 8000), "floating point"),
        (lambda: resample(np.zeros((1, 10)), 16000, 8000), "torch.Tensor"),
        (lambda: Resample(**HALVE)(torch.zeros(1, 10).double()), "float64"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(AudioError, match=message):
        call()
