"""The remat family in the derivative table: ``remat`` (``ft.checkpoint``) under each policy, and
``name`` (``ft.checkpoint_name``). ``remat`` is transposable: its tangent equation is linear in
the tangents it takes (the transpose recomputes the block's forward pass)."""

from grad_cases import Case, real

import functrace as ft
import functrace.numpy as fnp
from functrace import ops as P

CP = ft.checkpoint_policies


def _block(w, x):
    return fnp.tanh(ft.checkpoint_name(x @ w, "h")) + fnp.sin(x) * x


def _remat(policy):
    return lambda w, x: ft.checkpoint(_block, policy=policy)(w, x)


remat_p = P.all_primitives["remat"]
CASES = [
    Case(f"remat[{name}]", remat_p, _remat(policy), (real((3, 3)), real((2, 3))))
    for name, policy in [("nothing", CP.nothing_saveable), ("dots", CP.dots_saveable),
                         ("names", CP.save_only_these_names("h"))]
] + [
    Case("name", P.all_primitives["name"], lambda x: ft.checkpoint_name(fnp.sin(x), "s") * x, (real((2, 3)),)),
]
LINEAR = {remat_p}
