"""Optimisers shaped like optax: gradient transformations, their chains, and learning-rate schedules.

A ``GradientTransformation`` is a pair of pure functions: ``init(params) -> state`` and
``update(grads, state, params=None) -> (updates, state)``; ``apply_updates(params, updates)``
adds the updates. States are NamedTuples of arrays (pytrees), so a whole training step with
the optimiser inside runs under ``ft.jit``. The names, defaults and formulas are optax's
(bias correction, where ``eps`` goes, Nesterov, the order of the pieces in each alias), so an
optax program ports by changing its import. Updates keep each parameter's dtype.

A learning rate (or a weight decay) may be a number or a schedule: a function of the step
count, which the state carries (an int32 scalar, incremented on every ``update``).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import numpy as np

import functrace.numpy as fnp
from functrace.errors import DTypeError
from functrace.tracing import get_aval, located, user_error
from functrace.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten

Schedule = Callable[[Any], Any]
ScalarOrSchedule = Union[float, Schedule]

_INT32_MAX = int(np.iinfo(np.int32).max)


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none (a pytree with no leaves)."""


def _dtype(x: Any) -> np.dtype:
    return get_aval(x).dtype


def _scalar(x: Any) -> Any:
    """A hyperparameter given as a NumPy scalar becomes a Python number, so that, like the Python
    number it stands for, it does not widen float32 parameters to float64."""
    if isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return x.item()
    return x


def _check_state(state: Any, expected: type | tuple[type, ...], who: str) -> None:
    """A state from another optimiser (or another place in a chain) is a clear error, not an AttributeError."""
    if not isinstance(state, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise user_error(TypeError(f"{who}: expected a {names} (from this transformation's init), "
                                   f"got {type(state).__name__}; pass the state that this optimiser's init returned"))


def _native(tree: Any) -> Any:
    """The leaves as arrays of the active backend (NumPy gradients meet torch states otherwise)."""
    return tree_map(fnp.asarray, tree)


def _zero_count() -> Any:
    return fnp.zeros((), dtype=np.int32)


def safe_increment(count: Any) -> Any:
    """``count + 1`` that stops at int32's maximum instead of wrapping round to a negative step."""
    return fnp.minimum(count, _INT32_MAX - 1) + 1


def _zeros_like(tree: Any, dtype: Any = None) -> Any:
    return tree_map(lambda p: fnp.zeros_like(p, dtype=dtype), tree)


def _cast(tree: Any, dtype: Any) -> Any:
    return tree if dtype is None else tree_map(lambda t: fnp.astype(t, dtype), tree)


def _bias_correction(moment: Any, decay: float, count: Any) -> Any:
    """``moment / (1 - decay**count)``; the power is taken in float64 (a float32 ``decay**count`` can
    round to 1 and divide by zero), the division in the moment's own dtype."""
    correction = 1 - fnp.power(decay, count)
    return tree_map(lambda t: t / fnp.astype(correction, _dtype(t)), moment)


def _square(x: Any) -> Any:
    """``x**2`` of a real array. optax squares complex values as ``|x|**2``; until functrace.numpy
    has ``conj``/``real`` (the complex-numbers issue), a complex leaf is refused rather than
    given ``x**2``, which is the wrong moment."""
    if _dtype(x).kind == "c":
        raise located(DTypeError(f"functrace.optim supports real parameters only: got a complex {_dtype(x).name} "
                                 "gradient; optimise its real and imaginary parts as two real leaves"))
    return fnp.square(x)


def _ema(values: Any, moment: Any, decay: float) -> Any:
    """The exponential moving average ``(1 - decay) * values + decay * moment``, leafwise."""
    return tree_map(lambda v, t: (1 - decay) * v + decay * t, values, moment)


def global_norm(updates: Any) -> Any:
    """The 2-norm of all the leaves together, as one vector.

    Its derivative at zero is zero rather than optax's nan (sqrt's infinite slope times 0): the
    square root only sees a positive sum, so a meta-gradient through clipping stays finite.
    """
    sq = sum(fnp.sum(_square(x)) for x in tree_leaves(updates))
    positive = sq > 0
    return fnp.where(positive, fnp.sqrt(fnp.where(positive, sq, 1)), 0)


def apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` leafwise, each result in its parameter's dtype (``None`` leaves stay)."""
    return tree_map(lambda p, u: fnp.astype(fnp.add(p, u), _dtype(p)), params, updates)


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


# --- optimisers (optax's aliases) ---------------------------------------------------------

def sgd(learning_rate: ScalarOrSchedule, momentum: float | None = None, nesterov: bool = False,
        accumulator_dtype: Any = None) -> GradientTransformation:
    """Stochastic gradient descent, with (Nesterov) momentum if ``momentum`` is given."""
    first = identity() if momentum is None else trace(momentum, nesterov, accumulator_dtype)
    return chain(first, scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         eps_root: float = 0.0, mu_dtype: Any = None, *, nesterov: bool = False) -> GradientTransformation:
    """Adam (Kingma and Ba, 2014); ``nesterov=True`` gives NAdam."""
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, mu_dtype: Any = None, weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None, *,
          nesterov: bool = False) -> GradientTransformation:
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019): the decay is added after Adam's
    scaling and before the learning rate; ``mask`` limits it to some parameters."""
    return chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
            eps_in_sqrt: bool = True, centered: bool = False, momentum: float | None = None,
            nesterov: bool = False, bias_correction: bool = False) -> GradientTransformation:
    """RMSProp (Tieleman and Hinton, 2012); ``centered`` divides by a standard deviation instead of
    a root mean square. Momentum, if any, acts after the learning rate, as in optax."""
    scaling = scale_by_stddev if centered else scale_by_rms
    return chain(scaling(decay, eps, initial_scale, eps_in_sqrt, bias_correction),
                 scale_by_learning_rate(learning_rate),
                 identity() if momentum is None else trace(momentum, nesterov))


def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GradientTransformation:
    """Adagrad (Duchi et al., 2011): per-coordinate steps shrinking with the sum of squared gradients."""
    return chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate))


# --- schedules: functions of the step count (a Python int or an int32 scalar) ------------------

def constant_schedule(value: float) -> Schedule:
    """``value`` at every step."""
    return lambda count: value


def polynomial_schedule(init_value: float, end_value: float, power: float, transition_steps: int,
                        transition_begin: int = 0) -> Schedule:
    """From ``init_value`` to ``end_value`` over ``transition_steps`` steps along ``(1 - t/T)**power``."""
    if transition_steps <= 0:
        return lambda count: init_value
    transition_begin = max(transition_begin, 0)

    def schedule(count: Any) -> Any:
        count = fnp.clip(fnp.subtract(count, transition_begin), 0, transition_steps)
        frac = 1 - fnp.true_divide(count, transition_steps)
        return (init_value - end_value) * fnp.power(frac, power) + end_value

    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """A straight line from ``init_value`` to ``end_value`` over ``transition_steps`` steps."""
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0,
                      staircase: bool = False, end_value: float | None = None) -> Schedule:
    """``init_value * decay_rate ** ((count - transition_begin) / transition_steps)``, constant before
    ``transition_begin``; ``staircase`` floors the exponent; ``end_value`` bounds the decay.

    As in optax, ``transition_steps <= 0`` or ``decay_rate == 0`` gives the constant ``init_value``.
    """
    if transition_steps <= 0 or decay_rate == 0:
        return lambda count: init_value
    transition_begin = max(transition_begin, 0)
    bound = fnp.maximum if decay_rate < 1.0 else fnp.minimum

    def schedule(count: Any) -> Any:
        steps = fnp.subtract(count, transition_begin)
        p = fnp.true_divide(steps, transition_steps)
        if staircase:
            p = fnp.floor(p)
        value = fnp.where(steps <= 0, init_value, init_value * fnp.power(decay_rate, p))
        return value if end_value is None else bound(value, end_value)

    return schedule


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0) -> Schedule:
    """Half a cosine from ``init_value`` down to ``alpha * init_value`` over ``decay_steps``, then flat:
    ``init_value * ((1 - alpha) * (0.5 * (1 + cos(pi * t / decay_steps)))**exponent + alpha)``."""
    if not decay_steps > 0:
        raise ValueError(f"cosine_decay_schedule needs a positive decay_steps, got {decay_steps}")

    def schedule(count: Any) -> Any:
        t = fnp.minimum(count, float(decay_steps))  # a float, so a large int count cannot overflow
        cosine = 0.5 * (1 + fnp.cos(np.pi * fnp.true_divide(t, float(decay_steps))))
        return init_value * ((1 - alpha) * fnp.power(cosine, exponent) + alpha)

    return schedule


def join_schedules(schedules: list[Schedule], boundaries: list[int]) -> Schedule:
    """``schedules[i]`` from ``boundaries[i-1]`` on, each counting steps from its own boundary."""
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join_schedules: {len(schedules)} schedules need {len(schedules) - 1} boundaries, "
                         f"got {len(boundaries)}")

    def schedule(count: Any) -> Any:
        out = schedules[0](count)
        for boundary, s in zip(boundaries, schedules[1:], strict=True):
            out = fnp.where(fnp.less(count, boundary), out, s(fnp.subtract(count, boundary)))
        return out

    return schedule


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                                 end_value: float = 0.0, exponent: float = 1.0) -> Schedule:
    """A linear warm-up from ``init_value`` to ``peak_value`` over ``warmup_steps``, then a cosine decay
    to ``end_value`` at step ``decay_steps`` (which counts the warm-up)."""
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent)],
                          [warmup_steps])


__all__ = [
    "GradientTransformation", "EmptyState", "apply_updates", "global_norm", "safe_increment", "identity", "chain",
    "scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "scale_by_adam", "scale_by_rss",
    "scale_by_rms", "scale_by_stddev", "clip_by_global_norm", "masked", "MaskedNode", "add_decayed_weights",
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "constant_schedule", "polynomial_schedule", "linear_schedule",
    "exponential_decay", "cosine_decay_schedule", "join_schedules", "warmup_cosine_decay_schedule",
    "ScaleByScheduleState", "TraceState", "ScaleByAdamState", "ScaleByRssState", "ScaleByRmsState",
    "ScaleByRmsWithCountState", "ScaleByRStdDevState", "ScaleByRStdDevWithCountState", "MaskedState",
    "AddDecayedWeightsState",
]
