"""Soundness: turning a value that carries a derivative into a Python number is an error.

``float(x)``, ``int(x)``, ``complex(x)``, ``x.item()``, ``x.tolist()``, ``operator.index(x)`` and the
``math`` functions (which call ``float``) return a number cut off from the trace: the derivative
through it would silently be dropped (``grad(lambda x: math.exp(x) * x)(1.0)`` gave ``e``, not
``2e``). Under every eager transform they raise ``ConcretizationError`` naming the user's line,
as JAX raises ``ConcretizationTypeError``. What carries no derivative (comparisons, integer
results, ``stop_gradient``, constants) still converts, and branching on values still works.
"""

from __future__ import annotations

import math
import operator
import os

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError, TracerArrayConversionError

HERE = os.path.basename(__file__)

# (name, f): each converts its argument, which carries a derivative, to a Python number.
CONVERSIONS = [
    ("float", lambda x: float(x) * x),
    ("int", lambda x: int(x) * x),
    ("complex", lambda x: complex(x).real * x),
    ("item", lambda x: x.item() * x),
    ("tolist", lambda x: fnp.asarray(x.tolist()) * x),
    ("math.sin", lambda x: math.sin(x) + x),
    ("math.exp", lambda x: math.exp(x) * x),
    ("math.log", lambda x: math.log(x) * x),
    ("operator.index", lambda x: operator.index(x) * x),
    ("float of a result", lambda x: float(fnp.sin(x) * 2.0) * x),
    ("float of an element", lambda x: float(fnp.stack([x, x])[1]) * x),
]

# (name, transform): each applies ``f`` at x = 1.5 with x carrying a derivative.
TRANSFORMS = [
    ("grad", lambda f: ft.grad(f)(1.5)),
    ("value_and_grad", lambda f: ft.value_and_grad(f)(1.5)),
    ("vjp", lambda f: ft.vjp(f, 1.5)[1](1.0)),
    ("jvp", lambda f: ft.jvp(f, (1.5,), (1.0,))),
    ("linearize", lambda f: ft.linearize(f, 1.5)[1](1.0)),
    ("jacfwd", lambda f: ft.jacfwd(f)(1.5)),
    ("jacrev", lambda f: ft.jacrev(f)(1.5)),
    ("hessian", lambda f: ft.hessian(f)(1.5)),
    ("grad of grad", lambda f: ft.grad(ft.grad(f))(1.5)),
    ("jvp of grad", lambda f: ft.jvp(ft.grad(f), (1.5,), (1.0,))),
    ("grad of jvp", lambda f: ft.grad(lambda x: ft.jvp(f, (x,), (1.0,))[1])(1.5)),
]


@pytest.mark.parametrize("tname, transform", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
@pytest.mark.parametrize("cname, f", CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_conversion_of_a_differentiated_value_raises(cname, f, tname, transform):
    with pytest.raises(ConcretizationError) as info:
        transform(f)
    msg = str(info.value)
    assert HERE in msg, f"the message should name the user's line: {msg}"
    assert "derivative" in msg and "stop_gradient" in msg and "fnp.sin" in msg, msg


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_math_exp_times_x_raises_instead_of_returning_e(dtype):
    """The issue's example: the derivative of exp(x) x is 2e at 1, and math.exp silently gave e."""
    x = dtype(1.0)
    with pytest.raises(ConcretizationError, match="math"):
        ft.grad(lambda x: math.exp(x) * x)(x)
    # the traced spelling gives the true derivative
    np.testing.assert_allclose(host(ft.grad(lambda x: fnp.exp(x) * x)(x)), 2 * np.e, rtol=1e-6)


def test_closure_over_a_differentiated_value():
    """An inner derivative closes over the outer variable: converting either drops a derivative."""
    with pytest.raises(ConcretizationError):
        ft.grad(lambda x: ft.grad(lambda y: y * float(x * y))(2.0))(1.5)
    with pytest.raises(ConcretizationError):
        ft.grad(lambda x: ft.grad(lambda y: y * float(x * ft.stop_gradient(y)))(2.0))(1.5)


def _branchy(x):
    # Control flow on values drops no derivative: each side is differentiated as it runs.
    n = 0
    while x * n < 3.0:
        n += 1
    if bool(x > 0) and x > 0.5:
        return x ** n
    return fnp.sin(x)


# (name, f, derivative at 1.5): conversions and uses that carry no derivative stay allowed.
ALLOWED = [
    ("if and while on comparisons", _branchy, 2 * 1.5),
    ("float of a comparison", lambda x: x * float(x > 0), 1.0),
    ("int of a comparison", lambda x: x * int(fnp.sum(x > 1.0)), 1.0),
    ("index of an integer result", lambda x: fnp.stack([x, 2 * x])[operator.index(fnp.argmax(fnp.stack([x, 2 * x])))],
     2.0),
    ("float of stop_gradient", lambda x: x * float(ft.stop_gradient(x)), 1.5),
    ("item of stop_gradient", lambda x: x * ft.stop_gradient(x * x).item(), 1.5 ** 2),
    ("math on stop_gradient", lambda x: x * math.exp(ft.stop_gradient(x)), math.exp(1.5)),
    ("float of a constant", lambda x: x * float(fnp.asarray(3.0)), 3.0),
    ("shape and len", lambda x: fnp.sum(fnp.stack([x, x])) * len(fnp.stack([x, x])) * fnp.stack([x]).shape[0], 4.0),
]


@pytest.mark.parametrize("tname, transform", TRANSFORMS[:5], ids=[t[0] for t in TRANSFORMS[:5]])
@pytest.mark.parametrize("name, f, want", ALLOWED, ids=[a[0] for a in ALLOWED])
def test_conversions_without_a_derivative_stay_allowed(name, f, want, tname, transform):
    out = transform(f)
    if tname == "grad":
        np.testing.assert_allclose(host(out), want, rtol=1e-12)
    elif tname == "jvp":
        np.testing.assert_allclose(host(out[1]), want, rtol=1e-12)


def test_float_of_a_non_differentiated_argument():
    """argnums leaves the other arguments concrete: converting them is fine."""
    g = ft.grad(lambda x, k: x * float(k) * int(k), argnums=0)(1.5, 3.0)
    np.testing.assert_allclose(host(g), 9.0)


def test_index_of_a_float_is_a_type_error_as_in_numpy():
    """operator.index of a float refuses, as NumPy's does, where no derivative is involved."""
    with pytest.raises(TypeError, match="integer scalar"):
        ft.grad(lambda x: x * operator.index(ft.stop_gradient(x)))(1.5)
    with pytest.raises(TypeError):
        operator.index(np.float64(1.5))


def test_under_jit_it_stays_an_abstract_value_error():
    with pytest.raises(ConcretizationError, match="abstract"):
        ft.jit(lambda x: math.sin(x))(1.5)


def test_array_conversion_message_does_not_advise_float():
    with pytest.raises(TracerArrayConversionError) as info:
        ft.grad(lambda x: np.asarray(x) * x)(1.5)
    assert "float(x)" not in str(info.value)
    assert "stop_gradient" in str(info.value)


def test_integer_arguments_convert_under_every_transform():
    """An integer argument carries no derivative, even where it is traced (eager jvp traces all)."""
    f = lambda x, n: x * int(n) * operator.index(n)  # noqa: E731
    np.testing.assert_allclose(host(ft.jvp(f, (1.5, np.int64(3)), (1.0, np.int64(0)))[1]), 9.0)
    np.testing.assert_allclose(host(ft.grad(f)(1.5, 3)), 9.0)
    np.testing.assert_allclose(host(ft.grad(ft.grad(lambda x, n: x * x * int(n)))(1.5, 3)), 6.0)
