"""Very large programs are lowered in parts (issue 21, "Very large programs"): Python compiles
each part on its own, so time and memory grow linearly. A small chunk size takes the chunked
path here, and its results must equal the one-function lowering's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.backends import lowering
from functrace.backends.registry import active_backend


def _chain(x, w):
    """Values that cross part boundaries: residuals of a gradient, two live chains, outputs
    made early and returned late, an input read at the end."""
    y = x
    z = x * 0.5
    early = fnp.sum(x * w)
    for i in range(30):
        y = fnp.sin(y) * 1.001 + z
        if i % 7 == 0:
            z = fnp.tanh(z * y)
    return fnp.sum(y * w) + fnp.sum(z), early, x.T, w


PROGRAMS = {
    "forward": _chain,
    "grad": ft.grad(lambda x, w: _chain(x, w)[0], argnums=(0, 1)),
    "scan": lambda x, w: ft.lax.scan(lambda c, r: (fnp.sin(c) * r + c, c * 2.0), x[0], w)[1],
}


@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_lowering_gives_identical_results(name, chunk):
    fun = PROGRAMS[name]
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    closed = ft.jit(fun).lower(x, w).jaxpr
    backend = active_backend()
    whole, whole_src = lowering.lower_jaxpr(closed.jaxpr, closed.consts, backend, "f", own_outputs=True,
                                            chunk=10**9)
    parts, parts_src = lowering.lower_jaxpr(closed.jaxpr, closed.consts, backend, "f", own_outputs=True,
                                            chunk=chunk)
    n = len(closed.jaxpr.eqns)
    assert "_part" not in whole_src
    assert parts_src.count("def _part") == (-(-n // chunk) if n > chunk else 0)  # chunked past the size
    args = [backend.asarray(a) for a in (x, w)]
    for a, b in zip(whole(*args), parts(*args), strict=True):
        np.testing.assert_array_equal(host(a), host(b))


def test_jit_takes_the_chunked_path_past_its_size(monkeypatch):
    monkeypatch.setattr(lowering, "CHUNK_EQNS", 10)
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    f = ft.jit(PROGRAMS["grad"])
    assert "def _part" in f.lower(x, w).as_text()
    monkeypatch.setattr(lowering, "CHUNK_EQNS", 10**9)
    expected = ft.jit(PROGRAMS["grad"])(x, w)
    for a, b in zip(f(x, w), expected, strict=True):
        np.testing.assert_array_equal(host(a), host(b))


def test_parts_bind_only_the_values_they_read():
    """Each part's factory binds the implementations and constants its own equations use."""
    closed = ft.make_jaxpr(lambda x: fnp.exp(fnp.sin(x)) * 3.0)(np.ones(3))
    src, _ = lowering.jaxpr_to_source(closed.jaxpr, closed.consts, active_backend(), chunk=1)
    parts = src.split("def _make_part")[1:]
    assert "_sin = " in parts[0] and "_exp = " not in parts[0]
    assert "_exp = " in parts[1] and "_sin = " not in parts[1]


@pytest.mark.parametrize("enabled", [True, False])
def test_jit_pauses_the_collector_while_it_compiles_and_restores_it(enabled):
    """The cyclic collector is off while jit traces (and lowers) a program, and afterwards as
    the caller had it, also when tracing raises."""
    import gc

    seen = []

    def f(x):
        seen.append(gc.isenabled())
        return fnp.sin(x) * 2.0

    def bad(x):
        raise ValueError("the user's own error")

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert_equal = np.testing.assert_array_equal
        assert_equal(host(ft.jit(f)(np.ones(3))), np.sin(np.ones(3)) * 2.0)
        assert seen == [False]
        assert gc.isenabled() == enabled
        with pytest.raises(ValueError, match="own error"):
            ft.jit(bad)(np.ones(3))
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_optimize_runs_dce_once_per_round_and_still_drops_dead_code():
    """The passes leave dead equations to optimize's own DCE: the optimised program has none."""
    from functrace.transforms import passes

    ones = np.ones(3)

    def f(x):  # folding makes ``ones`` a broadcast of 1.0, simplify drops the product: both dead
        return fnp.sin(x) * ones

    closed = ft.make_jaxpr(f)(np.ones(3))
    assert len(closed.jaxpr.eqns) == 2
    opt = passes.optimize(closed)
    used = {id(v) for e in opt.jaxpr.eqns for v in e.invars} | {id(v) for v in opt.jaxpr.outvars}
    assert all(any(id(o) in used for o in e.outvars) for e in opt.jaxpr.eqns)
    assert [e.primitive.name for e in opt.jaxpr.eqns] == ["sin"]
