"""Indexed updates (``x.at[...]``), the scatter primitives and dynamic slicing, against NumPy
references: every index form, every method, out-of-bounds modes, repeated indices; grads,
jit and vmap. Behaviour that only JAX defines (out-of-bounds handling, the mean of tied
maxima's tangents) is checked against literals produced with JAX 0.10.2."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

check_grads = ft.test_util.check_grads
TOL = {np.float32: dict(atol=1e-2, rtol=1e-2, eps=1e-3), np.float64: dict(atol=1e-6, rtol=1e-6, eps=1e-5)}

X = np.arange(24.0).reshape(2, 3, 4)
INDICES = [
    1, -1, (1, 2), (slice(None), 0), (Ellipsis, 1), (0, slice(1, None, 2)), slice(None, None, -1),
    np.array([1, 0, 1]), (slice(None), np.array([0, 2])), (np.array([0, 1]), slice(None), np.array([3, 0])),
    (np.array([[1], [0]]), np.array([0, 2, 1])), (None, 0), (1, None, np.array([2, 0])),
    X > 20, (0, np.array([True, False, True])), (np.int64(1), Ellipsis, np.array(-2)),
]


def _np_update(x, idx, kind, v):
    """NumPy's unbuffered in-place form of each update (ufunc.at accumulates repeats)."""
    out = x.copy()
    ufunc = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}.get(kind)
    if kind == "set":
        out[idx] = v
    elif kind == "subtract":
        np.add.at(out, idx, np.negative(v))
    else:
        ufunc.at(out, idx, v)
    return out


@pytest.mark.parametrize("kind", ["set", "add", "subtract", "multiply", "min", "max"])
@pytest.mark.parametrize("idx", INDICES, ids=range(len(INDICES)))
def test_at_updates_match_numpy(idx, kind):
    shape = X[idx].shape
    v = np.random.default_rng(0).integers(-5, 30, shape).astype(np.float64)
    want = _np_update(X, idx, kind, v)
    assert_close(getattr(fnp.at(X)[idx], kind)(v), want, what="fnp.at: ")
    assert_close(ft.jit(lambda x, v: getattr(x.at[idx], kind)(v))(X, v), want, what="traced: ")
    assert_close(fnp.at(X)[idx].get(), X[idx])
    assert_close(ft.jit(lambda x: x.at[idx].get())(X), X[idx])


def test_scalar_values_broadcast_and_cast():
    x = np.zeros((3, 4), np.float32)
    assert_close(fnp.at(x)[1].set(2), np.array([[0] * 4, [2] * 4, [0] * 4], np.float32))
    xi = np.arange(5)
    assert_close(fnp.at(xi)[np.array([0, 4])].add(np.array([1.7, 2.2])), np.array([1, 1, 2, 3, 6]))
    assert_close(fnp.at(xi)[1].divide(2), np.array([0.0, 0.5, 2.0, 3.0, 4.0]))
    assert_close(fnp.at(np.array([True, False]))[1].set(True), np.array([True, True]))


def test_repeated_indices():
    x = np.arange(5.0)
    i = np.array([1, 1, 1])
    assert_close(fnp.at(x)[i].set(np.array([5.0, 6.0, 7.0])), np.array([0.0, 7.0, 2.0, 3.0, 4.0]))  # last wins
    assert_close(fnp.at(x)[i].add(1.0), np.array([0.0, 4.0, 2.0, 3.0, 4.0]))
    assert_close(fnp.at(x)[i].multiply(2.0), np.array([0.0, 8.0, 2.0, 3.0, 4.0]))
    assert_close(fnp.at(x)[np.array([2, 2])].power(2.0), np.array([0.0, 1.0, 16.0, 3.0, 4.0]))  # as JAX
    assert_close(fnp.at(x)[i].min(np.array([3.0, -1.0, 0.5])), np.array([0.0, -1.0, 2.0, 3.0, 4.0]))
    assert_close(fnp.at(x)[np.array([0, 0, 3])].max(np.array([3.0, 9.0, 1.0])), np.array([9.0, 1.0, 2.0, 3.0, 4.0]))
    assert_close(fnp.at(x)[np.array([3, 1])].apply(lambda v: v * 10), np.array([0.0, 10.0, 2.0, 30.0, 4.0]))
    assert_close(fnp.at(x)[np.array([1, 1, 3, 1, 9])].apply(lambda v: v + 1), np.array([0.0, 4.0, 2.0, 4.0, 4.0]))
    got = ft.jit(lambda x, i: x.at[i].apply(lambda v: v * 10))(x, np.array([3, 1]))
    assert_close(got, np.array([0.0, 10.0, 2.0, 30.0, 4.0]))


def test_out_of_bounds_modes_as_jax():
    x = np.arange(5.0)
    i = np.array([1, 7, -1, -9])
    assert_close(fnp.at(x)[i].get(), np.array([1.0, 4.0, 4.0, 0.0]))  # clamped
    assert_close(fnp.at(x)[7].get(), np.float64(4.0))
    assert_close(fnp.at(x)[i].set(10.0), np.array([0.0, 10.0, 2.0, 3.0, 10.0]))  # dropped
    assert_close(fnp.at(x)[np.array([1, 7, -9])].set(10.0, mode="clip"), np.array([10.0, 10.0, 2.0, 3.0, 10.0]))
    assert_close(fnp.at(x)[np.array([1, 7])].get(mode="fill"), np.array([1.0, np.nan]))
    assert_close(fnp.at(np.arange(5))[np.array([1, 7])].get(mode="fill"), np.array([1, np.iinfo(np.int64).min]))
    assert_close(fnp.at(np.arange(5, dtype=np.uint8))[7].get(mode="fill"), np.uint8(255))
    assert_close(fnp.at(x)[np.array([1, 7])].get(mode="fill", fill_value=-1.0), np.array([1.0, -1.0]))
    assert_close(fnp.at(x)[9].add(1.0), x)
    with pytest.raises(ValueError, match="mode"):
        fnp.at(x)[0].set(1.0, mode="wrap")
    # traced indices take the same paths
    f = ft.jit(lambda x, i: (x.at[i].get(), x.at[i].set(10.0), x.at[i].get(mode="fill", fill_value=-1.0)))
    got = f(x, i)
    assert_close(got[0], np.array([1.0, 4.0, 4.0, 0.0]))
    assert_close(got[1], np.array([0.0, 10.0, 2.0, 3.0, 10.0]))
    assert_close(got[2], np.array([1.0, -1.0, 4.0, -1.0]))


def test_empty_index_and_array():
    x = np.arange(4.0)
    assert_close(fnp.at(x)[np.zeros((0,), np.int64)].set(1.0), x)
    assert_close(fnp.at(np.zeros((0, 3)))[:, 1].add(1.0), np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_at_grads(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(dtype)
    v = rng.standard_normal((2, 3)).astype(dtype)
    i = np.array([2, 2])
    for f in (lambda x, v: x.at[i].set(v), lambda x, v: x.at[i].add(v * v), lambda x, v: x.at[1:3].subtract(v),
              lambda x, v: x.at[np.array([0, 3])].multiply(v), lambda x, v: x.at[np.array([3, 1])].divide(v + 3),
              lambda x, v: x.at[:, 1].apply(fnp.sin), lambda x, v: x.at[np.array([0, 2]), 1].get() * v[0, :2]):
        check_grads(f, (x, v), order=2, **TOL[dtype])


def test_at_grads_as_jax():
    gx, gu = ft.grad(lambda x, u: fnp.sum(x.at[np.array([0, 0])].max(u)), (0, 1))(np.array([1.0, 0.0]),
                                                                                  np.array([1.0, 1.0]))
    assert_close(gx, np.array([1 / 3, 1.0])), assert_close(gu, np.array([1 / 3, 1 / 3]))
    gx, gu = ft.grad(lambda x, u: fnp.sum(x.at[np.array([1, 1])].set(u) * np.arange(3.0)), (0, 1))(
        np.ones(3), np.array([2.0, 3.0]))
    assert_close(gx, np.array([0.0, 0.0, 2.0])), assert_close(gu, np.array([0.0, 1.0]))  # only the last write counts


def test_multiply_grad_needs_unique_indices():
    f = lambda u: fnp.sum(fnp.at(fnp.ones(3))[np.array([0, 0])].multiply(u))  # noqa: E731
    with pytest.raises(NotImplementedError, match="unique"):
        ft.grad(f)(np.array([2.0, 3.0]))
    g = ft.jit(ft.grad(lambda u, i: fnp.sum(fnp.at(fnp.ones(3))[i].multiply(u, unique_indices=True))))
    assert_close(g(np.array([2.0, 3.0]), np.array([2, 0])), np.array([1.0, 1.0]))


def test_at_vmap():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 1], [3, 3], [2, 0]])
    v = np.arange(6.0).reshape(3, 2) + 100
    got = ft.vmap(lambda r, i, u: r.at[i].set(u))(x, idx, v)
    want = x.copy()
    for b in range(3):
        want[b, idx[b]] = v[b]
    assert_close(got, want)
    got = ft.vmap(lambda r, i: r.at[i].add(1.0), in_axes=(0, None))(x, np.array([1, 1]))
    assert_close(got, x + np.array([0.0, 2.0, 0.0, 0.0]))
    for w in (lax.scatter_min, lax.scatter_max, lax.scatter_mul):
        got = ft.vmap(lambda r, i, u: w(r, i, u, 0))(x, idx, v)  # noqa: B023
        ref = {lax.scatter_min: np.minimum, lax.scatter_max: np.maximum, lax.scatter_mul: np.multiply}[w]
        want = x.copy()
        for b in range(3):
            ref.at(want[b], idx[b], v[b])
        assert_close(got, want)


def test_tracer_has_at_and_eager_error_names_it():
    assert isinstance(ft.make_jaxpr(lambda x: x.at[0].set(1.0))(np.zeros(3)), ft.ClosedJaxpr)
    assert "IndexUpdateHelper" in repr(fnp.at(np.zeros(2)))


# ---------------------------------------------------------------------------- dynamic slicing
def _np_dynamic_slice(x, starts, sizes):
    out = []
    for n, s, k in zip(x.shape, starts, sizes, strict=True):
        s = s + n if s < 0 else s
        s = min(max(s, 0), n - k)
        out.append(slice(s, s + k))
    return tuple(out)


DS = [((1, 2), (2, 2)), ((-1, 0), (2, 3)), ((5, -9), (1, 4)), ((0, 0), (0, 4)), ((2, 3), (3, 5))]


@pytest.mark.parametrize("starts,sizes", DS, ids=range(len(DS)))
def test_dynamic_slice(starts, sizes):
    x = np.arange(15.0).reshape(3, 5)
    block = _np_dynamic_slice(x, starts, sizes)
    assert_close(lax.dynamic_slice(x, starts, sizes), x[block])
    f = ft.jit(lambda x, s0, s1: lax.dynamic_slice(x, (s0, s1), sizes))
    assert_close(f(x, np.int32(starts[0]), np.int64(starts[1])), x[block])
    u = -np.ones(sizes)
    want = x.copy()
    want[block] = u
    assert_close(lax.dynamic_update_slice(x, u, starts), want)
    assert_close(ft.jit(lambda x, u, s: lax.dynamic_update_slice(x, u, s))(x, u, np.array(starts)), want)


def test_dynamic_slice_as_jax():
    x = np.arange(5.0)
    assert_close(lax.dynamic_slice(x, (-2,), (2,)), np.array([3.0, 4.0]))
    assert_close(lax.dynamic_slice(x, (4,), (3,)), np.array([2.0, 3.0, 4.0]))
    assert_close(lax.dynamic_slice(x, (-9,), (2,)), np.array([0.0, 1.0]))
    assert_close(lax.dynamic_update_slice(x, np.ones(2), (-1,)), np.array([0.0, 1.0, 2.0, 1.0, 1.0]))


def test_in_dim_helpers():
    x = np.arange(24).reshape(2, 3, 4)
    assert_close(lax.dynamic_slice_in_dim(x, 1, 2, axis=2), x[:, :, 1:3])
    assert_close(lax.dynamic_index_in_dim(x, -1, axis=1), x[:, 2:3])
    assert_close(lax.dynamic_index_in_dim(x, 1, axis=1, keepdims=False), x[:, 1])
    want = x.copy()
    want[:, :, 2:4] = 0
    assert_close(lax.dynamic_update_slice_in_dim(x, np.zeros((2, 3, 2), x.dtype), 3, axis=-1), want)
    want = x.copy()
    want[1] = -1
    assert_close(lax.dynamic_update_index_in_dim(x, -np.ones((3, 4), x.dtype), 1, 0), want)
    assert_close(lax.slice_in_dim(x, 1, None, axis=1), x[:, 1:])
    assert_close(lax.slice_in_dim(x, -3, -1, stride=1, axis=2), x[:, :, -3:-1])
    assert_close(lax.slice_in_dim(x, None, 4, stride=2, axis=2), x[:, :, 0:4:2])
    assert_close(lax.index_in_dim(x, -1, axis=2, keepdims=False), x[:, :, -1])
    assert_close(lax.index_in_dim(x, 0), x[0:1])
    with pytest.raises(IndexError):
        lax.index_in_dim(x, 3, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_dynamic_grads(dtype):
    rng = np.random.default_rng(2)
    x, u = rng.standard_normal((4, 5)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)
    check_grads(lambda x: lax.dynamic_slice(x, (np.int32(3), np.int32(1)), (2, 3)) ** 2, (x,), order=2, **TOL[dtype])
    check_grads(lambda x, u: lax.dynamic_update_slice(x, u * u, (np.int32(1), np.int32(-1))), (x, u), order=2,
                **TOL[dtype])
    check_grads(lambda x: lax.dynamic_index_in_dim(x, np.int32(2), 1, keepdims=False), (x,), order=2, **TOL[dtype])


def test_dynamic_vmap_batched_starts():
    x = np.arange(30.0).reshape(3, 10)
    starts = np.array([0, 4, 9])
    got = ft.vmap(lambda r, s: lax.dynamic_slice(r, (s,), (3,)))(x, starts)
    assert_close(got, np.stack([x[b, min(s, 7):min(s, 7) + 3] for b, s in enumerate(starts)]))
    got = ft.vmap(lambda s: lax.dynamic_slice_in_dim(x, s, 2, axis=1), out_axes=1)(np.array([-1, 3]))
    assert_close(got, np.stack([x[:, 8:10], x[:, 3:5]], axis=1))
    u = -np.ones((3, 2))
    got = ft.vmap(lambda r, v, s: lax.dynamic_update_slice(r, v, (s,)))(x, u, starts)
    want = x.copy()
    for b, s in enumerate(starts):
        s = min(s, 8)
        want[b, s:s + 2] = -1
    assert_close(got, want)
    got = ft.vmap(lambda r: lax.dynamic_update_slice(r, np.zeros(2), (np.int32(1),)))(x)
    want = x.copy()
    want[:, 1:3] = 0
    assert_close(got, want)
    # grad of a vmapped dynamic slice: the transpose writes the cotangent back
    g = ft.grad(lambda x: fnp.sum(ft.vmap(lambda r, s: lax.dynamic_slice(r, (s,), (3,)))(x, starts)))(x)
    want = np.zeros_like(x)
    for b, s in enumerate(starts):
        want[b, min(s, 7):min(s, 7) + 3] = 1
    assert_close(g, want)


def test_lax_scatter_family():
    x = np.zeros((2, 4))
    idx = np.array([[3, 1], [1, 1]])
    u = np.arange(8.0).reshape(2, 2, 2) + 1
    want = x.copy()
    flat = idx.ravel()
    for k, i in enumerate(flat):
        want[:, i] = u.reshape(2, 4)[:, k]
    assert_close(lax.scatter(x, idx, u, 1), want)
    for w, ufunc in ((lax.scatter_mul, np.multiply), (lax.scatter_min, np.minimum), (lax.scatter_max, np.maximum)):
        want = x.copy() + 2
        ufunc.at(want, (slice(None), flat), u.reshape(2, 4))
        assert_close(w(x + 2, idx, u, 1), want)
    assert_close(host(lax.scatter_max(np.array([False, False]), np.array([1, 1]), np.array([True, False]))),
                 np.array([False, True]))
