"""README.md and docs/*.md cannot rot: their code runs, their printed IR matches, links resolve.

- Every ```python block of a page runs, in order, in one namespace per page (in a temporary
  working directory, so nothing is written into the repository).
- A ```text block preceded by ``<!-- output-of: EXPR -->`` must equal ``str(EXPR)`` evaluated at
  that point. IR printouts are compared on the numpy backend (the default, which the pages
  describe).
- The supported-operations section equals what ``docs/gen_ops.py`` generates.
- Claims the pages make about installing, the device report, NumPy interop and torch's operators
  are checked against what they describe.

torch is optional: a block that uses the torch backend is skipped where torch is not installed
(the rest of its page still runs), and so are the checks of torch's own behaviour.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import HAVE_TORCH, needs_torch

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError, TracerArrayConversionError

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


def needs_torch_backend(body: str) -> bool:
    return 'use_backend("torch")' in body


def run_page(page: Path, check_output: bool) -> tuple[int, int]:
    """Run a page's python blocks in order; with ``check_output``, compare its output-of blocks.
    Without torch, the blocks that use the torch backend are skipped (and said to be, at the end)."""
    ns: dict = {"__name__": f"doc_{page.stem}"}
    ran = checked = 0
    skipped = []
    for i, (lang, body, expr) in enumerate(blocks(page.read_text())):
        if lang == "python" and needs_torch_backend(body) and not HAVE_TORCH:
            skipped.append(i)
            continue
        if lang == "python":
            exec(compile(body, f"{page.name}[block {i}]", "exec"), ns)
            ran += 1
        elif expr is not None and check_output:
            assert lang == "text", f"{page.name}: output-of marker before a {lang!r} block"
            got = str(eval(expr, ns))
            assert got == body.rstrip("\n"), f"{page.name}: the text shown for {expr} is stale; it now prints:\n{got}"
            checked += 1
    if skipped:
        pytest.skip(f"{page.name}: the other blocks ran; block(s) {skipped} use the torch backend, and torch is "
                    "not installed (it is optional)")
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
        'pip install -e ".[dev,examples]" && python examples/quickstart.py',
        "python -m pytest",
    ]


def torch_commands() -> tuple[str, str]:
    """The README's two torch install commands: (CPU only, CUDA), without their comments."""
    text = README.read_text()
    section = text[text.index("### PyTorch (optional)"):]
    lang, body, _ = blocks(section)[0]
    assert lang == "bash"
    lines = [ln.split("#")[0].strip() for ln in body.splitlines() if ln.strip()]
    cpu, cuda = lines
    return cpu, cuda


def test_readme_says_how_to_get_cpu_or_cuda_torch_and_why_the_pin():
    cpu, cuda = torch_commands()
    pin = re.fullmatch(r"pip install (torch==[\d.]+)", cuda).group(1)
    assert cpu == f'pip install {pin} --index-url "$TORCH_CPU_INDEX"'
    assert "TORCH_CPU_INDEX` is PyTorch's own wheel index for CPU builds" in README.read_text()
    text = README.read_text()
    section = text[text.index("### PyTorch (optional)"):text.index("## A tour")]
    assert "CPU only" in section and "CUDA" in section and "Why 2.13.0" in section
    # the torch backend's install hint gives the same two commands
    from functrace.backends import torch_backend

    assert f"`{cpu}`" in torch_backend._INSTALL_HINT and f"`{cuda}`" in torch_backend._INSTALL_HINT


def test_ci_installs_and_tests_as_the_readme_says():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [re.sub(r"\s+--quiet", "", ln.strip()).replace("python -m pip", "pip") for ln in ci.splitlines()]
    _, pinned = torch_commands()  # CI installs the README's pinned torch explicitly, first
    assert pinned in commands
    assert 'pip install -e ".[dev,examples]"' in commands
    assert commands.index(pinned) < commands.index('pip install -e ".[dev,examples]"')
    assert "python -m pytest" in commands and "FUNCTRACE_BACKEND=torch python -m pytest" in commands


def test_torch_is_optional_and_the_project_has_a_licence():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    for name in ("dev", "examples"):  # what the quickstart installs: no multi-GB torch
        assert not any(req.startswith("torch") for req in extras[name]), f"torch is in the {name} extra"
    assert any(req.startswith("torch") for req in extras["torch"])
    assert not any(req.startswith("torch") for req in meta["dependencies"])
    assert meta["license"] == "Apache-2.0"
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence


def test_the_suite_hides_torch_on_request():
    """``FUNCTRACE_TEST_WITHOUT_TORCH=1`` makes ``import torch`` fail as where it is not installed,
    so the suite can be run as a user without torch runs it."""
    import subprocess

    code = ("import conftest, importlib.util\n"
            "try:\n    import torch\nexcept ImportError as e:\n    print('hidden', conftest.HAVE_TORCH)\n"
            "else:\n    print('imported')\n")
    env = {"FUNCTRACE_TEST_WITHOUT_TORCH": "1", "PYTHONPATH": f"{ROOT / 'tests'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hidden", "False"]


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
    for path in ["functrace/ops/", "docs/adding_a_primitive.md", "backends/numpy_<family>.py",
                 "backends/torch_<family>.py", "backends/numpy_backend.py", "backends/torch_backend.py",
                 "tests/test_rule_coverage.py"]:
        assert path in adding
    # the family tables the page names are where the backends' implementations are
    for path in ["backends/numpy_elementwise.py", "backends/torch_elementwise.py"]:
        assert (ROOT / path).exists(), path


def test_readme_picture_is_a_rendered_gradient_program():
    svg = (ROOT / "docs" / "images" / "grad_f.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "<title>grad(f)</title>" in svg and " = sin " in svg and " = cos " in svg
    assert not re.search(r"/(work|home|root|Users|tmp)/", svg), "no machine paths in committed files"


# ---------------------------------------------------------------------------- claims the pages make
REPORT = ROOT / "benchmarks" / "results" / "gpu-check-2026-11-26-nvidia-h100-80gb-hbm3.md"
DEVICE_CLAIM = re.compile(
    r"with PyTorch (?P<torch>\S+), `python -m benchmarks\.gpu_check` passed its (?P<cases>\d+) core cases at "
    r"(?P<rev>[0-9a-f]{7}), and the whole suite passed on CUDA at (?P<clean>[0-9a-f]{7}) \(at (?P=rev) it had "
    r"failed (?P<failed>\d+) tests")


@pytest.mark.parametrize("page", [README, ROOT / "docs" / "backends.md"], ids=lambda p: p.name)
def test_device_claims_match_the_report_they_link(page):
    """What the pages say ran on a GPU is what the linked report records, revision by revision."""
    text = page.read_text()
    assert REPORT.name in text
    m = DEVICE_CLAIM.search(re.sub(r"\s+(?:> )?", " ", text))  # as one line, without quote marks
    assert m, f"{page.name}: the device claim is not in the form this test reads"
    report = REPORT.read_text()
    assert f"PyTorch {m['torch']}" in report
    assert f"functrace revision: {m['rev']}" in report
    assert f"## Core cases: {m['cases']}/{m['cases']} pass" in report
    assert re.search(rf"at {m['rev']} .*?: [\d,]+ passed, \d+ skipped, {m['failed']} failed", report, re.S)
    assert re.search(rf"at {m['clean']} .*?: [\d,]+ passed, \d+ skipped, 0 failed", report, re.S)
    _, pinned = torch_commands()
    assert pinned.split("==")[1] not in m["torch"], "the device run used another torch than the pin: say so"


def test_scipy_special_claims():
    """The README says which SciPy functions reach functrace on traced values: its ufuncs do, and
    its logsumexp (not a ufunc) refuses them, as docs/gen_ops.py writes."""
    sp = pytest.importorskip("scipy.special")
    text = README.read_text()
    start = text.index("**`functrace.scipy.special`**")
    line = " ".join(text[start:text.index("\n\n", start)].split())  # the paragraph, joined
    reach = re.search(r"SciPy's own ufuncs (.*?) called on traced values reach these", line).group(1)
    names = re.findall(r"`(\w+)`", reach)
    assert names and "logsumexp" not in names
    x = np.array([0.3, 0.6])
    for name in names:
        assert isinstance(getattr(sp, name), np.ufunc)
        lead = [x] * (getattr(sp, name).nin - 1)  # binary ufuncs (betaln, gammainc): differentiate the last
        want = ft.grad(lambda v, n=name, lead=lead: fnp.sum(getattr(ft.scipy.special, n)(*lead, v)))(x)
        got = ft.grad(lambda v, n=name, lead=lead: fnp.sum(getattr(sp, n)(*lead, v)))(x)
        np.testing.assert_allclose(ft.device_get(got), ft.device_get(want))
    refused = re.search(r"reach these; (.*?) in SciPy (is|are) not", line).group(1)
    assert "logsumexp" in re.findall(r"`(\w+)`", refused)
    for name in re.findall(r"`(\w+)`", refused):
        assert not isinstance(getattr(sp, name), np.ufunc)
    assert not isinstance(sp.logsumexp, np.ufunc)
    with pytest.raises(TracerArrayConversionError):
        ft.grad(lambda v: sp.logsumexp(v))(x)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_numpy_interop_conversion_claims(mode):
    """docs/numpy_interop.md: np.asarray and np.array of traced values raise
    TracerArrayConversionError in both modes; float(x) and math functions of a value that carries
    a derivative raise ConcretizationError."""
    import math

    wrap = (lambda f: f) if mode == "eager" else ft.jit
    x = np.array([0.5, 2.0])
    text = (ROOT / "docs" / "numpy_interop.md").read_text()
    assert "raise `TracerArrayConversionError`" in text and "raise `ConcretizationError`" in text
    with pytest.raises(TracerArrayConversionError):
        wrap(ft.grad(lambda v: fnp.sum(np.asarray(v) * v)))(x)
    with pytest.raises(TracerArrayConversionError):
        wrap(ft.grad(lambda v: fnp.sum(np.array([v[0], v[1]]))))(x)
    for f in (lambda v: float(v[0]) * v[1], lambda v: math.exp(v[0]) * v[1], lambda v: v[0].item() * v[1]):
        with pytest.raises(ConcretizationError):
            wrap(ft.grad(f))(x)
    # the page's suggested rewrites work
    g = wrap(ft.grad(lambda v: fnp.sum(fnp.stack([v[0], v[1]]) * float(ft.stop_gradient(v[0])) if mode == "eager"
                                       else fnp.stack([v[0], v[1]]))))(x)
    np.testing.assert_allclose(ft.device_get(g), [0.5, 0.5] if mode == "eager" else [1.0, 1.0])


@needs_torch
def test_backends_page_claims_about_torch_operators():
    """docs/backends.md: ``Tensor * ndarray`` gives a tensor for a CPU tensor, ``ndarray * Tensor``
    raises TypeError; the README's one-line fix, ``ft.device_put``, makes the update work."""
    import subprocess

    import torch

    # torch's own operators, in a fresh process (this suite makes CPU tensors refuse host copies)
    code = ("import numpy as np, torch\n"
            "t, a = torch.ones(3, dtype=torch.float64), np.ones(3)\n"
            "assert isinstance(t * a, torch.Tensor)\n"
            "try:\n    a - t\nexcept TypeError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "unsupported operand type(s) for -: 'numpy.ndarray' and 'Tensor'"
    text = (ROOT / "docs" / "backends.md").read_text()
    assert "`Tensor * ndarray`, which returns a tensor for a CPU tensor" in text
    assert "`ndarray * Tensor`, which\n  raises a `TypeError`" in text
    with ft.use_backend("torch"):
        params = {"w": np.zeros(3), "b": np.zeros(())}
        loss = lambda p: fnp.sum((p["w"] + p["b"] - 1.0) ** 2)  # noqa: E731
        grads = ft.grad(loss)(params)
        with pytest.raises(TypeError):
            ft.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
        params = ft.device_put(params)
        for _ in range(3):
            params = ft.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, ft.grad(loss)(params))
        assert all(isinstance(v, torch.Tensor) for v in params.values())
        # each step multiplies w + b - 1 by 0.2
        np.testing.assert_allclose(ft.device_get(params["w"] + params["b"]), [1 - 0.2 ** 3] * 3)
