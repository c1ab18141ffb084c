"""The primitive set and each primitive's abstract-evaluation (shape/dtype) rule.

A primitive is just a name; its rules live in tables keyed by it. This module holds the
shape/dtype table; transforms and backends keep their own tables next to their rules.
Elementwise primitives take operands of one dtype and equal shapes, except that a rank-0
operand (a scalar) stands for itself at every position.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import AxisError, DTypeError, ShapeError


class Primitive:
    """An operation of the IR. Identity is by object; ``name`` is what the printer shows.

    Traits, declared once in ``def_primitive``, are what the interpreters read instead of
    hand-kept lists of names:

    - ``elementwise``: operands of one shape (rank-0 operands stand for every position); vmap
      batches it by the generic elementwise rule, the lowering may broadcast implicitly.
    - ``commutative``: operands may be swapped (trace-time CSE treats ``x+y`` and ``y+x`` as one).
    - ``linear``: the operand positions it is linear in (its transpose rule must cover them).
    - ``zero_derivative``: its outputs carry no derivative (comparisons, integer results).
    - ``subjaxprs``: its params hold jaxprs (control flow, custom derivatives).
    - ``effectful``: it must run even when its result is unused (printing, collectives, random
      state); passes never remove, fold or merge it.
    """

    __slots__ = ("name", "multiple_results", "elementwise", "commutative", "linear", "zero_derivative",
                 "subjaxprs", "effectful")

    def __init__(self, name: str, multiple_results: bool = False, *, elementwise: bool = False,
                 commutative: bool = False, linear: tuple[int, ...] = (), zero_derivative: bool = False,
                 subjaxprs: bool = False, effectful: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.elementwise = elementwise
        self.commutative = commutative
        self.linear = tuple(linear)
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
def _elementwise_shape(name: str, *avals: ShapedArray) -> tuple[int, ...]:
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


def _same_dtype(name: str, *avals: ShapedArray) -> np.dtype:
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
        _check_kind(name, x.dtype, kinds)
        return x

    return rule


def _check_kind(name: str, dtype, kinds: str) -> None:
    ok = (("f" in kinds and is_float(dtype)) or ("i" in kinds and is_int(dtype))
          or ("b" in kinds and is_bool(dtype)))
    if not ok:
        want = {"f": "floating", "i": "integer", "b": "boolean"}
        raise DTypeError(
            f"{name} does not accept dtype {np.dtype(dtype).name}; it accepts "
            + " or ".join(want[k] for k in kinds) + " arrays"
        )


def _naryop_rule(name: str, kinds: str, out_dtype=None):
    def rule(*avals: ShapedArray) -> ShapedArray:
        dt = _same_dtype(name, *avals)
        _check_kind(name, dt, kinds)
        return ShapedArray(_elementwise_shape(name, *avals), dt if out_dtype is None else out_dtype)

    return rule


def unop(name: str, kinds: str = "f", **traits: Any) -> Primitive:
    return def_primitive(name, _unop_rule(name, kinds), elementwise=True, **traits)


def binop(name: str, kinds: str = "fi", out_dtype=None, **traits: Any) -> Primitive:
    return def_primitive(name, _naryop_rule(name, kinds, out_dtype), elementwise=True, **traits)


neg_p = unop("neg", "fi")
sign_p = unop("sign", "fi")
abs_p = unop("abs", "fi")
floor_p = unop("floor")
ceil_p = unop("ceil")
round_p = unop("round")
sin_p = unop("sin")
cos_p = unop("cos")
tan_p = unop("tan")
asin_p = unop("asin")
acos_p = unop("acos")
atan_p = unop("atan")
sinh_p = unop("sinh")
cosh_p = unop("cosh")
tanh_p = unop("tanh")
asinh_p = unop("asinh")
acosh_p = unop("acosh")
atanh_p = unop("atanh")
exp_p = unop("exp")
exp2_p = unop("exp2")
expm1_p = unop("expm1")
log_p = unop("log")
log1p_p = unop("log1p")
sqrt_p = unop("sqrt")
logistic_p = unop("logistic")
erf_p = unop("erf")
not_p = unop("not", "ib")
is_finite_p = def_primitive("is_finite", lambda x: (_check_kind("is_finite", x.dtype, "f"), x.update(dtype=bool))[1],
                            elementwise=True)


def _integer_pow_rule(x: ShapedArray, *, y: int) -> ShapedArray:
    _check_kind("integer_pow", x.dtype, "fi")
    if not isinstance(y, int):
        raise DTypeError(f"integer_pow needs an int exponent, got {y!r}")
    return x


integer_pow_p = def_primitive("integer_pow", _integer_pow_rule, elementwise=True)

add_p = binop("add")
sub_p = binop("sub")
mul_p = binop("mul")
div_p = binop("div")
rem_p = binop("rem")
pow_p = binop("pow", "f")
max_p = binop("max", "fib")
min_p = binop("min", "fib")
atan2_p = binop("atan2", "f")
and_p = binop("and", "ib")
or_p = binop("or", "ib")
xor_p = binop("xor", "ib")
eq_p = binop("eq", "fib", np.dtype(bool))
ne_p = binop("ne", "fib", np.dtype(bool))
lt_p = binop("lt", "fib", np.dtype(bool))
le_p = binop("le", "fib", np.dtype(bool))
gt_p = binop("gt", "fib", np.dtype(bool))
ge_p = binop("ge", "fib", np.dtype(bool))


def _select_rule(pred: ShapedArray, on_true: ShapedArray, on_false: ShapedArray) -> ShapedArray:
    if not is_bool(pred.dtype):
        raise DTypeError(f"select needs a boolean predicate, got {pred.dtype.name}")
    dt = _same_dtype("select", on_true, on_false)
    return ShapedArray(_elementwise_shape("select", pred, on_true, on_false), dt)


select_p = def_primitive("select", _select_rule, elementwise=True)


def _convert_rule(x: ShapedArray, *, new_dtype) -> ShapedArray:
    return x.update(dtype=new_dtype)


convert_element_type_p = def_primitive("convert_element_type", _convert_rule, elementwise=True)
stop_gradient_p = def_primitive("stop_gradient", lambda x: x, elementwise=True)


# ---------------------------------------------------------------------------- reductions
def _check_axes(name: str, x: ShapedArray, axes: tuple[int, ...]) -> None:
    for a in axes:
        if not 0 <= a < x.ndim:
            raise AxisError(f"{name}: axis {a} is out of bounds for an array of shape {x.shape}")
    if len(set(axes)) != len(axes):
        raise AxisError(f"{name}: repeated axis in {axes}")


def _reduce_rule(name: str, kinds: str = "fib", out_dtype=None):
    def rule(x: ShapedArray, *, axes: tuple[int, ...]) -> ShapedArray:
        _check_axes(name, x, axes)
        _check_kind(name, x.dtype, kinds)
        if name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"{name} over an empty axis of shape {x.shape} has no identity; "
                             "pass an initial value with functrace.numpy.where, or check the size")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, x.dtype if out_dtype is None else out_dtype)

    return rule


reduce_sum_p = def_primitive("reduce_sum", _reduce_rule("reduce_sum", "fi"))
reduce_prod_p = def_primitive("reduce_prod", _reduce_rule("reduce_prod", "fi"))
reduce_max_p = def_primitive("reduce_max", _reduce_rule("reduce_max"))
reduce_min_p = def_primitive("reduce_min", _reduce_rule("reduce_min"))
reduce_and_p = def_primitive("reduce_and", _reduce_rule("reduce_and", "b"))
reduce_or_p = def_primitive("reduce_or", _reduce_rule("reduce_or", "b"))


def _argminmax_rule(name: str):
    def rule(x: ShapedArray, *, axis: int, index_dtype) -> ShapedArray:
        _check_axes(name, x, (axis,))
        if x.shape[axis] == 0:
            raise ShapeError(f"{name} of an empty axis is undefined (shape {x.shape})")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype)

    return rule


argmax_p = def_primitive("argmax", _argminmax_rule("argmax"))
argmin_p = def_primitive("argmin", _argminmax_rule("argmin"))


def _cumulative_rule(x: ShapedArray, *, axis: int, reverse: bool) -> ShapedArray:
    _check_axes("cumsum", x, (axis,))
    _check_kind("cumsum", x.dtype, "fi")
    return x


cumsum_p = def_primitive("cumsum", _cumulative_rule)


# ---------------------------------------------------------------------------- shapes
def _broadcast_in_dim_rule(x: ShapedArray, *, shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...]):
    if len(broadcast_dimensions) != x.ndim:
        raise ShapeError(f"broadcast_in_dim: {x.ndim} operand dims but dimensions {broadcast_dimensions}")
    for d, od in zip(x.shape, broadcast_dimensions, strict=True):
        if not 0 <= od < len(shape) or d not in (1, shape[od]):
            raise ShapeError(f"broadcast_in_dim: cannot broadcast shape {x.shape} to {shape} "
                             f"along dimensions {broadcast_dimensions}")
    if list(broadcast_dimensions) != sorted(broadcast_dimensions):
        raise ShapeError(f"broadcast_in_dim: dimensions {broadcast_dimensions} must increase")
    return ShapedArray(shape, x.dtype)


broadcast_in_dim_p = def_primitive("broadcast_in_dim", _broadcast_in_dim_rule)


def _reshape_rule(x: ShapedArray, *, new_sizes: tuple[int, ...]) -> ShapedArray:
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
        raise ShapeError(f"cannot reshape an array of shape {x.shape} (size {x.size}) into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype)


reshape_p = def_primitive("reshape", _reshape_rule)


def _transpose_rule(x: ShapedArray, *, permutation: tuple[int, ...]) -> ShapedArray:
    if sorted(permutation) != list(range(x.ndim)):
        raise AxisError(f"transpose: {permutation} is not a permutation of the axes of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


transpose_p = def_primitive("transpose", _transpose_rule)


def _slice_rule(x: ShapedArray, *, start_indices, limit_indices, strides) -> ShapedArray:
    if not (len(start_indices) == len(limit_indices) == len(strides) == x.ndim):
        raise ShapeError(f"slice: index lists must have one entry per axis of shape {x.shape}")
    shape = []
    for d, s, e, st in zip(x.shape, start_indices, limit_indices, strides, strict=True):
        if not (0 <= s <= e <= d) or st < 1:
            raise ShapeError(f"slice [{start_indices}:{limit_indices}:{strides}] is out of range for shape {x.shape}")
        shape.append(max(0, -(-(e - s) // st)))
    return ShapedArray(tuple(shape), x.dtype)


slice_p = def_primitive("slice", _slice_rule)


def _rev_rule(x: ShapedArray, *, dimensions: tuple[int, ...]) -> ShapedArray:
    _check_axes("rev", x, dimensions)
    return x


rev_p = def_primitive("rev", _rev_rule)


def _pad_rule(x: ShapedArray, padval: ShapedArray, *, padding_config) -> ShapedArray:
    _same_dtype("pad", x, padval)
    if padval.shape != ():
        raise ShapeError("pad: the padding value must be a scalar")
    if len(padding_config) != x.ndim:
        raise ShapeError(f"pad: one (low, high, interior) per axis of shape {x.shape} is required")
    shape = []
    for d, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        if interior < 0:
            raise ShapeError("pad: interior padding must be non-negative")
        n = lo + hi + d + max(0, d - 1) * interior
        if n < 0:
            raise ShapeError(f"pad: negative padding {padding_config} removes more than shape {x.shape} has")
        shape.append(n)
    return ShapedArray(tuple(shape), x.dtype)


pad_p = def_primitive("pad", _pad_rule)


def _concatenate_rule(*xs: ShapedArray, dimension: int) -> ShapedArray:
    if not xs:
        raise ShapeError("concatenate needs at least one array")
    dt = _same_dtype("concatenate", *xs)
    nd = xs[0].ndim
    if not 0 <= dimension < nd:
        raise AxisError(f"concatenate: axis {dimension} is out of bounds for arrays of dimension {nd}")
    for x in xs:
        pairs = enumerate(zip(x.shape, xs[0].shape, strict=True)) if x.ndim == nd else ()
        if x.ndim != nd or any(a != b for i, (a, b) in pairs if i != dimension):
            raise ShapeError("concatenate: all shapes must agree except along the axis, got "
                             + ", ".join(str(x.shape) for x in xs))
    shape = list(xs[0].shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(tuple(shape), dt)


concatenate_p = def_primitive("concatenate", _concatenate_rule)


def _gather_rule(x: ShapedArray, idx: ShapedArray, *, axis: int) -> ShapedArray:
    if not is_int(idx.dtype):
        raise DTypeError(f"gather: indices must be integers, got {idx.dtype.name}")
    _check_axes("gather", x, (axis,))
    return ShapedArray(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


gather_p = def_primitive("gather", _gather_rule)


def _scatter_add_rule(x: ShapedArray, idx: ShapedArray, upd: ShapedArray, *, axis: int) -> ShapedArray:
    want = _gather_rule(x, idx, axis=axis)
    if upd.shape != want.shape or upd.dtype != x.dtype:
        raise ShapeError(f"scatter_add: updates must be {want.str_short()}, got {upd.str_short()}")
    return x


scatter_add_p = def_primitive("scatter_add", _scatter_add_rule)


def _dot_general_rule(lhs: ShapedArray, rhs: ShapedArray, *, dimension_numbers) -> ShapedArray:
    (lc, rc), (lb, rb) = dimension_numbers
    dt = _same_dtype("dot_general", lhs, rhs)
    _check_kind("dot_general", dt, "fi")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise ShapeError("dot_general: contracting and batch dimension lists must pair up")
    for a, b in zip(lc + lb, rc + rb, strict=True):
        if lhs.shape[a] != rhs.shape[b]:
            raise ShapeError(
                f"dot_general: dimension {a} of lhs {lhs.shape} ({lhs.shape[a]}) does not match "
                f"dimension {b} of rhs {rhs.shape} ({rhs.shape[b]})"
            )
    batch = tuple(lhs.shape[i] for i in lb)
    lfree = tuple(d for i, d in enumerate(lhs.shape) if i not in lc and i not in lb)
    rfree = tuple(d for i, d in enumerate(rhs.shape) if i not in rc and i not in rb)
    return ShapedArray(batch + lfree + rfree, dt)


dot_general_p = def_primitive("dot_general", _dot_general_rule)


def _iota_rule(*, dtype, shape: tuple[int, ...], dimension: int) -> ShapedArray:
    return ShapedArray(shape, dtype)


iota_p = def_primitive("iota", _iota_rule)
