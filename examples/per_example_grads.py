"""Per-example gradients with ft.vmap(ft.grad(loss)), and differentially-private-style training.

    python examples/per_example_grads.py [--examples 256] [--steps 60] [--clip 1.0]

``ft.grad(loss)`` is the gradient for one example; ``ft.vmap`` of it, mapping the data but not
the parameters (``in_axes=(None, 0, 0)``), gives every example's gradient in one call, as one
batched program rather than a Python loop. The example checks the result against that loop,
times both (under ``ft.jit``), and then uses the per-example gradients the way DP-SGD does:
each example's gradient is clipped to a maximum norm before they are averaged, so no single
example can move the model by more than ``clip / batch``. The data is a synthetic
two-class problem (two Gaussian blobs), so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int) -> dict:
    return {"w1": rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), "b1": np.zeros(n_hidden),
            "w2": rng.standard_normal(n_hidden) / np.sqrt(n_hidden), "b2": np.zeros(())}


def loss(params: dict, x: Any, y: Any) -> Any:
    """Logistic loss of a one-hidden-layer tanh network on ONE example (x: features, y: 0 or 1)."""
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    z = h @ params["w2"] + params["b2"]
    return ft.nn.softplus(z) - y * z


def make_data(rng: np.random.Generator, n: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n).astype(np.float64)
    centers = np.stack([-np.ones(n_in), np.ones(n_in)]) * 0.8
    x = centers[y.astype(int)] + rng.standard_normal((n, n_in))
    return x, y


def flat_norms(grads: dict) -> Any:
    """The L2 norm of each example's gradient over all parameters (axis 0 indexes examples)."""
    sq = sum(fnp.sum(fnp.reshape(g, (g.shape[0], -1)) ** 2, axis=1) for g in grads.values())
    return fnp.sqrt(sq)


def clipped_mean(grads: dict, clip: float) -> dict:
    """Scale each example's gradient to norm at most ``clip``, then average over examples."""
    scale = fnp.minimum(1.0, clip / (flat_norms(grads) + 1e-12))
    return {k: fnp.mean(g * fnp.reshape(scale, (-1,) + (1,) * (g.ndim - 1)), axis=0) for k, g in grads.items()}


def host(x: Any) -> np.ndarray:
    return np.asarray(ft.device_get(x))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Check vmap against a loop, time both, train with clipped per-example gradients."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=256, help="training examples (default 256)")
    ap.add_argument("--features", type=int, default=8, help="input features (default 8)")
    ap.add_argument("--hidden", type=int, default=16, help="hidden units (default 16)")
    ap.add_argument("--steps", type=int, default=60, help="training steps (default 60)")
    ap.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    ap.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound (default 1.0)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    x_np, y_np = make_data(rng, args.examples, args.features)
    # Arrays of the active backend (NumPy arrays or torch tensors), so updates need no copies.
    x, y = fnp.asarray(x_np), fnp.asarray(y_np)
    params = ft.device_put(init_params(rng, args.features, args.hidden))  # NumPy in, backend arrays out
    print(f"{args.examples} examples, {args.features} features, {args.hidden} hidden units; "
          f"backend: {ft.get_backend()}")

    per_example = ft.jit(ft.vmap(ft.grad(loss), in_axes=(None, 0, 0)))
    one = ft.jit(ft.grad(loss))
    grads = per_example(params, x, y)
    looped = [one(params, x[i], y[i]) for i in range(args.examples)]
    max_diff = max(float(np.max(np.abs(host(grads[k])[i] - host(g[k])))) for i, g in enumerate(looped)
                   for k in params)
    print(f"per-example gradients: {', '.join(f'{k}{tuple(host(v).shape)}' for k, v in grads.items())}; "
          f"largest difference from a Python loop {max_diff:.2e}")

    t0 = time.perf_counter()
    host(per_example(params, x, y)["w1"])
    t_vmap = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(args.examples):
        host(one(params, x[i], y[i])["w1"])
    t_loop = time.perf_counter() - t0
    print(f"time for all per-example gradients: vmap {t_vmap * 1e3:.2f} ms, Python loop {t_loop * 1e3:.2f} ms "
          f"({t_loop / max(t_vmap, 1e-9):.1f}x)")

    def mean_loss(p: dict) -> float:
        return float(host(fnp.mean(ft.vmap(loss, in_axes=(None, 0, 0))(p, x, y))))

    def accuracy(p: dict) -> float:
        h = np.tanh(x_np @ host(p["w1"]) + host(p["b1"]))
        return float(np.mean(((h @ host(p["w2"]) + host(p["b2"])) > 0) == (y_np == 1)))

    norms = host(flat_norms(grads))
    history = [mean_loss(params)]
    for _ in range(args.steps):
        g = clipped_mean(per_example(params, x, y), args.clip)
        params = {k: params[k] - args.lr * g[k] for k in params}
        history.append(mean_loss(params))
    res = {"max_diff_vs_loop": max_diff, "grad_shapes": {k: tuple(host(v).shape) for k, v in grads.items()},
           "norms": norms, "loss_history": history, "accuracy": accuracy(params), "t_vmap": t_vmap,
           "t_loop": t_loop}
    print(f"per-example gradient norms: min {norms.min():.3f}, median {np.median(norms):.3f}, max {norms.max():.3f}"
          f" (clipped to {args.clip})")
    print(f"clipped training: loss {history[0]:.4f} -> {history[-1]:.4f}, accuracy {res['accuracy']:.3f}")
    return res


if __name__ == "__main__":
    main()
