"""``custom_jvp``: functions that bring their own forward-derivative rule (``custom_vjp``, in
``functrace.ops.custom_vjp``, brings a reverse one).

The decorator and the rules that differentiate and batch its calls. A call of a decorated function
traces the function into a jaxpr and binds one primitive
(``custom_jvp_call`` here, or ``custom_vjp_call``) holding that
jaxpr and the user's rule. Evaluating, jitting or batching the call uses the jaxpr; differentiating
it uses the rule instead of the traced body:

- ``custom_jvp_call``'s JVP rule calls the user's ``jvp(primals, tangents)``, whose primal work
  binds to the primal level and tangent work to the tangent level, like any JVP rule; reverse
  mode transposes the (linear) tangent computation it wrote, so one JVP rule serves both modes.
- ``custom_vjp_call``'s JVP rule runs the user's ``fwd`` at the primal level (output and
  residuals), and emits ``custom_lin(residuals, tangents)``: a linear map whose only known
  form is its transpose, the user's ``bwd``. Transposing ``custom_lin`` calls ``bwd``. So
  reverse mode works to any order (the ``bwd`` computation is itself differentiated), while
  forward mode raises an error, as in JAX.

Batching a call batches its jaxpr and wraps the rule in ``vmap`` (``bwd`` sums the cotangent of
an input shared by all examples), so ``vmap`` and the derivatives compose in either order.

Derivatives with respect to values the function closes over (rather than takes as arguments)
are not defined by the rule: differentiating them raises an error naming the function.

When the arguments carry concrete values (outside ``jit``), the function is traced with them,
so Python control flow on values works inside it, as it does everywhere else outside ``jit``.

Choices at 0, and how to change them. As in JAX, ``d sqrt(x)/dx`` at 0 is ``inf`` (the limit),
and the gradient of ``fnp.linalg.norm`` at the zero vector is ``nan`` (``0 / 0``: the norm is
not differentiable there). Where a model needs a subgradient instead, a custom rule states it::

    @ft.custom_jvp
    def safe_norm(x):
        return fnp.linalg.norm(x)

    @safe_norm.defjvp
    def safe_norm_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        n = safe_norm(x)
        # x / n away from 0, and the subgradient 0 at 0 (the inner where keeps 0/0 out)
        return n, fnp.sum(fnp.where(n > 0, x / fnp.where(n > 0, n, 1.0), 0.0) * t)

``ft.nn.softplus`` ships such a rule (``t * sigmoid(x)``), exact at every order.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

from functrace import lax
from functrace.api import to_backend
from functrace.avals import ShapedArray
from functrace.errors import GradError, ShapeError
from functrace.ops._subjaxprs import (
    _avals_str,
    impls,
    run_jaxpr,
    trace_to_closed,
)
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    axis_size,
    def_batch_rule,
    def_jvp_rule,
    instantiate,
    interpreters,
    is_differentiable,
    moveaxis,
)
from functrace.tracing import (
    Tracer,
    bind,
    get_aval,
    user_error,
)
from functrace.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- the primitive
def _call_abstract_eval(name: str):
    def rule(*args: ShapedArray, call_jaxpr, num_consts, **_):
        if list(call_jaxpr.in_avals) != list(args):
            raise ShapeError(f"{name}: the function takes {_avals_str(call_jaxpr.in_avals)}, given {_avals_str(args)}")
        return list(call_jaxpr.out_avals)

    return rule


def _call_impl(*args, call_jaxpr, num_consts, **_):
    return run_jaxpr(call_jaxpr, args)


# A call of a function with a custom JVP rule: params call_jaxpr (the function), jvp (the rule).
custom_jvp_call_p = def_primitive("custom_jvp_call", _call_abstract_eval("custom_jvp_call"), multiple_results=True,
                                  subjaxprs=True)
impls[custom_jvp_call_p] = _call_impl


class Rule:
    """A user rule held in an equation's params: prints as its name, runs on flat lists."""

    __slots__ = ("fn", "name")

    def __init__(self, fn: Callable, name: str):
        self.fn = fn
        self.name = name

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.name


def _name(f: Any) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _resolve_args(fun: Callable, args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments turned positional (the rules see positional arguments only)."""
    if not kwargs:
        return args
    try:
        ba = inspect.signature(fun).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise user_error(TypeError(f"{_name(fun)}: {e}")) from None
    ba.apply_defaults()
    if ba.kwargs:
        raise user_error(TypeError(f"{_name(fun)}: keyword-only arguments are not supported by custom_jvp/custom_vjp"))
    return tuple(ba.args)


class _Call:
    """One call's arguments split into the differentiable ones (flattened) and the static ones."""

    def __init__(self, fun: Callable, nondiff_argnums: tuple, args: tuple, kwargs: dict):
        args = _resolve_args(fun, args, kwargs)
        n = len(args)
        for i in nondiff_argnums:
            if not -n <= i < n:
                raise user_error(ValueError(f"{_name(fun)}: nondiff_argnums {i} is out of range for {n} arguments"))
        self.nondiff = {i % n: args[i] for i in nondiff_argnums}
        self.n = n
        diff = tuple(a for i, a in enumerate(args) if i not in self.nondiff)
        flat, self.in_tree = tree_flatten(diff)
        self.flat = [x if isinstance(x, Tracer) else to_backend(x) for x in flat]
        self.avals = [get_aval(x) for x in self.flat]
        self.n_diff = len(diff)

    def full_args(self, flat: Sequence[Any]) -> list:
        diff = iter(tree_unflatten(self.in_tree, list(flat)))
        return [self.nondiff[i] if i in self.nondiff else next(diff) for i in range(self.n)]

    def nondiff_values(self) -> list:
        return [self.nondiff[i] for i in sorted(self.nondiff)]

    def trace(self, fun: Callable) -> tuple[Any, list, Any]:
        """Trace ``fun``; values are carried when every argument's value is known."""
        out_tree: list = []

        def f_flat(flat: list) -> list:
            leaves, tree = tree_flatten(fun(*self.full_args(flat)))
            out_tree.append(tree)
            return leaves

        vals = [x.val if isinstance(x, Tracer) else x for x in self.flat]
        closed, consts = trace_to_closed(f_flat, self.avals, None if any(v is None for v in vals) else vals)
        return closed, consts, out_tree[-1]


def _check_outs(where: str, fun: Callable, tree, want_tree, leaves: Sequence[Any], want_avals, tangent: bool) -> None:
    if tree != want_tree:
        raise user_error(TypeError(f"{where} of {_name(fun)} returned a structure {tree}, but the function returns "
                                   f"{want_tree}"))
    for x, a in zip(leaves, want_avals, strict=True):
        got = get_aval(x)
        if got.shape != a.shape or (got.dtype != a.dtype and (not tangent or is_differentiable(a))):
            raise user_error(TypeError(
                f"{where} of {_name(fun)} returned a value of type {got.str_short()} where the function's output is "
                f"{a.str_short()}; return one of the same shape and dtype"))


# ---------------------------------------------------------------------------- custom_jvp
class custom_jvp:  # noqa: N801 - named as in JAX
    """A function whose JVP (forward derivative) is given by a rule, used by every autodiff mode.

    >>> @ft.custom_jvp
    ... def log1pexp(x):
    ...     return fnp.log1p(fnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * ft.nn.sigmoid(x)

    The rule takes ``(primals, tangents)`` (tuples, one entry per argument, after the
    arguments listed in ``nondiff_argnums``, which come first and are not differentiated) and
    returns ``(primal_out, tangent_out)``; ``tangent_out`` must be linear in ``tangents`` for
    reverse mode. Zero tangents arrive as arrays of zeros.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the JVP rule (usable as a decorator)."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, ``jvp_i(t_i, ans, *args) -> tangent contribution``; None: no derivative."""

        def jvp(*rule_args):
            k = len(self.nondiff_argnums)
            nondiff, primals, tangents = rule_args[:k], rule_args[k], rule_args[k + 1]
            args = _merge(self.nondiff_argnums, nondiff, primals)
            ans = self(*args)
            total = None
            for f, t in zip(jvps, tangents, strict=True):
                if f is None:
                    continue
                d = f(t, ans, *args)
                total = d if total is None else _tree_add(total, d)
            if total is None:
                total = _tree_zeros(ans)
            return ans, total

        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise user_error(AttributeError(f"no JVP rule is defined for the custom_jvp function {_name(self.fun)}; "
                                            "define one with @{0}.defjvp".format(_name(self.fun))))
        call = _Call(self.fun, self.nondiff_argnums, args, kwargs)
        closed, consts, out_tree = call.trace(self.fun)
        user_jvp = self.jvp
        out_avals = closed.out_avals

        def jvp_flat(primals: list, tangents: list) -> tuple[list, list]:
            ps = tree_unflatten(call.in_tree, primals)
            ts = tree_unflatten(call.in_tree, tangents)
            res = user_jvp(*call.nondiff_values(), ps, ts)
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise user_error(TypeError(f"the JVP rule of {_name(self.fun)} must return a pair "
                                           "(primal_out, tangent_out)"))
            outs, o_tree = tree_flatten(res[0])
            touts, t_tree = tree_flatten(res[1])
            _check_outs("the JVP rule's primal output", self.fun, o_tree, out_tree, outs, out_avals, False)
            _check_outs("the JVP rule's tangent output", self.fun, t_tree, out_tree, touts, out_avals, True)
            return outs, touts

        outs = bind(custom_jvp_call_p, *consts, *call.flat, call_jaxpr=closed,
                    jvp=Rule(jvp_flat, _name(user_jvp)), num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


def _merge(nondiff_argnums: tuple, nondiff: Sequence[Any], primals: Sequence[Any]) -> list:
    n = len(nondiff) + len(primals)
    fixed = {i % n: v for i, v in zip(nondiff_argnums, nondiff, strict=True)}
    it = iter(primals)
    return [fixed[i] if i in fixed else next(it) for i in range(n)]


def _tree_add(a: Any, b: Any) -> Any:
    la, ta = tree_flatten(a)
    lb, _ = tree_flatten(b)
    return tree_unflatten(ta, [lax.add(x, y) for x, y in zip(la, lb, strict=True)])


def _tree_zeros(a: Any) -> Any:
    la, ta = tree_flatten(a)
    return tree_unflatten(ta, [lax.zeros_like(x) for x in la])


# ---------------------------------------------------------------------------- rules
def _no_closure_tangents(tangents: Sequence[Any], num_consts: int, what: str) -> None:
    if any(not isinstance(t, Zero) for t in tangents[:num_consts]):
        raise user_error(GradError(
            f"differentiation of a {what} function with respect to a value it closes over: the custom rule only "
            "gives derivatives with respect to the function's arguments; pass that value as an argument instead"))


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts):
    _no_closure_tangents(tangents, num_consts, "custom_jvp")
    ps = list(primals[num_consts:])
    ts = [instantiate(t, get_aval(p)) for t, p in zip(tangents[num_consts:], ps, strict=True)]
    outs, touts = jvp(ps, ts)
    return outs, [t if is_differentiable(a) else Zero(a) for t, a in zip(touts, call_jaxpr.out_avals, strict=True)]


def_jvp_rule(custom_jvp_call_p, _custom_jvp_call_jvp)


def _batched_args(args, dims):
    size = axis_size(args, dims)
    in_b = [d is not None for d in dims]
    return size, in_b, [moveaxis(a, d, 0) if d is not None else a for a, d in zip(args, dims, strict=True)]


def _custom_jvp_call_batch(args, dims, *, call_jaxpr, jvp, num_consts):
    size, in_b, args = _batched_args(args, dims)
    new_call, _ = interpreters.batch_jaxpr(call_jaxpr, in_b, size, True)
    p_dims = [0 if b else None for b in in_b[num_consts:]]
    n_out = len(call_jaxpr.out_avals)

    def batched_jvp(ps: list, ts: list) -> tuple[list, list]:
        n = len(ps)

        def both(flat):
            o, t = jvp(flat[:n], flat[n:])
            return list(o) + list(t)

        res = interpreters.vmap_flat(both, ps + ts, p_dims + p_dims, size)
        return res[:n_out], res[n_out:]

    outs = bind(custom_jvp_call_p, *args, call_jaxpr=new_call, jvp=Rule(batched_jvp, f"vmap({jvp!r})"),
                num_consts=num_consts)
    return outs, [0] * n_out


def_batch_rule(custom_jvp_call_p, _custom_jvp_call_batch)
