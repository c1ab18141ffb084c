"""The Taylor series of a control-flow primitive's operands, flattened into extra operands of
its sub-jaxprs' jets and back: shared by the jet rules of ``cond``, ``while`` and ``scan``."""

from __future__ import annotations

from typing import Any, Sequence

from functrace.avals import ShapedArray, is_float
from functrace.ops._subjaxprs import _zeros


def jet_order(series: Sequence[Any]) -> int:
    return len(next(s for s in series if s is not None))


def flat_series(series: Sequence[Any], avals: Sequence[ShapedArray] | None = None, order: int = 0) -> list:
    """The coefficients of the given series, one after another; with ``avals``, zeros for every
    floating value without a series (loop carries always carry one)."""
    out = []
    for i, s in enumerate(series):
        if s is not None:
            out += list(s)
        elif avals is not None and is_float(avals[i].dtype):
            out += [_zeros(avals[i])] * order
    return out


def unflat_series(flat: Sequence[Any], flags: Sequence[bool], order: int) -> list:
    it = iter(flat)
    return [[next(it) for _ in range(order)] if f else None for f in flags]
