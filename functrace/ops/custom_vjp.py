"""``custom_vjp``: functions that bring their own reverse-derivative rule (``fwd`` and ``bwd``).

See ``functrace.ops.custom_jvp`` for how a call is traced into a primitive and differentiated.
``custom_vjp_call``'s JVP rule runs the user's ``fwd`` at the primal level (output and
residuals) and emits ``custom_lin(residuals, tangents)``: a linear map whose only known form is
its transpose, the user's ``bwd``. Transposing ``custom_lin`` calls ``bwd``. So reverse mode
works to any order, while forward mode raises an error, as in JAX.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from functrace import lax
from functrace.api import to_backend
from functrace.avals import ShapedArray
from functrace.errors import GradError
from functrace.ops._subjaxprs import (
    impls,
)
from functrace.ops.custom_jvp import (
    Rule,
    _batched_args,
    _Call,
    _call_abstract_eval,
    _call_impl,
    _check_outs,
    _name,
    _no_closure_tangents,
)
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    instantiate,
    interpreters,
    is_differentiable,
    is_undefined,
)
from functrace.tracing import (
    Tracer,
    bind,
    get_aval,
    user_error,
)
from functrace.tree_util import tree_flatten, tree_unflatten

# ---------------------------------------------------------------------------- the primitives
# A call of a function with a custom VJP rule: params call_jaxpr, fwd and bwd.
custom_vjp_call_p = def_primitive("custom_vjp_call", _call_abstract_eval("custom_vjp_call"), multiple_results=True,
                                  subjaxprs=True)
impls[custom_vjp_call_p] = _call_impl


def _custom_lin_abstract_eval(*args: ShapedArray, num_res, bwd, out_avals, **_):
    return list(out_avals)


# The linear map of a custom_vjp function's JVP: only its transpose (the user's bwd) is known.
custom_lin_p = def_primitive("custom_lin", _custom_lin_abstract_eval, multiple_results=True, subjaxprs=True,
                             linear=True)


class ForwardModeOfCustomVJPError(GradError):
    """A tangent was pushed through a custom_vjp function's linear map, which has no forward form.

    Eager ``jvp`` catches it to retry on the traced program, where the map is often dead code
    (the primal output of a ``fwd`` under ``jvp(grad(f))``) and dead-code elimination drops it."""


def _custom_lin_impl(*args, **params):
    raise ForwardModeOfCustomVJPError(
        "can't apply forward-mode differentiation (jvp, jacfwd, linearize) to a function with a custom_vjp rule: "
        "only its reverse mode (bwd) is defined. Use grad/vjp/jacrev, or define the function with custom_jvp instead")


impls[custom_lin_p] = _custom_lin_impl


# ---------------------------------------------------------------------------- custom_vjp
class custom_vjp:  # noqa: N801 - named as in JAX
    """A function whose reverse-mode derivative is given by ``fwd``/``bwd`` rules.

    >>> @ft.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None                       # output, residuals for bwd
    >>> def bwd(res, g):
    ...     return (fnp.clip(g, -1.0, 1.0),)     # one cotangent per argument
    >>> clip_gradient.defvjp(fwd, bwd)

    ``fwd`` takes the function's arguments and returns ``(output, residuals)``; ``bwd`` takes
    the ``nondiff_argnums`` arguments, the residuals and the output cotangent, and returns a
    tuple with one cotangent per (differentiable) argument (None for a zero one). grad, vjp,
    jacrev and their compositions use the rule; forward mode (jvp, jacfwd) raises an error, as
    in JAX.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the forward (output and residuals) and backward (cotangents) rules."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise user_error(AttributeError(f"no VJP rule is defined for the custom_vjp function {_name(self.fun)}; "
                                            f"define one with {_name(self.fun)}.defvjp(fwd, bwd)"))
        call = _Call(self.fun, self.nondiff_argnums, args, kwargs)
        closed, consts, out_tree = call.trace(self.fun)
        user_fwd, user_bwd, fun = self.fwd, self.bwd, self.fun
        out_avals = closed.out_avals

        def fwd_flat(primals: list) -> tuple[list, list, Any]:
            res = user_fwd(*call.full_args(primals))
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise user_error(TypeError(f"the fwd rule of {_name(fun)} must return a pair (output, residuals)"))
            outs, o_tree = tree_flatten(res[0])
            _check_outs("the fwd rule's output", fun, o_tree, out_tree, outs, out_avals, False)
            residuals, r_tree = tree_flatten(res[1])
            return outs, [r if isinstance(r, Tracer) else to_backend(r) for r in residuals], r_tree

        def bwd_flat(r_tree: Any, residuals: list, cts: list) -> list:
            g = user_bwd(*call.nondiff_values(), tree_unflatten(r_tree, residuals), tree_unflatten(out_tree, cts))
            if not isinstance(g, (tuple, list)) or len(g) != call.n_diff:
                raise user_error(TypeError(
                    f"the bwd rule of {_name(fun)} must return a tuple with one cotangent per differentiable "
                    f"argument ({call.n_diff}), got {type(g).__name__}"
                    + (f" of length {len(g)}" if isinstance(g, (tuple, list)) else "")))
            arg_trees = tree_unflatten(call.in_tree, list(range(len(call.avals))))
            flat: list = []
            for gi, ai in zip(g, arg_trees, strict=True):
                idx, a_tree = tree_flatten(ai)
                if gi is None:
                    flat += [Zero(call.avals[k]) for k in idx]
                    continue
                leaves, g_tree = tree_flatten(gi)
                if g_tree != a_tree:
                    raise user_error(TypeError(f"the bwd rule of {_name(fun)} returned a cotangent of structure "
                                               f"{g_tree} for an argument of structure {a_tree}"))
                for k, leaf in zip(idx, leaves, strict=True):
                    a, got = call.avals[k], get_aval(leaf)
                    if got.shape != a.shape:
                        raise user_error(TypeError(
                            f"the bwd rule of {_name(fun)} returned a cotangent of shape {got.shape} for an argument "
                            f"of shape {a.shape}"))
                    flat.append(lax.convert_element_type(leaf, a.dtype) if is_differentiable(a) else Zero(a))
            return flat

        outs = bind(custom_vjp_call_p, *consts, *call.flat, call_jaxpr=closed, fwd=Rule(fwd_flat, _name(user_fwd)),
                    bwd=Rule(bwd_flat, _name(user_bwd)), num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts):
    _no_closure_tangents(tangents, num_consts, "custom_vjp")
    ps = list(primals[num_consts:])
    outs, res, r_tree = fwd(ps)
    out_avals = call_jaxpr.out_avals
    ts = [instantiate(t, get_aval(p)) for t, p in zip(tangents[num_consts:], ps, strict=True)]
    touts = bind(custom_lin_p, *res, *ts, num_res=len(res), bwd=Rule(functools.partial(bwd, r_tree), repr(bwd)),
                 out_avals=tuple(out_avals))
    return outs, [t if is_differentiable(a) else Zero(a) for t, a in zip(touts, out_avals, strict=True)]


def_jvp_rule(custom_vjp_call_p, _custom_vjp_call_jvp)


def _custom_vjp_call_batch(args, dims, *, call_jaxpr, fwd, bwd, num_consts):
    size, in_b, args = _batched_args(args, dims)
    new_call, _ = interpreters.batch_jaxpr(call_jaxpr, in_b, size, True)
    p_dims = [0 if b else None for b in in_b[num_consts:]]
    n_out = len(call_jaxpr.out_avals)

    def batched_fwd(ps: list) -> tuple[list, list, Any]:
        r_tree: list = []

        def f(flat):
            o, r, t = fwd(flat)
            r_tree.append(t)
            return list(o) + list(r)

        got = interpreters.vmap_flat(f, ps, p_dims, size)
        return got[:n_out], got[n_out:], r_tree[-1]

    def batched_bwd(r_tree: Any, res: list, cts: list) -> list:
        n_res = len(res)

        def f(flat):
            return [instantiate(g) for g in bwd(r_tree, flat[:n_res], flat[n_res:])]

        got = interpreters.vmap_flat(f, res + cts, [0] * (n_res + len(cts)), size)
        # an input shared by every example gets the sum of the examples' cotangents
        return [g if d is not None else lax.reduce_sum(g, (0,)) for g, d in zip(got, p_dims, strict=True)]

    outs = bind(custom_vjp_call_p, *args, call_jaxpr=new_call, fwd=Rule(batched_fwd, f"vmap({fwd!r})"),
                bwd=Rule(batched_bwd, f"vmap({bwd!r})"), num_consts=num_consts)
    return outs, [0] * n_out


def_batch_rule(custom_vjp_call_p, _custom_vjp_call_batch)


# ---------------------------------------------------------------------------- custom_lin
def _custom_lin_transpose(cts, *args, num_res, bwd, out_avals):
    res, lin = args[:num_res], args[num_res:]
    if any(is_undefined(r) for r in res):
        raise NotImplementedError("custom_lin: the residuals of a custom_vjp rule cannot be linear inputs")
    got = bwd(list(res), [instantiate(c) for c in cts])
    return [None] * num_res + [g if is_undefined(x) else None for g, x in zip(got, lin, strict=True)]


def_transpose_rule(custom_lin_p, _custom_lin_transpose)


def _custom_lin_jvp(primals, tangents, *, num_res, bwd, out_avals):
    """custom_lin is linear in its non-residual inputs: its JVP applies it to their tangents."""
    if any(not isinstance(t, Zero) for t in tangents[:num_res]):
        raise NotImplementedError("differentiating the residuals of a custom_vjp rule's linear map is not supported")
    params = dict(num_res=num_res, bwd=bwd, out_avals=out_avals)
    outs = bind(custom_lin_p, *primals, **params)
    ts = [instantiate(t, get_aval(p)) for t, p in zip(tangents[num_res:], primals[num_res:], strict=True)]
    return outs, bind(custom_lin_p, *primals[:num_res], *ts, **params)


def_jvp_rule(custom_lin_p, _custom_lin_jvp)


def _custom_lin_batch(args, dims, *, num_res, bwd, out_avals):
    size, in_b, args = _batched_args(args, dims)
    r_dims = [0 if b else None for b in in_b[:num_res]]
    t_dims = [0 if b else None for b in in_b[num_res:]]
    out_b = tuple(a.update(shape=(size,) + a.shape) for a in out_avals)

    def batched_bwd(res: list, cts: list) -> list:
        def f(flat):
            return [instantiate(g) for g in bwd(flat[:num_res], flat[num_res:])]

        got = interpreters.vmap_flat(f, res + cts, r_dims + [0] * len(cts), size)
        return [g if d is not None else lax.reduce_sum(g, (0,)) for g, d in zip(got, t_dims, strict=True)]

    # Every output depends on the batch (through a residual or a tangent): all batched at 0.
    outs = bind(custom_lin_p, *args, num_res=num_res, bwd=Rule(batched_bwd, f"vmap({bwd!r})"),
                out_avals=out_b)
    return outs, [0] * len(out_avals)


def_batch_rule(custom_lin_p, _custom_lin_batch)
