"""NumPy implementation of the linalg family (``functrace/ops/linalg.py``): ``dot_general``."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from functrace import ops as P


def _matmul(lhs, rhs, *, dimension_numbers):
    return lhs @ rhs


def _matmul_t(lhs, rhs, *, dimension_numbers):
    return lhs @ rhs.T


def _t_matmul(lhs, rhs, *, dimension_numbers):
    return lhs.T @ rhs


def _t_matmul_t(lhs, rhs, *, dimension_numbers):
    return lhs.T @ rhs.T


# Matrix products of two matrices, by which axis of each is contracted: one BLAS call on views.
_MATRIX_PRODUCTS = {(1, 0): _matmul, (1, 1): _matmul_t, (0, 0): _t_matmul, (0, 1): _t_matmul_t}
# The inner product of two vectors (as in the Taylor rules' Cauchy products): ``@``, one call.
_VECTOR_PRODUCTS = {(0, 0): _matmul}


@functools.lru_cache(maxsize=256)
def _general_product(lhs_shape: tuple, rhs_shape: tuple, dimension_numbers: tuple) -> Any:
    """``_dot_general`` for one pair of shapes, with its transposes and reshapes worked out once
    (a batched product inside a scan's step runs on every iteration)."""
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [i for i in range(len(lhs_shape)) if i not in lc and i not in lb]
    rfree = [i for i in range(len(rhs_shape)) if i not in rc and i not in rb]
    lperm, rperm = tuple(list(lb) + lfree + list(lc)), tuple(list(rb) + list(rc) + rfree)
    b = math.prod(lhs_shape[i] for i in lb)
    m, k = math.prod(lhs_shape[i] for i in lfree), math.prod(lhs_shape[i] for i in lc)
    n = math.prod(rhs_shape[i] for i in rfree)
    out_shape = tuple([lhs_shape[i] for i in lb] + [lhs_shape[i] for i in lfree] + [rhs_shape[i] for i in rfree])
    lsplit, rsplit = (b, m, k) if lb else (m, k), (b, k, n) if lb else (k, n)

    def product(lhs, rhs, *, dimension_numbers):
        out = np.matmul(lhs.transpose(lperm).reshape(lsplit), rhs.transpose(rperm).reshape(rsplit))
        return out.reshape(out_shape)

    product.__name__ = "_general_product"
    return product


def _dot_general(lhs, rhs, *, dimension_numbers):
    """The product an equation asks for, chosen on each call (eager code); lowered code binds
    the same choice once (``NumpyBackend.specialize``)."""
    (lc, rc), (lb, _) = dimension_numbers
    if not lb and len(lc) == 1 and np.ndim(lhs) == np.ndim(rhs) and np.ndim(lhs) in (1, 2):
        products = _MATRIX_PRODUCTS if np.ndim(lhs) == 2 else _VECTOR_PRODUCTS
        return products[(lc[0], rc[0])](lhs, rhs, dimension_numbers=dimension_numbers)
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    product = _general_product(lhs.shape, rhs.shape, _hashable(dimension_numbers))
    return product(lhs, rhs, dimension_numbers=dimension_numbers)


def _hashable(dimension_numbers: Any) -> tuple:
    return tuple(tuple(tuple(d) for d in pair) for pair in dimension_numbers)


IMPLS = {P.dot_general_p: _dot_general}


def _specialize_dot_general(eqn: Any) -> Any:
    (lc, rc), (lb, _) = eqn.params["dimension_numbers"]
    lhs, rhs = eqn.invars[0].aval, eqn.invars[1].aval
    if not lb and len(lc) == 1 and lhs.ndim == rhs.ndim and lhs.ndim in (1, 2):
        return (_MATRIX_PRODUCTS if lhs.ndim == 2 else _VECTOR_PRODUCTS)[(lc[0], rc[0])]
    return _general_product(lhs.shape, rhs.shape, _hashable(eqn.params["dimension_numbers"]))


# The product chosen when a program is lowered, for an equation's shapes.
SPECIALIZE = {P.dot_general_p: _specialize_dot_general}
