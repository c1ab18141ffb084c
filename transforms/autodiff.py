"""The autodiff API: jvp, linearize, vjp, grad, value_and_grad (Jacobians: ``jacobians.py``).

All are compositions of a few pieces: forward mode (eager: ``jvp_trace``; traced: the JVP
interpreter ``jvp``), the one partial-evaluation split (``linearize``), and the backward pass over
its linear part (``transpose``); reverse mode is linearize + transpose. Eager ``grad``/``vjp``
take the tape (``vjp_tape``), a per-primitive cache of that same split.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import config as _config  # debug_nans: no tape (its compiled steps are not checked)
from functrace import lax
from functrace.api import flatten_fun, input_avals, own_leaves, to_backend, trace_flat
from functrace.avals import ShapedArray, is_float
from functrace.errors import GradError
from functrace.ir import Jaxpr
from functrace.ops.custom_vjp import ForwardModeOfCustomVJPError
from functrace.rules import Zero, instantiate, is_differentiable
from functrace.tracing import Tracer, current_backend, get_aval, located, new_trace, trace_depth
from functrace.transforms.jvp import jvp_jaxpr
from functrace.transforms.jvp_trace import JVPTrace
from functrace.transforms.linearize import linearize_at, linearize_fun
from functrace.transforms.symbolic_tape import eligible_outer, no_nested_derivative, symbolic_linearize
from functrace.transforms.transpose import backward_pass
from functrace.transforms.vjp_tape import tape_linearize
from functrace.tree_util import tree_flatten, tree_map, tree_structure, tree_unflatten


def _quiet():
    """Silence NumPy's floating-point warnings while derivative rules run.

    Rules evaluate both sides of a ``select`` (e.g. log(x) where x == 0 is masked out), so the
    warnings would be noise. (Everything inside a trace is silenced anyway, by the outermost
    trace; this covers the work done after it closes.)
    """
    return np.errstate(all="ignore")


def _results(leaves: list, inputs: list) -> list:
    """The leaves of a transform's result as the user gets them: each the active backend's
    array type (a symbolic zero, or a cotangent passed through unchanged, may be a NumPy
    scalar: a torch tensor on the torch backend, whichever path produced it), and each an
    array of the caller's own (``own_leaves``). Inside a trace concrete leaves stay as they are:
    they become literals of the program, the same on every backend."""
    if trace_depth() == 0:
        b = current_backend()
        leaves = [x if isinstance(x, Tracer) or x is None or b.is_native(x) else
                  b.asarray(np.asarray(x)[()] if isinstance(x, (bool, int, float, complex)) else x) for x in leaves]
    return own_leaves(leaves, inputs)


# ---------------------------------------------------------------------------- forward mode
def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(fun(*primals), J @ tangents)``, the Jacobian of ``fun`` at ``primals``
    applied to ``tangents``, in one pass.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``fun``; each tangent
    has its primal's shape and dtype (and pytree structure). Cheap when there are few inputs;
    see ``vjp`` for the reverse.

    >>> y, dy = ft.jvp(fnp.sin, (0.5,), (1.0,))   # (sin 0.5, cos 0.5 * 1.0)
    >>> print(round(float(y), 6), round(float(dy), 6))
    0.479426 0.877583
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise located(GradError("jvp: primals and tangents must be tuples (one entry per argument)"))
    p_flat, in_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents))
    if in_tree != t_tree:
        raise located(GradError(f"jvp: tangents have structure {t_tree}, primals have {in_tree}"))
    p_avals = input_avals(p_flat)
    p_flat = [to_backend(x) for x in p_flat]
    t_flat = [to_backend(x) for x in t_flat]
    for p, t in zip(p_flat, t_flat, strict=True):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape or (is_float(pa.dtype) and pa.dtype != ta.dtype):
            raise located(GradError(f"jvp: tangent {ta.str_short()} does not match primal {pa.str_short()}; "
                                    "each tangent must have its primal's shape and dtype"))
    no_nested_derivative()
    f_flat, out_tree = flatten_fun(fun, in_tree)
    tangents_in = [t if is_differentiable(get_aval(p)) else Zero(get_aval(p))
                   for p, t in zip(p_flat, t_flat, strict=True)]
    outs = None
    if trace_depth() == 0:
        try:
            outs, touts = _eager_jvp(f_flat, p_flat, tangents_in, p_avals)
        except ForwardModeOfCustomVJPError:
            pass  # a custom_vjp's linear map was met: the traced program may not need it (dead code)
    if outs is None:
        # Under a transform, differentiate the traced (simplified) program, so each level of a
        # nested derivative works on the cleaned-up program of the level below.
        jaxpr, consts, _ = trace_flat(f_flat, p_flat, avals=p_avals)
        del _
        with _quiet():
            outs, touts = jvp_jaxpr(jaxpr, consts, p_flat, tangents_in)
    owned = _results(list(outs) + [instantiate(t) for t in touts], p_flat + t_flat)
    outs, touts = owned[:len(outs)], owned[len(outs):]
    return tree_unflatten(out_tree.val, outs), tree_unflatten(out_tree.val, touts)


def _eager_jvp(f_flat: Callable, p_flat: list, t_flat: list, avals: list[ShapedArray]) -> tuple[list, list]:
    """Forward mode on concrete values: each JVP rule runs as ``f_flat`` does, on concrete
    tangents, so every intermediate (primal or tangent) is freed as soon as the program drops it
    and the peak memory is that of the program itself."""
    with _quiet(), new_trace(JVPTrace) as jt:
        ins = [jt.pair(p, t, a) for p, t, a in zip(p_flat, t_flat, avals, strict=True)]
        outs = f_flat(ins)
        del ins
        pairs = [jt.unpack(o) for o in outs]
        del outs
    return [p for p, _ in pairs], [t for _, t in pairs]


def _linearize_flat(f_flat: Callable, p_flat: list, avals: list[ShapedArray] | None = None
                    ) -> tuple[list, Jaxpr, list]:
    """Run ``f_flat`` at ``p_flat`` and split it with the one partial evaluator
    (``transforms.linearize``): the primal outputs, and the linear jaxpr (tangents of the
    differentiable inputs in -> tangents out), whose constants are the residuals.

    With concrete inputs the function is split as it runs (``linearize_fun``, one pass). With
    tracers of an enclosing transform it is first traced to a jaxpr (simplified and
    dead-code-free) and that is split (``linearize_at``), so each level of a nested derivative
    works on the cleaned-up program of the level below, which keeps high-order derivatives small.
    """
    no_nested_derivative()
    diff = [is_differentiable(get_aval(p)) for p in p_flat]
    if not any(isinstance(p, Tracer) for p in p_flat):
        outs, lin_jaxpr, residuals, _ = linearize_fun(f_flat, p_flat, diff, avals)
        return outs, lin_jaxpr, residuals
    jaxpr, consts, _ = trace_flat(f_flat, p_flat, avals=avals)
    del _  # the output tracers hold every intermediate value of the trace
    with _quiet():
        outs, lin_jaxpr, residuals, _ = linearize_at(jaxpr, consts, p_flat, diff, True)
    return outs, lin_jaxpr, residuals


def _vjp_flat(f_flat: Callable, p_flat: list, avals: list[ShapedArray] | None = None
              ) -> tuple[list, Callable[[list], list]]:
    """Run ``f_flat`` at ``p_flat``: ``(outputs, pullback)``, where ``pullback(cts)`` (one
    cotangent per output, None for none) gives one cotangent per input (None or Zero where
    nothing flowed).

    Plain eager code (concrete inputs, no transform open) records a tape (``vjp_tape``): the
    fast path of ``grad`` in a Python loop. Anywhere else the function is linearized to a
    jaxpr (``_linearize_flat``) and the pullback transposes it.
    """
    no_nested_derivative()
    if trace_depth() == 0 and not any(isinstance(p, Tracer) for p in p_flat) and not _config.CHECK_FLOATS:
        return tape_linearize(f_flat, p_flat, _quiet, avals)
    outer = eligible_outer(p_flat)
    if outer is not None:  # reverse mode while jit traces: a tape of cached jaxprs
        found = symbolic_linearize(f_flat, p_flat, outer, avals)
        if found is not None:
            return found
    outs, lin_jaxpr, lin_consts = _linearize_flat(f_flat, p_flat, avals)

    diff = [is_differentiable(get_aval(p)) for p in p_flat]

    def pullback(cts: list) -> list:
        with _quiet():
            it = iter(backward_pass(lin_jaxpr, lin_consts, cts))
        return [next(it) if d else None for d in diff]

    return outs, pullback


def linearize(fun: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(fun(*primals), f_jvp)``: ``f_jvp(*tangents)`` applies the Jacobian at ``primals``.

    The primal computation runs once; each ``f_jvp`` call evaluates only the linear part
    (``ft.make_jaxpr(f_jvp)`` shows it), so it pays off when one point meets many tangents.

    >>> y, f_jvp = ft.linearize(lambda x: fnp.sin(x) * x ** 2, 1.0)
    >>> print(f_jvp(1.0), f_jvp(2.0))
    2.2232442754839328 4.4464885509678655
    """
    p_flat, in_tree = tree_flatten(primals)
    p_avals = input_avals(p_flat)
    p_flat = [to_backend(x) for x in p_flat]
    f_flat, out_tree = flatten_fun(fun, in_tree)
    outs, lin_jaxpr, lin_consts = _linearize_flat(f_flat, p_flat, p_avals)
    diff = [is_differentiable(get_aval(p)) for p in p_flat]

    def f_jvp(*tangents: Any) -> Any:
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise located(GradError(f"linearize: tangents have structure {t_tree}, primals have {in_tree}"))
        from functrace.tracing import eval_jaxpr

        t_in = [to_backend(t) for t, d in zip(t_flat, diff, strict=True) if d]
        return tree_unflatten(out_tree.val, _results(eval_jaxpr(lin_jaxpr, lin_consts, t_in), t_in + p_flat))

    return tree_unflatten(out_tree.val, _results(outs, p_flat)), f_jvp


# ---------------------------------------------------------------------------- reverse mode
def _check_cotangent(ct_flat: list, out_avals: list[ShapedArray], where: str) -> list:
    fixed = []
    for ct, a in zip(ct_flat, out_avals, strict=True):
        # A NumPy scalar stays one: inside a trace it becomes an inline literal on every backend.
        ct = ct if isinstance(ct, np.generic) else to_backend(ct)
        ca = get_aval(ct)
        if ca.shape != a.shape or (is_float(a.dtype) and ca.dtype != a.dtype):
            raise located(GradError(
                f"{where}: the cotangent has type {ca.str_short()} but the function's output is "
                f"{a.str_short()}; pass a cotangent of the output's shape and dtype"))
        fixed.append(ct)
    return fixed


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``(fun(*primals), vjp_fn)``, where ``vjp_fn(ct)`` returns ``ct^T J``, the
    cotangent pulled back to the inputs: a tuple with one entry per primal.

    ``ct`` has the shape, dtype and pytree structure of ``fun``'s output. Cheap when there are
    few outputs; ``grad`` is ``vjp`` with ``ct = 1``. With ``has_aux=True``, ``fun`` returns
    ``(out, aux)`` and ``vjp`` returns ``(out, vjp_fn, aux)``.

    >>> y, vjp_fn = ft.vjp(lambda x, w: x * w, 2.0, 3.0)
    >>> print(vjp_fn(1.0))
    (np.float64(3.0), np.float64(2.0))
    """
    _check_callable(fun, "vjp")
    p_flat, in_tree = tree_flatten(primals)
    p_avals = input_avals(p_flat)
    p_flat = [to_backend(x) for x in p_flat]
    aux_store: dict[str, Any] = {}

    def f_out(*args):
        res = fun(*args)
        if has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise located(GradError("has_aux=True: the function must return a pair (output, auxiliary data)"))
            out, aux = res
            aux_flat, aux_tree = tree_flatten(aux)
            aux_store["tree"] = aux_tree
            aux_store["n"] = len(aux_flat)
            return (out, aux)
        return res

    f_flat, out_tree = flatten_fun(f_out, in_tree)
    outs, pullback = _vjp_flat(f_flat, p_flat, p_avals)
    if has_aux:
        # f_flat returns out leaves followed by aux leaves; only the former are differentiated.
        out_tree_real = out_tree.val.children[0]
        outs, aux_leaves = outs[:out_tree_real.num_leaves], outs[out_tree_real.num_leaves:]
        aux = tree_unflatten(aux_store["tree"], aux_leaves)
    else:
        out_tree_real = out_tree.val
    out_avals = [get_aval(o) for o in outs]
    diff = [is_differentiable(get_aval(p)) for p in p_flat]
    n_aux = aux_store.get("n", 0)

    def vjp_fn(ct: Any) -> tuple:
        ct_flat, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree_real:
            raise located(GradError(f"vjp_fn: the cotangent has structure {ct_tree}, the output has {out_tree_real}"))
        ct_flat = _check_cotangent(ct_flat, out_avals, "vjp_fn")
        cts = pullback(ct_flat + [None] * n_aux)
        grads = [(instantiate(Zero(get_aval(p))) if c is None else instantiate(c)) if d else _int_zeros(p)
                 for p, c, d in zip(p_flat, cts, diff, strict=True)]
        return tuple(tree_unflatten(in_tree, _results(grads, ct_flat + p_flat)))

    if has_aux:
        owned = _results(list(outs) + list(aux_leaves), p_flat)
        outs, aux = owned[:len(outs)], tree_unflatten(aux_store["tree"], owned[len(outs):])
    else:
        outs = _results(outs, p_flat)
    out = tree_unflatten(out_tree_real, outs)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _int_zeros(p: Any) -> Any:
    a = get_aval(p)
    return lax.full(a.shape, 0, a.dtype) if a.shape else np.zeros((), a.dtype)[()]


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise located(GradError(
                f"{name}: argnums={argnums!r} is out of range for a function called with {nargs} "
                f"positional argument{'s' if nargs != 1 else ''}; pass argnums between 0 and {nargs - 1}"))
    return tuple(a % nargs for a in nums)


def _check_callable(fun: Any, name: str) -> None:
    """``ft.grad(3.0)`` is a mistake for ``ft.grad(f)(3.0)``: say so where it is made."""
    if not callable(fun):
        usage = "ft.vjp(f, x)" if name == "vjp" else f"ft.{name}(f)(x)"
        raise located(GradError(f"{name} expects a function, but got {fun!r} (a {type(fun).__name__}); "
                                f"pass the function, as in {usage}"))


def _check_scalar_output(out: Any, has_aux: bool) -> None:
    """grad differentiates one scalar: say what came back instead, and what to do about it."""
    leaves = tree_flatten(out)[0]
    if len(leaves) == 1 and leaves[0] is out:
        return
    got = "None (is a `return` missing?)" if out is None else \
        f"a {type(out).__name__} of {len(leaves)} value{'s' if len(leaves) != 1 else ''}"
    if has_aux:
        raise located(GradError(f"grad with has_aux=True requires the function to return (scalar output, aux), "
                                f"but its output was {got}"))
    hint = ("; if it returns (value, auxiliary data), pass has_aux=True to differentiate the value and carry "
            "the rest along" if isinstance(out, tuple) else "")
    raise located(GradError(f"grad requires a function that returns a scalar, but this one returned {got}{hint}"
                            + ("" if out is None else "; for several outputs use ft.vjp or ft.jacrev")))


def _check_differentiable_inputs(args: Sequence[Any], argnums: Sequence[int], name: str) -> None:
    for i in argnums:
        for leaf in tree_flatten(args[i])[0]:
            a = get_aval(to_backend(leaf))
            if not is_float(a.dtype):
                raise located(GradError(
                    f"{name} requires floating-point inputs, but argument {i} has dtype {a.dtype.name}; "
                    "convert it (e.g. x.astype(float) or 1.0 instead of 1), or differentiate with "
                    "respect to another argument via argnums"))


def _holomorphic_inputs(args: Sequence[Any], argnums: Sequence[int], name: str) -> None:
    """``holomorphic=True`` differentiates in the complex sense: every input must be complex."""
    for i in argnums:
        for leaf in tree_flatten(args[i])[0]:
            dt = get_aval(to_backend(leaf)).dtype
            if dt.kind != "c":
                raise located(GradError(
                    f"{name} with holomorphic=True requires inputs with complex dtype, but argument {i} "
                    f"has dtype {dt.name}; pass complex values (e.g. x.astype(complex))"))


def _check_output_kind(leaves: Sequence[Any], name: str, holomorphic: bool) -> None:
    """Outputs are complex with ``holomorphic=True`` and real otherwise (as JAX requires)."""
    for leaf in leaves:
        dt = get_aval(leaf).dtype
        if holomorphic and dt.kind != "c":
            raise located(GradError(f"{name} with holomorphic=True requires outputs with complex dtype, "
                                    f"got {dt.name}"))
        if not holomorphic and dt.kind == "c":
            raise located(GradError(
                f"{name} requires real-valued outputs, got {dt.name}. For a holomorphic function pass "
                f"holomorphic=True; otherwise differentiate its real part (fnp.real) or use ft.vjp"))


def _partial_args(fun: Callable, args: tuple, argnums: tuple[int, ...], kwargs: dict) -> Callable:
    def f_diff(*diff_args):
        full = list(args)
        for i, a in zip(argnums, diff_args, strict=True):
            full[i] = a
        return fun(*full, **kwargs)

    return f_diff


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False) -> Callable:
    """Like ``grad``, but the returned function gives ``(fun(*args), gradient)`` from one pass.

    With ``has_aux=True``, ``fun`` returns ``(value, aux)`` and the result is
    ``((value, aux), gradient)``. ``holomorphic`` as in ``grad``.

    >>> value, g = ft.value_and_grad(lambda x: x ** 2)(3.0)
    >>> print(value, g)
    9.0 6.0
    """
    _check_callable(fun, "value_and_grad")

    @functools.wraps(fun)
    def value_and_grad_f(*args: Any, **kwargs: Any):
        nums = _argnums_tuple(argnums, len(args), "grad")
        _check_differentiable_inputs(args, nums, "grad")
        if holomorphic:
            _holomorphic_inputs(args, nums, "grad")
        f_diff = _partial_args(fun, args, nums, kwargs)
        res = vjp(f_diff, *[args[i] for i in nums], has_aux=has_aux)
        out, vjp_fn = res[0], res[1]
        _check_scalar_output(out, has_aux)
        leaves = tree_flatten(out)[0]
        if len(leaves) != 1 or get_aval(leaves[0]).shape != ():
            shapes = [get_aval(x).shape for x in leaves]
            raise located(GradError(
                f"grad requires a function with a scalar output, but it returned shape(s) {shapes}; "
                "use ft.vjp for non-scalar outputs or ft.jacrev for the full Jacobian "
                "(or reduce the output, e.g. with fnp.sum)"))
        if not is_float(get_aval(leaves[0]).dtype):
            raise located(GradError(f"grad requires a floating-point output, got {get_aval(leaves[0]).dtype.name}"))
        _check_output_kind(leaves, "grad", holomorphic)
        a = get_aval(leaves[0])
        g = vjp_fn(tree_unflatten(tree_structure(out), [np.ones((), a.dtype)[()]]))
        g = g[0] if isinstance(argnums, int) else g
        return ((out, res[2]), g) if has_aux else (out, g)

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable:
    """The gradient of a scalar-valued ``fun`` with respect to its argument ``argnums``.

    Returns a function taking the same arguments as ``fun`` and returning the gradient, with the
    shape, dtype and pytree structure of ``args[argnums]`` (a tuple of gradients when
    ``argnums`` is a tuple). ``fun`` must return a floating-point scalar; differentiated
    arguments must be floating point (pass ``1.0``, not ``1``). With ``has_aux=True``, ``fun``
    returns ``(value, aux)`` and the result is ``(gradient, aux)``.

    Complex numbers follow JAX: for a real-valued ``fun`` of a complex ``z = x + iy`` the result
    is ``df/dx - i df/dy`` (so ``grad(lambda z: abs(z)**2)(3+4j)`` is ``6-8j``); a complex-valued
    ``fun`` needs ``holomorphic=True`` (complex inputs, complex output; the result is ``f'(z)``)
    and is a ``GradError`` (a ``TypeError``) without it.

    Transforms compose: ``ft.grad(ft.grad(f))`` is the second derivative, and so on to any order.
    Outside ``jit``, Python control flow on values inside ``fun`` works.

    >>> f = lambda x: fnp.sin(x) * x ** 2
    >>> print(ft.grad(f)(1.0))              # 2 x sin x + x**2 cos x at x = 1
    2.2232442754839328
    >>> print(ft.grad(ft.grad(f))(1.0))
    3.002680208280456
    >>> ft.grad(lambda p: fnp.sum(p["w"] ** 2))({"w": np.array([1.0, 2.0])})
    {'w': array([2., 4.])}

    Raises ``GradError`` for a non-scalar or integer output, an integer input, or an
    ``argnums`` out of range; use ``ft.vjp`` or ``ft.jacrev`` for non-scalar outputs.
    """
    _check_callable(fun, "grad")
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def grad_f(*args: Any, **kwargs: Any):
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


def stop_gradient(x: Any) -> Any:
    """The identity on values, but a constant to every derivative (any pytree).

    >>> print(ft.grad(lambda x: x * ft.stop_gradient(x))(3.0))   # d/dx (x * c) with c = x
    3.0
    """
    return tree_map(lambda leaf: lax.stop_gradient(leaf) if not isinstance(leaf, (int, float)) else leaf, x)


__all__ = ["jvp", "linearize", "vjp", "grad", "value_and_grad", "stop_gradient"]
