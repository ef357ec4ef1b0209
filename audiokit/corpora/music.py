"""An offline multi-stem music corpus: Bach chorales rendered voice by voice through a General MIDI soundfont.

What is played: the four-part chorales that ship with music21's corpus (368 of its 433 Bach works
have exactly four parts). Each part becomes one stem; the parts are ordered by mean pitch, so
``soprano`` is always the highest voice and ``bass`` the lowest, whatever the file calls them.

How it sounds: each track draws an *ensemble* (strings, woodwinds, brass, saxophones, choir, organ,
keys or a mixed band, :data:`ENSEMBLES`) and from it a General MIDI program for every voice, never the
same program twice in a track. It also draws a tempo (60-110 quarter notes per minute), a transposition
(-4..+4 semitones), a stereo position and level per stem, and per-note velocities. Two optional stems:

* ``contrabass`` (60% of tracks): the chorale's bass line an octave lower (folded up where it would
  go below E1) on a bass patch (acoustic, electric, fretless or synth bass, contrabass);
* ``drums`` (50% of tracks): a General MIDI kit on channel 10 playing a pattern that follows the
  score's bars and time signature — kick on the strong beats, snare on the back beats (both light
  beats in triple time), hi-hat, ride or pedal hi-hat on every beat or half beat, sometimes a crash
  on the first full bar. Pick-up bars are counted from the bar line they lead to.

An absent optional stem is written as silence, so every track has every stem table.

Rendering: every stem is its own one-instrument MIDI file (pretty_midi writes it) rendered by
``midirenderer`` (a Rust soundfont synthesiser on PyPI, a wheel with no dependencies) with pretty_midi's
General MIDI soundfont ``TimGM6mb.sf2``. The renderer writes 16-bit stereo WAV at 48 kHz with its own
reverb and chorus; the stems are resampled to ``sample_rate`` (44.1 kHz) with
:class:`audiokit.audio.resample.Resample`. (``tinysoundfont`` renders too, but its pip install pulls
PyAudio, which builds only with Debian's portaudio19-dev; ``pyTinySoundFont`` 0.0.1 crashed on this
soundfont; pyfluidsynth needs Debian's libfluidsynth.)

Each track is the first ``clip_seconds`` (10 s) of its rendering, from the start of the piece for the
first rendition of a piece and from a later bar line for further renditions (rendition r of R starts
at the first bar line at or after r/R of the piece), with a 20 ms fade-out at the cut. All stems of a
track are scaled by one factor that puts the larger of the mixture's and the stems' peaks at a level
drawn from -6..-1 dBFS, so nothing clips. The mixture is the float sum of the stems as written
(float32 files), so ``sum(stems) == mixture`` to float32 rounding.

Splits are by piece *and* tune: many chorale tunes were harmonised several times (bwv10.7 and bwv324
share a melody). A piece's tune is its soprano's first 12 melodic intervals (transposition-invariant,
hashed to 8 hex digits); test pieces are drawn first, then dev pieces whose tune is not in test, then
train pieces whose tune is in neither, from one seeded shuffle of the corpus. No piece and no tune is
in two splits.

Output (``out_dir``)::

    wav/<utt>/<stem>.wav, mixture.wav          32-bit float WAV, ``channels`` channels, ``sample_rate`` Hz
    {train,dev,test}/mixture.scp, <stem>.scp   <utt> ../wav/<utt>/<stem>.wav
    {train,dev,test}/stems                     the stem names, one a line (:data:`STEMS`)
    {train,dev,test}/utt2dur                   <utt> 10.0000
    {train,dev,test}/utt2piece                 <utt> bwv10.7   (music21 corpus file name without suffix)
    {train,dev,test}/utt2arrangement           <utt> ensemble=brass tune=1a2b3c4d tempo_bpm=84.5 ...
    .params.json, .done                        run markers (see audiokit.corpora.common)

Utterance ids are ``<piece>_r<rendition>``. ``utt2arrangement`` gives the ensemble, tune, tempo,
transposition, start (in quarter notes), peak level and the General MIDI program (0-based) of each
stem (drums: the kit number; ``none``: the stem is silent).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import io
import math
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiokit.audio import io as audio_io
from audiokit.corpora import common
from audiokit.data.kaldi import write_table
from audiokit.utils import write_text_atomic

__all__ = [
    "make_music", "SIZES", "STEMS", "VOICES", "ENSEMBLES", "CONTRABASS_PROGRAMS", "DRUM_KITS", "Chorale",
    "Arrangement", "Bar", "chorale_paths", "load_chorale", "tune_key", "assign_pieces", "draw_arrangement",
    "drum_events", "render_part", "render_track", "mix", "soundfont_path",
]

FORMAT_VERSION = 1

#: (pieces, renditions per piece) per split for each size; ``None`` pieces: every piece left.
SIZES: dict[str, dict[str, tuple[int | None, int]]] = {
    "tiny": {"train": (4, 1), "dev": (2, 1), "test": (2, 1)},
    "small": {"train": (48, 1), "dev": (8, 1), "test": (8, 1)},
    "full": {"train": (None, 2), "dev": (36, 1), "test": (36, 1)},
}

VOICES = ("soprano", "alto", "tenor", "bass")
#: Every track's stems, in this order; ``contrabass`` and ``drums`` are silent in some tracks.
STEMS = (*VOICES, "contrabass", "drums")

#: General MIDI programs (0-based) each voice may get, per ensemble. Pools overlap between voices;
#: a track never uses a program twice.
ENSEMBLES: dict[str, dict[str, tuple[int, ...]]] = {
    # violin, fiddle / viola / cello / contrabass
    "strings": {"soprano": (40, 110), "alto": (40, 41), "tenor": (41, 42), "bass": (42, 43)},
    # flute, oboe, recorder / cor anglais, clarinet / bassoon; cello or church organ as continuo
    "woodwinds": {"soprano": (73, 68, 74), "alto": (68, 71, 69), "tenor": (71, 69, 70), "bass": (70, 42, 19)},
    # trumpet, muted trumpet / french horn / trombone / tuba
    "brass": {"soprano": (56, 59), "alto": (56, 59, 60), "tenor": (60, 57), "bass": (57, 58)},
    "saxophones": {"soprano": (64,), "alto": (65,), "tenor": (66,), "bass": (67,)},
    # choir aahs, voice oohs, synth voice; church organ under the bass
    "choir": {"soprano": (52, 53, 54), "alto": (52, 53, 54), "tenor": (52, 53, 54), "bass": (19, 52, 53)},
    # drawbar, percussive, church, reed organ, accordion
    "organ": {"soprano": (16, 17, 19), "alto": (19, 20, 16), "tenor": (20, 19, 21), "bass": (19, 20, 16, 17)},
    # piano, harpsichord, vibraphone, celesta / electric pianos, marimba / guitars, harp / acoustic bass
    "keys": {"soprano": (0, 6, 11, 8), "alto": (4, 5, 12, 0), "tenor": (24, 25, 4, 46), "bass": (32, 0, 46, 6)},
    # leads, winds, guitars, strings
    "band": {"soprano": (73, 56, 80, 81, 64, 40), "alto": (71, 65, 60, 11, 4, 26),
             "tenor": (66, 57, 24, 25, 42, 26), "bass": (58, 42, 70, 67, 19)},
}
#: Bass patches of the ``contrabass`` stem: acoustic, finger, pick, fretless, synth 1, synth 2, contrabass.
CONTRABASS_PROGRAMS = (32, 33, 34, 35, 38, 39, 43)
#: Drum kits of TimGM6mb.sf2 (bank 128): standard, room, power, electronic, TR-808, brush.
DRUM_KITS = (0, 8, 16, 24, 25, 40)

_TEMPO_BPM = (60.0, 110.0)
_TRANSPOSE = (-4, 4)
_PEAK_DB = (-6.0, -1.0)
_CONTRABASS_P, _DRUMS_P = 0.6, 0.5
_LOWEST_BASS_NOTE = 28  # E1, a bass guitar's open low string
_TUNE_INTERVALS = 12
_FADE_OUT_S = 0.02
_RENDER_MARGIN_S = 0.1  # rendered past the clip end, so the cut is inside sounding audio


# ------------------------------------------------------------------------------------- dependencies
def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise common.CorpusError(
            f"the music corpus needs '{module}' (music21 for the scores, pretty_midi for MIDI and its "
            f"soundfont, midirenderer to render): pip install audiokit[corpora]"
        ) from None


def soundfont_path() -> Path:
    """The General MIDI soundfont shipped inside pretty_midi (``TimGM6mb.sf2``)."""
    path = Path(_require("pretty_midi").__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise common.CorpusError(f"pretty_midi's soundfont is missing: expected '{path}'")
    return path


@functools.lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    return soundfont_path().read_bytes()


# ------------------------------------------------------------------------------------------- scores
@dataclass(frozen=True)
class Bar:
    """One measure, in quarter notes from the start of the piece.

    A pick-up bar is counted from the bar line it leads to: its ``downbeat`` lies before its ``onset``::

        downbeat    onset   end
           |  .  .  |  x  x  |      a 1-beat pick-up in 4/4: beats 0-2 fall before the music starts
    """

    downbeat: float
    onset: float
    end: float
    beat: float  # quarter notes per beat
    beats: int  # beats in a full bar


@dataclass(frozen=True)
class Chorale:
    """A four-part chorale as notes: ``voices`` holds (onset, duration, MIDI pitch) lists, highest voice first."""

    piece: str
    voices: tuple[tuple[tuple[float, float, int], ...], ...]
    bars: tuple[Bar, ...]
    length: float  # quarter notes
    tune: str


def chorale_paths() -> list[Path]:
    """music21's Bach scores (MusicXML and Humdrum; not the roman-numeral analyses), sorted by name."""
    corpus = _require("music21.corpus")
    paths = [Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in (".mxl", ".xml", ".musicxml", ".krn")]
    if not paths:
        raise common.CorpusError("music21's corpus has no Bach scores (is music21 installed completely?)")
    return sorted(paths, key=lambda p: p.name)


def _meter(ts) -> tuple[float, int]:
    """(quarter notes per beat, beats per bar) of a time signature; compound meters beat in dotted notes."""
    numerator, denominator = int(ts.numerator), int(ts.denominator)
    if denominator == 8 and numerator % 3 == 0 and numerator > 3:
        return 1.5, numerator // 3
    return 4.0 / denominator, numerator


def _bars(part) -> tuple[Bar, ...]:
    from music21 import meter, stream

    measures = list(part.getElementsByClass(stream.Measure))
    ts = None
    bars = []
    for i, m in enumerate(measures):
        ts = m.timeSignature or ts or m.getContextByClass(meter.TimeSignature) or meter.TimeSignature("4/4")
        beat, beats = _meter(ts)
        onset, length = float(m.offset), float(m.duration.quarterLength)
        full = beat * beats
        if i == 0 and length < full:  # pick-up: right-aligned against the next bar line
            downbeat = onset + length - full
        else:
            downbeat = onset - float(m.paddingLeft or 0.0)
        bars.append(Bar(downbeat, onset, onset + length, beat, beats))
    return tuple(bars)


def tune_key(soprano: Sequence[tuple[float, float, int]]) -> str:
    """A melody's first :data:`_TUNE_INTERVALS` intervals, hashed: the same for every harmonisation
    and transposition of a tune."""
    pitches = [p for _, _, p in sorted(soprano)][: _TUNE_INTERVALS + 1]
    intervals = ",".join(str(b - a) for a, b in zip(pitches, pitches[1:]))
    return f"{zlib.crc32(intervals.encode('ascii')):08x}"


def load_chorale(path: str | os.PathLike) -> Chorale | None:
    """Read a score with music21 (no pickle cache); None unless it has exactly four parts with notes."""
    converter = _require("music21.converter")
    path = Path(path)
    try:
        score = converter.parseFile(str(path), forceSource=True, storePickle=False)
        parts = list(score.parts)
        if len(parts) != 4:
            return None
        voices = []
        for part in parts:
            notes = []
            for n in part.stripTies().flatten().notes:
                duration = float(n.quarterLength)
                if duration <= 0:  # grace notes
                    continue
                notes.extend((float(n.offset), duration, int(p.midi)) for p in n.pitches)
            voices.append(tuple(sorted(notes)))
        bars = _bars(parts[0])
    except common.CorpusError:
        raise
    except Exception as e:  # music21 raises many types on a damaged file
        raise common.CorpusError(f"cannot read the score '{path}' with music21: {e}") from e
    if any(not v for v in voices) or not bars:
        return None
    voices.sort(key=lambda v: -float(np.mean([p for _, _, p in v])))  # highest voice first
    length = max(on + dur for v in voices for on, dur, _ in v)
    return Chorale(path.stem, tuple(voices), bars, length, tune_key(voices[0]))


@functools.lru_cache(maxsize=1024)
def _load_cached(path: Path) -> Chorale | None:
    return load_chorale(path)  # chorales are immutable; a process making several corpora reads each once


def assign_pieces(
    seed: int, pieces: Mapping[str, int | None], paths: Sequence[Path] | None = None
) -> dict[str, list[Chorale]]:
    """Pick each split's chorales from one seeded shuffle: test, then dev, then train, skipping any piece
    whose tune an earlier split has. ``None`` pieces: every piece left. Scores are read lazily, so a
    small corpus reads few files."""
    paths = chorale_paths() if paths is None else list(paths)
    order = [paths[i] for i in common.item_rng(seed, "music-pieces").permutation(len(paths))]
    taken: set[str] = set()
    tune_split: dict[str, str] = {}
    out: dict[str, list[Chorale]] = {}
    for split in ("test", "dev", "train"):
        want = pieces[split]
        chosen: list[Chorale] = []
        for path in order:
            if want is not None and len(chosen) >= want:
                break
            if path.stem in taken:
                continue
            chorale = _load_cached(path)
            if chorale is None or tune_split.get(chorale.tune, split) != split:
                continue
            chosen.append(chorale)
            taken.add(chorale.piece)
            tune_split[chorale.tune] = split
        if want is not None and len(chosen) < want:
            raise common.CorpusError(
                f"make_music: {want} {split} pieces asked for but only {len(chosen)} four-part chorales "
                f"with tunes unused by earlier splits are left"
            )
        if not chosen:
            raise common.CorpusError(f"make_music: no four-part chorale is left for the {split} split")
        out[split] = chosen
    return out


# -------------------------------------------------------------------------------------- arrangement
@dataclass(frozen=True)
class Arrangement:
    """Everything drawn for one track. ``programs``: GM program per stem (drums: kit), None = silent."""

    ensemble: str
    programs: dict[str, int | None]
    tempo_bpm: float
    transpose: int
    start: float  # quarter notes into the piece
    pans: dict[str, int]  # MIDI CC10, 0 (left) .. 127 (right)
    gains_db: dict[str, float]
    peak_db: float

    def describe(self, tune: str) -> str:
        """One ``utt2arrangement`` line."""
        fields = [f"ensemble={self.ensemble}", f"tune={tune}", f"tempo_bpm={self.tempo_bpm:g}",
                  f"transpose={self.transpose}", f"start={self.start:g}", f"peak_db={self.peak_db:g}"]
        fields += [f"{s}={'none' if self.programs[s] is None else self.programs[s]}" for s in STEMS]
        return " ".join(fields)


def _start_quarter(chorale: Chorale, rendition: int, renditions: int) -> float:
    """Rendition r of R starts at the first bar line at or after r/R of the piece."""
    if rendition == 0:
        return 0.0
    target = chorale.length * rendition / renditions
    downbeats = [b.onset for b in chorale.bars if b.downbeat == b.onset and b.onset >= target]
    return downbeats[0] if downbeats else chorale.bars[-1].onset


def draw_arrangement(rng: np.random.Generator, chorale: Chorale, rendition: int = 0,
                     renditions: int = 1) -> Arrangement:
    names = sorted(ENSEMBLES)
    ensemble = names[int(rng.integers(len(names)))]
    programs: dict[str, int | None] = {}
    used: set[int] = set()
    for voice in VOICES:
        pool = [p for p in ENSEMBLES[ensemble][voice] if p not in used]
        if not pool:  # the ensemble ran out: any program another ensemble gives this voice
            pool = sorted({p for e in ENSEMBLES.values() for p in e[voice]} - used)
        programs[voice] = int(pool[int(rng.integers(len(pool)))])
        used.add(programs[voice])
    basses = [p for p in CONTRABASS_PROGRAMS if p not in used]
    programs["contrabass"] = int(basses[int(rng.integers(len(basses)))]) if rng.random() < _CONTRABASS_P else None
    programs["drums"] = int(DRUM_KITS[int(rng.integers(len(DRUM_KITS)))]) if rng.random() < _DRUMS_P else None
    pans = {v: int(rng.integers(24, 105)) for v in VOICES}
    pans["contrabass"] = int(rng.integers(56, 73))
    pans["drums"] = int(rng.integers(56, 73))
    gains_db = {s: round(float(rng.uniform(-6.0, 0.0)), 2) for s in STEMS}
    return Arrangement(
        ensemble=ensemble,
        programs=programs,
        tempo_bpm=round(float(rng.uniform(*_TEMPO_BPM)), 1),
        transpose=int(rng.integers(_TRANSPOSE[0], _TRANSPOSE[1] + 1)),
        start=_start_quarter(chorale, rendition, renditions),
        pans=pans,
        gains_db=gains_db,
        peak_db=round(float(rng.uniform(*_PEAK_DB)), 2),
    )


# ------------------------------------------------------------------------------------ MIDI rendering
# A note to play, in seconds from the clip start: (start, end, MIDI pitch, velocity).
NoteEvent = tuple[float, float, int, int]


def _velocity(rng: np.random.Generator, base: float, spread: float) -> int:
    return int(np.clip(round(base + rng.normal(0.0, spread)), 1, 127))


def _voice_events(rng, notes, arrangement: Arrangement, shift: int, clip_s: float,
                  lowest: int = 0) -> list[NoteEvent]:
    """Score notes from ``arrangement.start`` on, in seconds, transposed by ``shift`` semitones (and
    folded up by octaves below ``lowest``), with a short gap before each note's end so repeated pitches
    re-attack."""
    spq = 60.0 / arrangement.tempo_bpm
    base = rng.uniform(72.0, 104.0)
    events = []
    for onset, duration, pitch in notes:
        end_q = onset + duration
        if end_q <= arrangement.start:
            continue
        start_s = (max(onset, arrangement.start) - arrangement.start) * spq
        if start_s >= clip_s:
            break
        end_s = (end_q - arrangement.start) * spq
        end_s = min(end_s - min(0.03, 0.1 * (end_s - start_s)), clip_s + _RENDER_MARGIN_S)
        p = pitch + shift
        while p < lowest:
            p += 12
        if 0 <= p <= 127:
            events.append((start_s, end_s, p, _velocity(rng, base, 6.0)))
    return events


def drum_events(rng: np.random.Generator, chorale: Chorale, arrangement: Arrangement,
                clip_s: float) -> list[NoteEvent]:
    """A General MIDI drum pattern that follows the score's bars (see the module docstring)."""
    kick, crash = 36, 49
    hat = int(rng.choice([42, 42, 51, 44]))  # closed hi-hat, ride, pedal hi-hat
    snare = int(rng.choice([38, 38, 40, 37]))  # acoustic, electric snare, side stick
    per_beat = int(rng.choice([1, 2]))
    with_crash = rng.random() < 0.5
    spq = 60.0 / arrangement.tempo_bpm
    events = []
    crashed = False
    for bar in chorale.bars:
        for k in range(bar.beats):
            for sub in range(per_beat):
                q = bar.downbeat + (k + sub / per_beat) * bar.beat
                if not (bar.onset <= q < bar.end and q >= arrangement.start):
                    continue
                t = (q - arrangement.start) * spq
                if t >= clip_s:
                    return events
                hit = []
                if sub == 0:
                    if k == 0 or (bar.beats == 4 and k == 2):
                        hit.append((kick, _velocity(rng, 100, 6)))
                        if k == 0 and with_crash and not crashed and bar.downbeat == bar.onset:
                            hit.append((crash, _velocity(rng, 90, 6)))
                            crashed = True
                    elif bar.beats == 3:
                        hit.append((snare, _velocity(rng, 78, 6)))
                    elif k % 2 == 1:
                        hit.append((snare, _velocity(rng, 92, 6)))
                    else:
                        hit.append((kick, _velocity(rng, 88, 6)))
                hit.append((hat, _velocity(rng, 72 if sub == 0 else 58, 8)))
                events.extend((t, t + 0.1, pitch, vel) for pitch, vel in hit)
    return events


def _midi_file(events: Sequence[NoteEvent], program: int, is_drum: bool, pan: int, end_s: float) -> bytes:
    """One instrument as a Standard MIDI File (drums on channel 10), held open until ``end_s``."""
    pretty_midi = _require("pretty_midi")
    pm = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
    instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
    instrument.control_changes.append(pretty_midi.ControlChange(number=10, value=pan, time=0.0))
    for start, end, pitch, velocity in events:
        instrument.notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch, start=start, end=end))
    # The renderer stops at the last event: a no-op volume change makes it render up to end_s.
    instrument.control_changes.append(pretty_midi.ControlChange(number=7, value=100, time=end_s))
    pm.instruments.append(instrument)
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def _render_midi(midi: bytes) -> tuple[np.ndarray, int]:
    """MIDI bytes -> (2, T) float32 at the renderer's rate (48 kHz)."""
    import soundfile as sf

    renderer = _require("midirenderer")
    wav = renderer.render_wave_from(_soundfont_bytes(), midi)
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    return np.ascontiguousarray(samples.T), int(rate)  # (T, C) -> (C, T)


def render_part(events: Sequence[NoteEvent], program: int, sample_rate: int, length: int,
                is_drum: bool = False, pan: int = 64, channels: int = 2) -> np.ndarray:
    """Render note events on one General MIDI program to ``(channels, length)`` float64 at ``sample_rate``."""
    clip_s = length / sample_rate
    audio, rate = _render_midi(_midi_file(events, program, is_drum, pan, clip_s + _RENDER_MARGIN_S))
    out = np.stack([common.resample(ch, rate, sample_rate).astype(np.float64) for ch in audio])
    if out.shape[1] < length:
        out = np.pad(out, ((0, 0), (0, length - out.shape[1])))
    out = out[:, :length]
    if channels == 1:
        out = out.mean(axis=0, keepdims=True)
    return out


def render_track(chorale: Chorale, arrangement: Arrangement, rng: np.random.Generator, sample_rate: int,
                 length: int, channels: int = 2) -> dict[str, np.ndarray]:
    """Every stem of a track, ``(channels, length)`` float32, scaled together to the arrangement's peak."""
    clip_s = length / sample_rate
    stems: dict[str, np.ndarray] = {}
    for stem in STEMS:
        program = arrangement.programs[stem]
        if program is None:
            stems[stem] = np.zeros((channels, length))
            continue
        if stem == "drums":
            events = drum_events(rng, chorale, arrangement, clip_s)
        else:
            notes = chorale.voices[VOICES.index("bass" if stem == "contrabass" else stem)]
            if stem == "contrabass":
                events = _voice_events(rng, notes, arrangement, arrangement.transpose - 12, clip_s,
                                       lowest=_LOWEST_BASS_NOTE)
            else:
                events = _voice_events(rng, notes, arrangement, arrangement.transpose, clip_s)
        audio = render_part(events, program, sample_rate, length, stem == "drums", arrangement.pans[stem],
                            channels)
        fade = int(_FADE_OUT_S * sample_rate)
        audio[:, length - fade :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / fade)  # the cut
        stems[stem] = audio * common.db_to_gain(arrangement.gains_db[stem])
    mixture = sum(stems.values())
    peak = max(float(np.max(np.abs(a))) for a in (mixture, *stems.values()))
    if peak == 0.0:
        raise common.CorpusError(f"'{chorale.piece}' rendered silent from quarter {arrangement.start}")
    scale = float(common.db_to_gain(arrangement.peak_db)) / peak
    return {s: (a * scale).astype(np.float32) for s, a in stems.items()}


def mix(stems: Mapping[str, np.ndarray]) -> np.ndarray:
    """The mixture: the float64 sum of the stems (as written, float32), stored as float32."""
    return np.sum([np.asarray(a, dtype=np.float64) for a in stems.values()], axis=0).astype(np.float32)


# ------------------------------------------------------------------------------------------ the maker
def _resolve_sizes(size: str, sizes: Mapping[str, int | tuple[int | None, int]] | None
                   ) -> dict[str, tuple[int | None, int]]:
    if sizes is None:
        if size not in SIZES:
            raise common.CorpusError(f"make_music: size must be one of {sorted(SIZES)}, got {size!r}")
        return dict(SIZES[size])
    common.check_sizes(sizes, "make_music")
    out = {}
    for split in common.SPLITS:
        value = sizes[split]
        pieces, renditions = (value, 1) if isinstance(value, int) else tuple(value)
        ok_pieces = pieces is None or (isinstance(pieces, int) and pieces >= 1)
        if not (ok_pieces and isinstance(renditions, int) and 1 <= renditions <= 8):
            raise common.CorpusError(
                f"make_music: sizes['{split}'] must be pieces or (pieces, renditions) with pieces >= 1 "
                f"(or None: all left) and renditions in 1..8, got {value!r}"
            )
        out[split] = (pieces, renditions)
    return out


def _save(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    audio_io.save(path, torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), sample_rate,
                  subtype="FLOAT")


def make_music(
    out_dir: str | os.PathLike,
    size: str = "tiny",
    seed: int = 0,
    sample_rate: int = 44100,
    progress: bool = True,
    sizes: Mapping[str, int | tuple[int | None, int]] | None = None,
    clip_seconds: float = 10.0,
    channels: int = 2,
) -> Path:
    """Make (or finish, or find finished) the chorale stem corpus in ``out_dir``; return its path.

    Args:
        out_dir: output directory (created; must be new, empty, or a run of this corpus with the same
            arguments, which is then resumed or returned as is).
        size: tracks per split: 'tiny' (4/2/2), 'small' (48/8/8) or 'full' (every piece left after
            36 test and 36 dev pieces, two renditions each / 36 / 36); see :data:`SIZES`.
        seed: corpus seed; the same seed gives byte-identical files.
        sample_rate: sample rate in Hz of every file (rendering is at 48 kHz, then resampled).
        progress: show a progress bar.
        sizes: instead of ``size``, pieces per split, each an int or (pieces, renditions per piece),
            e.g. ``{"train": (2, 2), "dev": 1, "test": 1}`` (for tests).
        clip_seconds: length of every track in seconds.
        channels: 2 (stereo, the renderer's output) or 1 (its channels averaged).
    """
    if not isinstance(sample_rate, int) or not 16000 <= sample_rate <= 96000:
        raise common.CorpusError(f"make_music: sample_rate must be an int in 16000..96000 Hz, got {sample_rate!r}")
    valid_length = isinstance(clip_seconds, (int, float)) and math.isfinite(clip_seconds)
    if not (valid_length and 1.0 <= clip_seconds <= 60.0):
        raise common.CorpusError(f"make_music: clip_seconds must be in 1..60, got {clip_seconds!r}")
    if channels not in (1, 2):
        raise common.CorpusError(f"make_music: channels must be 1 or 2, got {channels!r}")
    split_sizes = _resolve_sizes(size, sizes)
    out = Path(out_dir)
    params = {
        "corpus": "music", "format_version": FORMAT_VERSION, "seed": int(seed), "sample_rate": sample_rate,
        "sizes": {s: list(split_sizes[s]) for s in common.SPLITS}, "clip_seconds": float(clip_seconds),
        "channels": channels,
    }
    if common.begin_run(out, params):
        return out
    for module in ("music21", "pretty_midi", "midirenderer"):
        _require(module)

    length = int(round(clip_seconds * sample_rate))
    chosen = assign_pieces(seed, {s: split_sizes[s][0] for s in common.SPLITS})
    items = [(split, chorale, r, split_sizes[split][1])
             for split in common.SPLITS for chorale in chosen[split] for r in range(split_sizes[split][1])]
    tables = {s: {name: {} for name in ("mixture.scp", *(f"{t}.scp" for t in STEMS), "utt2dur", "utt2piece",
                                        "utt2arrangement")} for s in common.SPLITS}
    with common.progress_bar(len(items), "music corpus", progress) as bar, common.torch_single_thread():
        for split, chorale, rendition, renditions in items:
            utt = f"{chorale.piece}_r{rendition}"
            rng = common.item_rng(seed, "music-track", utt)
            arrangement = draw_arrangement(rng, chorale, rendition, renditions)
            track_dir = out / "wav" / utt
            paths = {name: track_dir / f"{name}.wav" for name in (*STEMS, "mixture")}
            if not all(common.audio_complete(p, length) for p in paths.values()):
                stems = render_track(chorale, arrangement, rng, sample_rate, length, channels)
                mixture = mix(stems)
                assert float(np.max(np.abs(mixture))) < 1.0, (utt, float(np.max(np.abs(mixture))))
                for stem, samples in stems.items():
                    _save(paths[stem], samples, sample_rate)
                _save(paths["mixture"], mixture, sample_rate)  # last: a complete mixture marks a finished track
            t = tables[split]
            data_dir = out / split
            for name, path in paths.items():
                t[f"{name}.scp"][utt] = common.relpath_from(data_dir, path)
            t["utt2dur"][utt] = common.format_duration(length, sample_rate)
            t["utt2piece"][utt] = chorale.piece
            t["utt2arrangement"][utt] = arrangement.describe(chorale.tune)
            bar.update(1)

    for split in common.SPLITS:
        data_dir = out / split
        data_dir.mkdir(parents=True, exist_ok=True)
        for name, entries in tables[split].items():
            write_table(data_dir / name, entries)
        write_text_atomic(data_dir / "stems", "".join(f"{s}\n" for s in STEMS))
    versions = {m: importlib.metadata.version(m) for m in ("music21", "pretty_midi", "midirenderer")}
    common.finish_run(out, params, {
        **versions,
        "soundfont": {"name": soundfont_path().name, "sha256": hashlib.sha256(_soundfont_bytes()).hexdigest()},
        "tracks": {s: len(tables[s]["utt2piece"]) for s in common.SPLITS},
        "pieces": {s: [c.piece for c in chosen[s]] for s in common.SPLITS},
    })
    return out
