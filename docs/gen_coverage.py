"""Generate docs/coverage.md: the public names of ``jax.numpy`` (with ``jax.numpy.linalg``),
``jax.lax`` (with ``jax.lax.linalg``), ``jax.nn`` and ``jax.random`` against functrace's.

    python docs/gen_coverage.py            # print the page
    python docs/gen_coverage.py --write    # write docs/coverage.md
    python docs/gen_coverage.py --record   # re-record docs/jax_names.json (needs JAX installed)

JAX is not a dependency: its names (and whether each is a function, a type or a constant) were
recorded once, from JAX 0.10.2, in docs/jax_names.json. Each name is *present* (functrace has
it), *absent*, *different* (present, with a behaviour that differs on purpose, reason given) or
*excluded* from the count (dtype objects and classes, printing options, file I/O, dtype
introspection; reason given). tests/test_coverage_doc.py fails when coverage.md differs from
what this prints.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ROOT / "docs" / "jax_names.json"
PAGE = ROOT / "docs" / "coverage.md"

# (JAX module, functrace module) pairs, in page order.
MODULES = [
    ("jax.numpy", "functrace.numpy"),
    ("jax.numpy.linalg", "functrace.numpy.linalg"),
    ("jax.lax", "functrace.lax"),
    ("jax.lax.linalg", "functrace.lax.linalg"),
    ("jax.nn", "functrace.nn"),
    ("jax.random", "functrace.random"),
]

EXCLUDED_NAMES = {
    "jax.numpy": {
        **dict.fromkeys(["array_repr", "array_str", "get_printoptions", "printoptions", "set_printoptions"],
                        "printing options"),
        **dict.fromkeys(["load", "save", "savez", "fromfile"], "file I/O"),
        **dict.fromkeys(["finfo", "iinfo", "can_cast", "promote_types", "issubdtype", "isdtype", "result_type",
                         "dtype"], "dtype introspection (NumPy's own helpers serve)"),
        "fft": "a submodule (FFTs are not part of this issue)",
        "ndarray": "the array type", "ufunc": "the ufunc type",
    },
}
TYPE_REASON = "a dtype, scalar type or class, not an array function"

DIFFERENT = {
    "jax.numpy": {
        "frompyfunc": "returns a vectorize wrapper, without the ufunc methods (reduce, accumulate, ...)",
        "empty_like": "returns zeros (never uninitialised memory), as JAX does too",
        "trim_zeros": "needs concrete values (the result's length depends on them), as in JAX",
        "intersect1d": "needs concrete values unless size= is given",
        "setdiff1d": "needs concrete values unless size= is given",
        "setxor1d": "needs concrete values unless size= is given",
        "union1d": "needs concrete values unless size= is given",
    },
    "jax.numpy.linalg": {
        "det": "derivative through a solve (nan at exactly singular matrices, where JAX uses a cofactor solve)",
        "pinv": "derivative through the SVD (defined where singular values are distinct; JAX has its own rule)",
        "eig": "each eigenvector turned so its largest entry is real and positive (JAX keeps LAPACK's sign, "
               "which is not the same on every LAPACK)",
    },
}


def _load(modname: str):
    try:
        return importlib.import_module(modname)
    except ImportError:
        parent, _, attr = modname.rpartition(".")
        try:
            return getattr(importlib.import_module(parent), attr, None)
        except ImportError:
            return None


def record() -> dict:
    """The public names of JAX's modules and their kinds (run with JAX installed)."""
    import inspect

    import jax

    out = {"jax_version": jax.__version__, "modules": {}}
    for jax_mod, _ in MODULES:
        mod = _load(jax_mod)
        kinds = {}
        for name in sorted(n for n in dir(mod) if not n.startswith("_")):
            obj = getattr(mod, name)
            if inspect.ismodule(obj):
                kind = "module"
            elif isinstance(obj, type) or type(obj).__name__ in ("_ScalarMeta", "dtype"):
                kind = "type"
            elif callable(obj):
                kind = "function"
            else:
                kind = "constant"
            kinds[name] = kind
        out["modules"][jax_mod] = kinds
    return out


def classify(jax_mod: str, name: str, kind: str, ours) -> tuple[str, str]:
    """(status, reason) of one JAX name."""
    reason = EXCLUDED_NAMES.get(jax_mod, {}).get(name)
    if reason:
        return "excluded", reason
    if kind == "type":
        return "excluded", TYPE_REASON
    if jax_mod.startswith("jax.lax") and name.endswith("_p"):
        return "excluded", "a primitive object (functrace's primitives live in functrace.ops)"
    if jax_mod.startswith("jax.lax") and name[0].isupper():
        return "excluded", "a class, enum or type alias"
    present = ours is not None and hasattr(ours, name)
    diff = DIFFERENT.get(jax_mod, {}).get(name)
    if diff and present:
        return "different", diff
    if present:
        return "present", ""
    return "absent", diff or ""


def table() -> dict:
    data = json.loads(NAMES.read_text())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    out = {"jax_version": data["jax_version"], "modules": {}}
    for jax_mod, ft_mod in MODULES:
        ours = _load(ft_mod)
        rows = [(name, *classify(jax_mod, name, kind, ours)) for name, kind in data["modules"][jax_mod].items()]
        out["modules"][jax_mod] = (ft_mod, rows)
    return out


def percent(rows: list) -> tuple[int, int]:
    counted = [r for r in rows if r[1] != "excluded"]
    have = [r for r in counted if r[1] in ("present", "different")]
    return len(have), len(counted)


def generate() -> str:
    t = table()
    lines = [
        "# Coverage of JAX's API",
        "",
        "<!-- generated by `python docs/gen_coverage.py --write`: edit the tables in the script, not this page -->",
        "",
        f"functrace's names against those of JAX {t['jax_version']} (recorded in `docs/jax_names.json`). "
        "*present*: functrace has it with JAX's behaviour; *different*: present, but differing on purpose "
        "(the reason is given); *absent*: not yet; *excluded*: not counted (dtype objects and classes, "
        "printing options, file I/O, dtype introspection).",
        "",
        "The same names as in JAX, so code moves between the two by changing its imports:",
        "",
        "```python",
        "import numpy as np",
        "",
        "import functrace as ft",
        "import functrace.numpy as fnp",
        "",
        "a = np.array([[4.0, 1.0], [1.0, 3.0]])",
        "logdet = lambda m: fnp.linalg.slogdet(m).logabsdet",
        "assert fnp.allclose(ft.grad(logdet)(a), fnp.linalg.inv(a).T)",
        "```",
        "",
        "| JAX module | functrace module | present | of (counted) | coverage |",
        "|---|---|---|---|---|",
    ]
    for jax_mod, (ft_mod, rows) in t["modules"].items():
        have, total = percent(rows)
        pct = f"{100.0 * have / total:.1f} %" if total else "-"
        lines.append(f"| `{jax_mod}` | `{ft_mod}` | {have} | {total} | {pct} |")
    for jax_mod, (_, rows) in t["modules"].items():
        lines += ["", f"## `{jax_mod}`", ""]
        for status in ("absent", "different", "excluded"):
            sel = [r for r in rows if r[1] == status]
            if not sel:
                continue
            lines += [f"**{status}** ({len(sel)}):", ""]
            if status == "excluded":
                by_reason: dict = {}
                for name, _, reason in sel:
                    by_reason.setdefault(reason, []).append(name)
                lines += [f"- {reason}: " + " ".join(f"`{n}`" for n in names) for reason, names in by_reason.items()]
            else:
                lines += [f"- `{n}`" + (f": {reason}" if reason else "") for n, _, reason in sel]
            lines.append("")
        present = [r[0] for r in rows if r[1] == "present"]
        lines += [f"**present** ({len(present)}): " + " ".join(f"`{n}`" for n in present), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write docs/coverage.md")
    parser.add_argument("--record", action="store_true", help="re-record docs/jax_names.json from the installed JAX")
    args = parser.parse_args()
    if args.record:
        NAMES.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    text = generate()
    if args.write:
        PAGE.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
