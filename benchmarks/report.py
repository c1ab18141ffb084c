"""Render a run as Markdown (the table the README quotes) and write it with its JSON twin.

The report is one dict: ``meta`` (machine, versions, settings, load), ``workloads`` (each with
its tables and a summary row or two) and ``targets``. The JSON file is that dict; the Markdown
is derived from it, so the two cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import frameworks as fw
from benchmarks.timing import fmt_time

STATUS = {"ok": "ok", "mismatch": "**WRONG**", "error": "error", "n/a": "n/a"}


def _cell(row: dict[str, Any], key: str, kind: str) -> str:
    v = row.get(key)
    if kind == "status":
        return STATUS.get(row["status"], row["status"])
    if kind == "text":
        return str(v)
    if v is None:
        return STATUS.get(row["status"], "n/a") if row["status"] in ("n/a", "error") else "–"
    if kind == "time":
        return fmt_time(v)
    if kind == "ratio":
        return f"{v:.2f}×"
    if kind == "float":
        return f"{v:.1f}"
    return str(v)


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return out


def render_table(table: dict[str, Any]) -> list[str]:
    cols = table["columns"]
    lines = [[_cell(r, key, kind) for key, _, kind in cols] for r in table["rows"]]
    out = [f"**{table['title']}**", "", *_table([h for _, h, _ in cols], lines)]
    notes = [f"- {r['impl']}: {r['note']}" for r in table["rows"] if r.get("note")]
    return out + ([""] + notes if notes else [])


def _summary(workloads: list[dict[str, Any]]) -> list[str]:
    """One row per workload headline, one column per implementation: median (× numpy)."""
    entries = [s for w in workloads for s in w["summary"]]
    impls = [i for i in fw.IMPLS if any(i in s["cells"] for s in entries)]
    lines = []
    for s in entries:
        base = s["cells"].get(fw.NUMPY)
        cells = []
        for impl in impls:
            if impl not in s["cells"]:
                cells.append("")
                continue
            t = s["cells"][impl]
            text = fmt_time(t)
            if t is not None and base and impl != fw.NUMPY:
                text += f" ({t / base:.2f}×)"
            cells.append(text)
        lines.append([s["label"], *cells])
    return _table(["workload", *impls], lines)


def _meta(meta: dict[str, Any]) -> list[str]:
    v = meta["versions"]
    threads = ", ".join(f"{k}={val}" for k, val in meta["threads"].items())
    load = meta["load"]
    return [
        f"- date: {meta['date']}; wall time {meta['wall_s']:.0f} s; settings: {meta['settings']}",
        f"- machine: {meta['machine']}",
        f"- functrace revision: {meta.get('revision', 'unknown')}",
        f"- versions: Python {v['python']}, NumPy {v['numpy']}, functrace {v['functrace']}, JAX {v['jax']} "
        f"(jaxlib {v['jaxlib']}), PyTorch {v['torch']}, autograd {v['autograd']}, scikit-learn {v['scikit-learn']}",
        f"- threads: {threads}",
        f"- load average (1 min) before/after: {load['before']:.2f} / {load['after']:.2f}",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    out = [f"# functrace benchmarks ({report['meta']['date']})", "", *_meta(report["meta"]), "",
           "Medians of repeated calls, all measured in this one process. `(1.23×)`: time relative to the "
           "hand-written NumPy of the same row.", "", "## Summary", "", *_summary(report["workloads"]), "",
           "## Targets", ""]
    out += _table(["workload", "target", "measured (medians)", "verdict", "verdict on best repeats"],
                  [[t["workload"], t["target"], t["measured"] or "n/a", t["verdict"], t["on_best"]]
                   for t in report["targets"]])
    for w in report["workloads"]:
        out += ["", f"## {w['name']}: {w['title']}"]
        for table in w["tables"]:
            out += ["", *render_table(table)]
        if w.get("notes"):
            out += [""] + [f"- {n}" for n in w["notes"]]
    return "\n".join(out) + "\n"


def output_paths(path: str, date: str) -> tuple[Path, Path]:
    """``PATH.md`` and ``PATH.json``; a directory gets ``results-DATE.md`` and ``.json`` inside it."""
    p = Path(path)
    if p.is_dir() or path.endswith(("/", "\\")):
        p = p / f"results-{date}"
    elif p.suffix in (".md", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".md"), p.with_name(p.name + ".json")


def write(report: dict[str, Any], path: str) -> tuple[Path, Path]:
    md, js = output_paths(path, report["meta"]["date"])
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return md, js
