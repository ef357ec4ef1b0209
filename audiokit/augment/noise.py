"""Additive noise at a target signal-to-noise ratio: coloured noise made on the fly, or noise recordings
from a Kaldi data directory.

SNR is measured per example over its channels and its valid samples only::

    SNR = 10 log10( sum_{c, t < L} x^2 / sum_{c, t < L} (g n)^2 )      g chosen to hit the drawn SNR

so padding neither dilutes the signal power nor receives noise. A silent example gets no noise (no gain
makes an SNR out of zero signal power).

Coloured noise has power spectral density ``1 / f^decay``: white 0, pink 1, brown 2, blue -1,
violet -2; it is a complex Gaussian spectrum shaped by ``f^(-decay / 2)``, with no DC, made real by
an inverse FFT.
"""
from __future__ import annotations

import os

import torch

from audiokit.augment.base import Transform, choice, time_mask, uniform, valid_power

COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0, "violet": -2.0}


def colored_noise(shape: tuple[int, ...], decay: torch.Tensor, generator: torch.Generator, *,
                  normalize: bool = True) -> torch.Tensor:
    """Gaussian noise ``(N, C, T)`` with power spectrum ``1 / f^decay[n]`` on the generator's device, of
    unit variance per row if ``normalize``.

    The spectrum is drawn directly (the DFT of white Gaussian noise is complex Gaussian, independent
    per bin), shaped and inverted: one FFT instead of two. All-white batches skip the FFT.
    """
    count, channels, time = shape
    decay = decay.to(generator.device, torch.float32)
    if not bool(decay.any()):
        return torch.randn(shape, generator=generator, device=generator.device)
    bins = time // 2 + 1
    spectrum = torch.randn(count, channels, bins, 2, generator=generator, device=generator.device)  # (N, C, F, re/im)
    log_freqs = torch.fft.rfftfreq(time, device=generator.device)[1:].log()  # cycles per sample, DC left out
    shaping = torch.exp(-decay[:, None] / 2 * log_freqs)  # (N, F - 1): f^(-decay / 2)
    shaping = torch.cat([shaping.new_zeros(count, 1), shaping], dim=1)  # no DC
    spectrum = torch.view_as_complex(spectrum.mul_(shaping[:, None, :, None]))  # (N, C, F)
    noise = torch.fft.irfft(spectrum, n=time, dim=-1)
    if not normalize:
        return noise
    return noise / noise.square().mean(dim=-1, keepdim=True).clamp(min=1e-20).sqrt()


class NoiseBank:
    """Noise recordings of a data dir's ``wav.scp``, resampled, mixed to mono and held end to end in
    one buffer, so a batch of crops is one gather. The whole set is read into memory on first use."""

    def __init__(self, data_dir: str | os.PathLike, sample_rate: int) -> None:
        self.data_dir, self.sample_rate = data_dir, sample_rate
        self._buffers: dict[torch.device, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def _load(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from audiokit.audio.io import load
        from audiokit.data.kaldi import DataDir, DataDirError

        data = DataDir(self.data_dir)
        if "wav.scp" not in data:
            raise DataDirError(f"'{self.data_dir}' has no wav.scp listing noise recordings")
        clips = []
        for key in data.keys():  # from `segments` if there is one, else wav.scp
            seg = data.audio(key)
            wav, _ = load(seg.path, self.sample_rate, mono=True, offset=seg.start, duration=seg.duration)
            clips.append(wav[0])
        if not clips:
            raise DataDirError(f"'{self.data_dir}': wav.scp lists no noise recordings")
        sizes = torch.tensor([c.numel() for c in clips])
        starts = torch.cumsum(sizes, 0) - sizes
        return torch.cat(clips), starts, sizes

    def buffers(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(samples, clip starts, clip sizes)`` on ``device``, read once and then cached."""
        if device not in self._buffers:
            cpu = self._buffers.get(torch.device("cpu")) or self._load()
            self._buffers[device] = tuple(t.to(device) for t in cpu)
        return self._buffers[device]

    def __len__(self) -> int:
        return self.buffers(torch.device("cpu"))[1].numel()

    def crops(self, clip: torch.Tensor, offset: torch.Tensor, time: int) -> torch.Tensor:
        """``(N,)`` clip indices and offsets in [0, 1) -> ``(N, 1, time)`` crops, looping short clips."""
        samples, starts, sizes = self.buffers(clip.device)
        size = sizes[clip][:, None]  # (N, 1)
        first = (offset[:, None] * size).long()
        index = starts[clip][:, None] + (first + torch.arange(time, device=clip.device)) % size  # (N, T)
        return samples[index][:, None, :]


class Noise(Transform):
    """Add noise at an SNR drawn uniformly from ``[min_snr_db, max_snr_db]`` (or fixed at ``snr_db``).

    Args:
        snr_db: a fixed SNR in dB (give it, or the range, not both).
        min_snr_db: lowest SNR in dB (default 5).
        max_snr_db: highest SNR in dB (default 30).
        color: ``'white'`` (default), ``'pink'``, ``'brown'``, ``'blue'``, ``'violet'``, or a list of them
            to draw from per example. Each channel gets independent noise.
        noise_dir: a Kaldi data dir whose ``wav.scp`` lists noise recordings, used instead of coloured
            noise: each example gets a random crop of a random recording (looped if short), the same
            in every channel.
        sample_rate: rate of the batch in Hz (needed with ``noise_dir``; a chain passes its own).
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`.
    """

    name = "noise"

    def __init__(self, *, snr_db: float | None = None, min_snr_db: float | None = None,
                 max_snr_db: float | None = None, color: str | list[str] | None = None,
                 noise_dir: str | os.PathLike | None = None, sample_rate: int | None = None,
                 p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        if snr_db is not None:
            if min_snr_db is not None or max_snr_db is not None:
                raise self.error("give snr_db or min_snr_db/max_snr_db, not both")
            min_snr_db = max_snr_db = snr_db
        self.min_snr_db, self.max_snr_db = self.number_range(
            "min_snr_db", 5.0 if min_snr_db is None else min_snr_db,
            "max_snr_db", 30.0 if max_snr_db is None else max_snr_db)
        if noise_dir is not None and color is not None:
            raise self.error("give color or noise_dir, not both")
        colors = ["white"] if color is None else [color] if isinstance(color, str) else color
        if not isinstance(colors, list | tuple) or not colors:
            raise self.error(f"color must be a name or a non-empty list of names, got {color!r}")
        self.colors = [self.one_of("color", c, tuple(COLORS)) for c in colors]
        self.bank = None
        if noise_dir is not None:
            if not os.path.isdir(noise_dir):
                raise self.error(f"noise_dir: data directory not found: '{noise_dir}'")
            if sample_rate is None:
                raise self.error("sample_rate is needed with noise_dir")
            self.bank = NoiseBank(noise_dir, int(self.number("sample_rate", sample_rate, minimum=1, integer=True)))

    def sample(self, count, channels, time, generator):
        params = {"snr_db": uniform(generator, count, self.min_snr_db, self.max_snr_db)}
        if self.bank is None:
            decay = torch.tensor([COLORS[c] for c in self.colors], device=generator.device)
            params["noise"] = colored_noise((count, channels, time), decay[choice(generator, count, len(decay))],
                                            generator, normalize=False)  # apply() scales it to the SNR
        else:
            clip = choice(generator, count, len(self.bank))
            params["noise"] = self.bank.crops(clip, uniform(generator, count), time)
        return params

    def apply(self, x, lengths, params):
        noise = params["noise"].to(x.dtype)
        if bool((lengths < x.shape[-1]).any()):
            noise = noise * time_mask(lengths, x.shape[-1])
        noise = noise.expand_as(x)
        signal_power, noise_power = valid_power(x, lengths), valid_power(noise, lengths)  # (N,) each
        target = signal_power / 10.0 ** (params["snr_db"].to(x.dtype) / 10.0)
        gain = torch.where(noise_power > 0, (target / noise_power.clamp(min=1e-30)).sqrt(), 0.0)
        return torch.addcmul(x, gain[:, None, None], noise), lengths

    def extra_repr(self) -> str:
        source = f"noise_dir='{self.bank.data_dir}'" if self.bank else f"color={self.colors}"
        return f"snr_db=[{self.min_snr_db:g}, {self.max_snr_db:g}], {source}, {super().extra_repr()}"
