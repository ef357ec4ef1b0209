"""Chunked overlap-add: exact identity, a brute-force reference, lazy bounded batches, streaming = offline."""
import inspect
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.audio import AudioError, OverlapAddAccumulator, chunk_starts, iter_chunks, overlap_add
from audiokit.audio.overlap_add import fade_window, num_chunks

COMBOS = [  # length, segment, overlap
    (1, 64, 0.25),  # length < segment: one zero-padded chunk
    (50, 64, 0.5),
    (64, 64, 0.25),  # exactly one segment
    (65, 64, 0.25),  # one sample more: a second, almost empty chunk
    (1000, 64, 0),  # no overlap
    (1000, 64, 16),  # overlap in samples
    (1001, 100, 0.75),  # each sample in up to 4 chunks
    (997, 7, 0.9),  # tiny segment, stride 1
    (4410, 441, 0.1),
]


def reference_overlap_add(fn, wav: torch.Tensor, segment: int, overlap: int, window: str) -> torch.Tensor:
    """Brute force in float64, ``(C, T)`` only: ``out[t] = sum_k w(t - s_k) y_k(t) / sum_k w(t - s_k)``."""
    length = wav.shape[-1]
    stride = segment - overlap
    weight = fade_window(window, segment)
    total, norm = None, torch.zeros(length, dtype=torch.float64)
    for start in range(0, length if length > segment else 1, stride):
        chunk = torch.zeros(wav.shape[0], segment, dtype=torch.float64)
        piece = wav[:, start : start + segment].double()
        chunk[:, : piece.shape[-1]] = piece
        y = fn(chunk[None])[0].double()
        total = torch.zeros(*y.shape[:-1], length, dtype=torch.float64) if total is None else total
        valid = min(segment, length - start)
        total[..., start : start + valid] += weight[:valid] * y[..., :valid]
        norm[start : start + valid] += weight[:valid]
        if start + segment >= length:
            break
    return total / norm


def time_reverse(chunks: torch.Tensor) -> torch.Tensor:
    """Not pointwise: every output sample depends on where the chunk boundaries are."""
    return chunks.flip(-1)


@pytest.mark.parametrize("window", ["hann", "triangular", "rect"])
@pytest.mark.parametrize("length, segment, overlap", COMBOS)
def test_identity_reconstructs_input_exactly(length, segment, overlap, window):
    x = torch.randn(2, length, generator=torch.Generator().manual_seed(length))
    y = overlap_add(lambda c: c, x, segment, overlap, window)
    assert y.shape == x.shape
    assert (y - x).abs().max() < 1e-6  # measured <= 4.8e-7 (float32 rounding of w * x / w)
    # Grouping chunks into larger calls changes nothing, bit for bit.
    assert torch.equal(overlap_add(lambda c: c, x, segment, overlap, window, batch_chunks=3), y)


@pytest.mark.parametrize("window", ["hann", "triangular"])
@pytest.mark.parametrize("length, segment, overlap", [(1000, 64, 16), (1001, 100, 0.75), (50, 64, 0.5)])
def test_cross_fade_matches_brute_force_reference(length, segment, overlap, window):
    x = torch.randn(3, length, generator=torch.Generator().manual_seed(1))
    y = overlap_add(time_reverse, x, segment, overlap, window, batch_chunks=4)
    overlap_n = overlap if isinstance(overlap, int) else round(overlap * segment)
    ref = reference_overlap_add(time_reverse, x, segment, overlap_n, window)
    assert (y.double() - ref).abs().max() < 1e-6  # measured 2.5e-7
    if length > segment:  # and it is not just the identity
        assert (y - x).abs().max() > 0.1


def test_batched_input_with_sources_dimension():
    """(B, C, T) in, fn returns (n, S, C, segment): out is (B, S, C, T) and pointwise fns commute."""
    x = torch.randn(3, 2, 777, generator=torch.Generator().manual_seed(2))

    def two_sources(chunks: torch.Tensor) -> torch.Tensor:  # (n, C, S) -> (n, 2, C, S)
        return torch.stack([torch.tanh(chunks), -0.5 * chunks], dim=1)

    y = overlap_add(two_sources, x, 100, 0.25, batch_chunks=2, out_channels=(2, 2))
    assert y.shape == (3, 2, 2, 777)
    torch.testing.assert_close(y[:, 0], torch.tanh(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[:, 1], -0.5 * x, atol=1e-6, rtol=0)
    # Each batch item equals processing it alone.
    for b in range(3):
        torch.testing.assert_close(y[b], overlap_add(two_sources, x[b], 100, 0.25), atol=1e-6, rtol=0)


def test_chunks_are_built_lazily_in_bounded_groups():
    length, segment, overlap, batch_chunks = 10_000, 256, 64, 3
    expected_chunks = num_chunks(length, segment, overlap)
    assert expected_chunks == 1 + math.ceil((length - segment) / (segment - overlap)) == 52
    assert list(chunk_starts(length, segment, overlap)) == [k * 192 for k in range(52)]
    assert inspect.isgenerator(iter_chunks(torch.zeros(1, length), segment, overlap, batch_chunks))

    sizes = []

    def recording_fn(chunks: torch.Tensor) -> torch.Tensor:
        sizes.append(chunks.shape[0])
        return chunks

    x = torch.randn(2, 1, length)
    overlap_add(recording_fn, x, segment, overlap, batch_chunks=batch_chunks)
    assert max(sizes) <= batch_chunks * 2  # batch_chunks positions for each of the B = 2 items
    assert len(sizes) == math.ceil(expected_chunks / batch_chunks)
    assert sum(sizes) == expected_chunks * 2


def test_accumulator_emits_final_samples_early_and_equals_overlap_add():
    length, segment, overlap = 3000, 256, 0.5
    x = torch.randn(2, length, generator=torch.Generator().manual_seed(3))
    offline = overlap_add(time_reverse, x, segment, overlap, "hann")

    accumulator = OverlapAddAccumulator(segment=segment, overlap=overlap, window="hann", length=length)
    stride = accumulator.stride
    pieces = []
    for k, group in enumerate(iter_chunks(x, segment, overlap, batch_chunks=1)):
        pieces.append(accumulator.push(time_reverse(group)))
        # Everything before the next chunk's start is final and has been handed back already.
        assert accumulator.emitted == min((k + 1) * stride, length)
    pieces.append(accumulator.finish())
    assert torch.equal(torch.cat(pieces, dim=-1), offline)


def test_accumulator_without_length_emits_the_padded_span():
    x = torch.randn(1, 1000)
    accumulator = OverlapAddAccumulator(segment=300, overlap=100)
    pieces = [accumulator.push(group) for group in iter_chunks(x, 300, 100, batch_chunks=2)]
    pieces.append(accumulator.finish())
    out = torch.cat(pieces, dim=-1)
    assert out.shape[-1] == (num_chunks(1000, 300, 100) - 1) * 200 + 300 == 1100
    torch.testing.assert_close(out[:, :1000], x, atol=1e-6, rtol=0)
    assert out[:, 1000:].abs().max() == 0  # the zero padding, averaged


def test_file_to_file_streaming_equals_offline(tmp_path):
    """Read chunks from disk, write finished samples as they come: flat memory, same result."""
    sample_rate, length, segment, overlap = 8000, 12_345, 1000, 0.25
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    x = np.random.default_rng(4).uniform(-0.5, 0.5, (length, 2)).astype(np.float32)
    sf.write(src, x, sample_rate, subtype="FLOAT")

    def fn(chunks: torch.Tensor) -> torch.Tensor:  # a stand-in model: (n, C, S) -> (n, C, S)
        return torch.tanh(3 * time_reverse(chunks))

    accumulator = OverlapAddAccumulator(segment=segment, overlap=overlap, length=length)
    with sf.SoundFile(src) as fin, sf.SoundFile(dst, "w", sample_rate, 2, subtype="FLOAT") as fout:
        for start in chunk_starts(length, segment, overlap):
            fin.seek(start)
            chunk = fin.read(segment, dtype="float32", always_2d=True, fill_value=0.0)  # (S, C), padded
            processed = fn(torch.from_numpy(chunk.T)[None])  # (S, C) -> (1, C, S)
            fout.write(accumulator.push(processed).T.numpy())  # (C, t) -> (t, C)
        fout.write(accumulator.finish().T.numpy())

    streamed, _ = sf.read(dst, dtype="float32", always_2d=True)
    offline = overlap_add(fn, torch.from_numpy(x.T.copy()), segment, overlap)
    assert streamed.shape == (length, 2)
    assert np.abs(streamed.T - offline.numpy()).max() < 1e-6


def test_progress_bar_does_not_change_the_result(capsys):
    x = torch.randn(1, 2000)
    plain = overlap_add(time_reverse, x, 300, 0.25)
    shown = overlap_add(time_reverse, x, 300, 0.25, progress=True)
    assert torch.equal(plain, shown)
    assert "overlap-add" in capsys.readouterr().err


def test_gradients_flow_through_fn():
    x = torch.randn(1, 500, requires_grad=True)
    overlap_add(lambda c: 2 * c, x, 128, 0.25).sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 2.0), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: overlap_add(lambda c: c, torch.zeros(100), 10, 0.25), AudioError, r"\(channels, time\)"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 0), 10, 0.25), AudioError, "zero-length"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 100), 10, 10), ValueError, "overlap"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 100), 10, 1.0), ValueError, "overlap"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 100), 10, 0.25, "kaiser"), ValueError, "window"),
        (lambda: overlap_add(lambda c: c[..., :5], torch.zeros(1, 100), 10, 0.25), AudioError, "segment"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 100), 10, 0.25, out_channels=2), AudioError, "2"),
        (lambda: overlap_add(lambda c: c.numpy(), torch.zeros(1, 100), 10, 0.25), AudioError, "Tensor"),
        (lambda: overlap_add(lambda c: c, torch.zeros(1, 100), 10, 0, batch_chunks=0), ValueError, "batch"),
    ],
)
def test_bad_input_raises_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_accumulator_checks_chunk_count():
    accumulator = OverlapAddAccumulator(segment=10, overlap=0, length=25)  # needs 3 chunks
    accumulator.push(torch.zeros(2, 1, 10))
    with pytest.raises(AudioError, match="take 3 chunks, got only 2"):
        accumulator.finish()
    with pytest.raises(AudioError, match="take 3 chunks, got 4"):
        accumulator.push(torch.zeros(2, 1, 10))


@pytest.mark.parametrize("length, segment, overlap, batch_chunks", [(1000, 64, 16, 4), (50, 64, 0.5, 2),
                                                                      (64, 64, 0.25, 1), (1001, 100, 0.75, 3)])
def test_ragged_last_chunk_is_processed_at_its_true_length(length, segment, overlap, batch_chunks):
    x = torch.randn(2, length, generator=torch.Generator().manual_seed(2))
    sizes = []

    def causal(chunks):  # a running sum: trailing zeros change nothing before them
        sizes.append(chunks.shape[-1])
        return chunks.cumsum(-1)

    padded = overlap_add(causal, x, segment, overlap, "hann", batch_chunks)
    n_padded = len(sizes)
    sizes.clear()
    ragged = overlap_add(causal, x, segment, overlap, "hann", batch_chunks, ragged_last=True)
    assert (ragged - padded).abs().max() < 1e-4 * padded.abs().max()
    last_start = chunk_starts(length, segment, overlap)[-1]
    if last_start + segment > length:
        assert sizes[-1] == length - last_start and all(s == segment for s in sizes[:-1])
        assert len(sizes) >= n_padded
    else:
        assert set(sizes) == {segment}
    # a function that does see the padding: the ragged run equals the brute force on unpadded chunks
    out = overlap_add(time_reverse, x, segment, overlap, "hann", batch_chunks, ragged_last=True)
    weight = fade_window("hann", segment)
    total, norm = torch.zeros(2, length, dtype=torch.float64), torch.zeros(length, dtype=torch.float64)
    for start in chunk_starts(length, segment, overlap):
        piece = x[:, start : start + segment].double()
        total[:, start : start + piece.shape[-1]] += weight[: piece.shape[-1]] * piece.flip(-1)
        norm[start : start + piece.shape[-1]] += weight[: piece.shape[-1]]
    assert (out.double() - total / norm).abs().max() < 1e-6
