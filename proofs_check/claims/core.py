"""Package-wide checks.

``core.mehler_hermite``: the identity behind every normalised dual activation in the package,
E[He_i(u) He_j(v)] / sqrt(i! j!) = delta_ij rho^i for standard Gaussians u, v with correlation rho
(Mehler).  It is why a unit-variance activation phi = sum_i a_i He_i / sqrt(i!) has the dual
E[phi(u) phi(v)] = sum_i a_i^2 rho^i.  Checked two ways: exactly with sympy (polynomial algebra on
Gaussian moments), and numerically with Gauss-Hermite quadrature on the selected array backend.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from proofs_check.papers import MEHLER
from proofs_check.registry import Outcome, claim


def _gaussian_expectation(poly: sp.Expr, variables) -> sp.Expr:
    """E[poly] for independent standard normals: replace each monomial u^k by (k-1)!! (0 for odd k)."""
    poly = sp.Poly(sp.expand(poly), *variables)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        moment = sp.Integer(1)
        for k in powers:
            moment *= 0 if k % 2 else sp.factorial2(k - 1)
        total += coeff * moment
    return sp.simplify(total)


def _symbolic_gram(max_degree: int) -> tuple[int, int]:
    """Count (exact matches, pairs) of E[He_i(u)He_j(v)]/sqrt(i!j!) against delta_ij rho^i."""
    u, w, rho = sp.symbols("u w rho", real=True)
    s = sp.Symbol("s", positive=True)  # s = sqrt(1 - rho^2)
    v = rho * u + s * w
    matches = pairs = 0
    for i in range(max_degree + 1):
        for j in range(max_degree + 1):
            product = sp.hermite_prob(i, u) * sp.hermite_prob(j, v)
            value = _gaussian_expectation(product, (u, w)).subs(s, sp.sqrt(1 - rho**2))
            value = sp.simplify(sp.expand(value) / sp.sqrt(sp.factorial(i) * sp.factorial(j)))
            expected = rho**i if i == j else sp.Integer(0)
            matches += int(sp.simplify(value - expected) == 0)
            pairs += 1
    return matches, pairs


def _quadrature_error(max_degree: int, rhos, xp) -> float:
    """Max |E[He_i He_j]/sqrt(i!j!) - delta_ij rho^i| by 2-D Gauss-Hermite quadrature on backend xp."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(max_degree + 2)
    weights = weights / math.sqrt(2 * math.pi)
    z1 = xp.asarray(nodes[:, None], dtype=xp.float64)
    z2 = xp.asarray(nodes[None, :], dtype=xp.float64)
    w2 = xp.asarray(np.outer(weights, weights), dtype=xp.float64)
    worst = 0.0
    for rho in rhos:
        u = z1 + 0 * z2
        v = rho * z1 + math.sqrt(1 - rho**2) * z2
        he_u = [xp.ones_like(u), u]
        he_v = [xp.ones_like(v), v]
        for k in range(1, max_degree):  # He_{k+1} = x He_k - k He_{k-1}
            he_u.append(u * he_u[k] - k * he_u[k - 1])
            he_v.append(v * he_v[k] - k * he_v[k - 1])
        for i in range(max_degree + 1):
            for j in range(max_degree + 1):
                value = float(xp.sum(w2 * he_u[i] * he_v[j])) / math.sqrt(math.factorial(i) * math.factorial(j))
                expected = rho**i if i == j else 0.0
                worst = max(worst, abs(value - expected))
    return worst


@claim(
    "core.mehler_hermite",
    paper=MEHLER,
    statement=(
        "For standard Gaussians u, v with correlation rho, E[He_i(u) He_j(v)] / sqrt(i! j!) = delta_ij rho^i: "
        "the normalised Hermite polynomials diagonalise the dual of every activation."
    ),
    stated="sympy: all pairs exact; quadrature error <= 1e-12",
    quick={"max_degree": 5, "rhos": [-0.9, -0.3, 0.0, 0.5, 0.99]},
    full={"max_degree": 9},
)
def mehler_hermite(params, xp):
    degree = params["max_degree"]
    matches, pairs = _symbolic_gram(degree)
    error = _quadrature_error(degree, params["rhos"], xp)
    return Outcome(
        measured={"sympy_exact_pairs": f"{matches}/{pairs}", "quadrature_max_abs_error": error},
        threshold={"sympy": "all", "quadrature": 1e-12},
        passed=matches == pairs and error <= 1e-12,
    )
