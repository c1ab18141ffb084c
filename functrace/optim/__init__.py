"""Optimisers shaped like optax: gradient transformations, their chains, and learning-rate schedules.

A ``GradientTransformation`` is a pair of pure functions: ``init(params) -> state`` and
``update(grads, state, params=None) -> (updates, state)``; ``apply_updates(params, updates)``
adds the updates. States are NamedTuples of arrays (pytrees), so a whole training step with
the optimiser inside runs under ``ft.jit``. The names, defaults and formulas are optax's
(bias correction, where ``eps`` goes, Nesterov, the order of the pieces in each alias), so an
optax program ports by changing its import. Updates keep each parameter's dtype.

A learning rate (or a weight decay) may be a number or a schedule: a function of the step
count, which the state carries (an int32 scalar, incremented on every ``update``).

The types and pytree helpers are in ``_base``, the building blocks in ``_transforms``, the
schedules in ``_schedules``; this module holds the optimisers (optax's aliases) and the names.
"""

from __future__ import annotations

from typing import Any

from functrace.optim._base import (  # noqa: F401 -- re-exported
    EmptyState,
    GradientTransformation,
    ScalarOrSchedule,
    apply_updates,
    global_norm,
    safe_increment,
)
from functrace.optim._schedules import (  # noqa: F401 -- re-exported
    constant_schedule,
    cosine_decay_schedule,
    exponential_decay,
    join_schedules,
    linear_schedule,
    polynomial_schedule,
    warmup_cosine_decay_schedule,
)
from functrace.optim._transforms import (  # noqa: F401 -- re-exported
    AddDecayedWeightsState,
    MaskedNode,
    MaskedState,
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRmsWithCountState,
    ScaleByRssState,
    ScaleByRStdDevState,
    ScaleByRStdDevWithCountState,
    ScaleByScheduleState,
    TraceState,
    add_decayed_weights,
    chain,
    clip_by_global_norm,
    identity,
    masked,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    scale_by_stddev,
    trace,
)


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
