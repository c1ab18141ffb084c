"""Newton's method on the Rosenbrock function, with ft.grad and ft.hessian.

    python examples/newton_rosenbrock.py [--dim 2] [--start -1.2 1.0]

Each iteration solves ``H(x) p = -g(x)`` and steps to ``x + p``. From the classic start
(-1.2, 1) plain Newton reaches the minimum (1, 1) in a handful of steps, and near it the
gradient norm roughly squares at every step (quadratic convergence) — the printout shows it.
Plain Newton heads for any stationary point, so in higher dimensions it may stop at another
one; the last line says which kind it found.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def rosenbrock(x: Any) -> Any:
    """sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, minimal (0) at x = (1, ..., 1)."""
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def host(x: Any) -> np.ndarray:
    return np.asarray(ft.device_get(x))


def newton(f: Any, x0: np.ndarray, tol: float = 1e-10, max_iter: int = 50) -> list[dict]:
    """Newton iterates from ``x0`` until the gradient norm is below ``tol``; one dict per iterate."""
    grad_f, hess_f = ft.grad(f), ft.hessian(f)
    x = np.asarray(x0, dtype=np.float64)
    iterates = []
    for k in range(max_iter + 1):
        g = host(grad_f(x))
        iterates.append({"k": k, "x": x.copy(), "f": float(host(f(x))), "grad_norm": float(np.linalg.norm(g))})
        if iterates[-1]["grad_norm"] < tol or k == max_iter:
            break
        x = x - np.linalg.solve(host(hess_f(x)), g)
    return iterates


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run Newton's method and print its iterates; returns them."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="accepted for uniformity (the run is already fast)")
    ap.add_argument("--dim", type=int, default=2, help="dimension (default 2)")
    ap.add_argument("--start", type=float, nargs="+", default=None,
                    help="starting point (default -1.2, 1, -1.2, 1, ...)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)
    x0 = np.array(args.start if args.start is not None else [(-1.2, 1.0)[i % 2] for i in range(args.dim)])

    print(f"backend: {ft.get_backend()}; Newton's method on the {len(x0)}-d Rosenbrock function")
    print(f"{'k':>3}  {'f(x)':>12}  {'|grad f(x)|':>12}  x")
    iterates = newton(rosenbrock, x0)
    for it in iterates:
        xs = ", ".join(f"{v:+.8f}" for v in it["x"])
        print(f"{it['k']:3d}  {it['f']:12.4e}  {it['grad_norm']:12.4e}  ({xs})")
    done = iterates[-1]
    # Newton finds stationary points; the Hessian's eigenvalues say which kind this one is.
    eig = np.linalg.eigvalsh(host(ft.hessian(rosenbrock)(done["x"])))
    kind = "a minimum" if eig.min() > 0 else "a saddle point" if eig.max() > 0 else "a maximum"
    print(f"after {done['k']} Newton steps: ({', '.join(f'{v:.6f}' for v in done['x'])}), "
          f"f = {done['f']:.3g}, {kind} (Hessian eigenvalues {eig.min():.3g} .. {eig.max():.3g})")
    return {"iterates": iterates, "hessian_eigenvalues": eig}


if __name__ == "__main__":
    main()
