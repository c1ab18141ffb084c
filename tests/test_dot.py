"""Graphviz export of jaxprs: ``ClosedJaxpr.to_dot()`` is valid DOT, and ``render`` draws it.

The DOT text tests always run (a small checker below parses what ``jaxpr_to_dot`` writes);
the rendering tests need Graphviz's ``dot`` program and skip cleanly without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import pretty
from functrace.avals import ShapedArray
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from functrace.ops.elementwise import sin_p
from functrace.primitives import Primitive

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's `dot` program is not installed")

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r'"(?:[^"\\]|\\.)*"'


def check_dot(text: str) -> dict:
    """Parse the DOT that ``jaxpr_to_dot`` writes (one statement per line) and check it is well formed.

    Checks: quotes close, braces balance outside quotes, every line is a known statement form,
    every node is declared once, every edge endpoint is a declared node. Returns the nodes
    (id -> attribute text) and the edges (pairs of ids).
    """
    depth = 0
    for ch in re.sub(_QUOTED, "", text):
        assert ch != '"', "unterminated quoted string"
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, "a '}' closes nothing"
    assert depth == 0, "unbalanced braces"
    lines = text.splitlines()
    assert re.fullmatch(rf"digraph {_QUOTED} {{", lines[0]), lines[0]
    assert lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    attr = rf"{_ID}=(?:{_QUOTED}|[A-Za-z0-9_.#]+)"
    attrs = rf"\[{attr}(?:, {attr})*\]"
    for line in lines[1:-1]:
        s = line.strip()
        if m := re.fullmatch(rf"({_ID}) -> ({_ID})(?: {attrs})?;", s):
            edges.append((m.group(1), m.group(2)))
        elif m := re.fullmatch(rf"({_ID}) ({attrs});", s):
            if m.group(1) not in ("node", "edge", "graph"):
                assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
                nodes[m.group(1)] = m.group(2)
        elif re.fullmatch(rf"subgraph cluster_\d+ {{|}}|{{ rank=(source|sink);( {_ID};)+ }}", s):
            pass
        elif re.fullmatch(rf"(?:{attr}; ?)+", s):  # graph attributes: rankdir=TB; label="..."; ...
            pass
        else:
            raise AssertionError(f"not a DOT statement this writer emits: {s!r}")
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} has an undeclared endpoint"
    for ids in re.findall(rf"{{ rank=\w+;((?: {_ID};)+) }}", text):
        for n in ids.replace(";", " ").split():
            assert n in nodes, f"rank constraint names undeclared node {n}"
    return {"nodes": nodes, "edges": edges}


def label(attrs: str) -> str:
    """The label of a node's attribute text, unescaped (``\\l`` line ends become newlines)."""
    raw = re.search(rf"label=({_QUOTED})", attrs).group(1)[1:-1]
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "l" else m.group(1), raw).rstrip("\n")


def f(x):
    return fnp.sin(x) * x ** 2


def test_grad_program_is_valid_dot_with_one_box_per_equation():
    cj = ft.make_jaxpr(ft.grad(f))(1.0)
    g = check_dot(cj.to_dot("grad(f)"))
    boxes = {k: label(v) for k, v in g["nodes"].items() if re.fullmatch(r"e\d+", k)}
    assert len(boxes) == len(cj.eqns)
    # Each box reads as the equation's line of the text form (params moved to a second line).
    text_lines = [ln.strip() for ln in str(cj).splitlines()[1:-1]]
    for i, line in enumerate(text_lines):
        first, *rest = boxes[f"e{i}"].split("\n")
        params = rest[0] if rest else ""
        prim = cj.eqns[i].primitive.name
        assert line == first.replace(f" = {prim}", f" = {prim}{params}", 1)
    # One edge per distinct variable operand, plus one per output.
    n_operand_edges = sum(len({id(x) for x in e.invars if isinstance(x, Var)}) for e in cj.eqns)
    assert len(g["edges"]) == n_operand_edges + len(cj.jaxpr.outvars)
    inputs = [k for k in g["nodes"] if k.startswith("v_")]
    assert len(inputs) == len(cj.jaxpr.constvars) + len(cj.jaxpr.invars) and "out0" in g["nodes"]


def test_names_match_the_printed_text_for_a_matrix_program():
    def loss(w, x):
        return fnp.sum(fnp.tanh(x @ w))

    cj = ft.make_jaxpr(ft.grad(loss))(np.ones((3, 2), np.float32), np.ones((4, 3), np.float32))
    g = check_dot(cj.to_dot())
    k = len(cj.jaxpr.constvars)  # constants are named first, as in the text form
    names = "abcdefgh"
    assert label(g["nodes"][f"v_{names[k]}"]) == f"{names[k]}:f32[3,2]"
    assert label(g["nodes"][f"v_{names[k + 1]}"]) == f"{names[k + 1]}:f32[4,3]"
    dg = [label(a) for a in g["nodes"].values() if "dot_general" in label(a)]
    assert dg and all("dimension_numbers=" in lab for lab in dg)


def test_dot_is_deterministic():
    a = ft.make_jaxpr(ft.grad(ft.grad(f)))(0.5).to_dot()
    b = ft.make_jaxpr(ft.grad(ft.grad(f)))(0.5).to_dot()
    assert a == b
    assert not re.search(r"\d{8,}", a), "node ids must not come from id()"


def test_literal_and_passthrough_outputs_and_consts():
    c = np.arange(3.0)

    def g(x):
        return x * c, 2.0, x

    cj = ft.make_jaxpr(g)(np.ones(3))
    dot = cj.to_dot()
    nodes = check_dot(dot)["nodes"]
    assert label(nodes["out1"]) == "out 1 = 2.0"
    assert ("v_" + "abc"[len(cj.jaxpr.constvars)], "out2") in check_dot(dot)["edges"]
    assert len(cj.jaxpr.constvars) >= 1
    for n in "abc"[:len(cj.jaxpr.constvars)]:
        assert "(const)" in label(nodes[f"v_{n}"])


def test_escaping_of_quotes_and_backslashes():
    a = ShapedArray((), np.dtype("float32"))
    x, y = Var(a), Var(a)
    weird = Primitive("weird")  # not registered: jaxpr_to_dot only reads names and params
    j = Jaxpr([], [x], [y], [JaxprEqn(weird, [x], [y], {"msg": 'say "hi" \\ {there}'})])
    dot = pretty.jaxpr_to_dot(j, 'my "graph" \\ {1}')
    nodes = check_dot(dot)["nodes"]
    assert label(nodes["e0"]) == 'b:f32[] = weird a\n[msg=say "hi" \\ {there}]'


def test_sub_jaxprs_become_clusters_and_undefined_vars_are_flagged():
    a = ShapedArray((), np.dtype("float32"))
    x, y = Var(a), Var(a)
    body = Jaxpr([], [x], [y], [JaxprEqn(sin_p, [x], [y], {})])
    empty = Jaxpr([], [], [], [])
    p, q, r, undefined = Var(a), Var(a), Var(a), Var(a)
    fake = Primitive("fake_cond")
    top = Jaxpr([], [p], [q, undefined],
                [JaxprEqn(fake, [p, r], [q], {"branches": (body, ClosedJaxpr(empty, [])), "n": 2})])
    dot = pretty.jaxpr_to_dot(top)
    g = check_dot(dot)
    assert "subgraph cluster_1 {" in dot and "subgraph cluster_2 {" in dot
    assert label(g["nodes"]["e0"]).endswith("[branches=({...}, {...}), n=2]")
    assert label(g["nodes"]["c1_e0"]) == "b:f32[] = sin a"
    assert ("e0", "c1_v_a") in g["edges"] and ("e0", "c2_empty") in g["edges"]
    # r is read but never defined, and so is the second output: both are drawn, marked undefined.
    assert "(undefined)" in label(g["nodes"]["u_c"]) and ("u_c", "e0") in g["edges"]
    assert any(b == "out1" and "(undefined)" in label(g["nodes"][a_]) for a_, b in g["edges"])


def test_long_chain_is_linear_and_iterative():
    def chain(x):
        for _ in range(3000):
            x = fnp.sin(x)
        return x

    cj = ft.make_jaxpr(chain)(1.0)
    g = check_dot(cj.to_dot())
    assert len(g["edges"]) == 3001


def test_render_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(pretty.shutil, "which", lambda name: None)
    cj = ft.make_jaxpr(f)(1.0)
    with pytest.raises(pretty.GraphvizNotFoundError, match="apt-get install graphviz") as e:
        cj.render(tmp_path / "f.svg")
    assert isinstance(e.value, RuntimeError) and "brew install graphviz" in str(e.value)
    assert not (tmp_path / "f.svg").exists()


def test_render_rejects_a_malformed_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        ft.make_jaxpr(f)(1.0).render(tmp_path / "f.svg", format="svg -o /etc/x")


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_render_writes_a_picture(tmp_path, fmt, magic):
    out = ft.make_jaxpr(ft.grad(f))(1.0).render(tmp_path / "sub" / f"grad_f.{fmt}", format=fmt)
    data = out.read_bytes()
    assert magic in data[:400]
    if fmt == "svg":
        assert " = sin " in data.decode() and "out 0" in data.decode()


@needs_dot
def test_graphviz_parses_every_graph_we_emit(tmp_path):
    a = ShapedArray((), np.dtype("float32"))
    x, y = Var(a), Var(a)
    body = Jaxpr([], [x], [y], [JaxprEqn(sin_p, [x], [y], {})])
    p, q = Var(a), Var(a)
    nested = Jaxpr([], [p], [q], [JaxprEqn(Primitive("fake_call"), [p], [q], {"body": body, "s": 'a"b\\'})])
    graphs = [ft.make_jaxpr(ft.grad(ft.grad(f)))(1.0).to_dot('g "2"'), pretty.jaxpr_to_dot(nested),
              ft.make_jaxpr(lambda x: (x, 1.0))(np.ones(2)).to_dot()]
    for dot in graphs:
        proc = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode()


@pytest.mark.parametrize("bad", [
    'digraph "g" {\n  a [label="x"];\n  a -> b;\n}',              # undeclared endpoint
    'digraph "g" {\n  a [label="x];\n}',                           # unterminated string
    'digraph "g" {\n  subgraph cluster_1 {\n  a [label="x"];\n}',  # unbalanced braces
    'digraph "g" {\n  a [label="x"];\n  a [label="y"];\n}',        # declared twice
])
def test_the_checker_itself_rejects_malformed_dot(bad):
    with pytest.raises(AssertionError):
        check_dot(bad)


def test_real_control_flow_draws_its_branches_as_clusters():
    def g(x):
        return ft.lax.cond(x > 0, lambda x: x ** 2, lambda x: -x, x)

    cj = ft.make_jaxpr(ft.grad(g))(1.0)
    dot = cj.to_dot()
    nodes = check_dot(dot)["nodes"]
    conds = [e for e in cj.eqns if e.primitive.name == "cond"]
    n_branches = sum(len(e.params["branches"]) for e in conds)
    assert conds and dot.count("subgraph cluster_") == n_branches
    assert sum(1 for k in nodes if re.fullmatch(r"c\d+_out0", k)) == n_branches
    if HAVE_DOT:
        proc = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode()
