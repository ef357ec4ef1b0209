"""Multichannel RVQ codec for higher-order Ambisonics (Hirvonen & Namazi, "Compression of Higher Order Ambisonics
with Multichannel RVQGAN", ICASSP 2025), and its transfer from a mono codec.

Only the layers that touch the audio change: the encoder's first conv takes ``C`` channels and the decoder's
last conv gives ``C`` channels. Everything between — the latent, the residual VQ and its codebooks — is the
mono model's, so the ``C`` channels share one code stream and the bitrate is the mono model's (a
third-order, 16-channel scene at the same kbit/s as one mono signal)::

    mono :  (B, 1, T)  -- conv 1 -> F  -->  [SEANet body, latent D, RVQ: K codebooks]  -- conv F -> 1  -->  (B, 1, T)
    HOA  :  (B, 16, T) -- conv 16 -> F -->  [the same, weight for weight            ]  -- conv F -> 16 -->  (B, 16, T)

(``F`` = ``n_filters``.)

The paper trains the multichannel model starting from mono models. :func:`inflate_from_mono` does the
transfer into a multichannel model of the same architecture:

- every shared weight and buffer (the body, the codebooks and their statistics) is copied;
- encoder input conv: the mono kernel reads channel ``mono_channel`` (0, ``W`` in ACN order), the other
  channels' kernels start at zero;
- decoder output conv: channel ``mono_channel`` is the mono output (kernel and bias), the other channels
  start silent (with weight norm: their gain ``g`` is 0 and their direction ``v`` keeps its fresh random
  initialisation, so each channel can grow its own; without weight norm: their kernel is 0). Bias 0.

So the transferred model starts as the mono codec of the ``W`` channel: its ``W`` output equals the mono
model's output on ``W`` exactly (up to float rounding, whatever the other input channels hold) and its other
outputs are exactly 0. The new input kernels and output gains (or, without weight norm, output kernels) get
gradients from the first step (a zero kernel still gets ``dL/dw``; a zero gain gets
``dL/dg = <dL/dw, v / |v|>``); a silent output channel's direction ``v`` follows once its gain has moved
(``dL/dv`` is proportional to ``g``).

The discriminators change the same way (their first layers take ``C`` channels, see
:class:`audiokit.tasks.codec.CodecTask`); they are not transferred (an audiokit ``.pt`` model checkpoint
holds the codec only).
"""
from __future__ import annotations

import copy
import inspect
import os
from typing import Any

import torch
from torch import nn

from audiokit.models.codec.rvq_codec import RVQCodec, rvq_codec
from audiokit.models.codec.seanet import SConv1d

__all__ = ["from_mono", "hoa_rvq_codec", "inflate_from_mono", "input_conv", "output_conv"]


# ------------------------------------------------------------------------------------------------ helpers
def input_conv(model: RVQCodec) -> SConv1d:
    """The encoder's first conv, the only encoder layer that sees the audio channels."""
    conv = model.encoder.layers[0]
    if not isinstance(conv, SConv1d) or conv.conv.in_channels != model.channels:
        raise ValueError(f"expected a SEANet encoder whose first layer is a conv from the {model.channels} audio "
                         f"channels, got {type(conv).__name__}")
    return conv


def output_conv(model: RVQCodec) -> SConv1d:
    """The decoder's last conv, the only decoder layer that writes the audio channels."""
    conv = model.decoder.layers[-1]
    if not isinstance(conv, SConv1d) or conv.conv.out_channels != model.channels:
        raise ValueError(f"expected a SEANet decoder whose last layer is a conv to the {model.channels} audio "
                         f"channels, got {type(conv).__name__}")
    return conv


def _module_prefix(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, m in model.named_modules() if m is module) + "."


def _is_weight_normed(conv: SConv1d) -> bool:
    return hasattr(conv.conv, "parametrizations") and "weight" in conv.conv.parametrizations


def _conv_like(conv: SConv1d, in_channels: int, out_channels: int) -> SConv1d:
    """A fresh conv with ``conv``'s kernel, stride, dilation, causality and weight norm, other channel counts."""
    inner = conv.conv
    return SConv1d(in_channels, out_channels, inner.kernel_size[0], stride=conv.stride, dilation=inner.dilation[0],
                   causal=conv.causal, weight_norm=_is_weight_normed(conv))


def _load_mono(mono: RVQCodec | str | os.PathLike) -> RVQCodec:
    if isinstance(mono, (str, os.PathLike)):
        from audiokit.train.checkpoint import load_model

        mono, _ = load_model(mono)
    if not isinstance(mono, RVQCodec):
        raise ValueError(f"expected a mono RVQCodec or the path of its audiokit checkpoint (.pt), "
                         f"got {type(mono).__name__}")
    if mono.channels != 1:
        raise ValueError(f"expected a mono (1-channel) codec to transfer from, got one with {mono.channels} channels")
    return mono


# ------------------------------------------------------------------------------------------------ transfer
@torch.no_grad()
def inflate_from_mono(model: RVQCodec, mono: RVQCodec | str | os.PathLike, mono_channel: int = 0) -> RVQCodec:
    """Initialise the multichannel ``model`` in place from a mono codec of the same architecture (see the module
    docstring for what each layer gets); returns ``model``.

    Args:
        model: the ``C``-channel codec (e.g. from :func:`hoa_rvq_codec`).
        mono: a mono :class:`RVQCodec` or the path of its audiokit model checkpoint (``best.pt``).
        mono_channel: the channel the mono model codes (default 0: ``W``, the omnidirectional channel in ACN).
    """
    mono = _load_mono(mono)
    if not isinstance(model, RVQCodec):
        raise ValueError(f"inflate_from_mono: model must be an RVQCodec, got {type(model).__name__}")
    if not 0 <= mono_channel < model.channels:
        raise ValueError(f"mono_channel must be in 0..{model.channels - 1}, got {mono_channel!r}")
    if mono.sample_rate != model.sample_rate:
        raise ValueError(f"the mono codec runs at {mono.sample_rate} Hz, the multichannel one at "
                         f"{model.sample_rate} Hz")
    conv_in, conv_out = input_conv(model), output_conv(model)
    mono_in, mono_out = input_conv(mono), output_conv(mono)
    if _is_weight_normed(conv_in) != _is_weight_normed(mono_in):
        raise ValueError("the mono and multichannel codecs must both use weight norm, or both not")
    prefixes = (_module_prefix(model, conv_in), _module_prefix(model, conv_out))

    # Everything else: the same names and shapes, copied as is.
    source, target = mono.state_dict(), model.state_dict()
    shared = [k for k in target if not k.startswith(prefixes)]
    missing = [k for k in shared if k not in source]
    mismatched = [f"{k}: {tuple(source[k].shape)} in the mono codec vs {tuple(target[k].shape)}"
                  for k in shared if k in source and source[k].shape != target[k].shape]
    if missing or mismatched:
        raise ValueError("the mono codec's architecture differs from the multichannel one beyond the audio layers: "
                         + "; ".join([f"{k} missing" for k in missing[:5]] + mismatched[:5]))
    for key in shared:
        target[key].copy_(source[key])

    c = mono_channel
    if _is_weight_normed(conv_in):
        # weight = g * v / |v| per output channel: zero kernels for the other inputs keep |v|, so W's weight
        # is the mono weight exactly.  (out, 1, 1) gains, (out, in, k) directions.
        wn_in, wn_mono = conv_in.conv.parametrizations.weight, mono_in.conv.parametrizations.weight
        wn_in.original0.copy_(wn_mono.original0)
        wn_in.original1.zero_()
        wn_in.original1[:, c].copy_(wn_mono.original1[:, 0])
        wn_out, wn_mono_out = conv_out.conv.parametrizations.weight, mono_out.conv.parametrizations.weight
        wn_out.original0.zero_()  # (C, 1, 1): silent channels ...
        wn_out.original0[c].copy_(wn_mono_out.original0[0])
        wn_out.original1[c].copy_(wn_mono_out.original1[0])  # ... but their own random directions v
    else:
        conv_in.conv.weight.zero_()
        conv_in.conv.weight[:, c].copy_(mono_in.conv.weight[:, 0])
        conv_out.conv.weight.zero_()
        conv_out.conv.weight[c].copy_(mono_out.conv.weight[0])
    conv_in.conv.bias.copy_(mono_in.conv.bias)
    conv_out.conv.bias.zero_()
    conv_out.conv.bias[c].copy_(mono_out.conv.bias[0])
    return model


def from_mono(mono: RVQCodec | str | os.PathLike, channels: int = 16, mono_channel: int = 0) -> RVQCodec:
    """A ``channels``-channel codec transferred from a mono one: a copy of ``mono`` whose encoder input conv and
    decoder output conv take and give ``channels`` channels, initialised by :func:`inflate_from_mono`.

    Args:
        mono: a mono :class:`RVQCodec` (left untouched) or the path of its audiokit checkpoint (``best.pt``).
        channels: C, audio channels of the new codec (16: third-order Ambisonics).
        mono_channel: the channel that starts as the mono codec (default 0, ``W``).

    The result is not tied to a config: to train it from a Hydra config, use :func:`hoa_rvq_codec` with
    ``mono_checkpoint`` instead.
    """
    mono = _load_mono(mono)
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    model = copy.deepcopy(mono)
    model.encoder.layers[0] = _conv_like(input_conv(mono), channels, input_conv(mono).conv.out_channels)
    model.decoder.layers[-1] = _conv_like(output_conv(mono), output_conv(mono).conv.in_channels, channels)
    model.encoder.channels = model.decoder.channels = channels
    return inflate_from_mono(model, mono, mono_channel)


# ------------------------------------------------------------------------------------------------ preset
_CODEC_ARGS = tuple(p for p in inspect.signature(rvq_codec).parameters if p not in ("sample_rate", "channels"))


def hoa_rvq_codec(sample_rate: int = 16000, channels: int = 16, *, mono_checkpoint: str | None = None,
                  mono_channel: int = 0, **codec: Any) -> RVQCodec:
    """A multichannel RVQ codec (default 16 channels: third-order Ambisonics, ACN/SN3D), optionally transferred
    from a mono checkpoint.

    Args:
        sample_rate: Hz.
        channels: C, ``(N + 1)^2`` for an order-``N`` scene (default 16).
        mono_checkpoint: None (default: train from scratch) or the path of a mono codec's audiokit checkpoint
            with the same ``codec`` arguments and sample rate; its weights initialise this model
            (:func:`inflate_from_mono`). Used only at construction: the trained model's checkpoint does not
            need it (see ``init_only_args``).
        mono_channel: the channel the mono codec starts on (default 0, ``W``).
        codec: every other :func:`~audiokit.models.codec.rvq_codec` argument (``dimension``, ``n_filters``,
            ``ratios``, ``num_quantizers``, ``codebook_size``, ...), exactly as for the mono model: the latent
            and the codebooks, hence the bitrate, are the mono model's.
    """
    unknown = sorted(set(codec) - set(_CODEC_ARGS))
    if unknown:
        raise ValueError(f"hoa_rvq_codec got unknown arguments {unknown}; known: sample_rate, channels, "
                         f"mono_checkpoint, mono_channel, {', '.join(_CODEC_ARGS)}")
    model = rvq_codec(sample_rate, channels, **codec)
    if mono_checkpoint is not None:
        inflate_from_mono(model, mono_checkpoint, mono_channel)
    return model


#: Arguments that only initialise weights: a trained model's checkpoint is rebuilt without them (its own
#: state dict replaces what they loaded), so it does not depend on the mono checkpoint's file.
hoa_rvq_codec.init_only_args = ("mono_checkpoint", "mono_channel")
