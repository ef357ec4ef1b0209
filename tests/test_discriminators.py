"""GAN discriminators: MPD folding and column independence, documented output shapes and feature counts,
gradients to the input, phase sensitivity of the STFT discriminator, multichannel input, the combined
discriminator and its config builder, bad arguments, and the documented parameter counts."""
from __future__ import annotations

import pytest
import torch

from audiokit.audio import Spectrogram
from audiokit.nn.discriminators import (
    CombinedDiscriminator,
    MultiBandMultiScaleSTFTDiscriminator,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    MultiScaleSTFTDiscriminator,
    fold_periods,
)

# Narrow versions of the default architectures: same layer structure, few channels, fast on CPU.
SMALL_MPD = {"periods": (2, 3, 5), "channels": (4, 8, 8, 8, 8)}
SMALL_MSD = {"channels": (8, 8, 16, 16, 16, 16, 16), "groups": (1, 4, 8, 8, 8, 8, 1)}
SMALL_STFT = {"n_ffts": (256, 128, 64), "filters": 8}
SMALL_MRD = {"n_ffts": (256, 128), "filters": 8}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def small(kind: str, **kwargs):
    cls, base = {"mpd": (MultiPeriodDiscriminator, SMALL_MPD), "msd": (MultiScaleDiscriminator, SMALL_MSD),
                 "msstftd": (MultiScaleSTFTDiscriminator, SMALL_STFT),
                 "mrd": (MultiBandMultiScaleSTFTDiscriminator, SMALL_MRD)}[kind]
    torch.manual_seed(0)
    return cls(**{**base, **kwargs})


# ------------------------------------------------------------------------------------------------ MPD
def test_fold_periods_puts_samples_p_apart_in_one_column():
    x = torch.arange(12.0).reshape(1, 1, 12)
    folded = fold_periods(x, 3)
    assert folded.shape == (1, 1, 4, 3)
    for column in range(3):
        assert folded[0, 0, :, column].tolist() == list(range(column, 12, 3))
    # T = 7, P = 3: reflect-padded with t5, t4, so the last row is t6 t5 t4.
    folded = fold_periods(torch.arange(7.0).reshape(1, 1, 7), 3)
    assert folded[0, 0].tolist() == [[0, 1, 2], [3, 4, 5], [6, 5, 4]]


def test_period_discriminator_judges_each_column_on_its_own_samples():
    # All kernels are (k, 1): column j of every feature map and of the logits depends on the samples
    # t = j (mod P) and on no other. T = 600 is a multiple of both periods, so no reflect padding mixes them.
    mpd = small("mpd", periods=(3, 5))
    x = torch.randn(1, 1, 600, requires_grad=True)
    logits, features = mpd(x)
    residue = torch.arange(600) % torch.tensor([[3], [5]])  # (2, T): t mod P per period
    for k, period in enumerate((3, 5)):
        assert logits[k].shape[-1] == period
        for output in (logits[k], features[k][0], features[k][-1]):
            for column in range(period):
                (grad,) = torch.autograd.grad(output[..., column].sum(), x, retain_graph=True)
                grad = grad[0, 0]
                assert grad[residue[k] != column].abs().max() == 0.0
                assert grad[residue[k] == column].abs().min() > 0.0
    # The same seen from the input: nudging one sample moves only its own column of the logits.
    nudged = x.detach().clone()
    nudged[..., 101] += 1.0  # column 101 % 3 = 2, 101 % 5 = 1
    for period, logit, logit_nudged in zip((3, 5), logits, mpd(nudged).logits):
        others = [c for c in range(period) if c != 101 % period]
        torch.testing.assert_close(logit[..., others].detach(), logit_nudged[..., others], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("length", [1000, 1537])
def test_output_shapes_and_feature_counts_match_the_docstrings(length):
    x = torch.randn(2, 1, length)

    mpd = small("mpd")
    logits, features = mpd(x)
    assert len(logits) == len(features) == mpd.num_discriminators == 3
    for period, logit, feats in zip(SMALL_MPD["periods"], logits, features):
        assert logit.shape == (2, 1, ceil_div(length, period * 3**4), period)
        assert len(feats) == 5
        rows = ceil_div(length, period)
        for i, feat in enumerate(feats):
            assert feat.shape == (2, SMALL_MPD["channels"][i], ceil_div(rows, 3 ** min(i + 1, 4)), period)

    msd = small("msd")
    logits, features = msd(x)
    assert len(logits) == len(features) == 3
    samples = length
    for k, (logit, feats) in enumerate(zip(logits, features)):
        if k > 0:
            samples = samples // 2 + 1  # AvgPool1d(4, 2, padding=2)
        assert logit.shape == (2, 1, ceil_div(samples, 64))
        assert [f.shape[1] for f in feats] == list(SMALL_MSD["channels"])

    stft = small("msstftd")
    logits, features = stft(x)
    assert len(logits) == len(features) == 3
    for n_fft, logit, feats in zip(SMALL_STFT["n_ffts"], logits, features):
        frames, bins = 1 + length // (n_fft // 4), n_fft // 2 + 1
        assert logit.shape == (2, 1, frames, ceil_div(bins, 8))
        assert [tuple(f.shape) for f in feats] == [
            (2, 8, frames, bins), (2, 8, frames, ceil_div(bins, 2)), (2, 8, frames, ceil_div(bins, 4)),
            (2, 8, frames, ceil_div(bins, 8)), (2, 8, frames, ceil_div(bins, 8))]

    mrd = small("mrd")
    logits, features = mrd(x)
    assert len(logits) == len(features) == 2
    for n_fft, logit, feats in zip(SMALL_MRD["n_ffts"], logits, features):
        frames, bins = 1 + length // (n_fft // 4), n_fft // 2 + 1
        edges = [int(f * bins) for f in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)]  # DAC's bands
        widths = [hi - lo for lo, hi in zip(edges, edges[1:])]
        assert logit.shape == (2, 1, frames, sum(ceil_div(w, 8) for w in widths))
        assert len(feats) == 5 * 5
        assert [f.shape[-1] for f in feats[::5]] == widths  # each band's first layer sees only its bins


@pytest.mark.parametrize("kind", ["mpd", "msd", "msstftd", "mrd"])
def test_every_sub_discriminator_passes_gradient_to_the_input(kind):
    disc = small(kind)
    x = torch.randn(2, 1, 1200, requires_grad=True)
    logits, features = disc(x)
    for k, logit in enumerate(logits):
        (grad,) = torch.autograd.grad(logit.square().mean() + features[k][-1].mean(), x, retain_graph=True)
        assert torch.isfinite(grad).all()
        assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0, f"sub-discriminator {k} gives no gradient"


# ------------------------------------------------------------------------------------------------ STFT phase
@pytest.mark.parametrize("kind", ["msstftd", "mrd"])
def test_stft_discriminators_see_phase_not_only_magnitude(kind):
    # -x has exactly the magnitude spectrogram of x (every bin's phase shifted by pi): a magnitude-only
    # discriminator could not tell them apart, the complex one does.
    disc = small(kind).eval()
    x = torch.randn(1, 1, 2048)
    for n_fft in disc.n_ffts:
        magnitude = Spectrogram(n_fft=n_fft, hop_length=n_fft // 4, power=1.0)
        torch.testing.assert_close(magnitude(x), magnitude(-x), rtol=0, atol=0)
    for logit, logit_flipped in zip(disc(x).logits, disc(-x).logits):
        assert (logit - logit_flipped).abs().max() > 1e-2 * logit.abs().max()


# ------------------------------------------------------------------------------------------------ multichannel
@pytest.mark.parametrize("kind", ["mpd", "msd", "msstftd", "mrd"])
def test_sixteen_channel_ambisonics_are_judged_jointly(kind):
    disc = small(kind, in_channels=16)
    x = torch.randn(2, 16, 900, requires_grad=True)
    logits, features = disc(x)
    mono = small(kind)(torch.randn(2, 1, 900))
    assert [tuple(t.shape) for t in logits] == [tuple(t.shape) for t in mono.logits]
    assert [len(f) for f in features] == [len(f) for f in mono.features]
    (grad,) = torch.autograd.grad(sum(t.sum() for t in logits), x)
    assert (grad.abs().sum(dim=(0, 2)) > 0).all(), "some channel does not reach the logits"


# ------------------------------------------------------------------------------------------------ combined
def test_combined_discriminator_concatenates_its_members_and_builds_from_config():
    torch.manual_seed(0)
    combined = CombinedDiscriminator.from_config({"mpd": SMALL_MPD, "msstftd": SMALL_STFT})
    assert combined.num_discriminators == 6
    assert [type(m) for m in combined.members] == [MultiPeriodDiscriminator, MultiScaleSTFTDiscriminator]
    combined.eval()
    x = torch.randn(2, 1, 1000)
    logits, features = combined(x)
    expected_logits, expected_features = [], []
    for member in combined.members:
        out = member(x)
        expected_logits += out.logits
        expected_features += out.features
    assert len(logits) == len(features) == 6
    for a, b in zip(logits, expected_logits):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [len(f) for f in features] == [len(f) for f in expected_features] == [5, 5, 5, 5, 5, 5]
    defaults = CombinedDiscriminator.from_config({"msstftd": None})
    assert defaults.members[0].n_ffts == (2048, 1024, 512, 256, 128)


def test_combined_discriminator_rejects_bad_configs():
    with pytest.raises(ValueError, match=r"unknown discriminators \['hifi'\].*"
                                         r"available: \['mpd', 'mrd', 'msd', 'msstftd'\]"):
        CombinedDiscriminator.from_config({"hifi": {}})
    with pytest.raises(ValueError, match="non-empty mapping"):
        CombinedDiscriminator.from_config({})
    with pytest.raises(ValueError, match=r"same in_channels, got \[1, 2\]"):
        CombinedDiscriminator(small("mpd"), small("msstftd", in_channels=2))
    with pytest.raises(TypeError, match="must be an audiokit Discriminator"):
        CombinedDiscriminator(torch.nn.Conv1d(1, 1, 3))


# ------------------------------------------------------------------------------------------------ errors
def test_bad_inputs_and_arguments_get_clear_errors():
    mpd = small("mpd")
    with pytest.raises(ValueError, match=r"expected float audio \(batch, 1, time\), got shape \(2, 2, 100\)"):
        mpd(torch.randn(2, 2, 100))
    with pytest.raises(ValueError, match=r"got shape \(2, 100\)"):
        small("msstftd")(torch.randn(2, 100))
    with pytest.raises(ValueError, match="at least 5 samples"):
        mpd(torch.randn(1, 1, 4))
    with pytest.raises(ValueError, match="norm must be one of"):
        MultiPeriodDiscriminator(norm="batch_norm")
    with pytest.raises(ValueError, match="first_norm must be one of"):
        MultiScaleDiscriminator(first_norm="spectral")
    with pytest.raises(ValueError, match=r"groups\[1\]=4 must divide.*got 6 -> 8"):
        MultiScaleDiscriminator(channels=(6, 8, 16, 16, 16, 16, 16))
    with pytest.raises(ValueError, match="strides must have 7 items"):
        MultiScaleDiscriminator(strides=(1, 2, 2))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        MultiPeriodDiscriminator(kernel_size=4)
    with pytest.raises(ValueError, match="periods must be a non-empty sequence of positive integers"):
        MultiPeriodDiscriminator(periods=(2, 0))
    with pytest.raises(ValueError, match="hop_lengths must have 2 items"):
        MultiScaleSTFTDiscriminator(n_ffts=(256, 128), hop_lengths=(64,))
    with pytest.raises(ValueError, match=r"band \(0.0, 0.1\) holds no frequency bin at n_fft=8 \(5 bins\)"):
        MultiBandMultiScaleSTFTDiscriminator(n_ffts=(8,))
    with pytest.raises(ValueError, match=r"each band must be \(lo, hi\) with 0 <= lo < hi <= 1"):
        MultiBandMultiScaleSTFTDiscriminator(bands=((0.5, 0.2),))


# ------------------------------------------------------------------------------------------------ sizes
def test_default_parameter_counts_are_the_documented_ones():
    def count(module: torch.nn.Module) -> tuple[int, int]:
        """(all trainable parameters, weight-norm gains among them: the parametrisation's ``original0``)."""
        named = list(module.named_parameters())
        return sum(p.numel() for _, p in named), sum(p.numel() for n, p in named if n.endswith("original0"))

    assert count(MultiPeriodDiscriminator()) == (41_105_770, 13_605)  # 41,092,165 without weight norm
    assert count(MultiScaleDiscriminator()) == (29_618_821, 2 * 4_097)  # 29,610,627
    assert count(MultiScaleSTFTDiscriminator()) == (472_490, 5 * 161)  # 471,685
    assert count(MultiBandMultiScaleSTFTDiscriminator()) == (1_413_990, 3 * 801)  # 1,411,587; + MPD: DAC's 42.5 M
