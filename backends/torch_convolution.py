"""torch implementations of the convolution family (``functrace/ops/convolution.py``): torch's
convolutions and pooling kernels where they apply, strided views elsewhere."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from functrace.backends.torch_backend import torch_dtype
from functrace.backends.torch_structural import _pad
from functrace.ops import convolution as C


def _conv_general_dilated(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count, precision, preferred_element_type):
    """torch.nn.functional.conv1d/2d/3d in the (N, C, spatial...) layout: the input's dilation and
    any asymmetric or negative padding are applied first (``_pad``), batch groups become
    feature groups, and a convolution with no spatial axis gets one of length 1. Integer
    convolutions, which torch lacks, and those of more than three spatial axes are sums over
    the kernel's taps (``_conv_by_taps``)."""
    lspec, rspec, ospec = dimension_numbers
    n = lhs.ndim - 2
    if preferred_element_type is not None:
        lhs, rhs = lhs.to(torch_dtype(preferred_element_type)), rhs.to(torch_dtype(preferred_element_type))
    by_taps = not lhs.dtype.is_floating_point or n > 3  # what torch's convolutions do not cover
    x = lhs.permute(lspec)
    w = rhs.permute(rspec)
    symmetric = all(lo == hi >= 0 for lo, hi in padding) and not by_taps
    if any(d != 1 for d in lhs_dilation) or not symmetric:
        cfg = ((0, 0, 0), (0, 0, 0)) + tuple((lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dilation,
                                                                                     strict=True))
        x = _pad(x, 0, padding_config=cfg)
        pads = (0,) * n
    else:
        pads = tuple(lo for lo, _ in padding)
    groups = feature_group_count
    if batch_group_count > 1:  # N = (B, N/B) -> C = (B, C): batch groups as feature groups
        b = batch_group_count
        x = x.reshape((b, x.shape[0] // b) + tuple(x.shape[1:])).transpose(0, 1)
        x = x.reshape((x.shape[0], b * x.shape[2]) + tuple(x.shape[3:]))
        groups = b
    strides, dil = tuple(window_strides), tuple(rhs_dilation)
    if n == 0:
        x, w, strides, pads, dil = x[..., None], w[..., None], (1,), (0,), (1,)
    spatial = x.shape[2:]
    eff = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dil, strict=True)]
    if any(s + 2 * p < e for s, p, e in zip(spatial, pads, eff, strict=True)) or 0 in x.shape or 0 in w.shape:
        out_sp = [max(0, (s + 2 * p - e) // st + 1) if s + 2 * p >= e else 0
                  for s, p, e, st in zip(spatial, pads, eff, strides, strict=True)]
        out = torch.zeros([x.shape[0], w.shape[0]] + out_sp, dtype=x.dtype, device=x.device)
    elif by_taps:
        out = _conv_by_taps(x, w, strides, dil, groups)
    elif groups == 1 and (out := _as_kernel_gradient(x, w, strides, pads, dil)) is not None:
        pass
    else:
        conv = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[len(spatial) - 1]
        out = conv(x, w, None, strides, pads, dil, groups)
    if n == 0:
        out = out[..., 0]
    inverse = [0] * lhs.ndim
    for canonical, axis in enumerate(ospec):
        inverse[axis] = canonical
    return out.permute(inverse)


def _as_kernel_gradient(x, w, strides, pads, dilation):
    """A convolution whose kernel is larger than its output, computed as the kernel gradient of
    the convolution it transposes (torch's ``convolution_backward``), or None.

    Such a convolution is what the gradient of a kernel is: ``out[b, o, y] = sum_{i, k}
    x[b, i, y*s + k*d - p] * w[o, i, k]`` is, with the roles n := i, c := b, y' := k, the gradient
    of a kernel of shape (O, B, *out) in a convolution of the input ``x`` with batch and
    channels swapped, stride d, dilation s and padding p, whose output gradient is ``w`` with
    batch and channels swapped. torch runs that with its kernel-gradient algorithm (2-5× faster
    here than its forward convolution on these shapes); the sums are the same, in another order.
    """
    n = x.ndim - 2
    kernel, spatial = tuple(w.shape[2:]), tuple(x.shape[2:])
    out_sp = [(h + 2 * p - (k - 1) * d - 1) // s + 1
              for h, k, s, p, d in zip(spatial, kernel, strides, pads, dilation, strict=True)]
    if math.prod(kernel) <= math.prod(out_sp) or not 1 <= n <= 3:
        return None
    # The transposed convolution's output must have exactly the kernel's extent.
    back = [(h + 2 * p - (o - 1) * s - 1) // d + 1
            for h, o, s, p, d in zip(spatial, out_sp, strides, pads, dilation, strict=True)]
    if tuple(back) != kernel:
        return None
    inputs, grads = x.transpose(0, 1), w.transpose(0, 1)
    # Only the kernel's shape and layout are read: channels-last like the inputs, when they are.
    fmt = (None, torch.channels_last, torch.channels_last_3d)[n - 1]
    fmt = fmt if fmt is not None and inputs.is_contiguous(memory_format=fmt) else torch.contiguous_format
    like = torch.empty((w.shape[0], x.shape[0], *out_sp), dtype=x.dtype, device=x.device, memory_format=fmt)
    _, kernel_grad, _ = torch.ops.aten.convolution_backward(
        grads, inputs, like, None, list(dilation), list(pads), list(strides), False, [0] * n, 1,
        [False, True, False])
    return kernel_grad.transpose(0, 1)


def _conv_by_taps(x, w, strides, dilation, groups):
    """A convolution of the padded ``x`` (N, C, spatial...) with ``w`` (O, I, kernel...) as one
    broadcast product and sum per kernel tap (a loop over taps, not pixels): for integers, which
    torch does not convolve, exactly; and for more than three spatial axes."""
    import itertools

    n, (o, i), kernel = x.ndim - 2, w.shape[:2], tuple(w.shape[2:])
    out_sp = [(s - ((k - 1) * d + 1)) // st + 1 for s, k, d, st in zip(x.shape[2:], kernel, dilation, strides,
                                                                          strict=True)]
    xg = x.reshape((x.shape[0], groups, i) + tuple(x.shape[2:]))  # (N, G, I, spatial...)
    wg = w.reshape((groups, o // groups, i) + kernel)  # (G, O/G, I, kernel...)
    out = torch.zeros((x.shape[0], groups, o // groups) + tuple(out_sp), dtype=x.dtype, device=x.device)
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = xg[(slice(None),) * 3 + tuple(slice(t * d, t * d + (m - 1) * st + 1, st) for t, d, m, st
                                               in zip(tap, dilation, out_sp, strides, strict=True))]
        taps = wg[(slice(None),) * 3 + tap].reshape((1, groups, o // groups, i) + (1,) * n)
        out += (window[:, :, None] * taps).sum(dim=3)
    return out.reshape((x.shape[0], o) + tuple(out_sp))


def _reduce_window(kind):
    """A windowed reduction: torch's pooling kernels where the geometry allows (``_pool_plan``),
    else a strided view (``as_strided``) of the padded operand reduced over the window axes."""
    reduce = {"sum": torch.sum, "max": torch.amax, "min": torch.amin}[kind]

    def impl(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        pooled = _pooled_reduce_window(x, kind, dict(window_dimensions=window_dimensions, window_strides=window_strides,
                                                     padding=padding, base_dilation=base_dilation,
                                                     window_dilation=window_dilation))
        if pooled is not None:
            return pooled
        if x.dtype.is_floating_point:
            ident = {"sum": 0.0, "max": -float("inf"), "min": float("inf")}[kind]
        else:
            info = torch.iinfo(x.dtype)
            ident = {"sum": 0, "max": info.min, "min": info.max}[kind]
        cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(padding, base_dilation, strict=True))
        if any(c != (0, 0, 0) for c in cfg):
            x = _pad(x, ident, padding_config=cfg)
        nd = x.ndim
        out_shape = []
        for d, w, s, r in zip(x.shape, window_dimensions, window_strides, window_dilation, strict=True):
            eff = (w - 1) * r + 1
            out_shape.append(0 if d < eff else (d - eff) // s + 1)
        if 0 in out_shape:
            return torch.full(out_shape, ident, dtype=x.dtype, device=x.device)
        x = x.contiguous()
        st = x.stride()
        view = x.as_strided(tuple(out_shape) + tuple(window_dimensions),
                            tuple(a * b for a, b in zip(st, window_strides, strict=True))
                            + tuple(a * b for a, b in zip(st, window_dilation, strict=True)))
        if kind == "sum":  # torch sums small integers in int64
            return reduce(view, dim=tuple(range(nd, 2 * nd)), dtype=x.dtype)
        return reduce(view, dim=tuple(range(nd, 2 * nd)))

    impl.__name__ = f"reduce_window_{kind}"
    return impl


def _pool_plan(shape, params, sums: bool = False):
    """How a windowed reduction maps onto torch's 2-d/3-d pooling kernels, or None: the axes that
    pool (1 to 3 of them, symmetric padding of at most half the window, no base dilation; for
    sums no window dilation) go last, the others are flattened into one leading axis."""
    wd, ws, pad, bd, wdil = (params[k] for k in ("window_dimensions", "window_strides", "padding", "base_dilation",
                                                 "window_dilation"))
    if any(b != 1 for b in bd) or 0 in shape:
        return None
    active = [i for i in range(len(shape)) if (wd[i], ws[i], tuple(pad[i]), wdil[i]) != (1, 1, (0, 0), 1)]
    if not 1 <= len(active) <= 3 or (sums and any(wdil[i] != 1 for i in active)):
        return None
    for i in active:
        eff = (wd[i] - 1) * wdil[i] + 1
        lo, hi = pad[i]
        if lo != hi or lo < 0 or lo > wd[i] // 2 or shape[i] + 2 * lo < eff:
            return None
    rest = [i for i in range(len(shape)) if i not in active]
    lead = (1,) * (2 - len(active)) if len(active) < 2 else ()
    pick = lambda v, one: tuple(one for _ in lead) + tuple(v[i] for i in active)  # noqa: E731
    return dict(perm=rest + active, rest=tuple(shape[i] for i in rest), lead=lead,
                spatial=tuple(shape[i] for i in active), kernel=pick(wd, 1), stride=pick(ws, 1),
                padding=tuple(0 for _ in lead) + tuple(pad[i][0] for i in active), dilation=pick(wdil, 1))


def _to_pool(x, plan):
    """(batch, channel, spatial...) when two axes do not pool: a permuted view, which torch pools
    in its channels-last kernels without a copy; otherwise the others flattened into one axis."""
    if len(plan["rest"]) == 2 and not plan["lead"]:
        return x.permute(plan["perm"])
    b = int(np.prod(plan["rest"], dtype=np.int64))
    return x.permute(plan["perm"]).reshape((b,) + plan["lead"] + plan["spatial"])


def _from_pool(y, plan):
    nd = len(plan["perm"])
    y = y.reshape(plan["rest"] + tuple(y.shape[y.ndim - len(plan["perm"]) + len(plan["rest"]):]))
    inverse = [0] * nd
    for i, axis in enumerate(plan["perm"]):
        inverse[axis] = i
    return y.permute(inverse)


def _max_pool(xt, plan, indices: bool):
    fn = torch.nn.functional.max_pool3d if len(plan["kernel"]) == 3 else torch.nn.functional.max_pool2d
    return fn(xt, plan["kernel"], plan["stride"], plan["padding"], plan["dilation"], return_indices=indices)


def _pooled_reduce_window(x, kind, params):
    """``reduce_window_*`` by torch's pooling kernels where the geometry allows, else None."""
    if not x.dtype.is_floating_point:
        return None
    plan = _pool_plan(tuple(x.shape), params, sums=kind == "sum")
    if plan is None:
        return None
    xt = _to_pool(x, plan)
    if kind == "sum":
        fn = torch.nn.functional.avg_pool3d if len(plan["kernel"]) == 3 else torch.nn.functional.avg_pool2d
        y = fn(xt, plan["kernel"], plan["stride"], plan["padding"], False, True, 1)
    else:
        y = _max_pool(xt if kind == "max" else -xt, plan, False)
        y = y if kind == "max" else -y
    return _from_pool(y, plan)


def _pooled_selection(v, x, kind, params, scatter: bool):
    """The selections by torch's max pooling with indices (first maximum of each window, as
    functrace's rule; a minimum is the maximum of -x), else None."""
    if not x.dtype.is_floating_point:
        return None
    plan = _pool_plan(tuple(x.shape), params)
    if plan is None:
        return None
    xt = _to_pool(x if kind == "max" else -x, plan)
    out, idx = _max_pool(xt, plan, True)
    k = len(plan["kernel"])
    if scatter:
        backward = (torch.ops.aten.max_pool3d_with_indices_backward if k == 3
                    else torch.ops.aten.max_pool2d_with_indices_backward)
        vt = v.permute(plan["perm"]).reshape(out.shape)
        g = backward(vt, xt, list(plan["kernel"]), list(plan["stride"]), list(plan["padding"]),
                     list(plan["dilation"]), False, idx)
        return _from_pool(g, plan)
    vt = _to_pool(v, plan)
    picked = vt.flatten(start_dim=-k).gather(-1, idx.flatten(start_dim=-k)).reshape(out.shape)
    return _from_pool(picked, plan)


_SELECT_INDEX_CACHE: dict = {}


def _selected(x, kind, params):
    """Flat indices, in the padded and dilated operand, of each window's first max (min): a
    strided view of every window, one argmax over the window axis (``ops.convolution.select_layout``
    has the index arithmetic)."""
    wd, ws, pad, bd, wdil = (params[k] for k in ("window_dimensions", "window_strides", "padding", "base_dilation",
                                                 "window_dilation"))
    pshape, out, starts, offsets, disjoint = C.select_layout(tuple(x.shape), wd, ws, pad, bd, wdil)
    if 0 in out:
        return None, pshape, out, disjoint
    key = (id(starts), x.device)
    cached = _SELECT_INDEX_CACHE.get(key)
    if cached is None or cached[0] is not starts:
        if len(_SELECT_INDEX_CACHE) > 256:
            _SELECT_INDEX_CACHE.clear()
        cached = _SELECT_INDEX_CACHE[key] = (starts, torch.from_numpy(np.array(starts)).to(x.device),
                                             torch.from_numpy(np.array(offsets)).to(x.device))
    _, t_starts, t_offsets = cached
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(pad, bd, strict=True))
    if any(c != (0, 0, 0) for c in cfg):
        ident = -float("inf") if kind == "max" else float("inf")
        if not x.dtype.is_floating_point:
            info = torch.iinfo(x.dtype)
            ident = info.min if kind == "max" else info.max
        x = _pad(x, ident, padding_config=cfg)
    x = x.contiguous()
    st = x.stride()
    view = x.as_strided(tuple(out) + tuple(wd), tuple(a * b for a, b in zip(st, ws, strict=True))
                        + tuple(a * b for a, b in zip(st, wdil, strict=True)))
    cols = view.reshape(tuple(out) + (len(offsets),))
    pick = cols.argmax(dim=-1) if kind == "max" else cols.argmin(dim=-1)
    return t_starts + t_offsets[pick], pshape, out, disjoint


def _select_and_gather_add(t, x, *, kind, **params):
    pooled = _pooled_selection(t, x, kind, params, scatter=False)
    if pooled is not None:
        return pooled
    flat, pshape, out, _ = _selected(x, kind, params)
    if flat is None:
        return torch.zeros(out, dtype=t.dtype, device=t.device)
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(params["padding"], params["base_dilation"], strict=True))
    if any(c != (0, 0, 0) for c in cfg):
        t = _pad(t, 0, padding_config=cfg)
    return t.reshape(-1)[flat]


def _select_and_scatter_add(ct, x, *, kind, **params):
    pooled = _pooled_selection(ct, x, kind, params, scatter=True)
    if pooled is not None:
        return pooled
    flat, pshape, out, disjoint = _selected(x, kind, params)
    if flat is None:
        return torch.zeros(tuple(x.shape), dtype=ct.dtype, device=ct.device)
    buf = torch.zeros(int(np.prod(pshape)), dtype=ct.dtype, device=ct.device)
    if disjoint:  # every padded position is chosen at most once: a plain assignment
        buf[flat.reshape(-1)] = ct.reshape(-1)
    else:
        buf.index_add_(0, flat.reshape(-1), ct.reshape(-1))
    buf = buf.reshape(pshape)
    if tuple(pshape) == tuple(x.shape):
        return buf
    result = torch.zeros(tuple(x.shape), dtype=ct.dtype, device=ct.device)
    where = C.unpad_slices(tuple(x.shape), pshape, params["padding"], params["base_dilation"])
    if where is not None:
        result[where[0]] = buf[where[1]]
    return result


def impls(device: Any) -> dict:
    return {
        C.conv_general_dilated_p: _conv_general_dilated,
        C.reduce_window_sum_p: _reduce_window("sum"),
        C.reduce_window_max_p: _reduce_window("max"),
        C.reduce_window_min_p: _reduce_window("min"),
        C.select_and_gather_add_p: _select_and_gather_add,
        C.select_and_scatter_add_p: _select_and_scatter_add,
    }
