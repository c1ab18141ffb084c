"""The rule tables the transforms read, and the registrars that fill them.

Each primitive's family module (``functrace/ops/``) registers its JVP, transpose and batching
rules here, on the lines after the primitive is declared; the interpreters in
``functrace.transforms`` read the tables and hold no per-primitive rule. Also here: the shared
pieces of derivative rules (symbolic zeros, un-broadcasting).

A tangent or cotangent that is known to be zero is the symbol ``Zero(aval)`` rather than an
array, so derivatives of integer outputs and untouched inputs cost nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_float
from functrace.errors import MissingRuleError
from functrace.primitives import Primitive
from functrace.tracing import bind, get_aval, located


class Zero:
    """A symbolic zero (co)tangent with the abstract value of the array it stands for."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    return aval


def instantiate(t: Any, aval: ShapedArray | None = None) -> Any:
    """Turn a symbolic Zero into an array of zeros (broadcast from a scalar literal)."""
    if isinstance(t, Zero):
        a = t.aval if aval is None else aval
        return lax.full(a.shape, 0, a.dtype)
    return t


def is_differentiable(aval: ShapedArray) -> bool:
    return is_float(aval.dtype)


def broadcast_to_aval(t: Any, aval: ShapedArray) -> Any:
    """A rank-0 (co)tangent of an elementwise op stands for every position: broadcast it."""
    ta = get_aval(t)
    if ta.shape == aval.shape:
        return t
    return lax.broadcast_in_dim(t, aval.shape, ())


def unbroadcast(ct: Any, aval: ShapedArray) -> Any:
    """The cotangent of a rank-0 operand that was used at every position: the sum of ``ct``."""
    if isinstance(ct, Zero):
        return Zero(aval)
    cta = get_aval(ct)
    if cta.shape == aval.shape:
        return ct
    return lax.reduce_sum(ct, tuple(range(cta.ndim)))


def add_tangents(x: Any, y: Any) -> Any:
    if isinstance(x, Zero):
        return y
    if isinstance(y, Zero):
        return x
    return lax.add(x, y)


def zeros_scalar(dtype: Any) -> Any:
    return np.zeros((), dtype=dtype)[()]


# ---------------------------------------------------------------------------- rule tables
class RuleTable(dict):
    """A primitive -> rule table that counts its changes (``version``), so that what was derived
    from its rules (the eager tape's staged VJPs, ``transforms.vjp_tape``) can tell when to
    derive again: after a rule is registered, replaced or removed."""

    version = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        RuleTable.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        RuleTable.version += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        RuleTable.version += 1
        return super().pop(*args)

    def update(self, *args: Any, **kwargs: Any) -> None:
        RuleTable.version += 1
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        RuleTable.version += 1
        return super().setdefault(key, default)


class Interpreters:
    """The interpreters that rules of primitives with sub-jaxprs (control flow, custom
    derivatives) apply to those sub-jaxprs: ``jvp_jaxpr``, ``linearize_jaxpr``,
    ``backward_pass``, ``batch_jaxpr``, ``batch_eval_jaxpr``, ``vmap_flat``. Importing
    ``functrace.transforms`` installs them (the core imports no transform); a rule runs only
    inside a transform, so they are installed whenever one is called."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the interpreter {name!r} is not installed: import functrace.transforms first")


interpreters = Interpreters()

JvpRule = Callable[..., tuple[Any, Any]]
BatchRule = Callable[..., tuple[Any, Any]]
jvp_rules: RuleTable = RuleTable()
transpose_rules: RuleTable = RuleTable()
batching_rules: dict[Primitive, BatchRule] = {}

# Taylor mode (``transforms.jet``): ``rule(primals, series, **params) -> (primal_out, series_out)``.
# ``series`` holds, per operand, None (a path constant in t) or the list of its normalised Taylor
# coefficients of orders 1..K (see ``functrace.ops._taylor``); the rule returns the same for its
# output (a list of them for several results). Linear and zero-derivative primitives need none.
jet_rules: RuleTable = RuleTable()

def _register(table: dict, prim: Primitive, rule: Callable, kind: str) -> None:
    if prim in table:
        raise ValueError(f"{kind} rule for {prim.name} is already registered")
    table[prim] = rule


def def_jvp_rule(prim: Primitive, rule: JvpRule) -> None:
    """``rule(primals, tangents, **params) -> (primal_out, tangent_out)``; tangents may be Zero."""
    _register(jvp_rules, prim, rule, "jvp")


def def_transpose_rule(prim: Primitive, rule: Callable[..., list]) -> None:
    """``rule(ct, *args, **params) -> [ct per arg]``; linear args arrive as ``UndefinedPrimal``."""
    _register(transpose_rules, prim, rule, "transpose")


def def_batch_rule(prim: Primitive, rule: BatchRule) -> None:
    """``rule(args, dims, **params) -> (out, out_dim)`` (lists of both for several results); ``dims``
    holds each operand's batch axis, or None for an operand that is the same for every example."""
    _register(batching_rules, prim, rule, "batching")



def def_jet_rule(prim: Primitive, rule: Callable[..., tuple[Any, Any]]) -> None:
    """``rule(primals, series, **params) -> (primal_out, series_out)``; see ``jet_rules``."""
    _register(jet_rules, prim, rule, "jet")

def defjvp(prim: Primitive, *per_arg: Callable | None) -> None:
    """JVP as a sum over arguments of ``per_arg[i](t_i, ans, *primals)``; None: not differentiable."""

    def rule(primals, tangents, **params):
        ans = prim_bind(prim, primals, params)
        out_aval = get_aval(ans)
        total = Zero(out_aval)
        for f, t in zip(per_arg, tangents, strict=True):
            if f is None or isinstance(t, Zero):
                continue
            total = add_tangents(total, f(t, ans, *primals, **params))
        if not isinstance(total, Zero):
            total = broadcast_to_aval(total, out_aval)
        return ans, total

    def_jvp_rule(prim, rule)


def missing_rule(prim: Primitive, what: str, transform: str) -> MissingRuleError:
    """The error for a primitive without the rule a transform needs, at the user's line."""
    return located(MissingRuleError(
        f"primitive '{prim.name}' has no {what} rule, which {transform} needs; a primitive's rules are "
        f"registered beside it in its family module under functrace/ops/ (see docs/adding_a_primitive.md)"))


def jvp_rule(prim: Primitive) -> JvpRule | None:
    """``prim``'s registered JVP rule, else the one its traits give (zero_derivative: zero tangents)."""
    rule = jvp_rules.get(prim)
    if rule is None and prim.zero_derivative:
        rule = _zero_rules.get(prim) or _zero_rules.setdefault(prim, _zero_jvp(prim))
    return rule


_zero_rules: dict[Primitive, JvpRule] = {}


def _zero_jvp(prim: Primitive) -> JvpRule:
    def rule(primals, tangents, **params):
        ans = prim_bind(prim, primals, params)
        if prim.multiple_results:
            return ans, [Zero(get_aval(a)) for a in ans]
        return ans, Zero(get_aval(ans))

    return rule


def deflinear(prim: Primitive, transpose: Callable[..., list]) -> None:
    """A primitive linear in all its array arguments: its JVP applies it to the tangents."""

    def rule(primals, tangents, **params):
        ans = prim_bind(prim, primals, params)
        if all(isinstance(t, Zero) for t in tangents):
            return ans, Zero(get_aval(ans))
        ts = [instantiate(t) for t in tangents]
        return ans, prim_bind(prim, ts, params)

    def_jvp_rule(prim, rule)
    def_transpose_rule(prim, transpose)


def prim_bind(prim: Primitive, args: list, params: dict) -> Any:
    return bind(prim, *args, **params)


class UndefinedPrimal:
    """Stands for a linear input of an equation while transposing it."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x: Any) -> bool:
    return isinstance(x, UndefinedPrimal)


def aval_of(x: Any) -> ShapedArray:
    """The abstract value of an operand of a transpose rule, linear (undefined) or not."""
    return x.aval if isinstance(x, UndefinedPrimal) else get_aval(x)


def const_like(value: float, like: Any) -> Any:
    """A scalar constant of ``like``'s dtype (a literal in the IR)."""
    return np.asarray(value, dtype=get_aval(like).dtype)[()]


# ---------------------------------------------------------------------------- batching helpers
def moveaxis(x: Any, src: int, dst: int) -> Any:
    """``x`` with axis ``src`` moved to position ``dst`` (one transpose, none when equal)."""
    if src == dst:
        return x
    perm = [i for i in range(get_aval(x).ndim) if i != src]
    perm.insert(dst, src)
    return lax.transpose(x, perm)


def bdim_at_front(x: Any, d: int | None, size: int) -> Any:
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size`` examples."""
    if d is None:
        a = get_aval(x)
        return lax.broadcast_in_dim(x, (size,) + a.shape, tuple(range(1, a.ndim + 1)))
    return moveaxis(x, d, 0)


def axis_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    """The number of examples: the length of the batch axis of the first batched operand."""
    for x, d in zip(args, dims, strict=True):
        if d is not None:
            return get_aval(x).shape[d]
    raise ValueError("axis_size: no batched operand")


def batch_axis(axis: int, d: int) -> int:
    """The position in the batched array of per-example axis ``axis`` (batch axis at ``d``)."""
    return axis + (axis >= d)


def scalar(value: Any, dtype: Any) -> Any:
    """A NumPy scalar of ``dtype`` (a literal in the IR)."""
    return np.asarray(value, dtype=dtype)[()]
