"""Results are the caller's own; closure constants are captured at trace time; a call's result
does not depend on the calls before it (issue 21, items 2, 3, 4 and 13)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host, result_dtype

import functrace as ft
import functrace.numpy as fnp

W = np.array([1.0, -2.0, 3.0])


def _mutate(r):
    """Overwrite a result in place, as a user may; raises if it is read-only or a broadcast."""
    if isinstance(r, np.generic):
        return  # NumPy scalars are immutable: nothing a user can change
    if isinstance(r, np.ndarray):
        r[...] = 12345
    else:
        r.fill_(12345)  # torch; refuses an expanded (broadcast) tensor


def _leaves(tree):
    return ft.tree_util.tree_leaves(tree)


# Programs whose outputs, without care, would be a constant, an input, the same array twice,
# or a view (of an input, of a constant, of a broadcast) on one backend or the other.
OUTPUT_KINDS = {
    "folded constant (grad of a linear map)": (ft.grad(lambda x: fnp.sum(x * W)), (np.ones(3),)),
    "closed-over array returned": (lambda x: (x + 1.0, W), (np.ones(3),)),
    "input passed through": (lambda x, y: (x, y * 2.0), (np.ones(3), np.ones(2))),
    "input twice": (lambda x: (x * 2.0, x * 2.0, x), (np.ones(3),)),
    "broadcast of an input": (lambda x: fnp.broadcast_to(x, (4, 3)), (np.arange(3.0),)),
    "broadcast of a scalar": (ft.grad(lambda x: fnp.sum(2.0 * x)), (np.ones(5),)),
    "grad of mean": (ft.grad(fnp.mean), (np.ones(4),)),
    "transpose of an input": (lambda x: x.T, (np.arange(6.0).reshape(2, 3),)),
    "reshape of an input": (lambda x: fnp.reshape(x, (3, 2)), (np.arange(6.0).reshape(2, 3),)),
    "slice of an input": (lambda x: x[1:], (np.arange(4.0),)),
    "literal output": (lambda x: (x * 2.0, 3.0), (np.ones(2),)),
    "zeros": (lambda x: (x * 2.0, fnp.zeros(3)), (np.ones(2),)),
    "stop_gradient": (lambda x: ft.stop_gradient(x), (np.ones(3),)),
    "same-dtype cast": (lambda x: fnp.asarray(x, dtype=x.dtype), (np.ones(3),)),
    "cond returning an input": (lambda x: ft.lax.cond(True, lambda v: v, lambda v: v * 2.0, x), (np.ones(3),)),
    "while_loop of no steps": (lambda x: ft.lax.while_loop(lambda c: c[0] < -10.0, lambda c: c * 2.0, x),
                               (np.ones(3),)),
    "scan carry passed through": (lambda x: ft.lax.scan(lambda c, _: (c, c * 2.0), x, None, length=2),
                                  (np.ones(3),)),
}


@pytest.mark.parametrize("kind", list(OUTPUT_KINDS))
def test_jit_results_are_the_callers_own(kind):
    fun, args = OUTPUT_KINDS[kind]
    args = ft.device_put(args)
    inputs_before = [host(a).copy() for a in args]
    jitted = ft.jit(fun)
    expected = [host(r).copy() for r in _leaves(jitted(*args))]
    for _ in range(2):
        for r in _leaves(jitted(*args)):
            _mutate(r)
    for got, want in zip(_leaves(jitted(*args)), expected, strict=True):
        np.testing.assert_array_equal(host(got), want)
    for a, before in zip(args, inputs_before, strict=True):
        np.testing.assert_array_equal(host(a), before)  # the caller's inputs were never touched


@pytest.mark.parametrize("transform", ["grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("fun", [fnp.mean, lambda x: fnp.sum(2.0 * x), lambda x: fnp.sum(x * W[:2])],
                         ids=["mean", "sum_2x", "linear"])
def test_eager_transform_results_are_the_callers_own(transform, fun):
    x = ft.device_put(np.array([0.5, -1.5]))
    x_before = host(x).copy()
    if transform == "jvp":
        run = lambda: _leaves(ft.jvp(lambda v: v * fun(v), (x,), (x,)))  # noqa: E731
    elif transform == "vjp":
        run = lambda: _leaves(ft.vjp(lambda v: v, x)[1](x))  # noqa: E731  (the cotangent passes through)
    elif transform == "linearize":
        run = lambda: _leaves(ft.linearize(lambda v: v, x)[1](x))  # noqa: E731
    else:
        run = lambda: _leaves(getattr(ft, transform)(fun)(x))  # noqa: E731
    expected = [host(r).copy() for r in run()]
    for r in run():
        _mutate(r)
    for got, want in zip(run(), expected, strict=True):
        np.testing.assert_array_equal(host(got), want)
    np.testing.assert_array_equal(host(x), x_before)


@pytest.mark.parametrize("case", ["unmapped output", "identity", "moved axis"])
def test_vmap_results_are_the_callers_own(case):
    """vmap's outputs are writable arrays of their own: a value that does not depend on the
    mapped input (broadcast to the batch), an input passed through, an input's axes moved."""
    x = ft.device_put(np.arange(6.0).reshape(3, 2))
    x_before = host(x).copy()
    if case == "unmapped output":
        run = lambda: ft.vmap(lambda v: 2.0 * fnp.sum(v), in_axes=None, axis_size=3)(x)  # noqa: E731
    elif case == "identity":
        run = lambda: ft.vmap(lambda v: v)(x)  # noqa: E731
    else:
        run = lambda: ft.vmap(lambda v: v, out_axes=1)(x)  # noqa: E731
    expected = host(run()).copy()
    out = run()
    assert out is not x
    _mutate(out)
    np.testing.assert_array_equal(host(run()), expected)
    np.testing.assert_array_equal(host(x), x_before)


@pytest.mark.parametrize("transform", ["jvp", "vjp"])
def test_identity_results_are_not_the_inputs(transform):
    x = ft.device_put(np.ones(3))
    outs = _leaves(ft.jvp(lambda v: v, (x,), (x,))) if transform == "jvp" else [ft.vjp(lambda v: v, x)[0]]
    assert all(o is not x for o in outs)


def test_jit_common_outputs_are_not_copied():
    """Only outputs that need it are copied: a program whose outputs are new arrays has no copy."""
    text = ft.jit(lambda x, y: (x * y + 1.0, fnp.sum(x @ y.T))).lower(np.ones((2, 3)), np.ones((2, 3))).as_text()
    assert "_copy(" not in text
    text = ft.jit(lambda x: (x * 2.0, x.T)).lower(np.ones((2, 3))).as_text()
    assert text.count("_copy(") == 1


# ---------------------------------------------------------------------------- item 3: closures
@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
                         ids=["non-uniform", "uniform", "zeros"])
@pytest.mark.parametrize("wrap", ["jit", "jit_grad"])
@pytest.mark.parametrize("read", ["as_is", "reshaped"])
def test_closure_constants_are_captured_at_trace_time(values, wrap, read):
    """As in JAX: a closed-over NumPy array mutated after the first call does not change later
    results, whatever its contents (folded or not); clear_cache() traces again. ``reshaped``: the
    program's constant is a view of the array (the reshape is computed while tracing)."""
    c = np.array(values)
    if read == "as_is":
        fun = lambda x: fnp.sum(x * c)  # noqa: E731
    else:
        fun = lambda x: fnp.sum(fnp.reshape(c, (1, 3)) * x)  # noqa: E731
    f = ft.jit(fun) if wrap == "jit" else ft.jit(ft.grad(fun))
    x = np.array([1.0, 2.0, 4.0])
    first = host(f(x)).copy()
    c[:] = [7.0, -5.0, 0.5]
    np.testing.assert_array_equal(host(f(x)), first)
    np.testing.assert_array_equal(host(f(x + 0.0)), first)
    f.clear_cache()
    now = np.sum(x * c) if wrap == "jit" else c
    assert_close(f(x), now)


# ---------------------------------------------------------------------------- item 4: weak types
def test_jit_cache_key_has_the_weak_type_of_traced_arguments():
    """The issue's example: a weak float64 (Python scalar) traced first must not serve a strong
    float64 later; the result equals a fresh jit's whatever the call history."""
    fun = lambda x: x * np.float32(3)  # noqa: E731
    g = ft.jit(fun)
    out, tan = ft.jvp(g, (2.0,), (1.0,))
    assert result_dtype(out) == np.float32 and result_dtype(tan) == np.float32  # weak x: float32 wins
    out, tan = ft.jvp(g, (np.float64(0.1),), (np.float64(1.0),))
    fresh_out, fresh_tan = ft.jvp(ft.jit(fun), (np.float64(0.1),), (np.float64(1.0),))
    assert result_dtype(out) == result_dtype(fresh_out) == np.float64
    assert result_dtype(tan) == result_dtype(fresh_tan) == np.float64
    assert_close(out, 0.1 * 3.0)
    # and the other order
    g = ft.jit(fun)
    assert result_dtype(ft.jvp(g, (np.float64(0.1),), (np.float64(1.0),))[0]) == np.float64
    assert result_dtype(ft.jvp(g, (2.0,), (1.0,))[0]) == np.float32


@pytest.mark.parametrize("outer", ["grad", "vmap"])
def test_weak_and_strong_calls_under_an_outer_transform_agree_with_fresh_jits(outer):
    fun = lambda x: fnp.sum(x * np.float32(2))  # noqa: E731
    g = ft.jit(fun)
    if outer == "grad":
        weak, strong = ft.grad(g)(1.0), ft.grad(g)(np.float64(1.0))
        fresh = ft.grad(ft.jit(fun))(np.float64(1.0))
    else:
        weak = ft.vmap(lambda s: g(s * 1.0 + 1.0))(np.ones(2, np.float32))
        strong = ft.vmap(g)(np.ones(2))
        fresh = ft.vmap(ft.jit(fun))(np.ones(2))
    assert result_dtype(strong) == result_dtype(fresh)
    assert_close(strong, host(fresh))
    assert weak is not None
