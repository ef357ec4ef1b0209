"""`audiokit data validate DIR`: every problem of a data directory, located to file and line."""
from __future__ import annotations

import json
from pathlib import Path

from audiokit.audio.io import AudioError, info
from audiokit.data.kaldi import (
    DataDirError,
    Problem,
    Table,
    parse_params,
    read_table,
    resolve_path,
)

# Tolerance between utt2dur and the audio's true duration (seconds): Kaldi writes 2-3 decimals.
DURATION_TOLERANCE = 0.01


def validate_data_dir(path: str | Path, check_audio: bool = True) -> list[Problem]:
    """Check a data directory and return every problem found (empty list: valid).

    Checks: each table parses, keys unique and sorted; every keyed table covers the same utterances
    as the main table; spk2utt is the inverse of utt2spk; segments refer to known recordings and lie
    inside them; audio files exist, are readable and non-empty; one sample rate across the directory;
    utt2dur matches the audio; paired/stem tables have equal lengths per utterance; params parse and
    respect knobs.json; a `stems` list names stems that each have a `<stem>.scp`, beside a mixture.scp.
    """
    path = Path(path)
    problems: list[Problem] = []
    if not path.is_dir():
        return [Problem(str(path), None, "not a directory")]
    tables: dict[str, Table] = {}
    for f in sorted(path.iterdir()):
        if f.is_file() and (f.suffix == ".scp" or f.name in ("text", "utt2spk", "spk2utt", "segments",
                                                             "utt2dur", "params")):
            try:
                tables[f.name] = read_table(f, problems)
            except DataDirError as e:
                problems.append(Problem(str(f), None, str(e)))
    if not tables:
        return [Problem(str(path), None, "no tables found (expected wav.scp, <stem>.scp or input.scp)")]

    audio_tables = [n for n in tables if n.endswith(".scp")]
    if "segments" in tables:
        main = "segments"
    elif audio_tables:
        main = "wav.scp" if "wav.scp" in tables else ("input.scp" if "input.scp" in tables else audio_tables[0])
    else:
        problems.append(Problem(str(path), None, "no audio table (wav.scp, <stem>.scp or input.scp)"))
        return problems
    utts = set(tables[main].entries)

    # Every per-utterance table must cover exactly the same keys as the main one.
    per_utt = [n for n in tables if n not in ("spk2utt", main) and not (n == "wav.scp" and main == "segments")]
    for name in per_utt:
        t = tables[name]
        for k in t.entries.keys() - utts:
            problems.append(Problem(str(t.path), t.lines[k], f"key '{k}' is not in {main}"))
        missing = sorted(utts - t.entries.keys())
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            problems.append(Problem(str(t.path), None, f"{len(missing)} keys of {main} missing here: {shown}"))

    if "utt2spk" in tables:
        _check_speakers(tables, problems)

    rates: dict[int, str] = {}
    lengths: dict[str, dict[str, int]] = {}
    if check_audio:
        for name in audio_tables:
            t = tables[name]
            for key, value in t.entries.items():
                where = (str(t.path), t.lines[key])
                if value.endswith("|"):
                    problems.append(Problem(*where, "pipe commands are not supported, give a file path"))
                    continue
                try:
                    meta = info(resolve_path(value, path))
                except AudioError as e:
                    problems.append(Problem(*where, str(e)))
                    continue
                if meta.num_frames == 0:
                    problems.append(Problem(*where, f"'{value}' has zero length"))
                rates.setdefault(meta.sample_rate, f"{t.path}:{t.lines[key]}")
                lengths.setdefault(key, {})[name] = meta.num_frames
                if len(rates) > 1 and meta.sample_rate not in list(rates)[:1]:
                    first_rate, first_where = next(iter(rates.items()))
                    problems.append(Problem(*where, f"sample rate {meta.sample_rate} Hz differs from "
                                                    f"{first_rate} Hz at {first_where}"))
        # Paired/stem tables: the same utterance must have the same length in every table.
        for key, per_table in lengths.items():
            if len(set(per_table.values())) > 1 and "segments" not in tables:
                t = tables[next(iter(per_table))]
                detail = ", ".join(f"{n}: {v}" for n, v in per_table.items())
                problems.append(Problem(str(t.path), t.lines.get(key), f"'{key}' lengths differ ({detail} samples)"))

    if "segments" in tables:
        _check_segments(tables, lengths, rates, problems)
    if "utt2dur" in tables and check_audio:
        _check_durations(tables, lengths, rates, main, problems)
    if "params" in tables:
        _check_params(path, tables["params"], problems)
    if (path / "stems").is_file():
        _check_stems(path / "stems", tables, problems)
    return problems


def _check_stems(f: Path, tables: dict[str, Table], problems: list[Problem]) -> None:
    """`stems` (separation data): one stem name a line, each with its `<stem>.scp`; mixture.scp exists."""
    seen: set[str] = set()
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if name == "mixture" or any(c.isspace() for c in name) or name in seen:
            problems.append(Problem(str(f), n, f"expected one new stem name (not 'mixture'), got '{name}'"))
        elif f"{name}.scp" not in tables:
            problems.append(Problem(str(f), n, f"stem '{name}' has no {name}.scp"))
        seen.add(name)
    if not seen:
        problems.append(Problem(str(f), None, "lists no stems"))
    if "mixture.scp" not in tables:
        problems.append(Problem(str(f), None, "stems are listed but mixture.scp is missing"))


def _check_speakers(tables: dict[str, Table], problems: list[Problem]) -> None:
    u2s = tables["utt2spk"]
    for k, v in u2s.entries.items():
        if len(v.split()) != 1:
            problems.append(Problem(str(u2s.path), u2s.lines[k], f"expected one speaker id, got '{v}'"))
    if "spk2utt" not in tables:
        return
    s2u = tables["spk2utt"]
    expected: dict[str, list[str]] = {}
    for utt, spk in u2s.entries.items():
        expected.setdefault(spk, []).append(utt)
    for spk, utts in s2u.entries.items():
        got = utts.split()
        if sorted(got) != sorted(expected.get(spk, [])):
            problems.append(Problem(str(s2u.path), s2u.lines[spk], f"speaker '{spk}' utterances differ from utt2spk"))
    for spk in expected.keys() - s2u.entries.keys():
        problems.append(Problem(str(s2u.path), None, f"speaker '{spk}' of utt2spk is missing"))


def _check_segments(tables, lengths, rates, problems) -> None:
    seg = tables["segments"]
    wav = tables.get("wav.scp")
    rate = next(iter(rates), None)
    for utt, value in seg.entries.items():
        parts = value.split()
        where = (str(seg.path), seg.lines[utt])
        if len(parts) != 3:
            problems.append(Problem(*where, f"expected '<utt> <rec> <start> <end>', got '{utt} {value}'"))
            continue
        rec = parts[0]
        try:
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            problems.append(Problem(*where, f"start/end are not numbers: '{value}'"))
            continue
        if not 0 <= start < end:
            problems.append(Problem(*where, f"expected 0 <= start < end, got {start} {end}"))
        if wav is None or rec not in wav.entries:
            problems.append(Problem(*where, f"recording '{rec}' is not in wav.scp"))
        elif rate and rec in lengths and "wav.scp" in lengths[rec]:
            dur = lengths[rec]["wav.scp"] / rate
            if end > dur + DURATION_TOLERANCE:
                problems.append(Problem(*where, f"segment ends at {end}s but '{rec}' is {dur:.3f}s long"))


def _check_durations(tables, lengths, rates, main, problems) -> None:
    t = tables["utt2dur"]
    rate = next(iter(rates), None)
    seg = tables.get("segments")
    for utt, value in t.entries.items():
        where = (str(t.path), t.lines[utt])
        try:
            dur = float(value)
        except ValueError:
            problems.append(Problem(*where, f"duration is not a number: '{value}'"))
            continue
        if dur <= 0:
            problems.append(Problem(*where, f"duration must be positive, got {dur}"))
        if seg is not None and utt in seg.entries:
            parts = seg.entries[utt].split()
            try:
                true = float(parts[2]) - float(parts[1])
            except (ValueError, IndexError):
                continue
        elif rate and utt in lengths:
            true = next(iter(lengths[utt].values())) / rate
        else:
            continue
        if abs(true - dur) > DURATION_TOLERANCE:
            problems.append(Problem(*where, f"utt2dur says {dur}s but the audio is {true:.3f}s"))


def _check_params(path: Path, t: Table, problems: list[Problem]) -> None:
    schema = None
    f = path / "knobs.json"
    if not f.exists():
        problems.append(Problem(str(f), None, "`params` exists but its knob schema knobs.json is missing"))
    else:
        from audiokit.data.knobs import KnobError, KnobSchema

        try:
            schema = KnobSchema.from_json(json.loads(f.read_text()), where=str(f))
        except (json.JSONDecodeError, KnobError) as e:
            problems.append(Problem(str(f), None, f"invalid knob schema: {e}"))
    for key, value in t.entries.items():
        where = (str(t.path), t.lines[key])
        try:
            params = parse_params(value, f"{t.path}:{t.lines[key]}")
        except DataDirError as e:
            problems.append(Problem(*where, str(e).split(": ", 1)[-1]))
            continue
        if schema is None:
            continue
        for name, v in params.items():
            try:
                schema[name].normalize(v)
            except Exception as e:  # KnobError: unknown knob or out of range
                problems.append(Problem(*where, str(e)))
        missing = set(schema.names) - params.keys()
        if missing:
            problems.append(Problem(*where, f"missing knobs: {', '.join(sorted(missing))}"))


