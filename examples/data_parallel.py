"""Data-parallel training of the digits MLP (examples/mlp_digits.py) on several processes.

    torchrun --standalone --nproc_per_node=2 examples/data_parallel.py [--epochs 10] [--out DIR]
    python examples/data_parallel.py --processes 2      # the same: starts torchrun itself

Every process runs the same program: ``ft.distributed.initialize(axis_name="batch")`` joins the
process group torchrun set up (gloo on CPU, NCCL with the torch backend on GPUs), each step takes
its own slice of the global batch, and ``lax.pmean(grads, "batch")`` inside the jitted step
averages the gradients over the processes, so every process applies the same update and the
parameters stay identical everywhere. Process 0 alone prints (the global loss and each process's
own) and, to check the whole thing, trains a second copy of the model in one process on the full
global batches: the two must agree to float32 rounding. The curves are saved as
``data_parallel.png`` in ``--out`` (default ``$FUNCTRACE_EXAMPLES_OUT`` or ``examples/out``).
See docs/distributed.md for several machines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import functrace as ft
from functrace import lax, optim

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlp_digits  # noqa: E402  -- the model, loss and plotting of the one-process example

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def make_train_step(optimiser: optim.GradientTransformation, axis_name: str | None):
    """The jitted step; with ``axis_name`` it averages the gradients over the processes (one
    all_reduce of every gradient leaf together) and returns every process's loss."""
    @ft.jit
    def train_step(params: list[dict], opt_state: Any, x: Any, y: Any) -> tuple[list[dict], Any, Any]:
        value, grads = ft.value_and_grad(mlp_digits.loss)(params, x, y)
        if axis_name is not None:
            grads = lax.pmean(grads, axis_name)
            value = lax.all_gather(value, axis_name)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, value

    return train_step


def launch(nproc: int, argv: list[str]) -> dict[str, Any]:
    """Run this file under torchrun with ``nproc`` processes on this machine (on the active
    backend), print what process 0 printed, and return the numbers it printed."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           __file__, *argv]
    here = str(Path(ft.__file__).resolve().parents[1])  # the processes import this same functrace
    env = dict(os.environ, FUNCTRACE_BACKEND=ft.get_backend(),
               PYTHONPATH=os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    print(proc.stdout, end="", flush=True)
    if proc.returncode:
        print(proc.stderr, end="", file=sys.stderr, flush=True)
        raise SystemExit(proc.returncode)
    out = proc.stdout
    return {"test_accuracy": float(out.rsplit("test accuracy ", 1)[1].split()[0]),
            "max_param_diff": float(out.split("largest parameter difference ")[1].split()[0]),
            "png": Path(out.rsplit("curves saved to ", 1)[1].strip()), "stdout": out}


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Train data-parallel; on process 0, print progress and the check, save the curves, and return
    the accuracies, the losses, the largest parameter difference to one process and the PNG path."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few epochs, for the smoke test")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 10, quick 2)")
    ap.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    ap.add_argument("--batch", type=int, default=128, help="global batch size, split over the processes")
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    ap.add_argument("--processes", type=int, default=2, help="processes, when started without torchrun (default 2)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("FUNCTRACE_EXAMPLES_OUT", DEFAULT_OUT)),
                    help="directory for the PNG (default: $FUNCTRACE_EXAMPLES_OUT or examples/out)")
    args = ap.parse_args(argv)
    if "RANK" not in os.environ:  # not under torchrun: start it
        rest = list(sys.argv[1:] if argv is None else argv)
        for i, a in enumerate(rest):  # the workers need not know
            if a == "--processes":
                del rest[i:i + 2]
                break
            if a.startswith("--processes="):
                del rest[i]
                break
        return launch(args.processes, rest)
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 10)

    ft.distributed.initialize(axis_name="batch")
    rank, nproc = ft.distributed.process_index(), ft.distributed.process_count()
    say = print if rank == 0 else (lambda *a, **k: None)
    if args.batch % nproc:
        raise SystemExit(f"--batch {args.batch} must be a multiple of the {nproc} processes")
    local = args.batch // nproc

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, labels = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, l_tr, l_te = train_test_split(x, labels, test_size=0.2, random_state=0, stratify=labels)
    y_tr = np.eye(10, dtype=np.float32)[l_tr]
    say(f"digits: {len(x_tr)} training images; {nproc} processes x {local} examples per step; "
        f"backend: {ft.get_backend()}")

    optimiser = optim.adam(args.lr)
    params = mlp_digits.init_params([64, args.hidden, 10], ft.random.PRNGKey(0))  # the same on every process
    opt_state = optimiser.init(params)
    step = make_train_step(optimiser, "batch")
    ref_params, ref_state = params, opt_state  # process 0's one-process copy, on the whole global batch
    ref_step = make_train_step(optimiser, None) if rank == 0 else None

    rng = np.random.default_rng(0)  # the same order on every process
    losses, train_acc, test_acc = [], [], []
    for epoch in range(epochs):
        order = rng.permutation(len(x_tr))
        totals = np.zeros(nproc)
        n_steps = len(order) // args.batch
        for i in range(n_steps):
            idx = order[i * args.batch:(i + 1) * args.batch]
            mine = idx[rank * local:(rank + 1) * local]
            params, opt_state, values = step(params, opt_state, x_tr[mine], y_tr[mine])
            totals += np.asarray(ft.device_get(values))
            if ref_step is not None:
                ref_params, ref_state, _ = ref_step(ref_params, ref_state, x_tr[idx], y_tr[idx])
        per_process = totals / n_steps
        losses.append(float(per_process.mean()))
        train_acc.append(mlp_digits.accuracy(params, x_tr, l_tr))
        test_acc.append(mlp_digits.accuracy(params, x_te, l_te))
        say(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} (per process: "
            + ", ".join(f"{v:.4f}" for v in per_process) + f"), test accuracy {test_acc[-1]:.3f}", flush=True)

    result = None
    if rank == 0:
        diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(
            ft.tree_util.tree_leaves(ft.device_get(params)), ft.tree_util.tree_leaves(ft.device_get(ref_params)),
            strict=True))
        ok = diff < 1e-4
        print(f"check against one process on the whole batch: largest parameter difference {diff:.2e} "
              f"({'ok' if ok else 'MISMATCH'})", flush=True)
        png = args.out / "data_parallel.png"
        mlp_digits.save_curves(png, losses, train_acc, test_acc)
        print(f"test accuracy {test_acc[-1]:.3f} after {epochs} epochs; curves saved to {png}", flush=True)
        result = {"test_accuracy": test_acc[-1], "losses": losses, "max_param_diff": diff, "png": png}
        if not ok:
            ft.distributed.shutdown()
            raise SystemExit("the data-parallel parameters differ from the one-process run")
    ft.distributed.shutdown()
    return result


if __name__ == "__main__":
    main()
