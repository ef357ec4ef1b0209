"""Spectral front-ends: numeric parity with librosa, perfect reconstruction, batched equals single."""
import librosa
import numpy as np
import pytest
import torch

from audiokit.audio import ISTFT, MFCC, STFT, AudioError, LogMel, MelSpectrogram, Spectrogram
from audiokit.audio.features import dct_matrix, hz_to_mel, mel_filterbank, mel_to_hz

SAMPLE_RATE = 16000

STFT_CONFIGS = [  # n_fft, hop_length, win_length, window
    (512, 128, None, "hann"),
    (400, 160, 320, "hamming"),  # win_length < n_fft: window centred in the frame
    (256, 100, 200, "blackman"),
]
MEL_CONFIGS = [  # mel_scale, norm, f_min, f_max, n_mels
    ("slaney", "slaney", 0.0, None, 64),
    ("htk", "slaney", 30.0, 7000.0, 40),
    ("htk", None, 0.0, None, 80),
    ("slaney", None, 100.0, 6000.0, 32),
]


@pytest.fixture(scope="module")
def stereo() -> np.ndarray:
    """``(2, 6000)`` float32 at 16 kHz: noise plus a 440 Hz tone, with 1500 samples of digital silence
    so the ``amin`` floor and the ``top_db`` clamp are both exercised."""
    rng = np.random.default_rng(0)
    t = np.arange(6000) / SAMPLE_RATE
    y = rng.standard_normal((2, 6000)) * 0.1 + 0.5 * np.sin(2 * np.pi * 440 * t)
    y[:, 2000:3500] = 0.0
    return y.astype(np.float32)


def max_relative_error(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    return float(np.abs(reference - estimate).max() / np.abs(reference).max())


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("n_fft, hop_length, win_length, window", STFT_CONFIGS)
def test_stft_matches_librosa(stereo, pad_mode, n_fft, hop_length, win_length, window):
    stft = STFT(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, pad_mode=pad_mode)
    out = stft(torch.from_numpy(stereo))
    ref = librosa.stft(
        stereo, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, pad_mode=pad_mode
    )
    assert out.shape == ref.shape == (2, n_fft // 2 + 1, stft.num_frames(6000))
    assert max_relative_error(ref, out.numpy()) < 1e-6  # measured 1.3e-7


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_spectrogram_is_stft_magnitude_to_the_power(stereo, power):
    out = Spectrogram(n_fft=512, hop_length=128, power=power)(torch.from_numpy(stereo)).numpy()
    ref = np.abs(librosa.stft(stereo, n_fft=512, hop_length=128, pad_mode="constant")) ** power
    assert max_relative_error(ref, out) < 2e-6  # measured 3.4e-7


def test_stft_without_centering_counts_frames_from_the_first_full_window(stereo):
    stft = STFT(n_fft=512, hop_length=128, center=False)
    out = stft(torch.from_numpy(stereo))
    ref = librosa.stft(stereo, n_fft=512, hop_length=128, center=False)
    assert out.shape[-1] == 1 + (6000 - 512) // 128 == ref.shape[-1]
    assert max_relative_error(ref, out.numpy()) < 1e-6


@pytest.mark.parametrize(
    "n_fft, hop_length, win_length", [(512, 128, None), (400, 160, 400), (1024, 256, 512)]
)
@pytest.mark.parametrize("length", [5001, 4096])
def test_istft_inverts_stft(n_fft, hop_length, win_length, length):
    x = torch.randn(2, 3, length, generator=torch.Generator().manual_seed(0))
    kwargs = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length)
    spec = STFT(**kwargs)(x)
    y = ISTFT(**kwargs)(spec, length=length)
    assert y.shape == x.shape
    assert (y - x).abs().max() < 1e-5  # measured 9.5e-7 on unit-variance noise


@pytest.mark.parametrize("mel_scale, norm, f_min, f_max, n_mels", MEL_CONFIGS)
def test_mel_filterbank_and_mel_spectrogram_match_librosa(stereo, mel_scale, norm, f_min, f_max, n_mels):
    htk = mel_scale == "htk"
    filters = mel_filterbank(
        sample_rate=SAMPLE_RATE, n_fft=512, n_mels=n_mels, f_min=f_min, f_max=f_max, norm=norm,
        mel_scale=mel_scale,
    )
    ref_filters = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=512, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=htk, norm=norm
    )
    assert max_relative_error(ref_filters, filters.numpy()) < 1e-6  # measured 7.1e-8 (librosa is float32)

    mel = MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=n_mels, f_min=f_min, f_max=f_max,
        norm=norm, mel_scale=mel_scale,
    )
    out = mel(torch.from_numpy(stereo)).numpy()
    ref = librosa.feature.melspectrogram(
        y=stereo, sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=htk,
        norm=norm,
    )
    assert out.shape == ref.shape == (2, n_mels, 1 + 6000 // 128)
    assert max_relative_error(ref, out) < 2e-6  # measured 3.1e-7


@pytest.mark.parametrize("mel_scale, norm, f_min, f_max, n_mels", MEL_CONFIGS)
def test_log_mel_and_mfcc_match_librosa(stereo, mel_scale, norm, f_min, f_max, n_mels):
    mel_kwargs = dict(n_fft=512, hop_length=128, n_mels=n_mels, f_min=f_min, f_max=f_max, mel_scale=mel_scale)
    librosa_kwargs = dict(
        n_fft=512, hop_length=128, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=mel_scale == "htk"
    )
    ref_mel = librosa.feature.melspectrogram(y=stereo, sr=SAMPLE_RATE, norm=norm, **librosa_kwargs)
    ref_db = librosa.power_to_db(ref_mel, ref=1.0, amin=1e-10, top_db=80.0)
    assert (ref_db == ref_db.min()).mean() > 0.1  # the top_db floor is really in play

    out_db = LogMel(sample_rate=SAMPLE_RATE, norm=norm, **mel_kwargs)(torch.from_numpy(stereo)).numpy()
    # dB magnifies float32 error on the quietest bins that escape the floor: measured 1.4e-4 dB.
    assert np.abs(out_db - ref_db).max() < 5e-4

    if norm == "slaney":  # librosa.feature.mfcc end to end (its own `norm` is the DCT's)
        ref_mfcc = librosa.feature.mfcc(y=stereo, sr=SAMPLE_RATE, n_mfcc=20, **librosa_kwargs)
    else:
        ref_mfcc = librosa.feature.mfcc(S=ref_db, n_mfcc=20)
    mfcc = MFCC(sample_rate=SAMPLE_RATE, n_mfcc=20, norm=norm, **mel_kwargs)
    out_mfcc = mfcc(torch.from_numpy(stereo)).numpy()
    assert out_mfcc.shape == ref_mfcc.shape == (2, 20, 1 + 6000 // 128)
    assert np.abs(out_mfcc - ref_mfcc).max() < 1e-3  # measured 2.1e-4 on coefficients up to 493


def test_mfcc_defaults_match_librosa_defaults(stereo):
    out = MFCC(sample_rate=SAMPLE_RATE)(torch.from_numpy(stereo)).numpy()
    ref = librosa.feature.mfcc(y=stereo, sr=SAMPLE_RATE)  # n_mfcc=20, n_fft=2048, hop=512, 128 slaney mels
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-3


def test_dct_matrix_is_orthonormal_dct_ii():
    d = dct_matrix(13, 40)
    torch.testing.assert_close(d @ d.T, torch.eye(13, dtype=torch.float64), atol=1e-12, rtol=0.0)
    import scipy.fft

    x = np.random.default_rng(1).standard_normal(40)
    np.testing.assert_allclose(d.numpy() @ x, scipy.fft.dct(x, type=2, norm="ortho")[:13], atol=1e-12)


@pytest.mark.parametrize("mel_scale", ["slaney", "htk"])
def test_mel_scale_round_trips_and_matches_librosa(mel_scale):
    hz = torch.tensor([0.0, 200.0, 999.0, 1000.0, 1001.0, 4000.0, 8000.0], dtype=torch.float64)
    mel = hz_to_mel(hz, mel_scale)
    ref = librosa.hz_to_mel(hz.numpy(), htk=mel_scale == "htk")
    np.testing.assert_allclose(mel.numpy(), ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mel_to_hz(mel, mel_scale), hz, atol=1e-9, rtol=0.0)


def test_batched_equals_single_with_per_example_top_db(stereo):
    """The top_db floor is per example: a quiet item in a batch keeps its own 80 dB of range."""
    loud = torch.from_numpy(stereo)
    quiet = loud * 10 ** (-30 / 20)  # 30 dB down: a batch-wide floor would clip it 30 dB higher
    batch = torch.stack([loud, quiet])  # (B=2, C=2, T)
    for module in [
        Spectrogram(n_fft=512, hop_length=128),
        MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40),
        LogMel(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40),
        MFCC(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40),
    ]:
        out = module(batch)
        for i, item in enumerate([loud, quiet]):
            alone = module(item)
            torch.testing.assert_close(out[i], alone, rtol=1e-5, atol=1e-5 * alone.abs().max().item())
    log_mel = LogMel(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40)(batch)
    for item in log_mel:  # each example is floored at its own max - 80 dB
        assert item.min() == pytest.approx(item.max().item() - 80.0, abs=1e-4)
    # The quiet item is the loud one 30 dB down wherever neither hits a floor.
    mask = log_mel[1] > log_mel[1].min() + 1.0
    torch.testing.assert_close(log_mel[1][mask], log_mel[0][mask] - 30.0, atol=1e-3, rtol=0.0)


def test_one_dimensional_input_is_one_example(stereo):
    mfcc = MFCC(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40)
    mono = torch.from_numpy(stereo[0])
    ref = librosa.feature.mfcc(y=stereo[0], sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40)
    assert np.abs(mfcc(mono).numpy() - ref).max() < 1e-3


def test_float64_input_runs_in_float64_and_tightens_parity(stereo):
    x = torch.from_numpy(stereo.astype(np.float64))
    out = MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40)(x)
    assert out.dtype == torch.float64
    ref = librosa.feature.melspectrogram(
        y=stereo.astype(np.float64), sr=SAMPLE_RATE, n_fft=512, hop_length=128, n_mels=40, dtype=np.float64
    )
    assert max_relative_error(ref, out.numpy()) < 1e-6  # the filters were stored as float32 (7e-8)


def test_buffers_are_not_checkpointed():
    assert MFCC(sample_rate=SAMPLE_RATE, n_mels=40).state_dict() == {}


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: STFT(n_fft=512, win_length=1024), ValueError, "win_length"),
        (lambda: STFT(window="kaiser"), ValueError, "window"),
        (lambda: STFT(pad_mode="edge"), ValueError, "pad_mode"),
        (lambda: STFT(n_fft=512, pad_mode="reflect")(torch.zeros(1, 256)), AudioError, "reflect"),
        (lambda: STFT(n_fft=512, center=False)(torch.zeros(1, 100)), AudioError, "at least n_fft"),
        (lambda: STFT()(torch.zeros(2, 100, dtype=torch.int32)), AudioError, "floating point"),
        (lambda: ISTFT(n_fft=512)(torch.zeros(1, 200, 10, dtype=torch.complex64)), AudioError, "257"),
        (lambda: ISTFT(n_fft=512)(torch.zeros(1, 257, 10)), AudioError, "complex"),
        (lambda: MelSpectrogram(sample_rate=16000, f_max=9000), ValueError, "f_max"),
        (lambda: MelSpectrogram(sample_rate=16000, mel_scale="bark"), ValueError, "mel_scale"),
        (lambda: MFCC(sample_rate=16000, n_mels=10, n_mfcc=20), ValueError, "n_mfcc"),
        (lambda: LogMel(sample_rate=0), AudioError, "sample_rate"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
