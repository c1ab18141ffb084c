"""``functrace.nn`` against outputs of ``jax.nn`` recorded in tests/fixtures/nn_jax.json (see
tests/fixtures/record_nn.py for the JAX version and the exact calls): values, and first and second
derivatives on a grid that includes every kink, so the conventions at kinks are JAX's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close

import functrace as ft

nn = ft.nn
FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "nn_jax.json").read_text())

# The fixture's names, as functrace calls.
ACTIVATIONS: dict[str, Callable] = {
    "relu": nn.relu, "relu6": nn.relu6, "sigmoid": nn.sigmoid, "log_sigmoid": nn.log_sigmoid,
    "softplus": nn.softplus, "soft_sign": nn.soft_sign, "squareplus": nn.squareplus,
    "squareplus(b=2)": lambda x: nn.squareplus(x, b=2.0), "sparse_plus": nn.sparse_plus,
    "sparse_sigmoid": nn.sparse_sigmoid, "silu": nn.silu, "mish": nn.mish, "log1mexp": nn.log1mexp,
    "elu": nn.elu, "elu(alpha=0.5)": lambda x: nn.elu(x, alpha=0.5), "celu": nn.celu,
    "celu(alpha=2)": lambda x: nn.celu(x, alpha=2.0), "selu": nn.selu, "leaky_relu": nn.leaky_relu,
    "leaky_relu(0.2)": lambda x: nn.leaky_relu(x, 0.2), "hard_tanh": nn.hard_tanh,
    "hard_sigmoid": nn.hard_sigmoid, "hard_silu": nn.hard_silu, "gelu": nn.gelu,
    "gelu(approximate=False)": lambda x: nn.gelu(x, approximate=False),
}


def _array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def test_every_recorded_activation_is_tested():
    assert set(ACTIVATIONS) == set(FIXTURES["activations"])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("order", [0, 1, 2])
def test_activation_values_and_derivatives_match_jax(name: str, order: int):
    rec = FIXTURES["activations"][name]
    f = ACTIVATIONS[name]
    for _ in range(order):
        f = ft.grad(f)
    x = _array(rec["x"])
    want = _array(rec[["value", "d1", "d2"][order]])
    with np.errstate(all="ignore"):
        got = ft.vmap(f)(x)
    if name == "log1mexp" and order == 2:
        # JAX's -exp(x) / expm1(x)**2 is inf / inf = nan at x = 800; the true value, -exp(-800)
        # to float precision, is 0, which is what the composition here gives.
        assert float(ft.device_get(got)[-1]) == 0.0 and rec["x"][-1] == 800.0
        got, want = got[:-1], want[:-1]
    # Tolerances: derivatives are compared to 1e-10 (rounding in the rules differs), second
    # derivatives also to 1e-14 absolute (both libraries' logistic' = s(1 - s) loses digits near
    # |x| = 30, where it is 1e-13); the tanh-approximated gelu, which here is x * sigmoid(2u),
    # keeps digits in the far left tail that JAX's 1 + tanh(u) loses (errors of 4e-14 at x = -6);
    # the exact gelu there is computed as x (1 + erf(x / sqrt 2)) / 2, which loses relative digits
    # that JAX's erfc keeps (absolute errors below 2e-16: functrace has no erfc yet).
    rtol = 1e-12 if order == 0 else 1e-10
    atol = {"gelu": 1e-13, "gelu(approximate=False)": 1e-15}.get(name, 1e-14 if order == 2 else 0)
    assert_close(got, want, rtol=rtol, atol=atol, what=f"{name} order {order}: ")


RED = FIXTURES["reductions"]
_X, _WHERE, _B = _array(RED["x"]), np.asarray(RED["where"], bool), _array(RED["b"])
REDUCTIONS: dict[str, Callable] = {
    "logsumexp": lambda x: nn.logsumexp(x),
    "logsumexp(axis=1)": lambda x: nn.logsumexp(x, axis=1),
    "logsumexp(axis=(0,2),keepdims)": lambda x: nn.logsumexp(x, axis=(0, 2), keepdims=True),
    "logsumexp(b)": lambda x: nn.logsumexp(x, axis=-1, b=_B),
    "logsumexp(b,return_sign)": lambda x: nn.logsumexp(x, axis=-1, b=_B, return_sign=True),
    "logsumexp(where)": lambda x: nn.logsumexp(x, axis=-1, where=_WHERE),
    "logmeanexp(axis=-1)": lambda x: nn.logmeanexp(x, axis=-1),
    "logmeanexp(where)": lambda x: nn.logmeanexp(x, axis=-1, where=_WHERE),
    "logmeanexp(axis=None)": lambda x: nn.logmeanexp(x),
    "softmax": lambda x: nn.softmax(x),
    "softmax(axis=(1,2))": lambda x: nn.softmax(x, axis=(1, 2)),
    "softmax(axis=None)": lambda x: nn.softmax(x, axis=None),
    "softmax(where)": lambda x: nn.softmax(x, where=_WHERE),
    "log_softmax(axis=0)": lambda x: nn.log_softmax(x, axis=0),
    "log_softmax(where)": lambda x: nn.log_softmax(x, where=_WHERE),
    "standardize": lambda x: nn.standardize(x),
    "standardize(axis=(0,1))": lambda x: nn.standardize(x, axis=(0, 1)),
    "standardize(stable)": lambda x: nn.standardize(x + 3.0, algorithm="stable"),
    "standardize(where)": lambda x: nn.standardize(x, where=_WHERE),
    "standardize(mean,variance)": lambda x: nn.standardize(x, mean=0.5, variance=2.0, epsilon=0.1),
}


def test_every_recorded_reduction_is_tested():
    assert set(REDUCTIONS) == set(RED) - {"x", "where", "b"}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_reductions_match_jax(name: str, mode: str):
    f = REDUCTIONS[name] if mode == "eager" else ft.jit(REDUCTIONS[name])
    with np.errstate(all="ignore"):
        got = f(_X)
    want = RED[name]
    if isinstance(got, tuple):
        for g, w in zip(got, want, strict=True):
            assert_close(g, _array(w), rtol=1e-12, atol=1e-14, what=f"{name}: ")
    else:
        assert_close(got, _array(want), rtol=1e-12, atol=1e-14, what=f"{name}: ")


ATT = FIXTURES["attention"]
_IN = {k: np.asarray(v, bool if k == "mask" else np.int32 if k in ("ql", "kvl") else np.float32)
       for k, v in ATT["inputs"].items()}
ATTENTION: dict[str, dict] = {
    "gqa": dict(query="q", key="k", value="v"),
    "mqa": dict(query="q", key="k1", value="v1"),
    "mha": dict(query="q[:2]", key="k", value="v"),
    "bias_n,scale": dict(query="q", key="k", value="v", bias="bias_n", scale=0.3),
    "bias_1,mask": dict(query="q", key="k", value="v", bias="bias_1", mask="mask"),
    "causal": dict(query="q", key="k", value="v", is_causal=True),
    "window": dict(query="q", key="k", value="v", local_window_size=(1, 0)),
    "window_int": dict(query="q", key="k", value="v", local_window_size=1),
    "lengths": dict(query="q", key="k", value="v", query_seq_lengths="ql", key_value_seq_lengths="kvl"),
    "residual": dict(query="q", key="k", value="v", is_causal=True, return_residual=True),
    "unbatched": dict(query="q[0]", key="k[0]", value="v[0]"),
}


def _attention_args(spec: dict) -> dict:
    def arg(v):
        if not isinstance(v, str):
            return v
        if v == "q[:2]":
            return _IN["q"][:, :, :2]
        return _IN[v[:-3]][0] if v.endswith("[0]") else _IN[v]

    return {k: arg(v) for k, v in spec.items()}


def test_every_recorded_attention_case_is_tested():
    assert set(ATTENTION) == set(ATT) - {"inputs"}


@pytest.mark.parametrize("name", sorted(ATTENTION))
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_dot_product_attention_matches_jax(name: str, mode: str):
    """float32 cases (JAX computes the softmax in float32 whatever the input type)."""
    kwargs = _attention_args(ATTENTION[name])
    static = {k: v for k, v in kwargs.items() if not isinstance(v, np.ndarray)}
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    f = lambda arrays: nn.dot_product_attention(**arrays, **static)
    got = f(arrays) if mode == "eager" else ft.jit(f)(arrays)
    want = ATT[name]
    if isinstance(got, tuple):
        for g, w in zip(got, want, strict=True):
            assert_close(g, _array(w, np.float32), rtol=2e-5, atol=2e-6, what=f"{name}: ")
    else:
        assert_close(got, _array(want, np.float32), rtol=2e-5, atol=2e-6, what=f"{name}: ")
