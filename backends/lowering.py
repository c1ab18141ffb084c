"""Lowering a jaxpr to straight-line Python source, compiled once (shared by the backends).

The generated code has one line per equation: each primitive's backend implementation,
constants, literal operands and non-trivial params are bound once as locals of an enclosing
factory, so a call does no interpretation, no dict lookups per operation and no conversion
of constants. Each intermediate is released with ``del`` right after its last use, so peak
memory is what the program needs, not the sum of all its values.

For ``{ lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = mul b 2.0;
d:f32[] = reduce_sum[axes=(0,)] c in (d,) }`` the source reads::

    def _make(_env):
        _sin = _env['_sin']
        _mul = _env['_mul']
        _reduce_sum = _env['_reduce_sum']
        _l0 = _env['_l0']  # 2.0:f32
        def f(a):
            b = _sin(a)
            c = _mul(b, _l0)
            del b
            d = _reduce_sum(c, axes=(0,))
            del c
            return (d,)
        return f
"""

from __future__ import annotations

import keyword
import linecache
import math
import re
from typing import Any, Callable, Sequence

import numpy as np

from functrace import ops as P
from functrace.ir import Jaxpr, Literal, Var
from functrace.pretty import _fmt_literal, _fmt_param, var_names

_counter = [0]


def _var_names():
    """The printer's names (a, b, ..., ba, ...), skipping Python keywords (``as``, ``if``, ...)."""
    return (s for s in var_names() if not keyword.iskeyword(s))


def _plain(v: Any) -> bool:
    """Params that ``repr`` writes as valid, exact Python source: written inline."""
    if v is None or type(v) in (bool, int, str):
        return True
    if type(v) is float:
        return math.isfinite(v)
    if type(v) is tuple:
        return all(_plain(x) for x in v)
    return False


class _Source:
    """Builds the factory's header (one line per bound value) and the values it binds (``_env``)."""

    def __init__(self, backend: Any, raw: bool = False) -> None:
        self.backend = backend
        self.raw = raw
        self.env: dict[str, Any] = {}
        self.header: list[str] = []
        self._by_key: dict[Any, str] = {}
        self._count = {"_l": 0, "_p": 0}
        self.silenced = False  # some raw implementation was bound: floating-point warnings must be silenced

    def _bind(self, key: Any, name: str, value: Any, comment: str = "") -> str:
        self.env[name] = value
        self._by_key[key] = name
        self.header.append(f"    {name} = _env[{name!r}]" + (f"  # {comment}" if comment else ""))
        return name

    def _numbered(self, stem: str) -> str:
        n = self._count[stem]
        self._count[stem] = n + 1
        return f"{stem}{n}"

    def impl(self, prim: Any, eqn: Any = None) -> str:
        """The local name bound to ``prim``'s implementation: the backend's version specialised
        for ``eqn``'s types and params where it offers one (``Backend.specialize``)."""
        specialize = getattr(self.backend, "specialize", None)
        special = specialize(eqn) if specialize is not None and eqn is not None else None
        key = ("impl", prim, special)
        name = self._by_key.get(key)
        if name is not None:
            return name
        fn = special
        if fn is None:
            try:
                fn = self.backend.impls[prim]
            except KeyError:
                raise NotImplementedError(
                    f"primitive {prim.name!r} has no implementation on the {self.backend.name} backend") from None
        if self.raw and hasattr(fn, "raw"):
            fn = fn.raw
            self.silenced = True
        name = "_" + re.sub(r"\W", "_", prim.name)
        while name in self.env:
            name += "_"
        return self._bind(key, name, fn, f"specialised: {getattr(fn, '__name__', fn)}" if special else "")

    def const(self, i: int, value: Any, aval: Any) -> str:
        return self._bind(("const", i), f"_c{i}", self.backend.asarray(value), aval.str_short())

    def literal(self, lit: Literal) -> str:
        key = ("lit", lit.aval.dtype.str, np.asarray(lit.val, dtype=lit.aval.dtype).tobytes())
        name = self._by_key.get(key)
        if name is not None:
            return name
        return self._bind(key, self._numbered("_l"), self.backend.asarray(lit.val),
                          f"{_fmt_literal(lit)}:{lit.aval.str_short()}")

    def param(self, value: Any) -> str:
        if _plain(value):
            return repr(value)
        key: Any = ("param", type(value), value)
        try:
            name = self._by_key.get(key)
        except TypeError:  # unhashable: bind each occurrence
            key, name = ("param", id(value)), None
        if name is not None:
            return name
        comment = " ".join(_fmt_param(value, "").split())
        return self._bind(key, self._numbered("_p"), value, comment if len(comment) <= 60 else comment[:57] + "...")


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


def jaxpr_to_source(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, name: str = "f", raw: bool = False
                    ) -> tuple[str, dict[str, Any]]:
    """The factory's source text and the environment it reads its bound values from."""
    name = re.sub(r"\W", "_", name) or "f"
    if keyword.iskeyword(name) or name[0] == "_" or name[0].isdigit():
        name = "f_" + name  # bound values are named _..., so the function's name must not be
    # Without ``raw`` the program silences warnings itself, once per call, where the backend can.
    silence_errors = getattr(backend, "silence_errors", None)
    whole_call = not raw and silence_errors is not None
    src = _Source(backend, raw or whole_call)
    names: dict[int, str] = {}
    for i, (v, c) in enumerate(zip(jaxpr.constvars, consts, strict=True)):
        names[id(v)] = src.const(i, c, v.aval)
    gen = _var_names()

    def new_name(v: Var) -> str:
        names[id(v)] = next(gen)
        return names[id(v)]

    def ref(x: Any) -> str:
        return src.literal(x) if isinstance(x, Literal) else names[id(x)]

    args = [new_name(v) for v in jaxpr.invars]
    elided = _implicit_broadcasts(jaxpr, getattr(backend, "implicit_broadcast", frozenset()))
    reshaped = {i for i, unit_axes in elided.items() if unit_axes is not None}  # become reshapes
    sources = {id(eqn.outvars[0]): eqn.invars[0] for eqn in jaxpr.eqns
               if id(eqn) in elided and id(eqn) not in reshaped}

    def operand(x: Any) -> str:
        return ref(sources.get(id(x), x) if isinstance(x, Var) else x)

    # Last use of each equation result: release it right after that equation.
    last_use: dict[int, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        if id(eqn) in elided and id(eqn) not in reshaped:
            continue
        for x in eqn.invars:
            if isinstance(x, Var):
                last_use[id(sources.get(id(x), x))] = i
    for x in jaxpr.outvars:
        if isinstance(x, Var):
            last_use[id(x)] = len(jaxpr.eqns)  # returned: never released
    dead_after: dict[int, list[str]] = {}
    reusable = _reusable_buffers(jaxpr, getattr(backend, "fresh_results", frozenset()))
    writes_into = getattr(backend, "writes_into", None)

    body: list[str] = []
    for i, eqn in enumerate(jaxpr.eqns):
        prim, params = eqn.primitive, eqn.params
        if id(eqn) in reshaped:  # a broadcast its consumers do themselves: only unit axes are added
            prim, params = P.reshape_p, {"new_sizes": elided[id(eqn)]}
        elif id(eqn) in elided:
            continue
        fn = src.impl(prim, eqn if prim is eqn.primitive else None)
        operands = [operand(x) for x in eqn.invars]
        odd = {k: v for k, v in params.items() if not k.isidentifier() or keyword.iskeyword(k)}
        operands += [f"{k}={src.param(v)}" for k, v in params.items() if k not in odd]
        if odd:  # names that cannot be written as keyword arguments
            operands.append(f"**{src.param(odd)}")
        if reusable and not params and not eqn.primitive.multiple_results and writes_into(src.env[fn]):
            # An operand that dies here and is a buffer of our own takes the result (out=).
            aval = eqn.outvars[0].aval
            for x in eqn.invars:
                x = sources.get(id(x), x) if isinstance(x, Var) else x
                if isinstance(x, Var) and id(x) in reusable and last_use.get(id(x)) == i and x.aval == aval:
                    operands.append(f"out={names[id(x)]}")
                    break
        outs = []
        for v in eqn.outvars:
            if id(v) in last_use:
                outs.append(new_name(v))
                dead_after.setdefault(last_use[id(v)], []).append(names[id(v)])
            else:
                outs.append("_")
        target = outs[0] if not eqn.primitive.multiple_results else ", ".join(outs) + ("," if len(outs) == 1 else "")
        body.append(f"        {target + ' = ' if outs else ''}{fn}({', '.join(operands)})")  # no results: an effect
        dead = dead_after.pop(i, []) + (["_"] if "_" in outs else [])
        if dead:
            body.append(f"        del {', '.join(dead)}")
    rets = [ref(x) for x in jaxpr.outvars]
    ret = "(" + ", ".join(rets) + ("," if len(rets) == 1 else "") + ")"
    body.append(f"        return {ret}")
    if whole_call and src.silenced:
        src.env["_silence_errors"] = silence_errors
        src.header.append("    _silence_errors = _env['_silence_errors']")
        body = ["        with _silence_errors():", *("    " + ln for ln in body)]
    lines = ["def _make(_env):", *src.header, f"    def {name}({', '.join(args)}):", *body,
             f"    return {name}", ""]
    return "\n".join(lines), src.env


def lower_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, name: str = "f", raw: bool = False
                ) -> tuple[Callable[..., tuple], str]:
    """Compile ``jaxpr`` for ``backend``: a function from the flat input arrays to the tuple of
    flat outputs, and its source text. Constants are converted to the backend's arrays here,
    once.

    ``raw``: bind each implementation's ``raw`` form where it has one (the numpy backend's
    without its per-call ``np.errstate``), for callers that silence floating-point warnings
    around the whole call themselves, as the eager tape does. Without it, on a backend with
    ``silence_errors``, the raw forms are bound too and the program enters that context once.
    """
    source, env = jaxpr_to_source(jaxpr, consts, backend, name, raw)
    _counter[0] += 1
    filename = f"<functrace-lowered-{_counter[0]}>"
    # Registered with linecache so tracebacks through the generated code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    fn = namespace["_make"](env)
    return fn, source


__all__ = ["lower_jaxpr", "jaxpr_to_source"]
