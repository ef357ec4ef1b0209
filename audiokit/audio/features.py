"""Spectral front-ends: STFT/ISTFT, (mel) spectrograms, log-mel and MFCC, numerically matching librosa.

Every module takes audio shaped ``(..., time)`` — ``(channels, time)`` or ``(batch, channels, time)`` —
and keeps the leading dimensions: ``(..., T) -> (..., freq, frames)``. Windows, filterbanks and DCT
matrices are non-persistent buffers, so ``.to(device)`` moves them and state dicts stay empty; they are
cast to the input's dtype on the fly.

Conventions (those of librosa, checked against it in ``tests/test_audio_features.py``):

- windows are periodic ("fftbins"), centred in ``n_fft`` when ``win_length < n_fft``;
- ``center=True`` pads ``n_fft // 2`` samples on both sides, so frame ``m`` is centred on sample
  ``m * hop_length`` and there are ``1 + T // hop_length`` frames;
- the mel filterbank is librosa's (triangles on the slaney or HTK mel scale, slaney area norm optional);
- dB is ``10 * log10(max(x, amin))`` with ``ref = 1``, then floored at ``max - top_db`` *per example*;
- MFCC is the orthonormal DCT-II of that dB mel spectrogram over the mel axis.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from audiokit.audio._validate import check_positive_int, check_sample_rate, check_signal
from audiokit.audio.io import AudioError

WINDOWS = ("hann", "hamming", "blackman", "rect")
PAD_MODES = ("constant", "reflect")
MEL_SCALES = ("slaney", "htk")
MEL_NORMS = ("slaney", None)


# ---------------------------------------------------------------------------------------------------
# Helpers: windows, mel scale, filterbank, DCT, dB
# ---------------------------------------------------------------------------------------------------


def make_window(window: str, win_length: int) -> torch.Tensor:
    """A periodic analysis window of ``win_length`` samples in float64 (``'hann'``, ``'hamming'``, ...)."""
    if window == "hann":
        return torch.hann_window(win_length, periodic=True, dtype=torch.float64)
    if window == "hamming":
        return torch.hamming_window(win_length, periodic=True, dtype=torch.float64)
    if window == "blackman":
        return torch.blackman_window(win_length, periodic=True, dtype=torch.float64)
    if window == "rect":
        return torch.ones(win_length, dtype=torch.float64)
    raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")


# Slaney's Auditory Toolbox scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
# (27 mels per factor 6.4 in frequency).
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor, mel_scale: str = "slaney") -> torch.Tensor:
    """Frequencies in Hz to mels on the ``'slaney'`` or ``'htk'`` scale."""
    if mel_scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    linear = hz / _SLANEY_HZ_PER_MEL
    log = _SLANEY_BREAK_MEL + torch.log(hz.clamp(min=_SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return torch.where(hz >= _SLANEY_BREAK_HZ, log, linear)


def mel_to_hz(mel: torch.Tensor, mel_scale: str = "slaney") -> torch.Tensor:
    """Mels on the ``'slaney'`` or ``'htk'`` scale to frequencies in Hz (inverse of :func:`hz_to_mel`)."""
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * _SLANEY_HZ_PER_MEL
    log = _SLANEY_BREAK_HZ * torch.exp(_SLANEY_LOG_STEP * (mel - _SLANEY_BREAK_MEL))
    return torch.where(mel >= _SLANEY_BREAK_MEL, log, linear)


def mel_filterbank(
    *,
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    norm: str | None = "slaney",
    mel_scale: str = "slaney",
) -> torch.Tensor:
    """Triangular mel filters as a float64 ``(n_mels, n_fft // 2 + 1)`` matrix (librosa's definition).

    Filter ``i`` rises linearly from mel point ``i`` to ``i + 1`` and falls to ``i + 2``, where the
    ``n_mels + 2`` points are evenly spaced in mels between ``f_min`` and ``f_max``. ``norm='slaney'``
    scales each triangle to unit area in Hz (``2 / (f[i + 2] - f[i])``), so the filters' total response
    is flat over frequency.
    """
    sample_rate = check_sample_rate(sample_rate)
    n_fft, n_mels = check_positive_int(n_fft, "n_fft"), check_positive_int(n_mels, "n_mels")
    if mel_scale not in MEL_SCALES:
        raise ValueError(f"mel_scale must be one of {MEL_SCALES}, got {mel_scale!r}")
    if norm not in MEL_NORMS:
        raise ValueError(f"mel norm must be one of {MEL_NORMS}, got {norm!r}")
    f_max = sample_rate / 2 if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2} Hz, got f_min={f_min}, "
            f"f_max={f_max}"
        )
    fft_hz = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft  # (F,)
    mel_edges = torch.linspace(
        float(hz_to_mel(torch.tensor(f_min, dtype=torch.float64), mel_scale)),
        float(hz_to_mel(torch.tensor(f_max, dtype=torch.float64), mel_scale)),
        n_mels + 2,
        dtype=torch.float64,
    )
    hz_edges = mel_to_hz(mel_edges, mel_scale)  # (n_mels + 2,)
    widths = hz_edges.diff()  # (n_mels + 1,)
    offsets = hz_edges[:, None] - fft_hz[None, :]  # (n_mels + 2, F): edge minus bin frequency
    rising = -offsets[:-2] / widths[:-1, None]  # (n_mels, F)
    falling = offsets[2:] / widths[1:, None]  # (n_mels, F)
    filters = torch.minimum(rising, falling).clamp(min=0.0)
    if norm == "slaney":
        filters = filters * (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return filters


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """Orthonormal DCT-II as a float64 ``(n_mfcc, n_mels)`` matrix: ``mfcc = D @ log_mel``."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k)  # (n_mfcc, n_mels)
    basis[0] *= 1.0 / math.sqrt(2.0)
    return basis * math.sqrt(2.0 / n_mels)


def power_to_db(
    power: torch.Tensor, *, amin: float = 1e-10, top_db: float | None = 80.0, example_dims: int | None = None
) -> torch.Tensor:
    """``10 * log10(max(power, amin))`` (reference 1.0), floored at ``max - top_db`` within each example.

    ``example_dims`` is how many trailing dimensions make one example (the maximum is taken over them);
    ``None`` takes it over the whole tensor, as ``librosa.power_to_db`` does.
    """
    db = 10.0 * torch.log10(power.clamp(min=amin))
    if top_db is None:
        return db
    if example_dims is None:
        peak = db.amax()
    else:
        peak = db.amax(dim=tuple(range(-example_dims, 0)), keepdim=True)
    return torch.maximum(db, peak - top_db)


def _flatten_leading(x: torch.Tensor, keep: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``(..., *last keep dims) -> (N, *last keep dims)``; returns the leading shape to undo it."""
    lead = tuple(x.shape[: x.dim() - keep])
    return x.reshape(-1, *x.shape[x.dim() - keep :]), lead


# ---------------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------------


class STFT(nn.Module):
    """Short-time Fourier transform: ``(..., T)`` real audio -> ``(..., n_fft // 2 + 1, frames)`` complex.

    With ``center=True`` there are ``1 + T // hop_length`` frames and frame ``m`` is centred on sample
    ``m * hop_length``; with ``center=False`` there are ``1 + (T - n_fft) // hop_length`` frames.
    Unnormalised (``X[k] = sum_n w[n] x[n] e^{-2 pi i k n / n_fft}``), like librosa and torch.stft.

    Args:
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples, at most ``n_fft`` (default ``n_fft``).
        window: ``'hann'`` (default), ``'hamming'``, ``'blackman'`` or ``'rect'``; periodic.
        center: pad ``n_fft // 2`` samples on each side so frames are centred (default True).
        pad_mode: ``'constant'`` (zeros, default) or ``'reflect'`` padding for ``center=True``.
    """

    def __init__(
        self,
        *,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
    ) -> None:
        super().__init__()
        self.n_fft = check_positive_int(n_fft, "n_fft")
        self.win_length = n_fft if win_length is None else check_positive_int(win_length, "win_length")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must be at most n_fft ({self.n_fft})")
        default_hop = max(self.win_length // 4, 1)
        self.hop_length = default_hop if hop_length is None else check_positive_int(hop_length, "hop_length")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        self.window_name = window
        self.center = bool(center)
        self.pad_mode = pad_mode
        self.register_buffer("window", make_window(window, self.win_length).float(), persistent=False)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, length: int) -> int:
        """Frames produced for ``length`` input samples."""
        if self.center:
            return 1 + length // self.hop_length
        return 1 + (length - self.n_fft) // self.hop_length

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` float -> ``(..., n_fft // 2 + 1, frames)`` complex."""
        check_signal(wav, "STFT input", min_dim=1)
        length = wav.shape[-1]
        if self.center and self.pad_mode == "reflect" and length <= self.n_fft // 2:
            raise AudioError(
                f"STFT input: reflect padding needs more than n_fft // 2 = {self.n_fft // 2} samples, "
                f"got {length}"
            )
        if not self.center and length < self.n_fft:
            raise AudioError(
                f"STFT input: center=False needs at least n_fft = {self.n_fft} samples, got {length}"
            )
        flat, lead = _flatten_leading(wav, keep=1)  # (..., T) -> (N, T)
        spec = torch.stft(
            flat,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(wav.dtype),
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )  # (N, F, M)
        return spec.reshape(*lead, *spec.shape[-2:])  # (N, F, M) -> (..., F, M)

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"window={self.window_name!r}, center={self.center}, pad_mode={self.pad_mode!r}"
        )


class ISTFT(nn.Module):
    """Inverse of :class:`STFT` by weighted overlap-add: ``(..., n_fft // 2 + 1, frames)`` -> ``(..., T)``.

    With the same parameters as the forward :class:`STFT` (and a window satisfying the NOLA condition,
    e.g. Hann with ``hop_length <= win_length / 2``), ``ISTFT(STFT(x), length=T)`` returns ``x``.
    ``center=False`` only works with windows that are non-zero at the signal's edges (not Hann).

    Args:
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples, at most ``n_fft`` (default ``n_fft``).
        window: ``'hann'`` (default), ``'hamming'``, ``'blackman'`` or ``'rect'``; periodic.
        center: whether the forward STFT was centred (default True).
    """

    def __init__(
        self,
        *,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
    ) -> None:
        super().__init__()
        # Reuse STFT's argument checks and defaults so the two can never disagree.
        stft = STFT(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center)
        self.n_fft, self.hop_length, self.win_length = stft.n_fft, stft.hop_length, stft.win_length
        self.window_name = window
        self.center = stft.center
        self.register_buffer("window", stft.window.clone(), persistent=False)

    def forward(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """``(..., F, M)`` complex -> ``(..., T)`` real; ``length`` crops/pads to exactly ``T`` samples."""
        if not isinstance(spec, torch.Tensor) or not spec.is_complex() or spec.dim() < 2:
            got = tuple(spec.shape) if isinstance(spec, torch.Tensor) else type(spec).__name__
            raise AudioError(f"ISTFT input: expected a complex tensor (..., freq, frames), got {got}")
        if spec.shape[-2] != self.n_fft // 2 + 1:
            raise AudioError(
                f"ISTFT input: expected {self.n_fft // 2 + 1} frequency bins for n_fft={self.n_fft}, "
                f"got shape {tuple(spec.shape)}"
            )
        if length is not None:
            length = check_positive_int(length, "length")
        flat, lead = _flatten_leading(spec, keep=2)  # (..., F, M) -> (N, F, M)
        wav = torch.istft(
            flat,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.to(spec.real.dtype),
            center=self.center,
            normalized=False,
            onesided=True,
            length=length,
            return_complex=False,
        )  # (N, T)
        return wav.reshape(*lead, wav.shape[-1])  # (N, T) -> (..., T)

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"window={self.window_name!r}, center={self.center}"
        )


class Spectrogram(nn.Module):
    """``|STFT|^power``: ``(..., T) -> (..., n_fft // 2 + 1, frames)``, real and non-negative.

    Args:
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples (default ``n_fft``).
        window: analysis window name (default ``'hann'``).
        center: centre frames with ``n_fft // 2`` padding (default True).
        pad_mode: ``'constant'`` (default) or ``'reflect'``.
        power: exponent of the magnitude: 2.0 power (default), 1.0 magnitude.
    """

    def __init__(
        self,
        *,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
    ) -> None:
        super().__init__()
        if not power > 0:
            raise ValueError(f"power must be positive (1.0 magnitude, 2.0 power), got {power!r}")
        self.power = float(power)
        self.stft = STFT(
            n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center,
            pad_mode=pad_mode,
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` -> ``(..., F, M)``."""
        spec = self.stft(wav)
        if self.power == 2.0:
            return spec.real.square() + spec.imag.square()  # exact, and no sqrt in the gradient
        return spec.abs().pow(self.power)

    def extra_repr(self) -> str:
        return f"power={self.power}"


class MelSpectrogram(nn.Module):
    """Mel-filtered spectrogram: ``(..., T) -> (..., n_mels, frames)``; equals librosa's melspectrogram.

    Args:
        sample_rate: rate of the input in Hz (required: the filterbank depends on it).
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples (default ``n_fft``).
        window: analysis window name (default ``'hann'``).
        center: centre frames with ``n_fft // 2`` padding (default True).
        pad_mode: ``'constant'`` (default, librosa's) or ``'reflect'``.
        power: exponent of the magnitude before mel filtering: 2.0 (default) or 1.0.
        n_mels: number of mel bands (default 128).
        f_min: lowest filter edge in Hz (default 0).
        f_max: highest filter edge in Hz (default ``sample_rate / 2``).
        norm: ``'slaney'`` (unit-area triangles, default) or ``None`` (peak 1).
        mel_scale: ``'slaney'`` (default) or ``'htk'``.
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        norm: str | None = "slaney",
        mel_scale: str = "slaney",
    ) -> None:
        super().__init__()
        self.sample_rate = check_sample_rate(sample_rate)
        self.n_mels = check_positive_int(n_mels, "n_mels")
        self.spectrogram = Spectrogram(
            n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center,
            pad_mode=pad_mode, power=power,
        )
        filters = mel_filterbank(
            sample_rate=self.sample_rate, n_fft=n_fft, n_mels=n_mels, f_min=f_min, f_max=f_max, norm=norm,
            mel_scale=mel_scale,
        )
        self.register_buffer("filters", filters.float(), persistent=False)  # (n_mels, F)

    @property
    def hop_length(self) -> int:
        return self.spectrogram.stft.hop_length

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` -> ``(..., n_mels, M)``."""
        spec = self.spectrogram(wav)  # (..., F, M)
        # (n_mels, F) @ (..., F, M) -> (..., n_mels, M)
        return torch.matmul(self.filters.to(spec.dtype), spec)

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_mels={self.n_mels}"


class LogMel(nn.Module):
    """Mel spectrogram in dB: ``10 * log10(max(mel, amin))``, floored at ``max - top_db`` per example.

    An *example* is one ``(channels, time)`` waveform: for a ``(batch, channels, time)`` input the floor
    is computed separately for each batch item, over all its channels, mel bands and frames — exactly
    ``librosa.power_to_db(melspectrogram(y), ref=1.0)`` applied to each item alone. A 1-D ``(time,)``
    input is one example.

    Args:
        sample_rate: rate of the input in Hz (required).
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples (default ``n_fft``).
        window: analysis window name (default ``'hann'``).
        center: centre frames with ``n_fft // 2`` padding (default True).
        pad_mode: ``'constant'`` (default) or ``'reflect'``.
        power: 2.0 (default, power mel, so the output is in dB) or 1.0.
        n_mels: number of mel bands (default 128).
        f_min: lowest filter edge in Hz (default 0).
        f_max: highest filter edge in Hz (default ``sample_rate / 2``).
        norm: ``'slaney'`` (default) or ``None``.
        mel_scale: ``'slaney'`` (default) or ``'htk'``.
        amin: floor applied before the log (default 1e-10, i.e. -100 dB).
        top_db: dynamic range kept below each example's maximum, in dB (default 80; ``None``: no floor).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        norm: str | None = "slaney",
        mel_scale: str = "slaney",
        amin: float = 1e-10,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        if not amin > 0:
            raise ValueError(f"amin must be positive, got {amin!r}")
        if top_db is not None and not top_db >= 0:
            raise ValueError(f"top_db must be non-negative or None, got {top_db!r}")
        self.amin = float(amin)
        self.top_db = None if top_db is None else float(top_db)
        self.mel = MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
            center=center, pad_mode=pad_mode, power=power, n_mels=n_mels, f_min=f_min, f_max=f_max, norm=norm,
            mel_scale=mel_scale,
        )

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` -> ``(..., n_mels, M)`` in dB."""
        mel = self.mel(wav)  # (..., n_mels, M)
        example_dims = 3 if wav.dim() >= 2 else 2  # (channels, n_mels, M) per example, or (n_mels, M)
        return power_to_db(mel, amin=self.amin, top_db=self.top_db, example_dims=example_dims)

    def extra_repr(self) -> str:
        return f"amin={self.amin}, top_db={self.top_db}"


class MFCC(nn.Module):
    """Mel-frequency cepstral coefficients: ``(..., T) -> (..., n_mfcc, frames)``, librosa's definition.

    ``mfcc = DCT-II_ortho(LogMel(x))`` over the mel axis, where :class:`LogMel` is
    ``power_to_db(mel, ref=1.0, amin=1e-10, top_db=80)`` per example. Same as
    ``librosa.feature.mfcc(y=..., sr=..., n_mfcc=..., dct_type=2, norm='ortho', lifter=0)``.

    Args:
        sample_rate: rate of the input in Hz (required).
        n_mfcc: number of coefficients kept, at most ``n_mels`` (default 20).
        n_fft: FFT size in samples (default 2048).
        hop_length: frame step in samples (default ``win_length // 4``).
        win_length: window length in samples (default ``n_fft``).
        window: analysis window name (default ``'hann'``).
        center: centre frames with ``n_fft // 2`` padding (default True).
        pad_mode: ``'constant'`` (default) or ``'reflect'``.
        power: 2.0 (default) or 1.0 before mel filtering.
        n_mels: number of mel bands (default 128).
        f_min: lowest filter edge in Hz (default 0).
        f_max: highest filter edge in Hz (default ``sample_rate / 2``).
        norm: mel filter norm, ``'slaney'`` (default) or ``None``.
        mel_scale: ``'slaney'`` (default) or ``'htk'``.
        amin: floor before the log (default 1e-10).
        top_db: dynamic range per example in dB (default 80; ``None``: no floor).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        n_mfcc: int = 20,
        n_fft: int = 2048,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        norm: str | None = "slaney",
        mel_scale: str = "slaney",
        amin: float = 1e-10,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        self.n_mfcc = check_positive_int(n_mfcc, "n_mfcc")
        if self.n_mfcc > n_mels:
            raise ValueError(f"n_mfcc ({n_mfcc}) must be at most n_mels ({n_mels})")
        self.log_mel = LogMel(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
            center=center, pad_mode=pad_mode, power=power, n_mels=n_mels, f_min=f_min, f_max=f_max, norm=norm,
            mel_scale=mel_scale, amin=amin, top_db=top_db,
        )
        dct = dct_matrix(self.n_mfcc, n_mels).float()  # (n_mfcc, n_mels)
        self.register_buffer("dct", dct, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` -> ``(..., n_mfcc, M)``."""
        log_mel = self.log_mel(wav)  # (..., n_mels, M)
        return torch.matmul(self.dct.to(log_mel.dtype), log_mel)  # (n_mfcc, n_mels) @ (..., n_mels, M)

    def extra_repr(self) -> str:
        return f"n_mfcc={self.n_mfcc}"
