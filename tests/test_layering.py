"""Imports point one way (docs/architecture.md): the core never imports a transform or a backend,
and any module of the three packages can be imported first."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FACADE = {"functrace/__init__.py", "functrace/test_util.py"}  # re-export modules only


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(_package(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(_package(node.module))
            if node.module == "functrace":
                names.update(_package(f"functrace.{a.name}") for a in node.names)
    return names


def _package(module: str) -> str:
    """``functrace.transforms.jvp`` -> ``transforms``; other modules -> their top-level name."""
    parts = module.split(".")
    return (
        parts[1] if parts[0] == "functrace" and len(parts) > 1 and parts[1] in ("transforms", "backends") else parts[0]
    )


def test_the_core_imports_no_transform_and_no_backend():
    offenders = []
    for path in sorted((ROOT / "functrace").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in FACADE:
            continue
        bad = _imported_packages(path) & {"transforms", "backends"}
        if bad:
            offenders.append(f"{rel} imports {sorted(bad)}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    "first",
    [
        "functrace.transforms.autodiff",
        "functrace.transforms.jit",
        "functrace.transforms.batching",
        "functrace.backends.registry",
        "functrace.backends.numpy_backend",
        "functrace.ops.control_flow",
        "functrace.nn",
    ],
)
def test_any_module_can_be_imported_first(first):
    code = f"import {first}; import functrace as ft; print(float(ft.grad(lambda x: x * x)(3.0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "6.0"
