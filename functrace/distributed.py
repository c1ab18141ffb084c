"""Data parallelism across processes on ``torch.distributed``: a named axis bound to a process group.

Every process runs the same program on its own shard of the data; ``initialize(axis_name="batch")``
starts ``torch.distributed`` (gloo for the NumPy backend and torch on CPU, NCCL for torch on CUDA,
each process on its ``LOCAL_RANK`` GPU) and binds the name, so ``lax.psum(g, "batch")`` and the
other collectives (``functrace.lax``) combine the processes' values::

    ft.distributed.initialize(axis_name="batch")          # under torchrun: reads RANK, WORLD_SIZE, ...
    grads = ft.grad(loss)(params, local_batch)
    grads = lax.pmean(grads, "batch")                      # the full-batch gradient, on every process

Launch with ``torchrun --nproc_per_node=N script.py`` (see docs/distributed.md). What keeps the
processes from hanging:

- the rendezvous waits at most ``timeout`` seconds and names the ranks that never joined;
- every collective first compares a fingerprint of its operation, shapes and dtypes across the
  processes (one small all_gather), so processes that disagree get an error, not a deadlock or
  garbage;
- a collective on the CPU (gloo) is waited for by polling it for up to ``SPIN_SECONDS`` while
  yielding the core, then by blocking: a blocked process's idle core can take a millisecond or
  more to wake on a virtual machine, which was most of a short collective's time (see ``_finish``);
- the process group gets the same ``timeout``; a process that dies or raises closes its
  connections, the others' collectives fail at once, and the error names the rank that raised
  (an uncaught exception is recorded in the rendezvous store before the process exits).
"""

from __future__ import annotations

import atexit
import datetime
import os
import sys
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterator

from functrace.errors import DistributedError
from functrace.ops import _axes as _A

__all__ = ["initialize", "shutdown", "process_index", "process_count", "is_initialized", "ProcessAxis"]

_KEY = "functrace"
SPIN_SECONDS = 0.05  # how long a CPU collective is polled before its wait blocks


def _torch_dist() -> Any:
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        raise DistributedError("functrace.distributed runs on torch.distributed, and torch is not installed: "
                               "install torch (a CPU build is enough for gloo)") from None
    if not dist.is_available():
        raise DistributedError("this torch build has no torch.distributed support")
    return torch, dist


@dataclass
class ProcessAxis:
    """A named axis bound to the default process group: this process's ``rank`` among ``size``."""

    name: Hashable
    rank: int
    size: int
    backend: str
    device: Any
    timeout: float
    store: Any = None
    serves_store: bool = False  # process 0 serving the rendezvous store (not under torchrun's agent)
    _prev_hook: Any = field(default=None, repr=False)

    # -- the checks every collective makes first
    def check(self, what: str) -> None:
        """Refuse (on every process alike) a collective whose operation, shapes or dtypes differ
        between the processes: a cheap all_gather of one fingerprint, then the descriptions on a
        mismatch."""
        torch, dist = _torch_dist()
        code = zlib.crc32(what.encode()) - 2**31
        mine = torch.tensor([code], dtype=torch.int64, device=self.device)
        every = [torch.empty_like(mine) for _ in range(self.size)]
        with self.guard(what):
            self._finish(dist.all_gather(every, mine, async_op=True))
        if all(int(e.item()) == code for e in every):
            return
        descriptions: list = [None] * self.size
        with self.guard(what):
            dist.all_gather_object(descriptions, what)
        lines = "\n".join(f"  process {r}: {d}" for r, d in enumerate(descriptions))
        raise DistributedError(
            f"the processes disagree on a collective over axis {self.name!r} (every process must call the same "
            f"collectives, in the same order, on arrays of the same shapes and dtypes):\n{lines}")

    def _finish(self, work: Any) -> None:
        """Wait for an asynchronous collective. On gloo, poll it first for up to ``SPIN_SECONDS``,
        yielding the core to gloo's own threads between polls, and only then block in ``wait``
        (which keeps the process group's timeout). A blocking wait lets the core go idle, and on a
        virtual machine waking an idle core costs about a millisecond: measured on 2 pinned
        processes, an all_reduce of 85,000 float32 after 8 ms of compute took 4.1 ms blocking and
        0.5 ms polling. NCCL's wait only orders the CUDA stream, so it is not polled."""
        if self.backend == "gloo":
            deadline = time.perf_counter() + SPIN_SECONDS
            while not work.is_completed() and time.perf_counter() < deadline:
                os.sched_yield()
        work.wait()

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn torch.distributed's failures into a DistributedError that names the failed ranks."""
        try:
            yield
        except DistributedError:
            raise
        except Exception as e:  # gloo/NCCL raise RuntimeError subclasses
            raise DistributedError(self._explain(what, e)) from e

    def _explain(self, what: str, err: Exception) -> str:
        head = f"process {self.rank} of {self.size}: {what} over axis {self.name!r} failed"
        failed = []
        reachable = self.store is not None
        if self.store is not None:
            try:
                for r in range(self.size):
                    key = f"{_KEY}/failed/{r}"
                    if r != self.rank and self.store.check([key]):
                        failed.append(f"process {r} raised: {self.store.get(key).decode(errors='replace')}")
            except Exception:
                reachable = False
        if failed:
            return head + "; " + "; ".join(failed)
        if self.store is not None and not reachable:
            return head + ("; process 0 (which holds the rendezvous store) has exited or is unreachable. "
                           f"Underlying error: {err}")
        return head + (f"; a process exited, or did not reach this collective within the timeout of "
                       f"{self.timeout:g} s (a slow or stuck process, or one running other collectives). "
                       f"Underlying error: {err}")

    # -- the collectives, on torch tensors the backends own
    def all_reduce_(self, t: Any, op: str, what: str) -> None:
        """Reduce ``t`` (a tensor the caller owns) in place over every process: op sum, max or min."""
        _, dist = _torch_dist()
        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
        self.check(what)
        with self.guard(what):
            self._finish(dist.all_reduce(t, op=ops[op], async_op=True))

    def all_gather_(self, outs: list, t: Any, what: str) -> None:
        """Fill ``outs[r]`` with process r's ``t`` (contiguous tensors of ``t``'s shape)."""
        _, dist = _torch_dist()
        self.check(what)
        with self.guard(what):
            self._finish(dist.all_gather(outs, t, async_op=True))

    def ppermute_(self, out: Any, t: Any, perm: tuple, what: str) -> None:
        """``out`` (zeros, owned by the caller) receives the value of the process that ``perm`` sends here."""
        _, dist = _torch_dist()
        self.check(what)
        ops = []
        for s, d in perm:
            if s == self.rank and d == self.rank:
                out.copy_(t)
            elif s == self.rank:
                ops.append(dist.P2POp(dist.isend, t, d))
            elif d == self.rank:
                ops.append(dist.P2POp(dist.irecv, out, s))
        if ops:
            with self.guard(what):
                for req in dist.batch_isend_irecv(ops):
                    self._finish(req)


_axis: ProcessAxis | None = None


def _env_int(name: str, given: int | None) -> int | None:
    if given is not None:
        return int(given)
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else None


def _pick_backend(backend: str | None, local_rank: int) -> tuple[str, Any]:
    """gloo for the NumPy backend and torch on CPU; NCCL for torch on CUDA (on GPU ``local_rank``)."""
    torch, _ = _torch_dist()
    from functrace.tracing import current_backend

    active = current_backend()
    device = getattr(active, "device", None)
    on_cuda = active.name == "torch" and device is not None and torch.device(device).type == "cuda"
    if on_cuda:
        torch.cuda.set_device(local_rank % max(torch.cuda.device_count(), 1))
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    if backend is None:
        backend = "nccl" if on_cuda else "gloo"
    if backend == "nccl" and not on_cuda:
        raise DistributedError("backend='nccl' needs the torch backend on CUDA (FUNCTRACE_BACKEND=torch on a GPU "
                               "machine); use backend='gloo' on CPU")
    return backend, device


def initialize(axis_name: Hashable = "batch", *, backend: str | None = None, init_method: str | None = None,
               rank: int | None = None, world_size: int | None = None, local_rank: int | None = None,
               master_addr: str | None = None, master_port: int | None = None, timeout: float = 300.0) -> None:
    """Start ``torch.distributed`` and bind ``axis_name`` to the group of all processes.

    Arguments left out are read from the environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). ``backend``: "gloo" or "nccl" (default:
    NCCL for torch on CUDA, else gloo). ``init_method`` (a torch URL such as ``tcp://host:port``)
    replaces the address and port. ``timeout`` (seconds) bounds the rendezvous and every collective.
    """
    global _axis
    if _axis is not None:
        raise DistributedError(f"functrace.distributed is already initialised (axis {_axis.name!r}); call "
                               "shutdown() first")
    if axis_name in [f.name for f in _A._env.frames]:
        raise DistributedError(f"axis name {axis_name!r} is already bound by an enclosing vmap")
    torch, dist = _torch_dist()
    rank = _env_int("RANK", rank)
    size = _env_int("WORLD_SIZE", world_size)
    if rank is None or size is None:
        raise DistributedError("initialize needs the process's rank and the number of processes: launch with "
                               "torchrun (which sets RANK and WORLD_SIZE), or pass rank= and world_size=")
    if not 0 <= rank < size:
        raise DistributedError(f"rank {rank} is outside 0..{size - 1} (world_size={size})")
    local = _env_int("LOCAL_RANK", local_rank)
    local = rank if local is None else local
    backend, device = _pick_backend(backend, local)
    td = datetime.timedelta(seconds=timeout)
    store = None
    if init_method is None:
        addr = master_addr or os.environ.get("MASTER_ADDR", "127.0.0.1")
        port = _env_int("MASTER_PORT", master_port)
        if port is None:
            raise DistributedError("initialize needs MASTER_PORT (torchrun sets it) or master_port=")
        store = _rendezvous(addr, port, rank, size, td, timeout)
        init = dict(store=store)
    else:
        init = dict(init_method=init_method)
    try:
        dist.init_process_group(backend, rank=rank, world_size=size, timeout=td, **init)
    except Exception as e:
        raise DistributedError(f"process {rank} of {size}: torch.distributed could not start ({backend}): {e}") from e
    _axis = ProcessAxis(axis_name, rank, size, backend, device, timeout, store, store is not None and _serves(rank))
    _A.process_axes[axis_name] = _axis
    _axis._prev_hook = sys.excepthook
    sys.excepthook = _record_failure
    atexit.register(_sign_off, _axis)


_LINGER_S = 10.0  # the longest process 0 keeps its store alive for the others at exit


def _sign_off(axis: ProcessAxis) -> None:
    """Say in the store that this process has finished; process 0, whose store the others read
    to explain a failure (which rank raised), keeps it alive until every other process has
    finished or failed, for at most ``_LINGER_S`` seconds: leaving first would turn their error
    into "process 0 is unreachable"."""
    if axis.store is None or getattr(axis, "_signed_off", False):
        return
    axis._signed_off = True
    try:
        axis.store.set(f"{_KEY}/done/{axis.rank}", "1")
        if not axis.serves_store:
            return
        pending = set(range(1, axis.size))
        deadline = time.monotonic() + min(_LINGER_S, axis.timeout)
        while pending and time.monotonic() < deadline:
            pending = {r for r in pending
                       if not axis.store.check([f"{_KEY}/done/{r}"]) and not axis.store.check([f"{_KEY}/failed/{r}"])}
            if pending:
                time.sleep(0.02)
    except Exception:  # a store already gone: nothing left to keep alive
        pass


def _serves(rank: int) -> bool:
    """Whether this process serves the rendezvous store: process 0, unless torchrun's agent
    already serves one on MASTER_PORT (then every process is its client)."""
    return rank == 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() != "true"


def _rendezvous(addr: str, port: int, rank: int, size: int, td: datetime.timedelta, timeout: float) -> Any:
    """The store process 0 serves; every process checks in, and a missing one is named."""
    _, dist = _torch_dist()
    serve = _serves(rank)
    try:
        store = dist.TCPStore(addr, port, size, serve, timeout=td, wait_for_workers=False)
    except Exception as e:
        where = "serve the rendezvous store on" if rank == 0 else "reach process 0's rendezvous store at"
        raise DistributedError(f"process {rank} of {size} could not {where} {addr}:{port} within {timeout:g} s: "
                               f"{e}") from e
    store.set(f"{_KEY}/joined/{rank}", "1")
    keys = [f"{_KEY}/joined/{r}" for r in range(size)]
    try:
        store.wait(keys, td)
    except Exception as e:
        try:
            missing = [r for r, k in enumerate(keys) if not store.check([k])]
        except Exception:
            missing = []
        raise DistributedError(
            f"process {rank} of {size}: process(es) {missing or '?'} did not join the rendezvous at {addr}:{port} "
            f"within {timeout:g} s; start every rank (torchrun --nproc_per_node / --nnodes) or raise timeout=") from e
    return store


def _record_failure(kind: type, value: BaseException, tb: Any) -> None:
    """sys.excepthook while initialised: tell the other processes which rank failed, and why."""
    axis = _axis
    if axis is not None and axis.store is not None:
        try:
            axis.store.set(f"{_KEY}/failed/{axis.rank}", f"{kind.__name__}: {value}"[:500])
        except Exception:
            pass
    hook = axis._prev_hook if axis is not None and axis._prev_hook is not None else sys.__excepthook__
    hook(kind, value, tb)
    if axis is not None:  # leave now: tearing down a live process group at exit aborts the process
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def shutdown() -> None:
    """Leave the process group and unbind the axis name (a no-op when not initialised)."""
    global _axis
    if _axis is None:
        return
    _, dist = _torch_dist()
    axis, _axis = _axis, None
    _A.process_axes.pop(axis.name, None)
    _sign_off(axis)
    if sys.excepthook is _record_failure:
        sys.excepthook = axis._prev_hook or sys.__excepthook__
    if dist.is_initialized():
        dist.destroy_process_group()


def is_initialized() -> bool:
    return _axis is not None


def process_index() -> int:
    """This process's rank (0 when not initialised, as ``jax.process_index``)."""
    return 0 if _axis is None else _axis.rank


def process_count() -> int:
    """The number of processes (1 when not initialised, as ``jax.process_count``)."""
    return 1 if _axis is None else _axis.size
