"""The pieces of the primitive derivative table (``test_grad_primitives.py``): input domains and
``Case``. A family's rows may also live in a module ``tests/cases_<family>.py`` that defines
``CASES`` (a list of ``Case``) and, optionally, ``ELSEWHERE`` ({primitive: name of the test that
covers it}); the table collects them, so its coverage tests see every family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.tracing import get_aval

# check_grads tolerances per dtype, relative only (check_grads' default atol is rounding level, and
# it allows for the central difference's own error): float32 at its default rtol, float64 tighter.
TOL = {np.float32: dict(rtol=2e-3, eps=1e-3), np.float64: dict(rtol=1e-6, eps=1e-5)}
DTYPES = [np.float32, np.float64]


def dtype_of(x) -> np.dtype:
    """The NumPy dtype of a tracer or of an eager result on any backend (a torch tensor on torch)."""
    return get_aval(x).dtype


# ---------------------------------------------------------------------------- input domains
def real(shape):
    return lambda rng, dt: rng.standard_normal(shape).astype(dt)


def uniform(lo, hi, shape):
    return lambda rng, dt: rng.uniform(lo, hi, shape).astype(dt)


def nonzero(shape, lo=0.5, hi=2.0):
    """|x| in [lo, hi], either sign: away from the kinks of abs/sign and the pole of 1/x."""
    return lambda rng, dt: (rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)).astype(dt)


def off_grid(shape, step=1.0, offset=0.0):
    """Values whose distance to the grid ``offset + step * k`` is at least 0.2 * step (floor/round)."""
    return lambda rng, dt: ((rng.integers(-3, 4, shape) + rng.uniform(0.2, 0.8, shape)) * step + offset).astype(dt)


def distinct(shape, gap=0.3):
    """A random permutation of well-separated values, none near 0: no ties for max/min/argmax."""
    def make(rng, dt):
        n = int(np.prod(shape))
        return ((rng.permutation(n) - n // 2 + 0.4) * gap).reshape(shape).astype(dt)
    return make


def ints(shape, lo, hi):
    return lambda rng, dt: rng.integers(lo, hi, shape).astype(np.int32)


def bools(shape):
    return lambda rng, dt: rng.random(shape) < 0.5


def fixed(value, dtype=None):
    return lambda rng, dt: np.asarray(value, dtype=dtype or dt)


def pair_apart(shape, gap=0.2):
    """Two arrays whose elements differ by at least ``gap``: max/min/comparisons without ties."""
    def make(rng, dt):
        x = rng.standard_normal(shape)
        d = rng.uniform(gap, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        return x.astype(dt), (x + d).astype(dt)
    return make


@dataclass(frozen=True)
class Case:
    """One derivative check: ``fn(*args)`` must bind ``prim`` and pass check_grads to order 2.

    ``args`` makes the inputs from ``(rng, dtype)``: one maker per argument, or a single maker
    returning a tuple (for related inputs, as in ``pair_apart``).
    """

    name: str
    prim: P.Primitive
    fn: Callable[..., Any]
    args: Any
    order: int = 2
    loose: bool = False  # float32 tolerances even in float64 (the case computes in float32)
    modes: tuple = ("fwd", "rev")

    def make(self, rng: np.random.Generator, dt) -> tuple:
        if callable(self.args):
            return tuple(self.args(rng, dt))
        return tuple(m(rng, dt) for m in self.args)


def unary(prim: P.Primitive, f: Callable, dom: Callable[[tuple], Callable], shapes=((3, 5), ())) -> list[Case]:
    return [Case(f"{prim.name}{list(s)}", prim, f, (dom(s),)) for s in shapes]


def binary(prim: P.Primitive, f: Callable, dom_x=real, dom_y=real) -> list[Case]:
    """Equal odd shapes, and each side as a rank-0 operand standing for every position."""
    return [
        Case(f"{prim.name}[2,3]x[2,3]", prim, f, (dom_x((2, 3)), dom_y((2, 3)))),
        Case(f"{prim.name}[]x[5]", prim, f, (dom_x(()), dom_y((5,)))),
        Case(f"{prim.name}[4,1]x[]", prim, f, (dom_x((4, 1)), dom_y(()))),
    ]
