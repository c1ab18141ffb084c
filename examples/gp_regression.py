"""Gaussian-process regression: kernel hyperparameters fitted by maximising the marginal likelihood.

    python examples/gp_regression.py [--steps 150] [--points 40] [--out examples/out]

Noisy observations ``y = f(x) + noise`` of a smooth function are modelled by a Gaussian process
with a squared-exponential kernel ``k(x, x') = s**2 exp(-(x - x')**2 / (2 l**2))`` plus noise
variance ``n**2`` on the diagonal. Under the model ``y ~ N(0, K + n**2 I)``, so the log marginal
likelihood is ``functrace.scipy.stats.multivariate_normal.logpdf(y, 0, K + n**2 I)`` (a Cholesky
factorisation inside), and ``ft.grad`` differentiates it in the three hyperparameters (kept
positive as exponentials of unconstrained ones) through the Cholesky factor and the triangular
solves. Adam (``functrace.optim``) climbs it under ``ft.jit``.

The posterior at test points comes from the same factor with ``functrace.scipy.linalg``:
mean ``K*ᵀ (K + n² I)⁻¹ y`` by ``cho_solve``, variance ``k** - |L⁻¹ K*|²`` by
``solve_triangular``. The picture (``gp_regression.png`` in ``--out``, the
``FUNCTRACE_EXAMPLES_OUT`` environment variable, or ``examples/out/``) shows the data, the
true function, the posterior mean with a 95% band, and the climb of the marginal likelihood.
The gradient is checked once against the textbook formula
``d log p / dθ = tr((α αᵀ - (K + n² I)⁻¹) dK/dθ) / 2`` with ``α = (K + n² I)⁻¹ y``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import optim
from functrace.scipy import linalg, stats

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
TRUE_NOISE = 0.2


def truth(x: np.ndarray) -> np.ndarray:
    return np.sin(3 * x) + 0.3 * x


def make_data(points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3, 3, points))
    return x, truth(x) + TRUE_NOISE * rng.standard_normal(points)


def kernel(a: Any, b: Any, log_scale: Any, log_length: Any) -> Any:
    """The squared-exponential kernel matrix between the points ``a`` and ``b``."""
    a, b = fnp.asarray(a), fnp.asarray(b)  # NumPy data meet backend arrays (torch tensors) below
    d = (a[:, None] - b[None, :]) / fnp.exp(log_length)
    return fnp.exp(2 * log_scale) * fnp.exp(-0.5 * d * d)


def covariance(params: Any, x: Any) -> Any:
    log_scale, log_length, log_noise = params[0], params[1], params[2]
    return kernel(x, x, log_scale, log_length) + fnp.exp(2 * log_noise) * fnp.eye(x.shape[0])


def log_marginal_likelihood(params: Any, x: Any, y: Any) -> Any:
    """log N(y; 0, K + n² I), the evidence for the hyperparameters."""
    return stats.multivariate_normal.logpdf(y, fnp.zeros_like(y), covariance(params, x))


def closed_form_gradient(params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The textbook gradient (Rasmussen & Williams, eq. 5.9), in plain NumPy, for the check."""
    s2, l, n2 = np.exp(2 * params[0]), np.exp(params[1]), np.exp(2 * params[2])
    r2 = (x[:, None] - x[None, :]) ** 2
    k = s2 * np.exp(-0.5 * r2 / l**2)
    c = k + n2 * np.eye(len(x))
    c_inv = np.linalg.inv(c)
    alpha = c_inv @ y
    inner = np.outer(alpha, alpha) - c_inv
    derivs = [2 * k, k * r2 / l**2, 2 * n2 * np.eye(len(x))]  # dC/d(log s), d(log l), d(log n)
    return np.array([0.5 * np.sum(inner * d) for d in derivs])


def posterior(params: Any, x: Any, y: Any, x_test: Any) -> tuple[Any, Any]:
    """Posterior mean and standard deviation of f at ``x_test``."""
    factor = linalg.cho_factor(covariance(params, x), lower=True)
    k_star = kernel(x, x_test, params[0], params[1])
    mean = k_star.T @ linalg.cho_solve(factor, y)
    v = linalg.solve_triangular(factor[0], k_star, lower=True)
    var = fnp.exp(2 * params[0]) - fnp.sum(v * v, axis=0)
    return mean, fnp.sqrt(fnp.maximum(var, 0.0))


def fit(x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> tuple[Any, list]:
    params = np.log(np.array([1.0, 1.0, 0.5]))  # scale, length, noise
    opt = optim.adam(lr)
    state = opt.init(params)

    @ft.jit
    def step(params, state):
        value, g = ft.value_and_grad(log_marginal_likelihood)(params, x, y)
        updates, state = opt.update(-g, state, params)  # ascend: minimise the negative
        return optim.apply_updates(params, updates), state, value

    history = []
    for _ in range(steps):
        params, state, value = step(params, state)
        history.append(float(np.asarray(ft.device_get(value))))
    return params, history


def plot(path: Path, x, y, x_test, mean, sd, history) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    a1.fill_between(x_test, mean - 1.96 * sd, mean + 1.96 * sd, alpha=0.25, label="95% posterior band")
    a1.plot(x_test, mean, lw=1.5, label="posterior mean")
    a1.plot(x_test, truth(x_test), "k--", lw=1, label="true function")
    a1.plot(x, y, "o", ms=4, label="observations")
    a1.set_title("Gaussian-process posterior, fitted hyperparameters")
    a1.legend(loc="upper left", fontsize=8)
    a2.plot(history)
    a2.set_xlabel("Adam step")
    a2.set_ylabel("log marginal likelihood")
    a2.set_title("evidence maximisation")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fit the hyperparameters, check the gradient, draw the posterior; returns the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--points", type=int, default=40)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    x, y = make_data(args.points, args.seed)
    start = np.log(np.array([1.0, 1.0, 0.5]))
    g_auto = np.asarray(ft.device_get(ft.grad(log_marginal_likelihood)(start, x, y)))
    g_formula = closed_form_gradient(start, x, y)
    grad_error = float(np.max(np.abs(g_auto - g_formula)))
    params, history = fit(x, y, args.steps, args.lr)
    params = np.asarray(ft.device_get(params))
    x_test = np.linspace(-3.5, 3.5, 200)
    mean, sd = (np.asarray(ft.device_get(v)) for v in posterior(params, x, y, x_test))
    scale, length, noise = np.exp(params)
    rmse = float(np.sqrt(np.mean((mean - truth(x_test)) ** 2)))
    print(f"backend: {ft.get_backend()}")
    print(f"gradient vs the closed form at the start: max |difference| {grad_error:.2e}")
    print(f"log marginal likelihood: {history[0]:.3f} -> {history[-1]:.3f}")
    print(f"fitted scale {scale:.3f}, length {length:.3f}, noise {noise:.3f} (true noise {TRUE_NOISE})")
    print(f"posterior mean vs the true function: rmse {rmse:.3f}")
    path = args.out / "gp_regression.png"
    plot(path, x, y, x_test, mean, sd, history)
    print(f"saved {path}")
    return {"params": params, "scale": scale, "length": length, "noise": noise, "history": history,
            "grad_error": grad_error, "rmse": rmse, "mean": mean, "sd": sd, "png": path}


if __name__ == "__main__":
    main()
