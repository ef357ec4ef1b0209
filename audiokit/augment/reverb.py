"""Room reverberation: shoebox room impulse responses by the image-source method, applied by FFT
convolution.

Image sources (Allen & Berkley, 1979). Along each axis of a room ``[0, L]``, the images of a source at
``s`` sit at ``2 n L + (1 - 2 q) s`` for integers ``n`` and ``q`` in {0, 1}, reached after
``|n - q| + |n|`` wall reflections::

    ... | image n=-1,q=1 | image n=0,q=1 |  room: source s  | image n=1,q=1 | ...
       -2L              -L              0                  L              2L

Each image contributes ``beta^reflections / distance`` at the delay ``distance / c``, rounded to the
nearest sample. With one pressure reflection coefficient ``beta`` for all walls, the energy arriving at
time t along direction u has met ``c t sum_i |u_i| / L_i`` walls; averaging over directions gives the
decay of the response, from which :func:`reflection_coefficient` finds the ``beta`` that makes the
measured RT60 (ISO 3382, from the Schroeder curve) the wanted one. (Eyring's formula, which assumes
every path meets walls at the mean rate, makes these rooms ring 10-50 % too long.)

All images add with the same sign, so the response has a large DC part that builds up over time and
would stretch the measured decay by about 1.4x; a high-pass at 50 Hz removes it, as Allen and Berkley
advise. The measured RT60 then lands within about 5 % of the wanted one (see the tests).

Each response is aligned to its direct path (sample 0, amplitude 1), so reverberation adds the room and
keeps the dry signal's timing and level. A bank of responses is simulated once per (room ranges,
seed, sample rate) and cached; examples draw from it. The reverberant tail past an example's length is
cut, as it would be for that example alone.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from audiokit.augment.base import LinearTransform, choice, fft_convolve, next_fast_length
from audiokit.nn.biquad import biquad_coefficients, biquad_filter

SPEED_OF_SOUND = 343.0  # m/s, air at 20 degrees C
WALL_MARGIN = 0.5  # m: sources and microphones stay this far from the walls (or a quarter of the room)


def _fibonacci_sphere(count: int) -> torch.Tensor:
    """``count`` nearly uniform unit vectors ``(count, 3)`` float64."""
    i = torch.arange(count, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / count
    phi = math.pi * (3 - math.sqrt(5)) * i
    r = (1 - z**2).sqrt()
    return torch.stack([r * phi.cos(), r * phi.sin(), z], dim=1)


def reflection_coefficient(room_size: Sequence[float], rt60: float, speed_of_sound: float = SPEED_OF_SOUND) -> float:
    """The pressure reflection coefficient of all walls for which the image-source response of
    ``room_size`` m decays by 60 dB in ``rt60`` s, measured as ISO 3382 does (the slope of the Schroeder
    curve from -5 to -25 dB, extrapolated to 60 dB).

    Sound travelling in direction ``u`` meets ``c t g(u)`` walls by time t, ``g(u) = sum_i |u_i| / L_i``,
    so with ``k = -ln(beta^2)`` the Schroeder curve of the image field is::

        I(t) = mean_u exp(-k c t g(u)) / (k c g(u))         (directions uniform on the sphere)

    It depends on ``k c t`` only: its -5 and -25 dB points ``tau_5, tau_25`` in that variable, found once,
    give ``k = 3 (tau_25 - tau_5) / (c rt60)``. Eyring's formula is the special case of one ``g`` for
    all directions; the spread of ``g`` (grazing paths along the longest axis meet fewer walls) makes a
    room decay more slowly than Eyring predicts: 10-50 % longer in rooms of 3-10 m, more the more
    elongated the room.
    """
    g = (_fibonacci_sphere(4096).abs() / torch.tensor(room_size, dtype=torch.float64)).sum(dim=1)  # (D,) 1/m

    def level(tau: float) -> float:  # I(tau) / I(0) in dB
        return 10 * math.log10(((-tau * g).exp() / g).mean().item() / (1 / g).mean().item())

    def crossing(db: float) -> float:
        low, high = 0.0, 1.0
        while level(high) > db:
            high *= 2
        for _ in range(60):
            low, high = (low, (low + high) / 2) if level((low + high) / 2) < db else ((low + high) / 2, high)
        return (low + high) / 2

    k = 3 * (crossing(-25.0) - crossing(-5.0)) / (speed_of_sound * rt60)
    return math.exp(-k / 2)


def shoebox_rir(room_size: Sequence[float], source: Sequence[float], microphone: Sequence[float], rt60: float,
                sample_rate: int, *, duration: float | None = None, highpass_hz: float | None = 50.0,
                speed_of_sound: float = SPEED_OF_SOUND) -> torch.Tensor:
    """Impulse response ``(K,)`` float64 from ``source`` to ``microphone`` in a shoebox room.

    Args:
        room_size: ``(Lx, Ly, Lz)`` in metres.
        source, microphone: positions ``(x, y, z)`` in metres inside the room.
        rt60: reverberation time in seconds (sets the walls' reflection coefficient, Eyring).
        sample_rate: Hz.
        duration: length of the response in seconds after the direct path (default ``rt60``, where the
            tail is 60 dB down).
        highpass_hz: corner of the second-order high-pass that removes the DC build-up (None: off).
        speed_of_sound: m/s.
    """
    for what, point in (("source", source), ("microphone", microphone)):
        if len(point) != 3 or not all(0 <= c <= length for c, length in zip(point, room_size)):
            raise ValueError(f"{what} {tuple(point)} is not inside the room {tuple(room_size)}")
    duration = rt60 if duration is None else duration
    size = max(1, math.ceil(duration * sample_rate))
    beta = reflection_coefficient(room_size, rt60, speed_of_sound)
    direct = math.dist(source, microphone)
    reach = direct + speed_of_sound * duration  # metres: farther images arrive after the response ends
    offsets, reflections = [], []
    for length, s, m in zip(room_size, source, microphone):
        order = math.ceil(reach / (2 * length)) + 1
        n = torch.arange(-order, order + 1, dtype=torch.float64)[:, None]  # (2N+1, 1)
        q = torch.tensor([0.0, 1.0], dtype=torch.float64)[None, :]  # (1, 2)
        offsets.append((2 * n * length + (1 - 2 * q) * s - m).reshape(-1))  # image minus microphone
        reflections.append(((n - q).abs() + n.abs()).reshape(-1))
    (dx, dy, dz), (kx, ky, kz) = offsets, reflections
    rir = torch.zeros(size, dtype=torch.float64)
    yz_square = dy[:, None] ** 2 + dz[None, :] ** 2  # (Y, Z)
    yz_order = ky[:, None] + kz[None, :]
    for start in range(0, dx.numel(), 8):  # a slab of x-images at a time bounds memory
        distance = (dx[start:start + 8, None, None] ** 2 + yz_square).sqrt().clamp(min=1e-3)  # (8, Y, Z)
        delay = torch.round((distance - direct) / speed_of_sound * sample_rate).long()
        keep = delay < size
        if keep.any():
            order = kx[start:start + 8, None, None] + yz_order
            amplitude = beta**order * (max(direct, 1e-3) / distance)  # the direct path has amplitude 1
            rir.index_add_(0, delay[keep], amplitude[keep])
    if highpass_hz is not None:
        coefficients = biquad_coefficients("highpass", 0.0, highpass_hz, 1 / math.sqrt(2), sample_rate)
        rir = biquad_filter(rir[None], coefficients.to(rir)[None])[0][0]
    return rir


@functools.lru_cache(maxsize=8)
def rir_bank(count: int, seed: int, sample_rate: int, min_room: tuple[float, float, float],
             max_room: tuple[float, float, float], min_rt60: float,
             max_rt60: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` responses of random rooms, sources, microphones and RT60s (uniform in the ranges),
    drawn from ``seed``: ``(count, K)`` float32 (zero-padded to the longest) and their RT60s ``(count,)``.
    Cached: the same arguments return the same tensors without simulating again."""
    generator = torch.Generator().manual_seed(seed)
    low, high = torch.tensor(min_room, dtype=torch.float64), torch.tensor(max_room, dtype=torch.float64)
    responses, rt60s = [], []
    for _ in range(count):
        room = low + (high - low) * torch.rand(3, generator=generator, dtype=torch.float64)
        margin = torch.minimum(torch.full_like(room, WALL_MARGIN), room / 4)
        source, microphone = (margin + (room - 2 * margin) * torch.rand(3, generator=generator, dtype=torch.float64)
                              for _ in range(2))
        rt60 = min_rt60 + (max_rt60 - min_rt60) * torch.rand(1, generator=generator, dtype=torch.float64).item()
        responses.append(shoebox_rir(room.tolist(), source.tolist(), microphone.tolist(), rt60, sample_rate))
        rt60s.append(rt60)
    bank = torch.nn.utils.rnn.pad_sequence(responses, batch_first=True).float()  # (count, K)
    return bank, torch.tensor(rt60s)


class Reverb(LinearTransform):
    """Convolve each example with a simulated shoebox-room impulse response.

    Args:
        sample_rate: rate of the batch in Hz (a chain passes its own).
        min_rt60: shortest reverberation time in seconds (default 0.2).
        max_rt60: longest reverberation time in seconds (default 0.8).
        min_room: smallest room ``[x, y, z]`` in metres (default ``[3, 3, 2.5]``).
        max_room: largest room ``[x, y, z]`` in metres (default ``[10, 8, 4]``).
        num_rirs: size of the bank of responses examples draw from (default 32); simulated on first
            use, about 0.05-0.3 s each on one CPU core.
        rir_seed: seed of the bank (default 0): the rooms are a fixed set, the draws among them follow
            the batch's generator.
        p, same_for_sources: see :class:`~audiokit.augment.base.Transform`. All channels of a unit get
            the same response (a mono room).
    """

    name = "reverb"

    def __init__(self, *, sample_rate: int, min_rt60: float = 0.2, max_rt60: float = 0.8,
                 min_room: Sequence[float] = (3.0, 3.0, 2.5), max_room: Sequence[float] = (10.0, 8.0, 4.0),
                 num_rirs: int = 32, rir_seed: int = 0, p: float = 1.0, same_for_sources: bool = True) -> None:
        super().__init__(p=p, same_for_sources=same_for_sources)
        self.sample_rate = int(self.number("sample_rate", sample_rate, minimum=1, integer=True))
        self.min_rt60, self.max_rt60 = self.number_range("min_rt60", min_rt60, "max_rt60", max_rt60, minimum=0.01,
                                                         maximum=10.0)
        rooms = [self.numbers(field, value, minimum=0.5) for field, value in
                 (("min_room", min_room), ("max_room", max_room))]
        for field, room in zip(("min_room", "max_room"), rooms):
            if len(room) != 3:
                raise self.error(f"{field} must be 3 sizes [x, y, z] in metres, got {room}")
        for axis in range(3):
            self.number_range(f"min_room[{axis}]", rooms[0][axis], f"max_room[{axis}]", rooms[1][axis])
        self.min_room, self.max_room = tuple(rooms[0]), tuple(rooms[1])
        self.num_rirs = int(self.number("num_rirs", num_rirs, minimum=1, integer=True))
        self.rir_seed = int(self.number("rir_seed", rir_seed, integer=True))
        self._banks: dict[torch.device, torch.Tensor] = {}
        self._spectra: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}  # bank spectra by FFT size

    def bank(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """The responses ``(num_rirs, K)`` on ``device`` and their RT60s ``(num_rirs,)`` in seconds."""
        responses, rt60s = rir_bank(self.num_rirs, self.rir_seed, self.sample_rate, self.min_room, self.max_room,
                                    self.min_rt60, self.max_rt60)
        device = torch.device(device)
        if device not in self._banks:
            self._banks[device] = responses.to(device)
        return self._banks[device], rt60s

    def sample(self, count, channels, time, generator):
        return {"rir": choice(generator, count, self.num_rirs)}

    def tail(self, params):
        return self.bank()[0].shape[-1] - 1

    def apply(self, x, lengths, params):
        responses, _ = self.bank(x.device)
        n_fft = next_fast_length(x.shape[-1] + responses.shape[-1] - 1)
        key = (n_fft, x.device, x.dtype)
        if key not in self._spectra:  # the bank's spectra, once per FFT size
            if len(self._spectra) >= 4:  # a handful of batch lengths at a time
                self._spectra.clear()
            self._spectra[key] = torch.fft.rfft(responses.to(x.dtype), n=n_fft)  # (num_rirs, F)
        rir = params["rir"]
        return fft_convolve(x, responses[rir], self._spectra[key][rir], n_fft), lengths

    def response(self, params, length, dtype, device):
        responses = self.bank(device)[0][params["rir"], :length].to(dtype)  # (N, <= length)
        return torch.nn.functional.pad(responses, (0, length - responses.shape[-1]))

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, rt60=[{self.min_rt60:g}, {self.max_rt60:g}], "
                f"room={list(self.min_room)}..{list(self.max_room)}, num_rirs={self.num_rirs}, "
                f"{super().extra_repr()}")
