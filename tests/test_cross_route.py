"""Every route to a gradient gives the same numbers (issue 13, "one autodiff core").

For every row of the primitive derivative table (the ``CASES`` that ``test_grad_primitives``
collects from ``grad_cases`` and ``tests/cases_*.py``), the pullback of a random cotangent is
computed four ways:

- ``tape``: eager ``ft.vjp``, the tape of compiled per-signature pairs;
- ``jaxpr``: the same function traced by ``ft.make_jaxpr`` (so ``vjp`` runs on tracers: trace,
  then the one split ``linearize_at``, then ``backward_pass``) and run with ``eval_jaxpr``;
- ``vmap1``: under ``ft.vmap`` over a batch of one, which also traces (then batches the program);
- ``jit``: ``ft.jit`` of it, whose lowering may pick another summation order.

On the NumPy backend ``tape`` and ``jaxpr`` agree bitwise (both evaluate the same derivative
rules, in the same order, with the same NumPy kernels); ``vmap1`` and ``jit`` agree within float
tolerance, as does everything on torch.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from helpers import host
from test_grad_primitives import CASES, DTYPES

import functrace as ft
from functrace.tracing import eval_jaxpr, get_aval

TORCH = os.environ.get("FUNCTRACE_BACKEND", "numpy") == "torch"
RTOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-10}
REV_CASES = [c for c in CASES if "rev" in c.modes]


def _inputs(case, dtype):
    """The case's arguments, the positions of its differentiable ones, and a random cotangent."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))  # the same inputs in every run
    args = case.make(rng, dtype)
    diff = [i for i, a in enumerate(args) if np.dtype(get_aval(a).dtype).kind in "fc"]
    out = ft.eval_shape(case.fn, *args)
    leaves, tree = ft.tree_util.tree_flatten(out)

    def ct_like(a):
        dt = np.dtype(a.dtype)
        if dt.kind == "c":
            return (rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)).astype(dt)
        if dt.kind == "f":
            return rng.standard_normal(a.shape).astype(dt)
        return np.zeros(a.shape, dt)

    ct = ft.tree_util.tree_unflatten(tree, [ct_like(a) for a in leaves])
    return args, diff, ct


def _pullback(case, args, diff, ct):
    """``dargs -> cotangents of dargs``: the vjp of the case in its differentiable arguments."""
    def f_diff(*dargs):
        full = list(args)
        for i, d in zip(diff, dargs, strict=True):
            full[i] = d
        return case.fn(*full)

    return lambda *dargs: ft.vjp(f_diff, *dargs)[1](ct)


def _routes(case, dtype) -> dict[str, list]:
    args, diff, ct = _inputs(case, dtype)
    dargs = [args[i] for i in diff]
    pull = _pullback(case, args, diff, ct)
    closed = ft.make_jaxpr(pull)(*dargs)
    flat = ft.tree_util.tree_flatten(dargs)[0]
    batched = ft.vmap(pull)(*[ft.tree_util.tree_map(lambda x: x[None], d) for d in dargs])
    return {
        "tape": [host(g) for g in pull(*dargs)],
        "jaxpr": [host(g) for g in eval_jaxpr(closed.jaxpr, closed.consts, flat)],
        "vmap1": [host(g)[0] for g in batched],
        "jit": [host(g) for g in ft.jit(pull)(*dargs)],
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", REV_CASES, ids=lambda c: c.name)
def test_routes_agree(case, dtype):
    got = _routes(case, dtype)
    tape = got["tape"]
    assert tape, f"{case.name}: no differentiable input"
    for route in ("jaxpr", "vmap1", "jit"):
        assert len(got[route]) == len(tape), route
        for k, (a, b) in enumerate(zip(got[route], tape, strict=True)):
            assert (a.shape, a.dtype) == (b.shape, b.dtype), f"{route}, input {k}: {a.dtype}{a.shape}, tape {b.dtype}"
            if route == "jaxpr" and not TORCH:
                np.testing.assert_array_equal(a, b, err_msg=f"{case.name}: {route} vs tape, input {k} (bitwise)")
            else:
                rtol = RTOL[np.dtype(np.float32) if case.loose else np.dtype(dtype)]
                scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
                np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale,
                                           err_msg=f"{case.name}: {route} vs tape, input {k}")
