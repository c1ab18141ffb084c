"""Indexing of traced values (basic slicing and integer-array indexing) against NumPy.

Every key is checked through the IR (``make_jaxpr`` + ``eval_jaxpr``) and eagerly on concrete
arrays (the same ``__getitem__`` code, run without a trace).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import assert_close, traced_call
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.numpy._indexing import getitem

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5) - 30
I = np.array  # noqa: E741 -- short for index arrays in the table below

KEYS = {
    "int": 1, "negative int": -1, "tuple of ints": (2, -1, 0), "slice": slice(1, None),
    "reversed": slice(None, None, -1), "x[1:, ::-1]": (slice(1, None), slice(None, None, -1)),
    "negative step with bounds": (slice(None), slice(3, 0, -2)), "step from the end": slice(-1, None, -2),
    "empty slice": slice(2, 1), "out-of-range slice bounds": (slice(-10, 10), slice(2, 99)),
    "strided": (slice(None, None, 2), slice(1, None, 3)), "ellipsis": (Ellipsis, 0),
    "ellipsis in the middle": (0, Ellipsis, slice(1, 3)), "None": None, "None between": (slice(None), None, 1),
    "None and ellipsis": (None, Ellipsis, None), "all-int scalar": (0, 0, 0),
    "index array": I([2, 0, 0, 1]), "index list": [0, 2], "negative index array": I([-1, -3, 1]),
    "2-D index array": I([[0, 1], [2, 2]]), "array on axis 1": (slice(None), I([3, 0, 1])),
    "two arrays": (I([0, 2]), I([1, 3])), "broadcast arrays": (I([[0], [2]]), I([1, 3, 0])),
    "int among arrays": (1, I([0, 2]), slice(None)), "arrays split by a slice": (I([0, 2]), slice(None), I([4, 1])),
    "arrays then slice": (I([0, 2]), I([1, 1]), slice(1, 4)), "array with None": (None, I([1, 0])),
    "boolean mask": I([True, False, True]), "2-D boolean mask": (X[:, :, 0] > -12),
    "mask and slice": (slice(None), I([True, False, False, True]), slice(None, 2)),
    "empty index array": I([], dtype=np.int64), "array and reversed slice": (slice(None, None, -1), I([3, 0])),
}


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_getitem_traced(key: Any):
    want = X[key]
    got, closed = traced_call(lambda t: t[key], X)
    assert_close(got, want)
    assert closed.out_avals[0].shape == want.shape


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_getitem_eager(key: Any):
    assert_close(getitem(X, key), X[key])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_traced_index_array(dtype):
    """The index array is itself a traced argument (x[idx_array] with idx an input)."""
    idx = np.array([[2, 0], [1, 2]], dtype)
    got, closed = traced_call(lambda t, i: t[i, 1:], X, idx)
    assert_close(got, X[idx, 1:])
    assert "gather" in [e.primitive.name for e in closed.eqns]


def test_traced_negative_index_array_wraps():
    idx = np.array([-1, 0, -3])
    got, _ = traced_call(lambda t, i: t[:, i], X, idx)
    assert_close(got, X[:, idx])
    got, _ = traced_call(lambda t, i: (t[i], t[:, :, i]), X, idx)
    assert_close(got[0], X[idx])
    assert_close(got[1], X[:, :, idx])


def test_basic_slicing_emits_no_gather():
    closed = ft.make_jaxpr(lambda t: t[1:, ::-1])(X)
    names = [e.primitive.name for e in closed.eqns]
    assert "gather" not in names and "rev" in names and "slice" in names


def test_methods_and_take_agree_with_indexing():
    got, _ = traced_call(lambda t: (fnp.take(t, I([3, 0]), axis=2), t.take(I([5, 1])), t[:, I([3, 0])]), X)
    assert_close(got[0], np.take(X, [3, 0], axis=2))
    assert_close(got[1], np.take(X, [5, 1]))
    assert_close(got[2], X[:, [3, 0]])


def test_iteration_and_len_of_a_traced_value():
    got, _ = traced_call(lambda t: [row.sum() for row in t] + [len(t)], X)
    for g, w in zip(got[:3], X, strict=True):
        assert_close(g, w.sum())
    assert_close(got[3], np.int64(3))


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("key,exc,pattern", [
    (3, IndexError, "index 3 is out of bounds for axis 0 with size 3"),
    ((0, -6), IndexError, "index -6 is out of bounds for axis 1 with size 4"),
    (I([0, 5]), IndexError, "index 5 is out of bounds for axis 0 with size 3"),
    ((0, 0, 0, 0), IndexError, "too many indices"),
    (1.5, TypeError, "index of type float"),
    (I([0.5]), TypeError, "must be integers"),
    ((Ellipsis, Ellipsis), IndexError, "single ellipsis"),
])
def test_index_errors_name_the_line(key, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        ft.make_jaxpr(lambda t: t[key])(X)
    assert "test_indexing.py:" in str(info.value)


def test_traced_boolean_mask_is_a_clear_error():
    with pytest.raises(ft.ShapeError, match="boolean mask") as info:
        ft.make_jaxpr(lambda t: t[t > 0])(X)
    assert "test_indexing.py:" in str(info.value)


def test_setitem_is_a_clear_error():
    def f(t):
        t[0] = 1.0
        return t

    with pytest.raises(TypeError, match="immutable") as info:
        ft.make_jaxpr(f)(X)
    assert "test_indexing.py:" in str(info.value)


# ------------------------------------------------------------------------------ properties
@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
def test_basic_indices_property(data, shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    key = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    got, _ = traced_call(lambda t: t[key], x)
    assert_close(got, x[key])


@st.composite
def mixed_index(draw, shape):
    """A key mixing ints, slices, None and broadcastable integer arrays (possibly negative)."""
    n = draw(st.integers(1, len(shape)))
    idx_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    key = []
    for d in shape[:n]:
        kind = draw(st.sampled_from(["int", "slice", "array", "array", "none"]))
        if kind == "none":
            key.append(None)
        if kind == "int":
            key.append(draw(st.integers(-d, d - 1)))
        elif kind == "array":
            key.append(draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(-d, d - 1))))
        else:
            key.append(slice(draw(st.none() | st.integers(-d, d)), draw(st.none() | st.integers(-d, d)),
                             draw(st.sampled_from([None, 1, 2, -1, -2]))))
    return tuple(key)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
def test_advanced_indices_property(data, shape):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    key = data.draw(mixed_index(shape))
    want = x[key]
    got, _ = traced_call(lambda t: t[key], x)
    assert_close(got, want)
