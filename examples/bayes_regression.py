"""Bayesian linear regression by variational inference, with functrace.random's reparameterisation trick.

    python examples/bayes_regression.py [--steps 1500] [--samples 16] [--out examples/out]

The data are scikit-learn's bundled diabetes set (442 patients, 10 features, standardised). The
model is ``y = X w + b + noise`` with a standard normal prior on ``w`` and ``b`` and a fixed noise
level. The posterior is approximated by independent normals ``q = N(mu, sigma**2)``; the
evidence lower bound (ELBO) is estimated with samples ``mu + sigma * eps``, ``eps`` drawn with
``functrace.random.normal`` (the reparameterisation trick: the sample is a differentiable
function of ``mu`` and ``sigma``), and maximised by gradient ascent under ``ft.jit``.

Every step takes a fresh key from ``random.split``: the key is an argument of the jitted step,
so each call draws new numbers (a NumPy generator called inside ``jit`` would be traced once and
replay the same "random" numbers forever). Because the model is linear and Gaussian the exact
posterior is known; the picture (``bayes_regression.png`` in ``--out``, the
``FUNCTRACE_EXAMPLES_OUT`` environment variable, or ``examples/out/``) compares the two: the
means agree, and the independent normals understate the spread of the strongly correlated
blood-serum coefficients (s1, s2), as mean-field approximations do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import random

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
NOISE = 0.7  # the noise level of the standardised target (about what least squares leaves)


def load_data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Standardised features with a column of ones (the intercept), and the standardised target."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    y = (data.target - data.target.mean()) / data.target.std()
    return np.hstack([x, np.ones((len(x), 1))]), y, list(data.feature_names) + ["intercept"]


def exact_posterior(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviations of the Gaussian posterior (prior N(0, I), noise NOISE)."""
    precision = x.T @ x / NOISE**2 + np.eye(x.shape[1])
    cov = np.linalg.inv(precision)
    return cov @ x.T @ y / NOISE**2, np.sqrt(np.diag(cov))


def neg_elbo(params: tuple, key: Any, x: Any, y: Any, samples: int) -> Any:
    """Minus the ELBO, estimated with ``samples`` reparameterised draws of the weights."""
    mu, rho = params
    sigma = ft.nn.softplus(rho)
    eps = random.normal(key, (samples, mu.shape[0]))
    w = mu + sigma * eps  # differentiable in mu and sigma: the reparameterisation trick
    resid = y[None, :] - w @ x.T
    log_lik = -0.5 * fnp.sum(resid**2, axis=1) / NOISE**2
    # KL(N(mu, sigma^2) || N(0, 1)), in closed form
    kl = 0.5 * fnp.sum(mu**2 + sigma**2 - 1.0 - 2.0 * fnp.log(sigma))
    return -(fnp.mean(log_lik) - kl)


def train_step(params: tuple, key: Any, x: Any, y: Any, samples: int, lr: Any) -> tuple[tuple, Any]:
    """One step of gradient descent on -ELBO (scaled per data point): new parameters and -ELBO."""
    value, g = ft.value_and_grad(neg_elbo)(params, key, x, y, samples)
    return tuple(p - lr * gp / y.shape[0] for p, gp in zip(params, g, strict=True)), value


def fit(x: np.ndarray, y: np.ndarray, steps: int, samples: int, lr: float, seed: int) -> tuple[tuple, list]:
    d = x.shape[1]
    params = (np.zeros(d), np.full(d, -3.0))
    step_fn = ft.jit(train_step, static_argnums=(4,))
    key = random.PRNGKey(seed)
    history = []
    for step in range(steps):
        key, sub = random.split(key)  # a new key every step: new noise every step
        # the step shrinks like 1/sqrt(t): the gradient estimate is noisy
        params, value = step_fn(params, sub, x, y, samples, lr / np.sqrt(1.0 + step / 100))
        history.append(float(np.asarray(ft.device_get(value))))
    return params, history


def plot(path: Path, names: list[str], vi: tuple, exact: tuple, history: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    pos = np.arange(len(names))
    a1.errorbar(pos - 0.15, exact[0], yerr=2 * exact[1], fmt="o", label="exact posterior (±2 sd)")
    a1.errorbar(pos + 0.15, vi[0], yerr=2 * vi[1], fmt="s", label="variational (±2 sd)")
    a1.axhline(0, color="grey", lw=0.5)
    a1.set_xticks(pos)
    a1.set_xticklabels(names, rotation=45)
    a1.set_title("posterior of the coefficients")
    a1.legend()
    a2.plot(history, lw=0.6)
    lo, hi = np.percentile(history, [0.5, 95])
    a2.set_ylim(lo - 0.1 * (hi - lo), hi + 0.5 * (hi - lo))
    a2.set_xlabel("step")
    a2.set_ylabel("-ELBO (noisy estimate)")
    a2.set_title("training")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Fit, compare with the exact posterior, save the picture; returns the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--samples", type=int, default=16, help="reparameterised draws per ELBO estimate")
    ap.add_argument("--lr", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    x, y, names = load_data()
    params, history = fit(x, y, args.steps, args.samples, args.lr, args.seed)
    mu = np.asarray(ft.device_get(params[0]))
    sd = np.asarray(ft.device_get(ft.nn.softplus(params[1])))
    exact_mu, exact_sd = exact_posterior(x, y)
    mean_error = float(np.max(np.abs(mu - exact_mu)))
    print(f"backend: {ft.get_backend()}")
    print(f"largest gap between variational and exact posterior means: {mean_error:.3f} "
          f"(posterior sds {exact_sd.min():.3f}..{exact_sd.max():.3f})")
    for n, m, e in zip(names, mu, exact_mu, strict=True):
        print(f"  {n:>9}: variational {m:+.3f}   exact {e:+.3f}")
    path = args.out / "bayes_regression.png"
    plot(path, names, (mu, sd), (exact_mu, exact_sd), history)
    print(f"saved {path}")
    return {"mu": mu, "sd": sd, "exact_mu": exact_mu, "exact_sd": exact_sd, "history": history,
            "mean_error": mean_error, "png": path}


if __name__ == "__main__":
    main()
