"""Every primitive has every rule it needs, declared beside it (docs/adding_a_primitive.md), and a
missing rule met at run time raises functrace's own error naming the primitive, the transform
and the user's line."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.errors import MissingRuleError
from functrace.rules import batching_rules, jvp_rule, jvp_rules, transpose_rules
from functrace.transforms.batching import batching_rule

PRIMS = sorted(P.all_primitives.values(), key=lambda p: p.name)


@pytest.mark.parametrize("prim", PRIMS, ids=lambda p: p.name)
def test_every_primitive_has_its_rules(prim):
    assert jvp_rule(prim) is not None, f"{prim.name}: no JVP rule and not declared zero_derivative"
    assert batching_rule(prim) is not None, f"{prim.name}: no batching rule and not declared elementwise"
    if prim.linear:
        assert prim in transpose_rules, f"{prim.name} is declared linear in {prim.linear} but has no transpose rule"
    if prim.zero_derivative:
        assert prim not in jvp_rules, f"{prim.name} is declared zero_derivative but also registers a JVP rule"
    if prim.elementwise:
        assert prim not in batching_rules, f"{prim.name} is elementwise: the generic batching rule applies"


@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_every_primitive_has_an_implementation_on_every_backend(name):
    if name == "torch":
        pytest.importorskip("torch")
    from functrace.backends.registry import load_backend

    impls = load_backend(name).impls
    missing = sorted(p.name for p in PRIMS if p not in impls)
    assert not missing, f"the {name} backend lacks {missing}"


def test_a_missing_jvp_rule_names_the_primitive_the_transform_and_the_line(monkeypatch):
    monkeypatch.delitem(jvp_rules, P.cosh_p)
    with pytest.raises(MissingRuleError, match=r"test_rule_coverage\.py:\d+.*'cosh'.*JVP.*jvp") as e:
        ft.jvp(lambda x: lax.cosh(x), (1.0,), (1.0,))
    assert isinstance(e.value, NotImplementedError)
    with pytest.raises(MissingRuleError, match=r"test_rule_coverage\.py:\d+.*'cosh'"):
        ft.jit(ft.grad(lambda x: fnp.cosh(x)))(1.0)


def test_a_missing_transpose_rule_names_reverse_mode(monkeypatch):
    monkeypatch.delitem(transpose_rules, P.cumsum_p)
    with pytest.raises(MissingRuleError, match=r"test_rule_coverage\.py:\d+.*'cumsum'.*transpose.*grad"):
        ft.jit(ft.grad(lambda x: fnp.sum(fnp.cumsum(x) ** 2)))(np.ones(3))


def test_a_missing_batching_rule_names_vmap(monkeypatch):
    monkeypatch.delitem(batching_rules, P.cumsum_p)
    with pytest.raises(MissingRuleError, match=r"test_rule_coverage\.py:\d+.*'cumsum'.*batching.*vmap"):
        ft.vmap(lambda x: fnp.cumsum(x))(np.ones((2, 3)))
