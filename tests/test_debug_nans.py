"""``debug_nans`` / ``debug_infs`` (issue 18 item 1): a primitive that makes a NaN (Inf) none of
its operands had raises FloatingPointError naming it, its equation and the user's line; for an
equation of the backward pass, "in the derivative of" the forward line. Eagerly, under jit (by
re-running eagerly), vmap and grad, on both backends; off by default."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp


@pytest.fixture
def nans():
    with ft.config.option("debug_nans"):
        yield


def sqrt_sum(x):
    y = fnp.sqrt(x)  # SQRT LINE
    return fnp.sum(y * 0.0)


def line_of(marker: str) -> str:
    with open(__file__) as f:
        return f"{__file__}:{next(i for i, t in enumerate(f, 1) if marker in t and 'line_of' not in t)}"


@pytest.mark.parametrize("name,make", [("eager", lambda f: f), ("jit", ft.jit), ("vmap", ft.vmap),
                                       ("jit(vmap)", lambda f: ft.jit(ft.vmap(f)))])
def test_forward_nan_names_primitive_equation_and_line(nans, name, make):
    x = np.array([-1.0, 4.0]) if "vmap" not in name else np.array([[-1.0, 4.0]])
    with pytest.raises(FloatingPointError) as info:
        make(sqrt_sum)(x)
    msg = str(info.value)
    assert "'sqrt' produced a NaN" in msg and line_of("SQRT LINE") in msg and "= sqrt f64" in msg, msg
    assert "derivative" not in msg


@pytest.mark.parametrize("name,make", [("grad", ft.grad), ("jit(grad)", lambda f: ft.jit(ft.grad(f))),
                                       ("grad(jit)", lambda f: ft.grad(ft.jit(f)))])
def test_backward_nan_names_the_forward_line_it_differentiates(nans, name, make):
    # sqrt(0) is fine; its derivative 0 * (1 / (2 sqrt 0)) = 0 / 0 is the NaN
    with pytest.raises(FloatingPointError) as info:
        make(sqrt_sum)(np.array([0.0, 4.0]))
    msg = str(info.value)
    assert "produced a NaN" in msg and f"in the derivative of the computation at {line_of('SQRT LINE')}" in msg, msg


def test_nested_grad_names_the_forward_line(nans):
    """Known gap: in grad(grad) the inner derivative is an ordinary program of the outer pass, so the
    message names the forward line without saying "in the derivative of"."""
    with pytest.raises(FloatingPointError, match="produced a NaN") as info:
        ft.grad(lambda x: fnp.sum(ft.grad(sqrt_sum)(x)))(np.array([0.0, 4.0]))
    assert line_of("SQRT LINE") in str(info.value)


def test_nan_from_an_input_is_not_blamed_on_a_primitive(nans):
    x = np.array([np.nan, 1.0])
    assert np.isnan(host(ft.jit(lambda x: fnp.sin(x) * 2.0)(x))[0])
    assert np.isnan(host(fnp.exp(x))[0])


def test_infs_are_checked_only_with_debug_infs():
    x = np.array([0.0, 1.0])
    assert np.isinf(host(fnp.log(x))[0])  # off by default
    ft.config.update("debug_infs", True)
    try:
        with pytest.raises(FloatingPointError, match="'log' produced a Inf"):
            ft.jit(fnp.log)(x)
    finally:
        ft.config.update("debug_infs", False)


def test_off_means_no_checks(monkeypatch):
    import functrace.debug as dbg

    def refuse(*a, **k):
        raise AssertionError("checked while off")

    monkeypatch.setattr(dbg, "check_floats", refuse)
    monkeypatch.setattr(dbg, "checked_jit_call", refuse)
    x = np.array([-1.0, 0.0])
    assert np.isnan(host(ft.jit(sqrt_sum)(x)))
    assert np.isnan(host(ft.grad(sqrt_sum)(np.array([0.0, 1.0])))[0])


def test_environment_variable_in_a_fresh_process():
    code = ("import functrace as ft, functrace.numpy as fnp, numpy as np\n"
            "try:\n    fnp.sqrt(np.array([-1.0]))\n"
            "except FloatingPointError as e:\n    print('raised', 'sqrt' in str(e))\n")
    env = {**os.environ, "FUNCTRACE_DEBUG_NANS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "raised True"
