"""ESC, the Efficient Speech Codec (Gu & Diao, EMNLP 2024, arXiv 2404.19441): a Swin-transformer codec on the
complex STFT with cross-scale residual vector quantization.

Pipeline (ESC-Base, 16 kHz)::

    audio (B, 1, T) --STFT (n_fft 382, window 320 = 20 ms, hop 80 = 5 ms)--> (B, 192 bins, 4F frames), re/im
      --patch embed (3 bins x 2 frames -> 45 ch)--> grid (B, 2F, 64, 45): 2F time patches of 10 ms, 64 freq
      --pre-block (2 Swin blocks)--> level 0 (64 x 45)
      --5 stages: 2 Swin blocks, then halve frequency (pixel-unshuffle + linear)-->
         level 1 (32 x 72), 2 (16 x 96), 3 (8 x 144), 4 (4 x 192), 5 (2 x 384)
    decoder, coarse to fine, with one quantized stream per scale ("cross-scale RVQ")::
      stream 0 codes level 5 itself                       h = q0                       (2 x 384)
      stream 1 codes level 5 - h                          h = h + q1
      stage 1: 2 Swin blocks, double frequency            h -> (4 x 192)
      stream 2 codes level 4 - h                          h = h + q2
      ...                                                 stream 5 at (32 x 72), then the last stage -> (64 x 45)
      post-block, patch de-embed (conv5 -> pixel-shuffle -> conv3), inverse STFT -> audio (B, 1, T)

A stream flattens its grid, frequency x channels, and joins 2 consecutive time patches into one vector per
20 ms, so every stream runs at 50 vectors/s; each vector is a product VQ of 3 groups, each group a codebook of
1024 L2-normalised 8-dim codes behind a linear projection. One stream costs 3 x 10 bits x 50 /s = 1.5 kbit/s,
so 1..6 streams give 1.5, 3, 4.5, 6, 7.5 and 9 kbit/s. With ``s`` streams only the ``s`` coarsest scales carry
codes; finer scales decode without refinement (step-wise coarse-to-fine decoding), and encoding stops after
stream ``s``.

Codes: ``(B, K, F)`` long with ``K = 3 x streams``, stream-major and coarsest first: ``codes[:, 3 s + g]`` is
group ``g`` of stream ``s``. ``T`` samples make ``F = ceil(T / 320)`` frames (zero-padded on the right);
``decode`` returns ``F x 320`` samples, cut to ``length`` when given.

Training (``forward`` in training mode): with probability ``quantizer_dropout`` (0.75) a batch uses only its
``s ~ U{1..6}`` coarsest streams (the other quantizers run with weight 0, as in ESC, so that every parameter
takes part in every step); during the first ``pretrain_steps`` steps (:meth:`ESC.set_training_step`) the
codebooks are bypassed: each stream passes its projected, normalised residual on unquantized, all streams are
used and the quantizer losses are 0 (ESC's pre-training stage, which trains encoder and decoder first).

Differences from the authors' code (``yzGuu830/efficient-speech-codec``), all at equal parameter shapes:

- windows are never taller than the grid: the 2 frequency rows of the 384-channel level attend in 4 x 2
  windows (ESC pads them to 4 x 4 with tokens that take part); time padding is masked out;
- the patch de-embedding's conv3 continues the conv5 output past the edges where ESC zero-pads (outermost bin
  and frame only), which lets it run as one composed convolution (see :class:`PatchDeEmbed`);
- the quantizer (:class:`~audiokit.nn.quantization.VectorQuantizer`) returns the normalised code where ESC
  returns the raw one, its projections have biases, and its commitment / codebook losses are summed over the
  3 groups where ESC averages them; the pre-training bypass passes the normalised projection accordingly;
- the optimiser is not re-created when the pre-training ends.

Symbols: ``B`` batch, ``T`` samples, ``F`` code frames, ``K`` codebooks, ``P`` time patches (``2F``),
``Q`` frequency positions of a grid, ``C`` channels, ``D`` stream vector size (``2 Q C``), ``S`` streams.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from audiokit.models.codec.rvq_codec import CodecOutput
from audiokit.nn.quantization import CodebookUsage, CrossScaleResidualVectorQuantizer
from audiokit.nn.window_attention import WindowAttentionBlock, linear

__all__ = [
    "ESC",
    "ComplexSTFT",
    "ESCDecoder",
    "ESCEncoder",
    "PatchDeEmbed",
    "PatchEmbed",
    "esc_base",
    "esc_base_config",
    "esc_codec",
    "esc_tiny",
    "esc_tiny_config",
]


# ------------------------------------------------------------------------------------------------ helpers
def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _perplexity(codes: Tensor, codebook_size: int) -> Tensor:
    """``exp(entropy)`` of the codes' distribution, 1 (one code) .. codebook_size (uniform)."""
    counts = torch.bincount(codes.reshape(-1), minlength=codebook_size).float()
    p = counts / counts.sum().clamp(min=1.0)
    return torch.exp(-torch.xlogy(p, p).sum())


def _swin_blocks(dim: int, heads: int, depth: int, window_size: int, mlp_ratio: float) -> list[nn.Module]:
    """``depth`` Swin blocks, every second one shifted."""
    return [WindowAttentionBlock(dim, heads, window_size, shifted=i % 2 == 1, mlp_ratio=mlp_ratio)
            for i in range(depth)]


# ------------------------------------------------------------------------------------------------ STFT
class ComplexSTFT(nn.Module):
    """Complex STFT of whole hops and its inverse: ``T = n x hop_length`` samples <-> ``n`` frames.

    Frames are centred (frame ``i`` at sample ``i x hop_length``, reflect padding) with a periodic Hann window of
    ``win_length`` inside ``n_fft``; the centred STFT's extra last frame is dropped, so ``n`` frames cover
    ``n x hop_length`` samples (ESC drops the last hop of its clips for the same reason). The inverse
    overlap-adds them back to exactly ``n x hop_length`` samples.

    Args:
        n_fft: FFT size (382 in ESC: 192 bins).
        hop_length: samples between frames (80 = 5 ms at 16 kHz).
        win_length: window samples (320 = 20 ms), at most ``n_fft``.
    """

    def __init__(self, n_fft: int = 382, hop_length: int = 80, win_length: int = 320):
        super().__init__()
        for name, value in (("n_fft", n_fft), ("hop_length", hop_length), ("win_length", win_length)):
            _positive_int(name, value)
        if win_length > n_fft or hop_length > win_length:
            raise ValueError(f"need hop_length <= win_length <= n_fft, got hop_length {hop_length}, "
                             f"win_length {win_length}, n_fft {n_fft}")
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, wav: Tensor) -> Tensor:
        """``wav`` ``(B, n x hop_length)`` -> complex ``(B, bins, n)``."""
        spec = torch.stft(wav, self.n_fft, self.hop_length, self.win_length, self.window.to(wav.dtype),
                          center=True, pad_mode="reflect", return_complex=True)
        return spec[..., :-1]  # (B, bins, n + 1) -> (B, bins, n)

    def inverse(self, spec: Tensor) -> Tensor:
        """Complex ``(B, bins, n)`` -> ``(B, n x hop_length)``."""
        length = spec.shape[-1] * self.hop_length
        return torch.istft(spec, self.n_fft, self.hop_length, self.win_length, self.window.to(spec.real.dtype),
                           center=True, length=length)


# ------------------------------------------------------------------------------------------------ patches
class PatchEmbed(nn.Module):
    """Complex spectrogram -> token grid: a Conv2d with kernel = stride = ``patch_size`` over (re, im), then
    LayerNorm. ``(B, bins, frames)`` complex -> ``(B, frames / pt, bins / pf, dim)``.

    The convolution's kernel never overlaps, so it is applied as one linear map per patch (no im2col).

    Args:
        dim: output channels (45 in ESC-Base).
        patch_size: ``(pf, pt)``, bins x frames per patch ((3, 2) in ESC: 192 bins -> 64, 5 ms -> 10 ms).
    """

    def __init__(self, dim: int, patch_size: tuple[int, int] = (3, 2)):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv2d(2, dim, self.patch_size, stride=self.patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, spec: Tensor) -> Tensor:
        pf, pt = self.patch_size
        x = torch.view_as_real(spec)  # (B, bins, frames) complex -> (B, bins, frames, 2)
        batch, bins, frames, _ = x.shape
        # (B, Q, pf, P, pt, 2) -> (B, P, Q, 2, pf, pt): the conv weight's (in, kh, kw) order
        x = x.reshape(batch, bins // pf, pf, frames // pt, pt, 2).permute(0, 3, 1, 5, 2, 4)
        x = x.reshape(batch, frames // pt, bins // pf, 2 * pf * pt)
        x = F.linear(x, self.proj.weight.reshape(self.proj.out_channels, -1), self.proj.bias)
        return self.norm(x)


class PatchDeEmbed(nn.Module):
    """Token grid -> complex spectrogram: ESC's ``conv5 -> pixel-shuffle (pf, pt) -> conv3``, run as one convolution.

    The three steps are linear, so they compose into a single convolution of the coarse grid with
    ``pf x pt x 2`` output channels (one per position inside a patch and re/im) and a ``K x K`` kernel
    (7 x 7 for ESC's 5, 3 and (3, 2)), followed by a pixel shuffle. ESC-Base's conv5 alone costs
    64 x 270 x 45 x 25 = 19.4 M multiply-adds per 10 ms; the composed conv 1.7 M.

    The composition is exact everywhere when the fine grid around the output is not zero-padded but continues
    the conv5 output, i.e. conv3 sees conv5 evaluated one coarse position past each edge (of the zero-padded
    input). That is this layer's definition; ESC zero-pads the fine grid, which differs on the outermost bin
    and frame only::

        coarse x --conv5 (zero pad)--> u on the grid + 1 ring --shuffle--> v --conv3 (no pad)--> y, cropped
                 ==  x --one K x K conv (zero pad), weights composed from conv5 and conv3--> shuffle --> y

    Parameters are ESC's (``expand`` = conv5 with ``dim x pf x pt`` outputs, ``out`` = conv3 to re/im), so
    the parameter count is ESC's; the composed kernel is recomputed from them on every call (about 5 M
    multiply-adds, differentiable).

    Args:
        dim: input channels (45 in ESC-Base).
        patch_size: ``(pf, pt)`` as :class:`PatchEmbed`.
        kernel_size: of the expanding conv (5 in ESC), odd.
        out_kernel_size: of the output conv (3 in ESC), odd.
    """

    def __init__(self, dim: int, patch_size: tuple[int, int] = (3, 2), kernel_size: int = 5,
                 out_kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 == 0 or out_kernel_size % 2 == 0:
            raise ValueError(f"kernel_size and out_kernel_size must be odd, got {kernel_size} and {out_kernel_size}")
        self.patch_size = pf, pt = tuple(patch_size)
        self.expand = nn.Conv2d(dim, dim * pf * pt, kernel_size, padding=kernel_size // 2)
        self.out = nn.Conv2d(dim, 2, out_kernel_size, padding=out_kernel_size // 2)
        r5, r3 = kernel_size // 2, out_kernel_size // 2
        # Output position (p, q) inside a patch reads fine neighbour (p + a, q + b), which is sub-position
        # (i, j) = ((p + a) mod pf, (q + b) mod pt) of coarse neighbour (dh, dw) = ((p + a) // pf, (q + b) // pt).
        self._taps = [(p, q, a + r3, b + r3, (p + a) % pf, (q + b) % pt, (p + a) // pf, (q + b) // pt)
                      for p in range(pf) for q in range(pt) for a in range(-r3, r3 + 1) for b in range(-r3, r3 + 1)]
        self.reach = (max(max(-t[6], t[6]) for t in self._taps) + r5,  # coarse positions read, freq and time
                      max(max(-t[7], t[7]) for t in self._taps) + r5)

    def composed(self) -> tuple[Tensor, Tensor]:
        """Weight ``(pf pt 2, dim, Kt, Kf)`` (time x freq kernel; output channel ``(p pt + q) 2 + o``) and bias."""
        pf, pt = self.patch_size
        dim, k5 = self.out.in_channels, self.expand.kernel_size[0]
        rh, rw = self.reach
        w5 = self.expand.weight.view(dim, pf, pt, dim, k5, k5)  # (c, i, j, c', m, n)
        b5 = self.expand.bias.view(dim, pf, pt)
        w3, b3 = self.out.weight, self.out.bias  # (o, c, a, b), (o,)
        weight = w5.new_zeros(pf, pt, 2, dim, 2 * rh + 1, 2 * rw + 1)
        bias = b3.new_zeros(pf, pt, 2) + b3
        for p, q, a, b, i, j, dh, dw in self._taps:
            tap = w3[:, :, a, b]  # (o, c)
            h0, w0 = rh + dh - k5 // 2, rw + dw - k5 // 2
            weight[p, q, :, :, h0:h0 + k5, w0:w0 + k5] += torch.einsum("oc,cdmn->odmn", tap, w5[:, i, j])
            bias[p, q] += tap @ b5[:, i, j]
        # (pf, pt, 2, dim, Kf, Kt) -> (pf pt 2, dim, Kt, Kf): the grid is (time, freq)
        return weight.reshape(pf * pt * 2, dim, 2 * rh + 1, 2 * rw + 1).transpose(2, 3), bias.reshape(-1)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(B, P, Q, dim)`` -> complex ``(B, Q pf, P pt)``."""
        pf, pt = self.patch_size
        batch, patches, freqs, dim = x.shape
        weight, bias = self.composed()
        # (B, P, Q, C) viewed as (B, C, P, Q) is channels-last memory: the conv reads it without a copy
        y = F.conv2d(x.permute(0, 3, 1, 2), weight, bias, padding=(self.reach[1], self.reach[0]))
        y = y.permute(0, 2, 3, 1).reshape(batch, patches, freqs, pf, pt, 2)  # (B, P, Q, pf, pt, 2)
        y = y.permute(0, 2, 3, 1, 4, 5).reshape(batch, freqs * pf, patches * pt, 2)  # (B, Q, pf, P, pt, 2)
        return torch.view_as_complex(y.float().contiguous())  # float32 also under bf16 autocast: the iSTFT's


class PatchMerge(nn.Module):
    """Halve frequency: join neighbouring frequency positions (pixel-unshuffle (2, 1)), LayerNorm, project.
    ``(B, P, Q, C_in) -> (B, P, Q / 2, C_out)``."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(2 * in_dim)
        self.reduce = nn.Linear(2 * in_dim, out_dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, patches, freqs, dim = x.shape
        return linear(self.norm(x.reshape(batch, patches, freqs // 2, 2 * dim)), self.reduce)  # (B, P, Q/2, 2C)


class PatchSplit(nn.Module):
    """Double frequency: LayerNorm, project to twice the channels, pixel-shuffle (2, 1).
    ``(B, P, Q, C_in) -> (B, P, 2 Q, C_out)``."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.expand = nn.Linear(in_dim, 2 * out_dim, bias=False)
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        batch, patches, freqs, _ = x.shape
        return linear(self.norm(x), self.expand).reshape(batch, patches, 2 * freqs, self.out_dim)  # (B, P, 2Q, C_out)


# ------------------------------------------------------------------------------------------------ encoder, decoder
class ESCEncoder(nn.Module):
    """Audio -> the feature grid at every scale: STFT, patch embed, a pre-block, then stages that halve frequency.

    Args:
        # Front end
        n_fft, hop_length, win_length: of the :class:`ComplexSTFT` (382, 80, 320 in ESC at 16 kHz).
        patch_size: ``(pf, pt)`` of the :class:`PatchEmbed` ((3, 2)).
        # Structure
        dims: channels of each level, finest first; ``len(dims) - 1`` stages ((45, 72, 96, 144, 192, 384)).
        heads: attention heads of the pre-block and of each stage's blocks, which run at the stage's input
            width (``len(dims) - 1`` values: (3, 6, 12, 24, 24)); each divides its width.
        depth: Swin blocks per stage, every second one shifted (2 in ESC-Base, 4 in ESC-Large).
        window_size: Swin window side (4).
        mlp_ratio: MLP width over the channels (4).
    """

    def __init__(self, *, n_fft: int = 382, hop_length: int = 80, win_length: int = 320,
                 patch_size: tuple[int, int] = (3, 2), dims: Sequence[int] = (45, 72, 96, 144, 192, 384),
                 heads: Sequence[int] = (3, 6, 12, 24, 24), depth: int = 2, window_size: int = 4,
                 mlp_ratio: float = 4.0):
        super().__init__()
        self.dims, self.heads, self.patch_size = list(dims), list(heads), tuple(patch_size)
        self.stft = ComplexSTFT(n_fft, hop_length, win_length)
        self.embed = PatchEmbed(self.dims[0], self.patch_size)
        self.pre = nn.Sequential(*_swin_blocks(self.dims[0], self.heads[0], depth, window_size, mlp_ratio))
        self.stages = nn.ModuleList(
            nn.Sequential(*_swin_blocks(d_in, h, depth, window_size, mlp_ratio), PatchMerge(d_in, d_out))
            for d_in, d_out, h in zip(self.dims[:-1], self.dims[1:], self.heads))

    def forward(self, wav: Tensor) -> list[Tensor]:
        """``wav`` ``(B, n x hop_length)`` -> ``[(B, P, Q_l, dims[l]) for each level l]``, finest first."""
        h = self.pre(self.embed(self.stft(wav)))  # (B, T) -> (B, bins, 2P) -> (B, P, Q_0, C_0)
        levels = [h]
        for stage in self.stages:
            h = stage(h)
            levels.append(h)
        return levels


class ESCDecoder(nn.Module):
    """The mirror of :class:`ESCEncoder`: stages that double frequency, a post-block, patch de-embed, inverse STFT.

    ``stages[i]`` takes level ``S - 1 - i`` to level ``S - 2 - i`` (``S = len(dims)``); :class:`ESC` adds
    the quantized residuals between them. Arguments as :class:`ESCEncoder` (``dims``/``heads`` in the
    encoder's order, finest first; the decoder reverses them).
    """

    def __init__(self, *, n_fft: int = 382, hop_length: int = 80, win_length: int = 320,
                 patch_size: tuple[int, int] = (3, 2), dims: Sequence[int] = (45, 72, 96, 144, 192, 384),
                 heads: Sequence[int] = (3, 6, 12, 24, 24), depth: int = 2, window_size: int = 4,
                 mlp_ratio: float = 4.0):
        super().__init__()
        dims, heads = list(dims)[::-1], list(heads)[::-1]
        self.stages = nn.ModuleList(
            nn.Sequential(*_swin_blocks(d_in, h, depth, window_size, mlp_ratio), PatchSplit(d_in, d_out))
            for d_in, d_out, h in zip(dims[:-1], dims[1:], heads))
        self.post = nn.Sequential(*_swin_blocks(dims[-1], heads[-1], depth, window_size, mlp_ratio))
        self.deembed = PatchDeEmbed(dims[-1], tuple(patch_size))
        self.istft = ComplexSTFT(n_fft, hop_length, win_length)

    def synthesize(self, h: Tensor) -> Tensor:
        """Finest level ``(B, P, Q_0, C_0)`` -> audio ``(B, P x pt x hop_length)``."""
        return self.istft.inverse(self.deembed(self.post(h)))


# ------------------------------------------------------------------------------------------------ codec
class ESC(nn.Module):
    """Efficient Speech Codec: :class:`ESCEncoder`, cross-scale residual VQ, :class:`ESCDecoder` (see the module
    docstring). Build one with :func:`esc_codec`, :func:`esc_base` or :func:`esc_tiny`.

    Args:
        encoder: :class:`ESCEncoder`.
        quantizer: :class:`~audiokit.nn.quantization.CrossScaleResidualVectorQuantizer` with one scale per
            level of the encoder (``len(encoder.dims)``), coarsest first, of ``frames_per_code x Q x C`` channels:
            the bottom level twice, then levels ``S - 2 .. 1``; its ``scale_dropout`` is the quantizer dropout.
        decoder: :class:`ESCDecoder` with the encoder's configuration.
        sample_rate: Hz (16000 for ESC).
        frames_per_code: time patches joined into one code vector (ESC's "overlap", 2: 50 vectors/s).
        pretrain_steps: training steps with the codebooks bypassed (ESC's pre-training stage; 0: none). The
            step comes from :meth:`set_training_step`, which :class:`~audiokit.tasks.codec.CodecTask` calls
            with the trainer's step before every training step (other loops must call it themselves).
    """

    def __init__(self, encoder: ESCEncoder, quantizer: CrossScaleResidualVectorQuantizer, decoder: ESCDecoder,
                 sample_rate: int, *, frames_per_code: int = 2, pretrain_steps: int = 0):
        super().__init__()
        _positive_int("ESC sample_rate (Hz)", sample_rate)
        _positive_int("frames_per_code", frames_per_code)
        if isinstance(pretrain_steps, bool) or not isinstance(pretrain_steps, int) or pretrain_steps < 0:
            raise ValueError(f"pretrain_steps must be an int >= 0, got {pretrain_steps!r}")
        if not isinstance(encoder, ESCEncoder) or not isinstance(decoder, ESCDecoder):
            raise ValueError(f"ESC needs an ESCEncoder and an ESCDecoder, got {type(encoder).__name__} and "
                             f"{type(decoder).__name__}")
        if not isinstance(quantizer, CrossScaleResidualVectorQuantizer):
            raise ValueError(f"ESC quantizer must be a CrossScaleResidualVectorQuantizer, "
                             f"got {type(quantizer).__name__}")
        self.encoder, self.quantizer, self.decoder = encoder, quantizer, decoder
        self.sample_rate, self.frames_per_code, self.pretrain_steps = sample_rate, frames_per_code, pretrain_steps
        levels = len(encoder.dims)
        first = encoder.stft.bins // encoder.patch_size[0]
        self._freqs = [first >> level for level in range(levels)]
        self._levels = [levels - 1] + [levels - s for s in range(1, levels)]  # level of each stream
        expected = [frames_per_code * self._freqs[lv] * encoder.dims[lv] for lv in self._levels]
        if quantizer.dims != expected or len(decoder.stages) != levels - 1:
            raise ValueError(f"ESC quantizer dims must be frames_per_code x freqs x channels of each stream, "
                             f"{expected}, with {levels - 1} decoder stages; got {quantizer.dims} and "
                             f"{len(decoder.stages)} stages")
        self._step = 0

    # ----------------------------------------------------------------------------------- properties
    @property
    def channels(self) -> int:
        """C, audio channels (mono)."""
        return 1

    @property
    def hop_length(self) -> int:
        """Samples per code frame: STFT hop x patch frames x ``frames_per_code`` (80 x 2 x 2 = 320)."""
        return self.encoder.stft.hop_length * self.encoder.patch_size[1] * self.frames_per_code

    @property
    def frame_rate(self) -> float:
        """Code frames per second (50 Hz)."""
        return self.sample_rate / self.hop_length

    @property
    def num_streams(self) -> int:
        """S, quantized scales (6)."""
        return self.quantizer.num_scales

    @property
    def codebooks_per_stream(self) -> int:
        """Product-VQ groups of a stream (3)."""
        return self.quantizer.codebooks_per_scale

    @property
    def num_codebooks(self) -> int:
        """K at full bitrate (18)."""
        return self.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    @property
    def causal(self) -> bool:
        """False: windows attend both ways in time."""
        return False

    @property
    def latency(self) -> None:
        """None: not streamable."""
        return None

    @property
    def frame_alignment(self) -> int:
        """Code frames a separately coded chunk must start at a multiple of to be coded as in one pass: the Swin
        windows partition time from the first patch the model sees (2 for ESC-Base: windows of 4 time patches,
        2 patches per frame). :class:`~audiokit.codecs.inference.Codec` aligns its chunks' context to it."""
        window = math.lcm(*{m.window_size for m in self.modules() if isinstance(m, WindowAttentionBlock)})
        return window // math.gcd(window, self.frames_per_code)

    @property
    def bitrates(self) -> list[float]:
        """kbit/s with 1..S streams (1.5, 3, ..., 9)."""
        return [self.bitrate(s * self.codebooks_per_stream) for s in range(1, self.num_streams + 1)]

    def bitrate(self, n_quantizers: int | None = None) -> float:
        """kbit/s with ``n_quantizers`` codebooks (default all; a multiple of ``codebooks_per_stream``)."""
        codebooks = self._resolve(None, n_quantizers) * self.codebooks_per_stream
        return self.quantizer.bitrate(self.frame_rate, codebooks) / 1000

    def num_quantizers_for_bitrate(self, bitrate: float) -> int:
        """Codebooks for ``bitrate`` kbit/s, which must be a whole number of streams (ESC-Base: 4.5 -> 9)."""
        return self._streams_for_bitrate(bitrate) * self.codebooks_per_stream

    def set_training_step(self, step: int) -> None:
        """Tell the model the trainer's step; codebooks are bypassed in training while ``step < pretrain_steps``."""
        self._step = int(step)

    @property
    def pretraining(self) -> bool:
        """True when a training-mode forward bypasses the codebooks (the pre-training stage)."""
        return self.training and self._step < self.pretrain_steps

    # ----------------------------------------------------------------------------------- offline
    def forward(self, wav: Tensor, n_quantizers: int | None = None) -> CodecOutput:
        """Encode, quantize and decode ``wav`` ``(B, 1, T)`` with ``n_quantizers`` codebooks (a multiple of 3,
        default all). In training, quantizer dropout may use fewer streams for the whole batch, and the
        pre-training stage bypasses the codebooks. Returns a :class:`CodecOutput` with codes ``(B, K, F)``."""
        self._check_audio(wav)
        length = wav.shape[-1]
        streams = self._resolve(None, n_quantizers)
        bypass = self.pretraining
        active = streams if bypass or not self.training else self._sample_streams(streams)
        levels = self.encoder(self._pad(wav))
        h, codes, perplexity = None, [], []
        commitment = codebook = wav.new_zeros(())
        for s in range(streams):
            if s >= 2:
                h = self.decoder.stages[s - 2](h)
            target, current = self._vectors(levels[self._levels[s]]), None if h is None else self._vectors(h)
            out = self.quantizer(s, target, current)
            codes.append(out.codes)
            perplexity.append(out.perplexity)
            if bypass:  # the codebooks' output joins with weight 0: every parameter stays in the graph (DDP)
                q = self._bypass(s, target if current is None else target - current) + 0.0 * out.quantized
            else:
                q = out.quantized if s < active else 0.0 * out.quantized
            used = 1.0 if s < active and not bypass else 0.0
            commitment = commitment + used * out.commitment_loss
            codebook = codebook + used * out.codebook_loss
            h = self._grid(q, levels[self._levels[s]].shape) if h is None else h + self._grid(q, h.shape)
        for stage in self.decoder.stages[max(streams - 2, 0):]:
            h = stage(h)
        audio = self.decoder.synthesize(h)[:, None, :length]  # (B, F hop) -> (B, 1, T)
        active_codebooks = torch.full((wav.shape[0],), active * self.codebooks_per_stream, dtype=torch.long,
                                      device=wav.device)
        return CodecOutput(audio, torch.cat(codes, 1), commitment, codebook, torch.cat(perplexity), active_codebooks)

    @torch.no_grad()
    def encode(self, wav: Tensor, bitrate: float | None = None, n_quantizers: int | None = None) -> Tensor:
        """Codes ``(B, K, ceil(T / hop_length))`` of ``wav`` ``(B, 1, T)``, ``K = 3 x streams``, stream-major.

        Args:
            wav: audio at ``sample_rate``; any length (zero-padded to whole frames).
            bitrate: kbit/s, a whole number of streams (1.5 kbit/s each for ESC-Base).
            n_quantizers: codebooks, a multiple of 3 up to ``num_codebooks``. Give at most one of the two;
                default all. Encoding stops after the last stream asked for.
        """
        self._check_audio(wav)
        streams = self._resolve(bitrate, n_quantizers)
        levels = self.encoder(self._pad(wav))
        h, codes = None, []
        for s in range(streams):
            if s >= 2:
                h = self.decoder.stages[s - 2](h)
            codes.append(self.quantizer.encode(s, self._vectors(levels[self._levels[s]]),
                                               None if h is None else self._vectors(h)))
            if s + 1 < streams:
                q = self._grid(self.quantizer.decode(s, codes[-1]), levels[self._levels[s]].shape)
                h = q if h is None else h + q
        return torch.cat(codes, 1)  # S x (B, 3, F) -> (B, 3 S, F)

    def decode(self, codes: Tensor, length: int | None = None) -> Tensor:
        """Audio ``(B, 1, F x hop_length)`` of ``codes`` ``(B, K, F)``, ``K = 3 x streams`` for any 1..S streams
        (coarse-to-fine: finer scales without codes are decoded unrefined), cut to ``length`` samples when given
        (between ``(F - 1) x hop_length + 1`` and ``F x hop_length``)."""
        streams = self._check_codes(codes)
        batch, _, frames = codes.shape
        patches = frames * self.frames_per_code
        h = None
        for s in range(streams):
            if s >= 2:
                h = self.decoder.stages[s - 2](h)
            level = self._levels[s]
            shape = (batch, patches, self._freqs[level], self.encoder.dims[level])
            per = self.codebooks_per_stream
            q = self._grid(self.quantizer.decode(s, codes[:, s * per:(s + 1) * per]), shape)
            h = q if h is None else h + q
        for stage in self.decoder.stages[max(streams - 2, 0):]:
            h = stage(h)
        audio = self.decoder.synthesize(h)[:, None]  # (B, F hop) -> (B, 1, F hop)
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) \
                    or not (frames - 1) * self.hop_length < length <= frames * self.hop_length:
                raise ValueError(f"length must be an int in {(frames - 1) * self.hop_length + 1}.."
                                 f"{frames * self.hop_length} samples for {frames} frames of {self.hop_length}, "
                                 f"got {length!r}")
            audio = audio[..., :length]
        return audio

    def usage(self) -> CodebookUsage:
        """Running codebook usage over recent training steps, per codebook ``(K,)``, stream-major."""
        return self.quantizer.usage()

    # ----------------------------------------------------------------------------------- internals
    def _pad(self, wav: Tensor) -> Tensor:
        """``(B, 1, T)`` -> ``(B, F x hop_length)``, zeros on the right."""
        return F.pad(wav[:, 0], (0, -wav.shape[-1] % self.hop_length))

    def _vectors(self, grid: Tensor) -> Tensor:
        """A stream's grid ``(B, P, Q, C)`` -> code vectors ``(B, D, F)``: ``frames_per_code`` patches of Q x C."""
        batch, patches = grid.shape[:2]
        return grid.reshape(batch, patches // self.frames_per_code, -1).transpose(1, 2)  # (B, F, D) -> (B, D, F)

    @staticmethod
    def _grid(vectors: Tensor, shape: Sequence[int]) -> Tensor:
        """Inverse of :meth:`_vectors`: ``(B, D, F)`` -> ``shape`` ``(B, P, Q, C)``."""
        return vectors.transpose(1, 2).reshape(shape)

    def _bypass(self, stream: int, residual: Tensor) -> Tensor:
        """The residual ``(B, D, F)`` through each group's projections, unquantized (pre-training): the output
        the codebook would give with a code equal to the (normalised) projected input."""
        parts = []
        groups = self.quantizer.scales[stream].quantizers  # one residual VQ per product-VQ group
        for rvq, chunk in zip(groups, residual.chunk(len(groups), dim=1)):
            vq = rvq.quantizers[0]
            z = vq.in_proj(chunk.transpose(1, 2))  # (B, D/G, F) -> (B, F, D/G) -> (B, F, d)
            if vq.l2_normalize:
                z = F.normalize(z, dim=-1)
            parts.append(vq.out_proj(z).transpose(1, 2))  # (B, F, d) -> (B, F, D/G) -> (B, D/G, F)
        return torch.cat(parts, dim=1)

    def _sample_streams(self, streams: int) -> int:
        """Quantizer dropout: with probability ``scale_dropout`` the batch uses ``s ~ U{1..streams}`` streams."""
        dropout = self.quantizer.scale_dropout
        if streams > 1 and dropout > 0 and float(torch.rand(())) < dropout:
            return int(torch.randint(1, streams + 1, ()))
        return streams

    def _streams_for_bitrate(self, bitrate: float) -> int:
        per_stream = self.bitrate(self.codebooks_per_stream)
        streams = bitrate / per_stream if isinstance(bitrate, (int, float)) and not isinstance(bitrate, bool) else -1
        if not 1 <= round(streams) <= self.num_streams or abs(streams - round(streams)) > 1e-6:
            raise ValueError(f"bitrate must be a whole number of streams of {per_stream:g} kbit/s, one of "
                             f"{[round(b, 6) for b in self.bitrates]}, got {bitrate!r}")
        return round(streams)

    def _resolve(self, bitrate: float | None, n_quantizers: int | None) -> int:
        """Streams to use: from ``bitrate`` (kbit/s) or ``n_quantizers`` codebooks, default all."""
        if bitrate is not None and n_quantizers is not None:
            raise ValueError(f"give bitrate or n_quantizers, not both (got bitrate={bitrate!r}, "
                             f"n_quantizers={n_quantizers!r})")
        if bitrate is not None:
            return self._streams_for_bitrate(bitrate)
        if n_quantizers is None:
            return self.num_streams
        per = self.codebooks_per_stream
        if isinstance(n_quantizers, bool) or not isinstance(n_quantizers, int) \
                or not 1 <= n_quantizers <= self.num_codebooks or n_quantizers % per:
            raise ValueError(f"n_quantizers must be a multiple of {per} (codebooks per stream) in "
                             f"{per}..{self.num_codebooks}, got {n_quantizers!r}")
        return n_quantizers // per

    def _check_audio(self, wav: Tensor) -> None:
        if not isinstance(wav, Tensor) or not wav.is_floating_point() or wav.dim() != 3 \
                or wav.shape[1] != self.channels or wav.shape[-1] == 0:
            got = f"shape {tuple(wav.shape)} of {wav.dtype}" if isinstance(wav, Tensor) else type(wav).__name__
            raise ValueError(f"expected float audio of shape (batch, 1, time) at {self.sample_rate} Hz, got {got}")

    def _check_codes(self, codes: Tensor) -> int:
        """Streams in ``codes`` ``(B, K, F)``; values are checked by the quantizer."""
        per, k_max = self.codebooks_per_stream, self.num_codebooks
        expected = f"codes as an integer tensor (batch, {per} x streams, frames) with 1..{self.num_streams} streams"
        if not isinstance(codes, Tensor):
            raise ValueError(f"expected {expected}, got {type(codes).__name__}")
        if codes.dim() != 3 or codes.dtype not in (torch.long, torch.int) or codes.shape[-1] == 0 \
                or codes.shape[1] % per or not per <= codes.shape[1] <= k_max:
            raise ValueError(f"expected {expected} ({per}..{k_max} codebooks in steps of {per}), "
                             f"got shape {tuple(codes.shape)} of {codes.dtype}")
        return codes.shape[1] // per


# ------------------------------------------------------------------------------------------------ builders
def esc_codec(sample_rate: int = 16000, *, n_fft: int = 382, hop_length: int = 80, win_length: int = 320,
              patch_size: Sequence[int] = (3, 2), dims: Sequence[int] = (45, 72, 96, 144, 192, 384),
              heads: Sequence[int] = (3, 6, 12, 24, 24), depth: int = 2, window_size: int = 4,
              mlp_ratio: float = 4.0, frames_per_code: int = 2, groups: int = 3, codebook_size: int = 1024,
              codebook_dim: int = 8, quantizer_dropout: float = 0.75, commitment_weight: float = 0.25,
              codebook_weight: float = 1.0, pretrain_steps: int = 0) -> ESC:
    """An :class:`ESC` from plain config values; the defaults are ESC-Base (see :func:`esc_base_config`).

    Args:
        sample_rate: Hz.
        # Front end
        n_fft: FFT size; ``n_fft // 2 + 1`` bins (382: 192).
        hop_length: STFT hop in samples (80: 5 ms at 16 kHz).
        win_length: STFT window in samples (320: 20 ms).
        patch_size: (bins, frames) per patch ((3, 2)).
        # Structure
        dims: channels per level, finest first (``S = len(dims)`` levels and streams; ``S - 1`` stages, each
            halving frequency: ``bins / patch_size[0]`` must divide by ``2^(S-1)``).
        heads: heads of the pre-block and each stage (``S - 1`` values), mirrored in the decoder.
        depth: Swin blocks per stage (2; ESC-Large 4).
        window_size: Swin window side (4).
        mlp_ratio: MLP width over the channels (4).
        # Quantizer
        frames_per_code: time patches per code vector (2: 50 vectors/s at 16 kHz).
        groups: product-VQ codebooks per stream (3); each stream's vector size must divide by it.
        codebook_size: codes per codebook (1024: 10 bits).
        codebook_dim: projected, L2-normalised code dimension (8).
        quantizer_dropout: probability that a training batch uses only ``s ~ U{1..S}`` streams (0.75).
        commitment_weight: the quantizer's commitment-loss weight (0.25), per codebook, summed over codebooks.
        codebook_weight: the quantizer's codebook-loss weight (1.0), likewise.
        pretrain_steps: training steps with the codebooks bypassed (ESC: its first 15 of 80 epochs).
    """
    dims, heads, patch_size = [int(d) for d in dims], [int(h) for h in heads], tuple(int(p) for p in patch_size)
    if len(dims) < 2 or len(heads) != len(dims) - 1 or len(patch_size) != 2:
        raise ValueError(f"esc_codec needs at least 2 dims, one head count per stage (len(dims) - 1) and a "
                         f"(bins, frames) patch_size, got dims {dims}, heads {heads}, patch_size {patch_size}")
    bins = n_fft // 2 + 1
    if bins % patch_size[0] or (bins // patch_size[0]) % 2 ** (len(dims) - 1):
        raise ValueError(f"n_fft {n_fft} gives {bins} bins, {bins / patch_size[0]:g} frequency patches of "
                         f"{patch_size[0]}: they must halve {len(dims) - 1} times (a multiple of "
                         f"{2 ** (len(dims) - 1)})")
    network = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, patch_size=patch_size, dims=dims,
                   heads=heads, depth=depth, window_size=window_size, mlp_ratio=mlp_ratio)
    encoder = ESCEncoder(**network)
    freqs = [bins // patch_size[0] >> level for level in range(len(dims))]
    levels = [len(dims) - 1] + [len(dims) - s for s in range(1, len(dims))]
    quantizer = CrossScaleResidualVectorQuantizer(
        [frames_per_code * freqs[lv] * dims[lv] for lv in levels], codebook_size, groups=groups,
        codebook_dim=codebook_dim, update="gradient", commitment_weight=commitment_weight,
        codebook_weight=codebook_weight, kmeans_init=False, threshold_dead_code=0.0, l2_normalize=True,
        scale_dropout=quantizer_dropout)
    return ESC(encoder, quantizer, ESCDecoder(**network), sample_rate, frames_per_code=frames_per_code,
               pretrain_steps=pretrain_steps)


def esc_base_config() -> dict[str, Any]:
    """ESC-Base (``efficient-speech-codec`` ``configs/9kbps_esc_base*.yaml``, 8 x 6 codebook dims as the
    released model) as :func:`esc_codec` arguments: 16 kHz, STFT 382 / 320 / 80, patches (3, 2), dims 45-72-96-
    144-192-384, heads 3-6-12-24-24, 2 blocks per stage, window 4, MLP 4x; 6 streams x 3 codebooks of 1024
    (8-dim, L2-normalised): 1.5..9 kbit/s; quantizer dropout 0.75.

    8,401,109 parameters; ESC reports 8.39 M. The difference (+0.13 %) is the 14,736 biases of this
    quantizer's projections (ESC's projections have none): without them the count is 8,386,373.
    """
    return dict(sample_rate=16000, n_fft=382, hop_length=80, win_length=320, patch_size=(3, 2),
                dims=(45, 72, 96, 144, 192, 384), heads=(3, 6, 12, 24, 24), depth=2, window_size=4, mlp_ratio=4.0,
                frames_per_code=2, groups=3, codebook_size=1024, codebook_dim=8, quantizer_dropout=0.75,
                commitment_weight=0.25, codebook_weight=1.0, pretrain_steps=0)


def esc_tiny_config() -> dict[str, Any]:
    """A CPU-sized ESC with ESC-Base's structure (front end, 6 levels and streams, 1.5..9 kbit/s, codebooks)
    and narrow layers: dims 12-24-24-48-48-96, one block per stage."""
    return {**esc_base_config(), "dims": (12, 24, 24, 48, 48, 96), "heads": (1, 2, 2, 4, 4), "depth": 1}


def _preset(name: str, config: dict[str, Any], overrides: dict[str, Any]) -> ESC:
    unknown = sorted(set(overrides) - set(config))
    if unknown:
        raise ValueError(f"{name} got unknown arguments {unknown}; known: {sorted(config)}")
    return esc_codec(**{**config, **overrides})


def esc_base(**overrides: Any) -> ESC:
    """ESC-Base (:func:`esc_base_config`), untrained; ``overrides`` replace any of its :func:`esc_codec`
    arguments (e.g. ``pretrain_steps``, ``quantizer_dropout``)."""
    return _preset("esc_base", esc_base_config(), overrides)


def esc_tiny(**overrides: Any) -> ESC:
    """The tiny ESC (:func:`esc_tiny_config`), untrained; ``overrides`` as :func:`esc_base`."""
    return _preset("esc_tiny", esc_tiny_config(), overrides)

