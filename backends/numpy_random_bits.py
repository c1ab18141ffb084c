"""NumPy implementations of the random-bits family (``functrace/ops/random_bits.py``): the
Threefry-2x32 cipher, bit shifts and casts, the inverse error function, stable argsort."""

from __future__ import annotations

import math

import numpy as np

from functrace.backends.numpy_util import quiet
from functrace.ops import random_bits as RB

# The Threefry-2x32 rotations of the even and odd groups of four rounds, and the key-schedule
# constant (JAX's and the Random123 paper's).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA
_M32 = 0xFFFFFFFF
# Elements per block: the three uint32 work blocks (768 KiB) stay in a 1 MiB L2 cache through all 20
# rounds, and each ufunc call does enough work that its call overhead hardly counts.
_THREEFRY_BLOCK = 1 << 16


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds, on uint32 arrays: in place, one cache-sized block at a time.

    Each round is four in-place ufunc calls on the block (add, rotate by two shifts and an or,
    xor); the keys, usually rank 0, are added as scalars. uint32 arithmetic wraps, as the
    cipher needs."""
    k1, k2, x1, x2 = (np.asarray(a, dtype=np.uint32) for a in (k1, k2, x1, x2))
    shape = np.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    n = math.prod(shape)
    y1 = np.empty(n, np.uint32)
    y2 = np.empty(n, np.uint32)
    scalar_keys = k1.ndim == 0 and k2.ndim == 0
    if scalar_keys:
        ka, kb = int(k1), int(k2)
        ks = (ka, kb, ka ^ kb ^ _THREEFRY_PARITY)
    else:
        ka = np.broadcast_to(k1, shape).ravel()
        kb = np.broadcast_to(k2, shape).ravel()
    xa = np.broadcast_to(x1, shape).reshape(-1) if x1.ndim else x1
    xb = np.broadcast_to(x2, shape).reshape(-1) if x2.ndim else x2
    tmp = np.empty(min(n, _THREEFRY_BLOCK), np.uint32)
    for lo in range(0, n, _THREEFRY_BLOCK):
        hi = min(n, lo + _THREEFRY_BLOCK)
        a, b, t = y1[lo:hi], y2[lo:hi], tmp[:hi - lo]
        a[...] = xa[lo:hi] if xa.ndim else xa
        b[...] = xb[lo:hi] if xb.ndim else xb
        if scalar_keys:
            sched = ks
        else:
            k0, k1b = ka[lo:hi], kb[lo:hi]
            sched = (k0, k1b, k0 ^ k1b ^ np.uint32(_THREEFRY_PARITY))
        _threefry_block(a, b, t, sched)
    return y1.reshape(shape), y2.reshape(shape)


def _threefry_block(a, b, t, ks):
    """The 20 rounds on one block (``a``, ``b`` in place; ``t`` scratch). ``ks``: the three words
    of the key schedule, Python ints or uint32 arrays."""
    scalar = isinstance(ks[0], int)
    a += ks[0]
    b += ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            a += b
            np.left_shift(b, r, out=t)
            b >>= 32 - r
            b |= t
            b ^= a
        a += ks[(i + 1) % 3]
        if scalar:
            b += (ks[(i + 2) % 3] + i + 1) & _M32
        else:
            b += ks[(i + 2) % 3]
            b += i + 1


def _bits_of(dtype):
    return np.dtype(dtype).itemsize * 8


def _unsigned(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def _in_range_shift(x, y, nb) -> bool:
    """A scalar shift amount within the width, on an array: NumPy's own shift, with no masking."""
    return y.ndim == 0 and 0 <= y < nb and x.ndim > 0


def _shift_left(x, y):
    """x << y, 0 where y is negative or at least the width (NumPy leaves that to C)."""
    x, y = np.asarray(x), np.asarray(y)
    nb = _bits_of(x.dtype)
    if _in_range_shift(x, y, nb):
        return np.left_shift(x, y.astype(x.dtype))
    out_of_range = (y < 0) | (y >= nb)
    r = np.left_shift(x, np.where(out_of_range, 0, y).astype(y.dtype, copy=False))
    return np.where(out_of_range, np.zeros((), x.dtype), r)


def _shift_right_logical(x, y):
    x, y = np.asarray(x), np.asarray(y)
    nb, u = _bits_of(x.dtype), _unsigned(x.dtype)
    if _in_range_shift(x, y, nb) and x.dtype == u:
        return np.right_shift(x, y.astype(u))
    out_of_range = (y < 0) | (y >= nb)
    r = np.right_shift(x.view(u) if x.ndim else x.astype(u), np.where(out_of_range, 0, y).astype(u))
    return np.where(out_of_range, np.zeros((), u), r).astype(x.dtype, copy=False)


def _shift_right_arithmetic(x, y):
    x, y = np.asarray(x), np.asarray(y)
    nb = _bits_of(x.dtype)
    if x.dtype.kind == "u":  # an arithmetic shift of an unsigned value is a logical one
        return _shift_right_logical(x, y)
    return np.right_shift(x, np.clip(y, 0, nb - 1).astype(y.dtype, copy=False))


def _bitcast_convert_type(x, *, new_dtype):
    x = np.asarray(x)
    if not x.flags.c_contiguous:  # (np.ascontiguousarray would make a rank-0 array rank 1)
        x = x.copy()
    return x.view(new_dtype)


def _erf_inv(x):
    """The inverse error function. float32 and float16: Giles' single-precision polynomials, as
    XLA computes it (and four times faster than SciPy's); float64: SciPy's when installed, else
    Newton steps on erf."""
    x = np.asarray(x)
    if x.dtype in (np.float32, np.float16):
        return _erf_inv32(x.astype(np.float32, copy=False)).astype(x.dtype, copy=False)
    try:
        from scipy.special import erfinv
    except ImportError:
        return _erf_inv_newton(x)
    return np.asarray(erfinv(x), dtype=x.dtype)


# Giles, "Approximating the erfinv function" (GPU Gems 2012), single precision: the polynomial in
# w - 2.5 for w = -log(1 - x**2) < 5, and in sqrt(w) - 3 beyond; highest degree first.
_ERFINV_CENTRAL = tuple(np.float32(c) for c in (
    2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
    -0.00417768164, 0.246640727, 1.50140941))
_ERFINV_TAIL = tuple(np.float32(c) for c in (
    -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
    0.00943887047, 1.00167406, 2.83297682))


def _erf_inv32(x):
    """erfinv of a float32 array, a cache-sized block at a time, in place in the result; the
    tail (|x| > 0.9966, one element in 300 of a normal sample) is redone on its few elements."""
    shape, x = x.shape, x.reshape(-1)
    out = np.empty_like(x)
    for lo in range(0, x.size, _THREEFRY_BLOCK):
        xb, p = x[lo:lo + _THREEFRY_BLOCK], out[lo:lo + _THREEFRY_BLOCK]
        w = np.multiply(xb, xb, out=p)
        np.subtract(np.float32(1), w, out=w)
        np.log(w, out=w)
        np.negative(w, out=w)  # w = -log(1 - x**2)
        tail = np.flatnonzero(w >= 5)
        t = w[tail]
        w -= np.float32(2.5)
        acc = np.full_like(w, _ERFINV_CENTRAL[0])
        for c in _ERFINV_CENTRAL[1:]:
            acc *= w
            acc += c
        if tail.size:
            t = np.sqrt(t) - np.float32(3.0)
            q = np.full_like(t, _ERFINV_TAIL[0])
            for c in _ERFINV_TAIL[1:]:
                q = q * t + c
            acc[tail] = q
        np.multiply(acc, xb, out=p)
    edge = np.abs(x) == 1  # erfinv(+-1) = +-inf
    if edge.any():
        out[edge] = x[edge] * np.float32(np.inf)
    return out.reshape(shape)


def _erf_inv_newton(x):
    x = np.asarray(x)
    v = x.astype(np.float64)
    # Giles' single-precision approximation as the starting point, then Newton on erf(y) = v.
    w = -np.log((1.0 - v) * (1.0 + v))
    small = w < 5.0
    ws, wl = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    ps = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                     -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], ws)
    pl = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                     -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], wl)
    y = np.where(small, ps, pl) * v
    erf = np.frompyfunc(math.erf, 1, 1)
    for _ in range(3):
        err = np.asarray(erf(y), dtype=np.float64) - v
        y = y - err * (math.sqrt(math.pi) / 2) * np.exp(y * y)
    y = np.where(np.abs(v) == 1, np.copysign(np.inf, v), y)
    return np.where(np.abs(v) > 1, np.nan, y).astype(x.dtype)


def _sort_indices(x, *, dimension):
    return np.argsort(x, axis=dimension, kind="stable").astype(np.int64, copy=False)


IMPLS = {
    RB.threefry2x32_p: _threefry2x32,
    RB.shift_left_p: _shift_left,
    RB.shift_right_logical_p: _shift_right_logical,
    RB.shift_right_arithmetic_p: _shift_right_arithmetic,
    RB.bitcast_convert_type_p: _bitcast_convert_type,
    RB.erf_inv_p: quiet(_erf_inv),
    RB.sort_indices_p: _sort_indices,
}
