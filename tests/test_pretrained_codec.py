"""The committed codecs (pretrained/codec-*, general audio included) beat the mu-law/ADPCM baseline at their lowest and
highest bitrates on held-out voices, and run from the CLI by name (decoding needs no -m: the .akc file names
its model)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

import audiokit
from audiokit.codecs.bitstream import BitstreamReader
from audiokit.evaluate import evaluate_codec

REPO = Path(__file__).resolve().parents[1]
BITRATES = {"codec-speech-rvq": [1.5, 3.0, 6.0], "codec-speech-hificodec": [1.0, 2.0],
            "codec-speech-esc": [1.5, 3.0, 4.5, 6.0, 7.5, 9.0], "codec-general-rvq": [1.5, 3.0, 6.0]}


@pytest.fixture(scope="module")
def speech_test(tmp_path_factory) -> Path:
    """Four utterances of the speech corpus' held-out test voices (seed 0: the four voices of the recipes'
    tiny test split; voices are drawn test split first, so the other splits' sizes do not change them)."""
    pytest.importorskip("espeakng_loader")
    from audiokit.corpora.speech import SIZES, make_speech, speaker_id, split_voices

    out = make_speech(tmp_path_factory.mktemp("speech") / "corpus", seed=0, progress=False,
                      sizes={"train": (1, 1), "dev": (1, 1), "test": (4, 4)})
    held_out = split_voices(0, {s: n for s, (_, n) in SIZES["tiny"].items()})["test"]
    assert sorted((out / "test" / "spk2utt").read_text().split()[::2]) == sorted(map(speaker_id, held_out))
    return out / "test"


@pytest.mark.parametrize("name", sorted(BITRATES))
def test_pretrained_codecs_beat_the_baseline(speech_test, name):
    codec = audiokit.load(name)
    assert codec.sample_rate == 16000 and codec.bitrates == BITRATES[name]
    ends = [BITRATES[name][0], BITRATES[name][-1]]  # the baseline search is slow: the lowest and highest
    res = evaluate_codec(codec, speech_test, bitrates=ends, progress=False, perceptual=False)
    assert res["num_items"] == 4
    for kbps in ends:
        model, base = res["model"][f"{kbps:g}"], res["baseline"][f"{kbps:g}"]
        assert model["mel"] < 0.75 * base["mel"], (kbps, model, base)
    # the card has a row for every bitrate, and its training command
    card = (REPO / "pretrained" / name / "README.md").read_text()
    for kbps in BITRATES[name]:
        assert re.search(rf"^\| {kbps:g} \|", card, re.M), kbps
    assert "./run.sh" in card


def test_pretrained_codec_runs_from_the_cli_by_name(speech_test, tmp_path):
    wav = tmp_path / "in.wav"
    first = (speech_test / "wav.scp").read_text().split()[1]
    audio, rate = sf.read(str((speech_test / first).resolve()) if not Path(first).is_absolute() else first)
    sf.write(str(wav), audio, rate)
    for name, rates in BITRATES.items():
        akc, out = tmp_path / f"{name}.akc", tmp_path / f"{name}.wav"
        cmd = [sys.executable, "-m", "audiokit", "codec", "encode", str(wav), str(akc), "-m", name,
               "--bitrate", f"{rates[0]:g}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        with BitstreamReader(akc) as reader:
            assert reader.header.model_id == name and reader.header.bitrate == rates[0] * 1000
        proc = subprocess.run([sys.executable, "-m", "audiokit", "codec", "decode", str(akc), str(out)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert sf.info(str(out)).frames == len(audio) and sf.info(str(out)).samplerate == 16000
