"""``ft.test_util.check_grads`` itself: deliberately wrong derivative rules must fail it, true ones
must pass it (float32 and float64, default tolerances), and its directions cover every input dtype.

The wrong rules are small on purpose (a 0.05 % scale, one sign among many elements, the second
derivative only, the reverse mode only): a checker that passes them cannot be trusted to find the
bugs the rest of the suite relies on it for.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.rules import transpose_rules
from functrace.test_util import check_grads
from functrace.transforms.test_util import random_direction

X = np.array([0.3, -1.2, 0.7, 2.5, -0.05])


# ---------------------------------------------------------------------------- wrong rules fail
def _scaled_double(scale: float):
    """``x * 2`` whose reverse rule multiplies by ``scale`` instead of 2."""
    @ft.custom_vjp
    def double(x):
        return x * 2.0

    double.defvjp(lambda x: (x * 2.0, None), lambda _, g: (g * scale,))
    return double


@pytest.mark.parametrize("x", [np.array(1e-3), np.array(0.02), np.array([0.01, -0.003, 0.02]), X, 1e3 * X],
                         ids=["tiny-scalar", "small-scalar", "small-vector", "unit", "large"])
def test_custom_vjp_off_by_five_hundredths_of_a_percent_fails(x):
    """``g * 2.001`` for ``x * 2.0``: the old checker's absolute floor let this through below ~0.02."""
    check_grads(_scaled_double(2.0), (x,), order=2, modes=("rev",))
    with pytest.raises(AssertionError, match=r"order 1 \(f\), reverse mode: vjp and finite differences disagree"):
        check_grads(_scaled_double(2.001), (x,), order=1, modes=("rev",))


def _sign_flipped_sin(at: int):
    """sin, with a forward rule whose tangent has the wrong sign at one element."""
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        sign = np.ones(x.shape, np.float64)
        sign[at] = -1.0
        return fnp.sin(x), fnp.cos(x) * t * fnp.asarray(sign)

    return f


def test_custom_jvp_wrong_sign_at_one_element_fails():
    x = np.linspace(-1.0, 1.0, 40)
    for at in (0, 17, 39):
        where = rf"forward mode: jvp does not match finite differences: output 0 at \({at},\)"
        with pytest.raises(AssertionError, match=where):
            check_grads(_sign_flipped_sin(at), (x,), order=1, modes=("fwd",))
        with pytest.raises(AssertionError, match="reverse mode: vjp and finite differences disagree"):
            check_grads(_sign_flipped_sin(at), (x,), order=1, modes=("rev",))


def _cube(wrong_second: bool):
    """x ** 3, with a rule whose first derivative is right (3 x**2) and whose second derivative is
    halved when ``wrong_second`` (3 x x0 with x0 = stop_gradient(x): same value, half the slope)."""
    @ft.custom_jvp
    def cube(x):
        return x * x * x

    @cube.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        other = ft.stop_gradient(x) if wrong_second else x
        return x * x * x, 3.0 * x * other * t

    return cube


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_wrong_second_derivative_only_fails_at_order_2(modes):
    check_grads(_cube(wrong_second=False), (X,), order=3, modes=modes)
    check_grads(_cube(wrong_second=True), (X,), order=1, modes=modes)
    with pytest.raises(AssertionError, match=r"check_grads: order 2 \((jvp|vjp) of f\)"):
        check_grads(_cube(wrong_second=True), (X,), order=2, modes=modes)


def test_wrong_vjp_with_right_jvp_fails_in_reverse_mode(monkeypatch):
    """neg's transpose off by 0.05 %: forward mode is right, so only reverse mode can see it."""
    monkeypatch.setitem(transpose_rules, P.neg_p, lambda ct, x: [lax.mul(ct, -1.0005)])
    f = lambda x: fnp.sin(-x)  # noqa: E731
    check_grads(f, (X,), order=2, modes=("fwd",))
    with pytest.raises(AssertionError, match="reverse mode: vjp and finite differences disagree"):
        check_grads(f, (X,), order=1, modes=("rev",))
    with pytest.raises(AssertionError, match="reverse mode: vjp and (finite differences|jvp) disagree"):
        check_grads(f, (X,), order=1)


def test_wrong_primal_from_a_rule_fails():
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    @f.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return fnp.sin(x) * 1.001, fnp.cos(x) * t

    with pytest.raises(AssertionError, match="forward mode: primal output 0"):
        check_grads(f, (X,), order=1, modes=("fwd",))


def test_error_names_mode_order_both_numbers_and_tolerance():
    with pytest.raises(AssertionError) as info:
        check_grads(_scaled_double(2.001), (X,), order=1, modes=("rev",))
    msg = str(info.value)
    assert "order 1" in msg and "reverse mode" in msg
    assert "<ct, J t> = " in msg and "<J^T ct, t> = " in msg and "tolerance" in msg and "rtol=1e-05" in msg
    with pytest.raises(AssertionError) as info:
        check_grads(_cube(wrong_second=True), (X,), order=2, modes=("fwd",))
    msg = str(info.value)
    assert "order 2 (jvp of f), forward mode" in msg and "jvp gives" in msg and "central difference" in msg
    assert "tolerance" in msg


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_wrong_float32_rule_fails_at_default_tolerances(dtype):
    """1 % off is beyond float32's finite differences' reach of 2e-3, and far beyond float64's."""
    x = X.astype(dtype)
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads(_scaled_double(2.02), (x,), order=1, modes=("rev",))


# ---------------------------------------------------------------------------- right rules pass
RIGHT = [
    ("sin", fnp.sin, lambda dt: (X.astype(dt),)),
    ("exp-tanh", lambda x: fnp.exp(fnp.tanh(x)), lambda dt: (X.astype(dt),)),
    ("log", fnp.log, lambda dt: (np.array([0.5, 1.3, 2.0, 7.0], dt),)),
    ("log-large", fnp.log, lambda dt: (np.array([1e4, 3e5, 2e7], dt),)),  # the step scales with x
    ("matmul", lambda a, b: fnp.sin(a @ b), lambda dt: (np.arange(6.0).reshape(2, 3).astype(dt) / 5,
                                                        np.linspace(-1, 1, 12).reshape(3, 4).astype(dt))),
    ("sum-of-squares", lambda x: fnp.sum(x * x), lambda dt: (X.astype(dt),)),
    ("pytree", lambda p: fnp.sum(p["a"] ** 3) * p["b"], lambda dt: ({"a": X.astype(dt), "b": np.array(2.0, dt)},)),
    ("zero-derivative-noisy", lambda x: fnp.sin(x) ** 2 + fnp.cos(x) ** 2, lambda dt: (X.astype(dt),)),
    ("constant", lambda x: fnp.zeros_like(x) + 3.0, lambda dt: (X.astype(dt),)),
    ("softplus-custom-jvp", ft.nn.softplus, lambda dt: (np.array([-30.0, -2.0, 0.0, 0.3, 40.0], dt),)),
    ("cube-custom-jvp", _cube(wrong_second=False), lambda dt: (X.astype(dt),)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,f,make", RIGHT, ids=[r[0] for r in RIGHT])
def test_true_derivatives_pass_at_default_tolerances(name, f, make, dtype):
    check_grads(f, make(dtype), order=2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_true_custom_vjp_passes_at_default_tolerances(dtype):
    check_grads(_scaled_double(2.0), (X.astype(dtype),), order=3, modes=("rev",))


def test_integer_inputs_get_no_direction():
    n = np.array([1, 2, 3, 4, 5], np.int32)
    check_grads(lambda x, n: x * n, (X, n), order=2)
    check_grads(lambda x, flag: fnp.where(flag, x, 2 * x), (X, X > 0), order=2)


# ---------------------------------------------------------------------------- directions
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64, np.complex128])
def test_every_floating_input_gets_a_nonzero_random_direction(dtype):
    x = np.linspace(-3, 3, 50).astype(dtype)
    t = random_direction(np.random.default_rng(0), x)
    assert t.dtype == x.dtype and t.shape == x.shape
    assert np.all(t.real != 0)
    if np.iscomplexobj(x):
        assert np.all(t.imag != 0)  # both parts of a complex input are moved
    # scaled by max(1, |x|): larger inputs get proportionally larger components on average
    assert np.mean(np.abs(t[np.abs(x) > 2])) > np.mean(np.abs(t[np.abs(x) < 1]))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_boolean_inputs_get_a_zero_direction(dtype):
    x = np.ones(4, dtype)
    t = random_direction(np.random.default_rng(0), x)
    assert t.dtype == x.dtype and not t.any()


# ---------------------------------------------------------------------------- complex inputs
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("f", [lambda z: z * z, fnp.sin, fnp.exp, lambda z: fnp.sum(z * z * 0.5)],
                         ids=["square", "sin", "exp", "sum"])
def test_holomorphic_derivatives_pass_on_complex_inputs(f, dtype):
    z = np.array([1 + 2j, 0.5 - 1j, -0.3 + 0.2j], dtype)
    check_grads(f, (z,), order=2)


def test_wrong_complex_derivative_fails():
    """A holomorphic rule with the wrong phase (f' * exp(0.001 i)): with the old all-zero
    directions for complex inputs, no complex derivative was ever compared. (A rule wrong in the
    imaginary direction only needs a non-holomorphic operation, and functrace has no real, imag or
    conj primitive yet; the directions' imaginary parts are tested above.)"""
    @ft.custom_jvp
    def square(z):
        return z * z

    @square.defjvp
    def _(primals, tangents):
        (z,), (t,) = primals, tangents
        return z * z, 2.0 * z * t * np.exp(0.001j)

    z = np.array([1 + 2j, 0.5 - 1j, -0.3 + 0.2j])
    with pytest.raises(AssertionError, match="forward mode"):
        check_grads(square, (z,), order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="reverse mode"):
        check_grads(square, (z,), order=1, modes=("rev",))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="modes"):
        check_grads(fnp.sin, (X,), order=1, modes=("forward",))
    with pytest.raises(ValueError, match="order"):
        check_grads(fnp.sin, (X,), order=0)


def test_an_infinite_value_does_not_widen_the_other_elements_tolerance():
    from functrace.transforms.test_util import _Direction

    inf_at_0 = fnp.asarray(np.array([np.inf, 0.0, 0.0, 0.0, 0.0]))
    _, noise = _Direction((X,), 1e-6, np.random.default_rng(0)).numeric(lambda x: x * 2.0 + inf_at_0)
    assert np.all(np.isfinite(noise[0])) and noise[0].max() < 1e-6
