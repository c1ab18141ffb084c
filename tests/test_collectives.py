"""Collectives over named vmap axes, in one process (both backends): JAX's values for the same
programs (tests/fixtures/collectives_jax.json), derivatives by check_grads inside a named vmap,
printing, jit, nesting, and the errors (an unbound name names the user's line)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from cases_collectives import SHAPES, programs
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import AxisError, MissingRuleError, ShapeError, UnboundAxisError
from functrace.ops.collectives import axis_frame

FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "collectives_jax.json").read_text())
PROGRAMS = programs(ft.vmap, ft.grad, ft.jit, lax, fnp, ft.jacfwd, ft.jacrev, ft.checkpoint)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_matches_jax(name):
    """The values JAX computes for the same program (recorded with the JAX version in the fixture)."""
    rec = FIXTURE["programs"][name]
    args = [np.asarray(a, dtype=np.float64) for a in rec["args"]]
    got = ft.tree_util.tree_leaves(host(PROGRAMS[name](*args)))
    assert len(got) == len(rec["out"])
    for g, want, dt in zip(got, rec["out"], rec["dtypes"], strict=True):
        assert g.dtype == np.dtype(dt), (name, g.dtype, dt)
        np.testing.assert_allclose(g, np.asarray(want), rtol=1e-12, atol=1e-12, err_msg=name)


def test_normalise_across_the_batch_by_hand():
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    got = host(ft.vmap(lambda r: r / lax.psum(r, "i"), axis_name="i")(x))
    np.testing.assert_allclose(got, x / x.sum(0), rtol=1e-5)
    assert got.dtype == np.float32


def _sum_sin(f):
    return lambda x: fnp.sum(fnp.sin(f(x)))


GRAD_CASES = {
    "psum": (lambda v: lax.psum(v * v, "i"), (4, 3)),
    "pmean": (lambda v: lax.pmean(fnp.sin(v), "i") * v, (3, 2)),
    "all_gather": (lambda v: lax.all_gather(v, "i") * v[0], (3, 2)),
    "all_gather_tiled_axis1": (lambda v: lax.all_gather(v, "i", axis=1, tiled=True), (2, 2, 3)),
    "psum_scatter": (lambda v: lax.psum_scatter(v * v, "i", scatter_dimension=1), (3, 2, 3)),
    "psum_scatter_tiled": (lambda v: lax.psum_scatter(v, "i", tiled=True) ** 2, (2, 4)),
    "ppermute": (lambda v: lax.ppermute(v * v, "i", [(0, 1), (1, 0), (2, 3)]), (4, 2)),
    "axis_index": (lambda v: v * v * lax.axis_index("i"), (3, 2)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_check_grads_inside_a_named_vmap(name, dtype):
    body, shape = GRAD_CASES[name]
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    f = _sum_sin(lambda x: ft.vmap(body, axis_name="i")(x))
    tol = dict(rtol=2e-3, eps=1e-3) if dtype == np.float32 else dict(rtol=1e-6, eps=1e-5)
    ft.test_util.check_grads(f, (x,), order=2, modes=("fwd", "rev"), **tol)


def test_psum_transposes_to_psum_per_member():
    """JAX's convention: each member's gradient of psum(x) is the axis size (the psum of the
    members' cotangents), and of pmean(x) is 1."""
    xs = np.arange(1.0, 5.0)
    np.testing.assert_allclose(host(ft.vmap(ft.grad(lambda v: lax.psum(v, "i")), axis_name="i")(xs)), [4.0] * 4)
    np.testing.assert_allclose(host(ft.vmap(ft.grad(lambda v: lax.pmean(v, "i")), axis_name="i")(xs)), [1.0] * 4)


def test_jit_inside_and_outside_vmap():
    x = np.random.default_rng(3).standard_normal((4, 3))
    f = lambda r: r - lax.pmean(r, "i")  # noqa: E731
    want = x - x.mean(0)
    np.testing.assert_allclose(host(ft.jit(ft.vmap(f, axis_name="i"))(x)), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(ft.vmap(ft.jit(f), axis_name="i")(x)), want, rtol=1e-12, atol=1e-12)


def test_nested_names_pass_through_and_the_inner_name_shadows():
    x = np.random.default_rng(4).standard_normal((2, 3))
    # the outer name reaches through an unnamed inner vmap
    got = ft.vmap(ft.vmap(lambda v: lax.psum(v, "o")), axis_name="o")(x)
    np.testing.assert_allclose(host(got), np.broadcast_to(x.sum(0), x.shape), rtol=1e-12)
    # the same name twice: the innermost binding wins, as in JAX
    got = ft.vmap(ft.vmap(lambda v: lax.psum(v, "i"), axis_name="i"), axis_name="i")(x)
    np.testing.assert_allclose(host(got), np.broadcast_to(x.sum(1, keepdims=True), x.shape), rtol=1e-12)
    assert ft.vmap(ft.vmap(lambda v: lax.axis_size(("i", "j")) + 0 * v, axis_name="j"), axis_name="i")(x).shape \
        == (2, 3)


def test_a_value_closed_over_from_outside_the_vmap():
    """Its psum over the vmap axis is the axis size times it, under grad too."""
    xs = np.arange(1.0, 4.0)
    f = lambda w: fnp.sum(ft.vmap(lambda v: v * lax.psum(w, "i"), axis_name="i")(xs))  # noqa: E731
    np.testing.assert_allclose(host(f(2.0)), 3 * 2.0 * xs.sum())
    np.testing.assert_allclose(host(ft.grad(f)(2.0)), 3 * xs.sum())
    got = ft.vmap(lambda v: lax.all_gather(np.float64(7.0), "i") + v, axis_name="i")(xs)
    np.testing.assert_allclose(host(got), np.full((3, 3), 7.0) + xs[:, None])


def test_pytrees_ints_and_bools():
    tree = {"a": np.arange(6.0).reshape(3, 2), "b": np.arange(3, dtype=np.int32), "c": np.array([True, False, True])}
    out = host(ft.vmap(lambda t: lax.psum(t, "i"), axis_name="i")(tree))
    np.testing.assert_array_equal(out["a"], np.broadcast_to(tree["a"].sum(0), (3, 2)))
    assert out["b"].dtype == np.int32 and (out["b"] == 3).all()
    assert out["c"].dtype == np.int32 and (out["c"] == 2).all()
    m = host(ft.vmap(lambda t: lax.pmean(t, "i"), axis_name="i")(np.arange(3, dtype=np.int32)))
    assert m.dtype == np.float32 and np.allclose(m, 1.0)


def test_printed_with_the_axis_name():
    """In a jaxpr (here traced under a bound name, as JAX's make_jaxpr(axis_env=...)) the
    collectives print their axis names."""
    with axis_frame("i", 4):
        text = str(ft.make_jaxpr(lambda x: (lax.psum(x, "i"), lax.all_gather(x, "i"), lax.psum_scatter(x, "i"),
                                            lax.ppermute(x, "i", [(0, 1)]), lax.axis_index("i")))(np.ones(4)))
    assert "psum[axes=('i',)]" in text
    assert "all_gather[axis_name=('i',), all_gather_dimension=0, axis_size=4, tiled=False]" in text
    assert "psum_scatter[axis_name=('i',), scatter_dimension=0, axis_size=4, tiled=False]" in text
    assert "ppermute[axis_name=('i',), perm=((0, 1),)]" in text
    assert "axis_index[axis_name=('i',)]" in text


def test_an_unbound_name_is_an_error_naming_the_line():
    with pytest.raises(UnboundAxisError, match=r"test_collectives\.py:\d+.*unbound axis name 'batch'.*initialize"):
        lax.psum(np.ones(3), "batch")
    with pytest.raises(UnboundAxisError, match=r"test_collectives\.py:\d+.*'j'.*bound here: \['i'\]"):
        ft.vmap(lambda v: lax.pmean(v, "j"), axis_name="i")(np.ones(3))
    with pytest.raises(UnboundAxisError, match=r"test_collectives\.py:\d+"):
        ft.jit(lambda v: lax.axis_index("k") + v)(np.ones(3))
    with pytest.raises(UnboundAxisError):
        ft.vmap(lambda v: lax.psum(v, "i"))(np.ones(3))  # an unnamed vmap binds no name
    assert isinstance(UnboundAxisError("x"), NameError)


def test_misuse_is_refused():
    x = np.ones((3, 2))
    with pytest.raises(ShapeError, match=r"test_collectives\.py:\d+.*psum_scatter.*size 2.*axis size 3"):
        ft.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(np.ones((3, 2)))
    with pytest.raises(ShapeError, match="multiple"):
        ft.vmap(lambda v: lax.psum_scatter(v, "i", tiled=True), axis_name="i")(np.ones((3, 4)))
    with pytest.raises(AxisError, match="outside the axis"):
        ft.vmap(lambda v: lax.ppermute(v, "i", [(0, 5)]), axis_name="i")(x)
    with pytest.raises(ValueError, match="twice"):
        ft.vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (2, 1)]), axis_name="i")(x)
    with pytest.raises(AxisError, match="axis names"):
        lax.psum(x, 0)
    with pytest.raises(NotImplementedError, match=r"test_collectives\.py:\d+.*axis_index_groups"):
        ft.vmap(lambda v: lax.psum(v, "i", axis_index_groups=[[0, 1], [2]]), axis_name="i")(x)
    with pytest.raises(AxisError, match="out of bounds"):
        ft.vmap(lambda v: lax.all_gather(v, "i", axis=3), axis_name="i")(x)
    with pytest.raises(MissingRuleError, match=r"test_collectives\.py:\d+.*pmax has no derivative"):
        ft.vmap(ft.grad(lambda v: lax.pmax(v, "i")), axis_name="i")(np.ones(3))


def test_results_are_the_users_to_modify():
    xs = np.arange(3.0)
    out = host(ft.vmap(lambda v: lax.psum(v, "i") * v, axis_name="i")(xs))
    out[0] = 99.0
    np.testing.assert_array_equal(xs, [0.0, 1.0, 2.0])
