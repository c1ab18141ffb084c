"""functrace.optim against optax's formulas: hand-written NumPy references, recorded optax runs, schedules.

The NumPy references below restate optax's update rules (bias correction, where ``eps`` goes,
Nesterov, the order of scaling, weight decay and momentum in each alias) on one flat vector of
all the parameters. ``fixtures/optax_trajectories.json`` holds optax's own trajectories for the
same configurations (tests/optim_cases.py), recorded with optax 0.2.8 and JAX 0.10.2 by
``fixtures/record_optax_trajectories.py``; neither is needed to run these tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from helpers import host
from optim_cases import NUM_STEPS, OPTIMISERS, SCHEDULE_STEPS, SCHEDULES

import functrace as ft
import functrace.numpy as fnp
from functrace import optim
from functrace.tree_util import tree_leaves, tree_map

# JAX divides an int32 step count in float32 even with jax_enable_x64, so optax's float64 runs
# carry float32-rounded schedule values; the float64 closed forms and references are the strict check.
OPTAX_SCHEDULE_RTOL = 3e-7
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "optax_trajectories.json").read_text())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def tree_of(d: dict, dtype: Any) -> dict:
    return {k: np.asarray(v, dtype=dtype) for k, v in d.items()}


def flat(tree: Any) -> np.ndarray:
    """All leaves as one float64 vector, in tree_leaves order (b, then w)."""
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in tree_leaves(host(tree))])


def run(opt: optim.GradientTransformation, params: dict, grads: list[dict]) -> list[Any]:
    """The parameters after each update, eagerly."""
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update(g, state, params)
        params = optim.apply_updates(params, updates)
        out.append(params)
    return out


# --- NumPy references of optax's formulas, on the flat vector -----------------------------

def const(v: float) -> Callable[[int], float]:
    return lambda k: v


def ref_sgd(p, gs, lr, momentum=None, nesterov=False):
    tr, out = 0.0, []
    for k, g in enumerate(gs):
        if momentum is None:
            u = g
        else:
            tr = g + momentum * tr
            u = g + momentum * tr if nesterov else tr
        p = p - lr(k) * u
        out.append(p)
    return out


def ref_adam(p, gs, lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False, wd=None, mask=1.0):
    m = v = 0.0
    out = []
    for k, g in enumerate(gs):
        t = k + 1
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * g * g + b2 * v
        if nesterov:
            m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1 ** t)
        else:
            m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        u = m_hat / (np.sqrt(v_hat + eps_root) + eps)
        if wd is not None:
            u = u + wd(k) * p * mask
        p = p - lr(k) * u
        out.append(p)
    return out


def ref_rmsprop(p, gs, lr, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False,
                momentum=None, nesterov=False, bias_correction=False):
    nu, mu, tr, out = initial_scale, 0.0, 0.0, []
    for k, g in enumerate(gs):
        t = k + 1
        nu = (1 - decay) * g * g + decay * nu
        mu = (1 - decay) * g + decay * mu
        nu_hat = nu / (1 - decay ** t) if bias_correction else nu
        mu_hat = mu / (1 - decay ** t) if bias_correction else mu
        ms = nu_hat - mu_hat ** 2 if centered else nu_hat
        scale = 1 / np.sqrt(ms + eps) if eps_in_sqrt else 1 / (np.sqrt(ms) + eps)
        u = -lr(k) * scale * g  # the learning rate comes before the momentum in optax's rmsprop
        if momentum is not None:
            tr = u + momentum * tr
            u = u + momentum * tr if nesterov else tr
        p = p + u
        out.append(p)
    return out


def ref_adagrad(p, gs, lr, initial_accumulator_value=0.1, eps=1e-7):
    acc, out = initial_accumulator_value, []
    for k, g in enumerate(gs):
        acc = acc + g * g
        with np.errstate(divide="ignore"):
            p = p - lr(k) * np.where(acc > 0, 1 / np.sqrt(acc + eps), 0.0) * g
        out.append(p)
    return out


def clipped(gs, max_norm):
    return [g if np.linalg.norm(g) < max_norm else g / np.linalg.norm(g) * max_norm for g in gs]


def cosine(init, steps, alpha, k, exponent=1.0):
    return init * ((1 - alpha) * (0.5 * (1 + math.cos(math.pi * min(k, steps) / steps))) ** exponent + alpha)


MASK_W = np.array([0.0] * 3 + [1.0] * 6)  # mask={"b": False, "w": True} on the vector (b, w)

REFERENCES: dict[str, Callable] = {
    "sgd": lambda p, gs: ref_sgd(p, gs, const(0.1)),
    "sgd_momentum": lambda p, gs: ref_sgd(p, gs, const(0.1), momentum=0.9),
    "sgd_nesterov": lambda p, gs: ref_sgd(p, gs, const(0.1), momentum=0.9, nesterov=True),
    "sgd_staircase": lambda p, gs: ref_sgd(p, gs, lambda k: 0.1 * 0.5 ** (k // 2), momentum=0.5),
    "adam": lambda p, gs: ref_adam(p, gs, const(0.05)),
    "adam_hyper": lambda p, gs: ref_adam(p, gs, const(0.05), b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-6),
    "nadam": lambda p, gs: ref_adam(p, gs, const(0.05), nesterov=True),
    "adam_cosine": lambda p, gs: ref_adam(p, gs, lambda k: cosine(0.1, 5, 0.1, k)),
    "adamw": lambda p, gs: ref_adam(p, gs, const(0.05), wd=const(0.1)),
    "adamw_mask": lambda p, gs: ref_adam(p, gs, const(0.05), wd=const(0.1), mask=MASK_W),
    "adamw_schedules": lambda p, gs: ref_adam(
        p, gs, lambda k: 0.1 * k / 2 if k < 2 else cosine(0.1, 4, 0.1, k - 2), wd=lambda k: 0.2 * 0.5 ** k),
    "rmsprop": lambda p, gs: ref_rmsprop(p, gs, const(0.01)),
    "rmsprop_centered": lambda p, gs: ref_rmsprop(p, gs, const(0.01), centered=True),
    "rmsprop_nesterov": lambda p, gs: ref_rmsprop(p, gs, const(0.01), momentum=0.9, nesterov=True),
    "rmsprop_eps_outside": lambda p, gs: ref_rmsprop(p, gs, const(0.01), eps=1e-3, eps_in_sqrt=False,
                                                     bias_correction=True),
    "rmsprop_all": lambda p, gs: ref_rmsprop(p, gs, const(0.01), decay=0.8, initial_scale=0.1, centered=True,
                                             momentum=0.5, bias_correction=True),
    "adagrad": lambda p, gs: ref_adagrad(p, gs, const(0.1)),
    "adagrad_zero_start": lambda p, gs: ref_adagrad(p, gs, const(0.1), initial_accumulator_value=0.0, eps=1e-3),
    "clip_sgd": lambda p, gs: ref_sgd(p, clipped(gs, 0.5), const(0.1)),
    "clip_loose_adam": lambda p, gs: ref_adam(p, clipped(gs, 100.0), const(0.05)),
}


SCHEDULED = {"sgd_staircase", "adam_cosine", "adamw_schedules"}


def test_every_case_has_a_reference():
    assert set(REFERENCES) == set(OPTIMISERS) == set(FIXTURE["float32"]) == set(FIXTURE["float64"])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_optimiser_matches_numpy_reference_and_optax(name, dtype):
    params = tree_of(FIXTURE["params"], dtype)
    grads = [tree_of(g, dtype) for g in FIXTURE["grads"]]
    got = run(OPTIMISERS[name](optim), params, grads)
    want = REFERENCES[name](flat(params), [flat(g) for g in grads])
    optax_run = [flat(tree_of(p, np.float64)) for p in FIXTURE[np.dtype(dtype).name][name]]
    assert len(got) == len(want) == len(optax_run) == NUM_STEPS
    for step, (p, w, o) in enumerate(zip(got, want, optax_run, strict=True)):
        assert {k: np.asarray(v).dtype for k, v in host(p).items()} == {"b": dtype, "w": dtype}
        np.testing.assert_allclose(flat(p), w, **TOL[dtype], err_msg=f"{name}, step {step + 1}: NumPy reference")
        tol = TOL[dtype] if dtype == np.float32 or name not in SCHEDULED else dict(rtol=OPTAX_SCHEDULE_RTOL, atol=1e-8)
        np.testing.assert_allclose(flat(p), o, **tol, err_msg=f"{name}, step {step + 1}: optax")


# --- schedules ------------------------------------------------------------------------------

CLOSED_FORMS: dict[str, Callable[[int], float]] = {
    "constant": lambda k: 0.3,
    "exponential": lambda k: 0.5 ** (k / 10),
    "exponential_staircase_begin": lambda k: 2.0 if k <= 3 else 2.0 * 0.5 ** ((k - 3) // 4),
    "exponential_end_value": lambda k: max(0.1 ** (k / 5), 0.05),
    "exponential_growth_capped": lambda k: min(0.1 * 2.0 ** (k / 5), 0.5),
    "cosine": lambda k: cosine(1.0, 20, 0.0, k),
    "cosine_alpha_exponent": lambda k: cosine(0.5, 10, 0.2, k, exponent=2.0),
    "warmup_cosine": lambda k: k / 5 if k < 5 else cosine(1.0, 20, 0.1, k - 5),
    "warmup_cosine_exponent": lambda k: 0.1 + 1.9 * k / 3 if k < 3 else cosine(2.0, 10, 0.0, k - 3, exponent=0.5),
    "linear": lambda k: 1.0 - min(max(k - 2, 0), 8) / 8,
    "polynomial": lambda k: 0.9 * (1 - min(k, 10) / 10) ** 2 + 0.1,
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_closed_form_and_optax(name):
    s = SCHEDULES[name](optim)
    want = [CLOSED_FORMS[name](k) for k in SCHEDULE_STEPS]
    for count in (lambda k: k, lambda k: np.int32(k), lambda k: fnp.asarray(np.int32(k))):
        got = [float(np.asarray(ft.device_get(s(count(k))))) for k in SCHEDULE_STEPS]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(want, FIXTURE["schedules"][name], rtol=OPTAX_SCHEDULE_RTOL, atol=1e-15,
                               err_msg=f"{name}: optax")


@pytest.mark.parametrize("name", ["exponential_staircase_begin", "warmup_cosine", "cosine_alpha_exponent", "linear"])
def test_schedule_of_a_traced_count(name):
    s = SCHEDULES[name](optim)
    values = ft.jit(s)
    for k in SCHEDULE_STEPS:
        assert float(np.asarray(ft.device_get(values(np.int32(k))))) == pytest.approx(CLOSED_FORMS[name](k), rel=1e-12)


def test_schedules_reject_what_optax_rejects():
    with pytest.raises(ValueError, match="positive decay_steps"):
        optim.cosine_decay_schedule(1.0, 0)
    with pytest.raises(ValueError, match="boundaries"):
        optim.join_schedules([optim.constant_schedule(1.0)] * 2, [1, 2])
    # optax's documented fallbacks: a constant schedule
    assert optim.exponential_decay(0.7, 0, 0.5)(10) == 0.7 and optim.exponential_decay(0.7, 5, 0.0)(10) == 0.7


# --- jit, backends, state ---------------------------------------------------------------------

def regression_problem(dtype: Any) -> tuple[dict, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(dtype)
    w_true = np.array([[1.5, -2.0], [0.5, 1.0], [-1.0, 0.25]], dtype)
    y = (x @ w_true + np.array([0.3, -0.7], dtype)).astype(dtype)
    params = {"w": np.zeros((3, 2), dtype), "b": np.zeros(2, dtype)}
    return params, x, y


def mse(params: dict, x: Any, y: Any) -> Any:
    return fnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def make_step(opt: optim.GradientTransformation) -> Callable:
    def step(params, state, x, y):
        loss, grads = ft.value_and_grad(mse)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    return step


JIT_CASES = {
    "adam_schedule": lambda: optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.1, 3, 20)),
    "adamw_mask": lambda: optim.adamw(0.05, weight_decay=0.1, mask=lambda p: {"b": False, "w": True}),
    "rmsprop_centered_momentum": lambda: optim.rmsprop(0.01, centered=True, momentum=0.9, bias_correction=True),
    "clip_sgd_nesterov": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1, 0.9, nesterov=True)),
    "adagrad": lambda: optim.adagrad(0.2),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(JIT_CASES))
def test_jit_step_equals_eager(name, dtype):
    opt = JIT_CASES[name]()
    params, x, y = regression_problem(dtype)
    step = make_step(opt)
    jstep = ft.jit(step)
    pe, se = params, opt.init(params)
    pj, sj = params, opt.init(params)
    for _ in range(6):
        pe, se, le = step(pe, se, x, y)
        pj, sj, lj = jstep(pj, sj, x, y)
        np.testing.assert_allclose(host(lj), host(le), **TOL[dtype])
    for a, b in zip(tree_leaves(host((pj, sj))), tree_leaves(host((pe, se))), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOL[dtype])
    assert all(np.asarray(v).dtype == dtype for v in tree_leaves(host(pj)))
    counts = [leaf for leaf in tree_leaves(host(sj)) if leaf.dtype.kind == "i"]
    assert all(c.dtype == np.int32 and c.shape == () and c == 6 for c in counts)
    assert len(jstep._cache) == 1, "the state's signature must not change between steps (one trace)"


@pytest.mark.parametrize("name,opt,steps", [
    ("adam", lambda: optim.adam(0.05), 400),
    ("sgd_momentum", lambda: optim.sgd(0.05, momentum=0.9), 300),
    ("rmsprop", lambda: optim.rmsprop(optim.exponential_decay(0.02, 100, 0.5)), 600),
])
def test_small_regression_converges(name, opt, steps):
    params, x, y = regression_problem(np.float64)
    o = opt()
    step = ft.jit(make_step(o))
    state = o.init(params)
    for _ in range(steps):
        params, state, loss = step(params, state, x, y)
    assert float(host(loss)) < 1e-4, name
    np.testing.assert_allclose(host(params)["w"], [[1.5, -2.0], [0.5, 1.0], [-1.0, 0.25]], atol=1e-2)
    np.testing.assert_allclose(host(params)["b"], [0.3, -0.7], atol=1e-2)


def test_updates_keep_each_parameters_dtype():
    """float32 and float64 leaves side by side; NumPy float64 hyperparameters do not widen float32."""
    params = {"a": np.ones((2, 2), np.float32), "b": np.ones(3, np.float64), "c": np.float32(2.0)}
    want = {"a": np.float32, "b": np.float64, "c": np.float32}
    grads = tree_map(lambda p: (p * 0.5).astype(p.dtype), params)
    opts = [optim.adam(np.float64(0.1), b1=np.float64(0.9)),
            optim.adamw(optim.cosine_decay_schedule(0.1, 10), weight_decay=optim.constant_schedule(np.float64(0.1))),
            optim.rmsprop(0.1, momentum=np.float64(0.5), centered=True),
            optim.chain(optim.clip_by_global_norm(np.float64(0.1)), optim.sgd(0.1, momentum=0.9)),
            optim.adagrad(optim.exponential_decay(0.1, 3, 0.5))]
    for opt in opts:
        state = opt.init(params)
        for _ in range(2):
            updates, state = opt.update(grads, state, params)
            assert {k: np.asarray(v).dtype for k, v in host(updates).items()} == want
            new = optim.apply_updates(params, updates)
            assert {k: np.asarray(v).dtype for k, v in host(new).items()} == want


def test_mu_dtype_sets_the_first_moments_dtype():
    """As in optax, the updates follow mu's wider dtype; apply_updates casts back to the parameter's."""
    params = {"w": np.ones(3, np.float32)}
    opt = optim.adam(0.1, mu_dtype=np.float64)
    state = opt.init(params)
    updates, state = opt.update({"w": np.full(3, 0.5, np.float32)}, state, params)
    adam_state = state[0]
    assert host(adam_state.mu)["w"].dtype == np.float64 and host(adam_state.nu)["w"].dtype == np.float32
    assert host(optim.apply_updates(params, updates))["w"].dtype == np.float32


def test_states_are_pytrees_of_arrays():
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(0.1, mask={"b": False, "w": True}))
    state = opt.init(params)
    leaves = tree_leaves(host(state))
    # adam's count, mu (2 leaves) and nu (2 leaves); the mask hides b from the weight decay
    assert len(leaves) == 5 and all(isinstance(v, np.ndarray) for v in leaves)
    assert isinstance(state[1][0], optim.ScaleByAdamState)
    zeros = tree_map(lambda v: v * 0, state)  # tree_map rebuilds the NamedTuples
    assert type(zeros[1][0]) is optim.ScaleByAdamState


def test_apply_updates_skips_none_and_returns_new_arrays():
    params = {"w": np.ones(3, np.float32), "frozen": None}
    new = optim.apply_updates(params, {"w": np.full(3, 0.5, np.float32), "frozen": None})
    assert new["frozen"] is None
    np.testing.assert_array_equal(host(new["w"]), np.full(3, 1.5, np.float32))
    np.testing.assert_array_equal(params["w"], np.ones(3, np.float32))


def test_clip_by_global_norm_of_zero_gradients_is_zero_and_differentiable():
    clip = optim.clip_by_global_norm(1.0)
    g = {"a": np.zeros(3), "b": np.zeros(2)}
    updates, _ = clip.update(g, clip.init(g))
    assert all(np.all(v == 0) for v in tree_leaves(host(updates)))

    def clipped_sum(a):
        u, _ = clip.update({"a": a}, optim.EmptyState())
        return fnp.sum(u["a"])

    for a, want in [(np.zeros(3), np.ones(3)), (np.array([3.0, 4.0, 0.0]), None)]:
        grad = host(ft.grad(clipped_sum)(a))
        assert np.all(np.isfinite(grad))
        if want is not None:
            np.testing.assert_allclose(grad, want)
    ft.test_util.check_grads(clipped_sum, (np.array([3.0, 4.0, 1.0]),), order=1, modes=("fwd", "rev"))


def test_safe_increment_stops_at_int32_max():
    top = np.int32(np.iinfo(np.int32).max)
    assert int(host(optim.safe_increment(top))) == top
    assert int(host(optim.safe_increment(np.int32(41)))) == 42


def test_misuse_raises_clear_errors():
    params = {"w": np.ones(2)}
    opt = optim.adamw(0.1)
    with pytest.raises(ValueError, match="needs the parameters"):
        opt.update(params, opt.init(params))
    with pytest.raises(ValueError, match="expected the states of 3 transformations"):
        opt.update(params, optim.adam(0.1).init(params), params)
    with pytest.raises(ValueError, match="got ScaleByAdamState"):
        opt.update(params, optim.adam(0.1).init(params)[0], params)
    with pytest.raises(TypeError, match="scale_by_adam: expected a ScaleByAdamState .* got EmptyState"):
        optim.adam(0.1).update(params, optim.sgd(0.1).init(params))
    with pytest.raises(TypeError, match="scale_by_rms: expected a ScaleByRmsWithCountState"):
        optim.rmsprop(0.1, bias_correction=True).update(params, optim.rmsprop(0.1).init(params))
    bad = optim.adamw(0.1, mask={"w": True, "b": False})
    with pytest.raises(ValueError, match="masked: the mask has structure"):
        bad.init(params)


@pytest.mark.parametrize("make", [lambda: optim.adam(0.1), lambda: optim.rmsprop(0.1, centered=True),
                                  lambda: optim.adagrad(0.1), lambda: optim.clip_by_global_norm(1.0)])
def test_complex_parameters_are_refused_not_squared(make):
    """optax's second moments of complex values are |g|**2; g**2 would be a wrong answer, so it raises."""
    params = {"z": np.array([1 + 2j, 3 - 1j])}
    opt = make()
    with pytest.raises(ft.DTypeError, match="real parameters only: got a complex complex128 gradient"):
        opt.update(params, opt.init(params), params)


def test_ft_optim_is_exposed_lazily():
    assert ft.optim is optim and ft.flatten_util.ravel_pytree is not None
    assert "optim" in dir(ft) and "flatten_util" in dir(ft)
