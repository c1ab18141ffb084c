"""The NumPy backend (the default, CPU): one implementation per primitive."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from functrace import ops as P
from functrace.backends.base import Backend
from functrace.errors import BackendError
from functrace.ir import Literal
from functrace.ops import complex_parts as CP
from functrace.ops import convolution as C
from functrace.ops import cumulative as CU
from functrace.ops import debugging as DB
from functrace.ops import dynamic_slicing as DS
from functrace.ops import fft as FT
from functrace.ops import linalg_decompositions as LD
from functrace.ops import random_bits as RB
from functrace.ops import scatter as SC
from functrace.ops import sorting as SO
from functrace.ops import special as SP


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


def _convert(x, *, new_dtype):
    """A cast; complex -> real keeps the real part (as JAX), without NumPy's ComplexWarning."""
    x = np.asarray(x)
    if x.dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
        x = x.real
    return x.astype(new_dtype)


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
    P.convert_element_type_p: _quiet(_convert),
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


# ---------------------------------------------------------------------------- convolution
def _window_geometry(shape, window, strides, dilation):
    """Output extent of each window axis, or None when some axis has no complete window."""
    out = []
    for d, w, s, r in zip(shape, window, strides, dilation, strict=True):
        eff = (w - 1) * r + 1
        if d < eff:
            return None
        out.append((d - eff) // s + 1)
    return out


def _conv_general_dilated(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count, precision, preferred_element_type):
    """im2col: a strided view of every window (no copy), then one matrix product per feature
    group (a single batched BLAS call), in channels-last order so each row of the window matrix
    is contiguous in the input's features."""
    lspec, rspec, ospec = dimension_numbers
    n = lhs.ndim - 2
    if preferred_element_type is not None:
        lhs, rhs = lhs.astype(preferred_element_type), rhs.astype(preferred_element_type)
    x = np.transpose(lhs, (lspec[0],) + tuple(lspec[2:]) + (lspec[1],))  # N, spatial..., C
    w = np.transpose(rhs, tuple(rspec[2:]) + (rspec[1], rspec[0]))  # spatial..., I, O
    cfg = ((0, 0, 0),) + tuple((lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dilation, strict=True)) \
        + ((0, 0, 0),)
    if any(c != (0, 0, 0) for c in cfg):
        x = _padded(x, cfg, None)
    groups = feature_group_count
    if batch_group_count > 1:  # example groups become feature groups: N = (B, N/B) -> C = (B, C)
        b = batch_group_count
        x = x.reshape((b, x.shape[0] // b) + x.shape[1:])
        x = np.moveaxis(x, 0, -2).reshape(x.shape[1:-1] + (b * x.shape[-1],))
        groups = b
    x = np.ascontiguousarray(x)
    ksize, (cin, cout) = w.shape[:n], w.shape[n:]
    out_sp = _window_geometry(x.shape[1:n + 1], ksize, window_strides, rhs_dilation)
    batch = x.shape[0]
    canon_shape = (batch,) + tuple(out_sp or [0] * n) + (cout,)
    inverse = [0] * lhs.ndim
    for canonical, axis in enumerate((ospec[0],) + tuple(ospec[2:]) + (ospec[1],)):
        inverse[axis] = canonical
    if out_sp is None or 0 in canon_shape or cin == 0 or 0 in ksize:
        return np.zeros(canon_shape, x.dtype).transpose(inverse)
    per_example = math.prod(out_sp) * math.prod(ksize) * x.shape[-1] * x.itemsize
    chunk = max(1, _IM2COL_BYTES // max(per_example, 1))
    if chunk >= batch:
        return _im2col_product(x, w, out_sp, ksize, window_strides, rhs_dilation, groups).transpose(inverse)
    out = np.empty(canon_shape, np.result_type(x, w))
    for start in range(0, batch, chunk):  # bounded memory: the window matrix of a few examples at a time
        out[start:start + chunk] = _im2col_product(x[start:start + chunk], w, out_sp, ksize, window_strides,
                                                   rhs_dilation, groups)
    return out.transpose(inverse)


# The most memory one window matrix (im2col) may take; larger batches are split into chunks.
_IM2COL_BYTES = 1 << 27


def _im2col_product(x, w, out_sp, ksize, window_strides, rhs_dilation, groups):
    """One convolution of examples ``x`` (N, spatial..., C), already padded and dilated, with
    ``w`` (spatial..., I, O): a strided view of every window, copied into the window matrix,
    times the kernel (one batched product over the groups)."""
    n = len(ksize)
    cin, cout = w.shape[n:]
    batch = x.shape[0]
    st = x.strides
    view_shape = (batch,) + tuple(out_sp) + tuple(ksize) + (x.shape[-1],)
    view_strides = ((st[0],) + tuple(st[1 + i] * window_strides[i] for i in range(n))
                    + tuple(st[1 + i] * rhs_dilation[i] for i in range(n)) + (st[-1],))
    patches = np.lib.stride_tricks.as_strided(x, view_shape, view_strides, writeable=False)
    rows, k = batch * math.prod(out_sp), math.prod(ksize)
    if groups == 1:
        out = patches.reshape(rows, k * cin) @ w.reshape(k * cin, cout)
    else:
        pg = patches.reshape((rows, k, groups, cin)).transpose(2, 0, 1, 3).reshape(groups, rows, k * cin)
        wg = w.reshape(k * cin, groups, cout // groups).transpose(1, 0, 2)
        out = np.matmul(pg, wg).transpose(1, 0, 2).reshape(rows, cout)
    return out.reshape((batch,) + tuple(out_sp) + (cout,))


def _reduce_window(ufunc, kind):
    """A windowed reduction on a strided view of the padded (and dilated) operand: every window
    at once, reduced over the window axes by the ufunc."""
    def impl(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        x = np.asarray(x)
        ident = _window_identity(kind, x.dtype)
        cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(padding, base_dilation, strict=True))
        if any(c != (0, 0, 0) for c in cfg):
            x = _padded(x, cfg, ident)
        nd = x.ndim
        out_shape = _window_geometry(x.shape, window_dimensions, window_strides, window_dilation)
        if out_shape is None or 0 in out_shape:
            return np.full(out_shape or [0] * nd, ident, x.dtype)
        kw = dict(dtype=x.dtype) if kind == "sum" else {}
        x = np.ascontiguousarray(x)
        k = math.prod(window_dimensions)
        if k <= 16:
            # Window element first, copied: the reduction is then k - 1 vector operations over
            # contiguous rows (reducing each short window in place is several times slower).
            view = np.lib.stride_tricks.as_strided(
                x, tuple(window_dimensions) + tuple(out_shape),
                tuple(s * d for s, d in zip(x.strides, window_dilation, strict=True))
                + tuple(s * w for s, w in zip(x.strides, window_strides, strict=True)), writeable=False)
            return ufunc.reduce(view.reshape((k,) + tuple(out_shape)), axis=0, **kw)
        view = np.lib.stride_tricks.as_strided(
            x, tuple(out_shape) + tuple(window_dimensions),
            tuple(s * w for s, w in zip(x.strides, window_strides, strict=True))
            + tuple(s * d for s, d in zip(x.strides, window_dilation, strict=True)), writeable=False)
        return ufunc.reduce(view, axis=tuple(range(nd, 2 * nd)), **kw)

    impl.__name__ = f"reduce_window_{kind}"
    return impl


def _window_identity(kind, dtype):
    if kind == "sum":
        return dtype.type(0)
    if dtype.kind == "f":
        return dtype.type(-np.inf if kind == "max" else np.inf)
    info = np.iinfo(dtype)
    return dtype.type(info.min if kind == "max" else info.max)


def _selected(x, kind, params):
    """Flat indices, in the padded and dilated operand, of each window's first max (min), and that
    operand's geometry (``ops.convolution.select_layout``)."""
    wd, ws, pad, bd, wdil = (params[k] for k in ("window_dimensions", "window_strides", "padding", "base_dilation",
                                                 "window_dilation"))
    pshape, out, starts, offsets, disjoint = C.select_layout(x.shape, wd, ws, pad, bd, wdil)
    if 0 in out:
        return None, pshape, out, disjoint
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(pad, bd, strict=True))
    xp = np.ascontiguousarray(_padded(x, cfg, _window_identity(kind, x.dtype)) if any(c != (0, 0, 0) for c in cfg)
                              else x)
    # Window element first: row k holds the k-th element of every window, contiguously, so the
    # search below is a few vector operations per window element (argmax over short rows is slow).
    view = np.lib.stride_tricks.as_strided(
        xp, tuple(wd) + out, tuple(s * r for s, r in zip(xp.strides, wdil, strict=True))
        + tuple(s * w for s, w in zip(xp.strides, ws, strict=True)), writeable=False)
    rows = view.reshape(len(offsets), -1)
    best = (np.maximum if kind == "max" else np.minimum).reduce(rows, axis=0)
    pick = np.zeros(best.shape, np.intp)
    taken = np.zeros(best.shape, bool)
    for k in range(len(offsets)):  # the first row that attains the extremum, per window
        hit = rows[k] == best
        hit &= ~taken
        taken |= hit
        if k:
            pick += hit * k
    pick = pick.reshape(out)
    return starts + offsets[pick], pshape, out, disjoint


def _select_and_gather_add(t, x, *, kind, **params):
    flat, pshape, out, _ = _selected(x, kind, params)
    if flat is None:
        return np.zeros(out, t.dtype)
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(params["padding"], params["base_dilation"], strict=True))
    tp = _padded(t, cfg, None) if any(c != (0, 0, 0) for c in cfg) else np.asarray(t)
    return np.take(tp.reshape(-1), flat)


def _select_and_scatter_add(ct, x, *, kind, **params):
    flat, pshape, out, disjoint = _selected(x, kind, params)
    result = np.zeros(x.shape, ct.dtype)
    if flat is None:
        return result
    size = math.prod(pshape)
    if disjoint:  # every padded position is chosen at most once: a plain assignment
        buf = np.zeros(size, ct.dtype)
        buf[flat.reshape(-1)] = np.asarray(ct).reshape(-1)
    else:
        buf = np.bincount(flat.reshape(-1), weights=np.asarray(ct).reshape(-1), minlength=size).astype(ct.dtype)
    buf = buf.reshape(pshape)
    if pshape == x.shape:
        return buf
    where = C.unpad_slices(x.shape, pshape, params["padding"], params["base_dilation"])
    if where is not None:
        result[where[0]] = buf[where[1]]
    return result


_CONV = {
    C.conv_general_dilated_p: _conv_general_dilated,
    C.reduce_window_sum_p: _reduce_window(np.add, "sum"),
    C.reduce_window_max_p: _reduce_window(np.maximum, "max"),
    C.reduce_window_min_p: _reduce_window(np.minimum, "min"),
    C.select_and_gather_add_p: _select_and_gather_add,
    C.select_and_scatter_add_p: _select_and_scatter_add,
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


# ---------------------------------------------------------------------------- random bits
# The Threefry-2x32 rotations of the even and odd groups of four rounds, and the key-schedule
# constant (JAX's and the Random123 paper's).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA
_M32 = 0xFFFFFFFF
# Elements per block: the three uint32 work blocks (768 KiB) stay in a 1 MiB L2 cache through all 20
# rounds, and each ufunc call does enough work that its call overhead hardly counts.
_THREEFRY_BLOCK = 1 << 16


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds, on uint32 arrays: in place, one cache-sized block at a time.

    Each round is four in-place ufunc calls on the block (add, rotate by two shifts and an or,
    xor); the keys, usually rank 0, are added as scalars. uint32 arithmetic wraps, as the
    cipher needs."""
    k1, k2, x1, x2 = (np.asarray(a, dtype=np.uint32) for a in (k1, k2, x1, x2))
    shape = np.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    n = math.prod(shape)
    y1 = np.empty(n, np.uint32)
    y2 = np.empty(n, np.uint32)
    scalar_keys = k1.ndim == 0 and k2.ndim == 0
    if scalar_keys:
        ka, kb = int(k1), int(k2)
        ks = (ka, kb, ka ^ kb ^ _THREEFRY_PARITY)
    else:
        ka = np.broadcast_to(k1, shape).ravel()
        kb = np.broadcast_to(k2, shape).ravel()
    xa = np.broadcast_to(x1, shape).reshape(-1) if x1.ndim else x1
    xb = np.broadcast_to(x2, shape).reshape(-1) if x2.ndim else x2
    tmp = np.empty(min(n, _THREEFRY_BLOCK), np.uint32)
    for lo in range(0, n, _THREEFRY_BLOCK):
        hi = min(n, lo + _THREEFRY_BLOCK)
        a, b, t = y1[lo:hi], y2[lo:hi], tmp[:hi - lo]
        a[...] = xa[lo:hi] if xa.ndim else xa
        b[...] = xb[lo:hi] if xb.ndim else xb
        if scalar_keys:
            sched = ks
        else:
            k0, k1b = ka[lo:hi], kb[lo:hi]
            sched = (k0, k1b, k0 ^ k1b ^ np.uint32(_THREEFRY_PARITY))
        _threefry_block(a, b, t, sched)
    return y1.reshape(shape), y2.reshape(shape)


def _threefry_block(a, b, t, ks):
    """The 20 rounds on one block (``a``, ``b`` in place; ``t`` scratch). ``ks``: the three words
    of the key schedule, Python ints or uint32 arrays."""
    scalar = isinstance(ks[0], int)
    a += ks[0]
    b += ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            a += b
            np.left_shift(b, r, out=t)
            b >>= 32 - r
            b |= t
            b ^= a
        a += ks[(i + 1) % 3]
        if scalar:
            b += (ks[(i + 2) % 3] + i + 1) & _M32
        else:
            b += ks[(i + 2) % 3]
            b += i + 1


def _bits_of(dtype):
    return np.dtype(dtype).itemsize * 8


def _unsigned(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def _shift_left(x, y):
    """x << y, 0 where y is negative or at least the width (NumPy leaves that to C)."""
    x, y = np.asarray(x), np.asarray(y)
    nb = _bits_of(x.dtype)
    out_of_range = (y < 0) | (y >= nb)
    r = np.left_shift(x, np.where(out_of_range, 0, y).astype(y.dtype, copy=False))
    return np.where(out_of_range, np.zeros((), x.dtype), r)


def _shift_right_logical(x, y):
    x, y = np.asarray(x), np.asarray(y)
    nb, u = _bits_of(x.dtype), _unsigned(x.dtype)
    out_of_range = (y < 0) | (y >= nb)
    r = np.right_shift(x.view(u) if x.ndim else x.astype(u), np.where(out_of_range, 0, y).astype(u))
    return np.where(out_of_range, np.zeros((), u), r).astype(x.dtype, copy=False)


def _shift_right_arithmetic(x, y):
    x, y = np.asarray(x), np.asarray(y)
    nb = _bits_of(x.dtype)
    if x.dtype.kind == "u":  # an arithmetic shift of an unsigned value is a logical one
        return _shift_right_logical(x, y)
    return np.right_shift(x, np.clip(y, 0, nb - 1).astype(y.dtype, copy=False))


def _bitcast_convert_type(x, *, new_dtype):
    x = np.asarray(x)
    if not x.flags.c_contiguous:  # (np.ascontiguousarray would make a rank-0 array rank 1)
        x = x.copy()
    return x.view(new_dtype)


def _erf_inv(x):
    """The inverse error function. float32 and float16: Giles' single-precision polynomials, as
    XLA computes it (and four times faster than SciPy's); float64: SciPy's when installed, else
    Newton steps on erf."""
    x = np.asarray(x)
    if x.dtype in (np.float32, np.float16):
        return _erf_inv32(x.astype(np.float32, copy=False)).astype(x.dtype, copy=False)
    try:
        from scipy.special import erfinv
    except ImportError:
        return _erf_inv_newton(x)
    return np.asarray(erfinv(x), dtype=x.dtype)


# Giles, "Approximating the erfinv function" (GPU Gems 2012), single precision: the polynomial in
# w - 2.5 for w = -log(1 - x**2) < 5, and in sqrt(w) - 3 beyond; highest degree first.
_ERFINV_CENTRAL = tuple(np.float32(c) for c in (
    2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
    -0.00417768164, 0.246640727, 1.50140941))
_ERFINV_TAIL = tuple(np.float32(c) for c in (
    -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
    0.00943887047, 1.00167406, 2.83297682))


def _erf_inv32(x):
    """erfinv of a float32 array, a cache-sized block at a time, in place in the result; the
    tail (|x| > 0.9966, one element in 300 of a normal sample) is redone on its few elements."""
    shape, x = x.shape, x.reshape(-1)
    out = np.empty_like(x)
    for lo in range(0, x.size, _THREEFRY_BLOCK):
        xb, p = x[lo:lo + _THREEFRY_BLOCK], out[lo:lo + _THREEFRY_BLOCK]
        w = np.multiply(xb, xb, out=p)
        np.subtract(np.float32(1), w, out=w)
        np.log(w, out=w)
        np.negative(w, out=w)  # w = -log(1 - x**2)
        tail = np.flatnonzero(w >= 5)
        t = w[tail]
        w -= np.float32(2.5)
        acc = np.full_like(w, _ERFINV_CENTRAL[0])
        for c in _ERFINV_CENTRAL[1:]:
            acc *= w
            acc += c
        if tail.size:
            t = np.sqrt(t) - np.float32(3.0)
            q = np.full_like(t, _ERFINV_TAIL[0])
            for c in _ERFINV_TAIL[1:]:
                q = q * t + c
            acc[tail] = q
        np.multiply(acc, xb, out=p)
    edge = np.abs(x) == 1  # erfinv(+-1) = +-inf
    if edge.any():
        out[edge] = x[edge] * np.float32(np.inf)
    return out.reshape(shape)


def _erf_inv_newton(x):
    x = np.asarray(x)
    v = x.astype(np.float64)
    # Giles' single-precision approximation as the starting point, then Newton on erf(y) = v.
    w = -np.log((1.0 - v) * (1.0 + v))
    small = w < 5.0
    ws, wl = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    ps = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                     -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], ws)
    pl = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                     -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], wl)
    y = np.where(small, ps, pl) * v
    erf = np.frompyfunc(math.erf, 1, 1)
    for _ in range(3):
        err = np.asarray(erf(y), dtype=np.float64) - v
        y = y - err * (math.sqrt(math.pi) / 2) * np.exp(y * y)
    y = np.where(np.abs(v) == 1, np.copysign(np.inf, v), y)
    return np.where(np.abs(v) > 1, np.nan, y).astype(x.dtype)


def _sort_indices(x, *, dimension):
    return np.argsort(x, axis=dimension, kind="stable").astype(np.int64, copy=False)


_RANDOM_BITS = {
    RB.threefry2x32_p: _threefry2x32,
    RB.shift_left_p: _shift_left,
    RB.shift_right_logical_p: _shift_right_logical,
    RB.shift_right_arithmetic_p: _shift_right_arithmetic,
    RB.bitcast_convert_type_p: _bitcast_convert_type,
    RB.erf_inv_p: _quiet(_erf_inv),
    RB.sort_indices_p: _sort_indices,
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
# ---------------------------------------------------------------------------- linear algebra
def _np_cholesky(a):
    """Lower factors; nan for matrices that are not positive definite (as JAX), not an error."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        flat = a.reshape((-1,) + a.shape[-2:])
        out = np.empty_like(flat)
        for i, m in enumerate(flat):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out.reshape(a.shape)


def _np_triangular_solve(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    """SciPy's solve_triangular where SciPy is installed, else a general solve of the triangle."""
    n = a.shape[-1]
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        tri = tri - tri * np.eye(n, dtype=a.dtype) + np.eye(n, dtype=a.dtype)
    if not left_side:  # x op(a) = b  <=>  op(a)^T x^T = b^T
        return np.swapaxes(_np_triangular_solve(tri, np.swapaxes(b, -1, -2), left_side=True, lower=lower,
                                                transpose_a=not transpose_a, unit_diagonal=False), -1, -2)
    try:
        from scipy.linalg import solve_triangular
    except ImportError:
        solve_triangular = None
    with np.errstate(all="ignore"):
        if solve_triangular is None or a.ndim > 2 or n == 0:
            op = np.swapaxes(tri, -1, -2) if transpose_a else tri
            return np.linalg.solve(op, b).astype(b.dtype)
        return solve_triangular(tri, b, trans=1 if transpose_a else 0, lower=lower,
                                check_finite=False).astype(b.dtype)


def _np_solve(a, b):
    """nan for singular matrices (JAX returns non-finite values there), rather than an error."""
    try:
        return np.linalg.solve(a, b).astype(b.dtype)
    except np.linalg.LinAlgError:
        fa, fb = a.reshape((-1,) + a.shape[-2:]), b.reshape((-1,) + b.shape[-2:])
        out = np.full(fb.shape, np.nan, b.dtype)
        for i in range(fa.shape[0]):
            try:
                out[i] = np.linalg.solve(fa[i], fb[i])
            except np.linalg.LinAlgError:
                pass
        return out.reshape(b.shape)


def _np_slogdet(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return [np.asarray(sign, a.dtype), np.asarray(logabsdet, a.dtype)]


def _column_signs(v):
    """+1/-1 per column: the sign of the column's entry of largest magnitude (the first of ties).
    Eigen- and singular vectors are defined up to sign; flipping by this rule makes the NumPy
    and torch backends agree (and is locally constant, so derivatives are unaffected)."""
    if v.shape[-2] == 0:
        return np.ones(v.shape[:-2] + v.shape[-1:], v.dtype)
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    return np.where(np.take_along_axis(v, idx, axis=-2)[..., 0, :] < 0, -1, 1).astype(v.dtype)


def _np_eigh(a, *, lower):
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v * _column_signs(v)[..., None, :], w]


def _np_svd(a, *, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    su = _column_signs(u)
    sv = np.concatenate([su[..., :k], _column_signs(np.swapaxes(vh[..., k:, :], -1, -2))], axis=-1)
    return [s, u * su[..., None, :], vh * sv[..., :, None]]


_LINALG = {
    LD.cholesky_p: _np_cholesky, LD.triangular_solve_p: _np_triangular_solve, LD.solve_p: _np_solve,
    LD.det_p: lambda a: np.asarray(np.linalg.det(a), a.dtype), LD.slogdet_p: _np_slogdet,
    LD.qr_p: lambda a, *, full_matrices: list(np.linalg.qr(a, mode="complete" if full_matrices else "reduced")),
    LD.eigh_p: _np_eigh, LD.svd_p: _np_svd,
}

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


def _complex(x, y):
    """x + i*y with the complex dtype of the parts (NumPy's ``x + 1j*y`` would widen float32)."""
    x, y = np.broadcast_arrays(x, y)
    out = np.empty(x.shape, CP.complex_dtype(x.dtype))
    out.real, out.imag = x, y
    return out


_COMPLEX = {CP.real_p: lambda x: np.array(np.real(x)), CP.imag_p: lambda x: np.array(np.imag(x)),
            CP.conj_p: np.conjugate, CP.complex_p: _complex}


def _fft(x, *, fft_type, fft_lengths):
    """numpy.fft over the trailing axes, keeping single precision (NumPy computes in double)."""
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "FFT":
        out, dt = np.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == "IFFT":
        out, dt = np.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == "RFFT":
        out, dt = np.fft.rfftn(x, axes=axes), CP.complex_dtype(x.dtype)
    else:
        out, dt = np.fft.irfftn(x, s=fft_lengths, axes=axes), CP.real_dtype(x.dtype)
    return np.asarray(out, dtype=dt)


_FFT = {FT.fft_p: _fft}


def _scipy_special(name: str, *, order: bool = False):
    """scipy.special's ``name`` in the operand's float type; SciPy is imported on first use, and
    its absence is an error that names the function and the way out."""

    def impl(*args, **params):
        try:
            import scipy.special as sc
        except ImportError:
            raise BackendError(f"the NumPy backend computes {name} with SciPy, which is not installed: "
                               "pip install scipy, or use the torch backend") from None
        dt = np.result_type(*args)
        with np.errstate(all="ignore"):
            out = getattr(sc, name)(params["m"], *args) if order else getattr(sc, name)(*args)
        return np.asarray(out, dtype=dt)

    return impl


def _lgamma(x):
    """scipy's gammaln, but inf at -inf and -log(x) for subnormal x (as JAX and torch; SciPy gives
    -inf and inf there)."""
    out = _scipy_special("gammaln")(x)
    with np.errstate(all="ignore"):
        tiny = (x > 0) & (x < np.finfo(x.dtype).tiny)
        return np.where(np.isneginf(x), np.inf, np.where(tiny, -np.log(np.where(tiny, x, 1)), out)).astype(out.dtype)


_SPECIAL = {SP.lgamma_p: _lgamma, SP.digamma_p: _scipy_special("psi"),
            SP.polygamma_p: _scipy_special("polygamma", order=True), SP.erfc_p: _scipy_special("erfc"),
            SP.bessel_i0e_p: _scipy_special("i0e"),
            SP.bessel_i1e_p: _scipy_special("i1e"), SP.igamma_p: _scipy_special("gammainc"),
            SP.igammac_p: _scipy_special("gammaincc"), SP.zeta_p: _scipy_special("zeta")}
_DEBUGGING = {DB.debug_print_p: DB.host_print_impl(np.asarray)}


def make_backend() -> NumpyBackend:
    b = NumpyBackend()
    from functrace.backends import numpy_linalg_decompositions, numpy_special

    for table in (_UNARY, _BINARY, _OTHER, _SORTING, _SCATTER, _DYNAMIC, _CUMULATIVE, _RANDOM_BITS, _CONV, _LINALG,
                  _COMPLEX, _FFT, _SPECIAL, _DEBUGGING, numpy_linalg_decompositions.IMPLS, numpy_special.IMPLS):
        for prim, impl in table.items():
            b.register(prim, impl)
    return b
