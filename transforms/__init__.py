"""Transforms: each a function from Jaxpr to Jaxpr (jvp, linearize, transpose, vmap, passes, jit)."""
