"""tanh and its first six derivatives, each one ft.grad nested inside the previous, plotted.

    python examples/tanh_derivatives.py [--points 400] [--out examples/out]

``ft.grad(ft.grad(fnp.tanh))`` is the second derivative at one point; ``ft.vmap`` maps it over
a grid. The same numbers come out of a second route that needs no vmap: because tanh acts
elementwise, the derivative at point i depends on x[i] alone, so the gradient of
``sum(f(x))`` is exactly the vector of pointwise derivatives (``elementwise_grad`` below), and
nesting it gives the higher derivatives. The example computes both and checks them against the
closed form: d/dx P(tanh x) = P'(tanh x) * (1 - tanh(x)**2), so the n-th derivative is a
polynomial in tanh(x). The plot is saved as ``tanh_derivatives.png`` in the output directory
(``--out``, or ``$FUNCTRACE_EXAMPLES_OUT``, default ``examples/out/``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.polynomial import polynomial as P

import functrace as ft
import functrace.numpy as fnp

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def elementwise_grad(f: Callable) -> Callable:
    """The pointwise derivative of an elementwise ``f``: grad of ``sum(f(x))``, valid because
    output i depends only on input i."""
    return ft.grad(lambda x: fnp.sum(f(x)))


def closed_form(order: int, x: np.ndarray) -> np.ndarray:
    """The ``order``-th derivative of tanh at ``x``, from the polynomial recurrence in t = tanh(x)."""
    coef = np.array([0.0, 1.0])  # P_0(t) = t
    one_minus_t2 = np.array([1.0, 0.0, -1.0])
    for _ in range(order):
        coef = P.polymul(P.polyder(coef), one_minus_t2)
    return P.polyval(np.tanh(x), coef)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Compute, check and plot; returns the max error of each order and the PNG path."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a coarse grid, for the smoke test")
    ap.add_argument("--points", type=int, default=None, help="grid points on [-4, 4] (default 400, quick 41)")
    ap.add_argument("--order", type=int, default=6, help="highest derivative (default 6)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    n = args.points if args.points is not None else (41 if args.quick else 400)

    x = np.linspace(-4.0, 4.0, n)
    curves = [np.asarray(ft.device_get(fnp.tanh(x)))]
    errors, route_gaps = [], []
    scalar_d, summed_d = fnp.tanh, fnp.tanh
    print(f"backend: {ft.get_backend()}; {n} points on [-4, 4]")
    for k in range(1, args.order + 1):
        scalar_d = ft.grad(scalar_d)            # the k-th derivative at one point
        summed_d = elementwise_grad(summed_d)   # the k-th derivative on a whole grid
        on_grid = ft.vmap(scalar_d)
        y = np.asarray(ft.device_get(on_grid(x)))
        y_sum = np.asarray(ft.device_get(summed_d(x)))
        errors.append(float(np.max(np.abs(y - closed_form(k, x)))))
        route_gaps.append(float(np.max(np.abs(y - y_sum))))
        sizes = len(ft.make_jaxpr(on_grid)(x).eqns), len(ft.make_jaxpr(summed_d)(x).eqns)
        print(f"derivative {k}: max |functrace - closed form| = {errors[-1]:.1e}, vmap vs sum route "
              f"{route_gaps[-1]:.1e}   (jaxprs: {sizes[0]} / {sizes[1]} equations)")
        curves.append(y)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for k, y in enumerate(curves):
        ax.plot(x, y, label="tanh" if k == 0 else f"order {k}")
    ax.set(xlabel="x", title="tanh and its derivatives (nested ft.grad)", ylim=(-5, 5))
    ax.legend(ncol=2, fontsize="small")
    fig.tight_layout()
    png = args.out / "tanh_derivatives.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print(f"plot saved to {png}")
    return {"errors": errors, "route_gaps": route_gaps, "curves": curves, "x": x, "png": png}


if __name__ == "__main__":
    main()
