"""``nn.dot_product_attention`` against a NumPy reference written head by head, and the keyword
arguments of the softmax family, ``logsumexp``, ``standardize`` and ``one_hot`` against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

nn = ft.nn
f32, f64 = np.float32, np.float64


def np_attention(q, k, v, bias=None, mask=None, scale=None, is_causal=False, q_len=None, kv_len=None,
                 window=None):
    """Attention one batch element and one query head at a time, in float64: head n reads key
    head n // G. Masked logits become -0.7 * float32 max, as JAX's."""
    B, T, N, H = q.shape
    S, K = k.shape[1], k.shape[2]
    G = N // K
    scale = 1 / np.sqrt(H) if scale is None else scale
    out = np.zeros((B, T, N, H))
    lse = np.zeros((B, T, N))
    bias = None if bias is None else np.broadcast_to(bias, (B, N, T, S))
    mask = None if mask is None else np.broadcast_to(mask, (B, N, T, S))
    for b in range(B):
        for n in range(N):
            logits = (q[b, :, n, :].astype(f64) @ k[b, :, n // G, :].T.astype(f64)) * scale
            if bias is not None:
                logits = logits + bias[b, n]
            keep = np.ones((T, S), bool)
            if mask is not None:
                keep &= mask[b, n]
            t, s = np.arange(T)[:, None], np.arange(S)[None, :]
            if is_causal:
                keep &= s <= t
            if window is not None:
                keep &= (s >= t - window[0]) & (s <= t + window[1])
            if q_len is not None:
                keep &= t < q_len[b]
            if kv_len is not None:
                keep &= s < kv_len[b]
            logits = np.where(keep, logits, f64(-0.7 * np.finfo(f32).max))
            m = logits.max(axis=1, keepdims=True)
            p = np.exp(logits - m)
            lse[b, :, n] = np.log(p.sum(axis=1)) + m[:, 0]
            out[b, :, n] = (p / p.sum(axis=1, keepdims=True)) @ v[b, :, n // G, :].astype(f64)
            if q_len is not None:
                out[b, q_len[b]:, n] = 0
    return out, lse


def _inputs(dtype, B=2, T=3, S=5, N=4, K=2, H=3, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(dtype) for s in ((B, T, N, H), (B, S, K, H), (B, S, K, H)))


CONFIGS = {
    "mha": dict(K=4, kw={}),
    "gqa": dict(K=2, kw={}),
    "mqa": dict(K=1, kw={}),
    "scale": dict(K=2, kw={"scale": 0.7}),
    "bias(per head)": dict(K=2, kw={"bias": "bias_n"}),
    "bias(shared),mask": dict(K=2, kw={"bias": "bias_1", "mask": "mask"}),
    "causal": dict(K=2, kw={"is_causal": True}),
    "window": dict(K=2, kw={"local_window_size": (1, 2)}),
    "causal,window": dict(K=1, kw={"is_causal": True, "local_window_size": 1}),
    "lengths": dict(K=2, kw={"query_seq_lengths": "q_len", "key_value_seq_lengths": "kv_len"}),
}


def _call_args(kw: dict, B=2, T=3, S=5, N=4):
    rng = np.random.default_rng(5)
    named = {"bias_n": rng.standard_normal((B, N, T, S)), "bias_1": rng.standard_normal((1, 1, T, S)),
             "mask": rng.random((B, N, T, S)) < 0.6, "q_len": np.array([2, 3], np.int32),
             "kv_len": np.array([5, 1], np.int32)}
    return {k: named[v] if isinstance(v, str) else v for k, v in kw.items()}


def _reference_kwargs(kw: dict) -> dict:
    ref = dict(kw)
    ref["q_len"] = ref.pop("query_seq_lengths", None)
    ref["kv_len"] = ref.pop("key_value_seq_lengths", None)
    ref["window"] = ref.pop("local_window_size", None)
    if isinstance(ref["window"], int):
        ref["window"] = (ref["window"], ref["window"])
    return ref


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("dtype", [f32, f64])
def test_attention_matches_numpy(name, dtype):
    cfg = CONFIGS[name]
    q, k, v = _inputs(dtype, K=cfg["K"])
    kw = _call_args(cfg["kw"])
    want, want_lse = np_attention(q, k, v, **_reference_kwargs(kw))
    tol = 2e-5 if dtype == f32 else 1e-12
    got = nn.dot_product_attention(q, k, v, **kw)
    assert_close(got, want.astype(dtype), rtol=tol, atol=tol)
    out, lse = ft.jit(lambda q, k, v: nn.dot_product_attention(q, k, v, **kw, return_residual=True))(q, k, v)
    assert_close(out, want.astype(dtype), rtol=tol, atol=tol)
    assert_close(lse, want_lse.astype(dtype), rtol=tol, atol=tol)


def test_attention_without_a_batch_axis_and_under_vmap():
    q, k, v = _inputs(f64)
    want = host(nn.dot_product_attention(q, k, v, is_causal=True))
    assert_close(nn.dot_product_attention(q[1], k[1], v[1], is_causal=True), want[1])
    assert_close(ft.vmap(lambda a, b, c: nn.dot_product_attention(a, b, c, is_causal=True))(q, k, v), want)
    assert_close(ft.vmap(lambda a, b, c: nn.dot_product_attention(a[None], b[None], c[None], is_causal=True)[0])(
        q, k, v), want)


def test_attention_derivatives():
    q, k, v = _inputs(f64, B=1, T=2, S=3, N=2, K=1, H=2)
    mask = np.array([[[[True, False, True], [True, True, False]]]])
    check_grads(lambda q, k, v: nn.dot_product_attention(q, k, v, mask=mask), (q, k, v), order=2,
                modes=("fwd", "rev"))
    bias = np.random.default_rng(1).standard_normal((1, 2, 2, 3))
    check_grads(lambda b: nn.dot_product_attention(q, k, v, bias=b, is_causal=True), (bias,), order=1,
                modes=("fwd", "rev"))
    # the residual carries no derivative
    g = ft.grad(lambda q: fnp.sum(nn.dot_product_attention(q, k, v, return_residual=True)[1]))(q)
    assert_close(g, np.zeros_like(q))


@pytest.mark.parametrize("call,message", [
    (lambda q, k, v: nn.dot_product_attention(q[:, :, :3], k, v), "multiple"),
    (lambda q, k, v: nn.dot_product_attention(q, k, v.astype(f32)), "dtype"),
    (lambda q, k, v: nn.dot_product_attention(q, k, v[:, :2]), "value"),
    (lambda q, k, v: nn.dot_product_attention(q, k, v, mask=np.ones((1, 1, 3, 5))), "mask"),
    (lambda q, k, v: nn.dot_product_attention(q, k, v, implementation="cudnn"), "cudnn"),
    (lambda q, k, v: nn.dot_product_attention(q, k, v, bias=np.ones((1, 3, 3, 5))), "heads"),
])
def test_attention_errors_name_the_problem(call, message):
    q, k, v = _inputs(f64)
    with pytest.raises(ValueError, match=message) as info:
        call(q, k, v)
    assert "test_nn_attention.py" in str(info.value)


# ---------------------------------------------------------------- keyword arguments against NumPy
def np_lse(a, axis=None, b=None, keepdims=False):
    a = np.asarray(a, np.longdouble)
    s = np.sum(np.exp(a) * (1 if b is None else b), axis=axis, keepdims=keepdims)
    return np.log(np.abs(s)), np.sign(s)


@pytest.mark.parametrize("dtype", [f32, f64])
def test_logsumexp_b_return_sign_and_where(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4)).astype(dtype)
    b = rng.standard_normal((3, 4)).astype(dtype)
    where = rng.random((3, 4)) < 0.7
    tol = 1e-5 if dtype == f32 else 1e-12
    val, sign = np_lse(x, axis=1, b=b)
    got_val, got_sign = nn.logsumexp(x, axis=1, b=b, return_sign=True)
    assert_close(got_val, val.astype(dtype), rtol=tol, atol=tol)
    assert_close(got_sign, sign.astype(dtype))
    with np.errstate(invalid="ignore"):
        assert_close(nn.logsumexp(x, axis=1, b=b), np.where(sign < 0, np.nan, val).astype(dtype), rtol=tol, atol=tol)
    assert_close(nn.logsumexp(x, axis=0, where=where),
                 np_lse(np.where(where, x, -np.inf), axis=0)[0].astype(dtype), rtol=tol, atol=tol)
    # b == 0 leaves an entry out even where a is inf; an empty selection is -inf
    assert_close(nn.logsumexp(np.array([np.inf, 0.0], dtype), b=np.array([0.0, 2.0], dtype)), dtype(np.log(2.0)))
    assert_close(nn.logsumexp(x, axis=1, where=np.zeros((3, 4), bool)), np.full(3, -np.inf, dtype))
    # a Python number b is weak, as in JAX: x keeps its float type
    assert_close(nn.logsumexp(x, axis=1, b=2.0), (np_lse(x, axis=1)[0] + np.log(2.0)).astype(dtype), rtol=tol, atol=tol)
    assert_close(ft.jit(lambda t: nn.logsumexp(t, axis=1, b=b, return_sign=True)[0])(x),
                 val.astype(dtype), rtol=tol, atol=tol)


def test_softmax_where_and_axes():
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    where = np.random.default_rng(4).random((2, 3, 4)) < 0.6
    e = np.where(where, np.exp(x), 0)
    assert_close(nn.softmax(x, where=where), e / e.sum(-1, keepdims=True).clip(1e-300) * (e.sum(-1, keepdims=True) > 0))
    logs = nn.log_softmax(x, axis=(0, 2))
    assert_close(logs, x - np.log(np.exp(x).sum(axis=(0, 2), keepdims=True)))
    assert_close(nn.softmax(x, axis=None), np.exp(x) / np.exp(x).sum())
    lw = host(nn.log_softmax(x, where=where))
    assert np.all(lw[~where] == -np.inf)
    assert_close(ft.vmap(lambda t, w: nn.softmax(t, where=w))(x, where), host(nn.softmax(x, where=where)))


@pytest.mark.parametrize("dtype", [f32, f64])
def test_standardize_keywords(dtype):
    x = (np.random.default_rng(5).standard_normal((4, 6)) * 3 + 2).astype(dtype)
    where = np.random.default_rng(6).random((4, 6)) < 0.7
    tol = 1e-5 if dtype == f32 else 1e-11
    xl = x.astype(np.longdouble)
    m = (xl * where).sum(1, keepdims=True) / where.sum(1, keepdims=True)
    var = (((xl - m) ** 2) * where).sum(1, keepdims=True) / where.sum(1, keepdims=True)
    assert_close(nn.standardize(x, where=where), ((xl - m) / np.sqrt(var + 1e-5)).astype(dtype), rtol=tol, atol=tol)
    assert_close(nn.standardize(x, mean=1.0, variance=4.0, epsilon=0.0), ((x - 1) / 2).astype(dtype))
    assert_close(nn.standardize(x, axis=None, algorithm="stable"),
                 ((xl - xl.mean()) / np.sqrt(xl.var() + 1e-5)).astype(dtype), rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="algorithm"):
        nn.standardize(x, algorithm="exact")


def test_one_hot_keywords_are_keyword_only_and_num_classes_static():
    labels = np.array([2, 0, 5])
    assert_close(nn.one_hot(labels, 3, dtype=np.int8, axis=0), np.array([[0, 1, 0], [0, 0, 0], [1, 0, 0]], np.int8))
    with pytest.raises(TypeError):
        nn.one_hot(labels, 3, np.float32)
    with pytest.raises(TypeError, match="num_classes"):
        ft.jit(lambda n: nn.one_hot(labels, n))(3)
    assert_close(ft.jit(nn.one_hot, static_argnums=1)(labels, 4), np.eye(4)[[2, 0]].tolist() + [[0.0] * 4])


def test_glu_needs_an_even_axis():
    with pytest.raises(ValueError, match="even"):
        nn.glu(np.ones((2, 3)))
    x = np.random.default_rng(0).standard_normal((2, 6))
    assert_close(nn.glu(x), x[:, :3] / (1 + np.exp(-x[:, 3:])))


def test_identity_returns_an_array_of_its_own():
    x = np.arange(3.0)
    y = host(nn.identity(x))
    y[0] = 10.0
    assert x[0] == 0.0 and np.array_equal(host(nn.identity([1, 2])), [1, 2])


def test_every_jax_nn_function_is_there():
    names = ("celu elu selu gelu glu hard_sigmoid hard_silu hard_swish hard_tanh identity leaky_relu log1mexp "
             "log_sigmoid logmeanexp mish relu relu6 sigmoid silu swish soft_sign softplus sparse_plus "
             "sparse_sigmoid squareplus standardize one_hot softmax log_softmax logsumexp dot_product_attention")
    assert set(names.split()) <= set(nn.__all__)
    assert all(callable(getattr(nn, n)) for n in nn.__all__)
