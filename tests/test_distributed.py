"""Collectives across processes (functrace.distributed on torch.distributed with gloo, 127.0.0.1).

Each test starts 2 or 3 copies of this file (``python tests/test_distributed.py SCENARIO``) as
torchrun would (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), waits a bounded time and
kills them on a timeout, so the suite never hangs. A scenario groups many checks per start:

- ``values``: every collective's values, under jit and grad, against the same per-member program
  run in one process by ``vmap(..., axis_name="batch")`` (the reference); a vmap axis inside the
  process axis; the data-parallel recipe (an MLP in float64 trained with functrace.optim, its
  parameters equal to one process's on the whole batch to 1e-12 after every step, with
  ``pmean`` of the gradients and with a loss that calls ``pmean`` itself, eager and jitted);
  then processes that disagree on a shape, which all get an error.
- ``raises``: one process raises; the others' next collective fails at once, naming it.
- ``join``: a process never starts; the rendezvous times out naming the missing rank.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WAIT = 90  # seconds a whole spawned run may take before it is killed


# ---------------------------------------------------------------------------- the parent (pytest)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(scenario: str, n: int, backend: str = "numpy", ranks: list[int] | None = None,
          timeout: float = WAIT) -> list[tuple[int, str]]:
    """Run ``ranks`` (default all) of an ``n``-process group; [(returncode, output)] per rank.
    Every process is killed if the run outlasts ``timeout``."""
    port = _free_port()
    procs = []
    for r in (range(n) if ranks is None else ranks):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(n), LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), FUNCTRACE_BACKEND=backend, OMP_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([ROOT, HERE, os.environ.get("PYTHONPATH", "")]))
        procs.append(subprocess.Popen([sys.executable, __file__, scenario], env=env, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + timeout
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((p.returncode, out))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        outs = [p.communicate()[0] for p in procs]
        pytest.fail(f"{scenario} with {n} processes did not finish within {timeout} s:\n" + "\n---\n".join(outs))
    return results


def _report(results: list) -> str:
    return "\n".join(f"--- rank {i} (exit {rc}):\n{out}" for i, (rc, out) in enumerate(results))


needs_torch = pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is None,
    reason="functrace.distributed runs on torch.distributed: torch is not installed")


@needs_torch
@pytest.mark.parametrize("n,backend", [(2, "numpy"), (3, "torch")])
def test_collectives_grad_jit_and_the_data_parallel_recipe(n, backend):
    results = spawn("values", n, backend)
    assert all(rc == 0 for rc, _ in results), _report(results)
    assert all("ALL CHECKS PASSED" in out for _, out in results), _report(results)
    assert all("disagree" in out for _, out in results), _report(results)


@needs_torch
def test_a_process_that_raises_is_named_by_the_others():
    results = spawn("raises", 3)
    (rc0, out0), (rc1, out1), (rc2, out2) = results
    assert rc1 != 0 and "RuntimeError: boom on purpose" in out1, _report(results)
    for rc, out in ((rc0, out0), (rc2, out2)):
        assert rc == 0, _report(results)
        assert "DistributedError" in out and "process 1 raised: RuntimeError: boom on purpose" in out, _report(results)


@needs_torch
def test_a_process_that_never_joins_is_named():
    t0 = time.monotonic()
    results = spawn("join", 2, ranks=[0], timeout=60)
    (rc, out), = results
    assert rc == 0, _report(results)
    assert "process(es) [1] did not join" in out, out
    assert time.monotonic() - t0 < 45


def test_without_initialize_the_process_functions_say_one_process():
    import functrace as ft

    assert ft.distributed.process_index() == 0 and ft.distributed.process_count() == 1
    assert not ft.distributed.is_initialized()
    ft.distributed.shutdown()  # a no-op


def test_initialize_without_rank_or_port_is_a_clear_error(monkeypatch):
    pytest.importorskip("torch")
    import functrace as ft
    from functrace.errors import DistributedError

    for var in ("RANK", "WORLD_SIZE", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DistributedError, match="torchrun"):
        ft.distributed.initialize()
    with pytest.raises(DistributedError, match="MASTER_PORT"):
        ft.distributed.initialize(rank=0, world_size=1)
    with pytest.raises(DistributedError, match="outside"):
        ft.distributed.initialize(rank=2, world_size=2, master_port=1)
    assert not ft.distributed.is_initialized()


class _Work:
    """A stand-in for a torch.distributed work handle: done after ``polls`` polls."""

    def __init__(self, polls: int):
        self.polls, self.seen, self.waited = polls, 0, False

    def is_completed(self) -> bool:
        self.seen += 1
        return self.seen > self.polls

    def wait(self) -> None:
        self.waited = True


@pytest.mark.parametrize("backend,polled", [("gloo", True), ("nccl", False)])
def test_a_cpu_collective_is_polled_before_its_wait_blocks(backend, polled):
    """On gloo the wait polls (a blocked core wakes slowly on a virtual machine), then still calls
    wait (which raises a failed collective's error); NCCL's wait is called at once."""
    from functrace.distributed import ProcessAxis

    axis = ProcessAxis(name="batch", rank=0, size=2, backend=backend, device=None, timeout=1.0)
    work = _Work(polls=5)
    axis._finish(work)
    assert work.waited and work.seen == (6 if polled else 0)


def test_a_polled_wait_gives_up_polling_after_spin_seconds(monkeypatch):
    import functrace.distributed as D

    monkeypatch.setattr(D, "SPIN_SECONDS", 0.01)
    axis = D.ProcessAxis(name="batch", rank=0, size=2, backend="gloo", device=None, timeout=1.0)
    work = _Work(polls=10**12)
    t0 = time.monotonic()
    axis._finish(work)
    assert work.waited and time.monotonic() - t0 < 5


# ---------------------------------------------------------------------------- the workers
def _close(got, want, what, tol=1e-12):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


def _member_programs(lax, fnp, ft):
    """Per-member programs: run across processes (axis "batch") and, as the reference, under
    vmap(..., axis_name="batch") in one process."""
    n = lax.axis_size("batch")

    def grad_through(x):
        w = fnp.sin(x[:2]) + 1.0
        return ft.grad(lambda u: lax.psum(fnp.sum(fnp.sin(u * x[:2])), "batch") + fnp.sum(
            lax.all_gather(u, "batch") ** 2))(w)

    return {
        "psum": lambda x: lax.psum(x, "batch"),
        "pmean": lambda x: lax.pmean(x, "batch"),
        "pmax_pmin": lambda x: (lax.pmax(x, "batch"), lax.pmin(x, "batch")),
        "pytree_int": lambda x: lax.psum({"a": x, "b": fnp.asarray(x > 0, dtype=np.int32)}, "batch"),
        "all_gather": lambda x: lax.all_gather(x, "batch"),
        "all_gather_axis1_tiled": lambda x: lax.all_gather(x.reshape(2, 3), "batch", axis=1, tiled=True),
        "psum_scatter": lambda x: lax.psum_scatter(fnp.stack([x[:2] * k for k in range(n)]), "batch"),
        "psum_scatter_tiled": lambda x: lax.psum_scatter(fnp.concatenate([x] * n), "batch", tiled=True),
        "ppermute": lambda x: lax.ppermute(x, "batch", [(k, (k + 1) % n) for k in range(n)]),
        "ppermute_partial": lambda x: lax.ppermute(x, "batch", [(0, n - 1)]),
        "axis_index": lambda x: x * lax.axis_index("batch"),
        "scalars": lambda x: (lax.all_gather(x[0], "batch"), lax.psum_scatter(x[:n], "batch"),
                              lax.ppermute(x[1], "batch", [(k, (k + 1) % n) for k in range(n)]),
                              lax.psum(x[2], "batch")),
        "jit": ft.jit(lambda x: x / lax.psum(x, "batch") + lax.all_gather(x, "batch")[0]),
        "grad": grad_through,
        "jit_grad": ft.jit(grad_through),
        "grad_psum_scatter": ft.grad(lambda x: fnp.sum(fnp.cos(lax.psum_scatter(fnp.stack([x[:2]] * n), "batch")))),
        "grad_ppermute": ft.grad(lambda x: fnp.sum(lax.ppermute(x * x, "batch", [(k, (k + 1) % n)
                                                                                 for k in range(n)]) * x)),
        "vmap_inside": lambda x: ft.vmap(lambda v: lax.psum(v, ("i", "batch")) - lax.pmean(v, "batch"),
                                         axis_name="i")(x.reshape(3, 2)),
    }


def _mlp(fnp, ft):
    def predict(params, x):
        h = fnp.tanh(x @ params[0]["w"] + params[0]["b"])
        return h @ params[1]["w"] + params[1]["b"]

    def local_loss(params, x, y):
        return fnp.mean(fnp.sum((predict(params, x) - y) ** 2, axis=1))

    return local_loss


def _recipe(ft, fnp, lax, rank, n) -> None:
    from functrace import optim

    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((12 * n, 5)), rng.standard_normal((12 * n, 2))
    params0 = [{"w": rng.standard_normal((5, 8)) * 0.5, "b": np.zeros(8)},
               {"w": rng.standard_normal((8, 2)) * 0.5, "b": np.zeros(2)}]
    xs, ys = fnp.asarray(X[rank * 12:(rank + 1) * 12]), fnp.asarray(Y[rank * 12:(rank + 1) * 12])
    X, Y = fnp.asarray(X), fnp.asarray(Y)
    local_loss = _mlp(fnp, ft)
    opt = optim.adam(0.05)

    def pmean_grads(params, x, y):
        return lax.pmean(ft.grad(local_loss)(params, x, y), "batch")

    def loss_with_pmean(params, x, y):  # the loss averages over the processes itself
        return lax.pmean(local_loss(params, x, y), "batch")

    def grads_of_pmean_loss(params, x, y):  # JAX's convention: the gradient is still per process
        value, g = ft.value_and_grad(loss_with_pmean)(params, x, y)
        return lax.pmean(g, "batch"), value

    recipes = {"pmean(grad)": pmean_grads, "jit pmean(grad)": ft.jit(pmean_grads),
               "grad(pmean loss)": lambda p, x, y: grads_of_pmean_loss(p, x, y)[0],
               "jit grad(pmean loss)": ft.jit(lambda p, x, y: grads_of_pmean_loss(p, x, y)[0])}
    for name, step_grads in recipes.items():
        ref_p, ref_s = params0, opt.init(params0)
        p, s = params0, opt.init(params0)
        for step in range(4):
            g_ref = ft.grad(local_loss)(ref_p, X, Y)  # one process, the whole batch
            u, ref_s = opt.update(g_ref, ref_s, ref_p)
            ref_p = optim.apply_updates(ref_p, u)
            u, s = opt.update(step_grads(p, xs, ys), s, p)
            p = optim.apply_updates(p, u)
            for a, b in zip(ft.tree_util.tree_leaves(ft.device_get(p)), ft.tree_util.tree_leaves(
                    ft.device_get(ref_p)), strict=True):
                _close(a, b, f"recipe {name}, step {step}")
        value = grads_of_pmean_loss(p, xs, ys)[1]
        _close(ft.device_get(value), ft.device_get(local_loss(p, X, Y)), f"recipe {name}: the global loss")
    print("recipe ok", flush=True)


def worker_values() -> None:
    import functrace as ft
    import functrace.numpy as fnp
    from functrace import lax
    from functrace.errors import DistributedError

    ft.distributed.initialize(axis_name="batch", timeout=60)
    rank, n = ft.distributed.process_index(), ft.distributed.process_count()
    assert rank == int(os.environ["RANK"]) and n == int(os.environ["WORLD_SIZE"])
    assert lax.axis_size("batch") == n
    assert int(ft.device_get(lax.axis_index("batch"))) == rank
    X = np.random.default_rng(0).standard_normal((n, 6))
    text = str(ft.make_jaxpr(lambda x: lax.psum(x, "batch"))(X[rank]))
    assert "psum[axes=('batch',)]" in text, text
    for name, prog in _member_programs(lax, fnp, ft).items():
        got = ft.tree_util.tree_leaves(ft.device_get(prog(fnp.asarray(X[rank]))))
        ref = ft.tree_util.tree_leaves(ft.device_get(ft.vmap(prog, axis_name="batch")(X)))
        assert len(got) == len(ref), name
        for g, r in zip(got, ref, strict=True):
            _close(g, np.asarray(r)[rank], name)
    # the caller's arrays are left alone, and the results are the caller's
    x = X[rank].copy()
    out = ft.device_get(lax.psum(x, "batch"))
    np.testing.assert_array_equal(x, X[rank])
    out[...] = 0
    print("collectives ok", flush=True)
    _recipe(ft, fnp, lax, rank, n)
    # processes that disagree on a shape: every one of them gets an error
    try:
        lax.psum(np.ones(3 + rank), "batch")
    except DistributedError as e:
        print(f"mismatch: {e}", flush=True)
    else:
        raise AssertionError("a shape mismatch between processes went unnoticed")
    lax.psum(np.ones(2), "batch")  # and they stay in step afterwards
    ft.distributed.shutdown()
    print("ALL CHECKS PASSED", flush=True)


def worker_raises() -> None:
    import functrace as ft
    from functrace import lax
    from functrace.errors import DistributedError

    ft.distributed.initialize(axis_name="batch", timeout=30)
    lax.psum(np.ones(2), "batch")
    if ft.distributed.process_index() == 1:
        raise RuntimeError("boom on purpose")
    if ft.distributed.process_index() == 2:
        # Arrive late: process 0 has seen the failure and finished by now, and its rendezvous
        # store (which names the rank that raised) must outlive it until this process has read it.
        time.sleep(1.0)
    try:
        lax.psum(np.ones(2), "batch")
    except DistributedError as e:
        print(f"DistributedError: {e}", flush=True)
        return
    raise AssertionError("the collective succeeded without process 1")


def worker_join() -> None:
    import functrace as ft
    from functrace.errors import DistributedError

    try:
        ft.distributed.initialize(axis_name="batch", timeout=4)
    except DistributedError as e:
        print(f"DistributedError: {e}", flush=True)
        return
    raise AssertionError("initialize returned without process 1")


if __name__ == "__main__":
    {"values": worker_values, "raises": worker_raises, "join": worker_join}[sys.argv[1]]()
