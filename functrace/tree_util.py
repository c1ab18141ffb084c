"""Pytrees: nested tuples, lists, dicts and None, plus registered user types.

The names and printed forms follow ``jax.tree_util``: a ``PyTreeDef`` prints as JAX's does
(``PyTreeDef({'a': *, 'b': [*, *]})``), and the ``*_with_path`` functions name each leaf by a
tuple of keys (``SequenceKey``, ``DictKey``, ``GetAttrKey``, ``FlattenedIndexKey``) that
``keystr`` renders as ``['b'][0]``.

Flattening is iterative (an explicit stack), so deep trees do not hit Python's recursion limit.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, namedtuple
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

_registry: dict[type, tuple[Callable, Callable]] = {}
# Types registered with ``register_pytree_with_keys``: node -> ((key, child) pairs, aux).
_keyed: dict[type, Callable] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable, Hashable]],
                         unflatten_func: Callable[[Hashable, Iterable], Any]) -> None:
    """Register a container type: ``flatten(x) -> (children, aux)``, ``unflatten(aux, children) -> x``.

    Its children's path keys are ``FlattenedIndexKey(i)``; ``register_pytree_with_keys`` names them.
    """
    if nodetype in _registry:
        raise ValueError(f"{nodetype.__name__} is already registered as a pytree node")
    _registry[nodetype] = (flatten_func, unflatten_func)


def register_pytree_with_keys(nodetype: type,
                              flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]],
                              unflatten_func: Callable[[Hashable, Iterable], Any],
                              flatten_func: Callable[[Any], tuple[Iterable, Hashable]] | None = None) -> None:
    """Register a container type whose children have path keys, as ``jax.tree_util.register_pytree_with_keys``.

    ``flatten_with_keys(x) -> ([(key, child), ...], aux)``; ``flatten_func`` (children without keys)
    defaults to dropping the keys, and is what the plain ``tree_flatten`` calls.
    """
    if flatten_func is None:
        def flatten_func(x: Any) -> tuple[list, Hashable]:
            pairs, aux = flatten_with_keys(x)
            return [child for _, child in pairs], aux
    register_pytree_node(nodetype, flatten_func, unflatten_func)
    _keyed[nodetype] = flatten_with_keys


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda t: (t, None), lambda _, c: list(c))
register_pytree_node(type(None), lambda _: ((), None), lambda _, c: None)


def _dict_flatten(d: dict):
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


register_pytree_node(dict, _dict_flatten, lambda keys, c: dict(zip(keys, c, strict=True)))
register_pytree_node(
    OrderedDict,
    lambda d: (list(d.values()), tuple(d.keys())),
    lambda keys, c: OrderedDict(zip(keys, c, strict=True)),
)


# --- path keys (printed as JAX prints them) -------------------------------------------------

@dataclass(frozen=True)
class SequenceKey:
    """The position of a child in a tuple or list."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclass(frozen=True)
class DictKey:
    """The key of a child in a dict."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclass(frozen=True)
class GetAttrKey:
    """The attribute name of a child (a namedtuple's field)."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclass(frozen=True)
class FlattenedIndexKey:
    """The position of a child among the flattened children of a type registered without keys."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def _simple_str(k: Any) -> str:
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, (DictKey, FlattenedIndexKey)):
        return str(k.key)
    if isinstance(k, GetAttrKey):
        return k.name
    return str(k)


def keystr(keys: tuple, *, simple: bool = False, separator: str = "") -> str:
    """A key path as text: ``"['a'][0].x"``; ``simple=True, separator="/"`` gives ``"a/0/x"``."""
    return separator.join(map(_simple_str if simple else str, keys))


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _node_handlers(x: Any):
    h = _registry.get(type(x))
    if h is None and _is_namedtuple(x):
        return (lambda t: (tuple(t), None), lambda _, c, cls=type(x): cls(*c))
    return h


def _child_keys(node_type: Any, aux: Any, n: int) -> list:
    """The path keys of the ``n`` children of a node (built-in containers and registered types)."""
    if node_type in (tuple, list):
        return [SequenceKey(i) for i in range(n)]
    if node_type in (dict, OrderedDict):
        return [DictKey(k) for k in aux]
    if isinstance(node_type, tuple):  # ("namedtuple", cls)
        return [GetAttrKey(name) for name in node_type[1]._fields]
    return [FlattenedIndexKey(i) for i in range(n)]


class PyTreeDef:
    """The structure of a pytree: node type, auxiliary data and children's structures.

    Equality, hashing and printing walk the structure with an explicit stack, so a tree
    nested thousands of levels deep compares and prints without hitting the recursion limit.
    """

    __slots__ = ("node_type", "aux", "children", "num_leaves", "_flat")

    def __init__(self, node_type, aux, children: tuple, num_leaves: int):
        self.node_type = node_type
        self.aux = aux
        self.children = children
        self.num_leaves = num_leaves
        self._flat: tuple | None = None

    def _key(self) -> tuple:
        """The structure in preorder as one flat tuple of (node_type, aux, number of children)."""
        if self._flat is None:
            out: list = []
            stack = [self]
            while stack:
                node = stack.pop()
                out.append((node.node_type, node.aux, len(node.children)))
                stack.extend(reversed(node.children))
            self._flat = tuple(out)
        return self._flat

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyTreeDef) and (self is other or self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def unflatten(self, leaves: Iterable) -> Any:
        """``tree_unflatten(self, leaves)``, as JAX's ``treedef.unflatten``."""
        return tree_unflatten(self, leaves)

    @property
    def num_nodes(self) -> int:
        """Nodes and leaves together, as JAX counts them."""
        return len(self._key())

    def _brackets(self) -> tuple[str, str, list[str]]:
        """How this node prints: opening text, closing text and a prefix for each child."""
        nt, n = self.node_type, len(self.children)
        if nt is tuple:
            return "(", ",)" if n == 1 else ")", [""] * n
        if nt is list:
            return "[", "]", [""] * n
        if nt is dict:
            return "{", "}", [f"{k!r}: " for k in self.aux]
        if isinstance(nt, tuple):  # ("namedtuple", cls)
            return f"CustomNode(namedtuple[{nt[1].__name__}], [", "])", [""] * n
        return f"CustomNode({getattr(nt, '__name__', str(nt))}[{self.aux}], [", "])", [""] * n

    def __repr__(self) -> str:
        parts: list[str] = []
        stack: list = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif item.node_type is None:
                parts.append("*")
            elif item.node_type is type(None):
                parts.append("None")
            else:
                opening, closing, prefixes = item._brackets()
                parts.append(opening)
                stack.append(closing)
                for i in reversed(range(len(item.children))):
                    stack.append(item.children[i])
                    stack.append(prefixes[i])
                    if i:
                        stack.append(", ")
        return f"PyTreeDef({''.join(parts)})"


LEAF = PyTreeDef(None, None, (), 1)


def _flatten(tree: Any, is_leaf: Callable | None, with_path: bool) -> tuple[list, list | None, PyTreeDef]:
    """Leaves, their key paths (``with_path``) and the structure, in one iterative walk."""
    leaves: list = []
    paths: list | None = [] if with_path else None
    # Post-order build with an explicit stack: (node, handler, aux, n_children) frames.
    results: list[PyTreeDef] = []
    stack: list = [("visit", tree, ())]
    while stack:
        op, item, path = stack.pop()
        if op == "visit":
            h = None if (is_leaf is not None and is_leaf(item)) else _node_handlers(item)
            if h is None:
                leaves.append(item)
                if paths is not None:
                    paths.append(path)
                results.append(LEAF)
                continue
            keyed = _keyed.get(type(item)) if with_path else None
            if keyed is not None:
                pairs, aux = keyed(item)
                pairs = list(pairs)
                keys, children = [k for k, _ in pairs], [c for _, c in pairs]
            else:
                children, aux = h[0](item)
                children = list(children)
            node_type = type(item) if type(item) in _registry else ("namedtuple", type(item))
            stack.append(("build", (node_type, aux, len(children)), None))
            if with_path:
                if keyed is None:
                    keys = _child_keys(node_type, aux, len(children))
                for k, c in zip(reversed(keys), reversed(children), strict=True):
                    stack.append(("visit", c, path + (k,)))
            else:
                for c in reversed(children):
                    stack.append(("visit", c, None))
        else:
            node_type, aux, n = item
            kids = tuple(results[len(results) - n:]) if n else ()
            if n:
                del results[len(results) - n:]
            results.append(PyTreeDef(node_type, aux, kids, sum(k.num_leaves for k in kids)))
    return leaves, paths, results[0]


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """Leaves in order (dict keys sorted) and the structure to rebuild the tree with."""
    if is_leaf is None:  # the shapes every transform flattens on every call: a leaf, a tuple of leaves
        if _node_handlers(tree) is None:
            return [tree], LEAF
        if type(tree) is tuple and all(_node_handlers(c) is None for c in tree):
            return list(tree), PyTreeDef(tuple, None, (LEAF,) * len(tree), len(tree))
    leaves, _, treedef = _flatten(tree, is_leaf, with_path=False)
    return leaves, treedef


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """``([(key_path, leaf), ...], treedef)``: each leaf with the tuple of keys that reaches it."""
    leaves, paths, treedef = _flatten(tree, is_leaf, with_path=True)
    return list(zip(paths, leaves, strict=True)), treedef


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """``[(key_path, leaf), ...]`` in the order of ``tree_leaves``."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable) -> Any:
    """Rebuild a tree of the structure ``treedef`` from ``leaves``."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: the structure has {treedef.num_leaves} leaves, got {len(leaves)}")
    if treedef.node_type is None:
        return leaves[0]
    it = iter(leaves)
    stack: list = [("visit", treedef)]
    results: list = []
    while stack:
        op, item = stack.pop()
        if op == "visit":
            if item.node_type is None:
                results.append(next(it))
                continue
            stack.append(("build", item))
            for c in reversed(item.children):
                stack.append(("visit", c))
        else:
            n = len(item.children)
            kids = results[len(results) - n:] if n else []
            if n:
                del results[len(results) - n:]
            nt = item.node_type
            if isinstance(nt, tuple) and nt[0] == "namedtuple":
                results.append(nt[1](*kids))
            else:
                results.append(_registry[nt][1](item.aux, kids))
    return results[0]


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


def _leaves_of_rest(name: str, treedef: PyTreeDef, rest: tuple, is_leaf: Callable | None) -> list[list]:
    others = []
    for r in rest:
        rl, rd = tree_flatten(r, is_leaf)
        if rd != treedef:
            raise ValueError(f"{name}: tree structures differ: {treedef} and {rd}")
        others.append(rl)
    return others


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise over one or more trees of the same structure."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = _leaves_of_rest("tree_map", treedef, rest, is_leaf)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def tree_map_with_path(f: Callable, tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Like ``tree_map``, but ``f(key_path, leaf, *other_leaves)`` also gets each leaf's key path."""
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = _leaves_of_rest("tree_map_with_path", treedef, rest, is_leaf)
    paths = [p for p, _ in pairs]
    leaves = [x for _, x in pairs]
    return tree_unflatten(treedef, [f(p, *xs) for p, *xs in zip(paths, leaves, *others, strict=True)])


_NO_INITIALIZER = object()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any, initializer: Any = _NO_INITIALIZER,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``functools.reduce`` over the leaves; a tree with no leaves needs an ``initializer``."""
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        if not leaves:
            raise TypeError("tree_reduce: the tree has no leaves and no initializer was given; pass initializer=")
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every leaf is truthy (``True`` for a tree with no leaves)."""
    return all(tree_leaves(tree, is_leaf))


__all__ = ["register_pytree_node", "register_pytree_with_keys", "tree_flatten", "tree_unflatten", "tree_leaves",
           "tree_map", "tree_structure", "tree_reduce", "tree_all", "tree_map_with_path", "tree_flatten_with_path",
           "tree_leaves_with_path", "keystr", "SequenceKey", "DictKey", "GetAttrKey", "FlattenedIndexKey",
           "PyTreeDef", "namedtuple"]
