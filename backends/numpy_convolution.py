"""NumPy implementations of the convolution family (``functrace/ops/convolution.py``):
convolutions by im2col, windowed reductions and the max-pooling selections on strided views."""

from __future__ import annotations

import math

import numpy as np

from functrace.backends.numpy_structural import _padded
from functrace.ops import convolution as C


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
    rows, k = batch * math.prod(out_sp), math.prod(ksize)
    if groups == 1 and x.shape[-1] == 1:
        # One input feature (a grayscale image): the window matrix is copied window element first,
        # so the copy runs along rows of the image instead of pixel by pixel (2-3× faster), and
        # BLAS reads it transposed.
        n_out = len(out_sp)
        taps = np.lib.stride_tricks.as_strided(
            x, tuple(ksize) + (batch,) + tuple(out_sp),
            view_strides[n_out + 1:2 * n_out + 1] + view_strides[:n_out + 1], writeable=False)
        out = taps.reshape(k, rows).T @ w.reshape(k, cout)
        return out.reshape((batch,) + tuple(out_sp) + (cout,))
    patches = np.lib.stride_tricks.as_strided(x, view_shape, view_strides, writeable=False)
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


IMPLS = {
    C.conv_general_dilated_p: _conv_general_dilated,
    C.reduce_window_sum_p: _reduce_window(np.add, "sum"),
    C.reduce_window_max_p: _reduce_window(np.maximum, "max"),
    C.reduce_window_min_p: _reduce_window(np.minimum, "min"),
    C.select_and_gather_add_p: _select_and_gather_add,
    C.select_and_scatter_add_p: _select_and_scatter_add,
}
