"""Printing a jaxpr as text (the JAX style) and as Graphviz DOT."""

from __future__ import annotations

import numpy as np

from functrace.ir import Jaxpr, Literal


def _names():
    """a, b, ..., z, ba, bb, ... — the same naming scheme as JAX."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    n = 0
    while True:
        s, k = "", n
        while True:
            s = letters[k % 26] + s
            k //= 26
            if k == 0:
                break
        yield s
        n += 1


def _fmt_literal(lit: Literal) -> str:
    v = lit.val
    if isinstance(v, (np.bool_, bool)):
        return "True" if v else "False"
    if np.issubdtype(lit.aval.dtype, np.floating):
        return repr(float(v))
    if np.issubdtype(lit.aval.dtype, np.integer):
        return str(int(v))
    return str(v)


def _fmt_param(v, indent: str) -> str:
    from functrace.ir import ClosedJaxpr

    if isinstance(v, Jaxpr):
        return pp_jaxpr(v, indent + "    ")
    if isinstance(v, ClosedJaxpr):
        return pp_jaxpr(v.jaxpr, indent + "    ")
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    return str(v)


def pp_jaxpr(jaxpr: Jaxpr, indent: str = "") -> str:
    """Text form: ``{ lambda c:f32[3] ; a:f32[3]. let b:f32[3] = sin a ... in (b,) }``."""
    gen = _names()
    names: dict[int, str] = {}

    def name(v) -> str:
        if isinstance(v, Literal):
            return _fmt_literal(v)
        if id(v) not in names:
            names[id(v)] = next(gen)
        return names[id(v)]

    def binder(v) -> str:
        return f"{name(v)}:{v.aval.str_short()}"

    consts = " ".join(binder(v) for v in jaxpr.constvars)
    ins = " ".join(binder(v) for v in jaxpr.invars)
    lines = [f"{{ lambda {consts}{' ' if consts else ''}; {ins}. let"]
    for eqn in jaxpr.eqns:
        outs = " ".join(binder(v) for v in eqn.outvars)
        params = ""
        if eqn.params:
            params = "[" + ", ".join(f"{k}={_fmt_param(v, indent)}" for k, v in eqn.params.items()) + "]"
        args = " ".join(name(x) for x in eqn.invars)
        lines.append(f"{indent}    {outs} = {eqn.primitive.name}{params} {args}".rstrip())
    outs = ", ".join(name(x) for x in jaxpr.outvars)
    if len(jaxpr.outvars) == 1:
        outs += ","
    lines.append(f"{indent}  in ({outs}) }}")
    return "\n".join(lines)


def jaxpr_to_dot(jaxpr: Jaxpr, graph_name: str = "jaxpr") -> str:
    """Graphviz DOT text of a jaxpr: inputs as ellipses, equations as boxes, data as edges."""
    gen = _names()
    names: dict[int, str] = {}

    def name(v) -> str:
        if id(v) not in names:
            names[id(v)] = next(gen)
        return names[id(v)]

    out = [f'digraph "{graph_name}" {{', "  rankdir=TB;", '  node [fontname="monospace"];']
    for kind, vs in (("const", jaxpr.constvars), ("input", jaxpr.invars)):
        for v in vs:
            out.append(f'  v_{name(v)} [shape=ellipse, label="{name(v)}:{v.aval.str_short()}\\n({kind})"];')
    for i, eqn in enumerate(jaxpr.eqns):
        outs = ", ".join(f"{name(v)}:{v.aval.str_short()}" for v in eqn.outvars)
        out.append(f'  e{i} [shape=box, label="{eqn.primitive.name}\\n{outs}"];')
        for x in eqn.invars:
            if isinstance(x, Literal):
                out.append(f'  l{i}_{id(x)} [shape=plaintext, label="{_fmt_literal(x)}"];')
                out.append(f"  l{i}_{id(x)} -> e{i};")
            else:
                out.append(f"  {_src(x, names)} -> e{i};")
        for v in eqn.outvars:
            names.setdefault(id(v), name(v))
            out.append(f'  v_{name(v)} [shape=point, label=""];')
            out.append(f"  e{i} -> v_{name(v)} [arrowhead=none];")
    for j, x in enumerate(jaxpr.outvars):
        out.append(f'  out{j} [shape=doubleoctagon, label="out {j}"];')
        if isinstance(x, Literal):
            out.append(f'  lo{j} [shape=plaintext, label="{_fmt_literal(x)}"];')
            out.append(f"  lo{j} -> out{j};")
        else:
            out.append(f"  {_src(x, names)} -> out{j};")
    out.append("}")
    return "\n".join(out)


def _src(v, names) -> str:
    return f"v_{names[id(v)]}"
