"""Every audio module gives the CPU's answer on a GPU (skipped where there is none)."""
import pytest
import torch

from audiokit.audio import (
    ISTFT,
    MFCC,
    STFT,
    LogMel,
    LoudnessNormalize,
    MelSpectrogram,
    Resample,
    Spectrogram,
    integrated_loudness,
    overlap_add,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

MODULES = [
    lambda: Resample(orig_sample_rate=16000, new_sample_rate=44100),
    lambda: STFT(n_fft=512, hop_length=128),
    lambda: Spectrogram(n_fft=512, hop_length=128),
    lambda: MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40),
    lambda: LogMel(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40),
    lambda: MFCC(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40),
    lambda: LoudnessNormalize(sample_rate=16000),
]


def signal() -> torch.Tensor:
    return 0.1 * torch.randn(2, 2, 16000, generator=torch.Generator().manual_seed(0))  # (B, C, T)


@cuda
@pytest.mark.parametrize("make", MODULES)
def test_module_on_gpu_matches_cpu(make):
    module = make()
    x = signal()
    expected = module(x)
    got = module.to("cuda")(x.cuda()).cpu()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    scale = expected.abs().max()
    assert (got - expected).abs().max() <= 1e-5 * scale


@cuda
def test_istft_and_loudness_and_overlap_add_on_gpu():
    x = signal().cuda()
    stft, istft = STFT(n_fft=512, hop_length=128).cuda(), ISTFT(n_fft=512, hop_length=128).cuda()
    assert (istft(stft(x), length=x.shape[-1]) - x).abs().max() < 1e-5
    torch.testing.assert_close(
        integrated_loudness(x, 16000).cpu(), integrated_loudness(x.cpu(), 16000), atol=1e-6, rtol=0
    )
    y = overlap_add(lambda c: c, x, 1000, 0.25, batch_chunks=4)
    assert y.device.type == "cuda"
    assert (y - x).abs().max() < 1e-6
