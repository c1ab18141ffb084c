"""``functrace.scipy.special`` against SciPy: values and dtypes, derivatives to second order in
both modes, and SciPy's own ufuncs called on traced values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, random_array, result_dtype

import functrace as ft
from functrace.test_util import check_grads

sp = pytest.importorskip("scipy.special")
special = ft.scipy.special

# name -> domain of the inputs
FUNCTIONS = {"erf": "real", "expit": "real", "logit": "unit01", "logsumexp": "real"}
SHAPES = [(), (1,), (7,), (3, 1, 4)]


def _inputs(name: str, shape: tuple, dtype) -> np.ndarray:
    rng = np.random.default_rng(len(shape) + 7 * len(name))
    if FUNCTIONS[name] == "unit01":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    return random_array(rng, shape, dtype, "real")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_values_match_scipy(name, dtype, shape):
    x = _inputs(name, shape, dtype)
    want = getattr(sp, name)(x)
    assert_close(getattr(special, name)(x), want, what=f"{name}: ")
    assert_close(ft.jit(getattr(special, name))(x), want, what=f"jit({name}): ")


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.bool_, np.float16])
def test_other_types_are_computed_in_float64(dtype):
    # SciPy's own choice depends on its version (1.17 takes float64; 1.18 float32 for int8,
    # bool and float16, the first of their loops such a value casts to safely): functrace keeps one.
    x = np.array([0, 1, 1], dtype)
    for name in ("erf", "expit"):
        got = getattr(special, name)(x)
        assert result_dtype(got) == np.float64
        assert_close(got, getattr(sp, name)(x.astype(np.float64)), what=f"{name}: ")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_derivatives_to_second_order(name, dtype):
    x = _inputs(name, (3, 1, 4), dtype)
    # float32: check_grads' default rtol (2e-3); float64: tighter than its default 1e-5.
    check_grads(getattr(special, name), (x,), order=2, rtol=None if dtype == np.float32 else 1e-6)


def test_erf_derivative_is_the_gaussian():
    x = np.linspace(-3, 3, 7)
    assert_close(ft.vmap(ft.grad(special.erf))(x), 2 / math.sqrt(math.pi) * np.exp(-x * x))


def test_logsumexp_axis_keepdims_and_weights():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert_close(special.logsumexp(x, axis=1, keepdims=True), sp.logsumexp(x, axis=1, keepdims=True))
    assert_close(special.logsumexp(x, b=np.full(4, 2.0)), sp.logsumexp(x, b=np.full(4, 2.0)))


def test_scipy_ufuncs_on_traced_values_are_traced():
    x = np.array([-2.0, 0.3, 1.5])

    def f(x):  # plain SciPy code
        return np.sum(sp.erf(x) * sp.expit(x) + sp.logit(sp.expit(x)))

    want = 2 / math.sqrt(math.pi) * np.exp(-x * x) * sp.expit(x) + sp.erf(x) * sp.expit(x) * (1 - sp.expit(x)) + 1
    assert_close(ft.grad(f)(x), want)
    assert_close(ft.jit(ft.grad(f))(x), want)
    with pytest.raises(ft.errors.UnsupportedNumpyFunctionError, match=r"scipy\.special\.sici .*erf, erfc"):
        ft.grad(lambda x: np.sum(sp.sici(x)[0]))(x)
