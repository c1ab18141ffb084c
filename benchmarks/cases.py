"""Case builders shared by the workloads: the same transformed function, run four ways for
functrace (NumPy/torch backend × eager/jit) and two ways for JAX (eager/jit).

Inputs are converted to each framework's native arrays once, when the case is built, so the
timed step measures the transformation and the arithmetic, not a per-call host copy.
"""

from __future__ import annotations

from typing import Any, Callable

import functrace as ft
from benchmarks import frameworks as fw
from benchmarks.common import Case, Step


def _functrace_build(make_fn: Callable[[], Callable], args: tuple, backend: str, jit: bool) -> Callable[[], Step]:
    def build() -> Step:
        if backend == "torch":
            fw.ft_torch_backend()
        fn = make_fn()
        if jit:
            fn = fw.ft_jit()(fn)
        with ft.use_backend(backend) as b:
            native = ft.tree_util.tree_map(b.asarray, args)

        def step() -> Any:
            with ft.use_backend(backend):
                return fn(*native)

        return step

    return build


def functrace_cases(make_fn: Callable[[], Callable], args: tuple) -> list[Case]:
    """functrace eager and jit on both backends; ``make_fn()`` returns the (transformed) function."""
    return [
        Case(fw.FT, "functrace", _functrace_build(make_fn, args, "numpy", False)),
        Case(fw.FT_JIT, "functrace", _functrace_build(make_fn, args, "numpy", True)),
        Case(fw.FT_TORCH, "functrace-torch", _functrace_build(make_fn, args, "torch", False)),
        Case(fw.FT_TORCH_JIT, "functrace-torch", _functrace_build(make_fn, args, "torch", True)),
    ]


def _jax_build(make_fn: Callable[[Any], Callable], args: tuple, jit: bool) -> Callable[[], Step]:
    def build() -> Step:
        jax = fw.jax()
        fn = make_fn(jax)
        if jit:
            fn = jax.jit(fn)
        native = jax.tree_util.tree_map(jax.device_put, args)
        block = jax.block_until_ready  # JAX dispatches asynchronously: wait for the result

        return lambda: block(fn(*native))

    return build


def jax_cases(make_fn: Callable[[Any], Callable], args: tuple) -> list[Case]:
    """JAX eager and jit; ``make_fn(jax)`` returns the (transformed) function."""
    return [Case(fw.JAX, "jax", _jax_build(make_fn, args, False)),
            Case(fw.JAX_JIT, "jax", _jax_build(make_fn, args, True))]


def numpy_case(step: Callable[[], Step]) -> Case:
    return Case(fw.NUMPY, "numpy", step)


def torch_case(build: Callable[[Any], Step]) -> Case:
    """``build(torch)`` returns the step."""
    return Case(fw.TORCH, "torch", lambda: build(fw.torch()))


def autograd_case(build: Callable[[Any], Step]) -> Case:
    """``build(autograd)`` returns the step."""
    return Case(fw.AUTOGRAD, "autograd", lambda: build(fw.autograd()))
