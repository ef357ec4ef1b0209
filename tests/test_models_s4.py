"""The S4D layer and the S4 effect model: streaming equals offline, the kernel is the recurrence's
impulse response, causality, effective receptive field, learning, checkpoints and training."""
from __future__ import annotations

import random

import pytest
import torch

import audiokit
from audiokit.models.effects import S4, s4_la2a, s4_nablafx_l, s4_nablafx_s
from audiokit.nn import S4D
from audiokit.testing import tiny_train_config
from audiokit.train.builder import compose_config, train

SMALL = dict(sample_rate=8000, num_knobs=2, num_blocks=2, channels=8, state_size=8)


def stream(step, x: torch.Tensor, state, seed: int = 0, max_block: int = 4096) -> torch.Tensor:
    """Run ``step(block, state)`` over ``x`` in random block lengths 1..max_block, changing per block."""
    rng, out, i = random.Random(seed), [], 0
    while i < x.shape[-1]:
        n = rng.choice([1, 2, 3, 17, 128, 511, rng.randint(1, max_block), max_block])
        y, state = step(x[..., i : i + n], state)
        out.append(y)
        i += n
    return torch.cat(out, dim=-1)


def test_layer_streaming_equals_offline_random_block_sizes():
    torch.manual_seed(0)
    layer = S4D(16, state_size=32)
    x = torch.randn(2, 16, 40000)
    with torch.no_grad():
        offline = layer(x)
        streamed = stream(layer.step, x, layer.init_state(2))
    assert offline.abs().max() > 1.0  # outputs of order 1-10, so the bound is a relative one
    assert (streamed - offline).abs().max() < 1e-5  # measured 1.7e-6 (outputs up to 14)


def test_model_streaming_equals_offline_random_block_sizes():
    torch.manual_seed(0)
    model = s4_la2a().eval()
    x, knobs = 0.5 * torch.randn(2, 1, 30000), torch.rand(2, 2)
    with torch.no_grad():
        for block in model.blocks:  # FiLM scales near 1, as after training, so every block passes signal
            block.film.proj.bias[: model.expand.out_channels] += 1.0
        offline = model(x, knobs)
        streamed = stream(lambda b, s: model.step(b, knobs, s), x, model.init_state(2))
    assert offline.std() > 0.04
    assert (streamed - offline).abs().max() < 1e-5  # measured 4.8e-7


def test_kernel_is_the_impulse_response_of_the_recurrence():
    torch.manual_seed(0)
    layer = S4D(4, state_size=8)
    impulse = torch.zeros(1, 4, 3000)
    impulse[..., 0] = 1.0
    with torch.no_grad():
        response = stream(layer.step, impulse, layer.init_state(1), max_block=700)[0]  # (C, T)
        kernel = layer.kernel(3000)
        response[:, 0] -= layer.d  # the D skip is not part of the kernel
    assert kernel.abs().max() > 0.1
    assert (response - kernel).abs().max() < 1e-6  # measured 4.8e-8


def test_zoh_discretisation_matches_the_continuous_step_response():
    # One real mode A = -1/2, C = 1/2 (so 2 Re C = 1), D = 0: the step response of s' = A s + u,
    # y = s sampled every dt is (1 - exp(A dt n)) / -A exactly, because ZOH is exact for piecewise
    # constant input.
    layer = S4D(1, state_size=2)
    with torch.no_grad():
        layer.a_imag.zero_()
        layer.c.copy_(torch.tensor([[[0.5, 0.0]]]))
        layer.d.zero_()
        layer.log_dt.fill_(torch.tensor(0.01).log())
        y = layer(torch.ones(1, 1, 1000))[0, 0]
    n = torch.arange(1, 1001, dtype=torch.float64)
    expected = (1 - torch.exp(-0.5 * 0.01 * n)) / 0.5
    assert (y.double() - expected).abs().max() < 1e-5


def test_causal_by_gradients_and_memory_is_long():
    torch.manual_seed(0)
    model = S4(**SMALL).eval()
    x = torch.randn(1, 1, 3000, requires_grad=True)
    t = 2000
    model(x, torch.rand(1, 2))[0, 0, t].backward()
    g = x.grad[0, 0].abs()
    # the FFT convolution leaves only float32 roundoff after t (zero in exact arithmetic): measured 6e-10
    assert g[t + 1 :].max() < 1e-7 * g[: t + 1].max()
    # an IIR: inputs 1000+ samples back still count (measured 2e-4 of the peak)
    assert g[t] > 0 and g[: t - 1000].max() > 1e-5 * g.max()


def test_effective_receptive_field_holds_all_but_1e6_of_the_energy():
    torch.manual_seed(0)
    layer = S4D(8, state_size=8)
    n = layer.effective_length(1e-6)
    with torch.no_grad():
        h = layer.kernel(20 * n).double()
    h[:, 0] += layer.d.double()
    energy = h**2
    tail = energy.flip(-1).cumsum(-1).flip(-1) / energy.sum(-1, keepdim=True)  # tail[c, L] = sum_{k>=L}
    assert tail[:, n].max() <= 1e-6 < tail[:, n - 1].max()
    model = S4(**SMALL)
    assert model.receptive_field == 1 + sum(b.ssm.effective_length() - 1 for b in model.blocks)
    assert model.latency == 0


def test_knobs_change_the_output_and_bad_input_is_named():
    torch.manual_seed(0)
    model = S4(**SMALL).eval()
    x = torch.randn(1, 1, 500)
    with torch.no_grad():
        a, b = model(x, torch.zeros(1, 2)), model(x, torch.ones(1, 2))
    assert (a - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"expected audio of shape \(batch, 1, time\), got \(1, 500\)"):
        model(x[0], torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"expected knobs of shape \(1, 2\), got \(1, 3\)"):
        model.step(x, torch.zeros(1, 3), model.init_state(1))
    with pytest.raises(ValueError, match="state_size must be an even number >= 2.*got 5"):
        S4D(4, state_size=5)


def test_presets():
    counts = {f.__name__: sum(p.numel() for p in f().parameters()) for f in (s4_la2a, s4_nablafx_s, s4_nablafx_l)}
    assert counts == {"s4_la2a": 16081, "s4_nablafx_s": 8401, "s4_nablafx_l": 21713}
    assert s4_la2a().blocks[0].ssm.state_size == 4 and s4_nablafx_l().blocks[0].ssm.state_size == 32


def test_overfits_one_batch_knob_dependent_smoother():
    # target: a one-pole smoother of |x| whose time constant is set by the knob (an envelope follower)
    torch.manual_seed(0)
    model = S4(**{**SMALL, "num_knobs": 1})
    x = torch.randn(4, 1, 2000) * 0.5
    knob = torch.tensor([[0.0], [0.3], [0.6], [1.0]])
    coef = 0.9 + 0.09 * knob  # pole of y[n] = coef y[n-1] + (1 - coef) |x[n]|
    target, acc = torch.zeros_like(x), torch.zeros(4, 1)
    for n in range(x.shape[-1]):
        acc = coef * acc + (1 - coef) * x[..., n].abs()
        target[..., n] = acc
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x, knob), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first


def test_trains_through_the_training_layer_and_loads(paired_dirs, tmp_path):
    config = tiny_train_config(paired_dirs, tmp_path)
    overrides = ["model._target_=audiokit.models.effects.s4.S4", "~model.kernel_size",
                 "~model.dilation_growth", "+model.state_size=4", "task.optimizer.lr=0.01",
                 "trainer.max_steps=10"]
    result = train(compose_config(config, overrides), tmp_path / "run")
    fx = audiokit.load(result.best)
    assert type(fx.model) is S4 and fx.model.num_knobs == 1 and fx.sample_rate == 8000
    x = 0.3 * torch.randn(1, 12000)
    y = fx.process(x, 8000, block_size=1000, drive_db=12.0)
    with torch.no_grad():
        offline = fx.model(x[None], fx.knobs.normalize({"drive_db": 12.0})[None])[0]
    assert torch.isfinite(y).all() and y.abs().max() > 1e-3
    assert (y - offline).abs().max() < 1e-5
