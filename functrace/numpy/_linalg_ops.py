"""Products: dot, matmul, tensordot, einsum, inner, outer — all lowered to ``dot_general``."""

from __future__ import annotations

import functools
import string
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, is_bool
from functrace.errors import FunctraceError, ShapeError
from functrace.numpy._core import (
    _as_operand,
    _cast,
    asarray,
    astype,
    multiply,
    not_equal,
    result_type,
    user_error,
    where,
)
from functrace.tracing import get_aval, located

Array = Any


def _bool_products(f: Callable) -> Callable:
    """NumPy's products of booleans are booleans (an or of ands): compute in integers, then != 0.

    ``dot_general`` itself takes numbers only.
    """

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        arrays = [a for a in args if not isinstance(a, str)]
        if not arrays or not is_bool(result_type(*arrays)):
            return f(*args, **kwargs)
        ints = [a if isinstance(a, str) else astype(asarray(_as_operand(a)), np.int64) for a in args]
        return not_equal(f(*ints, **kwargs), 0)

    return wrapped


def _pair(a: Any, b: Any, name: str) -> tuple[Any, Any]:
    a, b = _as_operand(a), _as_operand(b)
    a = asarray(a) if isinstance(a, (bool, int, float, complex)) else a
    b = asarray(b) if isinstance(b, (bool, int, float, complex)) else b
    dt = np.result_type(get_aval(a).dtype, get_aval(b).dtype)
    return lax.convert_element_type(a, dt), lax.convert_element_type(b, dt)


def _mismatch(name: str, a: Any, b: Any, ka: int, kb: int) -> ShapeError:
    sa, sb = get_aval(a).shape, get_aval(b).shape
    return located(ShapeError(
        f"{name}: shapes {sa} and {sb} are not aligned: dimension {ka} of the first ({sa[ka]}) "
        f"!= dimension {kb} of the second ({sb[kb]})"))


@_bool_products
def dot(a: Array, b: Array) -> Array:
    """``numpy.dot``: inner product for vectors, matrix product for matrices, and the
    sum over the last axis of ``a`` and the second-to-last of ``b`` in general."""
    a, b = _pair(a, b, "dot")
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        return multiply(a, b)
    kb = 0 if nb == 1 else nb - 2
    if get_aval(a).shape[-1] != get_aval(b).shape[kb]:
        raise _mismatch("dot", a, b, na - 1, kb)
    return lax.dot_general(a, b, (((na - 1,), (kb,)), ((), ())))


@_bool_products
def matmul(a: Array, b: Array) -> Array:
    """``a @ b``: matrix product with broadcast batch dimensions (1-D operands are promoted)."""
    a, b = _pair(a, b, "matmul")
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) == 0 or len(sb) == 0:
        raise located(ShapeError("matmul: operands must not be scalars (use * instead)"))
    a2 = lax.reshape(a, (1,) + sa) if len(sa) == 1 else a
    b2 = lax.reshape(b, sb + (1,)) if len(sb) == 1 else b
    sa2, sb2 = get_aval(a2).shape, get_aval(b2).shape
    if sa2[-1] != sb2[-2]:
        raise located(ShapeError(
            f"matmul: shapes {sa} and {sb} do not match: the last dimension of the first ({sa2[-1]}) "
            f"must equal the second-to-last of the second ({sb2[-2]})"))
    try:
        batch = broadcast_shapes(sa2[:-2], sb2[:-2])
    except FunctraceError as e:
        e.args = (f"matmul: batch dimensions of {sa} and {sb}: {e.args[0]}",)
        raise located(e) from None
    nb = len(batch)
    if nb:
        a2 = lax.broadcast_in_dim(a2, batch + sa2[-2:], tuple(range(nb - len(sa2) + 2, nb + 2)))
        b2 = lax.broadcast_in_dim(b2, batch + sb2[-2:], tuple(range(nb - len(sb2) + 2, nb + 2)))
    bd = tuple(range(nb))
    out = lax.dot_general(a2, b2, (((nb + 1,), (nb,)), (bd, bd)))
    shape = batch + (sa2[-2],) * (len(sa) > 1) + (sb2[-1],) * (len(sb) > 1)
    return lax.reshape(out, shape)


@_bool_products
def tensordot(a: Array, b: Array, axes: int | Sequence = 2) -> Array:
    """Sum products over the last ``axes`` of ``a`` and first of ``b``, or over explicit axis lists."""
    a, b = _pair(a, b, "tensordot")
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(na - axes, na)), list(range(int(axes)))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    ax_a = [x % na for x in ax_a]
    ax_b = [x % nb for x in ax_b]
    if len(ax_a) != len(ax_b):
        raise located(ShapeError(f"tensordot: axes {axes} must name as many axes of each operand"))
    for x, y in zip(ax_a, ax_b, strict=True):
        if get_aval(a).shape[x] != get_aval(b).shape[y]:
            raise _mismatch("tensordot", a, b, x, y)
    return lax.dot_general(a, b, ((tuple(ax_a), tuple(ax_b)), ((), ())))


@_bool_products
def inner(a: Array, b: Array) -> Array:
    """Sum of products over the last axes."""
    a, b = _pair(a, b, "inner")
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        return multiply(a, b)
    if get_aval(a).shape[-1] != get_aval(b).shape[-1]:
        raise _mismatch("inner", a, b, na - 1, nb - 1)
    return lax.dot_general(a, b, (((na - 1,), (nb - 1,)), ((), ())))


@_bool_products
def outer(a: Array, b: Array) -> Array:
    """Outer product of the flattened inputs."""
    from functrace.numpy._core import multiply
    from functrace.numpy._shape import ravel

    a, b = _pair(a, b, "outer")
    a, b = ravel(a), ravel(b)
    # products, not a matrix product: BLAS would add each to +0.0 and lose -0.0 (NumPy's outer multiplies)
    return multiply(lax.reshape(a, (get_aval(a).size, 1)), lax.reshape(b, (1, get_aval(b).size)))


@_bool_products
def vdot(a: Array, b: Array) -> Array:
    from functrace.numpy._shape import ravel

    return dot(ravel(a), ravel(b))


def _parse_einsum(subscripts: str, ranks: Sequence[int]) -> tuple[list[str], str, list[str]]:
    """``(input specs, output spec, ellipsis letters)``. Each ``...`` becomes letters unused
    elsewhere, right-aligned across operands as NumPy broadcasts them: an operand whose
    ``...`` covers e axes gets the last e of the ellipsis letters."""
    s = subscripts.replace(" ", "")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ranks):
        raise user_error(ValueError(f"einsum: {len(ins)} operand subscripts but {len(ranks)} operands"))
    for spec in [*ins, out]:
        if spec.replace("...", "").count(".") or spec.count("...") > 1:
            raise user_error(ValueError(f"einsum: '{subscripts}' has a '.' that is not part of one '...'"))
    widths = [max(r - len(spec.replace("...", "")), 0) if "..." in spec else 0 for spec, r in zip(ins, ranks,
                                                                                                  strict=True)]
    free = [c for c in string.ascii_letters if c not in s]
    ell = free[:max(widths, default=0)]
    ins = [spec.replace("...", "".join(ell[len(ell) - w:])) for spec, w in zip(ins, widths, strict=True)]
    if not arrow:
        counts = {c: lhs.count(c) for c in lhs if c not in ",."}
        out = "".join(ell) + "".join(sorted(c for c, k in counts.items() if k == 1))
    elif "..." in out:
        out = out.replace("...", "".join(ell))
    elif ell:
        raise user_error(ValueError(
            f"einsum: '{subscripts}' gives '...' axes to the operands but not to the output; write '...' in "
            "the output too (NumPy's rule), or sum those axes first"))
    return ins, out, ell


def _einsum_diagonal(x: Any, spec: str) -> tuple[Any, str]:
    """Take the diagonal for an index repeated in one operand (e.g. 'ii'), by masking and summing."""
    from functrace.numpy._reductions import sum as _sum

    while len(set(spec)) != len(spec):
        c = next(ch for ch in spec if spec.count(ch) > 1)
        i = spec.index(c)
        j = spec.index(c, i + 1)
        shape = get_aval(x).shape
        dt = get_aval(x).dtype
        mask_shape = [1] * len(shape)
        mask_shape[i], mask_shape[j] = shape[i], shape[j]
        on_diagonal = np.eye(shape[i], dtype=bool).reshape(mask_shape)
        x = _sum(where(on_diagonal, x, _cast(0, dt)), axis=j, dtype=dt)  # a select: inf off the diagonal stays out
        spec = spec[:j] + spec[j + 1:]
    return x, spec


@_bool_products
def einsum(subscripts: str, *operands: Array) -> Array:
    """Einstein summation, e.g. ``einsum('ij,jk->ik', a, b)``; contracted pairwise via dot_general."""
    ops = _pair_all(operands)
    ins, out, ell = _parse_einsum(subscripts, [get_aval(o).ndim for o in ops])
    from functrace.numpy._reductions import sum as _sum

    sizes: dict[str, int] = {}
    for o, spec in zip(ops, ins, strict=True):
        shape = get_aval(o).shape
        if len(shape) != len(spec):
            raise located(ShapeError(f"einsum: operand of shape {shape} does not match subscripts '{spec}'"))
        for c, d in zip(spec, shape, strict=True):
            if c in ell and d == 1:  # '...' axes broadcast, as in NumPy: a 1 stretches to the others' size
                continue
            if sizes.setdefault(c, d) != d:
                raise located(ShapeError(f"einsum: index '{c}' has sizes {sizes[c]} and {d}"))
    ops = [_stretch_ellipsis(o, spec, ell, sizes) for o, spec in zip(ops, ins, strict=True)]
    items = [_einsum_diagonal(o, spec) for o, spec in zip(ops, ins, strict=True)]
    # Sum out indices that appear in only one operand and not in the output.
    def reduce_private(k: int) -> None:
        x, spec = items[k]
        others = set(out).union(*(set(s) for j, (_, s) in enumerate(items) if j != k))
        private = [i for i, c in enumerate(spec) if c not in others]
        if private:
            x = _sum(x, axis=tuple(private), dtype=get_aval(x).dtype)
            spec = "".join(c for i, c in enumerate(spec) if i not in private)
        items[k] = (x, spec)

    for k in range(len(items)):
        reduce_private(k)
    x, spec = items[0]
    for k in range(1, len(items)):
        y, yspec = items[k]
        rest = set(out).union(*(set(s) for _, s in items[k + 1:]))
        common = [c for c in spec if c in yspec]
        batch = [c for c in common if c in rest]
        contract = [c for c in common if c not in rest]
        dn = ((tuple(spec.index(c) for c in contract), tuple(yspec.index(c) for c in contract)),
              (tuple(spec.index(c) for c in batch), tuple(yspec.index(c) for c in batch)))
        x = lax.dot_general(x, y, dn)
        spec = ("".join(batch) + "".join(c for c in spec if c not in common)
                + "".join(c for c in yspec if c not in common))
        items[k] = (x, spec)
        items[k - 1] = (None, "")
    for c in out:
        if c not in spec:
            raise user_error(ValueError(f"einsum: output index '{c}' does not appear in the inputs"))
    leftover = [i for i, c in enumerate(spec) if c not in out]
    if leftover:
        x = _sum(x, axis=tuple(leftover), dtype=get_aval(x).dtype)
        spec = "".join(c for c in spec if c in out)
    return lax.transpose(x, tuple(spec.index(c) for c in out))


def _stretch_ellipsis(x: Any, spec: str, ell: list[str], sizes: dict[str, int]) -> Any:
    """``x`` with its size-1 '...' axes broadcast to the size the other operands give them."""
    shape = get_aval(x).shape
    want = tuple(sizes.get(c, 1) if c in ell else d for c, d in zip(spec, shape, strict=True))
    return x if want == shape else lax.broadcast_in_dim(x, want, tuple(range(len(shape))))


def _pair_all(operands: Sequence[Any]) -> list:
    ops = [_as_operand(o) for o in operands]
    ops = [asarray(o) if isinstance(o, (bool, int, float, complex)) else o for o in ops]
    dt = np.result_type(*[get_aval(o).dtype for o in ops])
    return [lax.convert_element_type(o, dt) for o in ops]
