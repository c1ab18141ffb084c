"""The core's public entry points: make_jaxpr, eval_jaxpr, device_put, device_get, and the helpers every
transform uses to trace a Python function over pytrees into a jaxpr."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace.avals import ShapedArray, concrete_aval, register_aval_handler
from functrace.ir import ClosedJaxpr, Jaxpr
from functrace.tracing import Tracer, current_backend, get_aval, new_trace, tracing_for
from functrace.tracing import eval_jaxpr as _eval_jaxpr
from functrace.tree_util import PyTreeDef, tree_flatten, tree_map, tree_unflatten


class Store:
    """A write-once box for a value produced while tracing (the output tree structure)."""

    __slots__ = ("val",)

    def __init__(self) -> None:
        self.val: Any = None


class ShapeDtypeStruct:
    """A shape and a dtype standing for an array that is never made (``jax.ShapeDtypeStruct``).

    ``eval_shape`` returns them; ``make_jaxpr``, ``eval_shape`` and ``jit(f).lower`` accept them in
    place of arrays, so a program can be traced at sizes too large to allocate.

    >>> ft.ShapeDtypeStruct((2, 3), np.float32)
    ShapeDtypeStruct(shape=(2, 3), dtype=float32)
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        try:
            self.shape = tuple(int(d) for d in shape)
        except TypeError:
            raise TypeError(f"ShapeDtypeStruct: shape must be a sequence of ints, got {shape!r}") from None
        if any(d < 0 for d in self.shape):
            raise ValueError(f"ShapeDtypeStruct: shape {self.shape} has a negative dimension")
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape and self.dtype == other.dtype
                and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"


register_aval_handler(ShapeDtypeStruct, lambda s: ShapedArray(s.shape, s.dtype, s.weak_type))


def to_backend(x: Any) -> Any:
    """Inputs at a transform boundary: tracers pass; arrays/scalars move to the backend once."""
    if isinstance(x, Tracer):
        return x
    if isinstance(x, ShapeDtypeStruct):
        raise TypeError(f"{x!r} stands for an array's shape and dtype only and has no values: pass it to "
                        "eval_shape, make_jaxpr or jit(f).lower, and call functions on arrays")
    b = current_backend()
    if b.is_native(x):
        return x
    concrete_aval(x)  # raises a clear TypeError for non-arrays
    return b.asarray(x)


def flatten_fun(f: Callable, in_tree: PyTreeDef) -> tuple[Callable[[list], list], Store]:
    """``f`` over pytrees as a function of a flat list of leaves; the output tree goes to the Store."""
    store = Store()

    def f_flat(flat_args: list) -> list:
        out = f(*tree_unflatten(in_tree, flat_args))
        out_flat, out_tree = tree_flatten(out)
        store.val = out_tree
        return out_flat

    return f_flat, store


def input_avals(flat: Sequence[Any]) -> list[ShapedArray]:
    """The abstract values of a transform's input leaves, read before ``to_backend``: a Python
    scalar's is weak (see ``ShapedArray``), as it is in eager code."""
    return [get_aval(x) for x in flat]


def trace_flat(f_flat: Callable[[list], list], in_vals: Sequence[Any], concrete: bool = True,
               avals: Sequence[ShapedArray] | None = None, dce: bool = True) -> tuple[Jaxpr, list, list]:
    """Trace ``f_flat`` at the abstract values of ``in_vals`` (or at ``avals``, from ``input_avals``).

    With ``concrete``, inputs carry their values when known, so every intermediate is computed
    too and Python control flow on values works. Returns the jaxpr, its constants, and the
    output tracers. ``dce=False``: see ``Trace.to_jaxpr``.
    """
    if avals is None:
        avals = input_avals(in_vals)
    with new_trace() as trace:
        args = [trace.new_arg(a, (v.val if isinstance(v, Tracer) else v) if concrete else None)
                for v, a in zip(in_vals, avals, strict=True)]
        outs = f_flat(args)
        jaxpr, consts = trace.to_jaxpr(outs, dce)
    return jaxpr, consts, outs


def split_static(args: tuple, static_argnums: Sequence[int]) -> tuple[list, dict]:
    n = len(args)
    static = {}
    for i in static_argnums:
        j = i % n if -n <= i < n else None
        if j is None:
            raise ValueError(f"static_argnums {i} is out of range for {n} positional arguments")
        static[j] = args[j]
    return [a for i, a in enumerate(args) if i not in static], static


def merge_static(dyn: Sequence[Any], static: dict, n: int) -> list:
    it = iter(dyn)
    return [static[i] if i in static else next(it) for i in range(n)]


def make_jaxpr(f: Callable, static_argnums: int | Sequence[int] = ()) -> Callable[..., ClosedJaxpr]:
    """Trace ``f`` into a ``ClosedJaxpr`` at the shapes and dtypes of the given arguments.

    >>> import functrace as ft, functrace.numpy as fnp, numpy as np
    >>> print(ft.make_jaxpr(lambda x: fnp.sum(fnp.sin(x) * 2.0))(np.ones(3, np.float32)))
    { lambda ; a:f32[3]. let
        b:f32[3] = sin a
        c:f32[3] = mul b 2.0
        d:f32[] = reduce_sum[axes=(0,)] c
      in (d,) }
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def traced(*args: Any) -> ClosedJaxpr:
        dyn, static = split_static(args, static_argnums)
        flat, in_tree = tree_flatten(tuple(dyn))
        avals = input_avals(flat)
        flat = [x if isinstance(x, ShapeDtypeStruct) else to_backend(x) for x in flat]  # traced abstractly

        def f_dyn(*dyn_args):
            return f(*merge_static(dyn_args, static, len(args)))

        f_flat, out_tree = flatten_fun(f_dyn, in_tree)
        with tracing_for("inside make_jaxpr"):
            jaxpr, consts, _ = trace_flat(f_flat, flat, concrete=False, avals=avals)
        return ClosedJaxpr(jaxpr, consts, in_tree, out_tree.val)

    traced.__name__ = f"make_jaxpr({getattr(f, '__name__', 'f')})"
    return traced


def eval_shape(f: Callable, *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes of ``f(*args, **kwargs)`` as ``ShapeDtypeStruct``s in the result's
    pytree, found by tracing ``f`` abstractly: nothing is computed and no array is allocated.
    Arguments may be arrays, Python scalars or ``ShapeDtypeStruct``s (pytrees of them).

    >>> ft.eval_shape(lambda x, w: {"y": fnp.tanh(x @ w)}, ft.ShapeDtypeStruct((8, 3), np.float32),
    ...               np.ones((3, 5), np.float32))
    {'y': ShapeDtypeStruct(shape=(8, 5), dtype=float32)}
    """
    flat, in_tree = tree_flatten((args, kwargs))
    avals = input_avals(flat)

    def f_flat_in(*tree: Any) -> Any:
        a, kw = tree
        return f(*a, **kw)

    f_flat, out_tree = flatten_fun(f_flat_in, in_tree)
    with tracing_for("inside eval_shape"):
        _, _, outs = trace_flat(f_flat, [None] * len(flat), concrete=False, avals=avals)
    structs = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in map(get_aval, outs)]
    return tree_unflatten(out_tree.val, structs)


def eval_jaxpr(closed_jaxpr: ClosedJaxpr, *args: Any) -> Any:
    """Run a ``ClosedJaxpr`` on the active backend with the traced function's arguments
    (pytrees allowed); the result has the structure the traced function returned.

    >>> closed = ft.make_jaxpr(lambda x, y: (x * y, x + y))(1.0, 2.0)
    >>> ft.eval_jaxpr(closed, 3.0, 4.0)
    (np.float64(12.0), np.float64(7.0))
    """
    flat, _ = tree_flatten(args)
    if len(flat) != len(closed_jaxpr.jaxpr.invars):
        raise TypeError(f"eval_jaxpr: the jaxpr takes {len(closed_jaxpr.jaxpr.invars)} array arguments, "
                        f"got {len(flat)}")
    flat = [to_backend(x) for x in flat]
    for v, x in zip(closed_jaxpr.jaxpr.invars, flat, strict=True):
        a = get_aval(x)
        if a != v.aval:
            raise TypeError(f"eval_jaxpr: argument of type {a.str_short()} where the jaxpr expects "
                            f"{v.aval.str_short()}")
    consts = [to_backend(c) for c in closed_jaxpr.consts]
    outs = _eval_jaxpr(closed_jaxpr.jaxpr, consts, flat)
    if closed_jaxpr.out_tree is not None:
        return tree_unflatten(closed_jaxpr.out_tree, outs)
    return outs


def _shares_memory(x: Any) -> bool:
    """Whether ``x`` may share memory with another array or refuse writes: a NumPy view (a
    broadcast, a transpose, a slice) or read-only array, a torch view."""
    base = getattr(x, "base", None)
    if base is not None or type(x) is np.ndarray and not x.flags.writeable:
        return True
    is_view = getattr(x, "_is_view", None)  # torch
    return bool(is_view()) if is_view is not None else False


def own_leaves(leaves: list, inputs: Sequence[Any] = ()) -> list:
    """``leaves`` with every array an array of the caller's own, safe to modify in place: a leaf
    that is one of ``inputs``, a leaf seen earlier in the list, or a view or read-only array
    (see ``_shares_memory``) is copied; fresh arrays, scalars and tracers pass. For the results
    of the eager transforms, whose values may be an argument passed through or a broadcast made
    while differentiating (``grad(fnp.mean)``). Works on flat lists: no pytree is walked."""
    taken = None
    out = leaves
    for i, x in enumerate(leaves):
        if isinstance(x, (Tracer, np.generic, int, float, complex, bool)) or x is None:
            continue
        if taken is None:
            taken = {id(y) for y in inputs}
        if id(x) in taken or _shares_memory(x):
            if out is leaves:
                out = list(leaves)
            x = out[i] = current_backend().copy(x)
        taken.add(id(x))
    return out


def own_results(tree: Any, inputs: Any = ()) -> Any:
    """``own_leaves`` over the leaves of a pytree (``inputs`` a pytree too)."""
    leaves, treedef = tree_flatten(tree)
    owned = own_leaves(leaves, tree_flatten(inputs)[0])
    return tree if owned is leaves else tree_unflatten(treedef, owned)


def block_until_ready(tree: Any) -> Any:
    """Wait until every array of ``tree`` has been computed, and return ``tree`` (as JAX's).

    NumPy computes eagerly, so there is nothing to wait for; torch runs CUDA kernels
    asynchronously, so for a tree holding CUDA tensors this synchronises each of their devices
    (``torch.cuda.synchronize``). Use it around timings:
    ``ft.block_until_ready(f(x))``.
    """
    devices = []
    for x in tree_flatten(tree)[0]:
        device = getattr(x, "device", None)
        if getattr(device, "type", None) == "cuda" and device not in devices:
            devices.append(device)
    if devices:
        import sys

        cuda = sys.modules["torch"].cuda  # a CUDA tensor exists, so torch is imported
        for device in devices:
            cuda.synchronize(device)
    return tree


def device_get(tree: Any) -> Any:
    """Every array leaf of ``tree`` as a NumPy array on the host, from any backend (torch
    tensors are detached and copied from their device); other leaves pass through.

    >>> ft.device_get({"w": np.ones(2)})
    {'w': array([1., 1.])}
    """

    def get(x: Any) -> Any:
        if isinstance(x, Tracer):
            return x.to_host("device_get")
        if isinstance(x, (np.ndarray, np.generic)):
            return x
        if hasattr(x, "detach"):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    return tree_map(get, tree)


def device_put(tree: Any) -> Any:
    """Every array leaf of ``tree`` as the active backend's native array (a ``torch.Tensor`` on
    the backend's device under torch, a ``numpy.ndarray`` under numpy); scalars become 0-d arrays,
    other leaves (strings, None) pass through. The inverse of ``device_get``.

    Results of eager ``functrace.numpy`` calls are native arrays, and Python operators between
    two of them are the backend's own; a ``torch.Tensor`` on CUDA refuses a NumPy operand
    (``fnp.sin(x) * x`` with a NumPy ``x``). Put the inputs on the backend first, as one would
    with ``jax.device_put``, and the same program runs on either backend.

    >>> ft.device_put({"w": np.ones(2), "step": 3, "name": "layer0"})
    {'name': 'layer0', 'step': array(3), 'w': array([1., 1.])}
    """

    def put(x: Any) -> Any:
        if isinstance(x, (str, bytes)) or x is None:
            return x
        return to_backend(x)

    return tree_map(put, tree)
