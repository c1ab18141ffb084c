"""The building blocks of ``functrace.optim``, as optax's: ``chain``, ``scale``, ``trace``,
``scale_by_adam``, ``scale_by_rms``, ``clip_by_global_norm``, ``masked``, ``add_decayed_weights``, ..."""

from __future__ import annotations

from typing import Any, NamedTuple

import functrace.numpy as fnp
from functrace.optim._base import (
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    Schedule,
    _bias_correction,
    _cast,
    _check_state,
    _dtype,
    _ema,
    _native,
    _scalar,
    _square,
    _zero_count,
    _zeros_like,
    global_norm,
    safe_increment,
)
from functrace.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten

# --- building blocks ------------------------------------------------------------------------

def identity() -> GradientTransformation:
    """Passes the updates through unchanged."""
    return GradientTransformation(lambda params: EmptyState(), lambda updates, state, params=None: (updates, state))


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states."""

    def init(params: Any) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Any, state: tuple, params: Any = None) -> tuple[Any, tuple]:
        if type(state) is not tuple or len(state) != len(transforms):
            got = f"a tuple of {len(state)}" if type(state) is tuple else type(state).__name__
            raise ValueError(f"chain: expected the states of {len(transforms)} transformations (from this chain's "
                             f"init), got {got}")
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def scale(step_size: float) -> GradientTransformation:
    """Multiply the updates by a constant."""
    step_size = _scalar(step_size)

    def update(updates: Any, state: EmptyState, params: Any = None):
        return tree_map(lambda g: step_size * g, _native(updates)), state

    return GradientTransformation(lambda params: EmptyState(), update)


class ScaleByScheduleState(NamedTuple):
    count: Any  # int32 scalar: the number of updates so far


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by ``step_size_fn(count)``, cast to each update's dtype."""

    def init(params: Any) -> ScaleByScheduleState:
        return ScaleByScheduleState(count=_zero_count())

    def update(updates: Any, state: ScaleByScheduleState, params: Any = None):
        _check_state(state, ScaleByScheduleState, "scale_by_schedule")
        updates = _native(updates)
        step = step_size_fn(state.count)
        updates = tree_map(lambda g: fnp.astype(step, _dtype(g)) * g, updates)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *, flip_sign: bool = True) -> GradientTransformation:
    """Multiply by ``-learning_rate`` (descent), a number or a schedule of the step count."""
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    return scale(m * _scalar(learning_rate))


class TraceState(NamedTuple):
    trace: Any


def trace(decay: float, nesterov: bool = False, accumulator_dtype: Any = None) -> GradientTransformation:
    """Momentum: ``trace = g + decay * trace``; the update is the trace, or ``g + decay * trace`` (Nesterov)."""
    decay = _scalar(decay)

    def init(params: Any) -> TraceState:
        return TraceState(trace=_zeros_like(params, accumulator_dtype))

    def update(updates: Any, state: TraceState, params: Any = None):
        _check_state(state, TraceState, "trace")
        updates = _native(updates)
        new_trace = tree_map(lambda g, t: g + decay * t, updates, state.trace)
        updates = tree_map(lambda g, t: g + decay * t, updates, new_trace) if nesterov else new_trace
        return updates, TraceState(trace=_cast(new_trace, accumulator_dtype))

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                  mu_dtype: Any = None, *, nesterov: bool = False) -> GradientTransformation:
    """Adam's direction ``m_hat / (sqrt(v_hat + eps_root) + eps)`` from bias-corrected moving moments."""
    b1, b2, eps, eps_root = map(_scalar, (b1, b2, eps, eps_root))

    def init(params: Any) -> ScaleByAdamState:
        return ScaleByAdamState(count=_zero_count(), mu=_zeros_like(params, mu_dtype), nu=_zeros_like(params))

    def update(updates: Any, state: ScaleByAdamState, params: Any = None):
        _check_state(state, ScaleByAdamState, "scale_by_adam")
        updates = _native(updates)
        mu = _ema(updates, state.mu, b1)
        nu = _ema(tree_map(_square, updates), state.nu, b2)
        count = safe_increment(state.count)
        if nesterov:  # NAdam (Dozat 2016): look one step ahead along the momentum
            mu_hat = tree_map(lambda m, g: b1 * m + (1 - b1) * g, _bias_correction(mu, b1, safe_increment(count)),
                              _bias_correction(updates, b1, count))
        else:
            mu_hat = _bias_correction(mu, b1, count)
        nu_hat = _bias_correction(nu, b2, count)
        updates = tree_map(lambda m, v: m / (fnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        nu = tree_map(lambda n, old: fnp.astype(n, _dtype(old)), nu, state.nu)
        return updates, ScaleByAdamState(count=count, mu=_cast(mu, mu_dtype), nu=nu)

    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> GradientTransformation:
    """Adagrad's scaling: divide by the root of the sum of all squared gradients so far."""
    initial_accumulator_value, eps = _scalar(initial_accumulator_value), _scalar(eps)

    def init(params: Any) -> ScaleByRssState:
        return ScaleByRssState(sum_of_squares=tree_map(lambda p: fnp.full_like(p, initial_accumulator_value), params))

    def update(updates: Any, state: ScaleByRssState, params: Any = None):
        _check_state(state, ScaleByRssState, "scale_by_rss")
        updates = _native(updates)
        sos = tree_map(lambda g, t: _square(g) + t, updates, state.sum_of_squares)
        updates = tree_map(lambda t, g: fnp.where(t > 0, 1 / fnp.sqrt(t + eps), 0.0) * g, sos, updates)
        return updates, ScaleByRssState(sum_of_squares=sos)

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    nu: Any


class ScaleByRmsWithCountState(NamedTuple):
    count: Any
    nu: Any


class ScaleByRStdDevState(NamedTuple):
    mu: Any
    nu: Any


class ScaleByRStdDevWithCountState(NamedTuple):
    count: Any
    mu: Any
    nu: Any


def _rms_scaling(mean_sq: Any, eps: float, eps_in_sqrt: bool) -> Any:
    return 1 / fnp.sqrt(mean_sq + eps) if eps_in_sqrt else 1 / (fnp.sqrt(mean_sq) + eps)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0, eps_in_sqrt: bool = True,
                 bias_correction: bool = False) -> GradientTransformation:
    """RMSProp's scaling: divide by the root of a moving average of squared gradients."""
    decay, eps, initial_scale = map(_scalar, (decay, eps, initial_scale))

    def init(params: Any):
        nu = tree_map(lambda p: fnp.full_like(p, initial_scale), params)
        return ScaleByRmsWithCountState(count=_zero_count(), nu=nu) if bias_correction else ScaleByRmsState(nu=nu)

    def update(updates: Any, state: Any, params: Any = None):
        _check_state(state, ScaleByRmsWithCountState if bias_correction else ScaleByRmsState, "scale_by_rms")
        updates = _native(updates)
        nu = _ema(tree_map(_square, updates), state.nu, decay)
        if bias_correction:
            count = safe_increment(state.count)
            nu_hat = _bias_correction(nu, decay, count)
        else:
            nu_hat = nu
        updates = tree_map(lambda n, g: _rms_scaling(n, eps, eps_in_sqrt) * g, nu_hat, updates)
        return updates, (ScaleByRmsWithCountState(count, nu) if bias_correction else ScaleByRmsState(nu))

    return GradientTransformation(init, update)


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0, eps_in_sqrt: bool = True,
                    bias_correction: bool = False) -> GradientTransformation:
    """Centred RMSProp's scaling: divide by a moving estimate of the gradients' standard deviation."""
    decay, eps, initial_scale = map(_scalar, (decay, eps, initial_scale))

    def init(params: Any):
        mu, nu = _zeros_like(params), tree_map(lambda p: fnp.full_like(p, initial_scale), params)
        if bias_correction:
            return ScaleByRStdDevWithCountState(count=_zero_count(), mu=mu, nu=nu)
        return ScaleByRStdDevState(mu=mu, nu=nu)

    def update(updates: Any, state: Any, params: Any = None):
        _check_state(state, ScaleByRStdDevWithCountState if bias_correction else ScaleByRStdDevState,
                     "scale_by_stddev")
        updates = _native(updates)
        mu = _ema(updates, state.mu, decay)
        nu = _ema(tree_map(_square, updates), state.nu, decay)
        if bias_correction:
            count = safe_increment(state.count)
            mu_hat, nu_hat = _bias_correction(mu, decay, count), _bias_correction(nu, decay, count)
        else:
            mu_hat, nu_hat = mu, nu
        updates = tree_map(lambda m, n, g: _rms_scaling(n - _square(m), eps, eps_in_sqrt) * g,
                           mu_hat, nu_hat, updates)
        if bias_correction:
            return updates, ScaleByRStdDevWithCountState(count, mu, nu)
        return updates, ScaleByRStdDevState(mu, nu)

    return GradientTransformation(init, update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates by ``max_norm / global_norm`` when their global norm exceeds ``max_norm``."""
    max_norm = _scalar(max_norm)

    def update(updates: Any, state: EmptyState, params: Any = None):
        updates = _native(updates)
        g_norm = global_norm(updates)
        keep = g_norm < max_norm
        # The unselected branch divides by 1 where the updates are kept, so a zero norm gives
        # no 0/0 (whose nan would reach the derivative of the select).
        divisor = fnp.where(keep, 1.0, g_norm)
        updates = tree_map(lambda t: fnp.where(keep, t, (t / fnp.astype(divisor, _dtype(t))) * max_norm), updates)
        return updates, state

    return GradientTransformation(lambda params: EmptyState(), update)


class MaskedState(NamedTuple):
    inner_state: Any


class MaskedNode(NamedTuple):
    """Stands in for a leaf that a mask hides from the inner transformation (a pytree with no leaves)."""


def masked(inner: GradientTransformation, mask: Any) -> GradientTransformation:
    """Apply ``inner`` only to the leaves where ``mask`` is true; the others pass through unchanged.

    ``mask`` is a tree of bools with the parameters' structure, or a function of the
    parameters (or updates) that returns one.
    """

    def mask_bools(tree: Any) -> list[bool]:
        m = mask(tree) if callable(mask) else mask
        bools, mdef = tree_flatten(m)
        tdef = tree_flatten(tree)[1]
        if mdef != tdef:
            raise ValueError(f"masked: the mask has structure {mdef}, the parameters {tdef}; give one bool per "
                             "parameter leaf, or a function of the parameters that returns such a tree")
        return [bool(b) for b in bools]

    def hide(tree: Any, bools: list[bool]) -> Any:
        leaves, tdef = tree_flatten(tree)
        return tree_unflatten(tdef, [x if b else MaskedNode() for x, b in zip(leaves, bools, strict=True)])

    def init(params: Any) -> MaskedState:
        return MaskedState(inner_state=inner.init(hide(params, mask_bools(params))))

    def update(updates: Any, state: MaskedState, params: Any = None):
        _check_state(state, MaskedState, "masked")
        bools = mask_bools(updates)
        new, inner_state = inner.update(hide(updates, bools), state.inner_state,
                                        None if params is None else hide(params, bools))
        new_leaves = iter(tree_leaves(new))
        old_leaves, tdef = tree_flatten(updates)
        out = [next(new_leaves) if b else old for old, b in zip(old_leaves, bools, strict=True)]
        return tree_unflatten(tdef, out), MaskedState(inner_state=inner_state)

    return GradientTransformation(init, update)


class AddDecayedWeightsState(NamedTuple):
    count: Any


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0, mask: Any = None) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates (decoupled weight decay, as in AdamW)."""
    weight_decay = weight_decay if callable(weight_decay) else _scalar(weight_decay)

    def init(params: Any):
        return AddDecayedWeightsState(count=_zero_count()) if callable(weight_decay) else EmptyState()

    def update(updates: Any, state: Any, params: Any = None):
        _check_state(state, AddDecayedWeightsState if callable(weight_decay) else EmptyState, "add_decayed_weights")
        updates = _native(updates)
        if params is None:
            raise ValueError("add_decayed_weights (and adamw) needs the parameters: call "
                             "update(grads, state, params)")
        if not callable(weight_decay):
            if weight_decay == 0.0:
                return updates, state
            return tree_map(lambda g, p: g + weight_decay * p, updates, _native(params)), state
        s = weight_decay(state.count)  # cast to each parameter's dtype, as a Python number would be
        updates = tree_map(lambda g, p: g + fnp.astype(s, _dtype(p)) * p, updates, _native(params))
        return updates, AddDecayedWeightsState(count=safe_increment(state.count))

    t = GradientTransformation(init, update)
    return t if mask is None else masked(t, mask)
