"""Shared caches under concurrent use (issue 21, "Memory and threads"): threads running eager
and jitted transforms, control flow included, get no exception and the right values."""

from __future__ import annotations

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


_JIT_SCAN = ft.jit(ft.grad(_scan_loss))  # shared by every thread: one jit cache, one compiled body


def _tasks():
    """(name, thunk, expected) for a mix of eager and jitted transforms and control flow."""
    w, xs = np.array([0.3, -0.4]), np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    return [
        ("grad scan", lambda: ft.grad(_scan_loss)(w, xs), host(ft.grad(_scan_loss)(w, xs))),
        ("jit grad scan", lambda: _JIT_SCAN(w, xs), host(ft.grad(_scan_loss)(w, xs))),
        ("grad cond", lambda: ft.grad(_cond_loss)(w), 2 * w),
        ("jvp while", lambda: ft.jvp(_while_value, (w,), (np.ones(2),))[1], np.float64(0.5 ** 4 * 2)),
        ("jit while", lambda: ft.jit(_while_value)(w), host(_while_value(w))),
        ("vmap jit", lambda: ft.vmap(ft.jit(lambda v: fnp.sin(v) * 2.0))(xs), np.sin(xs) * 2.0),
        ("jit fresh", lambda: ft.jit(lambda v: fnp.sum(v * v))(w), np.sum(w * w)),
    ]


def test_threads_running_mixed_transforms_share_caches_safely():
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
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, repr(errors[0])
    assert not wrong, wrong[:3]
