"""Rows of the primitive derivative table (test_grad_primitives.py) for the random-bits family
(functrace/ops/random_bits.py). The bit primitives carry no derivative: each row uses one to
make a factor of a differentiable function, so check_grads sees the zero derivative through it."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, dtype_of, real, uniform

from functrace import lax
from functrace.ops import random_bits as RB


def _bits_factor(x):
    """A float factor in [1, 2) from the cipher of counters made from x (locally constant)."""
    counters = lax.convert_element_type(lax.floor(lax.abs(x)), np.uint32)
    y1, y2 = lax.threefry2x32(np.uint32(7), np.uint32(11), np.uint32(0), counters)
    frac = lax.shift_right_logical(lax.bitwise_xor(y1, y2), np.uint32(9))
    one = lax.bitcast_convert_type(lax.bitwise_or(frac, np.uint32(0x3F800000)), np.float32)
    return lax.convert_element_type(one, dtype_of(x))


def _shift_factor(prim_fn):
    def f(x):
        k = lax.convert_element_type(lax.abs(lax.floor(lax.mul(x, np.asarray(3, dtype_of(x))))), np.int32)
        s = prim_fn(k, np.int32(1))
        return lax.mul(x, lax.convert_element_type(s, dtype_of(x)))
    return f


def _exponent_factor(x):
    """x times its (locally constant) biased exponent, read from its bits."""
    it, mant = (np.int32, 23) if dtype_of(x) == np.float32 else (np.int64, 52)
    e = lax.shift_right_logical(lax.bitcast_convert_type(x, it), np.asarray(mant, it))
    return lax.mul(x, lax.convert_element_type(e, dtype_of(x)))


def _sorted_by_keys(x):
    idx = RB.sort_indices(lax.neg(x), 0)
    return lax.mul(lax.gather(x, idx, 0), lax.sin(x))


CASES = [
    Case("threefry2x32", RB.threefry2x32_p, lambda x: lax.mul(x, _bits_factor(x)), (uniform(0.2, 0.8, (5,)),)),
    Case("shift_left", RB.shift_left_p, _shift_factor(lax.shift_left), (uniform(0.1, 2.9, (4,)),)),
    Case("shift_right_logical", RB.shift_right_logical_p, _shift_factor(lax.shift_right_logical),
         (uniform(0.1, 2.9, (4,)),)),
    Case("shift_right_arithmetic", RB.shift_right_arithmetic_p, _shift_factor(lax.shift_right_arithmetic),
         (uniform(0.1, 2.9, (4,)),)),
    Case("bitcast_convert_type", RB.bitcast_convert_type_p, _exponent_factor, (uniform(1.2, 1.8, (3, 2)),)),
    Case("erf_inv[3,5]", RB.erf_inv_p, lax.erf_inv, (uniform(-0.9, 0.9, (3, 5)),)),
    Case("erf_inv[]", RB.erf_inv_p, lax.erf_inv, (uniform(-0.9, 0.9, ()),)),
    Case("sort_indices", RB.sort_indices_p, _sorted_by_keys, (real((6,)),)),
]
