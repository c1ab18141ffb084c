"""Pytrees: nested tuples, lists, dicts and None, plus registered user types.

Flattening is iterative (an explicit stack), so deep trees do not hit Python's recursion limit.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Hashable, Iterable

_registry: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable, Hashable]],
                         unflatten_func: Callable[[Hashable, Iterable], Any]) -> None:
    """Register a container type: ``flatten(x) -> (children, aux)``, ``unflatten(aux, children) -> x``."""
    if nodetype in _registry:
        raise ValueError(f"{nodetype.__name__} is already registered as a pytree node")
    _registry[nodetype] = (flatten_func, unflatten_func)


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


def _node_handlers(x: Any):
    h = _registry.get(type(x))
    if h is None and isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return (lambda t: (tuple(t), None), lambda _, c, cls=type(x): cls(*c))
    return h


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

    def __repr__(self) -> str:
        parts: list[str] = []
        stack: list = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif item.node_type is None:
                parts.append("*")
            else:
                nt = item.node_type
                name = nt[1].__name__ if isinstance(nt, tuple) else getattr(nt, "__name__", str(nt))
                parts.append(f"PyTreeDef({name}, [")
                stack.append("])")
                for i, child in reversed(list(enumerate(item.children))):
                    stack.append(child)
                    if i:
                        stack.append(", ")
        return "".join(parts)


LEAF = PyTreeDef(None, None, (), 1)


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """Leaves in order (dict keys sorted) and the structure to rebuild the tree with."""
    leaves: list = []
    # Post-order build with an explicit stack: (node, handler, aux, n_children) frames.
    results: list[PyTreeDef] = []
    stack: list = [("visit", tree)]
    while stack:
        op, item = stack.pop()
        if op == "visit":
            h = None if (is_leaf is not None and is_leaf(item)) else _node_handlers(item)
            if h is None:
                leaves.append(item)
                results.append(LEAF)
                continue
            children, aux = h[0](item)
            children = list(children)
            node_type = type(item) if type(item) in _registry else ("namedtuple", type(item))
            stack.append(("build", (node_type, aux, len(children))))
            for c in reversed(children):
                stack.append(("visit", c))
        else:
            node_type, aux, n = item
            kids = tuple(results[len(results) - n:]) if n else ()
            if n:
                del results[len(results) - n:]
            results.append(PyTreeDef(node_type, aux, kids, sum(k.num_leaves for k in kids)))
    return leaves, results[0]


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable) -> Any:
    """Rebuild a tree of the structure ``treedef`` from ``leaves``."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"tree_unflatten: the structure has {treedef.num_leaves} leaves, got {len(leaves)}")
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


def tree_structure(tree: Any) -> PyTreeDef:
    return tree_flatten(tree)[1]


def tree_map(f: Callable, tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` leafwise over one or more trees of the same structure."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = []
    for r in rest:
        rl, rd = tree_flatten(r, is_leaf)
        if rd != treedef:
            raise ValueError(f"tree_map: tree structures differ: {treedef} and {rd}")
        others.append(rl)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


__all__ = ["register_pytree_node", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_map",
           "tree_structure", "PyTreeDef", "namedtuple"]
