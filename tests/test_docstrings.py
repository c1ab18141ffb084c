"""The examples in the public docstrings run and print what they say (numpy backend)."""

import doctest

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

PUBLIC = ["grad", "value_and_grad", "jvp", "linearize", "vjp", "jacfwd", "jacrev", "hessian", "stop_gradient",
          "make_jaxpr", "eval_jaxpr", "device_get", "device_put"]


@pytest.mark.skipif(ft.get_backend() != "numpy", reason="docstring outputs show NumPy results")
@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_examples(name):
    f = getattr(ft, name)
    assert f.__doc__ and ">>>" in f.__doc__, f"{name} needs a docstring with an example"
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(f, name, globs={"ft": ft, "fnp": fnp, "np": np}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
