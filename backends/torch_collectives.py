"""The collectives on the torch backend: ``torch.distributed`` calls on the tensors themselves
(gloo on CPU, NCCL on CUDA) over a process axis; over a vmap axis, the value shared by every
member (see functrace.ops.collectives)."""

from __future__ import annotations

import torch

from functrace.backends.numpy_collectives import describe
from functrace.ops import collectives as C


def impls(device) -> dict:
    def reduce(op: str):
        def impl(*xs, axes):
            vsize, procs = C.split_names(axes)
            if not procs:
                return [x * vsize if op == "sum" else x.clone() for x in xs]
            outs: list = [None] * len(xs)
            for dt in dict.fromkeys(x.dtype for x in xs):
                idx = [i for i, x in enumerate(xs) if x.dtype == dt]
                buf = torch.cat([xs[i].reshape(-1) for i in idx])  # a new buffer, reduced in place
                if op == "sum" and vsize != 1:
                    buf.mul_(vsize)
                for n in procs:
                    C.process_axis(n).all_reduce_(buf, op, describe(f"p{op}", [xs[i] for i in idx], axes=axes))
                at = 0
                for i in idx:
                    outs[i] = buf[at:at + xs[i].numel()].view(xs[i].shape)
                    at += xs[i].numel()
            return outs

        return impl

    def all_gather(x, *, axis_name, all_gather_dimension, axis_size, tiled):
        (name,) = axis_name
        x = x.contiguous()
        if C.vmap_names_only(axis_name):
            stacked = torch.stack([x] * axis_size)
        else:
            stacked = torch.empty((axis_size,) + tuple(x.shape), dtype=x.dtype, device=x.device)
            C.process_axis(name).all_gather_(list(stacked.unbind(0)), x,
                                             describe("all_gather", [x], axis=all_gather_dimension, tiled=tiled))
        if tiled:
            return torch.cat(list(stacked.unbind(0)), dim=all_gather_dimension)
        return torch.movedim(stacked, 0, all_gather_dimension)

    def psum_scatter(x, *, axis_name, scatter_dimension, axis_size, tiled):
        if C.vmap_names_only(axis_name):
            raise C.not_computable_here("psum_scatter", axis_name)
        (name,) = axis_name
        (total,) = reduce("sum")(x, axes=axis_name)
        k, sd = C.process_axis(name).rank, scatter_dimension
        block = total.shape[sd] // axis_size
        if tiled:
            return total.narrow(sd, k * block, block).contiguous()
        return total.select(sd, k).contiguous()

    def ppermute(x, *, axis_name, perm):
        if C.vmap_names_only(axis_name):
            raise C.not_computable_here("ppermute", axis_name)
        (name,) = axis_name
        x = x.contiguous()
        out = torch.zeros_like(x)
        C.process_axis(name).ppermute_(out, x, perm, describe("ppermute", [x], perm=perm))
        return out

    def axis_index(*, axis_name):
        if C.vmap_names_only(axis_name):
            raise C.not_computable_here("axis_index", axis_name)
        (name,) = axis_name
        return torch.tensor(C.process_axis(name).rank, dtype=torch.int32, device=device)

    return {C.psum_p: reduce("sum"), C.pmax_p: reduce("max"), C.pmin_p: reduce("min"), C.all_gather_p: all_gather,
            C.psum_scatter_p: psum_scatter, C.ppermute_p: ppermute, C.axis_index_p: axis_index}
