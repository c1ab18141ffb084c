"""The tracing core's small public surface that transforms use (issue 13 item 7): no module
outside ``functrace/tracing*.py`` reads the thread-local ``tracing._state``; interpreters attribute
equations to the user's line through ``tracing.interpreting()``."""

import ast
from pathlib import Path

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import tracing

ROOT = Path(__file__).resolve().parents[1]


def _reads_private_state(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "_state" for a in node.names):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "_state" and isinstance(node.value, ast.Name) \
                and node.value.id == "tracing":
            return True
    return False


def test_no_module_outside_tracing_reads_its_state():
    offenders = [p.relative_to(ROOT).as_posix() for d in ("functrace", "transforms", "backends")
                 for p in sorted((ROOT / d).rglob("*.py"))
                 if not p.name.startswith("tracing") and not p.name.startswith("trace_") and _reads_private_state(p)]
    assert offenders == []


def test_interpreting_attributes_and_restores():
    with tracing.interpreting() as at:
        at(("user_file.py", 7))
        assert tracing.current_source() == ("user_file.py", 7)
        with tracing.interpreting() as inner:
            inner(("user_file.py", 9))
            assert tracing.current_source() == ("user_file.py", 9)
        assert tracing.current_source() == ("user_file.py", 7)
    assert tracing.current_source()[0] == __file__  # back to the caller's own line


def _bad(x):
    return fnp.reshape(x, (7,))  # the line each transform's error must name


@pytest.mark.parametrize("transform", ["jvp", "vmap", "grad-of-jit", "jet"])
def test_errors_inside_interpreted_programs_name_the_users_line(transform):
    x = np.ones(3)
    line = _bad.__code__.co_firstlineno + 1
    with pytest.raises(Exception) as info:
        if transform == "jvp":
            ft.jvp(ft.jit(_bad), (x,), (x,))
        elif transform == "vmap":
            ft.vmap(ft.jit(_bad))(np.ones((2, 3)))
        elif transform == "grad-of-jit":
            ft.grad(lambda x: fnp.sum(ft.jit(_bad)(x)))(x)
        else:
            ft.jet(ft.jit(_bad), (x,), ((x,),))
    assert f"test_tracing_api.py:{line}" in str(info.value)
