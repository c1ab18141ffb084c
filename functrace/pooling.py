"""Pooling in the shape of flax's ``nn.max_pool``/``nn.avg_pool``/``nn.min_pool`` (channels last).

``inputs`` is ``(batch..., spatial..., features)``: one spatial axis per entry of
``window_shape``, the features last, and any number of leading batch axes (none for a single
example). Each is one ``reduce_window`` over the spatial axes, so derivatives, ``vmap`` and
``jit`` come from that primitive's rules; max pooling routes each window's derivative to the
first maximal element (row-major within the window).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from functrace import numpy as fnp
from functrace.errors import ShapeError
from functrace.ops.convolution import reduce_window_max, reduce_window_min, reduce_window_sum
from functrace.tracing import get_aval

Array = Any


def pool(inputs: Array, reduce: Callable, window_shape: Sequence[int], strides: Sequence[int] | None,
         padding: Any) -> Array:
    """``reduce`` (one of ``lax.reduce_window_{sum,max,min}``) over windows of the spatial axes."""
    x = fnp.asarray(inputs)
    shape = get_aval(x).shape
    window_shape = tuple(int(w) for w in window_shape)
    n = len(window_shape)
    strides = (1,) * n if strides is None else tuple(int(s) for s in strides)
    if len(strides) != n:
        raise ShapeError(f"pooling: strides {strides} need one entry per window axis ({n})")
    n_batch = len(shape) - n - 1
    if n_batch < 0:
        raise ShapeError(f"pooling with a {n}-d window needs inputs of rank >= {n + 1} "
                         f"(spatial axes then features), got shape {shape}")
    dims = (1,) * n_batch + window_shape + (1,)
    steps = (1,) * n_batch + strides + (1,)
    if not isinstance(padding, str):
        padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        if len(padding) != n:
            raise ShapeError(f"pooling: padding {padding} needs one (low, high) pair per window axis ({n})")
        padding = ((0, 0),) * n_batch + padding + ((0, 0),)
    return reduce(x, dims, steps, padding)


def max_pool(inputs: Array, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Any = "VALID") -> Array:
    """The maximum over each window (padding counts as -inf), as ``flax.linen.max_pool``."""
    return pool(inputs, reduce_window_max, window_shape, strides, padding)


def min_pool(inputs: Array, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Any = "VALID") -> Array:
    """The minimum over each window (padding counts as +inf), as ``flax.linen.min_pool``."""
    return pool(inputs, reduce_window_min, window_shape, strides, padding)


def avg_pool(inputs: Array, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Any = "VALID", count_include_pad: bool = True) -> Array:
    """The mean over each window, as ``flax.linen.avg_pool``: with ``count_include_pad`` the sum
    is divided by the window's size, padding included; otherwise by the number of real elements
    in each window."""
    x = fnp.asarray(inputs)
    sums = pool(x, reduce_window_sum, window_shape, strides, padding)
    if count_include_pad:
        return fnp.true_divide(sums, math.prod(window_shape))
    shape = get_aval(x).shape
    counts = pool(fnp.ones(shape[:-1] + (1,), dtype=get_aval(x).dtype), reduce_window_sum, window_shape, strides,
                  padding)
    return fnp.true_divide(sums, counts)


__all__ = ["avg_pool", "max_pool", "min_pool", "pool"]
