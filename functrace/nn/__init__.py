"""``functrace.nn``: the functions of ``jax.nn``, composed from ``functrace.numpy`` and ``functrace.lax``.

Activations live in ``_activations``, the softmax family, normalisation and encodings in
``_functions``, attention in ``_attention``; none defines a primitive, so every transform and
backend handles them with no rules of their own.
"""

# ruff: noqa: I001 -- the names are imported in a compact grid, like the __all__ below
from functrace.nn._activations import (
    celu, elu, gelu, glu, hard_sigmoid, hard_silu, hard_swish, hard_tanh, identity, leaky_relu, log1mexp,
    log_sigmoid, mish, relu, relu6, selu, sigmoid, silu, soft_sign, softplus, sparse_plus, sparse_sigmoid,
    squareplus, swish, tanh,
)
from functrace.nn._attention import dot_product_attention
from functrace.nn._functions import log_softmax, logmeanexp, logsumexp, one_hot, softmax, standardize

__all__ = [
    "celu", "dot_product_attention", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax", "logmeanexp", "logsumexp", "mish",
    "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "soft_sign", "softmax", "softplus", "sparse_plus",
    "sparse_sigmoid", "squareplus", "standardize", "swish", "tanh",
]
