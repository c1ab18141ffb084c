"""The IR: variables, literals, equations, jaxprs. Immutable data that prints as a program."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace.avals import ShapedArray, scalar_aval


class Var:
    """A value defined once in a jaxpr (an input, a constant or an equation's output)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in the IR, e.g. the ``2.0`` of ``mul b 2.0``."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({self.val!r})"


Atom = Var | Literal


class JaxprEqn:
    """``outvars = primitive[params] invars``, with the user's (file, line) that produced it."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source_info")

    def __init__(self, primitive, invars: list, outvars: list, params: dict, source_info=None):
        self.primitive = primitive
        self.invars = invars
        self.outvars = outvars
        self.params = params
        self.source_info = source_info

    def replace(self, **kw) -> "JaxprEqn":
        d = {s: getattr(self, s) for s in self.__slots__}
        d.update(kw)
        return JaxprEqn(**d)

    def __repr__(self) -> str:
        return f"JaxprEqn({self.primitive.name})"


class Jaxpr:
    """A closed-over-nothing program: constvars and invars in, a list of equations, outvars out."""

    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars: list, invars: list, outvars: list, eqns: list):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        from functrace.pretty import pp_jaxpr

        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars."""

    __slots__ = ("jaxpr", "consts", "in_tree", "out_tree")

    def __init__(self, jaxpr: Jaxpr, consts: list, in_tree=None, out_tree=None):
        if len(jaxpr.constvars) != len(consts):
            raise ValueError("ClosedJaxpr: one const value per constvar is required")
        self.jaxpr = jaxpr
        self.consts = list(consts)
        self.in_tree = in_tree
        self.out_tree = out_tree

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.jaxpr.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.jaxpr.out_avals

    @property
    def eqns(self) -> list[JaxprEqn]:
        return self.jaxpr.eqns

    def to_dot(self, name: str = "jaxpr") -> str:
        from functrace.pretty import jaxpr_to_dot

        return jaxpr_to_dot(self.jaxpr, name)

    def render(self, path: Any, format: str = "svg", name: str = "jaxpr") -> Any:
        """Draw this jaxpr with Graphviz's ``dot`` into ``path`` (svg, png, pdf, ...); returns the path.

        >>> ft.make_jaxpr(ft.grad(f))(1.0).render("grad_f.svg")   # needs Graphviz installed
        """
        from functrace.pretty import render_dot

        return render_dot(self.to_dot(name), path, format)

    def __str__(self) -> str:
        from functrace.pretty import pp_closed_jaxpr

        return pp_closed_jaxpr(self)

    __repr__ = __str__

    def large_consts(self) -> dict[str, Any]:
        """The constants ``str(self)`` names by reference (``c0``, ``c1``, ...), by name; pass them
        to ``parse_jaxpr(text, consts=...)`` (``save`` writes them to a ``.npz`` beside the text)."""
        from functrace.pretty import _ConstSink, pp_closed_jaxpr

        sink = _ConstSink()
        pp_closed_jaxpr(self, sink)
        return dict(sink.arrays)

    def save(self, path: Any) -> Any:
        """Write this program as text to ``path`` (a person can read and diff it) and its large
        constants to ``path`` with suffix ``.npz``; ``functrace.ir.load(path)`` reads it back. No
        pickle: equations whose params hold Python callables (custom derivative rules) are refused.
        Returns the path of the text file.
        """
        from functrace.ir_parse import save

        return save(self, path)


def parse_jaxpr(text: str, consts: dict | None = None) -> "ClosedJaxpr":
    """Read the text ``str(closed_jaxpr)`` prints back into a ``ClosedJaxpr`` (see ``functrace.ir_parse``)."""
    from functrace.ir_parse import parse_jaxpr as parse

    return parse(text, consts)


def load(path: Any) -> "ClosedJaxpr":
    """Read a program written by ``ClosedJaxpr.save``."""
    from functrace.ir_parse import load as load_

    return load_(path)


def literal(val: Any) -> Literal:
    arr = np.asarray(val)
    return Literal(arr[()], scalar_aval(arr.dtype))


class JaxprTypeError(TypeError):
    pass


def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
    """Check every variable is defined once before use and every equation's types follow its rule.

    Run on the output of every pass in the tests.
    """
    from functrace.primitives import abstract_eval_rules

    defined: set[int] = set()

    def define(v: Var) -> None:
        if not isinstance(v, Var):
            raise JaxprTypeError(f"binder {v!r} is not a Var")
        if id(v) in defined:
            raise JaxprTypeError(f"variable {v!r} defined twice")
        defined.add(id(v))

    def read(x) -> ShapedArray:
        if isinstance(x, Literal):
            return x.aval
        if id(x) not in defined:
            raise JaxprTypeError(f"variable {x!r} used before it is defined")
        return x.aval

    for v in jaxpr.constvars + jaxpr.invars:
        define(v)
    for eqn in jaxpr.eqns:
        in_avals = [read(x) for x in eqn.invars]
        rule = abstract_eval_rules[eqn.primitive]
        out = rule(*in_avals, **eqn.params)
        outs = out if eqn.primitive.multiple_results else [out]
        got = [v.aval for v in eqn.outvars]
        if list(outs) != got:
            raise JaxprTypeError(f"{eqn.primitive.name}: rule says {outs}, equation has {got}")
        for v in eqn.outvars:
            define(v)
    for x in jaxpr.outvars:
        read(x)


def dependent_outputs(closed: ClosedJaxpr, in_mask: Sequence[bool]) -> list[bool]:
    """Which outputs of ``closed`` depend on an input flagged in ``in_mask`` (a walk, no tracing)."""
    flagged = {id(v) for v, b in zip(closed.jaxpr.invars, in_mask, strict=True) if b}
    for eqn in closed.jaxpr.eqns:
        if any(not isinstance(x, Literal) and id(x) in flagged for x in eqn.invars):
            flagged.update(id(v) for v in eqn.outvars)
    return [not isinstance(x, Literal) and id(x) in flagged for x in closed.jaxpr.outvars]
