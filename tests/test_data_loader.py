"""Samplers, datasets and build_dataloader: determinism, sharding, bucketing and exact resume."""
from __future__ import annotations

import pytest
import torch

from audiokit.audio.io import load
from audiokit.data.loader import DataConfigError, build_dataloader
from audiokit.data.samplers import DurationBucketBatchSampler, RandomCropBatchSampler


def crop_cfg(d, **kw):
    cfg = {"dir": str(d), "kind": "crops", "tables": ["input.scp", "target.scp"], "segment_seconds": 0.25,
           "with_params": True, "batch_size": 3, "crops_per_epoch": 12, "seed": 7, "num_workers": 0}
    return {**cfg, **kw}


def batches(loader, n=None):
    out = []
    for i, b in enumerate(loader):
        if n is not None and i == n:
            break
        out.append(b)
    return out


def test_crops_are_aligned_slices_of_the_files(paired_dirs):
    loader = build_dataloader(crop_cfg(paired_dirs["train"]))
    batch = next(iter(loader))
    assert batch["input"].shape == (3, 1, 2000) and batch["knobs"].shape == (3, 1)
    for i, key in enumerate(batch["key"]):
        full_in, _ = load(paired_dirs["train"] / "wav" / f"{key}_input.wav")
        full_out, _ = load(paired_dirs["train"] / "wav" / f"{key}_target.wav")
        # find the crop's offset in the input, then the target must be cut at the same offset
        x = batch["input"][i, 0]
        offsets = [s for s in range(full_in.shape[-1] - 2000 + 1) if torch.equal(full_in[0, s : s + 2000], x)]
        assert len(offsets) == 1
        assert torch.equal(full_out[0, offsets[0] : offsets[0] + 2000], batch["target"][i, 0])


def test_same_seed_same_batches_any_worker_count(paired_dirs):
    a = batches(build_dataloader(crop_cfg(paired_dirs["train"], num_workers=0)))
    b = batches(build_dataloader(crop_cfg(paired_dirs["train"], num_workers=2)))
    c = batches(build_dataloader(crop_cfg(paired_dirs["train"], seed=8)))
    assert len(a) == 4
    assert all(torch.equal(x["input"], y["input"]) for x, y in zip(a, b))
    assert not all(torch.equal(x["input"], y["input"]) for x, y in zip(a, c))


@pytest.mark.parametrize("num_workers", [0, 1])
def test_mid_epoch_resume_is_exact(paired_dirs, num_workers):
    cfg = crop_cfg(paired_dirs["train"], num_workers=num_workers)
    reference = build_dataloader(cfg)
    ref = batches(reference) + batches(reference)  # two epochs
    loader = build_dataloader(cfg)
    it = iter(loader)
    for _ in range(2):
        next(it)
    state = loader.state_dict()
    del it
    resumed = build_dataloader(cfg)
    resumed.load_state_dict(state)
    rest = batches(resumed) + batches(resumed)
    assert len(rest) == len(ref) - 2
    assert all(torch.equal(x["input"], y["input"]) for x, y in zip(ref[2:], rest))


def test_ddp_shards_are_disjoint_and_equal_length():
    weights = [1.0] * 10
    s0 = RandomCropBatchSampler(weights, 2, 20, seed=3, rank=0, world_size=2)
    s1 = RandomCropBatchSampler(weights, 2, 20, seed=3, rank=1, world_size=2)
    full = RandomCropBatchSampler(weights, 2, 20, seed=3, rank=0, world_size=1)
    b0, b1, ball = list(s0), list(s1), list(full)
    assert len(b0) == len(b1) == 5
    assert sorted(map(tuple, b0 + b1)) == sorted(map(tuple, ball))


def test_bucketing_respects_budget_and_covers_everything():
    durations = torch.rand(200, generator=torch.Generator().manual_seed(0)).mul(9).add(1).tolist()
    sampler = DurationBucketBatchSampler(durations, max_seconds=30, num_buckets=8, seed=0)
    seen = []
    for batch in sampler:
        idx = [i for i, _ in batch]
        assert max(durations[i] for i in idx) * len(idx) <= 30
        seen += idx
    assert sorted(seen) == list(range(200))
    # bucketing wastes little padding compared with random batches of the same count
    padded = sum(max(durations[i] for i, _ in b) * len(b) for b in sampler)
    assert padded / sum(durations) < 1.25
    with pytest.raises(ValueError, match="longer than max_seconds=5"):
        DurationBucketBatchSampler(durations, max_seconds=5)


def test_utterances_padded_with_lengths(speech_dir):
    loader = build_dataloader({"dir": str(speech_dir), "kind": "utterances", "max_seconds": 3.0, "seed": 0})
    total = 0
    for batch in loader:
        lengths = batch["length"]
        assert batch["wav"].shape[-1] == lengths.max()
        for i, n in enumerate(lengths.tolist()):
            assert torch.all(batch["wav"][i, :, n:] == 0)
            assert len(batch["text"][i].split()) == 3
        total += len(lengths)
    assert total == 12


def test_bad_config_errors_name_the_field(paired_dirs):
    with pytest.raises(DataConfigError, match="data.kind: expected one of"):
        build_dataloader({"dir": "x", "kind": "crop"})
    with pytest.raises(DataConfigError, match=r"unknown fields \['segment_secs'\]"):
        build_dataloader({**crop_cfg(paired_dirs["train"]), "segment_secs": 1})
    with pytest.raises(DataConfigError, match="data.max_seconds"):
        build_dataloader({"dir": str(paired_dirs["train"]), "kind": "utterances"})


def test_multi_stem_crops_stay_aligned_and_sum(tmp_path):
    from audiokit.audio.io import save
    from audiokit.data.kaldi import write_table

    rng = torch.Generator().manual_seed(0)
    tables = {name: {} for name in ("mixture", "drums", "bass")}
    for i in range(3):
        key = f"track{i}"
        drums, bass = torch.randn(2, 8000, generator=rng), torch.randn(2, 8000, generator=rng)
        for name, wav in (("drums", drums), ("bass", bass), ("mixture", drums + bass)):
            save(tmp_path / "wav" / f"{key}_{name}.wav", wav, 8000)
            tables[name][key] = f"wav/{key}_{name}.wav"
    for name, entries in tables.items():
        write_table(tmp_path / f"{name}.scp", entries)
    stems = ["mixture.scp", "drums.scp", "bass.scp"]
    loader = build_dataloader({"dir": str(tmp_path), "kind": "crops", "tables": stems,
                               "segment_seconds": 0.1, "batch_size": 4, "crops_per_epoch": 8, "seed": 1})
    for batch in loader:
        assert batch["mixture"].shape == (4, 2, 800)  # stereo stems
        assert (batch["drums"] + batch["bass"] - batch["mixture"]).abs().max() < 1e-6


def test_mono_mixes_stereo_and_mono_files_into_one_batch(tmp_path):
    from audiokit.audio.io import save
    from audiokit.data.kaldi import DataDirError, write_table

    rng = torch.Generator().manual_seed(3)
    files = {"speech": torch.randn(1, 8000, generator=rng), "music": torch.randn(2, 8000, generator=rng)}
    for key, wav in files.items():
        save(tmp_path / f"{key}.wav", wav, 8000)
    write_table(tmp_path / "wav.scp", {key: f"{key}.wav" for key in files})
    cfg = {"dir": str(tmp_path), "kind": "sequential", "tables": ["wav.scp"], "batch_size": 2}
    with pytest.raises(DataDirError, match=r"'wav': .* different channel counts: music \(2\), speech \(1\); set `mono"):
        next(iter(build_dataloader(cfg)))
    batch = next(iter(build_dataloader({**cfg, "mono": True})))
    assert batch["wav"].shape == (2, 1, 8000)
    for i, key in enumerate(batch["key"]):
        assert torch.allclose(batch["wav"][i], files[key].mean(dim=0, keepdim=True), atol=1e-6)
    crops = next(iter(build_dataloader({**cfg, "kind": "crops", "segment_seconds": 0.1, "mono": True})))
    assert crops["wav"].shape == (2, 1, 800)


def test_speech_corpus_feeds_the_utterance_loader(tmp_path):
    from audiokit.corpora.speech import make_speech
    from audiokit.data.validate import validate_data_dir

    out = make_speech(tmp_path / "speech", sizes={"train": (8, 2), "dev": (2, 1), "test": (2, 1)}, progress=False)
    assert validate_data_dir(out / "train") == []
    loader = build_dataloader({"dir": str(out / "train"), "kind": "utterances", "max_seconds": 12.0,
                               "sample_rate": 16000, "seed": 0})
    seen = 0
    for batch in loader:
        assert batch["wav"].shape[1] == 1 and batch["wav"].shape[-1] <= 12.0 * 16000
        assert all(t == t.upper() and t for t in batch["text"])
        assert all(key.startswith(spk) for key, spk in zip(batch["key"], batch["speaker"]))
        seen += len(batch["key"])
    assert seen == 8
