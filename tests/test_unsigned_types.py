"""uint16, uint32 and uint64 run every kind of primitive on both backends, with NumPy's values.

torch has almost no CPU kernels for these three types (its addition, comparisons, sums, sorts
and gathers raise "not implemented for 'UInt32'"); the torch backend runs them in int64
(``backends/torch_unsigned.py``). Each program runs under ``jit`` and eagerly (under ``vmap``), on
values that reach each type's top bit, where a signed stand-in would
go wrong.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

DTYPES = [np.uint16, np.uint32, np.uint64]


def _values(dtype):
    top = np.iinfo(dtype).max
    return np.array([0, 1, 5, 7, top, top // 2 + 3], dtype=dtype)


def _others(dtype):
    top = np.iinfo(dtype).max
    return np.array([3, 2, 1, 9, top - 1, 2], dtype=dtype)


# name -> (functrace program of x, y; the same in NumPy)
PROGRAMS = {
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "neg": (lambda x, y: -x, lambda x, y: -x),
    "invert": (lambda x, y: ~x, lambda x, y: ~x),
    "bitwise": (lambda x, y: ((x & y) ^ (x | y)) >> 1 << 2, lambda x, y: ((x & y) ^ (x | y)) >> 1 << 2),
    "floor_divide": (lambda x, y: x // y, lambda x, y: x // y),
    "remainder": (lambda x, y: x % y, lambda x, y: x % y),
    "div_by_zero": (lambda x, y: lax.div(x, y * 0), lambda x, y: np.zeros_like(x)),
    "maximum": (fnp.maximum, np.maximum),
    "minimum": (fnp.minimum, np.minimum),
    "less": (lambda x, y: x < y, lambda x, y: x < y),
    "greater_equal": (lambda x, y: x >= y, lambda x, y: x >= y),
    "abs_sign": (lambda x, y: lax.abs(x) + lax.sign(x), lambda x, y: x + (x != 0).astype(x.dtype)),
    "where": (lambda x, y: fnp.where(x > y, x, y), lambda x, y: np.where(x > y, x, y)),
    "sum": (lambda x, y: fnp.sum(x, dtype=x.dtype), lambda x, y: np.sum(x, dtype=x.dtype)),
    "prod": (lambda x, y: fnp.prod(y, dtype=y.dtype), lambda x, y: np.prod(y, dtype=y.dtype)),
    "max_min": (lambda x, y: fnp.max(x) - fnp.min(x), lambda x, y: np.max(x) - np.min(x)),
    "argmax_argmin": (lambda x, y: (fnp.argmax(x), fnp.argmin(y)), lambda x, y: (np.argmax(x), np.argmin(y))),
    "cumsum": (lambda x, y: fnp.cumsum(x, dtype=x.dtype), lambda x, y: np.cumsum(x, dtype=x.dtype)),
    "cummax": (lambda x, y: lax.cummax(y, 0), lambda x, y: np.maximum.accumulate(y)),
    "sort": (lambda x, y: fnp.sort(x), lambda x, y: np.sort(x)),
    "sort_by_key": (lambda x, y: lax.sort((x, y), num_keys=1)[1], lambda x, y: y[np.argsort(x, kind="stable")]),
    "dot": (fnp.dot, np.dot),
    "gather": (lambda x, y: x[np.array([4, 0, 5, 4])], lambda x, y: x[np.array([4, 0, 5, 4])]),
    "scatter": (lambda x, y: x.at[np.array([1, 3])].set(x[4]),
                lambda x, y: np.where(np.isin(np.arange(6), [1, 3]), x[4], x)),
    "scatter_add": (lambda x, y: x.at[np.array([2, 2])].add(x[4]),
                    lambda x, y: np.where(np.arange(6) == 2, x + x[4] + x[4], x)),
    "reversed_and_padded": (lambda x, y: fnp.pad(x[::-1], 1), lambda x, y: np.pad(x[::-1], 1)),
    "concatenate": (lambda x, y: fnp.concatenate([y, x]), lambda x, y: np.concatenate([y, x])),
    "to_float": (lambda x, y: x.astype(np.float64), lambda x, y: x.astype(np.float64)),
}


def _close(got, want, batched=False):
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,),
                    strict=True):
        g, w = host(g), np.asarray(w)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w[None] if batched else w)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_unsigned_programs_match_numpy(name, dtype):
    program, reference = PROGRAMS[name]
    x, y = _values(dtype), _others(dtype)
    with np.errstate(all="ignore"):
        want = reference(x, y)
    xs, ys = ft.device_put(x), ft.device_put(y)
    _close(ft.jit(program)(xs, ys), want)
    _close(ft.vmap(program)(xs[None], ys[None]), want, batched=True)  # eagerly, batched


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unsigned_division_at_the_top_bit(dtype):
    """Quotients and remainders where dividend or divisor has the top bit set (uint64 divides by
    an identity of its own on torch)."""
    top = np.iinfo(dtype).max
    x = np.array([top, top, top // 2 + 1, top - 5, 12345, 0, top], dtype=dtype)
    y = np.array([1, top, 3, top // 2 + 1, top, 7, 2], dtype=dtype)
    xs, ys = ft.device_put(x), ft.device_put(y)
    _close(ft.jit(lax.div)(xs, ys), x // y)
    _close(ft.jit(lax.rem)(xs, ys), x % y)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.uint32, np.uint64], ids=lambda d: np.dtype(d).name)
def test_shift_operators_on_traced_arrays(dtype):
    """``x >> k``, ``x << k`` and their reflected forms on traced arrays, as NumPy's (arithmetic
    for signed types, logical for unsigned), as JAX arrays have them."""
    x = np.array([0, 1, 5, np.iinfo(dtype).max, np.iinfo(dtype).min + 3], dtype=dtype)
    k = np.array([1, 2, 0, 3, 1], dtype=dtype)

    def program(x, k):
        return x >> k, x << 1, 1 << k, 16 >> k

    want = (x >> k, x << 1, np.left_shift(np.asarray(1, dtype), k), np.right_shift(np.asarray(16, dtype), k))
    _close(ft.jit(program)(ft.device_put(x), ft.device_put(k)), want)
