"""``ft.test_util.check_grads``: derivatives against central differences, and reverse mode against
forward mode, to any order (the contract of JAX's ``check_grads``, with stricter tolerances).

How strict, and why it can afford to be:

- **Directions.** Every floating input gets a random direction (complex ones in their real and
  imaginary parts both); integer and boolean inputs get none (a zero tangent). Each element's
  component is scaled by ``max(1, |x|)``, so the step ``eps * t`` is relative to the input where
  the input is large. The two perturbed points are rounded to the input's dtype, and the tangent
  given to ``jvp``/``vjp`` is the exact half-difference of those rounded points, so the rounding
  of ``x + eps * t`` does not count against the rule.
- **Tolerances are relative, not absolute.** Two numbers agree when their difference is at most
  ``atol + rtol * scale + noise``: ``scale`` is the size of the quantities compared (the larger
  of the two element magnitudes plus the root mean square of the output leaf, for a forward check;
  the sum of the absolute terms of both inner products, for a reverse check); ``noise`` is the
  central difference's own error (a few units of roundoff of ``f``'s values over the step, plus
  twice the change when the step is halved); ``atol`` defaults to rounding level (16 machine
  epsilons: 1.9e-6 in float32, 3.6e-15 in float64), not a fixed 1e-5. So a derivative off by 0.05 % fails
  in float64 at any magnitude above 1e-11; ``rtol`` defaults to JAX's (2e-3 for float32, 1e-5 for
  float64).
- **Reverse mode** is checked through ``<ct, J t> = <J^T ct, t>`` with a random cotangent, ``J t``
  from central differences (so a reverse-only ``custom_vjp`` is checked) and, when both modes are
  asked for, from ``ft.jvp`` too. For complex values the pairing is ``Re(sum(conj(a) * b))`` and
  the cotangent goes in conjugated, as JAX's convention for complex derivatives makes it.
- **Higher orders** check the derivative functions themselves, recursively, in every mode asked
  for: ``x -> jvp(f, x, t)`` and ``x -> vjp(f, x)(ct)`` with a fixed random ``t`` and ``ct``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace.api import device_get, flatten_fun, to_backend, trace_flat
from functrace.tracing import Tracer
from functrace.transforms.autodiff import jvp, vjp
from functrace.tree_util import tree_flatten, tree_unflatten

# Steps a little under the cube root of each dtype's machine epsilon, which balances truncation
# (eps**2) against rounding (epsilon / eps) in a central difference, erring towards the small steps
# that input domains near a kink or pole need; rtol is JAX's default_gradient_tolerance.
_DEFAULT_EPS = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-6}
_DEFAULT_RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 2e-3, np.dtype(np.float64): 1e-5}
# A central difference of values v computed in a dtype whose machine epsilon is u is off by up to
# about _NOISE_ULPS * u * |v| / eps: each of the two values may be off by 8 units of roundoff (u / 2)
# from the rounding inside f. (Larger rounding, from cancellation inside f, shows in the halved step.)
_NOISE_ULPS = 4.0
# The default atol: rounding level, 16 machine epsilons of a value of order one. A derivative whose
# true value is zero comes out of any computation as the rounding noise of the terms that cancelled
# (d/dx (sin(x)**2 + cos(x)**2)); nothing relative to the result's magnitude can allow for that.
_ATOL_ULPS = 16.0


# ---------------------------------------------------------------------------- arrays and trees
def _np(x: Any) -> np.ndarray:
    return np.asarray(device_get(x))


def _leaves(tree: Any) -> list[np.ndarray]:
    return [_np(x) for x in tree_flatten(tree)[0]]


def _is_inexact(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.inexact)


def _wide(a: np.ndarray) -> np.ndarray:
    """float64 or complex128: where differences and inner products are taken."""
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def _real_dtype(dt: np.dtype) -> np.dtype:
    return np.finfo(dt).dtype if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


def _dtype_of(args: Sequence[Any]) -> np.dtype:
    """The least precise floating dtype among the inputs: it sets the default eps and rtol."""
    dts = [_real_dtype(_np(x).dtype) for x in tree_flatten(tuple(args))[0] if _is_inexact(_np(x))]
    return min(dts, key=lambda d: d.itemsize) if dts else np.dtype(np.float64)


def random_direction(rng: np.random.Generator, x: Any, scaled: bool = True) -> np.ndarray:
    """A standard normal direction shaped and typed like ``x`` (real and imaginary parts for a
    complex ``x``), each component scaled by ``max(1, |x|)`` when ``scaled``; zeros for integer and
    boolean ``x``, which have no direction to move in."""
    a = _np(x)
    if not _is_inexact(a):
        return np.zeros(a.shape, a.dtype)
    t = rng.standard_normal(a.shape)
    if np.iscomplexobj(a):
        t = t + 1j * rng.standard_normal(a.shape)
    if scaled:
        t = t * np.maximum(1.0, np.abs(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)))
    return np.asarray(t).astype(a.dtype)


def _rand_like(rng: np.random.Generator, tree: Any, scaled: bool = False) -> Any:
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [random_direction(rng, x, scaled) for x in leaves])


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``Re(sum(conj(a) * b))`` in double precision, and the sum of its terms' magnitudes."""
    terms = np.conj(_wide(a)).ravel() * _wide(b).ravel()
    return float(np.sum(terms.real)), float(np.sum(np.abs(terms)))


def _inner(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> tuple[float, float]:
    """The real inner product of two lists of leaves (integer leaves carry no derivative and are
    skipped), and the magnitude of its terms."""
    total, size = 0.0, 0.0
    for x, y in zip(xs, ys, strict=True):
        if _is_inexact(x) and _is_inexact(y):
            v, m = _pair(x, y)
            total, size = total + v, size + m
    return total, size


# ---------------------------------------------------------------------------- evaluation
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


class _Direction:
    """A direction ``t`` at ``args`` and the central difference of ``f`` along it.

    The points ``x + eps t`` and ``x - eps t`` are rounded to the inputs' dtypes; ``tangent`` is
    their exact half-difference over ``eps`` (so what the difference measures is what ``jvp`` and
    ``vjp`` are asked), in the inputs' dtypes.
    """

    def __init__(self, args: tuple, eps: float, rng: np.random.Generator):
        leaves, self._tree = tree_flatten(args)
        self._x = [_np(x) for x in leaves]
        self._t = [random_direction(rng, a) for a in self._x]
        self.eps = eps
        plus, minus = self._points(eps)
        self.tangent = tree_unflatten(self._tree, [
            ((_wide(p) - _wide(m)) / (2 * eps)).astype(a.dtype) if _is_inexact(a) else np.zeros(a.shape, a.dtype)
            for a, p, m in zip(self._x, plus, minus, strict=True)])

    def _points(self, step: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        plus = [(a + step * t).astype(a.dtype) if _is_inexact(a) else a for a, t in zip(self._x, self._t, strict=True)]
        minus = [(a - step * t).astype(a.dtype) if _is_inexact(a) else a for a, t in zip(self._x, self._t, strict=True)]
        return plus, minus

    def _difference(self, f: Callable, step: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The central difference with ``step``, per output leaf in double precision, and the
        largest magnitude of f's values in each leaf."""
        plus, minus = self._points(step)
        diffs, sizes = [], []
        for p, m in zip(_leaves(_value(f, tree_unflatten(self._tree, plus))),
                        _leaves(_value(f, tree_unflatten(self._tree, minus))), strict=True):
            wp, wm = _wide(p), _wide(m)
            with np.errstate(invalid="ignore"):
                diffs.append(np.where(wp == wm, 0.0, wp - wm) / (2 * step))  # inf - inf: no change
            u = np.finfo(_real_dtype(p.dtype)).eps if _is_inexact(p) else 0.0
            big = np.maximum(np.abs(wp), np.abs(wm))
            sizes.append(u * np.max(big, where=np.isfinite(big), initial=0.0))  # an inf must not excuse all
        return diffs, sizes

    def numeric(self, f: Callable) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(f(x + eps t) - f(x - eps t)) / 2 eps`` per output leaf, in double precision, and how
        far each element may be from ``J t`` for reasons that are the difference's, not the rule's:
        the rounding of f's values (a few units of roundoff of the leaf's largest value, over the
        step) plus twice the change when the step is halved (which estimates both the truncation
        error and a rounding error larger than f's values suggest, as when f's value is the small
        difference of large intermediates)."""
        diffs, sizes = self._difference(f, self.eps)
        halves, _ = self._difference(f, self.eps / 2)
        noises = []
        for d, h, s in zip(diffs, halves, sizes, strict=True):
            with np.errstate(invalid="ignore"):
                change = np.where((d == h) | ~np.isfinite(d) | ~np.isfinite(h), 0.0, np.abs(d - h))
            noises.append(_NOISE_ULPS * s / self.eps + 2.0 * change)
        return diffs, noises


def _rms(a: np.ndarray) -> float:
    """The root mean square of the finite elements (an inf or nan elsewhere must not excuse all)."""
    finite = np.abs(a[np.isfinite(a)])
    return float(np.sqrt(np.mean(finite**2))) if finite.size else 0.0


def _same(a: Any, b: Any) -> Any:
    """Equal, or both nan (as NumPy's assert_allclose counts them)."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _fmt(v: Any) -> str:
    return np.format_float_scientific(v, precision=10) if np.isrealobj(v) else f"{complex(v):.10e}"


# ---------------------------------------------------------------------------- the checks
def _check_primal(where: str, got: Any, f: Callable, args: tuple, rtol: float) -> None:
    """The primal output of jvp/vjp is f's value (to rounding: the transforms may fold differently)."""
    for k, (g, w) in enumerate(zip(_leaves(got), _leaves(_value(f, args)), strict=True)):
        if g.shape != w.shape:
            raise AssertionError(f"check_grads: {where}: primal output {k} has shape {g.shape}, f gives {w.shape}")
        if not _is_inexact(w):
            if not np.array_equal(g, w):
                raise AssertionError(f"check_grads: {where}: primal output {k} differs from f's value")
            continue
        gw, ww = _wide(g), _wide(w)
        tol = rtol * (np.maximum(np.abs(gw), np.abs(ww)) + _rms(ww))
        with np.errstate(invalid="ignore"):
            bad = ~((np.abs(gw - ww) <= tol) | _same(gw, ww))
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise AssertionError(f"check_grads: {where}: primal output {k} at {i} is {_fmt(gw[i])} but f gives "
                                 f"{_fmt(ww[i])} (tolerance {tol[i]:.3g})")


def check_jvp(f: Callable, args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator, where: str = "order 1") -> None:
    """``ft.jvp`` against a central difference in a random direction, element by element."""
    args = tuple(args)
    d = _Direction(args, eps, rng)
    primal, t_out = jvp(f, args, d.tangent)
    _check_primal(f"{where}, forward mode", primal, f, args, rtol)
    numeric, noise = d.numeric(f)
    for k, (p, a, b, n) in enumerate(zip(_leaves(primal), _leaves(t_out), numeric, noise, strict=True)):
        if _is_inexact(p) and a.dtype != p.dtype:
            raise AssertionError(f"check_grads: {where}, forward mode: the tangent of output {k} is {a.dtype} "
                                 f"but the output is {p.dtype}")
        if not _is_inexact(p):
            continue
        if a.shape != p.shape:
            raise AssertionError(f"check_grads: {where}, forward mode: the tangent of output {k} has shape "
                                 f"{a.shape} but the output has {p.shape}")
        aw = _wide(a)
        tol = atol + rtol * (np.maximum(np.abs(aw), np.abs(b)) + max(_rms(aw), _rms(b))) + n
        with np.errstate(invalid="ignore"):
            bad = ~((np.abs(aw - b) <= tol) | _same(aw, b))
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            raise AssertionError(
                f"check_grads: {where}, forward mode: jvp does not match finite differences: output {k} at "
                f"{i}: jvp gives {_fmt(aw[i])}, central difference (eps={eps:g}) {_fmt(b[i])}; |difference| "
                f"{np.abs(aw[i] - b[i]):.3g} > tolerance {tol[i]:.3g} (atol={atol:g}, rtol={rtol:g}); "
                f"{int(bad.sum())} of {bad.size} elements disagree")


def check_vjp(f: Callable, args: Sequence[Any], atol: float, rtol: float, eps: float,
              rng: np.random.Generator, against_jvp: bool = True, where: str = "order 1") -> None:
    """``<J^T ct, t>`` (reverse mode, random ``ct`` and ``t``) against ``<ct, J t>``, with ``J t``
    from a central difference (as JAX does, so reverse-only functions such as custom_vjp ones
    can be checked) and, when ``against_jvp``, from ``ft.jvp`` as well."""
    args = tuple(args)
    d = _Direction(args, eps, rng)
    out, vjp_fn = vjp(f, *args)
    _check_primal(f"{where}, reverse mode", out, f, args, rtol)
    out_leaves = _leaves(out)
    ct = _rand_like(rng, out)
    ct_leaves = _leaves(ct)
    ct_in = tree_unflatten(tree_flatten(ct)[1], [np.conj(c) if np.iscomplexobj(c) else c for c in ct_leaves])
    pulled = _leaves(vjp_fn(ct_in))
    for k, (g, x) in enumerate(zip(pulled, _leaves(d.tangent), strict=True)):
        if _is_inexact(x) and g.dtype != x.dtype:
            raise AssertionError(f"check_grads: {where}, reverse mode: the cotangent of input {k} is {g.dtype} "
                                 f"but the input is {x.dtype}")
    rev, rev_size = _inner(_leaves(d.tangent), [np.conj(g) for g in pulled])

    numeric, noise = d.numeric(f)
    fd, fd_size = _inner(numeric, ct_leaves)
    fd_noise = sum(float(np.sum(np.abs(_wide(c)) * n)) for c, n, o in zip(ct_leaves, noise, out_leaves, strict=True)
                   if _is_inexact(o))
    expected = [("finite differences", f"central difference, eps={eps:g}", fd, fd_size, fd_noise)]
    if against_jvp:
        ad, ad_size = _inner(_leaves(jvp(f, args, d.tangent)[1]), ct_leaves)
        # Both sides are computed exactly up to rounding, but a true zero is only known to within
        # the rounding noise of f's values (sin(x)**2 + cos(x)**2): the same noise bound applies.
        expected.append(("jvp", "jvp", ad, ad_size, fd_noise))
    for name, how, fwd, size, noise_bound in expected:
        tol = atol + rtol * max(size, rev_size) + noise_bound
        if not (abs(fwd - rev) <= tol or _same(fwd, rev)):
            raise AssertionError(
                f"check_grads: {where}, reverse mode: vjp and {name} disagree: <ct, J t> = {_fmt(fwd)} ({how}) "
                f"but <J^T ct, t> = {_fmt(rev)} (vjp); |difference| {abs(fwd - rev):.3g} > tolerance {tol:.3g} "
                f"(atol={atol:g}, rtol={rtol:g})")


def check_grads(f: Callable, args: Sequence[Any], order: int, modes: Sequence[str] = ("fwd", "rev"),
                atol: float | None = None, rtol: float | None = None, eps: float | None = None,
                seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` up to ``order``; raises AssertionError on a mismatch,
    naming the mode and order that failed, the two numbers and the tolerance.

    ``"fwd"`` compares ``ft.jvp`` with central differences in a random direction; ``"rev"``
    compares ``ft.vjp`` with them (and with ``ft.jvp`` when both modes are checked) through
    ``<ct, J t> = <J^T ct, t>``. Orders above 1 check the derivative functions themselves the same
    way, in every mode. Defaults: ``eps`` 1e-3 (float32) or 1e-6 (float64), scaled by
    ``max(1, |x|)``; ``rtol`` 2e-3 (float32) or 1e-5 (float64), relative to the magnitudes
    compared; ``atol`` 16 machine epsilons (1.9e-6 in float32, 3.6e-15 in float64).

    >>> ft.test_util.check_grads(fnp.sin, (np.array([0.3, 1.2]),), order=2)
    """
    unknown = set(modes) - {"fwd", "rev"}
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be a non-empty subset of ('fwd', 'rev'), got {tuple(modes)}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be a positive integer, got {order!r}")
    args = tuple(args)
    dt = _dtype_of(args)
    eps = eps if eps is not None else _DEFAULT_EPS.get(dt, 1e-6)
    atol = atol if atol is not None else _ATOL_ULPS * float(np.finfo(dt).eps)
    rtol = rtol if rtol is not None else _DEFAULT_RTOL.get(dt, 1e-5)
    rng = np.random.default_rng(seed)
    args = tuple(tree_unflatten(tree_flatten(a)[1], [_np(x) for x in tree_flatten(a)[0]]) for a in args)

    def check(fun: Callable, level: int, name: str) -> None:
        where = f"order {order - level + 1} ({name})"
        if "fwd" in modes:
            check_jvp(fun, args, atol, rtol, eps, rng, where=where)
        if "rev" in modes:
            check_vjp(fun, args, atol, rtol, eps, rng, against_jvp="fwd" in modes, where=where)
        if level > 1:
            if "fwd" in modes:
                t = _rand_like(rng, args)
                check(lambda *a: jvp(fun, a, t)[1], level - 1, f"jvp of {name}")
            if "rev" in modes:
                ct = _rand_like(rng, _value(fun, args))
                check(lambda *a: vjp(fun, *a)[1](ct), level - 1, f"vjp of {name}")

    check(f, order, "f")
