"""Sorting and selection against NumPy: sort, argsort, lexsort, partition, searchsorted,
digitize, the quantile family, unique and nonzero, on a table of inputs with ties, NaN, signed
zeros, empty arrays and int/float/bool dtypes; derivatives with check_grads; jit and vmap.
Reference numbers that only JAX defines (descending ties, partition's order, ``size=``
padding) were produced with JAX 0.10.2 and are written here as literals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError

check_grads = ft.test_util.check_grads
TOL = {np.float32: dict(atol=1e-2, rtol=1e-2, eps=1e-3), np.float64: dict(atol=1e-6, rtol=1e-6, eps=1e-5)}

ARRAYS = {
    "ties": np.array([3.0, 1.0, 2.0, 1.0, 3.0, 0.5]),
    "nan": np.array([2.0, np.nan, -1.0, np.nan, 0.0, 5.0]),
    "signed_zero": np.array([0.0, -0.0, 1.0, -0.0, 0.0]),
    "inf": np.array([np.inf, -1.0, -np.inf, 2.0]),
    "int": np.array([4, -2, 7, -2, 0, 4, 4], np.int32),
    "bool": np.array([True, False, True, False, False]),
    "float32_2d": np.random.default_rng(0).integers(-3, 3, (3, 4)).astype(np.float32),
    "int_3d": np.random.default_rng(1).integers(0, 4, (2, 3, 4)).astype(np.int64),
    "empty": np.zeros((0,)),
    "empty_2d": np.zeros((2, 0)),
}


def _axes(x):
    return [-1, 0, None] if x.ndim > 1 else [-1, None]


@pytest.mark.parametrize("name", ARRAYS)
def test_sort_and_argsort_match_numpy(name):
    x = ARRAYS[name]
    for axis in _axes(x):
        assert_close(fnp.sort(x, axis=axis), np.sort(x, axis=axis, kind="stable"), what=f"sort axis={axis}: ")
        assert_close(fnp.argsort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"), what=f"argsort {axis}: ")


def _descending_argsort(x, axis):
    """Descending and stable (equal values in input order; NaN first): NumPy's stable sort of
    the reversed array, reversed back."""
    n = x.shape[axis]
    return n - 1 - np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)


@pytest.mark.parametrize("name", ARRAYS)
def test_descending(name):
    x = ARRAYS[name]
    for axis in ([-1, 0] if x.ndim > 1 else [-1]):
        want = _descending_argsort(x, axis)
        assert_close(fnp.argsort(x, axis=axis, descending=True), want)
        assert_close(fnp.sort(x, axis=axis, descending=True), np.take_along_axis(x, want, axis))


def test_descending_ties_as_jax():
    assert_close(fnp.argsort(np.array([1, 3, 3, 2, 1]), descending=True), np.array([1, 2, 3, 0, 4]))


def test_top_k_as_jax():
    vals, idx = ft.lax.top_k(np.array([1.0, np.nan, 3.0, 3.0]), 3)
    assert_close(vals, np.array([np.nan, 3.0, 3.0]))
    assert_close(idx, np.array([1, 2, 3], np.int32))
    vals, idx = ft.lax.top_k(np.array([[2, 5, 5, 1], [0, 0, 1, 0]]), 2)
    assert_close(vals, np.array([[5, 5], [1, 0]]))
    assert_close(idx, np.array([[1, 2], [2, 0]], np.int32))


def test_lax_sort_several_operands():
    k1 = np.array([1, 0, 1, 0, 1])
    k2 = np.array([2.0, 2.0, 1.0, 1.0, 2.0])
    v = np.arange(5.0)
    a, b, c = ft.lax.sort((k1, k2, v), num_keys=2)
    order = np.lexsort((k2, k1))
    assert_close(a, k1[order]), assert_close(b, k2[order]), assert_close(c, v[order])
    k, val = ft.lax.sort_key_val(np.array([3.0, 1.0, 2.0]), np.array([10, 20, 30]))
    assert_close(k, np.array([1.0, 2.0, 3.0])), assert_close(val, np.array([20, 30, 10]))


@pytest.mark.parametrize("keys", [
    [np.array([1, 0, 1, 0]), np.array([0, 0, 1, 1])],
    [np.array([2.0, np.nan, 1.0, 2.0]), np.array([True, False, True, True])],
    np.array([[3, 1, 2, 1], [0, 0, 0, 0], [1, 1, 0, 0]]),
])
def test_lexsort(keys):
    assert_close(fnp.lexsort(keys), np.lexsort(keys))


def test_lexsort_axis():
    k = np.random.default_rng(2).integers(0, 3, (2, 3, 4))
    assert_close(fnp.lexsort(k, axis=0), np.lexsort(k, axis=0))


@pytest.mark.parametrize("kth", [0, 2, 5, -1])
def test_partition(kth):
    x = np.array([5, 1, 4, 1, 3, 2])
    p, ip = host(fnp.partition(x, kth)), host(fnp.argpartition(x, kth))
    k = kth % 6
    assert p[k] == np.sort(x)[k] and (p[:k] <= p[k]).all() and (p[k + 1:] >= p[k]).all()
    np.testing.assert_array_equal(x[ip], p)


def test_partition_order_as_jax():
    x = np.array([5, 1, 4, 1, 3, 2])
    assert_close(fnp.partition(x, 2), np.array([1, 1, 2, 5, 4, 3]))
    assert_close(fnp.argpartition(x, 2), np.array([1, 3, 5, 0, 2, 4]))
    y = np.arange(12.0)[::-1].reshape(3, 4)
    assert_close(fnp.partition(y, 1, axis=0), np.array([[3.0, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]]))


SEARCH = [
    (np.array([1.0, 2.0, 2.0, 3.0, np.nan]), np.array([[0.0, 2.0], [2.5, np.nan]])),
    (np.array([-3, 0, 0, 5, 9]), np.array([-4, 0, 5, 10, 4])),
    (np.array([1.0]), np.array([0.5, 1.0, 1.5])),
    (np.zeros((0,)), np.array([1.0, 2.0])),
    (np.array([0.0, 1.0, 2.0]), np.float64(1.0)),
    (np.array([False, True]), np.array([True, False])),
]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("method", ["scan", "compare_all"])
@pytest.mark.parametrize("a,v", SEARCH, ids=range(len(SEARCH)))
def test_searchsorted(a, v, side, method):
    assert_close(fnp.searchsorted(a, v, side=side, method=method), np.searchsorted(a, v, side=side))


def test_searchsorted_sorter_and_jit():
    a = np.array([3.0, 1.0, 2.0, 5.0])
    v = np.array([0.0, 2.0, 4.0, 6.0])
    sorter = np.argsort(a)
    assert_close(fnp.searchsorted(a, v, sorter=sorter), np.searchsorted(a, v, sorter=sorter))
    f = ft.jit(lambda a, v: fnp.searchsorted(a, v, side="right"))
    assert_close(f(np.sort(a), v), np.searchsorted(np.sort(a), v, side="right"))


@pytest.mark.parametrize("bins", [np.array([0.0, 1.0, 2.5, 4.0]), np.array([4.0, 2.5, 1.0, 0.0]), np.array([1.0]),
                                  np.zeros((0,))], ids=["up", "down", "one", "empty"])
@pytest.mark.parametrize("right", [False, True])
def test_digitize(bins, right):
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 4.0, 9.0])
    assert_close(fnp.digitize(x, bins, right=right), np.digitize(x, bins, right=right))


# ---------------------------------------------------------------------------- quantiles
METHODS = ["linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf", "averaged_inverted_cdf",
           "closest_observation", "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased",
           "normal_unbiased"]
QX = {
    "odd": np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]),
    "even_2d": np.random.default_rng(3).standard_normal((4, 6)),
    "int": np.array([[7, 2, 9, 4], [1, 1, 0, 3]]),
    "float32": np.random.default_rng(4).standard_normal((5,)).astype(np.float32),
    "one": np.array([2.5]),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", QX)
def test_quantile_methods(name, method):
    x = QX[name]
    q = np.array([0.0, 0.1, 0.25, 0.5, 0.77, 1.0])
    for axis in ([None, 0, -1] if x.ndim > 1 else [None]):
        want = np.quantile(x, q, axis=axis, method=method)
        got = fnp.quantile(x, q, axis=axis, method=method)
        assert_close(got, want, rtol=1e-5 if x.dtype == np.float32 else 1e-12, what=f"axis={axis}: ")
    assert_close(fnp.quantile(x, 0.3, method=method, keepdims=True),
                 np.quantile(x, 0.3, method=method, keepdims=True), rtol=1e-5)


def test_quantile_axes_and_percentile():
    x = np.random.default_rng(5).standard_normal((3, 4, 5))
    assert_close(fnp.quantile(x, [0.2, 0.9], axis=(0, 2)), np.quantile(x, [0.2, 0.9], axis=(0, 2)))
    assert_close(fnp.percentile(x, 30.0, axis=1, keepdims=True), np.percentile(x, 30.0, axis=1, keepdims=True))
    assert_close(fnp.median(x, axis=(1, 2)), np.median(x, axis=(1, 2)))
    assert_close(fnp.median(np.arange(6), axis=0), np.median(np.arange(6), axis=0))


def test_quantile_nan():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 0.5, 2.0, 1.0], [np.nan, np.nan, np.nan, np.nan]])
    assert_close(fnp.quantile(x, 0.5, axis=1), np.quantile(x, 0.5, axis=1))
    assert_close(fnp.median(x, axis=1), np.median(x, axis=1))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want_med, want_q = np.nanmedian(x, axis=1), np.nanquantile(x, [0.25, 0.6], axis=1, method="nearest")
    assert_close(fnp.nanmedian(x, axis=1), want_med)
    assert_close(fnp.nanquantile(x, [0.25, 0.6], axis=1, method="nearest"), want_q)
    assert_close(fnp.nanpercentile(x[:2], 40.0), np.nanpercentile(x[:2], 40.0))


def test_quantile_errors():
    with pytest.raises(ValueError, match="range"):
        fnp.quantile(np.arange(3.0), 1.5)
    with pytest.raises(ValueError, match="not a valid method"):
        fnp.quantile(np.arange(3.0), 0.5, method="cubic")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_quantile_grads(dtype):
    x = ((np.random.default_rng(6).permutation(12) - 6 + 0.4) * 0.3).reshape(3, 4).astype(dtype)
    check_grads(lambda x: fnp.quantile(x, np.array([0.3, 0.5], dtype), axis=1), (x,), order=2, **TOL[dtype])
    check_grads(lambda q: fnp.quantile(x, q), (np.array([0.2, 0.65], dtype),), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.median(x, axis=0), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.nanmedian(x), (x,), order=2, **TOL[dtype])


def test_median_grad_as_jax():
    assert_close(ft.grad(fnp.median)(np.array([1.0, 2.0, 3.0, 4.0])), np.array([0.0, 0.5, 0.5, 0.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_sort_grads(dtype):
    x = ((np.random.default_rng(7).permutation(15) - 7 + 0.4) * 0.3).reshape(3, 5).astype(dtype)
    check_grads(lambda x: fnp.sort(x, axis=0), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.sort(x, descending=True), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: fnp.partition(x, 2), (x,), order=2, **TOL[dtype])
    check_grads(lambda x: ft.lax.top_k(x, 2)[0], (x,), order=2, **TOL[dtype])


def test_sort_grad_ties_as_jax():
    g = ft.grad(lambda x: fnp.sum(fnp.sort(x) * np.arange(3.0)))(np.array([1.0, 1.0, 0.0]))
    assert_close(g, np.array([1.0, 2.0, 0.0]))


def test_sort_jit_vmap():
    x = np.random.default_rng(8).standard_normal((4, 5))
    assert_close(ft.jit(fnp.sort)(x), np.sort(x))
    assert_close(ft.vmap(fnp.sort)(x), np.sort(x, axis=1))
    assert_close(ft.vmap(fnp.argsort, in_axes=1)(x), np.argsort(x, axis=0).T)
    assert_close(ft.vmap(lambda r: fnp.median(r))(x), np.median(x, axis=1))
    assert_close(ft.vmap(lambda k, v: ft.lax.sort_key_val(k, v)[1], in_axes=(0, None))(x, np.arange(5)),
                 np.argsort(x, axis=1))
    assert_close(ft.jit(ft.vmap(lambda r: fnp.searchsorted(np.arange(5.0), r)))(x),
                 np.searchsorted(np.arange(5.0), x.ravel()).reshape(4, 5))


def test_numpy_protocol():
    x = np.array([3.0, 1.0, 2.0, 5.0])
    g = ft.grad(lambda x: np.sum(np.sort(x) * np.arange(4.0)) + np.median(x) + np.quantile(x, 0.3))(x)
    want = ft.grad(lambda x: fnp.sum(fnp.sort(x) * np.arange(4.0)) + fnp.median(x) + fnp.quantile(x, 0.3))(x)
    assert_close(g, host(want))
    f = ft.jit(lambda x: (np.argsort(x), np.searchsorted(np.sort(x), 2.5), np.cumprod(x), x.sort(), x.argsort()))
    out = f(x)
    assert_close(out[0], np.argsort(x)), assert_close(out[1], np.int64(2))
    assert_close(out[2], np.cumprod(x)), assert_close(out[3], np.sort(x)), assert_close(out[4], np.argsort(x))


# ---------------------------------------------------------------------------- unique, nonzero
UNIQ = {
    "int": np.array([3, 1, 1, 2, 3, 3, -1], np.int32),
    "float_nan": np.array([[2.0, np.nan, 1.0], [np.nan, 2.0, -0.0], [0.0, 1.0, 5.0]]),
    "bool": np.array([True, True, False]),
    "one": np.array([7.5]),
    "empty": np.zeros((0,), np.int64),
}


@pytest.mark.parametrize("equal_nan", [True, False])
@pytest.mark.parametrize("name", UNIQ)
def test_unique(name, equal_nan):
    x = UNIQ[name]
    got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=equal_nan)
    want = np.unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=equal_nan)
    for g, w, what in zip(got, want, ["values", "index", "inverse", "counts"], strict=True):
        assert_close(g, w, what=what + ": ")
    assert_close(fnp.unique(x, equal_nan=equal_nan), np.unique(x, equal_nan=equal_nan))


@pytest.mark.parametrize("name", UNIQ)
def test_unique_array_api(name):
    """As NumPy's, with the values sorted (as JAX; NumPy 2.3+ may return them in any order):
    compared with ``numpy.unique(equal_nan=False)``, and the field names with NumPy's."""
    x = UNIQ[name]
    assert_close(fnp.unique_values(x), np.unique(x, equal_nan=False))
    _, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True,
                                          equal_nan=False)
    fields = {"indices": index, "inverse_indices": inverse, "counts": counts}
    for f in ("unique_counts", "unique_inverse", "unique_all"):
        got = getattr(fnp, f)(x)
        assert got._fields == getattr(np, f)(x)._fields
        assert_close(got.values, np.unique(x, equal_nan=False))
        for field in got._fields[1:]:
            assert_close(getattr(got, field), fields[field], what=f"{f}.{field}: ")


UNIQ_AXIS = [
    (np.array([[1, 2], [3, 4], [1, 2], [0, 9]]), 0), (np.array([[1, 2], [3, 4], [1, 2], [0, 9]]), 1),
    (np.array([[1.0, np.nan], [1.0, np.nan], [0.0, 1.0]]), 0), (np.zeros((3, 0)), 0), (np.zeros((0, 2)), 0),
    (np.random.default_rng(9).integers(0, 2, (3, 4, 2)), -2), (np.array([[True, False], [True, False]]), 0),
]


@pytest.mark.parametrize("x,axis", UNIQ_AXIS, ids=range(len(UNIQ_AXIS)))
def test_unique_axis(x, axis):
    got = fnp.unique(x, axis=axis, return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(x, axis=axis, return_index=True, return_inverse=True, return_counts=True)
    for g, w, what in zip(got, want, ["values", "index", "inverse", "counts"], strict=True):
        assert_close(g, w, what=what + ": ")
    if x.size:
        k = len(want[0]) if axis == 0 else want[0].shape[axis]
        padded = ft.jit(lambda x: fnp.unique(x, axis=axis, size=k + 1, fill_value=-7))(x)
        assert_close(fnp.take(padded, np.arange(k), axis=axis), want[0])


def test_unique_size_as_jax():
    x = np.array([3, 1, 1, 2])
    vals, idx, inv, counts = ft.jit(lambda x: fnp.unique(x, size=5, return_index=True, return_inverse=True,
                                                         return_counts=True))(x)
    assert_close(vals, np.array([1, 2, 3, 1, 1])), assert_close(idx, np.array([1, 3, 0, 1, 1]))
    assert_close(inv, np.array([2, 0, 0, 1])), assert_close(counts, np.array([2, 1, 1, 0, 0]))
    assert_close(ft.jit(lambda x: fnp.unique(x, size=5, fill_value=-1))(x), np.array([1, 2, 3, -1, -1]))
    assert_close(fnp.unique(x, size=2), np.array([1, 2]))
    with pytest.raises(ConcretizationError, match="size="):
        ft.jit(fnp.unique)(x)


def test_unique_grad():
    x = np.array([2.0, 1.0, 2.0, 3.0])
    g = ft.grad(lambda x: fnp.sum(fnp.unique(x) * np.array([1.0, 10.0, 100.0])))(x)
    assert_close(g, np.array([10.0, 1.0, 0.0, 100.0]))  # the first occurrence carries the value


NZ = [np.array([[0, 1, 0], [2, 0, 3]]), np.array([0.0, -0.0, np.nan, 1.0]), np.array([False, True, True]),
      np.zeros((2, 0, 3)), np.ones((2, 2, 2))]


@pytest.mark.parametrize("x", NZ, ids=range(len(NZ)))
def test_nonzero_family(x):
    for g, w in zip(fnp.nonzero(x), np.nonzero(x), strict=True):
        assert_close(g, w)
    assert_close(fnp.argwhere(x), np.argwhere(x))
    assert_close(fnp.flatnonzero(x), np.flatnonzero(x))
    assert_close(fnp.count_nonzero(x), np.int64(np.count_nonzero(x)))
    assert_close(fnp.count_nonzero(x, axis=0), np.count_nonzero(x, axis=0))
    for g, w in zip(fnp.where(x), np.where(x), strict=True):
        assert_close(g, w)


def test_nonzero_size_as_jax():
    x = np.array([[0, 1], [1, 1]])
    r, c = ft.jit(lambda x: fnp.nonzero(x, size=4, fill_value=-1))(x)
    assert_close(r, np.array([0, 1, 1, -1])), assert_close(c, np.array([1, 0, 1, -1]))
    r, c = fnp.nonzero(x, size=2)
    assert_close(r, np.array([0, 1])), assert_close(c, np.array([1, 0]))
    assert_close(ft.jit(lambda x: fnp.argwhere(x, size=4, fill_value=(7, 8)))(x), np.array([[0, 1], [1, 0], [1, 1],
                                                                                         [7, 8]]))
    assert_close(ft.jit(lambda x: fnp.flatnonzero(x, size=2))(x), np.array([1, 2]))
    assert_close(ft.jit(lambda x: fnp.where(x > 0, size=1)[1])(x), np.array([1]))
    assert_close(fnp.argwhere(np.array(3.0)), np.argwhere(np.array(3.0)))
    with pytest.raises(ConcretizationError, match="size="):
        ft.jit(fnp.nonzero)(x)
    with pytest.raises(ValueError, match="0d"):
        fnp.nonzero(np.array(1.0))
    assert_close(ft.vmap(lambda r: fnp.count_nonzero(r))(x), np.count_nonzero(x, axis=1))


def test_where_three_arguments_still_work():
    x = np.array([1.0, -2.0])
    assert_close(fnp.where(x > 0, x, 0.0), np.where(x > 0, x, 0.0))
    with pytest.raises(ValueError, match="both or neither"):
        fnp.where(x > 0, x)
