"""Separation models: length contracts, additivity, rescaling, causality, overfitting, parity of sizes."""
from __future__ import annotations

import math

import pytest
import torch

from audiokit.models.separation import (
    Demucs,
    WaveUNet,
    demucs_paper,
    demucs_tiny,
    wave_unet_paper,
    wave_unet_tiny,
)
from audiokit.models.separation.wave_unet import center_crop


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def toy_batch(batch: int, length: int, sample_rate: int = 8000, seed: int = 0):
    """Two sources with disjoint spectra: a few sines below 300 Hz and a few above 2 kHz.
    Returns mix ``(B, 1, T)`` and stems ``(B, 2, 1, T)``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / sample_rate

    def tones(low, high):
        freqs = low + (high - low) * torch.rand(batch, 3, 1, generator=g)
        phases = 2 * math.pi * torch.rand(batch, 3, 1, generator=g)
        return 0.2 * torch.sin(2 * math.pi * freqs * t + phases).sum(1, keepdim=True)  # (B, 1, T)

    stems = torch.stack([tones(60, 300), tones(2000, 3500)], dim=1)  # (B, 2, 1, T)
    return stems.sum(1), stems


def overfit(model, mix, target, steps=200, lr=5e-3):
    """Adam on one batch with an L1 loss; returns (initial loss, lowest loss)."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first, best = None, float("inf")
    for _ in range(steps):
        loss = (model(mix) - target).abs().mean()
        first = loss.item() if first is None else first
        best = min(best, loss.item())
        if best < 0.2 * first:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return first, best


# ------------------------------------------------------------------------------------------ Demucs
@pytest.mark.parametrize("length, valid", [(1, 148), (148, 148), (149, 212), (1000, 1044)])
def test_demucs_valid_length_and_any_length(length, valid):
    torch.manual_seed(0)
    model = demucs_tiny().eval()
    # valid lengths of depth 3, kernel 8, stride 4 are 64 n + 84 (n >= 1)
    assert model.valid_length(length) == valid
    assert (valid - 84) % 64 == 0 and valid - 64 < max(length, 148)
    mix = torch.randn(2, 1, length)
    with torch.no_grad():
        stems = model(mix)
        padded = model(torch.nn.functional.pad(mix, (0, valid - length)))
    assert stems.shape == (2, 2, 1, length)
    # forward pads with zeros to the valid length itself: same result as padding outside
    assert torch.allclose(stems, padded[..., :length], atol=1e-6)


def test_demucs_causal_valid_length_is_a_multiple_of_the_deepest_block():
    model = demucs_tiny(causal=True)
    assert [model.valid_length(t) for t in (1, 64, 65, 1000)] == [64, 64, 128, 1024]
    assert model.latency == 4 ** 3 - 1
    assert Demucs(["a"], channels=4, depth=2, resample=False).latency == 0


def test_demucs_weight_rescaling_follows_the_rule():
    torch.manual_seed(3)
    plain = Demucs(["a", "b"], audio_channels=1, channels=8, depth=3, lstm_layers=1, rescale=0, resample=False)
    torch.manual_seed(3)
    scaled = Demucs(["a", "b"], audio_channels=1, channels=8, depth=3, lstm_layers=1, rescale=0.1,
                    resample=False)
    convs = 0
    for (name, p0), (_, p1) in zip(plain.named_modules(), scaled.named_modules()):
        if isinstance(p0, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            std0 = p0.weight.std().item()
            # std s -> sqrt(s * reference), weights and bias divided by the same factor
            assert p1.weight.std().item() == pytest.approx(math.sqrt(std0 * 0.1), rel=1e-5), name
            factor = math.sqrt(std0 / 0.1)
            assert torch.allclose(p1.bias * factor, p0.bias, rtol=1e-5, atol=1e-7), name
            convs += 1
    assert convs == 12  # 3 x (encoder conv + rewrite + context conv + transposed conv)
    # the LSTM is left alone
    assert torch.equal(plain.lstm.lstm.weight_ih_l0, scaled.lstm.lstm.weight_ih_l0)


def test_causal_demucs_has_no_gradient_beyond_latency():
    torch.manual_seed(0)
    model = demucs_tiny(causal=True)
    latency = model.latency  # 63
    mix = torch.randn(1, 1, 320, requires_grad=True)
    for t in (0, 64, 100, 191):
        (grad,) = torch.autograd.grad(model(mix)[..., t].sum(), mix)
        assert torch.count_nonzero(grad[..., t + latency + 1 :]) == 0, t
        assert grad[..., : t + 1].abs().sum() > 0, t
    # tight: at the start of a deepest block the output reads the block's last sample
    (grad,) = torch.autograd.grad(model(mix)[..., 128].sum(), mix)
    assert grad[..., 128 + latency].abs() > 0


def test_causal_demucs_prefix_equals_full_run():
    torch.manual_seed(0)
    model = demucs_tiny(causal=True).eval()
    mix = torch.randn(2, 1, 500)
    with torch.no_grad():
        full = model(mix)
        for n in (37, 200):
            part = model(mix[..., : n + model.latency])
            assert (part[..., :n] - full[..., :n]).abs().max() < 1e-5


def test_noncausal_demucs_looks_beyond_the_causal_latency():
    torch.manual_seed(0)
    model = demucs_tiny(causal=False)
    mix = torch.randn(1, 1, 340, requires_grad=True)
    (grad,) = torch.autograd.grad(model(mix)[..., 10].sum(), mix)
    assert grad[..., 10 + 64 :].abs().sum() > 0


def test_demucs_normalize_is_gain_equivariant_and_keeps_the_mean():
    torch.manual_seed(0)
    model = Demucs(["a", "b"], audio_channels=2, channels=8, depth=2, lstm_layers=1, resample=False,
                   normalize=True).eval()
    mix = torch.randn(2, 2, 300) + 0.5
    with torch.no_grad():
        y = model(mix)
        y_scaled = model(3.0 * mix)
    assert torch.allclose(y_scaled, 3.0 * y, atol=1e-4)


def test_demucs_resample_path_runs_at_any_length():
    torch.manual_seed(0)
    model = Demucs(["a", "b"], audio_channels=2, channels=4, depth=2, lstm_layers=1, resample=True).eval()
    # network valid lengths 16 n + 20; the mixture's are half of those for 2 T
    assert model.valid_length(100) == 106 and model.valid_length(1) == 18
    with torch.no_grad():
        assert model(torch.randn(1, 2, 101)).shape == (1, 2, 2, 101)


# -------------------------------------------------------------------------------------- Wave-U-Net
def test_wave_unet_paper_lengths():
    model = wave_unet_paper()
    # the paper's M4: 147443 input samples -> 16389 output samples
    assert model.valid_length(16389) == 147443
    assert model.output_length(147443) == 16389
    assert model.output_offset == (147443 - 16389) // 2 == 65527
    assert model.valid_length(16390) == 147443 + 4096


@pytest.mark.parametrize("length", [1, 100, 1000])
def test_wave_unet_lengths_and_additivity(length):
    torch.manual_seed(0)
    model = wave_unet_tiny(sources=("a", "b", "c"), audio_channels=2).eval()
    valid = model.valid_length(length)
    out = model.output_length(valid)
    assert out >= length and (out - 16 < length or out == model.output_length(model.valid_length(1)))
    assert valid - out == 2 * model.output_offset
    mix = torch.randn(2, 2, valid)
    with torch.no_grad():
        stems = model(mix)
    assert stems.shape == (2, 3, 2, out)
    assert (stems.sum(1) - center_crop(mix, out)).abs().max() < 1e-5
    # the stems are not a trivial split: the predicted ones are nonzero
    assert stems[:, 0].abs().mean() > 1e-4


def test_wave_unet_forward_aligned_sums_to_the_mixture():
    torch.manual_seed(0)
    model = wave_unet_tiny(audio_channels=2, sources=("a", "b")).eval()
    mix = torch.randn(1, 2, 777)
    with torch.no_grad():
        stems = model.forward_aligned(mix)
    assert stems.shape == (1, 2, 2, 777)
    assert (stems.sum(1) - mix).abs().max() < 1e-5


def test_wave_unet_rejects_invalid_length():
    model = wave_unet_tiny()
    with pytest.raises(ValueError, match="valid_length"):
        model(torch.randn(1, 1, model.valid_length(100) + 1))


def test_wave_unet_learned_upsampling_starts_linear():
    torch.manual_seed(0)
    linear = wave_unet_tiny()
    torch.manual_seed(0)
    learned = WaveUNet(["bass", "treble"], audio_channels=1, sample_rate=8000, num_layers=4, extra_filters=8,
                       learned_upsampling=True)
    learned.load_state_dict(linear.state_dict(), strict=False)
    assert num_params(learned) - num_params(linear) == sum(8 * (i + 1) for i in range(1, 5))
    mix = torch.randn(1, 1, linear.valid_length(50))
    with torch.no_grad():
        assert torch.allclose(learned(mix), linear(mix), atol=1e-6)


# ------------------------------------------------------------------------------------------- shared
def test_demucs_overfits_one_batch():
    torch.manual_seed(0)
    model = demucs_tiny()
    mix, stems = toy_batch(4, 1044)
    first, best = overfit(model, mix, stems)
    assert best < 0.2 * first, (first, best)


def test_wave_unet_overfits_one_batch():
    torch.manual_seed(0)
    model = wave_unet_tiny()
    length = model.valid_length(600)
    mix, stems = toy_batch(4, length)
    target = center_crop(stems, model.output_length(length))
    first, best = overfit(model, mix, target)
    assert best < 0.2 * first, (first, best)


@pytest.mark.parametrize("factory, length", [(demucs_tiny, 300), (wave_unet_tiny, 499)])
def test_eval_is_deterministic_and_batch_independent(factory, length):
    torch.manual_seed(0)
    model = factory().eval()
    mix = torch.randn(3, 1, length)
    with torch.no_grad():
        a, b = model(mix), model(mix)
        single = model(mix[1:2])
    assert torch.equal(a, b)
    assert (single[0] - a[1]).abs().max() < 1e-5


@pytest.mark.parametrize("factory, kwargs, name", [
    (Demucs, {"sources": []}, "sources"),
    (Demucs, {"sources": ["a", "a"]}, "sources"),
    (Demucs, {"sources": ["a"], "channels": 0}, "channels"),
    (Demucs, {"sources": ["a"], "depth": -1}, "depth"),
    (Demucs, {"sources": ["a"], "kernel_size": 2}, "kernel_size"),
    (Demucs, {"sources": ["a"], "growth": 0.5}, "growth"),
    (Demucs, {"sources": ["a"], "context": 2}, "context"),
    (Demucs, {"sources": ["a"], "lstm_layers": -1}, "lstm_layers"),
    (Demucs, {"sources": ["a"], "rescale": -0.1}, "rescale"),
    (Demucs, {"sources": ["a"], "causal": True, "resample": True}, "resample"),
    (WaveUNet, {"sources": ["a"]}, "sources"),
    (WaveUNet, {"sources": ["a", "b"], "num_layers": 0}, "num_layers"),
    (WaveUNet, {"sources": ["a", "b"], "extra_filters": 2.5}, "extra_filters"),
    (WaveUNet, {"sources": ["a", "b"], "down_kernel_size": 14}, "down_kernel_size"),
    (WaveUNet, {"sources": ["a", "b"], "up_kernel_size": 0}, "up_kernel_size"),
])
def test_bad_constructor_arguments_name_the_argument(factory, kwargs, name):
    with pytest.raises(ValueError, match=name):
        factory(**kwargs)


@pytest.mark.parametrize("model", [demucs_tiny(), wave_unet_tiny()])
def test_bad_input_shape_is_rejected(model):
    with pytest.raises(ValueError, match=r"\(batch, 1, time\)"):
        model(torch.randn(1, 2, 600))
    with pytest.raises(ValueError, match=r"\(batch, 1, time\)"):
        model(torch.randn(600))


# ------------------------------------------------------------------------------------ paper sizes
# Demucs v2 with 48 / 64 / 100 initial channels (4 stereo sources). 64 channels: 265.68 M parameters,
# 1013.5 MiB in float32 (the paper's 1014 MB); counts checked against demucs 4.1.0's Demucs with the
# same hyperparameters (dconv_mode=0, no group norm, ReLU, lstm_layers=2, context=1 = kernel 3).
DEMUCS_PARAMS = {48: 149_462_504, 64: 265_679_496, 100: 648_548_208}


@pytest.mark.parametrize("channels", [48, 64])
def test_demucs_paper_parameter_count(channels):
    model = demucs_paper(channels=channels)
    assert num_params(model) == DEMUCS_PARAMS[channels]


def test_demucs_parameter_count_matches_reference_package():
    reference = pytest.importorskip("demucs.demucs")
    kwargs = dict(channels=16, depth=4, lstm_layers=2)
    ref = reference.Demucs(["drums", "bass", "other", "vocals"], audio_channels=2, context=1, gelu=False,
                           dconv_mode=0, norm_starts=100, **kwargs)
    ours = Demucs(["drums", "bass", "other", "vocals"], audio_channels=2, context=3, **kwargs)
    assert num_params(ours) == num_params(ref)
    assert [ours.valid_length(t) for t in (1, 1000, 44100)] == [ref.valid_length(t) for t in (1, 1000, 44100)]


def test_wave_unet_paper_parameter_count():
    # M4: 12 blocks of 24 * i filters, stereo in/out: 10.26 M parameters (the paper gives no count)
    with torch.device("meta"):
        assert num_params(wave_unet_paper()) == 10_263_390


def test_demucs_forward_matches_reference_package_with_shared_weights():
    reference = pytest.importorskip("demucs.demucs")
    torch.manual_seed(0)
    kwargs = dict(channels=8, depth=3, lstm_layers=2)
    ref = reference.Demucs(["a", "b"], audio_channels=2, context=1, gelu=False, dconv_mode=0, norm_starts=100,
                           normalize=False, resample=False, **kwargs).eval()
    ours = Demucs(["a", "b"], audio_channels=2, context=3, resample=False, **kwargs).eval()
    # their Sequential indices -> our named layers: encoder 0 conv, 3 rewrite; decoder 0 context, 3 conv_tr
    names = {"encoder": {"0": "conv", "3": "rewrite"}, "decoder": {"0": "context", "3": "conv_tr"}}
    state = {}
    for key, value in ref.state_dict().items():
        part, layer, index, rest = (key.split(".", 3) + [""] * 3)[:4]
        state[f"{part}.{layer}.{names[part][index]}.{rest}" if part in names else key] = value
    ours.load_state_dict(state)
    mix = torch.randn(2, 2, ours.valid_length(1000))
    with torch.no_grad():
        assert (ours(mix) - ref(mix)).abs().max() < 1e-6
