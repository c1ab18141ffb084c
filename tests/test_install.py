"""A regular (non-editable) install puts transforms/ and backends/ inside the package, so a user
project with folders of those names beside it still imports functrace (issue: installed names)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_wheel_install_beside_user_transforms_and_backends_folders(tmp_path):
    site, src = tmp_path / "site", tmp_path / "src"  # built from a copy: setuptools writes build/ in-tree
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("functrace", "transforms", "backends"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert not (site / "transforms").exists() and not (site / "backends").exists()
    assert (site / "functrace" / "transforms" / "autodiff.py").exists()
    assert (site / "functrace" / "backends" / "numpy_backend.py").exists()
    # Every package folder of the source tree was installed (pyproject lists them by hand).
    for init in (ROOT / "functrace").rglob("__init__.py"):
        rel = init.relative_to(ROOT)
        assert (site / rel).exists(), f"{rel} is missing from the install: add it to pyproject's packages"

    user = tmp_path / "project"
    for name in ("transforms", "backends"):
        (user / name).mkdir(parents=True)
        (user / name / "__init__.py").write_text("raise ImportError('the user project\\'s own folder')\n")
    code = ("import functrace as ft, functrace.transforms.autodiff as a, functrace.numpy as fnp;"
            "print(a.__file__); print(float(ft.grad(lambda x: fnp.sin(x) * x)(0.0)))")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", code], cwd=user, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    path, value = run.stdout.split()
    assert Path(path).is_relative_to(site) and float(value) == 0.0
