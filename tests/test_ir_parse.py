"""Jaxpr text round-trip (issue 18 item 6): ``ft.ir.parse_jaxpr(str(j))`` prints as ``j`` does and
computes what ``j`` computes, for every case of the primitive derivative table under every
transform; ``ClosedJaxpr.save`` / ``ft.ir.load`` store programs as text plus a ``.npz``."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host
from test_grad_primitives import CASES

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.ir import typecheck_jaxpr
from functrace.ir_parse import JaxprParseError, _callable_params
from functrace.transforms import passes
from functrace.tree_util import tree_leaves


def _float_positions(args) -> list[int]:
    return [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]


def _with(args, pos, vals):
    out = list(args)
    for i, v in zip(pos, vals, strict=True):
        out[i] = v
    return out


def _sum_floats(out):
    leaves = [x for x in tree_leaves(out) if np.dtype(ft.tracing.get_aval(x).dtype).kind == "f"]
    return sum(fnp.sum(x) for x in leaves)


def _programs(case, dt):
    """(transform name, ClosedJaxpr, flat args) for the case under each transform."""
    args = case.make(np.random.default_rng(0), dt)
    fn, pos = case.fn, _float_positions(args)
    fargs = [args[i] for i in pos]
    plain = ft.make_jaxpr(fn)(*args)
    yield "plain", plain, list(args)
    yield "optimized", passes.optimize(plain, sub_jaxprs=True), list(args)
    stacked = [np.stack([a, a]) for a in args]
    yield "vmap", ft.make_jaxpr(ft.vmap(fn))(*stacked), stacked
    if not pos:
        return

    def jvp(*fa):
        return ft.jvp(lambda *g: fn(*_with(args, pos, g)), tuple(fa), tuple(fnp.ones_like(x) for x in fa))

    yield "jvp", ft.make_jaxpr(jvp)(*fargs), fargs
    if any(np.dtype(a.dtype).kind == "f" for a in plain.out_avals) and case.modes != ("fwd",):
        def grad(*fa):
            return ft.grad(lambda *g: _sum_floats(fn(*_with(args, pos, g))), argnums=tuple(range(len(fa))))(*fa)

        yield "grad", ft.make_jaxpr(grad)(*fargs), fargs


def _assert_same(a, b, what):
    for x, y in zip(host(a), host(b), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_round_trip_every_case_and_transform(case, dtype):
    for name, closed, flat in _programs(case, dtype):
        text = str(closed)
        what = f"{case.name} under {name}:\n{text}"
        bad = _callable_params(closed)
        if bad:
            with pytest.raises(JaxprParseError, match=bad):
                ft.ir.parse_jaxpr(text, closed.large_consts())
            continue
        again = ft.ir.parse_jaxpr(text, closed.large_consts())
        assert str(again) == text, what
        typecheck_jaxpr(again.jaxpr)
        assert again.in_avals == closed.in_avals and again.out_avals == closed.out_avals
        flat_args = tree_leaves(flat)
        want = tree_leaves(ft.eval_jaxpr(closed, *flat_args))
        _assert_same(ft.eval_jaxpr(again, *flat_args), want, what)


@pytest.mark.parametrize("case", [c for c in CASES if not any(k in c.name for k in ("custom",))][::9],
                         ids=lambda c: c.name)
def test_parsed_program_under_jit_and_transforms(case):
    """A parsed program is an ordinary ClosedJaxpr: jit, grad and vmap of ``eval_jaxpr`` work on it."""
    args = case.make(np.random.default_rng(1), np.float64)
    closed = ft.make_jaxpr(case.fn)(*args)
    again = ft.ir.parse_jaxpr(str(closed), closed.large_consts())
    flat = tree_leaves(args)
    want = tree_leaves(ft.eval_jaxpr(closed, *flat))
    got = ft.jit(lambda *a: ft.eval_jaxpr(again, *a))(*flat)
    for x, y in zip(host(got), host(want), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    pos = _float_positions(flat)
    if pos and any(np.dtype(a.dtype).kind == "f" for a in closed.out_avals):
        def loss(j):
            return lambda *fa: _sum_floats(ft.eval_jaxpr(j, *_with(flat, pos, fa)))
        fa = [flat[i] for i in pos]
        argnums = tuple(range(len(fa)))
        got, want = ft.grad(loss(again), argnums)(*fa), ft.grad(loss(closed), argnums)(*fa)
        for x, y in zip(host(got), host(want), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    stacked = [np.stack([a, a]) for a in flat]
    got = ft.vmap(lambda *a: ft.eval_jaxpr(again, *a))(*stacked)
    want = ft.vmap(lambda *a: ft.eval_jaxpr(closed, *a))(*stacked)
    for x, y in zip(host(tree_leaves(got)), host(tree_leaves(want)), strict=True):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------- constants and literals
def test_small_constants_print_inline_and_large_ones_by_reference():
    big = np.arange(40.0, dtype=np.float32).reshape(8, 5)
    small = np.array([1, -2, 3], np.int32)

    def f(x):
        return (x @ big.T) * 2.0, x[0, :3] * small

    closed = ft.make_jaxpr(f)(np.ones((2, 5), np.float32))
    text = str(closed)
    assert "=[1.0, -2.0, 3.0]" in text and "=c0" in text and "40.0" not in text
    assert list(closed.large_consts()) == ["c0"]
    with pytest.raises(JaxprParseError, match="c0"):
        ft.ir.parse_jaxpr(text)
    again = ft.ir.parse_jaxpr(text, closed.large_consts())
    assert str(again) == text
    x = np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5)
    _assert_same(ft.eval_jaxpr(again, x), tree_leaves(ft.eval_jaxpr(closed, x)), text)


@pytest.mark.parametrize("value,dtype", [
    (0.1, np.float32), (1e-7, np.float32), (np.inf, np.float64), (-np.inf, np.float32), (np.nan, np.float64),
    (3, np.int32), (-5, np.int64), (7, np.uint8), (True, np.bool_), (1 + 2j, np.complex64), (2**40, np.int64),
])
def test_literals_of_every_kind_keep_their_dtype_and_value(value, dtype):
    lit = np.asarray(value, dtype)[()]

    def f(x):
        wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
        picked = lax.select(x != fnp.zeros_like(x), fnp.full_like(x, lit), fnp.zeros_like(x))
        return picked, lax.convert_element_type(lit, wide)

    closed = ft.make_jaxpr(f)(np.ones(3, dtype) if dtype != np.bool_ else np.ones(3, bool))
    text = str(closed)
    again = ft.ir.parse_jaxpr(text)
    assert str(again) == text
    x = np.asarray([1, 0, 1], dtype)
    _assert_same(ft.eval_jaxpr(again, x), tree_leaves(ft.eval_jaxpr(closed, x)), text)


def test_literal_whose_dtype_is_not_implied_prints_its_type():
    """An int32 literal among float operands cannot be told from the default int64: the type is shown."""
    closed = ft.make_jaxpr(lambda x: lax.dynamic_slice(x, (np.int32(1),), (2,)))(np.ones(4))
    text = str(closed)
    assert "1:i32[]" in text
    again = ft.ir.parse_jaxpr(text)
    assert str(again) == text and again.eqns[0].invars[1].aval.dtype == np.int32


def test_output_literals_and_unused_inputs():
    closed = ft.make_jaxpr(lambda x, y: (7, x, np.float32(2.5)))(np.ones(2), 3)
    text = str(closed)
    again = ft.ir.parse_jaxpr(text)
    assert str(again) == text
    assert [host(v).dtype for v in ft.eval_jaxpr(again, np.ones(2), 3)] == [np.int64, np.float64, np.float32]


def test_many_variables_never_take_reserved_names():
    """Past 221 variables the name ``in`` would come up; the printer skips it (and let/inf/nan)."""
    def f(x):
        for _ in range(300):
            x = fnp.sin(x)
        return x

    closed = ft.make_jaxpr(f)(1.0)
    text = str(closed)
    assert " in:" not in text and "= sin in\n" not in text
    again = ft.ir.parse_jaxpr(text)
    assert str(again) == text
    _assert_same(ft.eval_jaxpr(again, 0.5), tree_leaves(ft.eval_jaxpr(closed, 0.5)), "")


# ---------------------------------------------------------------------------- errors
def test_custom_derivative_rules_are_refused_naming_the_primitive(tmp_path):
    @ft.custom_jvp
    def f(x):
        return fnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), t[0] * fnp.cos(p[0])))
    closed = ft.make_jaxpr(f)(1.0)
    with pytest.raises(JaxprParseError, match="custom_jvp_call"):
        ft.ir.parse_jaxpr(str(closed))
    with pytest.raises(JaxprParseError, match="custom_jvp_call"):
        closed.save(tmp_path / "f.jaxpr")


@pytest.mark.parametrize("text,match", [
    ("{ lambda ; a:f32[3]. let\n    b:f32[3] = frobnicate a\n  in (b,) }", "unknown primitive 'frobnicate'"),
    ("{ lambda ; a:f32[3]. let\n    b:f32[3] = sin z\n  in (b,) }", "'z' is used before it is defined"),
    ("{ lambda ; a:q32[3]. let\n  in (a,) }", "unknown dtype 'q32'"),
    ("{ lambda ; a:f32[3]. let\n  in (a,) } extra", "unexpected text after the jaxpr"),
    ("{ lambda b:f32[3] ; a:f32[3]. let\n  in (a,) }", "constants have no values"),
    ("{ lambda ; a:f32[3]. let\n    b:f32[3] = sin a\n  in (b,)", "expected '}'"),
    ("{ lambda ; a:f32[3] a:f32[3]. let\n  in (a,) }", "defined twice"),
    ("{ lambda b:f32[2]=[1.0] ; a:f32[3]. let\n  in (a,) }", "declared f32\\[2\\]"),
])
def test_bad_text_raises_a_parse_error_with_its_position(text, match):
    with pytest.raises(JaxprParseError, match=match) as info:
        ft.ir.parse_jaxpr(text)
    assert "line" in str(info.value)


def test_parse_refuses_a_non_string():
    with pytest.raises(TypeError, match="str"):
        ft.ir.parse_jaxpr(ft.make_jaxpr(fnp.sin)(1.0))


# ---------------------------------------------------------------------------- save / load
def test_save_and_load_a_trained_style_program(tmp_path):
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((4, 32)), rng.standard_normal((32, 1))

    def predict(x):
        return fnp.tanh(x @ w1) @ w2

    closed = ft.make_jaxpr(ft.vmap(ft.grad(lambda x: fnp.sum(predict(x)))))(np.ones((5, 4)))
    path = closed.save(tmp_path / "model.jaxpr")
    assert path.read_text().startswith("{ lambda ")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["c0", "c1"]
    again = ft.ir.load(path)
    assert str(again) == str(closed)
    x = rng.standard_normal((5, 4))
    _assert_same(ft.eval_jaxpr(again, x), tree_leaves(ft.eval_jaxpr(closed, x)), "")


def test_save_without_large_constants_writes_no_npz_and_removes_a_stale_one(tmp_path):
    big = ft.make_jaxpr(lambda x: x + np.arange(100.0))(np.ones(100))
    small = ft.make_jaxpr(fnp.sin)(np.ones(3))
    big.save(tmp_path / "p.jaxpr")
    assert (tmp_path / "p.npz").exists()
    small.save(tmp_path / "p.jaxpr")
    assert not (tmp_path / "p.npz").exists()
    assert str(ft.ir.load(tmp_path / "p.jaxpr")) == str(small)
