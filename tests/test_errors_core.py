"""Error messages of the numpy layer and the core: the type a user catches, the user's
file:line, and the shapes (or the NumPy function) involved.

Each case is a one-line lambda, so the line the error must name is the lambda's own line
(``f.__code__.co_firstlineno``). Cases run eagerly on concrete arrays and traced under
``make_jaxpr``; the message must be the same kind either way.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

X = np.ones((2, 3))
W = np.ones((4, 5))


def where_of(f: Callable) -> str:
    return f"{__file__}:{f.__code__.co_firstlineno}:"


def check_error(f: Callable, args: tuple, exc: type, fragments: list[str], traced: bool) -> None:
    """``f(*args)`` (or its make_jaxpr) raises ``exc`` whose message starts with f's line."""
    with pytest.raises(exc) as info:
        if traced:
            ft.make_jaxpr(f)(*args)
        else:
            f(*args)
    msg = str(info.value)
    assert msg.startswith(where_of(f)), f"message does not start with the user's line: {msg!r}"
    assert msg.count(__file__) == 1, f"the location is given once: {msg!r}"
    for frag in fragments:
        assert frag in msg, f"{frag!r} missing from {msg!r}"


# (id, f, exception, fragments that must appear in the message)
SHAPE_ERRORS = [
    ("binary op", lambda x: fnp.add(x, np.ones(4)), ft.ShapeError, ["add", "(2, 3)", "(4,)", "broadcast"]),
    ("operator", lambda x: x * np.ones((3, 2)), ft.ShapeError, ["multiply", "(2, 3)", "(3, 2)"]),
    ("reflected operator", lambda x: np.ones(4) - fnp.asarray(x), ft.ShapeError, ["subtract", "(4,)", "(2, 3)"]),
    ("comparison", lambda x: fnp.less(x, np.ones(5)), ft.ShapeError, ["less", "(2, 3)", "(5,)"]),
    ("where", lambda x: fnp.where(x > 0, x, np.ones(4)), ft.ShapeError, ["where", "(2, 3)", "(4,)"]),
    ("matmul", lambda x: fnp.matmul(x, W), ft.ShapeError, ["matmul", "(2, 3)", "(4, 5)", "(3)", "(4)"]),
    ("matmul 1-d", lambda x: fnp.matmul(x, np.ones(2)), ft.ShapeError, ["matmul", "(2, 3)", "(2,)"]),
    ("matmul batch", lambda x: fnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 1))), ft.ShapeError,
     ["matmul", "(2, 2, 3)", "(3, 3, 1)", "batch"]),
    ("dot", lambda x: fnp.dot(x, x), ft.ShapeError, ["dot", "(2, 3)", "not aligned"]),
    ("tensordot", lambda x: fnp.tensordot(x, W, axes=1), ft.ShapeError, ["tensordot", "(2, 3)", "(4, 5)"]),
    ("inner", lambda x: fnp.inner(x, np.ones(4)), ft.ShapeError, ["inner", "(2, 3)", "(4,)"]),
    ("einsum", lambda x: fnp.einsum("ij,ij->i", x, W), ft.ShapeError, ["einsum", "'i'", "2", "4"]),
    ("reshape", lambda x: fnp.reshape(x, (4, 2)), ft.ShapeError, ["reshape", "(2, 3)", "(4, 2)"]),
    ("reshape -1", lambda x: x.reshape(4, -1), ft.ShapeError, ["reshape", "(2, 3)", "(4, -1)"]),
    ("broadcast_to", lambda x: fnp.broadcast_to(x, (3, 3)), ft.ShapeError, ["broadcast", "(2, 3)", "(3, 3)"]),
    ("concatenate", lambda x: fnp.concatenate([x, W], axis=1), ft.ShapeError, ["concatenate", "(2, 3)", "(4, 5)"]),
    ("stack", lambda x: fnp.stack([x, x.T]), ft.ShapeError, ["stack", "(2, 3)", "(3, 2)"]),
    ("split", lambda x: fnp.split(x, 2, axis=1), ft.ShapeError, ["split", "3 into 2"]),
    ("squeeze", lambda x: fnp.squeeze(x, 0), ft.ShapeError, ["squeeze", "(2, 3)"]),
    ("empty max", lambda x: fnp.max(x[:, :0], axis=1), ft.ShapeError, ["reduce_max", "(2, 0)"]),
]
AXIS_ERRORS = [
    ("sum", lambda x: fnp.sum(x, axis=2), ["axis 2", "(2, 3)"]),
    ("method", lambda x: x.mean(axis=-3), ["axis -3", "(2, 3)"]),
    ("argmax", lambda x: fnp.argmax(x, axis=5), ["axis 5", "(2, 3)"]),
    ("cumsum", lambda x: fnp.cumsum(x, axis=2), ["axis 2", "(2, 3)"]),
    ("transpose", lambda x: fnp.transpose(x, (0, 2)), ["axis 2", "(2, 3)"]),
    ("swapaxes", lambda x: fnp.swapaxes(x, 0, 3), ["axis 3", "(2, 3)"]),
    ("moveaxis", lambda x: fnp.moveaxis(x, 0, 7), ["axis 7", "(2, 3)"]),
    ("expand_dims", lambda x: fnp.expand_dims(x, 4), ["axis 4", "dimension 3"]),
    ("concatenate", lambda x: fnp.concatenate([x, x], axis=-3), ["axis -3", "(2, 3)"]),
    ("flip", lambda x: fnp.flip(x, 2), ["axis 2", "(2, 3)"]),
    ("take", lambda x: fnp.take(x, np.array([0]), axis=2), ["axis 2", "(2, 3)"]),
    ("softmax", lambda x: ft.nn.softmax(x, axis=2), ["axis 2", "(2, 3)"]),
    ("index", lambda x: x[:, 3], ["index 3", "axis 1", "size 3"]),
    ("too many indices", lambda x: x[0, 0, 0], ["too many indices", "2-dimensional"]),
]
OTHER_ERRORS = [
    ("bitwise on floats", lambda x: fnp.bitwise_and(x, x), ft.DTypeError, ["bitwise_and", "float64"]),
    ("int overflow", lambda x: fnp.add(x.astype(np.int8), 1000), ft.DTypeError, ["1000", "int8"]),
    ("boolean subtract", lambda x: fnp.subtract(x > 0, x < 1), TypeError, ["subtract", "booleans"]),
    ("boolean negative", lambda x: fnp.negative(x > 0), TypeError, ["negative", "booleans", "logical_not"]),
    ("boolean sign", lambda x: fnp.sign(x > 0), TypeError, ["sign", "booleans"]),
    ("where with x but no y", lambda x: fnp.where(x > 0, x), ValueError, ["both or neither"]),
    ("negative integer power", lambda x: fnp.power(x.astype(np.int32), -1), ValueError, ["negative integer powers"]),
    ("duplicate axis", lambda x: fnp.sum(x, axis=(0, 0)), ValueError, ["duplicate", "(0, 0)"]),
    ("non-square inverse", lambda x: fnp.linalg.inv(x), ft.ShapeError, ["inv", "square", "(2, 3)"]),
    ("pad mode", lambda x: fnp.pad(x, 1, mode="reflect"), NotImplementedError, ["'reflect'"]),
]


# Operators, methods and indexing of a concrete NumPy array are NumPy's own: traced only.
TRACED_ONLY = {"operator", "reflected operator", "reshape -1", "method", "index", "too many indices"}


def with_modes(cases: list) -> list:
    return [pytest.param(*c, traced, id=f"{c[0]}-{'traced' if traced else 'eager'}")
            for c in cases for traced in (False, True) if traced or c[0] not in TRACED_ONLY]


@pytest.mark.parametrize("name,f,exc,fragments,traced", with_modes(SHAPE_ERRORS + OTHER_ERRORS))
def test_errors_name_the_line_and_the_shapes(name, f, exc, fragments, traced):
    check_error(f, (X,), exc, fragments, traced)


@pytest.mark.parametrize("name,f,fragments,traced", with_modes(AXIS_ERRORS))
def test_axis_errors(name, f, fragments, traced):
    """A bad axis is an AxisError, which is also an IndexError and a ValueError, as in NumPy."""
    check_error(f, (X,), ft.AxisError, fragments, traced)
    assert issubclass(ft.AxisError, IndexError) and issubclass(ft.AxisError, ValueError)


def test_error_inside_a_helper_names_the_innermost_user_line():
    def helper(a, b):
        return a + b  # the failing line

    def f(x):
        return helper(x, np.ones(7))

    with pytest.raises(ft.ShapeError) as info:
        ft.make_jaxpr(f)(X)
    line = helper.__code__.co_firstlineno + 1
    assert str(info.value).startswith(f"{__file__}:{line}:")


# ------------------------------------------------------------------------------ unsupported NumPy
UNSUPPORTED = [
    ("numpy.lib.stride_tricks.sliding_window_view", lambda x: np.lib.stride_tricks.sliding_window_view(x, 2)),
    ("numpy.is_busday", lambda x: np.is_busday(x)),
    ("numpy.busday_count", lambda x: np.busday_count(x, x)),
    ("numpy.nextafter.outer", lambda x: np.nextafter.outer(x, x)),
    ("numpy.add.accumulate", lambda x: np.add.accumulate(x)),
    ("numpy.maximum.reduceat", lambda x: np.maximum.reduceat(x, [0, 1])),
]


@pytest.mark.parametrize("name,f", UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_numpy_function_without_traced_equivalent_names_it(name, f):
    with pytest.raises(ft.UnsupportedNumpyFunctionError) as info:
        ft.make_jaxpr(f)(X)
    msg = str(info.value)
    assert msg.startswith(where_of(f))
    assert re.search(rf"\b{re.escape(name)} has no traced equivalent", msg), msg
    assert "functrace.numpy" in msg
    assert isinstance(info.value, NotImplementedError)


def test_ufunc_out_argument_is_refused():
    f = lambda x: np.sin(x, out=np.empty((2, 3)))  # noqa: E731
    with pytest.raises(TypeError, match=r"numpy\.sin\(\.\.\., out=\.\.\.\)") as info:
        ft.make_jaxpr(f)(X)
    assert str(info.value).startswith(where_of(f))


# ------------------------------------------------------------------------------ core errors
def test_python_control_flow_on_an_abstract_value():
    f = lambda x: x * 2 if x.sum() > 0 else x  # noqa: E731
    with pytest.raises(ft.ConcretizationError) as info:
        ft.make_jaxpr(f)(X)
    msg = str(info.value)
    assert msg.startswith(where_of(f)) and "static_argnums" in msg and "where" in msg


@pytest.mark.parametrize("conv", [float, int, bool, lambda t: t.item()], ids=["float", "int", "bool", "item"])
def test_concretizing_an_abstract_value(conv):
    with pytest.raises(ft.ConcretizationError, match="needs a concrete value"):
        ft.make_jaxpr(lambda x: conv(x[0, 0]))(X)


@pytest.mark.parametrize("transform", ["make_jaxpr", "grad"])
def test_numpy_asarray_of_a_traced_value_is_refused(transform):
    """np.asarray would cut the value out of the trace (a silently zero gradient): it must raise."""
    f = lambda x: np.sum(np.asarray(x) * 2.0)  # noqa: E731
    with pytest.raises(ft.TracerArrayConversionError, match="functrace.numpy.asarray") as info:
        getattr(ft, transform)(f)(X)
    assert str(info.value).startswith(where_of(f))


def test_leaked_tracer():
    leaked: list[Any] = []
    ft.make_jaxpr(lambda x: leaked.append(x) or x)(X)
    with pytest.raises(ft.UnexpectedTracerError, match="escaped") as info:
        ft.make_jaxpr(lambda y: y + leaked[0])(X)
    assert __file__ in str(info.value)


def test_non_array_argument():
    with pytest.raises(TypeError, match="type str"):
        ft.make_jaxpr(lambda x: x)("abc")
