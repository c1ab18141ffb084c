"""The types of ``functrace.optim`` (``GradientTransformation``, ``EmptyState``) and the pytree
helpers every transformation uses: zeros, casts, moments, bias correction, norms."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import numpy as np

import functrace.numpy as fnp
from functrace.errors import DTypeError
from functrace.tracing import get_aval, located, user_error
from functrace.tree_util import tree_leaves, tree_map

Schedule = Callable[[Any], Any]
ScalarOrSchedule = Union[float, Schedule]

_INT32_MAX = int(np.iinfo(np.int32).max)


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none (a pytree with no leaves)."""


def _dtype(x: Any) -> np.dtype:
    return get_aval(x).dtype


def _scalar(x: Any) -> Any:
    """A hyperparameter given as a NumPy scalar becomes a Python number, so that, like the Python
    number it stands for, it does not widen float32 parameters to float64."""
    if isinstance(x, np.generic) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return x.item()
    return x


def _check_state(state: Any, expected: type | tuple[type, ...], who: str) -> None:
    """A state from another optimiser (or another place in a chain) is a clear error, not an AttributeError."""
    if not isinstance(state, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise user_error(TypeError(f"{who}: expected a {names} (from this transformation's init), "
                                   f"got {type(state).__name__}; pass the state that this optimiser's init returned"))


def _native(tree: Any) -> Any:
    """The leaves as arrays of the active backend (NumPy gradients meet torch states otherwise)."""
    return tree_map(fnp.asarray, tree)


def _zero_count() -> Any:
    return fnp.zeros((), dtype=np.int32)


def safe_increment(count: Any) -> Any:
    """``count + 1`` that stops at int32's maximum instead of wrapping round to a negative step."""
    return fnp.minimum(count, _INT32_MAX - 1) + 1


def _zeros_like(tree: Any, dtype: Any = None) -> Any:
    return tree_map(lambda p: fnp.zeros_like(p, dtype=dtype), tree)


def _cast(tree: Any, dtype: Any) -> Any:
    return tree if dtype is None else tree_map(lambda t: fnp.astype(t, dtype), tree)


def _bias_correction(moment: Any, decay: float, count: Any) -> Any:
    """``moment / (1 - decay**count)``; the power is taken in float64 (a float32 ``decay**count`` can
    round to 1 and divide by zero), the division in the moment's own dtype."""
    correction = 1 - fnp.power(decay, count)
    return tree_map(lambda t: t / fnp.astype(correction, _dtype(t)), moment)


def _square(x: Any) -> Any:
    """``x**2`` of a real array. optax squares complex values as ``|x|**2``; until functrace.numpy
    has ``conj``/``real`` (the complex-numbers issue), a complex leaf is refused rather than
    given ``x**2``, which is the wrong moment."""
    if _dtype(x).kind == "c":
        raise located(DTypeError(f"functrace.optim supports real parameters only: got a complex {_dtype(x).name} "
                                 "gradient; optimise its real and imaginary parts as two real leaves"))
    return fnp.square(x)


def _ema(values: Any, moment: Any, decay: float) -> Any:
    """The exponential moving average ``(1 - decay) * values + decay * moment``, leafwise."""
    return tree_map(lambda v, t: (1 - decay) * v + decay * t, values, moment)


def global_norm(updates: Any) -> Any:
    """The 2-norm of all the leaves together, as one vector.

    Its derivative at zero is zero rather than optax's nan (sqrt's infinite slope times 0): the
    square root only sees a positive sum, so a meta-gradient through clipping stays finite.
    """
    sq = sum(fnp.sum(_square(x)) for x in tree_leaves(updates))
    positive = sq > 0
    return fnp.where(positive, fnp.sqrt(fnp.where(positive, sq, 1)), 0)


def apply_updates(params: Any, updates: Any) -> Any:
    """``params + updates`` leafwise, each result in its parameter's dtype (``None`` leaves stay)."""
    return tree_map(lambda p, u: fnp.astype(fnp.add(p, u), _dtype(p)), params, updates)
