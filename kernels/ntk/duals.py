"""Normalised (unit-sphere) dual activations: the paper's duals, their regime and exponent beta.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.

For inputs on the unit sphere and an activation phi = sum_i a_i He_i / sqrt(i!) with sum_i a_i^2 = 1,
the normalised dual is (Mehler's formula)

    phĭ(xi) = sum_i a_i^2 xi^i,   phĭ(1) = 1,

and the depth-L kernels Sigma^L, K^L of the network are iterates of phĭ (:mod:`kernels.ntk.depth`).

The infinite-depth behaviour is fixed by three numbers of the dual (paper, Section 3 and SI):
``phĭ(0) > 0`` -> majority vote; ``phĭ(0) = phĭ'(0) = 0`` -> 1-nearest neighbour;
``phĭ(0) = 0 < phĭ'(0) < 1`` -> a singular kernel h(xi) ~ (1 - xi)^(-beta) with

    beta = ln(1 / phĭ'(0)) / ln phĭ'(1),

which is Bayes-consistent on S^(d-1) exactly when beta = (d - 1) / 2 (the Hilbert kernel).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernels.backend import array_namespace, to_numpy
from kernels.numerics import arccos_j0, arccos_j1, asin_difference, normalized_angle, sin_minus_theta_cos
from kernels.validation import check_positive_int

__all__ = [
    "NormalizedDual",
    "DUAL_NAMES",
    "get_dual",
    "abrelu_dual",
    "abrelu_gaps",
    "polynomial_dual",
    "dual_from_hermite",
    "hermite_coefficients",
    "sine_dual",
    "regime",
    "beta_exponent",
    "sine_beta",
    "sine_parameter_for_dimension",
    "consistent_dual",
]

# Absolute tolerance below which phĭ(0) or phĭ'(0) counts as zero when the regime is decided.
REGIME_ATOL = 1e-12


@dataclass(frozen=True)
class NormalizedDual:
    """A normalised dual phĭ on [-1, 1] with its derivative phĭ'.

    ``value(xi, xp)`` and ``derivative(xi, xp)`` are array-API functions.  ``coefficients`` holds
    (a_0^2, a_1^2, ...) when phĭ is a polynomial (enables the log-domain recursion).  ``at_zero``,
    ``slope_at_zero`` and ``slope_at_one`` are phĭ(0), phĭ'(0) and phĭ'(1).

    Forms in the angle theta = arccos xi (``math.pi`` stands for pi: theta = math.pi is xi = -1), which keep their relative accuracy where xi is close to +-1 (the
    depth recursions of :mod:`kernels.ntk.depth` carry the angle there): ``gap(theta, xp)`` =
    1 - phĭ(cos theta), ``cogap(theta, xp)`` = 1 + phĭ(cos theta) and ``slope_at_angle(theta, xp)`` =
    phĭ'(cos theta), and ``value_at_angle(theta, xp)`` = phĭ(cos theta) (relative accuracy where the value is
small next to xi = -1); None where the dual has no such form (then they are formed from ``value``).
    ``odd``: phĭ(-xi) = -phĭ(xi).
    """

    name: str
    value: Callable = field(repr=False)
    derivative: Callable | None = field(repr=False)
    at_zero: float
    slope_at_zero: float
    slope_at_one: float
    coefficients: tuple[float, ...] | None = None
    gap: Callable | None = field(default=None, repr=False)
    cogap: Callable | None = field(default=None, repr=False)
    slope_at_angle: Callable | None = field(default=None, repr=False)
    value_at_angle: Callable | None = field(default=None, repr=False)
    odd: bool = False

    def __call__(self, xi):
        xp = array_namespace(xi)
        return self.value(xi, xp)

    def prime(self, xi):
        if self.derivative is None:
            raise ValueError(f"dual {self.name!r} has no derivative: pass dual_derivative (phĭ') to use the NTK")
        xp = array_namespace(xi)
        return self.derivative(xi, xp)


# --- closed-form duals of the paper ------------------------------------------------------------


def abrelu_dual(a: float, b: float) -> NormalizedDual:
    """The normalised dual of phi = a min(x, 0) + b max(x, 0) (ReLU: a = 0, b = 1).

    With theta = arccos xi and m = (a - b)^2 / (a^2 + b^2) (the ABRelu kernels of
    :mod:`kernels.ntk.activations` divided by their value (a^2 + b^2)/2 at xi = 1):

        phĭ(xi) = (1 - m) xi + m J1(theta),   phĭ'(xi) = (1 - m) + m J0(theta),

    J0, J1 the arc-cosine kernels of :mod:`kernels.numerics`; phĭ(0) = m/pi, phĭ'(0) = 1 - m/2, phĭ'(1) = 1.
    """
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b)) or a * a + b * b == 0.0:
        raise ValueError(f"a and b must be finite and not both zero, got a={a!r}, b={b!r}")
    m = (a - b) ** 2 / (a * a + b * b)

    def value(xi, xp):
        return (1.0 - m) * xi + m * arccos_j1(normalized_angle(xi, xp), xp)

    def derivative(xi, xp):
        return (1.0 - m) + m * arccos_j0(normalized_angle(xi, xp), xp)

    def gap(theta, xp):
        return _abrelu_gaps(m, theta, math.pi - theta, xp)[0]

    def cogap(theta, xp):
        return _abrelu_gaps(m, theta, math.pi - theta, xp)[1]

    def slope_at_angle(theta, xp):
        # 1 - m theta / pi, written in the complement so that it keeps its relative accuracy next to pi
        # (ReLU: 1 - theta / pi lost 8e-5 at theta = pi - 1e-12)
        return (1.0 - m) + (m / math.pi) * (math.pi - theta)

    def value_at_angle(theta, xp):
        delta = math.pi - theta
        far = (m - 1.0) * xp.cos(delta) + (m / math.pi) * sin_minus_theta_cos(delta, xp)
        return xp.where(theta <= math.pi / 2, 1.0 - gap(theta, xp), far)

    name = "relu" if (a, b) == (0.0, 1.0) else f"ab_relu({a:g}, {b:g})"
    return NormalizedDual(name, value, derivative, m / math.pi, 1.0 - m / 2.0, 1.0, gap=gap, cogap=cogap,
                          slope_at_angle=slope_at_angle, value_at_angle=value_at_angle, odd=m == 0.0)


def _abrelu_gaps(m, theta, delta, xp):
    """(1 - phĭ(cos theta), 1 + phĭ(cos theta)) of :func:`abrelu_dual` (m = (a - b)^2 / (a^2 + b^2)).

    With s(theta) = sin theta - theta cos theta, phĭ = cos theta + (m/pi) s(theta); for theta > pi/2 the forms
    use ``delta`` = pi - theta (passed by the caller, who may know it to more relative accuracy than
    ``math.pi - theta``), where s(theta) = pi cos delta + s(delta).
    """
    s_near, s_far = sin_minus_theta_cos(theta, xp), sin_minus_theta_cos(delta, xp)
    half_far = 2.0 * xp.sin(delta / 2) ** 2
    near = theta <= math.pi / 2
    gap = xp.where(near, 2.0 * xp.sin(theta / 2) ** 2 - (m / math.pi) * s_near,
                   (2.0 - m) + (m - 1.0) * half_far - (m / math.pi) * s_far)
    cogap = xp.where(near, 2.0 * xp.cos(theta / 2) ** 2 + (m / math.pi) * s_near,
                     m + (1.0 - m) * half_far + (m / math.pi) * s_far)
    return gap, cogap


def abrelu_gaps(a: float, b: float, theta, delta, xp=None):
    """(1 - cos theta_T, 1 + cos theta_T) of one ABRelu(a, b) layer at the angle ``theta``, with ``delta`` =
    pi - theta to full relative accuracy where theta > pi/2 (each gap to full relative accuracy where small)."""
    xp = array_namespace(theta, delta) if xp is None else xp
    return _abrelu_gaps((a - b) ** 2 / (a * a + b * b), theta, delta, xp)


_ASIN_TWO_THIRDS = math.asin(2.0 / 3.0)


def _erf_value(xi, xp):
    return xp.asin(2.0 * xi / 3.0) / _ASIN_TWO_THIRDS


def _erf_derivative(xi, xp):
    return 2.0 / (xp.sqrt(9.0 - 4.0 * xi * xi) * _ASIN_TWO_THIRDS)


def _erf_gap(theta, xp):
    # (arcsin(2/3) - arcsin(2 xi/3)) / arcsin(2/3), with (2/3)^2 - (2 xi/3)^2 = (4/9) sin^2 theta
    xi = xp.cos(theta)
    sin2 = xp.sin(theta) ** 2
    a = xp.full_like(theta, 2.0 / 3.0)
    difference = asin_difference(a, 2.0 * xi / 3.0, xp.full_like(theta, math.sqrt(5.0) / 3.0),
                                 xp.sqrt(5.0 + 4.0 * sin2) / 3.0, (4.0 / 9.0) * sin2, xp)
    return difference / _ASIN_TWO_THIRDS


def _odd_cogap(gap):
    """1 + phĭ(cos theta) = 1 - phĭ(cos(pi - theta)) for an odd dual."""
    return lambda theta, xp: gap(math.pi - theta, xp)


def sine_dual(a: float) -> NormalizedDual:
    """phĭ(xi) = sinh(a xi) / sinh(a), the dual of phi(x) = sqrt(2 / (1 - e^(-2a))) sin(sqrt(a) x).

    Evaluated as sign(xi) e^(a(|xi| - 1)) (1 - e^(-2a|xi|)) / (1 - e^(-2a)) so that no a overflows.
    """
    a = float(a)
    if not (a > 0 and math.isfinite(a)):
        raise ValueError(f"a must lie in (0, inf), got {a!r}")
    denom = -math.expm1(-2.0 * a)

    def value(xi, xp):
        ax = xp.abs(xi)
        return xp.sign(xi) * xp.exp(a * (ax - 1.0)) * (-xp.expm1(-2.0 * a * ax)) / denom

    def derivative(xi, xp):
        ax = xp.abs(xi)
        return a * xp.exp(a * (ax - 1.0)) * (1.0 + xp.exp(-2.0 * a * ax)) / denom

    def gap(theta, xp):
        # 1 - sinh(a xi)/sinh a = 2 cosh(p) sinh(q) / sinh(a), p = a cos^2(theta/2), q = a sin^2(theta/2), p + q = a
        p, q = a * xp.cos(theta / 2) ** 2, a * xp.sin(theta / 2) ** 2
        return (1.0 + xp.exp(-2.0 * p)) * (-xp.expm1(-2.0 * q)) / denom

    return NormalizedDual(
        name=f"sine_{a:g}",
        value=value,
        derivative=derivative,
        at_zero=0.0,
        slope_at_zero=2.0 * a * math.exp(-a) / denom,  # a / sinh a
        slope_at_one=a * (1.0 + math.exp(-2.0 * a)) / denom,  # a coth a
        gap=gap,
        cogap=_odd_cogap(gap),
        odd=True,
    )


def polynomial_dual(coefficients, *, name: str | None = None, normalize: bool = False) -> NormalizedDual:
    """phĭ(xi) = sum_i c_i xi^i for non-negative c_i = a_i^2 (Hermite coefficients squared).

    ``normalize=True`` divides by sum c_i (the activation rescaled to unit second moment); otherwise
    sum c_i must be 1 to within 1e-12.
    """
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"coefficients must be a non-empty 1-D sequence, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("coefficients must be finite and >= 0 (they are squared Hermite coefficients a_i^2)")
    total = float(c.sum())
    if total <= 0:
        raise ValueError("coefficients must not all be zero")
    if normalize:
        c = c / total
    elif abs(total - 1.0) > 1e-12:
        raise ValueError(f"coefficients must sum to 1 (phĭ(1) = 1), got sum {total!r}; pass normalize=True")
    c = np.trim_zeros(c, "b")
    deriv = c[1:] * np.arange(1, c.size)
    coeffs = tuple(float(v) for v in c)
    dcoeffs = tuple(float(v) for v in deriv)

    # Taylor coefficients at xi = +1 and -1, so that values next to the ends are sums of powers of
    # 1 - xi = 2 sin^2(theta/2) and 1 + xi = 2 cos^2(theta/2) (full relative accuracy, double roots included)
    n = len(coeffs)
    at_plus = [math.fsum(coeffs[i] * math.comb(i, j) for i in range(j, n)) for j in range(n)]
    at_minus = [math.fsum(coeffs[i] * math.comb(i, j) * (-1.0) ** (i - j) for i in range(j, n)) for j in range(n)]
    gap_terms = tuple([0.0] + [at_plus[j] * (-1.0) ** (j + 1) for j in range(1, n)])  # 1 - p = sum t_j (1 - xi)^j
    value_minus = _horner(tuple(at_minus))
    # 1 -+ p in powers of 1 + xi, the constant 1 -+ p(-1) formed first (exact where it is small: p(-1) = +-1)
    gap_minus = _horner((1.0 - at_minus[0],) + tuple(-t for t in at_minus[1:]))
    cogap_minus = _horner((1.0 + at_minus[0],) + tuple(at_minus[1:]))

    def far_value(theta, xp):  # p(cos theta) for theta > pi/2, in powers of 1 + xi = 2 sin^2((pi - theta)/2)
        return value_minus(2.0 * xp.sin((math.pi - theta) / 2) ** 2, xp)

    def gap(theta, xp):
        near = _horner(gap_terms)(2.0 * xp.sin(theta / 2) ** 2, xp)
        return xp.where(theta <= math.pi / 2, near, gap_minus(2.0 * xp.sin((math.pi - theta) / 2) ** 2, xp))

    def cogap(theta, xp):
        far = cogap_minus(2.0 * xp.sin((math.pi - theta) / 2) ** 2, xp)
        return xp.where(theta <= math.pi / 2, 2.0 - gap(theta, xp), far)

    def value_at_angle(theta, xp):
        return xp.where(theta <= math.pi / 2, 1.0 - gap(theta, xp), far_value(theta, xp))

    # p'(xi) for theta > pi/2 in powers of 1 + xi (p' may vanish at -1: a double root, as for 5d_opt)
    slope_minus = _horner(tuple((j + 1) * at_minus[j + 1] for j in range(n - 1)))

    def slope_at_angle(theta, xp):
        direct = _horner(dcoeffs)(xp.cos(theta), xp)
        return xp.where(theta <= math.pi / 2, direct, slope_minus(2.0 * xp.sin((math.pi - theta) / 2) ** 2, xp))

    odd = all(c == 0.0 for c in coeffs[0::2])
    return NormalizedDual(
        name=name or "poly(" + ", ".join(f"{v:.6g}" for v in coeffs) + ")",
        value=_horner(coeffs),
        derivative=_horner(dcoeffs),
        at_zero=coeffs[0],
        slope_at_zero=coeffs[1] if len(coeffs) > 1 else 0.0,
        slope_at_one=float(deriv.sum()),
        coefficients=coeffs,
        gap=gap,
        cogap=_odd_cogap(gap) if odd else cogap,
        value_at_angle=value_at_angle,
        slope_at_angle=slope_at_angle if dcoeffs else None,
        odd=odd,
    )


def _horner(cs):
    def evaluate(xi, xp):
        out = xp.zeros_like(xi) + cs[-1] if cs else xp.zeros_like(xi)
        for coef in cs[-2::-1]:
            out = out * xi + coef
        return out

    return evaluate


def hermite_coefficients(activation: Callable, degree: int, *, quadrature_points: int = 400) -> np.ndarray:
    """a_i = E[phi(z) He_i(z)] / sqrt(i!), z ~ N(0, 1), for i = 0..degree (Gauss-Hermite quadrature).

    ``activation`` maps a NumPy array to a NumPy array.  Exact for polynomials of degree below
    2 * quadrature_points - degree; for kinks (ReLU) the error decays algebraically in the node count.
    """
    degree = check_positive_int(degree, "degree", minimum=0)
    quadrature_points = check_positive_int(quadrature_points, "quadrature_points", minimum=degree + 1)
    from scipy.special import roots_hermitenorm  # stable for many nodes (asymptotic rule above 150)

    nodes, weights = roots_hermitenorm(quadrature_points)
    weights = weights / math.sqrt(2.0 * math.pi)
    values = np.asarray(activation(nodes), dtype=np.float64)
    if values.shape != nodes.shape or not np.all(np.isfinite(values)):
        raise ValueError("activation must map an array to a finite array of the same shape")
    out = np.empty(degree + 1)
    # normalised Hermite functions h_i = He_i / sqrt(i!) by their three-term recursion (no overflow)
    h_prev, h = np.zeros_like(nodes), np.ones_like(nodes)
    weighted = weights * values
    for i in range(degree + 1):
        out[i] = float(np.sum(weighted * h))
        h_prev, h = h, (nodes * h - math.sqrt(i) * h_prev) / math.sqrt(i + 1)
    return out


def dual_from_hermite(a, *, normalize: bool = True, name: str | None = None) -> NormalizedDual:
    """phĭ(xi) = sum_i a_i^2 xi^i / sum_i a_i^2 from Hermite coefficients a_i (see :func:`hermite_coefficients`)."""
    a = np.asarray(a, dtype=np.float64)
    return polynomial_dual(a * a, normalize=normalize, name=name)


_POLY_DUALS = {
    "2d_opt": (0.0, 0.5, 0, 0, 0, 0, 0, 0.5),
    "3d_opt": (0.0, 0.5, 0.0, 0.5),
    "5d_opt": (0.0, 0.25, 0.5, 0.25),
    "9d_opt": (0.0, 1 / 16, 7 / 8, 1 / 16),
}
DUAL_NAMES = ("relu", "erf", "sine_<a>", "hermite_<k>", *_POLY_DUALS)


def get_dual(dual, *, derivative: Callable | None = None) -> NormalizedDual:
    """Resolve ``dual``: a :class:`NormalizedDual`, a name (see ``DUAL_NAMES``; e.g. ``"sine_2.676"``,
    ``"hermite_2"``), or a callable phĭ on arrays (then ``derivative`` is phĭ', needed for the NTK)."""
    if isinstance(dual, NormalizedDual):
        return dual
    if isinstance(dual, str):
        key = dual.strip().lower()
        if key == "relu":
            return abrelu_dual(0.0, 1.0)
        if key == "erf":
            return NormalizedDual(
                "erf", _erf_value, _erf_derivative, 0.0, 2.0 / (3.0 * _ASIN_TWO_THIRDS),
                2.0 / (math.sqrt(5.0) * _ASIN_TWO_THIRDS), gap=_erf_gap, cogap=_odd_cogap(_erf_gap), odd=True,
            )
        if key in _POLY_DUALS:
            return polynomial_dual(_POLY_DUALS[key], name=key)
        match = re.fullmatch(r"sine_([0-9.eE+-]+)", key)
        if match:
            return sine_dual(float(match.group(1)))
        match = re.fullmatch(r"hermite_([0-9]+)", key)
        if match:
            k = int(match.group(1))
            return polynomial_dual([0.0] * k + [1.0], name=f"hermite_{k}")
        raise ValueError(f"dual must be one of {DUAL_NAMES} or a callable, got {dual!r}")
    if callable(dual):
        f0 = float(to_numpy(dual(np.zeros(1)))[0])
        f1 = float(to_numpy(dual(np.ones(1)))[0])
        if abs(f1 - 1.0) > 1e-12:
            raise ValueError(f"dual must be normalised, phĭ(1) = 1, got phĭ(1) = {f1!r}")
        d0 = d1 = math.nan
        wrapped_derivative = None
        if derivative is not None:
            d0 = float(to_numpy(derivative(np.zeros(1)))[0])
            d1 = float(to_numpy(derivative(np.ones(1)))[0])
            wrapped_derivative = lambda xi, xp: derivative(xi)  # noqa: E731
        return NormalizedDual(
            getattr(dual, "__name__", "callable"), lambda xi, xp: dual(xi), wrapped_derivative, f0, d0, d1
        )
    raise TypeError(f"dual must be a name, a NormalizedDual or a callable, got {type(dual).__name__}")


# --- regimes and exponents ---------------------------------------------------------------------


def regime(dual) -> str:
    """``"majority_vote"`` (phĭ(0) > 0), ``"one_nn"`` (phĭ(0) = phĭ'(0) = 0), ``"singular"``
    (phĭ(0) = 0 < phĭ'(0) < 1), or ``"linear"`` (phĭ(xi) = xi: depth changes nothing)."""
    d = get_dual(dual)
    if d.at_zero > REGIME_ATOL:
        return "majority_vote"
    if math.isnan(d.slope_at_zero):
        raise ValueError(f"dual {d.name!r}: the regime needs phĭ'(0); pass its derivative")
    if d.slope_at_zero <= REGIME_ATOL:
        return "one_nn"
    if d.slope_at_zero < 1.0 - REGIME_ATOL:
        return "singular"
    return "linear"


def beta_exponent(dual) -> float:
    """beta = ln(1/phĭ'(0)) / ln phĭ'(1): the singular kernel's exponent h(xi) ~ (1 - xi)^(-beta).

    inf in the 1-NN regime (phĭ'(0) = 0); a ValueError in the majority-vote and linear regimes,
    where no singular kernel exists.
    """
    d = get_dual(dual)
    kind = regime(d)
    if kind == "one_nn":
        return math.inf
    if kind != "singular":
        raise ValueError(f"beta is defined for the singular and 1-NN regimes; dual {d.name!r} is {kind!r}")
    return math.log(1.0 / d.slope_at_zero) / math.log(d.slope_at_one)


def sine_beta(a: float) -> float:
    """beta(a) = ln(sinh(a)/a) / ln(a coth a) for the sine_a dual, without overflow for large a."""
    a = float(a)
    if not a > 0:
        raise ValueError(f"a must lie in (0, inf), got {a!r}")
    if a < 1e-2:  # series: ln(sinh a / a) = a^2/6 - a^4/180, ln(a coth a) = a^2/3 - 7a^4/90
        return (1 / 6 - a * a / 180) / (1 / 3 - 7 * a * a / 90)
    log_sinh_over_a = a + math.log1p(-math.exp(-2 * a)) - math.log(2 * a)
    log_a_coth = math.log(a) + math.log1p(math.exp(-2 * a)) - math.log1p(-math.exp(-2 * a))
    return log_sinh_over_a / log_a_coth


def sine_parameter_for_dimension(d: int, *, xtol: float = 1e-14) -> float:
    """The a > 0 with beta(a) = (d - 1)/2 (brentq): sine_a is then consistent on S^(d-1), d >= 3.

    beta(a) increases from 1/2 (a -> 0) to infinity, so d = 2 has no finite solution.
    """
    from scipy.optimize import brentq

    d = check_positive_int(d, "d", minimum=3)
    target = (d - 1) / 2
    hi = 1.0
    while sine_beta(hi) < target:
        hi *= 2.0
    return float(brentq(lambda a: sine_beta(a) - target, 1e-3, hi, xtol=xtol, rtol=4 * np.finfo(float).eps))


def consistent_dual(d: int, *, family: str = "d_opt") -> NormalizedDual:
    """A dual with beta = (d - 1)/2: ``family="d_opt"`` (the paper's polynomials, d in 2, 3, 5, 9) or
    ``family="sine"`` (sine_a with a from :func:`sine_parameter_for_dimension`, any d >= 3)."""
    if family == "d_opt":
        key = f"{int(d)}d_opt"
        if key not in _POLY_DUALS:
            raise ValueError(f"d must be one of 2, 3, 5, 9 for family 'd_opt', got {d!r}; use family='sine'")
        return get_dual(key)
    if family == "sine":
        return sine_dual(sine_parameter_for_dimension(d))
    raise ValueError(f"family must be 'd_opt' or 'sine', got {family!r}")
