"""The opt-in algebra (``ft.config.update("inexact_rewrites", True)``, issue 13 item 5: an inexact
rewrite that matters for the size of higher-order derivatives is kept opt-in). Off by default:
the default rewrites are exact (tests/test_exact_rewrites.py). On, the n-th derivatives of tanh
are as small as before exactness was required, their values agree to rounding, and the cases
where the program as written differs are the documented ones."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp

# Equations of the n-th derivative of tanh, n = 1..8: with the opt-in algebra, the counts of the
# inexact simplifier this replaced (192 at n = 8; JAX 0.10.2: 2,847); exact, the default.
INEXACT_COUNTS = [3, 5, 8, 15, 29, 55, 100, 192]
EXACT_COUNTS = [3, 6, 8, 14, 27, 59, 131, 279]


@pytest.fixture
def inexact():
    with ft.config.option("inexact_rewrites"):
        yield


def _nth(n: int):
    f = fnp.tanh
    for _ in range(n):
        f = ft.grad(f)
    return f


def _counts() -> list[int]:
    return [len(ft.make_jaxpr(_nth(n))(0.3).eqns) for n in range(1, 9)]


def test_off_by_default_and_exact():
    assert ft.config.read("inexact_rewrites") is False
    assert _counts() == EXACT_COUNTS


def test_tanh_derivatives_are_as_small_as_before_and_agree(inexact):
    assert _counts() == INEXACT_COUNTS
    for n in (3, 8):
        for x in (0.3, -1.7):
            got = host(ft.jit(_nth(n))(x))
            with ft.config.option("inexact_rewrites", False):
                want = host(_nth(n)(x))
            np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("f, x, written, rewritten", [
    (lambda x: x - x, -3.0, 0.0, -0.0),
    (lambda x: (x * 1e200) * 1e-200, 1e200, np.inf, 1e200),
], ids=["signed-zero", "overflow"])
def test_the_documented_differences(f, x, written, rewritten, inexact):
    got = host(ft.jit(f)(x))
    assert got == rewritten and np.signbit(got) == np.signbit(rewritten)
    with ft.config.option("inexact_rewrites", False):
        got = host(ft.jit(f)(x))
    assert got == written and np.signbit(got) == np.signbit(written)


def test_jit_and_the_tape_keep_the_two_apart():
    f = lambda x: x - x  # noqa: E731
    g = ft.jit(f)
    grad = ft.grad(lambda x: fnp.sum(x - x) * x[0])
    x = np.array([-3.0, 2.0])
    before = (np.signbit(host(g(-3.0))), len(g.lower(-3.0).jaxpr.eqns), host(grad(x)))
    with ft.config.option("inexact_rewrites"):
        after = (np.signbit(host(g(-3.0))), len(g.lower(-3.0).jaxpr.eqns))
    assert before[:2] == (False, 1) and after == (True, 1)
    np.testing.assert_array_equal(host(grad(x)), before[2])
    assert not np.signbit(host(g(-3.0)))  # the exact program again, not the one traced with the flag


def test_the_environment_variable_turns_it_on():
    env = dict(os.environ, FUNCTRACE_INEXACT_REWRITES="1")
    code = ("import functrace as ft, functrace.numpy as fnp\n"
            "f = fnp.tanh\n"
            "for _ in range(8): f = ft.grad(f)\n"
            "print(ft.config.read('inexact_rewrites'), len(ft.make_jaxpr(f)(0.3).eqns))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "192"], out.stderr
