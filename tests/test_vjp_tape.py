"""The eager tape of grad/vjp (transforms/vjp_tape.py): same results as the jaxpr route, derived
pairs reused per signature, re-derived when a rule changes, and a pullback that can itself be
differentiated."""

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.rules import jvp_rules
from functrace.transforms import vjp_tape

X = np.array([0.3, -1.2, 2.0, 0.7])


def close(got, want, rtol=1e-10, atol=1e-12):
    assert_close(got, want, rtol=rtol, atol=atol)


def f(x, w):
    h = fnp.tanh(x * w[0] + 0.25) * fnp.sin(x)
    return fnp.sum(h * h) + fnp.mean(fnp.exp(-x) / (1.0 + w[1] ** 2))


def test_eager_grad_matches_the_jaxpr_route():
    """Eager (tape) against traced inputs (jit: the jaxpr route), argument by argument."""
    w = np.array([1.5, -0.5])
    eager = ft.grad(f, argnums=(0, 1))(X, w)
    traced = ft.jit(ft.grad(f, argnums=(0, 1)))(X, w)
    for a, b in zip(eager, traced, strict=True):
        close(a, host(b), rtol=1e-12, atol=1e-14)


def test_a_signature_is_derived_once_and_reused():
    vjp_tape.clear_cache()
    g = ft.grad(lambda x: fnp.sum(fnp.sin(x) * 2.0))
    g(X)
    cache = vjp_tape.cache_for(vjp_tape.current_backend())
    derived = dict(cache)
    assert derived, "the first call derives forward/backward pairs"
    close(g(X + 1.0), np.cos(X + 1.0) * 2.0)  # same shapes and dtypes: nothing new is derived
    assert cache.keys() == derived.keys() and all(cache[k] is derived[k] for k in derived)
    g(X.astype(np.float32))  # a new dtype is a new signature
    assert len(cache) > len(derived)


def test_a_changed_rule_is_picked_up(monkeypatch):
    g = ft.grad(lambda x: fnp.sum(fnp.sin(x)))
    close(g(X), np.cos(X))

    def wrong_sin(primals, tangents):
        (x,), (t,) = primals, tangents
        return lax.sin(x), lax.mul(t, lax.mul(lax.cos(x), np.asarray(3.0)))

    monkeypatch.setitem(jvp_rules, P.sin_p, wrong_sin)
    close(g(X), 3 * np.cos(X))
    monkeypatch.undo()
    close(g(X), np.cos(X))


def test_the_pullback_is_differentiable():
    """vjp_fn of an eager vjp, called on a traced cotangent: the backward pairs run through bind."""
    y, f_vjp = ft.vjp(lambda x: fnp.sin(x) * x, X)
    close(y, np.sin(X) * X)
    ct = np.array([1.0, 2.0, -1.0, 0.5])
    (g,) = f_vjp(ct)
    close(g, ct * (np.cos(X) * X + np.sin(X)))
    close(ft.grad(lambda c: fnp.sum(f_vjp(c)[0] ** 2))(ct), 2 * ct * (np.cos(X) * X + np.sin(X)) ** 2)
    (again,) = f_vjp(ct)  # a pullback can be called again
    close(again, host(g))


def test_fan_out_and_unused_inputs():
    def fn(x, y, z):
        a = fnp.sin(x)
        return fnp.sum(a * a + a * y)  # a used three times; z unused

    gx, gy, gz = ft.grad(fn, argnums=(0, 1, 2))(X, X + 1.0, X)
    close(gx, (2 * np.sin(X) + X + 1.0) * np.cos(X))
    close(gy, np.sin(X))
    close(gz, np.zeros_like(X))


def test_integer_and_constant_values_on_the_tape():
    def fn(x):
        n = fnp.argmax(x)  # an integer result: computed, not differentiated
        k = fnp.arange(4) * 2  # a constant
        return fnp.sum(x * k) + x[n] * 10.0

    want = np.arange(4) * 2.0
    want[np.argmax(X)] += 10.0
    close(ft.grad(fn)(X), want)


def test_python_control_flow_and_escaping_values():
    def fn(x):
        return fnp.sum(x ** 2) if fnp.sum(x) > 0 else fnp.sum(x ** 3)

    close(ft.grad(fn)(X), 2 * X)
    close(ft.grad(fn)(-X), 3 * X ** 2)
    leaked = []

    def leak(x):
        leaked.append(fnp.sin(x))
        return fnp.sum(x)

    ft.grad(leak)(X)
    with pytest.raises(ft.UnexpectedTracerError, match="escaped"):
        fnp.cos(leaked[0]) + ft.grad(lambda x: fnp.sum(x * leaked[0]))(X)


def test_forward_only_primitives_fail_only_when_reached():
    """A while_loop has no reverse mode: its value is computed, and the error comes from the
    backward pass, only when a cotangent reaches it."""
    loop = lambda x: lax.while_loop(lambda v: fnp.sum(v) < 10.0, lambda v: v * 2.0, x)  # noqa: E731
    y, f_vjp, aux = ft.vjp(lambda x: (fnp.sum(x), loop(x)), np.abs(X), has_aux=True)
    close(y, np.sum(np.abs(X)))
    assert float(np.sum(host(aux))) >= 10.0
    (g,) = f_vjp(1.0)  # the loop's output (auxiliary) gets no cotangent
    close(g, np.ones(4))
    y, f_vjp = ft.vjp(lambda x: fnp.sum(loop(x)), np.abs(X))
    assert float(host(y)) >= 10.0
    with pytest.raises(NotImplementedError, match="while_loop"):
        f_vjp(1.0)
