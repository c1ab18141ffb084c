"""The primitives, one module per family.

A family module declares each of its primitives once (``functrace.primitives.def_primitive``,
with its traits), and on the lines after it registers the primitive's JVP, transpose and
batching rules (``functrace.rules``) and writes its ``lax`` wrapper. Each backend has one table
of implementations (``functrace/backends/*_backend.py``). See docs/adding_a_primitive.md.

Importing this package imports every family, so every rule table is complete.
"""

from functrace.ops import convolution  # noqa: F401
from functrace.primitives import *  # noqa: F401,F403  -- the primitives not yet moved to a family
