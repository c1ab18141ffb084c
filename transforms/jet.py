"""Taylor mode: the interpreter that pushes truncated Taylor series through a jaxpr (``jet``).

``jet(f, primals, series)`` has the signature and meaning of ``jax.experimental.jet.jet``: the
input path is ``x(t) = x + sum_k series[k-1] t^k / k!`` and the result holds ``f(x)`` and the
derivatives ``d^k/dt^k f(x(t))`` at ``t = 0``, k = 1..K. Inside, series are normalised
(divided by k!), so products of series are plain Cauchy products (``functrace.ops._taylor``).

Each primitive's Taylor rule is registered beside it in its family module (``def_jet_rule``,
``functrace.rules.jet_rules``). Without one, the traits decide: a ``zero_derivative``
primitive's outputs carry zero series; a primitive linear in the operands that carry series is
applied to each coefficient. Any other primitive falls back to nested ``jvp`` along the path
(correct, but its cost doubles with each order) and a warning names it once.

The rules are written with ``functrace.lax``, so ``jet`` composes with ``jit``, ``vmap`` and
``grad`` like any other function of arrays.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.api import flatten_fun, input_avals, to_backend, trace_flat
from functrace.avals import is_float
from functrace.errors import GradError
from functrace.ir import ClosedJaxpr, Jaxpr, Literal
from functrace.primitives import Primitive
from functrace.rules import Zero, interpreters, jet_rules, jvp_rule
from functrace.tracing import bind, get_aval, interpreting, located, trace_at
from functrace.transforms.symbolic_tape import no_nested_derivative
from functrace.tree_util import tree_flatten, tree_leaves, tree_unflatten

Array = Any
Series = list | None  # the normalised coefficients of orders 1..K of one value, or None (constant path)

# ---------------------------------------------------------------------------- public API


def jet(fun: Callable, primals: Sequence[Any], series: Sequence[Sequence[Any]]) -> tuple[Any, Any]:
    """Taylor-mode differentiation: ``(fun(*primals), series_out)``, as ``jax.experimental.jet.jet``.

    ``primals`` holds one array per argument of ``fun``; ``series`` one list per argument of K
    arrays of the same shape, the derivatives ``x^(1)(0), ..., x^(K)(0)`` of an input path
    ``x(t)`` through ``primals``. ``series_out`` has ``fun``'s output structure with each leaf
    replaced by the K derivatives of ``fun(x(t))`` at 0. One pass costs about K^2 products per
    nonlinear operation, where K nested ``jvp`` calls cost about 2^K.

    >>> import functrace as ft, functrace.numpy as fnp
    >>> y, (d1, d2, d3) = ft.jet(fnp.exp, (0.0,), ((1.0, 0.0, 0.0),))   # x(t) = t
    >>> print(float(y), float(d1), float(d2), float(d3))
    1.0 1.0 1.0 1.0
    """
    no_nested_derivative()
    if not isinstance(primals, (tuple, list)) or not isinstance(series, (tuple, list)):
        raise located(GradError("jet: primals and series must be tuples (one entry per argument of fun)"))
    if len(primals) != len(series):
        raise located(GradError(f"jet: {len(primals)} primals but {len(series)} series; give one series "
                                "(a list of K terms) per primal"))
    orders = {len(s) if isinstance(s, (tuple, list)) else -1 for s in series}
    if -1 in orders:
        raise located(GradError("jet: each series must be a list or tuple of terms (the K derivatives of the path)"))
    if len(orders) > 1:
        raise located(GradError(f"jet: the series have different lengths {sorted(orders)}; every argument needs "
                                "the same number of terms"))
    order = orders.pop() if orders else 0
    for i, x in enumerate(primals):
        if len(tree_leaves(x)) != 1 or isinstance(x, (tuple, list, dict)):
            raise located(GradError(f"jet: primal {i} is not an array (jet takes one array per argument, as JAX's)"))
    p_flat, in_tree = tree_flatten(tuple(primals))
    avals = input_avals(p_flat)
    p_flat = [to_backend(x) for x in p_flat]
    s_in: list[Series] = []
    for i, (a, terms) in enumerate(zip(avals, series, strict=True)):
        terms = [to_backend(t) for t in terms]
        for j, t in enumerate(terms):
            ta = get_aval(t)
            if ta.shape != a.shape:
                raise located(GradError(f"jet: term {j} of argument {i} has shape {ta.shape}, its primal {a.shape}"))
        if not is_float(a.dtype) or order == 0:
            s_in.append(None)
            continue
        s_in.append([_scaled(lax.convert_element_type(t, a.dtype), 1.0 / math.factorial(k + 1))
                     for k, t in enumerate(terms)])
    f_flat, out_tree = flatten_fun(fun, in_tree)
    jaxpr, consts, _ = trace_flat(f_flat, p_flat, avals=avals)
    with np.errstate(all="ignore"):
        outs, s_out = jet_jaxpr(jaxpr, consts, p_flat, s_in, order)
        terms_out = []
        for o, s in zip(outs, s_out, strict=True):
            if s is None:
                terms_out.append([lax.zeros_like(o) for _ in range(order)])
            else:
                terms_out.append([_scaled(c, float(math.factorial(k + 1))) for k, c in enumerate(s)])
    return tree_unflatten(out_tree.val, outs), tree_unflatten(out_tree.val, terms_out)


def derivatives(f: Callable, order: int, direction: Any = None) -> Callable[[Any], list]:
    """``derivatives(f, k)(x)`` is ``[f(x), f'(x), ..., f^(k)(x)]``, by one ``jet`` pass.

    The derivatives are along ``direction`` (ones by default): ``d^j/dt^j f(x + t v)`` at 0, so
    for a scalar function of a scalar they are the ordinary derivatives, and for an elementwise
    function of an array they are each element's derivatives. ``f`` may return a pytree; then
    each entry of the list has its structure.

    >>> import functrace as ft, functrace.numpy as fnp
    >>> [round(float(d), 6) for d in ft.derivatives(fnp.sin, 3)(0.0)]
    [0.0, 1.0, -0.0, -1.0]
    """
    if not isinstance(order, (int, np.integer)) or order < 0:
        raise located(GradError(f"derivatives: order must be a non-negative int, got {order!r}"))
    order = int(order)

    def derivs(x: Any) -> list:
        x = to_backend(x)
        a = get_aval(x)
        dt = a.dtype if is_float(a.dtype) else np.dtype(np.float32 if a.weak_type else np.float64)
        x = lax.convert_element_type(x, dt)
        v = lax.full(a.shape, 1, dt) if direction is None else lax.convert_element_type(to_backend(direction), dt)
        if get_aval(v).shape != a.shape:
            raise located(GradError(f"derivatives: direction has shape {get_aval(v).shape}, x has {a.shape}"))
        terms = [v] + [lax.zeros_like(v) for _ in range(order - 1)]
        y, ys = jet(f, (x,), (terms,))
        leaves_y, tree = tree_flatten(y)
        leaves_s = tree_flatten(ys, is_leaf=lambda n: isinstance(n, list))[0] if leaves_y else []
        return [y] + [tree_unflatten(tree, [s[k] for s in leaves_s]) for k in range(order)]

    derivs.__name__ = f"derivatives({getattr(f, '__name__', 'f')}, {order})"
    return derivs


# ---------------------------------------------------------------------------- the interpreter
def jet_jaxpr(jaxpr: Jaxpr, consts: list, primals: list, series: list[Series], order: int
              ) -> tuple[list, list[Series]]:
    """Evaluate ``jaxpr`` on ``primals`` and push the normalised ``series`` through it.

    ``series`` holds per input None or K arrays; outputs whose series is None are constant
    along the path (integer outputs always are).
    """
    penv: dict[int, Any] = {}
    senv: dict[int, list] = {}
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        penv[id(v)] = c
    for v, p, s in zip(jaxpr.invars, primals, series, strict=True):
        penv[id(v)] = p
        if s is not None:
            senv[id(v)] = s

    def read_p(x):
        return x.val if isinstance(x, Literal) else penv[id(x)]

    def read_s(x):
        return None if isinstance(x, Literal) else senv.get(id(x))

    with interpreting() as at:
        for eqn in jaxpr.eqns:
            at(eqn.source_info)
            prim = eqn.primitive
            ps = [read_p(x) for x in eqn.invars]
            ss = [read_s(x) for x in eqn.invars]
            if order == 0 or all(s is None for s in ss):
                po, so = bind(prim, *ps, **eqn.params), None
                if prim.multiple_results:
                    so = [None] * len(po)
            else:
                po, so = _apply_rule(prim, ps, ss, eqn.params, order)
            pos, sos = (po, so) if prim.multiple_results else ([po], [so])
            for v, p, s in zip(eqn.outvars, pos, sos, strict=True):
                penv[id(v)] = p
                if s is not None and is_float(v.aval.dtype):
                    senv[id(v)] = s
    return [read_p(x) for x in jaxpr.outvars], [read_s(x) for x in jaxpr.outvars]


def _apply_rule(prim: Primitive, ps: list, ss: list[Series], params: dict, order: int) -> tuple[Any, Any]:
    rule = jet_rules.get(prim)
    if rule is not None:
        return rule(ps, ss, **params)
    if prim.zero_derivative:
        out = bind(prim, *ps, **params)
        return out, ([None] * len(out) if prim.multiple_results else None)
    how = linear_kind(prim, ss)
    if how is not None:
        return _linear_jet(prim, ps, ss, params, order, how)
    return _fallback_jet(prim, ps, ss, params, order)


def linear_kind(prim: Primitive, ss: Sequence[Series]) -> str | None:
    """How the generic linear rule applies to ``prim`` with series on the operands of ``ss``:
    ``"joint"`` (linear in all its linear operands together, as add or concatenate: apply it to
    each coefficient, zeros in the other linear operands), ``"single"`` (one operand carries a
    series and ``prim`` is linear in it, as either side of a product: push each coefficient
    through its JVP rule), or None (no generic linear rule)."""
    if prim.subjaxprs or prim.multiple_results or not prim.linear:
        return None
    carrying = [i for i, s in enumerate(ss) if s is not None]
    lin = range(len(ss)) if prim.linear is True else prim.linear
    if not all(i in lin for i in carrying):
        return None
    rule = jvp_rule(prim)
    if rule is None:
        return None
    if prim.linear is True or getattr(rule, "__qualname__", "").startswith("deflinear."):
        return "joint"
    return "single" if len(carrying) == 1 else None


def _linear_jet(prim: Primitive, ps: list, ss: list[Series], params: dict, order: int, how: str):
    out = bind(prim, *ps, **params)
    lin = range(len(ss)) if prim.linear is True else prim.linear
    series = []
    for k in range(order):
        if how == "joint":
            args = [s[k] if s is not None else (lax.zeros_like(p) if i in lin else p)
                    for i, (p, s) in enumerate(zip(ps, ss, strict=True))]
            series.append(bind(prim, *args, **params))
        else:
            ts = [Zero(get_aval(p)) if s is None else s[k] for p, s in zip(ps, ss, strict=True)]
            _, t = jvp_rule(prim)(ps, ts, **params)
            series.append(lax.zeros_like(out) if isinstance(t, Zero) else t)
    return out, series


_warned: set[str] = set()


class JetFallbackWarning(UserWarning):
    """A primitive without a Taylor rule was differentiated by nested jvp (correct, slower)."""


def _fallback_jet(prim: Primitive, ps: list, ss: list[Series], params: dict, order: int):
    """The series of ``prim(x(t))`` by K nested ``jvp`` in t along the polynomial input path.

    Correct for any differentiable primitive, but the work doubles with each order."""
    if prim.name not in _warned:
        _warned.add(prim.name)
        warnings.warn(f"jet: primitive '{prim.name}' has no Taylor rule; its series are computed by nested jvp "
                      "(correct, but the cost doubles with each order). Register one with "
                      "functrace.rules.def_jet_rule beside the primitive.", JetFallbackWarning, stacklevel=2)
    from functrace.transforms.autodiff import jvp

    out = bind(prim, *ps, **params)
    outs = list(out) if prim.multiple_results else [out]
    dt = next(get_aval(s[0]).dtype for s in ss if s is not None)

    def g(t):
        args = list(ps)
        for i, (p, s) in enumerate(zip(ps, ss, strict=True)):
            if s is not None:
                acc = s[-1]
                for c in reversed(s[:-1]):
                    acc = lax.add(c, lax.mul(t, acc))
                args[i] = lax.add(p, lax.mul(t, acc))
        r = bind(prim, *args, **params)
        return list(r) if prim.multiple_results else [r]

    def d(f):
        return lambda t: jvp(f, (t,), (np.ones((), dt)[()],))[1]

    fns = [g]
    for _ in range(order):
        fns.append(d(fns[-1]))
    t0 = np.zeros((), dt)[()]
    per_order = [fns[k + 1](t0) for k in range(order)]
    series = []
    for j, o in enumerate(outs):
        if not is_float(get_aval(o).dtype):
            series.append(None)
            continue
        series.append([_scaled(per_order[k][j], 1.0 / math.factorial(k + 1)) for k in range(order)])
    return out, (series if prim.multiple_results else series[0])


def _scaled(x: Array, c: float) -> Array:
    if c == 1.0:
        return x
    return lax.mul(x, np.asarray(c, dtype=get_aval(x).dtype)[()])


# ---------------------------------------------------------------------------- for sub-jaxprs
def jet_closed(closed: ClosedJaxpr, has_series: Sequence[bool], order: int,
               layout: Callable[[list, list], list] | None = None) -> tuple[ClosedJaxpr, list[bool]]:
    """``closed`` as a jaxpr of primals and series: inputs are the primals followed by the K
    coefficients of each input flagged in ``has_series``; outputs the primal outputs followed
    by the K coefficients of every floating output (zeros where constant). Returns it and the
    flags of the outputs that have series. (The rules of cond, scan and while use it.)"""
    avals = list(closed.in_avals)
    s_avals = [a for a, h in zip(avals, has_series, strict=True) if h for _ in range(order)]
    out_flags = [is_float(a.dtype) for a in closed.out_avals]
    n = len(avals)

    def fn(args: list) -> list:
        it = iter(args[n:])
        ss = [[next(it) for _ in range(order)] if h else None for h in has_series]
        outs, oss = jet_jaxpr(closed.jaxpr, closed.consts, list(args[:n]), ss, order)
        res = list(outs)
        for o, s, f in zip(outs, oss, out_flags, strict=True):
            if f:
                res += s if s is not None else [lax.zeros_like(o) for _ in range(order)]
        return res

    return trace_at(fn, avals + s_avals), out_flags


interpreters.jet_jaxpr = jet_jaxpr
interpreters.jet_closed = jet_closed

__all__ = ["jet", "derivatives", "jet_jaxpr", "jet_closed", "JetFallbackWarning"]
