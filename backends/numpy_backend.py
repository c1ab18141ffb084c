"""The NumPy backend (the default, CPU): one implementation per primitive."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from functrace import ops as P
from functrace.backends.base import Backend
from functrace.ir import Literal
from functrace.ops import cumulative as CU
from functrace.ops import debugging as DB
from functrace.ops import dynamic_slicing as DS
from functrace.ops import scatter as SC
from functrace.ops import sorting as SO


def _quiet(f):
    """NumPy warns on log(0), 0/0, ...; functrace returns inf/nan silently, as JAX and torch do."""

    def g(*args, **kw):
        with np.errstate(all="ignore"):
            return f(*args, **kw)

    g.raw = f  # for code that silences warnings around many operations at once
    return g


def _int_div(x, y):
    """Integer division truncating toward zero (C semantics, as in lax.div)."""
    q = np.abs(x) // np.abs(y)
    return np.where((x < 0) != (y < 0), -q, q).astype(np.result_type(x, y))


def _div(x, y):
    if np.issubdtype(np.result_type(x, y), np.integer):
        return _int_div(x, y)
    return np.true_divide(x, y)


def _logistic(x):
    """1 / (1 + exp(-x)), accurate in both tails: exp is only taken of -|x|, so nothing overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x), copy=False)


def _erf(x):
    """The error function (NumPy has none): SciPy's when SciPy is installed, else the C
    library's, one element at a time (exact, but about a hundred times slower)."""
    return _erf_impl()(x)


@functools.lru_cache(maxsize=None)
def _erf_impl():
    try:
        from scipy.special import erf
    except ImportError:
        return _erf_by_element
    return erf


def _erf_by_element(x):
    x = np.asarray(x)
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


def _integer_pow(x, *, y):
    """x ** y for a Python int y: repeated squaring (np.power is several times slower)."""
    if y < 0 and np.issubdtype(np.result_type(x), np.integer):
        raise ValueError("integers cannot be raised to negative integer powers")
    if y == 0:
        return np.ones_like(x)
    base, n, out = x, abs(y), None
    while n:
        if n & 1:
            out = base if out is None else out * base
        n >>= 1
        if n:
            base = base * base
    if out is x:
        out = np.array(x, copy=True)  # a new array, as from any other primitive
    return np.reciprocal(out) if y < 0 else out


def _reduce(ufunc):
    """A reduction by the ufunc's ``reduce`` (np.sum and friends add a Python layer on top);
    sums and products keep the input's dtype (NumPy would widen small integers)."""
    reduce = ufunc.reduce
    if ufunc in (np.add, np.multiply):
        return lambda x, *, axes: reduce(x, axis=axes, dtype=x.dtype)
    return lambda x, *, axes: reduce(x, axis=axes)


def _cumsum(x, *, axis, reverse):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _broadcast_in_dim(x, *, shape, broadcast_dimensions):
    if x.size == math.prod(shape) and list(broadcast_dimensions) == sorted(broadcast_dimensions):
        return x.reshape(shape)  # only axes of length 1 are added: a view, and much cheaper
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = np.shape(x)[i]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _slice(x, *, start_indices, limit_indices, strides):
    return x[_slices(start_indices, limit_indices, strides)]


@functools.lru_cache(maxsize=1024)
def _slices(start_indices: tuple, limit_indices: tuple, strides: tuple) -> tuple:
    return tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides, strict=True))


def _pad(x, padval, *, padding_config):
    return _padded(x, padding_config, padval)


def _pad_with_zeros(x, padval, *, padding_config):
    """``_pad`` for a padding value known to be 0 when lowered (the transpose of a slice):
    np.zeros is twice as fast as np.full."""
    return _padded(x, padding_config, None)


def _padded(x, padding_config, padval):
    """``x`` placed in a new array filled with ``padval`` (zeros for None)."""
    x = np.asarray(x)
    shape, place, crop = _pad_layout(x.shape, padding_config)
    out = np.zeros(shape, dtype=x.dtype) if padval is None else np.full(shape, padval, dtype=x.dtype)
    out[place] = x
    return out if crop is None else out[crop]


@functools.lru_cache(maxsize=1024)
def _pad_layout(in_shape: tuple, padding_config: tuple) -> tuple:
    """(padded shape, where the input goes, crop or None) for one shape and config (cached:
    jitted code pads the same shapes on every call)."""
    lows = [max(lo, 0) for lo, _, _ in padding_config]
    highs = [max(hi, 0) for _, hi, _ in padding_config]
    shape = tuple(lo + hi + d + max(0, d - 1) * i for (lo, hi), d, (_, _, i)
                  in zip(zip(lows, highs, strict=True), in_shape, padding_config, strict=True))
    place = tuple(slice(lo, lo + (d - 1) * (i + 1) + 1 if d else lo, i + 1)
                  for lo, d, (_, _, i) in zip(lows, in_shape, padding_config, strict=True))
    # Negative low/high padding crops.
    if all(lo >= 0 and hi >= 0 for lo, hi, _ in padding_config):
        return shape, place, None
    crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi, _), n in zip(padding_config, shape, strict=True))
    return shape, place, crop


def _scatter_add(x, idx, upd, *, axis):
    out = np.array(x, copy=True)
    np.add.at(out, (slice(None),) * axis + (idx,), upd)
    return out


def _matmul(lhs, rhs, *, dimension_numbers):
    return lhs @ rhs


def _matmul_t(lhs, rhs, *, dimension_numbers):
    return lhs @ rhs.T


def _t_matmul(lhs, rhs, *, dimension_numbers):
    return lhs.T @ rhs


def _t_matmul_t(lhs, rhs, *, dimension_numbers):
    return lhs.T @ rhs.T


# Matrix products of two matrices, by which axis of each is contracted: one BLAS call on views.
_MATRIX_PRODUCTS = {(1, 0): _matmul, (1, 1): _matmul_t, (0, 0): _t_matmul, (0, 1): _t_matmul_t}


@functools.lru_cache(maxsize=256)
def _general_product(lhs_shape: tuple, rhs_shape: tuple, dimension_numbers: tuple) -> Any:
    """``_dot_general`` for one pair of shapes, with its transposes and reshapes worked out once
    (a batched product inside a scan's step runs on every iteration)."""
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [i for i in range(len(lhs_shape)) if i not in lc and i not in lb]
    rfree = [i for i in range(len(rhs_shape)) if i not in rc and i not in rb]
    lperm, rperm = tuple(list(lb) + lfree + list(lc)), tuple(list(rb) + list(rc) + rfree)
    b = math.prod(lhs_shape[i] for i in lb)
    m, k = math.prod(lhs_shape[i] for i in lfree), math.prod(lhs_shape[i] for i in lc)
    n = math.prod(rhs_shape[i] for i in rfree)
    out_shape = tuple([lhs_shape[i] for i in lb] + [lhs_shape[i] for i in lfree] + [rhs_shape[i] for i in rfree])
    lsplit, rsplit = (b, m, k) if lb else (m, k), (b, k, n) if lb else (k, n)

    def product(lhs, rhs, *, dimension_numbers):
        out = np.matmul(lhs.transpose(lperm).reshape(lsplit), rhs.transpose(rperm).reshape(rsplit))
        return out.reshape(out_shape)

    product.__name__ = "_general_product"
    return product


def _dot_general(lhs, rhs, *, dimension_numbers):
    """The product an equation asks for, chosen on each call (eager code); lowered code binds
    the same choice once (``NumpyBackend.specialize``)."""
    (lc, rc), (lb, _) = dimension_numbers
    if not lb and len(lc) == 1 and np.ndim(lhs) == 2 and np.ndim(rhs) == 2:
        return _MATRIX_PRODUCTS[(lc[0], rc[0])](lhs, rhs, dimension_numbers=dimension_numbers)
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    product = _general_product(lhs.shape, rhs.shape, _hashable(dimension_numbers))
    return product(lhs, rhs, dimension_numbers=dimension_numbers)


def _hashable(dimension_numbers: Any) -> tuple:
    return tuple(tuple(tuple(d) for d in pair) for pair in dimension_numbers)


def _iota(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(r.reshape([-1 if i == dimension else 1 for i in range(len(shape))]), shape)


_UNARY = {
    P.neg_p: np.negative, P.sign_p: np.sign, P.abs_p: np.abs, P.floor_p: np.floor,
    P.ceil_p: np.ceil, P.round_p: np.round, P.sin_p: _quiet(np.sin), P.cos_p: _quiet(np.cos), P.tan_p: _quiet(np.tan),
    P.asin_p: _quiet(np.arcsin), P.acos_p: _quiet(np.arccos), P.atan_p: np.arctan,
    P.sinh_p: _quiet(np.sinh), P.cosh_p: _quiet(np.cosh), P.tanh_p: np.tanh,
    P.asinh_p: np.arcsinh, P.acosh_p: _quiet(np.arccosh), P.atanh_p: _quiet(np.arctanh),
    P.exp_p: _quiet(np.exp), P.exp2_p: _quiet(np.exp2), P.expm1_p: _quiet(np.expm1),
    P.log_p: _quiet(np.log), P.log1p_p: _quiet(np.log1p), P.sqrt_p: _quiet(np.sqrt),
    P.logistic_p: _quiet(_logistic), P.erf_p: _erf, P.not_p: np.invert, P.is_finite_p: np.isfinite,
    P.stop_gradient_p: lambda x: x,
}
_BINARY = {
    P.add_p: _quiet(np.add), P.sub_p: _quiet(np.subtract), P.mul_p: _quiet(np.multiply), P.div_p: _quiet(_div),
    P.rem_p: _quiet(np.fmod), P.pow_p: _quiet(np.power), P.max_p: np.maximum, P.min_p: np.minimum,
    P.atan2_p: np.arctan2, P.and_p: np.bitwise_and, P.or_p: np.bitwise_or, P.xor_p: np.bitwise_xor,
    P.eq_p: np.equal, P.ne_p: np.not_equal, P.lt_p: np.less, P.le_p: np.less_equal,
    P.gt_p: np.greater, P.ge_p: np.greater_equal,
}
_OTHER = {
    P.integer_pow_p: _quiet(_integer_pow),
    P.select_p: np.where,
    P.convert_element_type_p: _quiet(lambda x, *, new_dtype: np.asarray(x).astype(new_dtype)),
    P.reduce_sum_p: _quiet(_reduce(np.add)), P.reduce_prod_p: _quiet(_reduce(np.multiply)),
    P.reduce_max_p: _reduce(np.maximum), P.reduce_min_p: _reduce(np.minimum),
    P.reduce_and_p: _reduce(np.logical_and), P.reduce_or_p: _reduce(np.logical_or),
    P.argmax_p: lambda x, *, axis, index_dtype: np.argmax(x, axis=axis).astype(index_dtype),
    P.argmin_p: lambda x, *, axis, index_dtype: np.argmin(x, axis=axis).astype(index_dtype),
    P.cumsum_p: _quiet(_cumsum),
    P.broadcast_in_dim_p: _broadcast_in_dim,
    P.reshape_p: lambda x, *, new_sizes: x.reshape(new_sizes),  # the methods skip NumPy's dispatch
    P.transpose_p: lambda x, *, permutation: x.transpose(permutation),
    P.slice_p: _slice,
    P.rev_p: lambda x, *, dimensions: np.flip(x, dimensions),
    P.pad_p: _pad,
    P.concatenate_p: lambda *xs, dimension: np.concatenate(xs, axis=dimension),
    P.gather_p: lambda x, idx, *, axis: np.take(x, idx, axis=axis),
    P.scatter_add_p: _scatter_add,
    P.dot_general_p: _dot_general,
    P.iota_p: _iota,
}


# ---------------------------------------------------------------------------- sorting
def _sort(*operands, dimension, is_stable, num_keys):
    """A stable sort (NaN last, -0.0 equal to 0.0, as np.argsort and JAX order them)."""
    if len(operands) == 1:
        return [np.sort(operands[0], axis=dimension, kind="stable")]
    if num_keys == 1:
        perm = np.argsort(operands[0], axis=dimension, kind="stable")
    else:
        keys = [np.moveaxis(k, dimension, -1) for k in reversed(operands[:num_keys])]
        perm = np.moveaxis(np.lexsort(keys, axis=-1), -1, dimension)
    return [np.take_along_axis(o, perm, axis=dimension) for o in operands]


_SORTING = {SO.sort_p: _sort}


# ---------------------------------------------------------------------------- scatter
def _scatter_view(x, idx, upd, axis):
    """A fresh copy of x seen with the indexed axis first, the flat indices, and the updates
    arranged to match (one row per index)."""
    out = np.array(x, copy=True)
    flat = np.asarray(idx).reshape(-1)
    moved = np.moveaxis(out, axis, 0)
    k = flat.shape[0]
    u = np.asarray(upd).reshape(x.shape[:axis] + (k,) + x.shape[axis + 1:])
    return out, moved, flat, np.moveaxis(u, axis, 0)


def _scatter(x, idx, upd, *, axis):
    """Write the updates; of repeated indices only the last one is written (so the choice is
    the same as the transpose rule's, on every backend)."""
    out, moved, flat, u = _scatter_view(x, idx, upd, axis)
    k = flat.shape[0]
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    if first_from_end.shape[0] == k:  # no repeats
        moved[flat] = u
    else:
        keep = k - 1 - first_from_end  # the last occurrence of each index
        moved[flat[keep]] = u[keep]
    return out


def _scatter_ufunc(ufunc):
    def impl(x, idx, upd, *, axis, **_):
        out, moved, flat, u = _scatter_view(x, idx, upd, axis)
        ufunc.at(moved, flat, u)
        return out

    return impl


_SCATTER = {SC.scatter_p: _scatter, SC.scatter_mul_p: _quiet(_scatter_ufunc(np.multiply)),
            SC.scatter_min_p: _scatter_ufunc(np.minimum), SC.scatter_max_p: _scatter_ufunc(np.maximum)}


# ---------------------------------------------------------------------------- dynamic slicing
def _block(shape, starts, sizes) -> tuple:
    """The slices of the block: each start wrapped once if negative, then clamped inside."""
    out = []
    for n, s, k in zip(shape, starts, sizes, strict=True):
        s = int(s)
        s = s + n if s < 0 else s
        s = min(max(s, 0), n - k)
        out.append(slice(s, s + k))
    return tuple(out)


def _dynamic_update_slice(x, upd, *starts):
    out = np.array(x, copy=True)
    out[_block(x.shape, starts, upd.shape)] = upd
    return out


_DYNAMIC = {
    DS.dynamic_slice_p: lambda x, *starts, slice_sizes: x[_block(x.shape, starts, slice_sizes)],
    DS.dynamic_update_slice_p: _dynamic_update_slice,
}


# ---------------------------------------------------------------------------- cumulative
def _accumulate(fn):
    def impl(x, *, axis, reverse):
        if reverse:
            return np.flip(fn(np.flip(x, axis), axis), axis)
        return fn(x, axis)

    return impl


_CUMULATIVE = {
    CU.cumprod_p: _quiet(_accumulate(lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype))),
    CU.cummax_p: _quiet(_accumulate(lambda x, axis: np.maximum.accumulate(x, axis=axis))),
    CU.cummin_p: _quiet(_accumulate(lambda x, axis: np.minimum.accumulate(x, axis=axis))),
    CU.cumlogsumexp_p: _quiet(_accumulate(lambda x, axis: np.logaddexp.accumulate(x, axis=axis))),
}


def _square(x, *, y):
    return np.square(x)


def _reduce_short_rows(ufunc):
    """A reduction over the trailing axes of many short rows (a softmax's max and sum over ten
    classes for each of 256 examples): NumPy reduces a short contiguous row element by element,
    row after row (12 µs for 256 rows of 10), while the transposed copy reduces with one vector
    operation per element of the row (2.5 µs, copy included)."""
    reduce = _reduce(ufunc)

    def impl(x, *, axes):
        lead = x.shape[:x.ndim - len(axes)]
        return reduce(x.reshape(math.prod(lead), -1).T.copy(), axes=0).reshape(lead)

    impl.__name__ = f"{ufunc.__name__}_reduce_short_rows"
    return impl


# A reduction over trailing axes takes the transposed route when the rows are at most this long
# (longer rows favour NumPy's own loop) and there are at least _MANY_ROWS of them.
_SHORT_ROW = {P.reduce_max_p: 32, P.reduce_min_p: 32, P.reduce_sum_p: 16, P.reduce_prod_p: 16}
_MANY_ROWS = 64
_SHORT_ROWS_IMPLS = {P.reduce_max_p: _reduce_short_rows(np.maximum), P.reduce_min_p: _reduce_short_rows(np.minimum),
                     P.reduce_sum_p: _reduce_short_rows(np.add), P.reduce_prod_p: _reduce_short_rows(np.multiply)}


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _column_sums(x, *, axes):
    """The sum over the leading axis as a BLAS vector-matrix product with ones (3 µs instead of
    9.5 for a 256 × 256 float32 gradient of a bias). Accumulation order is BLAS's, and a sum of
    negative zeros is +0.0, as in XLA, whose reductions start from +0.0."""
    n = x.shape[0]
    if x.ndim == 2:
        return _ones(n, x.dtype) @ x
    return (_ones(n, x.dtype) @ x.reshape(n, -1)).reshape(x.shape[1:])


# Column sums go to BLAS for float32/float64 columns of this many elements: from 8 (below,
# NumPy's loop is as fast) to 4096 (above, NumPy's pairwise summation keeps more accuracy).
_BLAS_COLUMN = (8, 4096)


def _sums_columns(eqn: Any) -> bool:
    shape, axes = eqn.invars[0].aval.shape, tuple(eqn.params["axes"])
    return (eqn.invars[0].aval.dtype in (np.float32, np.float64) and axes == (0,) and len(shape) >= 2
            and _BLAS_COLUMN[0] <= shape[0] <= _BLAS_COLUMN[1] and math.prod(shape[1:]) >= 8)


def _reduces_short_rows(eqn: Any) -> bool:
    shape, axes = eqn.invars[0].aval.shape, tuple(eqn.params["axes"])
    nd = len(shape)
    if not axes or len(axes) == nd or tuple(sorted(axes)) != tuple(range(nd - len(axes), nd)):
        return False
    row = math.prod(shape[nd - len(axes):])
    return 1 < row <= _SHORT_ROW[eqn.primitive] and math.prod(shape[:nd - len(axes)]) >= _MANY_ROWS


# Implementations chosen when a program is lowered, for an equation's types and params.
_TRUE_DIVIDE = _quiet(np.true_divide)  # floating-point division: no integer check on each call
_SQUARE = _quiet(_square)  # x ** 2, the most common power, without the squaring loop


class NumpyBackend(Backend):
    name = "numpy"
    array_types = (np.ndarray, np.generic)
    implicit_broadcast = frozenset(_BINARY) | {P.select_p}
    silence_errors = staticmethod(functools.partial(np.errstate, all="ignore"))
    fresh_results = (frozenset(_UNARY) - {P.stop_gradient_p}) | frozenset(_BINARY) | frozenset({
        P.integer_pow_p, P.select_p, P.convert_element_type_p, P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p,
        P.reduce_min_p, P.reduce_and_p, P.reduce_or_p, P.argmax_p, P.argmin_p, P.cumsum_p, P.pad_p,
        P.concatenate_p, P.gather_p, P.scatter_add_p, P.dot_general_p})

    def writes_into(self, fn: Any) -> bool:
        return isinstance(fn, np.ufunc)

    def specialize(self, eqn: Any) -> Any:
        prim = eqn.primitive
        if prim is P.div_p and eqn.outvars[0].aval.dtype.kind in "fc":
            return _TRUE_DIVIDE
        if prim is P.integer_pow_p and eqn.params["y"] == 2:
            return _SQUARE
        if prim is P.dot_general_p:
            (lc, rc), (lb, _) = eqn.params["dimension_numbers"]
            lhs, rhs = eqn.invars[0].aval, eqn.invars[1].aval
            if not lb and len(lc) == 1 and lhs.ndim == 2 and rhs.ndim == 2:
                return _MATRIX_PRODUCTS[(lc[0], rc[0])]
            return _general_product(lhs.shape, rhs.shape, _hashable(eqn.params["dimension_numbers"]))
        if prim is P.pad_p:
            padval = eqn.invars[1]
            zero = (isinstance(padval, Literal) and padval.aval.dtype.kind in "biuf" and padval.val == 0
                    and not np.signbit(padval.val))  # -0.0 pads with -0.0
            return _pad_with_zeros if zero else None
        if prim is P.reduce_sum_p and _sums_columns(eqn):
            return _column_sums
        if prim in _SHORT_ROW and _reduces_short_rows(eqn):
            return _SHORT_ROWS_IMPLS[prim]
        return None

    def asarray(self, x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)):
            return x
        if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def to_numpy(self, x: Any) -> Any:
        return self.asarray(x)


_DEBUGGING = {DB.debug_print_p: DB.host_print_impl(np.asarray)}


def make_backend() -> NumpyBackend:
    b = NumpyBackend()
    for table in (_UNARY, _BINARY, _OTHER, _SORTING, _SCATTER, _DYNAMIC, _CUMULATIVE, _DEBUGGING):
        for prim, impl in table.items():
            b.register(prim, impl)
    return b
