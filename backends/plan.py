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
    user), as ``lower_jaxpr`` does; ``name``: the program's, for error notes."""
    silence_errors = getattr(backend, "silence_errors", None)
    raw = silence_errors is not None
    fixed: list[Any] = []  # the registers set when the plan is made: constants, then literals
    where: dict[int, int] = {}  # id(var) -> its register
    literal_regs: dict[Any, int] = {}

    for v, c in zip(jaxpr.constvars, consts, strict=True):
        where[id(v)] = len(fixed)
        fixed.append(backend.asarray(c))

    def literal(x: Literal) -> int:
        r = where.get(id(x))  # the same Literal object is often read by many equations
        if r is None:
            key = literal_key(x)
            r = literal_regs.get(key)
            if r is None:
                r = literal_regs[key] = len(fixed)
                fixed.append(backend.asarray(x.val))
            where[id(x)] = r
        return r

    # One backward walk finds the equations to run (those whose results are read, and those with
    # an effect: a program jit has not optimised yet may hold dead code, see ``transforms.jit``)
    # and, for each variable, the equation that reads it last.
    eqns = jaxpr.eqns
    n_eqns = len(eqns)
    last_use: dict[int, int] = {}
    for x in jaxpr.outvars:
        if type(x) is Literal:
            literal(x)
        else:
            last_use[id(x)] = n_eqns  # returned: never cleared
    kept: list[int] = []
    for i in range(n_eqns - 1, -1, -1):
        eqn = eqns[i]
        outs = eqn.outvars
        if not (id(outs[0]) in last_use if len(outs) == 1 else any(id(v) in last_use for v in outs)):
            prim = eqn.primitive
            if not ((prim.effectful or prim.subjaxprs) and has_effect(eqn)):
                continue
        kept.append(i)
        for x in eqn.invars:
            if type(x) is Literal:
                literal(x)
            elif id(x) not in last_use:
                last_use[id(x)] = i
    kept.reverse()
    n_fixed = len(fixed)

    free: list[int] = []  # registers of dead values, for later results to reuse
    n_regs = n_fixed
    scratch = n_regs  # where results nothing reads are written
    n_regs += 1
    first_arg = n_regs
    for v in jaxpr.invars:
        where[id(v)] = n_regs
        n_regs += 1
    n_args = n_regs - first_arg
    # Arguments nothing reads are never cleared: their registers are not reused.
    steps: list[tuple] = []
    specialize = getattr(backend, "specialize", None)  # (lowering.specialization, looked up once per plan)
    impls: dict[Any, Callable[..., Any]] = {}  # (primitive, specialisation) -> the bound implementation
    for i in kept:
        eqn = eqns[i]
        prim = eqn.primitive
        special = specialize(eqn) if specialize is not None else None
        key = (prim, special)
        fn = impls.get(key)
        if fn is None:
            fn = impls[key] = bound_impl(backend, prim, special, raw)
        # The operands: one register's number, or ``itemgetter(i, j)``, one C-level call giving
        # ``(r[i], r[j])`` (and an empty tuple's getter for no operands); and the registers of
        # those read for the last time here (each once; a literal's is fixed).
        invars = eqn.invars
        if len(invars) == 1:
            k = id(invars[0])
            get = where[k]
            dying = [get] if get >= n_fixed and last_use[k] == i else []
        else:
            ins = []
            dying = []
            for x in invars:
                k = id(x)
                r = where[k]
                ins.append(r)
                if r >= n_fixed and last_use[k] == i and r not in dying:
                    dying.append(r)
            get = itemgetter(*ins) if ins else _no_operands
        if prim.multiple_results:
            out: Any = []
            for v in eqn.outvars:
                if id(v) in last_use:
                    r = free.pop() if free else n_regs
                    n_regs += r == n_regs
                else:
                    r = scratch
                where[id(v)] = r
                out.append(r)
            out = tuple(out)
        else:
            v = eqn.outvars[0]
            if id(v) not in last_use:
                out = scratch  # never read
            elif dying:  # the result may take the register of an operand that dies here (read first)
                out = dying.pop()
            else:
                out = free.pop() if free else n_regs
                n_regs += out == n_regs
            where[id(v)] = out
        free.extend(dying)
        steps.append((fn, get, eqn.params or None, out, tuple(dying)))
    result_regs = tuple(literal(x) if type(x) is Literal else where[id(x)] for x in jaxpr.outvars)
    copies = outputs_to_copy(jaxpr, backend) if own_outputs else [False] * len(result_regs)
    copy = backend.copy
    template = fixed + [None] * (n_regs - n_fixed)

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
