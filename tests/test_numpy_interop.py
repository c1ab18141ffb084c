"""Plain NumPy code on traced values: operators, methods, and NumPy functions reached through
``__array_ufunc__`` / ``__array_function__``.

Each function below is ordinary NumPy code; it is run once on concrete NumPy arrays (the
reference) and once traced (make_jaxpr + eval_jaxpr). Where an ``fnp`` spelling exists, the
NumPy spelling must also trace to exactly the same jaxpr.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from helpers import assert_close, traced_call

import functrace as ft
import functrace.numpy as fnp

f32, f64, i32 = np.float32, np.float64, np.int32
RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3)).astype(f32)
Y = RNG.standard_normal((2, 3)).astype(f32)
W = RNG.standard_normal((3, 4)).astype(f32)
V = RNG.standard_normal(3).astype(f64)
IDX = np.array([1, 0, 1])

# (id, NumPy spelling, fnp spelling, arguments)
SAME_JAXPR = [
    ("sin", lambda x: np.sin(x), lambda x: fnp.sin(x), (X,)),
    ("sum axis", lambda x: np.sum(x, axis=0), lambda x: fnp.sum(x, axis=0), (X,)),
    ("sum keepdims", lambda x: np.sum(x, axis=1, keepdims=True), lambda x: fnp.sum(x, axis=1, keepdims=True), (X,)),
    ("dot", lambda x, w: np.dot(x, w), lambda x, w: fnp.dot(x, w), (X, W)),
    ("concatenate", lambda x, y: np.concatenate([x, y]), lambda x, y: fnp.concatenate([x, y]), (X, Y)),
    ("where", lambda x: np.where(x > 0, x, 0.0), lambda x: fnp.where(fnp.greater(x, 0), x, 0.0), (X,)),
    ("mean", lambda x: np.mean(x, axis=(0, 1)), lambda x: fnp.mean(x, axis=(0, 1)), (X,)),
    ("exp log1p", lambda x: np.log1p(np.exp(x)), lambda x: fnp.log1p(fnp.exp(x)), (X,)),
    ("maximum", lambda x: np.maximum(x, 0), lambda x: fnp.maximum(x, 0), (X,)),
    ("matmul", lambda x, w: np.matmul(x, w), lambda x, w: fnp.matmul(x, w), (X, W)),
    ("transpose", lambda x: np.transpose(x), lambda x: fnp.transpose(x), (X,)),
    ("reshape", lambda x: np.reshape(x, (3, 2)), lambda x: fnp.reshape(x, (3, 2)), (X,)),
    ("clip", lambda x: np.clip(x, -0.5, 0.5), lambda x: fnp.clip(x, -0.5, 0.5), (X,)),
    ("abs", lambda x: np.abs(x), lambda x: fnp.abs(x), (X,)),
    ("absolute", lambda x: np.absolute(x), lambda x: fnp.absolute(x), (X,)),
    ("divide", lambda x, y: np.divide(x, y), lambda x, y: fnp.divide(x, y), (X, Y)),
    ("norm", lambda x: np.linalg.norm(x, axis=1), lambda x: fnp.linalg.norm(x, axis=1), (X,)),
    ("einsum", lambda x, w: np.einsum("ij,jk->ki", x, w), lambda x, w: fnp.einsum("ij,jk->ki", x, w), (X, W)),
    ("stack", lambda x, y: np.stack([x, y], axis=1), lambda x, y: fnp.stack([x, y], axis=1), (X, Y)),
    ("max", lambda x: np.max(x, axis=1), lambda x: fnp.max(x, axis=1), (X,)),
    ("amax", lambda x: np.amax(x), lambda x: fnp.amax(x), (X,)),
    ("argmax", lambda x: np.argmax(x, axis=0), lambda x: fnp.argmax(x, axis=0), (X,)),
    ("cumsum", lambda x: np.cumsum(x, axis=1), lambda x: fnp.cumsum(x, axis=1), (X,)),
    ("power", lambda x: np.power(x, 3), lambda x: fnp.power(x, 3), (X,)),
    ("square", lambda x: np.square(x), lambda x: fnp.square(x), (X,)),
    ("isfinite", lambda x: np.isfinite(x), lambda x: fnp.isfinite(x), (X,)),
    ("logical_and", lambda x, y: np.logical_and(x > 0, y > 0), lambda x, y: fnp.logical_and(x > 0, y > 0), (X, Y)),
    ("expand_dims", lambda x: np.expand_dims(x, 1), lambda x: fnp.expand_dims(x, 1), (X,)),
    ("moveaxis", lambda x: np.moveaxis(x, 0, -1), lambda x: fnp.moveaxis(x, 0, -1), (X,)),
    ("outer", lambda x, v: np.outer(x, v), lambda x, v: fnp.outer(x, v), (X, V)),
    ("add.reduce", lambda x: np.add.reduce(x), lambda x: fnp.sum(x, axis=0), (X,)),
    ("maximum.reduce", lambda x: np.maximum.reduce(x, axis=1), lambda x: fnp.max(x, axis=1), (X,)),
    ("ufunc dtype", lambda x: np.sqrt(np.abs(x), dtype=np.float64),
     lambda x: fnp.sqrt(fnp.astype(fnp.abs(x), np.float64)), (X,)),
    ("ufunc dtype on two inputs", lambda x, y: np.add(x, y, dtype=np.float64),
     lambda x, y: fnp.add(fnp.astype(x, np.float64), fnp.astype(y, np.float64)), (X, Y)),
    ("tril", lambda x: np.tril(x), lambda x: fnp.tril(x), (X,)),
    ("split", lambda x: np.split(x, 3, axis=1), lambda x: fnp.split(x, 3, axis=1), (X,)),
    ("pad", lambda x: np.pad(x, 1), lambda x: fnp.pad(x, 1), (X,)),
    ("take", lambda x: np.take(x, IDX, axis=1), lambda x: fnp.take(x, IDX, axis=1), (X,)),
    ("var", lambda x: np.var(x, ddof=1), lambda x: fnp.var(x, ddof=1), (X,)),
    ("shape", lambda x: np.zeros(np.shape(x)) + x, lambda x: fnp.zeros(fnp.shape(x)) + x, (X,)),
]


@pytest.mark.parametrize("name,np_f,fnp_f,args", SAME_JAXPR, ids=[c[0] for c in SAME_JAXPR])
def test_numpy_functions_trace_exactly_as_fnp(name, np_f: Callable, fnp_f: Callable, args):
    np_jaxpr = ft.make_jaxpr(np_f)(*args)
    assert str(np_jaxpr) == str(ft.make_jaxpr(fnp_f)(*args))
    got = ft.eval_jaxpr(np_jaxpr, *args)
    want = np_f(*args)
    for g, w in zip(ft.tree_util.tree_leaves(got), want if isinstance(want, list) else [want], strict=True):
        assert_close(g, w)


# (id, NumPy-style code using operators and methods, arguments)
METHODS = [
    ("T", lambda x: x.T, (X,)),
    ("mT", lambda x: x.mT, (X,)),
    ("reshape(*ints)", lambda x: x.reshape(3, 2), (X,)),
    ("reshape(tuple)", lambda x: x.reshape((6, 1)), (X,)),
    ("reshape(-1)", lambda x: x.reshape(-1), (X,)),
    ("sum()", lambda x: x.sum(), (X,)),
    ("sum(axis)", lambda x: x.sum(axis=0), (X,)),
    ("mean(1)", lambda x: x.mean(1), (X,)),
    ("max/min", lambda x: (x.max(axis=0), x.min()), (X,)),
    ("argmax/argmin", lambda x: (x.argmax(), x.argmin(axis=1)), (X,)),
    ("var/std", lambda x: (x.var(), x.std(ddof=1)), (X,)),
    ("prod/cumsum", lambda x: (x.prod(axis=1), x.cumsum(axis=1)), (X,)),
    ("all/any", lambda x: ((x > 0).all(), (x > 0).any(axis=0)), (X,)),
    ("ravel/flatten", lambda x: (x.ravel(), x.flatten()), (X,)),
    ("squeeze/swapaxes", lambda x: (x[None].squeeze(), x.swapaxes(0, 1)), (X,)),
    ("transpose forms", lambda x: (x.transpose(), x.transpose(1, 0), x.transpose((1, 0))), (X,)),
    ("dot/clip/round", lambda x, w: (x.dot(w), x.clip(-0.5, 0.5), x.round(1)), (X, W)),
    ("astype", lambda x: (x.astype(np.float64), x.astype(np.int32), x.astype("float16", copy=False)), (X,)),
    ("clip(min=)", lambda x: (x.clip(min=0), x.clip(max=0.1), np.clip(x, min=-0.1, max=0.1)), (X,)),
    ("divmod", lambda x: (divmod(x, 0.3), divmod(2.0, x), np.divmod(x, 0.7)), (X,)),
    ("repeat/take", lambda x: (x.repeat(2), x.take(IDX)), (X,)),
    ("trace/diagonal", lambda x: (x.trace(), x.diagonal()), (X,)),
    ("copy/conj/real", lambda x: (x.copy(), x.conj(), x.real), (X,)),
    ("x[1:, ::-1]", lambda x: x[1:, ::-1], (X,)),
    ("x[idx_array]", lambda x: x[:, IDX], (X,)),
    ("x[x > 0]-free mask", lambda x: x * (x > 0), (X,)),
    ("@", lambda x, w: x @ w, (X, W)),
    ("@ with a vector", lambda x, v: x @ v, (X, V)),
    ("ndarray @", lambda x: W.T @ x.T, (X,)),
    ("**", lambda x: (x ** 2, x ** 0.5, abs(x) ** 1.5, 2.0 ** x, x ** -1), (X,)),
    ("** array", lambda x, y: abs(x) ** y, (X, Y)),
    ("comparisons", lambda x, y: (x < y, x <= y, x > y, x >= y, x == y, x != y), (X, Y)),
    ("comparisons with scalars", lambda x: (x > 0, 0 < x, x == 1.0, x != 0), (X,)),
    ("unary", lambda x: (-x, +x, abs(x)), (X,)),
    ("reflected scalars", lambda x: (1.0 - x, 2 * x, 1 / x, 3 + x, 2 // x, 5.0 % x), (X,)),
    ("reflected arrays", lambda x: (Y - x, Y * x, Y / x, Y + x, V[:2, None] ** abs(x)), (X,)),
    ("ndarray comparisons", lambda x: (Y < x, Y == x), (X,)),
    ("floor div and mod", lambda x: (x // 0.3, x % 0.3, (x * 10).astype(np.int32) // 3), (X,)),
    ("int bit ops", lambda i: (i & 6, i | 1, i ^ 3, ~i, 7 & i), (np.arange(6, dtype=i32).reshape(2, 3),)),
    ("bool ops", lambda x: ((x > 0) & (x < 1), (x > 0) | (x < -1), ~(x > 0)), (X,)),
    ("iterate", lambda x: [row * i for i, row in enumerate(x)], (X,)),
    ("len and shape", lambda x: x.reshape(len(x), x.shape[1] * x.ndim // 2).sum() * x.size, (X,)),
]


@pytest.mark.parametrize("name,f,args", METHODS, ids=[m[0] for m in METHODS])
def test_operators_and_methods(name, f: Callable, args):
    with np.errstate(all="ignore"):
        want = f(*args)
        got, _ = traced_call(f, *args)
    want_leaves = ft.tree_util.tree_leaves(want)
    got_leaves = ft.tree_util.tree_leaves(got)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert_close(g, np.asarray(w))


def test_static_attributes_of_traced_values():
    seen = {}

    def f(x):
        seen.update(shape=x.shape, ndim=x.ndim, size=x.size, dtype=x.dtype, T=x.T.shape, len=len(x))
        return x

    ft.make_jaxpr(f)(X)
    assert seen == {"shape": (2, 3), "ndim": 2, "size": 6, "dtype": np.dtype(f32), "T": (3, 2), "len": 2}
    assert all(type(d) is int for d in seen["shape"])


@pytest.mark.parametrize("other,want", [
    (2.0, f32), (2, f32), (True, f32), (np.float64(2.0), f64), (np.float32(2.0), f32),
    (np.ones(3, f64), f64), (np.ones(3, i32), f64), (np.ones(3, np.int8), f32), (np.ones(3, np.float16), f32),
])
def test_operator_promotion_follows_nep50(other, want):
    """A Python scalar never widens a float32 traced value; NumPy scalars and arrays do, as in NumPy 2."""
    x = np.ones(3, f32)

    def f(t):
        return t + other, other * t, t - other, other / t, t > other

    got, closed = traced_call(f, x)
    for g, w in zip(got[:4], f(x)[:4], strict=True):
        assert np.asarray(w).dtype == want
        assert_close(g, w)
    assert [a.dtype for a in closed.out_avals] == [np.dtype(want)] * 4 + [np.dtype(bool)]


def test_numpy_array_on_the_left_of_an_operator_defers_to_the_traced_value():
    closed = ft.make_jaxpr(lambda x: np.ones(3, f32) + x)(np.ones(3, f32))
    assert [e.primitive.name for e in closed.eqns] == ["add"]
    assert len(closed.consts) == 1


def test_mixed_numpy_and_fnp_code():
    def layer(x, w):
        h = np.tanh(x @ w)
        return fnp.sum(np.square(h), axis=-1) + np.mean(h)

    got, _ = traced_call(layer, X, W)
    h = np.tanh(X @ W)
    assert_close(got, np.sum(h**2, axis=-1) + np.mean(h))


@pytest.mark.parametrize("f,g", [
    (lambda x: np.sum(x, axis=0, out=None), lambda x: fnp.sum(x, axis=0)),
    (lambda x: np.mean(x, axis=0, dtype=None, out=None, keepdims=False), lambda x: fnp.mean(x, axis=0)),
    (lambda x: np.sum(x, where=True), lambda x: fnp.sum(x)),
    (lambda x: np.einsum("ij->i", x, optimize=True), lambda x: fnp.einsum("ij->i", x)),
    (lambda x: np.reshape(x, 6, order="C"), lambda x: fnp.reshape(x, 6)),
    (lambda x: np.concatenate([x, x], axis=0, out=None), lambda x: fnp.concatenate([x, x])),
    (lambda x: np.sum(x, where=x > 0, initial=1.0), lambda x: fnp.sum(x, where=x > 0, initial=1.0)),
], ids=["out=None", "defaults spelled out", "where=True", "optimize", "order='C'", "concatenate out=None",
        "where mask and initial reach fnp.sum"])
def test_neutral_numpy_keywords_are_accepted(f, g):
    assert str(ft.make_jaxpr(f)(X)) == str(ft.make_jaxpr(g)(X))


@pytest.mark.parametrize("f,what", [
    (lambda x: np.nansum(x, where=x > 0), "numpy.nansum(..., where="),
    (lambda x: np.std(x, mean=np.mean(x)), "numpy.std(..., mean="),
    (lambda x: np.concatenate([x, x], dtype=np.float64), "numpy.concatenate(..., dtype="),
], ids=["nansum where mask", "std mean", "concatenate dtype"])
def test_unsupported_numpy_keywords_are_named(f, what):
    with pytest.raises(ft.UnsupportedNumpyFunctionError) as info:
        ft.make_jaxpr(f)(X)
    msg = str(info.value)
    assert what in msg and msg.startswith(f"{__file__}:{f.__code__.co_firstlineno}:")
