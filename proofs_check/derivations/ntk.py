"""Symbolic derivations of the normalised duals used by :mod:`kernels.ntk.duals`.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126 (the duals phĭ, phĭ' and the exponent
beta = ln(1/phĭ'(0)) / ln phĭ'(1) of its Section 3 and SI).

* ReLU: E[relu(u) relu(v)] for standard Gaussians with correlation cos(theta) is written in polar
  coordinates, (1/2pi) int_0^inf r^3 e^(-r^2/2) dr int_(theta-pi/2)^(pi/2) cos(phi) cos(phi-theta) dphi,
  and integrated by sympy; normalised by its value at theta = 0 it must equal the code's
  (xi (pi - arccos xi) + sqrt(1 - xi^2)) / pi.
* erf: the Gaussian integral of erf(u) erf(v) does not close directly, so it is derived through Price's
  theorem d/drho E[f(u) f(v)] = E[f'(u) f'(v)]: sympy integrates the Gaussian E[(4/pi) e^(-u^2 - v^2)]
  over the bivariate normal and then in rho from 0 (erf is odd), giving (2/pi) arcsin(2 rho / 3).
* phĭ' is obtained by differentiating each derived phĭ and compared with the code's derivative.
* For each d_opt polynomial, phĭ(1) = 1 and beta are computed exactly (rationals).

Every derived expression is also evaluated at sample points and compared with the functions the code
uses (float64) at 1e-14.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = ["derive_relu_dual", "derive_erf_dual", "d_opt_betas", "check_against_code"]

xi = sp.Symbol("xi", real=True)


def derive_relu_dual():
    """(phĭ, phĭ') of the ReLU, derived from the Gaussian integral, as expressions in xi."""
    r = sp.Symbol("r", positive=True)
    phi, theta = sp.symbols("phi theta", real=True)
    radial = sp.integrate(r**3 * sp.exp(-(r**2) / 2), (r, 0, sp.oo))  # = 2
    angular = sp.integrate(sp.cos(phi) * sp.cos(phi - theta), (phi, theta - sp.pi / 2, sp.pi / 2))
    expectation = sp.simplify(radial * angular / (2 * sp.pi))  # E[relu(u) relu(v)], 0 <= theta <= pi
    normalised = sp.simplify(expectation / expectation.subs(theta, 0))
    dual = sp.simplify(normalised.subs(theta, sp.acos(xi)))
    return dual, sp.diff(dual, xi)


def _gaussian_integral(exponent: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """int exp(exponent) d var over the real line for an exponent quadratic in ``var`` (leading term < 0).

    Completing the square, -A z^2 + B z + C = -A (z - B/2A)^2 + B^2/(4A) + C, leaves the Gaussian
    integral int exp(-A w^2) dw, which sympy evaluates once (A > 0); the coefficients of ``exponent`` are
    then substituted, which keeps the symbolic work small.
    """
    a_sym = sp.Symbol("A", positive=True)
    b_sym, c_sym, w = sp.symbols("B C w", real=True)
    generic = sp.integrate(sp.exp(-a_sym * w**2), (w, -sp.oo, sp.oo)) * sp.exp(b_sym**2 / (4 * a_sym) + c_sym)
    poly = sp.Poly(sp.expand(exponent), var)
    c2, c1, c0 = (poly.coeff_monomial(var**k) for k in (2, 1, 0))
    return generic.subs({a_sym: -c2, b_sym: c1, c_sym: c0})


def derive_erf_dual():
    """(phĭ, phĭ') of erf (unit-variance inputs), derived by Price's theorem and Gaussian integrals."""
    z1, z2 = sp.symbols("z1 z2", real=True)
    rho, t = sp.symbols("rho t", real=True)
    s = sp.Symbol("s", positive=True)  # s = sqrt(1 - rho^2)
    u, v = z1, rho * z1 + s * z2
    # E[erf'(u) erf'(v)] = (4/pi) E[exp(-u^2 - v^2)], (z1, z2) independent standard normals
    exponent = -(u**2) - v**2 - (z1**2 + z2**2) / 2
    inner = _gaussian_integral(exponent, z2)
    inner_exponent = sp.expand(sp.log(inner), force=True)
    outer = _gaussian_integral(sp.expand(inner_exponent.subs(s, sp.sqrt(1 - rho**2))), z1)
    slope = 4 / sp.pi * outer / (2 * sp.pi)
    # slope > 0 (an expectation of a positive function) and slope^2 is rational in rho: take the root of
    # the cancelled reciprocal square, a polynomial, so that sympy sees 4 / (pi sqrt(9 - 4 rho^2))
    slope = 1 / sp.sqrt(sp.factor(sp.cancel(1 / slope**2)))
    expectation = sp.integrate(slope.subs(rho, t), (t, 0, rho))  # erf is odd: zero at rho = 0
    dual = sp.simplify(expectation.subs(rho, xi) / expectation.subs(rho, 1))
    return dual, sp.diff(dual, xi)


D_OPT_COEFFICIENTS = {
    "2d_opt": (0, sp.Rational(1, 2), 0, 0, 0, 0, 0, sp.Rational(1, 2)),
    "3d_opt": (0, sp.Rational(1, 2), 0, sp.Rational(1, 2)),
    "5d_opt": (0, sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(1, 4)),
    "9d_opt": (0, sp.Rational(1, 16), sp.Rational(7, 8), sp.Rational(1, 16)),
}


def d_opt_betas() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """name -> (phĭ(1), beta) computed exactly for the paper's d_opt polynomials."""
    out = {}
    for name, coeffs in D_OPT_COEFFICIENTS.items():
        dual = sum(c * xi**i for i, c in enumerate(coeffs))
        slope = sp.diff(dual, xi)
        beta = sp.nsimplify(sp.simplify(sp.log(1 / slope.subs(xi, 0)) / sp.log(slope.subs(xi, 1))))
        out[name] = (sp.simplify(dual.subs(xi, 1)), beta)
    return out


def check_against_code(points: int = 41) -> dict[str, float]:
    """Max |derived - code| over ``points`` cosines in [-1, 1] for the ReLU and erf duals and derivatives,
    and max |exact beta - code beta| over the d_opt polynomials."""
    from kernels.ntk.duals import beta_exponent, get_dual

    grid = np.linspace(-1.0, 1.0, points)
    interior = grid[1:-1]  # phĭ' of ReLU has sqrt singularities only in its derivative at the ends
    errors = {}
    for name, derive in (("relu", derive_relu_dual), ("erf", derive_erf_dual)):
        dual, slope = derive()
        f = sp.lambdify(xi, dual, "mpmath")
        g = sp.lambdify(xi, slope, "mpmath")
        code = get_dual(name)
        errors[f"{name}_dual"] = max(abs(float(f(x)) - float(code(np.array([x]))[0])) for x in grid)
        errors[f"{name}_derivative"] = max(abs(float(g(x)) - float(code.prime(np.array([x]))[0])) for x in interior)
    errors["d_opt_beta"] = max(abs(float(beta) - beta_exponent(name)) for name, (_, beta) in d_opt_betas().items())
    return errors
