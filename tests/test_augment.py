"""Batched augmentation: each transform's defining property with a number, padding never treated as
signal, seeds that reproduce, stems, chains from config, and clear config errors."""
import math
import textwrap

import pytest
import torch
import yaml

from audiokit.audio.io import load, save
from audiokit.augment import (
    TRANSFORMS,
    AugmentError,
    Chain,
    ChannelSwap,
    Downsample,
    Filter,
    Gain,
    MuLaw,
    Noise,
    PitchShift,
    Polarity,
    Remix,
    Reverb,
    Shift,
    SpecAugment,
    Speed,
    colored_noise,
    mixture,
    mu_law_round_trip,
)
from audiokit.augment.time import shift_units
from audiokit.cli import main
from audiokit.data.kaldi import write_table
from audiokit.nn.biquad import biquad_cascade, biquad_coefficients, biquad_response

RATE = 8000


def tones(batch: int, channels: int, time: int, seed: int = 0) -> torch.Tensor:
    """``(batch, channels, time)`` sums of two sines with random frequencies and levels per row."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(time) / RATE
    freqs = 100 + 2000 * torch.rand(batch, channels, 2, 1, generator=g)
    levels = 0.05 + 0.4 * torch.rand(batch, channels, 2, 1, generator=g)
    return (levels * torch.sin(2 * math.pi * freqs * t)).sum(dim=2)


def padded(x: torch.Tensor, lengths: list[int], fill: float) -> torch.Tensor:
    """``x`` with everything past each example's length set to ``fill``."""
    valid = torch.arange(x.shape[-1]) < torch.tensor(lengths).reshape(-1, *[1] * (x.dim() - 1))
    return torch.where(valid, x, torch.full_like(x, fill))


def snr_db(clean: torch.Tensor, noisy: torch.Tensor, length: int) -> float:
    """SNR of one example ``(C, T)`` over its first ``length`` samples."""
    signal, noise = clean[..., :length], (noisy - clean)[..., :length]
    return 10 * math.log10(signal.double().square().sum() / noise.double().square().sum())


def schroeder_rt60(response: torch.Tensor) -> float:
    """RT60 from the -5 to -25 dB slope of the Schroeder backward integral (ISO 3382 T20)."""
    energy = response.double().square().flip(0).cumsum(0).flip(0)
    level = 10 * torch.log10(energy / energy[0])
    t5, t25 = int((level > -5).sum()), int((level > -25).sum())
    return 3 * (t25 - t5) / RATE


def peak_hz(x: torch.Tensor) -> float:
    """Frequency of the largest spectral peak of ``(T,)``, Hann-windowed, parabolic interpolation."""
    spectrum = torch.fft.rfft(x.double() * torch.hann_window(x.numel(), dtype=torch.float64), n=8 * x.numel()).abs()
    k = int(spectrum[1:-1].argmax()) + 1
    a, b, c = spectrum[k - 1].log(), spectrum[k].log(), spectrum[k + 1].log()
    return (k + 0.5 * float((a - c) / (a - 2 * b + c))) * RATE / (8 * x.numel())


# One config per transform that takes waveforms (remix takes stems, spec_augment features: tested apart).
WAVEFORM_CONFIGS = {
    "gain": {"name": "gain", "min_db": -9, "max_db": 9},
    "polarity": {"name": "polarity", "p": 1.0},
    "shift": {"name": "shift", "min_shift": -0.4, "max_shift": 0.4},
    "shift_zero": {"name": "shift", "min_shift": -0.4, "max_shift": 0.4, "rollover": False},
    "channel_swap": {"name": "channel_swap", "p": 1.0},
    "noise": {"name": "noise", "min_snr_db": 0, "max_snr_db": 20, "color": ["white", "pink", "brown"]},
    "reverb": {"name": "reverb", "num_rirs": 3, "min_rt60": 0.2, "max_rt60": 0.3, "max_room": [6, 5, 3]},
    "filter": {"name": "filter", "kind": "bandpass", "min_cutoff_hz": 300, "max_cutoff_hz": 1500},
    "speed": {"name": "speed", "factors": [0.8, 1.25]},
    "pitch_shift": {"name": "pitch_shift", "min_semitones": -3, "max_semitones": 3, "n_fft": 256},
    "mu_law": {"name": "mu_law", "min_bits": 3, "max_bits": 8},
    "downsample": {"name": "downsample", "rates": [2000, 4000]},
}


def test_every_transform_is_covered_by_the_padding_and_seed_tests():
    covered = {c["name"] for c in WAVEFORM_CONFIGS.values()} | {"remix", "spec_augment"}
    assert covered == set(TRANSFORMS)


# ----------------------------------------------------------------------------------------- noise
@pytest.mark.parametrize("color", ["white", "pink", "brown", "violet"])
@pytest.mark.parametrize("target", [-5.0, 10.0, 30.0])
def test_noise_snr_equals_the_target_on_the_valid_part(color, target):
    x, lengths = tones(3, 2, 4000), [4000, 2500, 900]
    out = Noise(snr_db=target, color=color)(padded(x, lengths, 0.0), torch.tensor(lengths), seed=1)
    for b, length in enumerate(lengths):
        assert snr_db(x[b], out.wav[b], length) == pytest.approx(target, abs=0.1)
        assert torch.equal(out.wav[b, :, length:], torch.zeros_like(out.wav[b, :, length:]))  # no noise in padding


def test_noise_colour_sets_the_spectral_slope():
    # Power per octave grows by 10 log10(2^(1 - decay)) dB: white +3 dB, pink 0, brown -3 dB per octave.
    decay = torch.tensor([0.0, 1.0, 2.0]).repeat_interleave(8)  # 8 draws of each colour
    noise = colored_noise((24, 1, 1 << 16), decay, torch.Generator().manual_seed(0))
    power = torch.fft.rfft(noise[:, 0].double()).abs().square().reshape(3, 8, -1).mean(1)  # (colour, F)
    f = torch.fft.rfftfreq(1 << 16)
    octaves = math.log2(10)  # from [0.01, 0.02) to [0.1, 0.2) cycles per sample
    slope = 10 * torch.log10(power[:, (f >= 0.1) & (f < 0.2)].sum(1) / power[:, (f >= 0.01) & (f < 0.02)].sum(1))
    torch.testing.assert_close(slope / octaves, torch.tensor([3.01, 0.0, -3.01], dtype=torch.float64), atol=0.3,
                               rtol=0)


def test_noise_from_a_data_dir_is_a_crop_of_the_recordings_at_the_target_snr(tmp_path):
    g = torch.Generator().manual_seed(3)
    recordings = {f"n{i}": torch.randn(1, n, generator=g) * 0.1 for i, n in enumerate((700, 3000))}
    for key, wav in recordings.items():
        save(tmp_path / f"{key}.wav", wav, RATE)
    write_table(tmp_path / "wav.scp", {key: f"{key}.wav" for key in recordings})
    x, lengths = tones(4, 2, 2000), [2000, 2000, 1500, 600]
    out = Noise(snr_db=6.0, noise_dir=str(tmp_path), sample_rate=RATE)(x, torch.tensor(lengths), seed=0)
    for b, length in enumerate(lengths):
        assert snr_db(x[b], out.wav[b], length) == pytest.approx(6.0, abs=0.1)
        added = (out.wav[b] - x[b])[:, :length]
        torch.testing.assert_close(added[0], added[1])  # one recording, every channel
        # the added noise is a scaled, looped crop of one recording: its first 100 samples occur in it
        probe = added[0, :100] / added[0, :100].norm()
        found = False
        for wav in recordings.values():
            looped = torch.cat([wav[0], wav[0]])
            windows = looped.unfold(0, 100, 1)
            found |= bool(((windows / windows.norm(dim=1, keepdim=True)) @ probe).max() > 1 - 1e-4)
        assert found


# ---------------------------------------------------------------------------------------- reverb
@pytest.mark.parametrize("rt60", [0.3, 0.6])
def test_reverb_tail_decays_at_the_rooms_rt60(rt60):
    # An impulse comes out as the room's response: its Schroeder slope must give the RT60 within 20 %.
    reverb = Reverb(sample_rate=RATE, min_rt60=rt60, max_rt60=rt60, num_rirs=4, min_room=[3, 3, 2.5],
                    max_room=[7, 6, 3.5], rir_seed=1)
    impulse = torch.zeros(4, 1, int(1.2 * rt60 * RATE))
    impulse[..., 0] = 1.0
    out = reverb(impulse, seed=0)
    responses, rt60s = reverb.bank()
    assert rt60s.tolist() == pytest.approx([rt60] * 4)
    for b in range(4):
        assert schroeder_rt60(out.wav[b, 0]) == pytest.approx(rt60, rel=0.2)
        assert int(out.wav[b, 0].abs().argmax()) == 0  # aligned to the direct path: no added delay
    for response in responses:  # every response of the bank, not only those drawn
        assert schroeder_rt60(response) == pytest.approx(rt60, rel=0.2)


def test_reverb_bank_is_cached_per_room_and_seed():
    make = lambda seed: Reverb(sample_rate=RATE, num_rirs=2, max_rt60=0.3, rir_seed=seed)  # noqa: E731
    assert make(0).bank()[0] is make(0).bank()[0]
    assert not torch.equal(make(0).bank()[0][0, :100], make(1).bank()[0][0, :100])


# -------------------------------------------------------------------------------------- time/pitch
@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.25])
def test_speed_changes_duration_and_lengths_by_the_factor(factor):
    lengths = [3000, 2001, 777]
    x = torch.zeros(3, 1, 3000)
    for b, length in enumerate(lengths):
        x[b, 0, length // 2] = 1.0  # a click in the middle
    out = Speed(factors=[factor])(x, torch.tensor(lengths), seed=0)
    assert out.lengths.tolist() == [math.ceil(length / factor) for length in lengths]
    assert out.wav.shape[-1] == max(3000, math.ceil(3000 / factor))
    for b, length in enumerate(lengths):
        assert int(out.wav[b, 0].abs().argmax()) == pytest.approx((length // 2) / factor, abs=1)
        assert torch.all(out.wav[b, :, int(out.lengths[b]):] == 0)


def test_speed_keep_length_keeps_the_time_axis():
    out = Speed(factors=[0.8], keep_length=True)(tones(2, 1, 1000), torch.tensor([1000, 700]), seed=0)
    assert out.wav.shape[-1] == 1000 and out.lengths.tolist() == [1000, 875]


@pytest.mark.parametrize("semitones", [-4.0, 3.0, 7.0])
def test_pitch_shift_moves_a_sines_frequency_by_the_ratio(semitones):
    t = torch.arange(RATE) / RATE
    x = torch.sin(2 * math.pi * 440.0 * t)[None, None].repeat(2, 1, 1)
    out = PitchShift(min_semitones=semitones, max_semitones=semitones, n_fft=512)(x, torch.tensor([RATE, RATE]),
                                                                                  seed=0)
    assert out.wav.shape == x.shape and out.lengths.tolist() == [RATE, RATE]
    middle = out.wav[0, 0, RATE // 4: 3 * RATE // 4]
    assert peak_hz(middle) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=0.003)
    # the duration is kept: the level holds to the end, as the input's does
    assert out.wav[0, 0, -RATE // 8:].square().mean().sqrt() > 0.5


@pytest.mark.parametrize("rollover", [True, False])
def test_shift_moves_within_the_valid_length(rollover):
    lengths = [1000, 600, 250]
    x = padded(tones(3, 2, 1000), lengths, 0.5)
    out = Shift(min_shift=-0.45, max_shift=0.45, rollover=rollover)(x, torch.tensor(lengths), seed=4)
    for b, length in enumerate(lengths):
        y, valid = out.wav[b, :, :length], x[b, :, :length]
        candidates = []
        for s in range(-length, length + 1):
            expected = torch.roll(valid, s, dims=-1)
            if not rollover:
                expected = torch.zeros_like(valid)
                if s >= 0:
                    expected[:, s:] = valid[:, :length - s]
                else:
                    expected[:, :s] = valid[:, -s:]
            if torch.equal(y, expected):
                candidates.append(s)
        assert candidates and min(abs(c) for c in candidates) <= 0.45 * length + 1
        assert torch.all(out.wav[b, :, length:] == 0.5)


# --------------------------------------------------------------------------------- level, channels
def test_gain_in_db_is_exact():
    x = tones(4, 2, 500)
    out = Gain(min_db=-6.0, max_db=-6.0)(x, seed=0)
    torch.testing.assert_close(out.wav, x * 10 ** (-6 / 20), rtol=1e-6, atol=0)
    ranged = Gain(min_db=-10.0, max_db=3.0)(x, seed=0).wav
    gain_db = 20 * torch.log10(ranged.norm(dim=-1) / x.norm(dim=-1))  # (B, C)
    assert torch.all((gain_db >= -10.0 - 1e-4) & (gain_db <= 3.0 + 1e-4))
    torch.testing.assert_close(gain_db[:, 0], gain_db[:, 1])  # one gain per example, every channel
    assert gain_db[:, 0].std() > 0.5  # per-example draws


def test_polarity_and_channel_swap_are_exact():
    x = tones(3, 2, 300)
    assert torch.equal(Polarity(p=1.0)(x, seed=0).wav, -x)
    assert torch.equal(ChannelSwap(p=1.0)(x, seed=0).wav, x.flip(1))
    with pytest.raises(AugmentError, match="channel_swap: needs at least 2 channels"):
        ChannelSwap(p=1.0)(x[:, :1], seed=0)


def test_filter_matches_the_biquads_frequency_response():
    # A steady sine through the drawn lowpass comes out scaled by |H(f)| of the cookbook design.
    filt = Filter(sample_rate=RATE, kind="lowpass", min_cutoff_hz=1000, max_cutoff_hz=1000, num_sections=2)
    t = torch.arange(4000, dtype=torch.float64) / RATE
    for hz in (300.0, 1000.0, 2500.0):
        x = torch.sin(2 * math.pi * hz * t)[None, None]
        y = filt(x, seed=0).wav[0, 0, 2000:]  # after the transient
        h = biquad_response(biquad_coefficients("lowpass", 0.0, 1000.0, 1 / math.sqrt(2), RATE), torch.tensor([hz]),
                            RATE).abs().item() ** 2
        assert y.abs().max().item() == pytest.approx(h, rel=0.01)


@pytest.mark.parametrize("config", [
    {"kind": "highpass", "min_cutoff_hz": 40, "max_cutoff_hz": 80},  # poles near 1: a long tail
    {"kind": "bandpass", "min_cutoff_hz": 300, "max_cutoff_hz": 2000, "num_sections": 2},
    {"kind": "peaking", "min_cutoff_hz": 200, "max_cutoff_hz": 3000, "q": 4.0},
])
def test_filtering_by_fft_equals_the_biquad_recursion(config):
    # The filter runs as an FFT convolution with its truncated impulse response; the reference is the
    # cookbook biquads run sample by sample over the whole signal.
    filt = Filter(sample_rate=RATE, **config)
    x = tones(4, 2, 3000).double()
    params = filt.sample(4, 2, 3000, torch.Generator().manual_seed(0))
    y, _ = filt.apply(x, torch.full((4,), 3000), params)
    coefficients = filt.coefficients(params)[:, None].expand(4, 2, -1, 5)  # (N, C, sections, 5)
    expected, _ = biquad_cascade(x, coefficients)
    torch.testing.assert_close(y, expected, atol=1e-7, rtol=0)


def test_downsample_removes_what_lies_above_the_lower_nyquist():
    t = torch.arange(4000) / RATE
    low, high = torch.sin(2 * math.pi * 500 * t), torch.sin(2 * math.pi * 3000 * t)
    out = Downsample(sample_rate=RATE, rates=[4000])(torch.stack([low, high])[:, None], seed=0).wav
    assert (out[0, 0, 500:-500] - low[500:-500]).abs().max() < 1e-2  # 500 Hz passes
    assert out[1, 0, 500:-500].square().mean() < 1e-4 * high.square().mean()  # 3 kHz (> 2 kHz) is gone: -40 dB


@pytest.mark.parametrize("bits", [4, 8])
def test_mu_law_round_trip_error_is_within_half_a_step(bits):
    x = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    y = mu_law_round_trip(x[None], torch.tensor([bits]))[0]
    mu = 2**bits - 1
    compressed = torch.log1p(mu * x.abs()) / math.log1p(mu)
    bound = (1 + mu) ** (compressed + 1 / mu) * math.log1p(mu) / mu / mu
    assert torch.all((y - x).abs() <= bound + 1e-12)
    assert y.unique().numel() <= 2**bits
    out = MuLaw(bits=bits)(x[None, None].float(), seed=0).wav[0, 0]
    torch.testing.assert_close(out, mu_law_round_trip(x[None].float(), torch.tensor([bits]))[0])


# ------------------------------------------------------------------------------------- stems, remix
def test_remix_permutes_each_source_across_the_batch_and_the_mixture_follows():
    batch, sources = 6, 4
    stems = torch.randn(batch, sources, 2, 400)
    lengths = torch.tensor([400, 400, 380, 400, 350, 400])
    stems = padded(stems, lengths.tolist(), 0.0)
    out = Remix()(stems, lengths, seed=2)
    donors = torch.empty(batch, sources, dtype=torch.long)
    for b in range(batch):
        for s in range(sources):
            length = int(out.lengths[b])
            matches = [d for d in range(batch) if torch.equal(out.wav[b, s, :, :length], stems[d, s, :, :length])]
            assert len(matches) == 1
            donors[b, s] = matches[0]
            assert torch.all(out.wav[b, s, :, length:] == 0)
        assert out.lengths[b] == lengths[donors[b]].min()  # the shortest stem sets the new length
    for s in range(sources):  # each source is a permutation of the batch's
        assert sorted(donors[:, s].tolist()) == list(range(batch))
    assert (donors != torch.arange(batch)[:, None]).any()
    expected = torch.stack([sum(stems[donors[b, s], s] for s in range(sources)) for b in range(batch)])
    expected = padded(expected, out.lengths.tolist(), 0.0)
    torch.testing.assert_close(mixture(out.wav), expected)
    with pytest.raises(AugmentError, match="remix: expected stems"):
        Remix()(stems[:, 0], seed=0)


def test_same_for_sources_shares_or_splits_the_draws():
    stems = tones(4, 3, 200)[:, :, None, :]  # (B, S=3, C=1, T)
    same = Gain(min_db=-12, max_db=12)(stems, seed=0).wav
    split = Gain(min_db=-12, max_db=12, same_for_sources=False)(stems, seed=0).wav
    db = lambda y: 20 * torch.log10(y.norm(dim=(-2, -1)) / stems.norm(dim=(-2, -1)))  # noqa: E731
    torch.testing.assert_close(db(same), db(same)[:, :1].expand(4, 3))
    assert (db(split) - db(split)[:, :1]).abs().max() > 0.5


# ----------------------------------------------------------------------- padding, seeds, probability
@pytest.mark.parametrize("key", list(WAVEFORM_CONFIGS))
def test_padding_is_kept_and_never_read(key):
    chain = Chain.from_config([WAVEFORM_CONFIGS[key]], sample_rate=RATE)
    lengths = [2400, 1500, 401]
    x = tones(3, 2, 2400)
    junk = torch.where(torch.arange(2400) < torch.tensor(lengths)[:, None, None], x, torch.randn_like(x))
    clean = chain(padded(x, lengths, 0.0), torch.tensor(lengths), seed=5)
    dirty = chain(junk, torch.tensor(lengths), seed=5)
    assert torch.equal(clean.lengths, dirty.lengths)
    for b, length in enumerate(lengths):
        new = int(clean.lengths[b])
        # what the padding held makes no difference to the signal ...
        torch.testing.assert_close(dirty.wav[b, :, :new], clean.wav[b, :, :new], atol=1e-5, rtol=1e-5)
        # ... and comes back as it was (or as zeros where the length changed)
        expected = junk[b, :, new:] if new == length else torch.zeros_like(dirty.wav[b, :, new:])
        assert torch.equal(dirty.wav[b, :, new:expected.shape[-1] + new], expected)


@pytest.mark.parametrize("key", list(WAVEFORM_CONFIGS))
def test_same_seed_same_output_different_seed_different(key):
    chain = Chain.from_config([WAVEFORM_CONFIGS[key]], sample_rate=RATE)
    x, lengths = tones(8, 2, 1600), torch.tensor([1600, 1600, 1200, 800] * 2)
    a, b, c = (chain(x, lengths, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.wav, b.wav) and torch.equal(a.lengths, b.lengths)
    if key not in ("polarity", "channel_swap"):  # p = 1 and nothing random to draw
        assert a.wav.shape != c.wav.shape or not torch.equal(a.wav, c.wav)


def test_fused_linear_transforms_equal_running_them_one_by_one():
    # gain > reverb > filter > polarity run as one FFT convolution: same draws, same result. With p < 1
    # and per-source draws, units pick different subsets of the four.
    config = [{"name": "gain", "min_db": -6, "max_db": 6, "p": 0.7, "same_for_sources": False},
              {**WAVEFORM_CONFIGS["reverb"], "p": 0.6},
              {"name": "filter", "kind": "bandpass", "min_cutoff_hz": 300, "max_cutoff_hz": 1500, "p": 0.6,
               "same_for_sources": False},
              {"name": "polarity", "p": 0.5}]
    stems = torch.stack([tones(6, 2, 2000, seed=s) for s in range(3)], dim=1)  # (B, S, C, T)
    lengths = torch.tensor([2000, 1800, 1500, 2000, 900, 1999])
    stems = padded(stems, lengths.tolist(), 0.25)
    fused = Chain.from_config(config, sample_rate=RATE)
    one_by_one = Chain.from_config(config, sample_rate=RATE, fuse=False)
    assert [len(run) for run in fused._runs()] == [4]
    a, b = fused(stems, lengths, seed=3), one_by_one(stems, lengths, seed=3)
    torch.testing.assert_close(a.wav, b.wav, atol=1e-5, rtol=1e-5)
    assert torch.equal(a.lengths, b.lengths)
    assert not torch.allclose(a.wav, stems)


@pytest.mark.parametrize("rollover", [True, False])
def test_shift_gather_equals_shift_copies(rollover):
    # the GPU path (one gather) and the CPU path (one copy per unit) agree exactly
    x, lengths = tones(5, 2, 700), torch.tensor([700, 500, 1, 0, 333])
    shift = torch.tensor([350, -499, 3, 5, -1000])
    a = shift_units(x, lengths, shift, rollover, vectorized=True)
    b = shift_units(x, lengths, shift, rollover, vectorized=False)
    assert torch.equal(a, b)


def test_chain_seed_repeats_the_sequence_of_batches():
    config = [WAVEFORM_CONFIGS[k] for k in ("gain", "noise", "shift", "filter")]
    x = tones(2, 1, 800)
    runs = []
    for _ in range(2):
        chain = Chain.from_config(config, sample_rate=RATE, seed=11)
        runs.append([chain(x).wav for _ in range(3)])
    for first, second in zip(*runs):
        assert torch.equal(first, second)
    assert not torch.equal(runs[0][0], runs[0][1])  # the generator moves on between batches


def test_probability_p_applies_to_that_fraction_of_examples():
    x = torch.ones(400, 1, 10)
    assert torch.equal(Polarity(p=0.0)(x, seed=0).wav, x)
    flipped = (Polarity(p=0.3)(x, seed=0).wav[:, 0, 0] < 0).float().mean().item()
    assert 0.3 - 0.08 < flipped < 0.3 + 0.08  # 400 draws: +-3.5 standard deviations


# ---------------------------------------------------------------------------------------- features
def runs(mask: torch.Tensor) -> list[int]:
    """Widths of the runs of True in a 1-D bool tensor."""
    widths, current = [], 0
    for value in mask.tolist() + [False]:
        if value:
            current += 1
        elif current:
            widths.append(current)
            current = 0
    return widths


def test_spec_augment_masks_stay_within_their_counts_and_widths():
    batch, bins, frames = 32, 40, 120
    lengths = torch.randint(30, frames + 1, (batch,), generator=torch.Generator().manual_seed(0))
    features = padded(torch.ones(batch, bins, frames), lengths.tolist(), 5.0)
    aug = SpecAugment(freq_masks=2, freq_width=8, time_masks=3, time_width=20, max_time_fraction=0.1)
    out = aug(features, lengths, seed=3)
    total_masked = 0
    for b in range(batch):
        length = int(lengths[b])
        valid = out.wav[b, :, :length]
        masked_rows = (valid == 0).all(dim=1)  # bands masked at every frame: frequency masks
        masked_columns = (valid == 0).all(dim=0)  # frames masked in every band: time masks
        assert sum(runs(masked_rows)) <= 2 * 8 and len(runs(masked_rows)) <= 2
        widest = min(20, math.floor(0.1 * length))
        assert sum(runs(masked_columns)) <= 3 * widest and len(runs(masked_columns)) <= 3
        assert all(w <= 3 * widest for w in runs(masked_columns))
        # nothing else is touched: every zero lies in a masked row or column
        assert torch.all((valid == 0) == (masked_rows[:, None] | masked_columns[None, :]))
        assert torch.all(out.wav[b, :, length:] == 5.0)  # padding frames as they came
        total_masked += int(masked_rows.sum() + masked_columns.sum())
    assert total_masked > batch * 5  # masks do happen


# -------------------------------------------------------------------------------- config and CLI
@pytest.mark.parametrize("config, message", [
    ("gian:min_db=1", "unknown transform 'gian'"),
    ("gain:min_gain=1", "gain\\): unknown field 'min_gain'; gain takes min_db, max_db, p, same_for_sources"),
    ("gain:min_db=6,max_db=-6", "gain: min_db \\(6\\) must be <= max_db \\(-6\\)"),
    ("gain:min_db=loud", "gain: min_db must be a number, got 'loud'"),
    ("noise:snr_db=10,min_snr_db=0", "noise: give snr_db or min_snr_db/max_snr_db, not both"),
    ("noise:color=purple", "noise: color must be one of white, pink, brown, blue, violet; got 'purple'"),
    ("filter:max_cutoff_hz=5000", "filter: max_cutoff_hz must be below Nyquist \\(4000 Hz\\)"),
    ("gain;speed:factors=[0.9, 0]", "item 1: speed: factors\\[1\\] must be >= 0.25, got 0"),
    ("reverb:max_room=[3, 3]", "reverb: max_room must be 3 sizes"),
    ("downsample:rates=9000", "downsample: rates\\[0\\] \\(9000 Hz\\) must be below sample_rate"),
    ("shift:p=2", "shift: p must be <= 1, got 2"),
    ("mu_law:bits=2.5", "mu_law: min_bits must be an integer, got 2.5"),
])
def test_bad_config_names_the_transform_and_the_field(config, message):
    with pytest.raises(AugmentError, match=message):
        Chain.from_config(config, sample_rate=RATE)


def test_chain_from_yaml_and_omegaconf_lists(tmp_path):
    from omegaconf import OmegaConf

    items = [{"name": "gain", "min_db": -3, "max_db": -3}, {"name": "polarity", "p": 1.0}]
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump({"chain": items}))
    x = tones(2, 1, 100)
    for config in (items, str(path), path, OmegaConf.create(items), "gain:min_db=-3,max_db=-3;polarity:p=1"):
        torch.testing.assert_close(Chain.from_config(config, sample_rate=RATE)(x, seed=0).wav, -x * 10 ** (-3 / 20))


def test_the_package_docstring_example_runs():
    import audiokit.augment

    code = audiokit.augment.__doc__.split("::\n")[1].split("\nThe same config")[0]
    namespace: dict = {}
    exec(compile(textwrap.dedent(code), "audiokit.augment example", "exec"), namespace)
    out, wav = namespace["out"], namespace["wav"]
    assert out.wav.shape == wav.shape and out.lengths.tolist() == [16000] * 4 + [12000] * 4
    assert torch.equal(out.wav[4:, :, 12000:], wav[4:, :, 12000:])  # padding as it came
    assert not torch.allclose(out.wav, wav)


def test_cli_augment_applies_the_chain_to_a_file(tmp_path, capsys):
    save(tmp_path / "in.wav", tones(1, 2, 4000)[0], RATE)
    spec = "gain:min_db=-6,max_db=-6;noise:snr_db=20;speed:factors=1.25"
    assert main(["augment", str(tmp_path / "in.wav"), str(tmp_path / "a.wav"), "--chain", spec, "--seed", "3"]) == 0
    assert main(["augment", str(tmp_path / "in.wav"), str(tmp_path / "b.wav"), "--chain", spec, "--seed", "3"]) == 0
    a, rate = load(tmp_path / "a.wav")
    b, _ = load(tmp_path / "b.wav")
    assert rate == RATE and a.shape == (2, 3200) and torch.equal(a, b)  # 4000 / 1.25 samples, same seed same file
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump([{"name": "gain", "max_db": "x"}]))
    assert main(["augment", str(tmp_path / "in.wav"), str(tmp_path / "c.wav"), "--chain",
                 str(tmp_path / "bad.yaml")]) == 2
    assert "gain: max_db must be a number" in capsys.readouterr().err
    assert not (tmp_path / "c.wav").exists()
