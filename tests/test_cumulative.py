"""Cumulative reductions, associative_scan, lax.map, diff, ediff1d, gradient and trapezoid
against NumPy; derivatives (zeros in cumprod, ties in cummax: literals from JAX 0.10.2), jit
and vmap."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

check_grads = ft.test_util.check_grads
TOL = {np.float32: dict(atol=1e-2, rtol=1e-2, eps=1e-3), np.float64: dict(atol=1e-6, rtol=1e-6, eps=1e-5)}

ARRS = {
    "float": np.random.default_rng(0).standard_normal((3, 5)),
    "float32": np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32),
    "nan": np.array([[1.0, np.nan, 2.0], [3.0, -1.0, np.inf]]),
    "int": np.array([[2, -1, 3], [0, 5, -4]], np.int32),
    "bool": np.array([[True, False, True], [False, False, True]]),
    "empty": np.zeros((0, 3)),
}
NP_CUM = {lax.cumprod: np.cumprod, lax.cummax: np.maximum.accumulate, lax.cummin: np.minimum.accumulate,
          lax.cumlogsumexp: np.logaddexp.accumulate}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", list(NP_CUM), ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ARRS)
def test_lax_cumulative(name, op, reverse):
    x = ARRS[name]
    if (op is lax.cumlogsumexp and x.dtype.kind != "f") or (op is lax.cumprod and x.dtype == bool):
        with pytest.raises(TypeError):
            op(x)
        return
    for axis in range(-x.ndim, x.ndim):
        ref = NP_CUM[op]
        with np.errstate(all="ignore"):
            want = np.flip(ref(np.flip(x, axis), axis=axis), axis) if reverse else ref(x, axis=axis)
            want = want.astype(x.dtype)
        assert_close(op(x, axis=axis, reverse=reverse), want, rtol=1e-5 if x.dtype == np.float32 else 1e-12)
        assert_close(ft.jit(lambda x: op(x, axis=axis, reverse=reverse))(x), want,  # noqa: B023
                     rtol=1e-5 if x.dtype == np.float32 else 1e-12)


def test_cumulative_grads_as_jax():
    assert_close(ft.grad(lambda x: fnp.sum(lax.cummax(x)))(np.array([1.0, 3.0, 3.0, 2.0, 5.0])),
                 np.array([1.0, 2.0, 1.0, 0.0, 1.0]))
    assert_close(ft.grad(lambda x: fnp.sum(lax.cumprod(x)))(np.array([1.0, 0.0, 3.0, 0.0, 5.0])),
                 np.array([1.0, 4.0, 0.0, 0.0, 0.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_numpy_cumulative_grads(dtype):
    x = np.array([[0.5, 0.0, -1.2, 2.0], [1.5, -0.7, 0.0, 0.0]], dtype)
    check_grads(lambda x: fnp.cumprod(x, axis=1), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.cumulative_prod(x, axis=0, include_initial=True), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.diff(x, n=2, axis=1, prepend=1.0), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.gradient(x, 0.5, axis=1, edge_order=2), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.trapezoid(x * x, x=np.array([0.0, 0.5, 1.5, 3.0], dtype)), (x,), order=2,
                **TOL[dtype])
    check_grads(lambda x: lax.associative_scan(lambda a, b: a * b + a, x, axis=1), (x,), order=2, **TOL[dtype])


@pytest.mark.parametrize("name", ARRS)
def test_numpy_cumulative(name):
    x = ARRS[name]
    for axis in [None, 0, -1]:
        assert_close(fnp.cumprod(x, axis=axis), np.cumprod(x, axis=axis))
        assert_close(fnp.nancumsum(x, axis=axis), np.nancumsum(x, axis=axis))
        assert_close(fnp.nancumprod(x, axis=axis), np.nancumprod(x, axis=axis))
    assert_close(fnp.cumprod(x, dtype=np.float32), np.cumprod(x, dtype=np.float32), rtol=1e-5)
    for axis in (0, -1):
        for initial in (False, True):
            assert_close(fnp.cumulative_sum(x, axis=axis, include_initial=initial),
                         np.cumulative_sum(x, axis=axis, include_initial=initial))
            assert_close(fnp.cumulative_prod(x, axis=axis, include_initial=initial),
                         np.cumulative_prod(x, axis=axis, include_initial=initial))
    with pytest.raises(ValueError, match="axis"):
        fnp.cumulative_sum(x)
    assert_close(fnp.cumulative_sum(np.arange(4), include_initial=True), np.cumulative_sum(np.arange(4),
                                                                                          include_initial=True))


DIFF = [
    dict(), dict(n=2), dict(n=0), dict(axis=0), dict(prepend=0.0), dict(append=np.array([[9.0], [8.0], [7.0]])),
    dict(n=3, prepend=np.zeros((3, 2)), append=1.0), dict(n=6),
]


@pytest.mark.parametrize("kw", DIFF, ids=range(len(DIFF)))
def test_diff(kw):
    x = np.random.default_rng(2).integers(-5, 5, (3, 4)).astype(np.float64)
    assert_close(fnp.diff(x, **kw), np.diff(x, **kw))
    xi, xb = x.astype(np.int32), x > 0
    assert_close(fnp.diff(xi, n=2), np.diff(xi, n=2))
    assert_close(fnp.diff(xb, axis=0), np.diff(xb, axis=0))


def test_diff_errors():
    with pytest.raises(ValueError):
        fnp.diff(np.float64(1.0))
    with pytest.raises(ValueError):
        fnp.diff(np.arange(3.0), n=-1)


@pytest.mark.parametrize("kw", [dict(), dict(to_begin=-1), dict(to_end=[1, 2]), dict(to_begin=[5, 6], to_end=0)])
def test_ediff1d(kw):
    x = np.array([[1, 4], [9, 16]])
    assert_close(fnp.ediff1d(x, **kw), np.ediff1d(x, **kw))
    assert_close(fnp.ediff1d(np.array([2.5]), **kw), np.ediff1d(np.array([2.5]), **kw))


GRAD = [
    (np.arange(6.0) ** 2, (), {}),
    (np.arange(6.0) ** 3, (0.5,), dict(edge_order=2)),
    (np.array([1.0, 4.0, 2.0, 8.0, 3.0]), (np.array([0.0, 1.0, 3.0, 4.0, 7.0]),), {}),
    (np.array([1.0, 4.0, 2.0, 8.0, 3.0]), (np.array([0.0, 1.0, 3.0, 4.0, 7.0]),), dict(edge_order=2)),
    (np.array([1.0, 4.0, 2.0, 8.0]), (np.array([0.0, 2.0, 4.0, 6.0]),), dict(edge_order=2)),
    (np.random.default_rng(3).standard_normal((4, 5)), (), {}),
    (np.random.default_rng(3).standard_normal((4, 5)), (2.0, np.array([0.0, 1.0, 1.5, 3.0, 4.0])), dict(edge_order=2)),
    (np.random.default_rng(4).standard_normal((3, 4, 5)), (0.3,), dict(axis=(0, -1))),
    (np.random.default_rng(4).standard_normal((3, 4)), (), dict(axis=-1)),
    (np.array([[1, 5, 2], [7, 3, 3]]), (), {}),
]


@pytest.mark.parametrize("f,args,kw", GRAD, ids=range(len(GRAD)))
def test_gradient(f, args, kw):
    got, want = fnp.gradient(f, *args, **kw), np.gradient(f, *args, **kw)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_close(g, w)
    else:
        assert_close(got, want)


def test_gradient_errors_and_jit():
    with pytest.raises(ValueError, match="too small"):
        fnp.gradient(np.arange(2.0), edge_order=2)
    x = np.array([0.0, 1.0, 3.0, 4.0, 7.0])
    f = np.sin(x)
    assert_close(ft.jit(lambda f, x: fnp.gradient(f, x, edge_order=2))(f, x), np.gradient(f, x, edge_order=2))


TRAP = [
    (np.arange(5.0), {}), (np.arange(5.0), dict(dx=0.5)), (np.arange(5.0), dict(x=np.arange(5.0) ** 2)),
    (np.arange(12.0).reshape(3, 4), dict(axis=0)), (np.arange(12.0).reshape(3, 4), dict(x=np.array([0, 1, 3, 6]))),
    (np.arange(12.0).reshape(3, 4), dict(x=np.arange(12.0).reshape(3, 4) ** 2, axis=0)), (np.array([2.0]), {}),
    (np.arange(6).reshape(2, 3), {}),
]


@pytest.mark.parametrize("y,kw", TRAP, ids=range(len(TRAP)))
def test_trapezoid(y, kw):
    assert_close(fnp.trapezoid(y, **kw), np.trapezoid(y, **kw))


# ---------------------------------------------------------------------------- scans
@pytest.mark.parametrize("n", [0, 1, 2, 5, 8, 13])
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan(n, reverse):
    x = np.random.default_rng(n).standard_normal((2, n))
    got = lax.associative_scan(lax.add, x, reverse=reverse, axis=1)
    want = np.flip(np.cumsum(np.flip(x, 1), 1), 1) if reverse else np.cumsum(x, 1)
    assert_close(got, want)
    # a pytree of elements, and a non-commutative combination (composition of affine maps)
    a, b = np.random.default_rng(1).uniform(0.5, 1.5, (n,)), np.random.default_rng(2).standard_normal((n,))
    ga, gb = lax.associative_scan(lambda p, q: (q[0] * p[0], q[0] * p[1] + q[1]), (a, b), reverse=reverse)
    wa, wb, pa, pb = np.zeros(n), np.zeros(n), 1.0, 0.0
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        pa, pb = a[i] * pa, a[i] * pb + b[i]
        wa[i], wb[i] = pa, pb
    assert_close(ga, wa), assert_close(gb, wb)
    bools = x > 0
    assert_close(lax.associative_scan(lax.bitwise_or, bools, axis=-1), np.logical_or.accumulate(bools, axis=-1))


def test_associative_scan_jit_vmap():
    x = np.random.default_rng(5).standard_normal((3, 7))
    assert_close(ft.jit(lambda x: lax.associative_scan(lax.max, x, axis=1))(x), np.maximum.accumulate(x, axis=1))
    assert_close(ft.vmap(lambda r: lax.associative_scan(lax.add, r))(x), np.cumsum(x, axis=1))
    assert_close(ft.vmap(lambda r: lax.cumprod(r))(x), np.cumprod(x, axis=1))
    assert_close(ft.vmap(lambda r: lax.cummax(r), in_axes=1, out_axes=1)(x), np.maximum.accumulate(x, axis=0))
    assert_close(ft.vmap(lambda r: fnp.diff(r))(x), np.diff(x, axis=1))


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 7, 10])
def test_lax_map(batch_size):
    xs = np.arange(21.0).reshape(7, 3)

    def f(row):
        return {"s": fnp.sum(row ** 2), "r": row[::-1]}

    got = lax.map(f, xs, batch_size=batch_size)
    assert_close(got["s"], np.sum(xs ** 2, axis=1)), assert_close(got["r"], xs[:, ::-1])
    jitted = ft.jit(lambda xs: lax.map(f, xs, batch_size=batch_size))(xs)
    assert_close(jitted["s"], np.sum(xs ** 2, axis=1))
    g = ft.grad(lambda xs: fnp.sum(lax.map(lambda r: fnp.sin(r) * r, xs, batch_size=batch_size)))(xs)
    assert_close(g, np.sin(xs) + xs * np.cos(xs))
    pair = lax.map(lambda a: (a[0] * 2, a[1]), (np.arange(4.0), np.arange(4)), batch_size=batch_size)
    assert_close(pair[0], np.arange(4.0) * 2), assert_close(pair[1], np.arange(4))


def test_lax_map_is_a_lax_name():
    assert callable(lax.map) and lax.map.__module__ == "functrace.ops.cumulative"
    assert host(lax.slice(np.arange(4.0), (1,), (3,))).tolist() == [1.0, 2.0]  # the builtin map still works in lax


def test_lax_cumulative_signatures_are_jaxs():
    """``lax.cumsum(x, axis=0, reverse=False)`` as JAX (and as cumprod/cummax/...): the axis
    defaults to 0 and may be negative; a bad axis names the user's line."""
    x = np.arange(6.0).reshape(2, 3)
    assert_close(lax.cumsum(x), np.cumsum(x, axis=0))
    assert_close(lax.cumsum(x, -1, reverse=True), np.cumsum(x[:, ::-1], axis=1)[:, ::-1])
    assert_close(ft.jit(lambda v: lax.cumsum(v, reverse=True))(x), np.cumsum(x[::-1], axis=0)[::-1])
    for f in (lambda: lax.cumsum(x, 2), lambda: lax.cumprod(x, -3)):
        with pytest.raises(ft.errors.AxisError, match=r"test_cumulative\.py:\d+: axis .* out of bounds"):
            f()
