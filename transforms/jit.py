"""``jit``: trace once per input signature, optimise the jaxpr, lower it to Python source, cache.

A call flattens its arguments, builds the cache key (pytree structure, shape and dtype of each
leaf, the static arguments, the active backend) and looks it up. On a miss the function is
traced with abstract values (so Python control flow on array values raises
``ConcretizationError``), the jaxpr is optimised (``transforms.passes.optimize``), and the
entry is stored. Calls with concrete arrays run the entry's lowered function: straight-line
code, compiled on first use (``backends.lowering``). Calls with tracers (``jit`` inside grad,
vmap, make_jaxpr or another jit) evaluate the optimised jaxpr on them instead, so the outer
transform sees ordinary primitives it can differentiate, batch or record.

A function closing over a traced value of an enclosing transform is traced afresh on each
call: that value is a constant of the jaxpr which changes from one call to the next.

A Python scalar argument is an array of NumPy's dtype for it (``2.0`` is float64), as for the
other transforms; ``f(np.float32(2.0))`` keeps float32. A backend may provide its own
``lower_jaxpr(jaxpr, consts, name) -> (callable, source)``; otherwise
``backends.lowering.lower_jaxpr`` is used.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import config as _config  # the disable_jit switch
from functrace.api import flatten_fun, merge_static, to_backend, trace_flat
from functrace.backends.lowering import lower_jaxpr
from functrace.ir import ClosedJaxpr
from functrace.ops.elementwise import stop_gradient_p
from functrace.tracing import Tracer, current_backend, eval_jaxpr, get_aval, source_info
from functrace.transforms.passes import has_sub_jaxprs, optimize
from functrace.tree_util import LEAF, PyTreeDef, tree_flatten, tree_unflatten

# A Python scalar argument is traced as a weak value (see ShapedArray): its signature differs
# from a NumPy scalar's of the same dtype, which is traced as a strong one.
_PY_SCALARS = {bool: ((), np.dtype(bool), "weak"), int: ((), np.dtype(np.int64), "weak"),
               float: ((), np.dtype(np.float64), "weak"), complex: ((), np.dtype(np.complex128), "weak")}


class Lowered:
    """A jitted function lowered for one input signature on one backend.

    ``as_text()`` is the generated Python source; ``jaxpr`` the optimised jaxpr it was made
    from; ``compiled`` the function itself (flat arrays in, tuple of flat outputs out).
    """

    __slots__ = ("jaxpr", "source", "compiled", "backend")

    def __init__(self, jaxpr: ClosedJaxpr, source: str, compiled: Callable[..., tuple], backend: str):
        self.jaxpr = jaxpr
        self.source = source
        self.compiled = compiled
        self.backend = backend

    def as_text(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Lowered({self.backend}, {len(self.jaxpr.eqns)} equations)"


class _Entry:
    """One cache entry: the optimised jaxpr, its constants on the backend, the lowering."""

    __slots__ = ("closed", "consts", "out_tree", "single_output", "takes_ndarray", "cacheable", "lowered", "call")

    def __init__(self, closed: ClosedJaxpr, consts: list, out_tree: PyTreeDef, backend: Any):
        self.closed = closed
        self.consts = consts
        self.out_tree = out_tree
        self.single_output = out_tree == LEAF  # f returned one array: no tree to rebuild
        self.takes_ndarray = backend.is_native(np.empty(0))  # NumPy arguments need no conversion
        # A constant that is a tracer of an enclosing transform changes from call to call.
        self.cacheable = not any(isinstance(c, Tracer) for c in consts)
        self.lowered: Lowered | None = None
        self.call: Callable[..., tuple] | None = None


def _static_key(fun_name: str, static: dict[int, Any]) -> tuple:
    key = []
    for i in sorted(static):
        v = static[i]
        try:
            hash(v)
        except TypeError:
            raise TypeError(
                f"jit({fun_name}): static argument {i} has unhashable type {type(v).__name__}; static "
                "arguments are part of the cache key, so they must be hashable (pass a tuple instead of "
                "a list, or make it a regular array argument)") from None
        key.append((i, type(v), v))
    return tuple(key)


def _leaf_signature(fun_name: str, flat: list) -> tuple[tuple, bool, bool]:
    """(shape, dtype) of each leaf; whether any leaf is a tracer of an enclosing transform;
    whether every leaf is a NumPy array."""
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
        sig.append((a.shape, a.dtype))
    return tuple(sig), traced, plain


def _normalize_argnums(static_argnums: int | Sequence[int]) -> tuple[int, ...]:
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    for i in nums:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"jit: static_argnums must be ints, got {static_argnums!r}")
    return nums


def jit(fun: Callable, static_argnums: int | Sequence[int] = ()) -> Callable:
    """Compile ``fun``: trace it once per input signature, optimise, lower, and cache.

    ``static_argnums`` names positional arguments that are not arrays but Python values
    (ints, strings, tuples, ...): they are passed to ``fun`` as they are and are part of the
    cache key, so they may drive Python control flow. They must be hashable. Keyword
    arguments are array arguments (pytrees allowed).

    ``jitted.lower(*args)`` returns the ``Lowered`` form for those arguments: ``.as_text()``
    shows the generated source, ``.jaxpr`` the optimised jaxpr.

    >>> f = ft.jit(lambda x: fnp.sum(fnp.sin(x) ** 2))
    >>> f(np.arange(3.0))                      # traced, optimised, compiled, run
    >>> f(np.ones(3))                          # same signature: runs the cached code
    """
    nums = _normalize_argnums(static_argnums)
    fun_name = getattr(fun, "__name__", "f")
    cache: dict[tuple, _Entry] = {}
    # The commonest call: positional NumPy arrays only. Its entry is found by shapes, dtypes and
    # backend alone, without flattening the arguments (ready, compiled entries only).
    ndarray_calls: dict[tuple, _Entry] = {}

    def split(args: tuple) -> tuple[tuple, dict, tuple]:
        n = len(args)
        static = {}
        for i in nums:
            if not -n <= i < n:
                raise ValueError(
                    f"jit({fun_name}): static_argnums {i} is out of range for a call with {n} positional "
                    "arguments")
            static[i % n] = args[i]
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        return dyn, static, _static_key(fun_name, static)

    def entry_for(args: tuple, kwargs: dict) -> tuple[_Entry, list, bool, bool]:
        """The cache entry for these arguments (traced on a miss), their leaves, whether any
        leaf is a tracer, and whether every leaf is a NumPy array."""
        dyn, static, skey = split(args) if nums else (args, None, ())
        flat, in_tree = tree_flatten((dyn, kwargs) if kwargs else dyn)
        sig, traced, plain = _leaf_signature(fun_name, flat)
        backend = current_backend()
        key = (in_tree, bool(kwargs), sig, skey, backend)
        entry = cache.get(key)
        if entry is None:
            entry = trace(flat, in_tree, bool(kwargs), static, len(args), backend)
            if entry.cacheable:
                cache[key] = entry
        return entry, flat, traced, plain

    def trace(flat: list, in_tree: PyTreeDef, has_kwargs: bool, static: dict | None, nargs: int,
              backend: Any) -> _Entry:
        def f_dyn(*tree: Any) -> Any:
            dyn, kwargs = tree if has_kwargs else (tree, {})
            return fun(*(merge_static(dyn, static, nargs) if static else dyn), **kwargs)

        f_flat, out_tree = flatten_fun(f_dyn, in_tree)
        with source_info(None):  # errors while tracing name the user's line
            jaxpr, consts, _ = trace_flat(f_flat, flat, concrete=False)
        closed = optimize(ClosedJaxpr(jaxpr, consts, in_tree, out_tree.val))
        return _Entry(closed, [to_backend(c) for c in closed.consts], out_tree.val, backend)

    def lower_entry(entry: _Entry) -> Lowered:
        if entry.lowered is None:
            backend = current_backend()
            closed = entry.closed
            # Differentiation is over: stop_gradient is the identity; sub-jaxprs may be optimised.
            if has_sub_jaxprs(closed.jaxpr) or any(e.primitive is stop_gradient_p for e in closed.jaxpr.eqns):
                closed = optimize(closed, drop_stop_gradient=True, sub_jaxprs=True)
            lower_fn = getattr(backend, "lower_jaxpr", None)  # a backend may lower in its own way
            if lower_fn is not None:
                fn, source = lower_fn(closed.jaxpr, closed.consts, fun_name)
            else:
                fn, source = lower_jaxpr(closed.jaxpr, closed.consts, backend, fun_name)
            entry.lowered = Lowered(closed, source, fn, backend.name)
            entry.call = fn
        return entry.lowered

    @functools.wraps(fun)
    def jitted(*args: Any, **kwargs: Any) -> Any:
        if _config.DISABLE_JIT:  # ft.disable_jit() / FUNCTRACE_DISABLE_JIT=1: run f eagerly
            return fun(*args, **kwargs)
        if _config.CHECK_FLOATS and not _config._IN_CHECKED_CALL:  # debug_nans: re-run eagerly on a NaN
            from functrace.debug import checked_jit_call

            return checked_jit_call(jitted, fun, args, kwargs)
        fast_key = None
        if not kwargs and not nums and all(type(a) is np.ndarray for a in args):
            fast_key = (tuple([(a.shape, a.dtype) for a in args]), current_backend())
            entry = ndarray_calls.get(fast_key)
            if entry is not None:
                outs = entry.call(*args)
                return outs[0] if entry.single_output else tree_unflatten(entry.out_tree, outs)
        entry, flat, traced, plain = entry_for(args, kwargs)
        if traced or not entry.cacheable:
            outs = eval_jaxpr(entry.closed.jaxpr, entry.consts, [to_backend(x) for x in flat])
            return tree_unflatten(entry.out_tree, outs)
        call = entry.call or lower_entry(entry).compiled
        if fast_key is not None and entry.takes_ndarray:
            ndarray_calls[fast_key] = entry
        if not (plain and entry.takes_ndarray):
            backend = current_backend()
            flat = [x if backend.is_native(x) else backend.asarray(x) for x in flat]
        outs = call(*flat)
        return outs[0] if entry.single_output else tree_unflatten(entry.out_tree, outs)

    def lower(*args: Any, **kwargs: Any) -> Lowered:
        """The lowered form for these arguments (traced and compiled if not cached yet)."""
        entry, flat, traced, _ = entry_for(args, kwargs)
        if traced or not entry.cacheable:
            raise TypeError(f"jit({fun_name}).lower needs concrete arguments and a function that does not "
                            "close over values traced by an enclosing transform")
        return lower_entry(entry)

    def clear_cache() -> None:
        cache.clear()
        ndarray_calls.clear()

    jitted.lower = lower  # type: ignore[attr-defined]
    jitted.clear_cache = clear_cache  # type: ignore[attr-defined]
    jitted._cache = cache  # type: ignore[attr-defined]
    return jitted


__all__ = ["jit", "Lowered"]
