"""Band-limited resampling: one function for one-off calls, one module that keeps its kernel.

Both use torchaudio's polyphase windowed-sinc resampler with a Kaiser window and these defaults:

    lowpass_filter_width = 64 zero crossings, rolloff = 0.9475937 (of the lower Nyquist), beta = 14.7697

i.e. the "kaiser_best" design: passband flat to about 0.9 of the lower Nyquist frequency and more than
100 dB of stopband attenuation. On band-limited content it agrees with ``soxr`` HQ to about 80 dB away
from the edges (see ``tests/test_audio_resample.py``).

Cost: the kernel has ``new / g`` phases of about ``orig / g + 2 * width`` taps, ``g = gcd(orig, new)``,
so nearly coprime rates (16000 -> 16001) build a huge kernel; resample through a rounder rate instead.

Output length: a signal of ``T`` samples becomes ``ceil(T * new_sample_rate / orig_sample_rate)``
samples, the same convention as librosa and torchaudio; sample ``0`` stays at time ``0``.
"""
from __future__ import annotations

import torch
import torchaudio
from torch import nn

from audiokit.audio._validate import check_positive_int, check_sample_rate, check_signal
from audiokit.audio.io import AudioError

LOWPASS_FILTER_WIDTH = 64
ROLLOFF = 0.9475937167399596
BETA = 14.769656459379492


def resampled_length(length: int, orig_sample_rate: int, new_sample_rate: int) -> int:
    """Number of samples :func:`resample` returns for ``length`` input samples: ``ceil(T * new / orig)``."""
    return -(-length * new_sample_rate // orig_sample_rate)


def resample(
    wav: torch.Tensor,
    orig_sample_rate: int,
    new_sample_rate: int,
    *,
    lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
    rolloff: float = ROLLOFF,
    beta: float = BETA,
) -> torch.Tensor:
    """Resample ``wav`` of shape ``(..., time)`` from ``orig_sample_rate`` to ``new_sample_rate`` Hz.

    Leading dimensions are kept; the time axis becomes ``ceil(T * new / orig)`` long. Equal rates return
    ``wav`` itself (no copy). For repeated calls at the same pair of rates, :class:`Resample` avoids
    rebuilding the kernel.

    Args:
        wav: floating tensor ``(..., time)``, e.g. ``(channels, time)`` or ``(batch, channels, time)``.
        orig_sample_rate: rate of ``wav`` in Hz.
        new_sample_rate: wanted rate in Hz.
        lowpass_filter_width: zero crossings of the sinc on each side (default 64; more = sharper).
        rolloff: cutoff as a fraction of the lower Nyquist frequency (default 0.9476).
        beta: Kaiser window shape (default 14.77, about 140 dB sidelobe level).
    """
    check_signal(wav, "resample input", min_dim=1)
    orig_sample_rate = check_sample_rate(orig_sample_rate, "orig_sample_rate")
    new_sample_rate = check_sample_rate(new_sample_rate, "new_sample_rate")
    _check_filter(lowpass_filter_width, rolloff)
    if orig_sample_rate == new_sample_rate:
        return wav
    return torchaudio.functional.resample(
        wav,
        orig_sample_rate,
        new_sample_rate,
        lowpass_filter_width=lowpass_filter_width,
        rolloff=rolloff,
        resampling_method="sinc_interp_kaiser",
        beta=beta,
    )


def _check_filter(lowpass_filter_width: int, rolloff: float) -> None:
    check_positive_int(lowpass_filter_width, "lowpass_filter_width")
    if not 0.0 < rolloff <= 1.0:
        raise ValueError(f"rolloff must be in (0, 1], got {rolloff!r}")


class Resample(nn.Module):
    """Resample ``(..., time)`` audio between two fixed rates, building the sinc kernel once.

    The kernel is a non-persistent buffer: ``.to(device)`` / ``.to(dtype)`` move it, state dicts stay
    empty. The input must have the kernel's dtype (float32 unless the module was converted).
    Equal rates make the module the identity.

    Args:
        orig_sample_rate: input rate in Hz.
        new_sample_rate: output rate in Hz.
        lowpass_filter_width: zero crossings of the sinc on each side (default 64).
        rolloff: cutoff as a fraction of the lower Nyquist frequency (default 0.9476).
        beta: Kaiser window shape (default 14.77).
    """

    def __init__(
        self,
        *,
        orig_sample_rate: int,
        new_sample_rate: int,
        lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
        rolloff: float = ROLLOFF,
        beta: float = BETA,
    ) -> None:
        super().__init__()
        self.orig_sample_rate = check_sample_rate(orig_sample_rate, "orig_sample_rate")
        self.new_sample_rate = check_sample_rate(new_sample_rate, "new_sample_rate")
        _check_filter(lowpass_filter_width, rolloff)
        self.resampler = None
        if self.orig_sample_rate != self.new_sample_rate:
            self.resampler = torchaudio.transforms.Resample(
                self.orig_sample_rate,
                self.new_sample_rate,
                resampling_method="sinc_interp_kaiser",
                lowpass_filter_width=lowpass_filter_width,
                rolloff=rolloff,
                beta=beta,
            )
            # The kernel is derived from the rates, not learned: keep it out of checkpoints.
            kernel = self.resampler.kernel
            delattr(self.resampler, "kernel")
            self.resampler.register_buffer("kernel", kernel, persistent=False)

    def output_length(self, length: int) -> int:
        """Number of output samples for ``length`` input samples."""
        return resampled_length(length, self.orig_sample_rate, self.new_sample_rate)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """``(..., T)`` at ``orig_sample_rate`` -> ``(..., ceil(T * new / orig))`` at ``new_sample_rate``."""
        check_signal(wav, "Resample input", min_dim=1)
        if self.resampler is None:
            return wav
        kernel = self.resampler.kernel
        if wav.dtype != kernel.dtype or wav.device != kernel.device:
            raise AudioError(
                f"Resample input is {wav.dtype} on {wav.device} but the kernel is {kernel.dtype} on "
                f"{kernel.device}; move the module with .to(...)"
            )
        return self.resampler(wav)

    def extra_repr(self) -> str:
        return f"orig_sample_rate={self.orig_sample_rate}, new_sample_rate={self.new_sample_rate}"
