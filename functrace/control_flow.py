"""Structured control flow, and the primitives behind custom derivative rules.

``cond``/``switch``, ``while_loop``, ``fori_loop`` and ``scan`` trace their bodies once, at
abstract values, into sub-jaxprs held in the params of one primitive (``cond``, ``while``,
``scan``), so a loop is one equation whatever its trip count, and it prints nested, as in JAX.
A body may close over values of an enclosing trace (say the parameters being differentiated):
those become constants of the body jaxpr, which are turned into explicit leading operands of the
primitive, so every transform sees them as ordinary inputs. Sub-jaxprs are ``ClosedJaxpr``s
whose own constants are only ever concrete arrays.

``fori_loop`` with concrete bounds is a ``scan`` (so reverse-mode works, as in JAX); with
traced bounds it is a ``while``, which, as in JAX, is differentiable in forward mode only.

The three primitives of custom derivatives (``custom_jvp_call``, ``custom_vjp_call`` and
``custom_lin``) are defined here too, so that every primitive exists as soon as ``functrace``
is imported; their rules and the ``custom_jvp``/``custom_vjp`` decorators live in
``transforms/custom_derivatives.py``.

Each primitive's implementation is backend-neutral: it runs the sub-jaxpr with ``run_jaxpr``,
which calls the active backend's implementation of each equation directly (the operands are
concrete arrays, so none of the tracing machinery is needed). They are collected in ``impls``,
which the backend registry adds to every backend. The transforms' rules are in
``transforms/control_flow_rules.py``, registered whenever the ``transforms`` package is
imported (the core never imports a transform).

Tracing records an operation in the innermost trace among its operands, so an operation in a
body whose operands are all values the body closes over (not the carry, the operands or ``x``)
is recorded outside the loop or branch: computed once, before it. Results are the same (all
operations are pure); it is loop-invariant code motion for free.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace import ops as P
from functrace.api import flatten_fun, to_backend
from functrace.avals import ShapedArray, is_bool, is_int
from functrace.errors import DTypeError, FunctraceError, ShapeError
from functrace.ir import ClosedJaxpr, Jaxpr, Literal, Var
from functrace.primitives import Primitive, def_primitive
from functrace.tracing import (
    Tracer,
    bind,
    current_backend,
    current_source,
    get_aval,
    located,
    new_trace,
)
from functrace.tree_util import PyTreeDef, tree_flatten, tree_unflatten
from functrace.util import format_frame

# Backend-neutral implementations of the primitives defined here.
impls: dict[Primitive, Callable[..., Any]] = {}

# ---------------------------------------------------------------------------- tracing helpers
def trace_to_closed(fn: Callable[[list], list], avals: Sequence[ShapedArray], vals: Sequence[Any] | None = None
                    ) -> tuple[ClosedJaxpr, list]:
    """Trace ``fn`` (flat list in, flat list out) at abstract ``avals`` (carrying ``vals`` when given).

    Returns a ClosedJaxpr without constants whose leading invars stand for the values ``fn``
    closed over, and those values (tracers of enclosing traces, or arrays), to be passed as
    leading operands.
    """
    vals = [None] * len(avals) if vals is None else vals
    with new_trace() as trace:
        outs = fn([trace.new_arg(a, v) for a, v in zip(avals, vals, strict=True)])
        jaxpr, consts = trace.to_jaxpr(outs)
    closed = Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(closed, []), consts


def _promote_weak_carry(init_flat: list, carry_avals: list, out_avals: Sequence[ShapedArray]) -> bool:
    """A loop carry started from a Python scalar takes the dtype the body gives it (JAX's rule):
    ``fori_loop(0, n, lambda i, c: c + x.sum(), 0.0)`` with float32 ``x`` carries float32, as
    the same loop written in Python would. Updates the lists in place; True when the body must
    be traced again."""
    changed = False
    for i, (a, o) in enumerate(zip(carry_avals, out_avals, strict=True)):
        if not a.weak_type or a.dtype == o.dtype or a.shape != o.shape:
            continue
        dt = np.result_type(np.zeros((), a.dtype)[()].item(), o.dtype)  # as a Python scalar meets o
        if dt == a.dtype:
            continue
        x = init_flat[i]
        init_flat[i] = lax.convert_element_type(x, dt) if isinstance(x, Tracer) else np.asarray(x, dtype=dt)[()]
        carry_avals[i] = ShapedArray(a.shape, dt)
        changed = True
    return changed


def _avals_str(avals: Sequence[ShapedArray]) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _operand(x: Any) -> Any:
    """An operand as given when it is traced or a scalar (which the IR writes inline as a literal);
    otherwise an array of the active backend."""
    if isinstance(x, (Tracer, bool, int, float, np.generic)):
        return x
    return to_backend(x)


def _flat_avals(leaves: Sequence[Any]) -> list[ShapedArray]:
    return [get_aval(x) for x in leaves]


def run_jaxpr(closed: ClosedJaxpr, args: Sequence[Any]) -> list:
    """Run ``closed`` on concrete arrays of the active backend: the inner loop of every
    control-flow implementation. A body run often is compiled by the backend
    (``Backend.compiled_body``); otherwise it is interpreted, one implementation call per
    equation, so this stays small."""
    backend = current_backend()
    impl, native, asarray = backend.impls, backend.array_types, backend.asarray
    compiled_body = getattr(backend, "compiled_body", None)
    compiled = compiled_body(closed) if compiled_body is not None else None
    if compiled is not None:
        return list(compiled(*[x if isinstance(x, native) else asarray(x) for x in args]))
    jaxpr = closed.jaxpr
    env: dict[int, Any] = {}
    for v, c in zip(jaxpr.constvars, closed.consts, strict=True):
        env[id(v)] = c if isinstance(c, native) else asarray(c)
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[id(v)] = x if isinstance(x, native) else asarray(x)

    def read(x: Any) -> Any:
        return asarray(x.val) if type(x) is Literal else env[id(x)]

    for eqn in jaxpr.eqns:
        out = impl[eqn.primitive](*[read(x) for x in eqn.invars], **eqn.params)
        if eqn.primitive.multiple_results:
            for v, o in zip(eqn.outvars, out, strict=True):
                env[id(v)] = o
        else:
            env[id(eqn.outvars[0])] = out
    return [read(x) for x in jaxpr.outvars]


def _native(xs: Sequence[Any]) -> list:
    """Outputs of an implementation as the active backend's arrays (literals come back as scalars)."""
    b = current_backend()
    return [x if b.is_native(x) else b.asarray(x) for x in xs]


def user_error(e: Exception) -> Exception:
    """``e`` with the user's file:line in front of its message (for built-in exception types too)."""
    if isinstance(e, FunctraceError):
        return located(e)
    if e.args:
        e.args = (f"{format_frame(current_source())}: {e.args[0]}",) + tuple(e.args[1:])
    return e


def _error(cls: type, msg: str) -> Exception:
    return user_error(cls(msg))


# ---------------------------------------------------------------------------- cond / switch
def _cond_abstract_eval(index: ShapedArray, *ops: ShapedArray, branches) -> list[ShapedArray]:
    if index.shape != () or not is_int(index.dtype):
        raise DTypeError(f"cond: the branch index must be an integer scalar, got {index.str_short()}")
    for i, br in enumerate(branches):
        if list(br.in_avals) != list(ops):
            raise ShapeError(f"cond: branch {i} takes {_avals_str(br.in_avals)} but the operands are "
                             f"{_avals_str(ops)}")
        if list(br.out_avals) != list(branches[0].out_avals):
            raise ShapeError(f"cond: branch {i} returns {_avals_str(br.out_avals)} but branch 0 returns "
                             f"{_avals_str(branches[0].out_avals)}")
    return list(branches[0].out_avals)


cond_p = def_primitive("cond", _cond_abstract_eval, multiple_results=True)


def _cond_impl(index, *ops, branches):
    i = min(max(int(index), 0), len(branches) - 1)
    br = branches[i]
    return run_jaxpr(br, ops)


impls[cond_p] = _cond_impl


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped to the valid range (as JAX's switch).

    Every branch is traced (at abstract values) and must return the same structure, shapes and
    dtypes. ``index`` may be traced: the choice is made when the program runs, so ``switch``
    works under ``jit`` and every transform.
    """
    if not branches:
        raise _error(ValueError, "switch needs at least one branch")
    idx_aval = get_aval(to_backend(index) if not isinstance(index, Tracer) else index)
    if idx_aval.shape != () or not (is_int(idx_aval.dtype) or is_bool(idx_aval.dtype)):
        raise _error(TypeError, f"switch: the index must be an integer scalar, got {idx_aval.str_short()}")
    index = lax.convert_element_type(index, np.int32)
    n = len(branches)
    if n > 1:
        index = lax.max(lax.min(index, np.int32(n - 1)), np.int32(0))
    ops_flat, in_tree = tree_flatten(operands)
    ops_flat = [_operand(x) for x in ops_flat]
    # Python-scalar operands enter the branches as strong values, so that every branch sees
    # one dtype for them and the branches' outputs can be compared.
    avals = [a.with_weak_type(False) for a in _flat_avals(ops_flat)]
    traced, out_trees = [], []
    for fun in branches:
        f_flat, out_tree = flatten_fun(fun, in_tree)
        closed, consts = trace_to_closed(f_flat, avals)
        traced.append((closed, consts))
        out_trees.append(out_tree.val)
    for i in range(1, n):
        if out_trees[i] != out_trees[0] or traced[i][0].out_avals != traced[0][0].out_avals:
            raise _error(TypeError, "cond/switch: every branch must return the same structure, shapes and dtypes; "
                         f"branch 0 returns {out_trees[0]} {_avals_str(traced[0][0].out_avals)}, branch {i} returns "
                         f"{out_trees[i]} {_avals_str(traced[i][0].out_avals)}")
    # Every branch takes the closed-over values of all branches, then the operands.
    all_consts = [c for _, cs in traced for c in cs]
    const_avals = [[get_aval(c) for c in cs] for _, cs in traced]
    joined = []
    for i, (closed, consts) in enumerate(traced):
        j = closed.jaxpr
        k = len(consts)
        before = [Var(a) for avs in const_avals[:i] for a in avs]
        after = [Var(a) for avs in const_avals[i + 1:] for a in avs]
        invars = before + list(j.invars[:k]) + after + list(j.invars[k:])
        joined.append(ClosedJaxpr(Jaxpr([], invars, j.outvars, j.eqns), []))
    outs = bind(cond_p, index, *all_consts, *ops_flat, branches=tuple(joined))
    return tree_unflatten(out_trees[0], outs)


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands) if pred else false_fun(*operands)``, as one traceable primitive.

    ``pred`` is a scalar (boolean, or a number compared with 0). Both branches are traced and
    must return the same structure, shapes and dtypes. Differentiable in both modes, batchable
    (a batched ``pred`` computes both branches and selects), and usable under ``jit``.

    >>> ft.lax.cond(x > 0, lambda x: x * 2, lambda x: -x, x)
    """
    p = pred if isinstance(pred, Tracer) else to_backend(pred)
    a = get_aval(p)
    if a.shape != ():
        raise _error(TypeError, f"cond: the predicate must be a scalar, got {a.str_short()}; for elementwise "
                     "choices use functrace.numpy.where")
    if not is_bool(a.dtype):
        p = lax.ne(p, np.zeros((), a.dtype)[()])
    return switch(lax.convert_element_type(p, np.int32), (false_fun, true_fun), *operands)


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


while_p = def_primitive("while", _while_abstract_eval, multiple_results=True)


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


scan_p = def_primitive("scan", _scan_abstract_eval, multiple_results=True)


def _stack(ys: list, aval: ShapedArray, n: int) -> Any:
    """The per-step outputs of a scan as one array, by the backend's implementations directly
    (the values are concrete: no need to go through ``bind``)."""
    if n == 0:
        return lax.full((0,) + aval.shape, 0, aval.dtype)
    b = current_backend()
    reshape, concatenate = b.impls[P.reshape_p], b.impls[P.concatenate_p]
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


# ---------------------------------------------------------------------------- fori_loop
def _concrete_int(x: Any) -> int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, Tracer):
        return int(x) if x.val is not None else None
    if isinstance(x, np.ndarray) and x.shape == () and is_int(x.dtype):
        return int(x)
    return None


def fori_loop(lower: Any, upper: Any, body_fun: Callable, init_val: Any) -> Any:
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val); return val``.

    With concrete bounds it is a ``scan`` of ``upper - lower`` steps (differentiable in both
    modes); with traced bounds a ``while_loop`` (forward mode only), as in JAX.
    """
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    idx_dtype = np.result_type(*[get_aval(to_backend(b) if not isinstance(b, Tracer) else b).dtype
                                 for b in (lower, upper)])
    if not is_int(idx_dtype):
        raise _error(TypeError, f"fori_loop: the bounds must be integers, got dtype {np.dtype(idx_dtype).name}")
    if lo is not None and hi is not None:
        def step(carry, _):
            i, val = carry
            return (lax.add(i, np.asarray(1, idx_dtype)[()]), body_fun(i, val)), None

        (_, val), _ = scan(step, (np.asarray(lo, idx_dtype), init_val), None, length=max(hi - lo, 0))
        return val

    def w_cond(carry):
        i, up, _ = carry
        return lax.lt(i, up)

    def w_body(carry):
        i, up, val = carry
        return lax.add(i, np.asarray(1, idx_dtype)[()]), up, body_fun(i, val)

    lower = lax.convert_element_type(lower, idx_dtype)
    upper = lax.convert_element_type(upper, idx_dtype)
    _, _, val = while_loop(w_cond, w_body, (lower, upper, init_val))
    return val


# ---------------------------------------------------------------------------- custom derivatives
def _call_abstract_eval(name: str):
    def rule(*args: ShapedArray, call_jaxpr, num_consts, **_):
        if list(call_jaxpr.in_avals) != list(args):
            raise ShapeError(f"{name}: the function takes {_avals_str(call_jaxpr.in_avals)}, given {_avals_str(args)}")
        return list(call_jaxpr.out_avals)

    return rule


def _call_impl(*args, call_jaxpr, num_consts, **_):
    return run_jaxpr(call_jaxpr, args)


# A call of a function with a custom JVP rule: params call_jaxpr (the function), jvp (the rule).
custom_jvp_call_p = def_primitive("custom_jvp_call", _call_abstract_eval("custom_jvp_call"), multiple_results=True)
impls[custom_jvp_call_p] = _call_impl
# A call of a function with a custom VJP rule: params call_jaxpr, fwd and bwd.
custom_vjp_call_p = def_primitive("custom_vjp_call", _call_abstract_eval("custom_vjp_call"), multiple_results=True)
impls[custom_vjp_call_p] = _call_impl


def _custom_lin_abstract_eval(*args: ShapedArray, num_res, bwd, out_avals, **_):
    return list(out_avals)


# The linear map of a custom_vjp function's JVP: only its transpose (the user's bwd) is known.
custom_lin_p = def_primitive("custom_lin", _custom_lin_abstract_eval, multiple_results=True)


def _custom_lin_impl(*args, **params):
    raise TypeError("can't apply forward-mode differentiation (jvp, jacfwd, linearize) to a function with a "
                    "custom_vjp rule: only its reverse mode (bwd) is defined. Use grad/vjp/jacrev, or define the "
                    "function with custom_jvp instead")


impls[custom_lin_p] = _custom_lin_impl



__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "cond_p", "while_p", "scan_p",
           "custom_jvp_call_p", "custom_vjp_call_p", "custom_lin_p", "trace_to_closed"]
