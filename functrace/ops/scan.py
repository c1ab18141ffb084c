"""``scan``: a loop over the leading axis of ``xs`` with a carry, one primitive whose params hold
the body's jaxpr, declared with its traits and followed by its rules (see
``functrace.ops.control_flow`` for how loops are differentiated and batched).
"""

from __future__ import annotations

from typing import Any, Callable

from functrace import lax
from functrace.api import to_backend
from functrace.avals import ShapedArray, is_float
from functrace.errors import ShapeError
from functrace.ir import ClosedJaxpr, Jaxpr, dependent_outputs
from functrace.ops._subjaxprs import (
    _avals_str,
    _error,
    _fixpoint,
    _flat_avals,
    _native,
    _nonzero,
    _operand,
    _promote_weak_carry,
    _restructured,
    _split,
    _zeros,
    impls,
    run_jaxpr,
    trace_to_closed,
)
from functrace.ops.control_flow import _check_same_carry
from functrace.ops.structural import concatenate_p, reshape_p
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    axis_size,
    bdim_at_front,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    instantiate,
    interpreters,
    is_differentiable,
    is_undefined,
    moveaxis,
)
from functrace.tracing import (
    bind,
    current_backend,
    get_aval,
    trace_at,
)
from functrace.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- scan
def _scan_abstract_eval(*args: ShapedArray, jaxpr, length, reverse, num_consts, num_carry):
    consts, init, xs = args[:num_consts], args[num_consts:num_consts + num_carry], args[num_consts + num_carry:]
    for x in xs:
        if x.ndim == 0 or x.shape[0] != length:
            raise ShapeError(f"scan: every xs array must have leading axis {length}, got {x.str_short()}")
    x_avals = [ShapedArray(x.shape[1:], x.dtype) for x in xs]
    want = list(consts) + list(init) + x_avals
    if list(jaxpr.in_avals) != want:
        raise ShapeError(f"scan: the body takes {_avals_str(jaxpr.in_avals)} but is given {_avals_str(want)}")
    out = jaxpr.out_avals
    if list(out[:num_carry]) != list(init):
        raise ShapeError(f"scan: the body must return a carry {_avals_str(init)}, got {_avals_str(out[:num_carry])}")
    return list(init) + [ShapedArray((length,) + y.shape, y.dtype) for y in out[num_carry:]]


scan_p = def_primitive("scan", _scan_abstract_eval, multiple_results=True, subjaxprs=True, linear=True)


def _stack(ys: list, aval: ShapedArray, n: int) -> Any:
    """The per-step outputs of a scan as one array, by the backend's implementations directly
    (the values are concrete: no need to go through ``bind``)."""
    if n == 0:
        return lax.full((0,) + aval.shape, 0, aval.dtype)
    b = current_backend()
    reshape, concatenate = b.impls[reshape_p], b.impls[concatenate_p]
    unit = (1,) + aval.shape
    return concatenate(*[reshape(y if b.is_native(y) else b.asarray(y), new_sizes=unit) for y in ys], dimension=0)


def _scan_impl(*args, jaxpr, length, reverse, num_consts, num_carry):
    consts = list(args[:num_consts])
    carry = list(args[num_consts:num_consts + num_carry])
    xs = list(args[num_consts + num_carry:])
    y_avals = jaxpr.out_avals[num_carry:]
    ys: list[list] = [[] for _ in y_avals]
    for k in range(length):
        i = length - 1 - k if reverse else k
        out = run_jaxpr(jaxpr, consts + carry + [x[i] for x in xs])
        carry = out[:num_carry]
        for acc, y in zip(ys, out[num_carry:], strict=True):
            acc.append(y)
    if reverse:
        for acc in ys:
            acc.reverse()
    return _native(carry + [_stack(acc, a, length) for acc, a in zip(ys, y_avals, strict=True)])


impls[scan_p] = _scan_impl


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None, reverse: bool = False,
         unroll: int = 1) -> tuple[Any, Any]:
    """Loop ``f(carry, x) -> (carry, y)`` over the leading axis of ``xs``; returns ``(carry, ys)``.

    As JAX's ``lax.scan``: ``xs`` is a pytree of arrays sharing a leading axis (or None, with
    ``length`` given), ``ys`` stacks the per-step ``y`` along a new leading axis, ``reverse``
    runs from the end. Differentiable in both modes to any order, batchable, usable under jit.

    >>> ft.lax.scan(lambda c, x: (c + x, c + x), 0.0, fnp.arange(4.0))   # cumulative sum
    """
    del unroll  # accepted for JAX compatibility; the loop is never unrolled
    init_flat, init_tree = tree_flatten(init)
    init_flat = [_operand(x) for x in init_flat]
    xs_flat, xs_tree = tree_flatten(xs)
    xs_flat = [to_backend(x) for x in xs_flat]
    lengths = {get_aval(x).shape[0] for x in xs_flat if get_aval(x).ndim > 0}
    if any(get_aval(x).ndim == 0 for x in xs_flat):
        raise _error(ValueError, "scan: every leaf of xs needs a leading axis to scan over (got a scalar)")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise _error(ValueError, "scan: " + ("pass length= when xs is None" if not lengths else
                                             f"the leading axes of xs (and length) disagree: {sorted(lengths)}"))
    n = lengths.pop()
    carry_avals = _flat_avals(init_flat)
    x_avals = [ShapedArray(a.shape[1:], a.dtype) for a in _flat_avals(xs_flat)]
    _, pair_tree = tree_flatten((init, xs))
    out_store: list = []

    def body(flat: list) -> list:
        c, x = tree_unflatten(pair_tree, flat)
        res = f(c, x)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise _error(TypeError, "scan: the body must return a pair (carry, y)")
        c_out, c_tree = tree_flatten(res[0])
        y_out, y_tree = tree_flatten(res[1])
        out_store.append((c_tree, y_tree, len(c_out)))
        return c_out + y_out

    closed, consts = trace_to_closed(body, carry_avals + x_avals)
    c_tree, y_tree, nc = out_store[-1]
    if _promote_weak_carry(init_flat, carry_avals, closed.out_avals[:nc]):
        closed, consts = trace_to_closed(body, carry_avals + x_avals)
        c_tree, y_tree, nc = out_store[-1]
    _check_same_carry("scan: the body", init_tree, c_tree, carry_avals, closed.out_avals[:nc])
    outs = bind(scan_p, *consts, *init_flat, *xs_flat, jaxpr=closed, length=n, reverse=bool(reverse),
                num_consts=len(consts), num_carry=len(init_flat))
    return tree_unflatten(init_tree, outs[:nc]), tree_unflatten(y_tree, outs[nc:])


# ---------------------------------------------------------------------------- scan
def _scan_jvp(primals, tangents, *, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    avals = jaxpr.in_avals
    n_out = len(jaxpr.out_avals)
    c_nz, carry_nz, x_nz = _split(_nonzero(tangents, avals), nc, ncar)
    carry_nz = _fixpoint(jaxpr, c_nz, carry_nz, x_nz, [is_differentiable(a) for a in avals[nc:nc + ncar]])
    lin = interpreters.linearize_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * (n_out - ncar))
    # Residuals that are constants or xs of the scan are passed through; the rest are stacked.
    kinds = ["const" if s is not None and s < nc else "xs" if s is not None and s >= nc + ncar else "stack"
             for s in lin.res_src]
    stacked = [k for k, kind in enumerate(kinds) if kind == "stack"]
    pj = lin.primal.jaxpr
    p_body = ClosedJaxpr(Jaxpr(pj.constvars, pj.invars, pj.outvars[:n_out] + [pj.outvars[n_out + k] for k in stacked],
                               pj.eqns), lin.primal.consts)
    outs = bind(scan_p, *primals, jaxpr=p_body, length=length, reverse=reverse, num_consts=nc, num_carry=ncar)
    stacked_vals = iter(outs[n_out:])
    res_consts = [primals[s] for s, kind in zip(lin.res_src, kinds, strict=True) if kind == "const"]
    res_xs = [primals[s] if kind == "xs" else next(stacked_vals) for s, kind in zip(lin.res_src, kinds, strict=True)
              if kind != "const"]

    tj = lin.tangent.jaxpr
    res_vars, t_vars = tj.invars[:lin.n_res], tj.invars[lin.n_res:]
    ntc, ntcar = sum(c_nz), sum(carry_nz)
    invars = ([v for v, kind in zip(res_vars, kinds, strict=True) if kind == "const"] + t_vars[:ntc + ntcar]
              + [v for v, kind in zip(res_vars, kinds, strict=True) if kind != "const"] + t_vars[ntc + ntcar:])
    t_body = ClosedJaxpr(Jaxpr(tj.constvars, invars, tj.outvars, tj.eqns), lin.tangent.consts)
    t_consts, t_init, t_xs = _split(tangents, nc, ncar)
    t_consts = [t for t, z in zip(t_consts, c_nz, strict=True) if z]
    t_init = [instantiate(t, a) for t, a, z in zip(t_init, avals[nc:nc + ncar], carry_nz, strict=True) if z]
    t_xs = [t for t, z in zip(t_xs, x_nz, strict=True) if z]
    t_out = bind(scan_p, *res_consts, *t_consts, *t_init, *res_xs, *t_xs, jaxpr=t_body, length=length,
                 reverse=reverse, num_consts=len(res_consts) + ntc, num_carry=ntcar)
    it = iter(t_out)
    out_avals = [get_aval(o) for o in outs[:n_out]]
    t_final = [next(it) if z else Zero(a) for z, a in zip(lin.out_nonzero, out_avals, strict=True)]
    return outs[:n_out], t_final


def_jvp_rule(scan_p, _scan_jvp)


def _scan_transpose(cts, *args, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    consts, init, xs = _split(args, nc, ncar)
    c_lin = [is_undefined(x) for x in consts]
    x_lin = [is_undefined(x) for x in xs]
    carry_avals = jaxpr.in_avals[nc:nc + ncar]
    if not all(is_float(a.dtype) for a in carry_avals):
        raise NotImplementedError("scan transpose: a linear scan carries only floating-point values; this one "
                                  f"carries {[a.str_short() for a in carry_avals]}")
    # Every (floating) carry is linear; a defined initial value is an affine offset, which
    # does not change the cotangents of the linear inputs.
    linear = c_lin + [True] * ncar + x_lin
    lin_j, _ = _restructured(jaxpr, linear)
    res_c = [x for x, lin in zip(consts, c_lin, strict=True) if not lin]
    res_x = [x for x, lin in zip(xs, x_lin, strict=True) if not lin]
    lin_c_avals = [x.aval for x, lin in zip(consts, c_lin, strict=True) if lin]
    lin_x_avals = [ShapedArray(x.aval.shape[1:], x.aval.dtype) for x, lin in zip(xs, x_lin, strict=True) if lin]
    y_avals = jaxpr.out_avals[ncar:]
    cts = [instantiate(c) for c in cts]
    ct_carry, ct_ys = cts[:ncar], cts[ncar:]
    n_lc = len(lin_c_avals)

    def body(args):
        rc, acc, ctc, rx, cty = _split(args, len(res_c), n_lc, ncar, len(res_x))
        got = interpreters.backward_pass(lin_j, list(jaxpr.consts) + rc + rx, ctc + cty)
        g_c, g_carry, g_x = _split(got, n_lc, ncar)
        return ([lax.add(a, instantiate(g, av)) for a, g, av in zip(acc, g_c, lin_c_avals, strict=True)]
                + [instantiate(g, av) for g, av in zip(g_carry, carry_avals, strict=True)]
                + [instantiate(g, av) for g, av in zip(g_x, lin_x_avals, strict=True)])

    body_avals = ([get_aval(r) for r in res_c] + lin_c_avals + list(carry_avals)
                  + [ShapedArray(get_aval(r).shape[1:], get_aval(r).dtype) for r in res_x] + list(y_avals))
    t_body = trace_at(body, body_avals)
    out = bind(scan_p, *res_c, *[_zeros(a) for a in lin_c_avals], *ct_carry, *res_x, *ct_ys, jaxpr=t_body,
               length=length, reverse=not reverse, num_consts=len(res_c), num_carry=n_lc + ncar)
    ct_c, ct_init, ct_x = _split(out, n_lc, ncar)
    it_c, it_x = iter(ct_c), iter(ct_x)
    return ([next(it_c) if lin else None for lin in c_lin] + [c if is_undefined(x) else None
                                                              for c, x in zip(ct_init, init, strict=True)]
            + [next(it_x) if lin else None for lin in x_lin])


def_transpose_rule(scan_p, _scan_transpose)


def _scan_batch(args, dims, *, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    size = axis_size(args, dims)
    consts, init, xs = _split(args, nc, ncar)
    dc, dinit, dxs = _split(dims, nc, ncar)
    c_b = [d is not None for d in dc]
    x_b = [d is not None for d in dxs]
    carry_b = _fixpoint(jaxpr, c_b, [d is not None for d in dinit], x_b, [True] * ncar)
    consts = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(consts, dc, strict=True)]
    init = [bdim_at_front(c, d, size) if b else c for c, d, b in zip(init, dinit, carry_b, strict=True)]
    # the scanned axis stays first, the batch axis second
    xs = [moveaxis(x, d, 1) if d is not None else x for x, d in zip(xs, dxs, strict=True)]
    n_ys = len(jaxpr.out_avals) - ncar
    y_b = dependent_outputs(jaxpr, c_b + carry_b + x_b)[ncar:]
    body, _ = interpreters.batch_jaxpr(jaxpr, c_b + carry_b + x_b, size, carry_b + y_b)
    outs = bind(scan_p, *consts, *init, *xs, jaxpr=body, length=length, reverse=reverse, num_consts=nc,
                num_carry=ncar)
    assert len(outs) == ncar + n_ys
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in y_b]


def_batch_rule(scan_p, _scan_batch)


# ---------------------------------------------------------------------------- Taylor rules (jet)
# The body is replaced by its jet: the series of the constants and xs come in as extra constants
# and xs, every floating carry carries its series, and every floating ys its stacked series.
from functrace.ops.control_flow import flat_series, jet_order, unflat_series  # noqa: E402
from functrace.rules import def_jet_rule  # noqa: E402
from functrace.tracing import eval_jaxpr  # noqa: E402


def _scan_jet(primals, series, *, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    order = jet_order(series)
    avals = list(jaxpr.in_avals)
    consts, init, xs = _split(primals, nc, ncar)
    s_c, s_init, s_xs = _split(series, nc, ncar)
    c_has = [s is not None for s in s_c]
    carry_avals = avals[nc:nc + ncar]
    carry_has = [is_float(a.dtype) for a in carry_avals]
    x_has = [s is not None for s in s_xs]
    jet_body, out_flags = interpreters.jet_closed(jaxpr, c_has + carry_has + x_has, order)
    ys_flags = out_flags[ncar:]

    def rep(av, has):
        return [a for a, h in zip(av, has, strict=True) if h for _ in range(order)]

    sc_avals, scar_avals, sx_avals = rep(avals[:nc], c_has), rep(carry_avals, carry_has), rep(avals[nc + ncar:], x_has)
    n_x = len(avals) - nc - ncar

    def body(args):
        c, sc, car, scar, x, sx = _split(args, nc, len(sc_avals), ncar, len(scar_avals), n_x)
        outs = eval_jaxpr(jet_body.jaxpr, jet_body.consts, c + car + x + sc + scar + sx)
        n_out = len(out_flags)
        prim, ser = outs[:n_out], outs[n_out:]
        n_scar = len(scar_avals)
        return prim[:ncar] + ser[:n_scar] + prim[ncar:] + ser[n_scar:]

    new_body = trace_at(body, avals[:nc] + sc_avals + carry_avals + scar_avals + avals[nc + ncar:] + sx_avals)
    outs = bind(scan_p, *consts, *flat_series(s_c), *init, *flat_series(s_init, carry_avals, order), *xs,
                *flat_series(s_xs), jaxpr=new_body, length=length, reverse=reverse, num_consts=nc + len(sc_avals),
                num_carry=ncar + len(scar_avals))
    carry_out, s_carry, rest = _split(outs, ncar, len(scar_avals))
    n_ys = len(ys_flags)
    ys, s_ys = rest[:n_ys], rest[n_ys:]
    return carry_out + ys, unflat_series(s_carry, carry_has, order) + unflat_series(s_ys, ys_flags, order)


def_jet_rule(scan_p, _scan_jet)
