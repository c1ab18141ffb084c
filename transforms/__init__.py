"""Transforms: each a function from Jaxpr to Jaxpr (jvp, linearize, transpose, vmap, passes, jit).

Importing the package registers every rule table, including those of the core's control-flow
and custom-derivative primitives, so any transform sees complete tables.
"""

from functrace.transforms import control_flow_rules, custom_derivatives  # noqa: F401 -- register their rules
