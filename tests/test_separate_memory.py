"""File separation runs in flat memory: a 10-minute file peaks within 1.5x of a 1-minute file.

Each measurement runs in a fresh process: a small Demucs at 16 kHz mono, a 1-second warm-up, then
the peak RSS (VmHWM) is reset and one call is made; the script prints the peak RSS of that call and
the RSS before it (a spike during imports or warm-up, as seen on some machines, would otherwise hide
the call's own peak). The in-memory path, which holds the whole track and its stems, is measured too, to show that
the measurement sees memory that grows with the input.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

RATE = 16000

CHILD = r"""
import json, sys
import soundfile as sf, torch
from audiokit.models.separation import Demucs
from audiokit.separate import SeparationModel

def status_mb(field):
    with open("/proc/self/status") as f:
        line = next(l for l in f if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024

torch.set_num_threads(1)
torch.manual_seed(0)
model = Demucs(["a", "b"], audio_channels=1, sample_rate=16000, channels=4, depth=3, lstm_layers=1, resample=False)
sep = SeparationModel(model, {"sample_rate": 16000})
src, warm, out, mode = sys.argv[1:5]
sep.separate_file(warm, out + "-warm", segment=4.0)
# forget the peak of imports and warm-up (Linux >= 4.0: "5" resets VmHWM to the current RSS)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status_mb("VmRSS")
if mode == "file":
    sep.separate_file(src, out, segment=4.0)
else:
    data, rate = sf.read(src, dtype="float32", always_2d=True)
    stems = sep.separate(torch.from_numpy(data.T.copy()), rate, segment=4.0)
peak = status_mb("VmHWM")
print(json.dumps({"before": before, "peak": peak}))
"""


def write_noise(path, seconds: float) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=1, subtype="FLOAT") as f:
        for _ in range(int(seconds)):
            f.write((0.1 * rng.standard_normal((RATE, 1))).astype(np.float32))


def peak_rss(tmp_path, src, mode: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, str(src), str(tmp_path / "warm.wav"),
                          str(tmp_path / f"out-{src.stem}-{mode}"), mode],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_ten_minute_file_peaks_within_1_5x_of_a_one_minute_file(tmp_path):
    write_noise(tmp_path / "warm.wav", 1)
    write_noise(tmp_path / "one.wav", 60)
    write_noise(tmp_path / "ten.wav", 600)
    one, ten = peak_rss(tmp_path, tmp_path / "one.wav", "file"), peak_rss(tmp_path, tmp_path / "ten.wav", "file")
    assert ten["peak"] <= 1.5 * one["peak"], (one, ten)
    # tighter: the call itself needs no more for 10 minutes than for 1 (a 10-minute track and its two
    # stems in float32 are 115 MB; the in-memory path shows that this measurement sees them)
    growth_one, growth_ten = one["peak"] - one["before"], ten["peak"] - ten["before"]
    assert growth_ten - growth_one < 20, (one, ten)
    assert sf.info(str(tmp_path / "out-ten-file" / "a.wav")).frames == 600 * RATE
    held = peak_rss(tmp_path, tmp_path / "ten.wav", "memory")
    assert held["peak"] - held["before"] > growth_ten + 80, (held, ten)
