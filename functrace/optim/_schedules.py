"""Learning-rate schedules as optax's: functions of the step count (a Python int or an int32
scalar) that return the rate."""

from __future__ import annotations

from typing import Any

import numpy as np

import functrace.numpy as fnp
from functrace.optim._base import Schedule

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
