"""``functrace.lax``: one thin wrapper per primitive. No promotion, no broadcasting.

Operands must already have one dtype and equal shapes (a rank-0 operand may stand for all
positions); ``functrace.numpy`` does the NumPy-style promotion and broadcasting on top. Each
wrapper is written beside its primitive in the family module under ``functrace/ops/``; this
module gathers them under one name, as ``jax.lax``.
"""

from __future__ import annotations

from functrace.ops import linalg_decompositions as linalg  # noqa: F401 -- lax.linalg
from functrace.ops.collectives import (  # noqa: E402,F401
    all_gather,
    axis_index,
    axis_size,
    pmax,
    pmean,
    pmin,
    ppermute,
    psum,
    psum_scatter,
)
from functrace.ops.complex_parts import complex, conj, imag, real  # noqa: E402,F401
from functrace.ops.composites import (  # noqa: E402,F401
    approx_max_k,
    approx_min_k,
    batch_matmul,
    broadcast,
    broadcast_shapes,
    broadcast_to_rank,
    broadcasted_iota,
    cbrt,
    clamp,
    clz,
    collapse,
    conv_general_shape_tuple,
    conv_shape_tuple,
    dot,
    empty,
    expand_dims,
    full_like,
    mulhi,
    nextafter,
    optimization_barrier,
    population_count,
    reciprocal,
    reduce_window_shape_tuple,
    rsqrt,
    scatter_sub,
    select_n,
    split,
    square,
    squeeze,
    stack,
    tile,
    unstack,
)
from functrace.ops.control_flow import cond, fori_loop, switch, while_loop  # noqa: F401
from functrace.ops.convolution import (  # noqa: E402,F401
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_dilated_patches,
    conv_transpose,
    conv_with_general_padding,
    padtype_to_pads,
    reduce_window,
    reduce_window_max,
    reduce_window_min,
    reduce_window_sum,
)
from functrace.ops.cumulative import associative_scan, cumlogsumexp, cummax, cummin, cumprod, map  # noqa: E402,F401,A004
from functrace.ops.debugging import debug_print  # noqa: E402,F401
from functrace.ops.dynamic_slicing import (  # noqa: E402,F401
    dynamic_index_in_dim,
    dynamic_slice,
    dynamic_slice_in_dim,
    dynamic_update_index_in_dim,
    dynamic_update_slice,
    dynamic_update_slice_in_dim,
    index_in_dim,
    slice_in_dim,
)
from functrace.ops.elementwise import (  # noqa: F401
    RoundingMethod,
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    convert_element_type,
    cos,
    cosh,
    div,
    eq,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    ge,
    gt,
    integer_pow,
    is_finite,
    le,
    log,
    log1p,
    logistic,
    lt,
    max,
    min,
    mul,
    ne,
    neg,
    pow,
    rem,
    round,
    select,
    sign,
    sin,
    sinh,
    sqrt,
    stop_gradient,
    sub,
    tan,
    tanh,
)
from functrace.ops.fft import fft  # noqa: E402,F401
from functrace.ops.generic_reduce import reduce, reduce_xor  # noqa: E402,F401
from functrace.ops.linalg import (  # noqa: F401
    dot_general,
)
from functrace.ops.random_bits import (  # noqa: E402,F401
    bitcast_convert_type,
    erf_inv,
    shift_left,
    shift_right_arithmetic,
    shift_right_logical,
    threefry2x32,
)
from functrace.ops.reductions import (  # noqa: F401
    argmax,
    argmin,
    cumsum,
    reduce_and,
    reduce_max,
    reduce_min,
    reduce_or,
    reduce_prod,
    reduce_sum,
)
from functrace.ops.remat import checkpoint_name  # noqa: E402,F401
from functrace.ops.scan import scan  # noqa: F401
from functrace.ops.scatter import scatter, scatter_max, scatter_min, scatter_mul  # noqa: E402,F401
from functrace.ops.sorting import sort, sort_key_val, top_k  # noqa: E402,F401
from functrace.ops.special import (  # noqa: E402,F401
    bessel_i0e,
    bessel_i1e,
    betainc,
    digamma,
    erfc,
    igamma,
    igamma_grad_a,
    igammac,
    lgamma,
    polygamma,
    zeta,
)
from functrace.ops.structural import (  # noqa: F401
    broadcast_in_dim,
    concatenate,
    full,
    full_like_aval,
    gather,
    iota,
    pad,
    reshape,
    rev,
    scatter_add,
    slice,
    transpose,
    zeros_like,
)
