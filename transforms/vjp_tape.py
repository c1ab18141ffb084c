"""Reverse mode on concrete inputs, as a tape: the eager path of ``grad``, ``value_and_grad`` and
``vjp``.

Outside any transform, ``ft.grad(f)(x)`` runs ``f`` once on ``TapeTracer`` values. Each
primitive applied to one runs a compiled *forward* function, which returns the primal output
and the residuals its derivative needs (``cos x`` for ``sin x``), and appends a record to the
tape. The backward pass walks the tape in reverse, calling each record's compiled *backward*
function on its residuals and output cotangent, as HIPS autograd and torch do.

The forward/backward pair is not written by hand, and the tape has no partial evaluator of its
own: it is a cache over the one split, ``transforms.linearize``. The first time a (primitive,
input types, params) signature is met, that single equation is split by ``linearize_jaxpr``
into a primal jaxpr (inputs -> outputs + residuals) and a tangent jaxpr; the transpose
interpreter turns the tangent jaxpr into the backward one, and both are lowered to Python like
``jit`` code. Later ops of that signature (a training loop meets the same few hundred
signatures again and again) reuse the pair, so an op costs a cache lookup, one compiled call
forward and one backward. A record keeps only the residuals its backward reads.

Only the outermost level of a nested derivative takes this path: ``grad`` called on tracers
(inside ``jit``, ``vmap`` or another ``grad``) traces the function to a jaxpr and differentiates
that (``transforms.autodiff``), and the backward functions of a tape run through ``bind`` when
their cotangent is traced, so a tape's ``vjp_fn`` can itself be differentiated.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from functrace import config as _config
from functrace import lax
from functrace import ops as P
from functrace.backends.lowering import lower_jaxpr
from functrace.errors import FunctraceError
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from functrace.primitives import Primitive
from functrace.rules import RuleTable, Zero, instantiate, is_differentiable
from functrace.tracing import (
    Trace,
    Tracer,
    abstract_eval_rules,
    current_backend,
    current_source,
    eval_jaxpr,
    get_aval,
    leaked_tracer_error,
    located,
    new_trace,
    strong_avals,
)
from functrace.transforms.linearize import linearize_at, linearize_jaxpr
from functrace.transforms.transpose import backward_pass
from functrace.util import user_frame

_CACHE_LIMIT = 4096  # signatures kept per backend; a program that exceeds it re-derives some


class TapeTracer(Tracer):
    """A concrete value on the tape: ``node`` numbers its cotangent slot (None: not differentiated)."""

    __slots__ = ("node",)

    def __init__(self, trace: "TapeTrace", aval: Any, val: Any, node: int | None):
        self._trace = trace
        self.aval = aval
        self._var = None
        self.val = val
        self.producer = None
        self.node = node


class StagedVJP:
    """The derived forward and backward functions of one primitive signature.

    ``fwd(*inputs) -> (*outputs, *residuals)``; ``bwd(*residuals, *output_cts) -> input_cts``
    (one per differentiated input), for concrete cotangents; ``bwd_traced`` the same for traced
    ones (a derivative of the backward pass), which binds each operation.
    """

    __slots__ = ("out_avals", "diff_outs", "n_out", "fwd", "bwd", "bwd_traced", "error")

    def __init__(self, out_avals: list, fwd: Callable, bwd: Callable | None, bwd_traced: Callable | None,
                 error: Exception | None = None):
        self.out_avals = out_avals
        self.diff_outs = [i for i, a in enumerate(out_avals) if is_differentiable(a)]
        self.n_out = len(out_avals)
        self.fwd = fwd
        self.bwd = bwd
        self.bwd_traced = bwd_traced
        self.error = error  # why there is no backward function (raised when a cotangent arrives)


# (id(backend), inexact_rewrites) -> {signature: StagedVJP}: the opt-in algebra derives other pairs
_caches: dict[tuple, dict] = {}
_caches_version = [RuleTable.version]  # the rule tables' version the cached pairs were derived under


def cache_for(backend: Any) -> dict:
    """The derived pairs for ``backend`` under the current ``inexact_rewrites`` option."""
    return _caches.setdefault((id(backend), _config.INEXACT_REWRITES), {})


def clear_cache() -> None:
    """Forget every derived forward/backward pair (they are derived again on use)."""
    _caches.clear()
    _caches_version[0] = RuleTable.version


def _one_equation(prim: Primitive, params: dict, avals: Sequence[Any], out_avals: list) -> ClosedJaxpr:
    """``prim`` applied once, as a jaxpr (no tracing, so no rewrite changes what is derived)."""
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in out_avals]
    eqn = JaxprEqn(prim, invars, outvars, params, current_source() or user_frame())
    return ClosedJaxpr(Jaxpr([], invars, outvars, [eqn]), [])


def one_equation_at(prim: Primitive, params: dict, avals: Sequence[Any]) -> ClosedJaxpr:
    """``prim`` applied once at ``avals``, as a jaxpr whose outputs have the types its rule gives
    (never weak, even where the rule hands back an input's aval); raises the rule's error."""
    out = strong_avals(abstract_eval_rules[prim](*avals, **params))
    return _one_equation(prim, params, avals, list(out) if prim.multiple_results else [out])


def _transposed(tangent: Jaxpr, n_res: int) -> Jaxpr:
    """The tangent jaxpr of a split with its residual inputs moved to constvars, the form
    ``backward_pass`` transposes (it is linear in the remaining inputs)."""
    return Jaxpr(list(tangent.constvars) + tangent.invars[:n_res], tangent.invars[n_res:], tangent.outvars,
                 tangent.eqns)


def derive_pair(closed: ClosedJaxpr, nonzero: Sequence[bool], diff_out: Sequence[bool]
                ) -> tuple[ClosedJaxpr, ClosedJaxpr]:
    """The forward and backward jaxprs of ``closed`` (one equation, usually), from the one split
    (``linearize_jaxpr``) and the transpose interpreter: ``forward(*inputs) -> (*outputs,
    *residuals)``, ``backward(*residuals, *output_cts) -> input_cts`` (one per input flagged in
    ``nonzero``). NotImplementedError when some equation has no transpose rule."""
    split = linearize_jaxpr(closed, nonzero, diff_out)
    tan = split.tangent
    lin = _transposed(tan.jaxpr, split.n_res)
    with new_trace() as staging:
        res = [staging.new_arg(v.aval) for v in lin.constvars[len(tan.consts):]]
        cts = [staging.new_arg(v.aval) for v in lin.outvars]
        in_cts = backward_pass(lin, list(tan.consts) + res, cts)
        bwd_jaxpr, bwd_consts = staging.to_jaxpr([instantiate(c) for c in in_cts])
    return split.primal, ClosedJaxpr(bwd_jaxpr, bwd_consts)


def _stage(prim: Primitive, params: dict, avals: Sequence[Any], diff_in: list[int], backend: Any,
           vals: Sequence[Any] | None = None) -> StagedVJP:
    """Derive ``prim``'s forward/backward pair at ``avals`` from the one split
    (``linearize``) and the transpose interpreter.

    With ``vals`` (primitives with sub-jaxprs: their params hold a traced function, or a user's
    rule that may look at values) nothing is staged: the split runs on the concrete inputs now
    and the backward pass runs on the concrete cotangents later, so a ``custom_jvp`` rule or a
    ``custom_vjp`` backward with Python control flow sees values, as in JAX. That pair is for
    this one call.
    """
    try:
        closed = one_equation_at(prim, params, avals)
    except FunctraceError as e:
        raise located(e) from None
    out_avals = [v.aval for v in closed.jaxpr.outvars]
    nonzero = [i in diff_in for i in range(len(avals))]
    diff_out = [is_differentiable(a) for a in out_avals]
    if vals is not None:
        outs, tj, residuals, _ = linearize_at(closed.jaxpr, [], list(vals), nonzero, diff_out)
        lin = _transposed(tj, 0)
        computed = [tuple(outs)]  # handed over once: the record keeps no reference to the outputs
        del outs

        def pullback(*cts: Any) -> list:
            return [instantiate(c) for c in backward_pass(lin, residuals, list(cts))]

        return StagedVJP(out_avals, lambda *_: computed.pop(), pullback, pullback)
    try:
        primal, backward = derive_pair(closed, nonzero, diff_out)
    except NotImplementedError as e:
        # No reverse mode for this primitive (a while_loop, say): it still runs forward, and
        # the error is raised if a cotangent reaches it, as on the jaxpr route.
        impl = backend.impls[prim]
        one = not prim.multiple_results
        return StagedVJP(out_avals, lambda *vals: (impl(*vals, **params),) if one
                         else tuple(impl(*vals, **params)), None, None, error=e)
    # The tape runs both halves with floating-point warnings silenced (np.errstate) already.
    fwd, _ = lower_jaxpr(primal.jaxpr, primal.consts, backend, f"vjp_fwd_{prim.name}", raw=True)
    bwd, _ = lower_jaxpr(backward.jaxpr, backward.consts, backend, f"vjp_bwd_{prim.name}", raw=True)

    def bwd_traced(*args: Any) -> list:
        return eval_jaxpr(backward.jaxpr, backward.consts, list(args))

    return StagedVJP(out_avals, fwd, bwd, bwd_traced)


def _zeros(aval: Any) -> Any:
    return instantiate(Zero(aval))


class TapeTrace(Trace):
    """Runs each primitive through its staged forward function and records it for the backward pass."""

    records_programs = False

    def __init__(self, level: int):
        super().__init__(level)
        self.backend = current_backend()
        if _caches_version[0] != RuleTable.version:  # a rule changed since the pairs were derived
            clear_cache()
        self.cache = cache_for(self.backend)
        self.records: list[tuple] = []  # (StagedVJP, residuals, input nodes, output nodes)
        self.n_nodes = 0

    def new_input(self, val: Any, aval: Any = None) -> TapeTracer:
        aval = get_aval(val) if aval is None else aval
        if not is_differentiable(aval):
            return TapeTracer(self, aval, val, None)
        node = self.n_nodes
        self.n_nodes += 1
        return TapeTracer(self, aval, val, node)

    def process(self, prim: Primitive, args: tuple, params: dict):
        # The hot path of eager grad: kept flat (one loop, one dict lookup, one compiled call).
        vals, avals, in_nodes = [], [], []
        diff_in: tuple = ()
        backend = self.backend
        for i, a in enumerate(args):
            if type(a) is TapeTracer and a._trace is self:
                vals.append(a.val)
                avals.append(a.aval)
                if a.node is not None:
                    diff_in += (i,)
                    in_nodes.append(a.node)
            else:
                if isinstance(a, Tracer):  # the tape is the outermost trace: this one is dead
                    raise leaked_tracer_error(a)
                if not backend.is_native(a):
                    a = backend.asarray(a)
                vals.append(a)
                avals.append(get_aval(a))
        if not diff_in or prim is P.stop_gradient_p or prim.zero_derivative:
            # Nothing to differentiate (its outputs carry no derivative, so they get no cotangent
            # slot): compute it, and keep it a tracer for the user.
            impl = backend.impls[prim]
            out = getattr(impl, "raw", impl)(*vals, **params)  # the tape runs with warnings silenced
            if prim.multiple_results:
                return [TapeTracer(self, get_aval(o), o, None) for o in out]
            return TapeTracer(self, get_aval(out), out, None)
        if prim.subjaxprs:
            staged = _stage(prim, params, avals, list(diff_in), backend, vals)
        else:
            key = (prim, tuple(avals), diff_in, tuple(params.items()) if params else ())
            try:
                staged = self.cache.get(key)
            except TypeError:  # unhashable params: derive without caching
                key, staged = None, None
            if staged is None:
                staged = _stage(prim, params, avals, list(diff_in), backend)
                if key is not None:
                    if len(self.cache) >= _CACHE_LIMIT:
                        self.cache.clear()
                    self.cache[key] = staged
        res = staged.fwd(*vals)
        if not prim.multiple_results:
            node = None
            if staged.diff_outs:
                node = self.n_nodes
                self.n_nodes = node + 1
            self.records.append((staged, res[1:], in_nodes, (node,)))
            return TapeTracer(self, staged.out_avals[0], res[0], node)
        n_out = staged.n_out
        out_nodes = []
        outs = []
        for i, (o, aval) in enumerate(zip(res[:n_out], staged.out_avals, strict=True)):
            node = None
            if i in staged.diff_outs:
                node = self.n_nodes
                self.n_nodes = node + 1
            out_nodes.append(node)
            outs.append(TapeTracer(self, aval, o, node))
        self.records.append((staged, res[n_out:], in_nodes, out_nodes))
        return outs

    def backward(self, seeds: Sequence[tuple[int | None, Any]], wanted: Sequence[int | None]) -> list:
        """Cotangents of the ``wanted`` nodes (None where nothing flowed), from ``seeds``:
        (node, cotangent) pairs for the outputs. Traced cotangents (a derivative of the backward
        pass) run each backward jaxpr through ``bind``; concrete ones call the compiled code."""
        cts: dict[int, Any] = {}
        traced = False
        for node, ct in seeds:
            if node is None or ct is None:
                continue
            traced = traced or isinstance(ct, Tracer)
            prev = cts.get(node)
            cts[node] = ct if prev is None else lax.add(prev, ct)
        add = lax.add if traced else getattr(self.backend.impls[P.add_p], "raw", self.backend.impls[P.add_p])
        pop = cts.pop
        for staged, res, in_nodes, out_nodes in reversed(self.records):
            if len(out_nodes) == 1:  # the common case: one output
                ct = pop(out_nodes[0], None)
                if ct is None:
                    continue
                outs_ct = [ct]
            else:
                outs_ct = [pop(out_nodes[i], None) for i in staged.diff_outs]
                if all(c is None for c in outs_ct):
                    continue
                outs_ct = [_zeros(staged.out_avals[i]) if c is None else c
                           for i, c in zip(staged.diff_outs, outs_ct, strict=True)]
            if staged.error is not None:
                raise type(staged.error)(*staged.error.args)
            in_cts = staged.bwd_traced(*res, *outs_ct) if traced else staged.bwd(*res, *outs_ct)
            for node, c in zip(in_nodes, in_cts, strict=True):
                prev = cts.get(node)
                cts[node] = c if prev is None else add(prev, c)
        return [None if n is None else cts.get(n) for n in wanted]


def tape_linearize(f_flat: Callable[[list], list], p_flat: list, quiet: Callable, avals: Sequence[Any] | None = None
                   ) -> tuple[list, Callable]:
    """Run ``f_flat`` at the concrete ``p_flat`` (of abstract values ``avals``, when given) on a
    tape: ``(outputs, pullback)`` where ``pullback(cts)`` gives one cotangent per input (None
    where nothing flowed). The open trace silences floating-point warnings while ``f_flat`` runs;
    ``quiet`` does it for the backward pass, which runs after the trace has closed."""
    with new_trace(TapeTrace) as tape:
        ins = [tape.new_input(p, None if avals is None else avals[i]) for i, p in enumerate(p_flat)]
        outs = f_flat(ins)
    vals, out_nodes = [], []
    for o in outs:
        if type(o) is TapeTracer and o._trace is tape:
            vals.append(o.val)
            out_nodes.append(o.node)
        elif isinstance(o, Tracer):
            raise leaked_tracer_error(o)
        else:
            vals.append(o)
            out_nodes.append(None)
    in_nodes = [t.node for t in ins]

    def pullback(cts: list) -> list:
        with quiet():
            return tape.backward(list(zip(out_nodes, cts, strict=True)), in_nodes)

    return vals, pullback
