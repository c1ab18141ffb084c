"""SciPy's own non-ufunc functions on traced values: the error names the user's line (this file,
not SciPy's) and the functrace function to call instead."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft

pytest.importorskip("scipy")
import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

CALLS = [
    ("scipy.special.logsumexp", lambda x: scipy.special.logsumexp(x), "functrace.scipy.special.logsumexp"),
    ("scipy.special.polygamma", lambda x: scipy.special.polygamma(1, x), "functrace.scipy.special.polygamma"),
    ("scipy.stats.norm.logpdf", lambda x: scipy.stats.norm.logpdf(x), "functrace.scipy.stats.norm.logpdf"),
    ("scipy.stats.multivariate_normal.logpdf", lambda x: scipy.stats.multivariate_normal.logpdf(x, np.zeros(2)),
     "functrace.scipy.stats.multivariate_normal.logpdf"),
    ("scipy.linalg.cholesky", lambda x: scipy.linalg.cholesky(x), "functrace.scipy.linalg.cholesky"),
    ("scipy.linalg.expm", lambda x: scipy.linalg.expm(x), "functrace.scipy.linalg.expm"),
    ("scipy.linalg.det", lambda x: scipy.linalg.det(x), "functrace.scipy.linalg.det"),
    ("scipy.signal.convolve", lambda x: scipy.signal.convolve(x, x), "functrace.scipy.signal.convolve"),
]


@pytest.mark.parametrize("name,call,twin", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("transform", ["grad", "jit", "vmap"])
def test_scipy_function_on_traced_value_names_the_user_line_and_the_twin(name, call, twin, transform):
    x = np.eye(2) * 2.0
    f = {"grad": lambda v: ft.grad(lambda y: ft.numpy.sum(call(y)))(v),
         "jit": ft.jit(call), "vmap": ft.vmap(call)}[transform]
    with pytest.raises(ft.errors.TracerArrayConversionError) as info:
        f(x[None] if transform == "vmap" else x)
    msg = str(info.value)
    assert msg.startswith(__file__ + ":"), msg  # the user's line, not SciPy's file
    assert f"{name} was called on a traced" in msg
    assert f"call {twin} instead" in msg


def test_scipy_function_without_twin_says_so():
    with pytest.raises(ft.errors.TracerArrayConversionError, match=r"scipy.linalg.schur was called .* functrace.scipy "
                       r"has no function of that name") as info:
        ft.jit(lambda x: scipy.linalg.schur(x)[0])(np.eye(2))
    assert str(info.value).startswith(__file__ + ":")


def test_plain_numpy_conversion_keeps_the_generic_message():
    with pytest.raises(ft.errors.TracerArrayConversionError, match="numpy.asarray/numpy.array") as info:
        ft.jit(lambda x: np.asarray(x))(np.eye(2))
    assert str(info.value).startswith(__file__ + ":")
