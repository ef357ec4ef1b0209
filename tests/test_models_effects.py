"""The one streaming contract, checked for every effect architecture.

For random block sizes (1..4096, changing from block to block) streaming equals offline; output at
t does not depend on input after t; knob changes reach the output.
"""
from __future__ import annotations

import random

import pytest
import torch

from audiokit.models.effects import GCN, LSTM, S4, TCN

ARCHITECTURES = {
    "tcn": lambda: TCN(8000, 2, num_blocks=3, channels=8, kernel_size=5, dilation_growth=3, film_batch_norm=False),
    "tcn_bn": lambda: TCN(8000, 2, num_blocks=3, channels=8, kernel_size=5, dilation_growth=3),
    "lstm": lambda: LSTM(8000, 2, hidden_size=16),
    "lstm_tanh": lambda: LSTM(8000, 2, hidden_size=16, num_layers=2, residual=False),
    "gcn_tfilm": lambda: GCN(8000, 2, num_blocks=1, layers_per_block=4, channels=8, tfilm_block_size=64),
    "gcn_film": lambda: GCN(8000, 2, num_blocks=2, layers_per_block=3, channels=8, tfilm_block_size=None),
    "s4": lambda: S4(8000, 2, num_blocks=2, channels=8, state_size=4),
}


def random_blocks(total: int, seed: int) -> list[int]:
    rng, sizes = random.Random(seed), []
    while sum(sizes) < total:
        sizes.append(rng.choice([1, 3, 64, 127, 128, 129, 1000, 4096]))
    return sizes


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_streaming_equals_offline(name):
    torch.manual_seed(0)
    model = ARCHITECTURES[name]().eval()
    with torch.no_grad():  # BatchNorm-free models have nothing to warm; others get real running stats
        model.train()(torch.randn(4, 1, 2000) * 0.3, torch.rand(4, 2))
        model.eval()
    x, knobs = torch.randn(2, 1, 12000) * 0.3, torch.rand(2, 2)
    with torch.no_grad():
        offline = model(x, knobs)
        state, out, i = model.init_state(2), [], 0
        for n in random_blocks(x.shape[-1], seed=1):
            y, state = model.step(x[..., i : i + n], knobs, state)
            out.append(y)
            i += n
    streamed = torch.cat(out, -1)[..., : x.shape[-1]]
    assert (streamed - offline).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_causal(name):
    torch.manual_seed(0)
    model = ARCHITECTURES[name]().eval()
    x = torch.randn(1, 1, 600, requires_grad=True)
    model(x, torch.rand(1, 2))[0, 0, 400].backward()
    past = x.grad[0, 0, :401].abs().max()
    # exactly zero for direct convolutions and recurrences; FFT convolution (S4) leaves rounding noise
    assert past > 0 and x.grad[0, 0, 401:].abs().max() <= 1e-7 * past


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_knobs_reach_the_output(name):
    torch.manual_seed(0)
    model = ARCHITECTURES[name]().eval()
    x = torch.randn(1, 1, 800) * 0.3
    with torch.no_grad():
        diff = (model(x, torch.zeros(1, 2)) - model(x, torch.ones(1, 2))).abs().max()
    assert diff > 1e-4


def test_lstm_needs_a_warmup_in_the_task():
    from audiokit.tasks.effects import EffectsTask

    with pytest.raises(ValueError, match="task.warmup: required for LSTM"):
        EffectsTask(LSTM(8000, 2))
    assert EffectsTask(LSTM(8000, 2), warmup=4096).warmup == 4096
    assert EffectsTask(TCN(8000, 2, num_blocks=2, kernel_size=3, dilation_growth=2)).warmup == 2 + 4
