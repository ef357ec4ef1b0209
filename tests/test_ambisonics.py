"""Ambisonics (AmbiX: ACN order, SN3D): the spherical harmonics against scipy and against the closed-form table
of orders 1-3, their SN3D properties; encoding and beams; the offline third-order scene corpus (16 channels,
deterministic for a seed, resumable, held-out sources) and its isotropic diffuse noise."""
from __future__ import annotations

import hashlib
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import lfilter
from scipy.special import sph_harm_y

from audiokit.audio.ambisonics import (
    ACN_LETTERS,
    acn,
    channel_orders,
    decode_directions,
    diffuse_covariance,
    encode_direction,
    encode_source,
    fibonacci_sphere,
    num_channels,
    order_of,
    sn3d_to_n3d,
    spherical_harmonics,
)
from audiokit.audio.io import info, load
from audiokit.corpora.ambisonics import diffuse_noise, make_ambisonics
from audiokit.corpora.common import CorpusError
from audiokit.data.kaldi import DataDir, read_table
from audiokit.data.validate import validate_data_dir

RNG = np.random.default_rng(0)
AZIMUTH = torch.from_numpy(RNG.uniform(-math.pi, math.pi, 200))
ELEVATION = torch.from_numpy(np.arcsin(RNG.uniform(-1, 1, 200)))


# ------------------------------------------------------------------------------------------------ harmonics
def scipy_real_sn3d(azimuth: np.ndarray, elevation: np.ndarray, order: int) -> np.ndarray:
    """Real SN3D harmonics from scipy's complex orthonormal ones (with the Condon-Shortley phase)."""
    colatitude = np.pi / 2 - elevation
    out = []
    for n in range(order + 1):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), colatitude, azimuth)  # orthonormal: int |Y|^2 = 1
            if m > 0:
                real = math.sqrt(2) * (-1) ** m * y.real  # (-1)^m undoes the Condon-Shortley phase
            elif m < 0:
                real = math.sqrt(2) * (-1) ** m * y.imag
            else:
                real = y.real
            out.append(real * math.sqrt(4 * math.pi / (2 * n + 1)))  # N3D-orthonormal -> SN3D
    return np.stack(out, axis=-1)


def ambix_table(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The closed forms of orders 0-3 in ACN order with SN3D (the AmbiX format paper's table)."""
    s, c = np.sin(e), np.cos(e)
    r3, r5_8, r3_8, r15 = math.sqrt(3), math.sqrt(5 / 8), math.sqrt(3 / 8), math.sqrt(15)
    return np.stack([
        np.ones_like(a),                                       # W
        np.sin(a) * c, s, np.cos(a) * c,                       # Y Z X
        r3 / 2 * np.sin(2 * a) * c ** 2,                       # V
        r3 / 2 * np.sin(a) * np.sin(2 * e),                    # T
        (3 * s ** 2 - 1) / 2,                                  # R
        r3 / 2 * np.cos(a) * np.sin(2 * e),                    # S
        r3 / 2 * np.cos(2 * a) * c ** 2,                       # U
        r5_8 * np.sin(3 * a) * c ** 3,                         # Q
        r15 / 2 * np.sin(2 * a) * s * c ** 2,                  # O
        r3_8 * np.sin(a) * c * (5 * s ** 2 - 1),               # M
        s * (5 * s ** 2 - 3) / 2,                              # K
        r3_8 * np.cos(a) * c * (5 * s ** 2 - 1),               # L
        r15 / 2 * np.cos(2 * a) * s * c ** 2,                  # N
        r5_8 * np.cos(3 * a) * c ** 3,                         # P
    ], axis=-1)


def test_harmonics_equal_scipy_converted_to_real_sn3d():
    for order in (0, 1, 3, 5):
        ours = spherical_harmonics(AZIMUTH, ELEVATION, order).numpy()
        assert ours.shape == (200, (order + 1) ** 2)
        assert np.abs(ours - scipy_real_sn3d(AZIMUTH.numpy(), ELEVATION.numpy(), order)).max() < 1e-12


def test_harmonics_equal_the_closed_forms_of_orders_0_to_3():
    ours = spherical_harmonics(AZIMUTH, ELEVATION, 3).numpy()
    assert np.abs(ours - ambix_table(AZIMUTH.numpy(), ELEVATION.numpy())).max() < 1e-12
    assert len(ACN_LETTERS) == 16 and ACN_LETTERS[acn(1, 1)] == "X" and ACN_LETTERS[acn(3, 0)] == "K"


def test_sn3d_properties_w_is_one_every_channel_peaks_at_one():
    azimuth, elevation = torch.meshgrid(torch.linspace(-math.pi, math.pi, 361, dtype=torch.float64),
                                        torch.linspace(-math.pi / 2, math.pi / 2, 181, dtype=torch.float64),
                                        indexing="ij")
    y = spherical_harmonics(azimuth, elevation, 3)
    assert torch.equal(y[..., 0], torch.ones_like(azimuth))  # W gain exactly 1
    peaks = y.abs().amax(dim=(0, 1))
    assert (peaks <= 1 + 1e-12).all()  # Schmidt semi-normalised: |Y| <= 1 everywhere ...
    zonal = [acn(n, 0) for n in range(4)]
    assert torch.allclose(peaks[zonal], torch.ones(4, dtype=torch.float64), atol=1e-12)  # ... 1 at the poles
    assert abs(float(peaks[acn(2, -2)]) - math.sqrt(3) / 2) < 1e-12  # V peaks at sqrt(3)/2 (az 45, el 0)
    # encode_direction is the same gains; front is W + X
    front = encode_direction(0.0, 0.0, 1)
    assert torch.allclose(front, torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64), atol=1e-15)


def test_orthogonality_over_the_sphere_with_sn3d_weights():
    # Gauss-Legendre nodes in sin(elevation) x 16 azimuths integrate products of order <= 7 exactly.
    nodes, weights = np.polynomial.legendre.leggauss(8)
    azimuth = torch.arange(16, dtype=torch.float64) * (2 * math.pi / 16)
    elevation = torch.from_numpy(np.arcsin(nodes))
    a, e = torch.meshgrid(azimuth, elevation, indexing="ij")  # (16, 8)
    y = spherical_harmonics(a, e, 3).reshape(-1, 16)  # (128, K)
    w = (torch.from_numpy(weights)[None, :].expand(16, 8).reshape(-1) * (2 * math.pi / 16))  # sums to 4 pi
    gram = y.T @ (w[:, None] * y) / (4 * math.pi)  # (1 / 4 pi) int Y_k Y_l dOmega
    assert torch.allclose(gram, diffuse_covariance(3), atol=1e-13)  # diag(1 / (2n + 1))
    n3d = y * sn3d_to_n3d(3, torch.float64)
    assert torch.allclose(n3d.T @ (w[:, None] * n3d) / (4 * math.pi), torch.eye(16, dtype=torch.float64), atol=1e-13)


def test_indexing_helpers():
    assert [num_channels(n) for n in range(4)] == [1, 4, 9, 16] and order_of(16) == 3
    assert channel_orders(2).tolist() == [0, 1, 1, 1, 2, 2, 2, 2, 2]
    assert [acn(n, m) for n in range(3) for m in range(-n, n + 1)] == list(range(9))
    with pytest.raises(ValueError, match=r"\(order \+ 1\)\^2 channels"):
        order_of(15)
    with pytest.raises(ValueError, match="degree must be in -1..1"):
        acn(1, 2)
    with pytest.raises(ValueError, match="order must be an int >= 0"):
        spherical_harmonics(0.0, 0.0, -1)


# ------------------------------------------------------------------------------------------------ encoding
def test_encode_source_fixed_and_moving_and_the_beam_points_at_it():
    signal = torch.randn(2, 1000, dtype=torch.float64)
    scene = encode_source(signal, 0.7, -0.3, 3)  # (2, 16, 1000)
    gains = encode_direction(0.7, -0.3, 3)
    assert scene.shape == (2, 16, 1000) and torch.equal(scene, gains[:, None] * signal[:, None, :])
    # a moving source: each sample its own direction
    azimuth = torch.linspace(-1.0, 1.0, 1000, dtype=torch.float64)
    moving = encode_source(signal[0], azimuth, torch.zeros(1000, dtype=torch.float64), 1)
    assert torch.allclose(moving[1], torch.sin(azimuth) * signal[0]) and torch.allclose(moving[3], azimuth.cos() *
                                                                                         signal[0])
    # beams: gain 1 towards the source, and the loudest of 2000 directions is next to it
    beams = decode_directions(scene[0], 0.7, -0.3)
    assert torch.allclose(beams[0], signal[0], atol=1e-12)
    az, el = fibonacci_sphere(2000)
    power = decode_directions(scene[0], az, el).pow(2).mean(-1)
    best = int(power.argmax())
    cos_angle = (math.cos(el[best]) * math.cos(-0.3) * math.cos(az[best] - 0.7) + math.sin(el[best]) * math.sin(-0.3))
    assert math.degrees(math.acos(min(cos_angle, 1.0))) < 5.0
    with pytest.raises(ValueError, match="one direction per sample"):
        encode_source(signal[0], torch.zeros(10, dtype=torch.float64), 0.0, 1)


def test_diffuse_noise_covariance_is_isotropic():
    noise = diffuse_noise(np.random.default_rng(1), 64000, order=3, rotation=0.4)
    noise = lfilter([0.5], [1.0, -0.5], noise, axis=-1)  # the corpus' colouring: one filter on every channel
    cov = np.cov(noise)
    n3d = cov * np.outer(sn3d_to_n3d(3, torch.float64), sn3d_to_n3d(3, torch.float64)).astype(float)
    n3d /= np.trace(n3d) / 16
    assert np.abs(n3d - np.eye(16)).max() < 0.06  # SN3D: diag(1 / (2n + 1)) up to 6% (sampling + 64 directions)


# ------------------------------------------------------------------------------------------------ corpus
SIZES = {"train": 3, "dev": 1, "test": 2}


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".done"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_ambisonics(tmp_path_factory.mktemp("amb") / "c", sizes=SIZES, seed=0, scene_seconds=1.5,
                           progress=False)


def test_layout_16_channels_and_validates(corpus):
    for split, count in SIZES.items():
        assert validate_data_dir(corpus / split) == []
        d = DataDir(corpus / split)
        assert d.keys() == [f"{split}-{i:05d}" for i in range(count)]
        for utt in d.keys():
            meta = info(d.audio(utt).path)
            assert (meta.channels, meta.sample_rate, meta.num_frames, meta.subtype) == (16, 16000, 24000, "PCM_16")
            wav, _ = load(d.audio(utt).path)
            peak_db = 20 * math.log10(float(wav.abs().max()))
            assert -9.1 < peak_db < -2.9
            # W (channel 0) carries the most energy, as for any sum of plane waves and diffuse noise in SN3D
            assert int(wav.pow(2).mean(-1).argmax()) == 0
        scenes = read_table(corpus / split / "utt2scene").entries
        assert all(1 <= v.count("|") <= 3 and "diffuse_db=" in v for v in scenes.values())


def test_sources_are_held_out_by_split(corpus):
    def used(split: str, kind: str) -> set[str]:  # the talkers / music tracks the split's scenes use
        return {m for v in read_table(corpus / split / "utt2scene").entries.values()
                for m in re.findall(kind + r":([^\s/]+)", v)}

    def offered(split: str, kind: str) -> set[str]:  # those of the same split of the source corpus
        if kind == "speech":
            return set(DataDir(corpus / "sources" / "speech" / split).table("utt2spk").entries.values())
        return set(read_table(corpus / "sources" / "music" / split / "utt2piece").entries)

    for kind in ("speech", "music"):
        for split in SIZES:
            assert used(split, kind) <= offered(split, kind)
        assert set().union(*(used(s, kind) for s in SIZES))  # both kinds occur
        assert not offered("train", kind) & offered("test", kind)


def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    again = make_ambisonics(tmp_path / "b", sizes=SIZES, seed=0, scene_seconds=1.5, progress=False)
    assert tree_hashes(again) == tree_hashes(corpus)
    other = make_ambisonics(tmp_path / "c", sizes=SIZES, seed=1, scene_seconds=1.5, music=False, progress=False)
    a, c = tree_hashes(corpus), tree_hashes(other)
    assert all(a[k] != c[k] for k in a if k.startswith("wav/"))


def test_resume_recreates_a_missing_scene_identically_and_refuses_other_params(corpus, tmp_path):
    work = tmp_path / "resume"
    shutil.copytree(corpus, work)
    before = tree_hashes(work)
    (work / "wav" / "train-00001.wav").unlink()
    (work / ".done").unlink()  # an interrupted run has no .done marker yet
    make_ambisonics(work, sizes=SIZES, seed=0, scene_seconds=1.5, progress=False)
    assert tree_hashes(work) == before
    with pytest.raises(CorpusError, match="pick another output directory"):
        make_ambisonics(work, sizes=SIZES, seed=0, scene_seconds=2.0, progress=False)
    with pytest.raises(CorpusError, match="size must be one of"):
        make_ambisonics(tmp_path / "x", size="huge", progress=False)


def test_cli_dispatches_ambisonics(monkeypatch, tmp_path):
    from audiokit import cli
    from audiokit.corpora import CORPORA

    assert CORPORA["ambisonics"] is make_ambisonics
    calls = []
    monkeypatch.setitem(CORPORA, "ambisonics", lambda out, **kw: calls.append((out, kw)) or out)
    assert cli.main(["corpus", "make", "ambisonics", "--out", str(tmp_path / "a"), "--seed", "2", "-q"]) == 0
    assert calls == [(tmp_path / "a", {"size": "tiny", "seed": 2, "progress": False})]
