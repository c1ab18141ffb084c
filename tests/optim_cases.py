"""The optimiser and schedule configurations that tests/test_optim.py checks against optax.

Each entry builds its object from a module ``M`` that is either ``functrace.optim`` or ``optax``
(the names and arguments are the same), so the fixture recorder
(tests/fixtures/record_optax_trajectories.py) and the test build identical configurations.
"""

from __future__ import annotations

from typing import Any, Callable

OPTIMISERS: dict[str, Callable[[Any], Any]] = {
    "sgd": lambda M: M.sgd(0.1),
    "sgd_momentum": lambda M: M.sgd(0.1, momentum=0.9),
    "sgd_nesterov": lambda M: M.sgd(0.1, momentum=0.9, nesterov=True),
    "sgd_staircase": lambda M: M.sgd(M.exponential_decay(0.1, 2, 0.5, staircase=True), momentum=0.5),
    "adam": lambda M: M.adam(0.05),
    "adam_hyper": lambda M: M.adam(0.05, b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-6),
    "nadam": lambda M: M.adam(0.05, nesterov=True),
    "adam_cosine": lambda M: M.adam(M.cosine_decay_schedule(0.1, 5, alpha=0.1)),
    "adamw": lambda M: M.adamw(0.05, weight_decay=0.1),
    "adamw_mask": lambda M: M.adamw(0.05, weight_decay=0.1, mask={"b": False, "w": True}),
    "adamw_schedules": lambda M: M.adamw(M.warmup_cosine_decay_schedule(0.0, 0.1, 2, 6, end_value=0.01),
                                         weight_decay=M.exponential_decay(0.2, 1, 0.5)),
    "rmsprop": lambda M: M.rmsprop(0.01),
    "rmsprop_centered": lambda M: M.rmsprop(0.01, centered=True),
    "rmsprop_nesterov": lambda M: M.rmsprop(0.01, momentum=0.9, nesterov=True),
    "rmsprop_eps_outside": lambda M: M.rmsprop(0.01, eps=1e-3, eps_in_sqrt=False, bias_correction=True),
    "rmsprop_all": lambda M: M.rmsprop(0.01, decay=0.8, initial_scale=0.1, centered=True, momentum=0.5,
                                       bias_correction=True),
    "adagrad": lambda M: M.adagrad(0.1),
    "adagrad_zero_start": lambda M: M.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-3),
    "clip_sgd": lambda M: M.chain(M.clip_by_global_norm(0.5), M.sgd(0.1)),
    "clip_loose_adam": lambda M: M.chain(M.clip_by_global_norm(100.0), M.adam(0.05)),
}

SCHEDULES: dict[str, Callable[[Any], Any]] = {
    "constant": lambda M: M.constant_schedule(0.3),
    "exponential": lambda M: M.exponential_decay(1.0, 10, 0.5),
    "exponential_staircase_begin": lambda M: M.exponential_decay(2.0, 4, 0.5, transition_begin=3, staircase=True),
    "exponential_end_value": lambda M: M.exponential_decay(1.0, 5, 0.1, end_value=0.05),
    "exponential_growth_capped": lambda M: M.exponential_decay(0.1, 5, 2.0, end_value=0.5),
    "cosine": lambda M: M.cosine_decay_schedule(1.0, 20),
    "cosine_alpha_exponent": lambda M: M.cosine_decay_schedule(0.5, 10, alpha=0.2, exponent=2.0),
    "warmup_cosine": lambda M: M.warmup_cosine_decay_schedule(0.0, 1.0, 5, 25, end_value=0.1),
    "warmup_cosine_exponent": lambda M: M.warmup_cosine_decay_schedule(0.1, 2.0, 3, 13, exponent=0.5),
    "linear": lambda M: M.linear_schedule(1.0, 0.0, 8, transition_begin=2),
    "polynomial": lambda M: M.polynomial_schedule(1.0, 0.1, 2.0, 10),
}

SCHEDULE_STEPS = [0, 1, 2, 3, 4, 5, 7, 10, 13, 19, 20, 24, 25, 26, 40]
NUM_STEPS = 6
