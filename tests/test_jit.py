"""ft.jit: caching per signature, static arguments, composition with grad, lowering to source."""

from __future__ import annotations

import inspect
import re
import time
import warnings
from collections import namedtuple

import numpy as np
import pytest
from helpers import assert_close, host, mlp_loss
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.ir import typecheck_jaxpr

f32 = np.float32


class Counter:
    """Wraps a function and counts how often Python runs it (= how often jit traces it)."""

    def __init__(self, fun):
        self.fun = fun
        self.calls = 0
        self.__name__ = getattr(fun, "__name__", "f")

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fun(*args, **kwargs)


def same(a, b, rtol=1e-5):
    """Two result trees are equal leaf by leaf (structure, shape, dtype, value)."""
    la, ta = ft.tree_util.tree_flatten(a)
    lb, tb = ft.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        assert_close(x, np.asarray(ft.device_get(y)), rtol=rtol)


# ---------------------------------------------------------------------------- values
FUNS = [
    (lambda x: fnp.sum(fnp.sin(x) ** 2), (np.linspace(-1, 1, 5, dtype=f32),)),
    (lambda x, y: x @ y + 1.0, (np.ones((2, 3), f32), np.arange(6, dtype=f32).reshape(3, 2))),
    (lambda x: (x, x * 2, {"m": fnp.max(x), "none": None}), (np.arange(4.0),)),
    (lambda d: d["a"] * d["b"][0] - d["b"][1], ({"a": np.ones(3), "b": [np.arange(3.0), 2.0]},)),
    (lambda n: n * 3 + 1, (np.arange(5, dtype=np.int32),)),
    (lambda x: fnp.where(x > 0, x, -x) + fnp.ones(3), (np.array([-1.0, 0.5, 2.0]),)),
    (lambda x: (1.0, np.arange(3.0), x), (np.ones(2),)),  # literal and constant outputs
    (lambda x: fnp.mean(fnp.tanh(x), axis=0) * fnp.zeros(3) + x[0], (np.ones((2, 3), f32),)),
]


@pytest.mark.parametrize("fun, args", FUNS)
def test_jit_values_equal_eager(fun, args):
    same(ft.jit(fun)(*args), fun(*ft.device_put(args)))


def test_jit_accepts_python_scalars_and_kwargs():
    f = ft.jit(lambda x, y=1.0, *, scale: x * y * scale)
    same(f(2.0, np.float64(3.0), scale=np.float64(4.0)), np.float64(24.0))
    same(f(np.ones(2), y=np.ones(2), scale=2.0), np.full(2, 2.0))


def test_namedtuple_pytrees_in_and_out():
    Pt = namedtuple("Pt", "x y")
    f = ft.jit(lambda p: Pt(p.y, p.x * 2))
    out = f(Pt(np.ones(2), np.zeros(3)))
    assert isinstance(out, Pt)
    assert_close(out.x, np.zeros(3))
    assert_close(out.y, np.full(2, 2.0))


def test_results_are_backend_arrays():
    out = ft.jit(lambda x: x * 2)(np.ones(3))
    assert type(out).__module__.split(".")[0] in ("numpy", "torch")
    assert type(out).__module__.split(".")[0] == ("torch" if ft.get_backend() == "torch" else "numpy")


# ---------------------------------------------------------------------------- caching
def test_traces_once_per_signature():
    fun = Counter(lambda x: fnp.sum(x * 2.0))
    f = ft.jit(fun)
    for _ in range(3):
        f(np.ones(3, f32))
    f(np.zeros(3, f32))
    assert fun.calls == 1
    f(np.ones(4, f32))  # new shape
    assert fun.calls == 2
    f(np.ones(4, np.float64))  # new dtype
    assert fun.calls == 3
    f(np.ones(4, f32))  # back to a cached signature
    assert fun.calls == 3


def test_retrace_on_new_pytree_structure():
    fun = Counter(lambda t: sum(fnp.sum(v) for v in ft.tree_util.tree_leaves(t)))
    f = ft.jit(fun)
    f((np.ones(2), np.ones(2)))
    f((np.ones(2), np.ones(2)))
    assert fun.calls == 1
    f([np.ones(2), np.ones(2)])
    assert fun.calls == 2
    f({"a": np.ones(2), "b": np.ones(2)})
    f({"a": np.ones(2), "c": np.ones(2)})
    assert fun.calls == 4


def test_python_scalars_share_a_signature_apart_from_numpy_scalars():
    # A Python float is traced as a weak value and a NumPy float64 as a strong one (they promote
    # differently against float32), so they are two signatures, as in JAX; 0-d arrays and NumPy
    # scalars of one dtype are one.
    fun = Counter(lambda x: x + 1)
    f = ft.jit(fun)
    same(f(1.0), np.float64(2.0))
    same(f(5.0), np.float64(6.0))
    assert fun.calls == 1
    same(f(np.float64(2.0)), np.float64(3.0))
    same(f(np.array(3.0)), np.float64(4.0))
    assert fun.calls == 2


def test_retrace_on_backend_switch():
    pytest.importorskip("torch")
    fun = Counter(lambda x: x * 2)
    f = ft.jit(fun)
    with ft.use_backend("numpy"):
        out_np = f(np.ones(2))
        f(np.ones(2))
    with ft.use_backend("torch"):
        out_t = f(np.ones(2))
        f(np.ones(2))
    assert fun.calls == 2
    assert isinstance(out_np, np.ndarray) and type(out_t).__module__.startswith("torch")
    np.testing.assert_array_equal(ft.device_get(out_t), ft.device_get(out_np))


def test_array_only_calls_are_keyed_by_shape_and_dtype():
    """Positional NumPy arrays take a shortcut to the cached code; it must not mix signatures."""
    fun = Counter(lambda x, y: x * y)
    f = ft.jit(fun)
    for _ in range(3):
        same(f(np.ones(2), np.full(2, 3.0)), np.full(2, 3.0))
    assert fun.calls == 1
    same(f(np.ones(3), np.full(3, 2.0)), np.full(3, 2.0))
    same(f(np.ones(2, f32), np.full(2, 2.0, f32)), np.full(2, 2.0, f32))
    same(f(np.ones(2), np.ones((3, 2))), np.ones((3, 2)))
    assert fun.calls == 4
    same(f(np.ones(2), np.full(2, 5.0)), np.full(2, 5.0))
    same(f(np.ones(2), 2.0), np.full(2, 2.0))  # a Python scalar: the general path
    assert fun.calls == 5


def test_clear_cache():
    fun = Counter(lambda x: x + 1)
    f = ft.jit(fun)
    f(np.ones(2))
    f.clear_cache()
    f(np.ones(2))
    assert fun.calls == 2


# ---------------------------------------------------------------------------- static arguments
def test_static_argnums_drive_python_control_flow():
    def power(x, n, mode):
        y = x
        for _ in range(n - 1):
            y = y * x
        return -y if mode == "neg" else y

    fun = Counter(power)
    f = ft.jit(fun, static_argnums=(1, 2))
    x = np.array([1.0, 2.0, 3.0])
    same(f(x, 3, "pos"), x ** 3)
    same(f(x, 3, "pos"), x ** 3)
    assert fun.calls == 1
    same(f(x, 2, "pos"), x ** 2)
    same(f(x, 2, "neg"), -(x ** 2))
    assert fun.calls == 3


def test_static_argnums_int_negative_and_hashable_values():
    fun = Counter(lambda x, shape: fnp.reshape(x, shape))
    f = ft.jit(fun, static_argnums=-1)
    same(f(np.arange(6.0), (2, 3)), np.arange(6.0).reshape(2, 3))
    same(f(np.arange(6.0), (3, 2)), np.arange(6.0).reshape(3, 2))
    same(f(np.arange(6.0), (2, 3)), np.arange(6.0).reshape(2, 3))
    assert fun.calls == 2


def test_static_values_of_different_types_do_not_share_an_entry():
    fun = Counter(lambda x, k: x * k)
    f = ft.jit(fun, static_argnums=1)
    assert host(f(np.ones(2), 1)).dtype == np.float64
    f(np.ones(2), True)  # True == 1, but a different static value
    assert fun.calls == 2


def test_unhashable_static_argument_is_a_clear_type_error():
    f = ft.jit(lambda x, shape: fnp.reshape(x, shape), static_argnums=1)
    with pytest.raises(TypeError, match=r"static argument 1 has unhashable type list.*tuple"):
        f(np.arange(6.0), [2, 3])


def test_static_argnums_out_of_range_and_non_array_leaves():
    f = ft.jit(lambda x: x, static_argnums=3)
    with pytest.raises(ValueError, match="static_argnums 3 is out of range"):
        f(np.ones(2))
    g = ft.jit(lambda x, s: x)
    with pytest.raises(TypeError, match="static_argnums"):
        g(np.ones(2), "a string")


# ---------------------------------------------------------------------------- concretisation
def test_python_control_flow_on_traced_values_is_a_concretization_error():
    def f(x):
        if fnp.sum(x) > 0:  # the user's line
            return x
        return -x

    line = inspect.getsourcelines(f)[1] + 1
    with pytest.raises(ft.ConcretizationError) as info:
        ft.jit(f)(np.ones(3))
    msg = str(info.value)
    assert f"{__file__}:{line}" in msg
    assert "static_argnums" in msg and "where" in msg and "lax.cond" in msg
    # Eagerly (and under grad, which knows values) the same function works.
    same(f(np.ones(3)), np.ones(3))
    same(ft.grad(lambda x: fnp.sum(f(x)))(np.ones(3)), np.ones(3))


def test_concretization_error_under_jit_of_grad_and_float():
    with pytest.raises(ft.ConcretizationError):
        ft.jit(ft.grad(lambda x: x * float(x)))(2.0)
    with pytest.raises(ft.ConcretizationError):
        ft.grad(ft.jit(lambda x: x if x > 0 else -x))(2.0)


# ---------------------------------------------------------------------------- composition
def _f(x):
    return fnp.sum(fnp.tanh(x) ** 3 + fnp.sin(x) * x)


X = np.array([0.3, -1.2, 2.0])


def test_jit_of_grad_and_grad_of_jit():
    want = ft.grad(_f)(X)
    same(ft.jit(ft.grad(_f))(X), want)
    same(ft.grad(ft.jit(_f))(X), want)
    same(ft.jit(ft.grad(ft.jit(_f)))(X), want)


def test_jit_of_jit_and_nested_derivatives():
    same(ft.jit(ft.jit(_f))(X), _f(ft.device_put(X)))
    same(ft.hessian(ft.jit(_f))(X), ft.hessian(_f)(X))
    same(ft.jit(ft.hessian(_f))(X), ft.hessian(_f)(X))
    same(ft.jacrev(ft.jit(lambda x: fnp.sin(x) * x[0]))(X), ft.jacrev(lambda x: fnp.sin(x) * x[0])(X))
    same(ft.jvp(ft.jit(_f), (X,), (np.ones(3),)), ft.jvp(_f, (X,), (np.ones(3),)))
    g = ft.jit(ft.grad(ft.jit(ft.grad(lambda x: fnp.sin(x) * x))))
    same(g(0.7), ft.grad(ft.grad(lambda x: fnp.sin(x) * x))(0.7))


def test_grad_of_jit_traces_once():
    fun = Counter(_f)
    g = ft.grad(ft.jit(fun))
    g(X)
    g(X + 1)
    ft.jit(fun)  # a new jit has its own cache
    assert fun.calls == 1


def test_make_jaxpr_of_jit_shows_the_primitives():
    closed = ft.make_jaxpr(ft.jit(lambda x: fnp.sin(x) * 2.0))(np.ones(3, f32))
    typecheck_jaxpr(closed.jaxpr)
    assert [e.primitive.name for e in closed.jaxpr.eqns] == ["sin", "mul"]


def test_stop_gradient_survives_for_outer_transforms():
    f = ft.jit(lambda x: x * ft.stop_gradient(x))
    same(ft.grad(f)(3.0), np.float64(3.0))
    same(ft.jit(ft.grad(lambda x: x * ft.stop_gradient(x)))(3.0), np.float64(3.0))
    assert "stop_gradient" not in f.lower(3.0).as_text()  # gone from the code that only runs


def test_closure_over_an_outer_tracer_is_not_cached():
    calls = []

    def outer(x):
        def inner(y):
            calls.append(1)
            return x * y

        return ft.jit(inner)(2.0)

    same(ft.grad(outer)(3.0), np.float64(2.0))
    same(ft.grad(outer)(5.0), np.float64(2.0))
    g = ft.jit(lambda x: ft.grad(lambda y: x * y * y)(1.0))
    same(g(2.0), np.float64(4.0))
    same(g(3.0), np.float64(6.0))


def test_value_and_grad_with_aux_and_pytrees_under_jit():
    def loss(p, x):
        pred = x @ p["w"] + p["b"]
        return fnp.mean(pred ** 2), {"pred": pred}

    p = {"w": np.ones((3, 2)), "b": np.zeros(2)}
    x = np.arange(12.0).reshape(4, 3) / 10
    vg = ft.value_and_grad(loss, has_aux=True)
    same(ft.jit(vg)(p, x), vg(p, x))


# ---------------------------------------------------------------------------- lowering
def test_lower_as_text_is_one_line_per_equation_with_dels():
    def f(x, w):
        h = fnp.tanh(x @ w)
        return fnp.sum(h * h), h.T

    x, w = np.ones((4, 3), f32), np.ones((3, 2), f32)
    lowered = ft.jit(f).lower(x, w)
    text = lowered.as_text()
    body = [ln for ln in text[text.index("    def "):text.index("return (")].splitlines()[1:] if ln.strip()]
    if body[0].strip() == "with _silence_errors():":  # the numpy backend silences NumPy's warnings once per call
        body = [ln[4:] for ln in body[1:]]
    assignments = [ln for ln in body if not ln.strip().startswith("del ")]
    eqns = lowered.jaxpr.jaxpr.eqns
    assert len(assignments) == len(eqns) > 0
    for ln, eqn in zip(assignments, eqns, strict=True):
        assert re.match(r"^        \w+ = _" + eqn.primitive.name + r"\(", ln), ln
    # every intermediate that is not returned is released exactly once: by its name being taken
    # by the result of the equation where it dies (``a = _tanh(a, out=a)``), or by a ``del``
    targets = [ln.split("=")[0].strip() for ln in assignments]
    assert len(set(targets)) < len(targets)
    released = [n.strip() for ln in body if ln.strip().startswith("del ") for n in ln.strip()[4:].split(",")]
    assert len(released) == len(set(released))
    typecheck_jaxpr(lowered.jaxpr.jaxpr)
    same(lowered.flat_fn(x, w), tuple(ft.tree_util.tree_leaves(f(x, w))))
    compile(text, "<check>", "exec")


def test_broadcasts_the_backend_does_itself_are_not_spelled_out():
    """``x @ w + b`` traces to a broadcast_in_dim of b; the lowering hands b to the add as it is
    when the backend's add broadcasts like NumPy, a column broadcast becomes a reshape that adds
    the unit axis, and every other broadcast is kept."""
    def f(x, w, b, c, r):
        y = fnp.tanh(x @ w + b)                   # elided: add has y's full shape in x @ w
        kept_out = fnp.broadcast_to(c, (4, 2))    # an output: kept
        kept_col = fnp.broadcast_to(c[:, None], (2, 2)) * 3.0  # no full-shaped partner: kept
        scaled = ft.lax.broadcast_in_dim(r, (4, 2), (0,)) * y  # r as a (4, 1) column
        return y - b, kept_out, kept_col, scaled

    x, w, b, c = np.ones((4, 3)), np.ones((3, 2)) / 3, np.array([0.5, -1.0]), np.array([1.0, 2.0])
    r = np.array([1.0, 2.0, 3.0, 4.0])
    lowered = ft.jit(f).lower(x, w, b, c, r)
    n_bcast = sum(e.primitive.name == "broadcast_in_dim" for e in lowered.jaxpr.jaxpr.eqns)
    text = lowered.as_text()
    body = text[text.index("    def "):]
    assert n_bcast >= 4 and body.count("_broadcast_in_dim(") == 2  # both backends' add/sub/mul broadcast
    assert "_reshape(e, new_sizes=(4, 1))" in body
    want = (np.tanh(x @ w + b) - b, np.broadcast_to(c, (4, 2)), np.broadcast_to(c[:, None], (2, 2)) * 3.0,
            r[:, None] * np.tanh(x @ w + b))
    got = ft.jit(f)(x, w, b, c, r)
    for g, wv in zip(got, want, strict=True):
        same(g, wv)


def test_specialised_implementations_and_one_silencing_per_call():
    """The numpy backend picks some implementations by the equation's types when lowering
    (floating-point division, squaring), and a program with operations that could warn
    (log 0, 1/0) silences warnings once around the whole call; results match NumPy's."""
    def f(x, n):
        return fnp.log(x) / x, x ** 2, n // 2, n / 2

    x, n = np.array([0.0, 1.0, 2.0], f32), np.array([-3, 4, 7])
    lowered = ft.jit(f).lower(x, n)
    text = lowered.as_text()
    with np.errstate(all="ignore"):
        want = (np.log(x) / x, x ** 2, n // 2, n / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ft.jit(f)(x, n)
    for g, wv in zip(got, want, strict=True):
        np.testing.assert_array_equal(host(g), wv)
        assert host(g).dtype == wv.dtype
    if ft.get_backend() == "numpy":
        assert "# specialised: divide" in text and "# specialised: _square" in text
        assert text.count("with _silence_errors():") == 1
        body = text[text.index("    def "):]
        assert "errstate" not in body


def test_lowered_jaxpr_is_optimised():
    def f(x):
        y = fnp.transpose(fnp.transpose(x)) * 1.0 - fnp.zeros_like(x)  # x - (+0.0) is x, exactly
        return fnp.reshape(y, x.shape).astype(x.dtype) + fnp.ones(3) * 2

    lowered = ft.jit(f).lower(np.ones(3))
    assert [e.primitive.name for e in lowered.jaxpr.jaxpr.eqns] == ["add"]
    assert lowered.jaxpr.consts == []
    same(ft.jit(f)(np.arange(3.0)), np.arange(3.0) + 2.0)


def test_lower_of_a_long_chain():
    def chain(x):
        for i in range(3000):
            x = fnp.sin(x) if i % 2 else x * 0.999
        return x

    x = np.linspace(0, 1, 4)
    f = ft.jit(chain)
    same(f(x), chain(x), rtol=1e-10)
    assert f.lower(x).as_text().count("\n") > 3000


# ---------------------------------------------------------------------------- speed (printed)
def test_speed_of_jit_value_and_grad_of_an_mlp():
    rng = np.random.default_rng(0)
    sizes = [16, 32, 32, 1]
    params = [(rng.standard_normal((m, n)).astype(f32) / np.sqrt(m), np.zeros(n, f32))
              for m, n in zip(sizes[:-1], sizes[1:], strict=True)]
    x = rng.standard_normal((64, 16)).astype(f32)
    y = rng.standard_normal((64, 1)).astype(f32)
    eager = ft.value_and_grad(mlp_loss)
    jitted = ft.jit(eager)
    same(jitted(params, x, y), eager(params, x, y), rtol=1e-4)

    def per_call(fn, budget=0.5):
        """Seconds per call: the best of a few runs, within about ``budget`` seconds."""
        fn(params, x, y)
        times = []
        while sum(times) < budget and len(times) < 200:
            t0 = time.perf_counter()
            fn(params, x, y)
            times.append(time.perf_counter() - t0)
        return min(times)

    t_eager, t_jit = per_call(eager), per_call(jitted)
    n_eqns = len(jitted.lower(params, x, y).jaxpr.eqns)
    print(f"\n[{ft.get_backend()}] value_and_grad(mlp_loss), {n_eqns} equations: eager {t_eager * 1e6:.0f} us, "
          f"jit {t_jit * 1e6:.0f} us, speed-up {t_eager / t_jit:.1f}x")


class _FakeBackend:
    """Just enough of a backend for ``lower_jaxpr``: impls and asarray."""

    name = "fake"

    def __init__(self, impls):
        self.impls = impls

    def asarray(self, x):
        return np.asarray(x)


def test_lowering_multiple_results_unused_outputs_and_awkward_param_names():
    from functrace.avals import ShapedArray
    from functrace.backends.lowering import lower_jaxpr
    from functrace.ir import Jaxpr, JaxprEqn, Literal, Var
    from functrace.primitives import Primitive

    split = Primitive("split2", multiple_results=True)
    scale = Primitive("scale")
    impls = {split: lambda x: (x[:1], x[1:]), scale: lambda x, **p: x * p["lambda"] * p["by"]}
    x = Var(ShapedArray((3,), np.float64))
    c = Var(ShapedArray((3,), np.float64))
    a, b = Var(ShapedArray((1,), np.float64)), Var(ShapedArray((2,), np.float64))
    y = Var(ShapedArray((2,), np.float64))
    two = Literal(np.float64(2.0), ShapedArray((), np.float64))
    jaxpr = Jaxpr([c], [x], [y, two, c, x], [
        JaxprEqn(split, [x], [a, b], {}),
        JaxprEqn(scale, [b], [y], {"lambda": 3.0, "by": np.dtype(np.float64).type(2)}),
    ])
    fn, text = lower_jaxpr(jaxpr, [np.ones(3)], _FakeBackend(impls), "_scale")
    assert "_, " in text and "del _" in text and "**_p" in text and "def f__scale(" in text
    out = fn(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(out[0], [12.0, 18.0])
    assert out[1] == 2.0 and np.array_equal(out[2], np.ones(3)) and np.array_equal(out[3], [1.0, 2.0, 3.0])


def test_traceback_through_generated_code_shows_its_lines():
    import traceback

    from functrace.backends.lowering import lower_jaxpr

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    closed = ft.jit(lambda x: fnp.sum(x)).lower(np.ones(3)).jaxpr
    fn, _ = lower_jaxpr(closed.jaxpr, closed.consts, _FakeBackend({closed.jaxpr.eqns[0].primitive: boom}), "g")
    with pytest.raises(RuntimeError) as info:
        fn(np.ones(3))
    assert "= _reduce_sum(a, axes=(0,))" in "".join(traceback.format_tb(info.tb))


def test_lowering_optimises_the_jaxprs_inside_control_flow():
    def f(x):
        # the two reshapes of the branch cancel out
        return ft.lax.cond(fnp.sum(x) > 0, lambda v: fnp.reshape(fnp.reshape(v, (3, 1)), (3,)) * 2.0,
                           lambda v: -v, x)

    jf = ft.jit(f)
    lowered = jf.lower(np.ones(3))
    (cond,) = [e for e in lowered.jaxpr.jaxpr.eqns if e.primitive.name == "cond"]
    branches = [p for p in cond.params.values() if isinstance(p, tuple)][0]
    assert [[e.primitive.name for e in b.jaxpr.eqns] for b in branches] == [["neg"], ["mul"]]
    for b in branches:
        typecheck_jaxpr(b.jaxpr)
    same(jf(np.ones(3)), np.full(3, 2.0))
    same(jf(-np.ones(3)), np.ones(3))
    same(ft.grad(lambda x: fnp.sum(jf(x) * x))(np.array([1.0, 2.0, 3.0])), np.array([4.0, 8.0, 12.0]))


def test_jit_and_vmap_compose_both_ways():
    from functrace.transforms.batching import vmap

    def f(x, w):
        return fnp.tanh(x @ w)

    xs, w = np.linspace(-1, 1, 15).reshape(5, 3), np.linspace(0, 1, 6).reshape(3, 2)
    want = np.tanh(xs @ w)
    same(vmap(ft.jit(f), in_axes=(0, None))(xs, w), want)
    same(ft.jit(vmap(f, in_axes=(0, None)))(xs, w), want)
    loss = lambda w: fnp.sum(vmap(f, in_axes=(0, None))(xs, w))  # noqa: E731
    same(ft.jit(ft.grad(loss))(w), ft.grad(loss)(w))


@pytest.mark.parametrize("dtype", [f32, np.float64, np.int32])
@pytest.mark.parametrize("shape, axes", [((300, 10), (1,)), ((70, 3, 4), (1, 2)), ((2, 40, 5), (2,)),
                                         ((64, 16), (-1,)), ((64, 40), (1,)), ((10, 10), (1,))])
def test_reductions_over_short_rows_match_numpy(dtype, shape, axes):
    """Reductions over the trailing axes of many short rows take a transposed route on the numpy
    backend (see ``backends.numpy_reductions._reduce_short_rows``); under jit they give NumPy's
    values, dtypes and shapes, nan included, for every length of row around the thresholds."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    if x.dtype.kind == "f":
        x.flat[7] = np.nan
    fns = {"max": (fnp.max, np.max), "min": (fnp.min, np.min), "sum": (fnp.sum, np.sum), "prod": (fnp.prod, np.prod)}
    for name, (ours, theirs) in fns.items():
        jitted = ft.jit(lambda x, ours=ours: ours(x, axis=axes))
        got = host(jitted(x))
        if ft.get_backend() == "numpy":  # the transposed route is taken where the rows are short and many
            short_and_many = shape in ((300, 10), (70, 3, 4), (2, 40, 5), (64, 16))
            assert ("_reduce_short_rows" in jitted.lower(x).as_text()) == short_and_many, name
        want = theirs(x, axis=axes)
        assert got.shape == want.shape and got.dtype == want.dtype, name
        if name in ("max", "min") or x.dtype.kind == "i":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            # summation order differs from NumPy's: allow for cancellation in the sums
            tol = 1e-5 if dtype == f32 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 100, err_msg=name)


@pytest.mark.parametrize("dtype", [f32, np.float64])
@pytest.mark.parametrize("shape, axes", [((256, 10), (0,)), ((9, 4, 5), (0,)), ((9, 4, 5), (1, 0)), ((300, 1, 8), (0,)),
                                         ((5000, 8), (0,)), ((4, 20), (0,)), ((2, 4096, 9), (0, 1)),
                                         ((3, 2731, 8), (0, 1)), ((7, 3, 5), (0, 1))])
def test_column_sums_match_numpy(dtype, shape, axes):
    """Float sums over leading axes go to BLAS on the numpy backend where the columns are not
    tiny (longer ones in blocks of 4096 rows); values match NumPy's (to rounding), inf and nan
    included, and reversed (non-contiguous) operands work too."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[3], x.flat[11] = np.inf, np.nan
    f = ft.jit(lambda x: (fnp.sum(x, axis=axes), fnp.sum(x[::-1, ..., ::-1], axis=axes)))
    got, got_t = (host(g) for g in f(x))
    tol = 1e-5 if dtype == f32 else 1e-12
    want = np.sum(x, axis=axes)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 100)
    np.testing.assert_allclose(got_t, np.sum(x[::-1, ..., ::-1], axis=axes), rtol=tol, atol=tol * 100)
    if ft.get_backend() == "numpy":
        rows = int(np.prod([shape[a] for a in axes]))
        blas = rows >= 8 and np.prod(shape[len(axes):]) >= 8
        text = f.lower(x).as_text()
        assert ("specialised: _column_sums" in text) == blas
        assert text.count("_reduce_sum(") == 2 and "_reduce_sum_(" not in text  # one implementation for both


@pytest.mark.parametrize("lc, rc", [(1, 0), (1, 1), (0, 0), (0, 1)])
@pytest.mark.parametrize("dtype", [f32, np.int64])
def test_matrix_products_by_contracted_axes(lc, rc, dtype):
    """A product of two matrices lowers to one ``@`` on (transposed) views, chosen by which axis
    of each is contracted; each of the four choices gives NumPy's product and dtype."""
    rng = np.random.default_rng(2)
    a = rng.integers(-5, 5, (3, 4) if lc == 1 else (4, 3)).astype(dtype)
    b = rng.integers(-5, 5, (4, 5) if rc == 0 else (5, 4)).astype(dtype)
    f = ft.jit(lambda a, b: ft.lax.dot_general(a, b, (((lc,), (rc,)), ((), ()))))
    want = (a if lc == 1 else a.T) @ (b if rc == 0 else b.T)
    got = host(f(a, b))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    if ft.get_backend() == "numpy":
        assert "# specialised: _" in f.lower(a, b).as_text()


@pytest.mark.parametrize("padval, dtype", [(0.0, f32), (-0.0, f32), (2.5, np.float64), (0, np.int32),
                                           (0, np.complex64)])
def test_pad_values_under_jit(padval, dtype):
    """Padding lowers to np.zeros where the value is known to be +0 (the transpose of a slice),
    and otherwise keeps the value, -0.0 included."""
    x = (np.arange(6).reshape(2, 3) + 1).astype(dtype)
    pv = np.asarray(padval, dtype)
    f = ft.jit(lambda x: ft.lax.pad(x, pv, ((1, 0, 0), (0, 2, 1))))
    got = host(f(x))
    want = np.full((3, 7), pv)
    want[1:, 0:5:2] = x
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    if dtype == f32:
        assert np.array_equal(np.signbit(got), np.signbit(want))
    if ft.get_backend() == "numpy":
        positive_zero = padval == 0 and not np.signbit(np.real(pv)) and pv.dtype.kind != "c"
        assert ("_pad_with_zeros" in f.lower(x).as_text()) == positive_zero


def test_dead_intermediates_are_overwritten_but_inputs_views_consts_and_outputs_are_not():
    """The numpy backend's lowered code lets an elementwise operation write into an operand that
    dies there (``out=``) when that array is the program's own: never an input, a constant, an
    output, or an array some view (reshape, transpose, broadcast, ...) was taken of."""
    rng = np.random.default_rng(4)
    x, c = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    const = rng.standard_normal((4, 3))
    x0, c0, const0 = x.copy(), c.copy(), const.copy()

    def f(x, c):
        y = fnp.tanh(x * 2.0)                # x * 2.0 dies in tanh: written into
        v = fnp.reshape(y, (3, 4))           # a view of y: y is never written into
        t = fnp.transpose(y * 3.0)           # y * 3.0 is viewed too
        z = y + const                        # the constant is never written into
        w = fnp.exp(z) * c                   # exp(z) dies in the product; c is an input
        return v, t, w, fnp.sin(w) + w + x   # w is an output: never written into

    def want(x, c):
        y = np.tanh(x * 2.0)
        z = y + const
        w = np.exp(z) * c
        return y.reshape(3, 4), (y * 3.0).T, w, np.sin(w) + w + x

    jitted = ft.jit(f)
    for _ in range(2):  # the second call runs the cached code on the same inputs
        for g, wv in zip(jitted(x, c), want(x0, c0), strict=True):
            np.testing.assert_allclose(host(g), wv, rtol=1e-12)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(c, c0)
        np.testing.assert_array_equal(const, const0)
    if ft.get_backend() == "numpy":
        body = jitted.lower(x, c).as_text().split("    def ", 1)[1]
        written = re.findall(r"out=(\w+)\)", body)
        assert written, body
        args = body.split("(", 1)[1].split(")", 1)[0].split(", ")
        assert not set(written) & set(args), body  # no input is written into


# ---------------------------------------------------------------------------- random programs
_UNARY_OPS = ("tanh", "exp", "negative", "sin", "square")
_BINARY_OPS = ("add", "multiply", "subtract")


def _run_program(xp, steps, outputs, x, y):
    """Run a generated program (see ``random_programs``) with the NumPy-like namespace ``xp``."""
    pool = [x, y]
    for op, a, b in steps:
        u = pool[-1 - a % len(pool)]  # mostly a recent value: chains of views and reuses
        if op in _UNARY_OPS:
            pool.append(getattr(xp, op)(u) if op != "tanh" else xp.tanh(u * 0.5))
        elif op in _BINARY_OPS:
            same = [v for v in pool if v.shape == u.shape]
            pool.append(getattr(xp, op)(u, same[b % len(same)]))
        elif op == "transpose":
            pool.append(xp.transpose(u))
        elif op == "reshape":
            pool.append(xp.reshape(u, (u.shape[1], u.shape[0])))
        elif op == "colsum":  # a reduction, broadcast back against its operand
            pool.append(u - xp.sum(u, axis=0) * 0.25)
        elif op == "rowmax":
            pool.append(u - xp.max(u, axis=1, keepdims=True))
    return tuple(pool[i % len(pool)] for i in outputs)


@st.composite
def random_programs(draw):
    ops = _UNARY_OPS + _BINARY_OPS + ("transpose", "reshape", "colsum", "rowmax")
    steps = draw(st.lists(st.tuples(st.sampled_from(ops), st.integers(0, 3), st.integers(0, 50)),
                          min_size=1, max_size=12))
    outputs = draw(st.lists(st.integers(0, 60), min_size=1, max_size=3))
    return steps, outputs + [len(steps) + 1]  # the last value is always returned


@settings(max_examples=60, deadline=None)
@given(random_programs())
def test_random_programs_give_the_same_values_under_jit_and_leave_inputs_alone(program):
    """Random programs of elementwise operations, views (transpose, reshape), reductions and
    broadcasts: jit (with its buffer reuse, elided broadcasts and specialised implementations)
    gives NumPy's values on every call and never writes into its inputs."""
    steps, outputs = program
    rng = np.random.default_rng(len(steps))
    x, y = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((3, 4)) * 0.5
    x0, y0 = x.copy(), y.copy()
    with np.errstate(all="ignore"):
        want = _run_program(np, steps, outputs, x0, y0)
    jitted = ft.jit(lambda x, y: _run_program(fnp, steps, outputs, x, y))
    for _ in range(2):
        got = jitted(x, y)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(host(g), w, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)
