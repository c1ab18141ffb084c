"""The collectives on the NumPy backend. Over a process axis they call ``torch.distributed``
through ``torch.from_numpy`` views of the result buffers (no copies beyond filling the result);
over a vmap axis they see a value that is the same for every member (see functrace.ops.collectives)."""

from __future__ import annotations

import numpy as np

from functrace.ops import collectives as C


def _contiguous(x) -> np.ndarray:
    """``x`` as a C-contiguous array of its own rank (np.ascontiguousarray makes scalars 1-d)."""
    x = np.asarray(x)
    return x if x.flags.c_contiguous else x.copy()


def describe(prim: str, arrays: list, **params) -> str:
    """What every process must agree on: the operation, its params, the operands' shapes and dtypes."""
    ops = ", ".join(f"{str(a.dtype).replace('torch.', '')}{list(a.shape)}" for a in arrays)
    ps = " ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    return f"{prim}[{ps}]({ops})"


def _reduce(op: str):
    def impl(*xs: np.ndarray, axes: tuple) -> list:
        xs = [np.asarray(x) for x in xs]
        vsize, procs = C.split_names(axes)
        if not procs:  # vmap axes only: one value shared by every member
            return [x * x.dtype.type(vsize) if op == "sum" else x.copy() for x in xs]
        import torch

        # one buffer per dtype, reduced in place: the results are views of it
        outs: list = [None] * len(xs)
        for dt in dict.fromkeys(x.dtype for x in xs):
            idx = [i for i, x in enumerate(xs) if x.dtype == dt]
            buf = np.empty(sum(xs[i].size for i in idx), dtype=dt)
            at = 0
            for i in idx:
                buf[at:at + xs[i].size] = xs[i].ravel()
                at += xs[i].size
            if op == "sum" and vsize != 1:
                buf *= dt.type(vsize)
            what = describe(f"p{op}", [xs[i] for i in idx], axes=axes)
            for n in procs:
                C.process_axis(n).all_reduce_(torch.from_numpy(buf), op, what)
            at = 0
            for i in idx:
                outs[i] = buf[at:at + xs[i].size].reshape(xs[i].shape)
                at += xs[i].size
        return outs

    return impl


def _all_gather(x, *, axis_name, all_gather_dimension, axis_size, tiled):
    x = _contiguous(x)
    (name,) = axis_name
    if C.vmap_names_only(axis_name):
        stacked = np.stack([x] * axis_size)
    else:
        import torch

        stacked = np.empty((axis_size,) + x.shape, dtype=x.dtype)
        C.process_axis(name).all_gather_([torch.from_numpy(stacked[r, ...]) for r in range(axis_size)],
                                         torch.from_numpy(x), describe("all_gather", [x], axis=all_gather_dimension,
                                                                       tiled=tiled))
    if tiled:
        return np.concatenate(list(stacked), axis=all_gather_dimension)
    return np.moveaxis(stacked, 0, all_gather_dimension)


def _psum_scatter(x, *, axis_name, scatter_dimension, axis_size, tiled):
    (name,) = axis_name
    if C.vmap_names_only(axis_name):
        raise C.not_computable_here("psum_scatter", axis_name)
    axis = C.process_axis(name)
    (total,) = _reduce("sum")(x, axes=axis_name)
    k, sd = axis.rank, scatter_dimension
    block = total.shape[sd] // axis_size
    index = [slice(None)] * total.ndim
    index[sd] = slice(k * block, (k + 1) * block) if tiled else k
    return total[tuple(index)].copy()


def _ppermute(x, *, axis_name, perm):
    (name,) = axis_name
    if C.vmap_names_only(axis_name):
        raise C.not_computable_here("ppermute", axis_name)
    import torch

    x = _contiguous(x)
    out = np.zeros_like(x)
    C.process_axis(name).ppermute_(torch.from_numpy(out), torch.from_numpy(x), perm,
                                   describe("ppermute", [x], perm=perm))
    return out


def _axis_index(*, axis_name):
    (name,) = axis_name
    if C.vmap_names_only(axis_name):
        raise C.not_computable_here("axis_index", axis_name)
    return np.asarray(C.process_axis(name).rank, dtype=np.int32)


IMPLS = {
    C.psum_p: _reduce("sum"),
    C.pmax_p: _reduce("max"),
    C.pmin_p: _reduce("min"),
    C.all_gather_p: _all_gather,
    C.psum_scatter_p: _psum_scatter,
    C.ppermute_p: _ppermute,
    C.axis_index_p: _axis_index,
}
