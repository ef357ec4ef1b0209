"""File separation runs in flat memory: a 10-minute file peaks within 1.5x of a 1-minute file.

Each measurement runs in a fresh process (peak RSS is per process): a small Demucs at 16 kHz mono,
a 1-second warm-up, then one call; the script prints the process's peak RSS and its RSS before the
call. The in-memory path, which holds the whole track and its stems, is measured too, to show that
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
import json, os, resource, sys
import soundfile as sf, torch
from audiokit.models.separation import Demucs
from audiokit.separate import SeparationModel

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

torch.set_num_threads(1)
torch.manual_seed(0)
model = Demucs(["a", "b"], audio_channels=1, sample_rate=16000, channels=4, depth=3, lstm_layers=1, resample=False)
sep = SeparationModel(model, {"sample_rate": 16000})
src, warm, out, mode = sys.argv[1:5]
sep.separate_file(warm, out + "-warm", segment=4.0)
before = rss_mb()
if mode == "file":
    sep.separate_file(src, out, segment=4.0)
else:
    data, rate = sf.read(src, dtype="float32", always_2d=True)
    stems = sep.separate(torch.from_numpy(data.T.copy()), rate, segment=4.0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
