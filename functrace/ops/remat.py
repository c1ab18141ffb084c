"""The remat family: ``remat`` (``ft.checkpoint`` / ``ft.remat``) and ``name`` (``checkpoint_name``).

``remat[jaxpr, policy]`` runs its sub-jaxpr. What it changes is differentiation: its JVP splits
the sub-jaxpr into a primal part and a tangent part (``linearize_jaxpr``) and emits the tangent
part as a second ``remat`` equation that takes the *inputs* of the block (plus the values the
policy saves) and recomputes the rest of the forward pass itself. Reverse mode therefore keeps
only those values between the forward and the backward pass, and the backward pass (this
family's transpose rule) recomputes the block's intermediates when it reaches it: memory for
time, as ``jax.checkpoint``.

Policies (``checkpoint_policies``) are printable values, so a program with ``remat`` prints and
parses back: ``"nothing_saveable"`` (the default: recompute everything), ``"everything_saveable"``
(no recomputation: as if there were no checkpoint), ``"dots_saveable"`` (keep the results of
matrix products, recompute the cheap elementwise work) and ``("save_only_these_names", names)``
(keep the values marked with ``checkpoint_name(x, name)``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from functrace.api import flatten_fun
from functrace.ir import ClosedJaxpr, Literal, dependent_outputs
from functrace.ops._subjaxprs import _flat_avals, _nonzero, _operand, _restructured, impls, run_jaxpr, trace_to_closed
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    axis_size,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    deflinear,
    instantiate,
    interpreters,
    is_undefined,
    moveaxis,
)
from functrace.tracing import bind, eval_jaxpr, trace_at
from functrace.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- policies
class checkpoint_policies:  # noqa: N801 -- JAX's name
    """What a checkpointed block keeps for the backward pass (the rest is recomputed)."""

    nothing_saveable = "nothing_saveable"
    everything_saveable = "everything_saveable"
    dots_saveable = "dots_saveable"

    @staticmethod
    def save_only_these_names(*names: str) -> tuple:
        """Keep the values marked ``checkpoint_name(x, name)`` with one of ``names``."""
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"save_only_these_names: names must be strings, got {names!r}")
        return ("save_only_these_names", tuple(names))


_POLICIES = ("nothing_saveable", "everything_saveable", "dots_saveable")


def _check_policy(policy: Any) -> Any:
    if policy is None:
        return "nothing_saveable"
    if policy in _POLICIES or (isinstance(policy, tuple) and len(policy) == 2
                               and policy[0] == "save_only_these_names"):
        return policy
    raise TypeError(f"checkpoint: unknown policy {policy!r}; use one of ft.checkpoint_policies "
                    "(nothing_saveable, everything_saveable, dots_saveable, save_only_these_names(...))")


def _saves(policy: Any, eqn) -> bool:
    """Whether ``policy`` keeps the result of ``eqn`` (a primal equation of the block)."""
    if policy == "dots_saveable":
        return eqn.primitive.name == "dot_general"
    if isinstance(policy, tuple):
        return eqn.primitive is name_p and eqn.params["name"] in policy[1]
    return policy == "everything_saveable"


# ---------------------------------------------------------------------------- name
def _name_abstract_eval(x, *, name):
    return x


name_p = def_primitive("name", _name_abstract_eval, linear=(0,))
impls[name_p] = lambda x, *, name: x
deflinear(name_p, lambda ct, x, *, name: [ct])
def_batch_rule(name_p, lambda args, dims, *, name: (bind(name_p, args[0], name=name), dims[0]))


def checkpoint_name(x: Any, name: str) -> Any:
    """``x``, marked ``name`` for ``checkpoint_policies.save_only_these_names`` (as JAX's)."""
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: name must be a string, got {name!r}")
    return bind(name_p, _operand(x), name=name)


# ---------------------------------------------------------------------------- remat
def _remat_abstract_eval(*args, jaxpr: ClosedJaxpr, policy: Any):
    return list(jaxpr.out_avals)


remat_p = def_primitive("remat", _remat_abstract_eval, multiple_results=True, subjaxprs=True)
impls[remat_p] = lambda *args, jaxpr, policy: run_jaxpr(jaxpr, args)


def _eval(jaxpr, consts: list, args: list, given: dict, want: list) -> tuple[list, list]:
    """Run ``jaxpr``, taking the results of equations whose outputs are in ``given`` (id of var ->
    value) from there instead of computing them; also return the values of the vars in ``want``."""
    env = {id(v): x for v, x in zip(list(jaxpr.constvars) + list(jaxpr.invars), list(consts) + list(args), strict=True)}

    def read(x):
        return x.val if isinstance(x, Literal) else env[id(x)]

    for eqn in jaxpr.eqns:
        if eqn.outvars and all(id(v) in given for v in eqn.outvars):
            outs = [given[id(v)] for v in eqn.outvars]
        else:
            out = bind(eqn.primitive, *[read(x) for x in eqn.invars], **eqn.params)
            outs = out if eqn.primitive.multiple_results else [out]
        for v, o in zip(eqn.outvars, outs, strict=True):
            env[id(v)] = o
    return [read(x) for x in jaxpr.outvars], [env[id(v)] for v in want]


def _remat_jvp(primals, tangents, *, jaxpr: ClosedJaxpr, policy: Any):
    avals = jaxpr.in_avals
    n_out = len(jaxpr.out_avals)
    nz = _nonzero(tangents, avals)
    if policy == "everything_saveable":  # store every residual: the ordinary JVP, inline
        return interpreters.jvp_jaxpr(jaxpr.jaxpr, jaxpr.consts, list(primals), list(tangents))
    part = interpreters.linearize_jaxpr(jaxpr, nz, [False] * n_out)
    pj = part.primal.jaxpr
    # The values to keep: results of the equations the policy saves (the block's inputs are
    # operands of the tangent equation anyway). The tangent equation recomputes the residuals
    # it needs from the inputs and those values.
    saved = [v for e in pj.eqns if _saves(policy, e) for v in e.outvars]

    def primal_fn(args):
        outs, kept = _eval(pj, part.primal.consts, args, {}, saved)
        return outs[:n_out] + kept

    def tangent_fn(args):
        ops, kept, ts = args[:len(avals)], args[len(avals):len(avals) + len(saved)], args[len(avals) + len(saved):]
        outs, _ = _eval(pj, part.primal.consts, ops, {id(v): k for v, k in zip(saved, kept, strict=True)}, [])
        return eval_jaxpr(part.tangent.jaxpr, part.tangent.consts, outs[n_out:] + ts)  # the forward, again

    outs = bind(remat_p, *primals, jaxpr=trace_at(primal_fn, avals), policy=policy)
    primal_out, kept = outs[:n_out], outs[n_out:]
    t_in = [t for t, z in zip(tangents, nz, strict=True) if z]
    t_avals = [a for a, z in zip(avals, nz, strict=True) if z]
    t_jaxpr = trace_at(tangent_fn, list(avals) + [v.aval for v in saved] + t_avals)
    t_out = bind(remat_p, *primals, *kept, *t_in, jaxpr=t_jaxpr, policy=policy)
    it = iter(t_out)
    return primal_out, [next(it) if z else Zero(a) for z, a in zip(part.out_nonzero, jaxpr.out_avals, strict=True)]


def_jvp_rule(remat_p, _remat_jvp)


def _remat_transpose(cts, *args, jaxpr: ClosedJaxpr, policy: Any):
    """Transpose the tangent equation: its forward recomputation runs here, in the backward pass."""
    linear = [is_undefined(a) for a in args]
    res = [a for a, lin in zip(args, linear, strict=True) if not lin]
    lin_avals = [a.aval for a, lin in zip(args, linear, strict=True) if lin]
    cts = [instantiate(c, a) for c, a in zip(cts, jaxpr.out_avals, strict=True)]
    lin_j, _ = _restructured(jaxpr, linear)
    got = interpreters.backward_pass(lin_j, list(jaxpr.consts) + res, cts)
    it = iter([instantiate(g, a) for g, a in zip(got, lin_avals, strict=True)])
    return [next(it) if lin else None for lin in linear]


def_transpose_rule(remat_p, _remat_transpose)


def _remat_batch(args, dims, *, jaxpr: ClosedJaxpr, policy: Any):
    size = axis_size(args, dims)
    in_b = [d is not None for d in dims]
    ops = [moveaxis(o, d, 0) if d is not None else o for o, d in zip(args, dims, strict=True)]
    out_b = dependent_outputs(jaxpr, in_b)
    new = interpreters.batch_jaxpr(jaxpr, in_b, size, out_b)[0]
    return bind(remat_p, *ops, jaxpr=new, policy=policy), [0 if b else None for b in out_b]


def_batch_rule(remat_p, _remat_batch)


# ---------------------------------------------------------------------------- the wrapper
def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Any = None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """``fun``, whose intermediates are recomputed in the backward pass instead of stored
    (``jax.checkpoint``). ``policy`` (``ft.checkpoint_policies``) names what is kept anyway.

    >>> layer = ft.checkpoint(lambda w, x: fnp.tanh(x @ w))
    >>> g = ft.grad(lambda w, x: fnp.sum(layer(w, x)))(np.ones((3, 3)), np.ones((2, 3)))

    ``prevent_cse`` is accepted for JAX compatibility (the recomputation is a separate equation
    that passes do not merge with the forward pass).
    """
    policy = _check_policy(policy)
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args: Any) -> Any:
        n = len(args)
        static = {i % n: args[i] for i in statics}
        dyn = [a for i, a in enumerate(args) if i not in static]
        flat, in_tree = tree_flatten(tuple(dyn))
        flat = [_operand(x) for x in flat]

        def f_dyn(*d: Any) -> Any:
            it = iter(d)
            return fun(*[static[i] if i in static else next(it) for i in range(n)])

        f_flat, out_tree = flatten_fun(f_dyn, in_tree)
        closed, consts = trace_to_closed(f_flat, [a.with_weak_type(False) for a in _flat_avals(flat)])
        outs = bind(remat_p, *consts, *flat, jaxpr=closed, policy=policy)
        return tree_unflatten(out_tree.val, outs)

    return wrapped


remat = checkpoint


__all__ = ["checkpoint", "remat", "checkpoint_name", "checkpoint_policies", "remat_p", "name_p"]
