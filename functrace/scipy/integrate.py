"""``functrace.scipy.integrate``: ``odeint``, an adaptive ODE solver that ``grad``, ``jit`` and
``vmap`` see through, with the signature and the numbers of ``jax.experimental.ode.odeint``.

The solver. Dormand and Prince's embedded Runge-Kutta pair of orders 5 and 4 (the "RK45" of
SciPy's ``solve_ivp``): each step makes seven evaluations of the dynamics (the last one is the
first of the next step), advances with the fifth-order solution and uses the difference to the
fourth-order one as its error estimate. A step whose root-mean-square error, relative to
``atol + rtol * |y|``, is at most 1 is accepted; either way the next step size is the usual
``0.9 * ratio**(-1/5)`` times the last, kept within a factor of 10 up (and 5 down, when the step
was rejected). The first step size is Hairer, Nørsett and Wanner's (Solving ODEs I, II.4). The
solver steps freely past the output times and reads the solution at each from a quartic fitted
to the step that crosses it (Dormand-Prince dense output), so the output times do not shorten
the steps.

It is written with ``lax.scan`` (one iteration per output time) around ``lax.while_loop`` (the
steps until the solver passes that time), so the whole solve is one traced program: it runs under
``jit``, and ``vmap`` batches it (examples that need fewer steps wait, frozen, for the others).

Derivatives: the adjoint method (Chen et al. 2018, appendix C), as JAX does. ``odeint`` is a
``custom_vjp`` function; its backward pass integrates, backwards in time from each output time
to the one before, the state together with the adjoint ``a = dL/dy`` and the accumulating
cotangents of the parameters and of the first time::

    d/ds (y, a, t0_bar, p_bar) = (-f, aᵀ ∂f/∂y, aᵀ ∂f/∂t, aᵀ ∂f/∂p)     with s = -t

with ``odeint`` itself, so the gradient is as accurate as the tolerances, costs about one more
solve, and stores only the outputs; the backward pass is differentiable in turn (``hessian``).
Values the dynamics close over (a parameter captured by a ``lambda``) are found by tracing the
dynamics once and become explicit arguments, so derivatives reach them too. As in JAX, forward
mode (``jvp``, ``jacfwd``) raises: a ``custom_vjp`` function has no forward rule.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.avals import ShapedArray
from functrace.ir import Jaxpr
from functrace.ops._subjaxprs import trace_to_closed
from functrace.ops.custom_vjp import custom_vjp
from functrace.rules import instantiate, interpreters
from functrace.tracing import Tracer, current_backend, eval_jaxpr, get_aval, user_error
from functrace.tree_util import tree_flatten, tree_map, tree_unflatten

Array = Any

__all__ = ["odeint"]


# ---------------------------------------------------------------------------- Dormand-Prince 5(4)
# Nodes, stages and weights of the pair (Dormand & Prince 1980); the 7th stage is f at the new point.
_NODES = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_STAGES = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_WEIGHTS_5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
# The embedded fourth-order solution whose difference is the error estimate: the alternative set of
# weights that JAX (and torchdiffeq) use, rather than the 5179/57600... of the original paper, so
# that the steps, and therefore the numbers, are JAX's.
_WEIGHTS_4 = (1951 / 21600, 0.0, 22642 / 50085, 451 / 720, -12231 / 42400, 649 / 6300, 1 / 60)
# The solution at the middle of a step (Shampine's dense output for this pair), for the quartic.
_MIDPOINT = (6025192743 / 30085553152 / 2, 0.0, 51252292925 / 65400821598 / 2, -2691868925 / 45128329728 / 2,
             187940372067 / 1594534317056 / 2, -1776094331 / 19743644256 / 2, 11237099 / 235043384 / 2)


def _combine(weights: Sequence[float], ks: Sequence[Array]) -> Array:
    """``sum(w * k)`` over the nonzero weights (Python floats, so single precision stays single)."""
    terms = [w * k for w, k in zip(weights, ks, strict=False) if w != 0.0]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _rk_step(f: Callable, y: Array, f0: Array, t: Array, dt: Array) -> tuple[Array, Array, Array, list]:
    """One Dormand-Prince step: the new state, f there, the error estimate and the 7 stages."""
    h = lax.convert_element_type(dt, get_aval(y).dtype)
    ks = [f0]
    for node, row in zip(_NODES, _STAGES, strict=True):
        ks.append(f(y + h * _combine(row, ks), t + dt * node))
    y_new = y + h * _combine(_WEIGHTS_5, ks)
    error = h * _combine([a - b for a, b in zip(_WEIGHTS_5, _WEIGHTS_4, strict=True)], ks)
    return y_new, ks[-1], error, ks


def _interp_coeffs(y0: Array, y1: Array, ks: list, dt: Array) -> Array:
    """The quartic through the step (in the fraction ``s`` of the step, coefficients highest
    first) that matches y and dy/dt at both ends and the dense-output value at the midpoint."""
    h = lax.convert_element_type(dt, get_aval(y0).dtype)
    y_mid = y0 + h * _combine(_MIDPOINT, ks)
    d0, d1 = h * ks[0], h * ks[-1]
    a = -2.0 * d0 + 2.0 * d1 - 8.0 * y0 - 8.0 * y1 + 16.0 * y_mid
    b = 5.0 * d0 - 3.0 * d1 + 18.0 * y0 + 14.0 * y1 - 32.0 * y_mid
    c = -4.0 * d0 + d1 - 11.0 * y0 - 5.0 * y1 + 16.0 * y_mid
    return fnp.stack([a, b, c, d0, y0])


def _horner(coeffs: Array, s: Array) -> Array:
    out = coeffs[0]
    for c in (coeffs[1], coeffs[2], coeffs[3], coeffs[4]):
        out = out * s + c
    return out


def _rms(x: Array) -> Array:
    return fnp.sqrt(fnp.mean(fnp.abs(x) ** 2))


def _initial_step(f: Callable, t0: Array, y0: Array, f0: Array, rtol: float, atol: float) -> Array:
    """Hairer, Nørsett and Wanner's first step: small enough that an explicit Euler step changes
    y by 1% of its scale, and f by about the error a method of order 4 tolerates."""
    scale = atol + fnp.abs(y0) * rtol
    d0 = fnp.linalg.norm(y0 / scale)
    d1 = fnp.linalg.norm(f0 / scale)
    tiny = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = fnp.where(tiny, 1e-6, 0.01 * d0 / fnp.where(tiny, 1.0, d1))
    h0 = lax.convert_element_type(h0, get_aval(t0).dtype)
    f1 = f(y0 + lax.convert_element_type(h0, get_aval(y0).dtype) * f0, t0 + h0)
    d2 = fnp.linalg.norm((f1 - f0) / scale) / h0
    flat = (d1 <= 1e-15) & (d2 <= 1e-15)
    h1 = fnp.where(flat, fnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / fnp.where(flat, 1.0, fnp.maximum(d1, d2))) ** (1.0 / 5.0))
    return lax.convert_element_type(fnp.minimum(100.0 * h0, h1), get_aval(t0).dtype)


def _next_step(dt: Array, ratio: Array) -> Array:
    """The step after one with error ratio ``ratio``: 0.9 ratio^(-1/5) dt, at most 10 dt, and at
    least dt after an accepted step (0.2 dt after a rejected one)."""
    floor = fnp.where(ratio < 1.0, 1.0, 0.2)
    factor = fnp.minimum(10.0, fnp.maximum(0.9 * fnp.where(ratio == 0, 1.0, ratio) ** -0.2, floor))
    return fnp.where(ratio == 0, 10.0 * dt, dt * lax.convert_element_type(factor, get_aval(dt).dtype))


def _solve(dyn: "_Dynamics", rtol: float, atol: float, mxstep: Any, hmax: Any, y0: Array, ts: Array,
           params: tuple) -> Array:
    """The states at the times ``ts`` (rows), from ``y0`` (a vector) at ``ts[0]``; nan at the times
    the solver did not reach within ``mxstep`` steps."""

    def f(y, t):
        return dyn(y, t, params)

    t0 = ts[0]
    f0 = f(y0, t0)
    dt = fnp.clip(_initial_step(f, t0, y0, f0, rtol, atol), 0.0, hmax)
    start = (y0, f0, t0, dt, t0, fnp.stack([y0] * 5))

    def to_time(carry, target):
        def more(state):
            i, _, _, t, dt, _, _ = state
            go = (t < target) & (dt > 0)
            return go if np.isinf(mxstep) else go & (i < mxstep)

        def attempt(state):
            i, y, fy, t, dt, last_t, coeffs = state
            y1, f1, err, ks = _rk_step(f, y, fy, t, dt)
            ratio = _rms(err / (atol + rtol * fnp.maximum(fnp.abs(y), fnp.abs(y1))))
            ok = ratio <= 1.0
            dt_next = fnp.clip(_next_step(dt, ratio), 0.0, hmax)
            return (i + 1, fnp.where(ok, y1, y), fnp.where(ok, f1, fy), fnp.where(ok, t + dt, t), dt_next,
                    fnp.where(ok, t, last_t), fnp.where(ok, _interp_coeffs(y, y1, ks, dt), coeffs))

        _, *state = lax.while_loop(more, attempt, (np.int32(0), *carry))
        _, _, t, _, last_t, coeffs = state
        s = lax.convert_element_type((target - last_t) / (t - last_t), get_aval(coeffs).dtype)
        y_at = fnp.where(t >= target, _horner(coeffs, s), np.nan)
        return tuple(state), y_at

    _, ys = lax.scan(to_time, start, ts[1:])
    return fnp.concatenate([y0[None], ys])


def _solve_fwd(dyn, rtol, atol, mxstep, hmax, y0, ts, params):
    # the custom_vjp function, not _solve: differentiating the forward pass again (grad of grad)
    # must meet this rule too, not the while_loop inside
    ys = _solve_vjp(dyn, rtol, atol, mxstep, hmax, y0, ts, params)
    return ys, (ys, ts, params)


def _solve_bwd(dyn, rtol, atol, mxstep, hmax, res, g):
    """Cotangents of ``y0``, ``ts`` and the parameters, by the adjoint equations between each
    pair of consecutive output times, from the last back to the first."""
    ys, ts, params = res
    diff = [_is_inexact(p) for p in params]
    pullback = dyn.pullback(diff)

    def augmented(state, s, *ps):
        y, adj, _, _ = state
        # s = -t: the state runs backwards; the adjoint and the integrals run forwards in s.
        fy, (adj_y, adj_t, adj_p) = pullback(y, -s, ps, adj)
        return (-fy, adj_y, adj_t, adj_p)

    def interval(carry, xs):
        adj, t0_bar, p_bar = carry
        y_i, t_i, t_prev, g_i, g_prev = xs
        t_bar = fnp.real(fnp.sum(dyn(y_i, t_i, params) * g_i))  # moving t_i moves the output along f
        t0_bar = t0_bar - t_bar
        back = odeint(augmented, (y_i, adj, t0_bar, p_bar), fnp.stack([-t_i, -t_prev]), *params,
                      rtol=rtol, atol=atol, mxstep=mxstep, hmax=hmax)
        _, adj, t0_bar, p_bar = tree_map(lambda x: x[1], back)
        return (adj + g_prev, t0_bar, p_bar), t_bar

    p_bar0 = tuple(fnp.zeros_like(p) for p, d in zip(params, diff, strict=True) if d)
    t0_bar0 = fnp.zeros((), get_aval(ts).dtype)
    (adj, t0_bar, p_bar), t_bars = lax.scan(interval, (g[-1], t0_bar0, p_bar0),
                                             (ys[1:], ts[1:], ts[:-1], g[1:], g[:-1]), reverse=True)
    it = iter(p_bar)
    # a parameter that is not a float (an integer argument) gets a zero cotangent of its shape
    p_cts = tuple(next(it) if d else fnp.zeros(get_aval(p).shape) for p, d in zip(params, diff, strict=True))
    return adj, fnp.concatenate([t0_bar[None], t_bars]), p_cts


_solve_vjp = custom_vjp(_solve, nondiff_argnums=(0, 1, 2, 3, 4))
_solve_vjp.defvjp(_solve_fwd, _solve_bwd)


# ---------------------------------------------------------------------------- the dynamics
def _is_inexact(x: Any) -> bool:
    return np.issubdtype(get_aval(x).dtype, np.inexact)


class _Dynamics:
    """The user's ``func`` as a traced program on flat values: ``(y, t, params) -> dy/dt``.

    ``params`` holds the leaves of ``*args`` and, in front of them, the traced values ``func``
    closes over (so that the custom_vjp rule, which sees only its arguments, differentiates
    them); the concrete arrays it closes over stay inside.
    """

    def __init__(self, closed: Any, consts: list):
        self.closed = closed
        self.hoisted = [isinstance(c, Tracer) for c in consts]
        self.fixed = [None if h else c for c, h in zip(consts, self.hoisted, strict=True)]
        self.n_hoisted = sum(self.hoisted)

    def hoisted_values(self, consts: list) -> list:
        return [c for c, h in zip(consts, self.hoisted, strict=True) if h]

    def _inputs(self, y: Array, t: Array, params: Sequence[Any]) -> list:
        it = iter(params[:self.n_hoisted])
        consts = [next(it) if h else c for c, h in zip(self.fixed, self.hoisted, strict=True)]
        return consts + [y, t] + list(params[self.n_hoisted:])

    def __call__(self, y: Array, t: Array, params: Sequence[Any]) -> Array:
        (out,) = eval_jaxpr(self.closed.jaxpr, self.closed.consts, self._inputs(y, t, params))
        return out

    def pullback(self, diff: Sequence[bool]) -> Callable:
        """``pull(y, t, params, a) -> (f, (aᵀ∂f/∂y, aᵀ∂f/∂t, aᵀ∂f/∂p for the params flagged in diff))``,
        from the dynamics linearized once (reverse mode of a jaxpr: linearize, then transpose)."""
        n_consts = len(self.hoisted)
        it = iter(diff)  # the hoisted constants first, then the args, as in params
        nonzero = [next(it) if h else False for h in self.hoisted] + [True, True] + list(it)
        lin = interpreters.linearize_jaxpr(self.closed, nonzero, [True])
        # the tangent program, with its residuals as constants: backward_pass transposes it
        tj = lin.tangent.jaxpr
        transposable = Jaxpr(list(tj.constvars) + list(tj.invars[:lin.n_res]), list(tj.invars[lin.n_res:]),
                             tj.outvars, tj.eqns)
        in_avals = self.closed.in_avals
        flagged = [i for i, nz in enumerate(nonzero) if nz]

        def pull(y, t, params, adj):
            outs = eval_jaxpr(lin.primal.jaxpr, lin.primal.consts, self._inputs(y, t, params))
            cts = interpreters.backward_pass(transposable, list(lin.tangent.consts) + list(outs[1:]), [adj])
            by_input = {i: instantiate(c, in_avals[i]) for i, c in zip(flagged, cts, strict=True)}
            ct_params = [by_input[i] for i in flagged if i != n_consts and i != n_consts + 1]
            return outs[0], (by_input[n_consts], by_input[n_consts + 1], tuple(ct_params))

        return pull


def _trace_dynamics(func: Callable, y_tree: Any, y_leaf_avals: list, y_aval: ShapedArray, t_aval: ShapedArray,
                    args: tuple) -> tuple[_Dynamics, list, list]:
    """Trace ``func(y, t, *args)`` on a flat state vector; returns the dynamics, the values it
    closes over that must become parameters, and the flat leaves of ``args``."""
    arg_leaves, arg_tree = tree_flatten(args)
    arg_leaves = [x if isinstance(x, Tracer) else fnp.asarray(x) for x in arg_leaves]
    unravel = _Unravel(y_tree, y_leaf_avals)

    def flat_fn(flat: list) -> list:
        y, t, *rest = flat
        out = func(unravel(y), t, *tree_unflatten(arg_tree, rest))
        leaves, tree = tree_flatten(out)
        if tree != y_tree or [get_aval(x).shape for x in leaves] != [a.shape for a in y_leaf_avals]:
            shapes = [get_aval(x).shape for x in leaves]
            raise user_error(TypeError(
                f"odeint: func(y, t, *args) must return dy/dt with the structure and shapes of y0, {y_tree} "
                f"{[a.shape for a in y_leaf_avals]}; it returned {tree} {shapes}"))
        for x in leaves:
            if np.issubdtype(get_aval(x).dtype, np.complexfloating) and not np.issubdtype(y_aval.dtype,
                                                                                           np.complexfloating):
                raise user_error(TypeError("odeint: func returned a complex dy/dt for a real state y0: make y0 "
                                           "complex"))
        return [_ravel(leaves, y_aval.dtype)]

    closed, consts = trace_to_closed(flat_fn, [y_aval, t_aval] + [get_aval(x) for x in arg_leaves])
    dyn = _Dynamics(closed, consts)
    return dyn, dyn.hoisted_values(consts), arg_leaves


def _ravel(leaves: Sequence[Any], dtype: Any) -> Array:
    parts = [fnp.ravel(lax.convert_element_type(fnp.asarray(x), dtype)) for x in leaves]
    return parts[0] if len(parts) == 1 else fnp.concatenate(parts)


class _Unravel:
    """A flat state vector back into the tree of ``y0``, each leaf in its own dtype."""

    def __init__(self, tree: Any, avals: list):
        self.tree, self.avals = tree, avals
        self.offsets = np.cumsum([0] + [a.size for a in avals]).tolist()

    def __call__(self, flat: Array, lead: tuple = ()) -> Any:
        """``flat``: ``lead + (n,)``; each leaf comes back as ``lead + shape``."""
        pieces = []
        for a, lo, hi in zip(self.avals, self.offsets[:-1], self.offsets[1:], strict=True):
            piece = flat[..., lo:hi] if len(self.avals) > 1 else flat
            pieces.append(lax.convert_element_type(fnp.reshape(piece, lead + a.shape), a.dtype))
        return tree_unflatten(self.tree, pieces)


# ---------------------------------------------------------------------------- odeint
def _check_times(t: Array) -> Array:
    t = t if isinstance(t, Tracer) else fnp.asarray(t)
    aval = get_aval(t)
    if not np.issubdtype(aval.dtype, np.floating):
        raise user_error(TypeError(f"odeint: t must be an array of floats, got dtype {aval.dtype}"))
    if aval.ndim != 1 or aval.shape[0] < 1:
        raise user_error(ValueError(f"odeint: t must be a 1-D array of at least one time, got shape {aval.shape}"))
    times = _known_value(t)
    if times is not None and not np.all(np.diff(times) > 0):
        raise user_error(ValueError(f"odeint: the times t must be strictly increasing, got {times}"))
    return t


def _known_value(x: Any) -> np.ndarray | None:
    """``x``'s value as a NumPy array when it is known (outside jit), else None."""
    while isinstance(x, Tracer):
        x = x.val
        if x is None:
            return None
    return x if isinstance(x, (np.ndarray, np.generic)) else current_backend().to_numpy(x)


def _state_leaf(x: Any, t_dtype: Any) -> Array:
    """A leaf of ``y0`` as an array; integers and booleans become floats of ``t``'s dtype."""
    x = x if isinstance(x, Tracer) else fnp.asarray(x)
    if not _is_inexact(x):
        x = lax.convert_element_type(x, t_dtype)
    return x


def odeint(func: Callable, y0: Any, t: Array, *args: Any, rtol: float = 1.4e-8, atol: float = 1.4e-8,
           mxstep: float = np.inf, hmax: float = np.inf) -> Any:
    """Solve ``dy/dt = func(y, t, *args)`` from ``y(t[0]) = y0``; the states at the times ``t``.

    As ``jax.experimental.ode.odeint``: ``y0`` is an array or a pytree of arrays, ``func``
    returns ``dy/dt`` with the same structure, ``t`` is a 1-D float array of strictly increasing
    times, and the result has ``y0``'s structure with a leading axis of length ``len(t)`` (its
    first row is ``y0``). Adaptive Dormand-Prince 5(4) with relative and absolute tolerances
    ``rtol``, ``atol``; at most ``mxstep`` steps between consecutive output times and steps no
    longer than ``hmax``. Note the argument order of ``func``: ``(y, t)``, as in
    ``scipy.integrate.odeint``, not ``solve_ivp``'s ``(t, y)``.

    ``grad``/``vjp``/``jacrev`` (with respect to ``y0``, ``t``, ``args`` and whatever ``func``
    closes over) use the adjoint method; ``jvp``/``jacfwd`` raise, as in JAX. Works under
    ``jit`` and ``vmap``.

    Where the solver cannot reach an output time within ``mxstep`` steps (or its step size
    underflows), the state at that time is ``nan`` (JAX returns an extrapolated, wrong value).

    >>> ts = fnp.linspace(0.0, 1.0, 5)
    >>> odeint(lambda y, t, k: -k * y, 1.0, ts, 2.0)     # exp(-2 t) at the five times
    """
    for leaf in tree_flatten(args)[0]:
        if not isinstance(leaf, (Tracer, np.ndarray, np.generic, int, float, complex, bool)) and not hasattr(
                leaf, "__array__"):
            raise user_error(TypeError(f"odeint: the *args must be arrays or scalars (pytrees of them), got "
                                       f"{type(leaf).__name__} {leaf!r}"))
    if not (np.isinf(mxstep) or float(mxstep) == int(mxstep)) or mxstep < 0:
        raise user_error(ValueError(f"odeint: mxstep must be a non-negative integer or inf, got {mxstep!r}"))
    ts = _check_times(t)
    t_dtype = get_aval(ts).dtype
    leaves, y_tree = tree_flatten(y0)
    if not leaves:
        raise user_error(ValueError("odeint: y0 has no arrays"))
    leaves = [_state_leaf(x, t_dtype) for x in leaves]
    y_avals = [ShapedArray(get_aval(x).shape, get_aval(x).dtype) for x in leaves]
    dtype = np.result_type(*[a.dtype for a in y_avals])
    y_flat = _ravel(leaves, dtype)
    dyn, hoisted, arg_leaves = _trace_dynamics(func, y_tree, y_avals, get_aval(y_flat).with_weak_type(False),
                                               ShapedArray((), t_dtype), args)
    ys = _solve_vjp(dyn, float(rtol), float(atol), mxstep if np.isinf(mxstep) else int(mxstep), hmax, y_flat,
                    ts, (*hoisted, *arg_leaves))
    return _Unravel(y_tree, y_avals)(ys, (get_aval(ts).shape[0],))
