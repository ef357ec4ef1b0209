"""ESC (Efficient Speech Codec): window attention equals a window-by-window Swin reference, the composed patch
de-embedding equals its three layers, the STFT front end reconstructs, bitrate arithmetic and ESC-Base's
parameter count, lengths and codes at every bitrate, decode(encode) equals forward, the pre-training bypass,
quantizer dropout, clear errors, and a tiny ESC that overfits one batch through CodecTask."""
from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch.nn import functional as F

from audiokit.models.codec import ESC, esc_base, esc_tiny
from audiokit.models.codec.esc import ComplexSTFT, PatchDeEmbed, esc_codec
from audiokit.nn.quantization import CrossScaleResidualVectorQuantizer
from audiokit.nn.window_attention import WindowAttentionBlock
from audiokit.tasks.codec import CodecTask

HOP = 320  # samples per code frame at 16 kHz


def speech_like(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """Harmonic tones with a gliding pitch and a syllable-rate envelope, ``(batch, 1, length)`` at 16 kHz."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 16000
    clips = []
    for _ in range(batch):
        f0 = 100 + 100 * torch.rand((), generator=g)
        phase = 2 * math.pi * torch.cumsum(f0 * (1 + 0.1 * torch.sin(2 * math.pi * 3 * t)), 0) / 16000
        voice = sum(torch.sin(k * phase) / k for k in range(1, 8))
        clips.append(0.2 * voice * (0.6 + 0.4 * torch.sin(2 * math.pi * 4 * t)))
    return torch.stack(clips)[:, None]


# ------------------------------------------------------------------------------------------ window attention
def swin_reference(block: WindowAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """The block computed window by window as Swin does: pad time, roll, partition, attend with the bias of each
    pair's offset and Swin's three-region mask, un-roll, crop. Frequency windows shrink to F when F < window."""
    batch, frames, freqs, dim = x.shape
    w = block.window_size
    wt, wf = w, min(w, freqs)
    st, sf = block.shift, (block.shift if freqs > w else 0)
    padded = math.ceil(frames / wt) * wt
    heads = block.attn.num_heads
    d = dim // heads
    y = F.pad(block.norm1(x), (0, 0, 0, 0, 0, padded - frames))
    valid = torch.arange(padded) < frames
    y, valid = torch.roll(y, (-st, -sf), dims=(1, 2)), torch.roll(valid, -st)

    def regions(size, window, shift):  # Swin's img_mask slices, in the rolled grid
        ids = torch.zeros(size, dtype=torch.long)
        if shift:
            ids[size - window:size - shift], ids[size - shift:] = 1, 2
        return ids

    region_t, region_f = regions(padded, wt, st), regions(freqs, wf, sf)
    out = torch.zeros_like(y)
    for i in range(padded // wt):
        for j in range(freqs // wf):
            ts, fs = slice(i * wt, (i + 1) * wt), slice(j * wf, (j + 1) * wf)
            tokens = y[:, ts, fs].reshape(batch, wt * wf, dim)
            pos = [(a, b) for a in range(wt) for b in range(wf)]
            region = [int(region_t[i * wt + a]) * 3 + int(region_f[j * wf + b]) for a, b in pos]
            key_ok = [bool(valid[i * wt + a]) for a, _ in pos]
            qkv = block.attn.qkv(tokens).view(batch, wt * wf, 3, heads, d)
            result = torch.zeros(batch, wt * wf, heads, d)
            for h in range(heads):
                q, k, v = qkv[:, :, 0, h], qkv[:, :, 1, h], qkv[:, :, 2, h]
                scores = q @ k.transpose(1, 2) / math.sqrt(d)
                for n, (a, b) in enumerate(pos):
                    for m, (a2, b2) in enumerate(pos):
                        offset = (a - a2 + w - 1) * (2 * w - 1) + (b - b2 + w - 1)  # (dt, df) row of the table
                        scores[:, n, m] += block.attn.relative_bias[offset, h]
                        if n != m and (region[n] != region[m] or not key_ok[m]):
                            scores[:, n, m] = float("-inf")
                result[:, :, h] = scores.softmax(-1) @ v
            out[:, ts, fs] = block.attn.proj(result.reshape(batch, wt * wf, dim)).view(batch, wt, wf, dim)
    out = torch.roll(out, (st, sf), dims=(1, 2))[:, :frames]
    x = x + out
    return x + block.mlp(block.norm2(x))


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("grid", [(8, 8), (7, 8), (10, 2), (5, 4)])
def test_window_attention_equals_swin_reference(shifted, grid):
    torch.manual_seed(0)
    block = WindowAttentionBlock(12, 3, window_size=4, shifted=shifted)
    with torch.no_grad():  # a visible relative-position bias
        block.attn.relative_bias.normal_()
    x = torch.randn(2, *grid, 12)
    expected = swin_reference(block, x)
    assert (block(x) - expected).abs().max() < 1e-5  # training path
    with torch.no_grad():
        assert (block(x) - expected).abs().max() < 1e-5  # inference path (oneDNN linear, chunked)


def test_window_attention_inference_chunks_equal_one_pass(monkeypatch):
    torch.manual_seed(0)
    block = WindowAttentionBlock(24, 4, window_size=4, shifted=True)
    x = torch.randn(2, 37, 16, 24)  # time padded to 40: shifted, masked windows in every chunk
    whole = block(x)
    monkeypatch.setattr(WindowAttentionBlock, "_CHUNK", 1000)  # a few windows / tokens per chunk
    with torch.no_grad():
        chunked = block(x)
    assert (chunked - whole).abs().max() < 1e-5


def test_token_never_depends_on_time_padding():
    # 6 frames are padded to 8; changing frames 4..5 changes nothing at frames 0..3 of an unshifted block
    torch.manual_seed(0)
    block = WindowAttentionBlock(8, 2, window_size=4)
    x = torch.randn(1, 6, 4, 8)
    x2 = x.clone()
    x2[:, 4:] = torch.randn(1, 2, 4, 8)
    assert torch.equal(block(x)[:, :4], block(x2)[:, :4])
    with torch.no_grad():  # the inference path too
        assert torch.equal(block(x)[:, :4], block(x2)[:, :4])


# ------------------------------------------------------------------------------------------ front end, patches
def test_stft_front_end_reconstructs():
    stft = ComplexSTFT(382, 80, 320)
    x = torch.randn(2, 40 * 80)
    spec = stft(x)
    assert spec.shape == (2, 192, 40) and spec.is_complex()
    assert (stft.inverse(spec) - x).abs().max() < 1e-5


def test_patch_deembed_is_conv5_shuffle_conv3():
    # ESC's de-embedding: conv5 (dim -> dim * 6) on the coarse grid extended by one ring, pixel shuffle
    # (3 bins, 2 frames), conv3 to re/im without padding, crop: one composed 7 x 7 convolution here.
    torch.manual_seed(0)
    layer = PatchDeEmbed(8, (3, 2))
    x = torch.randn(2, 5, 4, 8)  # (B, P time, Q freq, C)
    coarse = x.permute(0, 3, 2, 1)  # (B, C, Q, P): ESC's (freq, time) orientation
    u = F.conv2d(coarse, layer.expand.weight, layer.expand.bias, padding=3)  # 5 x 5 conv, one extra ring
    b, c6, q, p = u.shape
    v = u.view(b, 8, 3, 2, q, p).permute(0, 1, 4, 2, 5, 3).reshape(b, 8, 3 * q, 2 * p)  # pixel shuffle
    y = F.conv2d(v, layer.out.weight, layer.out.bias)[:, :, 2:2 + 12, 1:1 + 10]  # fine grid of the real patches
    spec = layer(x)
    assert spec.shape == (2, 12, 10)
    assert (torch.stack([spec.real, spec.imag], 1) - y).abs().max() < 1e-5


# ------------------------------------------------------------------------------------------ configuration
def test_bitrates_and_stream_geometry():
    model = esc_tiny()
    assert (model.sample_rate, model.channels, model.hop_length, model.frame_rate) == (16000, 1, 320, 50.0)
    assert (model.num_streams, model.num_codebooks, model.codebook_size) == (6, 18, 1024)
    assert not model.causal and model.latency is None
    # 3 codebooks x 10 bits x 50 vectors/s = 1.5 kbit/s per stream
    assert model.bitrates == [1.5, 3.0, 4.5, 6.0, 7.5, 9.0]
    assert [model.num_quantizers_for_bitrate(b) for b in model.bitrates] == [3, 6, 9, 12, 15, 18]
    assert model.bitrate(9) == 4.5 and model.bitrate() == 9.0
    base = esc_base()
    # stream vectors (coarsest first): 2 frames x freq x channels = (2x2x384, 2x2x384, 2x4x192, 2x8x144,
    # 2x16x96, 2x32x72), split into 3 groups of 512, 512, 512, 768, 1024, 1536
    assert base.quantizer.dims == [1536, 1536, 1536, 2304, 3072, 4608]
    assert [s.quantizers[0].dim for s in base.quantizer.scales] == [512, 512, 512, 768, 1024, 1536]


def test_esc_base_parameter_count():
    def block(c, heads):  # 2 LayerNorms, qkv, proj, MLP 4x, relative-position table of 7 x 7 offsets
        return 2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c) + 49 * heads

    dims, heads = [45, 72, 96, 144, 192, 384], [3, 6, 12, 24, 24]
    embed = 45 * 2 * 3 * 2 + 45 + 2 * 45  # Conv2d (3, 2) + LayerNorm
    encoder = embed + 2 * block(45, 3) + sum(2 * block(dims[i], heads[i]) + 2 * 2 * dims[i] + 2 * dims[i] * dims[i + 1]
                                             for i in range(5))  # + PatchMerge: LayerNorm(2C), Linear(2C, C')
    decoder = (sum(2 * block(dims[i + 1], heads[i]) + 2 * dims[i + 1] + dims[i + 1] * 2 * dims[i] for i in range(5))
               + 2 * block(45, 3) + (45 * 270 * 25 + 270) + (2 * 45 * 9 + 2))  # PatchSplit; conv5, conv3
    quantizer = sum(3 * (g * 8 + 8 + 8 * g + g + 1024 * 8) for g in (512, 512, 512, 768, 1024, 1536))
    model = esc_base()

    def count(module):
        return sum(p.numel() for p in module.parameters())

    assert (count(model.encoder), count(model.decoder), count(model.quantizer)) == (encoder, decoder, quantizer)
    # ESC reports 8.39 M: its quantizer projections have no biases (18 x 8 in, 3 x (512 + ... + 1536) out)
    biases = 18 * 8 + 3 * (512 * 3 + 768 + 1024 + 1536)
    assert count(model) == 8_401_109 and count(model) - biases == 8_386_373 and abs(count(model) / 8.39e6 - 1) < 0.01
    assert 300_000 < count(esc_tiny()) < 1_000_000


# ------------------------------------------------------------------------------------------ lengths and codes
@torch.no_grad()
def test_lengths_codes_and_decode_equals_forward_at_every_bitrate():
    torch.manual_seed(0)
    model = esc_tiny().eval()
    for length in (1, 319, 320, 321, 2000):
        x = speech_like(2, length)
        frames = math.ceil(length / HOP)
        full = model.encode(x)
        assert full.shape == (2, 18, frames) and full.dtype == torch.long
        assert int(full.min()) >= 0 and int(full.max()) < 1024
        for streams in range(1, 7):
            codes = model.encode(x, bitrate=1.5 * streams)
            assert torch.equal(codes, full[:, :3 * streams])  # coarse streams don't depend on finer ones
            audio = model.decode(codes, length=length)
            out = model(x, n_quantizers=3 * streams)
            assert audio.shape == out.audio.shape == x.shape
            assert torch.equal(out.codes, codes)
            assert (audio - out.audio).abs().max() < 1e-6  # decode(encode(x)) is what forward reconstructs
            assert model.decode(codes).shape == (2, 1, frames * HOP)
    x = speech_like(1, 1000)
    assert torch.equal(model(x).audio, model(x).audio)  # eval: deterministic


def test_esc_base_round_trip():
    torch.manual_seed(0)
    model = esc_base().eval()
    x = speech_like(1, 1600)
    with torch.no_grad():
        codes = model.encode(x)
        assert codes.shape == (1, 18, 5)
        assert (model.decode(codes, length=1600) - model(x).audio).abs().max() < 1e-6


def test_streams_refine_coarse_to_fine_by_construction():
    # Codebooks holding this input's exact residuals (no projection, no normalisation): stream s then restores
    # the encoder's feature at its scale exactly, so 6 streams give the unquantised reconstruction, while with
    # fewer the finer scales are decoded unrefined. (With random weights the outputs of 1..5 streams are not
    # ordered: how much a scale matters is what training teaches.)
    torch.manual_seed(0)
    tiny = esc_tiny()
    dims = tiny.quantizer.dims
    quantizer = CrossScaleResidualVectorQuantizer(dims, 1024, groups=3, update="gradient", kmeans_init=False,
                                                  threshold_dead_code=0.0)
    model = ESC(tiny.encoder, quantizer, tiny.decoder, 16000).eval()
    x = speech_like(2, 6400)
    with torch.no_grad():
        levels = model.encoder(model._pad(x))  # internals: the streams' grids, as encode computes them
        h = None
        for s in range(6):
            if s >= 2:
                h = model.decoder.stages[s - 2](h)
            target = model._vectors(levels[model._levels[s]])
            residual = target if h is None else target - model._vectors(h)  # (B, D, F)
            for vq, part in zip(quantizer.scales[s].quantizers, residual.chunk(3, 1)):
                vq.quantizers[0].codebook[:40] = part.transpose(1, 2).reshape(-1, part.shape[1])  # B x F = 40
            h = model._grid(target, levels[model._levels[s]].shape)  # exact refinement: the encoder's feature
        for stage in model.decoder.stages[4:]:
            h = stage(h)
        unquantised = model.decoder.synthesize(h)[:, None]
        errors = [float((model.decode(model.encode(x, n_quantizers=3 * s), length=6400) - unquantised).abs().mean())
                  for s in range(1, 7)]
    assert errors[-1] < 1e-3 * float(unquantised.abs().mean())  # float rounding only
    assert min(errors[:-1]) > 1000 * errors[-1], errors  # measured: 0.0077..0.0092 against 1.0e-6
    assert errors[1] == errors[0]  # stream 2 refines the bottom scale again: nothing left after exact stream 1


# ------------------------------------------------------------------------------------------ training behaviour
def test_pretraining_bypasses_the_codebooks():
    torch.manual_seed(0)
    model = esc_tiny(pretrain_steps=5, quantizer_dropout=1.0).train()
    x = speech_like(2, 1280)
    codebooks = [p for n, p in model.named_parameters() if n.endswith("codebook")]
    assert len(codebooks) == 18

    def perturbed_output():
        saved = [p.detach().clone() for p in codebooks]
        with torch.no_grad():
            for p in codebooks:
                p.copy_(torch.randn_like(p))
        audio = model(x).audio  # with autograd, as the output it is compared with
        with torch.no_grad():
            for p, s in zip(codebooks, saved):
                p.copy_(s)
        return audio

    model.set_training_step(0)
    assert model.pretraining
    out = model(x)
    assert out.commitment_loss.item() == 0.0 and out.codebook_loss.item() == 0.0  # exactly
    assert out.active_codebooks.tolist() == [18, 18]  # all streams, whatever the dropout
    assert torch.equal(perturbed_output(), out.audio)  # the codes play no part: the unquantised path
    (out.audio.pow(2).mean() + out.quantizer_loss).backward()
    assert all(p.grad is not None and p.grad.abs().max() == 0 for p in codebooks)  # in the graph, weight 0
    projection = model.quantizer.scales[0].quantizers[0].quantizers[0].in_proj.weight
    assert projection.grad.abs().max() > 0  # the projections are trained

    model.set_training_step(4)
    assert model.pretraining
    model.set_training_step(5)  # pre-training over: codebooks in
    assert not model.pretraining
    torch.manual_seed(1)
    out = model(x)
    assert out.commitment_loss > 0 and out.codebook_loss > 0
    torch.manual_seed(1)  # the same dropout draw
    assert not torch.equal(perturbed_output(), out.audio)
    model.set_training_step(0)
    assert not model.eval().pretraining  # never in eval: the codes are the output


def test_quantizer_dropout_varies_streams_in_training_only():
    torch.manual_seed(0)
    model = esc_tiny(quantizer_dropout=0.75).train()
    x = speech_like(3, 640)
    active = []
    for _ in range(30):
        out = model(x)
        assert len(set(out.active_codebooks.tolist())) == 1  # one draw for the whole batch, as ESC
        active.append(int(out.active_codebooks[0]))
        assert out.codes.shape == (3, 18, 2)  # every stream still runs (weight 0 when dropped)
    assert set(active) <= {3, 6, 9, 12, 15, 18} and len(set(active)) >= 4
    assert 0.1 < active.count(18) / 30 < 0.7  # all six: 1 - 0.75 * 5/6 = 0.375 of the batches
    out.audio.pow(2).mean().add(out.quantizer_loss).backward()
    assert all(p.grad is not None for p in model.parameters())  # every parameter in the graph (DDP)
    model.eval()
    with torch.no_grad():
        first, second = model(x), model(x)
    assert first.active_codebooks.tolist() == [18] * 3 and torch.equal(first.audio, second.audio)


# ------------------------------------------------------------------------------------------ errors
def test_clear_errors():
    model = esc_tiny().eval()
    for bad in (torch.randn(2, 640), torch.randn(1, 2, 640), torch.zeros(1, 1, 640, dtype=torch.long),
                torch.randn(1, 1, 0)):
        with pytest.raises(ValueError, match=r"expected float audio of shape \(batch, 1, time\) at 16000 Hz"):
            model.encode(bad)
        with pytest.raises(ValueError, match=r"expected float audio of shape \(batch, 1, time\)"):
            model(bad)
    x = torch.randn(1, 1, 640)
    for bitrate in (4.0, 0.0, 10.5, "9"):
        with pytest.raises(ValueError, match=r"bitrate must be a whole number of streams of 1.5 kbit/s"):
            model.encode(x, bitrate=bitrate)
    for n in (4, 0, 21, 3.0):
        with pytest.raises(ValueError, match=r"n_quantizers must be a multiple of 3 \(codebooks per stream\)"):
            model.encode(x, n_quantizers=n)
    with pytest.raises(ValueError, match="not both"):
        model.encode(x, bitrate=3.0, n_quantizers=6)
    codes = model.encode(x)
    for bad in (codes[:, :4], torch.cat([codes, codes[:, :3]], 1), codes.float(), codes[0], codes[:, :, :0]):
        with pytest.raises(ValueError, match=r"expected codes as an integer tensor \(batch, 3 x streams, frames\)"):
            model.decode(bad)
    for value in (1024, -1):
        bad = codes.clone()
        bad[0, 5, 1] = value
        with pytest.raises(ValueError, match=r"codes must lie in 0\.\.1023"):
            model.decode(bad)
    with pytest.raises(ValueError, match=r"length must be an int in 321\.\.640"):
        model.decode(codes, length=641)
    with pytest.raises(ValueError, match="unknown arguments"):
        esc_base(heads_per_stage=3)
    with pytest.raises(ValueError, match="must halve 5 times"):
        esc_codec(n_fft=254)  # 128 bins: not a multiple of 3
    with pytest.raises(ValueError, match="num_heads must divide dim"):
        esc_tiny(heads=(5, 2, 2, 4, 4))
    with pytest.raises(ValueError, match="quantizer dims"):
        ESC(model.encoder, esc_base().quantizer, model.decoder, 16000)


# ------------------------------------------------------------------------------------------ training through the task
class _Record(L.Callback):
    def __init__(self):
        self.steps, self.reconstruction, self.commitment = [], [], []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        metrics = trainer.callback_metrics  # this step's logged terms
        self.steps.append(module.model._step)
        self.reconstruction.append(float(metrics["train/stft"] + metrics["train/l1"] + 0.25 * metrics["train/mel"]))
        self.commitment.append(float(metrics["train/commitment"]))


def test_tiny_esc_overfits_one_batch_through_codec_task():
    torch.manual_seed(0)
    L.seed_everything(0, verbose=False)
    steps, pretrain = 70, 20
    clip = speech_like(2, 6400)
    model = esc_tiny(pretrain_steps=pretrain)
    task = CodecTask(model, loss={"weights": {"stft": 1.0, "l1": 1.0, "mel": 0.25, "commitment": 1.0,
                                              "codebook": 1.0}},
                     optimizer={"name": "adamw", "lr": 3e-3}, grad_clip=1.0)
    batches = torch.utils.data.DataLoader([{"wav": c} for c in clip] * steps, batch_size=2)  # the same batch
    record = _Record()
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[record])
    trainer.fit(task, train_dataloaders=batches)
    assert record.steps == list(range(steps))  # the task told the model the trainer's step before each step
    assert all(c == 0 for c in record.commitment[:pretrain]) and all(c > 0 for c in record.commitment[pretrain:])
    start, end = record.reconstruction[0], sum(record.reconstruction[-5:]) / 5
    assert end < 0.6 * start, (start, end)  # measured: 9.55 -> 4.15 (stft + l1 + mel / 4)

