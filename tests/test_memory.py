"""Caches do not grow with the number of calls of an unchanged program (issue 21, "Memory and
threads"): the abstract-evaluation cache, the generated sources in ``linecache``, the compiled
control-flow bodies, and memory as a whole (``tracemalloc``) over many eager and jitted calls."""

from __future__ import annotations

import gc
import linecache
import tracemalloc

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import tracing
from functrace.backends import program_errors


def _rnn_loss(w, xs):
    """A small program with every construct whose sub-jaxprs are traced afresh on each call."""

    def step(h, x):
        h = fnp.tanh(h * w + x)
        return h, h

    h, _ = ft.lax.scan(step, fnp.zeros(3), xs)
    branch = ft.lax.cond(w[0] > 0, lambda v: fnp.sum(v * v), lambda v: fnp.sum(-v), w)
    loop = ft.lax.fori_loop(0, 3, lambda i, c: c * 0.5, fnp.sum(w))
    return fnp.sum(h) + fnp.sum(ft.nn.softplus(w)) + branch + loop


def _with_while(w, xs):
    """Forward mode also goes through a while_loop (reverse mode refuses one)."""
    return _rnn_loss(w, xs) + ft.lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 0.5, c[1] + 1),
                                                (fnp.sum(w), 0))[0]


CALLS = {
    "grad": lambda w, xs: ft.grad(_rnn_loss)(w, xs),
    "jvp": lambda w, xs: ft.jvp(lambda v: _with_while(v, xs), (w,), (w,)),
    "vjp": lambda w, xs: ft.vjp(_rnn_loss, w, xs)[1](np.float64(1.0)),
    "softplus": lambda w, xs: ft.grad(lambda v: fnp.sum(ft.nn.softplus(v)))(w),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_abstract_eval_cache_does_not_grow_with_calls(name):
    call = CALLS[name]
    w, xs = np.array([0.5, -0.2, 0.1]), np.ones((4, 3))
    for _ in range(5):
        call(w, xs)
    before = len(tracing._abstract_eval_cache)
    for _ in range(50):
        call(w, xs)
    assert len(tracing._abstract_eval_cache) == before


def test_abstract_eval_cache_is_bounded(monkeypatch):
    """Whatever programs run (here: 200 shapes), the cache holds at most its bound, and the
    results are right after it has been emptied."""
    monkeypatch.setattr(tracing, "_ABSTRACT_EVAL_CACHE_SIZE", 50)
    for n in range(1, 200):
        closed = ft.make_jaxpr(lambda x: fnp.sum(x * 2.0, axis=0))(np.ones((n, 2)))
        assert closed.jaxpr.outvars[0].aval.shape == (2,)
        assert len(tracing._abstract_eval_cache) <= 50


def _linecache_entries() -> int:
    return sum(1 for k in linecache.cache if k.startswith("<functrace-lowered-"))


def test_linecache_entries_go_with_their_compiled_functions():
    """So do the line tables that let an error name its equation (``backends.program_errors``)."""
    gc.collect()
    before, tables = _linecache_entries(), len(program_errors._lines)
    for i in range(200):
        ft.jit(lambda x: x * 2.0 + 1.0)(np.full(3, float(i)))
    gc.collect()
    assert _linecache_entries() - before < 5
    assert len(program_errors._lines) - tables < 5


def test_linecache_keeps_the_source_of_a_live_function_for_tracebacks():
    f = ft.jit(lambda x: x * 2.0)
    f(np.ones(2))
    source = f.lower(np.ones(2)).as_text()
    assert any("".join(v[2]) == source for k, v in linecache.cache.items() if k.startswith("<functrace-lowered-"))


def test_control_flow_body_cache_is_bounded():
    backend = _backend()
    for i in range(backend._BODY_CACHE_SIZE + 50):
        xs = np.ones(3) * i
        ft.grad(lambda w, xs=xs: ft.lax.scan(lambda c, x: (c * w + x, c), 0.0, xs)[0])(0.5)
    assert len(backend._bodies) <= backend._BODY_CACHE_SIZE


def _backend():
    from functrace.backends.registry import active_backend

    return active_backend()


@pytest.mark.parametrize("name", ["grad", "jvp", "jit_loop", "jit_grad_scan"])
def test_memory_does_not_grow_over_many_calls(name, monkeypatch):
    """tracemalloc: after a warm-up, 40 more calls leave less than 1 KB per call behind (the
    leaks this guards against were 17-38 KB per call). The compiled-body cache is bounded (each
    eager call traces new bodies): it is made small here, so the warm-up fills it."""
    monkeypatch.setattr(_backend(), "_BODY_CACHE_SIZE", 8)
    monkeypatch.setattr(_backend(), "_bodies", {})
    w, xs = np.array([0.5, -0.2, 0.1]), np.ones((4, 3))
    if name in CALLS:
        def call():
            CALLS[name](w, xs)
    elif name == "jit_loop":
        def call():
            ft.jit(lambda x: fnp.sin(x) * 2.0 + 1.0)(w)
    else:
        jitted = ft.jit(ft.grad(_rnn_loss))

        def call():
            jitted(w, xs)
    for _ in range(20):
        call()
    tracemalloc.start()
    try:
        for _ in range(10):  # entries of bounded caches replaced from here on are traced on both sides
            call()
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(40):
            call()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert grown < 40 * 1024, f"{name}: {grown / 40:.0f} bytes per call kept"


@pytest.mark.parametrize("name", ["jit", "jit_grad", "jit_planned", *CALLS])
def test_a_finished_call_leaves_no_reference_cycles(name, monkeypatch):
    """What a transform builds is freed by reference counting as soon as it is dropped: no cycle
    is left for the cyclic collector (a jitted function that referred to itself kept every
    program it traced and lowered in a cycle; a closed trace and its tracers pointed at each
    other). For a program of 50,000 equations collecting such cycles took about a second."""
    w, xs = np.array([0.5, -0.2, 0.1]), np.ones((4, 3))
    calls = {**CALLS, "jit": lambda w, xs: ft.jit(lambda v: fnp.sum(fnp.sin(v) * 2.0))(w),
             "jit_grad": lambda w, xs: ft.jit(ft.grad(_rnn_loss))(w, xs),
             "jit_planned": lambda w, xs: ft.jit(ft.grad(_rnn_loss))(w, xs)}
    if name == "jit_planned":  # a long program's first calls run a plan (transforms.jit)
        from functrace.transforms import jit as jit_module

        monkeypatch.setattr(jit_module, "INTERPRET_FROM_EQNS", 1)
    calls[name](w, xs)  # first calls fill the long-lived caches
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            calls[name](w, xs)
        found = gc.collect()
    finally:
        if enabled:
            gc.enable()
    assert found == 0, f"{name}: {found} objects were only freed by the cyclic collector"
