"""docs/coverage.md is what docs/gen_coverage.py generates from functrace's namespaces and the
recorded JAX names (docs/jax_names.json), and functrace.numpy covers at least 90 % of
jax.numpy's counted array functions."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_coverage", ROOT / "docs" / "gen_coverage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_coverage_page_is_current():
    gen = _gen()
    assert (ROOT / "docs" / "coverage.md").read_text() == gen.generate(), (
        "docs/coverage.md is stale: run `python docs/gen_coverage.py --write`")


def test_numpy_coverage_is_at_least_90_percent():
    gen = _gen()
    _, rows = gen.table()["modules"]["jax.numpy"]
    have, total = gen.percent(rows)
    assert total > 300 and have / total >= 0.9, f"functrace.numpy covers {have}/{total} of jax.numpy"


def test_recorded_names_are_jax_0_10():
    data = json.loads((ROOT / "docs" / "jax_names.json").read_text())
    assert data["jax_version"].startswith("0.10")
    assert data["modules"]["jax.numpy"]["sum"] == "function"
    assert data["modules"]["jax.numpy"]["float32"] == "type"


def test_every_status_has_a_reason_where_required():
    gen = _gen()
    for jax_mod, (_, rows) in gen.table()["modules"].items():
        for name, status, reason in rows:
            assert status in ("present", "absent", "different", "excluded"), (jax_mod, name)
            if status in ("different", "excluded"):
                assert reason, f"{jax_mod}.{name} is {status} without a reason"
