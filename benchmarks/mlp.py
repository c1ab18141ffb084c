"""MLP training step: value_and_grad of the mean softmax cross-entropy of a 64→256→256→10 tanh
MLP on a batch of 256 of scikit-learn's bundled digits (float32).

The step is what an optimiser calls every iteration, so its time is the headline number for
"is functrace fast enough to train with". The parameters are a tuple of six arrays in every
framework; the result is ``(loss, grads)``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import baselines
from benchmarks.cases import autograd_case, functrace_cases, jax_cases, numpy_case, torch_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, timing_result

NAME = "mlp"
TITLE = "MLP training step: value_and_grad, 64→256→256→10 tanh, softmax cross-entropy, batch 256, float32"
SIZES = (64, 256, 256, 10)
BATCH = 256


@functools.lru_cache(maxsize=None)
def data(batch: int = BATCH) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """``(params, x, onehot)``: the first ``batch`` digits scaled to [0, 1], fixed random weights."""
    try:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, labels = digits.data[:batch] / 16.0, digits.target[:batch]
    except ImportError:  # scikit-learn is an optional extra: same shapes, synthetic pixels
        rng = np.random.default_rng(1)
        x, labels = rng.integers(0, 17, (batch, 64)) / 16.0, rng.integers(0, 10, batch)
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        params.append(rng.normal(0.0, fan_in ** -0.5, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.normal(0.0, 0.1, fan_out).astype(np.float32))
    onehot = np.eye(SIZES[-1], dtype=np.float32)[labels]
    return tuple(params), x.astype(np.float32), onehot


def make_loss(xp: Any, log_softmax: Any) -> Any:
    """The loss written once against a NumPy-like namespace ``xp`` (fnp, jax.numpy, autograd.numpy)."""

    def loss(params, x, onehot):
        w1, b1, w2, b2, w3, b3 = params
        h = xp.tanh(x @ w1 + b1)
        h = xp.tanh(h @ w2 + b2)
        logits = h @ w3 + b3
        return -xp.mean(xp.sum(onehot * log_softmax(logits), axis=1))

    return loss


def functrace_loss() -> Any:
    return make_loss(fnp, ft.nn.log_softmax)


def jax_loss(jax: Any) -> Any:
    return make_loss(jax.numpy, jax.nn.log_softmax)


def autograd_loss(autograd: Any) -> Any:
    from autograd.scipy.special import logsumexp

    return make_loss(autograd.numpy, lambda z: z - logsumexp(z, axis=1, keepdims=True))


def torch_loss(torch: Any) -> Any:
    return make_loss(torch, lambda z: torch.log_softmax(z, dim=1))


def _torch_step(torch: Any) -> Any:
    params, x, onehot = data()
    tp = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
    tx, ty = torch.from_numpy(x), torch.from_numpy(onehot)
    loss_fn = torch_loss(torch)

    def step():
        loss = loss_fn(tp, tx, ty)
        return loss.detach(), torch.autograd.grad(loss, tp)

    return step


def _autograd_step(autograd: Any) -> Any:
    vg = autograd.value_and_grad(autograd_loss(autograd))
    params, x, onehot = data()
    return lambda: vg(params, x, onehot)


def cases() -> list[Case]:
    params, x, onehot = data()
    return [
        numpy_case(lambda: lambda: baselines.mlp_value_and_grad(params, x, onehot)),
        *functrace_cases(lambda: ft.value_and_grad(functrace_loss()), (params, x, onehot)),
        *jax_cases(lambda jax: jax.value_and_grad(jax_loss(jax)), (params, x, onehot)),
        torch_case(_torch_step),
        autograd_case(_autograd_step),
    ]


def run(ctx: Ctx) -> dict[str, Any]:
    params, x, onehot = data()
    reference = baselines.mlp_value_and_grad(params, x, onehot)
    rows = run_cases(ctx, cases(), lambda out: assert_allclose_tree(out, reference, rtol=1e-4, atol=1e-6))
    return timing_result(NAME, TITLE, "time per training step (value and gradient)", rows, "mlp: value_and_grad step",
                         ["float32 throughout; JAX runs with x64 enabled, which leaves these explicitly float32 "
                          "arrays float32."])
