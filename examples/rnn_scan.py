"""Loops as one primitive: a cumulative sum and a recurrent network with ft.lax.scan.

    python examples/rnn_scan.py [--length 40] [--hidden 16] [--steps 150]

``ft.lax.scan(step, carry, xs)`` runs ``step(carry, x) -> (carry, y)`` over the leading axis of
``xs`` and stacks the ``y``: the loop is a single equation holding the step's jaxpr, so the
program (and its gradient) has the same size for 10 steps or 10,000. The example

1. writes a cumulative sum as a scan and checks it against ``numpy.cumsum``;
2. trains an Elman RNN (``h = tanh(W h + U x + b)``) to predict the next value of noisy sine
   waves, differentiating through the scan with ``ft.grad`` (reverse mode of a scan is a scan
   running backwards over stored per-step values), batched over sequences with ``ft.vmap``
   and compiled with ``ft.jit``;
3. checks that gradient against the same RNN unrolled as a Python loop, and shows that the
   jaxpr of the gradient does not grow with the sequence length.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def cumsum(xs: Any) -> Any:
    """Cumulative sum along axis 0 as a scan: the carry is the running total, each y a prefix sum."""
    _, ys = ft.lax.scan(lambda total, x: (total + x, total + x), fnp.zeros_like(xs[0]), xs)
    return ys


def rnn_loss(params: dict, seq: Any) -> Any:
    """Mean squared error of one-step-ahead predictions over one sequence (shape [length])."""
    def step(h, x):
        h = fnp.tanh(params["W"] @ h + params["U"] * x + params["b"])
        return h, params["V"] @ h + params["c"]

    h0 = fnp.zeros_like(params["b"])
    _, preds = ft.lax.scan(step, h0, seq[:-1])
    return fnp.mean((preds - seq[1:]) ** 2)


def rnn_loss_unrolled(params: dict, seq: Any) -> Any:
    """The same loss with a Python loop (the reference the scan version is checked against)."""
    h = fnp.zeros_like(params["b"])
    total = 0.0
    n = seq.shape[0] - 1
    for t in range(n):
        h = fnp.tanh(params["W"] @ h + params["U"] * seq[t] + params["b"])
        total = total + (params["V"] @ h + params["c"] - seq[t + 1]) ** 2
    return total / n


def batch_loss(params: dict, seqs: Any) -> Any:
    return fnp.mean(ft.vmap(rnn_loss, in_axes=(None, 0))(params, seqs))


def init_params(rng: np.random.Generator, hidden: int) -> dict:
    return {"W": rng.standard_normal((hidden, hidden)) * 0.5 / np.sqrt(hidden),
            "U": rng.standard_normal(hidden) * 0.5, "b": np.zeros(hidden),
            "V": rng.standard_normal(hidden) / np.sqrt(hidden), "c": np.zeros(())}


def sine_waves(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    t = np.arange(length) * 0.3
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    freq = rng.uniform(0.8, 1.2, (n, 1))
    return np.sin(freq * t + phase) + 0.05 * rng.standard_normal((n, length))


def host(x: Any) -> np.ndarray:
    return np.asarray(ft.device_get(x))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the three parts; returns their numbers (errors, losses, jaxpr sizes)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=40, help="sequence length (default 40)")
    ap.add_argument("--sequences", type=int, default=32, help="training sequences (default 32)")
    ap.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    ap.add_argument("--steps", type=int, default=150, help="gradient-descent steps (default 150)")
    ap.add_argument("--lr", type=float, default=0.3, help="learning rate (default 0.3)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"backend: {ft.get_backend()}")

    # 1. cumulative sum
    xs = rng.standard_normal((args.length, 3))
    cs_err = float(np.max(np.abs(host(cumsum(xs)) - np.cumsum(xs, axis=0))))
    print(f"cumsum as a scan: largest difference from numpy.cumsum {cs_err:.2e}")
    print(ft.make_jaxpr(cumsum)(xs[:4, 0]))

    # 2. train an RNN through the scan
    params = ft.device_put(init_params(rng, args.hidden))  # NumPy in, arrays of the active backend out
    seqs = fnp.asarray(sine_waves(rng, args.sequences, args.length))
    step_fn = ft.jit(ft.value_and_grad(batch_loss))
    history = []
    for step in range(args.steps + 1):
        value, g = step_fn(params, seqs)
        history.append(float(host(value)))
        if step % max(1, args.steps // 5) == 0:
            print(f"step {step:4d}  mean squared error {history[-1]:.5f}")
        if step < args.steps:
            params = {k: params[k] - args.lr * g[k] for k in params}

    # 3. the gradient through the scan equals the unrolled loop's; its jaxpr does not grow
    seq = seqs[0]
    g_scan = ft.grad(rnn_loss)(params, seq)
    g_loop = ft.grad(rnn_loss_unrolled)(params, seq)
    grad_err = max(float(np.max(np.abs(host(g_scan[k]) - host(g_loop[k])))) for k in params)
    sizes = {n: len(ft.make_jaxpr(ft.grad(rnn_loss))(params, np.zeros(n)).jaxpr.eqns) for n in (10, 1000)}
    unrolled = len(ft.make_jaxpr(ft.grad(rnn_loss_unrolled))(params, np.zeros(10)).jaxpr.eqns)
    print(f"gradient through the scan vs. the unrolled loop: largest difference {grad_err:.2e}")
    print(f"equations in the gradient's jaxpr: scan {sizes[10]} (length 10), {sizes[1000]} (length 1000); "
          f"unrolled loop {unrolled} (length 10)")
    return {"cumsum_error": cs_err, "loss_history": history, "grad_error": grad_err, "jaxpr_sizes": sizes,
            "unrolled_size": unrolled}


if __name__ == "__main__":
    main()
