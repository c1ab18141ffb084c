"""Branches and loops: ``cond``/``switch`` (in ``cond.py``) and ``while_loop``/``fori_loop``, each a primitive whose
params hold sub-jaxprs, declared with its traits and followed by its rules.

``cond``/``switch`` and ``while_loop`` trace their bodies once, at abstract values, into
sub-jaxprs held in the params of one primitive, so a loop is one equation whatever its trip
count, and it prints nested, as in JAX. ``fori_loop`` with concrete bounds is a ``scan`` (so
reverse mode works, as in JAX); with traced bounds it is a ``while``, which, as in JAX, is
differentiable in forward mode only.

Reverse mode. ``grad`` linearizes (primal work binds to the outer trace, tangent work to a
linear trace) and then transposes the linear trace. A loop whose body mixed both kinds of work
would land whole in the linear trace and could not be transposed, so the JVP rules of ``cond``
and ``scan`` first split each body in two with ``linearize_jaxpr``:

- a *primal body*: the original outputs plus the residuals, the intermediate values the
  tangent computation reads (``cos x`` for ``sin x``, ...);
- a *tangent body*: linear in the tangents, taking the residuals as inputs.

The JVP of a ``scan`` is then a primal scan that also stacks the per-iteration residuals as
extra ``ys`` (residuals that are the scan's constants or its ``xs`` are passed through rather
than copied), followed by a tangent scan over the tangents and the stacked residuals. The JVP
of a ``cond`` is a primal cond whose branches each emit their own residuals (and zeros for the
other branches'), followed by a tangent cond. Only the tangent scan/cond reach the linear
trace, and they have transpose rules: for ``cond``, a cond of the transposed branches; for
``scan``, a scan running the other way whose carry holds the cotangents of the carry and the
accumulated cotangents of the linear constants, and whose ``ys`` are the cotangents of the
linear ``xs``. Each transposed body is ``backward_pass`` of the tangent body, traced into a
jaxpr. Everything produced is again plain cond/scan equations, so higher orders (grad of
grad, jvp of grad, hessian) apply the same rules again.

``while``: the trip count is unknown until the loop runs, so no residuals can be stacked. Its
JVP is a separate primal loop (so primal values stay concrete where they were) and one loop
over primal and tangent carries together; reverse mode raises an error that points to ``scan``
and ``fori_loop`` with concrete bounds, as JAX does.

Batching. A batched cond predicate computes every branch and selects per example; a batched
while predicate runs until no example wants another step, freezing finished examples with a
select; scans keep the scanned axis first and the batch axis second for ``xs`` and ``ys``.
Which loop carries are batched (or have nonzero tangents) is found by iterating a dependence
walk of the body to a fixed point.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace import lax
from functrace.api import flatten_fun, to_backend
from functrace.avals import ShapedArray, is_bool, is_int
from functrace.errors import DTypeError, ShapeError
from functrace.ir import ClosedJaxpr, Jaxpr, Var, dependent_outputs
from functrace.ops._series import flat_series, jet_order, unflat_series  # noqa: F401  (scan reads them here)
from functrace.ops._subjaxprs import (
    _avals_str,
    _error,
    _fixpoint,
    _flat_avals,
    _native,
    _nonzero,
    _operand,
    _promote_weak_carry,
    _split,
    impls,
    run_jaxpr,
    trace_to_closed,
)
from functrace.ops.cond import cond, cond_p, switch  # noqa: F401  (the family's public names)
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
    moveaxis,
)
from functrace.tracing import (
    Tracer,
    bind,
    eval_jaxpr,
    get_aval,
    trace_at,
)
from functrace.tree_util import PyTreeDef, tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- while
def _while_abstract_eval(*args: ShapedArray, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, init = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts], \
        args[cond_nconsts + body_nconsts:]
    if list(cond_jaxpr.in_avals) != list(cc) + list(init):
        raise ShapeError(f"while: cond_fun takes {_avals_str(cond_jaxpr.in_avals)}, given "
                         f"{_avals_str(list(cc) + list(init))}")
    out = cond_jaxpr.out_avals
    if len(out) != 1 or out[0].shape != () or not is_bool(out[0].dtype):
        raise DTypeError(f"while_loop: cond_fun must return a boolean scalar, got {_avals_str(out)}")
    if list(body_jaxpr.in_avals) != list(bc) + list(init) or list(body_jaxpr.out_avals) != list(init):
        raise ShapeError(f"while_loop: body_fun must map the loop carry {_avals_str(init)} to the same shapes "
                         f"and dtypes, but it returns {_avals_str(body_jaxpr.out_avals)}")
    return list(init)


while_p = def_primitive("while", _while_abstract_eval, multiple_results=True, subjaxprs=True)


def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc = list(args[:cond_nconsts])
    bc = list(args[cond_nconsts:cond_nconsts + body_nconsts])
    carry = list(args[cond_nconsts + body_nconsts:])
    while bool(run_jaxpr(cond_jaxpr, cc + carry)[0]):
        carry = run_jaxpr(body_jaxpr, bc + carry)
    return _native(carry)


impls[while_p] = _while_impl


def _check_same_carry(what: str, in_tree: PyTreeDef, out_tree: PyTreeDef, in_avals, out_avals) -> None:
    if in_tree != out_tree or list(in_avals) != list(out_avals):
        raise _error(TypeError, f"{what} must return a carry of the same structure, shapes and dtypes as its "
                     f"input: got {out_tree} {_avals_str(out_avals)} for {in_tree} {_avals_str(in_avals)} "
                     "(cast with .astype, or start from an initial value of the right dtype)")


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; while cond_fun(val): val = body_fun(val); return val``, traceable.

    The trip count may depend on traced values. Differentiable in forward mode (jvp, jacfwd);
    reverse mode needs the trip count ahead of time: use ``scan`` or ``fori_loop`` with
    concrete bounds instead (as in JAX).
    """
    init_flat, in_tree = tree_flatten(init_val)
    init_flat = [_operand(x) for x in init_flat]
    avals = _flat_avals(init_flat)
    args_tree = tree_flatten((init_val,))[1]  # the functions take the carry as their one argument
    c_flat, c_tree = flatten_fun(cond_fun, args_tree)
    cond_closed, cond_consts = trace_to_closed(c_flat, avals)
    out = cond_closed.out_avals
    if c_tree.val.num_leaves != 1 or len(out) != 1 or out[0].shape != () or not is_bool(out[0].dtype):
        raise _error(TypeError, f"while_loop: cond_fun must return a boolean scalar, got {_avals_str(out)}")
    b_flat, b_tree = flatten_fun(body_fun, args_tree)
    body_closed, body_consts = trace_to_closed(b_flat, avals)
    if _promote_weak_carry(init_flat, avals, body_closed.out_avals):
        c_flat, c_tree = flatten_fun(cond_fun, args_tree)
        cond_closed, cond_consts = trace_to_closed(c_flat, avals)
        b_flat, b_tree = flatten_fun(body_fun, args_tree)
        body_closed, body_consts = trace_to_closed(b_flat, avals)
    _check_same_carry("while_loop: body_fun", in_tree, b_tree.val, avals, body_closed.out_avals)
    outs = bind(while_p, *cond_consts, *body_consts, *init_flat, cond_jaxpr=cond_closed, body_jaxpr=body_closed,
                cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))
    return tree_unflatten(in_tree, outs)


# ---------------------------------------------------------------------------- while
def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    cc, bc, init = _split(primals, ncc, nbc)
    _, t_bc, t_init = _split(tangents, ncc, nbc)
    b_avals = body_jaxpr.in_avals
    bc_nz = _nonzero(t_bc, b_avals[:nbc])
    carry_nz = _fixpoint(body_jaxpr, bc_nz, _nonzero(t_init, b_avals[nbc:]), [],
                         [is_differentiable(a) for a in b_avals[nbc:]])
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=ncc, body_nconsts=nbc)
    primal_out = bind(while_p, *primals, **params)
    if not any(carry_nz):
        return primal_out, [Zero(get_aval(o)) for o in primal_out]
    ncar = len(init)
    bc_t_avals = [a for a, z in zip(b_avals[:nbc], bc_nz, strict=True) if z]
    carry_avals = b_avals[nbc:]
    ct_avals = [a for a, z in zip(carry_avals, carry_nz, strict=True) if z]

    def joint_body(args):
        p_bc, t_bc_, carry, t_carry = _split(args, nbc, len(bc_t_avals), ncar)
        it_b, it_c = iter(t_bc_), iter(t_carry)
        ts = ([next(it_b) if z else Zero(a) for z, a in zip(bc_nz, b_avals[:nbc], strict=True)]
              + [next(it_c) if z else Zero(a) for z, a in zip(carry_nz, carry_avals, strict=True)])
        outs, touts = interpreters.jvp_jaxpr(body_jaxpr.jaxpr, body_jaxpr.consts, p_bc + carry, ts)
        return list(outs) + [instantiate(t, a) for t, a, z in zip(touts, carry_avals, carry_nz, strict=True) if z]

    body = trace_at(joint_body, list(b_avals[:nbc]) + bc_t_avals + list(carry_avals) + ct_avals)
    cj = cond_jaxpr.jaxpr
    joint_cond = ClosedJaxpr(Jaxpr(cj.constvars, list(cj.invars) + [Var(a) for a in ct_avals], cj.outvars, cj.eqns),
                             cond_jaxpr.consts)
    t_in = [t for t, z in zip(t_bc, bc_nz, strict=True) if z]
    t0 = [instantiate(t, a) for t, a, z in zip(t_init, carry_avals, carry_nz, strict=True) if z]
    outs = bind(while_p, *cc, *bc, *t_in, *init, *t0, cond_jaxpr=joint_cond, body_jaxpr=body, cond_nconsts=ncc,
                body_nconsts=nbc + len(t_in))
    it = iter(outs[ncar:])
    return primal_out, [next(it) if z else Zero(a) for z, a in zip(carry_nz, carry_avals, strict=True)]


def_jvp_rule(while_p, _while_jvp)


def _while_transpose(cts, *args, **params):
    raise NotImplementedError(
        "reverse-mode differentiation (grad, vjp, jacrev) does not work for ft.lax.while_loop, whose trip count "
        "is only known when it runs: use ft.lax.scan, or ft.lax.fori_loop with concrete (Python int) bounds, "
        "which is a scan; forward mode (jvp, jacfwd) works with while_loop")


def_transpose_rule(while_p, _while_transpose)


def _while_batch(args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    size = axis_size(args, dims)
    cc, bc, init = _split(args, ncc, nbc)
    dcc, dbc, dinit = _split(dims, ncc, nbc)
    cc_b = [d is not None for d in dcc]
    bc_b = [d is not None for d in dbc]
    ncar = len(init)
    carry_b = _fixpoint(body_jaxpr, bc_b, [d is not None for d in dinit], [], [True] * ncar)
    pred_b = dependent_outputs(cond_jaxpr, cc_b + carry_b)[0]
    if pred_b:  # examples stop at different steps: every carry is per example
        carry_b = [True] * ncar
    cc = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(cc, dcc, strict=True)]
    bc = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(bc, dbc, strict=True)]
    init = [bdim_at_front(c, d, size) if b else c for c, d, b in zip(init, dinit, carry_b, strict=True)]
    body, _ = interpreters.batch_jaxpr(body_jaxpr, bc_b + carry_b, size, carry_b)
    cond_b, _ = interpreters.batch_jaxpr(cond_jaxpr, cc_b + carry_b, size, [pred_b])
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = bind(while_p, *cc, *bc, *init, cond_jaxpr=cond_b, body_jaxpr=body, cond_nconsts=ncc, body_nconsts=nbc)
        return outs, out_dims
    cc_avals, bc_avals, carry_avals = cond_b.in_avals[:ncc], body.in_avals[:nbc], body.in_avals[nbc:]

    def any_cond(a):
        (pred,) = eval_jaxpr(cond_b.jaxpr, cond_b.consts, a)
        return [lax.reduce_or(pred, (0,))]

    def select_body(a):
        c_c, b_c, carry = _split(a, ncc, nbc)
        (pred,) = eval_jaxpr(cond_b.jaxpr, cond_b.consts, c_c + carry)
        new = eval_jaxpr(body.jaxpr, body.consts, b_c + carry)
        return [lax.select(lax.broadcast_in_dim(pred, get_aval(n).shape, (0,)), n, o)
                for n, o in zip(new, carry, strict=True)]

    any_closed = trace_at(any_cond, list(cc_avals) + list(carry_avals))
    sel_closed = trace_at(select_body, list(cc_avals) + list(bc_avals) + list(carry_avals))
    outs = bind(while_p, *cc, *cc, *bc, *init, cond_jaxpr=any_closed, body_jaxpr=sel_closed, cond_nconsts=ncc,
                body_nconsts=ncc + nbc)
    return outs, out_dims


def_batch_rule(while_p, _while_batch)


# ---------------------------------------------------------------------------- fori_loop
def _concrete_int(x: Any) -> int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, Tracer):
        return int(x) if x.val is not None else None
    if isinstance(x, np.ndarray) and x.shape == () and is_int(x.dtype):
        return int(x)
    return None


def _weak_index(i: Any) -> Any:
    """The loop index as the body sees it: weak, so it adapts to the carry it meets."""
    return i.with_weak_type(True) if isinstance(i, Tracer) else i


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val); return val``.

    With concrete bounds it is a ``scan`` of ``upper - lower`` steps (differentiable in both
    modes); with traced bounds a ``while_loop`` (forward mode only), as in JAX.

    The index ``i`` is weakly typed, like a Python int: ``c * 0.5 + i`` keeps a float32 carry
    float32, as in JAX (whose index never changes a floating carry's dtype). Its dtype is the
    bounds' (int64 for Python ints), which an integer carry meets by the usual promotion.
    """
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    idx_dtype = np.result_type(*[get_aval(to_backend(b) if not isinstance(b, Tracer) else b).dtype
                                 for b in (lower, upper)])
    if not is_int(idx_dtype):
        raise _error(TypeError, f"fori_loop: the bounds must be integers, got dtype {np.dtype(idx_dtype).name}")
    if lo is not None and hi is not None:
        def step(carry, _):
            i, val = carry
            return (lax.add(i, np.asarray(1, idx_dtype)[()]), body_fun(_weak_index(i), val)), None

        (_, val), _ = lax.scan(step, (np.asarray(lo, idx_dtype), init_val), None, length=max(hi - lo, 0))
        return val

    def w_cond(carry):
        i, up, _ = carry
        return lax.lt(i, up)

    def w_body(carry):
        i, up, val = carry
        return lax.add(i, np.asarray(1, idx_dtype)[()]), up, body_fun(_weak_index(i), val)

    lower = lax.convert_element_type(lower, idx_dtype)
    upper = lax.convert_element_type(upper, idx_dtype)
    _, _, val = while_loop(w_cond, w_body, (lower, upper, init_val))
    return val


# ---------------------------------------------------------------------------- Taylor rule (jet)
# The body is replaced by its jet (``interpreters.jet_closed``): it takes the series as extra
# operands (K per value) and returns the series of every floating output.
from functrace.avals import is_float  # noqa: E402
from functrace.rules import def_jet_rule  # noqa: E402


def _while_jet(primals, series, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    cc, bc, init = _split(primals, ncc, nbc)
    _, s_bc, s_init = _split(series, ncc, nbc)
    order = jet_order(series)
    b_avals = list(body_jaxpr.in_avals)
    carry_avals = b_avals[nbc:]
    bc_has = [s is not None for s in s_bc]
    carry_has = [is_float(a.dtype) for a in carry_avals]
    jet_body, _ = interpreters.jet_closed(body_jaxpr, bc_has + carry_has, order)
    n_sbc = sum(bc_has) * order
    n_scar = sum(carry_has) * order
    sbc_avals = [a for a, h in zip(b_avals[:nbc], bc_has, strict=True) if h for _ in range(order)]
    scar_avals = [a for a, h in zip(carry_avals, carry_has, strict=True) if h for _ in range(order)]

    def body(args):
        p_bc, s_bc_, carry, s_car = _split(args, nbc, n_sbc, len(carry_avals))
        return eval_jaxpr(jet_body.jaxpr, jet_body.consts, p_bc + carry + s_bc_ + s_car)

    new_body = trace_at(body, b_avals[:nbc] + sbc_avals + carry_avals + scar_avals)
    cj = cond_jaxpr.jaxpr
    new_cond = ClosedJaxpr(Jaxpr(cj.constvars, list(cj.invars) + [Var(a) for a in scar_avals], cj.outvars, cj.eqns),
                           cond_jaxpr.consts)
    s0 = flat_series(s_init, carry_avals, order)
    assert len(s0) == n_scar
    outs = bind(while_p, *cc, *bc, *flat_series(s_bc), *init, *s0, cond_jaxpr=new_cond, body_jaxpr=new_body,
                cond_nconsts=ncc, body_nconsts=nbc + n_sbc)
    n = len(carry_avals)
    return outs[:n], unflat_series(outs[n:], carry_has, order)


def_jet_rule(while_p, _while_jet)
