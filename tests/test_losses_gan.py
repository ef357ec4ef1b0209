"""GAN losses: hinge / least-squares values computed by hand, feature matching by hand (absolute and relative),
the multi-resolution mel loss against librosa, and CodecLoss as the weighted sum of its parts."""
from __future__ import annotations

import auraloss
import librosa
import numpy as np
import pytest
import torch

from audiokit.losses import (
    CodecLoss,
    MultiResolutionMelLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from audiokit.nn.discriminators import MultiPeriodDiscriminator

SAMPLE_RATE = 16000


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# Two sub-discriminators: logits of 3 values and of 1 value.
REAL_LOGITS = [t([0.5, 2.0, -1.0]), t([[1.0]])]
FAKE_LOGITS = [t([-2.0, 0.0, 0.5]), t([[1.0]])]


def close(value: torch.Tensor, expected: float) -> None:
    assert abs(float(value) - expected) < 1e-12, (float(value), expected)


# ------------------------------------------------------------------------------------------------ adversarial
def test_hinge_losses_equal_the_hand_computed_values():
    # D1: relu(1 - real) = [0.5, 0, 2] -> 5/6; relu(1 + fake) = [0, 1, 1.5] -> 5/6. D2: 0 + relu(2) = 2.
    close(discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "hinge"), (5 / 3 + 2) / 2)
    close(discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "hinge", reduction="sum"), 5 / 3 + 2)
    # Generator: -mean(fake) = 0.5 and -1.
    close(generator_adversarial_loss(FAKE_LOGITS, "hinge"), (0.5 - 1.0) / 2)
    close(generator_adversarial_loss(FAKE_LOGITS, "hinge", reduction="sum"), -0.5)


def test_least_squares_losses_equal_the_hand_computed_values():
    # D1: (1 - real)^2 = [0.25, 1, 4] -> 5.25/3; fake^2 = [4, 0, 0.25] -> 4.25/3. D2: 0 + 1.
    close(discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "lsgan"), (9.5 / 3 + 1) / 2)
    close(discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "lsgan", reduction="sum"), 9.5 / 3 + 1)
    # Generator: (1 - fake)^2 = [9, 1, 0.25] -> 10.25/3; D2: 0.
    close(generator_adversarial_loss(FAKE_LOGITS, "lsgan"), 10.25 / 6)
    close(generator_adversarial_loss(FAKE_LOGITS, "lsgan", reduction="sum"), 10.25 / 3)


def test_a_perfect_discriminator_has_zero_hinge_loss_and_gradients_reach_the_generator():
    close(discriminator_loss([t([1.0, 3.0])], [t([-1.0, -2.0])], "hinge"), 0.0)
    close(discriminator_loss([t([1.0, 1.0])], [t([0.0, 0.0])], "lsgan"), 0.0)
    fake = t([0.2, -0.4]).requires_grad_()
    generator_adversarial_loss([fake], "lsgan").backward()
    # d/df mean((1 - f)^2) = -(1 - f)
    torch.testing.assert_close(fake.grad, t([-0.8, -1.4]))


def test_adversarial_losses_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"kind must be one of \('hinge', 'lsgan'\), got 'wgan'"):
        discriminator_loss(REAL_LOGITS, FAKE_LOGITS, "wgan")
    with pytest.raises(ValueError, match="kind must be one of"):
        generator_adversarial_loss(FAKE_LOGITS, "mse")
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum'\)"):
        generator_adversarial_loss(FAKE_LOGITS, reduction="none")
    with pytest.raises(ValueError, match="same sub-discriminators, got 2 and 1 tensors"):
        discriminator_loss(REAL_LOGITS, FAKE_LOGITS[:1])
    with pytest.raises(ValueError, match="fake_logits must be a non-empty list of tensors"):
        generator_adversarial_loss(FAKE_LOGITS[0])
    with pytest.raises(ValueError, match="real_logits must be a non-empty list"):
        discriminator_loss([], [])


# ------------------------------------------------------------------------------------------------ features
REAL_FEATURES = [[t([1.0, 2.0]), t([[1.0]])], [t([0.0, 0.0, 0.0, 4.0])]]
FAKE_FEATURES = [[t([0.0, 0.0]), t([[3.0]])], [t([1.0, 1.0, 1.0, 1.0])]]


def test_feature_matching_equals_the_hand_computed_mean_of_l1s():
    # D1: |[1, 2] - 0| -> 1.5, |1 - 3| -> 2, mean 1.75. D2: [1, 1, 1, 3] -> 1.5. Mean over D: 1.625.
    close(feature_matching_loss(REAL_FEATURES, FAKE_FEATURES), 1.625)
    close(feature_matching_loss(REAL_FEATURES, FAKE_FEATURES, reduction="sum"), 1.5 + 2.0 + 1.5)
    # Relative (EnCodec): divided by mean|real| = 1.5, 1 and 1: D1 (1 + 2) / 2, D2 1.5.
    close(feature_matching_loss(REAL_FEATURES, FAKE_FEATURES, relative=True), 1.5)
    close(feature_matching_loss(REAL_FEATURES, FAKE_FEATURES, relative=True, reduction="sum"), 4.5)


def test_feature_matching_is_zero_for_equal_features_and_only_trains_the_fake_side():
    copies = [[f.clone() for f in layers] for layers in REAL_FEATURES]
    close(feature_matching_loss(REAL_FEATURES, copies), 0.0)
    close(feature_matching_loss(REAL_FEATURES, copies, relative=True), 0.0)
    real = t([1.0, 2.0]).requires_grad_()
    fake = t([0.0, 3.0]).requires_grad_()
    feature_matching_loss([[real]], [[fake]]).backward()
    assert real.grad is None
    torch.testing.assert_close(fake.grad, t([-0.5, 0.5]))


def test_feature_matching_rejects_mismatched_features():
    with pytest.raises(ValueError, match="same sub-discriminators, got 2 and 1 lists"):
        feature_matching_loss(REAL_FEATURES, FAKE_FEATURES[:1])
    with pytest.raises(ValueError, match="sub-discriminator 0: 2 real and 1 fake feature maps"):
        feature_matching_loss(REAL_FEATURES, [FAKE_FEATURES[0][:1], FAKE_FEATURES[1]])
    with pytest.raises(ValueError, match=r"sub-discriminator 1, layer 0: real features of shape \(4,\) "
                                         r"but fake features of shape \(3,\)"):
        feature_matching_loss(REAL_FEATURES, [FAKE_FEATURES[0], [t([1.0, 1.0, 1.0])]])


# ------------------------------------------------------------------------------------------------ mel
@pytest.fixture(scope="module")
def signals() -> tuple[torch.Tensor, torch.Tensor]:
    """``(2, 1, 4096)`` target (noise + 440 Hz tone) and a noisier, quieter estimate, float64."""
    gen = torch.Generator().manual_seed(0)
    time = torch.arange(4096, dtype=torch.float64) / SAMPLE_RATE
    noise = torch.randn(2, 1, 4096, generator=gen, dtype=torch.float64)
    target = 0.1 * noise + 0.5 * torch.sin(2 * torch.pi * 440 * time)
    pred = 0.8 * target + 0.05 * torch.randn(2, 1, 4096, generator=gen, dtype=torch.float64)
    return pred, target


DAC_N_FFTS = (32, 64, 128, 256, 512, 1024, 2048)
DAC_N_MELS = (5, 10, 20, 40, 80, 160, 320)


def librosa_log_mel(y: np.ndarray, n_fft: int, n_mels: int, eps: float = 1e-5) -> np.ndarray:
    """DAC's log10 magnitude mel, computed by librosa."""
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=n_fft, hop_length=n_fft // 4, window="hann",
                                         center=True, pad_mode="reflect", power=1.0, n_mels=n_mels, dtype=np.float64)
    return np.log10(np.maximum(mel, eps))


def librosa_mel_loss(pred: np.ndarray, target: np.ndarray) -> float:
    return sum(float(np.abs(librosa_log_mel(pred, n, m) - librosa_log_mel(target, n, m)).mean())
               for n, m in zip(DAC_N_FFTS, DAC_N_MELS))


def test_multi_resolution_mel_loss_matches_librosa(signals):
    pred, target = signals
    loss = MultiResolutionMelLoss(SAMPLE_RATE)
    expected = librosa_mel_loss(pred.numpy(), target.numpy())
    assert [m.spectrogram.stft.n_fft for m in loss.mels] == list(DAC_N_FFTS)
    assert [m.n_mels for m in loss.mels] == list(DAC_N_MELS)
    # Relative errors measured 4e-10 in float64 (the filterbank buffer is float32) and 2e-8 in float32.
    assert abs(float(loss(pred, target)) - expected) < 1e-8 * expected
    assert abs(float(loss(pred.float(), target.float())) - expected) < 1e-6 * expected


def test_multi_resolution_mel_loss_is_a_distance(signals):
    pred, target = signals
    loss = MultiResolutionMelLoss(SAMPLE_RATE, n_ffts=(256, 1024), n_mels=(40, 80))
    assert float(loss(target, target)) == 0.0
    forward, backward = loss(pred, target), loss(target, pred)
    assert float(forward) > 0.1
    torch.testing.assert_close(forward, backward, rtol=1e-12, atol=0)
    # With mag_weight the linear-mel L1 is added on top of the log term.
    both = MultiResolutionMelLoss(SAMPLE_RATE, n_ffts=(256, 1024), n_mels=(40, 80), mag_weight=1.0)
    assert float(both(pred, target)) > float(forward)


def test_multi_resolution_mel_loss_rejects_bad_arguments(signals):
    pred, target = signals
    with pytest.raises(ValueError, match="equal length .* got 2, 1 and 2"):
        MultiResolutionMelLoss(SAMPLE_RATE, n_ffts=(256, 512), n_mels=(40,))
    with pytest.raises(ValueError, match="clamp_eps must be positive"):
        MultiResolutionMelLoss(SAMPLE_RATE, clamp_eps=0.0)
    with pytest.raises(ValueError, match="pred and target must be tensors of one shape"):
        MultiResolutionMelLoss(SAMPLE_RATE)(pred, target[..., :2048])


# ------------------------------------------------------------------------------------------------ codec loss
WEIGHTS = {"l1": 0.5, "mel": 2.0, "stft": 1.5, "adversarial": 3.0, "feature_matching": 4.0, "commitment": 0.7,
           "codebook": 0.2}


def test_codec_loss_is_the_weighted_sum_of_its_parts(signals):
    pred, target = (s.float() for s in signals)
    pred = pred.clone().requires_grad_()
    torch.manual_seed(0)
    disc = MultiPeriodDiscriminator(periods=(2, 3), channels=(4, 8, 8))
    fake, real = disc(pred), disc(target)
    commitment, codebook = torch.tensor(0.3), torch.tensor(0.9)
    loss = CodecLoss(WEIGHTS, sample_rate=SAMPLE_RATE, adversarial="lsgan", relative_features=True)
    total, terms = loss(pred, target, fake=fake, real=real, commitment_loss=commitment, codebook_loss=codebook)

    expected = {
        "l1": (pred - target).abs().mean(),
        "mel": MultiResolutionMelLoss(SAMPLE_RATE)(pred, target),
        "stft": auraloss.freq.MultiResolutionSTFTLoss(sample_rate=SAMPLE_RATE)(pred, target),
        "adversarial": generator_adversarial_loss(fake.logits, "lsgan"),
        "feature_matching": feature_matching_loss(real.features, fake.features, relative=True),
        "commitment": commitment,
        "codebook": codebook,
    }
    assert set(terms) == set(WEIGHTS)
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], value, rtol=1e-6, atol=0)
        assert float(value) != 0.0
    torch.testing.assert_close(total, sum(WEIGHTS[k] * expected[k] for k in WEIGHTS), rtol=1e-6, atol=0)
    total.backward()
    assert pred.grad.abs().sum() > 0


def test_codec_loss_skips_zero_weights_and_names_missing_inputs(signals):
    pred, target = (s.float() for s in signals)
    loss = CodecLoss({"l1": 1.0, "mel": 0.0, "adversarial": 0.0, "commitment": 2.0}, sample_rate=SAMPLE_RATE)
    assert loss.mel is None
    total, terms = loss(pred, target, commitment_loss=torch.tensor(0.25))
    assert set(terms) == {"l1", "commitment"}
    torch.testing.assert_close(total, (pred - target).abs().mean() + 0.5)

    with pytest.raises(ValueError, match="'adversarial' term has weight 1.0 but no fake= was given"):
        CodecLoss({"adversarial": 1.0}, sample_rate=SAMPLE_RATE)(pred, target)
    with pytest.raises(ValueError, match="'codebook' term has weight 2.0 but no codebook_loss="):
        CodecLoss({"codebook": 2.0}, sample_rate=SAMPLE_RATE)(pred, target)
    with pytest.raises(ValueError, match=r"unknown terms \['gan'\]"):
        CodecLoss({"gan": 1.0}, sample_rate=SAMPLE_RATE)
    with pytest.raises(ValueError, match="every weight is zero"):
        CodecLoss({"l1": 0.0}, sample_rate=SAMPLE_RATE)
    with pytest.raises(ValueError, match="kind must be one of"):
        CodecLoss({"l1": 1.0}, sample_rate=SAMPLE_RATE, adversarial="wgan")
    with pytest.raises(ValueError, match=r"expected pred and target of one shape \(batch, channels, time\)"):
        CodecLoss({"l1": 1.0}, sample_rate=SAMPLE_RATE)(pred[0], target[0])
