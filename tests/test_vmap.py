"""vmap: every primitive against a Python loop over examples, the in_axes/out_axes API, and
vmap composed with the other transforms.

``CASES`` holds at least one row per primitive of ``functrace.primitives.all_primitives``
(control flow and custom-derivative primitives included); a structural test fails when a
primitive has no row or no batching rule, so a new primitive cannot skip vmap. Each row is run
under several ``in_axes``: everything mapped along axis 0, mapped along the last axis, and each
argument in turn left unmapped (None), and compared with ``fn`` applied to each example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.ir import typecheck_jaxpr
from functrace.transforms.batching import batching_rule, batching_rules

B = 3  # examples per batch



def _round_half_even(x):
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)

def real(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def ints(lo, hi, *shape):
    return lambda rng: rng.integers(lo, hi, shape).astype(np.int32)


def bools(*shape):
    return lambda rng: rng.random(shape) < 0.5


@dataclass(frozen=True)
class Case:
    """``fn(*args)`` on one example; ``args`` are makers ``rng -> per-example array``."""

    name: str
    prims: tuple
    fn: Callable[..., Any]
    args: tuple
    rtol: float = 1e-10


def case(name, prims, fn, *args, rtol=1e-10):
    prims = prims if isinstance(prims, tuple) else (prims,)
    return Case(name, prims, fn, args, rtol)


def _elementwise_cases() -> list[Case]:
    unary = {
        P.neg_p: (lax.neg, real), P.sign_p: (lax.sign, real), P.abs_p: (lax.abs, real),
        P.floor_p: (lax.floor, real), P.ceil_p: (lax.ceil, real), P.round_p: (_round_half_even, real),
        P.sin_p: (lax.sin, real), P.cos_p: (lax.cos, real), P.tan_p: (lax.tan, real),
        P.asin_p: (lax.asin, lambda *s: lambda r: r.uniform(-0.9, 0.9, s)),
        P.acos_p: (lax.acos, lambda *s: lambda r: r.uniform(-0.9, 0.9, s)), P.atan_p: (lax.atan, real),
        P.sinh_p: (lax.sinh, real), P.cosh_p: (lax.cosh, real), P.tanh_p: (lax.tanh, real),
        P.asinh_p: (lax.asinh, real), P.acosh_p: (lax.acosh, lambda *s: lambda r: r.uniform(1.1, 3, s)),
        P.atanh_p: (lax.atanh, lambda *s: lambda r: r.uniform(-0.9, 0.9, s)), P.exp_p: (lax.exp, real),
        P.exp2_p: (lax.exp2, real), P.expm1_p: (lax.expm1, real), P.log_p: (lax.log, positive),
        P.log1p_p: (lax.log1p, positive), P.sqrt_p: (lax.sqrt, positive), P.logistic_p: (lax.logistic, real),
        P.erf_p: (lax.erf, real),
        P.not_p: (lax.bitwise_not, bools), P.is_finite_p: (lax.is_finite, real),
        P.stop_gradient_p: (lax.stop_gradient, real),
    }
    out = [case(f"{p.name}[{s}]", p, f, dom(*s)) for p, (f, dom) in unary.items() for s in ((2, 3), ())]
    binary = {
        P.add_p: (lax.add, real), P.sub_p: (lax.sub, real), P.mul_p: (lax.mul, real),
        P.div_p: (lax.div, positive), P.rem_p: (lax.rem, positive), P.pow_p: (lax.pow, positive),
        P.max_p: (lax.max, real), P.min_p: (lax.min, real), P.atan2_p: (lax.atan2, real),
        P.and_p: (lax.bitwise_and, bools), P.or_p: (lax.bitwise_or, bools), P.xor_p: (lax.bitwise_xor, bools),
        P.eq_p: (lax.eq, lambda *s: lambda r: r.integers(0, 2, s)), P.ne_p: (lax.ne, real),
        P.lt_p: (lax.lt, real), P.le_p: (lax.le, real), P.gt_p: (lax.gt, real), P.ge_p: (lax.ge, real),
    }
    for p, (f, dom) in binary.items():
        # equal shapes, and a rank-0 operand standing for every position (on either side)
        out += [case(f"{p.name}[2,3]x[2,3]", p, f, dom(2, 3), dom(2, 3)),
                case(f"{p.name}[]x[4]", p, f, dom(), dom(4)),
                case(f"{p.name}[4]x[]", p, f, dom(4), dom())]
    out += [
        case("integer_pow", P.integer_pow_p, lambda x: lax.integer_pow(x, 3), real(2, 3)),
        case("select", P.select_p, lax.select, bools(2, 3), real(2, 3), real(2, 3)),
        case("select[scalar pred]", P.select_p, lax.select, bools(), real(4), real(4)),
        case("select[scalar branch]", P.select_p, lax.select, bools(4), real(), real(4)),
        case("convert_element_type", P.convert_element_type_p,
             lambda x: lax.convert_element_type(x, np.int32), lambda r: r.uniform(-5, 5, (2, 3))),
    ]
    return out


def _partial_axes(f, axes):
    return lambda x: f(x, axes)


def _structural_cases() -> list[Case]:
    return [
        *[case(f"{p.name}{ax}", p, _partial_axes(f, ax), real(2, 3, 4))
          for p, f in ((P.reduce_sum_p, lax.reduce_sum), (P.reduce_prod_p, lax.reduce_prod),
                       (P.reduce_max_p, lax.reduce_max), (P.reduce_min_p, lax.reduce_min))
          for ax in ((0,), (1, 2), (), (0, 1, 2))],
        case("reduce_and", P.reduce_and_p, lambda x: lax.reduce_and(x, (1,)), bools(3, 4)),
        case("reduce_or", P.reduce_or_p, lambda x: lax.reduce_or(x, (0,)), bools(3, 4)),
        case("argmax", P.argmax_p, lambda x: lax.argmax(x, 1), real(3, 4)),
        case("argmin", P.argmin_p, lambda x: lax.argmin(x, 0), real(3, 4)),
        case("cumsum", P.cumsum_p, lambda x: lax.cumsum(x, 1), real(3, 4)),
        case("cumsum[reverse]", P.cumsum_p, lambda x: lax.cumsum(x, 0, reverse=True), real(3, 4)),
        case("broadcast_in_dim", P.broadcast_in_dim_p, lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (1,)), real(3)),
        case("broadcast_in_dim[stretch]", P.broadcast_in_dim_p,
             lambda x: lax.broadcast_in_dim(x, (5, 3, 4), (0, 2)), real(1, 4)),
        case("broadcast_in_dim[scalar]", P.broadcast_in_dim_p, lambda x: lax.broadcast_in_dim(x, (2, 3), ()), real()),
        case("reshape", P.reshape_p, lambda x: lax.reshape(x, (3, 2, 2)), real(4, 3)),
        case("transpose", P.transpose_p, lambda x: lax.transpose(x, (2, 0, 1)), real(2, 3, 4)),
        case("slice", P.slice_p, lambda x: lax.slice(x, (1, 0), (5, 3), (2, 1)), real(6, 3)),
        case("rev", P.rev_p, lambda x: lax.rev(x, (0, 2)), real(3, 2, 4)),
        case("pad", P.pad_p, lambda x, v: lax.pad(x, v, ((1, 2, 0), (0, 1, 2))), real(3, 2), real()),
        case("pad[negative]", P.pad_p, lambda x, v: lax.pad(x, v, ((-1, 2, 1), (1, -2, 0))), real(4, 5), real()),
        case("concatenate", P.concatenate_p, lambda x, y, z: lax.concatenate([x, y, z], 1),
             real(2, 1), real(2, 3), real(2, 2)),
        case("gather", P.gather_p, lambda x, i: lax.gather(x, i, 0), real(5, 3), ints(-5, 5, 2, 2)),
        case("gather[axis1]", P.gather_p, lambda x, i: lax.gather(x, i, 1), real(2, 4, 3), ints(0, 4, 3)),
        case("gather[scalar index]", P.gather_p, lambda x, i: lax.gather(x, i, 1), real(2, 4), ints(0, 4)),
        case("scatter_add", P.scatter_add_p, lambda x, i, u: lax.scatter_add(x, i, u, 0),
             real(4, 3), ints(0, 4, 3), real(3, 3)),
        case("scatter_add[axis1]", P.scatter_add_p, lambda x, i, u: lax.scatter_add(x, i, u, 1),
             real(2, 5), ints(-5, 5, 2, 2), real(2, 2, 2)),
        case("dot_general[matmul]", P.dot_general_p,
             lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ()))), real(3, 4), real(4, 2)),
        case("dot_general[batch]", P.dot_general_p,
             lambda x, y: lax.dot_general(x, y, (((2,), (1,)), ((0,), (0,)))), real(2, 3, 4), real(2, 4, 5)),
        case("dot_general[batch-last]", P.dot_general_p,
             lambda x, y: lax.dot_general(x, y, (((0, 3), (3, 1)), ((2,), (0,)))), real(3, 2, 4, 5),
             real(4, 5, 2, 3)),
        case("dot_general[vector]", P.dot_general_p,
             lambda x, y: lax.dot_general(x, y, (((0,), (0,)), ((), ()))), real(3), real(3)),
    ]


def _scan_body(c, x):
    return c * 0.9 + fnp.sin(x), fnp.cos(c) * x


def _control_flow_cases() -> list[Case]:
    cl = ft.lax
    branches = [lambda v: fnp.sin(v), lambda v: v * 2.0, lambda v: v[::-1] - 1.0]
    return [
        case("cond", P.all_primitives["cond"],
             lambda p, x: cl.cond(p > 0, lambda v: fnp.sin(v) * v[0], lambda v: v * 2.0, x), real(), real(3)),
        case("cond[closure]", P.all_primitives["cond"],
             lambda p, x, w: cl.cond(p > 0, lambda v: v * w, lambda v: v + w[0], x), real(), real(3), real(3)),
        case("switch", P.all_primitives["cond"], lambda i, x: cl.switch(i, branches, x), ints(0, 3), real(3)),
        case("scan", P.all_primitives["scan"], lambda c, xs: cl.scan(_scan_body, c, xs), real(2), real(4, 2)),
        case("scan[closure,reverse]", P.all_primitives["scan"],
             lambda w, xs: cl.scan(lambda c, x: (fnp.tanh(c @ w + x), c[0]), fnp.zeros(2), xs, reverse=True),
             real(2, 2), real(5, 2)),
        case("fori_loop[static]", P.all_primitives["scan"],
             lambda x: cl.fori_loop(0, 3, lambda i, v: v * fnp.cos(v) + i, x), real(3)),
        case("while[batched pred]", P.all_primitives["while"],
             lambda x: cl.while_loop(lambda c: c[1] < 10.0, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)),
             positive()),
        case("while[unbatched pred]", P.all_primitives["while"],
             lambda x: cl.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, fnp.sin(c[1])), (0, x)), real(2)),
        case("fori_loop[traced bounds]", P.all_primitives["while"],
             lambda n, x: cl.fori_loop(0, n, lambda i, v: v * 1.5 + 1.0, x), ints(0, 4), real(2)),
    ]


@ft.custom_jvp
def _cube(x):
    return x * x * x


_cube.defjvp(lambda p, t: (_cube(p[0]), 3.0 * p[0] * p[0] * t[0]))


@ft.custom_vjp
def _scaled_dot(w, x):
    return fnp.tanh(fnp.dot(w, x))


_scaled_dot.defvjp(lambda w, x: (_scaled_dot(w, x), (w, x)), lambda r, g: (g * r[1], g * r[0]))


def _custom_cases() -> list[Case]:
    return [
        case("custom_jvp_call", P.all_primitives["custom_jvp_call"], lambda x: _cube(fnp.sin(x)), real(2, 3)),
        case("custom_jvp_call[grad]", P.all_primitives["custom_jvp_call"],
             lambda x, y: ft.grad(lambda a: fnp.sum(_cube(a) * y))(x) + _cube(y), real(3), real(3)),
        case("custom_vjp_call", P.all_primitives["custom_vjp_call"], _scaled_dot, real(3), real(3)),
        case("custom_vjp_call[grad]", P.all_primitives["custom_vjp_call"],
             lambda w, x: ft.grad(_scaled_dot)(w, x) * _scaled_dot(w, x), real(3), real(3)),
    ]


CASES: list[Case] = _elementwise_cases() + _structural_cases() + _control_flow_cases() + _custom_cases()


def _convolution_cases() -> list[Case]:
    """The convolution family (functrace/ops/convolution.py): images, kernels or both batched."""
    from functrace.ops import convolution as C

    return [
        case("conv[nhwc,groups]", C.conv_general_dilated_p,
             lambda x, w: lax.conv_general_dilated(x, w, (1, 2), "SAME", rhs_dilation=(2, 1),
                                                   dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=2),
             real(2, 5, 4, 4), real(3, 2, 2, 4)),
        case("conv[batch_groups,lhs_dilation]", C.conv_general_dilated_p,
             lambda x, w: lax.conv_general_dilated(x, w, (1,), [(1, 0)], lhs_dilation=(2,), batch_group_count=2),
             real(4, 2, 5), real(4, 2, 2)),
        case("reduce_window_sum", C.reduce_window_sum_p, lambda x: lax.reduce_window_sum(x, (2, 2), (1, 2), "SAME"),
             real(4, 5)),
        case("reduce_window_max", C.reduce_window_max_p, lambda x: lax.reduce_window_max(x, (2, 3), (2, 1), "SAME"),
             real(4, 5)),
        case("reduce_window_min", C.reduce_window_min_p, lambda x: lax.reduce_window_min(x, (3,), (1,), "VALID"),
             real(6)),
        case("select_and_gather_add", C.select_and_gather_add_p,
             lambda t, x: C.select_and_gather_add(t, x, "max", (2, 2), (2, 1), ((0, 1), (1, 0)), (1, 1), (1, 1)),
             real(4, 5), real(4, 5)),
        case("select_and_scatter_add", C.select_and_scatter_add_p,
             lambda c, x: C.select_and_scatter_add(c, x, "min", (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1)),
             real(3, 4), real(4, 5)),
    ]


CASES += _convolution_cases()
def _family_cases() -> list[Case]:
    """The sorting, scatter, dynamic-slicing and cumulative families (functrace/ops/)."""
    from functrace.ops import cumulative as CU
    from functrace.ops import dynamic_slicing as DS
    from functrace.ops import scatter as SC
    from functrace.ops import sorting as SO

    return [
        case("sort", SO.sort_p, lambda x: lax.sort(x, 0), real(4, 3)),
        case("sort[keys]", SO.sort_p, lambda k, v: lax.sort((k, v), 1, num_keys=1), ints(0, 3, 2, 5), real(2, 5)),
        case("sort[num_keys=2]", SO.sort_p, lambda a, b, v: lax.sort((a, b, v), 0, num_keys=2), ints(0, 2, 6),
             ints(0, 3, 6), real(6)),
        *[case(p.name, p, lambda x, i, u, w=w: w(x, i, u, 1), real(2, 5), ints(0, 5, 4), real(2, 4))
          for p, w in ((SC.scatter_p, lax.scatter), (SC.scatter_mul_p, lax.scatter_mul),
                       (SC.scatter_min_p, lax.scatter_min), (SC.scatter_max_p, lax.scatter_max))],
        case("dynamic_slice", DS.dynamic_slice_p, lambda x, s: lax.dynamic_slice(x, (s, np.int32(1)), (2, 3)),
             real(4, 5), ints(-5, 6)),
        case("dynamic_update_slice", DS.dynamic_update_slice_p,
             lambda x, u, s: lax.dynamic_update_slice(x, u, (np.int32(0), s)), real(3, 5), real(2, 2), ints(-6, 7)),
        case("cumprod", CU.cumprod_p, lambda x: lax.cumprod(x, 1, reverse=True), real(3, 4)),
        case("cummax", CU.cummax_p, lambda x: lax.cummax(x, 0), real(3, 4)),
        case("cummin", CU.cummin_p, lambda x: lax.cummin(x, 1), real(3, 4)),
        case("cumlogsumexp", CU.cumlogsumexp_p, lambda x: lax.cumlogsumexp(x, 0, reverse=True), real(4, 2)),
    ]


CASES += _family_cases()
def _random_bits_cases() -> list[Case]:
    """The random-bits family (functrace/ops/random_bits.py)."""
    from functrace.ops import random_bits as RB

    def u32(*shape):
        return lambda r: r.integers(0, 2**32, shape, dtype=np.uint32)

    def i32(lo, hi, *shape):
        return lambda r: r.integers(lo, hi, shape).astype(np.int32)

    return [
        case("threefry2x32", RB.threefry2x32_p, lax.threefry2x32, u32(3), u32(3), u32(), u32(3)),
        case("threefry2x32[scalar keys]", RB.threefry2x32_p, lambda a, b: lax.threefry2x32(
            np.uint32(1), np.uint32(2), a, b), u32(4), u32(4)),
        *[case(f"{p.name}", p, f, i32(-2**31, 2**31 - 1, 2, 3), i32(-2, 35, 2, 3))
          for p, f in ((RB.shift_left_p, lax.shift_left), (RB.shift_right_logical_p, lax.shift_right_logical),
                       (RB.shift_right_arithmetic_p, lax.shift_right_arithmetic))],
        case("bitcast_convert_type", RB.bitcast_convert_type_p, lambda x: lax.bitcast_convert_type(x, np.int64),
             real(2, 3)),
        case("erf_inv", RB.erf_inv_p, lax.erf_inv, lambda r: r.uniform(-0.9, 0.9, (2, 3))),
        case("sort_indices", RB.sort_indices_p, lambda x: RB.sort_indices(x, 1), real(3, 4)),
    ]


CASES += _random_bits_cases()


def _linalg_cases() -> list[Case]:
    """The linalg_decompositions family, on well-conditioned (or positive definite) matrices."""
    from functrace.ops import linalg_decompositions as LD

    def spd(n):
        def make(rng):
            a = rng.standard_normal((n, n))
            return a @ a.T + n * np.eye(n)
        return make

    def conditioned(n):
        return lambda rng: 0.3 * rng.standard_normal((n, n)) + 2 * np.eye(n)

    return [
        case("cholesky", LD.cholesky_p, lax.linalg.cholesky, spd(3)),
        case("triangular_solve", LD.triangular_solve_p,
             lambda a, b: lax.linalg.triangular_solve(a, b, left_side=True, lower=True), conditioned(3), real(3, 2)),
        case("solve", LD.solve_p, lax.linalg.solve, conditioned(3), real(3, 2)),
        case("det", LD.det_p, lax.linalg.det, conditioned(3)),
        case("slogdet", LD.slogdet_p, lambda a: lax.linalg.slogdet(a)[1], conditioned(3)),
        case("qr", LD.qr_p, lambda a: lax.linalg.qr(a, full_matrices=False), real(4, 3)),
        case("eigh", LD.eigh_p, lax.linalg.eigh, spd(3)),
        case("svd", LD.svd_p, lambda a: lax.linalg.svd(a, full_matrices=False), real(4, 3)),
        case("lu", LD.lu_p, lax.linalg.lu, real(4, 3)),
        case("sqrtm", LD.sqrtm_p, lax.linalg.sqrtm, spd(3)),
        case("eig", LD.eig_p, lambda a: lax.linalg.eig(a)[0], spd(3)),
    ]


CASES += _linalg_cases()


def _scientific_cases() -> list[Case]:
    """The complex-parts and fft families (functrace/ops/complex_parts.py, fft.py)."""
    from functrace.ops import complex_parts as CP
    from functrace.ops import fft as FT
    from functrace.ops import special as SP

    def cplx(*shape):
        return lambda rng: rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    return [
        case("real", CP.real_p, lax.real, cplx(2, 3)),
        case("imag", CP.imag_p, lax.imag, cplx(3)),
        case("conj", CP.conj_p, lax.conj, cplx(2, 2)),
        case("complex", CP.complex_p, lax.complex, real(2, 3), real(2, 3)),
        case("fft[FFT]", FT.fft_p, lambda z: lax.fft(z, "FFT", (3, 4)), cplx(2, 3, 4)),
        case("fft[RFFT]", FT.fft_p, lambda x: lax.fft(x, "RFFT", (5,)), real(3, 5)),
        case("fft[IRFFT]", FT.fft_p, lambda z: lax.fft(z, "IRFFT", (6,)), cplx(2, 4)),
        *[case(p.name, p, f, positive(2, 3)) for p, f in (
            (SP.lgamma_p, lax.lgamma), (SP.digamma_p, lax.digamma), (SP.erfc_p, lax.erfc),
            (SP.bessel_i0e_p, lax.bessel_i0e), (SP.bessel_i1e_p, lax.bessel_i1e),
            (SP.polygamma_p, lambda x: lax.polygamma(2, x)))],
        case("igamma", SP.igamma_p, lax.igamma, positive(3), positive(3)),
        case("igammac", SP.igammac_p, lax.igammac, positive(2, 2), positive(2, 2)),
        case("zeta", SP.zeta_p, lambda x, q: lax.zeta(x + 1, q), positive(3), positive(3)),
        case("igamma_grad_a", SP.igamma_grad_a_p, lax.igamma_grad_a, positive(3), positive(3)),
        case("betainc", SP.betainc_p, lambda a, b, x: lax.betainc(a, b, x / (1 + x)), positive(3), positive(3),
             positive(3)),
    ]


CASES += _scientific_cases()
CASES += [  # the remat family (issue 18); debug_print is tested in test_debug.py (it returns nothing)
    case("remat", P.all_primitives["remat"], lambda x: ft.checkpoint(lambda y: lax.sin(y) * y)(x), real(3, 4)),
    case("name", P.all_primitives["name"], lambda x: ft.checkpoint_name(x, "h") * 2.0, real(3, 4)),
]


# ---------------------------------------------------------------------------- the loop oracle
def axis_configs(case: Case, examples: list[tuple]) -> list[tuple]:
    """in_axes to try: all 0; all last axis; each argument in turn unmapped (None)."""
    n = len(case.args)
    ndims = [np.ndim(a) for a in examples[0]]
    configs = [(0,) * n, tuple(-1 if nd > 0 else 0 for nd in ndims)]
    if n > 1:
        configs += [tuple(None if j == i else 0 for j in range(n)) for i in range(n)]
    return list(dict.fromkeys(configs))


def stack_at(xs: list, axis: int) -> np.ndarray:
    return np.stack([np.asarray(x) for x in xs], axis=axis)


def run_case(case: Case, in_axes: tuple, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    examples = [tuple(m(rng) for m in case.args) for _ in range(B)]
    batched = []
    for i, ax in enumerate(in_axes):
        batched.append(examples[0][i] if ax is None else stack_at([e[i] for e in examples], ax))
    per_example = [tuple(examples[0][i] if ax is None else e[i] for i, ax in enumerate(in_axes)) for e in examples]
    want = [host(case.fn(*args)) for args in per_example]
    got = ft.vmap(case.fn, in_axes=in_axes)(*batched)
    got_leaves = ft.tree_util.tree_leaves(got)
    want_leaves = [ft.tree_util.tree_leaves(w) for w in want]
    assert len(got_leaves) == len(want_leaves[0])
    for k, g in enumerate(got_leaves):
        expected = np.stack([np.asarray(w[k]) for w in want_leaves])
        g = host(g)
        assert g.shape == expected.shape and g.dtype == expected.dtype, (g.shape, g.dtype, expected.shape,
                                                                         expected.dtype)
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(g, expected, rtol=case.rtol, atol=case.rtol)
        else:
            np.testing.assert_array_equal(g, expected)


# Primitives tested outside the table. iota has no operands: inside a traced function it is
# evaluated eagerly (a constant), so no jaxpr holds it and it is never batched.
# custom_lin (the linear map of a custom_vjp rule) cannot run forward, only be transposed.
ELSEWHERE = {P.iota_p: "test_iota_is_never_batched",
             P.all_primitives["debug_print"]: "test_debug.py::test_vmap_prints_once_per_example_and_nested_vmaps",
             P.all_primitives["custom_lin"]: "test_custom_derivatives.py::test_custom_lin_batching_rule_transposes"}
ELSEWHERE.update(__import__("cases_collectives").ELSEWHERE)  # collectives need a named axis: test_collectives.py


# ---------------------------------------------------------------------------- structure
def _prims_in(c: Case) -> set:
    rng = np.random.default_rng(0)
    closed = ft.make_jaxpr(c.fn)(*[m(rng) for m in c.args])
    return {e.primitive for e in closed.jaxpr.eqns}


def test_every_primitive_has_a_row_and_a_batching_rule():
    """A primitive added to functrace.primitives without a vmap row or batching rule fails here."""
    covered = set(ELSEWHERE).union(*(c.prims for c in CASES))
    missing_rows = sorted(p.name for p in P.all_primitives.values() if p not in covered)
    missing_rules = sorted(p.name for p in P.all_primitives.values() if batching_rule(p) is None)
    assert not missing_rows, f"primitives without a vmap test row: {missing_rows}"
    assert not missing_rules, f"primitives without a batching rule: {missing_rules}"


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_case_binds_its_primitive(c: Case):
    prims = _prims_in(c)
    assert set(c.prims) & prims, f"{c.name} binds none of {[p.name for p in c.prims]}"


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_vmap_matches_loop(c: Case):
    rng = np.random.default_rng(0)
    examples = [tuple(m(rng) for m in c.args) for _ in range(B)]
    for in_axes in axis_configs(c, examples):
        run_case(c, in_axes)


@pytest.mark.parametrize("c", CASES[::9], ids=lambda c: c.name)
def test_vmapped_jaxpr_typechecks(c: Case):
    rng = np.random.default_rng(0)
    args = [stack_at([m(rng) for _ in range(B)], 0) for m in c.args]
    typecheck_jaxpr(ft.make_jaxpr(ft.vmap(c.fn))(*args).jaxpr)


def test_iota_is_never_batched():
    f = lambda x: x + lax.convert_element_type(lax.iota(np.int32, (2, 3), 1), x.dtype)
    xs = np.random.randn(4, 2, 3)
    np.testing.assert_allclose(host(ft.vmap(f)(xs)), xs + np.arange(3.0), rtol=1e-12)
    out, d = batching_rules[P.iota_p]([], [], dtype=np.dtype(np.int32), shape=(2,), dimension=0)
    assert d is None and host(out).tolist() == [0, 1]


# ---------------------------------------------------------------------------- the API
def test_in_axes_pytrees_and_none():
    def f(p, x):
        return fnp.dot(p["w"], x) + p["b"]

    p = {"w": np.random.randn(4, 3), "b": np.random.randn(4)}
    xs = np.random.randn(5, 3)
    got = ft.vmap(f, in_axes=({"w": None, "b": None}, 0))(p, xs)
    np.testing.assert_allclose(host(got), xs @ p["w"].T + p["b"], rtol=1e-12)
    got2 = ft.vmap(f, in_axes=(None, 0))(p, xs)
    np.testing.assert_allclose(host(got2), host(got), rtol=1e-12)
    # a list is read as the tuple of per-argument axes (as in JAX)
    got3 = ft.vmap(f, in_axes=[None, 0])(p, xs)
    np.testing.assert_allclose(host(got3), host(got), rtol=1e-12)
    # a prefix entry per dict key: batch b only
    bs = np.random.randn(5, 4)
    got4 = ft.vmap(f, in_axes=({"w": None, "b": 0}, None))({"w": p["w"], "b": bs}, xs[0])
    np.testing.assert_allclose(host(got4), (p["w"] @ xs[0])[None] + bs, rtol=1e-12)


def test_negative_axes_and_out_axes():
    x = np.random.randn(2, 3, 4)
    got = ft.vmap(lambda a: fnp.sum(a, axis=0), in_axes=-1, out_axes=-1)(x)
    np.testing.assert_allclose(host(got), x.sum(0), rtol=1e-12)
    got = ft.vmap(lambda a: a * 2, in_axes=1, out_axes=2)(x)
    np.testing.assert_allclose(host(got), np.moveaxis(np.moveaxis(x, 1, 0) * 2, 0, 2), rtol=1e-12)
    assert host(got).shape == (2, 4, 3)


def test_out_axes_tree_and_none():
    x = np.random.randn(3, 2)
    c = np.ones(2)
    a, b = ft.vmap(lambda x, c: (x * 2, c + 1), in_axes=(0, None), out_axes=(1, None))(x, c)
    np.testing.assert_allclose(host(a), (x * 2).T)
    np.testing.assert_allclose(host(b), c + 1)
    # an unmapped output with an axis is broadcast to every example
    b2 = ft.vmap(lambda x, c: c + 1, in_axes=(0, None))(x, c)
    assert host(b2).shape == (3, 2)
    with pytest.raises(ValueError, match="out_axes is None"):
        ft.vmap(lambda x: x * 2, out_axes=None)(x)


def test_axis_size_and_errors():
    out = ft.vmap(lambda c: c * 2, in_axes=None, axis_size=4)(np.ones(2))
    assert host(out).shape == (4, 2)
    with pytest.raises(ValueError, match="axis_size"):
        ft.vmap(lambda c: c * 2, in_axes=None)(np.ones(2))
    with pytest.raises(ValueError, match="inconsistent sizes"):
        ft.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="inconsistent sizes"):
        ft.vmap(lambda a: a, axis_size=5)(np.ones(3))
    with pytest.raises(ValueError, match="out of bounds"):
        ft.vmap(lambda a: a, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="positional arguments"):
        ft.vmap(lambda a, b: a, in_axes=(0,))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="tree prefix"):
        ft.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": np.ones(3)})
    with pytest.raises(ft.ConcretizationError):
        ft.vmap(lambda a: a * 2 if a > 0 else a)(np.ones(3))


def test_kwargs_are_mapped_along_axis_0():
    got = ft.vmap(lambda x, scale: x * scale)(np.arange(3.0), scale=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(host(got), [0.0, 2.0, 6.0])


def test_closure_over_traced_value_is_unbatched():
    w = np.random.randn(3)

    def outer(w):
        return ft.vmap(lambda x: fnp.sum(x * w))(np.ones((4, 3)))

    np.testing.assert_allclose(host(outer(w)), np.full(4, w.sum()), rtol=1e-12)
    g = ft.grad(lambda w: fnp.sum(outer(w)))(w)
    np.testing.assert_allclose(host(g), np.full(3, 4.0), rtol=1e-12)


def test_results_are_native_arrays():
    out = ft.vmap(fnp.sin)(np.ones(3))
    if ft.get_backend() == "numpy":
        assert isinstance(out, np.ndarray)
    else:
        import torch

        assert isinstance(out, torch.Tensor)


# ---------------------------------------------------------------------------- composition
def loss(w, x, y):
    return fnp.sum((fnp.tanh(x @ w) - y) ** 2)


def _data(n=4):
    rng = np.random.default_rng(1)
    return rng.standard_normal((3, 2)), rng.standard_normal((n, 5, 3)), rng.standard_normal((n, 5, 2))


def test_per_example_gradients():
    w, xs, ys = _data()
    got = ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    want = np.stack([host(ft.grad(loss)(w, x, y)) for x, y in zip(xs, ys, strict=True)])
    np.testing.assert_allclose(host(got), want, rtol=1e-10)


def test_grad_of_vmap():
    w, xs, ys = _data()
    got = ft.grad(lambda w: fnp.sum(ft.vmap(loss, in_axes=(None, 0, 0))(w, xs, ys)))(w)
    want = sum(host(ft.grad(loss)(w, x, y)) for x, y in zip(xs, ys, strict=True))
    np.testing.assert_allclose(host(got), want, rtol=1e-10)


def test_vmap_of_vmap_and_jvp():
    x = np.random.randn(2, 3, 4)
    f = lambda v: fnp.sin(v) * fnp.sum(v)
    got = ft.vmap(ft.vmap(f))(x)
    want = np.stack([np.stack([host(f(v)) for v in row]) for row in x])
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
    t = np.random.randn(2, 4)
    got_p, got_t = ft.vmap(lambda v, tv: ft.jvp(f, (v,), (tv,)))(x[:, 0], t)
    for i in range(2):
        p, tt = ft.jvp(f, (x[i, 0],), (t[i],))
        np.testing.assert_allclose(host(got_t)[i], host(tt), rtol=1e-12)
        np.testing.assert_allclose(host(got_p)[i], host(p), rtol=1e-12)


def test_jvp_of_vmap_and_hessian_of_vmap():
    x = np.random.randn(3, 4)
    f = lambda v: fnp.sum(fnp.sin(v) ** 2)
    g = ft.vmap(f)
    t = np.random.randn(3, 4)
    _, tout = ft.jvp(g, (x,), (t,))
    want = [host(ft.jvp(f, (x[i],), (t[i],))[1]) for i in range(3)]
    np.testing.assert_allclose(host(tout), want, rtol=1e-12)
    hs = ft.vmap(ft.hessian(f))(x)
    for i in range(3):
        np.testing.assert_allclose(host(hs)[i], host(ft.hessian(f)(x[i])), rtol=1e-10)


def test_jacrev_from_vmap_of_vjp():
    """The Jacobian as vmap over the standard basis of vjp_fn (how jacrev can be built)."""
    x = np.random.randn(4)
    f = lambda v: fnp.tanh(fnp.outer(v, v) @ v)
    out, vjp_fn = ft.vjp(f, x)
    jac = ft.vmap(lambda ct: vjp_fn(ct)[0])(np.eye(4))
    np.testing.assert_allclose(host(jac), host(ft.jacrev(f)(x)), rtol=1e-10)
    _, f_jvp = ft.linearize(f, x)
    jac_fwd = ft.vmap(f_jvp, out_axes=1)(np.eye(4))
    np.testing.assert_allclose(host(jac_fwd), host(ft.jacfwd(f)(x)), rtol=1e-10)


def test_check_grads_through_vmap():
    x = np.random.randn(3, 4)
    for f in (lambda v: fnp.sum(fnp.sin(v) * v[::-1]), lambda v: fnp.max(fnp.tanh(v)) * v[1]):
        ft.test_util.check_grads(ft.vmap(f), (x,), order=2)


def test_vmap_under_make_jaxpr_is_one_program():
    f = ft.vmap(lambda x, y: fnp.dot(x, y), in_axes=(0, None))
    closed = ft.make_jaxpr(f)(np.ones((5, 3)), np.ones(3))
    typecheck_jaxpr(closed.jaxpr)
    names = [e.primitive.name for e in closed.jaxpr.eqns]
    assert names == ["dot_general"], names
    assert closed.out_avals[0].shape == (5,)


@pytest.mark.parametrize("dims", [(0, 0), (0, None), (None, 0), (1, 2), (2, None), (None, 1)], ids=str)
def test_matmul_axis_combinations(dims):
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 5))
    x_in = xs[0] if dims[0] is None else np.moveaxis(xs, 0, dims[0])
    y_in = ys[0] if dims[1] is None else np.moveaxis(ys, 0, dims[1])
    got = ft.vmap(fnp.matmul, in_axes=dims)(x_in, y_in)
    want = np.stack([(xs[0] if dims[0] is None else xs[i]) @ (ys[0] if dims[1] is None else ys[i]) for i in range(3)])
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
