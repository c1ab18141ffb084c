"""Misuse of the autodiff API raises a specific exception whose message names the user's line
(here: the line of this file that made the call) and says what to do instead."""

from __future__ import annotations

import re
import sys
from typing import Any, Callable

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import ops as P
from functrace.rules import jvp_rules, transpose_rules

X = np.array([0.5, 1.0, -2.0])


def fails(exc: type[BaseException], thunk: Callable[[], Any], *phrases: str) -> str:
    """Run ``thunk`` (a one-line lambda); it must raise ``exc`` naming the caller's line and ``phrases``."""
    line = sys._getframe(1).f_lineno
    with pytest.raises(exc) as info:
        thunk()
    msg = str(info.value)
    where = re.findall(r"test_autodiff_errors\.py:(\d+)", msg)
    assert where == [str(line)], f"the message should name this file at line {line} once: {msg}"
    for p in phrases:
        assert re.search(p, msg), f"{p!r} not in the message: {msg}"
    return msg


def named_line(exc_info: pytest.ExceptionInfo, line: int) -> None:
    assert re.findall(r"test_autodiff_errors\.py:(\d+)", str(exc_info.value)) == [str(line)], str(exc_info.value)


# ---------------------------------------------------------------------------- grad of non-scalar output
def test_grad_of_vector_output():
    fails(ft.GradError, lambda: ft.grad(fnp.sin)(X), "scalar", r"\(3,\)", "vjp", "jacrev")


def test_grad_of_vector_output_is_a_type_error():
    with pytest.raises(TypeError):
        ft.grad(fnp.sin)(X)


def test_value_and_grad_of_tuple_output():
    fails(ft.GradError, lambda: ft.value_and_grad(lambda x: (x, x))(1.0), "scalar", "vjp", "jacrev")


def test_grad_of_integer_output():
    fails(ft.GradError, lambda: ft.grad(lambda x: fnp.argmax(x))(X), "float")


# ---------------------------------------------------------------------------- integer / boolean inputs
@pytest.mark.parametrize("arg", [3, np.array([1, 2]), np.array(True), np.array([1, 2], np.int32)], ids=repr)
def test_grad_wrt_integer_or_boolean(arg):
    fails(ft.GradError, lambda: ft.grad(lambda x: fnp.sum(x * 1.0))(arg), "float", "argument 0", "dtype",
          r"argnums|astype|1\.0")


def test_grad_wrt_integer_leaf_of_pytree():
    fails(ft.GradError, lambda: ft.grad(lambda p: p["a"] * p["n"])({"a": 1.0, "n": 2}), "float", "int")


def test_integer_argument_not_differentiated_is_fine():
    np.testing.assert_allclose(np.asarray(ft.device_get(ft.grad(lambda x, n: x ** n)(2.0, 3))), 12.0)


def test_jacobians_wrt_integer():
    fails(ft.GradError, lambda: ft.jacfwd(lambda x: x * 2)(np.arange(3)), "float")
    fails(ft.GradError, lambda: ft.jacrev(lambda x: x * 2)(np.arange(3)), "float")


# ---------------------------------------------------------------------------- argnums
@pytest.mark.parametrize("argnums", [2, -3, (0, 5)], ids=str)
def test_argnums_out_of_range(argnums):
    fails(ft.GradError, lambda: ft.grad(lambda x, y: x * y, argnums=argnums)(1.0, 2.0), "argnums", "out of range",
          "2 positional arguments")


def test_argnums_out_of_range_is_also_a_type_error():
    with pytest.raises(TypeError):
        ft.value_and_grad(lambda x: x, argnums=1)(1.0)


def test_jacobian_argnums_out_of_range():
    fails(ft.GradError, lambda: ft.jacrev(lambda x: x, argnums=1)(X), "argnums")


# ---------------------------------------------------------------------------- cotangents and tangents
def test_vjp_fn_cotangent_wrong_shape():
    _, vjp_fn = ft.vjp(fnp.sin, X)
    fails(ft.GradError, lambda: vjp_fn(np.ones(2)), "cotangent", r"f64\[2\]", r"f64\[3\]", "shape")


def test_vjp_fn_cotangent_wrong_dtype():
    _, vjp_fn = ft.vjp(fnp.sin, X)
    fails(ft.GradError, lambda: vjp_fn(np.ones(3, np.float32)), "cotangent", "f32", "f64", "dtype")


def test_vjp_fn_cotangent_wrong_structure():
    _, vjp_fn = ft.vjp(lambda x: (x, x), X)
    fails(ft.GradError, lambda: vjp_fn(np.ones(3)), "cotangent", "structure")


def test_jvp_tangent_mismatch():
    fails(ft.GradError, lambda: ft.jvp(fnp.sin, (X,), (np.ones(2),)), "tangent", "shape")
    fails(ft.GradError, lambda: ft.jvp(fnp.sin, (X,), (np.ones(3, np.float32),)), "tangent", "dtype")


def test_jvp_needs_tuples():
    fails(ft.GradError, lambda: ft.jvp(fnp.sin, X, np.ones(3)), "tuple")


def test_linearize_tangent_structure():
    _, f_jvp = ft.linearize(lambda x, y: x * y, 1.0, 2.0)
    fails(ft.GradError, lambda: f_jvp(1.0), "structure")


# ---------------------------------------------------------------------------- has_aux
def test_has_aux_needs_a_pair():
    fails(ft.GradError, lambda: ft.grad(lambda x: x * 2.0, has_aux=True)(1.0), "has_aux", "pair")


# ---------------------------------------------------------------------------- leaked tracers
def test_leaked_tracer_used_later():
    stash = []

    def f(x):
        stash.append(x * 2.0)
        return x ** 2

    ft.grad(f)(3.0)
    fails(ft.UnexpectedTracerError, lambda: stash[0] + 1.0, "escaped", "Return it|argument")


def test_leaked_tracer_used_inside_a_later_transform():
    stash = []
    ft.grad(lambda x: stash.append(fnp.sin(x)) or x)(1.0)
    fails(ft.UnexpectedTracerError, lambda: ft.grad(lambda y: y * stash[0])(2.0), "escaped")


def test_leaked_tracer_from_jvp():
    stash = []
    ft.jvp(lambda x: stash.append(x) or x, (1.0,), (1.0,))
    fails(ft.UnexpectedTracerError, lambda: fnp.sin(stash[0]), "escaped")


def test_leaked_tracer_is_a_runtime_error():
    stash = []
    ft.vjp(lambda x: stash.append(x) or x, 1.0)
    with pytest.raises(RuntimeError):
        stash[0] * 2.0


# ---------------------------------------------------------------------------- control flow without values
def test_python_if_under_make_jaxpr_of_grad():
    def f(x):
        if x > 0:
            return x ** 2
        return -x

    line = f.__code__.co_firstlineno + 1
    with pytest.raises(ft.ConcretizationError) as info:
        ft.make_jaxpr(ft.grad(f))(1.0)
    named_line(info, line)
    assert re.search("static_argnums|where|cond", str(info.value))


# ---------------------------------------------------------------------------- missing rules
def test_missing_jvp_rule_names_primitive(monkeypatch):
    monkeypatch.delitem(jvp_rules, P.sinh_p)
    with pytest.raises(NotImplementedError, match="sinh"):
        ft.grad(fnp.sinh)(1.0)


def test_missing_transpose_rule_names_primitive(monkeypatch):
    monkeypatch.delitem(transpose_rules, P.cumsum_p)
    with pytest.raises(NotImplementedError, match="cumsum.*reverse|reverse.*cumsum"):
        ft.grad(lambda x: fnp.sum(fnp.cumsum(x) ** 2))(X)
