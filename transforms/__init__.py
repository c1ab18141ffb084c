"""Transforms: each a function from Jaxpr to Jaxpr (jvp, linearize, transpose, vmap, passes, jit).

They are interpreters: each reads the rule tables of ``functrace.rules`` (filled by the family
modules under ``functrace/ops/``) and holds no rule of its own. Importing the package installs
the interpreters that the rules of primitives with sub-jaxprs call (``functrace.rules.interpreters``).
"""

from functrace.rules import interpreters as _interpreters
from functrace.transforms import batching as _batching
from functrace.transforms import jvp as _jvp
from functrace.transforms import linearize as _linearize
from functrace.transforms import transpose as _transpose

_interpreters.jvp_jaxpr = _jvp.jvp_jaxpr
_interpreters.linearize_jaxpr = _linearize.linearize_jaxpr
_interpreters.backward_pass = _transpose.backward_pass
_interpreters.batch_jaxpr = _batching.batch_jaxpr
_interpreters.batch_eval_jaxpr = _batching.batch_eval_jaxpr
_interpreters.vmap_flat = _batching.vmap_flat
