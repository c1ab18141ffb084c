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

import itertools
import keyword
import linecache
import math
import re
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from functrace import ops as P
from functrace.backends import program_errors
from functrace.backends.lowering_analysis import _implicit_broadcasts, _reusable_buffers, outputs_to_copy
from functrace.ir import Jaxpr, Literal, Var
from functrace.pretty import _fmt_literal, _fmt_param, var_names


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


def specialization(backend: Any, eqn: Any) -> Callable[..., Any] | None:
    """The backend's implementation specialised for ``eqn``'s types and params, if it offers one
    (``Backend.specialize``)."""
    specialize = getattr(backend, "specialize", None)
    return specialize(eqn) if specialize is not None and eqn is not None else None


def bound_impl(backend: Any, prim: Any, special: Callable[..., Any] | None, raw: bool) -> Callable[..., Any]:
    """The implementation a program binds for one equation: ``special`` (see ``specialization``)
    or the backend's general one, in its ``raw`` form (without its own warning silencing) when
    ``raw`` and it has one."""
    fn = special
    if fn is None:
        try:
            fn = backend.impls[prim]
        except KeyError:
            raise NotImplementedError(
                f"primitive {prim.name!r} has no implementation on the {backend.name} backend") from None
    return fn.raw if raw and hasattr(fn, "raw") else fn


class _Source:
    """Builds the factory's header (one line per bound value) and the values it binds (``_env``).

    ``used`` collects the bound names that the code generated since it was last reset refers to,
    so that each piece of a chunked program binds only what it reads."""

    def __init__(self, backend: Any, raw: bool = False) -> None:
        self.backend = backend
        self.raw = raw
        self.env: dict[str, Any] = {}
        self.header: dict[str, str] = {}  # bound name -> its line of the factory
        self.used: set[str] = set()
        self._by_key: dict[Any, str] = {}
        self._count = {"_l": 0, "_p": 0}
        self.silenced = False  # some raw implementation was bound: floating-point warnings must be silenced

    def _bind(self, key: Any, name: str, value: Any, comment: str = "") -> str:
        self.env[name] = value
        self._by_key[key] = name
        self.header[name] = f"    {name} = _env[{name!r}]" + (f"  # {comment}" if comment else "")
        self.used.add(name)
        return name

    def _hit(self, name: str) -> str:
        self.used.add(name)
        return name

    def _numbered(self, stem: str) -> str:
        n = self._count[stem]
        self._count[stem] = n + 1
        return f"{stem}{n}"

    def impl(self, prim: Any, eqn: Any = None) -> str:
        """The local name bound to ``prim``'s implementation: the backend's version specialised
        for ``eqn``'s types and params where it offers one (``Backend.specialize``)."""
        special = specialization(self.backend, eqn)
        key = ("impl", prim, special)
        name = self._by_key.get(key)
        if name is not None:
            return self._hit(name)
        fn = bound_impl(self.backend, prim, special, raw=False)
        if self.raw and hasattr(fn, "raw"):
            fn, self.silenced = fn.raw, True
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
            return self._hit(name)
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
            return self._hit(name)
        comment = " ".join(_fmt_param(value, "").split())
        return self._bind(key, self._numbered("_p"), value, comment if len(comment) <= 60 else comment[:57] + "...")

    def lines(self, names: Any = None) -> list[str]:
        """The header lines binding ``names`` (all bound names when None), in binding order."""
        if names is None:
            return list(self.header.values())
        return [line for name, line in self.header.items() if name in names]


# Programs longer than this are lowered in pieces of this many equations, each its own function
# compiled on its own: Python's compiler holds the syntax tree of a whole source text at once
# (about 7 KB per equation), so one function of 100,000 equations would take most of a GB.
CHUNK_EQNS = 2000


def _pieces(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, name: str, raw: bool, own_outputs: bool,
            chunk: int) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The program's source as ``(factory name, text)`` pieces, the last being ``_make``, and the
    environment the factories read their bound values from. One piece unless the program
    has more than ``chunk`` equations; then each run of ``chunk`` equations is a function
    ``_partK(_r)`` that reads the values made by earlier parts from the register list ``_r`` and
    stores there those that later parts read (cleared after their last use, as a ``del`` would)."""
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
        if isinstance(x, Literal):
            return src.literal(x)
        n = names[id(x)]
        if n[0] == "_":  # a constant, bound in the header
            src.used.add(n)
        return n

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
    n_eqns = len(jaxpr.eqns)
    chunked = n_eqns > chunk

    def part_of(i: int) -> int:  # the part holding equation i (-1: the arguments; n_eqns: the return)
        return -1 if i < 0 else min(i, n_eqns - 1) // chunk

    # Chunked: a value read in a later part than its own goes through a slot of the register
    # list ``_r``, stored where it is made, loaded by each later part that reads it, and cleared
    # where it dies; so each part passes only what it reads and writes, and the whole stays linear.
    slot: dict[str, int] = {}
    defined_in: dict[str, int] = {}
    if chunked:
        for v in jaxpr.invars:
            if id(v) in last_use:
                slot[names[id(v)]] = len(slot)
                defined_in[names[id(v)]] = -1
    part = 0
    loads: dict[str, int] = {}  # the slots the current part reads

    def load(n: str) -> str:
        if n in slot and defined_in[n] != part:
            loads.setdefault(n, slot[n])
        return n

    pieces: list[tuple[str, str, dict[int, int]]] = []
    body: list[str] = []
    calls: list[tuple[int, int]] = []  # the equations written into ``body``: (its line, equation index)
    src.used = set()

    def close_part(ret: str | None) -> None:
        """Wrap the equations generated since the last part as a function ``_partK``."""
        head = [f"def _make_part{part}(_env):", *src.lines(src.used), f"    def _part{part}(_r):",
                *(f"        {n} = _r[{k}]" for n, k in loads.items())]
        fn_lines = [*head, *body, *([f"        return {ret}"] if ret else []), f"    return _part{part}", ""]
        pieces.append((f"_make_part{part}", "\n".join(fn_lines), {len(head) + k: i for k, i in calls}))
        body.clear()
        calls.clear()
        loads.clear()
        src.used = set()

    for i, eqn in enumerate(jaxpr.eqns):
        if chunked and i and i % chunk == 0:
            close_part(None)
            part += 1
        prim, params = eqn.primitive, eqn.params
        if id(eqn) in reshaped:  # a broadcast its consumers do themselves: only unit axes are added
            prim, params = P.reshape_p, {"new_sizes": elided[id(eqn)]}
        elif id(eqn) in elided:
            continue
        fn = src.impl(prim, eqn if prim is eqn.primitive else None)
        operands = [load(operand(x)) for x in eqn.invars]
        odd = {k: v for k, v in params.items() if not k.isidentifier() or keyword.iskeyword(k)}
        operands += [f"{k}={src.param(v)}" for k, v in params.items() if k not in odd]
        if odd:  # names that cannot be written as keyword arguments
            operands.append(f"**{src.param(odd)}")
        dying = [] if eqn.primitive.multiple_results else \
            [x for x in (sources.get(id(y), y) for y in eqn.invars if isinstance(y, Var)) if last_use.get(id(x)) == i]
        into = None
        if reusable and not params and dying and writes_into(src.env[fn]):
            # An operand that dies here and is a buffer of our own takes the result (out=).
            aval = eqn.outvars[0].aval
            into = next((x for x in dying if id(x) in reusable and x.aval == aval), None)
            if into is not None:
                operands.append(f"out={names[id(into)]}")
        # The result takes the name of an operand that dies here (the one written into, if any),
        # so no ``del`` is written for that operand: half as many statements for Python to compile.
        # Not across parts: a name in the register list keeps its slot.
        reuse = next((x for x in ([into] if into is not None else dying)
                      if names[id(x)][0] != "_" and names[id(x)] not in slot), None)
        outs = []
        stores = []
        for v in eqn.outvars:
            if id(v) in last_use:
                if reuse is not None:
                    names[id(v)] = names[id(reuse)]
                    if names[id(v)] in dead_after.get(i, ()):  # (an argument has no del to drop)
                        dead_after[i].remove(names[id(v)])
                    outs.append(names[id(v)])
                else:
                    outs.append(new_name(v))
                dead_after.setdefault(last_use[id(v)], []).append(names[id(v)])
                if chunked and part_of(last_use[id(v)]) > part:
                    slot[outs[-1]] = len(slot)
                    defined_in[outs[-1]] = part
                    stores.append(f"        _r[{slot[outs[-1]]}] = {outs[-1]}")
            else:
                outs.append("_")
        target = outs[0] if not eqn.primitive.multiple_results else ", ".join(outs) + ("," if len(outs) == 1 else "")
        body.append(f"        {target + ' = ' if outs else ''}{fn}({', '.join(operands)})")  # no results: an effect
        calls.append((len(body), i))  # (the line's number in the body, from 1)
        body.extend(stores)
        dead = dead_after.pop(i, []) + (["_"] if "_" in outs else [])
        if dead:
            body.append(f"        del {', '.join(dead)}")
            body.extend(f"        _r[{slot[d]}] = None" for d in dead if d in slot and defined_in[d] != part)
    rets = [load(ref(x)) for x in jaxpr.outvars]
    if own_outputs:
        copies = outputs_to_copy(jaxpr, backend)
        if any(copies):
            src.env["_copy"] = backend.copy
            src.header["_copy"] = "    _copy = _env['_copy']"
            src.used.add("_copy")
            rets = [f"_copy({r})" if c else r for r, c in zip(rets, copies, strict=True)]
    ret = "(" + ", ".join(rets) + ("," if len(rets) == 1 else "") + ")"
    if chunked:
        close_part(ret)
        part_names = [f"_part{k}" for k in range(len(pieces))]
        for p in part_names:
            src.header[p] = f"    {p} = _env[{p!r}]"
        body = [f"        _r = [None] * {len(slot)}",
                *(f"        _r[{slot[a]}] = {a}" for a in args if a in slot),
                *(f"        {p}(_r)" for p in part_names[:-1]), f"        return {part_names[-1]}(_r)"]
        src.used = set(part_names)
    else:
        body.append(f"        return {ret}")
    if whole_call and src.silenced:
        src.env["_silence_errors"] = silence_errors
        src.header["_silence_errors"] = "    _silence_errors = _env['_silence_errors']"
        src.used.add("_silence_errors")
        body = ["        with _silence_errors():", *("    " + ln for ln in body)]
        calls = [(k + 1, i) for k, i in calls]
    head = ["def _make(_env):", *src.lines(src.used if chunked else None), f"    def {name}({', '.join(args)}):"]
    pieces.append(("_make", "\n".join([*head, *body, f"    return {name}", ""]), {len(head) + k: i for k, i in calls}))
    return pieces, src.env


def jaxpr_to_source(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, name: str = "f", raw: bool = False,
                    own_outputs: bool = False, chunk: int | None = None) -> tuple[str, dict[str, Any]]:
    """The factory's source text and the environment it reads its bound values from (for a
    chunked program, the factories of its parts come first, then ``_make``)."""
    pieces, env = _pieces(jaxpr, consts, backend, name, raw, own_outputs, chunk or CHUNK_EQNS)
    return "\n".join(text for _, text, _ in pieces), env


_lowered_ids = itertools.count(1)


def _forget_source(filenames: list[str]) -> None:
    for filename in filenames:
        linecache.cache.pop(filename, None)
        program_errors.forget(filename)


def lower_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, name: str = "f", raw: bool = False,
                own_outputs: bool = False, chunk: int | None = None) -> tuple[Callable[..., tuple], str]:
    """Compile ``jaxpr`` for ``backend``: a function from the flat input arrays to the tuple of
    flat outputs, and its source text. Constants are converted to the backend's arrays here,
    once.

    ``raw``: bind each implementation's ``raw`` form where it has one (the numpy backend's
    without its per-call ``np.errstate``), for callers that silence floating-point warnings
    around the whole call themselves, as the eager tape does. Without it, on a backend with
    ``silence_errors``, the raw forms are bound too and the program enters that context once.

    ``own_outputs``: copy the outputs that ``outputs_to_copy`` names, for results handed to a
    user (``jit``); internal callers (the tape, control-flow bodies) skip it.

    ``chunk``: the most equations in one generated function (default ``CHUNK_EQNS``).

    The source of each piece is registered with ``linecache`` (so tracebacks through the
    generated code show its lines) for as long as the compiled function lives, and which line
    holds which equation with ``program_errors`` (so an error names the user's line).
    """
    pieces, env = _pieces(jaxpr, consts, backend, name, raw, own_outputs, chunk or CHUNK_EQNS)
    filenames = []
    fn: Any = None
    for factory, source, lines in pieces:
        filename = f"<functrace-lowered-{next(_lowered_ids)}>"
        filenames.append(filename)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        program_errors.register(filename, lines, jaxpr.eqns, name)
        namespace: dict[str, Any] = {}
        exec(compile(source, filename, "exec"), namespace)
        fn = namespace.pop(factory)(env)  # popped: the factory and its globals would be a cycle
        if factory != "_make":
            env[factory[len("_make"):]] = fn  # _make_partK -> _partK, read by the next factories
    weakref.finalize(fn, _forget_source, filenames)
    return fn, "\n".join(text for _, text, _ in pieces)


__all__ = ["lower_jaxpr", "jaxpr_to_source", "outputs_to_copy", "bound_impl", "specialization", "CHUNK_EQNS"]
