"""The codec recipes end to end, a few training steps each: the offline speech corpus (egs/speech/codec_rvq),
LibriTTS on a fake tree (egs/libritts/codec_rvq: the download stage finds the copy) and, marked slow, the
other speech codecs and the ambisonics recipe."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from audiokit.codecs.bitstream import BitstreamReader
from audiokit.data.kaldi import read_table

REPO = Path(__file__).resolve().parents[1]
# a few steps of a very small network; eval without PESQ/STOI (the stage's plumbing, not the scores)
SMALL_SEANET = "model.n_filters=4 model.dimension=16 model.num_quantizers=12"
FAST = "trainer.max_steps=2 trainer.val_check_interval=2 data.train.segment_seconds=0.32 data.train.batch_size=2"
GAN = "task.warmup_steps=1"  # the discriminator joins at step 1 of 2 (the GAN codecs; ESC has none)


def run_recipe(tmp_path: Path, recipe: str, *args: str, timeout: int = 900) -> tuple[Path, subprocess.CompletedProcess]:
    """Copy egs/<recipe> under tmp_path (recipes/ linked beside it, as in the checkout) and run its run.sh."""
    where = tmp_path / "egs" / recipe
    shutil.copytree(REPO / "egs" / recipe, where, ignore=shutil.ignore_patterns("exp", "data", "corpus"))
    (tmp_path / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LIBRITTS_ROOT", None)
    res = subprocess.run(["bash", "run.sh", *args], cwd=where, capture_output=True, text=True, env=env,
                         timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return where, res


def check_outputs(where: Path, res: subprocess.CompletedProcess, corpus: str, bitrates: list[float],
                  channels: int = 1) -> dict:
    exp = where / "exp" / "fast"
    assert all((exp / ".done" / f"stage{n}").exists() for n in range(5))
    scores = json.loads((exp / "test.json").read_text())
    keys = sorted(read_table(where / "data" / "test" / "wav.scp").keys())
    assert scores["num_items"] == len(keys) and scores["bitrates"] == bitrates
    # every bitrate scored for the model and for the baseline at that bitrate, per utterance too
    for system in ("model", "baseline"):
        assert sorted(scores[system], key=float) == [f"{b:g}" for b in bitrates]
        assert all(math.isfinite(v["mel"]) for v in scores[system].values()), scores[system]
    assert sorted(p.stem for p in (exp / "test_utts").iterdir()) == keys
    assert f"== results: {corpus}, fast" in res.stdout
    # the demo: the first test utterance through `audiokit codec encode/decode` at every bitrate
    demo = exp / "demo"
    length = sf.info(demo / "input.wav").frames
    sizes = []
    for kbps in bitrates:
        with BitstreamReader(demo / f"{kbps:g}kbps.akc") as reader:
            assert reader.header.bitrate == pytest.approx(kbps * 1000)
            assert reader.header.model_hash  # written by the trained model
        decoded = sf.info(demo / f"{kbps:g}kbps.wav")
        assert decoded.frames == length and decoded.channels == channels
        sizes.append((demo / f"{kbps:g}kbps.akc").stat().st_size)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)  # more bits, bigger files
    return scores


def test_speech_rvq_recipe_runs_every_stage(tmp_path):
    pytest.importorskip("espeakng_loader")
    where, res = run_recipe(tmp_path, "speech/codec_rvq", "--size", "tiny", "--tag", "fast",
                            "--overrides", f"{FAST} {GAN} {SMALL_SEANET}", "--eval-options", "--no-perceptual")
    assert (where / "data" / "test").resolve() == (where / "corpus" / "speech_tiny_seed0" / "test").resolve()
    check_outputs(where, res, "speech", [1.5, 3.0, 6.0])


def test_general_audio_recipe_trains_on_speech_and_music_and_scores_both(tmp_path):
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("midirenderer")
    where, res = run_recipe(tmp_path, "speech/codec_rvq", "--music", "tiny", "--config", "conf/rvq_general_tiny.yaml",
                            "--tag", "fast", "--overrides", f"{FAST} {GAN} {SMALL_SEANET}",
                            "--eval-options", "--no-perceptual")
    data = where / "data"
    speech, music, general = (read_table(data / d / "wav.scp") for d in ("train", "test_music", "train_general"))
    music_dir = where / "corpus" / "music_tiny_seed0_16k" / "train"
    music_train = read_table(music_dir / "mixture.scp")
    assert sorted(general.keys()) == sorted([*speech.keys(), *music_train.keys()]) and len(music_train.keys()) > 0
    # every entry of the combined dir is the very file of its corpus
    for key, table, src in ((sorted(speech.keys())[0], speech, data / "train"),
                            (sorted(music_train.keys())[0], music_train, music_dir)):
        assert (data / "train_general" / general[key]).resolve() == (src / table[key]).resolve()
    first_music = sorted(music.keys())[0]
    assert sf.info(data / "test_music" / music[first_music]).channels == 2  # stereo, mixed down to mono
    scores = json.loads((where / "exp" / "fast" / "test.json").read_text())
    assert sorted(scores) == ["data/test", "data/test_music"]
    assert scores["data/test_music"]["num_items"] == len(music.keys())
    assert scores["data/test_music"]["per_utterance"][0]["model"]["6"]["mel"] > 0
    assert sorted(p.name for p in (where / "exp" / "fast" / "test_utts").iterdir()) == ["test", "test_music"]
    assert "utterances of data/test_music" in res.stdout


def test_libritts_recipe_runs_every_stage_on_a_fake_tree(tmp_path):
    from test_corpora_real import make_libritts

    root = tmp_path / "download"
    make_libritts(root)  # as `audiokit corpus download libritts --root` unpacks it: 24 kHz noise "speech"
    where, res = run_recipe(tmp_path, "libritts/codec_rvq", "--root", str(root), "--config", "conf/rvq_tiny.yaml",
                            "--tag", "fast", "--overrides", f"{FAST} {GAN} {SMALL_SEANET}",
                            "--eval-options", "--no-perceptual")
    assert not (where / "corpus" / "download").exists()  # the copy under --root was used, nothing fetched
    for split, part in {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}.items():
        assert (where / "data" / split).resolve() == (where / "corpus" / "libritts" / part).resolve()
    assert sorted(read_table(where / "data" / "test" / "wav.scp").keys()) == ["1089_134686_000004_000000"]
    check_outputs(where, res, "libritts", [1.5, 3.0, 6.0])


@pytest.mark.slow
@pytest.mark.parametrize("recipe,overrides,bitrates", [
    ("speech/codec_hificodec", f"{GAN} model.n_filters=4 model.dimension=16", [1.0, 2.0]),
    ("speech/codec_esc", "task.val_bitrates=[1.5,9.0]", [1.5, 3.0, 4.5, 6.0, 7.5, 9.0]),
])
def test_speech_codec_recipes_run_every_stage(tmp_path, recipe, overrides, bitrates):
    pytest.importorskip("espeakng_loader")
    where, res = run_recipe(tmp_path, recipe, "--size", "tiny", "--tag", "fast", "--overrides",
                            f"{FAST} {overrides}", "--eval-options", "--no-perceptual")
    check_outputs(where, res, "speech", bitrates)


@pytest.mark.slow
def test_ambisonics_recipe_runs_every_stage(tmp_path):
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("midirenderer")
    where, res = run_recipe(tmp_path, "ambisonics/codec_hoa", "--size", "tiny", "--tag", "fast", "--overrides",
                            f"{FAST} {GAN} model.n_filters=4 model.dimension=16", "--eval-options", "--no-perceptual",
                            timeout=1800)
    scores = check_outputs(where, res, "ambisonics", [1.5, 3.0, 6.0], channels=16)
    assert scores["num_items"] == 8
