"""An offline third-order Ambisonics corpus: speech and music sources panned around a listener in diffuse noise.

What a scene holds: 1 to 3 sources, each a talker or a music stem, at its own direction, over a diffuse noise
field, as a 16-channel third-order Ambisonics signal (AmbiX: ACN channel order, SN3D normalisation, see
:mod:`audiokit.audio.ambisonics`):

* a *talker* is one speaker of the offline speech corpus (:mod:`audiokit.corpora.speech`) saying one
  utterance after another (random order, 0.15-0.6 s pauses) from a random start in the first half second;
* a *music stem* (35% of sources) is one voice or the drums of a rendered Bach chorale of the offline music
  corpus (:mod:`audiokit.corpora.music`), a ``scene_seconds`` excerpt from a random point of the 10 s track
  (another stem or track is drawn if it is silent there);
* each source has unit RMS over the scene times a gain of -6..0 dB, and a direction uniform on the sphere;
  40% of sources move at a constant angular speed (azimuth -30..30 degrees/s, elevation -8..8 degrees/s,
  elevation held inside +-80 degrees), encoded with a direction per sample;
* the diffuse noise is :data:`DIFFUSE_DIRECTIONS` independent Gaussian noises from a Fibonacci sphere turned
  by a random azimuth, encoded and summed, then coloured by a one-pole low-pass (coefficient 0..0.95, the
  same filter on every channel, which keeps the field isotropic); its ``W`` power is 10..30 dB below the
  sources'. An isotropic field has channel covariance ``diag(1 / (2n + 1))`` in SN3D;
* the scene is scaled so that its largest sample over all channels is at -9..-3 dBFS.

Sources are held out by split: a split's scenes use only the same split of the speech corpus (its speakers
are disjoint from the other splits') and of the music corpus (split by piece and tune).

Output (``out_dir``)::

    wav/<split>-<nnnnn>.wav           16-bit PCM, 16 channels (ACN/SN3D), ``sample_rate`` Hz
    {train,dev,test}/wav.scp          <utt> ../wav/<utt>.wav
    {train,dev,test}/utt2dur          <utt> 4.0000
    {train,dev,test}/utt2scene        <utt> speech:en-us_m3 az=12.3 el=-40.1 moving=0 gain_db=-2.1 | music:...
                                      | diffuse_db=-18.2 lowpass=0.62 peak_db=-5.0   (degrees, at t = 0)
    sources/speech, sources/music     the source corpora, made first (their own markers; resumable)
    .params.json, .done               run markers (see audiokit.corpora.common)

Every random draw of a scene comes from its own seeded generator, so a scene is byte-identical whatever
order scenes are made in, and an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter

from audiokit.audio import io as audio_io
from audiokit.audio.ambisonics import encode_source, fibonacci_sphere, num_channels, spherical_harmonics
from audiokit.corpora import common
from audiokit.data.kaldi import read_table, write_table

__all__ = ["make_ambisonics", "SIZES", "ORDER", "DIFFUSE_DIRECTIONS", "diffuse_noise", "plan_scene", "render_scene"]

FORMAT_VERSION = 1
ORDER = 3  #: third order: 16 channels
DIFFUSE_DIRECTIONS = 64  #: plane waves of the diffuse field (N3D covariance within 2.5% of the identity)

#: Scenes per split for each size.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"train": 48, "dev": 8, "test": 8},
    "small": {"train": 800, "dev": 80, "test": 80},
    "full": {"train": 4000, "dev": 200, "test": 200},
}
#: The source corpora's sizes for each size; custom ``sizes`` use ``"custom"`` (a few sources, for tests).
SOURCE_SIZES: dict[str, dict[str, dict]] = {
    "tiny": {"speech": {"size": "tiny"}, "music": {"size": "tiny"}},
    "small": {"speech": {"size": "small"}, "music": {"size": "small"}},
    "full": {"speech": {"size": "full"}, "music": {"size": "full"}},
    "custom": {"speech": {"sizes": {"train": [4, 2], "dev": [2, 1], "test": [2, 1]}},
               "music": {"sizes": {"train": 1, "dev": 1, "test": 1}, "clip_seconds": 5.0}},
}

MUSIC_PROBABILITY = 0.35
MOVING_PROBABILITY = 0.4
MAX_ELEVATION = math.radians(80.0)


# ------------------------------------------------------------------------------------------------ sources
@functools.lru_cache(maxsize=128)
def _load(path: str, sample_rate: int) -> np.ndarray:
    """A source file as a mono float64 array (cached: scenes reuse sources)."""
    wav, rate = audio_io.load(path)
    if rate != sample_rate:
        raise common.CorpusError(f"source '{path}' is at {rate} Hz, expected {sample_rate} Hz")
    return wav.mean(dim=0).double().numpy()  # (C, T) -> (T,)


def _speech_pool(corpus: Path, split: str) -> dict[str, list[str]]:
    """speaker -> sorted utterance paths of one split of the speech corpus."""
    data_dir = corpus / split
    wavs, spk = read_table(data_dir / "wav.scp"), read_table(data_dir / "utt2spk")
    pool: dict[str, list[str]] = {}
    for utt in sorted(wavs.entries):
        pool.setdefault(spk[utt], []).append(str((data_dir / wavs[utt]).resolve()))
    return dict(sorted(pool.items()))


def _music_pool(corpus: Path, split: str) -> list[tuple[str, str, str]]:
    """(track, stem, path) of every stem of one split of the music corpus, sorted."""
    from audiokit.corpora.music import STEMS

    data_dir = corpus / split
    pool = []
    for stem in STEMS:
        table = read_table(data_dir / f"{stem}.scp")
        pool += [(utt, stem, str((data_dir / table[utt]).resolve())) for utt in table.entries]
    return sorted(pool)


# ------------------------------------------------------------------------------------------------ scenes
def _talker(rng: np.random.Generator, paths: list[str], length: int, sample_rate: int) -> np.ndarray:
    """Utterances of one speaker one after another (random order, short pauses) over ``length`` samples."""
    out = np.zeros(length)
    t = int(rng.uniform(0.0, 0.5) * sample_rate)
    order = rng.permutation(len(paths))
    i = 0
    while t < length:
        utterance = _load(paths[order[i % len(order)]], sample_rate)
        i += 1
        n = min(len(utterance), length - t)
        out[t : t + n] = utterance[:n]
        t += n + int(rng.uniform(0.15, 0.6) * sample_rate)
    return out


def _music_excerpt(rng: np.random.Generator, pool: list[tuple[str, str, str]], length: int,
                   sample_rate: int) -> tuple[str, np.ndarray] | None:
    """A non-silent ``length``-sample excerpt of a random stem (up to 8 draws), or None."""
    for _ in range(8):
        track, stem, path = pool[int(rng.integers(len(pool)))]
        samples = _load(path, sample_rate)
        start = int(rng.integers(0, max(len(samples) - length, 0) + 1))
        excerpt = samples[start : start + length]
        if len(excerpt) < length:
            excerpt = np.concatenate([excerpt, np.zeros(length - len(excerpt))])
        if np.sqrt(np.mean(excerpt ** 2)) > 10 ** (-50 / 20):
            return f"music:{track}/{stem}", excerpt
    return None


def plan_scene(rng: np.random.Generator, speech: dict[str, list[str]], music: list[tuple[str, str, str]],
               length: int, sample_rate: int) -> dict:
    """Every random choice of one scene: its sources (signal, direction track, gain) and its noise."""
    sources = []
    speakers = list(speech)
    for _ in range(int(rng.integers(1, 4))):
        source = None
        if music and rng.random() < MUSIC_PROBABILITY:
            source = _music_excerpt(rng, music, length, sample_rate)
        if source is None:
            speaker = speakers[int(rng.integers(len(speakers)))]
            source = (f"speech:{speaker}", _talker(rng, speech[speaker], length, sample_rate))
        name, signal = source
        azimuth, elevation = rng.uniform(-math.pi, math.pi), math.asin(rng.uniform(-1.0, 1.0))
        elevation = float(np.clip(elevation, -MAX_ELEVATION, MAX_ELEVATION))
        moving = bool(rng.random() < MOVING_PROBABILITY)
        speeds = (math.radians(rng.uniform(-30, 30)), math.radians(rng.uniform(-8, 8))) if moving else (0.0, 0.0)
        sources.append({"name": name, "signal": signal, "azimuth": azimuth, "elevation": elevation,
                        "speeds": speeds, "moving": moving, "gain_db": float(rng.uniform(-6.0, 0.0))})
    return {"sources": sources, "diffuse_db": float(rng.uniform(-30.0, -10.0)),
            "rotation": float(rng.uniform(-math.pi, math.pi)), "lowpass": float(rng.uniform(0.0, 0.95)),
            "peak_db": float(rng.uniform(-9.0, -3.0)), "noise_seed": int(rng.integers(2 ** 32))}


def diffuse_noise(rng: np.random.Generator, length: int, order: int = ORDER, rotation: float = 0.0,
                  directions: int = DIFFUSE_DIRECTIONS) -> np.ndarray:
    """``(K, length)`` isotropic diffuse noise of unit ``W`` power: ``directions`` independent white Gaussian
    plane waves from a Fibonacci sphere turned by ``rotation`` radians of azimuth, each of power
    ``1 / directions``."""
    azimuth, elevation = fibonacci_sphere(directions)
    gains = spherical_harmonics(azimuth + rotation, elevation, order).numpy()  # (Q, K)
    waves = rng.standard_normal((directions, length)) / math.sqrt(directions)  # (Q, T)
    return gains.T @ waves  # (K, Q) @ (Q, T) -> (K, T)


def render_scene(plan: dict, length: int, sample_rate: int, order: int = ORDER) -> np.ndarray:
    """The ``(K, length)`` float64 scene of a plan from :func:`plan_scene`."""
    scene = np.zeros((num_channels(order), length))
    t = np.arange(length) / sample_rate
    for source in plan["sources"]:
        signal = source["signal"]
        signal = signal * (10 ** (source["gain_db"] / 20) / max(math.sqrt(float(np.mean(signal ** 2))), 1e-9))
        if source["moving"]:
            azimuth = torch.from_numpy(source["azimuth"] + source["speeds"][0] * t)
            elevation = torch.from_numpy(np.clip(source["elevation"] + source["speeds"][1] * t,
                                                 -MAX_ELEVATION, MAX_ELEVATION))
        else:
            azimuth, elevation = source["azimuth"], source["elevation"]
        scene += encode_source(torch.from_numpy(signal), azimuth, elevation, order).numpy()
    direct_power = float(np.mean(scene[0] ** 2))
    noise = diffuse_noise(np.random.default_rng(plan["noise_seed"]), length, order, plan["rotation"])
    a = plan["lowpass"]
    noise = lfilter([1.0 - a], [1.0, -a], noise, axis=-1)  # the same filter on every channel: still isotropic
    noise *= math.sqrt(direct_power * 10 ** (plan["diffuse_db"] / 10) / max(float(np.mean(noise[0] ** 2)), 1e-12))
    scene += noise
    return scene * (10 ** (plan["peak_db"] / 20) / max(float(np.max(np.abs(scene))), 1e-9))


def describe(plan: dict) -> str:
    """One line for ``utt2scene``: each source's name, direction at t = 0 (degrees), motion and gain."""
    parts = [f"{s['name']} az={math.degrees(s['azimuth']):.1f} el={math.degrees(s['elevation']):.1f} "
             f"moving={int(s['moving'])} gain_db={s['gain_db']:.1f}" for s in plan["sources"]]
    parts.append(f"diffuse_db={plan['diffuse_db']:.1f} lowpass={plan['lowpass']:.2f} peak_db={plan['peak_db']:.1f}")
    return " | ".join(parts)


# ------------------------------------------------------------------------------------------------ maker
def _resolve_sizes(size: str, sizes: Mapping[str, int] | None) -> tuple[dict[str, int], str]:
    if sizes is None:
        if size not in SIZES:
            raise common.CorpusError(f"make_ambisonics: size must be one of {sorted(SIZES)}, got {size!r}")
        return dict(SIZES[size]), size
    common.check_sizes(sizes, "make_ambisonics")
    for split, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise common.CorpusError(f"make_ambisonics: sizes['{split}'] must be a positive int (scenes), "
                                     f"got {value!r}")
    return {s: int(sizes[s]) for s in common.SPLITS}, "custom"


def make_ambisonics(
    out_dir: str | os.PathLike,
    size: str = "tiny",
    seed: int = 0,
    sample_rate: int = 16000,
    progress: bool = True,
    sizes: Mapping[str, int] | None = None,
    scene_seconds: float = 4.0,
    music: bool = True,
) -> Path:
    """Make (or finish, or find finished) the third-order Ambisonics scene corpus in ``out_dir``; return its path.

    Args:
        out_dir: output directory (created; must be new, empty, or a run of this corpus with the same
            arguments, which is then resumed or returned as is).
        size: scenes per split: 'tiny' (48/8/8, 4.3 minutes; speech and music corpora 'tiny'), 'small'
            (800/80/80) or 'full' (4000/200/200, 4.9 hours); see :data:`SIZES` and :data:`SOURCE_SIZES`.
        seed: corpus seed (also the source corpora's); the same seed gives byte-identical files.
        sample_rate: Hz, 16000..48000 (the source corpora are made at this rate).
        progress: show progress bars.
        sizes: instead of ``size``, scenes per split, e.g. ``{"train": 3, "dev": 1, "test": 1}`` (for tests;
            the source corpora are then a few utterances and one music track per split).
        scene_seconds: length of every scene, 1..30 s.
        music: draw music stems as sources too (needs the music corpus' packages); False: talkers only.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not 16000 <= sample_rate <= 48000:
        raise common.CorpusError(f"make_ambisonics: sample_rate must be an int in 16000..48000 Hz, got {sample_rate!r}")
    if isinstance(scene_seconds, bool) or not isinstance(scene_seconds, (int, float)) \
            or not 1.0 <= scene_seconds <= 30.0:
        raise common.CorpusError(f"make_ambisonics: scene_seconds must be in 1..30, got {scene_seconds!r}")
    split_sizes, source_key = _resolve_sizes(size, sizes)
    source_sizes = {k: v for k, v in SOURCE_SIZES[source_key].items() if music or k != "music"}
    out = Path(out_dir)
    params = {
        "corpus": "ambisonics", "format_version": FORMAT_VERSION, "seed": int(seed), "sample_rate": sample_rate,
        "order": ORDER, "sizes": split_sizes, "scene_seconds": float(scene_seconds), "music": bool(music),
        "sources": source_sizes,
    }
    if common.begin_run(out, params):
        return out

    from audiokit.corpora.music import make_music
    from audiokit.corpora.speech import make_speech

    speech_dir = make_speech(out / "sources" / "speech", seed=seed, sample_rate=sample_rate, progress=progress,
                             **source_sizes["speech"])
    music_dir = make_music(out / "sources" / "music", seed=seed, sample_rate=sample_rate, progress=progress,
                           channels=1, **source_sizes["music"]) if music else None
    length = int(round(scene_seconds * sample_rate))
    tables: dict[str, dict[str, dict[str, str]]] = {
        s: {"wav.scp": {}, "utt2dur": {}, "utt2scene": {}} for s in common.SPLITS}
    total = sum(split_sizes.values())
    with common.progress_bar(total, "ambisonics corpus", progress) as bar, common.torch_single_thread():
        for split in common.SPLITS:
            speech = _speech_pool(speech_dir, split)
            stems = _music_pool(music_dir, split) if music_dir is not None else []
            data_dir = out / split
            for i in range(split_sizes[split]):
                utt = f"{split}-{i:05d}"
                plan = plan_scene(common.item_rng(seed, "scene", utt), speech, stems, length, sample_rate)
                path = out / "wav" / f"{utt}.wav"
                if not common.audio_complete(path, length):
                    scene = render_scene(plan, length, sample_rate)
                    audio_io.save(path, torch.from_numpy(scene.astype(np.float32)), sample_rate, subtype="PCM_16")
                tables[split]["wav.scp"][utt] = common.relpath_from(data_dir, path)
                tables[split]["utt2dur"][utt] = common.format_duration(length, sample_rate)
                tables[split]["utt2scene"][utt] = describe(plan)
                bar.update(1)
    _load.cache_clear()
    for split in common.SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
        for name, entries in tables[split].items():
            write_table(out / split / name, entries)
    common.finish_run(out, params, {"scenes": split_sizes, "channels": num_channels(ORDER),
                                    "format": "AmbiX (ACN, SN3D)"})
    return out
