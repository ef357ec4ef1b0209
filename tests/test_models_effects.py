"""The one streaming contract, checked for every effect architecture (black-box and gray-box).

For random block sizes (1..4096, changing from block to block) streaming equals offline; output at
t does not depend on input after t; knob changes reach the output.
"""
from __future__ import annotations

import random

import pytest
import torch

from audiokit.models.effects import GCN, LSTM, S4, TCN, Chain, Compressor, ParametricEQ, Waveshaper
from audiokit.nn.biquad import biquad_coefficients, biquad_filter
from audiokit.nn.dynamics import gain_reduction_db, level_db, smooth_gain_reduction, time_constant_to_alpha
from audiokit.train.checkpoint import build_model, load_model, save_model

SMALL_TCN = dict(num_blocks=2, channels=8, kernel_size=5, dilation_growth=3, film_batch_norm=False)
ARCHITECTURES = {  # name -> (class, constructor args after sample_rate=8000, num_knobs=2)
    "tcn": (TCN, dict(num_blocks=3, channels=8, kernel_size=5, dilation_growth=3, film_batch_norm=False)),
    "tcn_bn": (TCN, dict(num_blocks=3, channels=8, kernel_size=5, dilation_growth=3)),
    "tcn_lookahead": (TCN, dict(num_blocks=3, channels=8, kernel_size=5, dilation_growth=3, film_batch_norm=False,
                                lookahead=7)),
    "lstm": (LSTM, dict(hidden_size=16)),
    "lstm_tanh": (LSTM, dict(hidden_size=16, num_layers=2, residual=False)),
    "gcn_tfilm": (GCN, dict(num_blocks=1, layers_per_block=4, channels=8, tfilm_block_size=64)),
    "gcn_film": (GCN, dict(num_blocks=2, layers_per_block=3, channels=8, tfilm_block_size=None)),
    "s4": (S4, dict(num_blocks=2, channels=8, state_size=4)),
    "eq": (ParametricEQ, dict()),  # every band kind streams in test_models_graybox
    "compressor": (Compressor, dict()),
    "compressor_envelope": (Compressor, dict(detector="envelope")),
    "waveshaper": (Waveshaper, dict(polynomial_degree=3)),
    # nested models as a config gives them (see spec): built first, then passed to the chain
    "graybox_chain": (Chain, dict(effects=[
        {"_target_": "audiokit.models.effects.graybox.ParametricEQ", "bands": ["low_shelf", "peaking", "high_shelf"]},
        {"_target_": "audiokit.models.effects.graybox.Compressor"},
        {"_target_": "audiokit.models.effects.tcn.TCN", **SMALL_TCN},
    ])),
}


def spec(name: str, num_knobs: int = 2) -> tuple[str, dict]:
    """Import path and constructor args at 8000 Hz, as a checkpoint stores them; nested ``_target_``
    models (a chain's effects) get the same sample rate and knobs, as a config's interpolations give them."""
    cls, kwargs = ARCHITECTURES[name]
    common = {"sample_rate": 8000, "num_knobs": num_knobs}
    args = {key: [{**value, **common} if isinstance(value, dict) else value for value in values]
            if isinstance(values, list) else values for key, values in kwargs.items()}
    return f"{cls.__module__}.{cls.__name__}", {**common, **args}


def build(name: str, num_knobs: int = 2):
    return build_model(*spec(name, num_knobs))


def random_blocks(total: int, seed: int) -> list[int]:
    rng, sizes = random.Random(seed), []
    while sum(sizes) < total:
        sizes.append(rng.choice([1, 3, 64, 127, 128, 129, 1000, 4096]))
    return sizes


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_streaming_equals_offline(name):
    torch.manual_seed(0)
    model = build(name).eval()
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
    lag = model.latency  # a lookahead model's stream answers `latency` samples late
    streamed = torch.cat(out, -1)[..., lag : x.shape[-1]]
    assert (streamed - offline[..., : x.shape[-1] - lag]).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_causal(name):
    torch.manual_seed(0)
    model = build(name).eval()
    x = torch.randn(1, 1, 600, requires_grad=True)
    model(x, torch.rand(1, 2))[0, 0, 400].backward()
    seen = 401 + model.latency  # causal: inputs <= t; with lookahead L: inputs <= t + L
    past = x.grad[0, 0, :seen].abs().max()
    # exactly zero for direct convolutions and recurrences; FFT convolution (S4) leaves rounding noise
    assert past > 0 and x.grad[0, 0, seen:].abs().max() <= 1e-7 * past
    if model.latency:  # and it does use its lookahead
        assert x.grad[0, 0, 401:seen].abs().max() > 0


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_knobs_reach_the_output(name):
    torch.manual_seed(0)
    model = build(name).eval()
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


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_batched_equals_single(name):
    torch.manual_seed(0)
    model = build(name).eval()
    x, knobs = torch.randn(3, 1, 1000) * 0.3, torch.rand(3, 2)
    with torch.no_grad():
        batched = model(x, knobs)
        single = torch.cat([model(x[i : i + 1], knobs[i : i + 1]) for i in range(3)])
    assert (batched - single).abs().max() < 1e-5


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_bad_shapes_are_named(name):
    model = build(name).eval()
    x = torch.randn(1, 1, 500)
    with pytest.raises(ValueError, match=r"expected audio of shape \(batch, 1, time\), got \(1, 500\)"):
        model(x[0], torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"expected knobs of shape \(1, 2\), got \(1, 3\)"):
        model(x, torch.zeros(1, 3))


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_parameter_gets_a_gradient(name):
    model = build(name)
    model(torch.randn(2, 1, 300), torch.rand(2, 2)).square().mean().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]  # DDP needs this


def saturation(x: torch.Tensor, knob: torch.Tensor) -> torch.Tensor:
    """A knob-dependent saturation: ``(B, 1, T), (B, 1) -> (B, 1, T)``."""
    return torch.tanh(x * (1 + 4 * knob[..., None])) * 0.8


def bass_shelf(x: torch.Tensor, knob: torch.Tensor) -> torch.Tensor:
    """A bass knob, -6..+6 dB below 300 Hz at 8 kHz: what a linear model can learn."""
    coefficients = biquad_coefficients("low_shelf", -6 + 12 * knob[:, 0].double(), 300.0, 0.707, 8000)
    return biquad_filter(x[:, 0].double(), coefficients)[0][:, None].to(x.dtype)


def compression(x: torch.Tensor, knob: torch.Tensor) -> torch.Tensor:
    """A threshold knob, -12..-24 dB at 4:1, 2 ms attack, 50 ms release: what a level-only model can learn."""
    reduction = gain_reduction_db(level_db(x[:, 0]), -12 - 12 * knob, 4.0, 6.0)
    alpha = lambda ms: time_constant_to_alpha(torch.full((x.shape[0],), ms), 8000)
    return x * 10 ** (-smooth_gain_reduction(reduction, alpha(2.0), alpha(50.0))[:, None] / 20)


# knob-dependent targets the gray-box blocks can represent (an EQ cannot saturate); default: saturation
OVERFIT_TARGETS = {"eq": bass_shelf, "compressor": compression, "compressor_envelope": compression}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_overfits_one_batch(name):
    torch.manual_seed(0)
    model = build(name, num_knobs=1)
    x = torch.randn(4, 1, 1000) * 0.5
    drive = torch.tensor([[0.0], [0.3], [0.6], [1.0]])
    target = OVERFIT_TARGETS.get(name, saturation)(x, drive)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(model(x, drive), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_checkpoint_round_trip_weights_only(name, tmp_path):
    torch.manual_seed(0)
    target, args = spec(name)
    model = build(name).eval()
    save_model(tmp_path / "m.pt", model, target, args, family="effects", sample_rate=8000)
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    assert ckpt["target"] == target and ckpt["args"] == args
    loaded, _ = load_model(tmp_path / "m.pt")
    x, k = torch.randn(1, 1, 300), torch.rand(1, 2)
    with torch.no_grad():
        assert torch.equal(loaded(x, k), model(x, k))
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file left behind
