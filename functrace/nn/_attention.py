"""``dot_product_attention`` as ``jax.nn``'s (its "xla" implementation), composed from
``einsum``, ``where`` and ``softmax``.

Layout: query ``(B, T, N, H)``, key and value ``(B, S, K, H)`` (the batch axis may be left out),
with N a multiple of K: K == N is multi-head attention, K < N grouped-query attention (each key
head serves G = N // K consecutive query heads), K == 1 multi-query attention. Masked logits are
replaced by a large negative number rather than -inf, as in JAX, so a fully masked row attends
uniformly instead of giving nan.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.avals import is_float, is_int
from functrace.nn._functions import logsumexp, softmax
from functrace.numpy._core import user_error
from functrace.tracing import get_aval

Array = Any
# What a masked logit becomes: JAX's -0.7 * the largest float32 (computed in float32, as there).
_LARGE_NEGATIVE = float(-0.7 * np.finfo(np.float32).max)


def _shape(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape


def _4d(x: Any) -> Any:
    x = fnp.asarray(x)
    return fnp.reshape(x, (1,) * (4 - len(_shape(x))) + _shape(x)) if len(_shape(x)) < 4 else x


def _check(x: Any, name: str, shape: tuple, dtype: Any = None) -> None:
    """JAX's checks: rank, the sizes that are not -1, and the dtype when one is asked for."""
    got = _shape(x)
    if len(got) != len(shape) or any(want not in (-1, n) for want, n in zip(shape, got, strict=True)):
        raise user_error(ValueError(f"dot_product_attention: {name} should have shape {tuple(shape)} "
                                    f"(-1: any size) but has shape {got}"))
    if dtype is not None and get_aval(x).dtype != np.dtype(dtype):
        raise user_error(ValueError(f"dot_product_attention: {name} should have dtype {np.dtype(dtype).name} "
                                    f"but has {get_aval(x).dtype.name}"))


def _grouped(t: Any, n_heads: int, k_heads: int) -> Any:
    """A bias or mask of shape (b, n, t, s), n in {1, N}, as (b, K, G, t, s) or (b, 1, 1, t, s)."""
    b, n, tt, ts = _shape(t)
    if n == 1:
        return fnp.reshape(t, (b, 1, 1, tt, ts))
    if n != n_heads:
        raise user_error(ValueError(f"dot_product_attention: a bias or mask has {n} heads; it needs 1 or "
                                    f"the query's {n_heads}"))
    return fnp.reshape(t, (b, k_heads, n_heads // k_heads, tt, ts))


def _position_masks(T: int, S: int, is_causal: bool, window: tuple[int, int] | None,
                    q_lengths: Any, kv_lengths: Any) -> list:
    """The causal, local-window and padding masks (True: attend), each broadcastable to (B, K, G, T, S)."""
    masks = []
    q_pos, k_pos = np.arange(T)[:, None], np.arange(S)[None, :]
    if is_causal:
        masks.append(fnp.asarray(q_pos >= k_pos))
    if window is not None:
        left, right = window
        masks.append(fnp.asarray((q_pos <= k_pos + left) & (q_pos >= k_pos - right)))
    if q_lengths is not None:
        masks.append(fnp.reshape(fnp.less(np.arange(T), fnp.expand_dims(q_lengths, -1)), (-1, 1, 1, T, 1)))
    if kv_lengths is not None:
        masks.append(fnp.reshape(fnp.less(np.arange(S), fnp.expand_dims(kv_lengths, -1)), (-1, 1, 1, 1, S)))
    return masks


def dot_product_attention(query: Array, key: Array, value: Array, bias: Array | None = None,
                          mask: Array | None = None, *, scale: float | None = None, is_causal: bool = False,
                          query_seq_lengths: Array | None = None, key_value_seq_lengths: Array | None = None,
                          local_window_size: int | tuple[int, int] | None = None,
                          implementation: str | None = None, return_residual: bool = False) -> Any:
    """softmax(Q K^T * scale + bias, masked) V for each head, as ``jax.nn.dot_product_attention``.

    ``scale`` defaults to 1/sqrt(H). ``mask`` is boolean (True: attend); ``bias`` is added to the
    logits; both are 4-d (or 3-d without the batch) and broadcast to (B, N, T, S). ``is_causal``
    lets query t attend to keys s <= t; ``local_window_size=(l, r)`` (or an int for both) to keys
    in [t - l, t + r]; the sequence lengths, of shape (B,), mask padding (the output of a padded
    query is 0). With ``return_residual`` the per-query logsumexp of the logits (B, T, N) comes
    too, without a derivative. The logits and softmax are computed in float32 or wider (JAX
    computes the softmax in float32 always; here float64 inputs keep float64).
    """
    if implementation not in (None, "xla"):
        raise user_error(ValueError(f"dot_product_attention: implementation {implementation!r} is not available; "
                                    "use None or 'xla'"))
    query, key, value = (fnp.asarray(t) for t in (query, key, value))
    out_shape = _shape(query)
    if not 3 <= len(out_shape) <= 4:
        raise user_error(ValueError(f"dot_product_attention: query must be (B, T, N, H) or (T, N, H); "
                                    f"got shape {out_shape}"))
    q, k, v = _4d(query), _4d(key), _4d(value)
    B, S, K, H = _shape(k)
    dt = get_aval(k).dtype
    if not is_float(dt):
        raise user_error(TypeError(f"dot_product_attention: key must be floating point; got {dt.name}"))
    _check(v, "value", (B, S, K, H), dt)
    _check(q, "query", (B, -1, -1, H), dt)
    bias = None if bias is None else _4d(bias)
    mask = None if mask is None else _4d(mask)
    if mask is not None:
        _check(mask, "mask", (-1,) * 4, np.bool_)
    for name, lengths in (("query_seq_lengths", query_seq_lengths), ("key_value_seq_lengths", key_value_seq_lengths)):
        if lengths is not None:
            _check(fnp.asarray(lengths), name, (B,))
            if not is_int(get_aval(fnp.asarray(lengths)).dtype):
                raise user_error(ValueError(f"dot_product_attention: {name} must hold integers"))
    _, T, N, _ = _shape(q)
    if N % K:
        raise user_error(ValueError(f"dot_product_attention: the number of query heads must be a multiple of the "
                                    f"number of key/value heads, but got {N} vs {K}"))
    G = N // K
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    if isinstance(local_window_size, (int, np.integer)):
        local_window_size = (int(local_window_size), int(local_window_size))

    logits_dt = np.promote_types(dt, np.float32)
    qg = fnp.reshape(fnp.astype(q, logits_dt), (B, T, K, G, H))
    logits = fnp.einsum("btkgh,bskh->bkgts", qg, fnp.astype(k, logits_dt))
    logits = fnp.multiply(logits, fnp.asarray(scale, logits_dt))
    if bias is not None:
        logits = fnp.astype(fnp.add(logits, _grouped(bias, N, K)), logits_dt)
    masks = [] if mask is None else [_grouped(mask, N, K)]
    masks += _position_masks(T, S, is_causal, local_window_size,
                             None if query_seq_lengths is None else fnp.asarray(query_seq_lengths),
                             None if key_value_seq_lengths is None else fnp.asarray(key_value_seq_lengths))
    if masks:
        keep = masks[0]
        for m in masks[1:]:
            keep = fnp.logical_and(keep, m)
        logits = fnp.where(keep, logits, fnp.asarray(_LARGE_NEGATIVE, logits_dt))
    probs = fnp.astype(softmax(logits, axis=-1), dt)
    encoded = fnp.einsum("bkgts,bskh->btkgh", probs, v)
    if query_seq_lengths is not None:
        valid = fnp.less(np.arange(T), fnp.expand_dims(fnp.asarray(query_seq_lengths), -1))
        encoded = fnp.multiply(encoded, fnp.astype(fnp.reshape(valid, (B, T, 1, 1, 1)), dt))
    encoded = fnp.reshape(encoded, out_shape)
    if not return_residual:
        return encoded
    lse = fnp.astype(logsumexp(logits, axis=-1), dt)  # (B, K, G, T)
    lse = fnp.reshape(fnp.transpose(lse, (0, 3, 1, 2)), out_shape[:-1])
    return encoded, lax.stop_gradient(lse)

