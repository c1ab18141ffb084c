"""The autodiff API: jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev, hessian.

Behaviour follows JAX: argnums as int or tuple, has_aux, pytrees in and out, Jacobians laid
out as JAX lays them out, JAX's choices at kinks and ties, nesting to any depth without
perturbation confusion, Python control flow on values outside jit, and dtypes kept.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.errors import ConcretizationError
from functrace.ir import typecheck_jaxpr
from functrace.rules import jvp_rules


def close(got, want, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(host(got), want, rtol=rtol, atol=atol)


def assert_tree_close(got, want, rtol=1e-10, atol=1e-12):
    g_leaves, g_tree = ft.tree_util.tree_flatten(got)
    w_leaves, w_tree = ft.tree_util.tree_flatten(want)
    assert g_tree == w_tree, f"structure {g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves, strict=True):
        assert host(g).shape == np.shape(w), f"shape {host(g).shape} != {np.shape(w)}"
        np.testing.assert_allclose(host(g), w, rtol=rtol, atol=atol)


X = np.array([0.3, -1.2, 2.0])


# ---------------------------------------------------------------------------- jvp / linearize
def test_jvp_scalar():
    y, t = ft.jvp(fnp.sin, (0.5,), (2.0,))
    close(y, np.sin(0.5))
    close(t, 2 * np.cos(0.5))


def test_jvp_pytrees():
    def f(p, x):
        return {"y": p["w"] * x + p["b"], "n": fnp.sum(x ** 2)}

    p = {"w": np.array(2.0), "b": np.array([1.0, 0.0, -1.0])}
    tp = {"w": np.array(1.0), "b": np.array([0.0, 1.0, 0.0])}
    out, tout = ft.jvp(f, (p, X), (tp, np.ones(3)))
    assert set(out) == {"y", "n"}
    close(tout["y"], X + 2.0 + np.array([0.0, 1.0, 0.0]))
    close(tout["n"], np.sum(2 * X))


def test_jvp_needs_tuples_and_matching_tangents():
    with pytest.raises(TypeError, match="tuple"):
        ft.jvp(fnp.sin, 0.5, 1.0)
    with pytest.raises(ft.GradError, match="tangent"):
        ft.jvp(fnp.sin, (np.ones(3),), (np.ones(2),))


def test_jvp_integer_input_has_no_tangent():
    y, t = ft.jvp(lambda x, n: x * n, (2.0, 3), (1.0, 0))
    close(y, 6.0)
    close(t, 3.0)


def test_linearize_matches_jvp():
    f = lambda x: fnp.sin(x) * fnp.exp(x[0])
    y, f_jvp = ft.linearize(f, X)
    close(y, host(f(X)))
    for t in (np.array([1.0, 0.0, 0.0]), np.array([0.5, -2.0, 1.0])):
        close(f_jvp(t), host(ft.jvp(f, (X,), (t,))[1]))


def test_linearize_is_linear_and_reusable():
    _, f_jvp = ft.linearize(lambda x, y: x * fnp.cos(y), X, 2.0)
    a = host(f_jvp(np.ones(3), 1.0))
    b = host(f_jvp(2 * np.ones(3), 2.0))
    close(b, 2 * a)


# ---------------------------------------------------------------------------- vjp / grad
def test_vjp_returns_one_cotangent_per_primal():
    out, vjp_fn = ft.vjp(lambda x, y: x * y, X, 3.0)
    close(out, 3.0 * X)
    gx, gy = vjp_fn(np.ones(3))
    close(gx, 3.0 * np.ones(3))
    close(gy, np.sum(X))
    assert host(gy).shape == ()


def test_vjp_has_aux():
    out, vjp_fn, aux = ft.vjp(lambda x: (fnp.sin(x), {"c": fnp.cos(x)}), X, has_aux=True)
    close(aux["c"], np.cos(X))
    (g,) = vjp_fn(np.ones(3))
    close(g, np.cos(X))


def test_vjp_pytree_output_and_input():
    def f(p):
        return (p["a"] * 2.0, [fnp.sum(p["b"])])

    p = {"a": X, "b": np.ones((2, 2))}
    out, vjp_fn = ft.vjp(f, p)
    (g,) = vjp_fn((np.ones(3), [np.array(2.0)]))
    assert_tree_close(g, {"a": 2.0 * np.ones(3), "b": 2.0 * np.ones((2, 2))})


def test_vjp_integer_primal_gets_zero_cotangent():
    _, vjp_fn = ft.vjp(lambda x, n: x * n, 2.0, np.array(3))
    gx, gn = vjp_fn(1.0)
    close(gx, 3.0)
    assert host(gn) == 0 and np.issubdtype(host(gn).dtype, np.integer)


def test_grad_argnums():
    f = lambda x, y, z: x * y ** 2 + z
    close(ft.grad(f)(2.0, 3.0, 1.0), 9.0)
    close(ft.grad(f, argnums=1)(2.0, 3.0, 1.0), 12.0)
    close(ft.grad(f, argnums=-1)(2.0, 3.0, 1.0), 1.0)
    g = ft.grad(f, argnums=(0, 2))(2.0, 3.0, 1.0)
    assert isinstance(g, tuple) and len(g) == 2
    close(g[0], 9.0)
    close(g[1], 1.0)
    g1 = ft.grad(f, argnums=(1,))(2.0, 3.0, 1.0)
    assert isinstance(g1, tuple) and len(g1) == 1


def test_grad_kwargs_pass_through():
    close(ft.grad(lambda x, scale=1.0: scale * x ** 2)(3.0, scale=2.0), 12.0)


def test_grad_has_aux():
    g, aux = ft.grad(lambda x: (fnp.sum(x ** 2), {"n": fnp.sum(x)}), has_aux=True)(X)
    close(g, 2 * X)
    close(aux["n"], np.sum(X))


def test_value_and_grad():
    v, g = ft.value_and_grad(lambda x: fnp.sum(fnp.sin(x)))(X)
    close(v, np.sum(np.sin(X)))
    close(g, np.cos(X))
    (v, aux), (gx, gy) = ft.value_and_grad(lambda x, y: (fnp.sum(x * y), x + y), argnums=(0, 1), has_aux=True)(X, 2.0)
    close(v, 2 * np.sum(X))
    close(aux, X + 2.0)
    close(gx, 2.0 * np.ones(3))
    close(gy, np.sum(X))


def test_grad_of_dict_params():
    def loss(p, x):
        return fnp.sum((x @ p["w"] + p["b"]) ** 2)

    p = {"w": np.arange(6.0).reshape(3, 2) / 5, "b": np.array([0.5, -0.5])}
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    g = ft.grad(loss)(p, x)
    r = x @ p["w"] + p["b"]
    assert_tree_close(g, {"w": x.T @ (2 * r), "b": np.sum(2 * r, axis=0)})


def test_grad_of_custom_pytree():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    ft.tree_util.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    g = ft.grad(lambda p: p.a * fnp.sin(p.b))(Pair(2.0, 0.5))
    assert isinstance(g, Pair)
    close(g.a, np.sin(0.5))
    close(g.b, 2.0 * np.cos(0.5))


def test_grad_through_none_leaves():
    g = ft.grad(lambda p: p[0] ** 2)((3.0, None))
    assert g[1] is None
    close(g[0], 6.0)


def test_stop_gradient_pytree():
    f = lambda p: fnp.sum(p["a"] * ft.stop_gradient(p)["a"])
    g = ft.grad(f)({"a": X})
    close(g["a"], X)


# ---------------------------------------------------------------------------- Jacobians
def test_jacfwd_jacrev_shapes():
    f = lambda x: fnp.outer(fnp.sin(x), x[:2])  # R^3 -> R^{3x2}
    want = np.zeros((3, 2, 3))
    for i in range(3):
        for j in range(2):
            want[i, j, i] += np.cos(X[i]) * X[j]
            want[i, j, j] += np.sin(X[i])
    close(ft.jacfwd(f)(X), want)
    close(ft.jacrev(f)(X), want)


def test_jacobians_over_pytrees_as_jax():
    """Outer structure is the output's, inner the input's; leaves have shape out.shape + in.shape."""
    def f(p):
        return {"u": p["a"] * p["b"][0], "v": fnp.sum(p["a"])}

    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0, 5.0])}
    want = {
        "u": {"a": 3.0 * np.eye(2), "b": np.array([[1.0, 0, 0], [2.0, 0, 0]])},
        "v": {"a": np.ones(2), "b": np.zeros(3)},
    }
    assert_tree_close(ft.jacfwd(f)(p), want)
    assert_tree_close(ft.jacrev(f)(p), want)


def test_jacobian_argnums_tuple():
    f = lambda x, y: x * y
    for jac in (ft.jacfwd, ft.jacrev):
        jx, jy = jac(f, argnums=(0, 1))(X, 2.0)
        close(jx, 2.0 * np.eye(3))
        close(jy, X)


def test_hessian():
    f = lambda x: fnp.sum(x ** 3) + x[0] * x[1]
    h = ft.hessian(f)(X)
    want = np.diag(6 * X)
    want[0, 1] = want[1, 0] = 1.0
    close(h, want)


def test_hessian_over_pytree():
    f = lambda p: p["a"] ** 2 * p["b"]
    h = ft.hessian(f)({"a": 3.0, "b": 2.0})
    assert_tree_close(h, {"a": {"a": 4.0, "b": 6.0}, "b": {"a": 6.0, "b": 0.0}})


def test_jacfwd_of_jacrev_is_symmetric_hessian():
    f = lambda x: fnp.sum(fnp.sin(x[:, None] * x[None, :]))
    h1 = host(ft.jacfwd(ft.jacrev(f))(X))
    h2 = host(ft.jacrev(ft.jacfwd(f))(X))
    h3 = host(ft.jacfwd(ft.jacfwd(f))(X))
    np.testing.assert_allclose(h1, h1.T, atol=1e-12)
    np.testing.assert_allclose(h1, h2, atol=1e-12)
    np.testing.assert_allclose(h1, h3, atol=1e-12)


# ---------------------------------------------------------------------------- kinks and ties (JAX's choices)
def test_abs_at_zero():
    assert host(ft.grad(fnp.abs)(0.0)) == 1.0
    assert host(ft.grad(fnp.abs)(-0.0)) == 1.0
    assert host(ft.grad(fnp.abs)(-2.0)) == -1.0


def test_sign_has_zero_derivative():
    close(ft.grad(lambda x: fnp.sum(fnp.sign(x) * x))(np.array([-1.0, 0.0, 2.0])), [-1.0, 0.0, 1.0])


def test_maximum_minimum_tie_split_evenly():
    close(ft.grad(fnp.maximum, argnums=(0, 1))(1.0, 1.0), (0.5, 0.5))
    close(ft.grad(fnp.minimum, argnums=(0, 1))(1.0, 1.0), (0.5, 0.5))
    close(ft.grad(fnp.maximum, argnums=(0, 1))(2.0, 1.0), (1.0, 0.0))
    # second derivative of the tie rule is zero
    close(ft.grad(ft.grad(lambda x: fnp.maximum(x * x, 1.0)))(1.0), 1.0)


def test_relu_at_zero():
    close(ft.grad(lambda x: fnp.sum(ft.nn.relu(x)))(np.array([-1.0, 0.0, 1.0])), [0.0, 0.0, 1.0])


def test_reduce_max_ties_average():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    close(ft.grad(fnp.max)(x), [[0, 0.5, 0.5], [0, 0, 0]])
    close(ft.grad(lambda x: fnp.sum(fnp.max(x, axis=1)))(x), [[0, 0.5, 0.5], [1, 0, 0]])
    close(ft.grad(lambda x: fnp.sum(fnp.min(x, axis=0)))(x), [[1, 0, 0], [0, 1, 1]])
    close(ft.jvp(fnp.max, (x,), (np.arange(6.0).reshape(2, 3),))[1], 1.5)
    close(ft.grad(fnp.max)(np.full(4, 2.0)), np.full(4, 0.25))


def test_clip_boundaries():
    close(ft.grad(lambda x: fnp.sum(fnp.clip(x, -1.0, 1.0)))(np.array([-2.0, 0.5, 3.0])), [0.0, 1.0, 0.0])


def test_pow_with_zero_base():
    close(ft.grad(lambda x: x ** 2.0)(0.0), 0.0)
    close(ft.grad(lambda x: x ** 1.0)(0.0), 1.0)
    close(ft.grad(lambda x: lax.pow(x, 0.0))(0.0), 0.0)
    close(ft.grad(ft.grad(lambda x: x ** 2.0))(0.0), 2.0)
    close(ft.grad(ft.grad(ft.grad(lambda x: lax.pow(x, 3.0))))(0.0), 6.0)
    # d/dy x**y at x = 0 is taken as 0 (not log(0) * 0 = nan)
    gx, gy = ft.grad(lax.pow, argnums=(0, 1))(0.0, 2.5)
    close(gx, 0.0)
    close(gy, 0.0)
    g = ft.grad(lambda x: fnp.sum(fnp.power(x, np.array([2.0, 0.5, 3.0]))))(np.array([0.0, 4.0, 0.0]))
    close(g, [0.0, 0.25, 0.0])


def test_pow_second_derivatives_finite_at_zero_base():
    h = host(ft.hessian(lambda v: lax.pow(v[0], v[1]))(np.array([0.0, 2.0])))
    assert np.all(np.isfinite(h)), h
    close(h[0, 0], 2.0)


def test_pow_mixed_partial_at_zero_exponent():
    """d2/dxdy x**y = x**(y-1) (1 + y log x): 1/2 at (2, 0), from either order of differentiation."""
    f = lambda v: lax.pow(v[0], v[1])
    want = np.array([[0.0, 0.5], [0.5, np.log(2.0) ** 2]])
    close(ft.hessian(f)(np.array([2.0, 0.0])), want)
    close(ft.jacrev(ft.jacrev(f))(np.array([2.0, 0.0])), want)
    ft.test_util.check_grads(lax.pow, (np.array([2.0, 0.5, 1.5]), np.array([0.0, 0.0, 0.0])), order=2)


def test_integer_pow_at_zero():
    close(ft.grad(lambda x: x ** 3)(0.0), 0.0)
    close(ft.grad(ft.grad(lambda x: x ** 2))(0.0), 2.0)
    close(ft.grad(lambda x: x ** 0)(0.0), 0.0)


def test_sqrt_and_log_at_boundaries_are_inf_like_jax():
    assert np.isinf(host(ft.grad(fnp.sqrt)(0.0)))
    assert np.isinf(host(ft.grad(fnp.log)(0.0)))


# ---------------------------------------------------------------------------- gather / scatter / dot_general
def test_gather_repeated_indices_accumulate():
    x = np.arange(5.0)
    idx = np.array([0, 3, 3, 1, 3])
    close(ft.grad(lambda x: fnp.sum(x[idx] * np.arange(5.0)))(x), [0.0, 3.0, 0.0, 1 + 2 + 4, 0.0])


def test_take_along_axis_and_argmax_indexing():
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    f = lambda x: fnp.sum(fnp.take_along_axis(x, fnp.argmax(x, axis=1)[:, None], axis=1))
    close(ft.grad(f)(x), [[0, 1, 0], [1, 0, 0]])


def test_scatter_add_gradients():
    x = np.zeros(4)
    idx = np.array([1, 1, 2])
    u = np.array([1.0, 2.0, 3.0])
    f = lambda x, u: fnp.sum(lax.scatter_add(x, idx, u, 0) * np.array([1.0, 10.0, 100.0, 1000.0]))
    gx, gu = ft.grad(f, argnums=(0, 1))(x, u)
    close(gx, [1.0, 10.0, 100.0, 1000.0])
    close(gu, [10.0, 10.0, 100.0])


def test_dot_general_batch_dims_via_einsum():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    ga, gb = ft.grad(lambda a, b: fnp.sum(fnp.einsum("bij,bjk->bik", a, b) ** 2), argnums=(0, 1))(a, b)
    c = a @ b
    close(ga, 2 * c @ b.transpose(0, 2, 1), rtol=1e-10)
    close(gb, 2 * a.transpose(0, 2, 1) @ c, rtol=1e-10)



@pytest.mark.parametrize("batched", [False, True])
def test_matmul_gradients_need_no_transpose(batched):
    """The transpose rule picks the operand order that yields each cotangent in its operand's
    layout: ``d(x @ w)/dw`` is ``xᵀ @ ct`` and ``d/dx`` is ``ct @ wᵀ``, with no transpose
    equation after them (as a gradient written by hand), for plain and batched products."""
    rng = np.random.default_rng(1)
    lead = (2,) if batched else ()
    x, w = rng.standard_normal(lead + (5, 3)), rng.standard_normal(lead + (3, 4))
    f = lambda x, w: fnp.sum(fnp.tanh(x @ w))
    jaxpr = ft.make_jaxpr(ft.grad(f, argnums=(0, 1)))(x, w).jaxpr
    prims = [e.primitive for e in jaxpr.eqns]
    assert prims.count(P.dot_general_p) == 3
    assert P.transpose_p not in prims
    gx, gw = ft.grad(f, argnums=(0, 1))(x, w)
    ct = 1 - np.tanh(x @ w) ** 2
    close(gx, ct @ np.swapaxes(w, -1, -2))
    close(gw, np.swapaxes(x, -1, -2) @ ct)

# ---------------------------------------------------------------------------- integer and boolean values
def test_floor_comparisons_argmax_carry_no_derivative():
    x = np.array([0.5, 2.7, -1.3])
    close(ft.grad(lambda x: fnp.sum(fnp.floor(x) * x))(x), np.floor(x))
    close(ft.grad(lambda x: fnp.sum(fnp.where(x > 1.0, x, 0.0) + (x < 0).astype(float)))(x), [0, 1, 0])
    close(ft.grad(lambda x: fnp.argmax(x).astype(float) * x[0])(x), [1.0, 0.0, 0.0])
    t = ft.jvp(lambda x: x > 0, (x,), (np.ones(3),))[1]
    assert not np.any(host(t))


def test_jacobian_of_integer_output():
    j = ft.jacrev(lambda x: fnp.floor(x))(np.array([0.5, 1.5]))
    close(j, np.zeros((2, 2)))


# ---------------------------------------------------------------------------- nesting
def test_grad_of_grad_of_grad():
    f = fnp.sin
    d = [f]
    for _ in range(4):
        d.append(ft.grad(d[-1]))
    x = 0.7
    close(d[1](x), np.cos(x))
    close(d[2](x), -np.sin(x))
    close(d[3](x), -np.cos(x))
    close(d[4](x), np.sin(x))


def test_forward_over_reverse_hvp():
    f = lambda x: fnp.sum(fnp.sin(x) * x[0] ** 2)
    v = np.array([1.0, -1.0, 0.5])
    _, hvp = ft.jvp(ft.grad(f), (X,), (v,))
    close(hvp, host(ft.hessian(f)(X)) @ v)


def test_reverse_over_forward_hvp():
    f = lambda x: fnp.sum(fnp.exp(x) * x[1])
    v = np.array([1.0, 2.0, 0.5])
    hvp = ft.grad(lambda x: ft.jvp(f, (x,), (v,))[1])(X)
    close(hvp, host(ft.hessian(f)(X)) @ v)


def test_reverse_over_reverse_hvp():
    f = lambda x: fnp.sum(fnp.tanh(x) ** 2)
    v = np.array([0.3, 1.0, -2.0])
    hvp = ft.grad(lambda x: fnp.vdot(ft.grad(f)(x), v))(X)
    close(hvp, host(ft.hessian(f)(X)) @ v)


def test_jvp_of_jvp():
    f = lambda x: x ** 4
    d2 = ft.jvp(lambda x: ft.jvp(f, (x,), (1.0,))[1], (2.0,), (1.0,))[1]
    close(d2, 12 * 2.0 ** 2)


@pytest.mark.parametrize("x", [0.0, 1.0, -3.5, 10.0])
def test_no_perturbation_confusion(x):
    """d/dx [x * d/dy (x + y)] = 1 at any x: the inner derivative must not see the outer x."""
    f = lambda x: x * ft.grad(lambda y: x + y)(1.0)
    close(ft.grad(f)(x), 1.0)
    close(ft.jvp(f, (x,), (1.0,))[1], 1.0)
    g = lambda x: x * ft.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    close(ft.grad(g)(x), 1.0)


def test_grad_of_function_calling_grad_on_closure():
    # d/dx [ d/dy (x * y**2) at y = x ] = d/dx [2 x * x] = 4 x
    f = lambda x: ft.grad(lambda y: x * y ** 2)(x)
    close(f(3.0), 18.0)
    close(ft.grad(f)(3.0), 12.0)
    close(ft.grad(ft.grad(f))(3.0), 4.0)


def test_closure_over_outer_value_in_vjp():
    def f(x):
        _, vjp_fn = ft.vjp(lambda y: fnp.sin(x * y), 2.0)
        return vjp_fn(1.0)[0]  # x cos(2x)

    close(ft.grad(f)(0.5), np.cos(1.0) - 2 * 0.5 * np.sin(1.0))


def test_jacrev_of_grad_pytree():
    f = lambda p: p["a"] ** 2 * p["b"] ** 3
    h = ft.jacrev(ft.grad(f))({"a": 1.0, "b": 2.0})
    assert_tree_close(h, {"a": {"a": 16.0, "b": 24.0}, "b": {"a": 24.0, "b": 12.0}})


def test_deep_nesting_tanh_sixth():
    d = fnp.tanh
    for _ in range(6):
        d = ft.grad(d)
    close(d(0.4), _tanh_derivative(6, 0.4), rtol=1e-9)


def _tanh_derivative(n: int, x: float) -> float:
    """d^n/dx^n tanh(x) via the polynomial p_n(t), t = tanh x: p_{k+1}(t) = p_k'(t) (1 - t^2)."""
    p = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(n):
        p = p.deriv() * np.polynomial.Polynomial([1.0, 0.0, -1.0])
    return float(p(np.tanh(x)))


# ---------------------------------------------------------------------------- control flow on values
def test_python_if_inside_grad():
    def f(x):
        if x > 0:
            return x ** 2
        return -x * 3.0

    close(ft.grad(f)(2.0), 4.0)
    close(ft.grad(f)(-2.0), -3.0)
    close(ft.jvp(f, (2.0,), (1.0,))[1], 4.0)
    close(ft.vjp(f, -1.0)[1](1.0)[0], -3.0)


def test_float_of_traced_value():
    def f(x):
        k = float(ft.stop_gradient(x))  # a concrete Python number: a constant for differentiation
        return x * k

    close(ft.grad(f)(3.0), 3.0)
    with pytest.raises(ConcretizationError, match="derivative"):  # float(x) would drop x's derivative
        ft.grad(lambda x: x * float(x))(3.0)


def test_while_loop_on_values_newton_sqrt():
    def my_sqrt(a):
        x = a
        err = 1.0
        while err > 1e-12:
            new = 0.5 * (x + a / x)
            err = abs(new - x)  # a comparison on it is control flow: no float() needed
            x = new
        return x

    close(my_sqrt(2.0), np.sqrt(2.0))
    close(ft.grad(my_sqrt)(2.0), 0.5 / np.sqrt(2.0), rtol=1e-8)
    close(ft.jvp(my_sqrt, (4.0,), (1.0,))[1], 0.25, rtol=1e-8)


def test_control_flow_inside_nested_grad():
    def f(x):
        n = 0
        while x * n < 3.0:
            n += 1
        return x ** n if x > 0.5 else fnp.sin(x)

    close(ft.grad(ft.grad(f))(1.0), 6.0)  # n = 3: d2/dx2 x^3 = 6x


def test_python_index_from_traced_value():
    x = np.array([0.1, 0.9, 0.4])
    f = lambda x: x[int(fnp.argmax(x))] * 2.0
    close(ft.grad(f)(x), [0.0, 2.0, 0.0])


# ---------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_kept(dtype):
    x = np.array([0.5, 1.5], dtype)
    f = lambda x: fnp.sum(fnp.sin(x) * 2.0 + x ** 2)
    assert host(ft.grad(f)(x)).dtype == dtype
    assert host(ft.grad(lambda x: f(x) * 1.5)(dtype(0.5))).dtype == dtype
    assert host(ft.jvp(f, (x,), (np.ones(2, dtype),))[1]).dtype == dtype
    assert host(ft.vjp(fnp.sin, x)[1](np.ones(2, dtype))[0]).dtype == dtype
    assert host(ft.hessian(f)(x)).dtype == dtype
    assert host(ft.jacfwd(fnp.sin)(x)).dtype == dtype
    assert host(ft.jacrev(fnp.sin)(x)).dtype == dtype
    assert host(ft.grad(ft.grad(lambda s: fnp.sin(s) * s))(dtype(0.5))).dtype == dtype


def test_mixed_dtypes_each_gradient_keeps_its_own():
    x32, y64 = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0])
    gx, gy = ft.grad(lambda x, y: fnp.sum(x * y), argnums=(0, 1))(x32, y64)
    assert host(gx).dtype == np.float32 and host(gy).dtype == np.float64
    close(gx, y64)
    close(gy, x32)


def test_float32_scalar_python_constant_stays_float32():
    g = ft.grad(lambda x: x * 3.0 + 1)(np.float32(2.0))
    assert host(g).dtype == np.float32


# ---------------------------------------------------------------------------- printed derivative programs
def test_make_jaxpr_of_second_derivative():
    f = lambda x: fnp.sin(x) * x
    closed = ft.make_jaxpr(ft.grad(ft.grad(f)))(0.7)
    text = str(closed)
    assert "sin" in text and "cos" in text
    typecheck_jaxpr(closed.jaxpr)
    got = ft.eval_jaxpr(closed, 0.7)
    want = 2 * np.cos(0.7) - 0.7 * np.sin(0.7)
    close(got, want)
    close(ft.eval_jaxpr(closed, 1.3), 2 * np.cos(1.3) - 1.3 * np.sin(1.3))


def test_make_jaxpr_of_grad_has_no_leftover_abstract_values():
    f = lambda x: fnp.sum(fnp.tanh(x) ** 2)
    closed = ft.make_jaxpr(ft.grad(f))(np.ones(3, np.float32))
    typecheck_jaxpr(closed.jaxpr)
    assert [a.dtype for a in closed.out_avals] == [np.float32]
    close(ft.eval_jaxpr(closed, np.float32([0.1, 0.2, 0.3])), host(ft.grad(f)(np.float32([0.1, 0.2, 0.3]))),
          rtol=1e-6)


JAX_TANH_EQNS = [5, 15, 34, 75, 172, 417, 1066, 2847]


def test_tanh_higher_derivative_program_size():
    """The n-th derivative of tanh stays smaller than JAX's (5, 15, 34, ... equations)."""
    counts = []
    d = fnp.tanh
    for n in range(1, 9):
        d = ft.grad(d)
        closed = ft.make_jaxpr(d)(0.3)
        typecheck_jaxpr(closed.jaxpr)
        counts.append(len(closed.jaxpr.eqns))
        close(ft.eval_jaxpr(closed, 0.3), _tanh_derivative(n, 0.3), rtol=1e-8, atol=1e-8)
    print("equations in make_jaxpr of the n-th derivative of tanh, n=1..8:", counts, "JAX:", JAX_TANH_EQNS)
    for n, (ours, jax) in enumerate(zip(counts, JAX_TANH_EQNS, strict=True), start=1):
        assert ours < jax, f"derivative {n}: {ours} equations, JAX has {jax}"


# ---------------------------------------------------------------------------- check_grads itself
def test_check_grads_to_third_order():
    ft.test_util.check_grads(lambda x, y: fnp.sin(x) * fnp.exp(y), (X, np.array(0.5)), order=3)
    ft.test_util.check_grads(lambda p: fnp.sum(p["a"] ** 3) * p["b"], ({"a": X, "b": np.array(2.0)},), order=3)


def test_check_grads_catches_a_wrong_second_derivative(monkeypatch):
    """A rule right at first order but whose tangent is not differentiable (stop_gradient)."""
    def bad_sin(primals, tangents):
        (x,), (t,) = primals, tangents
        return lax.sin(x), lax.mul(t, lax.stop_gradient(lax.cos(x)))

    monkeypatch.setitem(jvp_rules, P.sin_p, bad_sin)
    ft.test_util.check_grads(lax.sin, (X,), order=1)
    with pytest.raises(AssertionError, match="check_grads"):
        ft.test_util.check_grads(lax.sin, (X,), order=2)


def test_check_grads_catches_a_wrong_transpose(monkeypatch):
    from functrace.rules import transpose_rules

    monkeypatch.setitem(transpose_rules, P.neg_p, lambda ct, x: [ct])
    with pytest.raises(AssertionError, match="vjp and finite differences disagree"):
        ft.test_util.check_grads(lax.neg, (X,), order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="vjp and .* disagree"):
        ft.test_util.check_grads(lambda x: fnp.sin(-x), (X,), order=1)


# ---------------------------------------------------------------------------- edge cases
def test_grad_of_constant_and_identity():
    g = ft.grad(lambda x: 3.0)(1.0)
    close(g, 0.0)
    close(ft.grad(lambda x: x)(2.0), 1.0)
    close(ft.grad(lambda x, y: y, argnums=0)(np.ones(2), 1.0), np.zeros(2))
    close(ft.jacrev(lambda x: np.ones(2))(X), np.zeros((2, 3)))
    close(ft.jacfwd(lambda x: np.ones(2))(X), np.zeros((2, 3)))


def test_output_is_an_input():
    out, vjp_fn = ft.vjp(lambda x, y: (x, y * 2.0), X, 1.0)
    gx, gy = vjp_fn((np.ones(3), 3.0))
    close(gx, np.ones(3))
    close(gy, 6.0)


def test_fan_out_accumulates():
    close(ft.grad(lambda x: x * x * x + fnp.sin(x) * x)(2.0), 12.0 + np.sin(2.0) + 2.0 * np.cos(2.0))


def test_nested_control_flow_and_float():
    def f(x):
        k = float(ft.stop_gradient(x))  # a constant by choice
        n = 0
        while x * n < 3.0:
            n += 1
        return k * x ** n if x > 0.5 else fnp.sin(x)

    # x = 1.0: n = 3, k = 1 is a constant: f = k x^3, f'' = 6 k x
    close(ft.grad(ft.grad(f))(1.0), 6.0)
    close(ft.jvp(ft.grad(f), (1.0,), (1.0,))[1], 6.0)
    close(ft.grad(lambda x: ft.jvp(f, (x,), (1.0,))[1])(1.0), 6.0)


def test_newton_sqrt_second_derivative():
    def my_sqrt(a):
        x = a
        for _ in range(100):
            new = 0.5 * (x + a / x)
            if abs(new - x) < 1e-14:
                break
            x = new
        return x

    close(ft.grad(ft.grad(my_sqrt))(4.0), -0.25 * 4.0 ** -1.5, rtol=1e-6)


def test_long_chain_is_not_recursive():
    """4,800 equations in a chain, several times Python's recursion limit: every walk is iterative."""
    def f(x):
        for _ in range(1200):
            x = fnp.sin(x) * 0.5 + x * 0.5
        return x

    y, g = ft.value_and_grad(f)(0.3)
    assert np.isfinite(host(g)) and 0 < host(g) < 1
    closed = ft.make_jaxpr(ft.grad(f))(0.3)
    typecheck_jaxpr(closed.jaxpr)
    close(ft.eval_jaxpr(closed, 0.3), host(g), rtol=1e-12)


def test_linearize_under_grad():
    def f(x):
        _, f_jvp = ft.linearize(lambda y: fnp.sin(x * y), 1.0)
        return f_jvp(1.0)  # x cos(x)

    close(ft.grad(f)(0.5), np.cos(0.5) - 0.5 * np.sin(0.5))


def test_hessian_of_pytree_output():
    h = ft.hessian(lambda x: {"s": fnp.sum(x ** 3), "p": x[0] * x[1]})(np.array([1.0, 2.0]))
    assert_tree_close(h, {"s": np.diag([6.0, 12.0]), "p": np.array([[0.0, 1.0], [1.0, 0.0]])})


def test_torch_tensor_inputs():
    torch = pytest.importorskip("torch")

    g = ft.grad(lambda x: fnp.sum(x * x))(torch.tensor([2.0, 1.0], dtype=torch.float32))
    assert host(g).dtype == np.float32
    close(g, [4.0, 2.0])
    close(ft.jvp(fnp.sin, (torch.tensor(0.5, dtype=torch.float64),), (torch.tensor(1.0, dtype=torch.float64),))[1],
          np.cos(0.5))
