"""A small CNN on scikit-learn's 8x8 digits: conv -> relu -> max-pool, twice, then a dense layer.

    python examples/cnn_digits.py [--epochs 20] [--batch 64] [--lr 0.05] [--out examples/out]

Convolutions are ``lax.conv_general_dilated`` in the channels-last layout (``NHWC`` images,
``HWIO`` kernels) and pooling is ``ft.nn.max_pool`` (flax's shape). The whole training step,
``jit(value_and_grad(loss))``, is traced once and reused for every batch. Initialisation is
NumPy's (He normal) and the update is SGD with momentum (a cosine-decayed learning rate),
written with ``tree_map``. The loss and
accuracy curves are saved as ``cnn_digits.png`` in the output directory (``--out``, or the
``FUNCTRACE_EXAMPLES_OUT`` environment variable, default ``examples/out/``). Runs on either
backend (``FUNCTRACE_BACKEND=torch``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.tree_util import tree_map

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
LAYOUT = ("NHWC", "HWIO", "NHWC")


def init_params(rng: np.random.Generator, c1: int = 16, c2: int = 32) -> dict:
    """He-initialised kernels and dense weights, zero biases; float32 arrays on the active backend."""
    def he(shape, fan_in):
        return fnp.asarray(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32))

    return {"conv1": {"w": he((3, 3, 1, c1), 9), "b": fnp.zeros(c1, dtype=np.float32)},
            "conv2": {"w": he((3, 3, c1, c2), 9 * c1), "b": fnp.zeros(c2, dtype=np.float32)},
            "dense": {"w": he((2 * 2 * c2, 10), 4 * c2), "b": fnp.zeros(10, dtype=np.float32)}}


def conv_block(x: Any, layer: dict) -> Any:
    """3x3 convolution (SAME padding), bias, ReLU, then 2x2 max pooling: halves height and width."""
    y = lax.conv_general_dilated(x, layer["w"], (1, 1), "SAME", dimension_numbers=LAYOUT) + layer["b"]
    return ft.nn.max_pool(ft.nn.relu(y), (2, 2), strides=(2, 2))


def predict(params: dict, images: Any) -> Any:
    """Logits for a batch of (N, 8, 8, 1) images."""
    x = conv_block(images, params["conv1"])  # (N, 4, 4, c1)
    x = conv_block(x, params["conv2"])  # (N, 2, 2, c2)
    x = fnp.reshape(x, (x.shape[0], -1))
    return x @ params["dense"]["w"] + params["dense"]["b"]


def loss(params: dict, images: Any, y_onehot: Any) -> Any:
    """Mean softmax cross-entropy."""
    return -fnp.mean(fnp.sum(ft.nn.log_softmax(predict(params, images)) * y_onehot, axis=1))


def momentum_update(params: Any, grads: Any, velocity: Any, lr: float, beta: float = 0.9) -> tuple[Any, Any]:
    """SGD with (heavy-ball) momentum on a pytree."""
    velocity = tree_map(lambda v, g: beta * v + g, velocity, grads)
    params = tree_map(lambda p, v: p - lr * v, params, velocity)
    return params, velocity


def shifted(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by up to one pixel in each direction (zeros come in): a cheap
    augmentation that makes the small network generalise better."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (8, 8), axis=(1, 2))  # (N, 3, 3, C, 8, 8)
    dy, dx = rng.integers(0, 3, (2, len(images)))
    return np.ascontiguousarray(windows[np.arange(len(images)), dy, dx].transpose(0, 2, 3, 1))


def accuracy(predict_fn: Any, params: dict, images: np.ndarray, labels: np.ndarray) -> float:
    logits = np.asarray(ft.device_get(predict_fn(params, images)))
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
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy (CNN)")
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train, print the test accuracy, save the curves; returns accuracies, losses and the PNG path."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few epochs, for the smoke test")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 20, quick 2)")
    ap.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    ap.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    ap.add_argument("--no-augment", dest="augment", action="store_false",
                    help="train on the images as they are (default: shifted by up to a pixel)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 20)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from tqdm import tqdm

    x, labels = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    x_tr, x_te, l_tr, l_te = train_test_split(x, labels, test_size=0.2, random_state=0, stratify=labels)
    y_tr = np.eye(10, dtype=np.float32)[l_tr]
    print(f"digits: {len(x_tr)} training and {len(x_te)} test images; backend: {ft.get_backend()}")

    rng = np.random.default_rng(args.seed)
    params = init_params(rng)
    velocity = tree_map(fnp.zeros_like, params)
    loss_and_grad = ft.jit(ft.value_and_grad(loss))
    predict_fn = ft.jit(predict)
    losses, train_acc, test_acc = [], [], []
    bar = tqdm(range(epochs), desc="epochs", unit="epoch")
    for epoch in bar:
        lr = float(args.lr * 0.5 * (1.0 + np.cos(np.pi * epoch / epochs)))  # cosine decay: a steady last epoch
        order = rng.permutation(len(x_tr))
        total = 0.0
        n_batches = len(order) // args.batch  # full batches only: one input signature, one trace
        for i in range(n_batches):
            idx = order[i * args.batch:(i + 1) * args.batch]
            batch = shifted(x_tr[idx], rng) if args.augment else x_tr[idx]
            value, grads = loss_and_grad(params, batch, y_tr[idx])
            params, velocity = momentum_update(params, grads, velocity, lr)
            total += float(np.asarray(ft.device_get(value)))
        losses.append(total / n_batches)
        train_acc.append(accuracy(predict_fn, params, x_tr, l_tr))
        test_acc.append(accuracy(predict_fn, params, x_te, l_te))
        bar.set_postfix(loss=f"{losses[-1]:.4f}", test_acc=f"{test_acc[-1]:.3f}")
    bar.close()

    png = args.out / "cnn_digits.png"
    save_curves(png, losses, train_acc, test_acc)
    print(f"test accuracy {test_acc[-1]:.3f} after {epochs} epochs; curves saved to {png}")
    return {"test_accuracy": test_acc[-1], "train_accuracy": train_acc[-1], "losses": losses, "png": png}


if __name__ == "__main__":
    main()
