"""Shared caches under concurrent use (issue 21, "Memory and threads"): threads running eager
and jitted transforms, control flow included, get no exception and the right values."""

from __future__ import annotations

import sys
import threading

import numpy as np
from helpers import host

import functrace as ft
import functrace.numpy as fnp


def _scan_loss(w, xs):
    return fnp.sum(ft.lax.scan(lambda c, x: (fnp.tanh(c * w + x), c), fnp.zeros(2), xs)[0])


def _cond_loss(w):
    return ft.lax.cond(w[0] > 0, lambda v: fnp.sum(v * v), lambda v: fnp.sum(-v), w)


def _while_value(w):
    return ft.lax.while_loop(lambda c: c[1] < 4, lambda c: (c[0] * 0.5 + 1.0, c[1] + 1), (fnp.sum(w), 0))[0]


# Shared by every thread: one jit cache each, compiled bodies shared through the backend.
_JIT_SCAN = ft.jit(ft.grad(_scan_loss))
_JIT_WHILE = ft.jit(_while_value)


def _tasks():
    """(name, thunk, expected) for a mix of eager and jitted transforms and control flow."""
    w, xs = np.array([0.3, -0.4]), np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    return [
        ("grad scan", lambda: ft.grad(_scan_loss)(w, xs), host(ft.grad(_scan_loss)(w, xs))),
        ("jit grad scan", lambda: _JIT_SCAN(w, xs), host(ft.grad(_scan_loss)(w, xs))),
        ("grad cond", lambda: ft.grad(_cond_loss)(w), 2 * w),
        ("jvp while", lambda: ft.jvp(_while_value, (w,), (np.ones(2),))[1], np.float64(0.5 ** 4 * 2)),
        ("jit while", lambda: _JIT_WHILE(w), host(_while_value(w))),
        ("jit grad scan again", lambda: _JIT_SCAN(w, xs), host(ft.grad(_scan_loss)(w, xs))),
        ("vmap jit", lambda: ft.vmap(ft.jit(lambda v: fnp.sin(v) * 2.0))(xs), np.sin(xs) * 2.0),
        ("jit fresh", lambda: ft.jit(lambda v: fnp.sum(v * v))(w), np.sum(w * w)),
    ]


def test_threads_running_mixed_transforms_share_caches_safely(monkeypatch):
    """Threads switch every microsecond, and the compiled-body cache is made small so that every
    eager call evicts from it: races on the shared caches get their chances."""
    from functrace.backends.registry import active_backend

    monkeypatch.setattr(active_backend(), "_BODY_CACHE_SIZE", 4)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    tasks = _tasks()
    errors: list[BaseException] = []
    wrong: list[str] = []
    steps = 1000

    def worker(seed: int) -> None:
        try:
            for i in range(steps):
                name, thunk, expected = tasks[(i * 7 + seed) % len(tasks)]
                got = host(thunk())
                if not np.allclose(got, expected, rtol=1e-12, atol=1e-12):
                    wrong.append(f"{name}: {got} != {expected}")
        except BaseException as e:  # noqa: BLE001 (reported by the main thread)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])
    assert not wrong, wrong[:3]


def test_compiled_body_cache_under_concurrent_eviction(monkeypatch):
    """The cache itself, hammered: 4 threads ask for 100,000 bodies each, most of them new, so each
    request evicts the oldest while other threads insert and evict (a bare KeyError or "dictionary
    changed size during iteration" before the cache took a lock)."""
    from functrace.backends.registry import active_backend

    backend = active_backend()
    monkeypatch.setattr(backend, "_BODY_CACHE_SIZE", 2)
    monkeypatch.setattr(backend, "COMPILE_BODY_AFTER", 50_000)  # a few compile, late
    closed = [ft.make_jaxpr(lambda x, k=k: x * float(k))(1.0) for k in range(64)]
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()

    def worker(seed: int) -> None:
        try:
            for i in range(100_000):
                body = closed[(i * 13 + seed * 5) % len(closed)]
                fn = backend.compiled_body(body)
                if fn is not None:
                    k = closed.index(body)
                    assert float(host(fn(backend.asarray(np.float64(2.0)))[0])) == 2.0 * k
        except BaseException as e:  # noqa: BLE001 (reported by the main thread)
            errors.append(e)

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])
