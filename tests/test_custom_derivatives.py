"""ft.custom_jvp and ft.custom_vjp: the rule (not the traced body) gives the derivative, in every
mode, under jit, vmap and control flow, nested to second order; errors for misuse.

Most tests use rules that are deliberately *different* from the body's true derivative (a
factor 2, a clipped cotangent), so a derivative computed from the traced body would fail them.
"""

from __future__ import annotations

import functools
import textwrap

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.ops import custom_jvp as custom_derivatives_module
from functrace.ops.custom_vjp import custom_lin_p
from functrace.test_util import check_grads
from functrace.transforms.batching import batching_rules
from functrace.transforms.transpose import backward_pass

X = np.array([0.3, -1.2, 0.7])


def close(got, want, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(host(got), want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------- custom_jvp
@ft.custom_jvp
def twice_sin(x):
    """sin, with a rule claiming twice its true derivative: 2 cos x."""
    return fnp.sin(x)


@twice_sin.defjvp
def _twice_sin_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return twice_sin(x), 2.0 * fnp.cos(x) * t


def test_custom_jvp_rule_is_used_in_every_mode():
    close(twice_sin(X), np.sin(X))
    close(ft.jvp(twice_sin, (X,), (np.ones(3),))[1], 2 * np.cos(X))
    close(ft.grad(lambda x: fnp.sum(twice_sin(x)))(X), 2 * np.cos(X))
    close(ft.jacrev(twice_sin)(X), np.diag(2 * np.cos(X)))
    close(ft.jacfwd(twice_sin)(X), np.diag(2 * np.cos(X)))
    # second order differentiates the rule: d/dx 2 cos x = -2 sin x
    close(ft.grad(ft.grad(twice_sin))(0.4), -2 * np.sin(0.4))
    close(ft.hessian(lambda x: fnp.sum(twice_sin(x)))(X), np.diag(-2 * np.sin(X)))


def test_custom_jvp_under_jit_vmap_and_control_flow():
    g = lambda x: fnp.sum(twice_sin(x))
    close(ft.jit(ft.grad(g))(X), 2 * np.cos(X))
    assert "custom_jvp_call" in str(ft.make_jaxpr(twice_sin)(X))
    xs = np.stack([X, 2 * X])
    close(ft.vmap(ft.grad(twice_sin))(X), 2 * np.cos(X))
    close(ft.grad(lambda xs: fnp.sum(ft.vmap(twice_sin)(xs)))(xs), 2 * np.cos(xs))
    close(ft.vmap(lambda x: ft.jvp(twice_sin, (x,), (1.0,))[1])(X), 2 * np.cos(X))
    # inside a scan body and a cond branch
    h = lambda x: lax.scan(lambda c, xi: (c + twice_sin(xi * c), None), 1.0, x)[0]
    gs = ft.grad(h)(X)
    eps = 1e-6
    fd = [(host(h(X + eps * e)) - host(h(X - eps * e))) / (2 * eps) for e in np.eye(3)]
    assert not np.allclose(host(gs), fd, atol=1e-4), "the body's derivative was used instead of the rule"
    k = lambda x: lax.cond(x > 0, twice_sin, lambda v: v, x)
    close(ft.grad(k)(0.5), 2 * np.cos(0.5))


@ft.custom_jvp
def log1pexp(x):
    return fnp.log1p(fnp.exp(x))


log1pexp.defjvps(lambda t, ans, x: t * ft.nn.sigmoid(x))


def test_custom_jvp_for_stability_and_check_grads():
    with np.errstate(all="ignore"):
        naive = ft.grad(lambda x: fnp.log1p(fnp.exp(x)))(1000.0)
    assert not np.isfinite(host(naive))  # exp overflows in the body's own derivative
    close(ft.grad(log1pexp)(1000.0), 1.0)
    check_grads(log1pexp, (X,), order=2, modes=("fwd", "rev"))


def test_nondiff_argnums_pytrees_and_kwargs():
    @functools.partial(ft.custom_jvp, nondiff_argnums=(0,))
    def apply(f, x):
        return f(x["a"]) * x["b"]

    @apply.defjvp
    def apply_jvp(f, primals, tangents):
        (x,), (t,) = primals, tangents
        return apply(f, x), 10.0 * (t["a"] * x["b"] + f(x["a"]) * t["b"])

    x = {"a": 0.5, "b": 2.0}
    g = ft.grad(lambda x: apply(fnp.sin, x))(x)
    close(g["a"], 20.0)
    close(g["b"], 10 * np.sin(0.5))

    @functools.partial(ft.custom_jvp, nondiff_argnums=(0,))
    def power(n, x, scale=1.0):
        return x ** n * scale
    power.defjvp(lambda n, p, t: (power(n, *p), p[1] * n * p[0] ** (n - 1) * t[0] * 100.0 + t[1] * p[0] ** n))
    close(ft.grad(lambda x: power(3, x, scale=1.0))(2.0), 1200.0)


def test_python_control_flow_inside_outside_jit():
    @ft.custom_jvp
    def relu_ish(x):
        return x if x > 0 else x * 0.0

    relu_ish.defjvp(lambda p, t: (relu_ish(p[0]), t[0] * 3.0))
    close(relu_ish(2.0), 2.0)
    close(ft.grad(relu_ish)(2.0), 3.0)
    with pytest.raises(ft.ConcretizationError):
        ft.jit(relu_ish)(2.0)


def test_closure_over_differentiated_value_is_an_error():
    def f(y):
        @ft.custom_jvp
        def g(x):
            return x * y

        g.defjvp(lambda p, t: (g(p[0]), t[0] * y))
        return g(1.0)

    with pytest.raises(ft.GradError, match="closes over"):
        ft.grad(f)(2.0)
    close(f(3.0), 3.0)


def test_custom_jvp_rule_errors():
    @ft.custom_jvp
    def f(x):
        return x * 2.0

    with pytest.raises(AttributeError, match="defjvp"):
        f(1.0)
    f.defjvp(lambda p, t: (f(p[0]), fnp.ones(3)))
    with pytest.raises(TypeError, match="same shape"):
        ft.grad(f)(1.0)
    f.defjvp(lambda p, t: f(p[0]))
    with pytest.raises(TypeError, match="pair"):
        ft.grad(f)(1.0)


def test_nested_custom_jvp():
    @ft.custom_jvp
    def outer(x):
        return twice_sin(x) * 2.0

    outer.defjvp(lambda p, t: (outer(p[0]), ft.jvp(twice_sin, p, t)[1] * 5.0))
    close(ft.grad(outer)(0.3), 10 * np.cos(0.3))  # outer rule, using the inner rule
    close(ft.grad(ft.grad(outer))(0.3), -10 * np.sin(0.3))


# ---------------------------------------------------------------------------- custom_vjp
@ft.custom_vjp
def clip_gradient(x):
    return x


def _clip_fwd(x):
    return x, None


def _clip_bwd(_, g):
    return (fnp.clip(g, -1.0, 1.0),)


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


@ft.custom_vjp
def prod3(x, y):
    """x * y, with a rule that triples the cotangent of x and keeps y's."""
    return x * y


def _prod3_fwd(x, y):
    return prod3(x, y), {"x": x, "y": y}


def _prod3_bwd(res, g):
    return 3.0 * g * res["y"], g * res["x"]


prod3.defvjp(_prod3_fwd, _prod3_bwd)


def test_custom_vjp_rule_is_used():
    close(ft.grad(lambda x: fnp.sum(clip_gradient(x) * 5.0))(X), np.ones(3))
    close(ft.grad(lambda x: fnp.sum(clip_gradient(x) * 0.5))(X), 0.5 * np.ones(3))
    gx, gy = ft.grad(lambda x, y: fnp.sum(prod3(x, y)), argnums=(0, 1))(X, 2 * X)
    close(gx, 6 * X)
    close(gy, X)
    close(ft.jacrev(prod3)(X, np.ones(3)), np.diag(np.full(3, 3.0)))
    close(ft.jit(ft.grad(lambda x: prod3(x, 2.0)))(1.5), 6.0)


def test_check_grads_reverse_mode_of_a_true_custom_vjp():
    """A rule that is the true derivative passes check_grads (reverse mode, against finite
    differences) to order 2: the bwd computation is itself differentiated."""
    @ft.custom_vjp
    def softplus(x):
        return fnp.logaddexp(x, 0.0)

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g * ft.nn.sigmoid(x),))
    check_grads(softplus, (X,), order=2, modes=("rev",))
    close(ft.grad(softplus)(800.0), 1.0)


def test_custom_vjp_second_order_differentiates_bwd():
    # d/dx [grad of prod3(x, x)] = d/dx (3x + x) = 4
    close(ft.grad(ft.grad(lambda x: prod3(x, x)))(1.5), 4.0)
    close(ft.hessian(lambda x: fnp.sum(prod3(x, x)))(X), np.diag(np.full(3, 4.0)))
    close(ft.jvp(ft.grad(lambda x: prod3(x, x)), (1.5,), (1.0,))[1], 4.0)


def test_custom_vjp_under_vmap_both_orders():
    xs = np.stack([X, -2 * X])
    per = ft.vmap(ft.grad(lambda x, y: fnp.sum(prod3(x, y))), in_axes=(0, None))(xs, 2.0 * np.ones(3))
    close(per, np.full_like(xs, 6.0))
    # grad of vmap: y is shared by the examples, so its cotangent sums over them
    gy = ft.grad(lambda y: fnp.sum(ft.vmap(prod3, in_axes=(0, None))(X, y)))(2.0)
    close(gy, np.sum(X))
    gx = ft.grad(lambda x: fnp.sum(ft.vmap(prod3, in_axes=(0, None))(x, 2.0)))(X)
    close(gx, np.full(3, 6.0))


def test_custom_vjp_inside_scan():
    f = lambda x: lax.scan(lambda c, xi: (prod3(c, xi), c), 1.0, x)[0]
    g = host(ft.grad(f)(X))
    # the rule triples every carry cotangent: d c_3/d x_i = 3^(2-i) * prod of the other x
    want = [3.0 ** (2 - i) * np.prod(np.delete(X, i)) for i in range(3)]
    close(g, want)


def test_custom_vjp_forward_mode_and_rule_errors():
    with pytest.raises(TypeError, match="forward-mode"):
        ft.jvp(clip_gradient, (1.0,), (1.0,))

    @ft.custom_vjp
    def f(x, y):
        return x * y

    with pytest.raises(AttributeError, match="defvjp"):
        f(1.0, 2.0)
    f.defvjp(lambda x, y: (f(x, y), None), lambda r, g: (g,))
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        ft.grad(f)(1.0, 2.0)
    f.defvjp(lambda x, y: (f(x, y), None), lambda r, g: (None, g * fnp.ones(2)))
    with pytest.raises(TypeError, match="shape"):
        ft.grad(f, 1)(1.0, 2.0)
    f.defvjp(lambda x, y: (f(x, y), None), lambda r, g: (None, g))
    close(ft.grad(f, argnums=(0, 1))(1.0, 2.0), (0.0, 1.0))  # None: a zero cotangent


def test_custom_vjp_nondiff_argnums():
    @functools.partial(ft.custom_vjp, nondiff_argnums=(0,))
    def scaled(k, x):
        return x * k
    scaled.defvjp(lambda k, x: (scaled(k, x), x), lambda k, x, g: (g * k * 100.0,))
    close(ft.grad(lambda x: scaled(3, x))(2.0), 300.0)


def test_custom_lin_batching_rule_transposes():
    """custom_lin only ever appears in a linear jaxpr; batched, its transpose is vmap of bwd."""
    _, f_jvp = ft.linearize(lambda x: prod3(x, fnp.sin(x)), X)
    ts = np.random.default_rng(0).standard_normal((4, 3))
    closed = ft.make_jaxpr(ft.vmap(f_jvp))(ts)
    assert "custom_lin" in str(closed)
    assert custom_lin_p in batching_rules
    cts = np.random.default_rng(1).standard_normal((4, 3))
    (got,) = backward_pass(closed.jaxpr, closed.consts, [cts])
    _, vjp_fn = ft.vjp(lambda x: prod3(x, fnp.sin(x)), X)
    close(got, np.stack([host(vjp_fn(ct)[0]) for ct in cts]))


def test_rules_print_by_name():
    text = str(ft.make_jaxpr(lambda x: prod3(x, 2.0))(X))
    assert "custom_vjp_call[call_jaxpr={ lambda" in text and "fwd=_prod3_fwd" in text and "bwd=_prod3_bwd" in text


# ---------------------------------------------------------------------------- shipped uses, choices at 0
def test_nn_softplus_uses_its_rule():
    sp = ft.nn.softplus
    grad_jaxpr = ft.make_jaxpr(ft.grad(sp))(1.0)
    names = [e.primitive.name for e in grad_jaxpr.jaxpr.eqns]
    assert "logistic" in names and set(names) <= {"logistic", "mul"}, names  # t * sigmoid(x), nothing else
    close(ft.grad(ft.grad(sp))(0.0), 0.25)  # the composed formula's kinks at 0 would give 0
    close([host(ft.grad(sp)(x)) for x in (-1000.0, 0.0, 1000.0)], [0.0, 0.5, 1.0])
    check_grads(sp, (np.array([-2.0, 0.0, 0.3, 40.0]),), order=3, modes=("fwd", "rev"))
    close(ft.vmap(ft.grad(sp))(X), 1 / (1 + np.exp(-X)))


def test_choices_at_zero_are_jaxs_and_a_custom_rule_changes_them():
    """sqrt'(0) = inf and the norm's gradient at 0 is nan (as in JAX); the documented
    custom_jvp recipe gives the subgradient 0 instead."""
    with np.errstate(all="ignore"):
        assert host(ft.grad(fnp.sqrt)(0.0)) == np.inf
        assert np.all(np.isnan(host(ft.grad(fnp.linalg.norm)(np.zeros(3)))))

    # The recipe is run as the module docstring prints it, so the documentation is what is tested.
    doc = custom_derivatives_module.__doc__
    recipe = textwrap.dedent(doc[doc.index("    @ft.custom_jvp"):doc.index("``ft.nn.softplus``")])
    namespace = {"ft": ft, "fnp": fnp}
    exec(recipe, namespace)
    safe_norm = namespace["safe_norm"]

    close(ft.grad(safe_norm)(np.zeros(3)), np.zeros(3))
    close(ft.grad(safe_norm)(np.array([3.0, 4.0])), [0.6, 0.8])

