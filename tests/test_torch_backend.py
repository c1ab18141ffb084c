"""The torch backend against the NumPy backend, whose semantics are the reference.

One table (``CASES``) says, for every primitive, how to build its operands and parameters for a
given shape and dtype; the table-driven tests run each case on both backends and compare values
and dtypes. ``test_table_covers_every_primitive`` fails when a primitive is added to the core
without a row here. The tests after the table pin the known NumPy/torch differences one by one.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import functrace as ft  # noqa: E402
import functrace.numpy as fnp  # noqa: E402
from functrace import lax  # noqa: E402
from functrace import ops as P  # noqa: E402
from functrace.api import trace_flat  # noqa: E402
from functrace.backends import torch_backend as tb  # noqa: E402
from functrace.errors import BackendError, DTypeError, UnboundAxisError  # noqa: E402
from functrace.ops import generic_impls  # noqa: E402
from functrace.tracing import bind  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
FLOATS = (F32, F64)
INTS = (I32, I64)
NUMS = FLOATS + INTS
ALL = NUMS + (BOOL,)
LOGICAL = INTS + (BOOL,)

SHAPES = ((), (3, 5), (2, 1, 4))
ARRAYS = SHAPES[1:]  # primitives that need an axis

TOL = {F32: dict(rtol=1e-5, atol=1e-6), F64: dict(rtol=1e-12, atol=1e-12)}


# ---------------------------------------------------------------------------- helpers
def sample(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, domain: str = "real") -> np.ndarray:
    """A NumPy array of ``shape`` from ``domain`` (real, unit, pos, ge1, nonzero, coarse, halves)."""
    dtype = np.dtype(dtype)
    if dtype == BOOL:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        x = rng.integers(1 if domain in ("pos", "nonzero", "ge1") else -9, 10, size=shape)
        if domain == "nonzero":
            x = x * rng.choice([-1, 1], size=shape)
        return np.asarray(x, dtype)
    lo_hi = {"real": (-3, 3), "unit": (-0.95, 0.95), "pos": (0.1, 3), "ge1": (1.05, 4)}
    if domain in lo_hi:
        x = rng.uniform(*lo_hi[domain], size=shape)
    elif domain == "nonzero":
        x = rng.uniform(0.5, 3, size=shape) * rng.choice([-1, 1], size=shape)
    elif domain == "coarse":  # few distinct values, so comparisons and ties happen
        x = rng.integers(-2, 3, size=shape).astype(float)
    elif domain == "halves":  # exact .5 cases for round-half-to-even
        x = rng.integers(-7, 8, size=shape) / 2
    elif domain == "special":
        x = rng.choice([0.0, -1.5, 2.0, np.inf, -np.inf, np.nan], size=shape)
    else:
        raise ValueError(domain)
    return np.asarray(x, dtype)


def to_host(x: Any) -> np.ndarray:
    return np.asarray(ft.device_get(x))


def assert_matches(got: Any, want: Any, what: str = "") -> None:
    """``got`` (torch) equals the NumPy backend's ``want`` in type, dtype, shape and value."""
    assert isinstance(got, torch.Tensor), f"{what}: torch backend returned {type(got).__name__}"
    g, w = to_host(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != numpy backend's {w.dtype}"
    assert g.shape == w.shape, f"{what}: shape {g.shape} != numpy backend's {w.shape}"
    if w.dtype.kind in "fc":  # complex: the tolerance of its parts' dtype
        np.testing.assert_allclose(g, w, equal_nan=True, err_msg=what, **TOL.get(w.real.dtype, TOL[F32]))
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


def on_numpy(prim: P.Primitive, *args: Any, **params: Any) -> Any:
    with ft.use_backend("numpy"), np.errstate(all="ignore"):  # inf/nan are expected, silently
        return bind(prim, *args, **params)


def on_torch(prim: P.Primitive, *args: Any, **params: Any) -> Any:
    with ft.use_backend("torch") as b:
        return bind(prim, *[b.asarray(a) for a in args], **params)


def assert_trees_match(got: Any, want: Any, what: str = "") -> None:
    got_leaves, got_tree = ft.tree_util.tree_flatten(got)
    want_leaves, want_tree = ft.tree_util.tree_flatten(want)
    assert got_tree == want_tree, f"{what}: result structure {got_tree} != {want_tree}"
    for i, (g, w) in enumerate(zip(got_leaves, want_leaves, strict=True)):
        assert_matches(g, w, f"{what}[{i}]")


def compare(prim: P.Primitive, *args: Any, **params: Any) -> Any:
    """Run ``prim`` on both backends (torch tensors in, NumPy in) and check they agree."""
    want = on_numpy(prim, *args, **params)
    got = on_torch(prim, *args, **params)
    if prim.multiple_results:
        assert_trees_match(list(got), list(want), prim.name)
    else:
        assert_matches(got, want, prim.name)
    return got


@pytest.fixture
def backend():
    with ft.use_backend("torch") as b:
        yield b


# ---------------------------------------------------------------------------- the table
Build = Callable[[np.random.Generator, tuple, np.dtype], tuple[tuple, dict]]


@dataclass(frozen=True)
class Case:
    """How to test one primitive: ``build(rng, shape, dtype) -> (operands, params)``."""

    build: Build
    dtypes: tuple[np.dtype, ...]
    shapes: tuple[tuple[int, ...], ...] = SHAPES
    raises: type[Exception] | None = None  # the implementation refuses by design, on both backends
    arity: int | None = None  # set for elementwise primitives (all operands of one shape)


@dataclass(frozen=True)
class Program:
    """A primitive with a backend-neutral implementation (``functrace.ops.generic_impls``) that
    only public functions build (its params hold sub-jaxprs): ``fn`` must contain it."""

    fn: Callable[[Any], Any]
    dtypes: tuple[np.dtype, ...] = FLOATS
    shapes: tuple[tuple[int, ...], ...] = SHAPES


def elementwise(arity: int, domain: str = "real", dtypes=FLOATS, domains: tuple[str, ...] | None = None) -> Case:
    doms = domains or (domain,) * arity
    return Case(lambda rng, s, dt: (tuple(sample(rng, s, dt, d) for d in doms), {}), dtypes, arity=arity)


def with_params(dtypes, params: Callable[[tuple], dict], domain: str = "real", shapes=SHAPES) -> Case:
    """One operand of the case's shape, parameters chosen from the shape."""
    return Case(lambda rng, s, dt: ((sample(rng, s, dt, domain),), params(s)), dtypes, shapes)


def _axes(s: tuple) -> dict:
    return {"axes": {0: (), 2: (1,), 3: (0, 2)}[len(s)]}


def _integer_pow(rng, s, dt):
    y = {0: 0, 2: 3, 3: -2 if dt.kind == "f" else 2}[len(s)]
    return (sample(rng, s, dt, "nonzero"),), {"y": y}


_CONVERT_TO = {F32: I32, F64: F32, I32: F64, I64: BOOL, BOOL: F32}


def _convert(rng, s, dt):
    return (sample(rng, s, dt, "real"),), {"new_dtype": _CONVERT_TO[dt]}


def _select(rng, s, dt):
    return (sample(rng, s, BOOL), sample(rng, s, dt), sample(rng, s, dt)), {}


def _broadcast_in_dim(rng, s, dt):
    shape, dims = {(): ((2, 3), ()), (3, 5): ((4, 3, 5), (1, 2)), (2, 1, 4): ((2, 3, 4), (0, 1, 2))}[s]
    return (sample(rng, s, dt),), {"shape": shape, "broadcast_dimensions": dims}


def _reshape(s):
    return {"new_sizes": {(): (1, 1), (3, 5): (5, 3), (2, 1, 4): (8,)}[s]}


def _slice(s):
    return {(): dict(start_indices=(), limit_indices=(), strides=()),
            (3, 5): dict(start_indices=(0, 1), limit_indices=(3, 5), strides=(2, 2)),
            (2, 1, 4): dict(start_indices=(1, 0, 0), limit_indices=(2, 1, 4), strides=(1, 1, 3))}[s]


def _pad(rng, s, dt):
    cfg = {(): (), (3, 5): ((1, 2, 1), (-1, 0, 2)), (2, 1, 4): ((0, 0, 0), (2, -1, 0), (-2, 1, 1))}[s]
    return (sample(rng, s, dt), sample(rng, (), dt)), {"padding_config": cfg}


def _concatenate(rng, s, dt):
    parts = [sample(rng, (n,) + s[1:], dt) for n in (s[0], 1, 2)]
    return tuple(parts), {"dimension": 0}


def _gather(rng, s, dt):
    axis = len(s) - 1
    idx = rng.integers(0, s[axis], size=(2, 3))
    return (sample(rng, s, dt), idx), {"axis": axis}


def _scatter_add(rng, s, dt):
    axis = 0
    idx = np.array([0, s[0] - 1, 0, 0])  # repeated indices accumulate
    upd = sample(rng, idx.shape + s[1:], dt)
    return (sample(rng, s, dt), idx, upd), {"axis": axis}


def _dot_general(rng, s, dt):
    if s == ():
        return (sample(rng, (), dt), sample(rng, (), dt)), {"dimension_numbers": (((), ()), ((), ()))}
    if s == (3, 5):
        return (sample(rng, s, dt), sample(rng, (5, 4), dt)), {"dimension_numbers": (((1,), (0,)), ((), ()))}
    # batch dim 0, contract lhs 2 with rhs 1, rhs batch dim last
    return ((sample(rng, s, dt), sample(rng, (4, 3, 2), dt)),
            {"dimension_numbers": (((2,), (0,)), ((0,), (2,)))})


def _iota(rng, s, dt):
    return (), {"dtype": dt, "shape": s or (4,), "dimension": max(len(s) - 1, 0)}


def _call(rng, s, dt):
    """custom_jvp_call / custom_vjp_call: a call of ``call_jaxpr`` (the rule params are unused)."""
    x = sample(rng, s, dt)
    with ft.use_backend("numpy"):
        closed = ft.make_jaxpr(lambda a: (lax.sin(a), lax.mul(a, a)))(x)
    return (x,), {"call_jaxpr": closed, "num_consts": 0}


def _custom_lin(rng, s, dt):
    x = sample(rng, s, dt)
    return (x,), {"num_res": 0, "bwd": None, "out_avals": (ft.tracing.get_aval(x),)}


def aval(x: Any):
    return ft.tracing.get_aval(x)


def _cond_program(x):
    return lax.cond(lax.reduce_sum(x, tuple(range(aval(x).ndim))) > 0, lax.sin, lax.cos, x)


def _while_program(x):
    def body(c):
        return lax.add(c[0], np.int64(1)), lax.mul(c[1], np.asarray(1.5, aval(c[1]).dtype)[()])

    return lax.while_loop(lambda c: lax.lt(c[0], np.int64(3)), body, (np.int64(0), x))


def _scan_program(x):
    xs = lax.reshape(x, (max(aval(x).size, 1),))

    def step(c, e):
        c = lax.add(c, e)
        return c, lax.mul(c, e)

    return lax.scan(step, lax.full((), 0, aval(x).dtype), xs, reverse=True)


def _window(s: tuple, k: tuple, strides: tuple, padding: tuple, base=None, dil=None) -> dict:
    n = len(k)
    return {"window_dimensions": k, "window_strides": strides, "padding": padding,
            "base_dilation": base or (1,) * n, "window_dilation": dil or (1,) * n}


def _conv_general_dilated(rng, s, dt):
    """Grouped NHWC convolution (torch's conv2d) when ``s`` has three axes, else a batch-grouped
    NCH one with input dilation and asymmetric padding."""
    from functrace.ops.convolution import conv_dimension_numbers

    if len(s) == 3:
        x, w, spec = sample(rng, (2, 5, 4, 4), dt), sample(rng, (3, 2, 2, 4), dt), ("NHWC", "HWIO", "NHWC")
        geometry = dict(window_strides=(1, 2), padding=((1, 0), (0, 1)), lhs_dilation=(1, 1), rhs_dilation=(2, 1),
                        feature_group_count=2, batch_group_count=1)
    else:
        x, w, spec = sample(rng, (4, 2, 5), dt), sample(rng, (4, 2, 2), dt), None
        geometry = dict(window_strides=(2,), padding=((2, -1),), lhs_dilation=(2,), rhs_dilation=(1,),
                        feature_group_count=1, batch_group_count=2)
    dn = conv_dimension_numbers(x.shape, w.shape, spec)
    return (x, w), dict(geometry, dimension_numbers=dn, precision=None, preferred_element_type=None)


def _window_case(rng, s, dt):
    """A pooling geometry (torch's pooling kernels) for three axes, a general one otherwise."""
    if len(s) == 3:
        return (sample(rng, (2, 6, 4, 3), dt, "coarse"),), _window(s, (1, 2, 2, 1), (1, 2, 2, 1), ((0, 0),) * 4)
    return (sample(rng, (5, 4), dt, "coarse"),), _window(s, (2, 3), (2, 1), ((1, 0), (1, 1)), (1, 2), (1, 2))


def _selection(scatter: bool, kind: str):
    def build(rng, s, dt):
        (x,), params = _window_case(rng, s, dt)
        from functrace.ops import _reduce_window as RW

        out = RW._reduce_window_abstract_eval("w")(ft.tracing.get_aval(x), **params).shape
        v = sample(rng, out if scatter else x.shape, dt)
        return (v, x), dict(params, kind=kind)

    return build


CASES: dict[str, Case | Program] = {
    # unary
    "neg": elementwise(1, dtypes=NUMS), "sign": elementwise(1, "coarse", dtypes=NUMS),
    "abs": elementwise(1, dtypes=NUMS), "floor": elementwise(1), "ceil": elementwise(1),
    "round": elementwise(1, "halves"),
    "sin": elementwise(1), "cos": elementwise(1), "tan": elementwise(1, "unit"),
    "asin": elementwise(1, "unit"), "acos": elementwise(1, "unit"), "atan": elementwise(1),
    "sinh": elementwise(1), "cosh": elementwise(1), "tanh": elementwise(1),
    "asinh": elementwise(1), "acosh": elementwise(1, "ge1"), "atanh": elementwise(1, "unit"),
    "exp": elementwise(1), "exp2": elementwise(1), "expm1": elementwise(1),
    "log": elementwise(1, "pos"), "log1p": elementwise(1, "pos"), "sqrt": elementwise(1, "pos"),
    "logistic": elementwise(1), "erf": elementwise(1), "not": elementwise(1, dtypes=LOGICAL),
    "is_finite": elementwise(1, "special"), "stop_gradient": elementwise(1, dtypes=ALL),
    "integer_pow": Case(_integer_pow, NUMS),
    # binary
    "add": elementwise(2, dtypes=NUMS), "sub": elementwise(2, dtypes=NUMS), "mul": elementwise(2, dtypes=NUMS),
    "div": elementwise(2, domains=("real", "nonzero"), dtypes=NUMS),
    "rem": elementwise(2, domains=("real", "nonzero"), dtypes=NUMS),
    "pow": elementwise(2, domains=("pos", "real")), "atan2": elementwise(2),
    "max": elementwise(2, "coarse", dtypes=ALL), "min": elementwise(2, "coarse", dtypes=ALL),
    "and": elementwise(2, dtypes=LOGICAL), "or": elementwise(2, dtypes=LOGICAL),
    "xor": elementwise(2, dtypes=LOGICAL),
    **{c: elementwise(2, "coarse", dtypes=ALL) for c in ("eq", "ne", "lt", "le", "gt", "ge")},
    # other
    "select": Case(_select, ALL),
    "convert_element_type": Case(_convert, NUMS + (BOOL,)),
    "reduce_sum": with_params(NUMS, _axes), "reduce_prod": with_params(NUMS, _axes),
    "reduce_max": with_params(ALL, _axes, "coarse"), "reduce_min": with_params(ALL, _axes, "coarse"),
    "reduce_and": with_params((BOOL,), _axes), "reduce_or": with_params((BOOL,), _axes),
    "argmax": with_params(ALL, lambda s: {"axis": len(s) - 1, "index_dtype": I64}, "coarse", ARRAYS),
    "argmin": with_params(ALL, lambda s: {"axis": 0, "index_dtype": I32}, "coarse", ARRAYS),
    "cumsum": with_params(NUMS, lambda s: {"axis": len(s) - 1, "reverse": len(s) == 3}, shapes=ARRAYS),
    "broadcast_in_dim": Case(_broadcast_in_dim, ALL),
    "reshape": with_params(ALL, _reshape),
    "transpose": with_params(ALL, lambda s: {"permutation": tuple(reversed(range(len(s))))}),
    "slice": with_params(ALL, _slice),
    "rev": with_params(ALL, lambda s: {"dimensions": (0, 2) if len(s) == 3 else (1,)}, shapes=ARRAYS),
    "pad": Case(_pad, ALL),
    "concatenate": Case(_concatenate, ALL, ARRAYS),
    "gather": Case(_gather, ALL, ARRAYS),
    "scatter_add": Case(_scatter_add, NUMS, ARRAYS),
    "dot_general": Case(_dot_general, NUMS),
    "iota": Case(_iota, NUMS),
    # convolution family (functrace/ops/convolution.py)
    "conv_general_dilated": Case(_conv_general_dilated, NUMS, ((2,), (2, 1, 4))),
    "reduce_window_sum": Case(_window_case, NUMS, ((2,), (2, 1, 4))),
    "reduce_window_max": Case(_window_case, NUMS, ((2,), (2, 1, 4))),
    "reduce_window_min": Case(_window_case, NUMS, ((2,), (2, 1, 4))),
    "select_and_gather_add": Case(_selection(False, "max"), NUMS, ((2,), (2, 1, 4))),
    "select_and_scatter_add": Case(_selection(True, "min"), NUMS, ((2,), (2, 1, 4))),
    # control flow and custom derivatives: implementations shared by every backend
    "custom_jvp_call": Case(_call, FLOATS), "custom_vjp_call": Case(_call, FLOATS),
    "custom_lin": Case(_custom_lin, (F32,), raises=TypeError),
    "cond": Program(_cond_program), "while": Program(_while_program), "scan": Program(_scan_program),
}

# The sorting, scatter, dynamic-slicing and cumulative families (functrace/ops/): ties, NaN,
# signed zeros and repeated indices, where the backends could disagree.
def _sort(rng, s, dt):
    keys = sample(rng, s, dt, "special" if dt.kind == "f" else "coarse")
    ops = (keys, sample(rng, s, dt, "coarse"), sample(rng, s, F64))
    return ops, {"dimension": len(s) - 1, "is_stable": True, "num_keys": 2 if len(s) == 3 else 1}


def _scatter(rng, s, dt):
    idx = np.array([[s[0] - 1, 0], [0, 0]])  # repeated indices
    return (sample(rng, s, dt, "coarse"), idx, sample(rng, idx.shape + s[1:], dt, "coarse")), {"axis": 0}


def _scatter_unique(rng, s, dt):
    (x, idx, upd), params = _scatter(rng, s, dt)
    return (x, idx, upd), dict(params, unique_indices=False)


def _dynamic_slice(rng, s, dt):
    starts = tuple(np.int32(v) for v in (-1, 7, 1)[:len(s)])
    return (sample(rng, s, dt), *starts), {"slice_sizes": tuple(max(d - 1, 1) for d in s)}


def _dynamic_update_slice(rng, s, dt):
    starts = tuple(np.int64(v) for v in (-9, 2, -1)[:len(s)])
    return (sample(rng, s, dt), sample(rng, tuple(max(d - 1, 1) for d in s), dt), *starts), {}


def _cumulative_params(s):
    return {"axis": len(s) - 1, "reverse": len(s) == 3}


CASES.update({
    "sort": Case(_sort, ALL, ARRAYS),
    "scatter": Case(_scatter, ALL, ARRAYS), "scatter_mul": Case(_scatter_unique, NUMS, ARRAYS),
    "scatter_min": Case(_scatter, ALL, ARRAYS), "scatter_max": Case(_scatter, ALL, ARRAYS),
    "dynamic_slice": Case(_dynamic_slice, ALL, ARRAYS),
    "dynamic_update_slice": Case(_dynamic_update_slice, ALL, ARRAYS),
    "cumprod": with_params(NUMS, _cumulative_params, shapes=ARRAYS),
    "cummax": with_params(ALL, _cumulative_params, "special", ARRAYS),
    "cummin": with_params(ALL, _cumulative_params, "special", ARRAYS),
    "cumlogsumexp": with_params(FLOATS, _cumulative_params, "special", ARRAYS),
})

def _random_bits_rows() -> dict[str, Case]:
    """The random-bits family (functrace/ops/random_bits.py): torch computes in int64 with masks and
    must give the NumPy backend's bits exactly."""
    u32 = np.dtype(np.uint32)

    def threefry(rng, s, dt):
        return tuple(rng.integers(0, 2**32, s, dtype=np.uint32) for _ in range(4)), {}

    def shift(rng, s, dt):
        info = np.iinfo(dt)
        x = rng.integers(info.min, info.max, s, dtype=dt, endpoint=True)
        y = rng.integers(-2 if info.min < 0 else 0, 8 * dt.itemsize + 3, s).astype(dt)
        return (x, y), {}

    def bitcast(rng, s, dt):
        other = {"f": "i", "i": "f", "u": "f"}[dt.kind] + str(dt.itemsize)
        x = sample(rng, s, dt) if dt.kind == "f" else rng.integers(0, 2**20, s).astype(dt)
        return (x,), {"new_dtype": np.dtype(other)}

    def sort_indices(rng, s, dt):
        x = sample(rng, s, dt) if dt.kind == "f" else rng.integers(0, 2**32, s, dtype=np.uint32)
        return (x,), {"dimension": len(s) - 1}

    ints = (np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.uint8), u32)
    return {
        "threefry2x32": Case(threefry, (u32,)),
        "shift_left": Case(shift, ints, arity=2),
        "shift_right_logical": Case(shift, ints, arity=2),
        "shift_right_arithmetic": Case(shift, ints, arity=2),
        "bitcast_convert_type": Case(bitcast, FLOATS + (np.dtype(np.int32), u32)),
        "erf_inv": elementwise(1, "unit"),
        "sort_indices": Case(sort_indices, FLOATS + (u32,), ((3, 5), (2, 1, 4))),
    }


CASES.update(_random_bits_rows())
# The linalg_decompositions family: well-conditioned (symmetric positive definite where needed)
# stacks of matrices, with distinct eigen/singular values so the vectors agree up to LAPACK's signs,
# which both backends choose alike here.
MATRICES = ((3, 3), (2, 4, 4))


def _matrix(kind: str, params: Callable[[tuple], dict] = lambda s: {}, rhs: bool = False) -> Case:
    def build(rng, s, dt):
        a = rng.standard_normal(s)
        if kind == "spd":  # eigenvalues 2, 4, 6, ...: well separated, so float32 eigenvectors are accurate
            q = np.linalg.qr(a)[0]
            a = (q * (2.0 * np.arange(1, s[-1] + 1))) @ np.swapaxes(q, -1, -2)
        elif kind == "tall":
            a = rng.standard_normal(s[:-2] + (s[-2] + 2, s[-1]))
        else:
            a = 0.3 * a + 2 * np.eye(s[-1])
        ops = (a.astype(dt),) + ((rng.standard_normal(s[:-1] + (2,)).astype(dt),) if rhs else ())
        return ops, params(s)
    return Case(build, FLOATS, MATRICES)


CASES.update({
    "cholesky": _matrix("spd"),
    "triangular_solve": _matrix("square", lambda s: dict(left_side=True, lower=len(s) == 2, transpose_a=len(s) == 3,
                                                         unit_diagonal=False), rhs=True),
    "solve": _matrix("square", rhs=True), "det": _matrix("square"), "slogdet": _matrix("square"),
    "qr": _matrix("tall", lambda s: {"full_matrices": False}), "eigh": _matrix("spd", lambda s: {"lower": True}),
    "svd": _matrix("tall", lambda s: {"full_matrices": False}), "lu": _matrix("tall"),
    "sqrtm": _matrix("spd"), "eig": _matrix("square", lambda s: {"vectors": len(s) == 3}),
})

def _cplx(rng, s, dt):
    return (sample(rng, s, dt) + 1j * sample(rng, s, dt)).astype(np.result_type(dt, np.complex64))


def _fft(fft_type):
    def build(rng, s, dt):
        n = s[-1]
        if fft_type == "RFFT":
            return (sample(rng, s, dt),), {"fft_type": fft_type, "fft_lengths": s[-2:]}
        if fft_type == "IRFFT":
            return (_cplx(rng, s[:-1] + (n // 2 + 1,), dt),), {"fft_type": fft_type, "fft_lengths": s[-2:]}
        return (_cplx(rng, s, dt),), {"fft_type": fft_type, "fft_lengths": s[-1:]}
    return build


CASES.update({  # complex numbers and FFTs (functrace/ops/complex_parts.py, fft.py)
    "real": Case(lambda rng, s, dt: ((_cplx(rng, s, dt),), {}), FLOATS),
    "imag": Case(lambda rng, s, dt: ((_cplx(rng, s, dt),), {}), FLOATS),
    "conj": Case(lambda rng, s, dt: ((_cplx(rng, s, dt),), {}), FLOATS),
    "complex": elementwise(2),
    "fft": Case(_fft("RFFT"), FLOATS, ARRAYS),
    # special functions (functrace/ops/special.py)
    "lgamma": elementwise(1, "pos"), "digamma": elementwise(1, "pos"), "erfc": elementwise(1),
    "bessel_i0e": elementwise(1), "bessel_i1e": elementwise(1),
    "polygamma": with_params(FLOATS, lambda s: {"m": len(s)}, "pos"),
    "igamma": elementwise(2, "pos"), "igammac": elementwise(2, "pos"), "zeta": elementwise(2, "ge1"),
    "igamma_grad_a": elementwise(2, "pos"),
    "regularized_incomplete_beta": Case(lambda rng, s, dt: ((sample(rng, s, dt, "pos"), sample(rng, s, dt, "pos"),
                                                             np.abs(sample(rng, s, dt, "unit"))), {}), FLOATS),
})


@pytest.mark.parametrize("fft_type", ["FFT", "IFFT", "RFFT", "IRFFT"])
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.name)
def test_fft_types_match_numpy(fft_type, dtype):
    for s in ARRAYS:
        args, params = _fft(fft_type)(np.random.default_rng(0), s, dtype)
        compare(P.all_primitives["fft"], *args, **params)


# The debugging and remat families (issue 18): a print (no results; both backends print the
# values), an identity that names a value, and a checkpointed block.
CASES.update({
    "debug_print": Case(lambda rng, s, dt: ((sample(rng, s, dt),), {"fmt": "{}", "nargs": 1, "kwnames": ()}), ALL),
    "name": Case(lambda rng, s, dt: ((sample(rng, s, dt),), {"name": "h"}), ALL),
    "remat": Program(lambda x: ft.checkpoint(lambda y: lax.mul(lax.sin(y), y))(x)),
})

# The collectives (issue 19) need a bound axis name: without one both backends refuse them; their
# values on both backends are in tests/test_collectives.py and tests/test_distributed.py.
CASES.update({name: Case(lambda rng, s, dt, name=name: ((sample(rng, s, dt),), _unbound_params(name)), FLOATS,
                         raises=UnboundAxisError)
              for name in ("psum", "pmax", "pmin", "all_gather", "psum_scatter", "ppermute")})
CASES["axis_index"] = Case(lambda rng, s, dt: ((), {"axis_name": ("unbound",)}), (F32,), ((),), raises=UnboundAxisError)

CASE_IDS = [(name, dt, s) for name, c in CASES.items() if isinstance(c, Case) for dt in c.dtypes for s in c.shapes]
PROGRAM_IDS = [(name, dt, s) for name, c in CASES.items() if isinstance(c, Program)
               for dt in c.dtypes for s in c.shapes]


def _unbound_params(name: str) -> dict:
    if name in ("psum", "pmax", "pmin"):
        return {"axes": ("unbound",)}
    common = {"axis_name": ("unbound",)}
    if name == "ppermute":
        return {**common, "perm": ((0, 1),)}
    if name == "all_gather":
        return {**common, "all_gather_dimension": 0, "axis_size": 2, "tiled": False}
    return {**common, "scatter_dimension": 0, "axis_size": 1, "tiled": True}


def build_case(name: str, dtype: np.dtype, shape: tuple) -> tuple[tuple, dict]:
    # A seed that is the same in every process (hash() of a str is salted per process).
    rng = np.random.default_rng(zlib.crc32(repr((name, dtype.name, shape)).encode()))
    return CASES[name].build(rng, shape, dtype)


def test_table_covers_every_primitive():
    assert set(CASES) == set(P.all_primitives), (
        f"missing from CASES: {sorted(set(P.all_primitives) - set(CASES))}; "
        f"unknown: {sorted(set(CASES) - set(P.all_primitives))}")


@pytest.mark.parametrize("name,dtype,shape", CASE_IDS, ids=[f"{n}-{d.name}-{s}" for n, d, s in CASE_IDS])
def test_primitive_matches_numpy(name, dtype, shape):
    """bind on torch tensors gives the NumPy backend's value, shape and dtype (the rule's dtype)."""
    prim = P.all_primitives[name]
    args, params = build_case(name, dtype, shape)
    if CASES[name].raises is not None:
        for run in (on_numpy, on_torch):
            with pytest.raises(CASES[name].raises):
                run(prim, *args, **params)
        return
    got = compare(prim, *args, **params)
    rule = P.abstract_eval_rules[prim](*[ft.tracing.get_aval(a) for a in args], **params)
    for g, r in zip(got if prim.multiple_results else [got], rule if prim.multiple_results else [rule], strict=True):
        assert (to_host(g).dtype, to_host(g).shape) == (r.dtype, r.shape)


@pytest.mark.parametrize("name,dtype,shape", PROGRAM_IDS, ids=[f"{n}-{d.name}-{s}" for n, d, s in PROGRAM_IDS])
def test_control_flow_matches_numpy(name, dtype, shape):
    """Control-flow primitives run eagerly on torch tensors, and inside a jaxpr, as on NumPy."""
    fn = CASES[name].fn
    x = sample(np.random.default_rng(len(shape)), shape, dtype)
    with ft.use_backend("numpy"):
        want = fn(x)
        closed = ft.make_jaxpr(fn)(x)
    assert any(e.primitive is P.all_primitives[name] for e in closed.eqns), f"{name} is not in {closed}"
    with ft.use_backend("torch") as b:
        assert_trees_match(fn(b.asarray(x)), want, f"{name} eager")
        assert_trees_match(ft.eval_jaxpr(ft.make_jaxpr(fn)(x), x), want, f"{name} jaxpr")


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if isinstance(c, Case) and not c.raises))
def test_primitive_through_a_jaxpr(name):
    """make_jaxpr + eval_jaxpr under torch with NumPy inputs: the IR path, once per primitive."""
    c = CASES[name]
    args, params = build_case(name, c.dtypes[0], c.shapes[-1])
    prim = P.all_primitives[name]
    want = on_numpy(prim, *args, **params)
    with ft.use_backend("torch"):
        closed = ft.make_jaxpr(lambda *a: bind(prim, *a, **params))(*args)
        got = ft.eval_jaxpr(closed, *args)
    if prim.multiple_results:
        assert_trees_match(list(got), list(want), name)
    else:
        assert_matches(got, want, name)


def test_loading_a_backend_refuses_a_missing_primitive(monkeypatch):
    """The registry checks every primitive has an implementation (after adding the shared ones)."""
    from functrace.backends import registry

    monkeypatch.setitem(P.all_primitives, "frobnicate", P.Primitive("frobnicate"))
    monkeypatch.setattr(registry, "_instances", {})
    with pytest.raises(NotImplementedError, match="frobnicate"):
        registry.load_backend("torch")


def test_no_host_round_trip_per_operation(monkeypatch):
    """Every table case runs with the host-reading tensor methods disabled."""
    inputs = []
    with ft.use_backend("torch") as b:
        for name, dt, s in CASE_IDS:
            if P.all_primitives[name] in generic_impls:  # shared code, not this backend's
                continue
            if P.all_primitives[name].effectful:  # debug_print reads values on the host: its purpose
                continue
            if CASES[name].raises is not None:  # refused by design on both backends
                continue
            args, params = build_case(name, dt, s)
            inputs.append((P.all_primitives[name], [b.asarray(a) for a in args], params))

    def host_read(*a, **k):
        raise AssertionError("an implementation read a tensor on the host")

    for meth in ("numpy", "item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, meth, host_read)
    with ft.use_backend("torch"):
        for prim, args, params in inputs:
            bind(prim, *args, **params)


# ---------------------------------------------------------------------------- known differences
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_integer_div_truncates_toward_zero(dtype):
    x = np.array([7, -7, 7, -7, 0, 5, -5, 6], dtype)
    y = np.array([2, 2, -2, -2, 3, 0, 0, -1], dtype)
    got = compare(P.div_p, x, y)
    np.testing.assert_array_equal(to_host(got), np.array([3, -3, -3, 3, 0, 0, 0, -6], dtype))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_div_and_rem_of_int_min_by_minus_one_do_not_trap(dtype):
    """INT_MIN / -1 raises SIGFPE in torch's integer division; NumPy's reference wraps."""
    lo = np.iinfo(dtype).min
    x, y = np.array([lo, lo], dtype), np.array([-1, 1], dtype)
    compare(P.div_p, x, y)
    compare(P.rem_p, x, y)


@pytest.mark.parametrize("dtype", NUMS)
def test_rem_has_the_sign_of_the_dividend(dtype):
    x = np.array([7, -7, 7, -7, 0, 5], dtype)
    y = np.array([3, 3, -3, -3, 3, 5], dtype)
    got = compare(P.rem_p, x, y)
    np.testing.assert_array_equal(to_host(got), np.array([1, -1, 1, -1, 0, 0], dtype))
    if dtype in INTS:  # x % 0 is 0 for ints (torch raises ZeroDivisionError)
        compare(P.rem_p, np.array([5, -5], dtype), np.array([0, 0], dtype))
    else:
        compare(P.rem_p, np.array([5.5, -5.5, 1.0], dtype), np.array([2.0, 0.0, np.inf], dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_rem_with_a_huge_ratio_is_exact(dtype):
    """torch's vectorised CPU fmod gives nan when x / y overflows (fmod(1, 5e-324)); C's is exact."""
    fi = np.finfo(dtype)
    x = np.array([1.0, -2.5, 130.4, fi.max, -fi.max, 7e20, -0.0, np.inf] * 4, dtype)
    y = np.array([fi.smallest_subnormal, fi.tiny, 3 * fi.smallest_subnormal, fi.tiny, 1e-30,
                  fi.smallest_subnormal, fi.tiny, fi.tiny] * 4, dtype)
    for d in (y, -y):
        got = to_host(compare(P.rem_p, x, d))
        finite = np.isfinite(x)  # fmod(inf, y) is nan, whose sign bit CUDA and NumPy set differently
        assert not np.isnan(got[finite]).any()
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(np.fmod(x, d)[finite]))


SPECIALS = np.array([0.0, -0.0, 1.0, -2.5, 0.5, np.inf, -np.inf, np.nan, 1e300, -1e300, 5e-324])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", [n for n, c in CASES.items() if isinstance(c, Case) and c.arity and F32 in c.dtypes])
def test_elementwise_on_every_pair_of_special_values(name, dtype):
    """inf, nan, signed zeros, huge and subnormal values, in every combination (vector-sized)."""
    with np.errstate(all="ignore"):
        x, y = (a.astype(dtype) for a in np.meshgrid(SPECIALS, SPECIALS))
    compare(P.all_primitives[name], *(x, y)[:CASES[name].arity])


@pytest.mark.parametrize("dtype", FLOATS)
def test_round_half_to_even(dtype):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49999997], dtype)
    got = compare(P.round_p, x)
    np.testing.assert_array_equal(to_host(got)[:7], np.array([0, 2, 2, -0, -2, -2, 4], dtype))


@pytest.mark.parametrize("dtype", ALL)
def test_argmax_argmin_take_the_first_of_ties(dtype):
    x = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [0, 0, 1, 1]], dtype)
    for prim in (P.argmax_p, P.argmin_p):
        for axis in (0, 1):
            compare(prim, x, axis=axis, index_dtype=I32)


def test_argmax_argmin_of_nan_is_the_first_nan():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [0.0, 5.0, -1.0, 2.0]])
    for prim in (P.argmax_p, P.argmin_p):
        compare(prim, x, axis=1, index_dtype=I64)


@pytest.mark.parametrize("dtype", FLOATS)
def test_pow_of_negative_bases(dtype):
    """Integer-valued exponents give real results for negative bases; others give nan."""
    x = np.array([-2.0, -2.0, -2.0, -8.0, -0.5, 0.0, -3.0], dtype)
    y = np.array([2.0, 3.0, -1.0, 1 / 3, -3.0, -1.0, 0.0], dtype)
    got = compare(P.pow_p, x, y)
    np.testing.assert_array_equal(to_host(got)[[0, 1, 2, 6]], np.array([4, -8, -0.5, 1], dtype))
    compare(P.pow_p, np.full((4,), -2.0, dtype), np.array(3.0, dtype))  # scalar exponent


@pytest.mark.parametrize("dtype", NUMS)
def test_reductions_over_an_empty_axis(dtype):
    x = np.zeros((0, 3), dtype)
    assert (to_host(compare(P.reduce_sum_p, x, axes=(0,))) == 0).all()
    assert (to_host(compare(P.reduce_prod_p, x, axes=(0,))) == 1).all()
    compare(P.reduce_sum_p, x, axes=(0, 1))
    compare(P.reduce_prod_p, x, axes=(1,))
    compare(P.cumsum_p, x, axis=0, reverse=True)


def test_reductions_over_no_axes_are_the_identity():
    """torch reads dim=() as 'all axes'; NumPy and lax as 'none'."""
    x = np.arange(6.0).reshape(2, 3)
    for prim in (P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p, P.reduce_min_p):
        compare(prim, x, axes=())
    b = np.array([[True, False]])
    compare(P.reduce_and_p, b, axes=())
    compare(P.reduce_or_p, b, axes=())
    compare(P.reduce_and_p, np.zeros((2, 0), bool), axes=(1,))
    compare(P.reduce_or_p, np.zeros((2, 0), bool), axes=(1,))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint8, np.float16, np.float32])
def test_dtypes_are_preserved_not_promoted(dtype):
    """torch widens int sums/cumsums to int64; the rules say the dtype stays."""
    x = np.arange(1, 7).reshape(2, 3).astype(dtype)
    compare(P.reduce_sum_p, x, axes=(0, 1))
    compare(P.reduce_prod_p, x, axes=(1,))
    compare(P.cumsum_p, x, axis=1, reverse=False)
    compare(P.add_p, x, x)
    compare(P.mul_p, x, np.asarray(2, dtype)[()])
    compare(P.dot_general_p, x, x.T.copy(), dimension_numbers=(((1,), (0,)), ((), ())))
    compare(P.reduce_max_p, x, axes=(0,))


@pytest.mark.parametrize("dtype", NUMS)
def test_sign_of_zero_and_nan(dtype):
    x = np.array([0, -0.0, 3, -2], dtype) if dtype in FLOATS else np.array([0, 3, -2], dtype)
    got = to_host(compare(P.sign_p, x))
    assert got[0] == 0
    if dtype in FLOATS:
        assert np.isnan(to_host(compare(P.sign_p, np.array([np.nan, -np.nan], dtype)))).all()


@pytest.mark.parametrize("prim", [P.max_p, P.min_p])
def test_max_min_propagate_nan(prim):
    x = np.array([np.nan, 1.0, np.nan, -np.inf])
    y = np.array([1.0, np.nan, np.nan, 0.0])
    got = to_host(compare(prim, x, y))
    assert np.isnan(got[:3]).all()
    m = np.array([[1.0, np.nan], [2.0, 3.0]])
    compare(P.reduce_max_p, m, axes=(1,))
    compare(P.reduce_min_p, m, axes=(0, 1))


def test_bool_max_min_and_or_xor_not():
    x = np.array([True, True, False, False])
    y = np.array([True, False, True, False])
    for prim in (P.max_p, P.min_p, P.and_p, P.or_p, P.xor_p):
        compare(prim, x, y)
    compare(P.not_p, x)
    compare(P.reduce_max_p, x, axes=(0,))
    compare(P.reduce_min_p, x, axes=(0,))
    compare(P.not_p, np.array([0, -1, 5], np.int32))  # bitwise on ints


@pytest.mark.parametrize("dtype", NUMS)
def test_integer_pow(dtype):
    x = np.array([-3, -1, 0, 2, 5], dtype)
    for y in (0, 1, 2, 3, 7):
        compare(P.integer_pow_p, x, y=y)
    if dtype in FLOATS:
        compare(P.integer_pow_p, np.array([-2.0, 0.5, np.nan], dtype), y=-3)
        compare(P.integer_pow_p, np.array([np.nan, np.inf], dtype), y=0)
    else:
        with pytest.raises(ValueError, match="negative"):
            on_torch(P.integer_pow_p, x, y=-1)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cumsum_reverse(axis, reverse):
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    compare(P.cumsum_p, x, axis=axis, reverse=reverse)
    compare(P.cumsum_p, x.astype(np.float32) / 7, axis=axis, reverse=reverse)


@pytest.mark.parametrize("config", [
    ((0, 0, 0), (0, 0, 0)), ((1, 2, 0), (0, 3, 0)), ((-1, 0, 0), (0, -2, 0)),
    ((0, 0, 2), (1, 1, 1)), ((-1, -1, 1), (2, -3, 3)), ((-2, 0, 1), (-4, -4, 2)), ((1, 1, 3), (0, 0, 0)),
])
def test_pad_negative_and_interior(config):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    compare(P.pad_p, x, np.float32(-1), padding_config=config)


def test_pad_edge_cases():
    compare(P.pad_p, np.zeros((0, 2), np.int32), np.int32(7), padding_config=((1, 1, 3), (0, 1, 0)))
    compare(P.pad_p, np.float64(3.0), np.float64(1.0), padding_config=())
    compare(P.pad_p, np.array([True, False]), np.bool_(True), padding_config=((1, 0, 1),))


def test_gather_and_scatter_add_with_repeated_and_negative_indices():
    x = np.arange(15.0).reshape(3, 5)
    idx = np.array([[0, 4, 4], [-1, 0, 2]])
    for axis, n in ((0, 3), (1, 5)):
        i = np.where(idx >= n, n - 1, idx)
        compare(P.gather_p, x, i, axis=axis)
        upd_shape = x.shape[:axis] + i.shape + x.shape[axis + 1:]
        compare(P.scatter_add_p, x, i, np.ones(upd_shape), axis=axis)
    compare(P.gather_p, x, np.int32(2), axis=1)  # 0-d index, int32
    compare(P.scatter_add_p, x, np.int64(1), np.ones(3), axis=1)
    got = compare(P.scatter_add_p, np.zeros(3, np.int32), np.array([1, 1, 1, 2]),
                  np.array([1, 2, 3, 4], np.int32), axis=0)
    np.testing.assert_array_equal(to_host(got), [0, 6, 4])
    compare(P.scatter_add_p, np.zeros(3, bool), np.array([1, 1]), np.array([True, False]), axis=0)


def test_scatter_add_does_not_write_into_its_operand(backend):
    x = backend.asarray(np.zeros(3))
    bcast = bind(P.broadcast_in_dim_p, backend.asarray(np.float64(0.0)), shape=(3,), broadcast_dimensions=())
    for base in (x, bcast):
        out = bind(P.scatter_add_p, base, backend.asarray(np.array([0, 0])), backend.asarray(np.ones(2)), axis=0)
        np.testing.assert_array_equal(to_host(out), [2, 0, 0])
        np.testing.assert_array_equal(to_host(base), [0, 0, 0])


@pytest.mark.parametrize("dtype", NUMS + (np.dtype(np.int8), np.dtype(np.int16)))
def test_dot_general_with_batch_dims(dtype):
    rng = np.random.default_rng(1)
    lhs = sample(rng, (2, 3, 4, 5), dtype)
    rhs = sample(rng, (5, 2, 4, 6), dtype)
    compare(P.dot_general_p, lhs, rhs, dimension_numbers=(((3, 2), (0, 2)), ((0,), (1,))))
    compare(P.dot_general_p, lhs, lhs, dimension_numbers=(((1, 2, 3), (1, 2, 3)), ((0,), (0,))))
    compare(P.dot_general_p, lhs[0, 0], rhs[:, 0, 0], dimension_numbers=(((1,), (0,)), ((), ())))
    compare(P.dot_general_p, lhs[0, 0, 0], rhs[:, 0, 0, 0], dimension_numbers=(((0,), (0,)), ((), ())))
    compare(P.dot_general_p, np.zeros((2, 0), dtype), np.zeros((0, 3), dtype),
            dimension_numbers=(((1,), (0,)), ((), ())))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_int_matmul_fallback_matches_numpy(monkeypatch, dtype, backend):
    """The BLAS-free path dot_general takes for integers on CUDA, checked here on CPU."""
    from functrace.backends import torch_linalg

    monkeypatch.setattr(torch_linalg, "_INT_MATMUL_BLOCK", 7)  # force several chunks along k
    rng = np.random.default_rng(2)
    a = rng.integers(-50, 50, size=(3, 4, 9)).astype(dtype)
    b = rng.integers(-50, 50, size=(3, 9, 2)).astype(dtype)
    got = torch_linalg.int_matmul(backend.asarray(a), backend.asarray(b))
    assert got.dtype == tb.torch_dtype(dtype)
    np.testing.assert_array_equal(to_host(got), np.matmul(a, b))
    big = np.full((1, 1, 2), np.iinfo(dtype).max, dtype)  # overflow wraps, as in NumPy
    with np.errstate(over="ignore"):
        want = np.matmul(big, big.reshape(1, 2, 1))
    got = torch_linalg.int_matmul(backend.asarray(big), backend.asarray(big.reshape(1, 2, 1)))
    np.testing.assert_array_equal(to_host(got), want)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64, np.uint8, np.bool_])
def test_iota(dtype):
    for shape, dim in (((5,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((0, 2), 0)):
        if dtype is np.bool_ and shape[dim] > 2:
            continue
        compare(P.iota_p, dtype=np.dtype(dtype), shape=shape, dimension=dim)


@pytest.mark.parametrize("src", [F32, F64, I32, I64, BOOL, np.dtype(np.uint8)])
@pytest.mark.parametrize("dst", [F32, F64, I32, I64, BOOL, np.dtype(np.int8), np.dtype(np.float16)])
def test_convert_element_type(src, dst):
    x = np.array([-2.7, -1.5, -0.5, 0.0, 0.4, 1.5, 2.9, 100.2])
    if src.kind in "ub":
        x = np.abs(x)
    compare(P.convert_element_type_p, x.astype(src), new_dtype=dst)


def test_convert_float_to_int_truncates_and_nan_to_bool_is_true():
    got = compare(P.convert_element_type_p, np.array([-2.9, -0.5, 0.5, 2.9], np.float32), new_dtype=I32)
    np.testing.assert_array_equal(to_host(got), [-2, 0, 0, 2])
    got = compare(P.convert_element_type_p, np.array([np.nan, 0.0, -0.0, np.inf]), new_dtype=BOOL)
    np.testing.assert_array_equal(to_host(got), [True, False, False, True])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logistic_and_is_finite_at_extremes(dtype):
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0, np.nan, np.inf, -np.inf], dtype)
    compare(P.logistic_p, x)
    compare(P.is_finite_p, x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_elementwise_at_domain_edges(dtype):
    """inf, nan and out-of-domain inputs give the same inf/nan pattern as NumPy."""
    x = np.array([-2.0, -1.0, -0.0, 0.0, 1e-8, 1.0, 2.0, np.inf, -np.inf, np.nan], dtype)
    for prim in (P.asin_p, P.acos_p, P.atan_p, P.asinh_p, P.acosh_p, P.atanh_p, P.exp_p, P.exp2_p,
                 P.expm1_p, P.log_p, P.log1p_p, P.sqrt_p, P.sinh_p, P.cosh_p, P.tanh_p):
        compare(prim, x)
    compare(P.div_p, x, np.zeros_like(x))
    compare(P.atan2_p, x, x[::-1].copy())


def test_select_with_scalar_operands():
    pred = np.array([True, False, True])
    compare(P.select_p, pred, np.float32(1), np.arange(3, dtype=np.float32))
    compare(P.select_p, np.bool_(False), np.arange(3.0), np.ones(3))
    compare(P.select_p, np.bool_(True), np.int32(1), np.int32(2))


def test_binary_ops_with_a_scalar_operand():
    """A rank-0 operand stands for every position (the IR's scalar literals)."""
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    for name in ("add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "eq", "lt", "ge"):
        compare(P.all_primitives[name], x, np.float32(2))
        compare(P.all_primitives[name], np.float32(2), x)


def test_shape_primitives():
    x = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    compare(P.slice_p, x, start_indices=(0, 1, 0), limit_indices=(3, 4, 5), strides=(2, 2, 3))
    compare(P.slice_p, x, start_indices=(1, 2, 5), limit_indices=(1, 4, 5), strides=(1, 1, 1))
    compare(P.rev_p, x, dimensions=(0, 1, 2))
    compare(P.transpose_p, x, permutation=(1, 2, 0))
    compare(P.reshape_p, x, new_sizes=(5, 12))
    compare(P.reshape_p, x[:, :0], new_sizes=(0, 7))
    compare(P.broadcast_in_dim_p, x[:, :1], shape=(2, 3, 6, 5), broadcast_dimensions=(1, 2, 3))
    compare(P.concatenate_p, x, x[:, :1], dimension=1)
    compare(P.concatenate_p, x[:, :, :0], x, x, dimension=2)


# ---------------------------------------------------------------------------- the backend object
def test_results_are_tensors_on_the_backend_device(backend):
    out = lax.sin(np.ones(3, np.float32))
    assert isinstance(out, torch.Tensor)
    assert out.device == backend.device
    assert backend.array_types == (torch.Tensor,)
    assert ft.get_backend() == "torch"


def test_use_backend_switches_within_a_process():
    x = np.arange(3.0)
    with ft.use_backend("numpy"):
        assert isinstance(lax.exp(x), np.ndarray)
        with ft.use_backend("torch"):
            assert ft.get_backend() == "torch"
            assert isinstance(lax.exp(x), torch.Tensor)
            with ft.use_backend("numpy"):
                assert isinstance(lax.exp(x), np.ndarray)
        assert ft.get_backend() == "numpy"
        assert isinstance(lax.exp(x), np.ndarray)


def test_functrace_device_cpu(monkeypatch):
    monkeypatch.setenv("FUNCTRACE_DEVICE", "cpu")
    b = tb.make_backend()
    assert b.device == torch.device("cpu")
    assert b.asarray(np.ones(2)).device.type == "cpu"
    assert b.impls[P.iota_p](dtype=F32, shape=(3,), dimension=0).device.type == "cpu"


def test_functrace_device_default_and_errors(monkeypatch):
    monkeypatch.delenv("FUNCTRACE_DEVICE", raising=False)
    assert tb.make_backend().device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("FUNCTRACE_DEVICE", "tpu")
    with pytest.raises(BackendError, match="cpu, cuda"):
        tb.make_backend()
    if not torch.cuda.is_available():
        monkeypatch.setenv("FUNCTRACE_DEVICE", "cuda")
        with pytest.raises(BackendError, match="no CUDA device"):
            tb.make_backend()


def test_environment_variables_select_torch_on_cpu():
    """FUNCTRACE_BACKEND=torch FUNCTRACE_DEVICE=cpu, end to end through the registry."""
    code = ("import numpy as np, torch, functrace as ft; "
            "y = ft.lax.sin(np.ones(3)); "
            "assert ft.get_backend() == 'torch', ft.get_backend(); "
            "assert isinstance(y, torch.Tensor) and y.device.type == 'cpu' and y.dtype == torch.float64, y")
    env = dict(os.environ, FUNCTRACE_BACKEND="torch", FUNCTRACE_DEVICE="cpu")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device(monkeypatch):
    monkeypatch.setenv("FUNCTRACE_DEVICE", "cuda")
    b = tb.make_backend()
    x = b.asarray(np.arange(6, dtype=np.int64).reshape(2, 3))
    assert x.is_cuda and b.is_native(x)
    out = b.impls[P.dot_general_p](x, x.T, dimension_numbers=(((1,), (0,)), ((), ())))
    assert out.is_cuda and out.dtype == torch.int64
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(b.to_numpy(out), a @ a.T)
    assert not b.is_native(torch.ones(2))  # a CPU tensor is moved by asarray
    assert b.asarray(torch.ones(2)).is_cuda


def test_missing_torch_raises_backend_error_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    spec = importlib.util.spec_from_file_location("_torch_backend_without_torch", tb.__file__)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # importing the module itself must not fail
    with pytest.raises(BackendError, match=r"pip install functrace\[torch\]"):
        mod.make_backend()


def test_importing_functrace_does_not_import_torch():
    code = ("import sys, numpy as np, functrace as ft, functrace.numpy as fnp; "
            "import functrace.backends.numpy_backend; fnp.sum(fnp.sin(np.ones(3))); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    env = {k: v for k, v in os.environ.items() if k != "FUNCTRACE_BACKEND"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8",
                                   "float16", "float32", "float64", "complex64"])
def test_asarray_keeps_numpy_dtypes(backend, dtype):
    a = np.arange(4).astype(dtype)
    t = backend.asarray(a)
    assert isinstance(t, torch.Tensor) and t.device == backend.device
    assert tb.numpy_dtype(t.dtype) == np.dtype(dtype)
    back = backend.to_numpy(t)
    assert isinstance(back, np.ndarray) and back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, a)
    s = backend.asarray(a[1])  # a NumPy scalar
    assert s.shape == () and tb.numpy_dtype(s.dtype) == np.dtype(dtype)


def test_asarray_of_python_scalars_lists_and_tensors(backend):
    assert backend.asarray(1.5).dtype == torch.float64
    assert backend.asarray(3).dtype == torch.int64
    assert backend.asarray(True).dtype == torch.bool
    assert backend.asarray([[1.0, 2.0]]).shape == (1, 2)
    t32 = torch.ones(2, dtype=torch.float32, device=backend.device)
    assert backend.asarray(t32) is t32 and backend.is_native(t32)
    assert backend.asarray(torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(DTypeError):
        backend.asarray(np.array([object()]))


def test_asarray_of_readonly_and_negative_stride_arrays(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ro = np.broadcast_to(np.arange(3.0), (2, 3))
        np.testing.assert_array_equal(backend.to_numpy(backend.asarray(ro)), ro)
        rev = np.arange(5)[::-2]
        np.testing.assert_array_equal(backend.to_numpy(backend.asarray(rev)), rev)
        big_endian = np.arange(3, dtype=">f8")
        np.testing.assert_array_equal(backend.to_numpy(backend.asarray(big_endian)), big_endian)


def test_scalar_literals_are_cached_and_exact(backend):
    assert backend.scalar(np.float32(2.0)) is backend.scalar(np.float32(2.0))
    assert backend.scalar(np.float32(2.0)) is not backend.scalar(np.float64(2.0))
    neg_zero = backend.scalar(-0.0)
    assert torch.signbit(neg_zero) and not torch.signbit(backend.scalar(0.0))
    assert torch.isnan(backend.scalar(float("nan")))
    assert backend.scalar(np.uint64(2**64 - 1)).dtype == torch.uint64
    assert int(backend.asarray(np.int64(-(2**63)))) == -(2**63)


def test_impls_accept_scalar_operands(backend):
    """Literals reach implementations as NumPy/Python scalars while tracing with values."""
    x = backend.asarray(np.arange(3, dtype=np.float32))
    out = backend.impls[P.mul_p](x, np.float32(2))
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(to_host(out), [0, 2, 4])
    out = backend.impls[P.add_p](2.0, 3.0)  # Python floats are float64 literals
    assert out.dtype == torch.float64 and out.shape == ()
    out = backend.impls[P.select_p](True, np.int32(1), np.int32(2))
    assert out.dtype == torch.int32
    jaxpr, _, outs = trace_flat(lambda xs: [lax.mul(lax.add(xs[0], np.float32(1)), np.float32(2))], [x])
    assert isinstance(outs[0].val, torch.Tensor)
    np.testing.assert_array_equal(to_host(outs[0].val), [2, 4, 6])


def test_tensor_inputs_are_traced(backend):
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    closed = ft.make_jaxpr(lambda a: fnp.sum(fnp.sin(a), axis=0))(x)
    assert closed.jaxpr.invars[0].aval == ft.tracing.get_aval(np.zeros((2, 3), np.float32))
    assert closed.out_avals[0].str_short() == "f32[3]"
    with pytest.raises(DTypeError, match="bfloat16"):
        ft.make_jaxpr(lambda a: a)(torch.ones(2, dtype=torch.bfloat16))


def test_closed_over_numpy_constants_and_numpy_inputs(backend):
    w = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)
    b = np.float32(0.5)

    def f(x):  # fnp functions, not operators: eagerly, x is a plain tensor, not a tracer
        return fnp.sum(fnp.multiply(fnp.tanh(fnp.add(fnp.matmul(x, w), b)), 2.0), axis=1)

    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 6
    with ft.use_backend("numpy"):
        want = f(x)
    closed = ft.make_jaxpr(f)(x)
    for inp in (x, torch.from_numpy(x)):
        assert_matches(ft.eval_jaxpr(closed, inp), want, "eval_jaxpr")
    assert_matches(f(torch.from_numpy(x)), want, "eager")


def test_functrace_numpy_on_torch_tensors(backend):
    """fnp functions take tensors eagerly; operators and indexing work on the tracers of a jaxpr.

    (Eagerly, ``x + 1`` on a tensor is torch's own operator, not functrace's.)
    """
    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 5
    t = torch.from_numpy(a.copy())
    functions = [
        lambda x: fnp.mean(fnp.exp(x), axis=0),
        lambda x: fnp.subtract(fnp.maximum(x, 1.0), fnp.minimum(x, 1.0)),
        lambda x: fnp.where(fnp.greater(x, 1.0), x, fnp.negative(x)),
        lambda x: fnp.argmax(x, axis=1),
        lambda x: fnp.cumsum(x, axis=1),
        lambda x: fnp.matmul(fnp.transpose(x), x),
        lambda x: fnp.concatenate([x, x], axis=0),
    ]
    operators = [
        lambda x: (x.T @ x + 1) * 2 - x.sum(),
        lambda x: x[1:, ::2] / x[0, 1:3],
        lambda x: x[np.array([2, 0, 2])] ** 2,
    ]
    for i, f in enumerate(functions + operators):
        with ft.use_backend("numpy"):
            want = f(a)
        if i < len(functions):
            assert_matches(f(t), want, f"eager {i}")
        assert_matches(ft.eval_jaxpr(ft.make_jaxpr(f)(t), t), want, f"jaxpr {i}")
