"""``functrace.nn.initializers``: parameter initializers as ``jax.nn.initializers``.

An initializer is a function ``init(key, shape, dtype) -> array``; the builders below
(``normal(stddev)``, ``glorot_uniform()``, ...) return one. They draw from ``functrace.random``,
so the same key gives JAX's numbers (to float rounding), and they trace like any other
function: under ``jit`` and ``vmap`` over keys too. The default dtype is functrace's default
float (float64, as JAX's with ``jax_enable_x64``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from functrace import numpy as fnp
from functrace import random
from functrace.errors import ShapeError

Array = Any
Initializer = Callable[..., Array]

__all__ = [
    "Initializer", "zeros", "ones", "constant", "uniform", "normal", "truncated_normal", "variance_scaling",
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "lecun_uniform", "lecun_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal", "orthogonal",
]


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float64 if dtype is None else dtype)


def _shape(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros(key: Array, shape: Sequence[int], dtype: Any = None) -> Array:
    """An array of zeros (the key is not used)."""
    return fnp.zeros(_shape(shape), _dtype(dtype))


def ones(key: Array, shape: Sequence[int], dtype: Any = None) -> Array:
    """An array of ones (the key is not used)."""
    return fnp.ones(_shape(shape), _dtype(dtype))


def constant(value: Any, dtype: Any = None) -> Initializer:
    """An initializer filling with ``value``."""
    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        return fnp.full(_shape(shape), value, _dtype(dtype))

    return init


def _scaled(x: Array, factor: Any, dtype: np.dtype) -> Array:
    return fnp.multiply(x, fnp.asarray(factor, dtype))


def uniform(scale: float = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer drawing uniformly from ``[0, scale)``."""
    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dt = _dtype(dtype)
        return _scaled(random.uniform(key, _shape(shape), dt), scale, dt)

    return init


def normal(stddev: float = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer drawing from a normal distribution with mean 0 and ``stddev``."""
    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dt = _dtype(dtype)
        return _scaled(random.normal(key, _shape(shape), dt), stddev, dt)

    return init


def truncated_normal(stddev: float = 1e-2, dtype: Any = None, lower: float = -2.0, upper: float = 2.0) -> Initializer:
    """An initializer drawing ``stddev`` times a standard normal truncated to ``(lower, upper)``
    (no variance correction, as JAX's)."""
    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dt = _dtype(dtype)
        return _scaled(random.truncated_normal(key, lower, upper, _shape(shape), dt), stddev, dt)

    return init


def _axes_size(shape: tuple[int, ...], axes: int | Sequence[int]) -> int:
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _compute_fans(shape: tuple[int, ...], in_axis: int | Sequence[int], out_axis: int | Sequence[int],
                  batch_axis: int | Sequence[int]) -> tuple[float, float]:
    """Fan-in and fan-out of a weight of ``shape``: the axes outside ``in_axis``, ``out_axis``
    and ``batch_axis`` are a convolution's receptive field and multiply both."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ShapeError(f"cannot compute the fans of a {len(shape)}-dimensional weight with the default "
                         "in_axis; the shape needs at least 2 axes, or pass in_axis and out_axis")
    try:
        in_size, out_size = _axes_size(shape, in_axis), _axes_size(shape, out_axis)
        batch = _axes_size(shape, batch_axis)
    except IndexError:
        raise ShapeError(f"in_axis={in_axis}, out_axis={out_axis} or batch_axis={batch_axis} is out of range "
                         f"for a weight of shape {shape}") from None
    receptive = math.prod(shape) / in_size / out_size / batch
    return in_size * receptive, out_size * receptive


def variance_scaling(scale: float, mode: str, distribution: str, in_axis: int | Sequence[int] = -2,
                     out_axis: int | Sequence[int] = -1, batch_axis: int | Sequence[int] = (),
                     dtype: Any = None) -> Initializer:
    """An initializer whose samples have variance ``scale / n``, ``n`` the fan-in, the fan-out, or
    their arithmetic (``fan_avg``) or geometric (``fan_geo_avg``) mean; ``distribution`` is
    ``truncated_normal`` (truncated to two standard deviations, variance corrected),
    ``normal`` or ``uniform``."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"invalid mode for variance scaling initializer: {mode!r}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution!r}")

    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        shape, dt = _shape(shape), _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = np.asarray(scale / denominator, dt)
        if distribution == "truncated_normal":
            # .8796... is the standard deviation of a standard normal truncated to (-2, 2)
            stddev = np.sqrt(variance) / np.asarray(0.87962566103423978, dt)
            return _scaled(random.truncated_normal(key, -2, 2, shape, dt), stddev, dt)
        if distribution == "normal":
            return _scaled(random.normal(key, shape, dt), np.sqrt(variance), dt)
        return _scaled(random.uniform(key, shape, dt, -1), np.sqrt(3 * variance), dt)

    return init


def glorot_uniform(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                   batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """Glorot (Xavier) uniform: ``variance_scaling(1.0, "fan_avg", "uniform")``."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                  batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """Glorot (Xavier) normal: ``variance_scaling(1.0, "fan_avg", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def lecun_uniform(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                  batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """LeCun uniform: ``variance_scaling(1.0, "fan_in", "uniform")``."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                 batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """LeCun normal: ``variance_scaling(1.0, "fan_in", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def he_uniform(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
               batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """He (Kaiming) uniform: ``variance_scaling(2.0, "fan_in", "uniform")``."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
              batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """He (Kaiming) normal: ``variance_scaling(2.0, "fan_in", "truncated_normal")``."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def _orthonormal_columns(z: Array) -> Array:
    """Q of the QR factorisation of the tall matrix ``z`` with a positive diagonal of R: Gram-Schmidt
    with a second orthogonalisation pass per column (the sign convention JAX applies to its QR)."""
    rows, cols = z.shape
    q = None
    out = []
    for j in range(cols):
        v = z[:, j]
        if q is not None:
            for _ in range(2):
                v = fnp.subtract(v, fnp.matmul(q, fnp.matmul(fnp.transpose(q), v)))
        v = fnp.divide(v, fnp.sqrt(fnp.sum(fnp.multiply(v, v))))
        out.append(v)
        q = fnp.stack(out, axis=1)
    return q


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """An initializer of matrices with orthonormal columns (or rows, if fewer), times ``scale``:
    the Q factor of a normal sample, as JAX's."""
    def init(key: Array, shape: Sequence[int], dtype: Any = dtype) -> Array:
        shape, dt = _shape(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ShapeError(f"the orthogonal initializer needs a shape of at least 2 axes, got {shape}")
        if any(d == 0 for d in shape):
            return fnp.zeros(shape, dt)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        z = random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dt)
        q = _orthonormal_columns(z)
        if n_rows < n_cols:
            q = fnp.transpose(q)
        rest = tuple(np.delete(np.array(shape), column_axis))
        q = fnp.moveaxis(fnp.reshape(q, rest + (n_cols,)), -1, column_axis)
        return _scaled(q, scale, dt)

    return init
