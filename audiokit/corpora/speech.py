"""An offline speech corpus spoken by eSpeak NG: digit strings and short sentences, held-out speakers.

What is said: 45% of the utterances are digit strings ("SEVEN THREE NINE ONE", 3 to 10 digits),
the rest short sentences from a small seeded grammar (statements, questions, requests, counted
plurals) over a vocabulary of about 350 words (:data:`VOCABULARY`). Transcripts are UPPERCASE words
without punctuation, as in LibriSpeech.

Who says it: a speaker is one eSpeak voice identity, an English accent with a voice variant
(``en-us+m3``, ``en-gb-scotland+klatt``: 8 accents x ~100 variants). Each speaker has its own base
speaking rate, pitch and intonation range, drawn from the seed; each utterance jitters them a little.
The train, dev and test splits have disjoint speaker sets (held-out speakers).

Output (``out_dir``)::

    wav/<utt>.wav                     16-bit PCM, mono, ``sample_rate`` Hz
    {train,dev,test}/wav.scp          <utt> ../wav/<utt>.wav   (relative to the data dir)
    {train,dev,test}/text             <utt> SEVEN THREE NINE ONE
    {train,dev,test}/utt2spk, spk2utt, utt2dur
    {train,dev,test}/spk2voice        <spk> <espeak voice name>   (e.g. en-us_m3 en-us+m3)
    .params.json, .done               run markers (see audiokit.corpora.common)

Speaker ids are the voice name with '+' replaced by '_' (``en-us_m3``); utterance ids are
``<spk>-<nnnn>``, so sorting keeps a speaker's utterances together (the Kaldi convention).

Each utterance is synthesised at 22050 Hz, trimmed to 50-250 ms of silence on each side, resampled
to ``sample_rate`` and peak-normalised to a level drawn from -20..-2 dBFS.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from audiokit.audio import io as audio_io
from audiokit.corpora import common, espeak
from audiokit.data.kaldi import write_table

__all__ = ["make_speech", "SIZES", "VOCABULARY", "DIGITS", "random_sentence", "random_digits", "speaker_id"]

FORMAT_VERSION = 1

#: Utterances and speakers per split for each size.
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "tiny": {"train": (240, 24), "dev": (30, 4), "test": (30, 4)},
    "small": {"train": (2400, 120), "dev": (300, 15), "test": (300, 15)},
    "full": {"train": (16000, 400), "dev": (2000, 40), "test": (2000, 40)},
}

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")

# The grammar's word classes (lower case here, upper case in transcripts).
_DETERMINERS = "the a my your his her our their this that every some".split()
_ADJECTIVES = """red green blue yellow black white brown small large little big old new young quiet loud
bright dark warm cold soft hard happy sad clever lazy quick slow heavy light clean dirty empty full strange
gentle tired busy famous simple tall short round sharp sweet fresh wooden golden silver rusty""".split()
_NOUNS = """cat dog bird horse fish mouse farmer teacher doctor child girl boy woman man king queen
sailor baker river mountain garden house window door table chair book letter song story box basket
bottle cup boat train car bicycle road bridge city village forest field island market kitchen school
church castle tower lamp clock key ring coin apple orange bread cheese stone flower tree leaf cloud star
moon rain wind fire ship shoe hat coat bell drum map glass brush""".split()
_IRREGULAR_PLURALS = {"child": "children", "man": "men", "woman": "women", "mouse": "mice", "fish": "fish",
                      "leaf": "leaves"}
_VERBS_TRANSITIVE = """found saw took made painted carried opened closed cleaned moved bought sold watched
followed pushed pulled lifted dropped held kept left lost built broke fixed washed heard liked wanted needed
brought sent showed touched counted visited climbed crossed filled covered""".split()
_VERBS_INTRANSITIVE = """slept laughed smiled waited ran walked sang danced jumped fell stopped arrived
returned listened worked played shouted rested""".split()
_IMPERATIVES = "open close bring take find clean move carry paint fix wash count show fill cover hold".split()
_PREPOSITIONS = "in on under near behind beside over across through from to into with without by at".split()
_ADVERBS = "slowly quickly quietly loudly early late again today yesterday carefully suddenly often".split()
_PRONOUNS = "i we they you he she".split()
_COUNTS = "two three four five six seven eight nine ten eleven twelve".split()
_FUNCTION_WORDS = "please where is are did see there me".split()


def _plural(noun: str) -> str:
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


#: Every word a transcript can contain (upper case).
VOCABULARY: frozenset[str] = frozenset(
    w.upper()
    for w in (
        *_DETERMINERS, *_ADJECTIVES, *_NOUNS, *map(_plural, _NOUNS), *_VERBS_TRANSITIVE,
        *_VERBS_INTRANSITIVE, *_IMPERATIVES, *_PREPOSITIONS, *_ADVERBS, *_PRONOUNS, *_COUNTS,
        *_FUNCTION_WORDS, *map(str.lower, DIGITS),
    )
)


def _choice(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng: np.random.Generator, adjective_p: float = 0.5) -> list[str]:
    words = [_choice(rng, _DETERMINERS)]
    if rng.random() < adjective_p:
        words.append(_choice(rng, _ADJECTIVES))
    words.append(_choice(rng, _NOUNS))
    return words


def _optional_tail(rng: np.random.Generator) -> list[str]:
    words: list[str] = []
    if rng.random() < 0.4:
        words += [_choice(rng, _PREPOSITIONS), *_noun_phrase(rng, 0.3)]
    if rng.random() < 0.25:
        words.append(_choice(rng, _ADVERBS))
    return words


def random_sentence(rng: np.random.Generator) -> str:
    """A short sentence from the grammar, upper case, e.g. 'THE OLD FARMER PAINTED A RED BOAT'."""
    kind = rng.random()
    if kind < 0.35:  # the old farmer painted a red boat near the river
        subject = _noun_phrase(rng) if rng.random() < 0.7 else [_choice(rng, _PRONOUNS)]
        words = subject + [_choice(rng, _VERBS_TRANSITIVE)] + _noun_phrase(rng) + _optional_tail(rng)
    elif kind < 0.55:  # a little bird sang in the garden
        words = _noun_phrase(rng) + [_choice(rng, _VERBS_INTRANSITIVE)] + _optional_tail(rng)
    elif kind < 0.7:  # please open the blue window
        words = ["please", _choice(rng, _IMPERATIVES)] + _noun_phrase(rng)
        if rng.random() < 0.4:
            words += [_choice(rng, _PREPOSITIONS), *_noun_phrase(rng, 0.3)]
    elif kind < 0.85:  # where is the golden key / did you see the old bridge
        if rng.random() < 0.5:
            words = ["where", "is"] + _noun_phrase(rng)
        else:
            words = ["did", _choice(rng, _PRONOUNS), "see"] + _noun_phrase(rng)
    else:  # there are seven green apples on the table
        counted = [_choice(rng, _COUNTS)]
        if rng.random() < 0.5:
            counted.append(_choice(rng, _ADJECTIVES))
        counted.append(_plural(_choice(rng, _NOUNS)))
        words = ["there", "are"] + counted + [_choice(rng, _PREPOSITIONS)] + _noun_phrase(rng, 0.3)
    return " ".join(words).upper()


def random_digits(rng: np.random.Generator, min_len: int = 3, max_len: int = 10) -> str:
    """A digit string as words, upper case, e.g. 'SEVEN THREE NINE ONE'."""
    n = int(rng.integers(min_len, max_len + 1))
    return " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=n))


def speaker_id(voice: str) -> str:
    """The Kaldi speaker id of an eSpeak voice name: 'en-us+m3' -> 'en-us_m3'."""
    return voice.replace("+", "_")


def all_voices() -> list[str]:
    """Every English voice identity (accent + variant), sorted: the speaker pool."""
    variants = espeak.list_variants()
    return sorted(f"{accent}+{variant}" for accent in espeak.ENGLISH_VOICES for variant in variants)


def split_voices(seed: int, counts: Mapping[str, int], salt: str = "speech") -> dict[str, list[str]]:
    """Disjoint voice lists per split: test first, then dev, then train, from one seeded shuffle."""
    pool = all_voices()
    need = sum(counts.values())
    if need > len(pool):
        raise common.CorpusError(f"{need} speakers asked for but eSpeak NG offers {len(pool)} English voices")
    order = common.item_rng(seed, salt, "speakers").permutation(len(pool))
    out, start = {}, 0
    for split in ("test", "dev", "train"):
        out[split] = sorted(pool[i] for i in order[start : start + counts[split]])
        start += counts[split]
    return out


def _speaker_style(seed: int, voice: str) -> tuple[float, float, float]:
    """A speaker's base (rate wpm, pitch 0..100, intonation range 0..100)."""
    rng = common.item_rng(seed, "speaker-style", voice)
    return float(rng.uniform(135, 205)), float(rng.uniform(25, 75)), float(rng.uniform(30, 80))


def _plan_utterance(seed: int, utt: str, voice: str) -> dict:
    """Everything random about one utterance, from its own generator."""
    rng = common.item_rng(seed, "utterance", utt)
    base_rate, base_pitch, base_range = _speaker_style(seed, voice)
    text = random_digits(rng) if rng.random() < 0.45 else random_sentence(rng)
    return {
        "text": text,
        "rate": int(round(np.clip(base_rate + rng.uniform(-15, 15), 80, 450))),
        "pitch": int(round(np.clip(base_pitch + rng.uniform(-8, 8), 0, 100))),
        "range": int(round(np.clip(base_range + rng.uniform(-10, 10), 0, 100))),
        "margins": (float(rng.uniform(0.05, 0.25)), float(rng.uniform(0.05, 0.25))),
        "peak_db": float(rng.uniform(-20.0, -2.0)),
    }


def _render(plan: dict, voice: str, sample_rate: int) -> np.ndarray:
    samples, native_rate = espeak.synthesize(
        plan["text"].lower(), voice, rate=plan["rate"], pitch=plan["pitch"], pitch_range=plan["range"]
    )
    samples = common.trim_silence(samples.astype(np.float64), native_rate, plan["margins"])
    samples = common.resample(samples.astype(np.float32), native_rate, sample_rate)
    return common.peak_normalize(samples.astype(np.float64), plan["peak_db"])


def _resolve_sizes(
    size: str, sizes: Mapping[str, int | tuple[int, int]] | None
) -> dict[str, tuple[int, int]]:
    if sizes is None:
        if size not in SIZES:
            raise common.CorpusError(f"make_speech: size must be one of {sorted(SIZES)}, got {size!r}")
        return dict(SIZES[size])
    common.check_sizes(sizes, "make_speech")
    out = {}
    for split, value in sizes.items():
        utts, spks = (value, max(1, common.ceil_div(value, 10))) if isinstance(value, int) else tuple(value)
        if not (isinstance(utts, int) and isinstance(spks, int) and utts >= 1 and 1 <= spks <= utts):
            raise common.CorpusError(
                f"make_speech: sizes['{split}'] must be utterances or (utterances, speakers) with "
                f"1 <= speakers <= utterances, got {value!r}"
            )
        out[split] = (utts, spks)
    return out


def make_speech(
    out_dir: str | os.PathLike,
    size: str = "tiny",
    seed: int = 0,
    sample_rate: int = 16000,
    progress: bool = True,
    sizes: Mapping[str, int | tuple[int, int]] | None = None,
) -> Path:
    """Make (or finish, or find finished) the eSpeak speech corpus in ``out_dir``; return its path.

    Args:
        out_dir: output directory (created; must be new, empty, or a run of this corpus with the same
            arguments, which is then resumed or returned as is).
        size: 'tiny' (300 utterances, 32 speakers), 'small' (3000, 150) or 'full' (20000, 480);
            see :data:`SIZES`.
        seed: corpus seed; the same seed gives byte-identical files.
        sample_rate: output sample rate in Hz (synthesis is at 22050 Hz, then resampled).
        progress: show a progress bar.
        sizes: instead of ``size``, utterances per split, each an int or (utterances, speakers), e.g.
            ``{"train": (6, 3), "dev": (2, 1), "test": (3, 1)}`` (for tests).
    """
    if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 48000:
        raise common.CorpusError(
            f"make_speech: sample_rate must be an int in 8000..48000 Hz, got {sample_rate!r}"
        )
    split_sizes = _resolve_sizes(size, sizes)
    out = Path(out_dir)
    params = {
        "corpus": "speech", "format_version": FORMAT_VERSION, "seed": int(seed), "sample_rate": sample_rate,
        "sizes": {s: list(split_sizes[s]) for s in common.SPLITS},
    }
    if common.begin_run(out, params):
        return out
    espeak.check_deterministic()

    voices = split_voices(seed, {s: split_sizes[s][1] for s in common.SPLITS})
    # (split, utt, voice): utterance j of a split goes to its speaker j mod #speakers.
    items = []
    for split in common.SPLITS:
        num_utts, _ = split_sizes[split]
        spk_voices = voices[split]
        for j in range(num_utts):
            voice = spk_voices[j % len(spk_voices)]
            items.append((split, f"{speaker_id(voice)}-{j // len(spk_voices):04d}", voice))

    wav_dir = out / "wav"
    tables: dict[str, dict[str, dict[str, str]]] = {s: {} for s in common.SPLITS}
    for s in common.SPLITS:
        for name in ("wav.scp", "text", "utt2spk", "utt2dur"):
            tables[s][name] = {}
    with common.progress_bar(len(items), "speech corpus", progress) as bar, common.torch_single_thread():
        for split, utt, voice in items:
            plan = _plan_utterance(seed, utt, voice)
            path = wav_dir / f"{utt}.wav"
            if common.audio_complete(path):
                num_frames = audio_io.info(path).num_frames
            else:
                samples = _render(plan, voice, sample_rate)
                common.save_mono(path, samples, sample_rate, subtype="PCM_16")
                num_frames = len(samples)
            t = tables[split]
            data_dir = out / split
            t["wav.scp"][utt] = common.relpath_from(data_dir, path)
            t["text"][utt] = plan["text"]
            t["utt2spk"][utt] = speaker_id(voice)
            t["utt2dur"][utt] = common.format_duration(num_frames, sample_rate)
            bar.update(1)

    for split in common.SPLITS:
        data_dir = out / split
        data_dir.mkdir(parents=True, exist_ok=True)
        for name, entries in tables[split].items():
            write_table(data_dir / name, entries)
        spk2utt: dict[str, list[str]] = {}
        for utt in sorted(tables[split]["utt2spk"]):
            spk2utt.setdefault(tables[split]["utt2spk"][utt], []).append(utt)
        write_table(data_dir / "spk2utt", {spk: " ".join(utts) for spk, utts in spk2utt.items()})
        write_table(data_dir / "spk2voice", {speaker_id(v): v for v in voices[split]})
    common.finish_run(out, params, {
        "espeak_ng": espeak.library_version(),
        "utterances": {s: len(tables[s]["text"]) for s in common.SPLITS},
        "speakers": {s: len(voices[s]) for s in common.SPLITS},
    })
    return out
