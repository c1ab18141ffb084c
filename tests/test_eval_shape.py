"""``ft.eval_shape`` and ``ft.ShapeDtypeStruct`` (issue 18 item 2): result shapes and dtypes in the
result's pytree without computing, under every transform; ShapeDtypeStruct arguments to make_jaxpr."""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

S = ft.ShapeDtypeStruct


def mlp(params, x):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    return fnp.sum((h @ params["w2"]) ** 2)


def params_of(dt):
    return {"w1": S((3, 16), dt), "b1": S((16,), dt), "w2": S((16, 2), dt)}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name,make", [
    ("plain", lambda: mlp),
    ("grad", lambda: ft.grad(mlp)),
    ("value_and_grad", lambda: ft.value_and_grad(mlp)),
    ("jvp", lambda: lambda p, x: ft.jvp(lambda x: mlp(p, x), (x,), (fnp.ones_like(x),))),
    ("vjp", lambda: lambda p, x: (lambda out, pullback: pullback(fnp.ones_like(out)))(*ft.vjp(mlp, p, x))),
    ("vmap", lambda: ft.vmap(mlp, in_axes=(None, 0))),
    ("vmap(grad)", lambda: ft.vmap(ft.grad(mlp), in_axes=(None, 0))),
    ("jit", lambda: ft.jit(mlp)),
    ("jit(grad)", lambda: ft.jit(ft.grad(mlp))),
    ("jacfwd", lambda: ft.jacfwd(mlp, argnums=1)),
    ("jacrev", lambda: ft.jacrev(mlp, argnums=1)),
    ("hessian", lambda: ft.hessian(mlp, argnums=1)),
])
def test_eval_shape_matches_the_computed_result_under_every_transform(name, make, dt):
    f = make()
    x_shape = (4, 5, 3) if name.startswith("vmap") else (5, 3)
    shapes = ft.eval_shape(f, params_of(dt), S(x_shape, dt))
    rng = np.random.default_rng(0)
    params = ft.device_put({k: rng.standard_normal(v.shape).astype(dt) for k, v in params_of(dt).items()})
    out = f(params, ft.device_put(rng.standard_normal(x_shape).astype(dt)))
    got = ft.tree_util.tree_map(lambda s: (s.shape, s.dtype), shapes)
    want = ft.tree_util.tree_map(lambda x: (tuple(ft.device_get(x).shape), np.dtype(ft.device_get(x).dtype)), out)
    assert got == want
    assert all(isinstance(s, S) for s in ft.tree_util.tree_leaves(shapes))


def test_eval_shape_computes_nothing():
    calls = []

    def f(x):
        calls.append(type(x).__name__)
        return {"a": fnp.exp(x), "b": (x.sum(), fnp.arange(3))}

    big = S((100_000, 100_000), np.float32)  # 40 GB if it were made
    out = ft.eval_shape(f, big)
    assert out == {"a": S((100_000, 100_000), np.float32), "b": (S((), np.float32), S((3,), np.int64))}
    assert calls == ["Tracer"]


def test_eval_shape_of_arrays_scalars_kwargs_and_control_flow():
    def f(x, n, *, scale):
        c, ys = lax.scan(lambda c, xi: (c + xi * scale, c), fnp.zeros(2, np.float32), x)
        return c, ys, n * 2

    out = ft.eval_shape(f, np.ones((7, 2), np.float32), 3, scale=np.float32(2.0))
    assert out[0] == S((2,), np.float32) and out[1] == S((7, 2), np.float32)
    assert out[2].shape == () and out[2].dtype == np.int64 and out[2].weak_type


def test_shape_dtype_struct_as_make_jaxpr_argument():
    closed = ft.make_jaxpr(lambda x, y: fnp.sin(x) @ y)(S((2, 3), np.float32), np.ones((3, 4), np.float32))
    assert [a.str_short() for a in closed.in_avals] == ["f32[2,3]", "f32[3,4]"]
    assert closed.out_avals[0].str_short() == "f32[2,4]"
    grads = ft.make_jaxpr(ft.grad(lambda x: fnp.sum(x ** 2)))(S((5,), np.float64))
    assert grads.out_avals[0].str_short() == "f64[5]"


def test_shape_dtype_struct_value_semantics_and_errors():
    a = S([2, np.int64(3)], "float32")
    assert a.shape == (2, 3) and a.dtype == np.float32 and a.ndim == 2 and a.size == 6
    assert a == S((2, 3), np.float32) and hash(a) == hash(S((2, 3), np.float32)) and a != S((2, 3), np.float64)
    assert repr(a) == "ShapeDtypeStruct(shape=(2, 3), dtype=float32)"
    with pytest.raises(ValueError, match="negative"):
        S((-1,), np.float32)
    with pytest.raises(TypeError, match="ShapeDtypeStruct"):
        fnp.sin(a)
    with pytest.raises(TypeError, match="no values"):
        ft.grad(lambda x: fnp.sum(x))(a)


def test_shape_dtype_struct_as_jit_lower_argument():
    lowered = ft.jit(lambda x, y: fnp.sin(x) @ y).lower(S((2, 3), np.float32), S((3, 4), np.float32))
    assert lowered.jaxpr.out_avals[0].str_short() == "f32[2,4]"
