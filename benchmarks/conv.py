"""CNN training step: value_and_grad of the CNN of ``examples/cnn_digits.py`` (conv 3×3 1→16,
ReLU, 2×2 max-pool, conv 3×3 16→32, ReLU, 2×2 max-pool, dense 128→10, softmax cross-entropy)
on a batch of 128 of scikit-learn's 8×8 digits, float32.

functrace runs ``lax.conv_general_dilated`` (NHWC/HWIO) and ``ft.nn.max_pool``; torch autograd
runs ``F.conv2d``/``F.max_pool2d`` in its native NCHW layout (the images are handed to it in
that layout, its gradients are permuted back for the check); JAX runs the same program as
functrace. Every implementation's result is checked against functrace's eager NumPy one.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import frameworks as fw
from benchmarks.cases import functrace_cases, jax_cases, torch_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, timing_result, value

NAME = "conv"
TITLE = "CNN training step: value_and_grad, conv3×3(16)-pool-conv3×3(32)-pool-dense, batch 128, float32"
BATCH = 128
LAYOUT = ("NHWC", "HWIO", "NHWC")


@functools.lru_cache(maxsize=None)
def data(batch: int = BATCH) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """``(params, images (N, 8, 8, 1), onehot)``: the first ``batch`` digits, fixed He-normal weights."""
    try:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, labels = digits.data[:batch] / 16.0, digits.target[:batch]
    except ImportError:  # scikit-learn is an optional extra: same shapes, synthetic pixels
        rng = np.random.default_rng(1)
        x, labels = rng.integers(0, 17, (batch, 64)) / 16.0, rng.integers(0, 10, batch)
    rng = np.random.default_rng(0)
    shapes = [((3, 3, 1, 16), 9), ((16,), 0), ((3, 3, 16, 32), 144), ((32,), 0), ((128, 10), 128), ((10,), 0)]
    params = tuple((rng.normal(0.0, np.sqrt(2.0 / fan), s) if fan else rng.normal(0.0, 0.1, s)).astype(np.float32)
                   for s, fan in shapes)
    onehot = np.eye(10, dtype=np.float32)[labels]
    return params, x.reshape(-1, 8, 8, 1).astype(np.float32), onehot


def make_loss(xp: Any, conv: Any, max_pool: Any, relu: Any, log_softmax: Any) -> Any:
    """The CNN's loss, written once against a framework's conv, pool and NumPy-like namespace."""

    def block(x, w, b):
        return max_pool(relu(conv(x, w) + b))

    def loss(params, x, onehot):
        w1, b1, w2, b2, w3, b3 = params
        h = block(block(x, w1, b1), w2, b2)
        logits = xp.reshape(h, (h.shape[0], -1)) @ w3 + b3
        return -xp.mean(xp.sum(onehot * log_softmax(logits), axis=1))

    return loss


def functrace_loss() -> Any:
    from functrace import lax

    return make_loss(fnp, lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=LAYOUT),
                     lambda x: ft.nn.max_pool(x, (2, 2), (2, 2)), ft.nn.relu, ft.nn.log_softmax)


def jax_loss(jax: Any) -> Any:
    lax = jax.lax
    return make_loss(jax.numpy, lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=LAYOUT),
                     lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"),
                     jax.nn.relu, jax.nn.log_softmax)


def _torch_step(torch: Any) -> Any:
    """torch autograd in NCHW/OIHW; the flattening before the dense layer keeps functrace's
    (H, W, C) order, so the parameters and the result are the same numbers."""
    params, x, onehot = data()
    F = torch.nn.functional
    w1, b1, w2, b2, w3, b3 = (torch.from_numpy(p.copy()) for p in params)
    tw1, tw2 = w1.permute(3, 2, 0, 1).contiguous(), w2.permute(3, 2, 0, 1).contiguous()
    tp = [t.requires_grad_() for t in (tw1, b1, tw2, b2, w3, b3)]
    tx, ty = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(onehot)

    def step():
        k1, c1, k2, c2, d, e = tp
        h = F.max_pool2d(F.relu(F.conv2d(tx, k1, c1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, k2, c2, padding=1)), 2)
        logits = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) @ d + e
        loss = -(ty * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        g = torch.autograd.grad(loss, tp)
        return loss.detach(), (g[0].permute(2, 3, 1, 0), g[1], g[2].permute(2, 3, 1, 0), g[3], g[4], g[5])

    return step


def cases() -> list[Case]:
    params, x, onehot = data()
    return [
        *functrace_cases(lambda: ft.value_and_grad(functrace_loss()), (params, x, onehot)),
        *jax_cases(lambda jax: jax.value_and_grad(jax_loss(jax)), (params, x, onehot)),
        torch_case(_torch_step),
    ]


def reference() -> Any:
    params, x, onehot = data()
    with ft.use_backend("numpy"):
        value_, grads = ft.value_and_grad(functrace_loss())(params, x, onehot)
    return np.asarray(value_), tuple(np.asarray(g) for g in grads)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """The ratios the issue asks for: each functrace jit and JAX jit against torch autograd."""
    out = []
    base = value(rows, fw.TORCH)
    for impl, target in ((fw.FT_JIT, 1.5), (fw.FT_TORCH_JIT, 1.2), (fw.JAX_JIT, None)):
        t = value(rows, impl)
        if t is None or base is None:
            continue
        goal = f" (target ≤ {target}×: {'met' if t / base <= target else 'missed'})" if target else ""
        out.append(f"{impl} / torch autograd = {t / base:.2f}×{goal}")
    return out


def run(ctx: Ctx) -> dict[str, Any]:
    ref = reference()
    rows = run_cases(ctx, cases(), lambda out: assert_allclose_tree(out, ref, rtol=1e-4, atol=1e-5))
    found = ratios(rows)
    for line in found:
        print(f"[benchmarks] conv: {line}", flush=True)
    return timing_result(NAME, TITLE, "time per training step (value and gradient)", rows, "conv: value_and_grad step",
                         ["float32 throughout; the reference is functrace's eager result on the NumPy backend.",
                          *found])
