"""Peak/RMS/BS.1770-4 loudness: the standard's coefficients and reference tones, gating, pyloudnorm parity."""
import math

import numpy as np
import pytest
import torch

from audiokit.audio import (
    AudioError,
    LoudnessNormalize,
    integrated_loudness,
    loudness_normalize,
    peak_normalize,
    rms,
)
from audiokit.audio.loudness import k_weighting_filters


def tone(sample_rate: int, seconds: float, hz: float = 997.0, dbfs: float = 0.0) -> torch.Tensor:
    """A sine of peak amplitude ``dbfs`` dB re full scale: ``(T,)`` float64."""
    t = torch.arange(round(seconds * sample_rate), dtype=torch.float64) / sample_rate
    return 10 ** (dbfs / 20) * torch.sin(2 * math.pi * hz * t)


def noise(channels: int, sample_rate: int, seconds: float, seed: int = 0) -> torch.Tensor:
    """``(channels, T)`` float64 white noise with a different level per channel and a quiet first 0.5 s."""
    rng = np.random.default_rng(seed)
    levels = np.array([0.1, 0.05, 0.02, 0.1, 0.03])[:channels, None]
    x = rng.standard_normal((channels, round(seconds * sample_rate))) * levels
    x[:, : sample_rate // 2] *= 1e-3
    return torch.from_numpy(x)


def test_k_weighting_at_48k_reproduces_the_tables_of_bs1770():
    (shelf_b, shelf_a), (highpass_b, highpass_a) = k_weighting_filters(48000)
    np.testing.assert_allclose(shelf_b, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-12)
    np.testing.assert_allclose(shelf_a, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-12)
    np.testing.assert_allclose(highpass_b, [1.0, -2.0, 1.0], atol=0)
    np.testing.assert_allclose(highpass_a, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-12)


@pytest.mark.parametrize("sample_rate, tolerance", [(48000, 0.01), (44100, 0.01), (16000, 0.05)])
def test_full_scale_997_hz_sine_in_one_channel_reads_minus_3_01_lufs(sample_rate, tolerance):
    # BS.1770: a 0 dBFS 1 kHz sine in one channel is -3.01 LUFS (the -0.691 offset cancels the
    # K-weighting gain at 1 kHz). Measured -3.0103 (48k), -3.0075 (44.1k), -2.970 (16k, where the
    # bilinear warping of the 1.7 kHz shelf shows).
    loudness = integrated_loudness(tone(sample_rate, 2.0)[None], sample_rate)
    assert loudness.item() == pytest.approx(-3.01, abs=tolerance)


def test_channels_add_in_power_and_level_scales_in_db():
    sine = tone(48000, 2.0, dbfs=-20.0)
    assert integrated_loudness(sine[None], 48000).item() == pytest.approx(-23.01, abs=0.01)
    # The same signal in L and R carries twice the power: +3.01 LU.
    assert integrated_loudness(torch.stack([sine, sine]), 48000).item() == pytest.approx(-20.0, abs=0.01)
    # Surround channels 4 and 5 weigh 1.41 (+1.49 dB); channel 3 (centre) weighs 1.
    silent = torch.zeros_like(sine)
    surround = torch.stack([silent, silent, silent, sine, silent])
    centre = torch.stack([silent, silent, sine, silent, silent])
    surround_gain = 10 * math.log10(1.41)
    assert integrated_loudness(surround, 48000).item() == pytest.approx(-23.01 + surround_gain, abs=0.01)
    assert integrated_loudness(centre, 48000).item() == pytest.approx(-23.01, abs=0.01)


def test_gates_ignore_silence_and_material_10_lu_below():
    # 2 s of tone fill 17 whole 400 ms blocks; the 3 blocks straddling its end hold 3/4, 1/2 and 1/4
    # of it. Those three are within 10 LU of the rest, so the gates keep them: the mean kept power is
    # (17 + 0.75 + 0.5 + 0.25) / 20 of the tone's alone.
    sample_rate = 16000
    loud = tone(sample_rate, 2.0, dbfs=-20.0)
    alone = integrated_loudness(loud[None], sample_rate).item()
    straddling = 10 * math.log10((17 + 0.75 + 0.5 + 0.25) / 20)
    # Absolute gate: 3 s of digital silence after the tone adds only the straddling blocks.
    with_silence = torch.cat([loud, torch.zeros(3 * sample_rate, dtype=torch.float64)])
    assert integrated_loudness(with_silence[None], sample_rate).item() == pytest.approx(
        alone + straddling, abs=0.01
    )
    # Relative gate: 3 s of the same tone 30 dB lower is more than 10 LU below, so it is dropped too
    # (ungated, the mean power would fall by about 10 log10(2 / 5) = -4 dB).
    with_quiet = torch.cat([loud, tone(sample_rate, 3.0, dbfs=-50.0)])
    assert integrated_loudness(with_quiet[None], sample_rate).item() == pytest.approx(
        alone + straddling, abs=0.01
    )
    # ... whereas 2 s only 6 dB lower are kept: by symmetry the 37 blocks average to (1 + 10^-0.6) / 2.
    with_kept = torch.cat([loud, tone(sample_rate, 2.0, dbfs=-26.0)])
    expected = alone + 10 * math.log10((1 + 10 ** (-0.6)) / 2)
    assert integrated_loudness(with_kept[None], sample_rate).item() == pytest.approx(expected, abs=0.01)


def test_silence_measures_minus_infinity():
    assert integrated_loudness(torch.zeros(2, 16000), 16000).item() == -math.inf
    assert integrated_loudness(torch.full((1, 16000), 1e-5), 16000).item() == -math.inf  # below -70 LUFS


def test_batched_equals_single():
    batch = torch.stack([noise(2, 16000, 1.5, seed=0), 0.1 * noise(2, 16000, 1.5, seed=1)])  # (B, C, T)
    measured = integrated_loudness(batch, 16000)
    assert measured.shape == (2,)
    for i in range(2):
        assert measured[i].item() == pytest.approx(integrated_loudness(batch[i], 16000).item(), abs=1e-9)
    # Scaling by 0.1 is exactly -20 LU (the gates move with the level).
    unscaled = integrated_loudness(noise(2, 16000, 1.5, seed=1), 16000).item()
    assert measured[1].item() == pytest.approx(unscaled - 20.0, abs=1e-9)


@pytest.mark.parametrize("sample_rate", [48000, 44100, 16000])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_matches_pyloudnorm(sample_rate, channels):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    x = noise(channels, sample_rate, 2.5, seed=channels)
    ours = integrated_loudness(x, sample_rate).item()
    # With the same filter design ("DeMan": BS.1770's analog prototypes) the gating and block
    # arithmetic agree to rounding: measured 3e-12 LU.
    exact = pyloudnorm.Meter(sample_rate, filter_class="DeMan").integrated_loudness(x.numpy().T)
    assert ours == pytest.approx(exact, abs=1e-6)
    # pyloudnorm's default approximates the K-weighting shelf (4 dB at 1.5 kHz): measured 0.043 LU
    # at 48 kHz, 0.047 at 44.1 kHz, 0.125 at 16 kHz.
    default = pyloudnorm.Meter(sample_rate).integrated_loudness(x.numpy().T)
    assert ours == pytest.approx(default, abs=0.06 if sample_rate >= 44100 else 0.15)


def test_loudness_normalize_hits_target_without_touching_the_input():
    batch = torch.stack([noise(2, 16000, 1.5, seed=0), 0.01 * noise(2, 16000, 1.5, seed=1)]).float()
    before = batch.clone()
    out = loudness_normalize(batch, 16000, target_lufs=-23.0)
    assert torch.equal(batch, before)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(integrated_loudness(out, 16000).numpy(), [-23.0, -23.0], atol=1e-4)
    # One gain per example: the channel balance is kept.
    torch.testing.assert_close(out[:, 0] / out[:, 1], batch[:, 0] / batch[:, 1], rtol=1e-4, atol=0)
    module = LoudnessNormalize(sample_rate=16000, target_lufs=-23.0)
    torch.testing.assert_close(module(batch), out, rtol=0, atol=0)


def test_loudness_normalize_leaves_silent_examples_unchanged():
    batch = torch.stack([noise(1, 16000, 1.0).float(), torch.zeros(1, 16000)])
    out = loudness_normalize(batch, 16000, target_lufs=-20.0)
    assert torch.equal(out[1], batch[1])
    assert integrated_loudness(out[0], 16000).item() == pytest.approx(-20.0, abs=1e-4)


def test_peak_normalize_sets_each_examples_peak():
    x = torch.stack([noise(2, 8000, 1.0), 3.0 * noise(2, 8000, 1.0, seed=2), torch.zeros(2, 8000)]).float()
    before = x.clone()
    out = peak_normalize(x, target_db=-1.0)
    assert torch.equal(x, before)
    peaks = out.abs().amax(dim=(-2, -1))
    torch.testing.assert_close(peaks[:2], torch.full((2,), 10 ** (-1 / 20)), rtol=1e-6, atol=0)
    assert torch.equal(out[2], x[2])  # silence unchanged
    # One gain per example, shared by its channels.
    torch.testing.assert_close(out[0], x[0] * (peaks[0] / x[0].abs().max()), rtol=1e-6, atol=1e-9)
    mono = peak_normalize(tone(8000, 0.5, dbfs=-12.0), target_db=0.0)
    assert mono.abs().max().item() == pytest.approx(1.0, abs=1e-9)


def test_rms_of_a_sine_is_amplitude_over_root_two():
    t = torch.arange(16000, dtype=torch.float64) / 16000
    sine = 0.5 * torch.sin(2 * math.pi * 100 * t)  # 100 whole periods
    assert rms(torch.stack([sine, sine])).item() == pytest.approx(0.5 / math.sqrt(2), abs=1e-12)
    batch = torch.stack([sine[None], 2 * sine[None]])
    np.testing.assert_allclose(rms(batch).numpy(), [0.5 / math.sqrt(2), 1 / math.sqrt(2)], atol=1e-12)


def test_more_than_five_channels_need_explicit_weights():
    x = noise(5, 16000, 1.0).repeat(2, 1)[:6]
    with pytest.raises(AudioError, match="channel_weights"):
        integrated_loudness(x, 16000)
    weights = (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)  # 5.1 as L R C LFE Ls Rs
    with_lfe_muted = integrated_loudness(x, 16000, channel_weights=weights).item()
    x_without_lfe = x.clone()
    x_without_lfe[3] = 0.0
    assert with_lfe_muted == pytest.approx(
        integrated_loudness(x_without_lfe, 16000, channel_weights=weights).item(), abs=1e-9
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: integrated_loudness(torch.zeros(1, 6000), 16000), "at least 0.4 s"),
        (lambda: integrated_loudness(torch.zeros(16000), 16000), r"\(channels, time\)"),
        (lambda: integrated_loudness(torch.zeros(2, 16000), 16000, channel_weights=(1,)), "channel_weights"),
        (lambda: loudness_normalize(torch.zeros(1, 16000), -1), "sample_rate"),
        (lambda: peak_normalize(torch.zeros(1, 10, dtype=torch.int16)), "floating point"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(AudioError, match=message):
        call()
