"""functrace in one page: grad, nested grad, value_and_grad, jvp/vjp, pytrees, and the IR behind them.

    python examples/quickstart.py                          # on NumPy (the default backend)
    FUNCTRACE_BACKEND=torch python examples/quickstart.py  # the same program on PyTorch

Every number below is computed by functrace and checked against the derivative worked out by hand.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def f(x):
    """The running example: f(x) = sin(x) * x**2."""
    return fnp.sin(x) * x ** 2


# f's derivatives by hand, to check functrace's answers against.
def df(x: float) -> float:
    return 2 * x * math.sin(x) + x ** 2 * math.cos(x)


def d2f(x: float) -> float:
    return 2 * math.sin(x) + 4 * x * math.cos(x) - x ** 2 * math.sin(x)


def num(x: Any) -> float:
    """A scalar result (NumPy scalar or torch tensor) as a Python float."""
    return float(np.asarray(ft.device_get(x)))


def backend_line(result: Any) -> str:
    """Which backend ran, and what kind of array it returned."""
    kind = f"{type(result).__module__}.{type(result).__name__}"
    device = getattr(result, "device", None)
    return f"backend: {ft.get_backend()} (results are {kind}{f' on {device}' if device is not None else ''})"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the tour and print it; returns the computed values (used by the smoke test)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="accepted for uniformity with the other examples")
    ap.add_argument("--x", type=float, default=1.0, help="the point to differentiate at (default 1.0)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)
    x = args.x
    res: dict[str, Any] = {}

    print("f(x) = sin(x) * x**2, at x =", x)
    res["grad"] = num(ft.grad(f)(x))
    print(f"ft.grad(f)(x)           = {res['grad']: .6f}   by hand: {df(x): .6f}")
    res["grad2"] = num(ft.grad(ft.grad(f))(x))
    print(f"ft.grad(ft.grad(f))(x)  = {res['grad2']: .6f}   by hand: {d2f(x): .6f}")

    value, slope = ft.value_and_grad(f)(x)
    res["value_and_grad"] = (num(value), num(slope))
    print(f"ft.value_and_grad(f)(x) = ({num(value):.6f}, {num(slope):.6f})")

    # Forward mode pushes a tangent through f; reverse mode pulls a cotangent back.
    out, tangent = ft.jvp(f, (x,), (1.0,))
    res["jvp"] = (num(out), num(tangent))
    print(f"ft.jvp(f, (x,), (1.0,)) = ({num(out):.6f}, {num(tangent):.6f})")
    out, f_vjp = ft.vjp(f, x)
    (cotangent,) = f_vjp(1.0)
    res["vjp"] = num(cotangent)
    print(f"ft.vjp(f, x)[1](1.0)    = ({num(cotangent):.6f},)")

    # Arguments can be pytrees (dicts, tuples, lists); the gradient has the same structure.
    def loss(params, xs, ys):
        pred = params["w"] * xs + params["b"]
        return fnp.mean((pred - ys) ** 2)

    params = {"w": 0.5, "b": 0.0}
    xs, ys = np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0])
    g = ft.grad(loss)(params, xs, ys)
    res["pytree_grad"] = {k: num(v) for k, v in g.items()}
    print("ft.grad(loss)({'w': 0.5, 'b': 0.0}, xs, ys) =",
          "{" + ", ".join(f"'{k}': {v:.4f}" for k, v in res["pytree_grad"].items()) + "}")

    # Each transform builds a program in functrace's IR; make_jaxpr shows it.
    res["jaxpr_grad"] = str(ft.make_jaxpr(ft.grad(f))(x))
    res["jaxpr_grad2"] = str(ft.make_jaxpr(ft.grad(ft.grad(f)))(x))
    print("\nft.make_jaxpr(ft.grad(f))(x):")
    print(res["jaxpr_grad"])
    print("\nft.make_jaxpr(ft.grad(ft.grad(f)))(x):")
    print(res["jaxpr_grad2"])

    res["backend"] = ft.get_backend()
    print("\n" + backend_line(ft.grad(f)(x)))
    return res


if __name__ == "__main__":
    main()
