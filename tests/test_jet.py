"""Taylor mode (``ft.jet``, ``ft.derivatives``): every primitive with a Taylor rule against nested
``jvp`` along the same polynomial path, to order 6 on random series; the primitives that fall
back to nested jvp are listed; tanh against its exact derivative polynomials to order 32; and
composition with jit, vmap and grad."""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.primitives import all_primitives
from functrace.rules import jet_rules
from functrace.transforms import jet as J

ORDER = 6


def _np(x):
    return np.asarray(ft.device_get(x))


def nested_jvp_series(f, primals, series, order):
    """The derivatives d^k/dt^k f(x(t)) at 0, k = 1..order, by nesting jvp in t (the reference)."""

    def g(t):
        xs = []
        for p, s in zip(primals, series, strict=True):
            if s is None:
                xs.append(p)
                continue
            x = p
            for k, c in enumerate(s):
                x = x + c * t ** (k + 1) / math.factorial(k + 1)
            xs.append(x)
        return f(*xs)

    fns = [g]
    for _ in range(order):
        fns.append(lambda t, h=fns[-1]: ft.jvp(h, (t,), (np.float64(1.0),))[1])
    return [_np(fns[k + 1](np.float64(0.0))) for k in range(order)]


def _pos(rng, shape):
    return rng.uniform(0.3, 0.9, size=shape)


def _any(rng, shape):
    return rng.uniform(-0.9, 0.9, size=shape)


def _big(rng, shape):
    return rng.uniform(1.2, 2.0, size=shape)


def _away(rng, shape):  # away from the kinks of abs/max/min/rem
    return rng.choice([-1, 1], size=shape) * rng.uniform(0.3, 0.9, size=shape)


# (name of the primitive, function, domains of its operands, which operands carry series)
UNARY = {
    "exp": lax.exp, "exp2": lax.exp2, "expm1": lax.expm1, "log": lax.log, "log1p": lax.log1p, "sqrt": lax.sqrt,
    "sin": lax.sin, "cos": lax.cos, "tan": lax.tan, "sinh": lax.sinh, "cosh": lax.cosh, "tanh": lax.tanh,
    "logistic": lax.logistic, "atan": lax.atan, "asin": lax.asin, "acos": lax.acos, "asinh": lax.asinh,
    "atanh": lax.atanh, "erf": lax.erf, "abs": lax.abs, "neg": lax.neg,
}
CASES = [(n, f, (_any if n not in ("log", "sqrt") else _pos,), (True,)) for n, f in UNARY.items()]
CASES += [
    ("acosh", lax.acosh, (_big,), (True,)),
    ("integer_pow", lambda x: lax.integer_pow(x, 3), (_any,), (True,)),
    ("integer_pow", lambda x: lax.integer_pow(x, -2), (_pos,), (True,)),
    ("integer_pow", lambda x: lax.integer_pow(x, 5) * 0.0 + lax.integer_pow(x, 4), (_any,), (True,)),
    ("mul", lax.mul, (_any, _any), (True, True)),
    ("mul", lax.mul, (_any, _any), (True, False)),
    ("div", lax.div, (_any, _pos), (True, True)),
    ("div", lax.div, (_any, _pos), (False, True)),
    ("pow", lax.pow, (_pos, _any), (True, True)),
    ("pow", lax.pow, (_pos, _any), (True, False)),
    ("pow", lax.pow, (_pos, _any), (False, True)),
    ("atan2", lax.atan2, (_any, _pos), (True, True)),
    ("max", lax.max, (_away, _away), (True, True)),
    ("min", lax.min, (_away, _away), (True, True)),
    ("rem", lax.rem, (_big, _pos), (True, True)),
    ("add", lax.add, (_any, _any), (True, True)),
    ("sub", lax.sub, (_any, _any), (True, False)),
    ("select", lambda a, b: lax.select(lax.gt(a, b), a * b, lax.sin(b)), (_any, _any), (True, True)),
    ("convert_element_type",
     lambda x: lax.convert_element_type(lax.convert_element_type(x, np.float32), np.float64) * 1.0, (_any,), (True,)),
    ("reduce_sum", lambda x: lax.reduce_sum(lax.sin(x), (0,)), (_any,), (True,)),
    ("reduce_max", lambda x: lax.reduce_max(x * x, (0,)), (_away,), (True,)),
    ("reduce_min", lambda x: lax.reduce_min(lax.exp(x), (0,)), (_any,), (True,)),
    ("dot_general", lambda a, b: fnp.dot(fnp.reshape(a, (3, 1)), fnp.reshape(b, (1, 3))), (_any, _any), (True, True)),
    ("dot_general", lambda a, b: fnp.dot(a, b), (_any, _any), (False, True)),
    ("broadcast_in_dim", lambda x: lax.broadcast_in_dim(lax.sin(x), (2, 3), (1,)) * 2.0, (_any,), (True,)),
    ("reshape", lambda x: lax.reshape(x * x, (3, 1)), (_any,), (True,)),
    ("transpose", lambda x: lax.transpose(lax.reshape(lax.exp(x), (3, 1)), (1, 0)), (_any,), (True,)),
    ("slice", lambda x: lax.slice(lax.sin(x), (1,), (3,), (1,)), (_any,), (True,)),
    ("rev", lambda x: lax.mul(lax.rev(x, (0,)), x), (_any,), (True,)),
    ("pad", lambda x, c: lax.pad(x * x, c, [(1, 2, 0)]), (_any, lambda r, s: r.uniform(size=())), (True, True)),
    ("concatenate", lambda x, y: lax.concatenate([x, lax.exp(y)], 0), (_any, _any), (True, True)),
    ("cumsum", lambda x: fnp.cumsum(lax.sin(x)), (_any,), (True,)),
    ("cummax", lambda x: lax.cummax(lax.sin(x)), (_away,), (True,)),
    ("cummin", lambda x: lax.cummin(x * x, reverse=True), (_away,), (True,)),
    ("sort", lambda x: lax.sort(lax.mul(lax.exp(x), x)), (_any,), (True,)),
    ("sort", lambda x, y: lax.sort((x, y * y), num_keys=1)[1], (_any, _any), (True, True)),
    ("scatter_max", lambda x, y: lax.scatter_max(x, np.array([2, 0]), y[:2]), (_away, _away), (True, True)),
    ("scatter_min", lambda x, y: lax.scatter_min(x * 2.0, np.array([1, 2]), y[1:]), (_away, _away), (True, True)),
    ("cond", lambda x, y: lax.cond(True, lambda a, b: lax.sin(a) * b, lambda a, b: a + b, x, y), (_any, _any),
     (True, True)),
    ("cond", lambda x: lax.cond(False, lambda a: lax.sin(a), lambda a: lax.exp(a * a), x), (_any,), (True,)),
    ("scan", lambda x, y: lax.scan(lambda c, a: (lax.sin(c) * a + y, c * c), x, fnp.stack([x, y]))[0],
     (_any, _any), (True, True)),
    ("scan", lambda x: lax.scan(lambda c, a: (c, lax.exp(a) * c), x, fnp.stack([x, x * 2.0]))[1], (_any,),
     (True,)),
    ("scan", lambda x: lax.fori_loop(0, 3, lambda i, c: lax.tanh(c) + x, x), (_any,), (True,)),
    ("while", lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * x), (0, x))[1],
     (_any,), (True,)),
]

# Primitives whose Taylor series come from the nested-jvp fallback (correct, cost doubling with the
# order); a primitive listed here that gains a rule should leave this list.
FALLBACK = {"cumlogsumexp", "cumprod", "custom_jvp_call", "custom_lin", "custom_vjp_call", "reduce_prod",
            # families that landed beside jet: linear algebra, erf_inv, max/min pooling
            "cholesky", "det", "eigh", "qr", "slogdet", "svd", "erf_inv", "reduce_window_max", "reduce_window_min",
            "lu", "sqrtm", "eig",
            # special functions
            "bessel_i0e", "bessel_i1e", "digamma", "erfc", "igamma", "igammac", "lgamma", "polygamma", "zeta",
            "igamma_grad_a", "regularized_incomplete_beta",
            # program tools
            "debug_print", "remat",
            # collectives (several operands, one result each; pmax/pmin have no derivative, as in JAX)
            "psum", "pmax", "pmin"}


def _case_id(case):
    return f"{case[0]}-{'-'.join('s' if h else 'c' for h in case[3])}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_jet_matches_nested_jvp(case):
    name, f, domains, has = case
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    primals = [d(rng, (3,)) for d in domains]
    series = [[rng.normal(size=np.shape(p)) * 0.5 for _ in range(ORDER)] if h else None
              for p, h in zip(primals, has, strict=True)]
    jet_series = [s if s is not None else [np.zeros_like(p)] * ORDER for p, s in zip(primals, series, strict=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", J.JetFallbackWarning)
        y, ys = ft.jet(f, tuple(primals), tuple(jet_series))
        jaxpr = ft.make_jaxpr(f)(*primals)
    assert any(e.primitive.name == name for e in jaxpr.eqns), f"{name} is not in {jaxpr}"
    np.testing.assert_allclose(_np(y), _np(f(*primals)), rtol=1e-12, atol=1e-12)
    ref = nested_jvp_series(f, primals, series, ORDER)
    for k in range(ORDER):
        tol = 1e-5 if name == "convert_element_type" else 1e-8  # that case rounds through float32
        np.testing.assert_allclose(_np(ys[k]), ref[k], rtol=tol, atol=tol, err_msg=f"order {k + 1}")


def test_which_primitives_fall_back():
    """Every differentiable primitive has a Taylor rule or a generic one (linear, zero-derivative),
    except the listed ones, which fall back to nested jvp."""
    from functrace.rules import jvp_rule

    missing = set()
    for name, p in all_primitives.items():
        if p in jet_rules or p.zero_derivative or jvp_rule(p) is None:
            continue
        if p.linear and not p.subjaxprs and not p.multiple_results:
            continue  # linear: applied to each coefficient (or through its JVP rule)
        missing.add(name)
    assert missing == FALLBACK


def test_every_rule_is_tested():
    tested = {c[0] for c in CASES}
    with_rules = {p.name for p in jet_rules}
    assert with_rules <= tested, with_rules - tested


def test_fallback_is_correct_and_warns_once():
    x = np.array([0.3, 0.7, 0.5])
    series = [np.array([1.0, -0.5, 0.2])] + [np.array([0.1, 0.2, -0.3])] * 3
    f = lambda x: lax.reduce_prod(lax.sin(x), (0,))  # noqa: E731
    J._warned.discard("reduce_prod")
    with pytest.warns(J.JetFallbackWarning, match="reduce_prod"):
        _, ys = ft.jet(f, (x,), (series,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", J.JetFallbackWarning)
        ft.jet(f, (x,), (series,))
    ref = nested_jvp_series(f, [x], [series], 4)
    for k in range(4):
        np.testing.assert_allclose(_np(ys[k]), ref[k], rtol=1e-9)


def tanh_derivative_polynomials(kmax):
    """Exact: d^k tanh / dx^k = P_k(tanh x), P_0 = y, P_(k+1) = (1 - y^2) P_k'(y) (integer coefficients)."""
    polys = [[0, 1]]
    for _ in range(kmax):
        p = polys[-1]
        dp = [i * p[i] for i in range(1, len(p))] or [0]
        out = [0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            out[i] += c
            out[i + 2] -= c
        polys.append(out)
    return polys


def test_tanh_derivatives_to_order_32_exact():
    from fractions import Fraction

    x = 0.5
    y = Fraction(np.tanh(x))
    polys = tanh_derivative_polynomials(32)
    exact = [float(sum(Fraction(c) * y ** i for i, c in enumerate(p))) for p in polys]
    got = ft.derivatives(fnp.tanh, 32)(np.float64(x))
    for k in range(33):
        assert abs(float(got[k]) - exact[k]) <= 1e-10 * abs(exact[k]) + 1e-300, (k, float(got[k]), exact[k])


def test_jet_signature_and_scaling_as_jax():
    # JAX's docstring example: x(t) = t^3 at t0 = 0.5 through sin.
    x0, x1, x2 = 0.5 ** 3, 3 * 0.5 ** 2, 6 * 0.5
    y0, (y1, y2) = ft.jet(fnp.sin, (x0,), ((x1, x2),))
    assert np.isclose(float(y0), np.sin(x0))
    assert np.isclose(float(y1), np.cos(x0) * x1)
    assert np.isclose(float(y2), -np.sin(x0) * x1 ** 2 + np.cos(x0) * x2)


def test_jet_pytree_output_and_errors():
    y, ys = ft.jet(lambda x: {"a": fnp.exp(x), "b": (x * 2.0, lax.floor(x))}, (np.float64(0.0),), ((1.0, 0.0),))
    assert float(ys["a"][1]) == 1.0 and float(ys["b"][0][0]) == 2.0 and float(ys["b"][1][1]) == 0.0
    with pytest.raises(ft.GradError, match="lengths"):
        ft.jet(lax.mul, (1.0, 2.0), ((1.0,), (1.0, 2.0)))
    with pytest.raises(ft.GradError, match="not an array"):
        ft.jet(lambda t: t[0], ((1.0, 2.0),), ((1.0,),))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivatives_elementwise_and_dtypes(dtype):
    x = np.array([0.1, 0.5, -0.7], dtype)
    d = ft.derivatives(fnp.sin, 4)(x)
    expect = [np.sin(x), np.cos(x), -np.sin(x), -np.cos(x), np.sin(x)]
    for got, e in zip(d, expect, strict=True):
        assert _np(got).dtype == dtype
        np.testing.assert_allclose(_np(got), e, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_composes_with_jit_vmap_grad():
    def d4(x):
        return ft.derivatives(lambda z: fnp.tanh(z) * fnp.exp(-z * z), 4)(x)[4]

    x = np.float64(0.3)
    eager = float(d4(x))
    assert np.isclose(float(ft.jit(d4)(x)), eager, rtol=1e-12)
    xs = np.array([0.3, -0.2, 1.1])
    np.testing.assert_allclose(_np(ft.vmap(d4)(xs)), [float(d4(v)) for v in xs], rtol=1e-12)
    # grad of a Taylor coefficient: d/dx f''''(x) = f'''''(x)
    d5 = float(ft.derivatives(lambda z: fnp.tanh(z) * fnp.exp(-z * z), 5)(x)[5])
    assert np.isclose(float(ft.grad(d4)(x)), d5, rtol=1e-10)
    assert np.isclose(float(ft.jit(ft.grad(d4))(x)), d5, rtol=1e-10)


def test_jet_of_scan_under_jit_and_grad():
    def f(x):
        return lax.fori_loop(0, 4, lambda i, c: fnp.sin(c) * x, x)

    def coeff(x):
        return ft.jet(f, (x,), ((1.0, 0.0, 0.0),))[1][2]

    x = np.float64(0.4)
    ref = nested_jvp_series(f, [x], [[1.0, 0.0, 0.0]], 3)[2]
    assert np.isclose(float(coeff(x)), float(ref), rtol=1e-10)
    assert np.isclose(float(ft.jit(coeff)(x)), float(ref), rtol=1e-10)
    g = float(ft.grad(coeff)(x))
    ref4 = nested_jvp_series(f, [x], [[1.0, 0.0, 0.0, 0.0]], 4)[3]
    assert np.isclose(g, float(ref4), rtol=1e-9)


@pytest.mark.parametrize("order", [5, 40])
@pytest.mark.parametrize("name,f", [("tanh", fnp.tanh), ("sin_exp", lambda x: fnp.sin(x) * fnp.exp(x)),
                                    ("quotient", lambda x: fnp.sin(x) / (1.5 + fnp.cos(x))), ("arctan", fnp.arctan)])
def test_scalar_products_term_by_term_under_jit_equal_the_stacked_ones(name, f, order):
    """A scalar series recorded into a program multiplies term by term (``_taylor.SCALAR_TERMS``:
    up to 32 terms, then stacked again); run eagerly, it multiplies stacked coefficients. Both
    give the same derivatives."""
    eager = ft.derivatives(f, order)(0.3)
    jitted = ft.jit(lambda x: ft.derivatives(f, order)(x))(0.3)
    for k, (a, b) in enumerate(zip(eager, jitted, strict=True)):
        assert abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a))), (name, k, a, b)
    names = {e.primitive.name for e in ft.make_jaxpr(lambda x: ft.derivatives(f, order)(x))(0.3).jaxpr.eqns}
    if order <= 32:
        assert "dot_general" not in names, names
    if name == "tanh":  # tanh' = 1 - tanh^2: its order-k term has k + 1 products
        assert ("dot_general" in names) == (order > 32), names
