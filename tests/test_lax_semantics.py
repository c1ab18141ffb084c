"""``lax`` functions where JAX's definition is not NumPy's, or where the obvious formula fails at
the ends of the range: rounding ties (JAX's lax.round rounds them away from zero) and integer
division of the most negative integer. JAX's outputs are recorded here (JAX 0.10.2)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

ROUND_X = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.49999999999999994, 2.4999999999999996,
                    -0.0, 0.0, np.inf, -np.inf, np.nan, 4503599627370497.0, -7.5, 1e300, 0.3, -0.7])
# JAX 0.10.2's lax.round of ROUND_X in float64 and in float32: ties away from zero, by default
JAX_ROUND = {
    np.float64: np.array([1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 0.0, -0.0, 2.0, -0.0, 0.0, np.inf, -np.inf, np.nan,
                          4503599627370497.0, -8.0, 1e300, 0.0, -1.0]),
    np.float32: np.array([1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 1.0, -1.0, 3.0, -0.0, 0.0, np.inf, -np.inf, np.nan,
                          4503599627370496.0, -8.0, np.inf, 0.0, -1.0], np.float32),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_breaks_ties_as_jax(dtype):
    """``lax.round`` rounds ties away from zero (JAX's default ``RoundingMethod``), bit for bit
    (signed zeros, the largest float below 0.5, inf, nan), and to even with
    ``RoundingMethod.TO_NEAREST_EVEN`` (NumPy's ``round``, which ``fnp.round`` keeps)."""
    with np.errstate(over="ignore"):
        x = ROUND_X.astype(dtype)
    want = JAX_ROUND[dtype]
    for f in (lax.round, ft.jit(lax.round)):
        got = host(f(x))
        assert got.dtype == dtype and got.tobytes() == want.tobytes()
    even = lax.RoundingMethod.TO_NEAREST_EVEN
    assert host(lax.round(x, even)).tobytes() == np.round(x).tobytes()
    assert host(fnp.round(x)).tobytes() == np.round(x).tobytes()
    assert host(ft.grad(lambda v: lax.round(v) * v)(dtype(2.3))) == dtype(2.0)  # round has no derivative


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint16, np.uint32])
def test_integer_division_truncates_at_the_ends_of_the_range(dtype):
    """lax.div truncates toward zero for every pair, the most negative integer included (it
    came out positive on the NumPy backend: INT_MIN / 3 through |INT_MIN|, which overflows).
    The expected values are C's (and JAX's) truncated quotients, computed in Python ints."""
    info = np.iinfo(dtype)
    cand = [int(info.min), int(info.min) + 1, -7, -3, -1, 1, 2, 3, 7, int(info.max) - 1, int(info.max)]
    vals = sorted({v for v in cand if info.min <= v <= info.max})
    pairs = [(a, b) for a in vals for b in vals if b != 0 and not (a == info.min and b == -1)]
    x = np.array([a for a, _ in pairs], dtype)
    y = np.array([b for _, b in pairs], dtype)
    want = np.array([int(a / b) if abs(a) < 2**52 else (abs(a) // abs(b)) * (1 if (a < 0) == (b < 0) else -1)
                     for a, b in pairs]).astype(dtype)
    for f in (lax.div, ft.jit(lax.div)):
        got = host(f(x, y))
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


CONVERT_X = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 2.7, -2.7, 3e9, -0.5, -1.5, 255.9, 256.0, 2147483647.5,
                      -2147483648.7, 9.3e18, -9.3e18, 127.9, -128.9, -0.0])
# JAX 0.10.2's convert_element_type(CONVERT_X, dtype): truncation, saturated at the limits, nan to 0
JAX_CONVERT = {
    "int8": [0, 127, -128, 127, -128, 2, -2, 127, 0, -1, 127, 127, 127, -128, 127, -128, 127, -128, 0],
    "int32": [0, 2147483647, -2147483648, 2147483647, -2147483648, 2, -2, 2147483647, 0, -1, 255, 256, 2147483647,
              -2147483648, 2147483647, -2147483648, 127, -128, 0],
    "int64": [0, 9223372036854775807, -9223372036854775808, 9223372036854775807, -9223372036854775808, 2, -2,
              3000000000, 0, -1, 255, 256, 2147483647, -2147483648, 9223372036854775807, -9223372036854775808, 127,
              -128, 0],
    "uint8": [0, 255, 0, 255, 0, 2, 0, 255, 0, 0, 255, 255, 255, 0, 255, 0, 127, 0, 0],
    "uint32": [0, 4294967295, 0, 4294967295, 0, 2, 0, 3000000000, 0, 0, 255, 256, 2147483647, 0, 4294967295, 0, 127,
               0, 0],
    "uint64": [0, 18446744073709551615, 0, 18446744073709551615, 0, 2, 0, 3000000000, 0, 0, 255, 256, 2147483647, 0,
               9300000000000000000, 0, 127, 0, 0],
}


@pytest.mark.parametrize("dtype", sorted(JAX_CONVERT))
def test_float_to_int_conversion_saturates(dtype):
    """Converting floats to integers truncates, saturates at the type's limits and sends nan to
    0, as JAX (NumPy's own cast is undefined there: INT_MIN for nan, inf and 1e30 alike on x86,
    and uint8(-1.5) wrapped to 255). Eagerly, under jit, and through fnp.astype."""
    if dtype == "uint64" and ft.get_backend() == "torch":
        pytest.skip("torch casts to uint64 its own way (its uint64 support is partial)")
    want = np.array(JAX_CONVERT[dtype], dtype)
    for f in (lambda v: lax.convert_element_type(v, dtype), ft.jit(lambda v: lax.convert_element_type(v, dtype)),
              lambda v: fnp.astype(v, dtype)):
        got = host(f(CONVERT_X))
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    with np.errstate(over="ignore"):
        narrow = CONVERT_X.astype(np.float32)  # float32 values are float64 values: the same integers
    np.testing.assert_array_equal(host(lax.convert_element_type(narrow, dtype)),
                                  host(lax.convert_element_type(narrow.astype(np.float64), dtype)))


def test_signed_zeros_and_spacing_as_jax():
    """A zero keeps its sign through sign, cbrt and outer (NumPy's outer multiplies; it was a
    matrix product, whose sums start from +0.0); spacing is the smallest subnormal at zero (it
    was 2**-53) and nan at infinities. JAX 0.10.2's values."""
    zeros = np.array([-0.0, 0.0])
    for f in (fnp.sign, fnp.cbrt, lax.sign):
        got = host(f(zeros))
        assert got.tobytes() == zeros.tobytes(), f
    assert host(fnp.outer(np.array([1.0, 2.0]), np.array([3.0, -0.0]))).tobytes() == \
        np.array([[3.0, -0.0], [6.0, -0.0]]).tobytes()
    got = host(fnp.spacing(np.array([0.0, -0.0, 1.0, -3.5, 1e-310, np.inf])))
    want = np.array([5e-324, -5e-324, 2.220446049250313e-16, -4.440892098500626e-16, 5e-324, np.nan])
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got[1]) and not np.signbit(got[0])
    assert host(fnp.spacing(np.float32(0.0))) == np.float32(1.4012985e-45)
