"""Logistic regression by gradient descent with ft.grad, on scikit-learn's breast-cancer data.

    python examples/logistic_regression.py [--steps 500] [--lr 0.5]

The data set (569 tumours, 30 features) ships inside scikit-learn, so nothing is downloaded.
The loss is written with functrace.numpy; ft.grad gives its gradient with respect to a pytree
of parameters ``(w, b)``, and plain gradient descent does the rest.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp


def loss(params: tuple, x: Any, y: Any, l2: float) -> Any:
    """Mean logistic loss plus an L2 penalty; ``y`` holds 0/1 labels.

    ``softplus(z) - y*z`` is ``-log(sigmoid(z))`` for y=1 and ``-log(1-sigmoid(z))`` for y=0,
    written so it never takes the log of a rounded-to-zero probability.
    """
    w, b = params
    z = x @ w + b
    return fnp.mean(ft.nn.softplus(z) - y * z) + l2 * fnp.sum(w ** 2)


def accuracy(params: tuple, x: np.ndarray, y: np.ndarray) -> float:
    w, b = (np.asarray(ft.device_get(p)) for p in params)
    return float(np.mean(((x @ w + b) > 0) == (y == 1)))


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/test split (75/25, stratified), features standardised with the training statistics."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y.astype(np.float64), test_size=0.25, random_state=seed,
                                              stratify=y)
    mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)
    return (x_tr - mu) / sd, (x_te - mu) / sd, y_tr, y_te


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and report train/test accuracy; returns the accuracies and the loss history."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few steps, for the smoke test")
    ap.add_argument("--steps", type=int, default=None, help="gradient-descent steps (default 500, quick 40)")
    ap.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    ap.add_argument("--l2", type=float, default=1e-3, help="L2 penalty (default 1e-3)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="accepted for uniformity with the examples that save pictures; this one writes no files")
    args = ap.parse_args(argv)
    steps = args.steps if args.steps is not None else (40 if args.quick else 500)

    x_tr, x_te, y_tr, y_te = load_data()
    print(f"breast cancer: {len(x_tr)} training and {len(x_te)} test examples, {x_tr.shape[1]} features; "
          f"backend: {ft.get_backend()}")
    # Parameters live on the active backend (fnp creates NumPy arrays or torch tensors), so the
    # update below is backend arithmetic with no copies.
    params = (fnp.zeros(x_tr.shape[1]), fnp.asarray(0.0))
    grad_loss = ft.value_and_grad(loss)
    history = []
    for step in range(steps + 1):
        value, (gw, gb) = grad_loss(params, x_tr, y_tr, args.l2)
        history.append(float(np.asarray(ft.device_get(value))))
        if step % max(1, steps // 5) == 0 or step == steps:
            print(f"step {step:4d}  loss {history[-1]:.4f}  train accuracy {accuracy(params, x_tr, y_tr):.3f}")
        if step < steps:
            w, b = params
            params = (w - args.lr * gw, b - args.lr * gb)

    res = {"train_accuracy": accuracy(params, x_tr, y_tr), "test_accuracy": accuracy(params, x_te, y_te),
           "loss_history": history}
    print(f"train accuracy {res['train_accuracy']:.3f}, test accuracy {res['test_accuracy']:.3f}")
    return res


if __name__ == "__main__":
    main()
