"""Derivative-table rows (see test_grad_primitives.py) for the sorting, scatter, dynamic-slicing
and cumulative families: each row binds its primitive and passes check_grads to order 2 in
both modes. Inputs avoid ties (the derivative of a sort or a max jumps there); ties have their
own tests in test_sorting.py, test_scatter.py and test_cumulative.py."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, distinct, fixed, ints, nonzero, real

from functrace import lax
from functrace.ops import cumulative as CU
from functrace.ops import dynamic_slicing as DS
from functrace.ops import scatter as SC
from functrace.ops import sorting as SO

DUPS = np.array([1, 3, 1, 0], np.int32)  # repeated index 1
UNIQUE = np.array([[2, 0], [3, 4]], np.int32)


def apart(n_x: tuple, n_u: tuple, gap: float = 0.3):
    """An operand and updates whose values are all distinct (no ties for scatter_min/max)."""
    def make(rng, dt):
        total = int(np.prod(n_x)) + int(np.prod(n_u))
        v = ((rng.permutation(total) - total // 2 + 0.4) * gap).astype(dt)
        return v[:int(np.prod(n_x))].reshape(n_x), v[int(np.prod(n_x)):].reshape(n_u)
    return make


CASES = [
    Case("sort[axis0]", SO.sort_p, lambda x: lax.sort(x, 0), (distinct((4, 3)),)),
    Case("sort[last]", SO.sort_p, lambda x: lax.sort(x), (distinct((2, 5)),)),
    Case("sort[key,val]", SO.sort_p, lambda k, v: lax.sort_key_val(k, v, 1), (distinct((3, 4)), real((3, 4)))),
    Case("sort[num_keys=2]", SO.sort_p, lambda k1, k2, v: lax.sort((k1, k2, v), 0, num_keys=2),
         (ints((6,), 0, 2), distinct((6,)), real((6,)))),
    Case("sort[top_k]", SO.sort_p, lambda x: lax.top_k(x, 3)[0], (distinct((2, 5)),)),
    Case("scatter[dups]", SC.scatter_p, lambda x, u: lax.scatter(x, DUPS, u, 0), (real((5, 2)), real((4, 2)))),
    Case("scatter[axis1]", SC.scatter_p, lambda x, u: lax.scatter(x, UNIQUE, u, 1), (real((2, 5)), real((2, 2, 2)))),
    Case("scatter_mul[unique]", SC.scatter_mul_p, lambda x, u: lax.scatter_mul(x, UNIQUE, u, 1),
         (real((3, 5)), real((3, 2, 2)))),
    Case("scatter_mul[dups,operand]", SC.scatter_mul_p,
         lambda x: lax.scatter_mul(x, DUPS, np.full((4,), 1.5, np.dtype(x.dtype)), 0),
         (nonzero((5,)),)),
    Case("scatter_min", SC.scatter_min_p, lambda x, u: lax.scatter_min(x, DUPS, u, 0), apart((5,), (4,))),
    Case("scatter_max[axis1]", SC.scatter_max_p, lambda x, u: lax.scatter_max(x, UNIQUE, u, 1),
         apart((2, 5), (2, 2, 2))),
    Case("dynamic_slice", DS.dynamic_slice_p, lambda x: lax.dynamic_slice(x, (np.int32(1), np.int32(-2)), (2, 2)),
         (real((4, 5)),)),
    Case("dynamic_slice[clamped]", DS.dynamic_slice_p, lambda x: lax.dynamic_slice_in_dim(x, np.int64(9), 3, 1),
         (real((2, 5)),)),
    Case("dynamic_update_slice", DS.dynamic_update_slice_p,
         lambda x, u: lax.dynamic_update_slice(x, u, (np.int32(3), np.int32(0))), (real((4, 5)), real((2, 3)))),
    Case("cumprod", CU.cumprod_p, lambda x: lax.cumprod(x, 1), (nonzero((3, 4)),)),
    Case("cumprod[zeros,reverse]", CU.cumprod_p, lambda x: lax.cumprod(x, 0, reverse=True),
         (fixed([0.0, 1.5, 0.0, -2.0, 0.7]),)),
    Case("cummax", CU.cummax_p, lambda x: lax.cummax(x, 0), (distinct((5, 2)),)),
    Case("cummin[reverse]", CU.cummin_p, lambda x: lax.cummin(x, 1, reverse=True), (distinct((2, 5)),)),
    Case("cumlogsumexp", CU.cumlogsumexp_p, lambda x: lax.cumlogsumexp(x, 0), (real((6,)),)),
    Case("cumlogsumexp[reverse]", CU.cumlogsumexp_p, lambda x: lax.cumlogsumexp(x, 1, reverse=True), (real((2, 4)),)),
]
# Primitives linear in some operands (test_grad_primitives checks their transpose rules).
LINEAR = {SC.scatter_p, SC.scatter_mul_p, DS.dynamic_slice_p, DS.dynamic_update_slice_p}
