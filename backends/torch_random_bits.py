"""torch implementations of the random-bits family (``functrace/ops/random_bits.py``).

torch's uint32 tensors have no add, shift or comparison kernels on the CPU, so the bit
primitives compute in int64, where every uint32 value is non-negative, and mask to 32 bits."""

from __future__ import annotations

from typing import Any

import torch

from functrace.backends.torch_backend import torch_dtype
from functrace.ops import random_bits as RB

_M32 = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA


def _as_int64_bits(x):
    """The value of each element's bits as an unsigned number, in int64 (exact for <= 32 bits)."""
    if x.dtype == torch.uint64:
        return x.view(torch.int64)
    v = x.to(torch.int64)
    if x.dtype.is_signed:
        v = v & ((1 << (8 * x.element_size())) - 1)
    return v


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds, in int64 with a 32-bit mask after every addition and rotation:
    the same bits as the NumPy backend's uint32 arithmetic. In place on two work tensors."""
    shape = torch.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    dev = x1.device

    def full(t):
        return torch.empty(shape, dtype=torch.int64, device=dev).copy_(t.to(torch.int64).expand(shape))

    if k1.dim() == 0 and k2.dim() == 0:  # rank-0 keys stay rank 0 (and on the device)
        ka, kb = k1.to(torch.int64), k2.to(torch.int64)
    else:
        ka, kb = full(k1), full(k2)
    ks = (ka, kb, ka ^ kb ^ _THREEFRY_PARITY)
    a, b = full(x1), full(x2)
    t = torch.empty_like(a)
    a.add_(ks[0]).bitwise_and_(_M32)
    b.add_(ks[1]).bitwise_and_(_M32)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            a.add_(b).bitwise_and_(_M32)
            torch.bitwise_left_shift(b, r, out=t).bitwise_and_(_M32)
            b.bitwise_right_shift_(32 - r).bitwise_or_(t).bitwise_xor_(a)
        a.add_(ks[(i + 1) % 3]).bitwise_and_(_M32)
        b.add_(ks[(i + 2) % 3]).add_(i + 1).bitwise_and_(_M32)
    return a.to(torch.uint32), b.to(torch.uint32)


def _from_int64_bits(v, dtype):
    """Back from unsigned bits held in int64 to ``dtype`` (wrapping into the signed range)."""
    if dtype == torch.uint64 or dtype == torch.int64:
        return v if dtype == torch.int64 else v.view(torch.uint64)
    nb = 8 * torch.empty((), dtype=dtype).element_size()
    if dtype.is_signed:
        v = torch.where(v >= (1 << (nb - 1)), v - (1 << nb), v)
    return v.to(dtype)


def _width(x):
    return 8 * x.element_size()


def _shift_left(x, y):
    nb = _width(x)
    xv, yv = _as_int64_bits(x), y.to(torch.int64)
    bad = (yv < 0) | (yv >= nb)
    r = xv << torch.where(bad, torch.zeros_like(yv), yv)
    if nb < 64:
        r = r & ((1 << nb) - 1)
    return _from_int64_bits(torch.where(bad, torch.zeros_like(r), r), x.dtype)


def _logical_right(v, s, nb):
    """v >> s for unsigned bits v held in int64 (s in [0, nb)); 64-bit values need a mask."""
    r = v >> s
    if nb == 64:  # torch's >> is arithmetic: clear the copies of the sign bit
        mask = torch.where(s == 0, torch.full_like(s, -1), (torch.ones_like(s) << (64 - s)) - 1)
        r = r & mask
    return r


def _shift_right_logical(x, y):
    nb = _width(x)
    xv, yv = _as_int64_bits(x), y.to(torch.int64)
    bad = (yv < 0) | (yv >= nb)
    r = _logical_right(xv, torch.where(bad, torch.zeros_like(yv), yv), nb)
    return _from_int64_bits(torch.where(bad, torch.zeros_like(r), r), x.dtype)


def _shift_right_arithmetic(x, y):
    if not x.dtype.is_signed:
        return _shift_right_logical(x, y)
    nb = _width(x)
    return (x.to(torch.int64) >> y.to(torch.int64).clamp(0, nb - 1)).to(x.dtype)


def _bitcast_convert_type(x, *, new_dtype):
    return x.contiguous().view(torch_dtype(new_dtype))


def _sort_indices(x, *, dimension):
    if x.dtype in (torch.uint32, torch.uint64, torch.uint16):
        x = _as_int64_bits(x) if x.dtype != torch.uint64 else x.view(torch.int64) ^ (-(1 << 63))
    return torch.argsort(x, dim=dimension, stable=True)


def impls(device: Any) -> dict:
    return {
        RB.threefry2x32_p: _threefry2x32,
        RB.shift_left_p: _shift_left,
        RB.shift_right_logical_p: _shift_right_logical,
        RB.shift_right_arithmetic_p: _shift_right_arithmetic,
        RB.bitcast_convert_type_p: _bitcast_convert_type,
        RB.erf_inv_p: torch.erfinv,
        RB.sort_indices_p: _sort_indices,
    }
