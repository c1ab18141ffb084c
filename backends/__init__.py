"""Backends: where a jaxpr runs. ``registry`` picks one; each backend maps primitives to code."""
