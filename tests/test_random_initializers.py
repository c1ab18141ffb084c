"""functrace.nn.initializers against jax.nn.initializers' outputs for fixed keys, recorded in
tests/fixtures/initializers_jax.{json,npz} by tests/fixtures/make_random_fixtures.py (JAX 0.10.2,
``jax_enable_x64``); and their behaviour under jit and vmap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import host

import functrace as ft
from functrace import random

I = ft.nn.initializers  # noqa: E741
FIXTURES = Path(__file__).parent / "fixtures"
META = json.loads((FIXTURES / "initializers_jax.json").read_text())
ARRAYS = np.load(FIXTURES / "initializers_jax.npz")
CASES = list(enumerate(META["cases"]))


def _build(c):
    make = getattr(I, c["builder"])
    if c["kwargs"] is None:
        return make
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in c["kwargs"].items()}
    return make(**kwargs)


@pytest.mark.parametrize("item", CASES, ids=lambda it: f"{it[0]}-{it[1]['builder']}-{it[1]['shape']}-{it[1]['dtype']}")
def test_matches_jax(item):
    i, c = item
    init = _build(c)
    key = random.PRNGKey(c["seed"])
    got = host(init(key, tuple(c["shape"])) if c["dtype"] is None else init(key, tuple(c["shape"]), c["dtype"]))
    want = ARRAYS[f"c{i}"]
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    rtol = 2e-5 if want.dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_all_initializers_are_there():
    for name in ("zeros ones constant normal uniform truncated_normal variance_scaling glorot_normal glorot_uniform "
                 "he_normal he_uniform lecun_normal lecun_uniform orthogonal").split():
        assert callable(getattr(I, name))


def test_under_jit_and_vmap_over_keys():
    init = I.he_normal()
    keys = random.split(random.PRNGKey(5), 3)
    got = host(ft.vmap(lambda k: init(k, (4, 3), np.float32))(keys))
    want = np.stack([host(init(keys[i], (4, 3), np.float32)) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(host(ft.jit(lambda k: init(k, (4, 3), np.float32))(keys[1])), want[1], rtol=1e-6)
    q = host(ft.jit(lambda k: I.orthogonal()(k, (5, 3)))(keys[0]))
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)


def test_errors():
    with pytest.raises(ft.ShapeError, match="at least 2 axes"):
        I.glorot_uniform()(random.PRNGKey(0), (5,))
    with pytest.raises(ValueError, match="invalid mode"):
        I.variance_scaling(1.0, "fan_everything", "normal")
    with pytest.raises(ft.ShapeError, match="at least 2 axes"):
        I.orthogonal()(random.PRNGKey(0), (5,))
