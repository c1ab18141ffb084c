"""Smoke tests of examples/per_example_grads.py and examples/rnn_scan.py, run in-process through
``main(argv)`` with small sizes; they check the numbers the examples return."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["per_example_grads", "rnn_scan"])
def test_docstring_main_and_help(name):
    mod = load(name)
    assert mod.__doc__ and f"python examples/{name}.py" in mod.__doc__
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0


def test_per_example_grads(capsys):
    res = load("per_example_grads").main(["--examples", "24", "--steps", "15", "--hidden", "6"])
    assert res["max_diff_vs_loop"] < 1e-12
    assert res["grad_shapes"] == {"w1": (24, 8, 6), "b1": (24, 6), "w2": (24, 6), "b2": (24,)}
    assert np.all(res["norms"] > 0)
    assert res["loss_history"][-1] < 0.5 * res["loss_history"][0]
    assert res["accuracy"] > 0.85
    assert "largest difference from a Python loop" in capsys.readouterr().out


def test_rnn_scan(capsys):
    res = load("rnn_scan").main(["--length", "12", "--sequences", "6", "--hidden", "5", "--steps", "25"])
    assert res["cumsum_error"] < 1e-12
    assert res["grad_error"] < 1e-10
    assert res["loss_history"][-1] < 0.5 * res["loss_history"][0]
    # the gradient of a scan is a loop too: its size does not depend on the sequence length
    assert res["jaxpr_sizes"][10] == res["jaxpr_sizes"][1000] < res["unrolled_size"]
    out = capsys.readouterr().out
    assert "scan[jaxpr={ lambda" in out
