"""Derivative-table rows (see test_grad_primitives.py) for complex numbers: the ``real``, ``imag``,
``conj`` and ``complex`` primitives, and every elementwise primitive that accepts complex
operands in NumPy, called on complex inputs (complex64 in the float32 run, complex128 in the
float64 run). ``check_grads`` samples complex directions, in both parts, and pairs cotangents
by JAX's convention, so these rows check the real-linear derivative of each primitive."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, real

from functrace import lax
from functrace import ops as P
from functrace.ops import complex_parts as CP


def _cdt(dt) -> np.dtype:
    return np.dtype(np.complex64 if np.dtype(dt) == np.float32 else np.complex128)


def cplx(shape, lo=0.0, hi=None):
    """Complex values with standard-normal parts, or with modulus in [lo, hi] when ``hi`` is given."""
    def make(rng, dt):
        if hi is None:
            v = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        else:
            v = rng.uniform(lo, hi, shape) * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))
        return v.astype(_cdt(dt))
    return make


def off_cuts(shape):
    """Complex values in the right half-plane, away from the branch cuts of log/sqrt/asin/atanh..."""
    def make(rng, dt):
        v = rng.uniform(0.3, 0.8, shape) + 1j * rng.uniform(0.3, 0.8, shape) * rng.choice([-1.0, 1.0], shape)
        return v.astype(_cdt(dt))
    return make


def _unary(prim, f, dom, shapes=((2, 3), ())):
    return [Case(f"{prim.name}[c{list(s)}]", prim, f, (dom(s),)) for s in shapes]


CASES = [
    *_unary(CP.real_p, lax.real, cplx),
    *_unary(CP.imag_p, lax.imag, cplx),
    *_unary(CP.conj_p, lax.conj, cplx),
    Case("complex[2,3]x[2,3]", CP.complex_p, lax.complex, (real((2, 3)), real((2, 3)))),
    Case("complex[]x[4]", CP.complex_p, lax.complex, (real(()), real((4,)))),
    Case("complex[conj,roundtrip]", CP.complex_p, lambda z: lax.complex(lax.imag(z), lax.real(z)), (cplx((3,)),)),
    *_unary(P.neg_p, lax.neg, cplx),
    *_unary(P.abs_p, lax.abs, lambda s: cplx(s, 0.5, 2.0)),
    *_unary(P.sin_p, lax.sin, cplx),
    *_unary(P.cos_p, lax.cos, cplx),
    *_unary(P.tan_p, lax.tan, off_cuts),
    *_unary(P.asin_p, lax.asin, off_cuts),
    *_unary(P.acos_p, lax.acos, off_cuts),
    *_unary(P.atan_p, lax.atan, off_cuts),
    *_unary(P.sinh_p, lax.sinh, cplx),
    *_unary(P.cosh_p, lax.cosh, cplx),
    *_unary(P.tanh_p, lax.tanh, off_cuts),
    *_unary(P.asinh_p, lax.asinh, off_cuts),
    *_unary(P.acosh_p, lax.acosh, lambda s: lambda rng, dt: (off_cuts(s)(rng, dt) + 1.5).astype(_cdt(dt))),
    *_unary(P.atanh_p, lax.atanh, off_cuts),
    *_unary(P.exp_p, lax.exp, cplx),
    *_unary(P.exp2_p, lax.exp2, cplx),
    *_unary(P.expm1_p, lax.expm1, cplx),
    *_unary(P.log_p, lax.log, off_cuts),
    *_unary(P.log1p_p, lax.log1p, off_cuts),
    *_unary(P.sqrt_p, lax.sqrt, off_cuts),
    Case("integer_pow[c,3]", P.integer_pow_p, lambda x: lax.integer_pow(x, 3), (cplx((2, 3)),)),
    Case("integer_pow[c,-2]", P.integer_pow_p, lambda x: lax.integer_pow(x, -2), (cplx((4,), 0.5, 2.0),)),
    Case("add[c]", P.add_p, lax.add, (cplx((2, 3)), cplx(()))),
    Case("sub[c]", P.sub_p, lax.sub, (cplx(()), cplx((3,)))),
    Case("mul[c]", P.mul_p, lax.mul, (cplx((2, 3)), cplx((2, 3)))),
    Case("div[c]", P.div_p, lax.div, (cplx((2, 3)), cplx((2, 3), 0.5, 2.0))),
    Case("pow[c]", P.pow_p, lax.pow, (off_cuts((2, 3)), cplx((2, 3), 0.2, 1.0))),
    Case("select[c]", P.select_p, lambda a, b: lax.select(lax.lt(lax.real(a), lax.real(b)), a, b),
         (cplx((2, 3)), cplx((2, 3)))),
    Case("convert_element_type[real->complex]", P.convert_element_type_p,
         lambda x: lax.mul(lax.convert_element_type(x, _cdt(x.dtype)), np.asarray(1 + 0.2j, _cdt(x.dtype))[()]),
         (real((2, 3)),)),
    Case("convert_element_type[complex->real]", P.convert_element_type_p,
         lambda z: lax.convert_element_type(lax.mul(z, z), np.float32 if z.dtype == np.complex64 else np.float64),
         (cplx((3,)),)),
    Case("reduce_sum[c]", P.reduce_sum_p, lambda z: lax.reduce_sum(z, (1,)), (cplx((2, 3)),)),
    Case("reduce_prod[c]", P.reduce_prod_p, lambda z: lax.reduce_prod(z, (0,)), (cplx((3, 2)),)),
    Case("cumsum[c]", P.cumsum_p, lambda z: lax.cumsum(z, 0), (cplx((4, 2)),)),
    Case("dot_general[c]", P.dot_general_p,
         lambda a, b: lax.dot_general(a, b, (((1,), (0,)), ((), ()))), (cplx((2, 3)), cplx((3, 2)))),
]
