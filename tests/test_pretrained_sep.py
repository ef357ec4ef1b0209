"""The committed separation models (pretrained/sep-music-*) beat the mixture on the music test split,
give their cards' figures, and run from the CLI by name."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

import audiokit
from audiokit.evaluate import evaluate_separation

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = ["sep-music-demucs", "sep-music-waveunet"]


@pytest.fixture(scope="module")
def music_test(tmp_path_factory) -> Path:
    """The test split of the recipes' small music corpus (seed 0): splits are drawn test first, so a
    corpus with 8 test pieces has exactly the small corpus' test tracks."""
    pytest.importorskip("midirenderer")
    from audiokit.corpora.music import make_music

    out = make_music(tmp_path_factory.mktemp("music") / "corpus", seed=0, progress=False,
                     sizes={"train": 1, "dev": 1, "test": 8})
    return out / "test"


@pytest.mark.parametrize("name", PRETRAINED)
def test_pretrained_separation_models_reproduce_their_cards(music_test, name):
    sep = audiokit.load(name)
    assert sep.sources == ["soprano", "alto", "tenor", "bass", "contrabass", "drums"] and sep.sample_rate == 44100
    res = evaluate_separation(sep, music_test, progress=False)
    assert res["num_tracks"] == 8
    card = (REPO / "pretrained" / name / "README.md").read_text()
    model, mix = res["model"], res["mixture"]
    # uSDR: every stem beats the mixture by > 5 dB; SI-SDR: by > 3 dB on average, no stem worse than the
    # mixture by more than 0.5 dB (the tiny Demucs gains nothing on alto, as its card says)
    assert all(model["nsdr"][s] > mix["nsdr"][s] + 5 for s in sep.sources), (model["nsdr"], mix["nsdr"])
    gain = [model["si_sdr"][s] - mix["si_sdr"][s] for s in sep.sources]
    assert sum(gain) / len(gain) > 3 and min(gain) > -0.5, gain
    for metric in ("nsdr", "si_sdr"):
        row = " | ".join(f"{model[metric][s]:.2f}" for s in sep.sources)
        assert row in card, (metric, row)


def test_pretrained_separation_runs_from_the_cli(music_test, tmp_path):
    mixture = next((music_test.parent / "wav").glob("*/mixture.wav"))
    proc = subprocess.run([sys.executable, "-m", "audiokit", "separate", str(mixture), "-m", PRETRAINED[0],
                           "-o", str(tmp_path), "--stems", "drums,bass"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    track = tmp_path / mixture.parent.name  # <track>/mixture.wav (MUSDB's layout) is named after its folder
    assert sorted(p.name for p in track.iterdir()) == ["bass.wav", "drums.wav"]
    assert sf.info(str(track / "drums.wav")).frames == sf.info(str(mixture)).frames
