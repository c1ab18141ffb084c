"""``jit``: trace once per input signature, optimise the jaxpr, lower it to Python source, cache.

A call flattens its arguments, builds the cache key (pytree structure, shape, dtype and weak
type of each leaf, the static arguments, the active backend) and looks it up. On a miss the
function is traced with abstract values (so Python control flow on array values raises
``ConcretizationError``), the jaxpr is optimised (``transforms.passes.optimize``), and the
entry is stored. Calls with concrete arrays run the entry's lowered function: straight-line
code, compiled on first use (``backends.lowering``); a program of ``INTERPRET_FROM_EQNS``
equations or more runs as a plan (``backends.plan``) until its ``COMPILE_AFTER_CALLS``-th call,
so that a long program called a few times is not compiled at all; its plan runs the traced
program, which is optimised only when it is lowered (``_defers_optimize``). Calls with tracers
(``jit`` inside grad, vmap, make_jaxpr or another jit) evaluate the optimised jaxpr on them
instead, so the outer transform sees ordinary primitives it can differentiate, batch or record.

Arrays a function closes over are constants of its jaxpr, captured (copied) when it is traced,
as in JAX: changing such an array afterwards does not change what the compiled function
computes; ``clear_cache()`` makes it trace again. A function closing over a traced value of an
enclosing transform is traced afresh on each call: that value changes from one call to the next.

Every result is an array of the caller's own: the lowering copies the outputs that would
otherwise be a constant, an input or a view (``backends.lowering.outputs_to_copy``), and no
other, so modifying a result in place never changes a later one.

A Python scalar argument is an array of NumPy's dtype for it (``2.0`` is float64), weakly typed
as for the other transforms; ``f(np.float32(2.0))`` keeps float32. A backend may provide its own
``lower_jaxpr(jaxpr, consts, name) -> (callable, source)``; otherwise
``backends.lowering.lower_jaxpr`` is used.

The ahead-of-time API is JAX's: ``jitted.trace(*args)`` -> ``Traced`` (``.jaxpr``),
``jitted.lower(*args)`` -> ``Lowered`` (``.as_text()``, ``.compile()``) -> ``Compiled``
(callable on the non-static arguments, ``.cost_analysis()``).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from functrace import config as _config  # the disable_jit switch
from functrace.api import flatten_fun, to_backend, trace_flat
from functrace.backends.lowering import lower_jaxpr, outputs_to_copy
from functrace.backends.plan import plan_jaxpr
from functrace.backends.program_errors import add_equation_note
from functrace.ir import ClosedJaxpr
from functrace.ops.elementwise import stop_gradient_p
from functrace.tracing import (
    Tracer,
    current_backend,
    eval_jaxpr,
    get_aval,
    open_traces,
    source_info,
    tracing_for,
)
from functrace.transforms.aot import Compiled, Lowered, Traced
from functrace.transforms.cost import cost_analysis
from functrace.transforms.gc_pause import gc_paused
from functrace.transforms.passes import has_sub_jaxprs, optimize, prune_consts
from functrace.tree_util import LEAF, PyTreeDef, tree_flatten, tree_unflatten

# A program of this many equations or more runs as a plan (``backends.plan``) for its first
# ``COMPILE_AFTER_CALLS - 1`` calls, and is lowered to Python source on the next: writing and
# compiling the source costs about as much as 30 to 40 calls save over the plan (20 µs against
# 0.5 µs per equation), so a long program that is called a few times is never compiled, and one
# called often is compiled early. Shorter programs are lowered on their first call.
INTERPRET_FROM_EQNS = 2000
COMPILE_AFTER_CALLS = 32

# A Python scalar argument is traced as a weak value (see ShapedArray): its signature differs
# from a NumPy scalar's of the same dtype, which is traced as a strong one.
_PY_SCALARS = {bool: ((), np.dtype(bool), "weak"), int: ((), np.dtype(np.int64), "weak"),
               float: ((), np.dtype(np.float64), "weak"), complex: ((), np.dtype(np.complex128), "weak")}


class _Entry:
    """One cache entry: the optimised jaxpr, its constants on the backend, the lowering.

    A long program's entry may hold its traced jaxpr unoptimised (``unoptimized``, see
    ``_defers_optimize``): ``closed`` and ``consts`` optimise it on first use."""

    __slots__ = ("_closed", "_consts", "unoptimized", "out_tree", "single_output", "takes_ndarray", "cacheable",
                 "runnable", "lowered", "call", "copies", "__weakref__")

    def __init__(self, closed: ClosedJaxpr, out_tree: PyTreeDef, backend: Any, optimized: bool = True):
        self._closed: ClosedJaxpr | None = closed if optimized else None
        self._consts = [to_backend(c) for c in closed.consts] if optimized else None
        self.unoptimized: ClosedJaxpr | None = None if optimized else closed
        self.out_tree = out_tree
        self.single_output = out_tree == LEAF  # f returned one array: no tree to rebuild
        self.takes_ndarray = backend.is_native(np.empty(0))  # NumPy arguments need no conversion
        # A constant that is a tracer of an enclosing transform changes from call to call.
        self.cacheable = not any(isinstance(c, Tracer) for c in closed.consts)
        self.runnable: ClosedJaxpr | None = None  # see _runnable
        self.lowered: Lowered | None = None
        self.call: Callable[..., tuple] | None = None
        self.copies: list[bool] | None = None  # outputs to copy when evaluated without lowering

    @property
    def closed(self) -> ClosedJaxpr:
        """The optimised jaxpr (optimised now if that was deferred)."""
        if self._closed is None:
            self._optimize()
        return self._closed

    @property
    def consts(self) -> list:
        """The optimised jaxpr's constants, on the backend."""
        if self._closed is None:
            self._optimize()
        return self._consts

    def _optimize(self) -> None:
        with gc_paused():
            closed = optimize(self.unoptimized)
        self._consts = [to_backend(c) for c in closed.consts]
        self._closed, self.unoptimized = closed, None


def _defers_optimize(closed: ClosedJaxpr, backend: Any) -> bool:
    """Whether a traced program runs unoptimised until it is lowered: one of
    ``INTERPRET_FROM_EQNS`` equations or more runs its first calls as a plan, and optimising
    a long program costs about as much as tracing it, so that is left to the lowering (which
    only a program called ``COMPILE_AFTER_CALLS`` times gets) or to the ahead-of-time API. The
    optimisations are exact, so every call computes the same values either way; not so the
    inexact rewrites a user may switch on, which are applied at once. A backend with a lowering
    of its own, and a program closing over values an enclosing transform traces, run optimised
    from the first call."""
    return (len(closed.jaxpr.eqns) >= INTERPRET_FROM_EQNS and not _config.INEXACT_REWRITES
            and not hasattr(backend, "lower_jaxpr") and not any(isinstance(c, Tracer) for c in closed.consts))


def _static_key(fun_name: str, static: dict[Any, Any]) -> tuple:
    key = []
    for i in sorted(static, key=lambda k: (isinstance(k, str), k)):
        v = static[i]
        try:
            hash(v)
        except TypeError:
            what = f"argument {i}" if isinstance(i, int) else f"argument {i!r}"
            raise TypeError(
                f"jit({fun_name}): static {what} has unhashable type {type(v).__name__}; static "
                "arguments are part of the cache key, so they must be hashable (pass a tuple instead of "
                "a list, or make it a regular array argument)") from None
        key.append((i, type(v), v))
    return tuple(key)


def _leaf_signature(fun_name: str, flat: list) -> tuple[tuple, bool, bool]:
    """(shape, dtype[, weak]) of each leaf; whether any leaf is a tracer of an enclosing
    transform; whether every leaf is a NumPy array."""
    sig = []
    traced = False
    plain = True
    ndarray = np.ndarray
    for x in flat:
        t = type(x)
        if t is ndarray:
            sig.append((x.shape, x.dtype))
            continue
        plain = False
        s = _PY_SCALARS.get(t)
        if s is not None:
            sig.append(s)
            continue
        if isinstance(x, Tracer):
            traced = True
        try:
            a = get_aval(x)
        except TypeError:
            raise TypeError(
                f"jit({fun_name}): an argument leaf of type {t.__name__} is not an array; pass arrays, "
                "scalars or pytrees of them, or mark the argument static with static_argnums") from None
        # A weak value (a Python scalar inside an enclosing transform) promotes differently.
        sig.append((a.shape, a.dtype, "weak") if a.weak_type else (a.shape, a.dtype))
    return tuple(sig), traced, plain


def _normalize_argnums(argnums: int | Sequence[int] | None, what: str) -> tuple[int, ...]:
    if argnums is None:
        return ()
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"jit: {what} must be ints, got {argnums!r}")
    return nums


def _normalize_argnames(argnames: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if argnames is None:
        return ()
    names = (argnames,) if isinstance(argnames, str) else tuple(argnames)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"jit: {what} must be strings, got {argnames!r}")
    return names


def _positional_names(fun: Callable) -> list[str] | None:
    """The names of ``fun``'s parameters that can be passed by position, or None if unknown."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None  # ``*args``: positions past the named ones are unknown
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def jit(fun: Callable, static_argnums: int | Sequence[int] | None = (),
        static_argnames: str | Sequence[str] | None = (), donate_argnums: int | Sequence[int] | None = (),
        donate_argnames: str | Sequence[str] | None = ()) -> Callable:
    """Compile ``fun``: trace it once per input signature, optimise, lower, and cache.

    ``static_argnums``/``static_argnames`` name arguments (by position, or by parameter name)
    that are not arrays but Python values (ints, strings, tuples, ...): they are passed to
    ``fun`` as they are and are part of the cache key, so they may drive Python control flow.
    They must be hashable. As in JAX, a parameter named in one is static in the other form too
    (a static position passed by keyword, a static name passed by position). Other arguments,
    keyword ones included, are arrays (pytrees allowed).

    ``donate_argnums``/``donate_argnames`` are accepted as in JAX; these backends do not reuse a
    donated argument's memory for a result (a NumPy array or a CPU tensor may still be referred to
    by the caller), so donation never changes what a call computes or returns.

    Closed-over arrays are captured when ``fun`` is traced (JAX's rule): mutating one afterwards
    does not change the results. Every result is a new array of the caller's own.

    Ahead of time, as in JAX: ``jitted.trace(*args).jaxpr`` is the jaxpr ``jit`` runs;
    ``jitted.lower(*args)`` the ``Lowered`` form (``.as_text()`` shows the generated source,
    ``.compile()`` gives the ``Compiled`` function with ``.cost_analysis()``).

    >>> f = ft.jit(lambda x: fnp.sum(fnp.sin(x) ** 2))
    >>> f(np.arange(3.0))                      # traced, optimised, compiled, run
    >>> f(np.ones(3))                          # same signature: runs the cached code
    """
    if not callable(fun):
        raise TypeError(f"jit expects a function, got {type(fun).__name__}")
    nums = _normalize_argnums(static_argnums, "static_argnums")
    names = _normalize_argnames(static_argnames, "static_argnames")
    _normalize_argnums(donate_argnums, "donate_argnums")
    _normalize_argnames(donate_argnames, "donate_argnames")
    positional = _positional_names(fun)
    if positional is not None:  # each static parameter in both forms, as JAX infers them
        names = tuple(dict.fromkeys(names + tuple(positional[i] for i in nums if -len(positional) <= i
                                                  < len(positional))))
        nums = tuple(dict.fromkeys(nums + tuple(positional.index(n) for n in names if n in positional)))
    static_names = frozenset(names)
    fun_name = getattr(fun, "__name__", "f")
    cache: dict[tuple, _Entry] = {}
    # The commonest call: positional NumPy arrays only. Its entry is found by shapes, dtypes and
    # backend alone, without flattening the arguments (ready, compiled entries only).
    ndarray_calls: dict[tuple, _Entry] = {}
    has_static = bool(nums or names)

    def split(args: tuple, kwargs: dict) -> tuple[tuple, dict, dict, tuple]:
        n = len(args)
        static: dict[Any, Any] = {}
        for i in nums:
            if -n <= i < n:
                static[i % n] = args[i]
            elif positional is None or not -len(positional) <= i < len(positional):
                # (a parameter of ``fun`` not passed by position is passed by keyword or defaulted)
                raise ValueError(
                    f"jit({fun_name}): static_argnums {i} is out of range for a call with {n} positional "
                    "arguments")
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in static_names:
                static[k] = v
            else:
                dyn_kwargs[k] = v
        return dyn, dyn_kwargs, static, _static_key(fun_name, static)

    def entry_for(args: tuple, kwargs: dict) -> tuple[_Entry, list, bool, bool, tuple]:
        """The cache entry for these arguments (traced on a miss), their dynamic leaves, whether
        any leaf is a tracer, whether every leaf is a NumPy array, and the cache key."""
        if has_static:
            dyn, kwargs, static, skey = split(args, kwargs)
        else:
            dyn, static, skey = args, None, ()
        flat, in_tree = tree_flatten((dyn, kwargs) if kwargs else dyn)
        sig, traced, plain = _leaf_signature(fun_name, flat)
        backend = current_backend()
        key = (in_tree, bool(kwargs), sig, skey, backend, _config.INEXACT_REWRITES)  # the flag changes the trace
        entry = cache.get(key)
        if entry is None:
            entry = trace(flat, in_tree, bool(kwargs), static, len(args), backend)
            if entry.cacheable:
                entry = cache.setdefault(key, entry)  # another thread may have traced it meanwhile
        return entry, flat, traced, plain, key

    def trace(flat: list, in_tree: PyTreeDef, has_kwargs: bool, static: dict | None, nargs: int,
              backend: Any) -> _Entry:
        def f_dyn(*tree: Any) -> Any:
            open_traces()[-1].optimized_later = True  # this trace's program is optimised before it runs
            dyn, kwargs = tree if has_kwargs else (tree, {})
            if static:
                it = iter(dyn)
                dyn = [static[i] if i in static else next(it) for i in range(nargs)]
                kwargs = {**kwargs, **{k: v for k, v in static.items() if isinstance(k, str)}}
            return fun(*dyn, **kwargs)

        f_flat, out_tree = flatten_fun(f_dyn, in_tree)
        with gc_paused(), source_info(None):  # errors while tracing name the user's line
            with tracing_for("inside jit"):
                # (Not kept: the output tracers reach every tracer of the trace through their producers.
                # Dead code is left to optimize's DCE, or to the plan of a long program.)
                jaxpr, consts = trace_flat(f_flat, flat, concrete=False, dce=False)[:2]
            consts = [c if isinstance(c, Tracer) else to_backend(c) for c in consts]
            closed = ClosedJaxpr(jaxpr, consts, in_tree, out_tree.val)
            deferred = _defers_optimize(closed, backend)
            if not deferred:
                closed = optimize(closed)
            elif consts:  # (the plan skips dead code itself; only the constants something reads are kept)
                closed = prune_consts(closed)
            # Closed-over arrays are captured now (JAX's rule): later changes to them are not seen.
            # Copied once DCE has dropped those nothing reads (no user code ran meanwhile); the
            # constants optimize folded too, as they may be views of the user's arrays.
            captured = [c if isinstance(c, Tracer) else backend.copy(c) for c in closed.consts]
            closed = ClosedJaxpr(closed.jaxpr, captured, in_tree, out_tree.val)
        return _Entry(closed, out_tree.val, backend, optimized=not deferred)

    def lower_entry(entry: _Entry, key: tuple) -> Lowered:
        if entry.lowered is None:
            with gc_paused():
                _lower(entry, key)
        return entry.lowered

    def first_call(entry: _Entry, key: tuple) -> Callable[..., tuple]:
        """What runs the entry from its first call on: its lowered function; for a program of
        ``INTERPRET_FROM_EQNS`` equations or more, a plan that is lowered after
        ``COMPILE_AFTER_CALLS`` calls (see the module docstring)."""
        backend = current_backend()
        closed = entry.unoptimized  # (a long program's first calls run it unoptimised)
        if closed is None and (len(entry.closed.jaxpr.eqns) < INTERPRET_FROM_EQNS or hasattr(backend, "lower_jaxpr")):
            return lower_entry(entry, key).flat_fn
        with gc_paused():
            closed = closed or _runnable(entry)
            plan = plan_jaxpr(closed.jaxpr, closed.consts, backend, own_outputs=True, name=fun_name)
        calls = 0
        entry_ref = weakref.ref(entry)  # the entry holds this function: a strong reference would be a cycle

        def interpreted(*args: Any) -> tuple:
            nonlocal calls
            calls += 1
            if calls >= COMPILE_AFTER_CALLS:  # lowering replaces entry.call for the calls after this one
                return lower_entry(entry_ref(), key).flat_fn(*args)
            return plan(*args)

        entry.call = interpreted
        return interpreted

    def _lower(entry: _Entry, key: tuple) -> None:
        if entry.lowered is None:
            backend = current_backend()
            closed = _runnable(entry)
            lower_fn = getattr(backend, "lower_jaxpr", None)  # a backend may lower in its own way
            if lower_fn is not None:
                fn, source = lower_fn(closed.jaxpr, closed.consts, fun_name)
                copies = outputs_to_copy(closed.jaxpr, backend)
                if any(copies):
                    fn = _copying(fn, copies, backend.copy)
            else:
                fn, source = lower_jaxpr(closed.jaxpr, closed.consts, backend, fun_name, own_outputs=True)
            in_tree, _, sig, skey, _, _ = key
            in_avals = tuple(v.aval for v in closed.jaxpr.invars)
            entry.lowered = Lowered(closed, source, fn, backend.name, in_tree, in_avals, entry.out_tree, skey)
            entry.call = fn

    def run_unlowered(entry: _Entry, flat: list) -> Any:
        outs = eval_jaxpr(entry.closed.jaxpr, entry.consts, [to_backend(x) for x in flat])
        if entry.copies is None:
            entry.copies = outputs_to_copy(entry.closed.jaxpr, current_backend())
        if any(entry.copies):
            copy = current_backend().copy
            outs = [copy(o) if c and not isinstance(o, Tracer) else o for o, c in zip(outs, entry.copies, strict=True)]
        return tree_unflatten(entry.out_tree, outs)

    @functools.wraps(fun)
    def jitted(*args: Any, **kwargs: Any) -> Any:
        if _config.DISABLE_JIT:  # ft.disable_jit() / FUNCTRACE_DISABLE_JIT=1: run f eagerly
            return fun(*args, **kwargs)
        if _config.CHECK_FLOATS and not _config._IN_CHECKED_CALL:  # debug_nans: re-run eagerly on a NaN
            from functrace.debug import checked_jit_call

            return checked_jit_call(myself(), fun, args, kwargs)
        fast_key = None
        if not kwargs and not has_static and all(type(a) is np.ndarray for a in args):
            fast_key = (tuple([(a.shape, a.dtype) for a in args]), current_backend(), _config.INEXACT_REWRITES)
            entry = ndarray_calls.get(fast_key)
            if entry is not None:
                try:
                    outs = entry.call(*args)
                except Exception as e:
                    add_equation_note(e)
                    raise
                return outs[0] if entry.single_output else tree_unflatten(entry.out_tree, outs)
        entry, flat, traced, plain, key = entry_for(args, kwargs)
        if traced or not entry.cacheable:
            return run_unlowered(entry, flat)
        call = entry.call or first_call(entry, key)
        if fast_key is not None and entry.takes_ndarray:
            ndarray_calls[fast_key] = entry
        if not (plain and entry.takes_ndarray):
            backend = current_backend()
            flat = [x if backend.is_native(x) else backend.asarray(x) for x in flat]
        try:
            outs = call(*flat)
        except Exception as e:  # (free when nothing is raised)
            add_equation_note(e)  # the equation of the compiled program that raised, and its user's line
            raise
        return outs[0] if entry.single_output else tree_unflatten(entry.out_tree, outs)

    def concrete_entry(what: str, args: tuple, kwargs: dict) -> tuple[_Entry, tuple]:
        entry, _, traced, _, key = entry_for(args, kwargs)
        if traced or not entry.cacheable:
            raise TypeError(f"jit({fun_name}).{what} needs concrete arguments and a function that does not "
                            "close over values traced by an enclosing transform")
        return entry, key

    def lower(*args: Any, **kwargs: Any) -> Lowered:
        """The lowered form for these arguments (traced and compiled if not cached yet)."""
        return lower_entry(*concrete_entry("lower", args, kwargs))

    def trace_(*args: Any, **kwargs: Any) -> Traced:
        """The traced form for these arguments: ``.jaxpr`` is the (optimised) jaxpr jit runs."""
        entry, _ = concrete_entry("trace", args, kwargs)
        return Traced(myself(), args, kwargs, entry.closed, entry.out_tree)

    def clear_cache() -> None:
        cache.clear()
        ndarray_calls.clear()

    # Referred to weakly from inside: a jitted function that held itself would be a reference
    # cycle, and its cache (every traced and lowered program) would wait for the cyclic collector.
    myself = weakref.ref(jitted)
    jitted.lower = lower  # type: ignore[attr-defined]
    jitted.trace = trace_  # type: ignore[attr-defined]
    jitted.clear_cache = clear_cache  # type: ignore[attr-defined]
    jitted._cache = cache  # type: ignore[attr-defined]
    return jitted


def _runnable(entry: _Entry) -> ClosedJaxpr:
    """The program that runs (made once per entry, for its plan and its lowering): differentiation
    is over, so stop_gradient is the identity, and sub-jaxprs may be optimised."""
    if entry.runnable is None:
        closed = entry.closed
        if has_sub_jaxprs(closed.jaxpr) or any(e.primitive is stop_gradient_p for e in closed.jaxpr.eqns):
            closed = optimize(closed, drop_stop_gradient=True, sub_jaxprs=True)
        entry.runnable = closed
    return entry.runnable


def _copying(fn: Callable[..., tuple], copies: list[bool], copy: Callable[[Any], Any]) -> Callable[..., tuple]:
    """``fn`` with the outputs that ``copies`` marks copied (for a backend's own lowering)."""

    def call(*args: Any) -> tuple:
        return tuple(copy(o) if c else o for o, c in zip(fn(*args), copies, strict=True))

    return call


__all__ = ["jit", "Lowered", "Compiled", "Traced", "cost_analysis"]
