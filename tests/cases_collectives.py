"""The collectives in the derivative table, and the programs whose values JAX recorded.

The collectives need a named axis, so their derivatives are checked in tests/test_collectives.py
(``check_grads`` inside a named vmap, and JAX's numbers) rather than in the primitive table.
``programs(vmap, grad, jit, lax, np_, jacfwd, jacrev, checkpoint)`` builds the same programs from functrace's or JAX's
functions; tests/fixtures/make_collectives_fixtures.py recorded JAX's values of them.
"""

from __future__ import annotations

from functrace import ops as P

CASES: list = []
_HERE = "tests/test_collectives.py::"
ELSEWHERE = {
    P.all_primitives["psum"]: _HERE + "test_check_grads_inside_a_named_vmap",
    P.all_primitives["pmax"]: _HERE + "test_matches_jax",
    P.all_primitives["pmin"]: _HERE + "test_matches_jax",
    P.all_primitives["all_gather"]: _HERE + "test_check_grads_inside_a_named_vmap",
    P.all_primitives["psum_scatter"]: _HERE + "test_check_grads_inside_a_named_vmap",
    P.all_primitives["ppermute"]: _HERE + "test_check_grads_inside_a_named_vmap",
    P.all_primitives["axis_index"]: _HERE + "test_matches_jax",
}

# name -> shapes of the float64 inputs (drawn from default_rng(0).standard_normal, in order)
SHAPES = {
    "normalize": [(4, 3)],
    "pmean_pmax_pmin": [(5, 2)],
    "all_gather": [(3, 2)],
    "all_gather_axis1_tiled": [(3, 2, 2)],
    "psum_scatter": [(4, 4, 2)],
    "psum_scatter_tiled": [(2, 3, 4)],
    "ppermute_cycle": [(3, 2)],
    "axis_index": [(5,)],
    "nested": [(2, 3, 2)],
    "nested_tuple_psum": [(2, 3)],
    "unmapped_operand": [(4,), ()],
    "grad_of_normalize": [(4, 3)],
    "per_member_grad_pmean": [(4,)],
    "per_member_grad_psum": [(4,)],
    "grad_all_gather": [(3, 2), (3, 2)],
    "grad_psum_scatter": [(3, 3)],
    "grad_ppermute": [(3,), (3,)],
    "jit_normalize": [(4, 3)],
    "jacfwd_in_named_vmap": [(3, 2)],
    "jacrev_in_named_vmap": [(3, 2)],
    "grad_of_closed_over": [(), (3,)],
    "scan_cond_checkpoint": [(4,)],
    "jit_grad_nested": [(2, 3)],
}


def programs(vmap, grad, jit, lax, np_, jacfwd, jacrev, checkpoint) -> dict:
    """The programs, built from one library's vmap, grad, jit, lax and numpy namespace."""

    def normalize(x):
        return vmap(lambda r: r / lax.psum(r, "i"), axis_name="i")(x)

    def nested(x):
        def inner(v):
            return lax.psum(v, "i") * 10.0 - lax.pmax(v, "j") + lax.axis_index("j") + 2 * lax.axis_index("i")
        return vmap(vmap(inner, axis_name="j"), axis_name="i")(x)

    def nested_smooth(x):
        def inner(v):
            return lax.psum(v * v, "i") * lax.pmean(v, "j") + v * lax.axis_index("i")
        return vmap(vmap(inner, axis_name="j"), axis_name="i")(x)

    def gather_loss(x, w):
        return vmap(grad(lambda v, u: np_.sum(lax.all_gather(v, "i") * u)), in_axes=(0, 0), axis_name="i")(x, w)

    return {
        "normalize": normalize,
        "pmean_pmax_pmin": lambda x: vmap(lambda v: (lax.pmean(v, "i"), lax.pmax(v, "i"), lax.pmin(v, "i")),
                                          axis_name="i")(x),
        "all_gather": lambda x: vmap(lambda v: lax.all_gather(v, "i"), axis_name="i")(x),
        "all_gather_axis1_tiled": lambda x: vmap(lambda v: lax.all_gather(v, "i", axis=1, tiled=True),
                                                 axis_name="i")(x),
        "psum_scatter": lambda x: vmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=0), axis_name="i")(x),
        "psum_scatter_tiled": lambda x: vmap(lambda v: lax.psum_scatter(v, "i", scatter_dimension=1, tiled=True),
                                             axis_name="i")(x),
        "ppermute_cycle": lambda x: vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (1, 2), (2, 0)]), axis_name="i")(x),
        "axis_index": lambda x: vmap(lambda v: v * lax.axis_index("i"), axis_name="i")(x),
        "nested": nested,
        "nested_tuple_psum": lambda x: vmap(vmap(lambda v: lax.psum(v, ("i", "j")) - lax.psum(v, "j"),
                                                 axis_name="j"), axis_name="i")(x),
        "unmapped_operand": lambda x, c: vmap(lambda v: v + lax.psum(c, "i"), axis_name="i")(x),
        "grad_of_normalize": grad(lambda x: np_.sum(np_.sin(normalize(x)))),
        "per_member_grad_pmean": lambda x: vmap(grad(lambda v: lax.pmean(v ** 2, "i")), axis_name="i")(x),
        "per_member_grad_psum": lambda x: vmap(grad(lambda v: lax.psum(np_.sin(v), "i")), axis_name="i")(x),
        "grad_all_gather": gather_loss,
        "grad_psum_scatter": grad(lambda x: np_.sum(np_.cos(
            vmap(lambda v: lax.psum_scatter(v * v, "i"), axis_name="i")(x)) * np_.arange(3.0))),
        "grad_ppermute": lambda x, w: grad(lambda y: np_.sum(
            vmap(lambda v: lax.ppermute(v, "i", [(0, 2), (2, 1), (1, 0)]), axis_name="i")(y) * w))(x),
        "jit_normalize": jit(normalize),
        # jacobians vectorise over their basis with an unnamed axis of their own: psum still sums examples
        "jacfwd_in_named_vmap": lambda x: vmap(jacfwd(lambda v: lax.psum(v, "i") * v), axis_name="i")(x),
        "jacrev_in_named_vmap": lambda x: vmap(jacrev(lambda v: lax.psum(v * v, "i") * v), axis_name="i")(x),
        # a value of an enclosing grad, used inside the vmap: the same on every member
        # control flow and checkpoint batch their bodies with the same axis
        "scan_cond_checkpoint": lambda x: vmap(lambda v: (
            lax.scan(lambda c, _: (c + lax.psum(c, "i"), None), v, None, length=2)[0],
            lax.cond(v > 0.0, lambda u: lax.psum(u, "i"), lambda u: u * 2.0, v),
            checkpoint(lambda u: u / lax.psum(u * u, "i"))(v)), axis_name="i")(x),
        "grad_of_closed_over": lambda w, x: grad(lambda u: np_.sum(
            vmap(lambda v: v * lax.psum(u * u, "i") + lax.all_gather(u, "i")[1], axis_name="i")(x)))(w),
        "jit_grad_nested": jit(grad(lambda x: np_.sum(nested_smooth(x) ** 2))),
    }
