"""The primitives, one module per family.

A family module declares each of its primitives once (``functrace.primitives.def_primitive``,
with its traits), and on the lines after it registers the primitive's JVP, transpose and
batching rules (``functrace.rules``) and writes its ``lax`` wrapper. Each backend has one table
of implementations per family (``functrace/backends/numpy_<family>.py``, ``torch_<family>.py``).
See docs/adding_a_primitive.md.

Importing this package imports every family, so every rule table is complete; its namespace
holds every primitive object (``ops.sin_p``), for the backends' tables.
"""

from functrace.ops import (
    collectives,
    complex_parts,
    control_flow,
    convolution,
    cumulative,
    custom_jvp,
    custom_vjp,
    debugging,
    dynamic_slicing,
    elementwise,
    fft,
    linalg,
    linalg_decompositions,
    random_bits,
    reductions,
    remat,
    scan,
    scatter,
    sorting,
    special,
    structural,
)
from functrace.ops._subjaxprs import impls as generic_impls  # noqa: F401 -- added to every backend
from functrace.primitives import Primitive, abstract_eval_rules, all_primitives  # noqa: F401

_FAMILIES = (elementwise, reductions, structural, linalg, control_flow, scan, custom_jvp, custom_vjp, complex_parts,
             convolution, cumulative, debugging, dynamic_slicing, fft, linalg_decompositions, random_bits, remat,
             scatter, sorting, special, collectives)
globals().update({name: value for family in _FAMILIES for name, value in vars(family).items()
                  if name.endswith("_p") and isinstance(value, Primitive)})
