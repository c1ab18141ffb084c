"""ft.tree_util's JAX surface (printing, key paths, reductions) and ft.flatten_util.ravel_pytree.

The expected strings were printed by JAX 0.10.2 (``jax.tree_util``) for the same trees.
"""

from __future__ import annotations

import collections
import functools
import operator
from typing import Any, NamedTuple

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace.flatten_util import ravel_pytree
from functrace.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    SequenceKey,
    keystr,
    register_pytree_node,
    register_pytree_with_keys,
    tree_all,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_map_with_path,
    tree_reduce,
    tree_structure,
    tree_unflatten,
)


class Point(NamedTuple):
    x: Any
    y: Any


class Box:
    """A user type registered without keys: its children's keys are flat indices."""

    def __init__(self, a, b):
        self.a, self.b = a, b


register_pytree_node(Box, lambda f: ((f.a, f.b), "aux"), lambda aux, c: Box(*c))


class Layer:
    """A user type registered with keys: its children are named by attribute."""

    def __init__(self, w, b, name="dense"):
        self.w, self.b, self.name = w, b, name


register_pytree_with_keys(Layer, lambda m: (((GetAttrKey("w"), m.w), (GetAttrKey("b"), m.b)), m.name),
                          lambda name, c: Layer(*c, name=name))

# (tree, repr of its structure as JAX 0.10.2 prints it)
REPRS = [
    ({"a": 1, "b": [1, 2]}, "PyTreeDef({'a': *, 'b': [*, *]})"),
    ((1,), "PyTreeDef((*,))"),
    ((1, 2), "PyTreeDef((*, *))"),
    ([], "PyTreeDef([])"),
    ((), "PyTreeDef(())"),
    ({}, "PyTreeDef({})"),
    (None, "PyTreeDef(None)"),
    (1.0, "PyTreeDef(*)"),
    (Point(1, 2), "PyTreeDef(CustomNode(namedtuple[Point], [*, *]))"),
    (collections.OrderedDict(b=1, a=2), "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, *]))"),
    ({1: 2, 3: [None]}, "PyTreeDef({1: *, 3: [None]})"),
    ([None, (1, {"z": 2})], "PyTreeDef([None, (*, {'z': *})])"),
    (Box(1, [2]), "PyTreeDef(CustomNode(Box[aux], [*, [*]]))"),
    ({"a b": 1, "q'": 2}, "PyTreeDef({'a b': *, \"q'\": *})"),
    ({(1, 2): 3}, "PyTreeDef({(1, 2): *})"),
    ({"b": [1, (2, Point(3, 4))], "a": 1},
     "PyTreeDef({'a': *, 'b': [*, (*, CustomNode(namedtuple[Point], [*, *]))]})"),
]


@pytest.mark.parametrize("tree,want", REPRS, ids=[w for _, w in REPRS])
def test_treedef_prints_as_jax(tree, want):
    treedef = tree_structure(tree)
    assert repr(treedef) == want and str(treedef) == want


def test_structure_mismatch_error_names_the_dict_keys():
    with pytest.raises(ValueError, match=r"PyTreeDef\(\{'a': \*, 'b': \*\}\) and PyTreeDef\(\{'a': \*, 'c': \*\}\)"):
        tree_map(lambda x, y: x, {"a": 1, "b": 2}, {"a": 1, "c": 2})


PATH_TREE = {"b": [1, (2, Point(3, 4))], "a": 0, "f": Box(5, 6), "m": Layer(7, 8), "n": None,
             "o": collections.OrderedDict(z=9, y=10)}
# keystr of each leaf's path, in tree_leaves order, as JAX prints them (Layer's keys are our own choice)
PATH_STRS = ["['a']", "['b'][0]", "['b'][1][0]", "['b'][1][1].x", "['b'][1][1].y",
             "['f'][<flat index 0>]", "['f'][<flat index 1>]", "['m'].w", "['m'].b", "['o']['z']", "['o']['y']"]


def test_flatten_with_path():
    pairs, treedef = tree_flatten_with_path(PATH_TREE)
    assert [leaf for _, leaf in pairs] == tree_leaves(PATH_TREE) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert treedef == tree_structure(PATH_TREE)
    assert [keystr(p) for p, _ in pairs] == PATH_STRS
    assert pairs[3][0] == (DictKey("b"), SequenceKey(1), SequenceKey(1), GetAttrKey("x"))
    assert pairs[5][0] == (DictKey("f"), FlattenedIndexKey(0))
    assert tree_leaves_with_path(PATH_TREE) == pairs
    rebuilt = tree_unflatten(treedef, [leaf for _, leaf in pairs])
    assert rebuilt["m"].name == "dense" and rebuilt["b"][1][1] == Point(3, 4)
    again = treedef.unflatten(range(11))
    assert again["b"][1][1] == Point(3, 4) and tree_structure(again) == treedef
    assert (treedef.num_leaves, treedef.num_nodes) == (11, 19)  # as JAX counts this tree


def test_key_types_print_and_compare_as_jax():
    assert [repr(k) for k in (SequenceKey(2), DictKey("a"), GetAttrKey("x"), FlattenedIndexKey(3))] == [
        "SequenceKey(idx=2)", "DictKey(key='a')", "GetAttrKey(name='x')", "FlattenedIndexKey(key=3)"]
    assert [str(k) for k in (SequenceKey(2), DictKey("a"), DictKey(1), GetAttrKey("x"), FlattenedIndexKey(3))] == [
        "[2]", "['a']", "[1]", ".x", "[<flat index 3>]"]
    assert DictKey("a") == DictKey("a") and hash(DictKey("a")) == hash(DictKey("a"))
    assert SequenceKey(0) != FlattenedIndexKey(0) and DictKey(0) != SequenceKey(0)
    assert (SequenceKey(0).idx, DictKey(1).key, GetAttrKey("x").name, FlattenedIndexKey(1).key) == (0, 1, "x", 1)


@pytest.mark.parametrize("kwargs,want", [
    ({}, "['b'][1][1].x"),
    ({"simple": True, "separator": "/"}, "b/1/1/x"),
    ({"separator": " "}, "['b'] [1] [1] .x"),
    ({"simple": True}, "b11x"),
])
def test_keystr(kwargs, want):
    path = tree_flatten_with_path(PATH_TREE)[0][3][0]
    assert keystr(path, **kwargs) == want
    assert keystr(()) == ""


def test_tree_map_with_path():
    tree = {"w": np.ones(2), "b": [np.zeros(1), 2.0]}
    out = tree_map_with_path(lambda p, x, y: (keystr(p), x + y), tree, tree)
    assert out["w"][0] == "['w']" and out["b"][1] == ("['b'][1]", 4.0)
    only_w = tree_map_with_path(lambda p, x: x * 0 if p[0] == DictKey("b") else x, tree)
    assert np.all(only_w["w"] == 1) and only_w["b"][1] == 0
    with pytest.raises(ValueError, match="tree_map_with_path: tree structures differ"):
        tree_map_with_path(lambda p, x, y: x, tree, {"w": 1, "b": 2})
    # is_leaf stops the walk; the stopped node is a leaf with its own path
    pairs, _ = tree_flatten_with_path(tree, is_leaf=lambda n: isinstance(n, list))
    assert [keystr(p) for p, _ in pairs] == ["['b']", "['w']"]


def test_tree_reduce_and_tree_all():
    tree = {"a": 1, "b": (2, [3, None]), "c": Point(4, 5)}
    assert tree_reduce(operator.add, tree) == 15
    assert tree_reduce(operator.add, tree, 100) == 115
    assert tree_reduce(lambda acc, x: acc + [x], tree, []) == [1, 2, 3, 4, 5]
    assert tree_reduce(operator.add, [None, ()], 7) == 7
    with pytest.raises(TypeError, match="no leaves and no initializer"):
        tree_reduce(operator.add, [None, {}])
    assert tree_reduce(operator.mul, [[2], {"x": 3}], is_leaf=lambda n: n == [2]) == [2, 2, 2]
    assert tree_all([True, (1, {"x": np.True_})]) is True
    assert tree_all([True, (0,)]) is False and tree_all([]) is True
    assert tree_all([[0], 1], is_leaf=lambda n: n == [0]) is True  # [0] is a non-empty leaf
    assert tree_structure([[1], 2], is_leaf=lambda n: n == [1]) == tree_structure([3, 4])


def test_register_pytree_with_keys_refuses_double_registration_and_derives_flatten():
    with pytest.raises(ValueError, match="already registered"):
        register_pytree_with_keys(Layer, lambda m: ((), None), lambda a, c: None)
    leaves, treedef = tree_flatten(Layer(1, 2, name="out"))
    assert leaves == [1, 2] and repr(treedef) == "PyTreeDef(CustomNode(Layer[out], [*, *]))"


def test_paths_and_printing_of_deep_trees_do_not_recurse():
    deep: Any = 1.0
    for _ in range(5_000):
        deep = {"k": [deep]}
    pairs, treedef = tree_flatten_with_path(deep)
    assert len(pairs) == 1 and len(pairs[0][0]) == 10_000
    assert keystr(pairs[0][0]).startswith("['k'][0]['k'][0]")
    assert repr(treedef).startswith("PyTreeDef({'k': [{'k': [") and repr(treedef).endswith("[*]}" + "]}" * 4_999 + ")")


def test_grad_of_a_tree_keeps_its_paths():
    params = {"dense": Layer(np.ones((2, 2)), np.zeros(2)), "scale": np.float64(2.0)}
    grads = ft.grad(lambda p: fnp.sum(p["dense"].w) * p["scale"] + fnp.sum(p["dense"].b))(params)
    paths = [keystr(p) for p, _ in tree_leaves_with_path(grads)]
    assert paths == ["['dense'].w", "['dense'].b", "['scale']"]


# --- ravel_pytree -----------------------------------------------------------------------------

RAVEL_CASES = [  # (tree, the dtype of the flat vector)
    ({"a": np.arange(3, dtype=np.float32), "b": (np.ones((2, 2), np.float32), np.float32(7))}, np.float32),
    ({"a": np.arange(3, dtype=np.float32), "b": np.ones((2, 1), np.float64)}, np.float64),
    ([np.arange(4, dtype=np.int32).reshape(2, 2), np.array([True, False])], np.int32),
    ([np.float16(1.5), np.arange(2, dtype=np.float32)], np.float32),
    ([2.0, np.ones(2, np.float32)], np.float64),  # a Python float counts as float64, as in JAX's x64 mode
    ([np.ones((0, 3), np.float32), Point(np.float64(1.0), None)], np.float64),
]


@pytest.mark.parametrize("case", range(len(RAVEL_CASES)))
def test_ravel_pytree_values_dtypes_and_unravel(case):
    tree, dtype = RAVEL_CASES[case]
    flat, unravel = ravel_pytree(tree)
    leaves = tree_leaves(tree)
    want = np.concatenate([np.ravel(np.asarray(x)).astype(dtype) for x in leaves])
    assert_close(flat, want)
    back = unravel(flat)
    assert tree_structure(back) == tree_structure(tree)
    for got, orig in zip(tree_leaves(back), leaves, strict=True):
        assert_close(got, np.asarray(orig))  # each leaf's own dtype and shape again


def test_ravel_pytree_results_are_new_arrays():
    """Writing into the flat vector or an unraveled leaf changes neither the tree nor the vector."""
    x = np.arange(3.0)
    flat, _ = ravel_pytree([x])  # one leaf: the concatenation alone would be a view of x
    flat[0] = 100.0
    assert x[0] == 0.0
    for tree in ({"a": x}, {"a": x, "b": np.ones(2, np.float32)}):
        flat, unravel = ravel_pytree(tree)
        back = unravel(flat)
        back["a"][0] = 50.0
        assert host(flat)[0] == 0.0 and x[0] == 0.0


def test_ravel_pytree_empty_tree():
    flat, unravel = ravel_pytree({"a": None, "b": []})
    assert_close(flat, np.zeros(0, np.float32))
    assert unravel(flat) == {"a": None, "b": []}


def test_unravel_checks_length_and_dtype():
    flat, unravel = ravel_pytree({"a": np.ones(2, np.float32), "b": np.ones(1, np.float64)})
    with pytest.raises(ValueError, match="length 3"):
        unravel(fnp.zeros(4))
    with pytest.raises(TypeError, match="dtype float64, got an array of dtype float32"):
        unravel(fnp.zeros(3, dtype=np.float32))
    # one dtype throughout: unravel keeps the dtype it is given, as JAX's does
    _, unravel1 = ravel_pytree([np.ones(2, np.float32)])
    assert host(unravel1(fnp.zeros(2, dtype=np.float64))[0]).dtype == np.float64


def test_ravel_pytree_under_transforms():
    params = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([0.5, -1.0])}
    flat, unravel = ravel_pytree(params)

    def loss_of_tree(p):
        return fnp.sum(ravel_pytree(p)[0] ** 2)

    def loss_of_vector(v):
        p = unravel(v)
        return fnp.sum(p["w"] ** 2) + fnp.sum(p["b"] ** 2)

    g = ft.grad(loss_of_tree)(params)
    assert_close(g["w"], 2 * params["w"])
    assert_close(g["b"], 2 * params["b"])
    assert_close(ft.jit(ft.grad(loss_of_vector))(flat), 2 * host(flat))
    assert_close(ft.jit(lambda p: ravel_pytree(p)[0])(params), host(flat))
    batched = ft.vmap(lambda v: unravel(v)["w"])(fnp.stack([flat, 2 * flat]))
    assert_close(batched, np.stack([params["w"], 2 * params["w"]]))
    ft.test_util.check_grads(loss_of_vector, (host(flat),), order=2, modes=("fwd", "rev"))


def test_ravel_pytree_of_a_jax_style_parameter_list():
    """A Newton or L-BFGS solver written for one vector runs on a list of layers."""
    params = [{"w": np.full((2, 2), 0.5), "b": np.zeros(2)}, {"w": np.ones((2, 1)), "b": np.zeros(1)}]
    flat, unravel = ravel_pytree(params)
    assert host(flat).shape == (4 + 2 + 2 + 1,)
    again = functools.reduce(lambda acc, _: unravel(ravel_pytree(acc)[0]), range(3), params)
    for a, b in zip(tree_leaves(host(again)), tree_leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
