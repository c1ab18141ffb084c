"""A small MLP on scikit-learn's 8x8 digits: a jit-compiled training step with Adam inside, a tqdm bar.

    python examples/mlp_digits.py [--epochs 20] [--hidden 128] [--out examples/out]

The digits (1,797 images of 8x8 pixels) ship inside scikit-learn, so nothing is downloaded.
The parameters are a pytree (a list of ``{"w", "b"}`` dicts, one per layer); the gradient has
the same structure. ``functrace.optim.adam`` (optax's Adam) keeps its moments in a state of
the same shape, so one ``ft.jit`` covers the gradient and the update together. The loss and accuracy
curves are saved as ``mlp_digits.png`` in the output directory (``--out``, or the
``FUNCTRACE_EXAMPLES_OUT`` environment variable, default ``examples/out/``).
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

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def init_params(sizes: list[int], key: Any) -> list[dict]:
    """He-initialised weights (``ft.nn.initializers.he_normal``, one key per layer, split from
    ``key`` as in JAX) and zero biases, as float32 arrays on the active backend."""
    he_normal = ft.nn.initializers.he_normal()
    keys = ft.random.split(key, len(sizes) - 1)
    return [{"w": he_normal(k, (m, n), np.float32), "b": fnp.zeros(n, dtype=np.float32)}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def predict(params: list[dict], x: Any) -> Any:
    """Logits: ReLU hidden layers, a linear last layer."""
    for layer in params[:-1]:
        x = ft.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss(params: list[dict], x: Any, y_onehot: Any) -> Any:
    """Mean softmax cross-entropy."""
    return -fnp.mean(fnp.sum(ft.nn.log_softmax(predict(params, x)) * y_onehot, axis=1))


def make_train_step(optimiser: optim.GradientTransformation):
    """One jit-compiled step: the loss and its gradient, the optimiser's update, the new parameters.

    Traced, optimised and lowered once (all batches share one input signature), then cached;
    the optimiser's state is a pytree of arrays, so it passes through ``jit`` like the parameters.
    """
    @ft.jit
    def train_step(params: list[dict], opt_state: Any, x: Any, y_onehot: Any) -> tuple[list[dict], Any, Any]:
        value, grads = ft.value_and_grad(loss)(params, x, y_onehot)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    return train_step


def accuracy(params: list[dict], x: Any, labels: np.ndarray) -> float:
    logits = np.asarray(ft.device_get(predict(params, fnp.asarray(x))))  # x moves to the backend first
    return float(np.mean(logits.argmax(axis=1) == labels))


def save_curves(path: Path, losses: list[float], train_acc: list[float], test_acc: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(losses) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, losses)
    ax1.set(xlabel="epoch", ylabel="training loss", yscale="log", title="loss")
    ax2.plot(epochs, train_acc, label="train")
    ax2.plot(epochs, test_acc, label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, print the test accuracy, save the curves; returns accuracies, losses and the PNG path."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few epochs, for the smoke test")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 20, quick 3)")
    ap.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    ap.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 20)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from tqdm import tqdm

    x, labels = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, l_tr, l_te = train_test_split(x, labels, test_size=0.2, random_state=0, stratify=labels)
    y_tr = np.eye(10, dtype=np.float32)[l_tr]
    print(f"digits: {len(x_tr)} training and {len(x_te)} test images; backend: {ft.get_backend()}")

    rng = np.random.default_rng(0)
    params = init_params([64, args.hidden, 10], ft.random.PRNGKey(0))
    optimiser = optim.adam(args.lr)
    opt_state = optimiser.init(params)
    train_step = make_train_step(optimiser)
    losses, train_acc, test_acc = [], [], []
    bar = tqdm(range(epochs), desc="epochs", unit="epoch")
    for _ in bar:
        order = rng.permutation(len(x_tr))
        total = 0.0
        # Full batches only, so every call has the same input signature.
        n_batches = len(order) // args.batch
        for i in range(n_batches):
            idx = order[i * args.batch:(i + 1) * args.batch]
            params, opt_state, value = train_step(params, opt_state, x_tr[idx], y_tr[idx])
            total += float(np.asarray(ft.device_get(value)))
        losses.append(total / n_batches)
        train_acc.append(accuracy(params, x_tr, l_tr))
        test_acc.append(accuracy(params, x_te, l_te))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", test_acc=f"{test_acc[-1]:.3f}")
    bar.close()

    png = args.out / "mlp_digits.png"
    save_curves(png, losses, train_acc, test_acc)
    print(f"test accuracy {test_acc[-1]:.3f} after {epochs} epochs; curves saved to {png}")
    return {"test_accuracy": test_acc[-1], "train_accuracy": train_acc[-1], "losses": losses, "png": png}


if __name__ == "__main__":
    main()
