"""An offline audio-effect corpus: dry/wet pairs made with real ``pedalboard`` processors, with knobs.

Each clip is mono, ``clip_seconds`` (4 s) long at ``sample_rate`` (44.1 kHz). The dry input is one of

* speech (35%): eSpeak NG sentences and digit strings from one voice, each utterance at its own gain,
  joined with pauses and resampled from 22050 Hz;
* music (40%): notes made here with numpy — plucked strings (Karplus-Strong), saw + low-pass leads,
  detuned-saw pad chords, FM bells, a sine/saw bass, and drum hits (swept-sine kick, noise snare,
  hi-hat) — on a seeded tempo, key and scale, with per-note velocities and sometimes a slow crescendo
  or fade;
* dynamics tests (25%): tone and noise bursts at stepped levels (rising, falling, alternating
  loud/quiet, random) with sharp or soft onsets, which exercise a compressor's attack and release.

and is peak-normalised to a level drawn from -30..-1 dBFS (``-1 - 29 u^2``, u uniform: median about
-8 dBFS, loud clips more often so that compressor thresholds have something to do). The same clip id
has the same dry input in every effect. The wet target is the dry clip through the effect, run on the
whole clip with fresh processor state; pedalboard's output has the input's length and no latency
offset (checked at start: an impulse's response starts at the impulse's own sample).

Engagement, measured on 200 train clips of seed 0: 45% of the compressor clips get more than
1 dB of gain reduction somewhere. The rest are the knob ranges' doing, not the material's: thresholds
above about -10 dBFS are over the short-term level of anything peaking at -1 dBFS, and a sixth of the
ratios are below 1.5:1. Those clips teach the model to leave quiet audio alone.

Effects and their knobs (physical ranges; normalised 0..1 values follow each knob's skew, see
:mod:`audiokit.data.knobs`):

* ``compressor`` — ``pedalboard.Compressor(threshold_db, ratio, attack_ms, release_ms)``
  (:data:`COMPRESSOR_KNOBS`).
* ``distortion`` — ``Pedalboard([Distortion(drive_db), LowpassFilter(tone_to_hz(tone)),
  Gain(distortion_makeup_db(drive_db))])`` (:data:`DISTORTION_KNOBS`): ``tone`` 0..1 sets the low-pass
  cutoff logarithmically from 500 Hz to 12 kHz; the make-up gain ``-(1 + drive_db / 2)`` dB keeps
  loudness in check and wet peaks below 1.0 (tanh output is within +-1, the 6 dB/octave low-pass
  overshoots by at most 7% at 12 kHz).

Held-out knob settings: for every knob, the interior interval :data:`HELD_OUT` = [0.40, 0.55] of its
*normalised* range is reserved for the test split. Train and dev clips never have any knob inside it
(each normalised value is drawn uniformly from [0, 0.40) U (0.55, 1]); every test clip has at least one
knob inside it (one knob, chosen at random, is drawn from the interval, the others from all of [0, 1]).
Knob values are rounded to 6 significant digits before processing, so the values written to ``params``
reproduce the target exactly. The test split's dry audio is disjoint from train's as well: its speech
comes from held-out eSpeak voices and every clip has its own seed.

Output (``out_dir``)::

    <effect>/wav/<utt>_input.wav, <utt>_target.wav     32-bit float WAV, mono
    <effect>/{train,dev,test}/input.scp, target.scp     <utt> ../wav/<utt>_input.wav
    <effect>/{train,dev,test}/params                    <utt> threshold_db=-20 ratio=4 ...
    <effect>/{train,dev,test}/utt2dur, utt2material     <utt> 4.0000 / <utt> speech|music|bursts
    <effect>/{train,dev,test}/knobs.json                the knob schema (KnobSchema.to_json())
    .params.json, .done                                 run markers (see audiokit.corpora.common)

Utterance ids are ``<split>-<nnnnn>``; the same id has the same dry input in every effect.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiokit.corpora import common, espeak, speech
from audiokit.data.kaldi import format_params, write_table
from audiokit.data.knobs import Knob, KnobSchema
from audiokit.utils import write_text_atomic

__all__ = [
    "make_fx", "SIZES", "EFFECTS", "COMPRESSOR_KNOBS", "DISTORTION_KNOBS", "HELD_OUT", "tone_to_hz",
    "distortion_makeup_db", "build_processor", "apply_effect", "held_out_knobs", "sample_knobs", "make_dry",
]

FORMAT_VERSION = 1

#: Clips per split for each size.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"train": 48, "dev": 8, "test": 12},
    "small": {"train": 400, "dev": 40, "test": 60},
    "full": {"train": 2000, "dev": 200, "test": 300},
}

COMPRESSOR_KNOBS = KnobSchema([
    Knob("threshold_db", -40.0, 0.0, -20.0, "dB"),
    Knob("ratio", 1.0, 20.0, 4.0, ":1", skew=0.5),
    Knob("attack_ms", 1.0, 100.0, 10.0, "ms", skew=0.5),
    Knob("release_ms", 20.0, 500.0, 100.0, "ms", skew=0.5),
])

DISTORTION_KNOBS = KnobSchema([
    Knob("drive_db", 0.0, 40.0, 15.0, "dB"),
    Knob("tone", 0.0, 1.0, 0.5, ""),
])

#: Normalised interval of every knob reserved for the test split (inclusive bounds).
HELD_OUT = (0.40, 0.55)

TONE_MIN_HZ, TONE_MAX_HZ = 500.0, 12000.0
MATERIALS = ("speech", "music", "bursts")
_MATERIAL_P = (0.35, 0.40, 0.25)
_PEAK_DB_RANGE = (-30.0, -1.0)
# Speakers of the speech material per split (disjoint), from eSpeak's ~800 English voice identities.
_FX_VOICES = {"test": 100, "dev": 100, "train": 500}


def _pedalboard():
    try:
        import pedalboard
    except ImportError:
        raise common.CorpusError(
            "the effect corpus needs 'pedalboard' (the real processors): pip install audiokit[corpora]"
        ) from None
    return pedalboard


# ------------------------------------------------------------------------------------------ effects
def tone_to_hz(tone: float) -> float:
    """Distortion ``tone`` 0..1 -> low-pass cutoff in Hz, logarithmic from 500 Hz to 12 kHz."""
    return TONE_MIN_HZ * (TONE_MAX_HZ / TONE_MIN_HZ) ** float(tone)


def distortion_makeup_db(drive_db: float) -> float:
    """Output gain of the distortion chain in dB: ``-(1 + drive_db / 2)``."""
    return -(1.0 + 0.5 * float(drive_db))


def _compressor(params: Mapping[str, float]):
    pb = _pedalboard()
    return pb.Pedalboard([pb.Compressor(
        threshold_db=params["threshold_db"], ratio=params["ratio"],
        attack_ms=params["attack_ms"], release_ms=params["release_ms"],
    )])


def _distortion(params: Mapping[str, float]):
    pb = _pedalboard()
    return pb.Pedalboard([
        pb.Distortion(drive_db=params["drive_db"]),
        pb.LowpassFilter(cutoff_frequency_hz=tone_to_hz(params["tone"])),
        pb.Gain(gain_db=distortion_makeup_db(params["drive_db"])),
    ])


@dataclass(frozen=True)
class Effect:
    """An effect of the corpus: its knobs and how to build a fresh pedalboard chain from knob values."""

    name: str
    knobs: KnobSchema
    build: Callable[[Mapping[str, float]], object]


EFFECTS: dict[str, Effect] = {
    "compressor": Effect("compressor", COMPRESSOR_KNOBS, _compressor),
    "distortion": Effect("distortion", DISTORTION_KNOBS, _distortion),
}


def _effect(name: str) -> Effect:
    if name not in EFFECTS:
        raise common.CorpusError(f"unknown effect '{name}'; the fx corpus has: {', '.join(EFFECTS)}")
    return EFFECTS[name]


def build_processor(effect: str, params: Mapping[str, float]):
    """A new ``pedalboard.Pedalboard`` for ``effect`` at the knob values ``params`` (physical units)."""
    eff = _effect(effect)
    missing = [n for n in eff.knobs.names if n not in params]
    if missing:
        raise common.CorpusError(f"{effect}: knob values missing for {missing} (expected {eff.knobs.names})")
    return eff.build(params)


def apply_effect(
    effect: str, samples: np.ndarray, sample_rate: int, params: Mapping[str, float]
) -> np.ndarray:
    """Run a mono float32 clip through a fresh ``effect`` chain; the output has the input's length."""
    x = np.ascontiguousarray(samples, dtype=np.float32)[None]  # (T,) -> (1, T)
    y = build_processor(effect, params)(x, sample_rate, reset=True)
    if y.shape != x.shape:
        raise common.CorpusError(f"{effect}: pedalboard returned shape {y.shape} for input {x.shape}")
    return y[0]


def _check_alignment(effect: str, sample_rate: int) -> None:
    """No latency offset: at default knob values, an impulse at sample 1000 must produce output starting
    exactly at sample 1000 (silent before it, non-zero at it)."""
    x = np.zeros(4096, np.float32)
    x[1000] = 1e-3
    y = apply_effect(effect, x, sample_rate, _effect(effect).knobs.defaults())
    nonzero = np.flatnonzero(np.abs(y) > 1e-9)
    first = int(nonzero[0]) if nonzero.size else None
    if first != 1000:
        raise common.CorpusError(
            f"{effect}: pedalboard output is not aligned with its input (an impulse at sample 1000 starts "
            f"the output at {first}); this pedalboard version adds latency"
        )


# --------------------------------------------------------------------------------------------- knobs
def held_out_knobs(schema: KnobSchema, params: Mapping[str, float]) -> list[str]:
    """Names of the knobs whose normalised value lies inside :data:`HELD_OUT`."""
    lo, hi = HELD_OUT
    return [k.name for k in schema if lo <= k.normalize(float(params[k.name])) <= hi]


def sample_knobs(schema: KnobSchema, rng: np.random.Generator, split: str) -> dict[str, float]:
    """Knob values for one clip of ``split``, honouring the held-out interval (see module docstring)."""
    lo, hi = HELD_OUT
    while True:  # rounding to 6 digits can move a value across an interval edge: draw again then
        if split == "test":
            forced = int(rng.integers(len(schema)))
            us = [rng.uniform(lo, hi) if i == forced else rng.uniform(0.0, 1.0) for i in range(len(schema))]
        else:
            us = [v if v < lo else v + (hi - lo) for v in rng.uniform(0.0, 1.0 - (hi - lo), size=len(schema))]
        params = {k.name: float(f"{k.denormalize(float(u)):.6g}") for k, u in zip(schema, us)}
        if bool(held_out_knobs(schema, params)) == (split == "test"):
            return params


# ----------------------------------------------------------------------------------------- synthesis
def _adsr(length: int, sample_rate: int, attack: float, decay: float, sustain: float, release: float,
          gate: float) -> np.ndarray:
    """Piecewise-linear ADSR envelope of ``length`` samples; the key is held for ``gate`` seconds."""
    hold = max(gate, attack + decay)
    times = np.array([0.0, attack, attack + decay, hold, hold + release])
    levels = np.array([0.0, 1.0, sustain, sustain, 0.0])
    return np.interp(np.arange(length) / sample_rate, times, levels)


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _saw(freq: float, length: int, sample_rate: int) -> np.ndarray:
    """Band-limited sawtooth (PolyBLEP) in [-1, 1]."""
    dt = freq / sample_rate
    phase = (np.arange(length) * dt) % 1.0
    out = 2.0 * phase - 1.0
    lo = phase < dt  # just after the wrap
    t = phase[lo] / dt
    out[lo] -= t + t - t * t - 1.0
    hi = phase > 1.0 - dt  # just before the wrap
    t = (phase[hi] - 1.0) / dt
    out[hi] -= t * t + t + t + 1.0
    return out


def _pluck(rng, freq, dur, sample_rate):
    """Karplus-Strong plucked string: a noise burst recirculated through a delay line and a 2-tap average."""
    period = max(2, int(round(sample_rate / freq)))
    t60 = rng.uniform(0.8, 3.0)  # seconds to decay by 60 dB
    rho = 10.0 ** (-3.0 / (t60 * sample_rate / period))  # loss per trip round the loop
    length = int((dur + 0.3) * sample_rate)
    y = np.zeros(length + 1)  # y[0] is the sample before the first one (silence)
    burst = rng.uniform(-1.0, 1.0, period)
    smooth = int(rng.integers(1, 4))  # darker excitation with more smoothing
    burst = np.convolve(burst, np.ones(smooth) / smooth, mode="same")
    y[1 : period + 1] = burst[: length]
    for start in range(period + 1, length + 1, period):  # one period at a time, vectorised within it
        stop = min(start + period, length + 1)
        one_back, two_back = y[start - period : stop - period], y[start - period - 1 : stop - period - 1]
        y[start:stop] = rho * 0.5 * (one_back + two_back)
    env = _adsr(length, sample_rate, 0.0005, 0.0, 1.0, 0.3, dur)
    return y[1:] * env


def _lead(rng, freq, dur, sample_rate):
    """Sawtooth through a 2-pole low-pass, with an ADSR envelope."""
    from scipy.signal import butter, lfilter

    length = int((dur + 0.25) * sample_rate)
    cutoff = min(freq * rng.uniform(2.0, 10.0), 0.45 * sample_rate)
    b, a = butter(2, cutoff / (sample_rate / 2))
    y = lfilter(b, a, _saw(freq, length, sample_rate))
    env = _adsr(length, sample_rate, rng.uniform(0.002, 0.05), rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.9),
                rng.uniform(0.05, 0.25), dur)
    return y * env


def _bell(rng, freq, dur, sample_rate):
    """Two-operator FM bell: inharmonic modulator ratio, decaying index and amplitude."""
    length = int((dur + 1.0) * sample_rate)
    t = np.arange(length) / sample_rate
    ratio = float(rng.choice([1.4, 2.0, 2.76, 3.5]))
    decay = rng.uniform(0.3, 1.5)
    index = rng.uniform(1.0, 6.0) * np.exp(-t / decay)
    y = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * freq * ratio * t))
    return y * np.exp(-t / decay) * _adsr(length, sample_rate, 0.001, 0.0, 1.0, 0.01, length / sample_rate)


def _bass(rng, freq, dur, sample_rate):
    """Sine plus a little filtered saw, short attack."""
    from scipy.signal import butter, lfilter

    length = int((dur + 0.15) * sample_rate)
    t = np.arange(length) / sample_rate
    b, a = butter(2, min(freq * 4, 0.45 * sample_rate) / (sample_rate / 2))
    y = np.sin(2 * np.pi * freq * t) + rng.uniform(0.1, 0.5) * lfilter(b, a, _saw(freq, length, sample_rate))
    return y * _adsr(length, sample_rate, 0.004, 0.1, rng.uniform(0.5, 0.9), 0.1, dur)


def _drum(rng, kind, sample_rate):
    from scipy.signal import butter, lfilter

    if kind == "kick":
        length = int(0.45 * sample_rate)
        t = np.arange(length) / sample_rate
        freq = 45.0 + rng.uniform(80, 140) * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / rng.uniform(0.08, 0.2))
    if kind == "snare":
        length = int(0.3 * sample_rate)
        t = np.arange(length) / sample_rate
        b, a = butter(2, [1000 / (sample_rate / 2), 6000 / (sample_rate / 2)], btype="band")
        noise = lfilter(b, a, rng.standard_normal(length)) * np.exp(-t / rng.uniform(0.04, 0.1))
        return 1.5 * noise + 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04)
    length = int(0.12 * sample_rate)  # hi-hat
    t = np.arange(length) / sample_rate
    b, a = butter(2, 7000 / (sample_rate / 2), btype="high")
    return lfilter(b, a, rng.standard_normal(length)) * np.exp(-t / rng.uniform(0.01, 0.04))


def _pad(rng, freqs, dur, sample_rate):
    """A sustained chord of detuned saws through a 2-pole low-pass, slow attack and release."""
    from scipy.signal import butter, lfilter

    length = int((dur + 0.6) * sample_rate)
    y = sum(_saw(f * d, length, sample_rate) for f in freqs for d in (0.997, 1.003))
    b, a = butter(2, min(rng.uniform(600.0, 3000.0), 0.45 * sample_rate) / (sample_rate / 2))
    attack, sustain, release = rng.uniform(0.05, 0.4), rng.uniform(0.6, 1.0), rng.uniform(0.2, 0.6)
    env = _adsr(length, sample_rate, attack, 0.2, sustain, release, dur)
    return lfilter(b, a, y) * env / len(freqs)


def _add(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    if start >= len(out):
        return
    n = min(len(sound), len(out) - start)
    out[start : start + n] += sound[:n]


_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
}
_INSTRUMENTS = {  # voice, lowest note (MIDI, relative to the key's root), range in scale steps
    "pad": (None, 0, 10),
    "pluck": (_pluck, 12, 12),
    "lead": (_lead, 12, 10),
    "bell": (_bell, 24, 10),
    "bass": (_bass, -12, 7),
}


def _music(rng: np.random.Generator, sample_rate: int, length: int) -> np.ndarray:
    out = np.zeros(length)
    beat = 60.0 / rng.uniform(80, 160)
    root = int(rng.integers(40, 52))
    scale = _SCALES[str(rng.choice(sorted(_SCALES)))]
    names = sorted(_INSTRUMENTS)
    chosen = [names[i] for i in rng.permutation(len(names))[: int(rng.integers(1, 4))]]
    for name in chosen:
        voice, low, span = _INSTRUMENTS[name]
        part = np.zeros(length)
        step = int(rng.integers(span))
        t = 0.0
        while t < length / sample_rate:
            if voice is None:  # pad: chords of 2-8 beats, root position triads on the scale
                dur = beat * float(rng.choice([2.0, 4.0, 8.0]))
                degree = int(rng.integers(len(scale)))
                notes = [root + low + 12 * ((degree + k) // len(scale)) + scale[(degree + k) % len(scale)]
                         for k in (0, 2, 4)]
                sound = _pad(rng, [_midi_hz(n) for n in notes], dur, sample_rate)
                _add(part, rng.uniform(0.5, 1.0) * sound, int(t * sample_rate))
                t += dur
                continue
            dur = beat * float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 2.0]))
            if rng.random() > 0.15:  # else a rest
                step = int(np.clip(step + rng.integers(-2, 3), 0, span - 1))
                octave, degree = divmod(step, len(scale))
                note = root + low + 12 * octave + scale[degree]
                sound = rng.uniform(0.25, 1.0) * voice(rng, _midi_hz(note), dur, sample_rate)
                _add(part, sound, int(t * sample_rate))
            t += dur
        peak = np.max(np.abs(part))
        if peak > 0:
            out += part / peak * common.db_to_gain(rng.uniform(-12.0, 0.0))
    if rng.random() < 0.6:
        drums = np.zeros(length)
        sixteenth = beat / 4
        for i in range(int(length / sample_rate / sixteenth) + 1):
            start = int(i * sixteenth * sample_rate)
            if (i % 4 == 0 and rng.random() < 0.9) or rng.random() < 0.05:
                _add(drums, rng.uniform(0.5, 1.0) * _drum(rng, "kick", sample_rate), start)
            if i % 8 == 4 and rng.random() < 0.85:
                _add(drums, rng.uniform(0.4, 1.0) * _drum(rng, "snare", sample_rate), start)
            if i % 2 == 0 and rng.random() < 0.7:
                _add(drums, rng.uniform(0.1, 0.5) * _drum(rng, "hat", sample_rate), start)
        peak = np.max(np.abs(drums))
        if peak > 0:
            out += drums / peak * common.db_to_gain(rng.uniform(-15.0, -3.0))
    if rng.random() < 0.4:  # a slow crescendo or fade across the clip
        a, b = rng.uniform(-24.0, 0.0, size=2)
        out *= common.db_to_gain(np.linspace(a, b, length))
    return out


def _bursts(rng: np.random.Generator, sample_rate: int, length: int) -> np.ndarray:
    """Tone/noise bursts at stepped levels: what a compressor's attack and release react to."""
    count = int(rng.integers(4, 11))
    pattern = str(rng.choice(["rising", "falling", "alternating", "random"]))
    if pattern == "rising":
        levels = np.linspace(-36.0, 0.0, count) + rng.uniform(-2, 2, count)
    elif pattern == "falling":
        levels = np.linspace(0.0, -36.0, count) + rng.uniform(-2, 2, count)
    elif pattern == "alternating":
        quiet, loud = rng.uniform(-40.0, -18.0), rng.uniform(-6.0, 0.0)
        levels = np.where(np.arange(count) % 2 == 0, quiet, loud) + rng.uniform(-1, 1, count)
    else:
        levels = rng.uniform(-40.0, 0.0, count)
    out = np.zeros(length)
    t = rng.uniform(0.02, 0.2)
    for level in levels:
        dur = rng.uniform(0.05, 0.6)
        n = int(dur * sample_rate)
        source = str(rng.choice(["sine", "square", "noise"]))
        freq = float(np.exp(rng.uniform(np.log(80.0), np.log(2000.0))))
        k = np.arange(n) / sample_rate
        if source == "sine":
            sig = np.sin(2 * np.pi * freq * k)
        elif source == "square":  # first odd harmonics only, to stay band-limited
            harmonics = [h for h in (1, 3, 5, 7) if h * freq < 0.45 * sample_rate]
            sig = sum(np.sin(2 * np.pi * h * freq * k) / h for h in harmonics)
            sig = sig / np.max(np.abs(sig))
        else:
            sig = rng.uniform(-1.0, 1.0, n)
        onset = int(float(rng.choice([0.0005, 0.002, 0.02])) * sample_rate)
        sig = common.fades(sig, onset, int(0.005 * sample_rate))
        _add(out, sig * common.db_to_gain(level), int(t * sample_rate))
        t += dur + rng.uniform(0.03, 0.4)
        if t >= length / sample_rate:
            break
    return out


def _speech(rng: np.random.Generator, sample_rate: int, length: int, voices: Sequence[str]) -> np.ndarray:
    voice = voices[int(rng.integers(len(voices)))]
    rate, pitch, pitch_range = int(rng.uniform(130, 210)), int(rng.uniform(20, 80)), int(rng.uniform(30, 80))
    out = np.zeros(length)
    t = rng.uniform(0.0, 0.3)
    while t < length / sample_rate:
        text = speech.random_digits(rng) if rng.random() < 0.3 else speech.random_sentence(rng)
        samples, native_rate = espeak.synthesize(
            text.lower(), voice, rate=rate, pitch=pitch, pitch_range=pitch_range
        )
        samples = common.trim_silence(samples.astype(np.float64), native_rate, (0.01, 0.02))
        samples = common.resample(samples, native_rate, sample_rate).astype(np.float64)
        samples /= max(float(np.max(np.abs(samples))), 1e-9)
        _add(out, samples * common.db_to_gain(rng.uniform(-18.0, 0.0)), int(t * sample_rate))
        t += len(samples) / sample_rate + rng.uniform(0.05, 0.5)
    return out


def make_dry(material: str, rng: np.random.Generator, sample_rate: int, length: int,
             voices: Sequence[str] = ("en+m3",)) -> np.ndarray:
    """One dry clip of ``material`` ('speech', 'music', 'bursts'): float32, ``length`` samples.

    Its peak is set to ``-1 - 29 u^2`` dBFS (u uniform): anywhere in -30..-1 dBFS, loud clips more often
    (median about -8 dBFS). ``voices`` are the eSpeak voices speech may use.
    """
    if material == "speech":
        dry = _speech(rng, sample_rate, length, voices)
    elif material == "music":
        dry = _music(rng, sample_rate, length)
    elif material == "bursts":
        dry = _bursts(rng, sample_rate, length)
    else:
        raise common.CorpusError(f"unknown dry material '{material}' (expected one of {MATERIALS})")
    if not np.any(dry):  # a clip must never be silent (e.g. all notes were rests)
        dry = _bursts(rng, sample_rate, length)
    lo, hi = _PEAK_DB_RANGE
    return common.peak_normalize(dry, hi - (hi - lo) * rng.uniform() ** 2).astype(np.float32)


# ------------------------------------------------------------------------------------------ the maker
def _resolve_sizes(size: str, sizes: Mapping[str, int] | None) -> dict[str, int]:
    if sizes is None:
        if size not in SIZES:
            raise common.CorpusError(f"make_fx: size must be one of {sorted(SIZES)}, got {size!r}")
        return dict(SIZES[size])
    common.check_sizes(sizes, "make_fx")
    for split, n in sizes.items():
        if not isinstance(n, int) or n < 1:
            raise common.CorpusError(f"make_fx: sizes['{split}'] must be a positive int, got {n!r}")
    return {s: sizes[s] for s in common.SPLITS}


def make_fx(
    out_dir: str | os.PathLike,
    size: str = "tiny",
    seed: int = 0,
    sample_rate: int = 44100,
    effects: Sequence[str] = ("compressor", "distortion"),
    progress: bool = True,
    sizes: Mapping[str, int] | None = None,
    clip_seconds: float = 4.0,
) -> Path:
    """Make (or finish, or find finished) the effect corpus in ``out_dir``; return its path.

    Args:
        out_dir: output directory (created; must be new, empty, or a run of this corpus with the same
            arguments, which is then resumed or returned as is).
        size: clips per effect and split: 'tiny' (48/8/12), 'small' (400/40/60), 'full' (2000/200/300).
        seed: corpus seed; the same seed gives byte-identical files.
        sample_rate: sample rate in Hz of every clip.
        effects: which of :data:`EFFECTS` to make ('compressor', 'distortion'); each gets its own folder.
        progress: show a progress bar.
        sizes: instead of ``size``, clips per split, e.g. ``{"train": 6, "dev": 2, "test": 3}`` (for tests).
        clip_seconds: length of every clip in seconds.
    """
    if not isinstance(sample_rate, int) or not 16000 <= sample_rate <= 192000:
        raise common.CorpusError(
            f"make_fx: sample_rate must be an int in 16000..192000 Hz, got {sample_rate!r}"
        )
    valid_length = isinstance(clip_seconds, (int, float)) and math.isfinite(clip_seconds)
    if not (valid_length and 0.1 <= clip_seconds <= 60):
        raise common.CorpusError(f"make_fx: clip_seconds must be in 0.1..60, got {clip_seconds!r}")
    if isinstance(effects, str) or not effects or len(set(effects)) != len(effects):
        raise common.CorpusError(
            f"make_fx: effects must be a non-empty list of distinct names, got {effects!r}"
        )
    effects = [_effect(e).name for e in effects]
    split_sizes = _resolve_sizes(size, sizes)
    out = Path(out_dir)
    params = {
        "corpus": "fx", "format_version": FORMAT_VERSION, "seed": int(seed), "sample_rate": sample_rate,
        "sizes": split_sizes, "effects": effects, "clip_seconds": float(clip_seconds),
    }
    if common.begin_run(out, params):
        return out
    pb = _pedalboard()
    for effect in effects:
        _check_alignment(effect, sample_rate)
    espeak.check_deterministic()

    length = int(round(clip_seconds * sample_rate))
    voices = speech.split_voices(seed, _FX_VOICES, salt="fx")
    tables = {(e, s): {"input.scp": {}, "target.scp": {}, "params": {}, "utt2dur": {}, "utt2material": {}}
              for e in effects for s in common.SPLITS}
    items = [(split, i) for split in common.SPLITS for i in range(split_sizes[split])]
    with common.progress_bar(len(items), "fx corpus", progress) as bar, common.torch_single_thread():
        for split, i in items:
            utt = f"{split}-{i:05d}"
            material = MATERIALS[int(common.item_rng(seed, "fx-material", split, i).choice(3, p=_MATERIAL_P))]
            knobs = {e: sample_knobs(EFFECTS[e].knobs, common.item_rng(seed, "fx-knobs", e, split, i), split)
                     for e in effects}
            paths = {e: (out / e / "wav" / f"{utt}_input.wav", out / e / "wav" / f"{utt}_target.wav")
                     for e in effects}
            todo = [e for e in effects if not all(common.audio_complete(p, length) for p in paths[e])]
            if todo:
                dry_rng = common.item_rng(seed, "fx-dry", split, i)
                dry = make_dry(material, dry_rng, sample_rate, length, voices[split])
                for e in todo:
                    wet = apply_effect(e, dry, sample_rate, knobs[e])
                    assert np.all(np.isfinite(wet)) and np.max(np.abs(wet)) < 1.0, (e, utt, knobs[e])
                    dry_path, wet_path = paths[e]
                    if not common.audio_complete(dry_path, length):
                        common.save_mono(dry_path, dry, sample_rate, subtype="FLOAT")
                    if not common.audio_complete(wet_path, length):
                        common.save_mono(wet_path, wet, sample_rate, subtype="FLOAT")
            for e in effects:
                t = tables[(e, split)]
                data_dir = out / e / split
                t["input.scp"][utt] = common.relpath_from(data_dir, paths[e][0])
                t["target.scp"][utt] = common.relpath_from(data_dir, paths[e][1])
                t["params"][utt] = format_params(knobs[e])
                t["utt2dur"][utt] = common.format_duration(length, sample_rate)
                t["utt2material"][utt] = material
            bar.update(1)

    for (e, split), t in tables.items():
        data_dir = out / e / split
        data_dir.mkdir(parents=True, exist_ok=True)
        for name, entries in t.items():
            write_table(data_dir / name, entries)
        write_text_atomic(data_dir / "knobs.json", json.dumps(EFFECTS[e].knobs.to_json(), indent=2) + "\n")
    common.finish_run(out, params, {
        "pedalboard": pb.__version__,
        "espeak_ng": espeak.library_version(),
        "clips": {s: split_sizes[s] for s in common.SPLITS},
        "held_out": list(HELD_OUT),
    })
    return out
