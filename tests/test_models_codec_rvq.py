"""The RVQ codec and its SEANet encoder/decoder: bitrate arithmetic, EnCodec's parameter count, causality,
streaming equals offline, every bitrate decodes, a tiny codec overfits one clip, clear errors."""
from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from audiokit.models.codec import (
    RVQCodec,
    SEANetDecoder,
    SEANetEncoder,
    encodec_24khz,
    encodec_24khz_config,
    rvq_codec,
)
from audiokit.models.codec.seanet import ResidualBlock
from audiokit.nn.quantization import ResidualVectorQuantizer
from audiokit.nn.snake import Snake

HOP = 8  # the tiny codec: ratios (4, 2)


def tiny(**kw) -> RVQCodec:
    """8 kHz, hop 8 (1000 frames/s), 4 codebooks of 64 (6 kbit/s each): a CPU-sized codec."""
    args = dict(sample_rate=8000, channels=1, dimension=16, n_filters=4, ratios=(4, 2), lstm_layers=1,
                num_quantizers=4, codebook_size=64, quantizer_dropout=0.0)
    return rvq_codec(**{**args, **kw})


def tiny_network(cls, **kw):
    args = dict(channels=1, dimension=16, n_filters=4, ratios=(4, 2), lstm_layers=1)
    return cls(**{**args, **kw})


def block_sizes(total: int, unit: int, rng: random.Random, choices=(0, 1, 2, 3, 5, 8)) -> list[int]:
    sizes, done = [], 0
    while done < total:
        n = min(unit * rng.choice(choices), total - done)
        sizes.append(n)
        done += n
    return sizes


def split(x: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    return list(torch.split(x, sizes, dim=-1))


# ------------------------------------------------------------------------------------------ configuration
def test_frame_rate_and_bitrates_follow_the_config():
    codec = rvq_codec()  # 24 kHz, ratios 8, 5, 4, 2, 16 codebooks of 1024
    assert codec.hop_length == 320 and codec.frame_rate == 75.0 and codec.sample_rate == 24000
    # 75 frames/s * 10 bits = 0.75 kbit/s per codebook
    assert [codec.bitrate(n) for n in (2, 4, 8, 16)] == [1.5, 3.0, 6.0, 12.0]
    assert [codec.num_quantizers_for_bitrate(b) for b in (1.5, 3, 6, 12)] == [2, 4, 8, 16]
    assert codec.num_quantizers_for_bitrate(2.0) == 2  # the most codebooks that fit
    assert codec.bitrates == [0.75 * n for n in range(1, 17)]
    assert codec.latency == 319

    preset = encodec_24khz()
    assert preset.num_codebooks == 32 and preset.bitrates == [1.5, 3.0, 6.0, 12.0, 24.0]
    assert [preset.num_quantizers_for_bitrate(b) for b in preset.bitrates] == [2, 4, 8, 16, 32]
    preset.eval()
    with torch.no_grad():
        codes = preset.encode(torch.randn(1, 1, 24000), bitrate=6)
        assert codes.shape == (1, 8, 75)  # 1 s at 75 Hz, 8 codebooks
        assert preset.decode(codes).shape == (1, 1, 24000)

    small = tiny()  # 8000 / 8 = 1000 frames/s, 6 bits: 6 kbit/s per codebook
    assert small.frame_rate == 1000.0 and small.bitrates == [6.0, 12.0, 18.0, 24.0]


def test_encodec_24khz_parameter_count_matches_encodec():
    # EnCodec's SEANet (facebookresearch/encodec, modules/seanet.py) at n_filters 32, ratios 8,5,4,2,
    # dimension 128, 2-layer LSTM, weight norm (g: one per output channel of a conv, per input channel of a
    # transposed conv), residual blocks k3 -> k1 at half width plus a 1x1 shortcut conv:
    def conv(c_in, c_out, k):
        return c_out * c_in * k + c_out + c_out  # v, bias, g

    def conv_tr(c_in, c_out, k):
        return c_in * c_out * k + c_out + c_in

    def res(d):
        return conv(d, d // 2, 3) + conv(d // 2, d, 1) + conv(d, d, 1)

    lstm = 2 * (4 * 512 * (512 + 512) + 2 * 4 * 512)
    encoder = (conv(1, 32, 7) + sum(res(w) + conv(w, 2 * w, 2 * r) for w, r in zip((32, 64, 128, 256), (2, 4, 5, 8)))
               + lstm + conv(512, 128, 7))
    decoder = (conv(128, 512, 7) + lstm
               + sum(conv_tr(2 * w, w, 2 * r) + res(w) for w, r in zip((256, 128, 64, 32), (8, 5, 4, 2)))
               + conv(32, 1, 7))
    assert (encoder, decoder) == (7_425_792, 7_426_018)  # 14.85 M in all, as the research notes computed

    def count(module):
        return sum(p.numel() for p in module.parameters())

    model = encodec_24khz()
    assert count(model.encoder) == encoder and count(model.decoder) == decoder
    assert count(model.quantizer) == 0  # EMA codebooks are buffers, as EnCodec's
    assert count(model) == 14_851_810
    assert count(rvq_codec()) == 14_851_810  # 16 codebooks instead of 32: same network
    assert encodec_24khz_config()["target_bandwidths"] == (1.5, 3.0, 6.0, 12.0, 24.0)


@pytest.mark.parametrize("causal", [True, False])
def test_same_network_as_the_encodec_package(causal):
    # EnCodec's SEANet with zero padding (pad_mode "constant"; it reflects by default): the same parameters
    # in the same order, and with its weights copied in, the same outputs.
    modules = pytest.importorskip("encodec.modules")
    torch.manual_seed(0)
    ours = encodec_24khz(causal=causal)
    theirs = [modules.SEANetEncoder(causal=causal, norm="weight_norm", pad_mode="constant"),
              modules.SEANetDecoder(causal=causal, norm="weight_norm", pad_mode="constant")]
    for mine, reference in zip((ours.encoder, ours.decoder), theirs):
        pairs = list(zip(mine.parameters(), reference.parameters(), strict=True))
        assert all(a.shape == b.shape for a, b in pairs)
        with torch.no_grad():
            for a, b in pairs:
                a.copy_(b)
    x = torch.randn(2, 1, 10 * 320)
    with torch.no_grad():
        z = theirs[0](x)
        assert (ours.encoder(x) - z).abs().max() < 1e-5
        assert (ours.decoder(z) - theirs[1](z)).abs().max() < 1e-5


def test_true_skip_adds_the_input_in_place_of_the_shortcut_conv():
    torch.manual_seed(0)
    conv, identity = tiny_network(SEANetEncoder), tiny_network(SEANetEncoder, true_skip=True)
    blocks = [m for m in conv.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 and all(m.shortcut is None for m in identity.modules() if isinstance(m, ResidualBlock))
    # the 1x1 shortcut convs are all that goes: weight (dim x dim), weight-norm gain (dim) and bias (dim)
    def count(model: nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    removed = sum(count(m.shortcut) for m in blocks)
    assert count(conv) - count(identity) == removed == 4 * 6 + 8 * 10
    block = ResidualBlock(6, 3, 1, "elu", causal=True, weight_norm=True, true_skip=True)
    x = torch.randn(2, 6, 50)
    assert torch.allclose(block(x), x + block.block(x))
    assert count(rvq_codec(true_skip=True)) < count(rvq_codec())


def test_weight_norm_on_every_conv_and_off_on_request():
    codec = tiny()
    convs = [m for m in codec.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]
    assert len(convs) == 2 * (2 + 2 * 4)  # per side: first, last, per stage 3 in the residual block + 1 strided
    for m in convs:
        assert parametrize.is_parametrized(m, "weight")
        g, v = m.parametrizations.weight.original0, m.parametrizations.weight.original1
        assert g.shape == (v.shape[0], 1, 1)
        assert torch.allclose(m.weight, g * v / v.norm(dim=(1, 2), keepdim=True), atol=1e-6)
    plain = tiny(weight_norm=False)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_snake_matches_its_formula():
    torch.manual_seed(0)
    snake = Snake(3)
    with torch.no_grad():
        snake.alpha.copy_(torch.tensor([0.5, 1.0, 3.0]))
    x = torch.randn(2, 3, 50)
    alpha = torch.tensor([0.5, 1.0, 3.0])[:, None]
    expected = x + 1.0 / alpha * torch.sin(alpha * x) ** 2
    y = snake(x)
    assert (y - expected).abs().max() < 1e-6
    y.sum().backward()
    assert snake.alpha.grad.abs().min() > 0  # alpha is learnt
    codec = tiny(activation="snake")
    assert sum(isinstance(m, Snake) for m in codec.modules()) == 2 * (2 * 3 + 1)
    assert not any(isinstance(m, nn.ELU) for m in codec.modules())


# ------------------------------------------------------------------------------------------ causality
def test_causal_encoder_frame_sees_no_later_samples():
    torch.manual_seed(0)
    encoder = tiny_network(SEANetEncoder)
    x = torch.randn(1, 1, 12 * HOP, requires_grad=True)
    z = encoder(x)
    assert z.shape == (1, 16, 12)
    for j in (0, 5, 11):
        (grad,) = torch.autograd.grad(z[..., j].sum(), x, retain_graph=True)
        assert grad[..., (j + 1) * HOP :].abs().sum() == 0  # frame j: samples < (j + 1) * hop only
        assert grad[..., j * HOP : (j + 1) * HOP].abs().max() > 0


def test_causal_decoder_sample_sees_no_later_frames():
    torch.manual_seed(0)
    decoder = tiny_network(SEANetDecoder)
    z = torch.randn(1, 16, 12, requires_grad=True)
    y = decoder(z)
    assert y.shape == (1, 1, 12 * HOP)
    for t in (0, 37, 12 * HOP - 1):
        (grad,) = torch.autograd.grad(y[..., t].sum(), z, retain_graph=True)
        assert grad[..., t // HOP + 1 :].abs().sum() == 0  # sample t: frames <= t // hop only
        assert grad[..., t // HOP].abs().max() > 0


def test_non_causal_option_sees_the_future():
    torch.manual_seed(0)
    encoder = tiny_network(SEANetEncoder, causal=False)
    decoder = tiny_network(SEANetDecoder, causal=False)
    x = torch.randn(1, 1, 12 * HOP, requires_grad=True)
    (grad,) = torch.autograd.grad(encoder(x)[..., 0].sum(), x)
    assert grad[..., HOP:].abs().max() > 0
    z = torch.randn(1, 16, 12, requires_grad=True)
    y = decoder(z)
    assert y.shape == (1, 1, 12 * HOP)
    (grad,) = torch.autograd.grad(y[..., 0].sum(), z)
    assert grad[..., 1:].abs().max() > 0
    codec = tiny(causal=False).eval()
    assert not codec.causal and codec.latency is None
    x = torch.randn(2, 1, 101)
    with torch.no_grad():
        out = codec(x)
        assert out.audio.shape == x.shape
        assert torch.equal(codec.encode(x), out.codes)
    with pytest.raises(ValueError, match="causal"):
        codec.init_encode_state(2)
    with pytest.raises(ValueError, match="causal"):
        decoder.init_state(1)


# ------------------------------------------------------------------------------------------ streaming
STREAM_VARIANTS = [{}, dict(n_residual_layers=2, lstm_layers=2, activation="snake"),  # + dilation 2, Snake
                   dict(true_skip=True)]


@pytest.mark.parametrize("variant", STREAM_VARIANTS)
def test_streaming_encode_equals_offline(variant):
    torch.manual_seed(0)
    codec = tiny(**variant).eval()
    x = torch.randn(2, 1, 60 * HOP)
    rng = random.Random(0)
    with torch.no_grad():
        z_offline = codec.encoder(x)
        codes_offline = codec.encode(x, n_quantizers=3)
        for _ in range(3):  # blocks of whole frames, some empty
            state, codes = codec.init_encode_state(2), []
            for block in split(x, block_sizes(x.shape[-1], HOP, rng)):
                c, state = codec.encode_step(block, state, n_quantizers=3)
                assert c.shape[-1] == block.shape[-1] // HOP
                codes.append(c)
            assert torch.equal(torch.cat(codes, -1), codes_offline)
        # the encoder alone takes blocks of any length and returns the frames they complete
        state, frames = codec.encoder.init_state(2), []
        for block in split(x, block_sizes(x.shape[-1], 1, rng, choices=(0, 1, 3, 7, 13, 50))):
            z, state = codec.encoder.step(block, state)
            frames.append(z)
        assert (torch.cat(frames, -1) - z_offline).abs().max() < 1e-5


@pytest.mark.parametrize("variant", STREAM_VARIANTS)
def test_streaming_decode_equals_offline(variant):
    torch.manual_seed(0)
    codec = tiny(**variant).eval()
    with torch.no_grad():
        codes = codec.encode(torch.randn(2, 1, 60 * HOP))
        offline = codec.decode(codes)
        rng = random.Random(1)
        for _ in range(3):
            state, audio = codec.init_decode_state(2), []
            for block in split(codes, block_sizes(codes.shape[-1], 1, rng)):
                y, state = codec.decode_step(block, state)
                assert y.shape == (2, 1, block.shape[-1] * HOP)
                audio.append(y)
            assert (torch.cat(audio, -1) - offline).abs().max() < 1e-5


def test_streaming_ends_with_encode_padding():
    # A stream of T samples, finished with -T % hop zeros, codes the same frames as encode(T samples).
    torch.manual_seed(0)
    codec = tiny().eval()
    x = torch.randn(1, 1, 10 * HOP + 3)
    with torch.no_grad():
        state = codec.init_encode_state(1)
        first, state = codec.encode_step(x[..., :45], state)
        rest, state = codec.encode_step(x[..., 45:], state)
        last, state = codec.encode_step(torch.zeros(1, 1, -x.shape[-1] % HOP), state)
        assert torch.equal(torch.cat([first, rest, last], -1), codec.encode(x))


# ------------------------------------------------------------------------------------------ bitrates and lengths
def test_every_bitrate_round_trips_and_codes_are_deterministic():
    torch.manual_seed(0)
    codec = tiny().eval()
    x = torch.randn(2, 1, 203)  # not a whole number of frames
    frames = math.ceil(203 / HOP)
    with torch.no_grad():
        full = codec.encode(x)
        assert full.shape == (2, 4, frames) and full.dtype == torch.long
        for bitrate in codec.bitrates:
            n = codec.num_quantizers_for_bitrate(bitrate)
            codes = codec.encode(x, bitrate=bitrate)
            assert torch.equal(codes, codec.encode(x, bitrate=bitrate))  # deterministic in eval
            assert torch.equal(codes, full[:, :n])  # a prefix of the residual codes
            audio = codec.decode(codes, length=203)
            assert audio.shape == (2, 1, 203) and torch.isfinite(audio).all()
            assert codec.decode(codes).shape == (2, 1, frames * HOP)
            # decode(encode(x)) is what forward reconstructs in eval
            assert (audio - codec(x, n_quantizers=n).audio).abs().max() < 1e-5


def test_forward_output_and_any_length():
    torch.manual_seed(0)
    codec = tiny(quantizer_dropout=1.0).train()
    out = codec(torch.randn(3, 1, 803))  # 3 x 101 frames: more vectors than codes for the k-means init
    assert out.audio.shape == (3, 1, 803) and out.codes.shape == (3, 4, math.ceil(803 / HOP))
    assert out.perplexity.shape == (4,) and out.active_codebooks.shape == (3,)
    assert out.quantizer_loss.dim() == 0 and out.quantizer_loss > 0
    out.audio.pow(2).mean().add(out.quantizer_loss).backward()
    assert codec.encoder.layers[0].conv.parametrizations.weight.original1.grad.abs().max() > 0
    assert codec.usage().used_fraction.shape == (4,)
    assert codec(torch.randn(1, 1, 1)).audio.shape == (1, 1, 1)


# ------------------------------------------------------------------------------------------ learning
def test_tiny_codec_overfits_one_clip():
    torch.manual_seed(0)
    codec = tiny(n_filters=8, lstm_layers=0, threshold_dead_code=1.0)
    t = torch.arange(2048) / 8000
    clip = (0.5 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 660 * t + 1.0))
    clip = (clip * torch.hann_window(2048, periodic=False).sqrt())[None, None]  # (1, 1, 2048)
    window = torch.hann_window(256)

    def errors() -> tuple[float, float]:
        """Waveform L1 and STFT-magnitude L1 of the eval-mode reconstruction (codes, all 4 codebooks)."""
        codec.eval()
        with torch.no_grad():
            audio = codec(clip).audio
            spec = [torch.stft(s[:, 0], 256, 64, window=window, return_complex=True).abs() for s in (audio, clip)]
            return (audio - clip).abs().mean().item(), (spec[0] - spec[1]).abs().mean().item()

    start = errors()
    optimizer = torch.optim.Adam(codec.parameters(), lr=3e-3)
    codec.train()
    for _ in range(200):
        out = codec(clip)
        loss = (out.audio - clip).abs().mean() + out.quantizer_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = errors()
    assert end[0] < 0.3 * start[0] and end[1] < 0.3 * start[1]  # measured: 7 % and 10 %


# ------------------------------------------------------------------------------------------ errors
def test_clear_errors():
    codec = tiny().eval()
    for bad in (torch.randn(2, 100), torch.randn(1, 2, 100), torch.zeros(1, 1, 100, dtype=torch.long),
                torch.randn(1, 1, 0)):
        with pytest.raises(ValueError, match=r"expected float audio of shape \(batch, 1, time\)"):
            codec.encode(bad)
        with pytest.raises(ValueError, match=r"expected float audio of shape \(batch, 1, time\)"):
            codec(bad)
    x = torch.randn(1, 1, 64)
    for bitrate in (1.0, 30.0, "6"):  # below one codebook (6 kbit/s), above four, not a number
        with pytest.raises(ValueError, match=r"bitrate must be a number of kbit/s in 6\.\.24"):
            codec.encode(x, bitrate=bitrate)
    with pytest.raises(ValueError, match="not both"):
        codec.encode(x, bitrate=6, n_quantizers=1)
    with pytest.raises(ValueError, match=r"n_quantizers must be an int in 1\.\.4"):
        codec.encode(x, n_quantizers=5)
    codes = codec.encode(x)
    with pytest.raises(ValueError, match=r"length must be an int in 57\.\.64"):
        codec.decode(codes, length=65)
    with pytest.raises(ValueError, match="codes"):
        codec.decode(codes[:, :, :, None])
    with pytest.raises(ValueError, match=r"expected float latent frames of shape \(batch, 16, frames\)"):
        codec.decoder(torch.randn(1, 8, 4))
    with pytest.raises(ValueError, match="target_bandwidths"):
        tiny(target_bandwidths=(12.0, 6.0))
    with pytest.raises(ValueError, match="bitrate must be"):
        tiny(target_bandwidths=(1.5, 6.0))
    with pytest.raises(ValueError, match="activation must be one of"):
        tiny(activation="relu")
    with pytest.raises(ValueError, match="ratios must be a non-empty sequence"):
        tiny(ratios=())
    with pytest.raises(ValueError, match="one latent dimension"):
        RVQCodec(tiny_network(SEANetEncoder), ResidualVectorQuantizer(8, 2, 64), tiny_network(SEANetDecoder), 8000)
    with pytest.raises(ValueError, match="same hop_length"):
        RVQCodec(tiny_network(SEANetEncoder), ResidualVectorQuantizer(16, 2, 64),
                 tiny_network(SEANetDecoder, ratios=(2, 2)), 8000)
    with pytest.raises(ValueError, match="unknown arguments"):
        encodec_24khz(n_codebooks=8)

