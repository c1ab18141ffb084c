"""Values and dtypes of ``functrace.nn`` against direct NumPy formulas (eager and traced)."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, host, random_array, traced_call
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

nn = ft.nn
f32, f64, i32 = np.float32, np.float64, np.int32


def _float(x: np.ndarray) -> np.ndarray:
    """NumPy's float type for a transcendental of ``x`` (ints compute in float64)."""
    return x if x.dtype.kind == "f" else x.astype(np.result_type(x.dtype, np.float16))


def np_sigmoid(x):
    x = _float(x)
    return (1 / (1 + np.exp(-x))).astype(x.dtype)


def np_logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed in extended precision (inputs here are moderate)."""
    x = _float(x)
    out = np.log(np.sum(np.exp(x.astype(np.longdouble)), axis=axis, keepdims=keepdims))
    return np.asarray(out).astype(x.dtype)


def np_softmax(x, axis=-1):
    x = _float(x)
    e = np.exp(x.astype(np.longdouble))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def np_log_softmax(x, axis=-1):
    x = _float(x)
    return (x - np_logsumexp(x, axis=axis, keepdims=True)).astype(x.dtype)


def np_gelu(x):
    x = _float(x)
    c = np.sqrt(2 / np.pi)
    return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))).astype(x.dtype)


def np_gelu_exact(x):
    """x * Phi(x) with the C library's erf, element by element (independent of SciPy)."""
    x = _float(x)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1 + erf(x.astype(np.float64) / math.sqrt(2)))).astype(x.dtype)


# (name, functrace call, NumPy formula, dtypes)
NN_OPS: list[tuple[str, Callable, Callable, tuple]] = [
    ("relu", nn.relu, lambda x: np.maximum(x, 0).astype(x.dtype), (f32, f64, i32)),
    ("sigmoid", nn.sigmoid, np_sigmoid, (f32, f64, i32)),
    ("softplus", nn.softplus, lambda x: np.logaddexp(_float(x), 0).astype(_float(x).dtype), (f32, f64, i32)),
    ("gelu", nn.gelu, np_gelu, (f32, f64)),
    ("gelu(approximate=False)", lambda x: nn.gelu(x, approximate=False), np_gelu_exact, (f32, f64)),
    ("silu", nn.silu, lambda x: (_float(x) * np_sigmoid(x)).astype(_float(x).dtype), (f32, f64, i32)),
    ("swish", nn.swish, lambda x: (x * np_sigmoid(x)).astype(x.dtype), (f32, f64)),
    ("tanh", nn.tanh, np.tanh, (f32, f64, i32)),
    ("logsumexp", nn.logsumexp, np_logsumexp, (f32, f64, i32)),
    ("logsumexp(axis=0)", lambda x: nn.logsumexp(x, axis=0), lambda x: np_logsumexp(x, axis=0), (f32, f64)),
    ("logsumexp(axis=-1,keepdims)", lambda x: nn.logsumexp(x, axis=-1, keepdims=True),
     lambda x: np_logsumexp(x, axis=-1, keepdims=True), (f32, f64)),
    ("logsumexp(axis=(0,2))", lambda x: nn.logsumexp(x, axis=(0, 2)), lambda x: np_logsumexp(x, axis=(0, 2)),
     (f32, f64)),
    ("logsumexp(keepdims)", lambda x: nn.logsumexp(x, keepdims=True), lambda x: np_logsumexp(x, keepdims=True),
     (f64,)),
    ("softmax", nn.softmax, np_softmax, (f32, f64, i32)),
    ("softmax(axis=0)", lambda x: nn.softmax(x, axis=0), lambda x: np_softmax(x, axis=0), (f32, f64)),
    ("softmax(axis=1)", lambda x: nn.softmax(x, axis=1), lambda x: np_softmax(x, axis=1), (f32, f64)),
    ("log_softmax", nn.log_softmax, np_log_softmax, (f32, f64, i32)),
    ("log_softmax(axis=0)", lambda x: nn.log_softmax(x, axis=0), lambda x: np_log_softmax(x, axis=0), (f32, f64)),
]
def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)


def _np_relu6(x):
    return np.minimum(np.maximum(x, 0), 6).astype(x.dtype)


def _np_standardize(x, axis=-1):
    x = x.astype(np.longdouble)
    mean = x.mean(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axis, keepdims=True) + 1e-5)


def _same(ref):
    """A NumPy formula evaluated in extended precision, returned in the float type of the input
    (float64 for integers)."""
    return lambda x: np.asarray(ref(_float(x).astype(np.longdouble))).astype(_float(x).dtype)


_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)

# The rest of jax.nn, on inputs spread by 4 so that every branch is met: (name, call, formula, dtypes).
NN_WIDE: list[tuple[str, Callable, Callable, tuple]] = [
    ("identity", nn.identity, lambda x: x, (f32, f64, i32)),
    ("relu6", nn.relu6, _same(_np_relu6), (f32, f64, i32)),
    ("hard_tanh", nn.hard_tanh, lambda x: np.clip(x, -1, 1).astype(x.dtype), (f32, f64, i32)),
    ("hard_sigmoid", nn.hard_sigmoid, _same(lambda x: _np_relu6(x + 3) / 6), (f32, f64, i32)),
    ("hard_silu", nn.hard_silu, _same(lambda x: x * _np_relu6(x + 3) / 6), (f32, f64)),
    ("hard_swish", nn.hard_swish, _same(lambda x: x * _np_relu6(x + 3) / 6), (f32, f64)),
    ("leaky_relu", nn.leaky_relu, _same(lambda x: np.where(x >= 0, x, 0.01 * x)), (f32, f64, i32)),
    ("leaky_relu(0.3)", lambda x: nn.leaky_relu(x, negative_slope=0.3), _same(lambda x: np.where(x >= 0, x, 0.3 * x)),
     (f32, f64)),
    ("elu", nn.elu, _same(_np_elu), (f32, f64, i32)),
    ("elu(alpha=0.5)", lambda x: nn.elu(x, alpha=0.5), _same(lambda x: _np_elu(x, 0.5)), (f32, f64)),
    ("celu(alpha=2)", lambda x: nn.celu(x, alpha=2.0), _same(lambda x: np.where(x > 0, x, 2 * np.expm1(x / 2))),
     (f32, f64)),
    ("selu", nn.selu, _same(lambda x: _SELU[1] * _np_elu(x, _SELU[0])), (f32, f64)),
    ("log_sigmoid", nn.log_sigmoid, _same(lambda x: -np.logaddexp(0, -x)), (f32, f64, i32)),
    ("soft_sign", nn.soft_sign, _same(lambda x: x / (np.abs(x) + 1)), (f32, f64, i32)),
    ("squareplus", nn.squareplus, _same(lambda x: (x + np.sqrt(x * x + 4)) / 2), (f32, f64)),
    ("squareplus(b=0.5)", lambda x: nn.squareplus(x, b=0.5), _same(lambda x: (x + np.sqrt(x * x + 0.5)) / 2),
     (f32, f64)),
    ("sparse_plus", nn.sparse_plus, _same(lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
     (f32, f64)),
    ("sparse_sigmoid", nn.sparse_sigmoid, _same(lambda x: np.clip(x + 1, 0, 2) / 2), (f32, f64)),
    ("mish", nn.mish, _same(lambda x: x * np.tanh(np.logaddexp(x, 0))), (f32, f64)),
    ("log1mexp(|x|+0.01)", lambda x: nn.log1mexp(np.abs(x) + x.dtype.type(0.01)),
     _same(lambda x: np.log(-np.expm1(-(np.abs(x) + 0.01)))), (f32, f64)),
    ("logmeanexp", nn.logmeanexp, _same(lambda x: np_logsumexp(x) - np.log(max(x.size, 1))), (f32, f64)),
    ("logmeanexp(axis=-1,keepdims)", lambda x: nn.logmeanexp(x, axis=-1, keepdims=True),
     _same(lambda x: np_logsumexp(x, axis=-1, keepdims=True) - np.log(x.shape[-1])), (f32, f64)),
    ("standardize", nn.standardize, _same(_np_standardize), (f32, f64)),
    ("standardize(axis=0,stable)", lambda x: nn.standardize(x, axis=0, algorithm="stable"),
     _same(lambda x: _np_standardize(x, axis=0)), (f32, f64)),
    ("glu(axis=1)", lambda x: nn.glu(x, axis=1),
     _same(lambda x: x[:, :2] / (1 + np.exp(-x[:, 2:]))), (f32, f64)),
]


NEEDS_3D = ("axis=1", "axis=(0,2)", "axis=0", "axis=-1")
SHAPES = [(), (1,), (7,), (2, 3, 5), (2, 4, 3)]


def _cases() -> list:
    out = []
    for table, spread in ((NN_OPS, 1), (NN_WIDE, 4)):
        for name, f, ref, dtypes in table:
            for shape in SHAPES:
                if any(k in name for k in NEEDS_3D) and len(shape) < 3:
                    continue
                if name.startswith(("softmax", "log_softmax", "standardize")) and shape == ():
                    continue
                if name.startswith("glu") and shape != (2, 4, 3):
                    continue
                for dt in dtypes:
                    pid = f"{name}-{shape}-{np.dtype(dt).name}".replace(" ", "")
                    out.append(pytest.param(f, ref, shape, dt, spread, id=pid))
    return out


@pytest.mark.parametrize("f,ref,shape,dtype,spread", _cases())
@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_nn_values_and_dtypes(f: Callable, ref: Callable, shape: tuple, dtype: Any, spread: float, mode: str):
    x = random_array(np.random.default_rng(0), shape, dtype, "real" if np.dtype(dtype).kind == "f" else "small_int")
    x = (x * spread).astype(x.dtype)
    want = ref(x)
    got = f(x) if mode == "eager" else traced_call(f, x)[0]
    assert_close(got, want)


def test_softmax_of_a_scalar_is_one():
    assert_close(nn.softmax(np.float64(3.0), axis=0), np.float64(1.0))


@pytest.mark.parametrize("dtype", [f32, f64])
def test_softmax_family_is_stable_for_large_inputs(dtype):
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]], dtype)
    assert_close(nn.softmax(x), np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], dtype))
    assert_close(nn.logsumexp(x, axis=1), np.array([1000 + np.log(2), 1e4], dtype))
    assert_close(nn.log_softmax(x)[0], np.array([-np.log(2), -np.log(2), -2000 - np.log(2)], dtype))
    assert_close(nn.softplus(np.array([-1000.0, 1000.0], dtype)), np.array([0.0, 1000.0], dtype))
    assert_close(nn.sigmoid(np.array([-1000.0, 0.0, 1000.0], dtype)), np.array([0.0, 0.5, 1.0], dtype))
    assert_close(nn.silu(np.array([-1000.0, 1000.0], dtype)), np.array([-0.0, 1000.0], dtype))


@pytest.mark.parametrize("mode", ["eager", "traced"])
def test_infinities_in_the_softmax_family(mode):
    """-inf entries act as masks; a row of only -inf has logsumexp -inf (not nan); softmax and
    log_softmax of a row holding +inf are nan throughout (JAX's values: it gave [nan, 0, 0])."""
    x = np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf], [1.0, np.inf, 2.0]])

    def f(t):
        return (nn.softmax(t[:1]), nn.logsumexp(t, axis=1), nn.relu(t), nn.softplus(t), nn.sigmoid(t),
                nn.softmax(t[2:]), nn.log_softmax(t[2:]))

    got = f(x) if mode == "eager" else traced_call(f, x)[0]
    assert_close(got[0], np.array([[0.5, 0.0, 0.5]]))
    assert_close(got[1], np.array([np.log(2), -np.inf, np.inf]))
    assert_close(got[2], np.maximum(x, 0))
    assert_close(got[3], np.logaddexp(x, 0))
    assert_close(got[4], np.where(np.isinf(x), (x > 0).astype(float), 1 / (1 + np.exp(-x))))
    assert np.isnan(host(got[5])).all() and np.isnan(host(got[6])).all()


def test_sigmoid_is_accurate_in_the_left_tail():
    x = np.array([-40.0, -100.0, -700.0])
    assert_close(nn.sigmoid(x), np.exp(x) / (1 + np.exp(x)), rtol=1e-10, atol=0)


@pytest.mark.parametrize("mode", ["eager", "traced"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(mode, axis):
    labels = np.array([[0, 2, 1], [3, 3, 0]], np.int32)
    want = np.moveaxis(np.eye(4)[labels], -1, axis)

    def f(t):
        return nn.one_hot(t, 4, axis=axis)

    got = f(labels) if mode == "eager" else traced_call(f, labels)[0]
    assert_close(got, want)


@pytest.mark.parametrize("dtype", [f32, np.int64, np.bool_])
def test_one_hot_dtype_and_out_of_range_labels(dtype):
    got = nn.one_hot(np.array([1, 5, -1]), 3, dtype=dtype)
    assert_close(got, np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype))
    assert_close(nn.one_hot([0, 1], 2), np.eye(2))


@pytest.mark.parametrize("dtype", [f32, f64])
def test_gelu_exact_derivatives(dtype):
    x = np.linspace(-3, 3, 7).astype(dtype)
    check_grads(lambda x: nn.gelu(x, approximate=False), (x,), order=2, rtol=None if dtype == f32 else 1e-6)
    # d/dx x Phi(x) = Phi(x) + x phi(x)
    want = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    assert_close(ft.vmap(ft.grad(lambda x: nn.gelu(x, approximate=False)))(x), want.astype(dtype))


def test_erf_without_scipy_is_the_c_librarys():
    from functrace.backends.numpy_elementwise import _erf_by_element

    x = np.array([-3.0, -0.5, 0.0, 1e-3, 2.5], np.float32)
    got = _erf_by_element(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([math.erf(v) for v in x.astype(np.float64)], np.float32))
    assert _erf_by_element(np.array(0.5)).shape == ()


def test_nn_jaxprs_use_literals_and_stop_gradient():
    """relu's zero is a literal (no array constant); the softmax family's max shift is a stop_gradient."""
    x = np.ones((2, 3), f32)
    relu = ft.make_jaxpr(nn.relu)(x)
    assert relu.consts == [] and [e.primitive.name for e in relu.eqns] == ["le", "select"]
    for f in (nn.softmax, nn.log_softmax, nn.logsumexp):
        closed = ft.make_jaxpr(f)(x)
        names = [e.primitive.name for e in closed.eqns]
        assert "stop_gradient" in names and "reduce_max" in names and closed.consts == []
        assert all(a.dtype == np.float32 for e in closed.eqns for a in (v.aval for v in e.outvars)
                   if a.dtype.kind == "f")


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-50, 50)),
       data=st.data())
def test_softmax_properties(x, data):
    """softmax sums to one and exp(log_softmax) equals softmax, along any axis."""
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    s = np.asarray(ft.device_get(nn.softmax(x, axis=axis)))
    ls = np.asarray(ft.device_get(nn.log_softmax(x, axis=axis)))
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ls), s, rtol=1e-9, atol=1e-300)
    lse = np.asarray(ft.device_get(nn.logsumexp(x, axis=axis, keepdims=True)))
    np.testing.assert_allclose(ls, x - lse, rtol=1e-9, atol=1e-9)


def test_nn_accepts_plain_numpy_functions_inside():
    """An nn function applied to the result of plain NumPy calls on a traced value."""
    x = np.linspace(-2, 2, 6).reshape(2, 3)
    got, _ = traced_call(lambda t: nn.softmax(np.sin(t) * 2.0, axis=0), x)
    assert_close(got, np_softmax(np.sin(x) * 2.0, axis=0))
    assert_close(fnp.sum(got, axis=0), np.ones(3))
