"""The separation task: stems as targets, augmentation keeps mixture = sum of stems, uSDR values."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from audiokit.metrics.separation import new_sdr
from audiokit.tasks.separation import SeparationTask, standardize_example
from audiokit.utils import AudiokitError


class Mask(nn.Module):
    """A toy separator: a learned per-source gain on the mixture."""

    sources = ["a", "b"]
    sample_rate = 8000

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.full((2,), 0.5))

    def forward(self, mix):  # (B, C, T) -> (B, 2, C, T)
        return mix[:, None] * self.gain[None, :, None, None]


def batch(n=6):
    torch.manual_seed(0)
    a, b = torch.randn(n, 2, 800), 0.3 * torch.randn(n, 2, 800)
    return {"mixture": a + b, "a": a, "b": b, "length": torch.full((n,), 800)}


def test_new_sdr_matches_its_formula():
    ref = torch.randn(3, 2, 1000)
    est = ref + 0.1 * torch.randn(3, 2, 1000)
    expected = 10 * torch.log10(ref.square().sum((-2, -1)) / (ref - est).square().sum((-2, -1)))
    assert torch.allclose(new_sdr(est, ref), expected, atol=1e-4)
    assert float(new_sdr(ref, ref).min()) > 60  # perfect estimate: capped only by eps


def test_training_step_and_validation_log_per_source():
    task = SeparationTask(Mask(), standardize=False)
    logged = {}
    task.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    b = batch()
    loss = task.training_step(b, 0)
    expected = (torch.stack([b["a"], b["b"]], 1) - 0.5 * b["mixture"][:, None]).abs().mean()
    assert torch.allclose(loss, expected)
    task.validation_step(b, 0)
    assert {"val/nsdr", "val/nsdr_a", "val/nsdr_b", "val/si_sdr", "val/neg_nsdr"} <= set(logged)
    assert logged["val/neg_nsdr"] == pytest.approx(-logged["val/nsdr"])


def test_standardized_examples_are_scaled_as_inference_scales_a_track():
    g = torch.Generator().manual_seed(0)
    stems = 0.05 * torch.randn(3, 2, 2, 4000, generator=g) + 0.01  # quiet, with an offset
    mix = stems.sum(1)
    mix_s, stems_s = standardize_example(mix, stems)
    avg = mix_s.mean(1)  # channel average of each example: mean 0, std 1
    assert torch.allclose(avg.mean(-1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(avg.std(-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(stems_s.sum(1), mix_s, atol=1e-5)  # still a mixture of its stems
    # SeparationModel's inverse (out * std + mean / S, statistics of the channel average) undoes it
    ref = mix.mean(1)
    mean, std = ref.mean(-1)[:, None, None, None], ref.std(-1)[:, None, None, None]
    assert torch.allclose(stems_s * std + mean / 2, stems, atol=1e-6)
    # the task trains on this scale: Mask's loss is taken on the standardised batch
    b = {"mixture": mix, "a": stems[:, 0], "b": stems[:, 1], "length": torch.full((3,), 4000)}
    task = SeparationTask(Mask())
    task.log = lambda *a, **k: None
    loss = task.training_step(b, 0)
    assert torch.allclose(loss, (stems_s - 0.5 * mix_s[:, None]).abs().mean(), atol=1e-6)


def test_augmented_batch_keeps_mixture_equal_to_sum_of_stems():
    task = SeparationTask(Mask(), augment=[{"name": "remix", "p": 1.0}, {"name": "polarity", "p": 0.5,
                                                                           "same_for_sources": False}])
    task._trainer = SimpleNamespace(training=True)
    b = batch()
    out = task.on_after_batch_transfer(dict(b), 0)
    assert torch.allclose(out["mixture"], out["a"] + out["b"], atol=1e-6)
    assert not torch.allclose(out["mixture"], b["mixture"])  # the stems were really remixed/flipped


def test_sources_must_match_the_model():
    with pytest.raises(AudiokitError, match="differ from the model"):
        SeparationTask(Mask(), sources=["b", "a"])
    with pytest.raises(AudiokitError, match="expected 'l1' or 'mse'"):
        SeparationTask(Mask(), loss="sdr")


def test_absent_stems_are_not_scored_in_validation():
    task = SeparationTask(Mask())
    logged = {}
    task.log = lambda name, value, **kw: logged.__setitem__(name, float(value))
    b = batch()
    b["b"] = torch.zeros_like(b["b"])  # stem b absent from every track
    b["mixture"] = b["a"].clone()
    task.validation_step(b, 0)
    assert "val/nsdr_b" not in logged and logged["val/nsdr"] == pytest.approx(logged["val/nsdr_a"])
