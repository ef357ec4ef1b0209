"""Chunked overlap-add: run a fixed-length model over audio of any length. The one helper every family uses.

A signal of ``T`` samples is cut into chunks of ``segment`` samples that start every
``stride = segment - overlap`` samples; the last chunk is zero-padded past the end::

    signal   |==================================|  T
    chunk 0  |----------|
    chunk 1         |----------|                     start = 1 * stride
    chunk 2                |----------|
    chunk 3                       |-------|000|      zero-padded to `segment`
                    ^^^^ overlap: both chunks contribute, cross-faded by their windows

Each processed chunk is multiplied by a fade window that is strictly positive, the products are summed,
and every output sample is divided by the sum of the windows that covered it. So the output is a
weighted average of the chunk outputs, and with ``fn = identity`` it equals the input exactly (up to
float rounding) for every length, segment and overlap — the ends included, where only one chunk counts.

Two ways to use it:

- :func:`overlap_add` — tensor in, tensor out; chunks are built lazily, ``batch_chunks`` positions at a
  time, so beyond the output buffer memory stays ``O(batch_chunks * segment)``.

``ragged_last=True`` (for an ``fn`` that takes any length): the last chunk, when the signal ends inside
it, is passed alone at its true length instead of zero-padded to ``segment`` (a 5 s file with 10 s
segments costs 5 s of compute, not 10); its output is padded back with zeros that the crop to ``T``
drops. The result differs from the padded run only as much as ``fn`` itself depends on trailing zeros.
- :func:`iter_chunks` + :class:`OverlapAddAccumulator` — the same computation in pieces, for
  file-to-file processing with flat memory: feed processed chunks in order, get back every output
  sample as soon as no later chunk can change it. ``overlap_add`` itself is built this way, so the two
  agree exactly. With a file, read the chunks yourself::

      length = audiokit.audio.info(src).num_frames
      acc = OverlapAddAccumulator(segment=segment, overlap=overlap, length=length)
      with sf.SoundFile(src) as fin, sf.SoundFile(dst, "w", fin.samplerate, fin.channels) as fout:
          for start in chunk_starts(length, segment, overlap):
              fin.seek(start)
              chunk = torch.from_numpy(fin.read(segment, dtype="float32", always_2d=True, fill_value=0).T)
              fout.write(acc.push(fn(chunk[None])).T.numpy())   # (C, t) -> (t, C)
          fout.write(acc.finish().T.numpy())
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator

import torch

from audiokit.audio._validate import check_positive_int, check_signal
from audiokit.audio.io import AudioError

WINDOWS = ("hann", "triangular", "rect")


# ---------------------------------------------------------------------------------------------------
# Helpers: geometry and windows
# ---------------------------------------------------------------------------------------------------


def overlap_samples(segment: int, overlap: float | int) -> int:
    """Overlap in samples: an ``int`` counts samples, a ``float`` in ``[0, 1)`` is a fraction of segment."""
    segment = check_positive_int(segment, "segment")
    if isinstance(overlap, bool) or not isinstance(overlap, numbers.Real):
        raise ValueError(f"overlap must be an int (samples) or a float in [0, 1), got {overlap!r}")
    if isinstance(overlap, numbers.Integral):
        samples = int(overlap)
    else:
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"a float overlap is a fraction of the segment in [0, 1), got {overlap!r}")
        samples = round(overlap * segment)
    if not 0 <= samples < segment:
        raise ValueError(f"overlap must be in [0, segment) = [0, {segment}) samples, got {samples}")
    return samples


def num_chunks(length: int, segment: int, overlap: float | int) -> int:
    """Chunks needed for ``T = length`` samples: ``1 + max(0, ceil((T - segment) / stride))``."""
    stride = segment - overlap_samples(segment, overlap)
    return 1 + max(0, -(-(length - segment) // stride))


def chunk_starts(length: int, segment: int, overlap: float | int) -> range:
    """Start sample of every chunk covering ``length`` samples (the last one may run past the end)."""
    stride = segment - overlap_samples(segment, overlap)
    return range(0, num_chunks(length, segment, overlap) * stride, stride)


def fade_window(window: str, segment: int) -> torch.Tensor:
    """A strictly positive ``(segment,)`` float64 weight: sampled at half-integer points so no sample is 0.

    ``'hann'`` is ``sin^2(pi (n + 1/2) / segment)``, ``'triangular'`` ``1 - |2 (n + 1/2) / segment - 1|``,
    ``'rect'`` all ones (plain averaging in the overlaps).
    """
    position = (torch.arange(segment, dtype=torch.float64) + 0.5) / segment  # in (0, 1)
    if window == "hann":
        return torch.sin(math.pi * position).square()
    if window == "triangular":
        return 1.0 - (2.0 * position - 1.0).abs()
    if window == "rect":
        return torch.ones(segment, dtype=torch.float64)
    raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")


def _check_input(wav: object, what: str) -> torch.Tensor:
    check_signal(wav, what, min_dim=1)
    if wav.dim() not in (2, 3):
        raise AudioError(
            f"{what}: expected (channels, time) or (batch, channels, time), got shape {tuple(wav.shape)}"
        )
    if wav.shape[-1] == 0:
        raise AudioError(f"{what}: zero-length audio, shape {tuple(wav.shape)}")
    return wav


# ---------------------------------------------------------------------------------------------------
# Blocks: chunk source and accumulator
# ---------------------------------------------------------------------------------------------------


def iter_chunks(
    wav: torch.Tensor, segment: int, overlap: float | int, batch_chunks: int = 1, ragged_last: bool = False
) -> Iterator[torch.Tensor]:
    """Yield groups of up to ``batch_chunks`` consecutive chunks of ``wav``, built lazily.

    ``(C, T)`` input yields ``(n, C, segment)``; ``(B, C, T)`` yields ``(n, B, C, segment)`` (``n``
    positions, each a slice of the whole batch). Chunks past the end are zero-padded, or, with
    ``ragged_last``, the last one comes alone (``n = 1``) at its true length. Only one group is alive at
    a time, so memory is ``O(batch_chunks * segment)`` whatever ``T`` is.
    """
    _check_input(wav, "iter_chunks input")  # checked now, not at the first next()
    batch_chunks = check_positive_int(batch_chunks, "batch_chunks")
    starts = chunk_starts(wav.shape[-1], segment, overlap)
    return _generate_chunks(wav, starts, segment, batch_chunks, ragged_last)


def _generate_chunks(
    wav: torch.Tensor, starts: range, segment: int, batch_chunks: int, ragged_last: bool
) -> Iterator[torch.Tensor]:
    length = wav.shape[-1]
    if ragged_last and starts[-1] + segment > length:  # the last chunk runs past the end: on its own
        yield from _generate_chunks(wav, starts[:-1], segment, batch_chunks, False) if len(starts) > 1 else ()
        yield wav[..., starts[-1] :][None]  # (1, ..., C, < segment)
        return
    for first in range(0, len(starts), batch_chunks):
        pieces = []
        for start in starts[first : first + batch_chunks]:
            piece = wav[..., start : start + segment]  # (..., C, <= segment)
            if piece.shape[-1] < segment:
                piece = torch.nn.functional.pad(piece, (0, segment - piece.shape[-1]))
            pieces.append(piece)
        yield torch.stack(pieces)  # (n, ..., C, segment)


class OverlapAddAccumulator:
    """Sum processed chunks in order and hand back each output sample as soon as it is final.

    Chunk ``k`` starts at ``k * stride``; once it is pushed, samples before ``(k + 1) * stride`` can no
    longer change and are returned. State is one ``overlap``-long tail, so memory does not grow with
    the signal. Concatenating every :meth:`push` result and :meth:`finish` gives :func:`overlap_add`'s
    output exactly.

    Args:
        segment: chunk length in samples.
        overlap: overlap between consecutive chunks: ``int`` samples or ``float`` fraction in ``[0, 1)``.
        window: cross-fade weight, ``'hann'`` (default), ``'triangular'`` or ``'rect'``.
        length: total output length in samples, if known: output is cropped to it and the number of
            chunks is checked. ``None``: emit everything, ``(num_chunks - 1) * stride + segment`` samples.
    """

    def __init__(
        self, *, segment: int, overlap: float | int, window: str = "hann", length: int | None = None
    ) -> None:
        self.segment = check_positive_int(segment, "segment")
        self.overlap = overlap_samples(segment, overlap)
        self.stride = self.segment - self.overlap
        self.length = None if length is None else check_positive_int(length, "length")
        self.expected_chunks = None if length is None else num_chunks(self.length, segment, overlap)
        self._window = fade_window(window, self.segment)
        self._tail: torch.Tensor | None = None  # (*prefix, overlap): weighted sum not yet final
        self._tail_weight: torch.Tensor | None = None  # (overlap,): sum of windows over the tail
        self.chunks_seen = 0
        self.emitted = 0
        self.finished = False

    def push(self, chunks: torch.Tensor) -> torch.Tensor:
        """Add the next processed chunks ``(n, *prefix, segment)``; return the now final ``(*prefix, t)``."""
        if self.finished:
            raise RuntimeError("OverlapAddAccumulator.push() after finish()")
        if not isinstance(chunks, torch.Tensor) or chunks.dim() < 2 or chunks.shape[-1] != self.segment:
            got = tuple(chunks.shape) if isinstance(chunks, torch.Tensor) else type(chunks).__name__
            raise AudioError(f"expected processed chunks shaped (n, ..., {self.segment}), got {got}")
        if self._tail is not None and chunks.shape[1:-1] != self._tail.shape[:-1]:
            raise AudioError(
                f"chunk shape changed: expected (n, {', '.join(map(str, self._tail.shape[:-1]))}, "
                f"{self.segment}), got {tuple(chunks.shape)}"
            )
        if self.expected_chunks is not None and self.chunks_seen + chunks.shape[0] > self.expected_chunks:
            raise AudioError(
                f"{self.length} samples take {self.expected_chunks} chunks, got "
                f"{self.chunks_seen + chunks.shape[0]}"
            )
        if chunks.shape[0] == 0:
            return chunks.new_empty(*chunks.shape[1:-1], 0)
        return torch.cat([self._push_one(chunk) for chunk in chunks], dim=-1)

    def finish(self) -> torch.Tensor:
        """Return the remaining samples ``(*prefix, t)``; checks the chunk count if ``length`` was given."""
        if self.finished:
            raise RuntimeError("OverlapAddAccumulator.finish() called twice")
        if self._tail is None:
            raise AudioError("OverlapAddAccumulator.finish(): no chunk was pushed")
        if self.expected_chunks is not None and self.chunks_seen != self.expected_chunks:
            raise AudioError(
                f"{self.length} samples take {self.expected_chunks} chunks, got only {self.chunks_seen}"
            )
        self.finished = True
        return self._emit(self._tail / self._tail_weight)

    def _push_one(self, chunk: torch.Tensor) -> torch.Tensor:
        """``chunk`` ``(*prefix, segment)``, starting at ``chunks_seen * stride``."""
        window = self._window.to(device=chunk.device, dtype=chunk.dtype)
        total = chunk * window  # (*prefix, segment)
        weight = window.clone()  # (segment,)
        if self._tail is not None:
            #  total:  |<- overlap: add tail ->|<-- rest of the chunk -->|
            #          |<-- stride: final -->|<-- new tail: overlap -->|
            total[..., : self.overlap] += self._tail
            weight[: self.overlap] += self._tail_weight
        self._tail, self._tail_weight = total[..., self.stride :], weight[self.stride :]
        self.chunks_seen += 1
        return self._emit(total[..., : self.stride] / weight[: self.stride])

    def _emit(self, samples: torch.Tensor) -> torch.Tensor:
        """Crop final ``samples`` to what is left of ``length`` and count them."""
        if self.length is not None:
            samples = samples[..., : max(0, self.length - self.emitted)]
        self.emitted += samples.shape[-1]
        return samples


# ---------------------------------------------------------------------------------------------------
# Top level
# ---------------------------------------------------------------------------------------------------


def overlap_add(
    fn: Callable[[torch.Tensor], torch.Tensor],
    wav: torch.Tensor,
    segment: int,
    overlap: float | int = 0.25,
    window: str = "hann",
    batch_chunks: int = 1,
    *,
    out_channels: int | tuple[int, ...] | None = None,
    progress: bool = False,
    ragged_last: bool = False,
) -> torch.Tensor:
    """Apply ``fn`` to overlapping chunks of ``wav`` and cross-fade the results back to full length.

    Symbols: ``B`` batch, ``C`` input channels, ``T`` samples, ``n`` chunks in one call, ``...`` whatever
    ``fn`` puts between batch and time (output channels, or sources and channels).

    ``fn`` maps ``(n, C, segment)`` to ``(n, ..., segment)``. For ``(B, C, T)`` input each call carries
    ``batch_chunks`` positions of every batch item, ``n = batch_chunks * B``. Gradients flow through if
    ``fn`` has them; wrap the call in ``torch.inference_mode()`` for inference.

    Args:
        fn: the model or function applied to each batch of chunks.
        wav: ``(C, T)`` or ``(B, C, T)`` audio; any ``T >= 1``.
        segment: chunk length in samples (the model's input length).
        overlap: overlap of consecutive chunks, ``int`` samples or ``float`` fraction in ``[0, 1)``
            (default 0.25).
        window: cross-fade weight, ``'hann'`` (default), ``'triangular'`` or ``'rect'``.
        batch_chunks: chunk positions per ``fn`` call (default 1); bounds the working memory.
        out_channels: if given, the shape ``fn`` must produce between batch and time (``C_out`` or a
            tuple such as ``(sources, C_out)``); checked on every call.
        progress: show a progress bar over the calls to ``fn``.
        ragged_last: pass a last chunk that the signal ends inside at its true length (``fn`` must take
            any length and return as many samples; see the module docstring).

    Returns:
        ``(..., T)`` for ``(C, T)`` input, ``(B, ..., T)`` for ``(B, C, T)`` input, on ``fn``'s device.
    """
    _check_input(wav, "overlap_add input")
    batch_chunks = check_positive_int(batch_chunks, "batch_chunks")
    if out_channels is not None:
        out_channels = (out_channels,) if isinstance(out_channels, int) else tuple(out_channels)
    lead, (channels, length) = tuple(wav.shape[:-2]), wav.shape[-2:]  # lead is () or (B,)
    accumulator = OverlapAddAccumulator(segment=segment, overlap=overlap, window=window, length=length)
    groups = iter_chunks(wav, segment, overlap, batch_chunks, ragged_last)
    if progress:
        from tqdm import tqdm

        total = -(-accumulator.expected_chunks // batch_chunks)
        groups = tqdm(groups, total=total, desc="overlap-add", unit="batch")

    out, cursor = None, 0

    def write(piece: torch.Tensor) -> None:  # piece: (*lead, ..., t), the next t output samples
        nonlocal out, cursor
        if out is None:
            out = piece.new_empty(*piece.shape[:-1], length)  # (*lead, ..., T)
        out[..., cursor : cursor + piece.shape[-1]] = piece
        cursor += piece.shape[-1]

    for group in groups:  # (n, *lead, C, segment)
        n, size = group.shape[0], group.shape[-1]  # size < segment: a ragged last chunk
        chunks = group.reshape(-1, channels, size)  # (n, *lead, C, S) -> (n * B, C, S)
        result = fn(chunks)
        _check_fn_output(result, chunks.shape[0], size, out_channels)
        if size < segment:
            result = torch.nn.functional.pad(result, (0, segment - size))
        result = result.reshape(n, *lead, *result.shape[1:])  # (n * B, ..., S) -> (n, *lead, ..., S)
        write(accumulator.push(result))
    write(accumulator.finish())
    assert out is not None and cursor == length, (cursor, length)
    return out


def _check_fn_output(
    result: object, n: int, segment: int, out_channels: tuple[int, ...] | None
) -> None:
    if not isinstance(result, torch.Tensor):
        raise AudioError(f"overlap_add: fn must return a torch.Tensor, got {type(result).__name__}")
    if result.dim() < 2 or result.shape[0] != n or result.shape[-1] != segment:
        raise AudioError(
            f"overlap_add: fn must map (n, C, segment) to (n, ..., segment); for n={n}, segment={segment} "
            f"it returned shape {tuple(result.shape)}"
        )
    if out_channels is not None and tuple(result.shape[1:-1]) != out_channels:
        raise AudioError(
            f"overlap_add: expected fn output (n, {', '.join(map(str, out_channels))}, segment), "
            f"got {tuple(result.shape)}"
        )
