"""``ft.debug.print`` and ``ft.disable_jit`` (issue 18 item 3): runtime values printed from inside
jit, vmap (once per example, as JAX), grad and control flow; an effect no pass removes."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.transforms import passes


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def f(x):
    ft.debug.print("x = {x}", x=x)
    y = fnp.sin(x)
    ft.debug.print("sum = {:.4f}", fnp.sum(y))
    return fnp.sum(y * 2.0)


X = np.array([0.0, 1.0, 2.0])
EXPECTED = ["x = [0. 1. 2.]", "sum = 1.7508"]


@pytest.mark.parametrize("name,make", [
    ("eager", lambda: f),
    ("jit", lambda: ft.jit(f)),
    ("grad", lambda: ft.grad(f)),
    ("jit(grad)", lambda: ft.jit(ft.grad(f))),
    ("grad(jit)", lambda: ft.grad(ft.jit(f))),
    ("value_and_grad", lambda: ft.value_and_grad(f)),
    ("jvp", lambda: lambda x: ft.jvp(f, (x,), (fnp.ones_like(x),))),
    ("linearize", lambda: lambda x: ft.linearize(f, x)[0]),
])
def test_prints_runtime_values_once_per_call(name, make, capsys):
    g = make()
    for _ in range(2):  # the second call runs jit's cached program: it prints again
        g(X)
        assert lines(capsys) == EXPECTED, name


def test_jit_prints_when_the_program_runs_not_when_it_traces(capsys):
    g = ft.jit(f)
    ft.make_jaxpr(g)(X)
    assert lines(capsys) == []
    g(X + 1)
    assert lines(capsys)[0] == "x = [1. 2. 3.]"


def test_vmap_prints_once_per_example_and_nested_vmaps(capsys):
    ft.vmap(f)(np.arange(4.0).reshape(2, 2))
    # as in JAX, each print runs for every example before the next equation
    assert lines(capsys) == ["x = [0. 1.]", "x = [2. 3.]", "sum = 0.8415", "sum = 1.0504"]
    inner = ft.vmap(lambda a, b: ft.debug.print("{} {}", a, b), in_axes=(None, 0))
    ft.jit(ft.vmap(inner, in_axes=(0, None)))(np.arange(2.0), np.arange(3) * 10)
    assert lines(capsys) == ["0.0 0", "0.0 10", "0.0 20", "1.0 0", "1.0 10", "1.0 20"]
    ft.vmap(lambda x: ft.debug.print("{}", x), in_axes=1)(np.arange(4).reshape(2, 2))
    assert lines(capsys) == ["[0 2]", "[1 3]"]


def test_vmap_of_grad_prints_per_example(capsys):
    ft.vmap(ft.grad(f))(np.ones((2, 3)))
    assert lines(capsys) == ["x = [1. 1. 1.]"] * 2 + ["sum = 2.5244"] * 2


def test_print_inside_control_flow_is_kept_even_when_results_are_unused(capsys):
    def g(x):
        lax.scan(lambda c, xi: (ft.debug.print("c={}", c) or c + xi, None), 0.0, x)  # results unused
        lax.cond(fnp.sum(x) > 0, lambda: ft.debug.print("positive"), lambda: ft.debug.print("not"))
        return x * 2

    for h in (g, ft.jit(g)):
        host(h(X))
        assert lines(capsys) == ["c=0.0", "c=0.0", "c=1.0", "positive"]
    closed = ft.make_jaxpr(g)(X)
    assert [e.primitive.name for e in closed.eqns if e.primitive.name in ("scan", "cond")] == ["scan", "cond"]


def test_passes_never_remove_or_merge_prints():
    def g(x):
        ft.debug.print("{}", x)
        ft.debug.print("{}", x)  # the same print twice is two prints
        ft.debug.print("{}", x * 0.0)  # folding would not make it disappear
        return x

    closed = passes.optimize(ft.make_jaxpr(g)(X), sub_jaxprs=True)
    assert [e.primitive.name for e in closed.eqns].count("debug_print") == 3


def test_prints_survive_the_text_round_trip(capsys):
    closed = ft.make_jaxpr(ft.vmap(f))(np.ones((2, 3)))
    again = ft.ir.parse_jaxpr(str(closed))
    assert str(again) == str(closed)
    ft.eval_jaxpr(again, np.zeros((2, 3)))
    assert lines(capsys) == ["x = [0. 0. 0.]"] * 2 + ["sum = 0.0000"] * 2


@pytest.mark.parametrize("fmt,args,kwargs,match", [
    ("{y}", (), {"x": 1.0}, "'y'"),
    ("{} {}", (1.0,), {}, "more {} fields"),
    ("{3}", (1.0,), {}, "positional value 3"),
])
def test_bad_formats_are_refused_at_the_call(fmt, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ft.jit(lambda x: ft.debug.print(fmt, *args, **kwargs) or x)(1.0)


def test_format_must_be_a_string():
    with pytest.raises(TypeError, match="format string"):
        ft.debug.print(np.ones(2))


# ---------------------------------------------------------------------------- disable_jit
def test_disable_jit_runs_the_function_eagerly(capsys):
    seen = []

    @ft.jit
    def g(x, n):
        seen.append(type(x).__name__)
        if n > 1:  # Python control flow on a value: only eager code can do this
            print("eager", host(x))
        return x * n

    with ft.disable_jit():
        assert host(g(X, 2)).tolist() == [0.0, 2.0, 4.0]
    assert lines(capsys) == ["eager [0. 1. 2.]"]
    assert "Tracer" not in seen
    assert not ft.config.read("disable_jit")
    with pytest.raises(ft.ConcretizationError):
        g(X, 2)


def test_config_update_and_environment(monkeypatch):
    calls = []
    g = ft.jit(lambda x: calls.append(x) or x)
    ft.config.update("jax_disable_jit", True)
    try:
        g(np.ones(2))
        g(np.ones(2))
    finally:
        ft.config.update("disable_jit", False)
    assert len(calls) == 2 and all(isinstance(c, np.ndarray) for c in calls)
    with pytest.raises(ValueError, match="unknown option"):
        ft.config.update("no_such_flag", True)
    with pytest.raises(TypeError):
        ft.config.update("disable_jit", "yes")


def test_disable_jit_from_the_environment_in_a_fresh_process():
    import os
    import subprocess
    import sys

    code = ("import functrace as ft, numpy as np\n"
            "seen = []\n"
            "ft.jit(lambda x: seen.append(type(x).__name__) or x)(np.ones(2))\n"
            "print(seen)\n")
    env = {**os.environ, "FUNCTRACE_DISABLE_JIT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "['ndarray']" or out.stdout.strip() == "['Tensor']"
