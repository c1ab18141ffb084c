"""Differentiate existing plain-NumPy code, unchanged.

    python examples/numpy_interop.py [--atoms 8]

``lennard_jones_energy`` below is ordinary NumPy (``np.`` only, nothing from functrace): it runs on
NumPy arrays as always. Handed to ``ft.grad``, it is called with traced values instead, and
NumPy's own dispatch protocols (``__array_ufunc__``/``__array_function__``) route every ``np.``
call to its functrace equivalent, so the forces ``-grad(energy)`` come out without rewriting a
line. A NumPy function with no traced equivalent raises an error that names it.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import functrace as ft


# ---- an "existing" NumPy function: no functrace import needed to write it -----------------------
def lennard_jones_energy(positions):
    """Total Lennard-Jones energy (epsilon = sigma = 1) of atoms at ``positions`` (n, 3)."""
    diff = positions[:, None, :] - positions[None, :, :]
    r2 = np.sum(diff ** 2, axis=-1)
    i, j = np.triu_indices(len(positions), k=1)  # each pair once
    inv6 = (1.0 / r2[i, j]) ** 3
    return np.sum(4.0 * (inv6 ** 2 - inv6))
# --------------------------------------------------------------------------------------------------


def central_differences(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The gradient of ``f`` by central differences, one coordinate at a time (the slow way)."""
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        g[k] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def lattice(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` atoms near the points of a simple cubic lattice with spacing 1.2."""
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    return 1.2 * grid + rng.normal(0.0, 0.05, (n, 3))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Compute forces with ft.grad, check them, relax the cluster; returns the numbers it prints."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer relaxation steps, for the smoke test")
    ap.add_argument("--atoms", type=int, default=8, help="number of atoms (default 8)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)
    steps = 20 if args.quick else 200

    pos = lattice(args.atoms, np.random.default_rng(0))
    print(f"backend: {ft.get_backend()}; {args.atoms} atoms")
    e0 = float(lennard_jones_energy(pos))  # plain NumPy, as it always was
    print(f"energy (plain NumPy call):          {e0:.6f}")

    forces = -np.asarray(ft.device_get(ft.grad(lennard_jones_energy)(pos)))
    fd = -central_differences(lennard_jones_energy, pos)
    err = float(np.max(np.abs(forces - fd)) / np.max(np.abs(fd)))
    print(f"forces = -ft.grad(energy): max relative difference from central differences {err:.1e}")
    print(f"net force (Newton's third law, should be ~0): {np.abs(forces.sum(axis=0)).max():.1e}")

    # The same function, traced: every np. call became a functrace primitive.
    jaxpr = ft.make_jaxpr(lennard_jones_energy)(pos)
    print("\nft.make_jaxpr(lennard_jones_energy)(positions):")
    print(jaxpr)

    # Relax the cluster by gradient descent on the energy (the gradient computed by ft.grad).
    grad_e = ft.value_and_grad(lennard_jones_energy)
    energies = []
    x = pos
    for _ in range(steps):
        e, g = grad_e(x)
        energies.append(float(np.asarray(ft.device_get(e))))
        x = x - 1e-3 * np.asarray(ft.device_get(g))
    print(f"\ngradient descent, {steps} steps: energy {energies[0]:.4f} -> {energies[-1]:.4f}")

    # A NumPy function functrace cannot trace is refused by name, at the user's line.
    try:
        ft.grad(lambda p: np.sum(np.lib.stride_tricks.sliding_window_view(p, 2, axis=0)))(pos)
        unsupported = None
    except ft.UnsupportedNumpyFunctionError as e:
        unsupported = str(e)
        print(f"\nsliding_window_view under ft.grad -> UnsupportedNumpyFunctionError:\n  {unsupported}")
    return {"energy": e0, "forces": forces, "fd_error": err, "energies": energies, "jaxpr": str(jaxpr),
            "unsupported": unsupported}


if __name__ == "__main__":
    main()
