"""uint16, uint32 and uint64 on the torch backend.

torch keeps these three types mostly for storage: on the CPU it has no kernel for their
addition, comparisons, maximum, sums, sorting or gathering ("not implemented for 'UInt32'"). The
primitives of the tables below run them in int64 instead and give the NumPy backend's results:

- ``MODULAR`` (arithmetic that wraps modulo 2**bits, and bit operations): on the same values
  (uint16, uint32: widened) or the same bits (uint64: viewed), then back to the type, modulo
  2**bits. Two's-complement int64 arithmetic gives uint64's bits exactly.
- ``ORDERED`` (extrema, sorting) and ``COMPARED`` (comparisons, argmax): on int64 values in the
  same order as the unsigned ones: the values themselves for uint16 and uint32, the bits with
  the sign bit flipped for uint64 (a bijection that keeps the order); the values of ``ORDERED``
  results are mapped back.
- ``MOVED`` (gathers, slices, selection and other data movement): in int64 as for ``MODULAR``
  (an unsigned index then keeps its value), the moved values mapped back.
- division and remainder: uint16 and uint32 on the same values in int64, uint64 by the unsigned
  long-division identity (``_divmod_u64``); ``abs`` is the identity and ``sign`` is ``x != 0``.

The torch backend calls an adapter only when the deciding operand has one of the three types
(``TorchBackend.register``); every other dtype reaches the family's implementation directly.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from functrace import ops as P
from functrace.ops import cumulative as CU
from functrace.ops import sorting as SO

_BITS = {torch.uint16: 16, torch.uint32: 32, torch.uint64: 64}
_SIGNED = {torch.uint16: torch.int16, torch.uint32: torch.int32, torch.uint64: torch.int64}
_SIGN_BIT = -(1 << 63)
UNSIGNED = frozenset(_BITS)


def _as_int64(x: Any, dtype: Any) -> Any:
    """Same value (uint16, uint32) or same bits (uint64) as int64."""
    if not isinstance(x, torch.Tensor) or x.dtype != dtype:
        return x
    return x.view(torch.int64) if dtype == torch.uint64 else x.to(torch.int64)


def _wrapped(v: Any, dtype: Any) -> Any:
    """An int64 result back to ``dtype``, modulo 2**bits."""
    if dtype == torch.uint64:
        return v.view(torch.uint64)
    return (v & ((1 << _BITS[dtype]) - 1)).to(dtype)


def _ordered(x: Any, dtype: Any) -> Any:
    """int64 values in the order of the unsigned ones."""
    if not isinstance(x, torch.Tensor) or x.dtype != dtype:
        return x
    return x.view(torch.int64) ^ _SIGN_BIT if dtype == torch.uint64 else x.to(torch.int64)


def _unordered(v: Any, dtype: Any) -> Any:
    if not isinstance(v, torch.Tensor) or v.dtype != torch.int64:
        return v  # a comparison's bools, an index
    return (v ^ _SIGN_BIT).view(torch.uint64) if dtype == torch.uint64 else v.to(dtype)


def _modular(fn: Callable) -> Callable:
    def impl(*args: Any, **params: Any) -> Any:
        dtype = args[0].dtype
        return _wrapped(fn(*[_as_int64(a, dtype) for a in args], **params), dtype)

    return impl


def _by_order(fn: Callable, values: bool = True) -> Callable:
    """``values``: the results are operand values, mapped back (not comparisons or indices)."""

    def impl(*args: Any, **params: Any) -> Any:
        dtype = args[0].dtype
        out = fn(*[_ordered(a, dtype) for a in args], **params)
        if not values:
            return out
        return [_unordered(o, dtype) for o in out] if isinstance(out, (list, tuple)) else _unordered(out, dtype)

    return impl


def _moved(fn: Callable, data: int = 0) -> Callable:
    """Data movement: every unsigned operand in int64 (``_as_int64``), the result back to the type
    of operand ``data`` (the one whose values move; the others are indices or a predicate)."""

    def impl(*args: Any, **params: Any) -> Any:
        out = fn(*[_as_int64(a, a.dtype) if isinstance(a, torch.Tensor) and a.dtype in _BITS else a for a in args],
                 **params)
        return _wrapped(out, args[data].dtype)

    return impl


def _abs(x: Any) -> Any:
    return x.clone()


def _sign(x: Any) -> Any:
    return (x != 0).to(x.dtype)


def _divmod_u64(x: Any, y: Any) -> tuple[Any, Any]:
    """Quotient and remainder of uint64 tensors (as int64 bits), 0 for both where y == 0 (as the
    NumPy backend): a divisor of 2**63 or more goes at most once; below it, halve x (a logical
    shift), divide exactly as non-negative int64, double, and correct by one."""
    big = y < 0  # y >= 2**63
    safe = torch.where(y == 0, torch.ones_like(y), y)
    x_ge_y = _ordered(x.view(torch.uint64), torch.uint64) >= _ordered(safe.view(torch.uint64), torch.uint64)
    half = (x >> 1) & ~torch.tensor(_SIGN_BIT, dtype=torch.int64, device=x.device)
    q = torch.div(half, torch.where(big, torch.ones_like(safe), safe), rounding_mode="floor") << 1
    r = x - q * safe
    over = _ordered(r.view(torch.uint64), torch.uint64) >= _ordered(safe.view(torch.uint64), torch.uint64)
    q = torch.where(big, x_ge_y.to(torch.int64), q + over.to(torch.int64))
    r = x - q * safe
    zero = y == 0
    return torch.where(zero, torch.zeros_like(q), q), torch.where(zero, torch.zeros_like(r), r)


def _division(fn: Callable, which: int) -> Callable:
    def impl(x: Any, y: Any) -> Any:
        if x.dtype == torch.uint64:
            return _divmod_u64(x.view(torch.int64), y.view(torch.int64))[which].view(torch.uint64)
        return fn(x.to(torch.int64), y.to(torch.int64)).to(x.dtype)  # uint16, uint32: the results fit

    return impl


# (torch has and, or, xor and the shifts for these types: those run as they are.)
MODULAR = frozenset({P.add_p, P.sub_p, P.mul_p, P.neg_p, P.not_p, P.integer_pow_p,
                     P.reduce_sum_p, P.reduce_prod_p, P.cumsum_p, CU.cumprod_p, P.scatter_add_p, P.scatter_mul_p,
                     P.dot_general_p})
ORDERED = frozenset({P.max_p, P.min_p, P.reduce_max_p, P.reduce_min_p, CU.cummax_p, CU.cummin_p, SO.sort_p,
                     P.scatter_max_p, P.scatter_min_p})
COMPARED = frozenset({P.lt_p, P.le_p, P.gt_p, P.ge_p, P.argmax_p, P.argmin_p})  # (bools or indices out)
MOVED = frozenset({P.gather_p, P.scatter_p, P.dynamic_slice_p, P.dynamic_update_slice_p, P.concatenate_p,
                   P.pad_p, P.transpose_p, P.rev_p})


def adapted(prim: Any, impl: Callable) -> tuple[Callable, int, frozenset] | None:
    """``(adapter, k, types)``: ``adapter`` runs ``prim`` when its operand ``k`` has one of the
    ``types``, as this module's docstring says; None for a primitive that needs none."""
    if prim in MODULAR:
        adapter = _modular(impl)
    elif prim in ORDERED:
        adapter = _by_order(impl)
    elif prim in COMPARED:
        adapter = _by_order(impl, values=False)
    elif prim in MOVED:
        adapter = _moved(impl)
    elif prim is P.select_p:  # (pred, on_true, on_false): the values are the second operand's type
        return _moved(impl, data=1), 1, UNSIGNED
    elif prim is P.abs_p:
        adapter = _abs
    elif prim is P.sign_p:
        adapter = _sign
    elif prim is P.div_p or prim is P.rem_p:
        adapter = _division(impl, 0 if prim is P.div_p else 1)
    else:
        return None
    return adapter, 0, UNSIGNED


__all__ = ["adapted", "MODULAR", "ORDERED", "COMPARED", "MOVED"]
