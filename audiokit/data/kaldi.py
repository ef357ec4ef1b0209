"""Kaldi-style data directories: reading, writing and validating them.

A data directory holds text tables keyed by utterance (or recording) id, one entry per line,
sorted by key (``LC_ALL=C sort``)::

    wav.scp      <utt> <path>            (or <rec> <path> when `segments` exists)
    text         <utt> <transcript...>
    utt2spk      <utt> <spk>
    spk2utt      <spk> <utt> <utt> ...
    segments     <utt> <rec> <start_s> <end_s>
    utt2dur      <utt> <seconds>
    <stem>.scp   <utt> <path>            one per stem for separation (e.g. vocals.scp, mixture.scp)
    input.scp    <utt> <path>            paired effect data: dry input ...
    target.scp   <utt> <path>            ... and wet target
    params       <utt> <knob>=<value> ...
    knobs.json   the knob schema of `params` (see audiokit.data.knobs)

Pipes (``cmd |``) and ark offsets are not supported: every entry must be a file path.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from audiokit.utils import AudiokitError, write_text_atomic

AUDIO_TABLES = ("wav.scp", "input.scp", "target.scp")
KNOWN_TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "params", "input.scp", "target.scp")


class DataDirError(AudiokitError, ValueError):
    """A data directory or one of its tables is malformed."""


@dataclass
class Table:
    """One Kaldi table: key -> value (the rest of the line), remembering each key's line number."""

    path: Path
    entries: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        try:
            return self.entries[key]
        except KeyError:
            raise DataDirError(f"{self.path}: no entry for key '{key}'") from None

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def keys(self) -> list[str]:
        return list(self.entries)

    def where(self, key: str) -> str:
        """'file:line' of ``key``, for error messages."""
        return f"{self.path}:{self.lines.get(key, '?')}"


@dataclass
class Problem:
    """One thing wrong in a data directory, located to a file and line."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{loc}: {self.message}"


def read_table(path: str | os.PathLike, problems: list[Problem] | None = None) -> Table:
    """Read a Kaldi table. Malformed lines, duplicate keys and unsorted keys are reported.

    With ``problems`` given, problems are appended there and reading goes on; otherwise the first
    problem raises :class:`DataDirError`.
    """
    path = Path(path)
    table = Table(path)
    prev = None

    def report(line: int, msg: str) -> None:
        p = Problem(str(path), line, msg)
        if problems is None:
            raise DataDirError(str(p))
        problems.append(p)

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataDirError(f"table not found: '{path}'") from None
    except UnicodeDecodeError as e:
        raise DataDirError(f"'{path}' is not UTF-8 text: {e}") from None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            report(n, "empty line")
            continue
        parts = line.split(maxsplit=1)
        key = parts[0]
        value = parts[1] if len(parts) > 1 else ""
        if key in table.entries:
            report(n, f"duplicate key '{key}' (first at line {table.lines[key]})")
            continue
        if prev is not None and key < prev:
            report(n, f"keys not sorted: '{key}' after '{prev}' (sort with LC_ALL=C sort)")
        prev = key
        table.entries[key] = value
        table.lines[key] = n
    return table


def write_table(path: str | os.PathLike, entries: dict[str, str]) -> None:
    """Write a table sorted by key, atomically. Values must be single-line."""
    lines = []
    for key in sorted(entries):
        value = str(entries[key])
        if not key or any(c.isspace() for c in key):
            raise DataDirError(f"{path}: key {key!r} is empty or contains whitespace")
        if "\n" in value:
            raise DataDirError(f"{path}: value of '{key}' spans several lines")
        lines.append(f"{key} {value}".rstrip())
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def parse_params(value: str, where: str) -> dict[str, float]:
    """Parse ``name=value name=value`` from a `params` line."""
    out: dict[str, float] = {}
    for item in value.split():
        name, sep, num = item.partition("=")
        if not sep or not name:
            raise DataDirError(f"{where}: expected name=value, got '{item}'")
        try:
            out[name] = float(num)
        except ValueError:
            raise DataDirError(f"{where}: value of '{name}' is not a number: '{num}'") from None
    return out


def format_params(params: dict[str, float]) -> str:
    return " ".join(f"{k}={float(v):.6g}" for k, v in params.items())


def resolve_path(value: str, data_dir: Path) -> Path:
    """Table paths may be absolute or relative to the data directory."""
    p = Path(value)
    return p if p.is_absolute() else (data_dir / p)


@dataclass
class Segment:
    """Where an utterance's audio is: a file and an optional span in seconds."""

    path: Path
    start: float = 0.0
    end: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start


class DataDir:
    """A Kaldi data directory loaded into memory (tables only; audio stays on disk)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataDirError(f"data directory not found: '{self.path}'")
        self.tables: dict[str, Table] = {}
        for f in sorted(self.path.iterdir()):
            if f.is_file() and (f.name in KNOWN_TABLES or f.suffix == ".scp"):
                self.tables[f.name] = read_table(f)
        if not self.tables:
            raise DataDirError(
                f"'{self.path}' has no tables (expected wav.scp, <stem>.scp or input.scp/target.scp)"
            )

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise DataDirError(f"'{self.path}' has no '{name}' (has: {', '.join(self.tables)})")
        return self.tables[name]

    @property
    def stems(self) -> list[str]:
        """Names of per-stem tables (`<stem>.scp`), excluding wav/input/target."""
        return [n[:-4] for n in self.tables if n.endswith(".scp") and n not in AUDIO_TABLES]

    def keys(self, main: str | None = None) -> list[str]:
        """Utterance ids, from `segments`, else the main audio table."""
        if main is None:
            if "segments" in self.tables:
                main = "segments"
            else:
                main = next((t for t in ("wav.scp", "input.scp") if t in self.tables), None)
                if main is None:
                    main = next(n for n in self.tables if n.endswith(".scp"))
        return self.table(main).keys()

    def audio(self, key: str, table: str = "wav.scp") -> Segment:
        """Where the audio of utterance ``key`` lives in ``table`` (honouring `segments`)."""
        if table == "wav.scp" and "segments" in self.tables:
            seg = self.tables["segments"]
            rec, start, end = _parse_segment(seg[key], seg.where(key))
            return Segment(resolve_path(self.table("wav.scp")[rec], self.path), start, end)
        t = self.table(table)
        value = t[key]
        if value.endswith("|"):
            raise DataDirError(f"{t.where(key)}: pipe commands are not supported, give a file path")
        return Segment(resolve_path(value, self.path))

    def params(self, key: str) -> dict[str, float]:
        t = self.table("params")
        return parse_params(t[key], t.where(key))

    def knob_schema(self):
        from audiokit.data.knobs import KnobSchema

        f = self.path / "knobs.json"
        if not f.exists():
            raise DataDirError(f"'{self.path}' has `params` but no knobs.json schema")
        return KnobSchema.from_json(json.loads(f.read_text()), where=str(f))

    def durations(self) -> dict[str, float]:
        t = self.table("utt2dur")
        out = {}
        for k, v in t.entries.items():
            try:
                out[k] = float(v)
            except ValueError:
                raise DataDirError(f"{t.where(k)}: duration is not a number: '{v}'") from None
        return out


def _parse_segment(value: str, where: str) -> tuple[str, float, float]:
    parts = value.split()
    if len(parts) != 3:
        raise DataDirError(f"{where}: expected '<utt> <rec> <start> <end>', got '{value}'")
    try:
        start, end = float(parts[1]), float(parts[2])
    except ValueError:
        raise DataDirError(f"{where}: start/end are not numbers: '{value}'") from None
    if not 0 <= start < end:
        raise DataDirError(f"{where}: expected 0 <= start < end, got {start} {end}")
    return parts[0], start, end
