"""Printing a jaxpr as text (the JAX style) and as Graphviz DOT."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from functrace.errors import FunctraceError
from functrace.ir import Jaxpr, Literal

# Names the generator never hands out: the parser reads them as keywords or float literals.
_RESERVED_NAMES = frozenset({"in", "let", "inf", "nan"})


def var_names():
    """a, b, ..., z, ba, bb, ... — the same naming scheme as JAX (skipping ``in``, ``let``,
    ``inf`` and ``nan``, so the text parses back unambiguously)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k //= 26
            if k == 0:
                break
        n += 1
        if s not in _RESERVED_NAMES:
            yield s


def _fmt_scalar(v, dtype: np.dtype) -> str:
    """One scalar at its dtype's shortest exact form (a float32 0.1 prints as 0.1)."""
    if dtype.kind == "b":
        return "True" if v else "False"
    if dtype.kind == "f":
        return str(v) if isinstance(v, np.floating) else repr(float(v))
    if dtype.kind in "iu":
        return str(int(v))
    if dtype.kind == "c":  # always (re+imj), so the parser can tell it from a float
        c = dtype.type(v)
        im = str(c.imag)
        return f"({c.real}{'' if im.startswith('-') else '+'}{im}j)"
    return str(v)


def _fmt_literal(lit: Literal) -> str:
    return _fmt_scalar(lit.val, lit.aval.dtype)


# ---------------------------------------------------------------------------- literal dtypes
# A literal prints as its value only (``mul b 2.0``). The parser gives it the dtype of the first
# variable operand of its equation of the same kind (float, int, bool, complex), or the default
# below; where that would be wrong the printer spells the type out (``0:i32[]``).
_DEFAULT_LITERAL_DTYPE = {"f": np.dtype(np.float64), "i": np.dtype(np.int64), "b": np.dtype(bool),
                          "c": np.dtype(np.complex128)}


def literal_kind(dtype: np.dtype) -> str:
    """The kind a literal's text shows: ``f`` (float), ``i`` (int or uint), ``b`` or ``c``."""
    return "i" if dtype.kind == "u" else dtype.kind


def implied_literal_dtype(kind: str, operands) -> np.dtype:
    """The dtype the parser gives a literal of ``kind`` among an equation's ``operands``."""
    for x in operands:
        if not isinstance(x, Literal) and literal_kind(x.aval.dtype) == kind:
            return x.aval.dtype
    return _DEFAULT_LITERAL_DTYPE[kind]


def _fmt_atom_literal(lit: Literal, operands) -> str:
    text = _fmt_literal(lit)
    dt = lit.aval.dtype
    kind = literal_kind(dt)
    if kind not in _DEFAULT_LITERAL_DTYPE or implied_literal_dtype(kind, operands) != dt:
        text += ":" + lit.aval.str_short()
    return text


# ---------------------------------------------------------------------------- constants
# Constants of up to this many elements print inline (``a:f64[3]=[0.0, 1.0, 2.0]``); larger
# ones print as a reference (``a:f32[64,64]=c0``) to an array that ``ClosedJaxpr.save`` writes.
INLINE_CONST_SIZE = 16


def _fmt_array(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return _fmt_scalar(arr[()], arr.dtype)
    return "[" + ", ".join(_fmt_array(a) for a in arr) + "]"


class _ConstSink:
    """Collects the large constants of one printed program, naming them c0, c1, ... in order."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, arr: np.ndarray) -> str:
        name = f"c{len(self.arrays)}"
        self.arrays[name] = arr
        return name


def _host(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _fmt_const(x, aval, sink: _ConstSink) -> str:
    arr = _host(x).astype(aval.dtype, copy=False).reshape(aval.shape)
    if arr.size <= INLINE_CONST_SIZE:
        return _fmt_array(arr)
    return sink.add(arr)


def _fmt_param(v, indent: str, sink: _ConstSink | None = None) -> str:
    from functrace.ir import ClosedJaxpr

    if isinstance(v, Jaxpr):
        return pp_jaxpr(v, indent + "    ", sink=sink)
    if isinstance(v, ClosedJaxpr):
        return pp_jaxpr(v.jaxpr, indent + "    ", consts=v.consts, sink=sink)
    if isinstance(v, (tuple, list)):
        inner = ", ".join(_fmt_param(e, indent, sink) for e in v)
        if isinstance(v, list):
            return f"[{inner}]"
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, np.generic):
        return _fmt_scalar(v, v.dtype)
    return str(v)


def pp_jaxpr(jaxpr: Jaxpr, indent: str = "", consts=None, sink: _ConstSink | None = None) -> str:
    """Text form: ``{ lambda c:f32[3] ; a:f32[3]. let b:f32[3] = sin a ... in (b,) }``.

    With ``consts`` (a ClosedJaxpr's values) each constant binder shows its value, inline when
    small and as a reference ``c0`` into ``sink`` when large (see ``INLINE_CONST_SIZE``).
    """
    if sink is None:
        sink = _ConstSink()
    gen = var_names()
    names: dict[int, str] = {}

    def name(v) -> str:
        if isinstance(v, Literal):
            return _fmt_atom_literal(v, ())
        if id(v) not in names:
            names[id(v)] = next(gen)
        return names[id(v)]

    def binder(v) -> str:
        return f"{name(v)}:{v.aval.str_short()}"

    def atom(x, operands) -> str:
        return _fmt_atom_literal(x, operands) if isinstance(x, Literal) else name(x)

    if consts is not None:
        const_binders = [f"{binder(v)}={_fmt_const(c, v.aval, sink)}"
                         for v, c in zip(jaxpr.constvars, consts, strict=True)]
    else:
        const_binders = [binder(v) for v in jaxpr.constvars]
    const_text = " ".join(const_binders)
    ins = " ".join(binder(v) for v in jaxpr.invars)
    lines = [f"{{ lambda {const_text}{' ' if const_text else ''}; {ins}. let"]
    for eqn in jaxpr.eqns:
        outs = " ".join(binder(v) for v in eqn.outvars)
        params = ""
        if eqn.params:
            params = "[" + ", ".join(f"{k}={_fmt_param(v, indent, sink)}" for k, v in eqn.params.items()) + "]"
        args = " ".join(atom(x, eqn.invars) for x in eqn.invars)
        lines.append(f"{indent}    {outs} = {eqn.primitive.name}{params} {args}".rstrip())
    outs = ", ".join(atom(x, ()) for x in jaxpr.outvars)
    if len(jaxpr.outvars) == 1:
        outs += ","
    lines.append(f"{indent}  in ({outs}) }}")
    return "\n".join(lines)


def pp_closed_jaxpr(closed, sink: _ConstSink | None = None) -> str:
    """A ClosedJaxpr's text: its jaxpr with the constants' values (large ones go to ``sink``)."""
    return pp_jaxpr(closed.jaxpr, consts=closed.consts, sink=sink)


# ---------------------------------------------------------------------------- Graphviz DOT
# Node styles: inputs and constants are ellipses at the top, each equation is one box that reads
# like its line of the text form, results are double octagons at the bottom.
_DOT_STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#dbe9f6"',
    "const": 'shape=ellipse, style="filled,dashed", fillcolor="#eeeeee"',
    "undefined": 'shape=ellipse, style=filled, fillcolor="#f4cccc"',
    "eqn": 'shape=box, style="rounded,filled", fillcolor="#fff6dd"',
    "output": 'shape=doubleoctagon, style=filled, fillcolor="#d9ead3"',
    "empty": "shape=plaintext",
}


def _dot_str(text: str) -> str:
    r"""``text`` as a DOT quoted string. Multi-line text is left-justified (each line ends in ``\l``)."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"')
    lines = esc.split("\n")
    return '"' + ("".join(line + "\\l" for line in lines) if len(lines) > 1 else esc) + '"'


def _dot_param(v) -> str:
    """A parameter value as in the text form, with sub-jaxprs (drawn as clusters) shown as ``{...}``."""
    from functrace.ir import ClosedJaxpr

    if isinstance(v, (Jaxpr, ClosedJaxpr)):
        return "{...}"
    if isinstance(v, str):  # a picture shows the text; the text form quotes it, to parse back
        return v
    if isinstance(v, (tuple, list)):
        inner = ", ".join(_dot_param(x) for x in v)
        if isinstance(v, list):
            return f"[{inner}]"
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return _fmt_param(v, "")


def _sub_jaxprs(params: dict) -> list[tuple[str, Jaxpr]]:
    """The jaxprs inside an equation's params (``body=...``, ``branches=(...)``), with a label each."""
    from functrace.ir import ClosedJaxpr

    def as_jaxpr(x):
        return x.jaxpr if isinstance(x, ClosedJaxpr) else x if isinstance(x, Jaxpr) else None

    found = []
    for k, v in params.items():
        if as_jaxpr(v) is not None:
            found.append((k, as_jaxpr(v)))
        elif isinstance(v, (tuple, list)):
            found.extend((f"{k}[{i}]", as_jaxpr(x)) for i, x in enumerate(v) if as_jaxpr(x) is not None)
    return found


class _DotWriter:
    """Writes one jaxpr (and, as clusters, the jaxprs in its equations' params) as DOT statements.

    Variable names follow ``pp_jaxpr``'s order (constvars, invars, then each equation's outputs),
    so the picture and the printed text use the same letters. Node ids are derived from those
    names and equation positions, never from ``id()``, so the output is deterministic.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n_clusters = 0

    def emit(self, depth: int, stmt: str) -> None:
        self.lines.append("  " * depth + stmt)

    def jaxpr(self, jaxpr: Jaxpr, prefix: str, depth: int) -> str:
        """Emit ``jaxpr``'s nodes and edges with ids starting with ``prefix``; return its first node id."""
        gen = var_names()
        names: dict[int, str] = {}
        node_of: dict[int, str] = {}  # id(var) -> the DOT node that defines it
        declared: list[str] = []

        def declare(node: str, label: str, style: str) -> None:
            self.emit(depth, f"{node} [label={_dot_str(label)}, {_DOT_STYLE[style]}];")
            declared.append(node)

        def name(x) -> str:
            if isinstance(x, Literal):
                return _fmt_literal(x)
            if id(x) not in names:
                names[id(x)] = next(gen)
            return names[id(x)]

        def source(x) -> str:
            """The node an edge carrying ``x`` starts from (a used-but-undefined var gets a red node)."""
            if id(x) not in node_of:
                node_of[id(x)] = f"{prefix}u_{name(x)}"
                declare(node_of[id(x)], f"{name(x)}:{x.aval.str_short()}\n(undefined)", "undefined")
            return node_of[id(x)]

        sources = []
        for kind, vs in (("const", jaxpr.constvars), ("input", jaxpr.invars)):
            for v in vs:
                node_of[id(v)] = f"{prefix}v_{name(v)}"
                declare(node_of[id(v)], f"{name(v)}:{v.aval.str_short()}" + ("\n(const)" if kind == "const" else ""),
                        kind)
                sources.append(node_of[id(v)])
        for i, eqn in enumerate(jaxpr.eqns):
            node = f"{prefix}e{i}"
            outs = " ".join(f"{name(v)}:{v.aval.str_short()}" for v in eqn.outvars)
            args = " ".join(name(x) for x in eqn.invars)
            label = (f"{outs} = " if outs else "") + eqn.primitive.name + (f" {args}" if args else "")
            if eqn.params:
                label += "\n[" + ", ".join(f"{k}={_dot_param(v)}" for k, v in eqn.params.items()) + "]"
            operands = []
            for x in eqn.invars:
                if not isinstance(x, Literal) and x not in operands:
                    operands.append(x)
            edges = [f"{source(x)} -> {node};" for x in operands]
            declare(node, label, "eqn")
            for e in edges:
                self.emit(depth, e)
            for v in eqn.outvars:
                node_of[id(v)] = node
            for key, sub in _sub_jaxprs(eqn.params):
                self.n_clusters += 1
                cluster = f"cluster_{self.n_clusters}"
                self.emit(depth, f"subgraph {cluster} {{")
                self.emit(depth + 1, f"label={_dot_str(f'{eqn.primitive.name}: {key}')};")
                self.emit(depth + 1, 'style="dashed"; color="#999999";')
                anchor = self.jaxpr(sub, f"c{self.n_clusters}_", depth + 1)
                self.emit(depth, "}")
                self.emit(depth, f"{node} -> {anchor} [style=dashed, arrowhead=odot, lhead={cluster}];")
        sinks = []
        for j, x in enumerate(jaxpr.outvars):
            node = f"{prefix}out{j}"
            if isinstance(x, Literal):
                declare(node, f"out {j} = {_fmt_literal(x)}", "output")
            else:
                src = source(x)
                declare(node, f"out {j}", "output")
                self.emit(depth, f"{src} -> {node};")
            sinks.append(node)
        if not declared:
            declare(f"{prefix}empty", "(empty)", "empty")
        if depth == 1:  # rank constraints only at the top level (Graphviz ignores them in clusters)
            for rank, nodes in (("source", sources), ("sink", sinks)):
                if nodes:
                    self.emit(depth, f"{{ rank={rank}; {'; '.join(nodes)}; }}")
        return declared[0]


def jaxpr_to_dot(jaxpr: Jaxpr, graph_name: str = "jaxpr") -> str:
    """Graphviz DOT text of a jaxpr: inputs as ellipses, one box per equation, data flow as edges.

    Each box reads like the equation's line in ``pp_jaxpr`` (same variable names), with its
    params on a second line; jaxprs inside params (control flow bodies) are drawn as dashed
    clusters. Render it with ``ClosedJaxpr.render(path)`` or ``dot -Tsvg``.

    >>> print(ft.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(1.0).to_dot())   # doctest: +ELLIPSIS
    digraph "jaxpr" {
      ...
      v_a [label="a:f64[]", shape=ellipse, ...];
      e0 [label="b:f64[] = sin a", shape=box, ...];
      v_a -> e0;
      ...
    }
    """
    w = _DotWriter()
    w.emit(0, f"digraph {_dot_str(graph_name)} {{")
    w.emit(1, 'rankdir=TB; compound=true; fontname="monospace"; fontsize=10;')
    w.emit(1, 'node [fontname="monospace", fontsize=10];')
    w.emit(1, 'edge [color="#555555"];')
    w.jaxpr(jaxpr, "", 1)
    w.emit(0, "}")
    return "\n".join(w.lines)


# ---------------------------------------------------------------------------- rendering
class GraphvizNotFoundError(FunctraceError, RuntimeError):
    """Rendering a picture needs Graphviz's ``dot`` program, which is not installed."""


def render_dot(dot: str, path: str | os.PathLike, format: str = "svg") -> Path:
    """Run Graphviz's ``dot`` on DOT text, writing a ``format`` picture (svg, png, pdf, ...) to ``path``.

    Only the ``dot`` program is needed (the ``graphviz`` Python package is a wrapper around it).
    Returns the path written; ``ClosedJaxpr.render`` calls this.

    >>> render_dot(ft.make_jaxpr(ft.grad(f))(1.0).to_dot(), "grad_f.png", format="png")  # doctest: +SKIP
    PosixPath('grad_f.png')
    """
    if not re.fullmatch(r"[a-z0-9_:]+", format):
        raise ValueError(f"render: format must be a Graphviz output format such as 'svg' or 'png', got {format!r}")
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFoundError(
            "rendering a jaxpr needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`; conda: "
            "`conda install graphviz`), or save ClosedJaxpr.to_dot() to a .dot file and render it elsewhere")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([exe, f"-T{format}", "-o", str(out)], input=dot.encode(), capture_output=True,
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz `dot -T{format}` failed: {proc.stderr.decode(errors='replace').strip()}")
    return out
