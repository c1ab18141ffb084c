"""Jacobians: jacfwd (forward mode, one JVP per input element, batched with vmap), jacrev
(reverse mode, one VJP per output element, batched with vmap) and hessian = jacfwd(jacrev)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import numpy as fnp
from functrace.api import make_jaxpr, own_results, to_backend
from functrace.avals import ShapedArray
from functrace.errors import GradError
from functrace.tracing import get_aval, located
from functrace.transforms.autodiff import (
    _argnums_tuple,
    _check_differentiable_inputs,
    _check_output_kind,
    _holomorphic_inputs,
    _partial_args,
    linearize,
    vjp,
)
from functrace.transforms.batching import vmap_flat
from functrace.tree_util import tree_flatten, tree_unflatten


def _differentiated(fun: Callable, args: tuple, argnums: Any, name: str) -> tuple[Callable, tuple]:
    """``fun`` as a function of ``args[argnums]`` only, and those arguments (checked)."""
    nums = _argnums_tuple(argnums, len(args), name)
    _check_differentiable_inputs(args, nums, name)
    return _partial_args(fun, args, nums, {}), tuple(args[i] for i in nums)


def _pushforward_basis(linear_fn: Callable[[list], list], in_avals: list[ShapedArray], k: int) -> list:
    """``linear_fn`` applied to every standard basis vector of input leaf ``k`` at once, with vmap.

    The other inputs are zeros. Returns one array per output of ``linear_fn``, each with a
    leading axis of length ``in_avals[k].size``.
    """
    a = in_avals[k]
    zeros = [to_backend(np.zeros(b.shape, b.dtype)) for b in in_avals]
    basis = to_backend(np.eye(a.size, dtype=a.dtype).reshape((a.size,) + a.shape))

    def one(e: list) -> list:
        return linear_fn([e[0] if j == k else z for j, z in enumerate(zeros)])

    if a.size == 0:  # no basis vectors: vmap needs a non-empty axis, so trace the shapes only
        out_avals = make_jaxpr(lambda e: one([e]))(zeros[k]).out_avals
        return [to_backend(np.zeros((0,) + o.shape, o.dtype)) for o in out_avals]
    return vmap_flat(one, [basis], [0], a.size, axis_name=None)


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Jacobian of ``fun`` with respect to ``args[argnums]`` by forward mode (one JVP per
    input element): shape ``out.shape + in.shape``. Prefer it when inputs are few. Complex
    inputs need ``holomorphic=True`` (as in JAX), which also requires complex outputs.

    >>> ft.jacfwd(lambda v: fnp.sin(v) * 2.0)(np.zeros(2))
    array([[2., 0.],
           [0., 2.]])
    """

    @functools.wraps(fun)
    def jac_f(*args: Any) -> Any:
        f_diff, dargs = _differentiated(fun, args, argnums, "jacfwd")
        if holomorphic:
            _holomorphic_inputs(dargs, range(len(dargs)), "jacfwd")
        else:
            _real_inputs(dargs, "jacfwd")
        out, f_jvp = linearize(f_diff, *dargs)
        if holomorphic:
            _check_output_kind(tree_flatten(out)[0], "jacfwd", True)
        in_flat, in_tree = tree_flatten(dargs)
        in_avals = [get_aval(to_backend(x)) for x in in_flat]
        out_flat, out_tree = tree_flatten(out)

        def push(ts: list) -> list:
            return tree_flatten(f_jvp(*tree_unflatten(in_tree, ts)))[0]

        # columns[k][o]: d out_o / d in_k for every basis vector of in_k, shape (in_k.size,) + out_o.shape
        columns = [_pushforward_basis(push, in_avals, k) for k in range(len(in_avals))]
        result = []
        for o_i, o in enumerate(out_flat):
            oa = get_aval(o)
            row = []
            for a, cols in zip(in_avals, columns, strict=True):
                m = fnp.reshape(cols[o_i], a.shape + oa.shape)
                nd_in, nd_out = len(a.shape), len(oa.shape)
                row.append(fnp.transpose(m, tuple(range(nd_in, nd_in + nd_out)) + tuple(range(nd_in))))
            result.append(_in_tree_value(row, in_tree, argnums))
        return own_results(tree_unflatten(out_tree, result), args)

    return jac_f


def _real_inputs(dargs: Sequence[Any], name: str) -> None:
    for leaf in tree_flatten(tuple(dargs))[0]:
        dt = get_aval(to_backend(leaf)).dtype
        if dt.kind == "c":
            raise located(GradError(f"{name} requires real-valued inputs, got {dt.name}; for a holomorphic "
                                    "function pass holomorphic=True, otherwise use ft.jacrev"))


def _in_tree_value(row: list, in_tree, argnums: Any) -> Any:
    """Jacobian blocks for one output leaf, arranged like the differentiated arguments."""
    tree = tree_unflatten(in_tree, row)
    return tree[0] if isinstance(argnums, int) else tree


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Jacobian of ``fun`` with respect to ``args[argnums]`` by reverse mode (one VJP per
    output element): shape ``out.shape + in.shape``. Prefer it when outputs are few. Complex
    outputs need ``holomorphic=True`` (as in JAX), which also requires complex inputs.

    >>> ft.jacrev(lambda v: v[0] * v)(np.array([2.0, 3.0]))
    array([[4., 0.],
           [3., 2.]])
    """

    @functools.wraps(fun)
    def jac_f(*args: Any) -> Any:
        f_diff, dargs = _differentiated(fun, args, argnums, "jacrev")
        if holomorphic:
            _holomorphic_inputs(dargs, range(len(dargs)), "jacrev")
        out, vjp_fn = vjp(f_diff, *dargs)
        out_flat, out_tree = tree_flatten(out)
        _check_output_kind(out_flat, "jacrev", holomorphic)
        out_avals = [get_aval(o) for o in out_flat]
        in_flat, in_tree = tree_flatten(dargs)
        in_avals = [get_aval(to_backend(x)) for x in in_flat]

        def pull(cts: list) -> list:
            return tree_flatten(vjp_fn(tree_unflatten(out_tree, cts)))[0]

        result = []
        for k, oa in enumerate(out_avals):
            rows = _pushforward_basis(pull, out_avals, k)  # rows[i]: (out_k.size,) + in_i.shape
            row = [fnp.reshape(r, oa.shape + a.shape) for r, a in zip(rows, in_avals, strict=True)]
            result.append(_in_tree_value(row, in_tree, argnums))
        return own_results(tree_unflatten(out_tree, result), args)

    return jac_f


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, holomorphic: bool = False) -> Callable:
    """The Hessian of a scalar ``fun``, ``jacfwd(jacrev(fun))``: shape ``in.shape + in.shape``
    (``out.shape + in.shape + in.shape`` in general).

    >>> ft.hessian(lambda v: fnp.sum(v ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(fun, argnums, holomorphic), argnums, holomorphic)


__all__ = ["jacfwd", "jacrev", "hessian"]
