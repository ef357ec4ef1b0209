"""Vector quantizers shared by the neural codecs: VQ, residual VQ, group-residual VQ and cross-scale RVQ.

Every quantizer takes channels-first features ``(B, D, T)``, as convolutional encoders produce them, and its
``forward`` returns a :class:`QuantizerOutput`. Symbols used throughout: ``B`` batch, ``D`` feature channels,
``T`` frames, ``d`` codebook dimension, ``K`` codebooks, ``N`` residual stages, ``G`` groups, ``S`` scales.

:class:`VectorQuantizer` is the building block. It covers both codebook families the codecs use:

- **EMA codebooks** (SoundStream, EnCodec; ``update="ema"``). The codes are buffers that follow the running
  mean of the vectors assigned to them. With ``n_k`` vectors summing to ``s_k`` assigned to code ``k`` in a
  training step::

      N_k <- decay * N_k + (1 - decay) * n_k                          cluster size
      S_k <- decay * S_k + (1 - decay) * s_k                          embedding sum
      e_k  = S_k / M_k,   M_k = (N_k + eps) / (sum(N) + K * eps) * sum(N)   Laplace-smoothed count

  so with ``epsilon=0`` a code is exactly the decay-weighted mean of every vector it was ever assigned.
- **Gradient codebooks** (DAC, ESC; ``update="gradient"``). The codes are a parameter trained by the codebook
  loss. With ``codebook_dim`` and ``l2_normalize`` the lookup runs in a small projected space on unit vectors
  (cosine similarity), DAC's factorised, L2-normalised codes.

Both families can be k-means initialised on the first training batch and both replace dead codes (running
cluster size below ``threshold_dead_code`` vectors per step) with vectors of the current batch. All of this
happens in training mode only: in eval mode a quantizer changes nothing and draws no random numbers, so its
codes are a pure function of its input and its state. All state (codebooks, running statistics, the
``initialized`` flag, usage counters) lives in the ``state_dict``, so a resumed run continues exactly.

Under ``torch.distributed`` the per-step statistics are summed over ranks before the EMA update (the running
statistics describe the global batch, and ``threshold_dead_code`` counts vectors of the global batch), while
k-means centroids and replacement vectors are computed on rank 0 and broadcast, so every rank holds the same
codebooks. Without an initialised process group (or with one process) none of this runs.

Bitrate: a codebook of ``codebook_size`` entries costs ``log2(codebook_size)`` bits per frame, so ``K``
codebooks at frame rate ``f`` cost ``f * K * log2(codebook_size)`` bit/s (:meth:`Quantizer.bitrate`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "CodebookUsage",
    "CrossScaleResidualVectorQuantizer",
    "GroupResidualVectorQuantizer",
    "Quantizer",
    "QuantizerOutput",
    "ResidualVectorQuantizer",
    "VectorQuantizer",
    "kmeans",
]


# ------------------------------------------------------------------------------------------------ helpers
def _distributed() -> bool:
    """True when statistics must be shared between processes (an initialised group of more than one)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _check_features(x: Tensor, dim: int, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"expected {name} as a tensor (batch, {dim}, frames), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[1] != dim or not x.is_floating_point():
        raise ValueError(f"expected {name} as float features (batch, {dim}, frames), "
                         f"got shape {tuple(x.shape)} of {x.dtype}")


def _check_codes(codes: Tensor, codebook_size: int, shape: str, ndim: int) -> None:
    if not isinstance(codes, Tensor):
        raise TypeError(f"expected codes as an integer tensor {shape}, got {type(codes).__name__}")
    if codes.dim() != ndim or codes.dtype not in (torch.long, torch.int):
        raise ValueError(f"expected codes as an integer tensor {shape}, "
                         f"got shape {tuple(codes.shape)} of {codes.dtype}")
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= codebook_size):
        raise ValueError(f"codes must lie in 0..{codebook_size - 1} (codebook_size {codebook_size}), "
                         f"got values {int(codes.min())}..{int(codes.max())}")


def _check_level(value: int | None, maximum: int, name: str) -> int:
    """``value`` (default ``maximum``) as an int in 1..maximum."""
    if value is None:
        return maximum
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an int in 1..{maximum}, got {value!r}")
    return value


def _check_positive_int(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_probability(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def _perplexity(counts: Tensor) -> Tensor:
    """``exp(entropy)`` of the code distribution given by ``counts`` ``(..., K)``: 1 (one code) .. K (uniform)."""
    p = counts / counts.sum(-1, keepdim=True).clamp(min=torch.finfo(counts.dtype).tiny)
    return torch.exp(-torch.xlogy(p, p).sum(-1))


def _sample_active(batch: int, num_quantizers: int, dropout: float, device: torch.device) -> Tensor:
    """Stages each example uses ``(B,)``: all ``num_quantizers``, or with probability ``dropout`` n ~ U{1..N}."""
    active = torch.full((batch,), num_quantizers, dtype=torch.long, device=device)
    if dropout > 0 and num_quantizers > 1:
        drop = torch.rand(batch, device=device) < dropout
        active = torch.where(drop, torch.randint(1, num_quantizers + 1, (batch,), device=device), active)
    return active


def _levels_for_bitrate(bitrate: float, frame_rate: float, bits_per_level: float, maximum: int, name: str) -> int:
    """The most levels (stages, scales) whose cost ``frame_rate * n * bits_per_level`` fits in ``bitrate``."""
    if frame_rate <= 0:
        raise ValueError(f"frame_rate must be positive (frames per second), got {frame_rate!r}")
    per_level = frame_rate * bits_per_level
    levels = math.floor(bitrate / per_level + 1e-9)
    if not 1 <= levels <= maximum:
        raise ValueError(f"bitrate {bitrate} bit/s at {frame_rate} frames/s needs 1..{maximum} {name} of "
                         f"{per_level:g} bit/s each, i.e. {per_level:g}..{maximum * per_level:g} bit/s")
    return levels


def _nearest_code(vectors: Tensor, codebook: Tensor) -> Tensor:
    """Index of the nearest code (Euclidean) for each of ``vectors`` ``(M, d)``; computed in float32."""
    with torch.autocast(device_type=vectors.device.type, enabled=False):
        vectors, codebook = vectors.float(), codebook.float()
        # argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 - 2 x.c_k): |x|^2 is the same for every k
        return (codebook.pow(2).sum(1) - 2 * vectors @ codebook.t()).argmin(1)


def _kmeans_plus_plus(vectors: Tensor, num_clusters: int) -> Tensor:
    """k-means++ seeding: each next centroid drawn with probability proportional to D^2 (squared distance to
    the nearest centroid so far). Well-separated clusters each get a seed, unlike a uniform draw."""
    count = vectors.shape[0]
    centroids = vectors.new_empty(num_clusters, vectors.shape[1])
    centroids[0] = vectors[torch.randint(count, (), device=vectors.device)]
    nearest = (vectors - centroids[0]).pow(2).sum(1)
    floor = torch.finfo(vectors.dtype).tiny  # once every vector is a centroid (fewer vectors than codes): uniform
    for k in range(1, num_clusters):
        centroids[k] = vectors[torch.multinomial(nearest + floor, 1)[0]]
        nearest = torch.minimum(nearest, (vectors - centroids[k]).pow(2).sum(1))
    return centroids


@torch.no_grad()
def kmeans(vectors: Tensor, num_clusters: int, iters: int = 50, spherical: bool = False) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means with k-means++ seeding.

    Args:
        vectors: ``(M, d)`` points.
        num_clusters: number of centroids; may exceed ``M`` (the surplus centroids duplicate points).
        iters: Lloyd iterations (assign, then move each centroid to its members' mean; an empty cluster keeps
            its centroid).
        spherical: normalise points and centroids to unit length (cosine k-means).

    Returns:
        ``(centroids (num_clusters, d), counts (num_clusters,))``: counts of points nearest to each final centroid.
    """
    x = vectors.detach().float()
    if spherical:
        x = F.normalize(x, dim=1)
    centroids = _kmeans_plus_plus(x, num_clusters)
    for _ in range(iters):
        codes = _nearest_code(x, centroids)
        counts = torch.bincount(codes, minlength=num_clusters).to(x.dtype)
        means = torch.zeros_like(centroids).index_add_(0, codes, x) / counts.clamp(min=1)[:, None]
        if spherical:
            means = F.normalize(means, dim=1)
        centroids = torch.where(counts[:, None] > 0, means, centroids)
    counts = torch.bincount(_nearest_code(x, centroids), minlength=num_clusters).to(x.dtype)
    return centroids, counts


# ------------------------------------------------------------------------------------------------ results
@dataclass
class QuantizerOutput:
    """What a quantizer's ``forward`` returns.

    Attributes:
        quantized: ``(B, D, T)`` quantized features. Straight-through: the value is the code vectors' (exactly
            ``decode(codes)`` in eval mode), the gradient w.r.t. the input is the identity's.
        codes: ``(B, T)`` from a :class:`VectorQuantizer`, ``(B, K, T)`` from the multi-codebook quantizers, long.
        commitment_loss: scalar, already weighted: ``commitment_weight * mean |z - sg(q)|^2`` per stage, summed
            over the stages each example uses, averaged over the batch. Trains the encoder only.
        codebook_loss: scalar, already weighted: ``codebook_weight * mean |sg(z) - q|^2`` likewise; trains
            gradient codebooks only, zero for EMA codebooks.
        perplexity: ``(K,)`` per codebook, in code order: ``exp(entropy)`` of this batch's codes, 1..codebook_size.
        active_codebooks: ``(B,)`` long, codebooks each example used: all ``K``, fewer under quantizer dropout
            (its ``codes`` beyond those are computed but do not contribute to ``quantized``).
    """

    quantized: Tensor
    codes: Tensor
    commitment_loss: Tensor
    codebook_loss: Tensor
    perplexity: Tensor
    active_codebooks: Tensor

    @property
    def loss(self) -> Tensor:
        """``commitment_loss + codebook_loss``."""
        return self.commitment_loss + self.codebook_loss


@dataclass
class CodebookUsage:
    """Running codebook usage over recent training steps (see :meth:`VectorQuantizer.usage`).

    Attributes:
        perplexity: ``(K,)`` per codebook: ``exp(entropy)`` of the EMA of code counts (decay ``decay``),
            1 (one code used) .. codebook_size (uniform use).
        used_fraction: ``(K,)`` per codebook: share of its codes chosen at least once in the last
            ``usage_window`` training steps.
    """

    perplexity: Tensor
    used_fraction: Tensor


# ------------------------------------------------------------------------------------------------ base
class Quantizer(nn.Module):
    """Base class of the quantizers: ``codebook_size``, ``num_codebooks`` and bitrate arithmetic."""

    codebook_size: int

    @property
    def num_codebooks(self) -> int:
        """Codebooks at full bitrate (``K``: the second axis of ``codes``; 1 for a single VQ)."""
        raise NotImplementedError

    @property
    def bits_per_codebook(self) -> float:
        """``log2(codebook_size)``: bits one code costs without entropy coding."""
        return math.log2(self.codebook_size)

    def bits_per_frame(self, num_codebooks: int | None = None) -> float:
        """Bits per frame with the first ``num_codebooks`` codebooks (default all): ``num_codebooks * log2(size)``."""
        return _check_level(num_codebooks, self.num_codebooks, "num_codebooks") * self.bits_per_codebook

    def bitrate(self, frame_rate: float, num_codebooks: int | None = None) -> float:
        """Bits per second at ``frame_rate`` frames per second with ``num_codebooks`` codebooks (default all).

        E.g. EnCodec 24 kHz: 75 Hz frames, codebooks of 1024 -> 750 bit/s per codebook, 6 kbit/s with 8.
        """
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive (frames per second), got {frame_rate!r}")
        return frame_rate * self.bits_per_frame(num_codebooks)


# ------------------------------------------------------------------------------------------------ VQ
class VectorQuantizer(Quantizer):
    """One codebook: nearest-neighbour quantization of each frame of ``(B, D, T)`` features.

    Args:
        dim: ``D``, feature channels of the input.
        codebook_size: entries in the codebook (1024 in EnCodec, DAC, ESC, HiFi-Codec).
        codebook_dim: ``d``, dimension of the codes (default ``dim``). When it differs from ``dim``, linear
            projections (a 1x1 convolution over time) map the input down before the lookup and the codes back up
            (DAC: 1024 -> 8).
        update: ``"ema"``, codes are buffers following the running mean of their vectors (SoundStream, EnCodec);
            or ``"gradient"``, codes are a parameter trained by the codebook loss (DAC, ESC).
        decay: EMA decay of the running statistics, in [0, 1) (0.99 in EnCodec). Also sets the usage window.
        epsilon: Laplace smoothing of the EMA cluster sizes (1e-5 in EnCodec); 0 gives the exact running mean.
        commitment_weight: weight of the commitment loss (beta; 0.25 in VQ-VAE, DAC and ESC, 1.0 in EnCodec).
        codebook_weight: weight of the codebook loss (gradient codebooks; 1.0 in DAC and ESC).
        kmeans_init: initialise the codebook with k-means on the first training batch (EnCodec). Otherwise
            codes start as standard-normal draws.
        kmeans_iters: Lloyd iterations of that k-means (50 in EnCodec).
        threshold_dead_code: a code whose running cluster size (vectors per step, EMA) falls below this is
            replaced by a random vector of the current batch, which then counts as this many vectors
            (2 in EnCodec, with about 4800 vectors per step for 1024 codes: scale it with the batch);
            0 disables replacement. Random initial codes count as 1 vector and k-means codes as their
            cluster's size (at least 1), so with a threshold above 1 the first training step replaces every
            random initial code, and every k-means cluster smaller than the threshold, by batch vectors.
        l2_normalize: L2-normalise the (projected) inputs and the codes: lookup by cosine similarity and unit
            code vectors (DAC, ESC, with ``codebook_dim=8, update="gradient", kmeans_init=False,
            threshold_dead_code=0``). Unlike DAC, which returns the raw code vector, the quantized vector here
            is the normalised code, so inputs and codes live on the same sphere.

    Buffers: ``codebook`` (EMA; a parameter for gradient codebooks) ``(codebook_size, d)``, ``embed_sum``
    (EMA only), ``cluster_size``, ``code_counts`` (EMA of actual counts), ``last_used`` (step of each
    code's last use), ``step`` (training steps seen) and ``initialized`` (k-means done).
    """

    def __init__(self, dim: int, codebook_size: int, *, codebook_dim: int | None = None, update: str = "ema",
                 decay: float = 0.99, epsilon: float = 1e-5, commitment_weight: float = 0.25,
                 codebook_weight: float = 1.0, kmeans_init: bool = True, kmeans_iters: int = 50,
                 threshold_dead_code: float = 2.0, l2_normalize: bool = False):
        super().__init__()
        _check_positive_int(dim=dim, codebook_size=codebook_size)
        if codebook_dim is not None:
            _check_positive_int(codebook_dim=codebook_dim)
        if update not in ("ema", "gradient"):
            raise ValueError(f"update must be 'ema' or 'gradient', got {update!r}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        for name, value in (("epsilon", epsilon), ("commitment_weight", commitment_weight),
                            ("codebook_weight", codebook_weight), ("threshold_dead_code", threshold_dead_code)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if isinstance(kmeans_iters, bool) or not isinstance(kmeans_iters, int) or kmeans_iters < 0:
            raise ValueError(f"kmeans_iters must be an int >= 0, got {kmeans_iters!r}")
        self.dim, self.codebook_size = dim, codebook_size
        self.codebook_dim = dim if codebook_dim is None else codebook_dim
        self.update, self.decay, self.epsilon = update, float(decay), float(epsilon)
        self.commitment_weight, self.codebook_weight = float(commitment_weight), float(codebook_weight)
        self.kmeans_iters, self.threshold_dead_code = kmeans_iters, float(threshold_dead_code)
        self.l2_normalize = l2_normalize
        # A code counts as used if chosen within the EMA's horizon, 1 / (1 - decay) steps (100 at 0.99).
        self.usage_window = max(1, round(1.0 / (1.0 - self.decay)))

        projected = self.codebook_dim != dim
        self.in_proj = nn.Linear(dim, self.codebook_dim) if projected else nn.Identity()
        self.out_proj = nn.Linear(self.codebook_dim, dim) if projected else nn.Identity()
        codebook = torch.randn(codebook_size, self.codebook_dim)
        if update == "ema":
            self.register_buffer("codebook", codebook)
            self.register_buffer("embed_sum", codebook.clone())  # initial codes count as one vector each
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("code_counts", torch.zeros(codebook_size))
        self.register_buffer("last_used", torch.zeros(codebook_size, dtype=torch.long))  # 0: never
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    @property
    def num_codebooks(self) -> int:
        return 1

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, codebook_size={self.codebook_size}, codebook_dim={self.codebook_dim}, "
                f"update={self.update!r}, l2_normalize={self.l2_normalize}")

    # ----------------------------------------------------------------------------------- public API
    def forward(self, x: Tensor) -> QuantizerOutput:
        """Quantize ``x`` ``(B, D, T)``; in training mode also initialise and update the codebook.

        Returns:
            :class:`QuantizerOutput` with codes ``(B, T)`` and ``perplexity`` / ``active_codebooks`` of
            shape ``(1,)`` / ``(B,)``.
        """
        _check_features(x, self.dim)
        quantized, codes, commitment, codebook, perplexity = self._quantize(x)
        active = torch.ones(x.shape[0], dtype=torch.long, device=x.device)
        return QuantizerOutput(quantized, codes, commitment.mean(), codebook.mean(), perplexity, active)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Codes ``(B, T)`` of ``x`` ``(B, D, T)``: a pure lookup that never updates the codebook."""
        _check_features(x, self.dim)
        return self._encode(x)

    def decode(self, codes: Tensor) -> Tensor:
        """Quantized features ``(B, D, T)`` of ``codes`` ``(B, T)``."""
        _check_codes(codes, self.codebook_size, "(batch, frames)", ndim=2)
        return self._decode(codes)

    def usage(self) -> CodebookUsage:
        """Running usage over recent training steps, tensors of shape ``(1,)`` (see :class:`CodebookUsage`)."""
        used = (self.last_used > 0) & (self.step - self.last_used < self.usage_window)
        return CodebookUsage(perplexity=_perplexity(self.code_counts)[None], used_fraction=used.float().mean()[None])

    # ----------------------------------------------------------------------------------- internals
    def _project(self, x: Tensor) -> Tensor:
        z = self.in_proj(x.transpose(1, 2))  # (B, D, T) -> (B, T, D) -> (B, T, d)
        return F.normalize(z, dim=-1) if self.l2_normalize else z

    def _embed(self, codes: Tensor) -> Tensor:
        vectors = F.embedding(codes, self.codebook)  # (...) -> (..., d)
        return F.normalize(vectors, dim=-1) if self.l2_normalize else vectors

    def _lookup(self, flat: Tensor) -> Tensor:
        codebook = F.normalize(self.codebook, dim=1) if self.l2_normalize else self.codebook
        return _nearest_code(flat, codebook.detach())

    def _encode(self, x: Tensor) -> Tensor:
        z = self._project(x)
        return self._lookup(z.reshape(-1, self.codebook_dim)).view(z.shape[:2])  # (B*T,) -> (B, T)

    def _decode(self, codes: Tensor) -> Tensor:
        return self.out_proj(self._embed(codes)).transpose(1, 2)  # (B, T, d) -> (B, T, D) -> (B, D, T)

    def _quantize(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``forward`` without the input check; losses per example ``(B,)`` so that the RVQ can mask them.

        Returns ``(quantized (B, D, T), codes (B, T), commitment (B,), codebook (B,), perplexity (1,))``.
        """
        z = self._project(x)  # (B, T, d)
        batch, frames, _ = z.shape
        flat = z.detach().reshape(-1, self.codebook_dim)  # (B, T, d) -> (B*T, d)
        if self.training and not bool(self.initialized):
            self._kmeans_init(flat)
        codes = self._lookup(flat)  # (B*T,)
        q = self._embed(codes).view_as(z)  # (B*T, d) -> (B, T, d)

        commitment = (z - q.detach()).pow(2).mean(dim=(1, 2)) * self.commitment_weight
        if self.update == "gradient":
            codebook_loss = (q - z.detach()).pow(2).mean(dim=(1, 2)) * self.codebook_weight
        else:
            codebook_loss = torch.zeros_like(commitment)
        counts = torch.bincount(codes, minlength=self.codebook_size)
        if self.training:
            self._update(flat, codes, counts)
        # Straight-through: the value is q exactly (z - z.detach() is exactly 0), the gradient w.r.t. z is 1.
        straight = q.detach() + (z - z.detach())
        quantized = self.out_proj(straight).transpose(1, 2)  # (B, T, d) -> (B, T, D) -> (B, D, T)
        return quantized, codes.view(batch, frames), commitment, codebook_loss, _perplexity(counts.float())[None]

    @torch.no_grad()
    def _kmeans_init(self, flat: Tensor) -> None:
        centroids, counts = kmeans(flat, self.codebook_size, self.kmeans_iters, spherical=self.l2_normalize)
        # The EMA state as if this batch had been seen forever; a code no vector chose counts as one vector
        # (keeps its centroid instead of collapsing to zero).
        sizes = counts.clamp(min=1)
        if _distributed():
            dist.broadcast(centroids, src=0)
            dist.broadcast(sizes, src=0)
        self.codebook.copy_(centroids)
        self.cluster_size.copy_(sizes)
        if self.update == "ema":
            self.embed_sum.copy_(centroids * sizes[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, flat: Tensor, codes: Tensor, counts: Tensor) -> None:
        """One training step of the running statistics, the EMA codebook and dead-code replacement."""
        dtype = self.cluster_size.dtype
        stats = counts.to(dtype)[:, None]  # (K, 1)
        if self.update == "ema":
            sums = torch.zeros_like(self.codebook).index_add_(0, codes, flat.to(self.codebook.dtype))
            stats = torch.cat([stats, sums], dim=1)  # (K, 1 + d)
        if _distributed():
            dist.all_reduce(stats)  # sum over ranks: the statistics of the global batch
        counts = stats[:, 0]
        keep, new = self.decay, 1.0 - self.decay
        self.step.add_(1)
        self.last_used.masked_fill_(counts > 0, self.step)
        self.code_counts.mul_(keep).add_(counts, alpha=new)
        self.cluster_size.mul_(keep).add_(counts, alpha=new)
        if self.update == "ema":
            self.embed_sum.mul_(keep).add_(stats[:, 1:], alpha=new)
            total = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
            # A code whose count underflowed to 0 (epsilon 0, thousands of unused steps) keeps its value.
            means = self.embed_sum / smoothed.clamp(min=torch.finfo(dtype).tiny)[:, None]
            self.codebook.copy_(torch.where(smoothed[:, None] > 0, means, self.codebook))
        if self.threshold_dead_code > 0:
            self._replace_dead_codes(flat)

    @torch.no_grad()
    def _replace_dead_codes(self, flat: Tensor) -> None:
        dead = self.cluster_size < self.threshold_dead_code  # (K,), identical on every rank
        if not bool(dead.any()):
            return
        count, size = flat.shape[0], self.codebook_size
        if count >= size:  # distinct vectors when the batch has enough
            pick = torch.randperm(count, device=flat.device)[:size]
        else:
            pick = torch.randint(count, (size,), device=flat.device)
        samples = flat[pick].to(self.codebook.dtype)  # (K, d): a candidate for every code; dead ones take theirs
        if _distributed():
            dist.broadcast(samples, src=0)
        self.codebook[dead] = samples[dead]
        # Reset the EMA state too, or the next update would pull the code back to its old running mean.
        self.cluster_size[dead] = self.threshold_dead_code
        if self.update == "ema":
            self.embed_sum[dead] = samples[dead] * self.threshold_dead_code


# ------------------------------------------------------------------------------------------------ RVQ
class ResidualVectorQuantizer(Quantizer):
    """Residual VQ (SoundStream, EnCodec, DAC): stage ``i`` quantizes what stages ``< i`` left over.

    ``quantized = q_1 + ... + q_n`` with ``q_i = VQ_i(x - q_1 - ... - q_{i-1})``, so any prefix of the codes
    decodes (a lower bitrate). In training, with probability ``quantizer_dropout`` an example uses only its
    first ``n ~ U{1..N}`` stages (SoundStream; DAC uses 0.5), which trains every prefix to decode well.

    Args:
        dim: ``D``, feature channels.
        num_quantizers: ``N``, residual stages (codebooks).
        codebook_size: entries per codebook.
        quantizer_dropout: probability, per training example, of using a random prefix of the stages.
        codebook_dim, update, decay, epsilon, commitment_weight, codebook_weight, kmeans_init, kmeans_iters,
        threshold_dead_code, l2_normalize: of each stage's :class:`VectorQuantizer`.

    Every stage is computed on every example in training (its statistics are updated on all residuals,
    which are valid residuals whatever the dropout); dropout only masks a stage's contribution and losses.
    """

    def __init__(self, dim: int, num_quantizers: int, codebook_size: int, *, codebook_dim: int | None = None,
                 update: str = "ema", decay: float = 0.99, epsilon: float = 1e-5, commitment_weight: float = 0.25,
                 codebook_weight: float = 1.0, kmeans_init: bool = True, kmeans_iters: int = 50,
                 threshold_dead_code: float = 2.0, l2_normalize: bool = False, quantizer_dropout: float = 0.0):
        super().__init__()
        _check_positive_int(num_quantizers=num_quantizers)
        _check_probability(quantizer_dropout, "quantizer_dropout")
        self.dim, self.codebook_size, self.num_quantizers = dim, codebook_size, num_quantizers
        self.quantizer_dropout = float(quantizer_dropout)
        self.quantizers = nn.ModuleList(
            VectorQuantizer(dim, codebook_size, codebook_dim=codebook_dim, update=update, decay=decay,
                            epsilon=epsilon, commitment_weight=commitment_weight, codebook_weight=codebook_weight,
                            kmeans_init=kmeans_init, kmeans_iters=kmeans_iters,
                            threshold_dead_code=threshold_dead_code, l2_normalize=l2_normalize)
            for _ in range(num_quantizers))

    @property
    def num_codebooks(self) -> int:
        return self.num_quantizers

    def forward(self, x: Tensor, n_quantizers: int | None = None) -> QuantizerOutput:
        """Quantize ``x`` ``(B, D, T)`` with the first ``n_quantizers`` stages (default all).

        Returns:
            :class:`QuantizerOutput`, codes ``(B, n, T)``; in training, examples may use fewer stages
            (``active_codebooks``).
        """
        _check_features(x, self.dim)
        n = _check_level(n_quantizers, self.num_quantizers, "n_quantizers")
        dropout = self.quantizer_dropout if self.training else 0.0
        active = _sample_active(x.shape[0], n, dropout, x.device)
        quantized, codes, commitment, codebook, perplexity = self._quantize(x, n, active)
        return QuantizerOutput(quantized, codes, commitment.mean(), codebook.mean(), perplexity, active)

    @torch.no_grad()
    def encode(self, x: Tensor, n_quantizers: int | None = None) -> Tensor:
        """Codes ``(B, n, T)`` of ``x`` ``(B, D, T)`` with the first ``n_quantizers`` stages (default all)."""
        _check_features(x, self.dim)
        return self._encode(x, _check_level(n_quantizers, self.num_quantizers, "n_quantizers"))

    def decode(self, codes: Tensor) -> Tensor:
        """Quantized features ``(B, D, T)`` of ``codes`` ``(B, n, T)``, any ``n`` in ``1..N`` (a prefix of stages)."""
        _check_codes(codes, self.codebook_size, f"(batch, 1..{self.num_quantizers}, frames)", ndim=3)
        _check_level(codes.shape[1], self.num_quantizers, "the number of codebooks in codes (axis 1)")
        return self._decode(codes)

    def quantizers_for_bitrate(self, bitrate: float, frame_rate: float) -> int:
        """The most stages whose bitrate at ``frame_rate`` fits in ``bitrate`` bit/s (EnCodec's bandwidth choice)."""
        return _levels_for_bitrate(bitrate, frame_rate, self.bits_per_codebook, self.num_quantizers, "codebooks")

    def usage(self) -> CodebookUsage:
        """Running usage of each stage's codebook, tensors of shape ``(N,)``."""
        usages = [vq.usage() for vq in self.quantizers]
        return CodebookUsage(torch.cat([u.perplexity for u in usages]), torch.cat([u.used_fraction for u in usages]))

    # ----------------------------------------------------------------------------------- internals
    def _quantize(self, x: Tensor, n: int, active: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """First ``n`` stages; example ``b`` uses stages ``< active[b]``. Losses ``(B,)``, perplexity ``(n,)``."""
        residual, parts, codes, perplexities = x, [], [], []
        commitment = codebook = x.new_zeros(x.shape[0])
        for i, vq in enumerate(self.quantizers[:n]):
            q, c, commit, cb, perplexity = vq._quantize(residual)
            used = (active > i).to(q.dtype)  # (B,): 1 where example b uses stage i
            parts.append(q * used[:, None, None])
            commitment, codebook = commitment + commit * used, codebook + cb * used
            # With the straight-through q, the residual carries no gradient to earlier stages (as EnCodec).
            residual = residual - q
            codes.append(c)
            perplexities.append(perplexity)
        # n x (B, T) -> (B, n, T)
        return sum(parts), torch.stack(codes, dim=1), commitment, codebook, torch.cat(perplexities)

    def _encode(self, x: Tensor, n: int) -> Tensor:
        residual, codes = x, []
        for vq in self.quantizers[:n]:
            codes.append(vq._encode(residual))
            residual = residual - vq._decode(codes[-1])
        return torch.stack(codes, dim=1)  # n x (B, T) -> (B, n, T)

    def _decode(self, codes: Tensor) -> Tensor:
        return sum(vq._decode(codes[:, i]) for i, vq in enumerate(self.quantizers[:codes.shape[1]]))


# ------------------------------------------------------------------------------------------------ GRVQ
class GroupResidualVectorQuantizer(Quantizer):
    """Group-residual VQ (HiFi-Codec): channels split into ``groups``, each group with its own RVQ.

    Channel group ``g`` is ``x[:, g * D/G : (g + 1) * D/G]``. Codes are ordered **stage-major**::

        codes[:, s * G + g] = stage s of group g        e.g. G=2, N=2: [s0g0, s0g1, s1g0, s1g1]

    so the first ``G * n`` codebooks are the first ``n`` stages of every group: any such prefix decodes
    (a lower bitrate), as for :class:`ResidualVectorQuantizer`. Quantizer dropout draws one ``n`` per example,
    shared by all groups. Losses are summed over groups and active stages.

    Args:
        dim: ``D``, feature channels, divisible by ``groups``.
        groups: ``G`` (2 in HiFi-Codec).
        num_quantizers_per_group: ``N``, residual stages per group (2 in HiFi-Codec).
        codebook_size: entries per codebook (1024 in HiFi-Codec).
        quantizer_dropout: probability, per training example, of using a random prefix of the stages.
        codebook_dim, update, decay, epsilon, commitment_weight, codebook_weight, kmeans_init, kmeans_iters,
        threshold_dead_code, l2_normalize: of each :class:`VectorQuantizer`.
    """

    def __init__(self, dim: int, groups: int, num_quantizers_per_group: int, codebook_size: int, *,
                 codebook_dim: int | None = None, update: str = "ema", decay: float = 0.99, epsilon: float = 1e-5,
                 commitment_weight: float = 0.25, codebook_weight: float = 1.0, kmeans_init: bool = True,
                 kmeans_iters: int = 50, threshold_dead_code: float = 2.0, l2_normalize: bool = False,
                 quantizer_dropout: float = 0.0):
        super().__init__()
        _check_positive_int(dim=dim, groups=groups, num_quantizers_per_group=num_quantizers_per_group)
        if dim % groups:
            raise ValueError(f"dim must be divisible by groups, got dim {dim} and groups {groups}")
        _check_probability(quantizer_dropout, "quantizer_dropout")
        self.dim, self.groups, self.codebook_size = dim, groups, codebook_size
        self.num_quantizers_per_group = num_quantizers_per_group
        self.quantizer_dropout = float(quantizer_dropout)
        self.quantizers = nn.ModuleList(
            ResidualVectorQuantizer(dim // groups, num_quantizers_per_group, codebook_size,
                                    codebook_dim=codebook_dim, update=update, decay=decay, epsilon=epsilon,
                                    commitment_weight=commitment_weight, codebook_weight=codebook_weight,
                                    kmeans_init=kmeans_init, kmeans_iters=kmeans_iters,
                                    threshold_dead_code=threshold_dead_code, l2_normalize=l2_normalize)
            for _ in range(groups))

    @property
    def num_codebooks(self) -> int:
        return self.groups * self.num_quantizers_per_group

    def forward(self, x: Tensor, n_quantizers: int | None = None) -> QuantizerOutput:
        """Quantize ``x`` ``(B, D, T)`` with the first ``n_quantizers`` stages of every group (default all).

        Returns:
            :class:`QuantizerOutput`, codes ``(B, G * n, T)`` stage-major; ``active_codebooks`` counts
            ``G`` codebooks per active stage.
        """
        _check_features(x, self.dim)
        n = _check_level(n_quantizers, self.num_quantizers_per_group, "n_quantizers")
        dropout = self.quantizer_dropout if self.training else 0.0
        active = _sample_active(x.shape[0], n, dropout, x.device)
        # (B, D, T) -> G x (B, D/G, T)
        parts = [rvq._quantize(chunk, n, active) for rvq, chunk in zip(self.quantizers, x.chunk(self.groups, 1))]
        quantized = torch.cat([p[0] for p in parts], dim=1)
        codes = self._interleave([p[1] for p in parts])
        commitment = sum(p[2] for p in parts).mean()
        codebook = sum(p[3] for p in parts).mean()
        perplexity = torch.stack([p[4] for p in parts], dim=1).reshape(-1)  # G x (n,) -> (n, G) -> (n*G,)
        return QuantizerOutput(quantized, codes, commitment, codebook, perplexity, active * self.groups)

    @torch.no_grad()
    def encode(self, x: Tensor, n_quantizers: int | None = None) -> Tensor:
        """Codes ``(B, G * n, T)`` (stage-major) of ``x`` ``(B, D, T)`` with ``n_quantizers`` stages per group."""
        _check_features(x, self.dim)
        n = _check_level(n_quantizers, self.num_quantizers_per_group, "n_quantizers")
        return self._interleave([rvq._encode(chunk, n) for rvq, chunk in zip(self.quantizers, x.chunk(self.groups, 1))])

    def decode(self, codes: Tensor) -> Tensor:
        """Quantized features ``(B, D, T)`` of stage-major ``codes`` ``(B, G * n, T)``, any ``n`` in ``1..N``."""
        k_max = self.num_codebooks
        _check_codes(codes, self.codebook_size, f"(batch, groups * 1..{self.num_quantizers_per_group}, frames)", 3)
        if codes.shape[1] % self.groups or not 1 <= codes.shape[1] <= k_max:
            raise ValueError(f"expected a multiple of groups={self.groups} codebooks, at most {k_max}, "
                             f"got codes of shape {tuple(codes.shape)}")
        batch, k, frames = codes.shape
        per_stage = codes.view(batch, k // self.groups, self.groups, frames)  # (B, n*G, T) -> (B, n, G, T)
        return torch.cat([rvq._decode(per_stage[:, :, g]) for g, rvq in enumerate(self.quantizers)], dim=1)

    def quantizers_for_bitrate(self, bitrate: float, frame_rate: float) -> int:
        """The most stages per group whose bitrate at ``frame_rate`` fits in ``bitrate`` bit/s."""
        return _levels_for_bitrate(bitrate, frame_rate, self.groups * self.bits_per_codebook,
                                   self.num_quantizers_per_group, "stages of all groups")

    def usage(self) -> CodebookUsage:
        """Running usage of every codebook, tensors of shape ``(G * N,)`` in code order (stage-major)."""
        usages = [rvq.usage() for rvq in self.quantizers]
        return CodebookUsage(torch.stack([u.perplexity for u in usages], dim=1).reshape(-1),
                             torch.stack([u.used_fraction for u in usages], dim=1).reshape(-1))

    @staticmethod
    def _interleave(group_codes: list[Tensor]) -> Tensor:
        batch, n, frames = group_codes[0].shape
        # G x (B, n, T) -> (B, n, G, T) -> (B, n*G, T): index s * G + g
        return torch.stack(group_codes, dim=2).reshape(batch, n * len(group_codes), frames)


# ------------------------------------------------------------------------------------------------ cross-scale
class CrossScaleResidualVectorQuantizer(Quantizer):
    """Cross-scale residual VQ (ESC, "Efficient Speech Codec", Gu & Diao 2024): a quantizer per decoder scale.

    The codec's decoder works from the coarsest scale to the finest. At scale ``s`` it has a feature
    ``dec_s`` built from the scales before; the quantizer codes the residual between the encoder's feature at
    that scale and ``dec_s``, and the decoder continues from the refined feature. The coarsest scale has no
    decoder feature yet and codes the encoder feature itself. The model drives the loop::

        k = quantizer.sample_num_scales()             # S in eval; a random 1..S in training (scale dropout)
        h = None
        for s in range(S):                            # s = 0: coarsest
            if s < k:
                out = quantizer(s, enc[s], h)         # codes enc[s] - h (enc[s] when h is None)
                h = out.quantized if h is None else h + out.quantized
            h = decoder_block[s](h)                   # up to scale s + 1 (ESC: scales beyond k get no refinement)

    Each scale has a :class:`GroupResidualVectorQuantizer` of ``groups`` x ``num_quantizers_per_scale``
    codebooks. ESC-Base: 6 scales, each a product VQ of 3 groups x 1 stage of 1024 codes, ``codebook_dim=8``,
    L2-normalised gradient codebooks, scale dropout 0.75, 50 vectors/s per scale -> 1.5 kbit/s per scale,
    9 kbit/s in all. Features of a scale are ``(B, dims[s], T_s)``; ESC flattens frequency x channels (and
    two consecutive frames) into ``dims[s]`` before quantizing, which is the model's reshaping, not this class's.

    Gradients: with the straight-through estimator ``h + out.quantized`` has the value of the codes and the
    gradient of ``enc[s]``: the encoder learns through every scale, ``h``'s gradient comes from the commitment
    loss of the residual.

    Args:
        dims: channels of each scale's features, coarsest first.
        codebook_size: entries per codebook.
        num_quantizers_per_scale: residual stages per scale (1 in ESC).
        groups: product-VQ groups per scale (3 in ESC); each ``dims[s]`` must be divisible by it.
        scale_dropout: probability that a training step uses only the first ``k ~ U{1..S}`` scales; one draw
            for the whole batch, as ESC (0.75), since the decoder's path depends on it.
        codebook_dim, update, decay, epsilon, commitment_weight, codebook_weight, kmeans_init, kmeans_iters,
        threshold_dead_code, l2_normalize: of each :class:`VectorQuantizer`.

    Bitrate: ``bits_per_frame``/``bitrate`` count ``num_codebooks = k * codebooks_per_scale`` codebooks and
    assume every scale has the codec's frame rate (as in ESC, whose scales differ in frequency, not time).
    """

    def __init__(self, dims: Sequence[int], codebook_size: int, *, num_quantizers_per_scale: int = 1,
                 groups: int = 1, codebook_dim: int | None = None, update: str = "ema", decay: float = 0.99,
                 epsilon: float = 1e-5, commitment_weight: float = 0.25, codebook_weight: float = 1.0,
                 kmeans_init: bool = True, kmeans_iters: int = 50, threshold_dead_code: float = 2.0,
                 l2_normalize: bool = False, scale_dropout: float = 0.0):
        super().__init__()
        dims = list(dims)
        if not dims:
            raise ValueError("dims must list the channels of at least one scale, got an empty sequence")
        _check_probability(scale_dropout, "scale_dropout")
        self.dims, self.codebook_size, self.groups = dims, codebook_size, groups
        self.num_quantizers_per_scale = num_quantizers_per_scale
        self.scale_dropout = float(scale_dropout)
        self.scales = nn.ModuleList(
            GroupResidualVectorQuantizer(dim, groups, num_quantizers_per_scale, codebook_size,
                                         codebook_dim=codebook_dim, update=update, decay=decay, epsilon=epsilon,
                                         commitment_weight=commitment_weight, codebook_weight=codebook_weight,
                                         kmeans_init=kmeans_init, kmeans_iters=kmeans_iters,
                                         threshold_dead_code=threshold_dead_code, l2_normalize=l2_normalize)
            for dim in dims)

    @property
    def num_scales(self) -> int:
        return len(self.dims)

    @property
    def codebooks_per_scale(self) -> int:
        return self.groups * self.num_quantizers_per_scale

    @property
    def num_codebooks(self) -> int:
        return self.num_scales * self.codebooks_per_scale

    def sample_num_scales(self) -> int:
        """Scales to use this step: all in eval; in training a random ``1..S`` with probability ``scale_dropout``."""
        if self.training and self.scale_dropout > 0 and float(torch.rand(())) < self.scale_dropout:
            return int(torch.randint(1, self.num_scales + 1, ()))
        return self.num_scales

    def forward(self, scale: int, encoder_feature: Tensor, decoder_feature: Tensor | None = None,
                n_quantizers: int | None = None) -> QuantizerOutput:
        """Quantize the residual ``encoder_feature - decoder_feature`` at ``scale`` (0 = coarsest).

        Args:
            scale: index into ``dims``.
            encoder_feature: ``(B, dims[scale], T_s)``.
            decoder_feature: the decoder's current reconstruction, same shape; None at the coarsest scale
                (the encoder feature itself is coded).
            n_quantizers: stages of this scale's quantizer (default all).

        Returns:
            :class:`QuantizerOutput` whose ``quantized`` is the quantized *residual*: the refined feature is
            ``decoder_feature + out.quantized``. Codes ``(B, groups * n, T_s)``.
        """
        return self.scales[self._check_scale(scale)](self._residual(scale, encoder_feature, decoder_feature),
                                                     n_quantizers)

    @torch.no_grad()
    def encode(self, scale: int, encoder_feature: Tensor, decoder_feature: Tensor | None = None,
               n_quantizers: int | None = None) -> Tensor:
        """Codes ``(B, groups * n, T_s)`` of the residual at ``scale``; never updates codebooks."""
        return self.scales[self._check_scale(scale)].encode(
            self._residual(scale, encoder_feature, decoder_feature), n_quantizers)

    def decode(self, scale: int, codes: Tensor) -> Tensor:
        """Quantized residual ``(B, dims[scale], T_s)`` of ``codes`` at ``scale``."""
        return self.scales[self._check_scale(scale)].decode(codes)

    def scales_for_bitrate(self, bitrate: float, frame_rate: float) -> int:
        """The most scales whose bitrate at ``frame_rate`` fits in ``bitrate`` bit/s (ESC: 1.5 kbit/s per scale)."""
        return _levels_for_bitrate(bitrate, frame_rate, self.codebooks_per_scale * self.bits_per_codebook,
                                   self.num_scales, "scales")

    def usage(self) -> CodebookUsage:
        """Running usage of every codebook, ``(S * groups * N,)``, scale by scale in code order."""
        usages = [quantizer.usage() for quantizer in self.scales]
        return CodebookUsage(torch.cat([u.perplexity for u in usages]), torch.cat([u.used_fraction for u in usages]))

    def _check_scale(self, scale: int) -> int:
        if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale < self.num_scales:
            raise ValueError(f"scale must be an int in 0..{self.num_scales - 1}, got {scale!r}")
        return scale

    def _residual(self, scale: int, encoder_feature: Tensor, decoder_feature: Tensor | None) -> Tensor:
        dim = self.dims[self._check_scale(scale)]
        _check_features(encoder_feature, dim, f"encoder_feature at scale {scale}")
        if decoder_feature is None:
            return encoder_feature
        _check_features(decoder_feature, dim, f"decoder_feature at scale {scale}")
        if decoder_feature.shape != encoder_feature.shape:
            raise ValueError(f"decoder_feature at scale {scale} must match encoder_feature's shape "
                             f"{tuple(encoder_feature.shape)}, got {tuple(decoder_feature.shape)}")
        return encoder_feature - decoder_feature
