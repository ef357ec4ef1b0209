"""The GCN effect model and its causal TFiLM layer: streaming equals offline across TFiLM block
boundaries, causality, receptive field, learning, checkpoints and the training layer."""
from __future__ import annotations

import random

import pytest
import torch

import audiokit
from audiokit.metrics.signal import esr
from audiokit.models.effects import GCN, gcn_tfilm_1, gcn_tfilm_250
from audiokit.nn import TFiLM
from audiokit.testing import soft_clip, tiny_train_config
from audiokit.train.builder import compose_config, train

SMALL = dict(sample_rate=8000, num_knobs=2, num_blocks=2, layers_per_block=3, channels=8, kernel_size=3,
             dilation_growth=3, tfilm_block_size=64, cond_hidden=(8, 16))


def small_gcn(**kw) -> GCN:
    return GCN(**{**SMALL, **kw})


def random_blocks(total: int, seed: int) -> list[int]:
    """Block sizes 1..4096 changing from call to call, never aligned to the TFiLM block on purpose."""
    rng, sizes = random.Random(seed), []
    while sum(sizes) < total:
        sizes.append(rng.choice([1, 2, 63, 64, 65, 100, 127, 1000, rng.randint(1, 4096), 4096]))
    return sizes


def stream(module, x: torch.Tensor, cond: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    state, out, i = module.init_state(x.shape[0]), [], 0
    for n in sizes:
        y, state = module.step(x[..., i : i + n], cond, state)
        out.append(y)
        i += n
    return torch.cat(out, dim=-1)


def test_paper_configurations_receptive_field():
    # GCNTF1: 1 + 2*(1 + 2 + ... + 512) = 2,047; GCNTF250: 1 + 40*(1 + 6 + 36 + 216) = 10,361
    assert gcn_tfilm_1().receptive_field == 2047
    assert gcn_tfilm_250().receptive_field == 10361
    assert small_gcn().receptive_field == 1 + 2 * 2 * (1 + 3 + 9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tfilm_streaming_equals_offline(seed):
    torch.manual_seed(seed)
    layer = TFiLM(channels=4, cond_features=3, block_size=64)
    x, cond = torch.randn(2, 4, 15000), torch.randn(2, 3)
    sizes = random_blocks(x.shape[-1], seed)
    with torch.no_grad():
        offline = layer(x, cond)
        streamed = stream(layer, x, cond, sizes)[..., : x.shape[-1]]
    assert (streamed - offline).abs().max() < 1e-5
    # the blocks really split TFiLM blocks: most calls start and end inside one
    edges = torch.tensor(sizes).cumsum(0)
    assert (edges % 64 != 0).float().mean() > 0.8


def test_tfilm_is_causal_and_carries_state_across_blocks():
    torch.manual_seed(0)
    layer = TFiLM(channels=3, cond_features=2, block_size=16)
    x = torch.randn(1, 3, 100, requires_grad=True)
    t = 70  # inside block 4 (64..79): its modulation comes from blocks 0..3
    layer(x, torch.randn(1, 2))[0, :, t].sum().backward()
    support = (x.grad[0].abs().sum(0) != 0).nonzero().flatten()
    assert support.max() == t  # nothing after t, not even the rest of its own block
    assert support.min() < 16  # the LSTM carries block 0 (through its per-channel argmax) into block 4
    assert x.grad[0, :, 64:t].abs().sum() == 0  # earlier samples of its own block reach it only next block


def test_tfilm_any_length_and_knobs_matter():
    torch.manual_seed(0)
    layer = TFiLM(channels=2, cond_features=1, block_size=8)
    x = torch.randn(1, 2, 29)  # 3 full blocks and a partial one
    with torch.no_grad():
        y = layer(x, torch.zeros(1, 1))
        y_other_knob = layer(x, torch.ones(1, 1))
        y_prefix = layer(x[..., :24], torch.zeros(1, 1))
    assert y.shape == (1, 2, 29)
    assert (y[..., :24] - y_prefix).abs().max() < 1e-6  # a future partial block changes nothing before it
    assert (y - y_other_knob).abs().max() > 1e-3


@pytest.mark.parametrize("tfilm_block_size", [64, None])
def test_model_streaming_equals_offline(tfilm_block_size):
    torch.manual_seed(0)
    model = small_gcn(tfilm_block_size=tfilm_block_size).eval()
    x, knobs = torch.randn(2, 1, 20000) * 0.3, torch.rand(2, 2)
    with torch.no_grad():
        offline = model(x, knobs)
        streamed = stream(model, x, knobs, random_blocks(x.shape[-1], seed=3))[..., : x.shape[-1]]
    assert (streamed - offline).abs().max() < 1e-5


def test_model_causal_through_tfilm():
    torch.manual_seed(0)
    model = small_gcn().eval()
    x = torch.randn(1, 1, 600, requires_grad=True)
    t = 450
    model(x, torch.rand(1, 2))[0, 0, t].backward()
    support = (x.grad[0, 0] != 0).nonzero().flatten()
    assert support.max() == t
    assert support.min() < 64  # TFiLM's LSTM reaches far past the convolutions' receptive field (53)


def test_conv_receptive_field_equals_gradient_support():
    torch.manual_seed(0)
    model = small_gcn(tfilm_block_size=None).eval()
    x = torch.randn(1, 1, 400, requires_grad=True)
    t = 300
    model(x, torch.rand(1, 2))[0, 0, t].backward()
    support = (x.grad[0, 0] != 0).nonzero().flatten()
    assert support.max() == t
    assert t - support.min() + 1 == model.receptive_field == 53


def test_trains_through_the_training_layer_and_streams_after_load(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    cfg = compose_config(config, ["model._target_=audiokit.models.effects.gcn.GCN", "model.num_blocks=1",
                                  "model.kernel_size=3", "model.dilation_growth=2", "+model.layers_per_block=4",
                                  "+model.tfilm_block_size=64", "trainer.max_steps=10"])
    result = train(cfg, tmp_path / "gcn")
    fx = audiokit.load(result.best)
    assert type(fx.model) is GCN and fx.receptive_field == 1 + 2 * (1 + 2 + 4 + 8) == 31
    assert result.best_score is not None and result.best_score < 1.0  # val ESR below a silent output's (~0.95)
    # it learned: on an unseen tone through the same soft clipper, ESR ~0.86 against ~1.02 untrained
    t = torch.arange(8000) / 8000
    tone = (0.5 * torch.sin(2 * torch.pi * 220 * t) * torch.sin(2 * torch.pi * 2 * t).abs())[None, None]
    knobs = fx.knobs.normalize({"drive_db": 12.0})[None]
    torch.manual_seed(0)
    untrained = GCN(**torch.load(result.best, weights_only=True)["args"]).eval()
    with torch.no_grad():
        assert esr(fx.model(tone, knobs), soft_clip(tone, 12.0)) < esr(untrained(tone, knobs), soft_clip(tone, 12.0))
    # audiokit.load(...).process streams block by block; 1000 is not a multiple of the TFiLM block (64)
    wav = torch.randn(2, 5000) * 0.3
    streamed = fx.process(wav, 8000, block_size=1000, drive_db=12.0)
    with torch.no_grad():
        offline = fx.model(wav[:, None], knobs.expand(2, -1))[:, 0]  # (2, T) -> (2, 1, T) -> (2, T)
    assert (streamed - offline).abs().max() < 1e-5
