"""What a primitive is: ``Primitive`` with its traits, ``def_primitive`` that declares one with
its abstract-evaluation (shape/dtype) rule, and the checks those rules share.

The primitives themselves are declared in their family modules under ``functrace/ops/``, each
with its rules beside it; the rule tables are in ``functrace.rules``.
Elementwise primitives take operands of one dtype and equal shapes, except that a rank-0
operand (a scalar) stands for itself at every position.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace.avals import ShapedArray, is_bool, is_int
from functrace.errors import AxisError, DTypeError, ShapeError


class Primitive:
    """An operation of the IR. Identity is by object; ``name`` is what the printer shows.

    Traits, declared once in ``def_primitive``, are what the interpreters read instead of
    hand-kept lists of names:

    - ``elementwise``: operands of one shape (rank-0 operands stand for every position); vmap
      batches it by the generic elementwise rule, the lowering may broadcast implicitly.
    - ``commutative``: operands may be swapped (trace-time CSE treats ``x+y`` and ``y+x`` as one).
    - ``linear``: the operand positions it is linear in (its transpose rule must cover them);
      True for every operand (variadic primitives such as ``concatenate``).
    - ``zero_derivative``: its outputs carry no derivative (comparisons, integer results).
    - ``subjaxprs``: its params hold jaxprs (control flow, custom derivatives).
    - ``effectful``: it must run even when its result is unused (printing, collectives, random
      state); passes never remove, fold or merge it.
    """

    __slots__ = ("name", "multiple_results", "elementwise", "commutative", "linear", "zero_derivative",
                 "subjaxprs", "effectful")

    def __init__(self, name: str, multiple_results: bool = False, *, elementwise: bool = False,
                 commutative: bool = False, linear: tuple[int, ...] | bool = (), zero_derivative: bool = False,
                 subjaxprs: bool = False, effectful: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.elementwise = elementwise
        self.commutative = commutative
        self.linear = linear if isinstance(linear, bool) else tuple(linear)
        self.zero_derivative = zero_derivative
        self.subjaxprs = subjaxprs
        self.effectful = effectful

    def __repr__(self) -> str:
        return self.name


abstract_eval_rules: dict[Primitive, Callable[..., Any]] = {}
all_primitives: dict[str, Primitive] = {}


def def_primitive(name: str, rule: Callable, multiple_results: bool = False, **traits: Any) -> Primitive:
    """Declare a primitive once: its name, its abstract-eval (shape/dtype) rule ``rule(*avals,
    **params) -> ShapedArray`` (a list for ``multiple_results``) and its traits (see
    ``Primitive``). Double declaration is refused."""
    if name in all_primitives:
        raise ValueError(f"primitive {name!r} is already defined")
    p = Primitive(name, multiple_results, **traits)
    all_primitives[name] = p
    abstract_eval_rules[p] = rule
    return p


# ---------------------------------------------------------------------------- elementwise
def elementwise_shape(name: str, *avals: ShapedArray) -> tuple[int, ...]:
    shape: tuple[int, ...] = ()
    for a in avals:
        if a.shape == ():
            continue
        if shape == ():
            shape = a.shape
        elif a.shape != shape:
            raise ShapeError(
                f"{name} needs operands of equal shape (or scalars), got "
                + ", ".join(str(x.shape) for x in avals)
            )
    return shape


def same_dtype(name: str, *avals: ShapedArray) -> np.dtype:
    dt = avals[0].dtype
    for a in avals[1:]:
        if a.dtype != dt:
            raise DTypeError(
                f"{name} needs operands of one dtype, got " + ", ".join(x.dtype.name for x in avals)
                + " (functrace.numpy promotes; functrace.lax does not)"
            )
    return dt


def _unop_rule(name: str, kinds: str):
    def rule(x: ShapedArray) -> ShapedArray:
        check_kind(name, x.dtype, kinds)
        return x

    return rule


def check_kind(name: str, dtype, kinds: str) -> None:
    """Refuse a dtype outside ``kinds``: "f" real floating, "c" complex, "i" integer, "b" bool."""
    kind = np.dtype(dtype).kind
    ok = (("f" in kinds and kind == "f") or ("c" in kinds and kind == "c") or ("i" in kinds and is_int(dtype))
          or ("b" in kinds and is_bool(dtype)))
    if not ok:
        want = {"f": "floating", "c": "complex", "i": "integer", "b": "boolean"}
        raise DTypeError(
            f"{name} does not accept dtype {np.dtype(dtype).name}; it accepts "
            + " or ".join(want[k] for k in kinds) + " arrays"
        )


def _naryop_rule(name: str, kinds: str, out_dtype=None):
    def rule(*avals: ShapedArray) -> ShapedArray:
        dt = same_dtype(name, *avals)
        check_kind(name, dt, kinds)
        return ShapedArray(elementwise_shape(name, *avals), dt if out_dtype is None else out_dtype)

    return rule


def unop(name: str, kinds: str = "f", **traits: Any) -> Primitive:
    return def_primitive(name, _unop_rule(name, kinds), elementwise=True, **traits)


def binop(name: str, kinds: str = "fi", out_dtype=None, **traits: Any) -> Primitive:
    return def_primitive(name, _naryop_rule(name, kinds, out_dtype), elementwise=True, **traits)


def check_axes(name: str, x: ShapedArray, axes: tuple[int, ...]) -> None:
    for a in axes:
        if not 0 <= a < x.ndim:
            raise AxisError(f"{name}: axis {a} is out of bounds for an array of shape {x.shape}")
    if len(set(axes)) != len(axes):
        raise AxisError(f"{name}: repeated axis in {axes}")
