"""Causal Demucs block by block (DemucsStreamer) equals the offline model on the same samples."""
from __future__ import annotations

import pytest
import torch

from audiokit.models.separation import Demucs, demucs_tiny
from audiokit.models.separation.streaming import DemucsStreamer


def causal_model(seed: int = 0, **kwargs) -> Demucs:
    torch.manual_seed(seed)
    args = dict(audio_channels=2, channels=6, depth=3, lstm_layers=2, resample=False, causal=True)
    model = Demucs(["a", "b", "c"], **{**args, **kwargs}).eval()
    with torch.no_grad():  # biases away from 0, so a bias added twice (or never) in the overlap shows
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                m.bias.add_(0.05 * torch.randn_like(m.bias))
    return model


def stream(streamer: DemucsStreamer, mix: torch.Tensor, sizes) -> torch.Tensor:
    outs, start = [], 0
    for n in sizes:
        outs.append(streamer.push(mix[..., start : start + n]))
        start += n
    outs.append(streamer.push(mix[..., start:]))
    outs.append(streamer.flush())
    return torch.cat(outs, dim=-1)


@pytest.mark.parametrize("step_blocks", [1, 3])
def test_streaming_equals_offline_for_any_block_sizes(step_blocks):
    model = causal_model()
    span = model.stride ** model.depth  # 64
    mix = torch.randn(2, 2, 1000)
    with torch.no_grad():
        offline = model(mix)
    g = torch.Generator().manual_seed(1)
    sizes = torch.randint(1, 150, (12,), generator=g).tolist()  # odd sizes, blocks smaller than a step
    streamer = DemucsStreamer(model, step=span * step_blocks)
    online = stream(streamer, mix, sizes)
    assert online.shape == offline.shape
    assert (online - offline).abs().max() < 1e-5 * offline.abs().max()
    # the state was reset by flush: the same signal again gives the same stems
    again = stream(streamer, mix, [span * step_blocks] * 3)
    assert (again - online).abs().max() < 1e-6 * offline.abs().max()


def test_streaming_unbatched_blocks_and_latency():
    model = causal_model(audio_channels=1, depth=2)
    streamer = DemucsStreamer(model)
    assert streamer.latency == model.latency == 15
    mix = torch.randn(1, 333)
    first = streamer.push(mix[:, :20])
    assert first.shape == (3, 1, 16)  # one whole step is out; 4 samples wait
    rest = torch.cat([first, streamer.push(mix[:, 20:]), streamer.flush()], dim=-1)
    with torch.no_grad():
        assert (rest - model(mix[None])[0]).abs().max() < 1e-5


def test_streaming_with_the_tiny_preset_and_no_lstm():
    for model in (demucs_tiny(causal=True).eval(), causal_model(lstm_layers=0)):
        mix = torch.randn(1, model.audio_channels, 700)
        with torch.no_grad():
            offline = model(mix)
        online = stream(DemucsStreamer(model), mix, [64, 1, 200, 63])
        assert (online - offline).abs().max() < 1e-5


def test_streamer_refuses_what_it_cannot_stream():
    with pytest.raises(ValueError, match="causal=True"):
        DemucsStreamer(demucs_tiny(causal=False))
    with pytest.raises(ValueError, match="normalize=False"):
        DemucsStreamer(Demucs(["a"], channels=4, depth=2, resample=False, causal=True, normalize=True))
    model = causal_model()
    with pytest.raises(ValueError, match="multiple of stride\\*\\*depth = 64"):
        DemucsStreamer(model, step=100)
    streamer = DemucsStreamer(model)
    with pytest.raises(ValueError, match="expected 2 channels"):
        streamer.push(torch.zeros(1, 3, 64))
    streamer.push(torch.zeros(2, 2, 10))
    with pytest.raises(ValueError, match="batch size changed"):
        streamer.push(torch.zeros(1, 2, 10))
    with pytest.raises(ValueError, match="same number of dimensions"):
        streamer.push(torch.zeros(2, 10))
