"""functrace.random as traced operations: eager, jit, vmap over keys, loops, both backends, keys,
errors, derivatives; and the bit primitives it is made of (functrace/ops/random_bits.py).
Values against JAX are in test_random_jax.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
from functrace import lax, random
from functrace import numpy as fnp
from functrace.random import _samplers
from functrace.test_util import check_grads

KEY = random.PRNGKey(42)


# ---------------------------------------------------------------------------- the cipher and the bit primitives
# Known answers of Threefry-2x32 with 20 rounds (the Random123 distribution's kat_vectors).
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key,ctr,want", KAT)
def test_threefry_known_answers(key, ctr, want):
    u = [np.uint32(v) for v in key + ctr]
    assert tuple(int(host(y)) for y in lax.threefry2x32(*u)) == want


def test_threefry_broadcasts_rank0_operands_and_batches_under_vmap():
    rng = np.random.default_rng(0)
    k = rng.integers(0, 2**32, (6, 2), dtype=np.uint32)
    x = rng.integers(0, 2**32, (6, 5), dtype=np.uint32)
    each = [host(lax.threefry2x32(k[i, 0], k[i, 1], np.uint32(3), x[i])) for i in range(6)]
    got = host(ft.vmap(lambda kk, xx: lax.threefry2x32(kk[0], kk[1], np.uint32(3), xx))(k, x))
    for j in range(2):
        np.testing.assert_array_equal(got[j], np.stack([e[j] for e in each]))


def test_threefry_same_bits_on_both_backends():
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    ops = [rng.integers(0, 2**32, (3, 700), dtype=np.uint32) for _ in range(4)]
    with ft.use_backend("numpy"):
        a = host(lax.threefry2x32(*ops))
    with ft.use_backend("torch"):
        b = host(lax.threefry2x32(*ops))
        c = host(random.normal(KEY, (50,), np.float32))
    with ft.use_backend("numpy"):
        d = host(random.normal(KEY, (50,), np.float32))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(c, d, rtol=1e-6)


SHIFT_DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.uint32]


def _shift_reference(kind, x, y, dt):
    bits = 8 * np.dtype(dt).itemsize
    out = []
    for a, s in zip(x.tolist(), y.tolist(), strict=True):
        ua = a % 2**bits
        if kind == "left":
            r = 0 if not 0 <= s < bits else (ua << s) % 2**bits
        elif kind == "logical":
            r = 0 if not 0 <= s < bits else ua >> s
        else:
            r = a >> min(max(s, 0), bits - 1) if np.dtype(dt).kind == "i" else (0 if not 0 <= s < bits else ua >> s)
        r %= 2**bits
        if np.dtype(dt).kind == "i" and r >= 2 ** (bits - 1):
            r -= 2**bits
        out.append(r)
    return np.array(out, dtype=dt)


@pytest.mark.parametrize("dt", SHIFT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kind,fn", [("left", lax.shift_left), ("logical", lax.shift_right_logical),
                                     ("arith", lax.shift_right_arithmetic)])
def test_shifts_match_lax_semantics(kind, fn, dt):
    info = np.iinfo(dt)
    bits = 8 * np.dtype(dt).itemsize
    x = np.array([0, 1, 5, info.max, info.min, info.max // 3, -1 if info.min < 0 else 7] * 4, dtype=dt)
    s = np.array(([0, 1, 3, bits - 1, bits, bits + 5] + ([-1] if info.min < 0 else [2])) * 4, dtype=dt)[:len(x)]
    s = np.roll(s, 1)
    got = host(fn(x, s))
    assert got.dtype == np.dtype(dt)
    np.testing.assert_array_equal(got, _shift_reference(kind, x, s, dt))
    np.testing.assert_array_equal(host(ft.jit(fn)(x, s)), got)


@pytest.mark.parametrize("src,dst", [(np.float32, np.uint32), (np.float64, np.int64), (np.uint32, np.float32),
                                     (np.int16, np.float16), (np.float64, np.uint64)])
def test_bitcast_convert_type(src, dst):
    x = np.array([[0.0, -1.5, 3.25], [1e-3, 7.0, -0.0]]).astype(src) if np.dtype(src).kind == "f" else \
        np.array([[0, 1, 2**10], [3, 1065353216 % 2**15, 5]]).astype(src)
    got = host(lax.bitcast_convert_type(x, dst))
    np.testing.assert_array_equal(got, x.view(dst))
    np.testing.assert_array_equal(host(lax.bitcast_convert_type(x[0, 1], dst)), x[0, 1].view(dst))
    np.testing.assert_array_equal(host(ft.vmap(lambda r: lax.bitcast_convert_type(r, dst), in_axes=1)(x)),
                                  x.view(dst).T)


def test_bitcast_refuses_other_widths():
    with pytest.raises(ft.DTypeError, match="one width"):
        ft.make_jaxpr(lambda x: lax.bitcast_convert_type(x, np.float64))(np.zeros(2, np.float32))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_erf_inv_values_and_derivative(dt):
    x = np.array([-0.999, -0.5, 0.0, 0.3, 0.9999], dt)
    y = host(lax.erf_inv(x))
    from scipy.special import erf
    np.testing.assert_allclose(erf(y.astype(np.float64)), x, rtol=1e-5 if dt == np.float32 else 1e-12)
    assert host(lax.erf_inv(np.array([1.0, -1.0], dt))).tolist() == [np.inf, -np.inf]
    check_grads(lax.erf_inv, (np.array([-0.6, 0.1, 0.7], dt),), order=2,
                **({"atol": 1e-2, "rtol": 1e-2, "eps": 1e-3} if dt == np.float32 else {}))


# ---------------------------------------------------------------------------- keys
def test_key_forms_round_trip():
    k = random.key(7)
    assert isinstance(k, random.KeyArray) and k.shape == () and k.dtype == "key<fry>"
    data = random.key_data(k)
    np.testing.assert_array_equal(host(data), host(random.PRNGKey(7)))
    again = random.wrap_key_data(data)
    np.testing.assert_array_equal(host(random.key_data(again)), host(data))
    ks = random.split(k, 4)
    assert isinstance(ks, random.KeyArray) and ks.shape == (4,) and len(ks) == 4
    a, b = random.split(k)
    np.testing.assert_array_equal(host(random.normal(a, (3,))), host(random.normal(random.split(data)[0], (3,))))
    assert isinstance(ks[1:3], random.KeyArray) and ks[1:3].shape == (2,)
    assert not bool(host(a == b)) and bool(host(a == a))


def test_seeds():
    np.testing.assert_array_equal(host(random.PRNGKey(2**40 + 3)), [256, 3])
    np.testing.assert_array_equal(host(random.PRNGKey(np.int32(-1))), [0, 2**32 - 1])  # 32-bit seeds: high word 0
    np.testing.assert_array_equal(host(random.PRNGKey(-1)), [2**32 - 1, 2**32 - 1])  # Python ints are 64-bit
    f = ft.jit(lambda s: random.uniform(random.PRNGKey(s), (3,)))
    np.testing.assert_array_equal(host(f(np.int64(2**40 + 3))), host(random.uniform(random.PRNGKey(2**40 + 3), (3,))))
    np.testing.assert_array_equal(host(f(np.int64(5))), host(random.uniform(random.PRNGKey(5), (3,))))


@pytest.mark.parametrize("bad", [1.5, np.float32(2.0), True, 2**64, np.zeros(2, np.int64)])
def test_bad_seeds_are_refused(bad):
    with pytest.raises(ft.DTypeError, match="seed") as e:
        random.PRNGKey(bad)
    assert "test_random.py" in str(e.value)


@pytest.mark.parametrize("bad", [np.array([0.0, 1.0]), np.array([1, 2, 3], np.uint32), 3, np.array([0, 1])])
def test_a_non_key_is_refused_with_the_users_line(bad):
    with pytest.raises(ft.DTypeError, match="needs a PRNG key") as e:
        random.normal(bad, (3,))
    assert "test_random.py" in str(e.value)


def test_a_key_used_as_a_number_is_refused():
    k = random.key(0)
    for use in (lambda: k + 1, lambda: k * 2.0, lambda: float(k), lambda: np.asarray(k), lambda: k < k):
        with pytest.raises(ft.DTypeError, match="used as a number") as e:
            use()
        assert "test_random.py" in str(e.value)
    with pytest.raises(ft.DTypeError, match="used as a number"):
        ft.jit(lambda kk: kk + 1)(k)


def test_a_batch_of_keys_needs_vmap():
    with pytest.raises(ft.ShapeError, match="vmap"):
        random.normal(random.split(KEY, 3), (2,))


def test_bad_shapes_and_dtypes():
    with pytest.raises(ft.ShapeError, match="broadcast"):
        random.uniform(KEY, (3,), minval=np.zeros(4))
    with pytest.raises(ft.DTypeError, match="float"):
        random.normal(KEY, (2,), np.int32)
    with pytest.raises(ft.DTypeError, match="integer"):
        random.randint(KEY, (2,), 0, 3, np.float32)
    with pytest.raises(ft.DTypeError, match="unsigned"):
        random.bits(KEY, (2,), np.int32)
    with pytest.raises(ValueError, match="larger sample"):
        random.choice(KEY, 3, (4,), replace=False)


# ---------------------------------------------------------------------------- traced operations
def test_jit_takes_the_key_as_input_and_bakes_nothing_in():
    f = ft.jit(lambda k: random.normal(k, (4,)))
    k1, k2 = random.split(KEY)
    a, b = host(f(k1)), host(f(k2))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, host(random.normal(k1, (4,))))
    np.testing.assert_array_equal(b, host(random.normal(k2, (4,))))
    jaxpr = ft.make_jaxpr(lambda k: random.normal(k, (4,)))(k1)
    assert "threefry2x32" in str(jaxpr)


def test_jit_with_typed_keys():
    f = ft.jit(lambda k: (random.split(k), random.uniform(k, (2,))))
    ks, u = f(random.key(3))
    assert isinstance(ks, random.KeyArray) and ks.shape == (2,)
    np.testing.assert_array_equal(host(u), host(random.uniform(random.PRNGKey(3), (2,))))


@pytest.mark.parametrize("typed", [False, True])
def test_vmap_over_keys(typed):
    keys = random.split(random.key(1) if typed else random.PRNGKey(1), 8)
    got = host(ft.vmap(lambda k: random.normal(k, (3,)))(keys))
    want = np.stack([host(random.normal(keys[i], (3,))) for i in range(8)])
    np.testing.assert_array_equal(got, want)
    got = host(ft.jit(ft.vmap(lambda k: random.randint(k, (2,), 0, 100)))(keys))
    want = np.stack([host(random.randint(keys[i], (2,), 0, 100)) for i in range(8)])
    np.testing.assert_array_equal(got, want)


def test_vmap_of_fold_in_and_split():
    got = host(ft.vmap(lambda i: random.fold_in(KEY, i))(np.arange(5)))
    want = np.stack([host(random.fold_in(KEY, i)) for i in range(5)])
    np.testing.assert_array_equal(got, want)
    got = host(ft.vmap(lambda k: random.split(k, 3))(random.split(KEY, 4)))
    assert got.shape == (4, 3, 2)
    np.testing.assert_array_equal(got[2], host(random.split(random.split(KEY, 4)[2], 3)))


@pytest.mark.parametrize("sampler", [
    lambda k: random.uniform(k, (2,)), lambda k: random.bernoulli(k, 0.3, (3,)),
    lambda k: random.permutation(k, 5), lambda k: random.choice(k, 7, (2,), replace=False),
    lambda k: random.categorical(k, np.array([0.1, 0.5, -1.0])), lambda k: random.gamma(k, np.array([0.5, 3.0])),
    lambda k: random.truncated_normal(k, -1.0, 1.0, (2,)), lambda k: random.dirichlet(k, np.array([1.0, 2.0])),
], ids=["uniform", "bernoulli", "permutation", "choice", "categorical", "gamma", "truncated_normal", "dirichlet"])
def test_samplers_under_jit_and_vmap(sampler):
    keys = random.split(KEY, 3)
    want = np.stack([host(sampler(keys[i])) for i in range(3)])
    np.testing.assert_allclose(host(ft.vmap(sampler)(keys)), want, rtol=1e-12)
    np.testing.assert_allclose(host(ft.jit(sampler)(keys[1])), want[1], rtol=1e-12)


def test_inside_fori_loop_and_scan():
    def body(i, carry):
        k, total = carry
        k, sub = random.split(k)
        return k, total + random.normal(sub, (2,))

    _, got = lax.fori_loop(0, 5, body, (KEY, fnp.zeros(2)))
    k, want = KEY, np.zeros(2)
    for _ in range(5):
        k, sub = random.split(k)
        want = want + host(random.normal(sub, (2,)))
    np.testing.assert_allclose(host(got), want, rtol=1e-12)
    _, xs = lax.scan(lambda c, kk: (c, random.uniform(kk, (3,))), 0.0, random.split(KEY, 4))
    np.testing.assert_array_equal(host(xs)[3], host(random.uniform(random.split(KEY, 4)[3], (3,))))
    _, got2 = ft.jit(lambda k: lax.fori_loop(0, 5, body, (k, fnp.zeros(2))))(KEY)
    np.testing.assert_allclose(host(got2), want, rtol=1e-12)


def test_results_are_the_callers_to_modify():
    k = random.PRNGKey(0)
    a = random.uniform(k, (3,))
    b = random.uniform(k, (3,))
    if isinstance(a, np.ndarray):
        a[:] = 5.0
        assert not np.any(b == 5.0)


# ---------------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_reparameterised_uniform_and_normal(dt):
    tol = {"atol": 2e-2, "rtol": 2e-2, "eps": 1e-3} if dt == np.float32 else {}
    k = random.PRNGKey(3)
    f = lambda lo, hi: random.uniform(k, (4,), dt, lo, hi) ** 2  # noqa: E731
    check_grads(f, (np.array(-1.0, dt), np.array(2.0, dt)), order=2, **tol)
    g = lambda mu, sigma: fnp.sum(fnp.sin(mu + sigma * random.normal(k, (5,), dt)))  # noqa: E731
    check_grads(g, (np.array(0.3, dt), np.array(1.5, dt)), order=2, **tol)
    lo = np.array([-1.0, 0.0], dt)
    check_grads(lambda lo: random.truncated_normal(k, lo, 2.0, (3, 2), dt), (lo,), order=1, **tol)


def test_gamma_derivative_in_its_shape():
    k = random.PRNGKey(0)
    a = np.array([0.3, 1.0, 2.5, 10.0, 50.0])
    # jax.grad(lambda a: jax.random.gamma(jax.random.PRNGKey(0), a).sum())(a), JAX 0.10.2 with x64
    want = [0.23441133, 0.65277724, 1.40520342, 0.68843841, 1.00703994]
    grad = host(ft.grad(lambda a: fnp.sum(random.gamma(k, a)))(a))
    np.testing.assert_allclose(grad, want, rtol=1e-6)
    # The derivative holds the sample's rank fixed: d/da P(a, x(a)) = 0 for the regularized
    # incomplete gamma P (finite differences of SciPy's), not the rejection loop's path.
    from scipy.special import gammainc

    x = host(random.gamma(k, a))
    h = 1e-6
    dp_da = (gammainc(a + h, x) - gammainc(a - h, x)) / (2 * h)
    dp_dx = (gammainc(a, x + h * x) - gammainc(a, x - h * x)) / (2 * h * x)
    np.testing.assert_allclose(grad, -dp_da / dp_dx, rtol=1e-5)
    _, tangent = ft.jvp(lambda a: random.gamma(k, a), (a,), (np.ones_like(a),))
    np.testing.assert_allclose(host(tangent), grad, rtol=1e-12)
    lg = host(ft.jacfwd(lambda a: random.loggamma(k, a))(np.array([0.2, 4.0])))
    g = host(ft.jacfwd(lambda a: random.gamma(k, a))(np.array([0.2, 4.0])))
    xs = host(random.gamma(k, np.array([0.2, 4.0])))
    np.testing.assert_allclose(np.diag(lg), np.diag(g) / xs, rtol=1e-6)  # d log x = dx / x


def test_keys_carry_no_derivative():
    g = ft.grad(lambda x, k: fnp.sum(x * random.normal(k, (2,))))(1.0, KEY)
    np.testing.assert_allclose(host(g), host(fnp.sum(random.normal(KEY, (2,)))))


# ---------------------------------------------------------------------------- distributions (moments)
def test_moments():
    k1, k2, k3, k4 = random.split(KEY, 4)
    n = 20000
    assert abs(host(random.normal(k1, (n,))).mean()) < 0.03
    assert abs(host(random.normal(k1, (n,))).std() - 1) < 0.03
    g = host(random.gamma(k2, 3.0, (n,)))
    assert abs(g.mean() - 3.0) < 0.1 and abs(g.var() - 3.0) < 0.3
    b = host(random.bernoulli(k3, 0.25, (n,)))
    assert b.dtype == np.bool_ and abs(b.mean() - 0.25) < 0.02
    m = host(random.multivariate_normal(k4, np.zeros(2), np.array([[2.0, 0.8], [0.8, 1.0]]), (n,)))
    np.testing.assert_allclose(np.cov(m.T), [[2.0, 0.8], [0.8, 1.0]], atol=0.08)
    perm = host(random.permutation(k1, 50))
    assert sorted(perm.tolist()) == list(range(50))
    c = host(random.choice(k2, 30, (30,), replace=False))
    assert sorted(c.tolist()) == list(range(30))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("minval,maxval", [(-1.0, 1.0), (-3.0, 1.0), (np.nextafter(np.float32(-1), np.float32(0)), 1.0),
                                           (0.5, 8.5), (-2.0, 3.0)])
def test_uniform_with_a_power_of_two_span_equals_the_fused_multiply_add(dtype, minval, maxval, monkeypatch):
    """A span that is a power of two >= 1 scales the unit floats exactly, so uniform adds in the
    dtype (normal's (-1, 1) does): bit for bit what the fused multiply-add (XLA's) gives."""
    key = ft.random.PRNGKey(7)
    quick = [host(ft.random.uniform(key, (4099,), dtype, minval, maxval)), host(ft.random.normal(key, (4099,), dtype))]
    monkeypatch.setattr(_samplers, "_power_of_two_at_least_one", lambda x: False)
    fused = [host(ft.random.uniform(key, (4099,), dtype, minval, maxval)), host(ft.random.normal(key, (4099,), dtype))]
    for a, b in zip(quick, fused, strict=True):
        np.testing.assert_array_equal(a, b)
