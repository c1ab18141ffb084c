"""jit's API as in JAX (issue 18, item 5): static_argnames, donate_argnums, trace/lower/compile,
cost_analysis, block_until_ready."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp


class Counter:
    """Counts traces; keeps the wrapped function's signature (``__wrapped__``), as jit reads it."""

    def __init__(self, fun):
        self.fun, self.calls = fun, 0
        functools.update_wrapper(self, fun)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fun(*args, **kwargs)


def _power(x, n, mode="pos"):
    y = x
    for _ in range(n - 1):
        y = y * x
    return -y if mode == "neg" else y


# ---------------------------------------------------------------------------- static_argnames
@pytest.mark.parametrize("spec", [dict(static_argnames="n"), dict(static_argnames=("n", "mode")),
                                  dict(static_argnums=1), dict(static_argnums=(1, 2)),
                                  dict(static_argnums=2, static_argnames="n")])
def test_static_arguments_by_name_or_position_in_either_form(spec):
    """As in JAX, a parameter marked static by name is static when passed by position too, and
    one marked by position when passed by keyword; a static parameter left out takes its default."""
    fun = Counter(_power)
    f = ft.jit(fun, **spec)
    both = len(spec.get("static_argnames", ())) == 2 or spec.get("static_argnums") != 1 and "static_argnums" in spec
    x = np.array([1.0, 2.0, 3.0])
    assert_close(f(x, 3), x ** 3)
    assert_close(f(x, n=3), x ** 3)
    assert_close(f(x, 2), x ** 2)
    if both:  # mode is static too
        assert_close(f(x, n=2, mode="neg"), -(x ** 2))
        assert_close(f(x, 2, "neg"), -(x ** 2))
    calls = fun.calls
    f(x, 3)
    f(x, n=3)
    f(x, 2)
    assert fun.calls == calls  # cached


def test_static_argnames_is_part_of_the_cache_key():
    fun = Counter(lambda x, *, scale: x * scale)
    f = ft.jit(fun, static_argnames="scale")
    x = np.ones(2)
    assert_close(f(x, scale=2.0), np.full(2, 2.0))
    assert_close(f(x, scale=3.0), np.full(2, 3.0))
    assert_close(f(x, scale=2.0), np.full(2, 2.0))
    assert fun.calls == 2


def test_static_argnames_must_be_hashable_and_strings():
    f = ft.jit(lambda x, shape: fnp.reshape(x, shape), static_argnames="shape")
    assert_close(f(np.arange(6.0), shape=(2, 3)), np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="unhashable"):
        f(np.arange(6.0), shape=[2, 3])
    with pytest.raises(TypeError, match="static_argnames"):
        ft.jit(lambda x: x, static_argnames=(1,))
    with pytest.raises(TypeError, match="expects a function"):
        ft.jit(3.0)


# ---------------------------------------------------------------------------- donation
@pytest.mark.parametrize("donate", [dict(donate_argnums=0), dict(donate_argnums=(0, 1)),
                                    dict(donate_argnames="y")])
def test_donated_arguments_are_accepted_and_never_change_results(donate):
    f = ft.jit(lambda x, y: (x * 2.0 + y, fnp.sin(y)), **donate)
    x, y = ft.device_put(np.arange(3.0)), ft.device_put(np.ones(3))
    for _ in range(2):
        a, b = f(x, y)
        assert_close(a, np.arange(3.0) * 2.0 + 1.0)
        assert_close(b, np.sin(np.ones(3)))
    assert_close(x, np.arange(3.0))  # not overwritten: the caller may still hold it
    with pytest.raises(TypeError, match="donate_argnums"):
        ft.jit(lambda x: x, donate_argnums="x")


# ---------------------------------------------------------------------------- trace / lower / compile
def test_trace_gives_the_jaxpr_jit_runs():
    f = ft.jit(lambda x, w: fnp.tanh(x @ w))
    x, w = np.ones((2, 3)), np.full((3, 4), 0.5)
    traced = f.trace(x, w)
    assert isinstance(traced.jaxpr, ft.ClosedJaxpr)
    assert [e.primitive.name for e in traced.jaxpr.eqns] == ["dot_general", "tanh"]
    assert_close(ft.eval_jaxpr(traced.jaxpr, x, w), np.tanh(x @ w))
    assert traced.lower().as_text() == f.lower(x, w).as_text()


def test_lower_compile_is_called_without_static_arguments():
    f = ft.jit(_power, static_argnums=1)
    x = np.array([1.0, 2.0])
    compiled = f.lower(x, 3).compile()
    assert_close(compiled(x), x ** 3)
    assert_close(compiled(np.array([3.0, 4.0])), np.array([27.0, 64.0]))
    assert "def " in compiled.as_text()
    with pytest.raises(TypeError, match="lowered for"):
        compiled(np.ones(3))  # another shape
    with pytest.raises(TypeError, match="lowered for"):
        compiled(x, 3)  # the static argument is not passed again


def test_compiled_takes_pytrees_and_keywords():
    f = ft.jit(lambda p, x, *, b: {"y": x @ p["w"] + b})
    p, x, b = {"w": np.ones((3, 2))}, np.ones((4, 3)), np.zeros(2)
    compiled = f.lower(p, x, b=b).compile()
    out = compiled(p, x, b=b)
    assert set(out) == {"y"}
    assert_close(out["y"], np.full((4, 2), 3.0))


def test_compiled_results_are_the_callers_own():
    c = np.arange(3.0)
    compiled = ft.jit(lambda x: (x, c, x * 2.0)).lower(np.ones(3)).compile()
    for r in compiled(np.ones(3)):
        r[...] = 99.0 if isinstance(r, np.ndarray) else r.fill_(99.0)
    assert_close(compiled(np.ones(3))[1], np.arange(3.0))


@pytest.mark.parametrize("m,k,n", [(2, 3, 4), (5, 1, 7), (16, 32, 8)])
def test_cost_analysis_counts_matmul_flops(m, k, n):
    f = ft.jit(lambda a, b: a @ b)
    cost = f.lower(np.ones((m, k)), np.ones((k, n))).compile().cost_analysis()
    assert isinstance(cost, dict)
    assert cost["flops"] == 2 * m * n * k
    assert cost["equations"] == 1
    assert cost["bytes accessed"] == 8 * (m * k + k * n + m * n)


def test_cost_analysis_counts_elementwise_transcendentals_and_loop_steps():
    def f(x):
        y = fnp.exp(x) + 1.0
        y = fnp.asarray(y, np.float32)  # a cast: one flop per element
        return ft.lax.scan(lambda c, _: (c * 2.0, None), y, None, length=10)[0]

    lowered = ft.jit(f).lower(np.ones(4))
    cost = lowered.cost_analysis()
    assert cost["transcendentals"] == 4
    assert cost["flops"] == 4 + 4 + 4 + 10 * 4  # exp, add, cast, ten steps of mul
    assert cost["equations"] == len(lowered.jaxpr.eqns) + 1  # the scan body's one equation


# ---------------------------------------------------------------------------- block_until_ready
def test_block_until_ready_returns_its_argument():
    f = ft.jit(lambda x: {"a": x * 2.0, "b": [fnp.sum(x)]})
    out = f(ft.device_put(np.ones(3)))
    assert ft.block_until_ready(out) is out
    assert_close(host(ft.block_until_ready(out)["a"]), np.full(3, 2.0))
    assert ft.block_until_ready(None) is None
    assert ft.block_until_ready(3.0) == 3.0
