"""Gray-box DSP blocks: biquads against scipy, attack/release smoothing against a plain loop (values and
gradients), analytic EQ gains, the compressor's static curve, waveshaper symmetry, argument errors.

The shared streaming/causality/overfit/checkpoint contract runs on them in test_models_effects.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from audiokit.models.effects import (
    TCN,
    Chain,
    Compressor,
    ParametricEQ,
    Waveshaper,
    graybox_compressor,
    graybox_distortion,
)
from audiokit.nn.biquad import BIQUAD_KINDS, biquad_cascade, biquad_coefficients, biquad_filter, biquad_response
from audiokit.nn.dynamics import (
    attack_decisions,
    gain_reduction_db,
    smooth_gain_reduction,
    time_constant_to_alpha,
)

FX_RECIPES = Path(__file__).resolve().parents[1] / "egs" / "fx"


def set_parameters(controller, values) -> None:
    """Make a controller output ``values`` whatever the knobs: zero weights, bias at their logits."""
    lo, span, log = controller.low.double(), controller.span.double(), controller.log_scale
    values = torch.tensor(values, dtype=torch.float64)
    position = (torch.where(log, values.log(), values) - lo) / span
    with torch.no_grad():
        controller.proj.weight.zero_()
        controller.proj.bias.copy_(torch.logit(position))


def reference_smoothing(g, attack, release, initial):
    """The branching one-pole recursion, one Python step per sample (differentiable through autograd)."""
    out, y = [], initial
    for t in range(g.shape[-1]):
        alpha = torch.where(g[:, t] > y, attack, release)
        y = y + alpha * (g[:, t] - y)
        out.append(y)
    return torch.stack(out, dim=-1)


def stream(model, x, knobs, sizes):
    state, out, i = model.init_state(x.shape[0]), [], 0
    for n in sizes:
        y, state = model.step(x[..., i : i + n], knobs, state)
        out.append(y)
        i += n
    return torch.cat(out, -1), state


# ------------------------------------------------------------------------------------------ biquads
@pytest.mark.parametrize("kind", BIQUAD_KINDS)
def test_biquad_equals_scipy_lfilter_with_initial_state(kind):
    torch.manual_seed(0)
    gain, cutoff, q = [6.0, -12.0, 3.0], [60.0, 1000.0, 3500.0], [0.5, 2.0, 8.0]  # dB, Hz, Q of 3 filters
    coefficients = biquad_coefficients(kind, *(torch.tensor(v, dtype=torch.float64) for v in (gain, cutoff, q)),
                                       8000)  # (3, 5)
    x, zi = torch.randn(3, 4000, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    y, zf = biquad_filter(x, coefficients, zi)
    for i in range(3):
        b, a = coefficients[i, :3].numpy(), np.r_[1.0, coefficients[i, 3:].numpy()]
        expected, expected_zf = scipy.signal.lfilter(b, a, x[i].numpy(), zi=zi[i].numpy())
        assert np.abs(y[i].numpy() - expected).max() < 1e-5
        assert np.abs(zf[i].numpy() - expected_zf).max() < 1e-5


def test_biquad_cascade_in_random_blocks_equals_whole_signal():
    torch.manual_seed(0)
    coefficients = torch.stack([biquad_coefficients(kind, torch.randn(2) * 6, torch.rand(2) * 3000 + 30, 0.7, 8000)
                                for kind in BIQUAD_KINDS], dim=1).double()  # (2, 5 sections, 5)
    x = torch.randn(2, 6000, dtype=torch.float64)
    whole, final = biquad_cascade(x, coefficients)
    rng, state, out, i = random.Random(0), None, [], 0
    while i < x.shape[-1]:
        n = rng.choice([1, 2, 3, 17, 500, 2048])
        y, state = biquad_cascade(x[..., i : i + n], coefficients, state)
        out.append(y)
        i += n
    assert (torch.cat(out, -1) - whole).abs().max() < 1e-10
    assert (state - final).abs().max() < 1e-10


@pytest.mark.parametrize("kind", BIQUAD_KINDS)
def test_biquads_are_stable_over_the_whole_parameter_range(kind):
    # including cutoffs at 0.1 % and 99.9 % of Nyquist, extreme Q and gain
    n = 4000
    g = torch.Generator().manual_seed(0)
    cutoff = torch.cat([torch.tensor([0.004, 3996.0]), torch.rand(n, generator=g) * 3990 + 5]).double()
    q = torch.cat([torch.tensor([0.01, 100.0]), torch.exp(torch.randn(n, generator=g) * 2)]).double()
    gain = torch.cat([torch.tensor([-40.0, 40.0]), torch.randn(n, generator=g) * 20]).double()
    _, _, _, a1, a2 = biquad_coefficients(kind, gain, cutoff, q, 8000).unbind(-1)
    assert bool((a2.abs() < 1).all()) and bool((a1.abs() < 1 + a2).all())  # poles inside the unit circle


def test_biquad_gradients_match_finite_differences():
    torch.manual_seed(0)
    params = [torch.tensor([3.0, -5.0], dtype=torch.float64, requires_grad=True),  # gain dB
              torch.tensor([300.0, 2000.0], dtype=torch.float64, requires_grad=True),  # cutoff Hz
              torch.tensor([0.7, 2.0], dtype=torch.float64, requires_grad=True)]  # Q
    x = torch.randn(2, 64, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)

    def run(gain, cutoff, q, x, state):
        y, s = biquad_filter(x, biquad_coefficients("peaking", gain, cutoff, q, 8000), state)
        return y, s

    assert torch.autograd.gradcheck(run, (*params, x, state))


@pytest.mark.parametrize("kind, frequency", [("peaking", None), ("low_shelf", 0.0), ("high_shelf", 4000.0)])
def test_biquad_gain_in_db_where_the_design_puts_it(kind, frequency):
    gain = torch.tensor([-12.0, -3.0, 4.5, 15.0], dtype=torch.float64)
    cutoff = torch.tensor([100.0, 700.0, 1500.0, 2500.0], dtype=torch.float64)
    coefficients = biquad_coefficients(kind, gain, cutoff, 1.3, 8000)
    at = cutoff if frequency is None else torch.full_like(cutoff, frequency)
    response = torch.stack([biquad_response(c, f[None], 8000)[0] for c, f in zip(coefficients, at)])
    assert (20 * response.abs().log10() - gain).abs().max() < 1e-6


# -------------------------------------------------------------------------------------- dynamics
def test_smoothing_equals_the_plain_loop():
    torch.manual_seed(0)
    g = (torch.randn(3, 3000) * 6 + torch.linspace(-3, 9, 3000)).clamp(min=0)  # gain reduction, dB
    attack = time_constant_to_alpha(torch.tensor([0.2, 2.0, 10.0]), 8000)
    release = time_constant_to_alpha(torch.tensor([20.0, 100.0, 1000.0]), 8000)
    initial = torch.tensor([0.0, 5.0, 30.0])
    expected = reference_smoothing(g.double(), attack.double(), release.double(), initial.double())
    assert (smooth_gain_reduction(g, attack, release, initial) - expected).abs().max() < 1e-5
    assert (smooth_gain_reduction(g.double(), attack.double(), release.double(), initial.double())
            - expected).abs().max() < 1e-10
    # any real values, not only reductions >= 0
    signed = torch.randn(2, 500, dtype=torch.float64) * 4
    expected = reference_smoothing(signed, attack[:2].double(), release[:2].double(), torch.zeros(2).double())
    assert (smooth_gain_reduction(signed, attack[:2].double(), release[:2].double()) - expected).abs().max() < 1e-10


def test_smoothing_gradient_equals_autograd_through_the_loop():
    torch.manual_seed(0)
    g = (torch.randn(2, 200, dtype=torch.float64) * 5 + 4).clamp(min=0)
    attack_ms = torch.tensor([1.0, 5.0], dtype=torch.float64)
    release_ms = torch.tensor([30.0, 200.0], dtype=torch.float64)
    initial = torch.tensor([0.0, 6.0], dtype=torch.float64)
    weights = torch.randn(2, 200, dtype=torch.float64)  # a random linear loss

    def gradients(smoother):
        leaves = [t.clone().requires_grad_() for t in (g, attack_ms, release_ms, initial)]
        y = smoother(leaves[0], time_constant_to_alpha(leaves[1], 8000), time_constant_to_alpha(leaves[2], 8000),
                     leaves[3])
        return torch.autograd.grad((y * weights).sum(), leaves)

    for ours, expected in zip(gradients(smooth_gain_reduction), gradients(reference_smoothing)):
        assert torch.allclose(ours, expected, rtol=1e-7, atol=1e-10)


def test_attack_is_faster_than_release_with_the_right_time_constants():
    sample_rate, attack_ms, release_ms = 8000, 5.0, 50.0
    attack = time_constant_to_alpha(torch.tensor([attack_ms]), sample_rate)
    release = time_constant_to_alpha(torch.tensor([release_ms]), sample_rate)
    step = torch.cat([torch.full((1, 4000), 10.0), torch.zeros(1, 4000)], dim=-1)
    y = smooth_gain_reduction(step, attack, release)[0]
    rise = int((y[:4000] < 10 * (1 - math.exp(-1))).sum())  # samples to 63 % of the step
    fall = int((y[4000:] > 10 * math.exp(-1)).sum())  # samples to 37 % on the way back
    assert abs(rise - attack_ms * sample_rate / 1000) <= 1
    assert abs(fall - release_ms * sample_rate / 1000) <= 1
    assert fall > 5 * rise


def test_smoothing_decisions_follow_the_branch():
    g = torch.tensor([[0.0, 5.0, 5.0, 1.0, 1.0, 9.0]])
    decisions = attack_decisions(g, torch.tensor([0.5]), torch.tensor([0.1]), torch.tensor([0.0]))
    assert decisions.tolist() == [[False, True, True, False, False, True]]


def test_static_curve_slopes_and_soft_knee():
    level = torch.linspace(-80, 10, 901, dtype=torch.float64)
    reduction = gain_reduction_db(level, -30.0, 4.0, 10.0)
    out = level - reduction
    below, above = level < -35, level > -25
    assert reduction[below].abs().max() == 0  # unity below the knee
    slope = torch.diff(out[above]) / torch.diff(level[above])
    assert (slope - 0.25).abs().max() < 1e-9  # 1/ratio above the knee
    assert torch.diff(reduction).min() >= 0 and torch.diff(reduction, 2).min() > -1e-9  # smooth, convex knee
    hard = gain_reduction_db(level, -30.0, 4.0, 0.0)
    assert torch.equal(hard, torch.where(level > -30, (level + 30) * 0.75, torch.zeros_like(level)))


# --------------------------------------------------------------------------------------- modules
def test_eq_gain_at_the_centre_frequency_from_a_sine():
    sample_rate = 44100
    eq = ParametricEQ(sample_rate, 1, bands=["peaking"])
    set_parameters(eq.controller, [7.5, 1000.0, 2.0])  # gain dB, centre Hz, Q
    knob = torch.rand(1, 1)
    response = biquad_response(eq.coefficients(knob)[0, 0], torch.tensor([1000.0]), sample_rate)
    assert abs(20 * response.abs().log10().item() - 7.5) < 1e-4  # analytic
    t = torch.arange(sample_rate) / sample_rate
    x = torch.sin(2 * math.pi * 1000 * t)[None, None]
    with torch.no_grad():
        y = eq(x, knob)
    steady = slice(sample_rate // 2, None)  # after the transient
    measured = 20 * math.log10(y[..., steady].abs().max().item() / x[..., steady].abs().max().item())
    assert abs(measured - 7.5) < 0.1


def test_eq_every_band_kind_streams_exactly():
    torch.manual_seed(0)
    eq = ParametricEQ(8000, 2, bands=["highpass", "low_shelf", "peaking", "high_shelf", "lowpass"]).eval()
    x, knobs = torch.randn(2, 1, 8000) * 0.3, torch.rand(2, 2)
    with torch.no_grad():
        offline = eq(x, knobs)
        streamed, state = stream(eq, x, knobs, [1, 2, 5000, 63, 2934])
    assert (streamed - offline).abs().max() < 1e-5
    assert [tuple(s.shape) for s in state] == [(2, 5, 2)]


def test_compressor_static_curve_on_steady_sines():
    sample_rate, threshold, ratio = 44100, -20.0, 4.0
    model = Compressor(sample_rate, 1)
    # threshold, ratio, knee (nearly hard), attack 0.5 ms, release 500 ms, no make-up
    set_parameters(model.controller, [threshold, ratio, 1e-3, 0.5, 500.0, 0.0])
    t = torch.arange(sample_rate) / sample_rate
    levels = torch.tensor([-40.0, -30.0, -10.0, 0.0])  # sine peaks in dBFS
    x = (10 ** (levels / 20))[:, None, None] * torch.sin(2 * math.pi * 441 * t)  # (4, 1, T)
    with torch.no_grad():
        y = model(x, torch.zeros(4, 1))
    steady = slice(sample_rate // 2, None)
    out = 20 * torch.log10(y[..., steady].abs().amax(-1)[:, 0])
    assert (out[:2] - levels[:2]).abs().max() < 0.01  # below the threshold: unity
    expected = threshold + (levels[2:] - threshold) / ratio
    assert (out[2:] - expected).abs().max() < 0.1  # above: -17.5 and -15 dBFS
    slope = (out[3] - out[2]) / (levels[3] - levels[2])
    assert abs(slope - 1 / ratio) < 0.01


@pytest.mark.parametrize("make", [
    lambda: Compressor(8000, 2),
    lambda: ParametricEQ(8000, 2, bands=["highpass", "low_shelf", "peaking", "high_shelf", "lowpass"]),
    lambda: graybox_compressor(8000, 2),
])
def test_traced_step_equals_eager_on_other_inputs(make):
    # exporters trace step(): attack/release decisions must stay data-dependent, and the traced
    # graph's filters (standard ops instead of torchaudio's loop) must match the eager ones
    torch.manual_seed(0)
    model = make().eval()

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, knobs, *state):
            y, state = self.model.step(x, knobs, list(state))
            return (y, *state)

    knobs = torch.rand(1, 2)
    with torch.no_grad():
        traced = torch.jit.trace(Step(), (torch.randn(1, 1, 64), knobs, *model.init_state(1)), check_trace=False)
        x = torch.randn(1, 1, 64 * 6) * torch.linspace(0.01, 2, 64 * 6)
        state, state_traced = model.init_state(1), model.init_state(1)
        for i in range(6):
            block = x[..., i * 64 : (i + 1) * 64]
            y, state = model.step(block, knobs, state)
            y_traced, *state_traced = traced(block, knobs, *state_traced)
            assert (y - y_traced).abs().max() < 1e-5
    assert all((s - t).abs().max() < 1e-5 for s, t in zip(state, state_traced))


def test_waveshaper_is_monotonic_without_polynomial():
    torch.manual_seed(0)
    shaper = Waveshaper(8000, 2)
    x = torch.linspace(-2, 2, 4001)[None, None].expand(8, 1, -1)
    with torch.no_grad():
        y = shaper(x, torch.rand(8, 2))
    assert torch.diff(y, dim=-1).min() >= 0
    assert y[..., 2000].abs().max() < 1e-6  # silence stays silent


def test_waveshaper_is_odd_when_symmetric():
    torch.manual_seed(0)
    shaper = Waveshaper(8000, 2, symmetric=True, polynomial_degree=5)
    with torch.no_grad():
        shaper.polynomial.copy_(torch.tensor([0.3, -0.2]))  # the powers 3 and 5 only
        x, knobs = torch.randn(4, 1, 500), torch.rand(4, 2)
        assert (shaper(-x, knobs) + shaper(x, knobs)).abs().max() < 1e-6
    assert shaper.powers.tolist() == [3.0, 5.0]


def test_chain_fields_state_and_latency():
    chain = Chain(8000, 2, [Waveshaper(8000, 2), TCN(8000, 2, num_blocks=2, kernel_size=3, dilation_growth=2)])
    assert chain.receptive_field == 1 + 2 + 4 and chain.latency == 0
    assert graybox_compressor(8000, 2).receptive_field is None
    torch.manual_seed(0)
    model = Chain(8000, 2, [ParametricEQ(8000, 2), Compressor(8000, 2), chain]).eval()
    x, knobs = torch.randn(2, 1, 3000) * 0.5, torch.rand(2, 2)
    shapes = []
    with torch.no_grad():
        offline = model(x, knobs)
        for sizes in ([3000], [1, 1, 2998], [1000, 7, 1993]):
            streamed, state = stream(model, x, knobs, sizes)
            assert (streamed - offline).abs().max() < 1e-5
            assert all(isinstance(s, torch.Tensor) for s in state)  # flat: no ints, no nesting
            shapes.append([tuple(s.shape) for s in state])
    assert shapes[0] == shapes[1] == shapes[2] == [tuple(s.shape) for s in model.init_state(2)]


@pytest.mark.parametrize("preset", [graybox_compressor, graybox_distortion])
def test_presets_stream_exactly(preset):
    torch.manual_seed(0)
    model = preset(44100, 3).eval()
    x, knobs = torch.randn(2, 1, 6000) * 0.3, torch.rand(2, 3)
    with torch.no_grad():
        streamed, _ = stream(model, x, knobs, [1, 127, 4096, 1776])
        assert (streamed - model(x, knobs)).abs().max() < 1e-5


def test_chain_from_a_hydra_config():
    import hydra
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"sample_rate": 8000, "model": {
        "_target_": "audiokit.models.effects.graybox.Chain", "sample_rate": "${sample_rate}", "num_knobs": 2,
        "effects": [{"_target_": "audiokit.models.effects.graybox.ParametricEQ", "sample_rate": "${sample_rate}",
                     "num_knobs": "${model.num_knobs}", "bands": ["low_shelf", "high_shelf"]},
                    {"_target_": "audiokit.models.effects.graybox.Waveshaper", "sample_rate": "${sample_rate}",
                     "num_knobs": "${model.num_knobs}"}]}})
    model = hydra.utils.instantiate(cfg.model)
    assert [type(e).__name__ for e in model.effects] == ["ParametricEQ", "Waveshaper"]
    assert model(torch.randn(1, 1, 100), torch.rand(1, 2)).shape == (1, 1, 100)


@pytest.mark.parametrize("effect", ["compressor", "distortion"])
def test_graybox_configs_build_with_a_warmup(effect):
    from audiokit.train.builder import build_task, compose_config

    task, _ = build_task(compose_config(FX_RECIPES / effect / "conf" / "graybox_tiny.yaml"))
    cfg = compose_config(FX_RECIPES / effect / "conf" / "graybox_tiny.yaml")
    assert isinstance(task.model, Chain) and task.model.receptive_field is None
    assert 0 < task.warmup < cfg.data.train.segment_seconds * cfg.sample_rate / 2
    assert task.model.num_knobs == {"compressor": 4, "distortion": 2}[effect]


@pytest.mark.parametrize("make, match", [
    (lambda: ParametricEQ(8000, 2, bands=["notch"]), "bands"),
    (lambda: ParametricEQ(8000, 2, bands=[]), "bands"),
    (lambda: ParametricEQ(8000, 2, max_freq_hz=4000.0), "max_freq_hz"),
    (lambda: ParametricEQ(8000, 2, q_range=(2.0, 1.0)), "q_range"),
    (lambda: ParametricEQ(8000, 2, max_gain_db=0.0), "max_gain_db"),
    (lambda: ParametricEQ(8000, 0), "num_knobs"),
    (lambda: Compressor(8000, 2, ratio_range=(0.5, 4.0)), "ratio_range"),
    (lambda: Compressor(8000, 2, attack_ms_range=(0.0, 10.0)), "attack_ms_range"),
    (lambda: Compressor(8000, 2, knee_db_range=(-1.0, 6.0)), "knee_db_range"),
    (lambda: Compressor(8000, 2, threshold_db_range=(0.0,)), "threshold_db_range"),
    (lambda: Waveshaper(8000, 2, polynomial_degree=-1), "polynomial_degree"),
    (lambda: Waveshaper(8000, 2, pre_gain_db_range=(10.0, -10.0)), "pre_gain_db_range"),
    (lambda: Chain(8000, 2, []), "effects"),
    (lambda: Chain(8000, 2, [Waveshaper(8000, 2), Waveshaper(8000, 3)]), r"effects\[1\]"),
    (lambda: Chain(8000, 2, [Waveshaper(16000, 2)]), r"effects\[0\]"),
    (lambda: biquad_coefficients("notch", 0.0, 100.0, 1.0, 8000), "kind"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
