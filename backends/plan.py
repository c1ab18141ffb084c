"""Running a jaxpr without generating source: a *plan*, one step per equation, over a register list.

Lowering a program to Python source (``backends.lowering``) makes the fastest calls, but writing
and compiling the source costs about fifty times what one call of the result saves over an
interpreter: for a program of 100,000 equations, seconds. ``jit`` therefore runs the first calls
of a long program through a plan and compiles it only once it has been called often enough to
repay that (``transforms.jit``), as the control-flow bodies do (``Backend.compiled_body``).

A plan is made once per program. Each step holds the implementation the lowering would bind
for that equation (the backend's specialisation for its types and params, its ``raw`` form when
the whole call silences floating-point warnings once), the register numbers of its operands,
its params, where its results go, and the registers that die there: a register is cleared after
the last equation that reads it (and reused by a later result), so peak memory is what the
program needs, as with the ``del`` statements of lowered code. Constants and literals are
converted to the backend's arrays once, when the plan is made. The results equal the lowered
program's: the same implementations run on the same operands (the lowering's other savings,
un-materialised broadcasts and results written into dead operands, give the same values).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Sequence

from functrace.backends.lowering import bound_impl, outputs_to_copy
from functrace.backends.program_errors import equation_note
from functrace.dce import has_effect
from functrace.ir import Jaxpr, Literal
from functrace.tracing import literal_key


def _no_operands(r: list) -> tuple:
    """The operands of an equation that has none (a step's getter)."""
    return ()


def plan_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], backend: Any, own_outputs: bool = False,
               name: str = "f") -> Callable[..., tuple]:
    """A function from the flat input arrays to the tuple of flat outputs that runs ``jaxpr``
    step by step. ``own_outputs``: copy the outputs ``outputs_to_copy`` names (results handed to a
    user), as ``lower_jaxpr`` does; ``name``: the program's, for error notes.

    The steps are made in one walk over the equations, from the last to the first: a variable
    is first met where it is read for the last time (it gets a register there, and dies after
    that step), and its register is free again, for the variables before it, where it is made.
    An equation whose results nothing reads is dropped, unless it has an effect (a program that
    jit has not optimised yet may hold dead code, see ``transforms.jit``)."""
    silence_errors = getattr(backend, "silence_errors", None)
    raw = silence_errors is not None
    pinned: dict[int, Any] = {}  # register -> the value it holds from the start (constants, literals)
    literal_regs: dict[Any, int] = {}
    where: dict[int, int] = {}  # id(var) -> its register, for the variables read later in the walk
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        where[id(v)] = len(pinned)
        pinned[len(pinned)] = backend.asarray(c)
    scratch = len(pinned)  # where results nothing reads are written
    first_arg = scratch + 1
    n_args = len(jaxpr.invars)
    n_regs = first_arg + n_args  # (the registers of arguments are cleared after their last use, never reused)
    for r, v in enumerate(jaxpr.invars, first_arg):
        where[id(v)] = r
    unread_args = set(range(first_arg, n_regs))  # arguments not met yet in the walk (never cleared if never read)
    free: list[int] = []  # registers of variables the walk has passed the making of

    def literal(x: Literal) -> int:
        nonlocal n_regs
        key = literal_key(x)
        r = literal_regs.get(key)
        if r is None:
            r = literal_regs[key] = n_regs
            n_regs += 1
            pinned[r] = backend.asarray(x.val)
        where[id(x)] = r  # (the same Literal object is often read by many equations)
        return r

    result_regs = []
    for x in jaxpr.outvars:  # returned: never cleared
        k = id(x)
        r = where.get(k)
        if r is None:
            if type(x) is Literal:
                r = literal(x)
            else:
                r = where[k] = n_regs
                n_regs += 1
        unread_args.discard(r)
        result_regs.append(r)
    results = {id(x) for x in jaxpr.outvars}
    fresh = getattr(backend, "fresh_results", frozenset())
    made_fresh: set[int] = set()  # results that are new arrays of their own (see outputs_to_copy)

    eqns = jaxpr.eqns
    steps: list[tuple] = []
    kept: list[int] = []  # the equation of each step, for error notes
    specialize = getattr(backend, "specialize", None)  # (lowering.specialization, looked up once per plan)
    impls: dict[Any, Callable[..., Any]] = {}  # (primitive, specialisation) -> the bound implementation
    pop = where.pop
    for i in range(len(eqns) - 1, -1, -1):
        eqn = eqns[i]
        prim = eqn.primitive
        outvars = eqn.outvars
        if not prim.multiple_results:
            k = id(outvars[0])
            out = pop(k, None)
            if out is None:
                if not ((prim.effectful or prim.subjaxprs) and has_effect(eqn)):
                    continue  # dead code
                out = scratch
            else:
                free.append(out)
                if k in results and prim in fresh:
                    made_fresh.add(k)
            mine: Any = (out,)
        else:
            out = tuple([pop(id(v), scratch) for v in outvars])
            if all(r == scratch for r in out) and not ((prim.effectful or prim.subjaxprs) and has_effect(eqn)):
                continue
            mine = [r for r in out if r != scratch]
            free.extend(mine)
        special = specialize(eqn) if specialize is not None else None
        key = (prim, special)
        fn = impls.get(key)
        if fn is None:
            fn = impls[key] = bound_impl(backend, prim, special, raw)
        # The operands: one register's number, or ``itemgetter(i, j)``, one C-level call giving
        # ``(r[i], r[j])`` (and an empty tuple's getter for no operands); and the registers of
        # those read for the last time here, cleared after the step unless a result took one.
        ins = []
        dying = []
        for x in eqn.invars:
            k = id(x)
            r = where.get(k)
            if r is None:
                if type(x) is Literal:
                    r = literal(x)
                else:  # its last use
                    r = where[k] = free.pop() if free else n_regs
                    n_regs += r == n_regs
                    if r not in mine:
                        dying.append(r)
            elif r in unread_args:  # an argument's last use
                unread_args.discard(r)
                dying.append(r)
            ins.append(r)
        get = ins[0] if len(ins) == 1 else itemgetter(*ins) if ins else _no_operands
        steps.append((fn, get, eqn.params or None, out, tuple(dying)))
        kept.append(i)
    steps.reverse()
    kept.reverse()
    result_regs = tuple(result_regs)
    copies = outputs_to_copy(jaxpr, backend, made_fresh) if own_outputs else [False] * len(result_regs)
    copy = backend.copy
    template = [pinned.get(r) for r in range(n_regs)]

    def run_steps(args: tuple) -> tuple:
        if len(args) != n_args:
            raise TypeError(f"the program takes {n_args} arguments, not {len(args)}")
        r = template.copy()
        r[first_arg:first_arg + n_args] = args
        i = 0  # (the step's number)
        try:
            for fn, get, params, out, dead in steps:
                if type(get) is int:
                    res = fn(r[get], **params) if params else fn(r[get])
                else:
                    res = fn(*get(r), **params) if params else fn(*get(r))
                if type(out) is int:
                    r[out] = res
                else:
                    for k, val in zip(out, res, strict=True):
                        r[k] = val
                for k in dead:
                    r[k] = None
                i += 1
        except Exception as e:  # name the equation, and the user's line that made it
            e.add_note(equation_note(eqns[kept[i]], kept[i], name))
            raise
        return tuple([copy(r[k]) if c else r[k] for k, c in zip(result_regs, copies, strict=True)])

    if not raw:
        def run(*args: Any) -> tuple:
            return run_steps(args)
    else:
        def run(*args: Any) -> tuple:
            with silence_errors():
                return run_steps(args)

    return run


__all__ = ["plan_jaxpr"]
