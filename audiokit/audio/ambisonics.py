"""Ambisonics in the AmbiX convention: real spherical harmonics in ACN channel order with SN3D normalisation.

A plane wave ``s(t)`` from azimuth ``phi`` and elevation ``theta`` becomes the ``(N + 1)^2`` channels
``a_k(t) = Y_k(phi, theta) s(t)`` of an order-``N`` scene (third order: 16 channels). Conventions:

- directions in radians; azimuth counter-clockwise from the front (``+x``) towards the left (``+y``),
  elevation up from the horizontal plane towards ``+z``;
- channel ``k = n^2 + n + m`` (ACN) holds order ``n`` and degree ``m = -n..n``:
  ``W | Y Z X | V T R S U | Q O M K L N P`` for orders 0 to 3;
- ``Y_n^m = N_n^|m| P_n^|m|(sin theta) * (cos(m phi) if m >= 0 else sin(|m| phi))`` with the associated
  Legendre functions ``P_n^m`` *without* the Condon-Shortley phase ``(-1)^m`` and Schmidt semi-normalisation
  ``N_n^m = sqrt((2 - delta_m0) (n - m)! / (n + m)!)`` (SN3D): every ``|Y_k| <= 1``, ``W = 1``.

With SN3D the harmonics are orthogonal, ``(1 / 4 pi) int Y_k Y_l dOmega = delta_kl / (2 n_k + 1)``, and the
addition theorem reads ``sum_m Y_n^m(u) Y_n^m(v) = P_n(cos gamma)`` (``gamma`` the angle between ``u`` and
``v``). Consequences used here and in :mod:`audiokit.corpora.ambisonics`:

- an isotropic diffuse field of power ``sigma^2`` has the diagonal covariance
  ``sigma^2 diag(1 / (2 n_k + 1))`` (the identity after :func:`sn3d_to_n3d`);
- the beam ``b(u) = sum_k (2 n_k + 1) Y_k(u) a_k / (N + 1)^2`` (:func:`decode_directions`) has gain 1 towards
  a plane wave from ``u`` (the maximum-directivity, "hypercardioid", beam of order ``N``).

Symbols: ``K = (N + 1)^2`` ambisonic channels, ``T`` samples, ``D`` directions.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "ACN_LETTERS",
    "acn",
    "channel_orders",
    "decode_directions",
    "diffuse_covariance",
    "encode_direction",
    "encode_source",
    "fibonacci_sphere",
    "num_channels",
    "order_of",
    "sn3d_to_n3d",
    "spherical_harmonics",
]

#: Furse-Malham letters of the first 16 channels in ACN order (orders 0 to 3).
ACN_LETTERS = ("W", "Y", "Z", "X", "V", "T", "R", "S", "U", "Q", "O", "M", "K", "L", "N", "P")


# ------------------------------------------------------------------------------------------------ indexing
def _check_order(order: object) -> int:
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"ambisonic order must be an int >= 0, got order={order!r}")
    return order


def num_channels(order: int) -> int:
    """``(N + 1)^2``: channels of an order-``N`` scene (1, 4, 9, 16 for orders 0 to 3)."""
    return (_check_order(order) + 1) ** 2


def order_of(channels: int) -> int:
    """The order ``N`` of a scene with ``channels = (N + 1)^2`` channels (16 -> 3)."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1 \
            or math.isqrt(channels) ** 2 != channels:
        raise ValueError(f"an ambisonic scene has (order + 1)^2 channels (1, 4, 9, 16, ...), got {channels!r}")
    return math.isqrt(channels) - 1


def acn(order: int, degree: int) -> int:
    """ACN channel index ``n^2 + n + m`` of order ``n`` and degree ``m`` (``|m| <= n``)."""
    if not -_check_order(order) <= degree <= order:
        raise ValueError(f"degree must be in -{order}..{order} for order {order}, got {degree!r}")
    return order * order + order + degree


def channel_orders(order: int) -> Tensor:
    """``(K,)`` long: the order ``n_k`` of each ACN channel (``[0, 1, 1, 1, 2, ...]``)."""
    return torch.tensor([n for n in range(_check_order(order) + 1) for _ in range(2 * n + 1)])


def sn3d_to_n3d(order: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(K,)`` gains ``sqrt(2 n_k + 1)`` that turn SN3D channels into N3D ones (divide to go back)."""
    return (2 * channel_orders(order) + 1).to(dtype).sqrt()


# ------------------------------------------------------------------------------------------------ harmonics
def _as_tensor(value: float | Tensor, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise ValueError(f"{name} must be a float tensor (radians), got dtype {value.dtype}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number or a float tensor of radians, got {type(value).__name__}")
    return torch.tensor(float(value), dtype=torch.float64)


def spherical_harmonics(azimuth: float | Tensor, elevation: float | Tensor, order: int) -> Tensor:
    """Real SN3D spherical harmonics in ACN order: ``(..., K)`` for directions of broadcast shape ``(...)``.

    Args:
        azimuth: radians, counter-clockwise from the front; a number or a tensor.
        elevation: radians, up from the horizontal plane (``-pi/2..pi/2``); broadcasts with ``azimuth``.
        order: N, the highest order (``K = (N + 1)^2`` values per direction).

    Computed in the inputs' dtype (float64 for plain numbers) by the standard three-term recurrences of the
    associated Legendre functions.
    """
    order = _check_order(order)
    azimuth, elevation = torch.broadcast_tensors(_as_tensor(azimuth, "azimuth"), _as_tensor(elevation, "elevation"))
    dtype = torch.promote_types(azimuth.dtype, elevation.dtype)
    azimuth, elevation = azimuth.to(dtype), elevation.to(dtype)
    x, c = torch.sin(elevation), torch.cos(elevation)  # P_n^m's argument and sqrt(1 - x^2)
    # legendre[(n, m)] = P_n^m(x) without the Condon-Shortley phase, m >= 0:
    #   P_m^m = (2m - 1)!! c^m,   P_{m+1}^m = (2m + 1) x P_m^m,
    #   P_n^m = ((2n - 1) x P_{n-1}^m - (n + m - 1) P_{n-2}^m) / (n - m)
    legendre: dict[tuple[int, int], Tensor] = {(0, 0): torch.ones_like(x)}
    for m in range(1, order + 1):
        legendre[(m, m)] = (2 * m - 1) * c * legendre[(m - 1, m - 1)]
    for m in range(order + 1):
        if m + 1 <= order:
            legendre[(m + 1, m)] = (2 * m + 1) * x * legendre[(m, m)]
        for n in range(m + 2, order + 1):
            legendre[(n, m)] = ((2 * n - 1) * x * legendre[(n - 1, m)] - (n + m - 1) * legendre[(n - 2, m)]) / (n - m)
    channels = []
    for n in range(order + 1):
        for m in range(-n, n + 1):
            a = abs(m)
            norm = math.sqrt((1 if m == 0 else 2) * math.factorial(n - a) / math.factorial(n + a))
            trig = torch.cos(m * azimuth) if m >= 0 else torch.sin(a * azimuth)
            channels.append(norm * legendre[(n, a)] * trig)
    return torch.stack(channels, dim=-1)


def encode_direction(azimuth: float | Tensor, elevation: float | Tensor, order: int) -> Tensor:
    """Encoding gains of a plane wave from ``(azimuth, elevation)``: ``(K,)`` for one direction, ``(..., K)``
    for tensors of directions; the same values as :func:`spherical_harmonics` (``W`` gain 1)."""
    return spherical_harmonics(azimuth, elevation, order)


def encode_source(signal: Tensor, azimuth: float | Tensor, elevation: float | Tensor, order: int) -> Tensor:
    """Pan a mono ``signal`` ``(..., T)`` to an order-``N`` scene ``(..., K, T)``.

    Args:
        signal: float tensor, time last.
        azimuth, elevation: radians; numbers or 0-d tensors for a fixed source, or ``(T,)`` tensors for a
            moving one (one direction per sample).
        order: N.
    """
    if not isinstance(signal, Tensor) or not signal.is_floating_point() or signal.dim() < 1 \
            or signal.shape[-1] == 0:
        got = f"shape {tuple(signal.shape)} of {signal.dtype}" if isinstance(signal, Tensor) else type(signal).__name__
        raise ValueError(f"encode_source: expected a float signal of shape (..., time), got {got}")
    gains = spherical_harmonics(azimuth, elevation, order).to(signal.dtype)
    if gains.dim() == 1:  # (K,): a fixed direction
        return gains[:, None] * signal[..., None, :]  # (K, 1) * (..., 1, T) -> (..., K, T)
    if gains.dim() == 2 and gains.shape[0] == signal.shape[-1]:  # (T, K): a direction per sample
        return gains.T * signal[..., None, :]  # (T, K) -> (K, T); * (..., 1, T) -> (..., K, T)
    raise ValueError(f"encode_source: azimuth and elevation must be numbers or tensors of one direction per sample "
                     f"({signal.shape[-1]}), got directions of shape {tuple(gains.shape[:-1])}")


# ------------------------------------------------------------------------------------------------ decoding
def decode_directions(scene: Tensor, azimuth: float | Tensor, elevation: float | Tensor) -> Tensor:
    """Maximum-directivity beams of an SN3D scene ``(..., K, T)`` towards ``D`` directions: ``(..., D, T)``.

    ``b(u) = sum_k (2 n_k + 1) Y_k(u) a_k / K``: a plane wave from ``u`` comes out with gain 1, and one from
    an angle ``gamma`` away with ``sum_n (2n + 1) P_n(cos gamma) / K``. Directions are numbers (``D = 1``) or
    tensors of shape ``(D,)``.
    """
    if not isinstance(scene, Tensor) or not scene.is_floating_point() or scene.dim() < 2:
        got = f"shape {tuple(scene.shape)}" if isinstance(scene, Tensor) else type(scene).__name__
        raise ValueError(f"decode_directions: expected a float scene of shape (..., channels, time), got {got}")
    order = order_of(scene.shape[-2])
    gains = spherical_harmonics(azimuth, elevation, order).to(scene.dtype).reshape(-1, scene.shape[-2])  # (D, K)
    weights = (2 * channel_orders(order) + 1).to(scene.dtype) / scene.shape[-2]  # (K,)
    return torch.einsum("dk,...kt->...dt", gains * weights, scene)


def diffuse_covariance(order: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``(K, K)``: the channel covariance of a unit-power isotropic diffuse field, ``diag(1 / (2 n_k + 1))``."""
    return torch.diag(1.0 / (2 * channel_orders(order) + 1).to(dtype))


def fibonacci_sphere(count: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """``count`` nearly uniform directions on the sphere (a golden-angle spiral of equal-area bands):
    ``(azimuth, elevation)``, each ``(count,)`` radians."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"fibonacci_sphere: count must be a positive int, got {count!r}")
    i = torch.arange(count, dtype=dtype)
    z = 1 - (2 * i + 1) / count  # band centres: equal areas
    golden = math.pi * (3 - math.sqrt(5))
    azimuth = torch.remainder(i * golden + math.pi, 2 * math.pi) - math.pi
    return azimuth, torch.asin(z)

