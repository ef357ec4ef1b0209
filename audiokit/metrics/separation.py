"""Source-separation metrics as MUSDB18 papers report them: uSDR, SI-SDR and BSSEval v4.

- :func:`new_sdr`: the MDX challenge "new SDR" (uSDR), one number per source over the whole track;
  the metric of the MDX 2021/2023 challenges and most recent papers.
- :func:`si_sdr`: scale-invariant SDR (re-exported from :mod:`audiokit.metrics.signal`).
- :func:`bss_eval_v4`: BSSEval v4 image metrics (SDR, ISR, SIR, SAR) per window, as museval computes
  them for SiSEC 2018; :func:`track_score` takes the **median over frames** (museval's track score)
  and :func:`aggregate_tracks` the **median over tracks** (SiSEC 2018 convention) plus the mean.

Shape legend: ``S`` sources, ``C`` channels, ``T`` samples, ``L`` filter taps, ``F`` frames.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.linalg
import torch

from audiokit.metrics.signal import si_sdr

__all__ = ["BSSEvalFrames", "SeparationScores", "TracksSummary", "aggregate_tracks", "bss_eval_v4",
           "new_sdr", "si_sdr", "track_score"]

FILTERS_LEN = 512  # BSSEval's distortion filter length in taps (museval's ``filters_len``)
METRICS = ("sdr", "isr", "sir", "sar")


def new_sdr(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """MDX "new SDR" (uSDR) in dB over channels and time: ``(..., C, T) -> (...)``.

    ``10 log10((sum ref^2 + eps) / (sum (ref - est)^2 + eps))`` with ``eps = 1e-7`` added to numerator
    and denominator, as in eq. (1) of Mitsufuji et al., "Music Demixing Challenge 2021" (Frontiers in
    Signal Processing 2022, arXiv:2108.13559) and the challenge's evaluator. No filtering, no framing:
    one value per track and source, so a stems tensor ``(S, C, T)`` gives ``(S,)`` and ``(B, S, C, T)``
    gives ``(B, S)``.
    """
    if est.shape != ref.shape or est.dim() < 2:
        raise ValueError(f"expected est and ref of equal shape (..., channels, time), "
                         f"got {tuple(est.shape)} and {tuple(ref.shape)}")
    num = ref.square().sum(dim=(-2, -1)) + eps
    den = (ref - est).square().sum(dim=(-2, -1)) + eps
    return 10 * torch.log10(num / den)


# ----------------------------------------------------------------------------------------------------
# BSSEval v4
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeparationScores:
    """One value per source for each BSSEval metric, in dB: each array ``(S,)``."""

    sdr: np.ndarray
    isr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray


@dataclass(frozen=True)
class BSSEvalFrames:
    """Framewise BSSEval v4 metrics of one track: each array ``(S, F)`` in dB.

    A frame where any reference or estimate source is silent is NaN for every source (as museval).
    ``window`` and ``hop`` are in samples.
    """

    sdr: np.ndarray
    isr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray
    window: int
    hop: int
    sample_rate: int


@dataclass(frozen=True)
class TracksSummary:
    """Track scores (each the median over frames) aggregated over tracks, per source."""

    median_over_tracks: SeparationScores  # the SiSEC 2018 / MUSDB18 convention
    mean_over_tracks: SeparationScores
    num_tracks: int
    frames_aggregation: str = "median over frames"


def _to_numpy(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected {name} of shape (sources, channels, time), got shape {x.shape}")
    return x


def _silent_sources(x: np.ndarray) -> np.ndarray:
    """Which sources of ``(S, C, T)`` museval calls silent: the channel *sum* is all zeros."""
    return np.all(x.sum(axis=1) == 0, axis=-1)


def _frames(length: int, window: int, hop: int) -> list[slice]:
    """museval's framing: full windows only (a tail shorter than a window is not scored); a window
    longer than the signal gives one frame over all of it.

        |<-- window -->|
        |---- hop ---->|<-- window -->|
                       |---- hop ---->|<-- window -->|  . . . tail dropped
    """
    if window >= length:
        return [slice(0, length)]
    count = (length - window + hop) // hop
    return [slice(i * hop, i * hop + window) for i in range(count)]


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``10 log10(num / den)``, ``+inf`` where ``den == 0`` (museval's ``_safe_db``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(num / den)
    return np.where(den == 0, np.inf, out)


def _distortion_filters(ref: np.ndarray, est: np.ndarray, taps: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares FIR filters mapping the references onto each estimate, over the whole track.

    Returns ``(all_filters, own_filters)``:
    - ``all_filters (S, C, L, S, C)``: estimate ``e`` channel ``c`` ~ sum over reference sources
      ``j`` and channels ``d`` of ``all_filters[j, d, :, e, c] * ref[j, d]`` (the interference space);
    - ``own_filters (S, C, L, C)``: estimate ``j`` ~ filtered channels of reference ``j`` alone.

    Normal equations ``G h = D`` with the Gram matrix ``G`` of the delayed references (block Toeplitz:
    ``G[(a, k), (b, l)] = sum_t r_a(t - k) r_b(t - l) = xcorr_ab(k - l)``) and ``D[(a, k), e] = sum_t
    r_a(t - k) e(t)``, both from zero-padded FFT correlations (Vincent, Gribonval and Févotte 2006).
    """
    num_sources, channels, length = ref.shape
    rows = num_sources * channels
    n_fft = scipy.fft.next_fast_len(length + taps - 1, real=True)
    ref_f = scipy.fft.rfft(ref.reshape(rows, length), n=n_fft)  # (S*C, F)
    est_f = scipy.fft.rfft(est.reshape(rows, length), n=n_fft)  # (S*C, F)

    gram = np.empty((rows, taps, rows, taps))
    for a in range(rows):
        for b in range(a, rows):
            xcorr = scipy.fft.irfft(np.conj(ref_f[a]) * ref_f[b], n=n_fft)  # xcorr[m] = sum r_a(t) r_b(t+m)
            lags_down = xcorr[:taps]  # k - l = 0, 1, ..., L-1
            lags_up = np.concatenate(([xcorr[0]], xcorr[:-taps:-1]))  # k - l = 0, -1, ..., -(L-1)
            block = scipy.linalg.toeplitz(lags_down, lags_up)
            gram[a, :, b, :] = block
            gram[b, :, a, :] = block.T
    # D[a, k, e] = sum_t r_a(t) e(t + k), one reference row at a time to bound memory: (S*C, L, S*C)
    cross = np.empty((rows, taps, rows))
    for a in range(rows):
        cross[a] = scipy.fft.irfft(np.conj(ref_f[a]) * est_f, n=n_fft)[:, :taps].T  # (S*C, L) -> (L, S*C)

    size = rows * taps
    gram = gram.reshape(size, size)
    # museval regularises with machine epsilon on the diagonal and solves by LU; do the same.
    gram_reg = gram + np.finfo(float).eps * np.eye(size)
    all_filters = _solve(gram_reg, cross.reshape(size, rows))
    all_filters = all_filters.reshape(num_sources, channels, taps, num_sources, channels)

    own_filters = np.empty((num_sources, channels, taps, channels))
    per_source = channels * taps
    for j in range(num_sources):
        span = slice(j * per_source, (j + 1) * per_source)
        rhs = cross.reshape(num_sources, per_source, num_sources, channels)[j, :, j, :]  # (C*L, C)
        own_filters[j] = _solve(gram_reg[span, span], rhs).reshape(channels, taps, channels)
    return all_filters, own_filters


def _solve(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(lhs, rhs)
    except np.linalg.LinAlgError:  # singular Gram matrix (e.g. a reference with too few samples)
        return np.linalg.lstsq(lhs, rhs, rcond=None)[0]


def _filter_spectra(all_filters: np.ndarray, own_filters: np.ndarray,
                    length: int) -> tuple[int, np.ndarray, np.ndarray]:
    """FFT size for filtering ``length``-sample frames and the filters' spectra at that size."""
    n_fft = scipy.fft.next_fast_len(length + own_filters.shape[2] - 1, real=True)
    all_f = scipy.fft.rfft(all_filters, n=n_fft, axis=2)  # (S, C, L, S, C) -> (S, C, F, S, C)
    own_f = scipy.fft.rfft(own_filters, n=n_fft, axis=2)  # (S, C, L, C) -> (S, C, F, C)
    return n_fft, all_f, own_f


def _frame_scores(ref: np.ndarray, est: np.ndarray, n_fft: int, all_f: np.ndarray, own_f: np.ndarray,
                  taps: int) -> np.ndarray:
    """BSSEval image decomposition of one frame with fixed filters: ``(S, C, n) -> (4, S)``.

    Both signals are zero-padded to ``n + L - 1`` samples so the filtered references' tails count:
    ``s_true`` the reference image, ``p_own`` its filtered version, ``p_all`` the projection on all
    references; ``e_spat = p_own - s_true``, ``e_interf = p_all - p_own``, ``e_artif = est - p_all``.
    """
    out_len = ref.shape[-1] + taps - 1
    ref_f = scipy.fft.rfft(ref, n=n_fft)  # (S, C, F)
    # (S_ref, C_in, F) x (S_ref, C_in, F, S_est, C_out) -> (S_est, C_out, F)
    p_all = scipy.fft.irfft(np.einsum("jdf,jdfec->ecf", ref_f, all_f), n=n_fft)[..., :out_len]
    # (S, C_in, F) x (S, C_in, F, C_out) -> (S, C_out, F)
    p_own = scipy.fft.irfft(np.einsum("jdf,jdfc->jcf", ref_f, own_f), n=n_fft)[..., :out_len]
    pad = ((0, 0), (0, 0), (0, taps - 1))
    s_true, est = np.pad(ref, pad), np.pad(est, pad)

    def energy(x: np.ndarray) -> np.ndarray:
        return np.square(x).sum(axis=(1, 2))  # (S, C, T) -> (S,)

    return np.stack([
        _db(energy(s_true), energy(est - s_true)),  # SDR
        _db(energy(s_true), energy(p_own - s_true)),  # ISR
        _db(energy(p_own), energy(p_all - p_own)),  # SIR
        _db(energy(p_all), energy(est - p_all)),  # SAR
    ])


def bss_eval_v4(est: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor, sample_rate: int,
                window_seconds: float = 1.0, hop_seconds: float = 1.0) -> BSSEvalFrames:
    """BSSEval v4 image metrics per window, as ``museval.evaluate(..., mode="v4")`` (SiSEC 2018).

    Args:
        est: estimated stems ``(S, C, T)``, estimate ``j`` scored against reference ``j``
            (no permutation search, museval's ``compute_permutation=False``).
        ref: reference stems ``(S, C, T)``; no source may be all zeros.
        sample_rate: in Hz, to turn the window and hop into samples (``int(seconds * rate)``).
        window_seconds: frame length (default 1 s, as SiSEC 2018); ``math.inf``: one frame.
        hop_seconds: frame hop (default 1 s, no overlap).

    Distortion filters (512 taps per reference channel to each estimate channel) are fitted **once
    on the whole track**, which is what makes v4 differ from v3's per-frame filters (Stöter, Liutkus
    and Ito, "The 2018 Signal Separation Evaluation Campaign", LVA/ICA 2018); each frame is then
    decomposed with them into target image, spatial distortion, interference and artifacts
    (Vincent, Gribonval and Févotte 2006). Frames are full windows only; a frame where any
    reference or estimate source is silent is NaN for all sources, as museval does.
    """
    est_np, ref_np = _to_numpy(est, "est"), _to_numpy(ref, "ref")
    if est_np.shape != ref_np.shape:
        raise ValueError(f"expected est and ref of equal shape (sources, channels, time), "
                         f"got {est_np.shape} and {ref_np.shape}")
    if np.any(_silent_sources(ref_np)) or np.any(_silent_sources(est_np)):
        raise ValueError(f"BSSEval needs every source non-silent over the track: silent reference sources "
                         f"{np.flatnonzero(_silent_sources(ref_np)).tolist()}, silent estimates "
                         f"{np.flatnonzero(_silent_sources(est_np)).tolist()}")
    length = ref_np.shape[-1]
    window = length if math.isinf(window_seconds) else int(window_seconds * sample_rate)
    hop = length if math.isinf(hop_seconds) else int(hop_seconds * sample_rate)
    if window <= 0 or hop <= 0:
        raise ValueError(f"expected a window and hop of at least one sample, got {window_seconds} s and "
                         f"{hop_seconds} s at {sample_rate} Hz")

    all_filters, own_filters = _distortion_filters(ref_np, est_np, FILTERS_LEN)
    frames = _frames(length, window, hop)
    spectra = _filter_spectra(all_filters, own_filters, frames[0].stop - frames[0].start)  # equal frames
    scores = np.full((4, ref_np.shape[0], len(frames)), np.nan)  # (metric, S, F)
    for i, span in enumerate(frames):
        ref_frame, est_frame = ref_np[..., span], est_np[..., span]
        if np.any(_silent_sources(ref_frame)) or np.any(_silent_sources(est_frame)):
            continue
        scores[:, :, i] = _frame_scores(ref_frame, est_frame, *spectra, FILTERS_LEN)
    return BSSEvalFrames(*scores, window=window, hop=hop, sample_rate=sample_rate)


# ----------------------------------------------------------------------------------------------------
# Aggregation
# ----------------------------------------------------------------------------------------------------
def _nan_reduce(reduce, values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():  # an all-NaN slice gives NaN, which is the answer we want
        warnings.simplefilter("ignore", RuntimeWarning)
        return reduce(values, axis=axis)


def track_score(frames: BSSEvalFrames) -> SeparationScores:
    """museval's track score: the **median over frames** per source, NaN (silent) frames skipped."""
    return SeparationScores(*(_nan_reduce(np.nanmedian, getattr(frames, m), axis=-1) for m in METRICS))


def aggregate_tracks(scores: Sequence[SeparationScores | BSSEvalFrames]) -> TracksSummary:
    """Track scores (median over frames) -> **median over tracks** (SiSEC 2018) and mean over tracks.

    ``scores`` are :func:`track_score` results, or :class:`BSSEvalFrames` (reduced here first), all
    with the same sources in the same order; tracks whose score is NaN (no scorable frame) are skipped.
    """
    if not scores:
        raise ValueError("expected at least one track score, got none")
    tracks = [track_score(s) if isinstance(s, BSSEvalFrames) else s for s in scores]
    stacked = {m: np.stack([getattr(t, m) for t in tracks]) for m in METRICS}  # metric -> (tracks, S)
    return TracksSummary(
        median_over_tracks=SeparationScores(*(_nan_reduce(np.nanmedian, stacked[m], 0) for m in METRICS)),
        mean_over_tracks=SeparationScores(*(_nan_reduce(np.nanmean, stacked[m], 0) for m in METRICS)),
        num_tracks=len(tracks))
