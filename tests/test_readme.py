"""README.md and docs/*.md cannot rot: their code runs, their printed IR matches, links resolve.

- Every ```python block of a page runs, in order, in one namespace per page (in a temporary
  working directory, so nothing is written into the repository).
- A ```text block preceded by ``<!-- output-of: EXPR -->`` must equal ``str(EXPR)`` evaluated at
  that point. IR printouts are compared on the numpy backend (the default, which the pages
  describe).
- The supported-operations section equals what ``docs/gen_ops.py`` generates.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import functrace as ft

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
# Files the README links to that another part of the project is writing.
PENDING_LINKS = {"benchmarks/README.md"}

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)``` *$", re.M | re.S)
OUTPUT_OF = re.compile(r"<!-- output-of: (?P<expr>[^\n]+?) -->\s*$")  # only at the very end


def load_gen_ops():
    spec = importlib.util.spec_from_file_location("gen_ops", ROOT / "docs" / "gen_ops.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def blocks(text: str) -> list[tuple[str, str, str | None]]:
    """(language, dedented body, output-of expression or None) for each fenced block, in order."""
    out = []
    for m in FENCE.finditer(text):
        n = len(m.group("indent"))
        body = "".join(line[n:] if line[:n].strip() == "" else line
                       for line in m.group("body").splitlines(keepends=True))
        mark = OUTPUT_OF.search(text[:m.start()])  # the marker must be the last thing before the fence
        expr = mark.group("expr") if mark else None
        out.append((m.group("lang"), body, expr))
    return out


def run_page(page: Path, check_output: bool) -> tuple[int, int]:
    """Run a page's python blocks in order; with ``check_output``, compare its output-of blocks."""
    ns: dict = {"__name__": f"doc_{page.stem}"}
    ran = checked = 0
    for i, (lang, body, expr) in enumerate(blocks(page.read_text())):
        if lang == "python":
            exec(compile(body, f"{page.name}[block {i}]", "exec"), ns)
            ran += 1
        elif expr is not None and check_output:
            assert lang == "text", f"{page.name}: output-of marker before a {lang!r} block"
            got = str(eval(expr, ns))
            assert got == body.rstrip("\n"), f"{page.name}: the text shown for {expr} is stale; it now prints:\n{got}"
            checked += 1
    return ran, checked


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_printed_output_matches_on_the_default_backend(page, tmp_path, monkeypatch, capsys):
    """The pages show what the default (numpy) backend prints, so the whole page runs on it."""
    monkeypatch.chdir(tmp_path)
    with ft.use_backend("numpy"):
        ran, checked = run_page(page, check_output=True)
    assert ran > 0, f"{page.name} has no python examples"
    if page in (README, ROOT / "docs" / "ir.md"):
        assert checked >= 2


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run_on_the_active_backend(page, tmp_path, monkeypatch, capsys):
    """The same code under FUNCTRACE_BACKEND (numpy or torch), without comparing printed IR:
    on torch, closed-over 0-d results are tensors and appear as constants rather than literals."""
    monkeypatch.chdir(tmp_path)
    run_page(page, check_output=False)


def test_readme_quickstart_is_the_two_commands():
    text = README.read_text()
    quick = text[text.index("## Quickstart"):]
    lang, body, _ = blocks(quick)[0]
    assert lang == "bash"
    assert body.splitlines() == [
        'pip install torch==2.13.0 && pip install -e ".[dev,examples]" && python examples/quickstart.py',
        "python -m pytest",
    ]


def test_ci_installs_and_tests_as_the_readme_says():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [re.sub(r"\s+--quiet", "", ln.strip()).replace("python -m pip", "pip") for ln in ci.splitlines()]
    assert "pip install torch==2.13.0" in commands
    assert 'pip install -e ".[dev,examples]"' in commands
    assert commands.index("pip install torch==2.13.0") < commands.index('pip install -e ".[dev,examples]"')
    assert "python -m pytest" in commands and "FUNCTRACE_BACKEND=torch python -m pytest" in commands


def test_supported_operations_section_is_generated():
    gen = load_gen_ops()
    want = gen.generate()
    assert gen.current(README.read_text()) == want, (
        "README.md's supported-operations list is stale: run `python docs/gen_ops.py --write`")
    # It lists what the tables hold, e.g. a primitive, a numpy function and an nn function.
    assert "`dot_general`" in want and "`einsum`" in want and "`log_softmax`" in want


def test_splice_replaces_only_the_marked_section():
    gen = load_gen_ops()
    doc = f"intro\n{gen.START}\nold\n{gen.END}\noutro\n"
    assert gen.splice(doc, "new") == f"intro\n{gen.START}\nnew\n{gen.END}\noutro\n"
    assert gen.current(gen.splice(doc, "new")) == "new"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path = (page.parent / target).resolve()
        if str(path.relative_to(ROOT)) in PENDING_LINKS:
            continue
        assert path.exists(), f"{page.name} links to {target}, which does not exist"


def test_readme_covers_what_the_issue_asks():
    text = README.read_text()
    for name in ["quickstart", "logistic_regression", "mlp_digits", "tanh_derivatives", "newton_rosenbrock",
                 "numpy_interop"]:
        assert f"examples/{name}.py" in text
    for heading in ["## A tour", "## Supported operations", "## How it works", "## Benchmarks",
                    "## Adding a primitive"]:
        assert heading in text
    assert "see [benchmarks/readme.md]" in text.lower()
    # what has (and has not) run on a GPU is said, with the device report it rests on
    assert "benchmarks/results/gpu-check-2026-11-26-nvidia-h100-80gb-hbm3.md" in text
    assert "FUNCTRACE_BACKEND" in text and "FUNCTRACE_DEVICE" in text
    adding = text[text.index("## Adding a primitive"):text.index("## Documentation")]
    for path in ["functrace/primitives.py", "transforms/jvp.py", "transforms/transpose.py",
                 "backends/numpy_backend.py", "backends/torch_backend.py"]:
        assert path in adding


def test_readme_picture_is_a_rendered_gradient_program():
    svg = (ROOT / "docs" / "images" / "grad_f.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "<title>grad(f)</title>" in svg and " = sin " in svg and " = cos " in svg
    assert not re.search(r"/(work|home|root|Users|tmp)/", svg), "no machine paths in committed files"
