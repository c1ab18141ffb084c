"""The IR as users see it: golden printed jaxprs, the make_jaxpr / eval_jaxpr API, the
type-checker on traced jaxprs, a 100,000-operation chain, tracing from two threads at once,
and pytrees (``ft.tree_util``) at the make_jaxpr boundary."""

from __future__ import annotations

import collections
import threading
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, host, traced_call

import functrace as ft
import functrace.numpy as fnp
from functrace.ir import Jaxpr, JaxprEqn, JaxprTypeError, Var, typecheck_jaxpr
from functrace.tree_util import (
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

f32, f64, i32 = np.float32, np.float64, np.int32


def line_of(marker: str) -> int:
    """The line number in this file of the (unique) line containing ``marker``."""
    with open(__file__) as f:
        hits = [i for i, text in enumerate(f, start=1) if marker in text and "line_of(" not in text]
    assert len(hits) == 1, hits
    return hits[0]


# ------------------------------------------------------------------------------ golden jaxprs
GOLDEN = {
    "sum of sin": (
        lambda x: fnp.sum(fnp.sin(x) * 2.0), [np.ones(3, f32)],
        """\
{ lambda ; a:f32[3]. let
    b:f32[3] = sin a
    c:f32[3] = mul b 2.0
    d:f32[] = reduce_sum[axes=(0,)] c
  in (d,) }"""),
    "dense layer": (
        lambda x, w: fnp.tanh(x @ w + 1.0), [np.ones((2, 3), f32), np.ones((3, 4), f32)],
        """\
{ lambda ; a:f32[2,3] b:f32[3,4]. let
    c:f32[2,4] = dot_general[dimension_numbers=(((1,), (0,)), ((), ()))] a b
    d:f32[2,4] = add c 1.0
    e:f32[2,4] = tanh d
  in (e,) }"""),
    "slicing": (
        lambda x: x[1:, ::-1], [np.ones((3, 4), f32)],
        """\
{ lambda ; a:f32[3,4]. let
    b:f32[3,4] = rev[dimensions=(1,)] a
    c:f32[2,4] = slice[start_indices=(1, 0), limit_indices=(3, 4), strides=(1, 1)] b
  in (c,) }"""),
    "where with a literal": (
        lambda x: fnp.where(x > 0, x, 0.0), [np.ones(3, f32)],
        """\
{ lambda ; a:f32[3]. let
    b:bool[3] = gt a 0.0
    c:f32[3] = select b a 0.0
  in (c,) }"""),
    "promotion and broadcasting": (
        lambda x, y: x * y, [np.ones((2, 3), f32), np.ones(3, i32)],
        """\
{ lambda ; a:f32[2,3] b:i32[3]. let
    c:f64[2,3] = convert_element_type[new_dtype=float64] a
    d:f64[3] = convert_element_type[new_dtype=float64] b
    e:f64[2,3] = broadcast_in_dim[shape=(2, 3), broadcast_dimensions=(1,)] d
    f:f64[2,3] = mul c e
  in (f,) }"""),
    "constants and pytree outputs": (
        lambda x: (x + np.arange(3.0), 2.0, {"a": x}), [np.ones(3)],
        """\
{ lambda a:f64[3]=[0.0, 1.0, 2.0] ; b:f64[3]. let
    c:f64[3] = add b a
  in (c, 2.0, b) }"""),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_printed_jaxpr(name):
    f, args, text = GOLDEN[name]
    closed = ft.make_jaxpr(f)(*args)
    assert str(closed) == text
    typecheck_jaxpr(closed.jaxpr)


def test_numpy_integer_arguments_print_as_plain_ints():
    """Shapes, axes and counts given as NumPy integers end up as Python ints in the params."""
    i = np.int64

    def f(t):
        return (fnp.broadcast_to(t, np.array([2, 3])), fnp.tile(t, i(2)), fnp.sum(t, axis=i(0)),
                fnp.expand_dims(t, i(0)), t.reshape(i(3), 1), fnp.roll(t, i(1)), fnp.split(t, i(3)),
                fnp.transpose(t[None], np.array([1, 0])), fnp.cumsum(t, axis=i(0)), fnp.repeat(t, i(2)))

    text = str(ft.make_jaxpr(f)(np.ones(3)))
    assert "np." not in text and "int64(" not in text


def test_float32_literals_print_at_their_own_precision():
    text = str(ft.make_jaxpr(lambda t: t * 0.1 + 1e-7)(np.ones(3, f32)))
    assert "mul a 0.1\n" in text and "add b 1e-07\n" in text


def test_numpy_protocol_prints_like_fnp():
    x = np.ones((2, 3), f32)
    assert str(ft.make_jaxpr(lambda t: np.sum(np.sin(t) * 2.0, axis=0))(x)) == \
        str(ft.make_jaxpr(lambda t: fnp.sum(fnp.sin(t) * 2.0, axis=0))(x))


# ------------------------------------------------------------------------------ make_jaxpr API
def test_jaxpr_structure_and_source_info():
    def f(x, y):
        z = fnp.sin(x)  # the sin line
        return z * y, x

    x, y = np.ones(3, f32), np.full(3, 2.0, f32)
    closed = ft.make_jaxpr(f)(x, y)
    jaxpr = closed.jaxpr
    assert isinstance(jaxpr, Jaxpr) and isinstance(closed, ft.ClosedJaxpr)
    assert [v.aval.str_short() for v in jaxpr.invars] == ["f32[3]", "f32[3]"]
    assert [a.str_short() for a in closed.in_avals] == ["f32[3]", "f32[3]"]
    assert [a.str_short() for a in closed.out_avals] == ["f32[3]", "f32[3]"]
    assert closed.consts == [] and jaxpr.constvars == []
    assert all(isinstance(e, JaxprEqn) for e in jaxpr.eqns)
    sin, mul = jaxpr.eqns
    assert (sin.primitive.name, mul.primitive.name) == ("sin", "mul")
    assert sin.invars == [jaxpr.invars[0]] and mul.invars == [sin.outvars[0], jaxpr.invars[1]]
    assert jaxpr.outvars == [mul.outvars[0], jaxpr.invars[0]]
    assert sin.params == {} and isinstance(sin.outvars[0], Var)
    filename, lineno = sin.source_info
    assert filename == __file__ and lineno == line_of("# the sin line")
    assert_close(ft.eval_jaxpr(closed, x, y)[0], np.sin(x) * y)


def test_make_jaxpr_static_argnums():
    def f(x, n, scale):
        for _ in range(n):
            x = x * scale
        return x

    x = np.ones(2, f32)
    closed = ft.make_jaxpr(f, static_argnums=(1, 2))(x, 3, 2.0)
    assert len(closed.jaxpr.invars) == 1 and len(closed.eqns) >= 1
    assert_close(ft.eval_jaxpr(closed, x), x * 8)
    closed = ft.make_jaxpr(f, static_argnums=1)(x, 2, np.float32(3.0))
    assert len(closed.jaxpr.invars) == 2
    assert_close(ft.eval_jaxpr(closed, x, np.float32(0.5)), x * 0.25)
    assert len(ft.make_jaxpr(f, static_argnums=-2)(x, 0, np.float32(1.0)).eqns) == 0


def test_python_scalar_arguments_and_trivial_functions():
    closed = ft.make_jaxpr(lambda a, b, c: (a * 2, b + 1, c))(1.5, 3, True)
    assert [a.str_short() for a in closed.in_avals] == ["f64[]", "i64[]", "bool[]"]
    out = ft.eval_jaxpr(closed, 1.5, 3, True)
    assert_close(out[0], np.float64(3.0)) and assert_close(out[1], np.int64(4))
    assert_close(out[2], np.bool_(True))
    identity = ft.make_jaxpr(lambda x: x)(np.zeros(2))
    assert identity.eqns == [] and identity.jaxpr.outvars == identity.jaxpr.invars
    constant = ft.make_jaxpr(lambda x: 7)(np.zeros(2))
    assert str(constant) == "{ lambda ; a:f64[2]. let\n  in (7,) }"
    assert_close(ft.eval_jaxpr(constant, np.zeros(2)), np.int64(7))


def test_retracing_at_other_shapes_and_dtypes():
    def f(x):
        return fnp.sum(x, axis=0)

    a = ft.make_jaxpr(f)(np.ones((2, 3), f32))
    b = ft.make_jaxpr(f)(np.ones((4, 5), f64))
    assert a.out_avals[0].str_short() == "f32[3]" and b.out_avals[0].str_short() == "f64[5]"


def test_eval_jaxpr_checks_its_arguments():
    closed = ft.make_jaxpr(lambda x: x + 1)(np.ones(3, f32))
    with pytest.raises(TypeError, match="expects f32\\[3\\]"):
        ft.eval_jaxpr(closed, np.ones(4, f32))
    with pytest.raises(TypeError, match="takes 1 array arguments, got 2"):
        ft.eval_jaxpr(closed, np.ones(3, f32), np.ones(3, f32))


def test_closure_constants_are_consts():
    w = np.arange(6.0).reshape(2, 3)
    closed = ft.make_jaxpr(lambda x: x @ w)(np.ones(2))
    assert len(closed.consts) == 1 and len(closed.jaxpr.constvars) == 1
    assert_close(host(closed.consts[0]), w)
    assert_close(ft.eval_jaxpr(closed, np.ones(2)), np.ones(2) @ w)


def test_unused_work_is_dropped():
    def f(x):
        fnp.exp(x) * 3.0  # dead code
        return fnp.sin(x)

    assert [e.primitive.name for e in ft.make_jaxpr(f)(np.ones(2)).eqns] == ["sin"]


# ------------------------------------------------------------------------------ type-checker
TYPECHECKED = [
    lambda x: fnp.sum(x * x, axis=1, keepdims=True),
    lambda x: fnp.einsum("ij,kj->ik", x, x),
    lambda x: fnp.concatenate([x, x[::-1]], axis=1),
    lambda x: fnp.var(x, axis=0) + fnp.argmax(x, axis=1)[0],
    lambda x: ft.nn.log_softmax(x[:, fnp.newaxis, :] * fnp.ones((1, 3, 1)), axis=-1),
    lambda x: fnp.pad(fnp.roll(x, 1, axis=1), 1)[np.array([0, 2]), 1:],
    lambda x: fnp.linalg.norm(x, axis=0) / fnp.cumsum(x, axis=0)[-1],
    lambda x: (fnp.diag(x[:, :2]), fnp.tile(x, 2), fnp.repeat(x, 2, axis=0), fnp.split(x, 2, axis=1)),
]


@pytest.mark.parametrize("k", range(len(TYPECHECKED)))
def test_traced_jaxprs_typecheck(k):
    x = np.linspace(-1, 1, 8).reshape(2, 4).astype(f32)
    f = TYPECHECKED[k]
    got, closed = traced_call(f, x)  # traced_call type-checks
    typecheck_jaxpr(closed.jaxpr)
    with np.errstate(all="ignore"), ft.use_backend("numpy"):  # the reference: NumPy arrays throughout
        want = f(x)
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        assert_close(g, host(w))


def test_typecheck_rejects_a_broken_jaxpr():
    closed = ft.make_jaxpr(lambda x: fnp.sin(x) + 1.0)(np.ones(3, f32))
    jaxpr = closed.jaxpr
    sin = jaxpr.eqns[0]
    wrong = sin.replace(outvars=[Var(sin.outvars[0].aval.update(dtype=f64))])
    broken = Jaxpr(jaxpr.constvars, jaxpr.invars, wrong.outvars, [wrong])
    with pytest.raises(JaxprTypeError, match="sin: rule says"):
        typecheck_jaxpr(broken)
    unordered = Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, jaxpr.eqns[::-1])
    with pytest.raises(JaxprTypeError, match="before it is defined"):
        typecheck_jaxpr(unordered)


# ------------------------------------------------------------------------------ deep and concurrent
def test_a_100k_operation_chain_traces_and_evaluates():
    """Tracing, dead-code elimination, type-checking and evaluation are all iterative."""
    n = 100_000

    def chain(x):
        for _ in range(n):
            x = fnp.sin(x)
        return x

    closed = ft.make_jaxpr(chain)(np.float64(1.0))
    assert len(closed.eqns) == n
    typecheck_jaxpr(closed.jaxpr)
    want = 1.0
    for _ in range(n):
        want = np.sin(want)
    assert_close(ft.eval_jaxpr(closed, np.float64(1.0)), np.float64(want), rtol=1e-9)


def test_two_threads_trace_different_functions_at_once():
    """The trace stack is per thread: interleaved traces each record only their own equations."""
    barrier = threading.Barrier(2, timeout=30)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def f_sin(x):
        for _ in range(50):
            x = fnp.sin(x)
            barrier.wait()
        return x

    def f_cos(x):
        for _ in range(50):
            x = fnp.cos(x) * 2.0
            barrier.wait()
        return fnp.sum(x)

    def run(name, f, arg):
        try:
            results[name] = ft.make_jaxpr(f)(arg)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=("sin", f_sin, np.ones(3, f32))),
               threading.Thread(target=run, args=("cos", f_cos, np.ones((2, 2), f64)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sin, cos = results["sin"], results["cos"]
    assert [e.primitive.name for e in sin.eqns] == ["sin"] * 50
    assert [e.primitive.name for e in cos.eqns] == ["cos", "mul"] * 50 + ["reduce_sum"]
    assert [a.str_short() for a in sin.in_avals + cos.in_avals] == ["f32[3]", "f64[2,2]"]
    x = np.full(3, 0.3, f32)
    want = x
    for _ in range(50):
        want = np.sin(want)
    assert_close(ft.eval_jaxpr(sin, x), want)


# ------------------------------------------------------------------------------ pytrees
class Point:
    """A user type registered as a pytree node (x and y are children, name is static)."""

    def __init__(self, x, y, name="p"):
        self.x, self.y, self.name = x, y, name


register_pytree_node(Point, lambda p: ((p.x, p.y), p.name), lambda name, c: Point(*c, name=name))
Pair = collections.namedtuple("Pair", "first second")


def test_tree_util_basics():
    tree = {"b": [1, (2, None)], "a": Pair(3, {"z": 4, "y": 5}), "c": Point(6, 7, "q")}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [3, 5, 4, 1, 2, 6, 7]  # dict keys sorted
    assert tree_leaves(tree) == leaves and tree_structure(tree) == treedef
    rebuilt = tree_unflatten(treedef, [10 * v for v in leaves])
    assert rebuilt["b"] == [10, (20, None)] and rebuilt["a"] == Pair(30, {"y": 50, "z": 40})
    assert isinstance(rebuilt["c"], Point) and (rebuilt["c"].x, rebuilt["c"].y, rebuilt["c"].name) == (60, 70, "q")
    doubled = tree_map(lambda a, b: a + b, tree, tree)
    assert tree_leaves(doubled) == [2 * v for v in leaves]
    assert tree_map(lambda v: v, None) is None and tree_leaves([None, (), {}]) == []
    assert tree_leaves([1, [2, 3]], is_leaf=lambda n: n == [2, 3]) == [1, [2, 3]]
    od = collections.OrderedDict([("z", 1), ("a", 2)])
    assert tree_leaves(od) == [1, 2]  # insertion order, not sorted


def test_tree_util_errors():
    with pytest.raises(ValueError, match="differ"):
        tree_map(lambda a, b: a, [1, 2], (1, 2))
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_node(Point, lambda p: ((), None), lambda a, c: None)
    with pytest.raises(ValueError, match="has 2 leaves, got 3"):
        tree_unflatten(tree_structure([1, 2]), [1, 2, 3])


def test_deep_pytrees_do_not_recurse():
    deep: Any = 1.0
    for _ in range(5_000):  # far past Python's recursion limit (1000)
        deep = [deep]
    leaves, treedef = tree_flatten(deep)
    assert leaves == [1.0] and treedef == tree_structure(deep) and hash(treedef) == hash(tree_structure(deep))
    assert tree_leaves(tree_map(lambda a, b: a + b, deep, deep)) == [2.0]
    assert repr(treedef).startswith("PyTreeDef([[[[")
    assert tree_unflatten(treedef, [5.0]) is not None


def test_make_jaxpr_accepts_and_returns_pytrees():
    params = {"w": np.ones((3, 2), f32), "b": np.zeros(2, f32), "extra": None}
    batch = (np.ones((4, 3), f32), [np.arange(4, dtype=i32)])
    point = Point(np.float32(2.0), np.ones(2, f32), "origin")

    def f(p, data, pt):
        x, (labels,) = data
        out = x @ p["w"] + p["b"]
        return {"out": out * pt.x, "n": labels.sum(), "none": None,
                "pts": [Point(pt.y + 1.0, pt.x, pt.name)], "pair": Pair(out.shape[0], labels)}

    closed = ft.make_jaxpr(f)(params, batch, point)
    assert len(closed.jaxpr.invars) == 6  # b, w (sorted keys), x, labels, pt.x, pt.y
    assert [a.str_short() for a in closed.in_avals] == ["f32[2]", "f32[3,2]", "f32[4,3]", "i32[4]", "f32[]", "f32[2]"]
    res = ft.eval_jaxpr(closed, params, batch, point)
    assert set(res) == {"out", "n", "none", "pts", "pair"} and res["none"] is None
    assert_close(res["out"], (batch[0] @ params["w"] + params["b"]) * 2.0)
    assert_close(res["n"], np.int64(6))
    (pt,) = res["pts"]
    assert isinstance(pt, Point) and pt.name == "origin"
    assert_close(pt.x, np.full(2, 2.0, f32)) and assert_close(pt.y, np.float32(2.0))
    assert isinstance(res["pair"], Pair) and res["pair"].first == 4
    assert_close(res["pair"].second, batch[1][0])


def test_nested_outputs_and_eval_structure():
    closed = ft.make_jaxpr(lambda x: [x, (x * 2, {"k": (x,)}), None])(np.ones(2))
    out = ft.eval_jaxpr(closed, np.ones(2))
    assert isinstance(out, list) and out[2] is None and isinstance(out[1], tuple)
    assert_close(out[1][1]["k"][0], np.ones(2))
    assert tree_structure(host(out)) == tree_structure([1, (1, {"k": (1,)}), None])
