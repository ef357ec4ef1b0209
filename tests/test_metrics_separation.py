"""Separation metrics: BSSEval v4 against museval frame by frame, uSDR against its formula, aggregation."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from audiokit.metrics.separation import (
    BSSEvalFrames,
    SeparationScores,
    aggregate_tracks,
    bss_eval_v4,
    new_sdr,
    si_sdr,
    track_score,
)

SAMPLE_RATE = 8000
METRICS = ("sdr", "isr", "sir", "sar")


def _museval_metrics():
    """museval's ``metrics`` module, loaded from its file: ``import museval`` imports musdb and stempeg,
    which fail without an ffmpeg binary, while the BSSEval code itself needs only numpy and scipy."""
    spec = importlib.util.find_spec("museval")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "metrics.py"
    module_spec = importlib.util.spec_from_file_location("_museval_metrics", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


MUSEVAL = _museval_metrics()
needs_museval = pytest.mark.skipif(MUSEVAL is None, reason="museval is not installed (pip install museval): "
                                   "the BSSEval v4 parity tests use it as the reference")


def _stems(seconds: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """References (2 sources, 2 channels) with different spectra and an inter-channel delay, and
    estimates that are filtered references + leakage of the other source + noise: ``(S, C, T)`` each."""
    rng = np.random.default_rng(seed)
    length = int(seconds * SAMPLE_RATE)
    ref = rng.standard_normal((2, 2, length))
    ref[0] = lfilter([1.0], [1.0, -0.8], ref[0])  # low-passed "bass"
    ref[1] = lfilter([1.0, -0.7], [1.0], ref[1])  # high-passed "hats"
    ref[:, 1] = 0.5 * ref[:, 1] + 0.5 * np.roll(ref[:, 0], 3, axis=-1)  # correlated channels
    est = np.stack([
        lfilter([0.9, 0.2, -0.1], [1.0], ref[0]) + 0.3 * ref[1],  # filtered target + interference
        0.8 * ref[1] + 0.2 * np.roll(ref[0], 40, axis=-1),  # delayed leakage of the other source
    ]) + 0.1 * rng.standard_normal(ref.shape)
    return est, ref


def _museval_frames(est: np.ndarray, ref: np.ndarray, window: float, hop: float) -> np.ndarray:
    """museval ``bss_eval`` in v4 mode (what ``museval.evaluate`` runs): ``(4, S, F)``."""
    out = MUSEVAL.bss_eval(ref.transpose(0, 2, 1), est.transpose(0, 2, 1), window=window, hop=hop,
                           compute_permutation=False, filters_len=512, framewise_filters=False,
                           bsseval_sources_version=False)
    return np.stack(out[:4])


def _assert_matches_museval(frames: BSSEvalFrames, expected: np.ndarray) -> None:
    for k, name in enumerate(METRICS):
        ours = getattr(frames, name)
        assert ours.shape == expected[k].shape, name
        assert np.array_equal(np.isnan(ours), np.isnan(expected[k])), name  # same frames skipped
        ok = ~np.isnan(ours)
        assert np.max(np.abs(ours[ok] - expected[k][ok]), initial=0.0) < 0.01, name  # dB


@needs_museval
@pytest.mark.parametrize(("seconds", "window", "hop"), [
    (3.0, 1.0, 1.0),  # SiSEC 2018 setting: 1 s frames, no overlap
    (3.3, 1.0, 0.5),  # overlapping frames and a tail shorter than a window (not scored)
    (1.5, math.inf, math.inf),  # one frame over the whole track
])
def test_bss_eval_v4_matches_museval_framewise(seconds, window, hop):
    est, ref = _stems(seconds)
    frames = bss_eval_v4(est, ref, SAMPLE_RATE, window_seconds=window, hop_seconds=hop)
    to_samples = (lambda s: s if math.isinf(s) else int(s * SAMPLE_RATE))
    expected = _museval_frames(est, ref, to_samples(window), to_samples(hop))
    _assert_matches_museval(frames, expected)
    assert not np.isnan(frames.sdr).any()


@needs_museval
@pytest.mark.parametrize("case", ["silent reference", "silent estimate", "channels cancel"])
def test_silent_frames_are_nan_for_every_source_as_museval(case):
    est, ref = _stems(3.0)
    second = slice(SAMPLE_RATE, 2 * SAMPLE_RATE)
    if case == "silent reference":
        ref[1, :, second] = 0.0
    elif case == "silent estimate":
        est[0, :, second] = 0.0
    else:  # museval tests the channel *sum*, so a source whose channels cancel counts as silent
        ref[0, 1, second] = -ref[0, 0, second]
    frames = bss_eval_v4(est, ref, SAMPLE_RATE)
    _assert_matches_museval(frames, _museval_frames(est, ref, SAMPLE_RATE, SAMPLE_RATE))
    for name in METRICS:
        values = getattr(frames, name)
        assert np.isnan(values[:, 1]).all() and not np.isnan(values[:, [0, 2]]).any(), name


def test_bss_eval_v4_rejects_a_silent_source_and_bad_shapes():
    est, ref = _stems(1.0)
    ref[1] = 0.0
    with pytest.raises(ValueError, match="silent reference sources \\[1\\]"):
        bss_eval_v4(est, ref, SAMPLE_RATE)
    with pytest.raises(ValueError, match="sources, channels, time"):
        bss_eval_v4(est[0], ref[0], SAMPLE_RATE)


def test_bss_eval_v4_takes_tensors_and_perfect_estimates_score_high():
    est, ref = _stems(1.0)
    from_numpy = bss_eval_v4(est, ref, SAMPLE_RATE)
    from_torch = bss_eval_v4(torch.from_numpy(est).float(), torch.from_numpy(ref).float(), SAMPLE_RATE)
    assert np.max(np.abs(from_numpy.sdr - from_torch.sdr)) < 1e-3  # float32 input, float64 math
    assert (from_numpy.window, from_numpy.hop, from_numpy.sdr.shape) == (SAMPLE_RATE, SAMPLE_RATE, (2, 1))
    near = bss_eval_v4(ref + 1e-4 * np.random.default_rng(1).standard_normal(ref.shape), ref, SAMPLE_RATE)
    assert near.sdr.min() > 60 and near.sar.min() > 60


def test_new_sdr_matches_the_mdx_formula():
    torch.manual_seed(0)
    ref = torch.randn(3, 4, 2, 1000, dtype=torch.float64)  # (B, S, C, T)
    est = ref + 0.5 * torch.randn_like(ref)
    expected = 10 * torch.log10((ref.square().sum((-2, -1)) + 1e-7) / ((ref - est).square().sum((-2, -1)) + 1e-7))
    assert new_sdr(est, ref).shape == (3, 4)
    assert torch.allclose(new_sdr(est, ref), expected, atol=1e-10)
    assert torch.allclose(new_sdr(0.5 * ref, ref), torch.full((3, 4), 20 * math.log10(2), dtype=torch.float64))
    assert float(new_sdr(ref, ref).min()) > 90  # perfect estimate: bounded only by the 1e-7 epsilons
    assert float(new_sdr(torch.zeros(1, 2, 10), torch.zeros(1, 2, 10))) == 0.0  # both silent: eps / eps
    # si_sdr is the one from audiokit.metrics.signal, per source when stems are the batch
    assert float(si_sdr(2 * ref[0], ref[0]).min()) > 60


def test_track_score_is_the_median_over_frames_and_tracks_aggregate_median_and_mean():
    sdr = np.array([[1.0, 5.0, np.nan, 2.0], [np.nan, np.nan, np.nan, np.nan]])  # (S, F)
    frames = BSSEvalFrames(sdr, sdr + 1, sdr + 2, sdr + 3, window=8000, hop=8000, sample_rate=8000)
    score = track_score(frames)
    assert score.sdr[0] == 2.0 and np.isnan(score.sdr[1])  # NaN frames skipped; all-NaN stays NaN
    assert score.sar[0] == 5.0
    tracks = [SeparationScores(*(np.array([v + k, 1.0]) for k in range(4))) for v in (1.0, 2.0, 9.0)]
    summary = aggregate_tracks(tracks)
    assert summary.num_tracks == 3 and summary.frames_aggregation == "median over frames"
    assert summary.median_over_tracks.sdr.tolist() == [2.0, 1.0]
    assert summary.mean_over_tracks.sdr.tolist() == [4.0, 1.0]
    assert summary.median_over_tracks.sar.tolist() == [5.0, 1.0]
    assert aggregate_tracks([frames]).median_over_tracks.sdr[0] == 2.0  # frames are reduced first
