"""The NumPy backend (the default, CPU): one implementation per primitive.

The implementations live in one module per family of ``functrace/ops`` (``numpy_<family>.py``,
each with a table ``IMPLS``); this module holds the backend class, the choices made when a program
is lowered (``specialize``) and the list of tables ``make_backend`` registers.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from functrace import ops as P
from functrace.backends import (
    numpy_collectives,
    numpy_complex_parts,
    numpy_convolution,
    numpy_cumulative,
    numpy_debugging,
    numpy_dynamic_slicing,
    numpy_elementwise,
    numpy_fft,
    numpy_linalg,
    numpy_linalg_decompositions,
    numpy_random_bits,
    numpy_reductions,
    numpy_scatter,
    numpy_sorting,
    numpy_special,
    numpy_special_series,
    numpy_structural,
)
from functrace.backends.base import Backend
from functrace.backends.numpy_elementwise import BINARY, UNARY
from functrace.backends.numpy_util import quiet as _quiet  # noqa: F401 -- where family modules used to find it

# Implementations chosen when a program is lowered, for an equation's types, shapes and params
# (fast paths: float division without the integer check, squares, BLAS products and sums, ...).
_SPECIALIZE = {
    **numpy_elementwise.SPECIALIZE,
    **numpy_reductions.SPECIALIZE,
    **numpy_structural.SPECIALIZE,
    **numpy_linalg.SPECIALIZE,
}


class NumpyBackend(Backend):
    name = "numpy"
    array_types = (np.ndarray, np.generic)
    implicit_broadcast = frozenset(BINARY) | {P.select_p}
    silence_errors = staticmethod(functools.partial(np.errstate, all="ignore"))
    fresh_results = (frozenset(UNARY) - {P.stop_gradient_p}) | frozenset(BINARY) | frozenset({
        P.integer_pow_p, P.select_p, P.convert_element_type_p, P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p,
        P.reduce_min_p, P.reduce_and_p, P.reduce_or_p, P.argmax_p, P.argmin_p, P.cumsum_p, P.pad_p,
        P.concatenate_p, P.gather_p, P.scatter_add_p, P.dot_general_p})

    def writes_into(self, fn: Any) -> bool:
        return isinstance(fn, np.ufunc)

    def specialize(self, eqn: Any) -> Any:
        choose = _SPECIALIZE.get(eqn.primitive)
        return None if choose is None else choose(eqn)

    def asarray(self, x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)):
            return x
        if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def to_numpy(self, x: Any) -> Any:
        return self.asarray(x)


def make_backend() -> NumpyBackend:
    b = NumpyBackend()
    # One table per family (backends/numpy_<family>.py): a new family adds one line.
    tables = (
        numpy_elementwise.IMPLS,
        numpy_reductions.IMPLS,
        numpy_structural.IMPLS,
        numpy_linalg.IMPLS,
        numpy_convolution.IMPLS,
        numpy_sorting.IMPLS,
        numpy_scatter.IMPLS,
        numpy_dynamic_slicing.IMPLS,
        numpy_cumulative.IMPLS,
        numpy_random_bits.IMPLS,
        numpy_linalg_decompositions.IMPLS,
        numpy_complex_parts.IMPLS,
        numpy_fft.IMPLS,
        numpy_special.IMPLS,
        numpy_special_series.IMPLS,
        numpy_debugging.IMPLS,
        numpy_collectives.IMPLS,
    )
    for table in tables:
        for prim, impl in table.items():
            b.register(prim, impl)
    return b
