"""Regressions of issue 21, items 9 and 10, on whichever backend the suite runs.

Item 9: a symbolically zero result (the second derivative of ``x + c``) is the backend's array
type like every other result, and the IR of a nested derivative does not depend on the backend.
Item 10: a ``custom_vjp`` backward rule with Python control flow on the cotangent runs under
plain eager ``grad``, as in JAX, and an error about an abstract value names the transform that
is active, never ``jit`` when jit was not used.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError
from functrace.tracing import current_backend


def _plus_c(x):
    return x + 2.0


ZERO_RESULTS = {
    "jvp(grad) tangent": lambda: ft.jvp(ft.grad(_plus_c), (1.0,), (1.0,))[1],
    "jvp(grad) primal": lambda: ft.jvp(ft.grad(_plus_c), (1.0,), (1.0,))[0],
    "grad(grad)": lambda: ft.grad(ft.grad(_plus_c))(1.0),
    "hessian scalar": lambda: ft.hessian(_plus_c)(1.0),
    "hessian vector": lambda: ft.hessian(lambda x: fnp.sum(x + 2.0))(np.ones(3)),
    "grad of a constant": lambda: ft.grad(lambda x: 3.0 + 0.0 * x)(1.0),
    "jvp of a constant output": lambda: ft.jvp(lambda x: 2.0, (1.0,), (1.0,))[1],
    "vjp, unused input": lambda: ft.vjp(lambda x, y: x * 2.0, 1.0, 2.0)[1](1.0)[1],
    "linearize, zero map": lambda: ft.linearize(lambda x: 2.0 + 0.0 * x, 1.0)[1](1.0),
    "jacfwd(grad)": lambda: ft.jacfwd(ft.grad(_plus_c))(1.0),
    "jacrev(grad)": lambda: ft.jacrev(ft.grad(_plus_c))(1.0),
}
WANT = {"jvp(grad) primal": 1.0, "hessian vector": np.zeros((3, 3))}


@pytest.mark.parametrize("name", list(ZERO_RESULTS))
def test_zero_results_are_backend_arrays(name):
    got = ZERO_RESULTS[name]()
    assert current_backend().is_native(got), f"{name}: got a {type(got).__name__}"
    np.testing.assert_array_equal(host(got), WANT.get(name, 0.0))


NESTED = {
    "x*x*3": lambda x: x * x * 3.0,
    "x+c": _plus_c,
    "sin(x)*x": lambda x: fnp.sin(x) * x,
    "exp(2x)/x": lambda x: fnp.exp(2.0 * x) / x,
}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (both backends in one process)")
@pytest.mark.parametrize("name", list(NESTED))
def test_ir_of_nested_grad_does_not_depend_on_backend(name):
    f = ft.grad(ft.grad(NESTED[name]))
    texts, n_eqns = {}, {}
    for b in ("numpy", "torch"):
        with ft.use_backend(b):
            closed = ft.make_jaxpr(f)(2.0)
        assert not any(type(c).__module__.startswith("torch") for c in closed.consts), f"{b}: a tensor constant"
        texts[b], n_eqns[b] = str(closed), len(closed.jaxpr.eqns)
    assert n_eqns["numpy"] == n_eqns["torch"]
    assert texts["numpy"] == texts["torch"]


# ---------------------------------------------------------------------------- item 10
@ft.custom_vjp
def _gate(x):
    return x * 2.0


def _gate_fwd(x):
    return x * 2.0, None


def _gate_bwd(_, ct):
    if ct > 0:  # Python control flow on the cotangent
        return (ct * 2.0,)
    return (ct * 0.0,)


_gate.defvjp(_gate_fwd, _gate_bwd)


def test_custom_vjp_bwd_with_control_flow_under_eager_grad():
    assert float(host(ft.grad(_gate)(3.0))) == 2.0
    assert float(host(ft.grad(lambda x: -_gate(x))(3.0))) == 0.0  # the cotangent is negative
    _, pull = ft.vjp(_gate, 3.0)
    assert float(host(pull(np.float64(-1.0))[0])) == 0.0
    assert float(host(pull(np.float64(1.0))[0])) == 2.0
    # one rule, every route: under jit and vmap the cotangent 1.0 is a constant
    assert float(host(ft.jit(ft.grad(_gate))(3.0))) == 2.0
    np.testing.assert_array_equal(host(ft.vmap(ft.grad(_gate))(np.array([1.0, 2.0]))), [2.0, 2.0])


def _branchy(x):
    return x if x > 0 else -x


@pytest.mark.parametrize("transform,named", [
    (lambda f: ft.vmap(f)(np.array([1.0, -2.0])), "under vmap"),
    (lambda f: ft.jit(f)(1.0), "inside jit"),
    (lambda f: ft.make_jaxpr(f)(1.0), "inside make_jaxpr"),
    (lambda f: ft.vmap(ft.grad(f))(np.array([1.0, -2.0])), "under vmap"),
])
def test_concretization_error_names_the_active_transform(transform, named):
    with pytest.raises(ConcretizationError) as info:
        transform(_branchy)
    msg = str(info.value)
    assert named in msg
    assert "test_core_regressions.py" in msg  # the user's line
    if "jit" not in named:
        assert "jit" not in msg.split("Mark the argument")[0]


def test_python_control_flow_runs_under_eager_transforms():
    assert float(host(ft.grad(_branchy)(-3.0))) == -1.0
    assert float(host(ft.jvp(_branchy, (-3.0,), (1.0,))[1])) == -1.0
    assert float(host(ft.linearize(_branchy, 2.0)[1](1.0))) == 1.0
