"""Audio file I/O: round trips per format, exact spans, atomic writes, and errors that name the file."""
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.audio import AudioError, AudioInfo, check_waveform, info, load, resample, save
from audiokit.audio.io import load_frames

SAMPLE_RATE = 16000


def tones(channels: int, length: int = SAMPLE_RATE, seed: int = 3) -> torch.Tensor:
    """``(channels, length)`` float32: 4 random tones of 100-1000 Hz per channel, peak below 0.8."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SAMPLE_RATE
    freqs = rng.uniform(100.0, 1000.0, size=(channels, 4, 1))
    return torch.from_numpy((0.2 * np.sin(2 * np.pi * freqs * t).sum(axis=1)).astype(np.float32))


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.square().sum() / (reference - estimate).square().sum()))


def leftovers(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith("."))


# ---------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2, 16])
def test_wav_float_round_trip_is_exact(tmp_path, channels):
    x = tones(channels) * 1.5  # float WAV keeps values beyond full scale too
    path = save(tmp_path / "a.wav", x, SAMPLE_RATE)
    y, sample_rate = load(path)
    assert sample_rate == SAMPLE_RATE and y.dtype == torch.float32
    assert torch.equal(y, x)
    assert info(path) == AudioInfo(str(path), SAMPLE_RATE, SAMPLE_RATE, channels, "WAV", "FLOAT")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("channels", [1, 2, 8])
def test_flac_pcm16_round_trip_within_one_lsb(tmp_path, channels):
    x = tones(channels)
    y, _ = load(save(tmp_path / "a.flac", x, SAMPLE_RATE, subtype="PCM_16"))
    assert y.shape == x.shape
    assert (y - x).abs().max() <= 1 / 32768  # quantisation to 16 bits: at most one step


def test_flac_refuses_more_than_8_channels_with_a_clear_error(tmp_path):
    with pytest.raises(AudioError, match=r"a\.flac.*at most 8 channels, got 16"):
        save(tmp_path / "a.flac", tones(16), SAMPLE_RATE)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("channels", [1, 2, 16])
def test_ogg_vorbis_round_trip_is_close(tmp_path, channels):
    x = tones(channels)
    y, _ = load(save(tmp_path / "a.ogg", x, SAMPLE_RATE))
    assert y.shape == x.shape
    # Lossy: per-channel waveform SNR measured 25.1-32.1 dB for these tones at the default quality.
    assert min(snr_db(x[c], y[c]) for c in range(channels)) > 20.0


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_offset_and_duration_read_exactly_the_requested_span(tmp_path, ext):
    path = save(tmp_path / f"a.{ext}", tones(2), SAMPLE_RATE)
    full, _ = load(path)
    for offset, duration in [(0.25, 0.3), (0.0, 0.1), (0.9, None), (0.5, 2.0)]:  # the last runs past the end
        span, _ = load(path, offset=offset, duration=duration)
        start = round(offset * SAMPLE_RATE)
        stop = None if duration is None else start + round(duration * SAMPLE_RATE)
        assert torch.equal(span, full[:, start:stop])
    assert load(path, offset=0.25, duration=0.3)[0].shape == (2, 4800)


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_load_frames_is_sample_exact_and_zero_pads_past_the_end(tmp_path, ext):
    path = save(tmp_path / f"a.{ext}", tones(2, length=1000), SAMPLE_RATE)
    full, _ = load(path)
    assert torch.equal(load_frames(path, 123, 456), full[:, 123:579])
    assert torch.equal(load_frames(path), full)
    tail = load_frames(path, 900, 300)  # 100 real frames, then 200 zeros
    assert tail.shape == (2, 300)
    assert torch.equal(tail[:, :100], full[:, 900:]) and tail[:, 100:].abs().max() == 0
    with pytest.raises(AudioError, match=rf"frame 1001 is outside '.*a\.{ext}'"):
        load_frames(path, 1001, 10)


def test_mono_averages_channels(tmp_path):
    x = tones(2)
    y, _ = load(save(tmp_path / "a.wav", x, SAMPLE_RATE), mono=True)
    torch.testing.assert_close(y, x.mean(dim=0, keepdim=True), rtol=0, atol=0)


def test_load_resamples_on_request(tmp_path):
    x = tones(2)
    path = save(tmp_path / "a.wav", x, SAMPLE_RATE)
    y, sample_rate = load(path, sample_rate=8000)
    assert sample_rate == 8000
    assert y.shape == (2, 8000)
    torch.testing.assert_close(y, resample(x, SAMPLE_RATE, 8000), rtol=0, atol=0)
    # Tones below 1 kHz survive halving the rate: every other sample matches, away from the edges.
    torch.testing.assert_close(y[:, 100:-100], x[:, 200:-200:2], atol=1e-4, rtol=0)


def test_save_accepts_numpy_integer_rate_and_pcm_subtypes(tmp_path):
    path = save(tmp_path / "a.wav", tones(1), np.int64(SAMPLE_RATE), subtype="PCM_24")
    assert info(path).subtype == "PCM_24" and info(path).sample_rate == SAMPLE_RATE
    assert (load(path)[0] - tones(1)).abs().max() <= 2**-23


# ---------------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------------


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    old = tones(1)
    save(path, old, SAMPLE_RATE)
    real_write = sf.SoundFile.write

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])  # a half-written temp file exists now
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", write_half_then_fail)
    with pytest.raises(AudioError, match=r"a\.wav.*disk full"):
        save(path, tones(1, seed=9), SAMPLE_RATE)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["a.wav"]
    assert torch.equal(load(path)[0], old)


# ---------------------------------------------------------------------------------------------------
# Bad input: an AudioError that names the file
# ---------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"not found.*nothere\.wav"):
        load(tmp_path / "nothere.wav")
    with pytest.raises(AudioError, match=r"nothere\.wav"):
        info(tmp_path / "nothere.wav")


def test_text_file_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not samples\n" * 10)
    with pytest.raises(AudioError, match=r"notes\.wav"):
        load(path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.flac"):
        load(path)


def test_valid_header_without_samples(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros((0, 1), dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nosamples\.wav.*zero length"):
        load(path)
    assert load(path, allow_empty=True)[0].shape == (1, 0)


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = np.zeros((100, 2), dtype=np.float32)
    data[50, 1] = np.nan
    sf.write(path, data, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):
        load(path)


def test_channel_mismatch(tmp_path):
    path = save(tmp_path / "stereo.wav", tones(2), SAMPLE_RATE)
    with pytest.raises(AudioError, match=r"expected 1-channel audio, got 2 channels in '.*stereo\.wav'"):
        load(path, channels=1)
    assert load(path, channels=2)[0].shape[0] == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sample_rate=0), "sample_rate"),
        (dict(sample_rate=22050.5), "sample_rate"),
        (dict(offset=-1.0), "negative offset"),
        (dict(duration=-0.5), "negative offset"),
        (dict(offset=5.0), "past the end"),
        (dict(offset=0.5, duration=0.0), "zero length"),
    ],
)
def test_bad_load_arguments_name_the_file(tmp_path, kwargs, message):
    path = save(tmp_path / "clip.wav", tones(1), SAMPLE_RATE)
    with pytest.raises(AudioError, match=message) as excinfo:
        load(path, **kwargs)
    assert "clip.wav" in str(excinfo.value)


@pytest.mark.parametrize(
    "name, wav, sample_rate, message",
    [
        ("a.mp3", tones(1), SAMPLE_RATE, "extension"),
        ("a.wav", tones(1)[0], SAMPLE_RATE, r"\(channels, time\)"),
        ("a.wav", torch.zeros(1, 0), SAMPLE_RATE, "zero-length"),
        ("a.wav", torch.tensor([[0.0, float("nan")]]), SAMPLE_RATE, "NaN"),
        ("a.wav", tones(1), 0, "sample_rate"),
        ("a.wav", tones(1), True, "sample_rate"),
        ("a.flac", tones(1), SAMPLE_RATE, None),  # valid: control case
    ],
)
def test_bad_save_arguments_name_the_file(tmp_path, name, wav, sample_rate, message):
    if message is None:
        assert save(tmp_path / name, wav, sample_rate).exists()
        return
    with pytest.raises(AudioError, match=message) as excinfo:
        save(tmp_path / name, wav, sample_rate)
    assert name in str(excinfo.value)
    assert os.listdir(tmp_path) == []


def test_check_waveform():
    x = torch.zeros(2, 10)
    assert check_waveform(x) is x
    for bad, message in [(np.zeros((2, 10)), "torch.Tensor"), (torch.zeros(10), "shape"),
                         (torch.full((1, 3), float("inf")), "Inf")]:
        with pytest.raises(AudioError, match=message):
            check_waveform(bad, "mixture")
