"""The first-day mistakes with grad get an answer that says what went wrong and what to write.

``ft.grad(3.0)`` failed inside autodiff.py with "'float' object is not callable"; a function
returning None or a tuple under grad was reported as returning "shape(s) []"; a one-element list
or dict was silently differentiated as its leaf (JAX refuses any container).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import GradError

HERE = os.path.basename(__file__)

NOT_FUNCTIONS = [3.0, 2, None, np.ones(2), "sin"]


@pytest.mark.parametrize("value", NOT_FUNCTIONS, ids=repr)
@pytest.mark.parametrize("name, make", [
    ("grad", lambda v: ft.grad(v)),
    ("grad", lambda v: ft.grad(v, argnums=(0,), has_aux=True)),
    ("value_and_grad", lambda v: ft.value_and_grad(v)),
    ("vjp", lambda v: ft.vjp(v, 1.0)),
], ids=["grad", "grad with options", "value_and_grad", "vjp"])
def test_a_transform_of_a_non_function_says_it_expects_a_function(name, make, value):
    with pytest.raises(TypeError, match=f"{name} expects a function") as info:
        make(value)  # at the call that made the mistake, before anything runs
    assert isinstance(info.value, GradError) and HERE in str(info.value)


# (name, f, what the message must say)
BAD_OUTPUTS = [
    ("None", lambda x: None, r"returned None \(is a `return` missing\?\)"),
    ("a forgotten return", lambda x: [fnp.sin(x)] and None, "returned None"),
    ("a pair", lambda x: (x * x, x), "tuple of 2 values.*has_aux=True"),
    ("a triple", lambda x: (x, x, x), "tuple of 3 values.*has_aux=True"),
    ("a list", lambda x: [x * x], "list of 1 value; for several outputs use ft.vjp or ft.jacrev"),
    ("a dict", lambda x: {"loss": x * x}, "dict of 1 value"),
]


@pytest.mark.parametrize("name, f, msg", BAD_OUTPUTS, ids=[b[0] for b in BAD_OUTPUTS])
@pytest.mark.parametrize("transform", [
    lambda f: ft.grad(f)(1.5),
    lambda f: ft.value_and_grad(f)(1.5),
    lambda f: ft.jit(ft.grad(f))(1.5),
    lambda f: ft.grad(ft.grad(f))(1.5),
    lambda f: ft.vmap(ft.grad(f))(np.ones(2)),
], ids=["grad", "value_and_grad", "jit(grad)", "grad(grad)", "vmap(grad)"])
def test_grad_of_a_non_scalar_output_says_what_it_returned(name, f, msg, transform):
    with pytest.raises(GradError, match=msg) as info:
        transform(f)
    assert HERE in str(info.value)
    assert "shape(s)" not in str(info.value)


def test_has_aux_checks_the_output_part():
    with pytest.raises(GradError, match=r"has_aux=True requires .*but its output was a tuple of 2 values"):
        ft.grad(lambda x: ((x, x), 1.0), has_aux=True)(1.5)
    with pytest.raises(GradError, match="pair"):  # has_aux=True with no pair at all
        ft.grad(lambda x: x * x, has_aux=True)(1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_suggested_fixes_work(dtype):
    x = dtype(1.5)
    g, aux = ft.grad(lambda x: (x * x, x), has_aux=True)(x)  # what the tuple message suggests
    np.testing.assert_allclose(host(g), 3.0, rtol=1e-6)
    assert host(g).dtype == dtype and host(aux) == x
    (gv,) = ft.vjp(lambda x: [x * x], x)[1]([dtype(1.0)])  # a list output: vjp takes a list cotangent
    np.testing.assert_allclose(host(gv), 3.0, rtol=1e-6)
