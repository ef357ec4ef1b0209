"""Kaldi tables, data-dir validation (every problem with file and line) and knob schemas."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.data.kaldi import DataDir, DataDirError, read_table, write_table
from audiokit.data.knobs import Knob, KnobError, KnobSchema
from audiokit.data.validate import validate_data_dir
from audiokit.testing import make_paired_dir, make_speech_dir


def test_table_round_trip_sorted(tmp_path):
    write_table(tmp_path / "text", {"b": "TWO WORDS", "a": "ONE"})
    assert (tmp_path / "text").read_text() == "a ONE\nb TWO WORDS\n"
    t = read_table(tmp_path / "text")
    assert t.entries == {"a": "ONE", "b": "TWO WORDS"} and t.lines == {"a": 1, "b": 2}


def test_read_table_reports_duplicates_and_order(tmp_path):
    (tmp_path / "utt2spk").write_text("b s1\na s1\na s2\n")
    problems = []
    read_table(tmp_path / "utt2spk", problems)
    msgs = [(p.line, p.message.split(":")[0]) for p in problems]
    assert msgs == [(2, "keys not sorted"), (3, "duplicate key 'a' (first at line 2)")]
    with pytest.raises(DataDirError, match=r"utt2spk:2: keys not sorted"):
        read_table(tmp_path / "utt2spk")


def test_valid_dirs_have_no_problems(tmp_path):
    assert validate_data_dir(make_speech_dir(tmp_path / "s", 4)) == []
    assert validate_data_dir(make_paired_dir(tmp_path / "p", 2, 0.5)) == []


def test_validate_reports_every_problem_with_file_and_line(tmp_path):
    d = make_speech_dir(tmp_path / "s", 6)
    wav = (d / "wav.scp").read_text().splitlines()
    keys = [w.split()[0] for w in wav]
    # 1. a missing audio file (line 2), 2. a file that is not audio (line 3)
    (d / "wav" / f"{keys[1]}.wav").unlink()
    (d / "wav" / f"{keys[2]}.wav").write_text("not audio")
    # 3. a text entry for an unknown utterance, 4. a wrong duration, 5. spk2utt inconsistent
    (d / "text").write_text((d / "text").read_text() + "zzz-unknown HELLO\n")
    durs = (d / "utt2dur").read_text().splitlines()
    durs[0] = f"{keys[0]} 9.5"
    (d / "utt2dur").write_text("\n".join(durs) + "\n")
    (d / "spk2utt").write_text((d / "spk2utt").read_text().replace(keys[0] + " ", "", 1))
    problems = validate_data_dir(d)
    by_file = {(p.file.split("/")[-1], p.line) for p in problems}
    assert ("wav.scp", 2) in by_file and ("wav.scp", 3) in by_file
    assert ("text", 7) in by_file
    assert ("utt2dur", 1) in by_file
    assert ("spk2utt", 1) in by_file
    texts = "\n".join(map(str, problems))
    assert "audio file not found" in texts and "cannot read" in texts and "9.5s" in texts


def test_validate_paired_mismatched_lengths_rates_and_knobs(tmp_path):
    d = make_paired_dir(tmp_path / "p", 3, 0.5)
    keys = read_table(d / "target.scp").keys()
    # target of item 0 shorter than its input; item 1 at another sample rate; a knob out of range
    sf.write(d / "wav" / f"{keys[0]}_target.wav", np.zeros(100, np.float32), 8000, subtype="FLOAT")
    sf.write(d / "wav" / f"{keys[1]}_target.wav", np.zeros(8000, np.float32), 16000, subtype="FLOAT")
    (d / "params").write_text(f"{keys[0]} drive_db=3\n{keys[1]} drive_db=99\n{keys[2]} wet=1\n")
    msgs = "\n".join(map(str, validate_data_dir(d)))
    assert "lengths differ" in msgs
    assert "16000 Hz differs from 8000 Hz" in msgs
    assert "params:2: knob 'drive_db' = 99.0 dB is outside its range [0.0, 24.0] dB" in msgs
    assert "params:3: unknown knob 'wet'" in msgs


def test_cli_validate_exit_status(tmp_path):
    good = make_paired_dir(tmp_path / "good", 2, 0.5)
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "input.scp").write_text((bad / "input.scp").read_text().replace("clip001_input", "missing"))
    ok = subprocess.run([sys.executable, "-m", "audiokit.cli", "data", "validate", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    res = subprocess.run([sys.executable, "-m", "audiokit.cli", "data", "validate", str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert f"{bad}/input.scp:2: audio file not found" in res.stdout


def test_data_dir_segments(tmp_path):
    d = make_speech_dir(tmp_path / "s", 2)
    rec = read_table(d / "wav.scp").keys()[0]
    (d / "segments").write_text(f"{rec}-a {rec} 0.00 0.20\n{rec}-b {rec} 0.10 0.25\n")
    for f in ("text", "utt2spk", "spk2utt", "utt2dur"):
        (d / f).unlink()
    dd = DataDir(d)
    assert dd.keys() == [f"{rec}-a", f"{rec}-b"]
    seg = dd.audio(f"{rec}-b")
    assert (seg.start, seg.end) == (0.10, 0.25)
    assert validate_data_dir(d) == []
    (d / "segments").write_text(f"{rec}-a {rec} 0.00 99.0\n")
    assert "segment ends at 99.0s" in str(validate_data_dir(d)[0])


def test_knob_schema_normalisation_round_trip():
    schema = KnobSchema([Knob("ratio", 1, 20, 4, ":1", skew=0.5), Knob("threshold_db", -40, 0, -20, "dB")])
    u = schema.normalize({"ratio": 5.75})
    assert torch.allclose(u, torch.tensor([0.5, 0.5]))  # sqrt((5.75-1)/19) = 0.5; default -20 -> 0.5
    assert schema.denormalize(u) == pytest.approx({"ratio": 5.75, "threshold_db": -20.0})
    assert KnobSchema.from_json(schema.to_json()) == schema
    with pytest.raises(KnobError, match="knob 'ratio' = 30.0 :1 is outside its range"):
        schema.normalize({"ratio": 30})
    with pytest.raises(KnobError, match="unknown knob 'drive'; this model's knobs are: ratio, threshold_db"):
        schema.normalize({"drive": 1})
