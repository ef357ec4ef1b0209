"""Gray-box effect models: differentiable DSP blocks whose parameters a small MLP sets from the knobs
(the "controller" of NablAFx, Comunità et al. 2025; DDSP-style effect blocks after Steinmetz et al.).

Every block maps the normalised knobs ``(B, K)`` through :class:`Controller` to a few physical
parameters per example (gains in dB, frequencies in Hz, time constants in ms), each squashed by a
sigmoid into a sensible range, so the DSP stays stable and interpretable whatever the weights. The
blocks obey the :class:`EffectModule` streaming contract exactly, and :class:`Chain` puts them in series
with each other and with black-box models (``TCN``, ``LSTM``, ...):

* :class:`ParametricEQ`: RBJ biquads in series (shelves, peaks, low/high-pass); IIR, unbounded memory.
* :class:`Compressor`: peak level detector, soft-knee static curve, attack/release smoothing of the
  gain reduction, make-up gain; recurrent.
* :class:`Waveshaper`: memoryless ``tanh`` with pre-gain, bias and post-gain, plus an optional learned
  polynomial; receptive field 1.

Streaming states are flat lists of tensors whose shapes do not depend on the block length, and a step
never recomputes earlier blocks. Under a tracer or exporter the filters and the smoother switch to
standard tensor operations (see :mod:`audiokit.nn.biquad`, :mod:`audiokit.nn.dynamics`), so the
presets export to TorchScript, ONNX and AOTInductor (:mod:`audiokit.export`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from audiokit.models.effects.base import EffectModule
from audiokit.nn import KnobMLP
from audiokit.nn.biquad import BIQUAD_KINDS, biquad_cascade, biquad_coefficients
from audiokit.nn.dynamics import gain_reduction_db, level_db, smooth_gain_reduction, time_constant_to_alpha


def _check_range(name: str, value: Sequence[float], minimum: float | None = None, maximum: float | None = None,
                 positive: bool = False) -> tuple[float, float]:
    """``(low, high)`` with ``low < high`` inside ``[minimum, maximum]`` (``> 0`` if ``positive``)."""
    if len(value) != 2 or not float(value[0]) < float(value[1]):
        raise ValueError(f"{name}: expected (low, high) with low < high, got {tuple(value)}")
    low, high = float(value[0]), float(value[1])
    if positive and low <= 0:
        raise ValueError(f"{name}: expected positive values, got {(low, high)}")
    if (minimum is not None and low < minimum) or (maximum is not None and high > maximum):
        raise ValueError(f"{name}: expected values within [{minimum}, {maximum}], got {(low, high)}")
    return low, high


def _check_knobs(num_knobs: int) -> int:
    if int(num_knobs) < 1:
        raise ValueError(f"num_knobs: expected at least one knob, got {num_knobs}")
    return int(num_knobs)


class Controller(nn.Module):
    """Knobs ``(B, K)`` -> P physical parameters ``(B, P)``, each in its own range.

    An MLP (:class:`audiokit.nn.KnobMLP`, then a linear layer) gives one value per parameter; a sigmoid
    squashes it into ``[low, high]``, on a log scale for parameters such as frequencies and times.
    The output bias starts each parameter at its ``initial`` value.

    Args:
        num_knobs: K.
        low, high: P range limits (positive where ``log_scale``).
        initial: P starting values, strictly inside the ranges.
        log_scale: P flags: squash ``log(value)`` instead of the value.
        hidden: widths of the MLP (default (16, 16)).
    """

    def __init__(self, num_knobs: int, low: Sequence[float], high: Sequence[float], initial: Sequence[float],
                 log_scale: Sequence[bool], hidden: Sequence[int] = (16, 16)):
        super().__init__()
        if not len(low) == len(high) == len(initial) == len(log_scale):
            raise ValueError(f"low, high, initial, log_scale: expected equal lengths, got "
                             f"{len(low)}, {len(high)}, {len(initial)}, {len(log_scale)}")
        log = torch.tensor(list(log_scale), dtype=torch.bool)
        warp = lambda v: torch.where(log, torch.tensor(list(v), dtype=torch.float64).log(),
                                     torch.tensor(list(v), dtype=torch.float64))
        lo, hi, init = warp(low), warp(high), warp(initial)
        position = (init - lo) / (hi - lo)
        if not bool(((position > 0) & (position < 1)).all()):
            raise ValueError(f"initial: expected values strictly inside (low, high), got {list(initial)} "
                             f"for low {list(low)}, high {list(high)}")
        self.mlp = KnobMLP(num_knobs, tuple(hidden))
        self.proj = nn.Linear(self.mlp.out_features, len(low))
        with torch.no_grad():
            self.proj.bias.copy_(torch.logit(position))
        # derived from the constructor arguments, so not part of the state dict
        self.register_buffer("low", lo.float(), persistent=False)
        self.register_buffer("span", (hi - lo).float(), persistent=False)
        self.register_buffer("log_scale", log, persistent=False)

    def forward(self, knobs: torch.Tensor) -> torch.Tensor:
        # (B, K) -> (B, P)
        warped = self.low + self.span * torch.sigmoid(self.proj(self.mlp(knobs)))
        return torch.where(self.log_scale, warped.exp(), warped)


class ParametricEQ(EffectModule):
    """Biquads in series, each band's gain, frequency and Q set from the knobs.

    The filters run in float64 (low bands at high sample rates have poles close to the unit circle,
    where float32 rounding in the carried state would make streaming drift from offline by ~1e-4).

    Args:
        sample_rate: Hz.
        num_knobs: K.
        # Bands
        bands: band kinds from first to last, each one of ``peaking``, ``low_shelf``, ``high_shelf``,
            ``lowpass``, ``highpass`` (default low shelf, three peaks, high shelf). Frequencies start
            log-spaced across the range in this order (low/high-pass near the ends), gains at 0 dB and
            Q at 0.707, so the EQ starts flat apart from any low/high-pass.
        min_freq_hz: lowest frequency of every band (default 20).
        max_freq_hz: highest frequency of every band, below ``sample_rate / 2`` (default
            ``min(20000, 0.45 sample_rate)``).
        max_gain_db: G, shelf and peak gains lie in [-G, G] dB (default 18).
        q_range: (min, max) Q of every band (default (0.1, 10)).
        # Conditioning
        hidden: widths of the controller MLP (default (16, 16)).
    """

    def __init__(self, sample_rate: int, num_knobs: int,
                 bands: Sequence[str] = ("low_shelf", "peaking", "peaking", "peaking", "high_shelf"),
                 min_freq_hz: float = 20.0, max_freq_hz: float | None = None, max_gain_db: float = 18.0,
                 q_range: Sequence[float] = (0.1, 10.0), hidden: Sequence[int] = (16, 16)):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.num_knobs = _check_knobs(num_knobs)
        bands = tuple(bands)
        if not bands or any(kind not in BIQUAD_KINDS for kind in bands):
            raise ValueError(f"bands: expected a non-empty list of {BIQUAD_KINDS}, got {list(bands)}")
        if max_freq_hz is None:
            max_freq_hz = min(20000.0, 0.45 * self.sample_rate)
        freq = _check_range("min_freq_hz, max_freq_hz", (min_freq_hz, max_freq_hz), positive=True)
        if not float(max_freq_hz) < self.sample_rate / 2:
            raise ValueError(f"max_freq_hz: expected below sample_rate / 2 = {self.sample_rate / 2}, got {max_freq_hz}")
        if not float(max_gain_db) > 0:
            raise ValueError(f"max_gain_db: expected > 0, got {max_gain_db}")
        q_low, q_high = _check_range("q_range", q_range, positive=True)
        self.bands = bands
        q_start = min(max(math.sqrt(0.5), q_low * 1.01), q_high / 1.01)  # 0.707 if the range allows
        params = []  # per band: (gain dB, linear)?, (frequency Hz, log), (Q, log) as (low, high, initial, log)
        for n, kind in enumerate(bands):
            if kind not in ("lowpass", "highpass"):
                params.append((-float(max_gain_db), float(max_gain_db), 0.0, False))
            where = {"highpass": 0.05, "lowpass": 0.95}.get(kind, (n + 1) / (len(bands) + 1))  # in log frequency
            params.append((freq[0], freq[1], freq[0] * (freq[1] / freq[0]) ** where, True))
            params.append((q_low, q_high, q_start, True))
        low, high, initial, log_scale = zip(*params)
        self.controller = Controller(self.num_knobs, low, high, initial, log_scale, hidden)

    @property
    def receptive_field(self) -> None:
        return None  # IIR: every output depends on all past input

    def coefficients(self, knobs: torch.Tensor) -> torch.Tensor:
        """Knobs ``(B, K)`` -> biquad coefficients ``(B, N, 5)`` of the N bands, in float64."""
        params = self.controller(knobs).double().unbind(-1)  # P x (B,)
        sections, i = [], 0
        for kind in self.bands:
            if kind in ("lowpass", "highpass"):
                gain = torch.zeros_like(params[i])
            else:
                gain, i = params[i], i + 1
            sections.append(biquad_coefficients(kind, gain, params[i], params[i + 1], self.sample_rate))
            i += 2
        return torch.stack(sections, dim=1)  # N x (B, 5) -> (B, N, 5)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        y, _ = biquad_cascade(x[:, 0].double(), self.coefficients(knobs))  # (B, 1, T) -> (B, T)
        return y[:, None].to(x.dtype)

    def init_state(self, batch_size: int) -> list[torch.Tensor]:
        """``[s]``: the transposed direct form II state of every band, ``(B, N, 2)`` in float64."""
        device = self.controller.proj.weight.device
        return [torch.zeros(batch_size, len(self.bands), 2, device=device, dtype=torch.float64)]

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[torch.Tensor]):
        self.check_input(x, knobs)
        y, s = biquad_cascade(x[:, 0].double(), self.coefficients(knobs), state[0])
        return y[:, None].to(x.dtype), [s]


class Compressor(EffectModule):
    """Feed-forward compressor: level -> static curve -> attack/release smoothing -> make-up gain.

    Per example the controller sets threshold, ratio, knee, attack, release and make-up gain. Two
    detector topologies, both with separate attack and release (:mod:`audiokit.nn.dynamics`, exact
    and differentiable):

    - ``detector="gain"``: the static curve on the instantaneous peak level in dB, then the gain
      reduction smoothed in dB (a "smooth decoupled" design);
    - ``detector="envelope"``: a peak envelope follower on ``|x|`` (ballistics: attack while the
      level rises above the envelope, release otherwise), then the static curve on the envelope in dB
      (the topology of JUCE's and pedalboard's ``Compressor``).

    In both, ``y = x * 10^((makeup - reduction) / 20)``.

    Args:
        sample_rate: Hz.
        num_knobs: K.
        # Parameter ranges (low, high); the controller starts in the middle of typical settings
        threshold_db_range: dB (default (-60, 0); starts at -20).
        ratio_range: ``>= 1`` (default (1, 20); starts at 4).
        knee_db_range: ``>= 0`` dB (default (0, 12); starts at 6).
        attack_ms_range: ms (default (0.1, 100); starts at 5).
        release_ms_range: ms (default (5, 1000); starts at 100).
        makeup_db_range: dB (default (-24, 24); starts at 0).
        # Conditioning
        hidden: widths of the controller MLP (default (16, 16)).
        detector: ``"gain"`` (default) or ``"envelope"``, see above.
    """

    def __init__(self, sample_rate: int, num_knobs: int, threshold_db_range: Sequence[float] = (-60.0, 0.0),
                 ratio_range: Sequence[float] = (1.0, 20.0), knee_db_range: Sequence[float] = (0.0, 12.0),
                 attack_ms_range: Sequence[float] = (0.1, 100.0), release_ms_range: Sequence[float] = (5.0, 1000.0),
                 makeup_db_range: Sequence[float] = (-24.0, 24.0), hidden: Sequence[int] = (16, 16),
                 detector: str = "gain"):
        super().__init__()
        if detector not in ("gain", "envelope"):
            raise ValueError(f"Compressor detector must be 'gain' or 'envelope', got {detector!r}")
        self.detector = detector
        self.sample_rate = int(sample_rate)
        self.num_knobs = _check_knobs(num_knobs)
        ranges = [_check_range("threshold_db_range", threshold_db_range),
                  _check_range("ratio_range", ratio_range, minimum=1.0),
                  _check_range("knee_db_range", knee_db_range, minimum=0.0),
                  _check_range("attack_ms_range", attack_ms_range, positive=True),
                  _check_range("release_ms_range", release_ms_range, positive=True),
                  _check_range("makeup_db_range", makeup_db_range)]
        typical = [-20.0, 4.0, 6.0, 5.0, 100.0, 0.0]
        log_scale = [False, True, False, True, True, False]
        # the typical value, or the middle of the range (geometric for log-scaled ones) if outside it
        initial = [t if lo < t < hi else (math.sqrt(lo * hi) if log else (lo + hi) / 2)
                   for t, (lo, hi), log in zip(typical, ranges, log_scale)]
        self.controller = Controller(self.num_knobs, [r[0] for r in ranges], [r[1] for r in ranges], initial,
                                     log_scale, hidden)

    @property
    def receptive_field(self) -> None:
        return None  # the smoother's state carries all past input

    def _run(self, x: torch.Tensor, knobs: torch.Tensor, previous: torch.Tensor | None):
        threshold, ratio, knee, attack_ms, release_ms, makeup = self.controller(knobs).unbind(-1)  # 6 x (B,)
        signal = x[:, 0]  # (B, 1, T) -> (B, T)
        attack = time_constant_to_alpha(attack_ms, self.sample_rate)
        release = time_constant_to_alpha(release_ms, self.sample_rate)
        if self.detector == "envelope":  # smooth the level, then the static curve
            level = signal.abs().to(attack.dtype)
            start = None if previous is None else previous.to(level.dtype)
            state = smooth_gain_reduction(level, attack, release, start)
            reduction = gain_reduction_db(level_db(state), threshold[:, None], ratio[:, None], knee[:, None])
        else:  # the static curve on the instantaneous level, then smooth the gain reduction
            reduction = gain_reduction_db(level_db(signal), threshold[:, None], ratio[:, None], knee[:, None])
            reduction = state = smooth_gain_reduction(reduction, attack, release,
                                                      None if previous is None else previous.to(reduction.dtype))
        y = signal * 10 ** ((makeup[:, None] - reduction) / 20)
        return y[:, None].to(x.dtype), state

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        return self._run(x, knobs, None)[0]

    def init_state(self, batch_size: int) -> list[torch.Tensor]:
        """``[y]``: the last smoothed gain reduction in dB, or with ``detector="envelope"`` the last
        envelope value, ``(B,)`` (0: nothing reduced / silence before the start)."""
        w = self.controller.proj.weight
        return [torch.zeros(batch_size, device=w.device, dtype=w.dtype)]

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[torch.Tensor]):
        self.check_input(x, knobs)
        if x.shape[-1] == 0:
            return x, state
        y, smoothed = self._run(x, knobs, state[0])
        return y, [smoothed[:, -1].to(state[0].dtype)]


class Waveshaper(EffectModule):
    """Memoryless saturation ``y = post * (h + sum_n c_n h^n)``, ``h = tanh(pre x + bias) - tanh(bias)``.

    The controller sets pre-gain, bias and post-gain per example; subtracting ``tanh(bias)`` keeps
    silence silent. The polynomial coefficients ``c_n`` (n = 2..D) are learned constants starting at 0.
    Without the polynomial the curve is monotonic increasing; with ``symmetric`` it is odd.

    Args:
        sample_rate: Hz.
        num_knobs: K.
        # Shape
        symmetric: no bias and only odd polynomial powers, so ``f(-x) = -f(x)`` (default False).
        polynomial_degree: D, highest power of ``h`` in the learned polynomial; 0 or 1 for none
            (default 0).
        # Parameter ranges (low, high)
        pre_gain_db_range: drive into the tanh in dB (default (-24, 48)).
        bias_range: offset inside the tanh (default (-1, 1)).
        post_gain_db_range: output gain in dB (default (-48, 24)).
        Each starts at 0 if its range contains 0, else at the middle of the range.
        # Conditioning
        hidden: widths of the controller MLP (default (16, 16)).
    """

    def __init__(self, sample_rate: int, num_knobs: int, symmetric: bool = False, polynomial_degree: int = 0,
                 pre_gain_db_range: Sequence[float] = (-24.0, 48.0), bias_range: Sequence[float] = (-1.0, 1.0),
                 post_gain_db_range: Sequence[float] = (-48.0, 24.0), hidden: Sequence[int] = (16, 16)):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.num_knobs = _check_knobs(num_knobs)
        if int(polynomial_degree) < 0:
            raise ValueError(f"polynomial_degree: expected >= 0, got {polynomial_degree}")
        self.symmetric = bool(symmetric)
        ranges = [_check_range("pre_gain_db_range", pre_gain_db_range),
                  _check_range("post_gain_db_range", post_gain_db_range)]
        if not self.symmetric:
            ranges.append(_check_range("bias_range", bias_range))
        initial = [0.0 if lo < 0 < hi else (lo + hi) / 2 for lo, hi in ranges]  # 0 dB and no bias if in range
        self.controller = Controller(self.num_knobs, [r[0] for r in ranges], [r[1] for r in ranges], initial,
                                     [False] * len(ranges), hidden)
        powers = [n for n in range(2, int(polynomial_degree) + 1) if n % 2 == 1 or not self.symmetric]
        self.register_buffer("powers", torch.tensor(powers, dtype=torch.float32), persistent=False)
        self.polynomial = nn.Parameter(torch.zeros(len(powers))) if powers else None

    @property
    def receptive_field(self) -> int:
        return 1

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        params = self.controller(knobs)[:, :, None, None]  # (B, P) -> (B, P, 1, 1)
        pre, post = 10 ** (params[:, 0] / 20), 10 ** (params[:, 1] / 20)  # each (B, 1, 1)
        bias = torch.zeros_like(pre) if self.symmetric else params[:, 2]
        h = torch.tanh(pre * x + bias) - torch.tanh(bias)
        if self.polynomial is not None:
            # (B, 1, T, 1) ** (D',) -> (B, 1, T, D') @ (D',) -> (B, 1, T)
            h = h + (h[..., None] ** self.powers) @ self.polynomial
        return post * h

    def init_state(self, batch_size: int) -> list[torch.Tensor]:
        return []  # memoryless

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list[torch.Tensor]):
        return self(x, knobs), state


class Chain(EffectModule):
    """Effect models in series, first to last, each driven by the same knobs.

    Mix gray-box blocks and black-box models freely, e.g. ``ParametricEQ -> Compressor -> TCN``. From a
    Hydra config, give ``effects`` as a list of ``_target_`` mappings; they are built first.

    The streaming state is the children's states concatenated into one flat list: a child whose state
    is a list or tuple of tensors contributes its tensors, any other state is one entry.

    Args:
        sample_rate: Hz; every effect's must match.
        num_knobs: K; every effect's must match.
        effects: the :class:`EffectModule` s in processing order (at least one).
    """

    def __init__(self, sample_rate: int, num_knobs: int, effects: Sequence[EffectModule]):
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.num_knobs = int(num_knobs)
        effects = list(effects)
        if not effects:
            raise ValueError("effects: expected at least one effect model, got none")
        for n, effect in enumerate(effects):
            if not isinstance(effect, EffectModule):
                raise ValueError(f"effects[{n}]: expected an EffectModule, got {type(effect).__name__}")
            if effect.sample_rate != self.sample_rate or effect.num_knobs != self.num_knobs:
                raise ValueError(f"effects[{n}]: {type(effect).__name__} runs at {effect.sample_rate} Hz with "
                                 f"{effect.num_knobs} knobs, the chain at {self.sample_rate} Hz with {self.num_knobs}")
        self.effects = nn.ModuleList(effects)
        # per child: how its state sits in the flat list (its container type and length; None = one entry)
        self._layout = [self._state_layout(effect.init_state(1)) for effect in effects]

    @staticmethod
    def _state_layout(state) -> tuple[type, int] | None:
        if isinstance(state, (list, tuple)) and all(isinstance(s, torch.Tensor) for s in state):
            return type(state), len(state)
        return None

    @property
    def receptive_field(self) -> int | None:
        fields = [effect.receptive_field for effect in self.effects]
        return None if any(f is None for f in fields) else 1 + sum(f - 1 for f in fields)

    @property
    def latency(self) -> int:
        return sum(effect.latency for effect in self.effects)

    def forward(self, x: torch.Tensor, knobs: torch.Tensor) -> torch.Tensor:
        """B batch, T samples, K knobs: x ``(B, 1, T)``, knobs ``(B, K)`` -> ``(B, 1, T)``."""
        self.check_input(x, knobs)
        for effect in self.effects:
            x = effect(x, knobs)
        return x

    def init_state(self, batch_size: int) -> list:
        state = []
        for effect, layout in zip(self.effects, self._layout):
            s = effect.init_state(batch_size)
            if layout is None:
                state.append(s)
            else:
                state.extend(s)
        return state

    def step(self, x: torch.Tensor, knobs: torch.Tensor, state: list):
        self.check_input(x, knobs)
        new_state, i = [], 0
        for effect, layout in zip(self.effects, self._layout):
            if layout is None:
                x, s = effect.step(x, knobs, state[i])
                new_state.append(s)
                i += 1
            else:
                container, size = layout
                x, s = effect.step(x, knobs, container(state[i : i + size]))
                new_state.extend(s)
                i += size
        return x, new_state


def graybox_compressor(sample_rate: int = 44100, num_knobs: int = 4, detector: str = "gain") -> Chain:
    """Gray-box compressor: EQ (low shelf, peak, high shelf) -> :class:`Compressor` -> EQ (same bands)."""
    bands = ("low_shelf", "peaking", "high_shelf")
    return Chain(sample_rate, num_knobs, [ParametricEQ(sample_rate, num_knobs, bands),
                                          Compressor(sample_rate, num_knobs, detector=detector),
                                          ParametricEQ(sample_rate, num_knobs, bands)])


def graybox_distortion(sample_rate: int = 44100, num_knobs: int = 2) -> Chain:
    """Gray-box distortion: EQ (low shelf, peak, high shelf) -> :class:`Waveshaper` -> EQ (the same and a
    low-pass, for the tone control of a pedal)."""
    bands = ("low_shelf", "peaking", "high_shelf")
    return Chain(sample_rate, num_knobs, [ParametricEQ(sample_rate, num_knobs, bands),
                                          Waveshaper(sample_rate, num_knobs),
                                          ParametricEQ(sample_rate, num_knobs, (*bands, "lowpass"))])
