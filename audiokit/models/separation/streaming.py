"""Block-by-block separation with a causal Demucs: the offline output, a block at a time.

:class:`DemucsStreamer` keeps, for every layer, the little history its convolutions need and the
LSTM's ``(h, c)``, so each call does only the new work::

    streamer = DemucsStreamer(model)          # a trained Demucs(causal=True, normalize=False)
    for block in blocks:                      # (C, n) or (B, C, n), any n
        stems = streamer.push(block)          # (B?, S, C, m): m samples, a multiple of stride**depth
    stems = streamer.flush()                  # the rest, the input zero-padded to a whole step

Per layer, at ``L`` input samples a step (``L`` a multiple of ``stride**depth``):

- encoder conv (kernel ``k``, stride ``s``, left-padded by ``k - s``): the last ``k - s`` inputs of the
  previous step stand in for the padding (zeros before the first step);
- decoder context conv (``context`` taps, left-padded): the last ``context - 1`` frames likewise;
- decoder transposed conv: frame ``j`` writes outputs ``[j s, j s + k)``; the ``k - s`` outputs past the
  step's end are kept (without bias) and added to the next step's first outputs. Offline, the causal
  model drops only the tail past the signal's end, so the sum is the same.

The output of step ``i`` covers input samples ``[i L, (i + 1) L)``: a sample waits for the end of its
step, at most ``stride**depth - 1`` samples (:attr:`Demucs.latency`) when ``L = stride**depth``. The
concatenated output equals ``model(mix)`` on the same samples up to float rounding (tests check it).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from audiokit.models.separation.demucs import Demucs


class DemucsStreamer:
    """Stateful block processing of a causal :class:`Demucs` (see the module docstring).

    Args:
        model: a ``Demucs`` built with ``causal=True`` and ``normalize=False`` (per-track statistics
            are not causal; standardise the input with fixed values instead).
        step: samples per network step, a multiple of ``stride**depth`` (default ``stride**depth``,
            the lowest latency). Larger steps batch more work per call at the cost of latency
            ``step - 1``.
    """

    def __init__(self, model: Demucs, step: int | None = None):
        if not isinstance(model, Demucs) or not model.causal:
            raise ValueError("DemucsStreamer needs a Demucs built with causal=True "
                             f"(got {type(model).__name__}{'' if not isinstance(model, Demucs) else ', causal=False'})")
        if model.normalize:
            raise ValueError("DemucsStreamer needs normalize=False: the per-track statistics of normalize=True "
                             "need the whole track")
        span = model.stride ** model.depth
        step = span if step is None else int(step)
        if step < span or step % span:
            raise ValueError(f"DemucsStreamer step must be a positive multiple of stride**depth = {span}, got {step}")
        self.model = model.eval()
        self.step = step
        self.reset()

    @property
    def latency(self) -> int:
        """Samples a block waits before its stems come out (worst case)."""
        return self.step - 1

    def reset(self) -> None:
        """Forget the past: the next block starts a new signal."""
        self._pending: torch.Tensor | None = None  # input not yet processed, (B, C, n < step)
        self._enc_hist: list[torch.Tensor | None] = [None] * self.model.depth
        self._ctx_hist: list[torch.Tensor | None] = [None] * self.model.depth
        self._tr_tail: list[torch.Tensor | None] = [None] * self.model.depth
        self._lstm_state = None
        self._batched = None

    # ------------------------------------------------------------------------------------ public
    @torch.inference_mode()
    def push(self, block: torch.Tensor) -> torch.Tensor:
        """Feed ``(C, n)`` or ``(B, C, n)`` samples; returns the stems of every whole step now complete,
        ``(S, C, m)`` or ``(B, S, C, m)`` with ``m`` a multiple of ``step`` (possibly 0)."""
        x = self._as_batch(block)
        if self._pending is not None:
            x = torch.cat([self._pending, x], dim=-1)
        whole = x.shape[-1] - x.shape[-1] % self.step
        self._pending = x[..., whole:]
        outs = [self._step(x[..., i : i + self.step]) for i in range(0, whole, self.step)]
        if not outs:
            outs = [x.new_zeros(x.shape[0], len(self.model.sources), self.model.audio_channels, 0)]
        y = torch.cat(outs, dim=-1)
        return y if self._batched else y[0]

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """Stems of the samples still waiting (input zero-padded to a whole step, output cut back);
        then :meth:`reset`."""
        pending = self._pending
        batched = self._batched
        if pending is None or pending.shape[-1] == 0:
            self.reset()
            shape = (len(self.model.sources), self.model.audio_channels, 0)
            return torch.zeros((pending.shape[0], *shape) if batched and pending is not None else shape)
        n = pending.shape[-1]
        y = self._step(F.pad(pending, (0, self.step - n)))[..., :n]
        self.reset()
        return y if batched else y[0]

    # ----------------------------------------------------------------------------------- helpers
    def _as_batch(self, block: torch.Tensor) -> torch.Tensor:
        if not isinstance(block, torch.Tensor) or not block.is_floating_point() or block.dim() not in (2, 3):
            raise ValueError("DemucsStreamer.push expects a floating (channels, time) or (batch, channels, time) "
                             f"tensor, got {getattr(block, 'shape', type(block).__name__)}")
        batched = block.dim() == 3
        if self._batched is None:
            self._batched = batched
        elif batched != self._batched:
            raise ValueError("DemucsStreamer.push: every block must have the same number of dimensions until reset()")
        x = block if batched else block[None]
        if x.shape[1] != self.model.audio_channels:
            raise ValueError(f"DemucsStreamer.push: expected {self.model.audio_channels} channels, "
                             f"got a block of shape {tuple(block.shape)}")
        if self._pending is not None and x.shape[0] != self._pending.shape[0]:
            raise ValueError(f"DemucsStreamer.push: batch size changed from {self._pending.shape[0]} to "
                             f"{x.shape[0]} without reset()")
        return x

    @staticmethod
    def _with_history(x: torch.Tensor, hist: torch.Tensor | None, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` with ``size`` past samples on the left (zeros at first), and the new history."""
        if size == 0:
            return x, x[..., :0]
        if hist is None:
            hist = x.new_zeros(*x.shape[:-1], size)
        full = torch.cat([hist, x], dim=-1)
        return full, full[..., -size:]

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        model = self.model
        skips = []
        for i, layer in enumerate(model.encoder):
            x, self._enc_hist[i] = self._with_history(x, self._enc_hist[i], layer.left_pad)
            x = layer.act(layer.rewrite(F.relu(layer.conv(x))))
            skips.append(x)
        if model.lstm is not None:
            h, self._lstm_state = model.lstm.lstm(x.transpose(1, 2), self._lstm_state)
            x = h.transpose(1, 2)
        for i, layer in enumerate(model.decoder):
            x = x + skips.pop()
            frames = x.shape[-1]
            x, self._ctx_hist[i] = self._with_history(x, self._ctx_hist[i], layer.context_pad[0])
            x = layer.act(layer.context(x))
            conv = layer.conv_tr
            y = F.conv_transpose1d(x, conv.weight, None, conv.stride)  # (B, C_out, (frames - 1) s + k)
            if self._tr_tail[i] is not None:
                tail = self._tr_tail[i]
                y = torch.cat([y[..., : tail.shape[-1]] + tail, y[..., tail.shape[-1]:]], dim=-1)
            keep = frames * layer.stride
            self._tr_tail[i] = y[..., keep:]
            y = y[..., :keep]
            if conv.bias is not None:
                y = y + conv.bias[:, None]
            x = y if layer.last else F.relu(y)
        return x.reshape(x.shape[0], len(model.sources), model.audio_channels, x.shape[-1])
