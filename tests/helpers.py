"""Shared helpers for the value tests of ``functrace.numpy`` and ``functrace.nn``.

Everything here is backend-agnostic: results are brought to the host with ``ft.device_get``
before they are compared, so the same tests run under ``FUNCTRACE_BACKEND=numpy`` and
``FUNCTRACE_BACKEND=torch``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace.ir import typecheck_jaxpr

# Relative tolerances per result dtype (absolute tolerance is scaled the same way, so values
# near zero compare sensibly).
RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def host(x: Any) -> Any:
    """A result tree as NumPy arrays (``np.asarray`` of ``ft.device_get``) on the host."""
    return ft.tree_util.tree_map(lambda leaf: np.asarray(ft.device_get(leaf)), x)


def result_dtype(x: Any) -> np.dtype:
    """The dtype of one result, read through ``ft.device_get`` (backend-agnostic)."""
    return np.dtype(ft.device_get(x).dtype)


def assert_close(actual: Any, expected: Any, rtol: float | None = None, atol: float | None = None,
                 check_dtype: bool = True, what: str = "") -> None:
    """``actual`` (any backend) equals the NumPy value ``expected`` in shape, dtype and value."""
    got_dtype = result_dtype(actual)
    got = np.asarray(ft.device_get(actual))
    want = np.asarray(expected)
    if check_dtype:
        assert got_dtype == want.dtype, f"{what}dtype {got_dtype} != NumPy's {want.dtype}"
    assert got.shape == want.shape, f"{what}shape {got.shape} != NumPy's {want.shape}"
    if want.dtype.kind in "fc":
        tol = RTOL.get(np.dtype(want.dtype), 1e-12) if rtol is None else rtol
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol if atol is None else atol,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def traced_call(f: Callable, *args: Any) -> tuple[Any, ft.ClosedJaxpr]:
    """Run ``f`` through the IR: ``make_jaxpr`` then ``eval_jaxpr``; the jaxpr is type-checked.

    Also checks that the jaxpr's declared output avals match what evaluation produced.
    """
    closed = ft.make_jaxpr(f)(*args)
    typecheck_jaxpr(closed.jaxpr)
    out = ft.eval_jaxpr(closed, *args)
    leaves = ft.tree_util.tree_leaves(out)
    for aval, leaf in zip(closed.out_avals, leaves, strict=True):
        got = np.asarray(ft.device_get(leaf))
        assert (got.shape, result_dtype(leaf)) == (aval.shape, aval.dtype), (
            f"jaxpr declares {aval.str_short()} but evaluation gave {got.dtype}{list(got.shape)}")
    return out, closed


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, domain: str = "real") -> Any:
    """A NumPy array (or 0-d array for ``shape == ()``) drawn from ``domain``.

    Domains: ``real`` (standard normal), ``positive`` (0.5..3), ``unit`` (-0.9..0.9, for
    arcsin/arctanh), ``ge1`` (1.1..3, for arccosh), ``nonzero`` (|x| in 0.5..3, either sign),
    ``small_int`` (-5..5), ``pos_int`` (1..5), ``bool``.
    """
    dtype = np.dtype(dtype)
    if domain == "bool" or dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        lo, hi = {"pos_int": (1, 6), "positive": (1, 6), "nonzero": (1, 6)}.get(domain, (-5, 6))
        x = rng.integers(lo, hi, size=shape)
        if domain == "nonzero":
            x = x * rng.choice([-1, 1], size=shape)
        return np.asarray(x, dtype=dtype)
    if domain == "real":
        x = rng.standard_normal(shape)
    elif domain == "positive":
        x = rng.uniform(0.5, 3.0, shape)
    elif domain == "unit":
        x = rng.uniform(-0.9, 0.9, shape)
    elif domain == "ge1":
        x = rng.uniform(1.1, 3.0, shape)
    elif domain == "nonzero":
        x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], size=shape)
    elif domain == "small_int":
        x = rng.integers(-5, 6, size=shape).astype(np.float64)
    else:
        raise ValueError(f"unknown domain {domain!r}")
    return np.asarray(x, dtype=dtype)


def mlp_loss(params: Any, x: Any, y: Any) -> Any:
    """Mean squared error of a tanh MLP given as a list of (weight, bias) pairs: the small
    training-step program the jit and pass tests share."""
    h = x
    for w, b in params[:-1]:
        h = fnp.tanh(h @ w + b)
    w, b = params[-1]
    return fnp.mean((h @ w + b - y) ** 2)
