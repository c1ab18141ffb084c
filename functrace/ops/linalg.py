"""``dot_general``: contraction with batch dimensions, the one matrix-product primitive
(``matmul``, ``dot``, ``tensordot``, ``einsum`` and ``inner`` compose it). Declared with its
traits, then its ``lax`` wrapper, derivative and batching rules.
"""

from __future__ import annotations

from typing import Any

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import ShapeError
from functrace.primitives import (
    check_kind,
    def_primitive,
    same_dtype,
)
from functrace.rules import (
    aval_of,
    def_batch_rule,
    def_transpose_rule,
    defjvp,
    is_undefined,
    moveaxis,
)
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- declaration
def _dot_general_abstract_eval(lhs: ShapedArray, rhs: ShapedArray, *, dimension_numbers) -> ShapedArray:
    (lc, rc), (lb, rb) = dimension_numbers
    dt = same_dtype("dot_general", lhs, rhs)
    check_kind("dot_general", dt, "fci")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise ShapeError("dot_general: contracting and batch dimension lists must pair up")
    for a, b in zip(lc + lb, rc + rb, strict=True):
        if lhs.shape[a] != rhs.shape[b]:
            raise ShapeError(
                f"dot_general: dimension {a} of lhs {lhs.shape} ({lhs.shape[a]}) does not match "
                f"dimension {b} of rhs {rhs.shape} ({rhs.shape[b]})"
            )
    batch = tuple(lhs.shape[i] for i in lb)
    lfree = tuple(d for i, d in enumerate(lhs.shape) if i not in lc and i not in lb)
    rfree = tuple(d for i, d in enumerate(rhs.shape) if i not in rc and i not in rb)
    return ShapedArray(batch + lfree + rfree, dt)


dot_general_p = def_primitive("dot_general", _dot_general_abstract_eval, linear=(0, 1))


# ---------------------------------------------------------------------------- lax wrapper
def dot_general(lhs: Array, rhs: Array, dimension_numbers) -> Array:
    """Contract ``((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``.

    The result's axes are the batch axes, then lhs's free axes, then rhs's free axes.
    """
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    return bind(dot_general_p, lhs, rhs, dimension_numbers=dn)


# ---------------------------------------------------------------------------- derivatives
defjvp(dot_general_p,
       lambda t, ans, x, y, *, dimension_numbers: lax.dot_general(t, y, dimension_numbers),
       lambda t, ans, x, y, *, dimension_numbers: lax.dot_general(x, t, dimension_numbers))


def _dot_general_transpose(ct, x, y, *, dimension_numbers):
    """Each cotangent is one dot_general of ``ct`` with the other operand, then a transpose into
    the operand's axis order. Of the two operand orders, the one whose result is already in that
    order is preferred: for ``x @ w`` it gives ``xᵀ @ ct`` for ``w`` (as written by hand), with
    no transpose and a C-ordered gradient, rather than ``(ctᵀ @ x)ᵀ``."""
    (xc, yc), (xb, yb) = dimension_numbers
    xc, yc, xb, yb = list(xc), list(yc), list(xb), list(yb)
    x_nd, y_nd = aval_of(x).ndim, aval_of(y).ndim
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


def_transpose_rule(dot_general_p, _dot_general_transpose)


# ---------------------------------------------------------------------------- batching
def _dot_general_batch(args, dims, *, dimension_numbers):
    (lhs, rhs), (dl, dr) = args, dims
    (lc, rc), (lb, rb) = dimension_numbers

    def shift(t):
        return tuple(i + 1 for i in t)

    if dl is not None and dr is not None:
        dn = ((shift(lc), shift(rc)), ((0,) + shift(lb), (0,) + shift(rb)))
        return lax.dot_general(moveaxis(lhs, dl, 0), moveaxis(rhs, dr, 0), dn), 0
    if dl is not None:  # the batch axis is lhs's first free axis
        return lax.dot_general(moveaxis(lhs, dl, 0), rhs, ((shift(lc), rc), (shift(lb), rb))), len(lb)
    # the batch axis is rhs's first free axis, after the batch and lhs free axes
    n_lfree = get_aval(lhs).ndim - len(lc) - len(lb)
    return lax.dot_general(lhs, moveaxis(rhs, dr, 0), ((lc, shift(rc)), (lb, shift(rb)))), len(lb) + n_lfree


def_batch_rule(dot_general_p, _dot_general_batch)


# ---------------------------------------------------------------------------- Taylor rules (jet)
from functrace.rules import def_jet_rule  # noqa: E402


def _dot_general_jet(primals, series, *, dimension_numbers):
    """Bilinear: the k-th coefficient is ``sum_j dot(a_j, b_(k-j))`` (a Cauchy product of dots)."""
    a, b = primals
    sa, sb = series
    ans = dot_general(a, b, dimension_numbers)
    order = len(sa if sa is not None else sb)
    ca = [a] + (list(sa) if sa is not None else [None] * order)
    cb = [b] + (list(sb) if sb is not None else [None] * order)
    out = []
    for k in range(1, order + 1):
        terms = [dot_general(ca[j], cb[k - j], dimension_numbers) for j in range(k + 1)
                 if ca[j] is not None and cb[k - j] is not None]
        acc = terms[0] if terms else lax.zeros_like(ans)
        for t in terms[1:]:
            acc = lax.add(acc, t)
        out.append(acc)
    return ans, out


def_jet_rule(dot_general_p, _dot_general_jet)
