"""Vector quantizers: EMA algebra, k-means init, dead codes, straight-through gradients, nearest-neighbour
codes, residual / group / cross-scale structure, quantizer dropout, usage, bitrate, exact resume and DDP."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from audiokit.nn import (
    CrossScaleResidualVectorQuantizer,
    GroupResidualVectorQuantizer,
    ResidualVectorQuantizer,
    VectorQuantizer,
)


def frames(x: torch.Tensor) -> torch.Tensor:
    """(B, D, T) -> (B*T, D), in the order the quantizers flatten codes."""
    return x.transpose(1, 2).reshape(-1, x.shape[1])


def as_features(vectors: list[list[float]]) -> torch.Tensor:
    """A list of T D-dimensional frames as one example (1, D, T)."""
    return torch.tensor(vectors, dtype=torch.float32).t()[None]


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean())


# ------------------------------------------------------------------------------------------------ EMA update
def test_ema_update_is_the_running_mean_computed_by_hand():
    vq = VectorQuantizer(2, 2, decay=0.5, epsilon=0.0, kmeans_init=False, threshold_dead_code=0)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
        vq.embed_sum.copy_(vq.codebook)  # initial codes count as one vector each (cluster_size starts at 1)
    assert vq.cluster_size.tolist() == [1.0, 1.0]
    vq.train()

    # Step 1: (1,0) and (0,1) go to code 0, (10,12) to code 1.
    out = vq(as_features([[1, 0], [0, 1], [10, 12]]))
    assert out.codes.tolist() == [[0, 0, 1]]
    # N = 0.5 * [1, 1] + 0.5 * [2, 1];  S = 0.5 * [[0,0],[10,10]] + 0.5 * [[1,1],[10,12]]
    torch.testing.assert_close(vq.cluster_size, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(vq.embed_sum, torch.tensor([[0.5, 0.5], [10.0, 11.0]]))
    torch.testing.assert_close(vq.codebook, torch.tensor([[1 / 3, 1 / 3], [10.0, 11.0]]))

    # Step 2: (2,2) -> code 0, (10,14) -> code 1.
    vq(as_features([[2, 2], [10, 14]]))
    torch.testing.assert_close(vq.cluster_size, torch.tensor([1.25, 1.0]))
    # Closed form, code 0: weights 0.25 (initial code), 0.25 (step 1, 2 vectors), 0.5 (step 2, 1 vector)
    # e_0 = (0.25 * (0,0) + 0.25 * (1,1) + 0.5 * (2,2)) / (0.25 * 1 + 0.25 * 2 + 0.5 * 1) = (1, 1)
    # e_1 = (0.25 * (10,10) + 0.25 * (10,12) + 0.5 * (10,14)) / (0.25 + 0.25 + 0.5) = (10, 12.5)
    torch.testing.assert_close(vq.codebook, torch.tensor([[1.0, 1.0], [10.0, 12.5]]))
    assert int(vq.step) == 2


def test_ema_update_with_laplace_smoothing_by_hand():
    eps = 0.1  # large, so that the smoothing shows
    vq = VectorQuantizer(2, 2, decay=0.5, epsilon=eps, kmeans_init=False, threshold_dead_code=0)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
        vq.embed_sum.copy_(vq.codebook)
    vq.train()
    vq(as_features([[1, 0], [0, 1], [10, 12]]))
    sizes, total = [1.5, 1.0], 2.5  # as in the test above
    smoothed = [(n + eps) / (total + 2 * eps) * total for n in sizes]  # [1.4815, 1.0185]
    expected = [[0.5 / smoothed[0], 0.5 / smoothed[0]], [10.0 / smoothed[1], 11.0 / smoothed[1]]]
    torch.testing.assert_close(vq.codebook, torch.tensor(expected))
    assert abs(expected[0][0] - 0.3375) < 1e-4  # vs 1/3 unsmoothed: the rare code is pulled toward 0


# ------------------------------------------------------------------------------------------------ k-means
def test_kmeans_init_recovers_well_separated_clusters():
    torch.manual_seed(0)
    centers = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    points = (centers.repeat_interleave(100, 0) + 0.1 * torch.randn(400, 2))[torch.randperm(400)]
    x = points.view(4, 100, 2).transpose(1, 2)  # (B*T, D) -> (B, T, D) -> (B, D, T)
    vq = VectorQuantizer(2, 4, kmeans_iters=10, threshold_dead_code=0)
    assert not bool(vq.initialized)
    vq.train()
    vq(x)
    assert bool(vq.initialized)

    codebook = vq.codebook.clone()
    # Each true centre has its own code, within the noise of its cluster's mean.
    match = torch.cdist(centers, codebook).argmin(1)
    assert sorted(match.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(codebook[match], centers, atol=0.05, rtol=0)
    # Each code is the mean of the batch vectors nearest to it: the k-means fixed point.
    assign = torch.cdist(frames(x), codebook).argmin(1)
    means = torch.stack([frames(x)[assign == k].mean(0) for k in range(4)])
    torch.testing.assert_close(codebook, means, atol=1e-4, rtol=0)

    # A second batch does not re-initialise: the codes move by the EMA only (decay 0.99 -> 1 % of a shift of 1).
    vq(x + 1.0)
    torch.testing.assert_close(vq.codebook, codebook + 0.01, atol=2e-3, rtol=0)


# ------------------------------------------------------------------------------------------------ dead codes
@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_dead_code_is_replaced_by_a_batch_vector_and_then_used(update):
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 8, update=update, decay=0.9, kmeans_iters=5, threshold_dead_code=1.0)
    x = torch.randn(2, 4, 64)
    vq.train()
    vq(x)  # k-means init: about 16 vectors per code, far above the threshold
    assert bool((vq.cluster_size >= 1.0).all())
    with torch.no_grad():  # kill code 3: far from every vector and no running count
        vq.codebook[3] = 100.0
        vq.cluster_size[3] = 0.0
        if update == "ema":
            vq.embed_sum[3] = 0.0
    before = vq.codebook.detach().clone()

    out = vq(x)
    assert not bool((out.codes == 3).any())  # unused in this step ...
    revived = vq.codebook[3].detach()
    assert bool((frames(x) == revived).all(1).any())  # ... so replaced by a vector of the batch
    assert float(vq.cluster_size[3]) == 1.0  # and counts as threshold_dead_code vectors
    if update == "ema":
        torch.testing.assert_close(vq.embed_sum[3], revived * 1.0)
    else:  # no optimiser step: only the dead code changed
        others = [k for k in range(8) if k != 3]
        assert torch.equal(vq.codebook.detach()[others], before[others])

    vq.eval()
    assert bool((vq.encode(x) == 3).any())  # the revived code is chosen again


# ------------------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("kind", ["vq", "rvq"])
def test_straight_through_gradient_reaches_the_encoder_unchanged(kind):
    torch.manual_seed(0)
    if kind == "vq":
        quantizer = VectorQuantizer(4, 16, kmeans_iters=3)
    else:
        quantizer = ResidualVectorQuantizer(4, 3, 16, kmeans_iters=3, quantizer_dropout=0.5)
    encoder = nn.Linear(3, 4)
    reference = copy.deepcopy(encoder)
    x = torch.randn(6, 10, 3)
    quantizer.train()
    quantizer(encoder(x).transpose(1, 2).detach())  # initialise the codebooks first

    h = encoder(x).transpose(1, 2)  # (B, T, 3) -> (B, T, 4) -> (B, 4, T)
    h.retain_grad()
    out = quantizer(h)
    g = torch.randn_like(out.quantized)
    (out.quantized * g).sum().backward()
    # The quantizer passes the output gradient through as the identity would (the RVQ through stage 1).
    torch.testing.assert_close(h.grad, g, atol=1e-6, rtol=0)
    (reference(x).transpose(1, 2) * g).sum().backward()
    assert float(encoder.weight.grad.abs().sum()) > 0
    torch.testing.assert_close(encoder.weight.grad, reference.weight.grad)
    torch.testing.assert_close(encoder.bias.grad, reference.bias.grad)


def test_loss_gradients_by_hand():
    torch.manual_seed(0)
    # EMA codebook: the commitment loss moves the input toward its code; no codebook gradient exists.
    vq = VectorQuantizer(4, 8, commitment_weight=0.25, kmeans_iters=3)
    vq.train()
    vq(torch.randn(2, 4, 16))
    vq.eval()
    z = torch.randn(2, 4, 16, requires_grad=True)
    out = vq(z)
    out.commitment_loss.backward()
    q = vq.decode(out.codes)
    torch.testing.assert_close(z.grad, 0.25 * 2 * (z - q).detach() / z.numel())
    assert float(out.codebook_loss) == 0.0

    # Gradient codebook: the codebook loss moves each used code toward its vectors and nothing else.
    vq = VectorQuantizer(4, 8, update="gradient", codebook_weight=1.0, kmeans_init=False, threshold_dead_code=0)
    z = torch.randn(2, 4, 16, requires_grad=True)
    out = vq(z)
    out.codebook_loss.backward()
    assert z.grad is None or float(z.grad.abs().sum()) == 0.0
    flat, codes = frames(z.detach()), out.codes.reshape(-1)
    expected = torch.zeros(8, 4).index_add_(0, codes, 2 * (vq.codebook.detach()[codes] - flat) / z.numel())
    torch.testing.assert_close(vq.codebook.grad, expected)


# ------------------------------------------------------------------------------------------------ codes
@pytest.mark.parametrize("setup", [
    dict(),
    dict(codebook_dim=3),
    dict(codebook_dim=3, l2_normalize=True, update="gradient"),
], ids=["plain", "projected", "l2-normalized"])
def test_eval_codes_are_deterministic_nearest_neighbours(setup):
    torch.manual_seed(0)
    vq = VectorQuantizer(6, 16, kmeans_iters=3, **setup)
    vq.train()
    vq(torch.randn(3, 6, 40))
    vq.eval()
    state = {k: v.clone() for k, v in vq.state_dict().items()}
    x = torch.randn(3, 6, 40)

    rng = torch.get_rng_state()
    first, second = vq(x), vq(x)
    assert torch.equal(torch.get_rng_state(), rng)  # no random draws in eval
    assert all(torch.equal(v, state[k]) for k, v in vq.state_dict().items())  # no updates in eval
    assert torch.equal(first.codes, second.codes) and torch.equal(first.quantized, second.quantized)

    with torch.no_grad():
        z, codebook = vq.in_proj(frames(x)), vq.codebook
        if vq.l2_normalize:
            z, codebook = nn.functional.normalize(z, dim=1), nn.functional.normalize(codebook, dim=1)
        expected = torch.cdist(z, codebook).argmin(1).view(3, 40)
    assert torch.equal(first.codes, expected)
    assert torch.equal(vq.encode(x), expected)
    assert torch.equal(first.quantized, vq.decode(expected))


# ------------------------------------------------------------------------------------------------ RVQ
def test_rvq_error_falls_with_every_codebook_added():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(8, 6, 32, kmeans_iters=20, threshold_dead_code=0)
    x = torch.randn(8, 8, 64)
    rvq.train()
    rvq(x)  # k-means initialises each stage on its residual
    rvq.eval()
    codes = rvq.encode(x)
    assert codes.shape == (8, 6, 64)
    errors = [mse(rvq.decode(codes[:, :n]), x) for n in range(1, 7)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[0] < 0.7 * mse(x, 0 * x) and errors[-1] < 0.25 * errors[0], errors
    for n in (1, 3):
        assert torch.equal(rvq.encode(x, n), codes[:, :n])
        assert torch.equal(rvq(x, n_quantizers=n).quantized, rvq.decode(codes[:, :n]))


@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_rvq_losses_are_summed_over_stages(update):
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(4, 3, 8, update=update, commitment_weight=0.25, codebook_weight=1.0,
                                  kmeans_iters=3)
    x = torch.randn(2, 4, 20)
    rvq.train()
    rvq(x)
    rvq.eval()
    out = rvq(x)
    residual, stage_errors = x, []
    for i, vq in enumerate(rvq.quantizers):
        q = vq.decode(out.codes[:, i])
        stage_errors.append(mse(residual, q))
        residual = residual - q
    assert abs(float(out.commitment_loss) - 0.25 * sum(stage_errors)) < 1e-6
    expected_codebook = sum(stage_errors) if update == "gradient" else 0.0
    assert abs(float(out.codebook_loss) - expected_codebook) < 1e-6


def test_quantizer_dropout_uses_fewer_stages_in_training_only():
    torch.manual_seed(0)
    # Gradient codebooks without dead-code replacement: a training forward leaves the codes unchanged.
    rvq = ResidualVectorQuantizer(4, 4, 8, update="gradient", kmeans_init=False, threshold_dead_code=0,
                                  quantizer_dropout=0.5)
    x = torch.randn(400, 4, 2)
    rvq.train()
    out = rvq(x)
    active = out.active_codebooks
    assert set(active.tolist()) == {1, 2, 3, 4}
    # P(fewer than 4) = 0.5 * 3/4 = 0.375 -> about 150 of 400
    assert 110 < int((active < 4).sum()) < 190
    for b in [int(torch.nonzero(active == n)[0]) for n in (1, 2, 3, 4)]:
        n = int(active[b])
        torch.testing.assert_close(out.quantized[b], rvq.decode(out.codes[b:b + 1, :n])[0])
    assert rvq(x, n_quantizers=2).active_codebooks.max() <= 2

    rvq.eval()
    out = rvq(x)
    assert bool((out.active_codebooks == 4).all())
    assert torch.equal(out.quantized, rvq.decode(out.codes))
    assert torch.equal(rvq.decode(out.codes[:, :1]), rvq(x, n_quantizers=1).quantized)

    rvq.quantizer_dropout = 0.0
    rvq.train()
    assert bool((rvq(x).active_codebooks == 4).all())


# ------------------------------------------------------------------------------------------------ GRVQ
def test_grvq_groups_are_independent_and_codes_are_stage_major():
    torch.manual_seed(0)
    grvq = GroupResidualVectorQuantizer(8, 2, 3, 16, kmeans_iters=5, threshold_dead_code=0)
    x = torch.randn(4, 8, 32)
    grvq.train()
    grvq(x)
    grvq.eval()
    out = grvq(x)
    codes = out.codes
    assert codes.shape == (4, 6, 32) and bool((out.active_codebooks == 6).all())
    for g in range(2):
        group_codes = grvq.quantizers[g].encode(x[:, 4 * g:4 * (g + 1)])
        for s in range(3):
            assert torch.equal(codes[:, s * 2 + g], group_codes[:, s])

    changed = x.clone()
    changed[:, 4:] += torch.randn(4, 4, 32)  # group 1 only
    out2 = grvq(changed)
    assert torch.equal(out2.codes[:, 0::2], codes[:, 0::2])  # group 0's codes unchanged
    assert not torch.equal(out2.codes[:, 1::2], codes[:, 1::2])
    assert torch.equal(out2.quantized[:, :4], out.quantized[:, :4])

    assert torch.equal(grvq.decode(codes), out.quantized)
    assert torch.equal(grvq.decode(codes[:, :4]), grvq(x, n_quantizers=2).quantized)  # first 2 stages of both
    assert torch.equal(grvq.encode(x, 2), codes[:, :4])
    with pytest.raises(ValueError, match="multiple of groups=2"):
        grvq.decode(codes[:, :3])


# ------------------------------------------------------------------------------------------------ cross-scale
def test_cross_scale_quantizes_the_encoder_decoder_residual():
    torch.manual_seed(0)
    csrvq = CrossScaleResidualVectorQuantizer([4, 8], 16, num_quantizers_per_scale=2, groups=2, kmeans_iters=5,
                                              threshold_dead_code=0)
    enc0, enc1 = torch.randn(2, 4, 20), torch.randn(2, 8, 40)
    dec1 = enc1 + 0.5 * torch.randn(2, 8, 40)  # the decoder's reconstruction so far
    csrvq.train()
    csrvq(0, enc0)
    csrvq(1, enc1, dec1)
    csrvq.eval()

    out = csrvq(1, enc1, dec1)
    assert out.codes.shape == (2, 4, 40)
    assert torch.equal(out.codes, csrvq.scales[1].encode(enc1 - dec1))
    assert torch.equal(out.codes, csrvq.encode(1, enc1, dec1))
    assert torch.equal(out.quantized, csrvq.decode(1, out.codes))
    assert mse(dec1 + out.quantized, enc1) < 0.7 * mse(dec1, enc1)  # the refinement brings dec1 toward enc1
    assert torch.equal(csrvq(0, enc0).codes, csrvq.scales[0].encode(enc0))  # coarsest: the feature itself


def test_cross_scale_error_falls_with_every_scale_used():
    torch.manual_seed(0)
    csrvq = CrossScaleResidualVectorQuantizer([4, 4, 4], 16, kmeans_iters=10, threshold_dead_code=0)
    target = torch.randn(4, 4, 32)  # identity "decoder": every scale sees the same encoder feature

    def reconstruct(num_scales: int) -> torch.Tensor:
        h = None
        for s in range(num_scales):
            out = csrvq(s, target, h)
            h = out.quantized if h is None else h + out.quantized
        return h

    csrvq.train()
    reconstruct(3)
    csrvq.eval()
    errors = [mse(reconstruct(k), target) for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2], errors


def test_scale_dropout_draws_a_prefix_of_scales_in_training_only():
    torch.manual_seed(0)
    csrvq = CrossScaleResidualVectorQuantizer([4, 4, 4], 8, kmeans_init=False, scale_dropout=1.0)
    csrvq.train()
    assert {csrvq.sample_num_scales() for _ in range(200)} == {1, 2, 3}
    csrvq.scale_dropout = 0.5
    draws = [csrvq.sample_num_scales() for _ in range(600)]
    assert 0.25 < sum(d < 3 for d in draws) / 600 < 0.42  # P = 0.5 * 2/3
    csrvq.eval()
    assert {csrvq.sample_num_scales() for _ in range(50)} == {3}


# ------------------------------------------------------------------------------------------------ usage, bitrate
def test_usage_statistics_over_the_running_window():
    vq = VectorQuantizer(2, 4, update="gradient", decay=0.5, kmeans_init=False, threshold_dead_code=0)
    assert vq.usage_window == 2  # 1 / (1 - decay)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))
    batch_a = as_features([[0, 0], [0, 0], [10, 0], [0, 10]])  # codes 0, 0, 1, 2
    batch_b = as_features([[10, 10], [10, 10]])  # code 3 twice

    def perplexity(counts: list[float]) -> float:
        p = torch.tensor(counts) / sum(counts)
        return math.exp(-float(torch.xlogy(p, p).sum()))

    vq.train()
    out = vq(batch_a)
    assert abs(float(out.perplexity[0]) - perplexity([2, 1, 1, 0])) < 1e-5  # this batch's perplexity
    usage = vq.usage()
    assert abs(float(usage.perplexity[0]) - perplexity([2, 1, 1, 0])) < 1e-5
    assert float(usage.used_fraction[0]) == 0.75
    vq(batch_b)
    assert float(vq.usage().used_fraction[0]) == 1.0  # codes 0-2 used one step ago, 3 now
    vq(batch_b)
    usage = vq.usage()
    assert float(usage.used_fraction[0]) == 0.25  # codes 0-2 last used 2 steps ago: out of the window
    # EMA counts: [1, .5, .5, 0] -> [.5, .25, .25, 1] -> [.25, .125, .125, 1.5]
    assert abs(float(usage.perplexity[0]) - perplexity([0.25, 0.125, 0.125, 1.5])) < 1e-5


def test_bitrate_helpers():
    rvq = ResidualVectorQuantizer(4, 32, 1024, kmeans_init=False)  # EnCodec 24 kHz: 75 Hz, 32 x 1024
    assert rvq.bits_per_frame() == 320 and rvq.bits_per_frame(8) == 80
    assert rvq.bitrate(75) == 24000 and rvq.bitrate(75, 8) == 6000 and rvq.bitrate(75, 2) == 1500
    assert rvq.quantizers_for_bitrate(6000, 75) == 8
    assert rvq.quantizers_for_bitrate(1500, 75) == 2 and rvq.quantizers_for_bitrate(1000, 75) == 1
    for too_low_or_high in (500, 30000):
        with pytest.raises(ValueError, match="bit/s"):
            rvq.quantizers_for_bitrate(too_low_or_high, 75)
    grvq = GroupResidualVectorQuantizer(8, 2, 2, 1024, kmeans_init=False)  # HiFi-Codec 16k: 50 Hz, 2 x 2
    assert grvq.bitrate(50) == 2000 and grvq.quantizers_for_bitrate(1000, 50) == 1
    esc = CrossScaleResidualVectorQuantizer([6] * 6, 1024, groups=3, kmeans_init=False)  # ESC: 6 x 3 x 1024
    assert esc.bitrate(50) == 9000 and esc.bitrate(50, esc.codebooks_per_scale) == 1500
    assert esc.scales_for_bitrate(4500, 50) == 3
    assert abs(VectorQuantizer(4, 1000, kmeans_init=False).bits_per_frame() - math.log2(1000)) < 1e-12


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("update", ["ema", "gradient"])
def test_state_dict_round_trip_resumes_exactly(update):
    torch.manual_seed(0)

    def make() -> ResidualVectorQuantizer:
        return ResidualVectorQuantizer(6, 3, 16, update=update, decay=0.9, kmeans_iters=5, threshold_dead_code=1.0)

    batches = [torch.randn(2, 6, 32) for _ in range(3)]
    trained = make().train()
    trained(batches[0])
    trained(batches[1])
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    assert bool(state["quantizers.0.initialized"])

    torch.manual_seed(123)
    resumed = make()
    assert not bool(resumed.quantizers[0].initialized)
    resumed.load_state_dict(state)
    assert bool(resumed.quantizers[0].initialized)
    trained.eval()
    resumed.eval()
    assert torch.equal(trained.encode(batches[2]), resumed.encode(batches[2]))

    # One more training step from the same random state: identical (a lost flag would re-run k-means).
    trained.train()
    resumed.train()
    torch.manual_seed(7)
    trained(batches[2])
    torch.manual_seed(7)
    resumed(batches[2])
    for key, value in trained.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


# ------------------------------------------------------------------------------------------------ errors
def test_clear_errors_for_bad_inputs_and_arguments():
    vq = VectorQuantizer(8, 16, kmeans_init=False)
    with pytest.raises(ValueError, match=r"\(batch, 8, frames\), got shape \(2, 7, 10\)"):
        vq(torch.randn(2, 7, 10))
    with pytest.raises(ValueError, match=r"\(batch, 8, frames\), got shape \(8, 10\)"):
        vq.encode(torch.randn(8, 10))
    with pytest.raises(ValueError, match="float features"):
        vq(torch.ones(2, 8, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="integer tensor"):
        vq.decode(torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"0\.\.15"):
        vq.decode(torch.full((2, 10), 16))

    rvq = ResidualVectorQuantizer(8, 2, 16, kmeans_init=False)
    with pytest.raises(ValueError, match=r"n_quantizers must be an int in 1\.\.2, got 3"):
        rvq(torch.randn(1, 8, 4), n_quantizers=3)
    with pytest.raises(ValueError, match=r"1\.\.2"):
        rvq.decode(torch.zeros(1, 3, 4, dtype=torch.long))

    csrvq = CrossScaleResidualVectorQuantizer([4, 8], 16, kmeans_init=False)
    with pytest.raises(ValueError, match=r"scale must be an int in 0\.\.1, got 2"):
        csrvq(2, torch.randn(1, 4, 5))
    with pytest.raises(ValueError, match="encoder_feature at scale 1"):
        csrvq(1, torch.randn(1, 4, 5))
    with pytest.raises(ValueError, match="must match encoder_feature's shape"):
        csrvq(1, torch.randn(1, 8, 5), torch.randn(1, 8, 6))

    for make, message in [
        (lambda: VectorQuantizer(8, 16, update="adam"), "update must be 'ema' or 'gradient'"),
        (lambda: VectorQuantizer(8, 0), "codebook_size must be a positive int"),
        (lambda: VectorQuantizer(8, 16, decay=1.0), r"decay must be in \[0, 1\)"),
        (lambda: ResidualVectorQuantizer(8, 2, 16, quantizer_dropout=1.5), "quantizer_dropout must be"),
        (lambda: GroupResidualVectorQuantizer(10, 3, 2, 16), "dim must be divisible by groups"),
        (lambda: CrossScaleResidualVectorQuantizer([], 16), "dims must list"),
    ]:
        with pytest.raises(ValueError, match=message):
            make()


# ------------------------------------------------------------------------------------------------ DDP
def _ddp_worker(rank: int, world_size: int, init_file: str, x: torch.Tensor, codebook: torch.Tensor,
                out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        torch.set_num_threads(1)
        torch.manual_seed(100 + rank)  # different random streams: the broadcasts must make the ranks agree
        half = x[2 * rank:2 * (rank + 1)]
        ema = VectorQuantizer(4, 8, decay=0.9, kmeans_init=False, threshold_dead_code=0).train()
        with torch.no_grad():
            ema.codebook.copy_(codebook)
            ema.embed_sum.copy_(codebook)
        ema(half)
        ema(half + 0.1)
        # k-means on rank 0 and dead codes (threshold above most counts) replaced by rank 0's vectors
        churn = VectorQuantizer(4, 8, decay=0.5, kmeans_iters=3, threshold_dead_code=12.0).train()
        churn(half)
        churn(half + 0.1)
        torch.save({"ema": ema.state_dict(), "churn": churn.state_dict()}, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_statistics_are_summed_over_ranks_and_codebooks_agree(tmp_path):
    torch.manual_seed(0)
    x, codebook = torch.randn(4, 4, 16), torch.randn(8, 4)
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), x, codebook, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name in ("ema", "churn"):
        for key, value in ranks[0][name].items():
            assert torch.equal(value, ranks[1][name][key]), (name, key)

    # Two ranks with half the batch each equal one process with the whole batch.
    single = VectorQuantizer(4, 8, decay=0.9, kmeans_init=False, threshold_dead_code=0).train()
    with torch.no_grad():
        single.codebook.copy_(codebook)
        single.embed_sum.copy_(codebook)
    single(x)
    single(x + 0.1)
    for key in ("cluster_size", "embed_sum", "codebook", "code_counts", "last_used", "step"):
        torch.testing.assert_close(ranks[0]["ema"][key], single.state_dict()[key], msg=key)
    assert bool(ranks[0]["churn"]["initialized"])
