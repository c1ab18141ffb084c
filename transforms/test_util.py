"""``ft.test_util.check_grads``: derivatives against central differences, and forward mode
against reverse mode, to any order (as JAX's ``check_grads``)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace.api import device_get, flatten_fun, to_backend, trace_flat
from functrace.tracing import Tracer
from functrace.transforms.autodiff import jvp, vjp
from functrace.tree_util import tree_flatten, tree_unflatten

_DEFAULT_EPS = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-6}
_DEFAULT_TOL = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 2e-2, np.dtype(np.float64): 1e-5}


def _np(x: Any) -> np.ndarray:
    return np.asarray(device_get(x))


def _leaves(tree: Any) -> list[np.ndarray]:
    return [_np(x) for x in tree_flatten(tree)[0]]


def _dtype_of(args: Sequence[Any]) -> np.dtype:
    dts = [np.asarray(_np(x)).dtype for x in tree_flatten(tuple(args))[0]]
    floats = [d for d in dts if np.issubdtype(d, np.floating)]
    return min(floats, key=lambda d: d.itemsize) if floats else np.dtype(np.float64)


def _rand_like(rng: np.random.Generator, tree: Any) -> Any:
    leaves, td = tree_flatten(tree)
    out = []
    for x in leaves:
        a = _np(x)
        out.append(rng.standard_normal(a.shape).astype(a.dtype) if np.issubdtype(a.dtype, np.floating)
                   else np.zeros(a.shape, a.dtype))
    return tree_unflatten(td, out)


def _add(tree: Any, delta: Any, scale: float) -> Any:
    xs, td = tree_flatten(tree)
    ds = tree_flatten(delta)[0]
    return tree_unflatten(td, [(_np(x) + scale * d).astype(_np(x).dtype) if np.issubdtype(_np(x).dtype, np.floating)
                               else _np(x) for x, d in zip(xs, ds, strict=True)])


def _inner(a: Any, b: Any) -> float:
    pairs = zip(_leaves(a), _leaves(b), strict=True)
    return float(sum(np.sum(x.astype(np.float64) * y.astype(np.float64)) for x, y in pairs))


def _close(name: str, got: Any, want: Any, atol: float, rtol: float) -> None:
    for g, w in zip(_leaves(got), _leaves(want), strict=True):
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), atol=atol, rtol=rtol,
                                   err_msg=f"check_grads: {name} mismatch")


def _numeric_jvp(f: Callable, args: tuple, tangent: Any, eps: float) -> list[np.ndarray]:
    """The central difference (f(x + eps t) - f(x - eps t)) / 2 eps, leaf by leaf, in float64."""
    plus = _value(f, _add(args, tangent, eps))
    minus = _value(f, _add(args, tangent, -eps))
    return [(p.astype(np.float64) - m.astype(np.float64)) / (2 * eps)
            for p, m in zip(_leaves(plus), _leaves(minus), strict=True)]


def _value(f: Callable, args: tuple) -> Any:
    """``f(*args)``, with the arguments traced (concrete tracers, so every value is computed).

    Called plainly on arrays, ``f`` would mix its results with the NumPy arrays it closes over
    through Python operators, which are the backend's own and which a CUDA tensor refuses. Traced
    arguments make every such operator functrace's, on any backend, and keep Python control flow
    on values working.
    """
    flat, in_tree = tree_flatten(tuple(args))
    f_flat, out_tree = flatten_fun(f, in_tree)
    _, _, outs = trace_flat(f_flat, [to_backend(x) for x in flat])
    return tree_unflatten(out_tree.val, [o.val if isinstance(o, Tracer) else o for o in outs])


def check_jvp(f: Callable, args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator) -> None:
    """ft.jvp against a central difference in a random direction."""
    tangent = _rand_like(rng, tuple(args))
    _, t_out = jvp(f, tuple(args), tangent)
    numeric = _numeric_jvp(f, tuple(args), tangent, eps)
    for g, w in zip(_leaves(t_out), numeric, strict=True):
        np.testing.assert_allclose(g.astype(np.float64), w, atol=atol, rtol=rtol,
                                   err_msg="check_grads: jvp does not match finite differences")


def check_vjp(f: Callable, args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator, against_jvp: bool = True) -> None:
    """<J^T ct, t> (reverse mode) against <ct, J t>, with J t by central differences (as JAX does,
    so reverse-only functions such as custom_vjp ones can be checked) and, when ``against_jvp``,
    by ft.jvp as well (forward and reverse mode must agree to rounding)."""
    tangent = _rand_like(rng, tuple(args))
    out, vjp_fn = vjp(f, *args)
    ct = _rand_like(rng, out)
    rev = _inner(vjp_fn(ct), tangent)
    expected = [("finite differences", _inner(ct, _numeric_jvp(f, tuple(args), tangent, eps)))]
    if against_jvp:
        expected.append(("jvp", _inner(ct, jvp(f, tuple(args), tangent)[1])))
    for name, fwd in expected:
        scale = max(1.0, abs(fwd), abs(rev))
        if abs(fwd - rev) > (atol + rtol) * scale:
            raise AssertionError(f"check_grads: vjp and {name} disagree: <ct, J t> = {fwd} but <J^T ct, t> = {rev}")


def check_grads(f: Callable, args: Sequence[Any], order: int, modes: Sequence[str] = ("fwd", "rev"),
                atol: float | None = None, rtol: float | None = None, eps: float | None = None,
                seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``; raises AssertionError on a mismatch.

    ``"fwd"`` compares ``ft.jvp`` with central differences; ``"rev"`` compares ``ft.vjp`` with
    central differences, and with ``ft.jvp`` when both modes are checked. Higher orders check
    the derivative functions themselves the same way.

    >>> ft.test_util.check_grads(fnp.sin, (np.array([0.3, 1.2]),), order=2)
    """
    args = tuple(args)
    dt = _dtype_of(args)
    eps = eps if eps is not None else _DEFAULT_EPS.get(dt, 1e-6)
    atol = atol if atol is not None else _DEFAULT_TOL.get(dt, 1e-5)
    rtol = rtol if rtol is not None else _DEFAULT_TOL.get(dt, 1e-5)
    rng = np.random.default_rng(seed)
    args = tuple(tree_unflatten(tree_flatten(a)[1], [_np(x) for x in tree_flatten(a)[0]]) for a in args)

    def check(fun: Callable, level: int) -> None:
        if "fwd" in modes:
            check_jvp(fun, args, atol, rtol, eps, rng)
        if "rev" in modes:
            check_vjp(fun, args, atol, rtol, eps, rng, against_jvp="fwd" in modes)
        if level > 1:
            if "fwd" in modes:
                t = _rand_like(rng, args)
                check(lambda *a: jvp(fun, a, t)[1], level - 1)
            if "rev" in modes:
                out = _value(fun, args)
                ct = _rand_like(rng, out)
                check(lambda *a: vjp(fun, *a)[1](ct), level - 1)

    check(f, order)
