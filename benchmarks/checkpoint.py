"""Checkpointing: peak memory and time of ``jit(grad)`` of a deep tanh MLP, with and without
``ft.checkpoint`` around each layer (float32, NumPy backend).

Without checkpointing, reverse mode keeps every layer's activations (and the derivative factors of
tanh) from the forward pass until the backward pass reaches them: memory grows with depth. With
``nothing_saveable`` only each layer's input is kept and the backward pass recomputes the layer;
``dots_saveable`` keeps the matrix products and recomputes only the elementwise work. Peak memory
is measured with ``tracemalloc`` (NumPy reports its buffers to it) around one call of the compiled
gradient; time is the median of several calls.

    python -m benchmarks.checkpoint [--depth 32] [--width 256] [--batch 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

import functrace as ft
import functrace.numpy as fnp

POLICIES = {
    "no checkpoint": None,
    "checkpoint(nothing_saveable)": "nothing_saveable",
    "checkpoint(dots_saveable)": "dots_saveable",
}


def make_loss(policy: str | None):
    def layer(w, x):
        return fnp.tanh(x @ w)

    step = layer if policy is None else ft.checkpoint(layer, policy=policy)

    def loss(ws, x):
        for w in ws:
            x = step(w, x)
        return fnp.mean(x ** 2)

    return loss


def measure(policy: str | None, ws: list, x: np.ndarray, repeat: int) -> dict:
    g = ft.jit(ft.grad(make_loss(policy)))
    out = g(ws, x)  # compile outside the measurement
    tracemalloc.start()
    tracemalloc.reset_peak()
    g(ws, x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        g(ws, x)
        times.append(time.perf_counter() - t0)
    return {"peak_mb": peak / 2**20, "ms": 1e3 * statistics.median(times), "grads": out}


def run(depth: int = 32, width: int = 256, batch: int = 2048, repeat: int = 5) -> dict[str, dict]:
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32) for _ in range(depth)]
    x = rng.standard_normal((batch, width)).astype(np.float32)
    results = {name: measure(policy, ws, x, repeat) for name, policy in POLICIES.items()}
    ref = results["no checkpoint"]["grads"]
    for r in results.values():  # the same gradients, whatever is recomputed
        for a, b in zip(r.pop("grads"), ref, strict=True):
            np.testing.assert_allclose(np.asarray(ft.device_get(a)), np.asarray(ft.device_get(b)),
                                       rtol=1e-4, atol=1e-6)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=32)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    activations = a.batch * a.width * 4 / 2**20
    print(f"jit(grad) of a {a.depth}-layer tanh MLP, width {a.width}, batch {a.batch}, float32 "
          f"(one activation: {activations:.2f} MB; weights: {a.depth * a.width * a.width * 4 / 2**20:.1f} MB)")
    print(f"{'':32} {'peak memory (MB)':>18} {'time (ms)':>10}")
    for name, r in run(a.depth, a.width, a.batch, a.repeat).items():
        print(f"{name:32} {r['peak_mb']:18.1f} {r['ms']:10.1f}")


if __name__ == "__main__":
    main()
