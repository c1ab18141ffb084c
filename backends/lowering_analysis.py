"""What the lowering decides about a program before writing it (``backends.lowering``), and what
the plan reads too (``backends.plan``): the broadcasts its consumers can do themselves, the
buffers results may be written into, and the outputs a user must receive copies of."""

from __future__ import annotations

from typing import Any

from functrace import ops as P
from functrace.ir import Jaxpr, Literal, Var


def _implicit_broadcasts(jaxpr: Jaxpr, broadcasting: frozenset) -> dict[int, tuple | None]:
    """The ``broadcast_in_dim`` equations (by id) whose consumers can take the operand with
    unit axes in place of the broadcast ones, which saves materialising the broadcast.

    One qualifies when NumPy's own broadcasting reproduces it (the operand's axes keep their
    order and each has the result's size or 1), it is not an output, and every consumer is an
    elementwise primitive of ``broadcasting`` that has the broadcast's shape and another operand
    of that full shape, which fixes the result's shape as before. The value for each is None
    when the operand can be passed as it is (its axes are the trailing ones), else the shape to
    reshape it to first (``(256,)`` broadcast along axis 0 of ``(256, 10)`` becomes ``(256, 1)``).
    """
    if not broadcasting:
        return {}
    producer: dict[int, Any] = {}
    for eqn in jaxpr.eqns:
        if eqn.primitive is P.broadcast_in_dim_p:
            shape, dims = eqn.params["shape"], tuple(eqn.params["broadcast_dimensions"])
            x = eqn.invars[0]
            if list(dims) == sorted(set(dims)) and all(
                    d in (1, shape[j]) for d, j in zip(x.aval.shape, dims, strict=True)):
                producer[id(eqn.outvars[0])] = eqn
    if not producer:
        return {}
    for x in jaxpr.outvars:
        producer.pop(id(x), None)
    consumers: dict[int, list] = {}
    for eqn in jaxpr.eqns:
        for x in eqn.invars:
            if isinstance(x, Var) and id(x) in producer:
                consumers.setdefault(id(x), []).append(eqn)
    changed = True
    while changed:  # dropping one candidate can disqualify another (a consumer's full operand)
        changed = False
        for vid, beqn in list(producer.items()):
            shape = beqn.params["shape"]
            ok = True
            for eqn in consumers.get(vid, []):
                if (eqn.primitive not in broadcasting or eqn.outvars[0].aval.shape != shape or not any(
                        isinstance(y, Var) and id(y) not in producer and y.aval.shape == shape
                        for y in eqn.invars)):
                    ok = False
                    break
            if not ok:
                del producer[vid]
                changed = True
    elided: dict[int, tuple | None] = {}
    for eqn in producer.values():
        nd, dims = len(eqn.params["shape"]), tuple(eqn.params["broadcast_dimensions"])
        unit_axes = [1] * nd
        for size, d in zip(eqn.invars[0].aval.shape, dims, strict=True):
            unit_axes[d] = size
        trailing = dims == tuple(range(nd - len(dims), nd))
        elided[id(eqn)] = None if trailing else tuple(unit_axes)
    return elided


def _reusable_buffers(jaxpr: Jaxpr, fresh: frozenset) -> set[int]:
    """The equation results (by id) whose arrays the program may overwrite once they are dead:
    made by a primitive of ``fresh`` (a new array of its own), of rank 1 or more, not an output,
    and read only by primitives of ``fresh``, so no view of them can still be alive."""
    if not fresh:
        return set()
    candidates = {id(v) for eqn in jaxpr.eqns if eqn.primitive in fresh and not eqn.primitive.multiple_results
                  for v in eqn.outvars if v.aval.shape}
    for eqn in jaxpr.eqns:
        if eqn.primitive not in fresh:
            for x in eqn.invars:
                candidates.discard(id(x))
    for x in jaxpr.outvars:
        candidates.discard(id(x))
    return candidates


def outputs_to_copy(jaxpr: Jaxpr, backend: Any, made_fresh: set[int] | None = None) -> list[bool]:
    """Which of ``jaxpr``'s outputs must be copied before a user receives them, so that every
    result is an array of its own that is safe to modify in place: a literal or constant
    (the same array on every call), an input passed through, an output returned twice, and
    any result of a primitive the backend does not list in ``fresh_results`` (a view, such as
    a broadcast, a reshape or a slice, or an operand returned as it is). Results of the
    common primitives (arithmetic, reductions, products) are new arrays and are not copied.
    ``made_fresh``: the ids of the outputs made by a single-result primitive of
    ``fresh_results``, when the caller has found them in its own walk."""
    if made_fresh is None:
        fresh = getattr(backend, "fresh_results", frozenset())
        outs = {id(x) for x in jaxpr.outvars if type(x) is not Literal}
        made_fresh = set()
        for eqn in jaxpr.eqns:  # one membership test per equation: only the outputs' producers matter
            v = eqn.outvars[0] if eqn.outvars else None
            if id(v) in outs and eqn.primitive in fresh and not eqn.primitive.multiple_results:
                made_fresh.add(id(v))
    seen: set[int] = set()
    copy = []
    for x in jaxpr.outvars:
        if isinstance(x, Literal):
            copy.append(True)
            continue
        copy.append(id(x) not in made_fresh or id(x) in seen)
        seen.add(id(x))
    return copy


__all__ = ["outputs_to_copy"]
