"""Reverse mode: a transpose rule per linear primitive, and the backward pass over a linear jaxpr.

A rule receives the output cotangent and the equation's inputs, with the linear ones replaced
by ``UndefinedPrimal``; it returns one cotangent per input (None for non-linear inputs).
Broadcasting of rank-0 operands is undone in one place, ``rules.unbroadcast``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import primitives as P
from functrace.ir import Jaxpr, Literal, Var
from functrace.rules import (
    UndefinedPrimal,
    Zero,
    add_tangents,
    def_transpose_rule,
    instantiate,
    is_undefined,
    transpose_rules,
    unbroadcast,
)
from functrace.tracing import _state, bind, get_aval


def _aval(x: Any):
    return x.aval if isinstance(x, UndefinedPrimal) else get_aval(x)


def neg_transpose(ct, x):
    return [Zero(x.aval) if isinstance(ct, Zero) else lax.neg(ct)]


def add_transpose(ct, x, y):
    return [unbroadcast(ct, _aval(x)) if is_undefined(x) else None,
            unbroadcast(ct, _aval(y)) if is_undefined(y) else None]


def sub_transpose(ct, x, y):
    neg = Zero(_aval(y)) if isinstance(ct, Zero) else lax.neg(ct)
    return [unbroadcast(ct, _aval(x)) if is_undefined(x) else None,
            unbroadcast(neg, _aval(y)) if is_undefined(y) else None]


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise NotImplementedError("mul of two linear values is not linear; cannot transpose it")
    if is_undefined(x):
        return [unbroadcast(lax.mul(ct, y), x.aval), None]
    return [None, unbroadcast(lax.mul(x, ct), y.aval)]


def_transpose_rule(P.mul_p, _mul_transpose)


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise NotImplementedError("div is not linear in its denominator; cannot transpose it")
    return [unbroadcast(lax.div(ct, y), x.aval), None]


def_transpose_rule(P.div_p, _div_transpose)


def _select_transpose(ct, pred, a, b):
    out_aval = get_aval(ct)
    zeros = lax.full(out_aval.shape, 0, out_aval.dtype)
    return [None,
            unbroadcast(lax.select(pred, ct, zeros), _aval(a)) if is_undefined(a) else None,
            unbroadcast(lax.select(pred, zeros, ct), _aval(b)) if is_undefined(b) else None]


def_transpose_rule(P.select_p, _select_transpose)


def _convert_transpose(ct, x, *, new_dtype):
    return [lax.convert_element_type(ct, x.aval.dtype)]


def_transpose_rule(P.convert_element_type_p, _convert_transpose)


def reduce_sum_transpose(ct, x, *, axes):
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [lax.broadcast_in_dim(ct, x.aval.shape, kept)]


def cumsum_transpose(ct, x, *, axis, reverse):
    return [lax.cumsum(ct, axis, reverse=not reverse)]


def broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    """Sum over the new axes and over axes that were stretched from size 1."""
    in_shape = x.aval.shape
    summed = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1)
    axes = tuple(sorted(summed + stretched))
    out = lax.reduce_sum(ct, axes) if axes else ct
    return [lax.reshape(out, in_shape)]


def reshape_transpose(ct, x, *, new_sizes):
    return [lax.reshape(ct, x.aval.shape)]


def transpose_transpose(ct, x, *, permutation):
    return [lax.transpose(ct, tuple(np.argsort(permutation)))]


def slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    """Scatter the slice back into zeros: pad low by start, high by the rest, interior by stride-1."""
    shape = x.aval.shape
    out_shape = get_aval(ct).shape
    config = []
    for d, s, st, n in zip(shape, start_indices, strides, out_shape, strict=True):
        real_limit = s + (n - 1) * st + 1 if n else s
        config.append((s, d - real_limit, st - 1))
    return [lax.pad(ct, np.zeros((), get_aval(ct).dtype)[()], config)]


def rev_transpose(ct, x, *, dimensions):
    return [lax.rev(ct, dimensions)]


def pad_transpose(ct, x, padval, *, padding_config):
    ct_dtype = get_aval(ct).dtype
    zero = np.zeros((), ct_dtype)[()]
    unpadded = lax.pad(ct, zero, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    ua = get_aval(unpadded)
    ct_x = lax.slice(unpadded, (0,) * ua.ndim, ua.shape, tuple(i + 1 for _, _, i in padding_config))
    ct_x = lax.reshape(ct_x, _aval(x).shape)
    ct_pad = None
    if is_undefined(padval):
        total = lax.reduce_sum(ct, tuple(range(get_aval(ct).ndim)))
        inner = lax.reduce_sum(ct_x, tuple(range(ua.ndim)))
        ct_pad = lax.sub(total, inner)
    return [ct_x if is_undefined(x) else None, ct_pad]


def concatenate_transpose(ct, *xs, dimension):
    out, offset = [], 0
    shape = get_aval(ct).shape
    for x in xs:
        n = _aval(x).shape[dimension]
        if is_undefined(x):
            start = [0] * len(shape)
            limit = list(shape)
            start[dimension], limit[dimension] = offset, offset + n
            out.append(lax.slice(ct, start, limit))
        else:
            out.append(None)
        offset += n
    return out


def _gather_transpose(ct, x, idx, *, axis):
    zeros = lax.full(x.aval.shape, 0, x.aval.dtype)
    return [lax.scatter_add(zeros, idx, ct, axis), None]


def_transpose_rule(P.gather_p, _gather_transpose)


def _scatter_add_transpose(ct, x, idx, u, *, axis):
    return [ct if is_undefined(x) else None, None,
            lax.gather(ct, idx, axis) if is_undefined(u) else None]


def_transpose_rule(P.scatter_add_p, _scatter_add_transpose)


def _dot_general_transpose(ct, x, y, *, dimension_numbers):
    """Each cotangent is one dot_general of ``ct`` with the other operand, then a transpose into
    the operand's axis order. Of the two operand orders, the one whose result is already in that
    order is preferred: for ``x @ w`` it gives ``xᵀ @ ct`` for ``w`` (as written by hand), with
    no transpose and a C-ordered gradient, rather than ``(ctᵀ @ x)ᵀ``."""
    (xc, yc), (xb, yb) = dimension_numbers
    xc, yc, xb, yb = list(xc), list(yc), list(xb), list(yb)
    x_nd, y_nd = _aval(x).ndim, _aval(y).ndim
    x_free = [i for i in range(x_nd) if i not in xc and i not in xb]
    y_free = [i for i in range(y_nd) if i not in yc and i not in yb]
    nb = len(xb)
    ct_batch = tuple(range(nb))
    ct_x_part = tuple(range(nb, nb + len(x_free)))
    ct_y_part = tuple(range(nb + len(x_free), nb + len(x_free) + len(y_free)))
    ct_x = ct_y = None
    if is_undefined(x):
        # ct first: batch, x's free dims, then y's contracting dims in ascending order.
        ct_x = _contract_into(ct, y, ct_y_part, y_free, ct_batch, yb,
                              xb + x_free + [xc[yc.index(d)] for d in sorted(yc)],
                              xb + [xc[yc.index(d)] for d in sorted(yc)] + x_free)
    if is_undefined(y):
        ct_y = _contract_into(ct, x, ct_x_part, x_free, ct_batch, xb,
                              yb + y_free + [yc[xc.index(d)] for d in sorted(xc)],
                              yb + [yc[xc.index(d)] for d in sorted(xc)] + y_free)
    return [ct_x, ct_y]


def _contract_into(ct, other, ct_part, other_free, ct_batch, other_batch, axes_ct_first, axes_other_first):
    """``ct`` contracted with ``other`` over ``ct_part`` / ``other_free``, in the order that needs
    no transpose if there is one. ``axes_*`` name the operand axis each result axis is, for the
    result of ``dot_general(ct, other)`` and of ``dot_general(other, ct)``."""
    nd = len(axes_ct_first)
    if axes_ct_first != list(range(nd)) and axes_other_first == list(range(nd)):
        return lax.dot_general(other, ct, ((tuple(other_free), ct_part), (tuple(other_batch), ct_batch)))
    r = lax.dot_general(ct, other, ((ct_part, tuple(other_free)), (ct_batch, tuple(other_batch))))
    return lax.transpose(r, tuple(axes_ct_first.index(i) for i in range(nd)))


def_transpose_rule(P.dot_general_p, _dot_general_transpose)


# ---------------------------------------------------------------------------- the backward pass
def backward_pass(jaxpr: Jaxpr, consts: list, cts_out: list) -> list:
    """Transpose a jaxpr that is linear in its invars (constvars are residuals).

    Returns one cotangent per invar (``Zero`` where nothing flowed). Iterative.
    """
    linear: set[int] = {id(v) for v in jaxpr.invars}
    env: dict[int, Any] = {id(v): c for v, c in zip(jaxpr.constvars, consts, strict=True)}
    linear_eqns = []
    saved = _state.source
    try:
        # Forward: evaluate any equation that does not touch a linear value; note the linear ones.
        for eqn in jaxpr.eqns:
            if any(isinstance(x, Var) and id(x) in linear for x in eqn.invars):
                linear_eqns.append(eqn)
                linear.update(id(v) for v in eqn.outvars)
            else:
                _state.source = eqn.source_info
                vals = [x.val if isinstance(x, Literal) else env[id(x)] for x in eqn.invars]
                out = bind(eqn.primitive, *vals, **eqn.params)
                for v, o in zip(eqn.outvars, out if eqn.primitive.multiple_results else [out], strict=True):
                    env[id(v)] = o
        ct_env: dict[int, Any] = {}

        def add_ct(v, ct):
            if isinstance(v, Var) and id(v) in linear and ct is not None and not isinstance(ct, Zero):
                prev = ct_env.get(id(v))
                ct_env[id(v)] = ct if prev is None else add_tangents(prev, ct)

        for v, ct in zip(jaxpr.outvars, cts_out, strict=True):
            add_ct(v, ct)
        for eqn in reversed(linear_eqns):
            cts = [ct_env.pop(id(v), None) for v in eqn.outvars]
            if all(c is None for c in cts):
                continue
            _state.source = eqn.source_info
            args = [UndefinedPrimal(x.aval) if isinstance(x, Var) and id(x) in linear
                    else (x.val if isinstance(x, Literal) else env[id(x)]) for x in eqn.invars]
            rule = transpose_rules.get(eqn.primitive)
            if rule is None:
                raise NotImplementedError(f"transpose rule for '{eqn.primitive.name}' is not implemented "
                                          "(reverse mode)")
            if eqn.primitive.multiple_results:
                cts = [instantiate(Zero(v.aval)) if c is None else c for c, v in zip(cts, eqn.outvars, strict=True)]
                ct_in = rule(cts, *args, **eqn.params)
            else:
                ct_in = rule(cts[0], *args, **eqn.params)
            for x, c in zip(eqn.invars, ct_in, strict=True):
                add_ct(x, c)
    finally:
        _state.source = saved
    return [ct_env.get(id(v), Zero(v.aval)) for v in jaxpr.invars]
