"""Derivative-table rows (see test_grad_primitives.py) for the special-function primitives
(functrace/ops/special.py): values away from poles (lgamma, digamma) and from |x| = 1 (erf_inv).
igamma/igammac are differentiated in x to order 2 and in the shape a once (as JAX: the derivative
in a, igamma_grad_a, has no derivative itself; test_scipy_special_extra.py checks it and its
refusal); betainc in x only; zeta in q exactly and in x through its Euler-Maclaurin expansion."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, real, uniform

from functrace import lax
from functrace.ops import special as SP

CASES = [
    Case("lgamma[pos]", SP.lgamma_p, lax.lgamma, (uniform(0.3, 6.0, (2, 3)),)),
    Case("lgamma[neg]", SP.lgamma_p, lax.lgamma, (uniform(-2.8, -2.2, (4,)),)),
    Case("digamma", SP.digamma_p, lax.digamma, (uniform(0.4, 5.0, (2, 3)),)),
    Case("polygamma[1]", SP.polygamma_p, lambda x: lax.polygamma(1, x), (uniform(0.5, 4.0, (5,)),)),
    Case("polygamma[3]", SP.polygamma_p, lambda x: lax.polygamma(3, x), (uniform(0.8, 3.0, ()),)),
    Case("erfc", SP.erfc_p, lax.erfc, (real((2, 3)),)),
    Case("bessel_i0e", SP.bessel_i0e_p, lax.bessel_i0e, (uniform(0.2, 3.0, (5,)),)),
    Case("bessel_i0e[neg]", SP.bessel_i0e_p, lax.bessel_i0e, (uniform(-3.0, -0.2, (3,)),)),
    Case("bessel_i1e", SP.bessel_i1e_p, lax.bessel_i1e, (uniform(-3.0, 3.0, (2, 3)),)),
    Case("igamma[x]", SP.igamma_p, lambda x: lax.igamma(np.asarray(2.5, x.dtype), x), (uniform(0.3, 4.0, (5,)),)),
    Case("igammac[x]", SP.igammac_p, lambda x: lax.igammac(np.asarray(1.5, x.dtype), x), (uniform(0.3, 4.0, (2, 2)),)),
    Case("zeta[q]", SP.zeta_p, lambda q: lax.zeta(np.asarray(3.0, q.dtype), q), (uniform(0.5, 3.0, (2, 3)),)),
    Case("zeta[x]", SP.zeta_p, lambda x: lax.zeta(x, np.asarray(1.5, x.dtype)), (uniform(1.5, 6.0, (5,)),)),
    Case("zeta[x,q]", SP.zeta_p, lax.zeta, (uniform(2.0, 4.0, (3,)), uniform(0.5, 3.0, (3,)))),
    Case("igamma[a]", SP.igamma_p, lambda a: lax.igamma(a, np.asarray(1.7, a.dtype)), (uniform(0.3, 5.0, (4,)),),
         order=1),
    Case("igammac[a,x]", SP.igammac_p, lax.igammac, (uniform(0.5, 4.0, (3,)), uniform(0.3, 6.0, (3,))), order=1),
    Case("betainc[x]", SP.betainc_p, lambda x: lax.betainc(np.asarray(2.5, x.dtype), np.asarray(1.5, x.dtype), x),
         (uniform(0.05, 0.95, (2, 3)),)),
    Case("betainc[x,a=1]", SP.betainc_p, lambda x: lax.betainc(np.asarray(1.0, x.dtype), np.asarray(3.0, x.dtype), x),
         (uniform(0.05, 0.95, (4,)),)),
]

ELSEWHERE = {SP.igamma_grad_a_p: "test_scipy_special_extra.py::test_igamma_grad_a_values_and_no_second_derivative"}
