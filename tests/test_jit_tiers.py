"""Long programs under ``jit`` run as a plan before they are compiled (issue 21, "Very large
programs"), and ``optimize`` does all its passes in one walk.

The plan (``backends.plan``) must give the compiled program's results bit for bit, for every
primitive: it runs the same implementations. Every row of the primitive derivative table is
checked, forward and, where it has one, through its pullback (which holds the forward program
too). The same programs check that ``optimize`` leaves nothing for a second walk.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
import zlib

import numpy as np
import pytest
from helpers import host
from test_grad_primitives import CASES

import functrace as ft
import functrace.numpy as fnp
from functrace import tracing
from functrace.backends import lowering
from functrace.backends.plan import plan_jaxpr
from functrace.backends.registry import active_backend
from functrace.tracing import get_aval
from functrace.transforms import gc_pause, passes
from functrace.transforms import jit as jit_module
from functrace.transforms.passes import optimize


def _program(case):
    """The case's pullback of a random cotangent when it is differentiated in reverse mode, else
    the case's own function; and its arguments (float64)."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    args = case.make(rng, np.float64)
    if "rev" not in case.modes:
        return case.fn, args
    diff = [i for i, a in enumerate(args) if np.dtype(get_aval(a).dtype).kind in "fc"]
    if not diff:
        return case.fn, args
    out = ft.eval_shape(case.fn, *args)
    ct = ft.tree_util.tree_map(
        lambda a: rng.standard_normal(a.shape).astype(a.dtype) if np.dtype(a.dtype).kind == "f"
        else np.zeros(a.shape, a.dtype), out)

    def pullback(*dargs):
        return ft.vjp(lambda *d: case.fn(*_put(args, diff, d)), *dargs)[1](ct)

    return pullback, [args[i] for i in diff]


def _put(full, diff, values):
    out = list(full)
    for i, v in zip(diff, values, strict=True):
        out[i] = v
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_plan_equals_the_compiled_program_and_one_walk_is_a_fixpoint(case):
    fn, args = _program(case)
    lowered = ft.jit(fn).lower(*args)
    closed = lowered.jaxpr
    backend = active_backend()
    flat = [backend.asarray(x) for x in ft.tree_util.tree_flatten(args)[0]]
    compiled = lowered.flat_fn(*flat)
    planned = plan_jaxpr(closed.jaxpr, closed.consts, backend, own_outputs=True)(*flat)
    assert len(planned) == len(compiled)
    for k, (a, b) in enumerate(zip(planned, compiled, strict=True)):
        a, b = host(a), host(b)
        assert (a.shape, a.dtype) == (b.shape, b.dtype), k
        np.testing.assert_array_equal(a, b, err_msg=f"{case.name}: output {k}, plan vs compiled (bitwise)")
    again = optimize(closed, drop_stop_gradient=True, sub_jaxprs=True)
    assert str(again) == str(closed), f"{case.name}: a second optimize changed the program"


class _Everything:
    def __contains__(self, _):
        return True


_C = np.full((2, 3), 2.0)
# A program for each kind of equation some rule of the walk changes (see passes._RULED).
_RULED_PROGRAMS = {
    "neg_neg": lambda x: fnp.negative(fnp.negative(x)) * x,
    "transposes": lambda x: fnp.transpose(fnp.transpose(x)) * x,
    "reshapes": lambda x: fnp.reshape(fnp.reshape(x, (3, 2)), (6,)),
    "broadcasts": lambda x: fnp.broadcast_to(fnp.broadcast_to(x, (4, 2, 3)), (5, 4, 2, 3)) + x,
    "known_select": lambda x: fnp.where(np.ones((2, 3), bool), x, -x) * x,
    "powers": lambda x: ft.lax.integer_pow(x, 1) + ft.lax.integer_pow(x, 0) * x,
    "same_operands": lambda x: fnp.where(x > 0, x, x) * x,
    "empty_reduction": lambda x: ft.lax.reduce_sum(x * x, ()),
    "zero_padding": lambda x: ft.lax.pad(x * x, 0.0, ((0, 0, 0), (0, 0, 0))) * x,
    "known_constant": lambda x: x * _C + (x - x * 1.0) * ft.lax.stop_gradient(x),
}


class _Program:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn


@pytest.mark.parametrize("case", [*CASES, *(_Program(k, f) for k, f in _RULED_PROGRAMS.items())],
                         ids=lambda c: c.name)
def test_the_walk_skips_only_equations_no_rule_changes(case, monkeypatch):
    """The walk offers an equation to its rules only when its primitive is in ``_RULED`` or an
    operand is a literal or a known constant; offering every equation gives the same program.
    The programs are traced without the trace-time peepholes, to leave the walk work to do."""
    if isinstance(case, _Program):
        fn, args = case.fn, [np.linspace(-1.0, 1.0, 6).reshape(2, 3)]
    else:
        fn, args = _program(case)
    with monkeypatch.context() as m:
        m.setattr(tracing, "peephole_rules", {})
        traced = ft.make_jaxpr(fn)(*args)
    quick = str(optimize(traced, drop_stop_gradient=True))
    monkeypatch.setattr(passes, "_RULED", _Everything())
    assert str(optimize(traced, drop_stop_gradient=True)) == quick, f"{case.name}: the shortcut changed the program"


def _long(x, w):
    """Residuals, two live chains, an output made early, an input and a constant returned."""
    y, z = x, x * 0.5
    early = fnp.sum(x * w)
    for i in range(40):
        y = fnp.sin(y) * 1.001 + z
        if i % 7 == 0:
            z = fnp.tanh(z * y)
    return fnp.sum(y * w) + fnp.sum(z), early, x, np.arange(3.0), y


@pytest.fixture
def tiers(monkeypatch):
    """Programs of 10 equations or more run as a plan for their first two calls."""
    monkeypatch.setattr(jit_module, "INTERPRET_FROM_EQNS", 10)
    monkeypatch.setattr(jit_module, "COMPILE_AFTER_CALLS", 3)


@pytest.mark.parametrize("grad", [False, True], ids=["forward", "grad"])
def test_a_long_program_is_planned_then_compiled_with_the_same_results(tiers, grad):
    fun = ft.grad(lambda x, w: _long(x, w)[0], argnums=(0, 1)) if grad else _long
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    f = ft.jit(fun)
    results = []
    for call in range(5):
        results.append([host(r) for r in ft.tree_util.tree_flatten(f(x, w))[0]])
        (entry,) = f._cache.values()
        assert (entry.lowered is not None) == (call >= 2), call  # compiled on the third call
    with _no_tiers():
        expected = [host(r) for r in ft.tree_util.tree_flatten(ft.jit(fun)(x, w))[0]]
    for got in results:
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


class _no_tiers:
    """Every program compiled on its first call, for the expected results."""

    def __enter__(self):
        self.saved = jit_module.INTERPRET_FROM_EQNS
        jit_module.INTERPRET_FROM_EQNS = 10**9

    def __exit__(self, *exc):
        jit_module.INTERPRET_FROM_EQNS = self.saved


def test_explicit_lowering_compiles_at_once(tiers):
    x, w = np.ones((2, 3)), np.ones((2, 3))
    f = ft.jit(_long)
    f(x, w)
    (entry,) = f._cache.values()
    assert entry.lowered is None
    assert "def " in f.lower(x, w).as_text()
    assert entry.call is entry.lowered.flat_fn  # the calls after an explicit lowering run compiled code


def test_planned_results_are_the_callers_own(tiers):
    """An output that is an input, a constant or a view is copied, as by compiled code."""
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    f = ft.jit(_long)
    first = f(x, w)
    expected = [host(r).copy() for r in first]
    for r in first:
        if isinstance(r, np.ndarray):
            r *= 0.0
    second = f(x, w)
    for a, b in zip(second, expected, strict=True):
        np.testing.assert_array_equal(host(a), b)
    np.testing.assert_array_equal(x, np.linspace(-1.0, 1.0, 6).reshape(2, 3))  # the argument untouched
    (entry,) = f._cache.values()
    assert entry.lowered is None  # both calls ran the plan


def test_a_plan_frees_each_value_after_its_last_use():
    """A chain of 30 operations on 8 MB arrays holds a few of them at a time, not 30."""
    n = 10**6

    def chain(x):
        for _ in range(10):
            x = fnp.sin(x) * 1.5 + 0.25
        return fnp.sum(x)

    closed = ft.make_jaxpr(chain)(np.ones(n))
    with ft.use_backend("numpy"):
        from functrace.backends.registry import load_backend

        run = plan_jaxpr(closed.jaxpr, closed.consts, load_backend("numpy"), own_outputs=True)
        x = np.linspace(0.0, 1.0, n)
        tracemalloc.start()
        try:
            run(x)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * 8 * n, peak / (8 * n)


def test_a_plan_runs_effects_loops_and_several_results_in_order(tiers, capsys):
    def f(x):
        ft.debug.print("first {}", x[0])
        c, ys = ft.lax.scan(lambda c, r: (c * 0.5 + r, c), x[0], x)
        s, i = ft.lax.sort((x * 1.0 - 1.0, fnp.arange(4)), num_keys=1)
        ft.debug.print("last {}", c)
        return fnp.sin(ys) + s * 2.0, i, c

    x = np.array([3.0, 1.0, 4.0, 1.5])
    g = ft.jit(f)
    got = g(x)
    (entry,) = g._cache.values()
    assert entry.lowered is None  # this call ran the plan
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["first 3.0", "last " + str(host(got[2]))]
    with _no_tiers():
        expected = ft.jit(f)(x)
    capsys.readouterr()
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(host(a), host(b))


@pytest.mark.parametrize("tier", ["planned", "compiled", "compiled_in_parts"])
def test_an_error_in_a_running_program_names_the_equation_and_the_users_line(tier, monkeypatch):
    """Planned or compiled (in one function or in parts), on the first call and on later ones."""
    if tier == "planned":
        monkeypatch.setattr(jit_module, "INTERPRET_FROM_EQNS", 10)
        monkeypatch.setattr(jit_module, "COMPILE_AFTER_CALLS", 100)
    if tier == "compiled_in_parts":
        monkeypatch.setattr(lowering, "CHUNK_EQNS", 3)

    def f(x):
        y = fnp.sin(x * 1.0) * 2.0 + fnp.cos(x * 1.0) + fnp.exp(x * 1.0) - fnp.tanh(x * 1.0) * 3.0
        return y, ft.lax.integer_pow(x + 1, -1)  # integers to a negative power fail when run

    line = f.__code__.co_firstlineno + 2
    g = ft.jit(f)
    for _ in range(2):
        with pytest.raises(ValueError, match="negative integer powers") as info:
            g(np.arange(3))
        notes = [n for n in getattr(info.value, "__notes__", ()) if n.startswith("functrace:")]
        assert len(notes) == 1, notes
        assert "`integer_pow`" in notes[0] and "program `f`" in notes[0] and f"{__file__}:{line}" in notes[0]


def _foldable(x, w):
    """A long program with work for every optimisation: constants to fold, repeats to share,
    identities to drop, a stop_gradient."""
    c = np.full((2, 3), 0.25)
    y = x
    for _ in range(6):
        y = fnp.sin(y) * 1.0 + (c * 2.0 + 1.0) * ft.lax.stop_gradient(y)
        y = y + fnp.negative(fnp.negative(w)) * fnp.cos(y) - fnp.cos(y) * 0.5
    return fnp.sum(y * w), y


@pytest.mark.parametrize("grad", [False, True], ids=["forward", "grad"])
def test_a_long_program_runs_unoptimised_until_it_is_compiled(tiers, monkeypatch, grad):
    """Optimising a long program costs about what tracing it does, so its planned calls run the
    traced program (optimize is exact: the results are the compiled program's, bit for bit)
    and it is optimised when it is lowered."""
    fun = ft.grad(lambda x, w: _foldable(x, w)[0], argnums=(0, 1)) if grad else _foldable
    with _no_tiers():
        x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
        reference = ft.jit(fun)
        expected = [host(r) for r in ft.tree_util.tree_flatten(reference(x, w))[0]]
        optimised = str(reference.trace(x, w).jaxpr)
    calls = []
    real = jit_module.optimize
    monkeypatch.setattr(jit_module, "optimize", lambda *a, **k: calls.append(1) or real(*a, **k))
    f = ft.jit(fun)
    for call in range(4):
        got = [host(r) for r in ft.tree_util.tree_flatten(f(x, w))[0]]
        (entry,) = f._cache.values()
        assert (entry.unoptimized is None) == (call >= 2), call  # optimised when lowered, on the third call
        assert bool(calls) == (call >= 2), call
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert str(f.trace(x, w).jaxpr) == optimised


def test_the_ahead_of_time_api_sees_a_long_programs_optimised_jaxpr(tiers):
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    with _no_tiers():
        optimised = str(ft.jit(_foldable).trace(x, w).jaxpr)
    f = ft.jit(_foldable)
    f(x, w)
    (entry,) = f._cache.values()
    assert entry.unoptimized is not None
    assert str(f.trace(x, w).jaxpr) == optimised
    assert entry.unoptimized is None


def test_a_long_program_with_inexact_rewrites_is_optimised_at_once(tiers):
    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    with ft.config.option("inexact_rewrites"):
        f = ft.jit(_foldable)
        f(x, w)
    (entry,) = f._cache.values()
    assert entry.unoptimized is None


def _generation_of(obj) -> int | None:
    for g in range(3):
        if any(o is obj for o in gc.get_objects(generation=g)):
            return g
    return None


def test_a_large_program_goes_to_the_collectors_oldest_generation(tiers, monkeypatch):
    """What jit's first call of a large program leaves behind is its cached program: moved to the
    oldest generation at once (not walked by the next young collections), while the user's
    garbage from before the call is collected, their frozen objects stay frozen and the
    collector is on again."""
    monkeypatch.setattr(gc_pause, "_PROMOTE_FROM_OBJECTS", 100)

    class Node:
        pass

    x, w = np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.full((2, 3), 0.7)
    assert gc.isenabled()
    garbage = Node()
    garbage.me = garbage  # a cycle only the collector frees
    gone = weakref.ref(garbage)
    del garbage
    f = ft.jit(_long)
    f(x, w)
    assert gc.isenabled()
    assert gone() is None
    (entry,) = f._cache.values()
    assert _generation_of(entry.unoptimized.jaxpr.eqns[0]) == 2

    frozen = Node()
    gc.freeze()
    try:
        g = ft.jit(_long)
        g(x, w)
        assert gc.get_freeze_count() > 0 and _generation_of(frozen) is None  # still frozen
        (entry,) = g._cache.values()
        assert _generation_of(entry.unoptimized.jaxpr.eqns[0]) != 2  # left to the collector
    finally:
        gc.unfreeze()
    assert gc.isenabled()
