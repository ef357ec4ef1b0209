"""A small ctypes binding to eSpeak NG, the formant speech synthesiser, for the offline corpora.

The shared library and its voice data come from the ``espeakng-loader`` package on PyPI
(``pip install audiokit[corpora]``); no system install is needed. Only what the corpora need is bound:
synchronous synthesis into memory through a callback, voice selection by name (with variants:
``"en+f3"``, ``"en-us+m2"``, ``"en-gb-scotland+klatt"``) and the rate/pitch/range/volume parameters.

eSpeak NG keeps its state in C globals, so every call goes through one module-level lock. The library is
located (and its sample rate and version read) once, on first use. Synthesis is deterministic: eSpeak
carries state from one utterance to the next that no API call resets (the pitch-flutter phase, the gain
control, the breath noise), so each utterance runs in a fresh load of the library (``dlopen`` ->
``espeak_Initialize`` -> synthesise -> ``espeak_Terminate`` -> ``dlclose``, about 5 ms) with its noise
generators reseeded: the same call gives the same samples whatever was synthesised before it.
:func:`check_deterministic` verifies this in the running process. Reseeding uses libc's ``srand``,
which eSpeak's breath noise draws from: code that relies on the C library's ``rand()`` sequence should
not share the process with this module.

Example::

    >>> from audiokit.corpora.espeak import synthesize
    >>> wav, sample_rate = synthesize("seven three nine one", voice="en-us+m3", rate=170, pitch=40)
    >>> sample_rate, wav.dtype
    (22050, dtype('float32'))
"""
from __future__ import annotations

import _ctypes
import ctypes
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiokit.utils import AudiokitError

__all__ = [
    "EspeakError",
    "ENGLISH_VOICES",
    "synthesize",
    "sample_rate",
    "list_voices",
    "list_variants",
    "library_version",
    "check_deterministic",
]

# Constants of speak_lib.h (the eSpeak NG public header).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() on bad data
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # let the last word's release finish instead of cutting it
_POS_CHARACTER = 1
_EE_OK = 0
# espeak_PARAMETER
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4

# int callback(short *samples, int num_samples, espeak_EVENT *events)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

#: English voices of eSpeak NG (accents), usable with any variant: ``f"{voice}+{variant}"``.
ENGLISH_VOICES = (
    "en",
    "en-us",
    "en-us-nyc",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)

_RAND_SEED = 12345  # fixed seed of eSpeak's internal noise generator (klatt voices, breath, whisper)


class EspeakError(AudiokitError, RuntimeError):
    """eSpeak NG is not installed, failed to initialise, or rejected a voice/parameter/text."""


class _VoiceStruct(ctypes.Structure):
    # espeak_VOICE in speak_lib.h
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),  # priority byte + language name pairs, zero-terminated
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class Voice:
    """A voice as listed by the library: ``name`` is what :func:`synthesize` accepts (e.g. 'en-us')."""

    name: str
    language: str
    identifier: str
    gender: str  # 'male', 'female' or '' when unknown


def _c_library_srand():
    """libc's ``srand``: eSpeak's breath noise (whisper, breathy variants) draws from libc's ``rand()``."""
    try:
        return ctypes.CDLL(None).srand
    except (OSError, AttributeError):  # not a POSIX process image; breathy voices may then vary
        return None


class _Library:
    """One load of the eSpeak NG shared library, initialised for synchronous synthesis into memory.

    eSpeak keeps C statics that carry over from one utterance to the next (the pitch-flutter phase, the
    automatic gain control, the breath-noise generator) and offers no call to reset them. So every
    utterance gets a fresh load: ``dlopen`` -> initialise -> synthesise -> terminate -> ``dlclose``, which
    re-maps the library's data and makes each utterance independent of what was spoken before (about
    5 ms per load on one core).
    """

    def __init__(self, library_path: str, data_path: str, callback):
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as e:
            raise EspeakError(f"cannot load eSpeak NG from '{library_path}': {e}") from None
        self.lib = lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Terminate.argtypes = []
        lib.espeak_Terminate.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 500, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            self.close(terminate=False)
            raise EspeakError(f"espeak_Initialize failed (returned {rate}) with data at '{data_path}'")
        self.sample_rate = int(rate)
        lib.espeak_SetSynthCallback(callback)

    def check(self, code: int, what: str) -> None:
        if code != _EE_OK:
            raise EspeakError(f"eSpeak NG: {what} failed (error code {code})")

    def close(self, terminate: bool = True) -> None:
        if terminate:
            self.lib.espeak_Terminate()
        handle = self.lib._handle
        self.lib = None
        unload = getattr(_ctypes, "dlclose", None) or getattr(_ctypes, "FreeLibrary", None)
        unload(handle)


class _Engine:
    """Where the library and its data are, and the buffer the synthesis callback fills."""

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise EspeakError(
                "eSpeak NG is needed for the offline speech corpora but 'espeakng-loader' is not installed: "
                "pip install audiokit[corpora]"
            ) from None
        self.library_path = espeakng_loader.get_library_path()
        self.data_path = espeakng_loader.get_data_path()
        self.chunks: list[np.ndarray] = []
        # The C callback object must outlive every library load that points at it.
        self.callback = _SYNTH_CALLBACK(self._on_samples)
        self.srand = _c_library_srand()
        lib = self.open()
        try:
            self.sample_rate = lib.sample_rate
            self.version = lib.lib.espeak_Info(None).decode()
        finally:
            lib.close()

    def open(self) -> _Library:
        return _Library(self.library_path, self.data_path, self.callback)

    def _on_samples(self, wav, num_samples, events) -> int:
        if num_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0: go on synthesising


_lock = threading.Lock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    """The located library (loaded once to read its rate and version); call with ``_lock`` held."""
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def sample_rate() -> int:
    """The library's output sample rate in Hz (22050 for eSpeak NG)."""
    with _lock:
        return _get_engine().sample_rate


def library_version() -> str:
    """The eSpeak NG version string, e.g. '1.52.0'."""
    with _lock:
        return _get_engine().version


def synthesize(
    text: str,
    voice: str = "en",
    rate: int = 160,
    pitch: int = 50,
    pitch_range: int = 50,
    volume: int = 100,
) -> tuple[np.ndarray, int]:
    """Speak ``text`` and return ``(samples, sample_rate)``: mono float32 in [-1, 1), 22050 Hz.

    The result depends only on the arguments (see the module docstring on determinism).

    Args:
        text: what to say (UTF-8; plain words, no SSML).
        voice: a voice name, optionally with a variant after '+': 'en', 'en-us+m3', 'en-gb-scotland+klatt'.
        rate: speaking rate in words per minute (eSpeak accepts 80..450).
        pitch: base pitch, 0..100 (50 is the voice's normal pitch).
        pitch_range: intonation range, 0..100 (0 is monotone, 50 normal).
        volume: amplitude, 0..200 (100 normal; above 100 may clip).
    """
    if not isinstance(text, str) or not text.strip():
        raise EspeakError(f"synthesize: expected non-empty text, got {text!r}")
    for name, value, lo, hi in (
        ("rate", rate, 80, 450), ("pitch", pitch, 0, 100), ("pitch_range", pitch_range, 0, 100),
        ("volume", volume, 0, 200),
    ):
        if not lo <= value <= hi:
            raise EspeakError(f"synthesize: {name}={value} outside [{lo}, {hi}]")
    data = text.encode("utf-8")
    with _lock:
        eng = _get_engine()
        lib = eng.open()
        try:
            code = lib.lib.espeak_SetVoiceByName(voice.encode())
            if code != _EE_OK:
                raise EspeakError(
                    f"eSpeak NG: unknown voice '{voice}' (error {code}); "
                    f"see audiokit.corpora.espeak.list_voices() and list_variants()"
                )
            for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, volume)):
                code = lib.lib.espeak_SetParameter(param, int(value), 0)
                lib.check(code, f"espeak_SetParameter({param}, {value})")
            lib.lib.espeak_ng_SetRandSeed(_RAND_SEED)
            if eng.srand is not None:
                eng.srand(_RAND_SEED)
            eng.chunks = []
            lib.check(
                lib.lib.espeak_Synth(
                    data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
                ),
                f"espeak_Synth({text!r})",
            )
            lib.check(lib.lib.espeak_Synchronize(), "espeak_Synchronize")
            chunks = eng.chunks
        finally:
            eng.chunks = []
            lib.close()
        rate_hz = eng.sample_rate
    if not chunks:
        raise EspeakError(f"eSpeak NG produced no audio for {text!r} with voice '{voice}'")
    return np.concatenate(chunks).astype(np.float32) / 32768.0, rate_hz


def check_deterministic(text: str = "seven three nine one", voice: str = "en+m3") -> None:
    """Raise :class:`EspeakError` if synthesising the same thing twice (with another utterance in between)
    does not give identical samples, e.g. because another copy of the library stays loaded in this
    process and keeps eSpeak's state alive between utterances."""
    first, _ = synthesize(text, voice)
    synthesize("the quick brown fox", "en-us+f2", rate=220, pitch=80)
    second, _ = synthesize(text, voice)
    if not np.array_equal(first, second):
        raise EspeakError(
            "eSpeak NG is not reproducible in this process: the same text and voice gave different samples. "
            "Is another module holding libespeak-ng loaded (so it cannot be reloaded fresh per utterance)?"
        )


def list_voices(language_prefix: str = "") -> list[Voice]:
    """The library's voices (languages and accents, not variants) whose language starts with
    ``language_prefix``."""
    genders = {1: "male", 2: "female"}
    out = []
    with _lock:
        lib = _get_engine().open()
        try:
            arr = lib.lib.espeak_ListVoices(None)
            i = 0
            while arr[i]:
                v = arr[i].contents
                # `languages` is <priority byte><name>\0 ... \0\0; the first name is enough here.
                language = (v.languages or b"?")[1:]  # c_char_p stops at the first NUL
                out.append(Voice(
                    v.name.decode(errors="replace"), language.decode(errors="replace"),
                    v.identifier.decode(errors="replace"), genders.get(v.gender, ""),
                ))
                i += 1
        finally:
            lib.close()
    return [v for v in out if v.language.startswith(language_prefix)]


def list_variants() -> list[str]:
    """Voice variant names (the data's ``voices/!v`` folder), usable as ``f"{voice}+{variant}"``.

    Only names made of letters and digits are listed (a few shipped variant files have spaces).
    """
    with _lock:
        data = Path(_get_engine().data_path)
    folder = data / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file() and re.fullmatch(r"[A-Za-z0-9]+", p.name))
