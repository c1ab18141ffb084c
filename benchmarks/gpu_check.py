"""Device check: ``python -m benchmarks.gpu_check [--device cuda|cpu] [--out DIR] [--quick]``.

The torch backend is tested on CPU in CI; this script is what exercises it on a GPU. It runs the
core cases (elementwise ops, reductions, indexing, dot_general, grad, hessian, jit, vmap, scan,
cond, loops) on the torch backend on the device and compares each result with the NumPy
backend's, in float32 and float64, checking that every result is a ``torch.Tensor`` on that
device. Then it times the MLP training step of ``benchmarks/mlp.py`` for functrace-torch on the
device against hand-written NumPy, and writes a Markdown report
``gpu-check-YYYY-MM-DD-<gpu-name>.md``. The exit status is 1 when any case fails (a case that
raises is a failure with its message, never the end of the run), 2 when the device is missing.

It is meant to run in well under two minutes on a GPU machine, so that a short, budgeted
session on borrowed hardware can run it once and keep the report. ``--device cpu`` runs the
same checks on the CPU (``tests/test_gpu_check_smoke.py`` does, with ``--quick``). On a copy of
the tree (whose ``.git`` may be missing or stale), set ``FUNCTRACE_REVISION`` to record the commit
measured; it takes precedence over git.
"""

from __future__ import annotations

# benchmarks/__init__.py has pinned the BLAS thread pools (one thread) before this import of NumPy.
import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

from benchmarks.common import machine, short_error

# (name, builder): builder(dtype, rng) -> (fn, args); fn runs on the active backend.
CaseBuilder = Callable[[Any, np.random.Generator], tuple[Callable[..., Any], tuple]]
TOLERANCES = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}  # (rtol, atol relative to max |ref|)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[1])
    p.add_argument("--device", default="cuda", type=_device_name, help="cuda (the default), cuda:N or cpu")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"), metavar="DIR",
                   help="directory for the report (default benchmarks/results/)")
    p.add_argument("--quick", action="store_true", help="short timings (a smoke run)")
    return p.parse_args(argv)


def _device_name(text: str) -> str:
    text = text.strip().lower()
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r}: use cuda, cuda:N or cpu")
    return text


def slug(text: str) -> str:
    """``NVIDIA H100 80GB HBM3`` -> ``nvidia-h100-80gb-hbm3`` (for the report's file name)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


# ---------------------------------------------------------------------------- environment
def environment(torch: Any, device: str) -> dict[str, str]:
    """Versions and the device's name; ``error`` is set when the requested device is missing."""
    env = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "cuda": torch.version.cuda or "none (CPU build)", "machine": machine(release=False),
           "revision": _git_revision()}
    if torch.cuda.is_available():
        dev = torch.device(device if device.startswith("cuda") else "cuda")
        props = torch.cuda.get_device_properties(dev)
        env["gpu"] = torch.cuda.get_device_name(dev)
        env["gpu_detail"] = (f"compute capability {props.major}.{props.minor}, "
                             f"{props.total_memory / 2**30:.1f} GiB, {torch.cuda.device_count()} visible")
        env["cudnn"] = str(torch.backends.cudnn.version())
        env["tf32_matmul"] = str(torch.backends.cuda.matmul.allow_tf32)
        env["driver"] = _driver_version()
    else:
        env["gpu"] = "no GPU (torch.cuda.is_available() is False)"
        if device != "cpu":
            env["error"] = f"--device {device} asked for CUDA, but torch finds no GPU; use --device cpu"
    env["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    env["threads"] = f"torch {torch.get_num_threads()}, OMP/BLAS {os.environ.get('OMP_NUM_THREADS', 'unset')}"
    return env


def _quiet(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _git_revision() -> str:
    if os.environ.get("FUNCTRACE_REVISION"):  # said by the caller: a copied tree's .git may be stale
        return os.environ["FUNCTRACE_REVISION"]
    rev = _quiet(["git", "rev-parse", "--short", "HEAD"])
    dirty = _quiet(["git", "status", "--porcelain", "--", "functrace", "transforms", "backends"])
    if not rev:  # a copy of the tree without .git (a borrowed GPU machine): the caller may say
        return os.environ.get("FUNCTRACE_REVISION", "unknown (no git checkout)")
    return rev + (" + uncommitted changes" if dirty else "")


def _driver_version() -> str:
    out = _quiet(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
    return out.splitlines()[0] if out else "unknown"


# ---------------------------------------------------------------------------- core cases
def core_cases() -> tuple[list[tuple[str, CaseBuilder]], list[tuple[str, CaseBuilder]]]:
    """(float cases, run in float32 and float64; integer cases, run once)."""
    import functrace as ft
    import functrace.numpy as fnp
    from benchmarks.mlp import make_loss

    nn, lax = ft.nn, ft.lax

    def elementwise(dt, rng):
        x, y = rng.uniform(-2, 2, (8, 16)).astype(dt), rng.uniform(0.1, 3, 16).astype(dt)
        return (lambda x, y: (fnp.sin(x) * fnp.exp(-x) + fnp.tanh(x * y), fnp.log1p(fnp.abs(x)) / y,
                              fnp.sqrt(y) ** 1.5, fnp.maximum(x, 0.5), fnp.where(x > 0, x, -2 * x),
                              fnp.clip(x, -1, 1), fnp.fmod(x, y), nn.sigmoid(x), x > y)), (x, y)

    def reductions(dt, rng):
        x = rng.normal(size=(8, 16)).astype(dt)
        return (lambda x: (fnp.sum(x), fnp.sum(x, axis=0), fnp.mean(x, axis=1, keepdims=True), fnp.max(x, axis=1),
                           fnp.min(x), fnp.prod(x[:4, :5], axis=0), fnp.var(x, axis=0),
                           nn.logsumexp(x, axis=1), fnp.cumsum(x, axis=1), fnp.argmax(x, axis=1),
                           fnp.argmin(x, axis=0))), (x,)

    def indexing(dt, rng):
        x, order = rng.normal(size=(8, 6)).astype(dt), rng.integers(0, 6, (8, 3))
        rows, cols = np.array([3, 0, 7, 3, -1]), np.array([5, 0, 2])
        return (lambda x, order: (x[1:5, ::2], x[rows], x[:, cols], x[2], x[-1, 3],
                                  fnp.take_along_axis(x, order, axis=1), fnp.take(x, cols, axis=1))), (x, order)

    def matmul(dt, rng):
        a, b = rng.normal(size=(5, 7)).astype(dt), rng.normal(size=(7, 3)).astype(dt)
        c, d = rng.normal(size=(4, 5, 7)).astype(dt), rng.normal(size=(4, 7, 2)).astype(dt)
        return (lambda a, b, c, d: (a @ b, c @ d, fnp.einsum("bij,bjk->bik", c, d),
                                    fnp.tensordot(a, c, axes=([0, 1], [1, 2])), fnp.dot(a[0], b),
                                    fnp.outer(a[0], b[:, 0]), a.T @ a)), (a, b, c, d)

    def grads(dt, rng):
        x, s, idx = rng.normal(size=6).astype(dt), np.asarray(0.7, dt), np.array([0, 2, 2, 5, 0, 0])
        g1 = ft.grad(lambda x: fnp.sum(fnp.sin(x) * x ** 2))
        g2 = ft.grad(lambda x: fnp.sum(x[idx] ** 2))  # repeated indices: scatter_add accumulates
        g3 = ft.grad(ft.grad(lambda s: fnp.sin(s) * s ** 3))
        return (lambda x, s: (g1(x), g2(x), g3(s), ft.jvp(fnp.tanh, (x,), (x,))[1])), (x, s)

    def hessian(dt, rng):
        x, a = rng.normal(size=5).astype(dt), rng.normal(size=(5, 5)).astype(dt)

        def f(x, a):
            return fnp.sum(fnp.tanh(x) ** 2 * x) + x @ a @ x + nn.logsumexp(x)

        def g(x):
            return fnp.sin(x) * fnp.cumsum(x)

        return (lambda x, a: (ft.hessian(f)(x, a), ft.jacfwd(g)(x), ft.jacrev(g)(x))), (x, a)

    def mlp_jit(dt, rng):
        sizes = (8, 16, 16, 4)
        params = tuple(p for m, n in zip(sizes[:-1], sizes[1:], strict=True)
                       for p in (rng.normal(0, m ** -0.5, (m, n)).astype(dt), rng.normal(0, 0.1, n).astype(dt)))
        x, y = rng.normal(size=(5, 8)).astype(dt), np.eye(4, dtype=dt)[rng.integers(0, 4, 5)]
        step = ft.jit(ft.value_and_grad(make_loss(fnp, nn.log_softmax)))
        return (lambda p, x, y: (step(p, x, y), step(p, x, y))), (params, x, y)  # compile, then the cache

    def vmap_grad(dt, rng):
        w, xs, ys = rng.normal(size=3).astype(dt), rng.normal(size=(7, 3)).astype(dt), rng.normal(size=7).astype(dt)
        per_example = ft.vmap(ft.grad(lambda w, x, y: (fnp.tanh(x @ w) - y) ** 2), in_axes=(None, 0, 0))
        return (lambda w, xs, ys: (per_example(w, xs, ys), ft.jit(per_example)(w, xs, ys))), (w, xs, ys)

    def scan(dt, rng):
        h0, xs = rng.normal(size=4).astype(dt), rng.normal(size=(6, 3)).astype(dt)
        w, u = rng.normal(0, 0.5, (4, 4)).astype(dt), rng.normal(0, 0.5, (3, 4)).astype(dt)

        def rnn(h0, xs, w, u):
            h, ys = lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), fnp.sum(h)), h0, xs)
            return fnp.sum(h) + fnp.sum(ys)

        return (lambda *a: (rnn(*a), ft.grad(rnn, argnums=(2, 3))(*a), ft.jit(ft.grad(rnn, argnums=0))(*a),
                            lax.scan(lambda c, x: (c + x, c * x), xs[0], xs))), (h0, xs, w, u)

    def cond_loops(dt, rng):
        x = rng.uniform(0.5, 1.5, 5).astype(dt)

        def branchy(x, s):
            return fnp.sum(lax.cond(s > 0, lambda x: fnp.sin(x) * s, lambda x: fnp.cos(x) - s, x))

        def loops(x):
            v = lax.fori_loop(0, 5, lambda i, v: v * 0.9 + fnp.sin(v), x)
            return fnp.sum(v) + fnp.sum(lax.while_loop(lambda v: fnp.sum(v) < 100, lambda v: v * 2 + 1, x))

        return (lambda x: (branchy(x, 1.5), branchy(x, -1.5), ft.grad(branchy)(x, 1.5), ft.grad(branchy)(x, -1.5),
                           ft.jit(branchy)(x, -0.5), loops(x), ft.grad(lambda x: fnp.sum(lax.fori_loop(
                               0, 5, lambda i, v: v * 0.9 + fnp.sin(v), x)))(x))), (x,)

    def integers(dt, rng):
        a, b = rng.integers(-50, 50, (6, 5)).astype(np.int32), rng.integers(-50, 50, (5, 4)).astype(np.int32)
        return (lambda a, b: (fnp.matmul(a, b), a // 7, a % 7, fnp.fmod(a, -3), fnp.sum(a, axis=0),
                              fnp.argmax(a, axis=1), fnp.cumsum(a, axis=0), fnp.maximum(a, b[0, 0]))), (a, b)

    floats = [("elementwise", elementwise), ("reductions", reductions), ("indexing/gather", indexing),
              ("dot_general/matmul/einsum", matmul), ("grad, grad of grad, jvp", grads),
              ("hessian, jacfwd, jacrev", hessian), ("jit(value_and_grad) of an MLP", mlp_jit),
              ("vmap(grad), jit(vmap(grad))", vmap_grad), ("lax.scan and its grad", scan),
              ("lax.cond, fori_loop, while_loop", cond_loops)]
    return floats, [("integer matmul, //, %, fmod, sum, argmax", integers)]


def misplaced(leaves: list[Any], device: Any) -> list[str]:
    """What is wrong with where the results live: each must be a ``torch.Tensor`` on ``device``."""
    import torch

    problems = []
    for i, g in enumerate(leaves):
        if not isinstance(g, torch.Tensor):
            problems.append(f"result {i} is a {type(g).__name__}, not a torch.Tensor")
        elif g.device != device:
            problems.append(f"result {i} is on {g.device}, not {device}")
    return problems


def compare(ref: list[Any], got: list[Any], device: Any, dtype: str) -> tuple[bool, float, str]:
    """Compare a torch result's leaves with the NumPy backend's: ``(ok, max abs error, message)``.

    Every leaf must be a ``torch.Tensor`` on ``device`` with the reference's shape and dtype;
    floats must agree within ``TOLERANCES[dtype]`` (atol scaled by the reference's magnitude),
    integers and booleans exactly.
    """
    if len(ref) != len(got):
        return False, float("nan"), f"{len(got)} results, the NumPy backend gave {len(ref)}"
    rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
    worst, problems = 0.0, misplaced(got, device)
    for i, (r, g) in enumerate(zip(ref, got, strict=True)):
        if not hasattr(g, "detach"):
            continue  # reported by misplaced
        r, g = np.asarray(r), g.detach().cpu().numpy()
        if r.shape != g.shape or r.dtype != g.dtype:
            problems.append(f"result {i} is {g.dtype}{list(g.shape)}, the NumPy backend's {r.dtype}{list(r.shape)}")
            continue
        if r.dtype.kind not in "fc":
            if not np.array_equal(r, g):
                problems.append(f"result {i} ({r.dtype}) differs")
            continue
        err = np.abs(g.astype(np.float64) - r.astype(np.float64))
        worst = max(worst, float(np.max(err, initial=0.0)))
        scale = max(1.0, float(np.max(np.abs(r), initial=0.0)))
        tol = atol * scale + rtol * np.abs(r.astype(np.float64))
        if not np.all(err <= tol):
            problems.append(f"result {i} off by {float(np.max(err / tol)):.1f}x the tolerance")
    return not problems, worst, "; ".join(problems)


def run_core(device: Any, log: Callable[[str], None],
             plan: list[tuple[str, CaseBuilder, str]] | None = None) -> list[dict[str, Any]]:
    """Every case of ``plan`` (default: the core cases in float32 and float64, integer cases once),
    on numpy and then on the device; a case that raises is a failure carrying its message."""
    import functrace as ft

    rows = []
    if plan is None:
        floats, ints = core_cases()
        plan = [(n, b, dt) for dt in ("float32", "float64") for n, b in floats] + [(n, b, "int32") for n, b in ints]
    for name, build, dtype in plan:
        row = {"case": name, "dtype": dtype, "ok": False, "err": float("nan"), "note": "", "s": 0.0}
        t0 = time.perf_counter()
        try:
            fn, args = build(np.dtype(dtype), np.random.default_rng(0))
            with ft.use_backend("numpy"):
                ref = ft.tree_util.tree_leaves(fn(*args))
            with ft.use_backend("torch") as b:
                got = ft.tree_util.tree_leaves(fn(*ft.tree_util.tree_map(b.asarray, args)))
            row["ok"], row["err"], row["note"] = compare(ref, got, device, dtype)
        except Exception as e:  # one broken case must not end the run
            row["note"] = short_error(e)
        row["s"] = time.perf_counter() - t0
        rows.append(row)
        log(f"{'PASS' if row['ok'] else 'FAIL'}  {dtype:8s} {name:42s} max abs err {row['err']:.2e}  "
            f"({row['s']:.2f} s){'  ' + row['note'] if row['note'] else ''}")
    return rows


def default_backend_row(device: Any) -> dict[str, Any]:
    """FUNCTRACE_BACKEND/FUNCTRACE_DEVICE were honoured: the default backend is torch on the device."""
    import functrace as ft
    import functrace.numpy as fnp
    from functrace.backends.registry import active_backend

    row = {"case": "FUNCTRACE_BACKEND/DEVICE select torch on the device", "dtype": "-", "ok": False,
           "err": 0.0, "note": "", "s": 0.0}
    try:
        got = ft.grad(lambda x: fnp.sum(x ** 3))(np.ones(3, np.float32))
        b = active_backend()
        row["ok"], _, row["note"] = compare([np.full(3, 3.0, np.float32)], [got], device, "float32")
        if b.name != "torch" or b.device != device:
            row["ok"], row["note"] = False, f"the default backend is {b.name} on {getattr(b, 'device', 'cpu')}"
    except Exception as e:
        row["note"] = short_error(e)
    return row


# ---------------------------------------------------------------------------- MLP timing
def time_step(step: Callable[[], Any], sync: Callable[[], None], repeat: int, min_time: float) -> tuple[float, float]:
    """(median, best) seconds per call; ``sync`` (torch.cuda.synchronize) closes every repeat."""

    def run(number: int) -> float:
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        sync()
        return time.perf_counter() - t0

    number = 1
    while (elapsed := run(number)) < min_time and number < 1 << 16:
        number = max(2 * number, int(number * min_time / max(elapsed, 1e-6) * 1.1) + 1)
    samples = [elapsed / number] + [run(number) / number for _ in range(repeat - 1)]
    return statistics.median(samples), min(samples)


def run_mlp(torch: Any, device: Any, quick: bool, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The MLP step of benchmarks/mlp.py: hand-written NumPy, functrace on the device, torch autograd."""
    import functrace as ft
    from benchmarks import baselines, mlp
    from benchmarks.common import assert_allclose_tree

    params, x, onehot = mlp.data()
    reference = baselines.mlp_value_and_grad(params, x, onehot)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with ft.use_backend("torch") as b:
        dev_args = ft.tree_util.tree_map(b.asarray, (params, x, onehot))

    def functrace_step(jit: bool) -> Callable[[], Any]:
        fn = ft.value_and_grad(mlp.functrace_loss())
        fn = ft.jit(fn) if jit else fn

        def step():
            with ft.use_backend("torch"):
                return fn(*dev_args)

        return step

    def torch_step() -> Callable[[], Any]:
        tp = [t.clone().requires_grad_() for t in dev_args[0]]
        loss_fn = mlp.torch_loss(torch)

        def step():
            loss = loss_fn(tp, dev_args[1], dev_args[2])
            return loss.detach(), torch.autograd.grad(loss, tp)

        return step

    impls = [("numpy (hand-written, CPU)", "cpu", lambda: lambda: baselines.mlp_value_and_grad(params, x, onehot)),
             ("functrace jit, torch backend", str(device), lambda: functrace_step(True)),
             ("functrace eager, torch backend", str(device), lambda: functrace_step(False)),
             ("torch autograd (reference)", str(device), torch_step)]
    repeat, min_time = (3, 0.01) if quick else (7, 0.1)
    rows = []
    for name, where, build in impls:
        row: dict[str, Any] = {"impl": name, "device": where, "ok": False, "note": ""}
        try:
            sync()
            t0 = time.perf_counter()
            step = build()
            out = step()
            sync()
            row["first_s"] = time.perf_counter() - t0
            assert_allclose_tree(out, reference, rtol=1e-4, atol=1e-6)
            problems = misplaced(ft.tree_util.tree_leaves(out), device) if name.startswith("functrace") else []
            if problems:
                raise AssertionError("; ".join(problems))
            row["median_s"], row["best_s"] = time_step(step, sync, repeat, min_time)
            row["ok"] = True
        except Exception as e:
            row["note"] = short_error(e)
        rows.append(row)
    base = rows[0].get("median_s")
    for row in rows:
        if base and row.get("median_s"):
            row["ratio"] = row["median_s"] / base
        log(f"{'PASS' if row['ok'] else 'FAIL'}  mlp step  {row['impl']:32s} {row['device']:8s} "
            f"median {_ms(row.get('median_s'))}  best {_ms(row.get('best_s'))}  first call {_ms(row.get('first_s'))}"
            f"{'  ' + row['note'] if row['note'] else ''}")
    return rows


def _shown(path: str) -> str:
    """The path relative to the working directory when it is below it (no machine paths in logs)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _ms(s: float | None) -> str:
    return "n/a" if s is None else f"{s * 1e3:.3g} ms"


# ---------------------------------------------------------------------------- report
def render(env: dict[str, str], device: str, quick: bool, core: list[dict], mlp_rows: list[dict],
           wall_s: float) -> str:
    passed = sum(r["ok"] for r in core)
    lines = [f"# functrace device check: {env['gpu'] if device != 'cpu' else 'CPU'} ({env['date']})", "",
             f"`python -m benchmarks.gpu_check --device {device}{' --quick' if quick else ''}`, "
             f"{wall_s:.0f} s in all.", "",
             f"- device: `{device}`; GPU: {env['gpu']}" + (f" ({env['gpu_detail']})" if "gpu_detail" in env else ""),
             f"- versions: Python {env['python']}, NumPy {env['numpy']}, PyTorch {env['torch']}, CUDA {env['cuda']}"
             + (f", cuDNN {env['cudnn']}, driver {env['driver']}" if "cudnn" in env else ""),
             f"- functrace revision: {env['revision']}",
             f"- host: {env['machine']}; threads: {env['threads']}",
             f"- float32 matmul precision: {env['float32_matmul_precision']}"
             + (f", TF32 matmul allowed: {env['tf32_matmul']}" if "tf32_matmul" in env else ""), "",
             f"## Core cases: {passed}/{len(core)} pass", "",
             "Each case runs on the NumPy backend and on the torch backend on the device; every torch result must be "
             "a `torch.Tensor` on the device with the NumPy result's shape and dtype, and agree within "
             + ", ".join(f"rtol {r:g} / atol {a:g}·max(1, max|ref|) in {d}" for d, (r, a) in TOLERANCES.items())
             + " (integers exactly).", "",
             "| case | dtype | result | max abs error | seconds | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['dtype']} | {'PASS' if r['ok'] else '**FAIL**'} | {r['err']:.2e} | {r['s']:.2f} | "
              f"{r['note'].replace('|', '/')} |" for r in core]
    lines += ["", "## MLP training step", "",
              "`value_and_grad` of the mean softmax cross-entropy of a 64→256→256→10 tanh MLP, batch 256, float32 "
              "(the `mlp` workload of `benchmarks/`). Every result is checked against the hand-written NumPy one "
              "(rtol 1e-4) before it is timed; times are the median and best of "
              f"{3 if quick else 7} repeats, each closed by `torch.cuda.synchronize()` on a GPU. "
              "The first call includes building the step (for jit: tracing and lowering) and CUDA warm-up.", "",
              "| implementation | device | median | best | × numpy | first call | check |",
              "|---|---|---|---|---|---|---|"]
    for r in mlp_rows:
        ratio = f"{r['ratio']:.2f}×" if r.get("ratio") else "n/a"
        check = "ok" if r["ok"] else "**FAIL** " + r["note"].replace("|", "/")
        lines.append(f"| {r['impl']} | {r['device']} | {_ms(r.get('median_s'))} | {_ms(r.get('best_s'))} | {ratio} | "
                     f"{_ms(r.get('first_s'))} | {check} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    # Before functrace is imported: the default backend is torch on the requested device.
    os.environ["FUNCTRACE_BACKEND"] = "torch"
    os.environ["FUNCTRACE_DEVICE"] = args.device
    try:
        import torch
    except ImportError:
        print("torch is not installed: pip install torch", file=sys.stderr)
        return 2
    env = environment(torch, args.device)
    env["date"] = datetime.date.today().isoformat()
    print(f"PyTorch {env['torch']}, CUDA {env['cuda']}; GPU: {env['gpu']}; device {args.device}", flush=True)
    if "error" in env:
        print(env["error"], file=sys.stderr)
        return 2
    from functrace.backends.registry import load_backend

    try:
        device = load_backend("torch").device
    except Exception as e:
        print(f"the torch backend failed to load: {short_error(e)}", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, flush=True)

    core = [default_backend_row(device)]
    log(f"{'PASS' if core[0]['ok'] else 'FAIL'}  {core[0]['case']}  {core[0]['note']}")
    core += run_core(device, log)
    mlp_rows = run_mlp(torch, device, args.quick, log)
    text = render(env, args.device, args.quick, core, mlp_rows, time.perf_counter() - start)
    name = f"gpu-check-{env['date']}-{slug(env['gpu']) if device.type == 'cuda' else 'cpu'}.md"
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    failed = [r for r in core if not r["ok"]] + [r for r in mlp_rows if not r["ok"]]
    print(f"{len(core) - sum(not r['ok'] for r in core)}/{len(core)} core cases pass, "
          f"{sum(r['ok'] for r in mlp_rows)}/{len(mlp_rows)} MLP rows ok; report: {_shown(path)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
