"""Values and dtypes of every ``functrace.numpy`` function against NumPy.

One table (``OPS``) drives everything. Each entry names a function and how to call it as
``f(m, *arrays)`` where ``m`` is either ``numpy`` or ``functrace.numpy`` -- the two share
their names, so one lambda describes both the functrace call and its NumPy reference. Each
entry is checked on every listed shape case and dtype case, twice: eagerly on concrete
arrays, and through the IR (``make_jaxpr`` + ``eval_jaxpr``, with the jaxpr type-checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, host, random_array, result_dtype, traced_call
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functrace as ft
import functrace.numpy as fnp
from functrace.numpy import _cumulative, _sorting, _tail_math, _tail_shape

f32, f64, i32, i64, b_ = np.float32, np.float64, np.int32, np.int64, np.bool_


@dataclass(frozen=True)
class Op:
    """One row of the table.

    ``call(m, *arrays)`` runs the function on namespace ``m`` (``np`` or ``fnp``). ``shapes`` and
    ``dtypes`` are lists of per-argument tuples; ``domain`` is one input domain (see
    ``helpers.random_array``) or one per argument. ``rtol`` overrides the dtype's tolerance.
    """

    name: str
    call: Callable[..., Any]
    shapes: list
    dtypes: list
    domain: Any = "real"
    rtol: float | None = None
    marks: tuple = field(default=())  # pytest marks for every case of the row


def fn(name: str, **kwargs: Any) -> Callable[..., Any]:
    """``lambda m, *args: m.<name>(*args, **kwargs)``, following dots (``linalg.norm``)."""

    def call(m: Any, *args: Any) -> Any:
        f = m
        for part in name.split("."):
            f = getattr(f, part)
        return f(*args, **kwargs)

    return call


def label(name: str, kwargs: dict) -> str:
    return name + ("(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")" if kwargs else "")


def op(name: str, shapes: list, dtypes: list, domain: Any = "real", rtol: float | None = None,
       **kwargs: Any) -> Op:
    """A row calling ``m.<name>(*arrays, **kwargs)``."""
    return Op(label(name, kwargs), fn(name, **kwargs), shapes, dtypes, domain, rtol)


def lam(name: str, call: Callable, shapes: list, dtypes: list, domain: Any = "real",
        rtol: float | None = None) -> Op:
    """A row with a hand-written ``call(m, *arrays)``."""
    return Op(name, call, shapes, dtypes, domain, rtol)


def same(n: int, *dts: Any) -> list:
    """One dtype for all ``n`` arguments, for each of ``dts``."""
    return [(d,) * n for d in dts]


# ------------------------------------------------------------------------------ shape cases
UNARY = [((),), ((1,),), ((7,),), ((3, 1, 4),)]
BINARY = [((), ()), ((5,), ()), ((), (2, 3)), ((3, 1), (1, 4)), ((2, 1, 3), (4, 3)), ((1,), (5,))]
TERNARY = [((), (), ()), ((3, 1), (4,), ()), ((2, 3), (2, 3), (2, 3)), ((4,), (3, 1), (1, 4))]
R3 = [((2, 3, 5),)]

FLOAT1 = same(1, f32, f64)
NUM1 = same(1, f32, f64, i32, i64)
FLOAT2 = same(2, f32, f64) + [(f32, f64), (i32, f32)]
NUM2 = FLOAT2 + same(2, i32, i64) + [(i32, i64)]
INTBOOL2 = same(2, i32, i64, b_) + [(i32, b_)]

UNARY_FLOAT = [
    ("sin", "real"), ("cos", "real"), ("tan", "unit"), ("arcsin", "unit"), ("arccos", "unit"),
    ("arctan", "real"), ("sinh", "real"), ("cosh", "real"), ("tanh", "real"), ("arcsinh", "real"),
    ("arccosh", "ge1"), ("arctanh", "unit"), ("exp", "real"), ("exp2", "real"), ("expm1", "real"),
    ("log", "positive"), ("log1p", "positive"), ("log2", "positive"), ("log10", "positive"),
    ("sqrt", "positive"),
]
UNARY_NUMERIC = [
    ("abs", "real"), ("absolute", "real"), ("negative", "real"), ("positive", "real"), ("sign", "real"),
    ("square", "real"), ("floor", "real"), ("ceil", "real"), ("rint", "real"), ("round", "real"),
    ("around", "real"), ("trunc", "real"), ("isfinite", "real"), ("isnan", "real"), ("isinf", "real"),
    ("reciprocal", "nonzero"), ("logical_not", "real"),
]
BINARY_NUMERIC = [
    ("add", "real"), ("subtract", "real"), ("multiply", "real"), ("maximum", "real"), ("minimum", "real"),
    ("equal", "small_int"), ("not_equal", "small_int"), ("less", "small_int"), ("less_equal", "small_int"),
    ("greater", "small_int"), ("greater_equal", "small_int"), ("divide", ("real", "nonzero")),
    ("true_divide", ("real", "nonzero")), ("floor_divide", ("real", "nonzero")),
    ("remainder", ("real", "nonzero")), ("mod", ("real", "nonzero")), ("fmod", ("real", "nonzero")),
    ("logical_and", "small_int"), ("logical_or", "small_int"), ("logical_xor", "small_int"),
]
BINARY_FLOAT = [
    ("arctan2", "real"), ("logaddexp", "real"), ("power", ("positive", "real")),
    ("float_power", ("positive", "real")),
]
REDUCTIONS = ["sum", "prod", "mean", "max", "min", "amax", "amin", "var", "std"]
REDUCE_KWARGS = [{}, {"axis": 0}, {"axis": -1}, {"axis": (0, 2)}, {"axis": 1, "keepdims": True},
                 {"axis": None, "keepdims": True}]

OPS: list[Op] = []
OPS += [op(n, UNARY, NUM1 if n in ("sin", "exp", "sqrt", "log") else FLOAT1, d) for n, d in UNARY_FLOAT]
OPS += [op(n, UNARY, NUM1, d) for n, d in UNARY_NUMERIC]
OPS += [op("invert", UNARY, same(1, i32, i64, b_), "small_int")]
OPS += [op(n, BINARY, NUM2, d) for n, d in BINARY_NUMERIC]
OPS += [op(n, BINARY, FLOAT2, d) for n, d in BINARY_FLOAT]
OPS += [op(n, BINARY, INTBOOL2, "small_int") for n in ("bitwise_and", "bitwise_or", "bitwise_xor")]
# Integer powers with an array exponent (repeated squaring in a while_loop), any sign of base.
OPS += [op("power", BINARY, same(2, i32, i64) + [(i32, i64), (b_, b_)], ("small_int", "pos_int"))]
OPS += [
    lam("power(x,int)", lambda m, x: m.power(x, 3), UNARY, NUM1),
    lam("power(x,-2.0)", lambda m, x: m.power(x, -2.0), UNARY, FLOAT1, "positive"),
    lam("power(x,0.5)", lambda m, x: m.power(x, 0.5), UNARY, FLOAT1, "positive"),
    lam("power(2.0,x)", lambda m, x: m.power(2.0, x), UNARY, FLOAT1),
    lam("round(decimals=2)", lambda m, x: m.round(x * 10, 2), UNARY, FLOAT1),
    lam("round(decimals=-1)", lambda m, x: m.round(x * 100, -1), UNARY, NUM1),
    lam("divmod", lambda m, x, y: m.divmod(x, y), BINARY, NUM2, ("real", "nonzero")),
    lam("clip(min=,max=)", lambda m, x: m.clip(x, min=-0.5, max=0.5), UNARY, FLOAT1),
    lam("where", lambda m, c, x, y: m.where(c, x, y), TERNARY,
        [(b_, f32, f32), (b_, f64, f64), (b_, f32, f64), (b_, i32, i64)], ("bool", "real", "real")),
    lam("where(x>0,x,0.0)", lambda m, x: m.where(x > 0, x, 0.0), UNARY, NUM1),
    lam("clip(scalars)", lambda m, x: m.clip(x, -0.5, 0.5), UNARY, FLOAT1),
    lam("clip(arrays)", lambda m, x, lo, hi: m.clip(x, lo, hi - 5), TERNARY, same(3, f32, f64, i32)),
    lam("clip(None,hi)", lambda m, x: m.clip(x, None, 0.25), UNARY, FLOAT1),
]
# Reductions, each with every axis/keepdims variant, plus scalar and 1-D inputs.
OPS += [op(n, R3, NUM1, **kw) for n in REDUCTIONS for kw in REDUCE_KWARGS]
OPS += [op(n, [((),), ((7,),)], NUM1) for n in REDUCTIONS]
OPS += [op(n, [((),)], NUM1, **kw) for n in ("sum", "prod", "max", "min", "all", "any")
        for kw in ({"axis": 0}, {"axis": -1, "keepdims": True})]  # NumPy accepts these axes of 0-d arrays
OPS += [
    op("var", R3, FLOAT1, axis=1, ddof=1), op("std", R3, FLOAT1, ddof=1),
    op("sum", R3, same(1, f32, i32), dtype=f64), op("mean", R3, FLOAT1, axis=2, dtype=f64),
    op("sum", R3, same(1, b_), axis=1), op("mean", R3, same(1, b_)),
]
OPS += [op(n, R3 + [((7,),)], NUM1, "small_int", **kw) for n in ("argmax", "argmin") for kw in ({}, {"axis": -1})]
OPS += [op(n, R3, NUM1, "small_int", axis=1) for n in ("argmax", "argmin")]
OPS += [op(n, R3, NUM1, "small_int", axis=-1, keepdims=True) for n in ("argmax", "argmin")]
OPS += [op(n, R3, NUM1 + same(1, b_), "small_int", **kw)
        for n in ("all", "any") for kw in ({}, {"axis": 0}, {"axis": (1, 2), "keepdims": True})]
OPS += [op("cumsum", R3 + [((7,),)], NUM1, **kw) for kw in ({}, {"axis": -1})]
OPS += [op("cumsum", R3, NUM1, axis=1)]
OPS += [op("cumsum", R3, same(1, b_, i32), axis=0)]
# Linear algebra.
MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((5, 1, 2, 3), (4, 3, 2)), ((1, 3), (6, 3, 1))]
OPS += [
    op("matmul", MATMUL_SHAPES, FLOAT2 + same(2, i32)),
    op("dot", [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3), (4, 3, 5))],
       FLOAT2 + same(2, i64)),
    op("inner", [((), (3,)), ((3,), (3,)), ((2, 3), (4, 3)), ((2, 1, 3), (3,))], FLOAT2),
    op("outer", [((3,), (4,)), ((2, 3), (5,)), ((), (2,))], FLOAT2),
    op("vdot", [((3,), (3,)), ((2, 3), (3, 2))], FLOAT2),
    op("tensordot", [((2, 3, 4), (3, 4, 5))], FLOAT2),
    op("tensordot", [((2, 3), (3, 4))], FLOAT1, axes=1),
    op("tensordot", [((2, 3, 4), (4, 2, 5))], FLOAT1, axes=([0, 2], [1, 0])),
    op("tensordot", [((2, 3), (4, 5))], FLOAT1, axes=0),
    *[op(n, [((5,), (3,)), ((2,), (4,)), ((1,), (1,))], FLOAT2 + same(2, i32), mode=m)
      for n in ("convolve", "correlate") for m in ("full", "same", "valid")],
    op("trace", [((4, 4),), ((3, 5),)], NUM1), op("trace", [((4, 4),)], FLOAT1, offset=1),
    op("diag", [((4,),), ((3, 5),), ((5, 3),)], NUM1),
    op("diag", [((4,),), ((3, 5),), ((5, 3),)], FLOAT1, k=1),
    op("diag", [((4,),), ((3, 5),), ((5, 3),)], FLOAT1, k=-2),
    op("linalg.norm", [((7,),), ((3, 4),)], FLOAT1),
    op("linalg.norm", [((2, 3, 4),)], FLOAT1),
    op("linalg.norm", [((3, 4),)], FLOAT1, axis=1),
    op("linalg.norm", [((3, 4),)], FLOAT1, axis=0, keepdims=True),
    op("linalg.norm", [((7,),)], FLOAT1, ord=1), op("linalg.norm", [((7,),)], FLOAT1, ord=np.inf),
    op("linalg.norm", [((7,),)], FLOAT1, ord=-np.inf), op("linalg.norm", [((7,),)], FLOAT1, ord=3),
    op("linalg.norm", [((7,),)], FLOAT1, "small_int", ord=0),
    op("linalg.norm", [((3, 4),)], FLOAT1, ord="fro"),
    op("linalg.norm", [((3, 4, 2),)], FLOAT1, axis=(0, 2)),
]
EINSUM = [("ij,jk->ik", ((2, 3), (3, 4))), ("ij,jk", ((2, 3), (3, 4))), ("bij,bjk->bik", ((5, 2, 3), (5, 3, 4))),
          ("i,i->", ((3,), (3,))), ("i,j->ij", ((3,), (4,))), ("ii->i", ((3, 3),)), ("ii", ((3, 3),)),
          ("ij->ji", ((2, 3),)), ("ij->", ((2, 3),)), ("ijk->kj", ((2, 3, 4),)),
          ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 5))), ("ij,ij->i", ((2, 3), (2, 3))),
          ("ijk,ikl->jl", ((2, 3, 4), (2, 4, 5))), ("i,jk->kij", ((2,), (3, 4))),
          # '...': broadcast (a size-1 axis stretches), right-aligned, implicit and explicit outputs
          ("...ij,...jk->...ik", ((2, 1, 3, 4), (5, 4, 2))), ("ij...,jk...->ik...", ((3, 4, 2), (4, 2, 1))),
          ("...ij", ((2, 3, 4),)), ("...ij->...", ((2, 3, 4),)), ("...ii->...i", ((2, 3, 3),)),
          ("...i,i", ((4, 3), (3,))), ("i...,i...", ((3, 2), (3, 2))), ("...,...->...", ((2, 3), (3,)))]
OPS += [Op(f"einsum({s})", lambda m, *a, s=s: m.einsum(s, *a), [shp], same(len(shp), f32, f64)) for s, shp in EINSUM]
# Shape manipulation.
OPS += [
    op("reshape", [((3, 4),)], NUM1, shape=(2, 6)), op("reshape", [((3, 4),)], NUM1, shape=(4, -1)),
    op("reshape", [((3, 4),)], FLOAT1, shape=12), op("reshape", [((1,),)], FLOAT1, shape=()),
    op("ravel", [((),), ((3, 1, 4),)], NUM1),
    op("transpose", [((),), ((3,),), ((2, 3, 4),)], NUM1),
    op("transpose", [((2, 3, 4),)], FLOAT1, axes=(1, 2, 0)),
    op("transpose", [((2, 3, 4),)], FLOAT1, axes=(-1, 0, 1)),
    op("swapaxes", [((2, 3, 4),)], NUM1, axis1=0, axis2=-1),
    op("moveaxis", [((2, 3, 4),)], FLOAT1, source=0, destination=-1),
    op("moveaxis", [((2, 3, 4, 5),)], FLOAT1, source=(0, 1), destination=(3, 0)),
    op("expand_dims", [((),), ((3, 4),)], FLOAT1, axis=0),
    op("expand_dims", [((3, 4),)], FLOAT1, axis=-1), op("expand_dims", [((3, 4),)], FLOAT1, axis=(0, 3)),
    op("squeeze", [((1, 3, 1),), ((1,),)], NUM1), op("squeeze", [((1, 3, 1),)], FLOAT1, axis=-1),
    op("broadcast_to", [((),), ((3,),), ((2, 1),)], NUM1, shape=(2, 3)),
    lam("broadcast_arrays", lambda m, x, y: m.broadcast_arrays(x, y), [((3, 1), (4,)), ((), (2,))], FLOAT2),
    op("atleast_1d", [((),), ((3,),)], FLOAT1),
    lam("concatenate", lambda m, x, y: m.concatenate([x, y]), [((2, 3), (4, 3)), ((1,), (5,))], FLOAT2 + same(2, i32)),
    lam("concatenate(axis=1)", lambda m, x, y: m.concatenate((x, y), axis=-1), [((2, 3), (2, 1))], FLOAT2),
    lam("concatenate(axis=None)", lambda m, x, y: m.concatenate([x, y], axis=None), [((2, 3), (4,))], FLOAT2),
    lam("concatenate(three)", lambda m, x, y, z: m.concatenate([x, y, z], axis=1),
        [((2, 1), (2, 3), (2, 2))], FLOAT1),
    lam("stack", lambda m, x, y: m.stack([x, y]), [((), ()), ((2, 3), (2, 3))], FLOAT2),
    lam("stack(axis=-1)", lambda m, x, y: m.stack([x, y], axis=-1), [((2, 3), (2, 3))], FLOAT2),
    lam("vstack", lambda m, x, y: m.vstack([x, y]), [((3,), (3,)), ((2, 3), (1, 3)), ((3,), (2, 3))], FLOAT1),
    lam("hstack", lambda m, x, y: m.hstack([x, y]), [((3,), (2,)), ((2, 3), (2, 1)), ((), (2,))], FLOAT1),
    op("split", [((6, 2),)], FLOAT1, indices_or_sections=3),
    op("split", [((7, 2),)], FLOAT1, indices_or_sections=[2, 5]),
    op("split", [((2, 6),)], FLOAT1, indices_or_sections=[1, 1, 9], axis=1),
    op("array_split", [((7,),), ((7, 2),)], FLOAT1, indices_or_sections=3),
    op("tile", [((),), ((3,),), ((2, 3),)], NUM1, reps=2),
    op("tile", [((3,),), ((2, 3),)], FLOAT1, reps=(2, 1, 3)),
    op("repeat", [((),), ((2, 3),)], NUM1, repeats=2),
    op("repeat", [((2, 3),)], FLOAT1, repeats=3, axis=1),
    op("repeat", [((2, 3),)], FLOAT1, repeats=[1, 0, 2], axis=-1),
    op("pad", [((3,),), ((2, 3),)], NUM1, pad_width=1),
    op("pad", [((2, 3),)], FLOAT1, pad_width=((1, 0), (2, 3)), constant_values=-1.5),
    op("pad", [((2, 3),)], FLOAT1, pad_width=((1, 2), (0, 1)), mode="edge"),
    op("flip", [((),), ((7,),), ((2, 3, 4),)], NUM1),
    op("flip", [((2, 3, 4),)], FLOAT1, axis=1), op("flip", [((2, 3, 4),)], FLOAT1, axis=(0, -1)),
    op("fliplr", [((2, 3),)], FLOAT1), op("flipud", [((2, 3),)], FLOAT1),
    op("roll", [((7,),), ((2, 3),)], NUM1, shift=2),
    op("roll", [((7,),)], FLOAT1, shift=-3), op("roll", [((2, 3),)], FLOAT1, shift=1, axis=1),
    op("roll", [((2, 3),)], FLOAT1, shift=(1, -1), axis=(0, 1)),
    lam("take", lambda m, x: m.take(x, np.array([0, 2, -1, 2])), [((5,),), ((2, 3),)], NUM1),
    lam("take(axis=1)", lambda m, x: m.take(x, np.array([[0, 1], [2, 0]]), axis=1), [((2, 3),)], FLOAT1),
    lam("take_along_axis", lambda m, x: m.take_along_axis(x, np.argsort(np.arange(12).reshape(3, 4) % 3, axis=1), 1),
        [((3, 4),)], FLOAT1),
    lam("take_along_axis(0)", lambda m, x: m.take_along_axis(x, np.array([[2, 0, 1, 1]]), axis=0),
        [((3, 4),)], FLOAT1),
    op("tril", [((4, 4),), ((3, 5),)], NUM1), op("triu", [((4, 4),), ((3, 5),)], NUM1),
    op("tril", [((4, 4),)], FLOAT1, k=-1), op("triu", [((2, 4, 4),)], FLOAT1, k=1),
]
# Small dtypes (bool, int8, uint8, float16), where NumPy's loops pick surprising result types:
# bool + bool is bool (or), 1 / int8 is float64, sin(int8) is float16, square(bool) is int8, ...
SMALL = same(1, b_, np.int8, np.uint8, np.float16)
SMALL_UNARY = [n for n, _ in UNARY_FLOAT + UNARY_NUMERIC if n not in ("round", "around", "positive")]
OPS += [op(n, [((5,),)], SMALL[1:] if n in ("negative", "sign") else SMALL, "small_int") for n in SMALL_UNARY]
OPS += [op(n, [((3, 1), (1, 4))], SMALL, "small_int") for n, _ in BINARY_NUMERIC + BINARY_FLOAT
        if n not in ("subtract", "power")]
OPS += [op(n, [((2, 3),)], SMALL, "small_int") for n in ("mean", "var", "std", "max")]
# sum, prod and cumsum of uint8 accumulate in uint64 (as NumPy; the torch backend reduces those in int64).
OPS += [op(n, [((2, 3),)], SMALL[:2] + SMALL[3:], "small_int") for n in ("sum", "prod", "cumsum")]
OPS += [Op(f"{n}-uint8", fn(n), [((2, 3),)], [(np.uint8,)], "small_int")
        for n in ("sum", "prod", "cumsum")]
OPS += [op(n, [((2, 3), (3, 2))], SMALL, "small_int") for n in ("matmul", "dot")]
OPS += [op(n, [((3,), (3,))], SMALL, "small_int") for n in ("inner", "outer", "vdot")]
OPS += [Op(f"einsum({sub})-small", lambda m, *a, sub=sub: m.einsum(sub, *a), [shp], SMALL, "small_int")
        for sub, shp in (("ij,jk->ik", ((2, 3), (3, 2))), ("ii->i", ((3, 3),)), ("ij->", ((2, 3),)))]
OPS += [op("linalg.norm", [((5,),)], SMALL, "small_int"), op("linalg.norm", [((5,),)], SMALL, "small_int", ord=1),
        op("tril", [((3, 3),)], SMALL, "small_int"), op("triu", [((3, 3),)], SMALL, "small_int"),
        lam("linspace(small ends)", lambda m, a, b: m.linspace(a, b, 4), [((), ())], SMALL, "small_int")]
# Arrays with a zero-length axis.
EMPTY = [((0, 3),)]
OPS += [op(n, EMPTY, FLOAT1, **kw) for n, kw in [
    ("sum", {}), ("sum", {"axis": 0}), ("prod", {"axis": 1}), ("max", {"axis": 1}), ("argmax", {"axis": 1}),
    ("any", {}), ("all", {"axis": 0}), ("cumsum", {"axis": 0}), ("exp", {}), ("reshape", {"shape": (-1, 3)}),
    ("flip", {}), ("pad", {"pad_width": 1}), ("tile", {"reps": 2}), ("split", {"indices_or_sections": 3, "axis": 1}),
    ("transpose", {}), ("diag", {}),
]]
OPS += [lam("matmul(empty)", lambda m, x, y: m.matmul(x, y), [((2, 0), (0, 3)), ((0, 2), (2, 3))], FLOAT1),
        lam("concatenate(empty)", lambda m, x, y: m.concatenate([x, y]), [((0, 3), (2, 3))], FLOAT1)]
# Creation from an array argument, conversion, copies.
OPS += [
    op("zeros_like", UNARY, NUM1), op("ones_like", UNARY, NUM1), op("full_like", UNARY, NUM1, fill_value=3),
    op("zeros_like", [((2, 3),)], FLOAT1, dtype=i32), op("full_like", [((2, 3),)], same(1, i32), fill_value=2.5),
    op("ones_like", [((2, 3),)], FLOAT1, shape=(4,)),
    op("asarray", UNARY, NUM1), op("asarray", UNARY, NUM1, dtype=f32), op("array", [((3,),)], FLOAT1),
    op("copy", UNARY, NUM1),
    lam("astype", lambda m, x: x.astype(np.int32) if m is np else fnp.astype(x, np.int32), UNARY, FLOAT1),
    lam("full(traced fill)", lambda m, x: m.full((2, 3), x), [((),)], FLOAT1),
    lam("linspace(traced ends)", lambda m, a, b: m.linspace(a, b, 5), [((), ())], FLOAT1),
]


def _cases() -> list:
    params = []
    for o in OPS:
        for shapes in o.shapes:
            for dtypes in o.dtypes:
                dtypes = tuple(dtypes) * len(shapes) if len(dtypes) == 1 else tuple(dtypes)
                sid = "x".join(str(s).replace(" ", "") for s in shapes)
                did = "-".join(np.dtype(d).name for d in dtypes)
                params.append(pytest.param(o, shapes, dtypes, id=f"{o.name}-{sid}-{did}", marks=o.marks))
    return params


CASES = _cases()


def _inputs(o: Op, shapes: tuple, dtypes: tuple, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    domains = o.domain if isinstance(o.domain, tuple) else (o.domain,) * len(shapes)
    return [random_array(rng, s, d, dom) for s, d, dom in zip(shapes, dtypes, domains, strict=True)]


def _check(o: Op, got: Any, want: Any) -> None:
    got_leaves = ft.tree_util.tree_leaves(got)
    want_leaves = want if isinstance(want, (list, tuple)) else [want]
    assert len(got_leaves) == len(want_leaves), f"{o.name}: {len(got_leaves)} results, NumPy gave {len(want_leaves)}"
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert_close(g, np.asarray(w), rtol=o.rtol, what=f"{o.name}: ")


# The names the public API contract (API.md, "Operations") promises in functrace.numpy and functrace.nn.
API_NAMES = """sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh exp exp2 expm1 log log1p log2 log10 sqrt
square abs sign power maximum minimum clip where sum mean prod max min var std argmax argmin all any cumsum dot
matmul tensordot einsum outer inner transpose reshape ravel swapaxes moveaxis expand_dims squeeze broadcast_to
concatenate stack split tile repeat pad flip roll zeros ones full zeros_like ones_like full_like arange linspace
eye asarray array""".split()
NN_NAMES = "relu sigmoid softplus gelu silu tanh softmax log_softmax logsumexp one_hot".split()


def test_api_names_exist():
    assert [n for n in API_NAMES if not callable(getattr(fnp, n, None))] == []
    assert callable(fnp.linalg.norm)
    assert [n for n in NN_NAMES if not callable(getattr(ft.nn, n, None))] == []
    assert all(n in fnp.__all__ for n in API_NAMES)


def test_table_covers_the_public_names():
    """Every public function of functrace.numpy appears in the table (or is covered elsewhere)."""
    covered = {o.name.split("(")[0] for o in OPS}
    elsewhere = {"linalg", "result_type", "shape", "ndim", "size", "arange", "empty", "eye", "full", "identity",
                 "linspace", "ones", "tri", "zeros", "astype"}
    elsewhere |= set(_sorting.__all__) | set(_cumulative.__all__) | {"at"}  # tests/test_{sorting,cumulative,scatter}.py
    elsewhere |= set(_tail_math.__all__) | set(_tail_shape.__all__)  # tests/test_numpy_tail.py
    elsewhere |= set(fnp._complex.__all__) | {"fft"}  # tests/test_complex.py, tests/test_fft.py
    missing = sorted(set(fnp.__all__) - covered - elsewhere)
    assert not missing, f"functions with no row in the op table: {missing}"


@pytest.mark.parametrize("o,shapes,dtypes", CASES)
def test_eager(o: Op, shapes: tuple, dtypes: tuple):
    args = _inputs(o, shapes, dtypes)
    with np.errstate(all="ignore"):
        want = o.call(np, *args)
    _check(o, o.call(fnp, *args), want)


@pytest.mark.parametrize("o,shapes,dtypes", CASES)
def test_traced(o: Op, shapes: tuple, dtypes: tuple):
    args = _inputs(o, shapes, dtypes)
    with np.errstate(all="ignore"):
        want = o.call(np, *args)
    got, closed = traced_call(lambda *a: o.call(fnp, *a), *args)
    assert [v.aval.shape for v in closed.jaxpr.invars] == [tuple(s) for s in shapes]
    _check(o, got, want)


# ------------------------------------------------------------------------------ creation
CREATION = [
    ("zeros", lambda m: m.zeros((2, 3))), ("zeros(int)", lambda m: m.zeros(4, dtype=np.int32)),
    ("ones", lambda m: m.ones((3,), dtype=np.float32)), ("full", lambda m: m.full((2, 2), 7)),
    ("full(float32)", lambda m: m.full(3, 1.5, dtype=np.float32)), ("arange", lambda m: m.arange(5)),
    ("arange(float)", lambda m: m.arange(0.5, 3.0, 0.5)),
    ("arange(dtype)", lambda m: m.arange(1, 10, 3, dtype=np.float32)),
    ("linspace", lambda m: m.linspace(0.0, 1.0, 7)),
    ("linspace(no end)", lambda m: m.linspace(-1, 1, 4, endpoint=False)),
    ("eye", lambda m: m.eye(3)), ("eye(rect,k)", lambda m: m.eye(3, 4, k=1, dtype=np.int32)),
    ("identity", lambda m: m.identity(2)), ("tri", lambda m: m.tri(3, 4, k=-1)),
    ("empty.shape", lambda m: m.empty((2, 3)).shape),
]


@pytest.mark.parametrize("name,call", CREATION, ids=[c[0] for c in CREATION])
def test_creation(name: str, call: Callable):
    want = call(np)
    got = call(fnp)
    if name == "empty.shape":
        assert got == want
        return
    assert_close(got, want, what=f"{name}: ")


def test_creation_inside_a_trace_is_a_constant():
    closed = ft.make_jaxpr(lambda x: x + fnp.arange(3, dtype=np.float32) + fnp.ones(3, np.float32))(np.zeros(3, f32))
    out = ft.eval_jaxpr(closed, np.ones(3, f32))
    assert_close(out, np.array([2.0, 3.0, 4.0], f32))


def test_shape_ndim_size_result_type():
    x = np.zeros((2, 3, 4), np.float32)

    def f(t):
        assert fnp.shape(t) == (2, 3, 4) and fnp.ndim(t) == 3 and fnp.size(t) == 24
        assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24 and t.dtype == np.float32
        assert fnp.result_type(t, 1.0) == np.float32
        assert fnp.result_type(t, np.float64(1.0)) == np.float64
        assert fnp.result_type(t, np.int32) == np.float64
        return t

    ft.make_jaxpr(f)(x)
    assert fnp.shape(x) == (2, 3, 4) and fnp.ndim(3.0) == 0 and fnp.size([1, 2]) == 2


# ------------------------------------------------------------------------------ NEP 50 promotion
PROMOTION = [
    (f32, 2.0), (f32, 2), (f32, True), (i32, 2), (i32, 2.5), (np.int8, 3), (np.uint8, 7), (f64, 2.0),
    (b_, 1), (b_, 1.5), (np.float16, 3.0),
]


@pytest.mark.parametrize("dtype,scalar", PROMOTION, ids=[f"{np.dtype(d).name}-{s!r}" for d, s in PROMOTION])
@pytest.mark.parametrize("opname", ["add", "multiply", "subtract", "maximum"])
def test_python_scalars_are_weak(dtype, scalar, opname):
    """NumPy 2 / NEP 50: a Python scalar never widens the array's dtype (float32 + 2.0 is float32)."""
    x = np.arange(1, 4).astype(dtype)
    want = getattr(np, opname)(x, scalar)
    f = getattr(fnp, opname)
    assert_close(f(x, scalar), want)
    assert_close(f(scalar, x), getattr(np, opname)(scalar, x))
    got, closed = traced_call(lambda t: f(t, scalar), x)
    assert_close(got, want)
    assert closed.out_avals[0].dtype == want.dtype


@pytest.mark.parametrize("dtype", [f32, f64, i32])
def test_operators_follow_nep50(dtype):
    x = np.arange(1, 5).astype(dtype)

    def f(t):
        return t * 2, 2 * t, t + 1.5, t / 2, t ** 2, 3.0 - t, t // 2, t % 3

    want = f(x)
    got, _ = traced_call(f, x)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w)


def test_numpy_scalar_types_are_strong():
    x = np.ones(3, np.float32)
    assert_close(fnp.add(x, np.float64(1.0)), x + np.float64(1.0))
    got, _ = traced_call(lambda t: t * np.float64(2.0), x)
    assert_close(got, x * np.float64(2.0))


# ------------------------------------------------------------------------------ properties
@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    return shapes.input_shapes


BROADCAST_OPS = [fnp.add, fnp.subtract, fnp.multiply, fnp.maximum, fnp.less, fnp.arctan2]


@settings(max_examples=40, deadline=None)
@given(shapes=broadcastable_pair(), op_index=st.integers(0, len(BROADCAST_OPS) - 1),
       dtypes=st.sampled_from([(f32, f32), (f64, f32), (f32, i32), (f64, f64)]))
def test_broadcasting_pairs_property(shapes, op_index, dtypes):
    f = BROADCAST_OPS[op_index]
    ref = getattr(np, f.__name__)
    rng = np.random.default_rng(1)
    x, y = (random_array(rng, s, d) for s, d in zip(shapes, dtypes, strict=True))
    want = ref(x, y)
    assert_close(f(x, y), want)
    got, _ = traced_call(f, x, y)
    assert_close(got, want)


@settings(max_examples=30, deadline=None)
@given(arr=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                      elements=st.floats(-100, 100, allow_nan=False)),
       data=st.data())
def test_reduction_axes_property(arr, data):
    axis = data.draw(st.none() | st.integers(-arr.ndim, arr.ndim - 1))
    keepdims = data.draw(st.booleans())
    for name in ("sum", "max", "mean", "argmin"):
        kwargs = {"axis": axis} if name == "argmin" else {"axis": axis, "keepdims": keepdims}
        want = getattr(np, name)(arr, **kwargs)
        assert_close(getattr(fnp, name)(arr, **kwargs), want, rtol=1e-9, atol=1e-9)
        got, _ = traced_call(lambda t, n=name, kw=kwargs: getattr(fnp, n)(t, **kw), arr)
        assert_close(got, want, rtol=1e-9, atol=1e-9)


SCALAR_UNARY = [n for n, _ in UNARY_FLOAT + UNARY_NUMERIC if n not in ("round", "around", "reciprocal")]
SCALAR_PAIRS = [(0.5, 2), (3, 2), (True, 2.5), (7, -2), (2, np.float32(3)), (-1.5, np.int8(4))]


@pytest.mark.parametrize("name", SCALAR_UNARY)
def test_python_scalar_inputs_unary(name):
    """fnp on plain Python numbers gives NumPy's value and dtype (int -> int64, float -> float64)."""
    for v in (0.5, 2, -3, True):
        with np.errstate(all="ignore"):
            try:
                want = getattr(np, name)(v)
            except TypeError:  # NumPy has no loop for this type (e.g. negative of a bool)
                continue
            assert_close(getattr(fnp, name)(v), want, what=f"{name}({v!r}): ")


@pytest.mark.parametrize("name", [n for n, _ in BINARY_NUMERIC + BINARY_FLOAT])
def test_python_scalar_inputs_binary(name):
    for a, b in SCALAR_PAIRS:
        with np.errstate(all="ignore"):
            try:
                want = getattr(np, name)(a, b)
            except ValueError as e:  # e.g. 7 ** -2 on integers: functrace refuses it too
                with pytest.raises(type(e)):
                    getattr(fnp, name)(a, b)
                continue
            assert_close(getattr(fnp, name)(a, b), want, what=f"{name}({a!r}, {b!r}): ")


def test_eager_results_come_back_through_device_get():
    """Eager calls return the backend's native arrays, which device_get brings to NumPy."""
    x = np.linspace(-1, 1, 5)
    out = fnp.sin(x)
    native = type(fnp.asarray(x))
    assert isinstance(out, native) and native.__module__.split(".")[0] == ft.get_backend()
    assert isinstance(host(out), np.ndarray)
    assert_close(out, np.sin(x))


def test_device_put_makes_native_arrays_that_mix_with_results_on_any_device():
    """device_put is device_get's inverse; put inputs mix with eager results through operators."""
    tree = {"w": np.linspace(-1, 1, 5, dtype=np.float32), "step": 3, "name": "layer0", "none": None}
    put = ft.device_put(tree)
    native = type(fnp.asarray(np.ones(1)))
    assert isinstance(put["w"], native) and isinstance(put["step"], native)
    assert put["name"] == "layer0" and put["none"] is None
    assert result_dtype(put["w"]) == np.float32 and result_dtype(put["step"]) == np.asarray(3).dtype
    back = ft.device_get(put)
    np.testing.assert_array_equal(back["w"], tree["w"])
    x = put["w"]
    out = fnp.sin(x) * x + x[0]  # backend operators only: works on a CUDA tensor too
    assert isinstance(out, native)
    assert_close(out, np.sin(tree["w"]) * tree["w"] + tree["w"][0])
    assert ft.device_put(put)["w"] is x  # native arrays are not copied


# ------------------------------------------------------------------------------ special values
SPECIALS = np.array([0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e300, -1e300, 5e-324])
UNARY_SPECIAL = [n for n, _ in UNARY_FLOAT + UNARY_NUMERIC]
BINARY_SPECIAL = [n for n, _ in BINARY_NUMERIC + BINARY_FLOAT]


@pytest.mark.parametrize("dtype", [f32, f64])
@pytest.mark.parametrize("name", UNARY_SPECIAL)
def test_unary_special_values(name, dtype):
    """inf, nan, signed zeros and extremes give what NumPy gives (eager and traced)."""
    with np.errstate(all="ignore"):  # the warnings themselves are checked below
        x = SPECIALS.astype(dtype)
        want = getattr(np, name)(x)
        assert_close(getattr(fnp, name)(x), want, what=f"{name}: ")
        got, _ = traced_call(getattr(fnp, name), x)
    assert_close(got, want, what=f"{name}: ")


@pytest.mark.parametrize("dtype", [f32, f64])
@pytest.mark.parametrize("name", BINARY_SPECIAL)
def test_binary_special_values(name, dtype):
    """Every pair of special values, compared with NumPy."""
    with np.errstate(all="ignore"):
        x, y = (a.astype(dtype) for a in np.meshgrid(SPECIALS, SPECIALS))
        want = getattr(np, name)(x, y)
        assert_close(getattr(fnp, name)(x, y), want, what=f"{name}: ")
        got, _ = traced_call(getattr(fnp, name), x, y)
    assert_close(got, want, what=f"{name}: ")


@pytest.mark.filterwarnings("error")
def test_special_values_are_silent():
    """inf and nan results come back silently, as the numpy backend's own notes promise."""
    x = np.array([np.inf, -np.inf, np.nan, 1e300])
    for f in (fnp.sin, fnp.cos, fnp.tan, fnp.exp, fnp.log):
        f(x)
    for g in (fnp.add, fnp.multiply, fnp.subtract):
        g(x, x[::-1])
    assert_close(fnp.sin(np.array([np.inf])), np.array([np.nan]))


@pytest.mark.filterwarnings("error")
def test_special_values_are_silent_under_transforms_and_leave_numpy_settings_alone():
    before = np.geterr()
    x = np.array([np.inf, 0.0, np.nan, 1e300])

    def f(x):  # functrace functions throughout: on eager NumPy arrays, `*` would be NumPy's own
        return fnp.sum(fnp.add(fnp.multiply(fnp.sin(x), fnp.log(x)), fnp.multiply(x, x)))

    for run in (f, ft.jit(f), ft.grad(f), ft.jit(ft.grad(f)), lambda x: ft.jvp(f, (x,), (x,)),
                lambda x: ft.linearize(f, x)[1](x), ft.grad(lambda x: fnp.sum(ft.grad(f)(x)))):
        run(x)
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning):  # the user's own NumPy code still warns as NumPy does
        np.sin(np.array([np.inf]))


# ------------------------------------------------------------------------------ integer powers
def test_integer_power_wraps_around_as_numpy():
    base = np.array([3, -2, 7, 1, -1, 0], np.int64)
    expo = np.array([40, 63, 100, 1000, 1001, 5], np.int64)
    want = base ** expo  # overflow wraps modulo 2**64, in NumPy's order of squarings
    for f in (fnp.power, ft.jit(fnp.power)):
        assert_close(f(base, expo), want)
    assert_close(ft.vmap(fnp.power)(base, expo), want)


def test_integer_power_negative_exponents():
    base = np.array([1, -1, -1, 2, -3], np.int32)
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(base, np.array([1, 1, 1, -1, 1], np.int32))  # known now: NumPy's error
    with pytest.raises(ValueError, match="negative integer powers"):  # known in eager derivatives too
        ft.grad(lambda x, n: fnp.sum(x * fnp.power(n, n)))(np.ones(2), np.array([1, -1]))
    # Traced, the exponent's sign is unknown until it runs: x ** y rounded toward zero.
    got = ft.jit(fnp.power)(base, np.array([-3, -3, -2, -1, -2], np.int32))
    assert_close(got, np.array([1, -1, 1, 0, 0], np.int32))


def test_integer_power_inside_a_derivative():
    x, n = np.array([0.5, 1.5, 2.0]), np.array([1, 2, 3])
    for grad in (ft.grad, lambda f: ft.jit(ft.grad(f))):
        assert_close(grad(lambda x, n: fnp.sum(x * n ** n))(x, n), np.array([1.0, 4.0, 27.0]))
