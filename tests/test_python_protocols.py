"""Python's own protocols on traced values, as JAX has them: ``round(x)`` and ``round(x, n)``
(traceable arrays; without ``n`` cast to the default integer), format specs on concrete values
(``f"{x:.3f}"``), and Python scalars through the rounding functions under ``jvp``."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError

# (value, ndigits): halves round to even, as Python's round and np.round do
ROUNDS = [(2.5, None), (-1.5, None), (0.49, None), (1.23456, 2), (-7.25, 1), (1234.5, -2), (3.7, 0)]


def _round_ref(v: float, ndigits: int | None, dtype) -> np.ndarray:
    x = np.asarray(v, dtype)
    return np.round(x).astype(np.int64) if ndigits is None else np.round(x, ndigits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("v, ndigits", ROUNDS)
def test_round_of_a_traced_value_under_every_transform(v, ndigits, dtype):
    x = np.asarray(v, dtype)
    want = _round_ref(v, ndigits, dtype)

    def r(t):
        return round(t) if ndigits is None else round(t, ndigits)

    seen = []
    ft.grad(lambda t: (seen.append(host(r(t))), t * t)[1])(x)  # eager tape: a concrete traced value
    seen.append(host(ft.jit(r)(x)))  # abstract: round needs no concrete value
    for got in seen:
        assert got.dtype == want.dtype and np.array_equal(got, want), (got, want)
    batched = ft.vmap(r)(np.stack([x, -x]))
    np.testing.assert_array_equal(host(batched), np.stack([want, _round_ref(-v, ndigits, dtype)]))


def test_round_is_differentiable_with_zero_derivative():
    assert float(host(ft.grad(lambda t: round(t, 1) * 1.0)(np.float64(0.26)))) == 0.0
    primal, tangent = ft.jvp(lambda t: round(t, 1), (np.float64(0.26),), (np.float64(1.0),))
    assert float(host(primal)) == 0.3 and float(host(tangent)) == 0.0


@pytest.mark.parametrize("spec", [".3f", "+.2e", "10.4g", ""])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_format_spec_on_a_concrete_traced_value(spec, dtype):
    x = np.asarray(1.23456789, dtype)
    out = []

    def f(t):
        out.append(format(t, spec))
        out.append(f"{t * 2:{spec}}")
        return t * t

    assert float(host(ft.grad(f)(x))) == pytest.approx(2 * float(x), rel=1e-6)
    if spec:
        assert out == [format(x[()], spec), format((x * 2)[()], spec)]
    else:  # no spec: str(), as for any object
        assert all(s.startswith("Tracer<") for s in out)


def test_format_spec_on_a_traced_array_is_numpys_refusal():
    with pytest.raises(TypeError, match="unsupported format string"):
        ft.grad(lambda t: (format(t, ".2f"), fnp.sum(t * t))[1])(np.ones(3))


def test_format_spec_inside_jit_names_debug_print():
    with pytest.raises(ConcretizationError, match=r"ft\.debug\.print\('\{x:\.2f\}', x=x\)") as info:
        ft.jit(lambda t: f"{t:.2f}")(1.0)
    assert "test_python_protocols.py" in str(info.value)  # the user's line


@pytest.mark.parametrize("fn", [fnp.floor, fnp.ceil, fnp.rint, fnp.trunc, fnp.round])
@pytest.mark.parametrize("primal", [0.0, 0.7, -2.5])
def test_rounding_functions_take_python_floats_under_jvp(fn, primal):
    p, t = ft.jvp(fn, (primal,), (1.0,))
    assert float(host(p)) == float(getattr(np, fn.__name__)(primal)) and float(host(t)) == 0.0
    assert host(p).dtype == np.float64 and host(t).dtype == np.float64
    p32, t32 = ft.jvp(fn, (np.float32(primal),), (np.float32(1.0),))
    assert host(p32).dtype == np.float32 and host(t32).dtype == np.float32
