"""Losses of GAN-trained waveform generators (vocoders, codecs): adversarial, feature matching, multi-resolution
mel, and :class:`CodecLoss`, the generator's weighted sum of all of them.

The adversarial and feature-matching losses take the lists a discriminator returns (``audiokit.nn.discriminators``:
one logits tensor and one list of feature maps per sub-discriminator) and reduce over sub-discriminators with
``reduction='mean'`` (AudioCraft's ``normalize=True``: the scale of a weight does not depend on how many
sub-discriminators run) or ``'sum'`` (HiFi-GAN and DAC: use it to reuse their weights, e.g. DAC's
``adversarial`` 1, ``feature_matching`` 2).

    # discriminator step (DAC's setup: LSGAN, sums over sub-discriminators)
    d_loss = discriminator_loss(disc(target).logits, disc(pred.detach()).logits, kind="lsgan", reduction="sum")
    # generator step
    loss = CodecLoss({"mel": 15.0, "adversarial": 1.0, "feature_matching": 2.0,
                      "commitment": 1.0, "codebook": 1.0}, sample_rate=44100, adversarial="lsgan", reduction="sum")
    total, terms = loss(pred, target, fake=disc(pred), real=disc(target),
                        commitment_loss=q.commitment_loss, codebook_loss=q.codebook_loss)
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import auraloss
import torch
from torch import Tensor, nn

from audiokit.audio.features import MelSpectrogram
from audiokit.losses.spatial import SPATIAL_KINDS, SpatialCovarianceLoss

__all__ = [
    "ADVERSARIAL_KINDS",
    "CODEC_LOSS_TERMS",
    "CodecLoss",
    "MultiResolutionMelLoss",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
]

ADVERSARIAL_KINDS = ("hinge", "lsgan")
REDUCTIONS = ("mean", "sum")
CODEC_LOSS_TERMS = ("l1", "mel", "stft", "spatial", "adversarial", "feature_matching", "commitment", "codebook")


# ------------------------------------------------------------------------------------------------ helpers
def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(f"kind must be one of {ADVERSARIAL_KINDS}, got {kind!r}")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS} (over sub-discriminators), got {reduction!r}")


def _tensor_list(values: object, name: str) -> list[Tensor]:
    if isinstance(values, Tensor) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of tensors, one per sub-discriminator, "
                         f"got {type(values).__name__}")
    if not all(isinstance(v, Tensor) for v in values):
        raise ValueError(f"{name} must be a non-empty list of tensors, got items of types "
                         f"{sorted({type(v).__name__ for v in values})}")
    return list(values)


def _reduce(values: list[Tensor], reduction: str) -> Tensor:
    total = torch.stack(values).sum()
    return total / len(values) if reduction == "mean" else total


# ------------------------------------------------------------------------------------------------ adversarial
def discriminator_loss(real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor], kind: str = "hinge",
                       reduction: str = "mean") -> Tensor:
    """The discriminator's loss, per sub-discriminator ``k`` (means over each logits map), then reduced:

    - ``'hinge'`` (MelGAN, EnCodec): ``mean(relu(1 - D_k(x))) + mean(relu(1 + D_k(x_hat)))``;
    - ``'lsgan'`` (HiFi-GAN, DAC): ``mean((1 - D_k(x))^2) + mean(D_k(x_hat)^2)``.

    Args:
        real_logits: one logits tensor per sub-discriminator, on real audio.
        fake_logits: the same on generated audio (detached from the generator for the discriminator step).
        kind: ``'hinge'`` (default) or ``'lsgan'``.
        reduction: ``'mean'`` (default) or ``'sum'`` over sub-discriminators.
    """
    _check_kind(kind)
    _check_reduction(reduction)
    real_logits, fake_logits = _tensor_list(real_logits, "real_logits"), _tensor_list(fake_logits, "fake_logits")
    if len(real_logits) != len(fake_logits):
        raise ValueError(f"real_logits and fake_logits must come from the same sub-discriminators, "
                         f"got {len(real_logits)} and {len(fake_logits)} tensors")
    losses = []
    for real, fake in zip(real_logits, fake_logits):
        if kind == "hinge":
            losses.append(torch.relu(1 - real).mean() + torch.relu(1 + fake).mean())
        else:
            losses.append((1 - real).square().mean() + fake.square().mean())
    return _reduce(losses, reduction)


def generator_adversarial_loss(fake_logits: Sequence[Tensor], kind: str = "hinge", reduction: str = "mean") -> Tensor:
    """The generator's adversarial loss, per sub-discriminator ``k``, then reduced:

    - ``'hinge'``: ``-mean(D_k(x_hat))`` (geometric GAN; AudioCraft's ``hinge``);
    - ``'lsgan'``: ``mean((1 - D_k(x_hat))^2)``.

    Args:
        fake_logits: one logits tensor per sub-discriminator, on generated audio (with gradient).
        kind: ``'hinge'`` (default) or ``'lsgan'``.
        reduction: ``'mean'`` (default) or ``'sum'`` over sub-discriminators.
    """
    _check_kind(kind)
    _check_reduction(reduction)
    fake_logits = _tensor_list(fake_logits, "fake_logits")
    if kind == "hinge":
        losses = [-fake.mean() for fake in fake_logits]
    else:
        losses = [(1 - fake).square().mean() for fake in fake_logits]
    return _reduce(losses, reduction)


def feature_matching_loss(real_features: Sequence[Sequence[Tensor]], fake_features: Sequence[Sequence[Tensor]],
                          relative: bool = False, reduction: str = "mean", eps: float = 1e-8) -> Tensor:
    """L1 distance between the discriminator's hidden activations on real and generated audio (MelGAN).

    For sub-discriminator ``k`` with layers ``l = 1..L_k``: ``d_kl = mean|D_kl(x) - D_kl(x_hat)|``, divided by
    ``mean|D_kl(x)|`` when ``relative`` (EnCodec's normalisation, which puts every layer on one scale).
    ``reduction='mean'`` averages over the layers of each sub-discriminator, then over sub-discriminators;
    ``'sum'`` adds every ``d_kl`` (HiFi-GAN, DAC). The real features are targets: they are detached.

    Args:
        real_features: per sub-discriminator, its feature maps on real audio.
        fake_features: the same on generated audio, with gradient; shapes must match layer by layer.
        relative: divide each layer's distance by the mean magnitude of its real features (default False).
        reduction: ``'mean'`` (default) or ``'sum'``.
        eps: floor of the ``relative`` denominator (default 1e-8).
    """
    _check_reduction(reduction)
    if not isinstance(real_features, Sequence) or not isinstance(fake_features, Sequence) or not real_features:
        raise ValueError("real_features and fake_features must be non-empty lists (one per sub-discriminator) "
                         "of lists of tensors")
    if len(real_features) != len(fake_features):
        raise ValueError(f"real_features and fake_features must come from the same sub-discriminators, "
                         f"got {len(real_features)} and {len(fake_features)} lists")
    per_disc, every_layer = [], []
    for k, (reals, fakes) in enumerate(zip(real_features, fake_features)):
        reals = _tensor_list(reals, f"real_features[{k}]")
        fakes = _tensor_list(fakes, f"fake_features[{k}]")
        if len(reals) != len(fakes):
            raise ValueError(f"sub-discriminator {k}: {len(reals)} real and {len(fakes)} fake feature maps")
        layers = []
        for i, (real, fake) in enumerate(zip(reals, fakes)):
            if real.shape != fake.shape:
                raise ValueError(f"sub-discriminator {k}, layer {i}: real features of shape {tuple(real.shape)} "
                                 f"but fake features of shape {tuple(fake.shape)}")
            real = real.detach()
            distance = (real - fake).abs().mean()
            if relative:
                distance = distance / real.abs().mean().clamp_min(eps)
            layers.append(distance)
        every_layer += layers
        per_disc.append(torch.stack(layers).mean())
    return _reduce(per_disc, "mean") if reduction == "mean" else _reduce(every_layer, "sum")


# ------------------------------------------------------------------------------------------------ mel
class MultiResolutionMelLoss(nn.Module):
    """L1 distance of log-mel spectrograms at several resolutions (DAC's mel loss), summed over resolutions:

        loss = sum_i  log_weight * mean|log10(max(M_i(pred), eps)) - log10(max(M_i(target), eps))|
                    + mag_weight * mean|M_i(pred) - M_i(target)|

    ``M_i`` is a *magnitude* mel spectrogram (mel filters on ``|STFT|``, not its square), window = ``n_fft``,
    periodic Hann, centred frames with reflect padding, librosa's slaney filterbank: ``audiokit.audio``'s
    :class:`MelSpectrogram`, so it matches ``librosa.feature.melspectrogram(power=1, pad_mode='reflect')``.
    Inputs ``(..., T)`` (any leading dims, e.g. ``(B, C, T)``) need more than ``max(n_ffts) // 2`` samples.

    Args:
        sample_rate: Hz, for the filterbanks.
        n_ffts: FFT size = window length of each resolution (default (32, 64, ..., 2048), DAC).
        n_mels: mel bands of each resolution (default (5, 10, 20, 40, 80, 160, 320), DAC).
        hop_lengths: frame step of each resolution (default ``n_fft // 4``).
        f_min: lowest mel edge in Hz (default 0).
        f_max: highest mel edge in Hz (default ``sample_rate / 2``).
        clamp_eps: floor of the mel magnitudes before the log (default 1e-5, DAC).
        log_weight: weight of the log-mel L1 (default 1.0).
        mag_weight: weight of the linear-mel L1 (default 0.0, DAC's final configs).
    """

    def __init__(self, sample_rate: int, n_ffts: Sequence[int] = (32, 64, 128, 256, 512, 1024, 2048),
                 n_mels: Sequence[int] = (5, 10, 20, 40, 80, 160, 320), hop_lengths: Sequence[int] | None = None,
                 f_min: float = 0.0, f_max: float | None = None, clamp_eps: float = 1e-5, log_weight: float = 1.0,
                 mag_weight: float = 0.0):
        super().__init__()
        n_ffts, n_mels = list(n_ffts), list(n_mels)
        hop_lengths = [max(n // 4, 1) for n in n_ffts] if hop_lengths is None else list(hop_lengths)
        if not n_ffts or len(n_mels) != len(n_ffts) or len(hop_lengths) != len(n_ffts):
            raise ValueError(f"n_ffts, n_mels and hop_lengths must be non-empty and of equal length (one item per "
                             f"resolution), got {len(n_ffts)}, {len(n_mels)} and {len(hop_lengths)}")
        if not clamp_eps > 0:
            raise ValueError(f"clamp_eps must be positive (the log's floor), got {clamp_eps!r}")
        if log_weight < 0 or mag_weight < 0 or log_weight + mag_weight == 0:
            raise ValueError(f"log_weight and mag_weight must be non-negative and not both zero, "
                             f"got {log_weight!r} and {mag_weight!r}")
        self.clamp_eps, self.log_weight, self.mag_weight = float(clamp_eps), float(log_weight), float(mag_weight)
        self.mels = nn.ModuleList(
            MelSpectrogram(sample_rate=sample_rate, n_fft=n, hop_length=hop, pad_mode="reflect", power=1.0,
                           n_mels=m, f_min=f_min, f_max=f_max)
            for n, m, hop in zip(n_ffts, n_mels, hop_lengths))

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """``pred``, ``target`` ``(..., T)`` of one shape -> scalar."""
        if not isinstance(pred, Tensor) or not isinstance(target, Tensor) or pred.shape != target.shape:
            raise ValueError(f"MultiResolutionMelLoss: pred and target must be tensors of one shape (..., time), "
                             f"got {getattr(pred, 'shape', type(pred).__name__)} and "
                             f"{getattr(target, 'shape', type(target).__name__)}")
        loss = pred.new_zeros(())
        for mel in self.mels:
            mel_pred, mel_target = mel(pred), mel(target)  # (..., T) -> (..., n_mels, M)
            if self.log_weight:
                log_pred = mel_pred.clamp_min(self.clamp_eps).log10()
                log_target = mel_target.clamp_min(self.clamp_eps).log10()
                loss = loss + self.log_weight * (log_pred - log_target).abs().mean()
            if self.mag_weight:
                loss = loss + self.mag_weight * (mel_pred - mel_target).abs().mean()
        return loss


# ------------------------------------------------------------------------------------------------ codec
class CodecLoss(nn.Module):
    """The generator's loss of a GAN codec (or vocoder): a weighted sum of named terms.

    Terms (``CODEC_LOSS_TERMS``), each computed only when its weight is non-zero:

    - ``l1``: mean absolute waveform error;
    - ``mel``: ``mel`` module (default :class:`MultiResolutionMelLoss` with DAC's resolutions);
    - ``stft``: ``stft`` module (default auraloss' ``MultiResolutionSTFTLoss``: FFT 1024/2048/512, spectral
      convergence + log magnitude);
    - ``spatial``: ``spatial`` module (default :class:`~audiokit.losses.spatial.SpatialCovarianceLoss` of
      ``spatial_kind``): L1 between the inter-channel correlation matrices of ``pred`` and ``target``, for
      multichannel (e.g. ambisonic) codecs; needs at least 2 channels;
    - ``adversarial``: :func:`generator_adversarial_loss` of the discriminator's logits on ``pred``;
    - ``feature_matching``: :func:`feature_matching_loss` between its features on ``target`` and ``pred``;
    - ``commitment``, ``codebook``: the quantizer's losses as given. ``QuantizerOutput``'s are already
      multiplied by the quantizer's own ``commitment_weight`` / ``codebook_weight``, so weight 1.0 here keeps
      them (DAC: 0.25 and 1.0 in the quantizer, 1.0 here).

    Args:
        weights: term -> weight; zero-weight terms are skipped (neither computed nor returned), so a
            warm-up without the discriminator sets ``adversarial`` and ``feature_matching`` to 0.
        sample_rate: Hz, for the default ``mel`` and ``stft`` modules.
        mel: the ``mel`` term's module ``(pred, target) -> scalar`` (default DAC's, see above).
        stft: the ``stft`` term's module (default auraloss' ``MultiResolutionSTFTLoss``).
        spatial: the ``spatial`` term's module (default ``SpatialCovarianceLoss(spatial_kind)``).
        spatial_kind: ``'correlation'`` (default) or ``'covariance'``, for the default ``spatial`` module.
        adversarial: ``'hinge'`` (default) or ``'lsgan'``.
        relative_features: EnCodec's relative feature matching (default False).
        reduction: ``'mean'`` (default) or ``'sum'`` over sub-discriminators, for the two GAN terms.
    """

    def __init__(self, weights: Mapping[str, float], *, sample_rate: int, mel: nn.Module | None = None,
                 stft: nn.Module | None = None, spatial: nn.Module | None = None,
                 spatial_kind: str = "correlation", adversarial: str = "hinge", relative_features: bool = False,
                 reduction: str = "mean"):
        super().__init__()
        if not isinstance(weights, Mapping):
            raise ValueError(f"weights must be a mapping term -> weight, got {type(weights).__name__}")
        unknown = sorted(set(weights) - set(CODEC_LOSS_TERMS))
        if unknown:
            raise ValueError(f"CodecLoss: unknown terms {unknown} in weights; available: {list(CODEC_LOSS_TERMS)}")
        for name, value in weights.items():
            if not math.isfinite(float(value)):
                raise ValueError(f"CodecLoss: weight of {name!r} must be finite, got {value!r}")
        self.weights = {k: float(v) for k, v in weights.items() if float(v) != 0.0}
        if not self.weights:
            raise ValueError(f"CodecLoss: every weight is zero in {dict(weights)}")
        _check_kind(adversarial)
        _check_reduction(reduction)
        if spatial_kind not in SPATIAL_KINDS:
            raise ValueError(f"CodecLoss: spatial_kind must be one of {SPATIAL_KINDS}, got {spatial_kind!r}")
        self.adversarial, self.relative_features, self.reduction = adversarial, bool(relative_features), reduction
        if "mel" in self.weights and mel is None:
            mel = MultiResolutionMelLoss(sample_rate)
        if "stft" in self.weights and stft is None:
            stft = auraloss.freq.MultiResolutionSTFTLoss(sample_rate=sample_rate)
        if "spatial" in self.weights and spatial is None:
            spatial = SpatialCovarianceLoss(spatial_kind)
        self.mel = mel if "mel" in self.weights else None
        self.stft = stft if "stft" in self.weights else None
        self.spatial = spatial if "spatial" in self.weights else None

    def _required(self, term: str, value: object, argument: str) -> None:
        if value is None:
            raise ValueError(f"CodecLoss: the {term!r} term has weight {self.weights[term]} but no {argument}= "
                             f"was given (set its weight to 0 to skip it)")

    def forward(self, pred: Tensor, target: Tensor, *,
                fake: tuple[Sequence[Tensor], Sequence[Sequence[Tensor]]] | None = None,
                real: tuple[Sequence[Tensor], Sequence[Sequence[Tensor]]] | None = None,
                commitment_loss: Tensor | None = None,
                codebook_loss: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Total loss and the unweighted value of each computed term (for logging).

        Args:
            pred: generated audio ``(B, C, T)``.
            target: reference audio, same shape.
            fake: the discriminator's output ``(logits, features)`` on ``pred``, with gradient to ``pred``.
            real: its output on ``target`` (only the features are used).
            commitment_loss: scalar, e.g. ``QuantizerOutput.commitment_loss``.
            codebook_loss: scalar, e.g. ``QuantizerOutput.codebook_loss``.
        """
        if not isinstance(pred, Tensor) or not isinstance(target, Tensor) or pred.shape != target.shape \
                or pred.dim() != 3:
            raise ValueError(f"CodecLoss: expected pred and target of one shape (batch, channels, time), "
                             f"got {getattr(pred, 'shape', type(pred).__name__)} and "
                             f"{getattr(target, 'shape', type(target).__name__)}")
        terms: dict[str, Tensor] = {}
        if "l1" in self.weights:
            terms["l1"] = (pred - target).abs().mean()
        if self.mel is not None:
            terms["mel"] = self.mel(pred, target)
        if self.stft is not None:
            terms["stft"] = self.stft(pred, target)
        if self.spatial is not None:
            terms["spatial"] = self.spatial(pred, target)
        if "adversarial" in self.weights:
            self._required("adversarial", fake, "fake")
            terms["adversarial"] = generator_adversarial_loss(fake[0], self.adversarial, self.reduction)
        if "feature_matching" in self.weights:
            self._required("feature_matching", fake, "fake")
            self._required("feature_matching", real, "real")
            terms["feature_matching"] = feature_matching_loss(real[1], fake[1], relative=self.relative_features,
                                                              reduction=self.reduction)
        if "commitment" in self.weights:
            self._required("commitment", commitment_loss, "commitment_loss")
            terms["commitment"] = commitment_loss
        if "codebook" in self.weights:
            self._required("codebook", codebook_loss, "codebook_loss")
            terms["codebook"] = codebook_loss
        total = sum(self.weights[name] * value for name, value in terms.items())
        return total, terms

    def extra_repr(self) -> str:
        return f"weights={self.weights}, adversarial={self.adversarial!r}, reduction={self.reduction!r}"
