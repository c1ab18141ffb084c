"""Python scalars passed to a transform are weak, as they are in eager code.

``jit(f)(x, 2.0)`` with a float32 ``x`` must compute what ``f(x, 2.0)`` computes: NEP 50 (and
JAX) let a Python scalar take the dtype of the array it meets, so ``x * 2.0`` is float32 in both.
Every transform that traces its inputs (jit, make_jaxpr, jvp, vjp, grad, linearize, vmap) runs
on the active backend and is checked, for dtype and value, against eager code on NumPy arrays
under the numpy backend: on torch tensors, eager ``*`` is torch's own operator, which promotes
a 0-d float64 tensor differently (see API.md on eager torch results).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, host, result_dtype
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp

X32 = np.array([0.5, -1.25, 2.0], np.float32)


def eager(f: Callable, *args: Any) -> Any:
    """``f(*args)`` as eager functrace code on NumPy arrays: the reference semantics."""
    with ft.use_backend("numpy"):
        return host(f(*args))


def _jvp_value(f: Callable, x: Any, y: Any) -> Any:
    # The tangent of a Python-scalar primal is a Python scalar too, as in JAX.
    return ft.jvp(f, (x, y), (np.ones_like(x), 1.0))[0]


TRANSFORMS: dict[str, Callable[[Callable, Any, Any], Any]] = {
    "jit": lambda f, x, y: ft.jit(f)(x, y),
    "jvp": _jvp_value,
    "vjp": lambda f, x, y: ft.vjp(f, x, y)[0],
    "linearize": lambda f, x, y: ft.linearize(f, x, y)[0],
    "vmap": lambda f, x, y: ft.vmap(f, in_axes=(0, None))(x, y),
    "value_and_grad": lambda f, x, y: ft.value_and_grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(x, y)[0],
    "jit(value_and_grad)": lambda f, x, y: ft.jit(ft.value_and_grad(lambda x, y: fnp.sum(f(x, y))))(x, y)[0],
}

# f(x, y) for a float32 array x and a Python scalar y; the comments give the eager dtype.
PROGRAMS: dict[str, Callable[[Any, Any], Any]] = {
    "x * y": lambda x, y: x * y,  # float32
    "x - y * 2.0": lambda x, y: x - y * 2.0,  # y * 2.0 is a Python float: float32
    "x / (y - 0.5) + -y": lambda x, y: x / (y - 0.5) + -y,  # float32
    "x * y ** 2 + abs(y)": lambda x, y: x * y ** 2 + abs(y),  # float32
    "x * (y // 2.0) + y % 2.0": lambda x, y: x * (y // 2.0) + y % 2.0,  # float32
    "x * fnp.sin(y)": lambda x, y: x * fnp.sin(y),  # fnp.sin(2.0) is a float64 array: float64
    "x + np.float64(y)": lambda x, y: x + fnp.asarray(y, np.float64),  # a strong float64: float64
}


@pytest.mark.parametrize("program", list(PROGRAMS))
@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_transforms_promote_python_scalars_as_eager_code_does(transform, program):
    f = PROGRAMS[program]
    want = eager(f, X32, 3.0)
    got = TRANSFORMS[transform](f, X32, 3.0)
    if transform.endswith("value_and_grad)") or transform == "value_and_grad":
        want = np.sum(want)
    assert_close(got, want, what=f"{transform} of {program}: ")


def test_make_jaxpr_converts_the_scalar_not_the_array():
    closed = ft.make_jaxpr(lambda x, y: x * y)(X32, 2.0)
    (a, b) = closed.jaxpr.invars
    assert str(a.aval.dtype) == "float32" and str(b.aval.dtype) == "float64"
    convert, mul = closed.jaxpr.eqns
    assert convert.primitive.name == "convert_element_type" and convert.invars[0] is b
    assert convert.params["new_dtype"] == np.float32
    assert str(mul.outvars[0].aval.dtype) == "float32"


def test_python_int_keeps_an_integer_arrays_dtype():
    x = np.array([1, 2, 3], np.int32)
    for got in (ft.jit(lambda x, k: x * k + k)(x, 2), ft.vmap(lambda x, k: x * k, in_axes=(0, None))(x, 2)):
        assert result_dtype(got) == np.int32
    assert result_dtype(ft.jit(lambda x, k: x * k)(X32, 3)) == np.float32
    assert result_dtype(ft.jit(lambda k: k / 2)(3)) == np.float64  # as 3 / 2 in Python, then an array


def test_numpy_scalar_arguments_stay_strong():
    # np.float64 is a strong type under NEP 50: float32 * np.float64 is float64, under jit too.
    assert result_dtype(ft.jit(lambda x, y: x * y)(X32, np.float64(2.0))) == np.float64
    assert result_dtype(ft.jit(lambda x, y: x * y)(X32, np.array(2.0))) == np.float64


def test_a_weak_result_does_not_leak_into_an_equal_strong_one():
    # y * 2.0 and y * np.float64(2.0) are one equation (CSE), but only the first is weak.
    def f(x, y):
        return x * (y * 2.0), x * (y * fnp.asarray(2.0, np.float64))

    weak, strong = ft.jit(f)(X32, 1.5)
    assert result_dtype(weak) == np.float32 and result_dtype(strong) == np.float64
    assert_close(weak, X32 * 3.0)
    assert_close(strong, X32.astype(np.float64) * 3.0)


def test_gradient_with_respect_to_a_python_scalar():
    g = ft.grad(lambda y, x: fnp.sum(x * y))(2.0, X32)
    assert_close(g, np.float64(np.sum(X32)), rtol=1e-6)  # the cotangent comes back in y's dtype
    h = ft.jit(ft.grad(ft.grad(lambda y: y ** 3)))(2.0)
    assert_close(h, np.float64(12.0))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_loop_carry_started_from_a_python_scalar_takes_the_bodys_dtype(jit):
    def total(x):
        return ft.lax.fori_loop(0, 3, lambda i, c: c + fnp.sum(x), 0.0)

    got = (ft.jit(total) if jit else total)(X32)
    assert_close(got, np.float32(3 * np.sum(X32)))
    count = ft.lax.while_loop(lambda c: c < 2.5, lambda c: c + 1.0, 0)  # int start, float steps
    assert_close(count, np.float64(3.0))

    def scan_sum(x):
        return ft.lax.scan(lambda c, v: (c + v, c), 0.0, x)

    carry, ys = (ft.jit(scan_sum) if jit else scan_sum)(X32)
    assert_close(carry, np.float32(np.sum(X32)))
    assert_close(ys, np.array([0.0, 0.5, -0.75], np.float32))


def _halving_loop(c: Any, n: Any = 3) -> Any:
    return ft.lax.fori_loop(0, n, lambda i, c: c * 0.5 + i, c)


# Issue 21 item 12: the fori_loop index is weak (as in JAX), so it does not promote a float32
# carry. c -> c/2 + i three times from 1: 2.625; its derivative 1/8. Bounds concrete (a scan)
# and traced (a while_loop, forward mode only).
_FORI_CASES = {
    "eager": lambda c: _halving_loop(c),
    "jit": lambda c: ft.jit(_halving_loop)(c),
    "jit-traced-bounds": lambda c: ft.jit(_halving_loop)(c, 3),
    "grad": lambda c: ft.grad(_halving_loop)(c) * 21.0,
    "jit-grad": lambda c: ft.jit(ft.grad(_halving_loop))(c) * 21.0,
    "jvp-traced-bounds": lambda c: ft.jvp(lambda c: ft.jit(_halving_loop)(c, 3), (c,), (c,))[1] * 21.0,
    "vmap": lambda c: ft.vmap(_halving_loop)(fnp.stack([c, c]))[1],
    "int32-bounds": lambda c: ft.lax.fori_loop(np.int32(0), np.int32(3), lambda i, c: c * 0.5 + i, c),
}


@pytest.mark.parametrize("how", list(_FORI_CASES))
def test_fori_loop_index_keeps_a_float32_carry(how):
    got = _FORI_CASES[how](np.float32(1.0))
    assert_close(got, np.float32(2.625))


def test_fori_loop_index_meets_an_integer_carry_as_a_python_int():
    assert_close(ft.lax.fori_loop(0, 3, lambda i, c: c + i, np.int32(1)), np.int32(4))
    assert_close(ft.jit(lambda c: ft.lax.fori_loop(0, 3, lambda i, c: c + i, c))(np.int8(1)), np.int8(4))
    assert_close(ft.lax.fori_loop(0, 3, lambda i, c: c + i, 1.0), np.float64(4.0))


def test_strongly_typed_carry_mismatch_is_still_an_error():
    with pytest.raises(TypeError, match="body_fun"):
        ft.lax.while_loop(lambda c: c < 3, lambda c: c + 1.0, np.int64(0))
    with pytest.raises(TypeError, match="carry"):
        ft.lax.scan(lambda c, v: (c + v, c), np.int32(0), X32)  # int32 + float32 is float64


# Random expressions in a float32 array x and a Python scalar y, with the operators Python
# scalars have and a NumPy function: jit must give eager's dtype and values.
_LEAVES = st.sampled_from(["x", "y", "2.0", "3", "0.5"])
_UNARY = ["-({})", "abs({})", "({}) ** 2", "fnp.tanh({})"]
_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (abs({}) + 1.0)"]


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        _LEAVES,
        lambda inner: st.one_of(
            st.builds(lambda t, a: t.format(a), st.sampled_from(_UNARY), inner),
            st.builds(lambda t, a, b: t.format(a, b), st.sampled_from(_BINARY), inner, inner),
        ),
        max_leaves=6,
    )


@settings(max_examples=60, deadline=None)
@given(expr=_expressions(), y=st.sampled_from([0.75, -1.5, 2]))
def test_random_expressions_match_eager_under_jit(expr, y):
    f = eval(f"lambda x, y: ({expr}) + 0 * x", {"fnp": fnp})  # + 0 * x: the result is an array
    want = eager(f, X32, y)
    got = ft.jit(f)(X32, y)
    assert_close(got, want, rtol=1e-5, atol=1e-5, what=f"{expr}: ")
