"""functrace.scipy.integrate.odeint: values, derivatives (adjoint method), jit, vmap, pytrees, errors.

Values against closed forms, against SciPy's odeint, and against ``jax.experimental.ode.odeint``
(the same Dormand-Prince steps, so the numbers agree to rounding). The JAX numbers below were
produced with JAX 0.10.2 (x64 enabled, CPU) and are kept here as literals: JAX is not a test
dependency. Tolerances are loose (rtol/atol 1e-6 to 1e-8) so that each solve takes few steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_torch

import functrace as ft
import functrace.numpy as fnp
from functrace.scipy.integrate import odeint


def host(x):
    return np.asarray(ft.device_get(x))


def decay(y, t, k):
    return -k * y


def oscillator(y, t, w):
    return fnp.stack([y[1], -(w**2) * y[0]])


def pendulum(y, t, m, g):
    return fnp.stack([y[1], -m * y[1] - g * fnp.sin(y[0])])


# ---------------------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exponential_decay_matches_the_closed_form(dtype):
    ts = np.linspace(0.0, 2.0, 7).astype(dtype)
    y0 = np.array([1.0, -2.0, 0.5], dtype)
    ys = odeint(decay, y0, ts, dtype(1.3), rtol=1e-6, atol=1e-6)
    assert host(ys).dtype == dtype and ys.shape == (7, 3)
    want = y0[None, :] * np.exp(-1.3 * ts.astype(np.float64))[:, None]
    np.testing.assert_allclose(host(ys), want, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_harmonic_oscillator_matches_the_closed_form(dtype):
    w = 2.0
    ts = np.linspace(0.0, 3.0, 5).astype(dtype)
    ys = host(odeint(oscillator, np.array([1.0, 0.0], dtype), ts, dtype(w), rtol=1e-7, atol=1e-7))
    tol = 1e-5 if dtype == np.float32 else 1e-6
    np.testing.assert_allclose(ys[:, 0], np.cos(w * ts), atol=tol)
    np.testing.assert_allclose(ys[:, 1], -w * np.sin(w * ts), atol=2 * tol)


def test_tight_tolerances_give_accurate_values():
    ts = np.array([0.0, 0.7, 5.0])
    ys = host(odeint(decay, 1.0, ts, 1.0, rtol=1e-12, atol=1e-12))
    np.testing.assert_allclose(ys, np.exp(-ts), rtol=1e-10)


@pytest.mark.parametrize("case", ["pendulum", "lotka_volterra", "time_dependent"])
def test_values_match_scipy_odeint(case):
    from scipy.integrate import odeint as sp_odeint

    if case == "pendulum":
        f, y0, args = pendulum, np.array([np.pi - 0.1, 0.0]), (0.25, 9.8)
        np_f = lambda y, t, m, g: np.array([y[1], -m * y[1] - g * np.sin(y[0])])  # noqa: E731
    elif case == "lotka_volterra":
        def f(y, t, a, b, c, d):
            return fnp.stack([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])

        y0, args = np.array([1.0, 0.5]), (1.1, 0.4, 0.4, 0.9)
        np_f = lambda y, t, a, b, c, d: np.array([a * y[0] - b * y[0] * y[1], c * y[0] * y[1] - d * y[1]])  # noqa: E731
    else:
        def f(y, t):
            return -fnp.sqrt(t) - y + 0.3 * fnp.cos(3 * t) * y[::-1]

        y0, args = np.array([0.2, -1.0, 0.7]), ()
        np_f = lambda y, t: -np.sqrt(t) - y + 0.3 * np.cos(3 * t) * y[::-1]  # noqa: E731
    ts = np.linspace(0.0, 5.0, 9)
    want = sp_odeint(np_f, y0, ts, args, rtol=1e-11, atol=1e-11)
    got = host(odeint(f, y0, ts, *args, rtol=1e-8, atol=1e-8))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_values_match_solve_ivp_on_a_stiffish_problem():
    from scipy.integrate import solve_ivp

    # Van der Pol, mu = 3: a fast and a slow phase, so the step size must adapt.
    def vdp(y, t, mu):
        return fnp.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    ts = np.linspace(0.0, 6.0, 7)
    ref = solve_ivp(lambda t, y: [y[1], 3.0 * (1 - y[0] ** 2) * y[1] - y[0]], (0.0, 6.0), [2.0, 0.0],
                    t_eval=ts, rtol=1e-11, atol=1e-11, method="DOP853")
    got = host(odeint(vdp, np.array([2.0, 0.0]), ts, 3.0, rtol=1e-8, atol=1e-8))
    np.testing.assert_allclose(got, ref.y.T, rtol=1e-5, atol=1e-5)


# jax.experimental.ode.odeint(pendulum, [pi - 0.1, 0], linspace(0, 1, 6), 0.25, 9.8, rtol=1e-6,
# atol=1e-6), JAX 0.10.2, x64, and the gradient of sum(W * ys) in (y0, ts, m, g).
JAX_PENDULUM_YS = np.array([
    [3.041592653589793, 0.0],
    [3.021716046829445, -0.20350558928386472],
    [2.95558790686189, -0.4767448372461477],
    [2.819738514655886, -0.9208054743295926],
    [2.5661726981122093, -1.6829104162941624],
    [2.1133996113170146, -2.9375889745672956]])
JAX_W = np.array([[1.0, -0.5], [0.3, 0.2], [0.7, -1.1], [0.0, 0.4], [-0.6, 0.9], [1.2, 0.5]])
JAX_GRADS = (
    np.array([36.861777299114934, 10.405765714723037]),
    np.array([10.669864748500112, -0.28527221030868, 1.5287627617806467, -1.1479175028701083,
              -3.411329711747821, -7.354108085354149]),
    np.array(1.5819543230679045),
    np.array(-0.6878052020320716),
)


def _pendulum_loss(y0, ts, m, g):
    return fnp.sum(JAX_W * odeint(pendulum, y0, ts, m, g, rtol=1e-6, atol=1e-6))


def test_values_and_gradients_match_jax():
    y0, ts = np.array([np.pi - 0.1, 0.0]), np.linspace(0.0, 1.0, 6)
    np.testing.assert_allclose(host(odeint(pendulum, y0, ts, 0.25, 9.8, rtol=1e-6, atol=1e-6)), JAX_PENDULUM_YS,
                               rtol=1e-12, atol=1e-12)
    grads = ft.grad(_pendulum_loss, argnums=(0, 1, 2, 3))(y0, ts, 0.25, 9.8)
    for got, want in zip(grads, JAX_GRADS, strict=True):
        np.testing.assert_allclose(host(got), want, rtol=1e-10, atol=1e-10)


def test_hmax_limits_the_step():
    """JAX's test: a right-hand side that is zero except on [0, 2] and [5, 7]; without hmax the
    solver steps over the second pulse."""
    def rhs(y, t):
        return fnp.where(t <= 2.0, 1.0, fnp.where((t >= 5.0) & (t <= 7.0), -1.0, 0.0))

    ys = host(odeint(rhs, 0.0, np.array([0.0, 5.0, 10.0]), hmax=1.0))
    assert abs(ys[1] - 2.0) < 1e-4 and abs(ys[2]) < 1e-4


def test_the_first_row_is_y0_and_a_single_time_is_allowed():
    y0 = np.array([0.3, -0.2])
    np.testing.assert_array_equal(host(odeint(decay, y0, np.array([1.5]), 2.0)), y0[None])
    ys = odeint(decay, y0, np.array([0.0, 1.0]), 2.0)
    np.testing.assert_array_equal(host(ys)[0], y0)
    ys[...] = 0  # the result is the user's own array: y0 is untouched
    np.testing.assert_array_equal(y0, [0.3, -0.2])


def test_time_dependent_dynamics_and_an_offset_start():
    # y' = cos(t) y: y = y0 exp(sin t - sin t0)
    ts = np.array([0.5, 1.0, 2.5, 4.0])
    ys = host(odeint(lambda y, t: fnp.cos(t) * y, 2.0, ts, rtol=1e-9, atol=1e-9))
    np.testing.assert_allclose(ys, 2.0 * np.exp(np.sin(ts) - np.sin(0.5)), rtol=1e-7)


def test_integer_y0_is_solved_in_floating_point():
    ys = odeint(decay, 1, np.array([0.0, 1.0]), 1.0, rtol=1e-9, atol=1e-9)
    assert host(ys).dtype == np.float64
    np.testing.assert_allclose(host(ys), np.exp(-np.array([0.0, 1.0])), rtol=1e-7)


def test_complex_state():
    ts = np.linspace(0.0, 1.0, 4)
    ys = host(odeint(lambda y, t, a: a * y, 1 + 2j, ts, 3 + 4j, rtol=1e-9, atol=1e-9))
    assert np.iscomplexobj(ys)
    np.testing.assert_allclose(ys, (1 + 2j) * np.exp((3 + 4j) * ts), rtol=1e-7)


# JAX's test_complex_odeint, with weights: the gradient of sum(w * Re odeint(a y e^-t, y0, ts, a))
# in (y0, ts, a) by jax.grad, JAX 0.10.2 (x64), rtol = atol = 1e-8.
JAX_COMPLEX_GRADS = ((-23.548974234926753 + 31.588812309283956j),
                     np.array([193.1432537267937, -37.48795210167923, -49.52563951243536, -16.3198038927492]),
                     (-49.000315622033995 - 14.297772161543037j))


def test_gradients_of_a_complex_state_match_jax():
    """Complex y0 and a complex parameter: JAX's conjugate-convention gradients; real times."""
    ts = np.linspace(0.0, 1.0, 4)

    def loss(y0, ts, a):
        ys = odeint(lambda y, t, a: a * y * fnp.exp(-t), y0, ts, a, rtol=1e-8, atol=1e-8)
        return fnp.sum(fnp.real(ys) * np.arange(1.0, 5.0))

    grads = ft.grad(loss, argnums=(0, 1, 2))(1 + 2j, ts, 3 + 4j)
    assert host(grads[1]).dtype == np.float64
    for got, want in zip(grads, JAX_COMPLEX_GRADS, strict=True):
        np.testing.assert_allclose(host(got), want, rtol=1e-9)


# ---------------------------------------------------------------------------- pytrees
def test_pytree_state_matches_the_flat_solve():
    def tree_f(y, t, k):
        return {"pos": y["vel"], "vel": -k * y["pos"], "tag": (-y["tag"][0],)}

    y0 = {"pos": np.array([1.0, 0.5]), "vel": np.zeros(2), "tag": (np.full((1, 2), 3.0),)}
    ts = np.linspace(0.0, 1.0, 4)
    ys = odeint(tree_f, y0, ts, 4.0, rtol=1e-8, atol=1e-8)
    assert ys["pos"].shape == (4, 2) and ys["tag"][0].shape == (4, 1, 2)
    np.testing.assert_allclose(host(ys["pos"]), np.cos(2 * ts)[:, None] * y0["pos"], atol=1e-6)
    np.testing.assert_allclose(host(ys["vel"]), -2 * np.sin(2 * ts)[:, None] * y0["pos"], atol=1e-6)
    np.testing.assert_allclose(host(ys["tag"][0]), 3 * np.exp(-ts)[:, None, None] * np.ones((1, 2)), rtol=1e-6)


def test_pytree_state_with_mixed_dtypes_keeps_each_dtype():
    y0 = (np.float32(1.0), np.array([2.0]))
    ys = odeint(lambda y, t: (-y[0], -2.0 * y[1]), y0, np.array([0.0, 0.5]))
    assert host(ys[0]).dtype == np.float32 and host(ys[1]).dtype == np.float64
    np.testing.assert_allclose(host(ys[1])[:, 0], 2 * np.exp(-np.array([0.0, 1.0])), rtol=1e-6)


def test_gradient_through_a_pytree_state_and_pytree_args():
    def f(y, t, p):
        return (-p["k"] * y[0], p["k"] * y[0] - p["j"] * y[1])

    def loss(y0, p):
        a, b = odeint(f, y0, np.array([0.0, 0.5, 1.0]), p, rtol=1e-8, atol=1e-8)
        return fnp.sum(a) + 2.0 * b[-1]

    y0, p = (1.0, 0.5), {"k": 0.8, "j": 0.3}
    g_y0, g_p = ft.grad(loss, argnums=(0, 1))(y0, p)
    assert isinstance(g_y0, tuple) and set(g_p) == {"k", "j"}
    ft.test_util.check_grads(loss, (y0, p), order=1, modes=("rev",), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- derivatives
def test_gradient_matches_the_analytic_sensitivity():
    """y' = -k y: y_i = y0 exp(-k (t_i - t0)). For L = sum_i w_i y_i: dL/dy0 = sum w_i e_i,
    dL/dk = -sum w_i (t_i - t0) y_i, dL/dt_i = -k w_i y_i (i > 0), dL/dt0 = k sum_{i>0} w_i y_i."""
    ts = np.array([0.2, 0.5, 1.1, 2.0])
    w = np.array([0.7, 1.0, -2.0, 0.5])
    y0, k = 1.5, 0.9

    def loss(y0, ts, k):
        return fnp.sum(w * odeint(decay, y0, ts, k, rtol=1e-10, atol=1e-10))

    g_y0, g_ts, g_k = (host(g) for g in ft.grad(loss, argnums=(0, 1, 2))(y0, ts, k))
    e = np.exp(-k * (ts - ts[0]))
    y = y0 * e
    np.testing.assert_allclose(g_y0, np.sum(w * e), rtol=1e-8)
    np.testing.assert_allclose(g_k, -np.sum(w * (ts - ts[0]) * y), rtol=1e-8)
    want_ts = -k * w * y
    want_ts[0] = k * np.sum(w[1:] * y[1:])
    np.testing.assert_allclose(g_ts, want_ts, rtol=1e-8, atol=1e-12)


def test_gradient_in_the_frequency_of_an_oscillator():
    # y = cos(w t): dy/dw = -t sin(w t)
    t_end = 2.0

    def final(w):
        return odeint(oscillator, np.array([1.0, 0.0]), np.array([0.0, t_end]), w, rtol=1e-10, atol=1e-10)[-1, 0]

    w = 1.3
    np.testing.assert_allclose(host(ft.grad(final)(w)), -t_end * np.sin(w * t_end), rtol=1e-7)
    np.testing.assert_allclose(host(ft.grad(ft.grad(final))(w)), -t_end**2 * np.cos(w * t_end), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_grads_reverse_mode(dtype):
    """Reverse mode against finite differences, to second order (the adjoint is itself
    differentiated); tolerances as JAX's own test of odeint."""
    y0 = np.array([np.pi - 0.1, 0.0], dtype)
    ts = np.linspace(0.0, 0.5, 3).astype(dtype)
    args = (dtype(0.25), dtype(9.8))
    tol = 5e-2 if dtype == np.float32 else 1e-3

    def f(y0, ts, m, g):
        return odeint(pendulum, y0, ts, m, g, rtol=1e-8, atol=1e-8)

    order = 1 if dtype == np.float32 else 2
    ft.test_util.check_grads(f, (y0, ts, *args), order=order, modes=("rev",), rtol=tol, atol=tol)


def test_gradient_with_respect_to_closed_over_values():
    """Values the dynamics close over get gradients too (as JAX's closure_convert gives)."""
    ts = np.linspace(0.0, 1.0, 5)

    def via_closure(k):
        return odeint(lambda y, t: -k * y, 1.0, ts, rtol=1e-9, atol=1e-9)[-1]

    def via_args(k):
        return odeint(decay, 1.0, ts, k, rtol=1e-9, atol=1e-9)[-1]

    np.testing.assert_allclose(host(ft.grad(via_closure)(0.6)), host(ft.grad(via_args)(0.6)), rtol=1e-12)
    np.testing.assert_allclose(host(ft.grad(via_closure)(0.6)), -np.exp(-0.6), rtol=1e-7)


def test_closed_over_arrays_and_integer_args_need_no_gradient():
    a = np.array([[-1.0, 0.5], [0.0, -2.0]])  # a NumPy constant inside the dynamics

    def f(y, t, n):
        return a @ y * n

    loss = lambda y0: fnp.sum(odeint(f, y0, np.array([0.0, 0.3]), 2, rtol=1e-10, atol=1e-10)[-1])  # noqa: E731
    from scipy.linalg import expm

    np.testing.assert_allclose(host(ft.grad(loss)(np.array([1.0, 1.0]))), expm(2 * 0.3 * a).sum(0), rtol=1e-7)


def test_forward_mode_raises_as_in_jax():
    def f(k):
        return fnp.sum(odeint(decay, 1.0, np.linspace(0.0, 1.0, 5), k))

    with pytest.raises(TypeError, match="can't apply forward-mode"):
        ft.jvp(f, (3.0,), (1.0,))
    with pytest.raises(TypeError, match="can't apply forward-mode"):
        ft.jacfwd(f)(3.0)
    assert host(ft.jacrev(f)(3.0)).shape == ()


# ---------------------------------------------------------------------------- jit and vmap
def test_jit_matches_eager_values_and_gradients():
    y0, ts = np.array([np.pi - 0.1, 0.0]), np.linspace(0.0, 1.0, 6)
    eager = host(odeint(pendulum, y0, ts, 0.25, 9.8, rtol=1e-6, atol=1e-6))
    jitted = ft.jit(lambda y0, ts, m, g: odeint(pendulum, y0, ts, m, g, rtol=1e-6, atol=1e-6))
    np.testing.assert_allclose(host(jitted(y0, ts, 0.25, 9.8)), eager, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(host(jitted(y0, ts, 0.3, 9.8)),
                               host(odeint(pendulum, y0, ts, 0.3, 9.8, rtol=1e-6, atol=1e-6)), rtol=1e-13, atol=1e-13)
    g = ft.jit(ft.grad(_pendulum_loss, argnums=(0, 1, 2, 3)))(y0, ts, 0.25, 9.8)
    for got, want in zip(g, JAX_GRADS, strict=True):
        np.testing.assert_allclose(host(got), want, rtol=1e-10, atol=1e-10)


def test_vmap_over_y0_matches_a_loop():
    ts = np.linspace(0.0, 1.0, 4)
    y0s = np.array([[np.pi - 0.1, 0.0], [0.5, 1.0], [-2.0, 0.3]])
    solve = lambda y0: odeint(pendulum, y0, ts, 0.25, 9.8, rtol=1e-7, atol=1e-7)  # noqa: E731
    got = host(ft.vmap(solve)(y0s))
    assert got.shape == (3, 4, 2)
    for i, y0 in enumerate(y0s):
        np.testing.assert_allclose(got[i], host(solve(y0)), rtol=1e-12, atol=1e-12)


def test_vmap_over_args_matches_a_loop():
    ts = np.linspace(0.0, 2.0, 3)
    ks = np.array([0.1, 1.0, 5.0])  # very different stiffness: different numbers of steps
    got = host(ft.vmap(lambda k: odeint(decay, np.array([1.0, 2.0]), ts, k, rtol=1e-8, atol=1e-8))(ks))
    for i, k in enumerate(ks):
        np.testing.assert_allclose(got[i], host(odeint(decay, np.array([1.0, 2.0]), ts, k, rtol=1e-8, atol=1e-8)),
                                   rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[:, :, 0], np.exp(-ks[:, None] * ts[None, :]), rtol=1e-6, atol=1e-8)


def test_vmap_of_grad_and_grad_of_vmap():
    ts = np.array([0.0, 1.0, 2.0])

    def final(k):
        return odeint(decay, 1.0, ts, k, rtol=1e-9, atol=1e-9)[-1]

    ks = np.array([0.3, 1.2])
    np.testing.assert_allclose(host(ft.vmap(ft.grad(final))(ks)), -2.0 * np.exp(-2.0 * ks), rtol=1e-7)

    # JAX's issue 2531: grad of a function that vmaps odeint
    def g(x):
        y0s = fnp.stack([fnp.stack([x, 0.1]), fnp.stack([x, 0.2])])
        ys = ft.vmap(lambda y0: odeint(lambda y, t: 0.1 * y, y0, np.array([0.0, 5.0])))(y0s)
        return fnp.sum(ys[:, -1])

    np.testing.assert_allclose(host(ft.grad(g)(2.0)), 2 * np.exp(0.5), rtol=1e-7)


def test_vmap_of_grad_of_a_closure_under_jit():
    """JAX's issue 2718: value_and_grad of a jitted function whose dynamics close over x, vmapped."""
    @ft.jit
    def experiment(x):
        return odeint(lambda y, t: -x * y, 1.0, np.arange(0.0, 2.0, 0.5))[-1]

    xs = np.array([0.1, 0.5, 2.0])
    h, g = ft.vmap(ft.value_and_grad(experiment))(xs)
    np.testing.assert_allclose(host(h), np.exp(-1.5 * xs), rtol=1e-7)
    np.testing.assert_allclose(host(g), -1.5 * np.exp(-1.5 * xs), rtol=1e-6)


# ---------------------------------------------------------------------------- mxstep
def test_times_not_reached_within_mxstep_are_nan():
    """JAX returns a value extrapolated from the last step, which is wrong; functrace returns nan
    at the times the solver did not reach (and keeps going from where it stopped)."""
    ts = np.array([0.0, 1.0, 2.0])
    ys = host(odeint(decay, 1.0, ts, 1.0, mxstep=3))
    assert ys[0] == 1.0 and np.isnan(ys[1:]).all()
    np.testing.assert_allclose(host(odeint(decay, 1.0, ts, 1.0, mxstep=100)), np.exp(-ts), rtol=1e-7)
    # under jit, and per example under vmap: k = 0 needs a few steps, k = 40 many more
    jitted = ft.jit(lambda k: odeint(decay, 1.0, ts, k, mxstep=10))
    assert np.isnan(host(jitted(40.0))[1:]).all() and not np.isnan(host(jitted(0.0))).any()
    both = host(ft.vmap(lambda k: odeint(decay, 1.0, ts, k, mxstep=10))(np.array([0.0, 40.0])))
    np.testing.assert_allclose(both[0], 1.0)
    assert np.isnan(both[1, 1:]).all()


def test_nan_dynamics_stop_the_solver():
    ys = host(odeint(lambda y, t: fnp.where(t > 0.5, np.nan, -y), 1.0, np.array([0.0, 0.25, 1.0])))
    assert np.isfinite(ys[1]) and np.isnan(ys[2])


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad, exc, match", [
    (dict(t=np.array([0, 1, 2])), TypeError, "t must be an array of floats"),
    (dict(t=np.array([0.0, 1.0, 1.0])), ValueError, "strictly increasing"),
    (dict(t=np.array([1.0, 0.5])), ValueError, "strictly increasing"),
    (dict(t=np.zeros((2, 2))), ValueError, "1-D array"),
    (dict(func=lambda y, t, k: (-k * y,)), TypeError, "structure and shapes of y0"),
    (dict(func=lambda y, t, k: -k * fnp.ones(3)), TypeError, "structure and shapes of y0"),
    (dict(args=("k",)), TypeError, "must be arrays or scalars"),
    (dict(mxstep=2.5), ValueError, "mxstep"),
    (dict(y0=1.0, func=lambda y, t, k: 1j * y), TypeError, "complex dy/dt for a real state"),
])
def test_errors_name_the_problem_and_the_line(bad, exc, match):
    kw = dict(func=decay, y0=np.array([1.0, 2.0]), t=np.array([0.0, 1.0]), args=(1.0,))
    kw.update(bad)
    extra = {"mxstep": kw.pop("mxstep")} if "mxstep" in kw else {}
    with pytest.raises(exc, match=match) as info:
        odeint(kw["func"], kw["y0"], kw["t"], *kw["args"], **extra)
    assert "test_odeint.py" in str(info.value)


# ---------------------------------------------------------------------------- torch
@needs_torch
def test_torch_backend_matches_numpy():
    y0, ts = np.array([np.pi - 0.1, 0.0]), np.linspace(0.0, 1.0, 6)
    with ft.use_backend("torch"):
        import torch

        ys = odeint(pendulum, y0, ts, 0.25, 9.8, rtol=1e-6, atol=1e-6)
        grads = ft.grad(_pendulum_loss, argnums=(0, 1, 2, 3))(y0, ts, 0.25, 9.8)
        assert isinstance(ys, torch.Tensor)
    np.testing.assert_allclose(host(ys), JAX_PENDULUM_YS, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, JAX_GRADS, strict=True):
        np.testing.assert_allclose(host(got), want, rtol=1e-10, atol=1e-10)
