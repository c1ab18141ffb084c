"""Rows of the primitive derivative table (``test_grad_primitives.py``) for the convolution
family: ``conv_general_dilated`` in 1, 2 and 3 spatial dimensions with strides, padding of every
kind, both dilations and feature/batch groups, and the windowed reductions (on distinct values
for max/min, away from ties; ties are tested in ``test_convolution.py``)."""

from __future__ import annotations

from grad_cases import Case, distinct, real

from functrace import lax
from functrace.ops import convolution as C


def conv(strides, padding, **kw):
    return lambda x, w: lax.conv_general_dilated(x, w, strides, padding, **kw)


def window(reduce, dims, strides, padding, **kw):
    return lambda x: reduce(x, dims, strides, padding, **kw)


P = C.conv_general_dilated_p
CASES = [
    Case("conv_1d[NCH,stride2,SAME,rhs_dil2]", P, conv((2,), "SAME", rhs_dilation=(2,)),
         (real((2, 2, 7)), real((3, 2, 2)))),
    Case("conv_2d[NHWC,lhs_dil,neg_pad,groups2]", P,
         conv((1, 2), [(1, -1), (2, 0)], lhs_dilation=(2, 1), dimension_numbers=("NHWC", "HWIO", "NHWC"),
              feature_group_count=2),
         (real((1, 3, 4, 4)), real((2, 2, 2, 4)))),
    Case("conv_2d[batch_groups2,SAME_LOWER]", P, conv((1, 1), "SAME_LOWER", batch_group_count=2),
         (real((4, 2, 3, 3)), real((4, 2, 2, 2)))),
    Case("conv_3d[VALID]", P, conv((1, 1, 2), "VALID"), (real((1, 2, 3, 3, 4)), real((2, 2, 2, 2, 2)))),
    Case("reduce_window_sum[pad,base_dil,win_dil]", C.reduce_window_sum_p,
         window(lax.reduce_window_sum, (2, 2), (1, 2), [(1, 0), (0, 2)], base_dilation=(2, 1),
                window_dilation=(1, 2)),
         (real((3, 5)),)),
    Case("reduce_window_max[overlapping,SAME]", C.reduce_window_max_p,
         window(lax.reduce_window_max, (1, 3, 2), (1, 2, 1), "SAME"), (distinct((2, 5, 3)),)),
    Case("reduce_window_max[pool2x2]", C.reduce_window_max_p,
         window(lax.reduce_window_max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"), (distinct((2, 4, 5, 2)),)),
    # The JVP and gradient of max/min pooling as primitives of their own (linear in the first operand).
    Case("select_and_gather_add[max,pad,dilations]", C.select_and_gather_add_p,
         lambda t, x: C.select_and_gather_add(t, x, "max", (2, 2), (1, 2), ((1, 0), (0, 1)), (1, 2), (2, 1)),
         (real((4, 3)), distinct((4, 3)))),
    Case("select_and_scatter_add[min,overlapping]", C.select_and_scatter_add_p,
         lambda c, x: C.select_and_scatter_add(c, x, "min", (3, 2), (1, 1), ((1, 1), (0, 0)), (1, 1), (1, 1)),
         (real((4, 3)), distinct((4, 4)))),
    Case("reduce_window_min[dilated]", C.reduce_window_min_p,
         window(lax.reduce_window_min, (3,), (2,), [(1, 1)], window_dilation=(2,)), (distinct((8,)),)),
]
