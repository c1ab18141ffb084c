"""Arithmetic on truncated Taylor series, shared by the jet (Taylor-mode) rules of the families.

A series here is a list ``[x0, x1, ..., xK]`` of arrays of one shape: the *normalised* Taylor
coefficients of a path, ``x(t) = x0 + x1 t + ... + xK t^K`` (``xk`` is the k-th derivative over
k!). ``transforms.jet`` converts from and to JAX's scaling (k-th derivatives) at its boundary;
the rules only ever see normalised coefficients, where products are plain Cauchy products.

The k-th coefficient of a product, ``sum_j a_j b_(k-j)``, is computed over two stacked operands
(one ``mul`` and one ``reduce_sum``; one dot product for scalar series) rather than as k
multiplications and k-1 additions: the program grows like K (a handful of equations per order),
the arithmetic like K^2. Each coefficient is stacked (given a leading axis of 1) once and cached
(``Taylor``). The exception is a scalar series recorded into a program: its terms are written
one by one (``SCALAR_TERMS``), which lowered code runs as arithmetic on Python floats.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.tracing import Tracer, get_aval

Array = Any


class Taylor:
    """A series ``[x0, ..., xK]`` with stacked views of its coefficients, built incrementally.

    ``fwd(lo, hi)`` is the array of coefficients lo..hi stacked on a new leading axis and
    ``rev(lo, hi)`` the same in descending order; both are kept as one growing stack each, so
    an order-k product costs two small concatenations and slices, not a concatenation of k
    arrays."""

    __slots__ = ("c", "_z", "_e", "_fwd", "_nf", "_rev", "_nr")

    def __init__(self, coeffs: Sequence[Array]):
        self.c = list(coeffs)
        self._z = [_known_zero(x) for x in self.c]
        self._e: dict[int, Array] = {}
        self._fwd: Array = None
        self._nf = 0  # coefficients 0.._nf-1 are in _fwd
        self._rev: Array = None
        self._nr = 0  # coefficients _nr-1..0 are in _rev

    def __getitem__(self, k: int) -> Array:
        return self.c[k]

    def __len__(self) -> int:
        return len(self.c)

    def append(self, x: Array) -> None:
        self.c.append(x)
        self._z.append(_known_zero(x))

    @property
    def nz(self) -> int:
        """One past the last coefficient that may be nonzero: the path x + t v of
        ``ft.derivatives`` has ``nz == 2``, and products skip the known-zero terms."""
        n = len(self._z)
        while n > 0 and self._z[n - 1]:
            n -= 1
        return n

    def expanded(self, k: int) -> Array:
        e = self._e.get(k)
        if e is None:
            x = self.c[k]
            a = get_aval(x)
            e = self._e[k] = lax.broadcast_in_dim(x, (1,) + a.shape, tuple(range(1, a.ndim + 1)))
        return e

    def fwd(self, lo: int, hi: int) -> Array:
        if hi >= self._nf:
            n = len(self.c)  # stack everything known now: later calls only slice
            new = [self.expanded(j) for j in range(self._nf, n)]
            parts = ([self._fwd] if self._fwd is not None else []) + new
            self._fwd = parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)
            self._nf = n
        return _rows(self._fwd, lo, hi + 1, self._nf)

    def rev(self, lo: int, hi: int) -> Array:
        if hi >= self._nr:
            n = len(self.c)
            new = [self.expanded(j) for j in range(n - 1, self._nr - 1, -1)]
            parts = new + ([self._rev] if self._rev is not None else [])
            self._rev = parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)
            self._nr = n
        m = self._nr - 1  # row i holds coefficient m - i
        return _rows(self._rev, m - hi, m - lo + 1, self._nr)


def _known_zero(x: Array) -> bool:
    """A concrete NumPy zero (say the higher terms of a straight path): never a traced value."""
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        return not np.any(x)
    return False


def _rows(x: Array, start: int, stop: int, n: int) -> Array:
    if start == 0 and stop == n:
        return x
    a = get_aval(x)
    return lax.slice(x, (start,) + (0,) * (a.ndim - 1), (stop,) + a.shape[1:], (1,) * a.ndim)


def const(value: float, like: Array) -> Array:
    """A scalar literal of ``like``'s dtype."""
    return np.asarray(value, dtype=get_aval(like).dtype)[()]


# Up to this many terms, a Cauchy product of scalar series that is being recorded into a program
# (jit, make_jaxpr) is written term by term: once lowered, each term is a multiply-add of two
# Python floats (about 0.1 µs), where a stacked term costs a broadcast, two concatenations and a
# dot product (about 3 µs) per order. Run at once (eager), each term would be a call of its own,
# so there the coefficients are stacked. (The 8th derivative of tanh under jit: 8 µs term by
# term, 30 µs stacked; the 32nd: 41 and 108 µs; the program grows like K^2 instead of K.)
SCALAR_TERMS = 32


def _recorded(x: Array) -> bool:
    """Whether ``x`` belongs to a trace that records a program (not an eager transform's value)."""
    return isinstance(x, Tracer) and x._trace.records_programs


def conv(a: Taylor, b: Taylor, k: int, lo: int = 0, hi: int | None = None) -> Array:
    """``sum_{j=lo}^{hi} a_j * b_(k-j)`` (``hi`` defaults to k): one term of a Cauchy product."""
    hi = min(k if hi is None else hi, a.nz - 1)
    lo = max(lo, k - (b.nz - 1))
    js = range(lo, hi + 1)
    if len(js) == 0:
        return lax.zeros_like(lax.mul(a[0], b[0]))
    if len(js) == 1:
        return lax.mul(a[lo], b[k - lo])
    scalar = get_aval(a[lo]).ndim == 0
    if scalar and len(js) <= SCALAR_TERMS and (_recorded(a[lo]) or _recorded(b[k - lo])):
        total = lax.mul(a[lo], b[k - lo])
        for j in js[1:]:
            total = lax.add(total, lax.mul(a[j], b[k - j]))
        return total
    fwd, rev = a.fwd(lo, hi), b.rev(k - hi, k - lo)
    if scalar:  # one dot product of the stacked coefficients
        return lax.dot_general(fwd, rev, (((0,), (0,)), ((), ())))
    return lax.reduce_sum(lax.mul(fwd, rev), (0,))


def scaled_by_index(u: Taylor) -> Taylor:
    """``[0, 1*u1, 2*u2, ..., K*uK]`` (the series of ``t * u'(t)``); the zeroth entry is unused."""
    return Taylor([u[0]] + [u[j] if j == 1 else lax.mul(u[j], const(j, u[j])) for j in range(1, len(u))])


def mul(a: Taylor, b: Taylor) -> Taylor:
    return Taylor([conv(a, b, k) for k in range(len(a))])


def div(a: Taylor, b: Taylor) -> Taylor:
    """``q = a / b``: from ``q b = a``, ``q_k = (a_k - sum_{j<k} q_j b_(k-j)) / b_0``."""
    q = Taylor([lax.div(a[0], b[0])])
    for k in range(1, len(a)):
        q.append(lax.div(lax.sub(a[k], conv(q, b, k, 0, k - 1)), b[0]))
    return q


def scale(a: Taylor, c: float) -> Taylor:
    return Taylor([lax.mul(x, const(c, x)) for x in a.c])


def shift(a: Taylor, c: float) -> Taylor:
    """``a + c`` for a constant c: only the zeroth coefficient changes."""
    return Taylor([lax.add(a[0], const(c, a[0]))] + a.c[1:])


def add(a: Taylor, b: Taylor) -> Taylor:
    return Taylor([lax.add(x, y) for x, y in zip(a.c, b.c, strict=True)])


def sub(a: Taylor, b: Taylor) -> Taylor:
    return Taylor([lax.sub(x, y) for x, y in zip(a.c, b.c, strict=True)])


def ode(y0: Array, u: Taylor, deriv: Callable[[Taylor, int], Array], first: Array | None = None) -> Taylor:
    """The series of ``y(t) = f(u(t))`` for ``f' = h``, written as the ODE ``y' = h u'``.

    ``deriv(y, m)`` returns ``h_m``, the m-th coefficient of ``h`` along the path, from the
    coefficients ``y_0..y_m`` already known (``first`` is ``h_0`` if it is at hand). Matching
    ``t^(k-1)`` in ``y' = h u'`` gives ``k y_k = sum_{j=1}^k j u_j h_(k-j)``: one product per order.
    """
    ju = scaled_by_index(u)
    y = Taylor([y0])
    h = Taylor([deriv(y, 0) if first is None else first])
    n = len(u)
    for k in range(1, n):
        yk = conv(ju, h, k, 1, k)
        y.append(yk if k == 1 else lax.mul(yk, const(1.0 / k, yk)))
        if k < n - 1:
            h.append(deriv(y, k))
    return y


def integrate(y0: Array, u: Taylor, h: Taylor) -> Taylor:
    """``y = f(u)`` where the series ``h`` of ``f'(u(t))`` is known in advance (``ode`` with a fixed h)."""
    return ode(y0, u, lambda y, m: h[m])


def exp(u: Taylor) -> Taylor:
    e0 = lax.exp(u[0])
    return ode(e0, u, lambda y, m: y[m], first=e0)


def log(u: Taylor) -> Taylor:
    """From ``u y' = u'``: ``y_k = (u_k - (1/k) sum_{j=1}^{k-1} j y_j u_(k-j)) / u_0``."""
    y = Taylor([lax.log(u[0])])
    jy = Taylor([u[0]])
    for k in range(1, len(u)):
        if k == 1:
            num = u[1]
        else:
            num = lax.sub(u[k], lax.mul(conv(jy, u, k, 1, k - 1), const(1.0 / k, u[k])))
        y.append(lax.div(num, u[0]))
        jy.append(y[k] if k == 1 else lax.mul(y[k], const(k, y[k])))
    return y


def sqrt(u: Taylor) -> Taylor:
    """From ``y^2 = u``: ``y_k = (u_k - sum_{j=1}^{k-1} y_j y_(k-j)) / (2 y_0)``."""
    y = Taylor([lax.sqrt(u[0])])
    two_y0 = lax.mul(y[0], const(2, y[0]))
    for k in range(1, len(u)):
        num = u[k] if k == 1 else lax.sub(u[k], conv(y, y, k, 1, k - 1))
        y.append(lax.div(num, two_y0))
    return y


def integer_power(u: Taylor, n: int) -> Taylor:
    """``u ** n`` by repeated squaring of series (exact where ``u_0 = 0``, unlike a recurrence)."""
    if n < 0:
        one = Taylor([lax.full_like_aval(get_aval(u[0]), 1)] + [lax.zeros_like(x) for x in u.c[1:]])
        return div(one, integer_power(u, -n))
    result: Taylor | None = None
    base = u
    while n:
        if n & 1:
            result = base if result is None else mul(result, base)
        n >>= 1
        if n:
            base = mul(base, base)
    assert result is not None
    return result


def sin_cos(u: Taylor, hyperbolic: bool = False) -> tuple[Taylor, Taylor]:
    """``(sin u, cos u)`` together (``sinh``/``cosh`` when ``hyperbolic``): s' = c u', c' = -+s u'."""
    ju = scaled_by_index(u)
    if hyperbolic:
        s, c = Taylor([lax.sinh(u[0])]), Taylor([lax.cosh(u[0])])
    else:
        s, c = Taylor([lax.sin(u[0])]), Taylor([lax.cos(u[0])])
    for k in range(1, len(u)):
        sk, ck = conv(ju, c, k, 1, k), conv(ju, s, k, 1, k)
        if not hyperbolic:
            ck = lax.neg(ck)
        if k > 1:
            sk, ck = lax.mul(sk, const(1.0 / k, sk)), lax.mul(ck, const(1.0 / k, ck))
        s.append(sk)
        c.append(ck)
    return s, c


def quadratic_ode(y0: Array, u: Taylor, a: float, b: float, c: float) -> Taylor:
    """``y = f(u)`` for ``f' = a + b f + c f^2`` (tan: 1,0,1; tanh: 1,0,-1; logistic: 0,1,-1)."""

    def deriv(y: Taylor, m: int) -> Array:
        sq = lax.mul(y[0], y[0]) if m == 0 else conv(y, y, m)
        out = lax.mul(sq, const(c, sq)) if c != 1 else sq
        if b:
            out = lax.add(out, y[m] if b == 1 else lax.mul(y[m], const(b, y[m])))
        if m == 0 and a:
            out = lax.add(out, const(a, out))
        return out

    return ode(y0, u, deriv)


def from_parts(primal: Array, series: Sequence[Array] | None, like: Array, order: int) -> Taylor:
    """A Taylor of ``primal`` and its series (zeros when None), shaped like ``like`` (broadcast)."""
    a = get_aval(like)
    if series is None:
        z = lax.full(a.shape, 0, a.dtype)
        return Taylor([_bcast(primal, a)] + [z] * order)
    return Taylor([_bcast(primal, a)] + [_bcast(s, a) for s in series])


def _bcast(x: Array, a: Any) -> Array:
    xa = get_aval(x)
    if xa.shape == a.shape:
        return x
    return lax.broadcast_in_dim(x, a.shape, ())
