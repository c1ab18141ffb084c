"""The debugging family: ``debug_print``, an equation with an effect (it prints when the program
runs, so passes never remove, fold or merge it).

``functrace.debug.print`` binds it. It has no results: under differentiation the primal values print and there is
nothing to differentiate (as in JAX) and vmap prints once per example,
as JAX's ``jax.debug.print`` does: the param ``levels`` holds, outermost vmap first, which
operands carry that vmap's axis (at the front), and the implementation loops over them.
"""

from __future__ import annotations

import string
from typing import Any, Callable

import numpy as np

from functrace.primitives import def_primitive
from functrace.rules import def_batch_rule, def_jvp_rule
from functrace.tracing import bind


def _debug_print_abstract_eval(*args: Any, fmt: str, nargs: int, kwnames: tuple, levels: tuple = ()) -> list:
    if nargs + len(kwnames) != len(args):
        raise TypeError(f"debug_print: {len(args)} operands for {nargs} positional and {len(kwnames)} named values")
    return []


debug_print_p = def_primitive("debug_print", _debug_print_abstract_eval, multiple_results=True, effectful=True)


def format_values(fmt: str, values: list, nargs: int, kwnames: tuple) -> str:
    """``fmt.format(*positional, **named)`` of host (NumPy) values: how every backend prints."""
    return fmt.format(*values[:nargs], **dict(zip(kwnames, values[nargs:], strict=True)))


def host_print_impl(to_host: Callable[[Any], np.ndarray]) -> Callable[..., list]:
    """The implementation for a backend whose arrays ``to_host`` brings to NumPy."""

    def impl(*args: Any, fmt: str, nargs: int, kwnames: tuple, levels: tuple = ()) -> list:
        def run(level: int, values: list) -> None:
            if level == len(levels):
                print(format_values(fmt, values, nargs, kwnames), flush=True)
                return
            flags = levels[level]
            size = next(v.shape[0] for v, f in zip(values, flags, strict=True) if f)
            for i in range(size):
                run(level + 1, [v[i] if f else v for v, f in zip(values, flags, strict=True)])

        run(0, [to_host(a) for a in args])
        return []

    return impl


def _check_format(fmt: str, nargs: int, kwnames: tuple) -> None:
    """Refuse a format that names a value not given, while tracing (not when the program runs)."""
    auto = 0
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        head = field.split(".")[0].split("[")[0]
        if head == "":
            auto += 1
            if auto > nargs:
                raise ValueError(f"debug.print: the format {fmt!r} has more {{}} fields than the {nargs} "
                                 "positional values given")
        elif head.isdigit():
            if int(head) >= nargs:
                raise ValueError(f"debug.print: the format {fmt!r} refers to positional value {head}, but only "
                                 f"{nargs} were given")
        elif head not in kwnames:
            raise ValueError(f"debug.print: the format {fmt!r} refers to {head!r}, which is not among the named "
                             f"values {list(kwnames)}")


def debug_print(fmt: str, *args: Any, **kwargs: Any) -> None:
    """Bind ``debug_print`` on array operands (see ``functrace.debug.print``)."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: the first argument is the format string, got {type(fmt).__name__}")
    kwnames = tuple(kwargs)
    _check_format(fmt, len(args), kwnames)
    bind(debug_print_p, *args, *kwargs.values(), fmt=fmt, nargs=len(args), kwnames=kwnames)


def _debug_print_batch(args, dims, *, levels: tuple = (), **params):
    """One print per example: the batch axes go to the front and this vmap becomes the outermost level."""
    from functrace.rules import moveaxis

    moved = [a if d is None else moveaxis(a, d, 0) for a, d in zip(args, dims, strict=True)]
    flags = tuple(d is not None for d in dims)
    bind(debug_print_p, *moved, levels=(flags,) + tuple(levels), **params)
    return [], []


def_batch_rule(debug_print_p, _debug_print_batch)


def _debug_print_jvp(primals, tangents, **params):
    """The primal values print; there are no results, so no tangents (derivatives print nothing)."""
    bind(debug_print_p, *primals, **params)
    return [], []


def_jvp_rule(debug_print_p, _debug_print_jvp)
