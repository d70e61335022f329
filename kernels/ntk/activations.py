"""Activations with their dual kernels (T, Tdot) for the NNGP/NTK recursions.

Paper: Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for
classification" (PNAS 2023; arXiv 2204.14126); the kernels are those of neural-tangents (Novak et al.,
ICLR 2020; arXiv 1912.02803), the oracle of the tests.

For centred Gaussian pre-activations ``(u, v)`` with variances ``q11, q22`` and covariance ``q12``
an activation ``phi`` acts on the kernels through

    T(q11, q22, q12)    = E[phi(u) phi(v)]      (new NNGP entry)
    Tdot(q11, q22, q12) = E[phi'(u) phi'(v)]    (factor multiplying the NTK)

with ``theta = arctan2(sqrt(q11 q22 - q12^2), q12)`` and ``qbar = (q11 + q22) / 2``:

* ABRelu(a, b), ``phi = a min(x, 0) + b max(x, 0)``:
  ``Tdot = (a^2 + b^2)/2 - (a - b)^2 theta / (2 pi)``,
  ``T = (a - b)^2 / (2 pi) sqrt(q11 q22 - q12^2) + Tdot q12``
  (Relu = ABRelu(0, 1), LeakyRelu(alpha) = ABRelu(alpha, 1), Abs = ABRelu(-1, 1)).
* Erf(a, b, c), ``phi = a erf(b x) + c``: with ``P = (1 + 2 b^2 q11)(1 + 2 b^2 q22)``,
  ``T = a^2 (2/pi) arctan2(2 b^2 q12, sqrt(P - 4 b^4 q12^2)) + c^2``,
  ``Tdot = a^2 b^2 (4/pi) (P - 4 b^4 q12^2)^(-1/2)``.
* Sin(a, b, c), ``phi = a sin(b x + c)`` (Cos(a, b, c) = Sin(a, b, c + pi/2)):
  ``T = a^2/2 (exp(b^2 (q12 - qbar)) - exp(-b^2 (q12 + qbar)) cos 2c)``,
  ``Tdot = a^2 b^2/2 (exp(b^2 (q12 - qbar)) + exp(-b^2 (q12 + qbar)) cos 2c)``.
* Rbf(gamma), ``phi = sqrt(2) sin(sqrt(2 gamma) x + pi/4)``: ``T = exp(-gamma (q11 + q22 - 2 q12))``,
  ``Tdot = 2 gamma T``.
* Sign: ``T = 1 - 2 theta / pi`` (0 where a variance is 0); ``Tdot = 0`` (the derivative vanishes
  almost everywhere, so the NTK receives no contribution through the layer).
* Gelu, ``phi = x Phi(x)`` (Tsuchida, Pearce, van der Heide, Roosta, Gallagher, "Avoiding kernel
  fixed points: computing with ELU and GELU infinite networks", AAAI 2021; arXiv 2002.08517):
  with ``P = q11 q22``, ``P1 = (1 + q11)(1 + q22)``, ``D = sqrt(P1 - q12^2)``, ``A = arctan2(q12, D)``,
  ``T = q12/4 + (q12 A + (q12^2 + P D^2) / (P1 D)) / (2 pi)`` and, by Price's theorem
  ``Tdot = dT/dq12 = 1/4 + A/(2 pi) + q12 (1/D^2 + (1 - P)/P1 + 1) / (2 pi D)``.
* Hermite(k), ``phi = He_k(x) / sqrt(k!)`` (probabilists' Hermite polynomial): for unit variances
  ``T = q12^k`` and ``Tdot = k q12^(k-1)``; neural-tangents applies these formulas for any variance,
  and so does this module (documented assumption of unit-variance pre-activations).
* Polynomial(c), ``phi = sum_i c_i x^i``: by Isserlis' theorem
  ``T = sum_m q12^m / m! a_m(q11) a_m(q22)`` with ``a_m(q) = E[phi^(m)(u)], u ~ N(0, q)``
  ``= sum_{i >= m, i - m even} c_i i!/(i-m)! (i-m-1)!! q^((i-m)/2)``; Tdot is the same with ``phi'``.
* Any callable: 2-D Gauss-Hermite quadrature of degree ``degree`` with
  ``u = sqrt(q11) z1``, ``v = q12/sqrt(q11) z1 + sqrt(q22 - q12^2/q11) z2``.

Every activation follows one recipe: ``kernel(q11, q22, q12, xp) -> (T, Tdot)`` on broadcastable
arrays of one array-API namespace; ``fn`` and ``derivative`` evaluate ``phi`` and ``phi'``.  Batching,
blocking and the layer loop live in :mod:`kernels.ntk.fc`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernels.backend import array_namespace, special
from kernels.numerics import angle, angle_from_gaps, asin_difference, safe_sqrt, sin_minus_theta_cos

__all__ = [
    "Activation",
    "ABRelu",
    "Relu",
    "LeakyRelu",
    "Abs",
    "Erf",
    "Sign",
    "Gelu",
    "Sin",
    "Cos",
    "Rbf",
    "Hermite",
    "Polynomial",
    "Quadrature",
    "ACTIVATIONS",
    "get_activation",
    "gauss_hermite_kernel",
]

_TWO_PI = 2.0 * math.pi


def _angle_and_complement(root_det, t12, xp):
    """(theta, pi - theta) of a 2 x 2 covariance from sqrt(det) and the off-diagonal entry: arctan2(root_det, +-t12),
    each to the relative accuracy of root_det where it is small."""
    return xp.atan2(root_det, t12), xp.atan2(root_det, -t12)


class Activation:
    """Base class: an elementwise nonlinearity with its closed-form dual pair ``(T, Tdot)``.

    Subclasses implement :meth:`kernel`, :meth:`fn` and :meth:`derivative`.  ``homogeneous`` is True
    for positively homogeneous activations of degree one (``phi(c x) = c phi(x)`` for ``c > 0``),
    whose layer map depends only on the correlation; those also provide :meth:`normalized_dual`.
    """

    homogeneous = False

    def kernel(self, q11, q22, q12, xp=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def fn(self, x, xp=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x, xp=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.fn(x)

    def pair(self, q11, q22, theta, cos, t11, t22, xp=None, *, comp=None):
        """``(T12, Tdot, theta_T, pi - theta_T)`` for pre-activations of variances ``q11, q22`` at the angle ``theta``.

        ``cos`` is cos theta to full relative accuracy where it is small (the caller forms it from the covariance
        there), ``comp`` is pi - theta to full relative accuracy where theta > pi/2 (default ``math.pi - theta``),
        ``t11, t22`` are the diagonal values ``T(q, q, q)`` and ``theta_T`` the angle of the output
        covariance ``[[t11, T12], [T12, t22]]``, returned with its complement (each accurate where it is small,
        as far as the activation's form allows).  This generic form goes through ``q12 = sqrt(q11 q22) cos`` and
        the determinant ``t11 t22 - T12^2``; activations with a stable angle map (ABRelu, Erf, Sign) override it
        so that ``theta_T`` keeps its absolute accuracy next to 0 and pi.
        """
        xp = array_namespace(q11, q22, theta) if xp is None else xp
        t12, tdot = self.kernel(q11, q22, xp.sqrt(q11 * q22) * cos, xp)
        return (t12, tdot) + _angle_and_complement(xp.sqrt(xp.maximum(t11 * t22 - t12 * t12, 0.0)), t12, xp)


@dataclass(frozen=True)
class ABRelu(Activation):
    """``phi(x) = a min(x, 0) + b max(x, 0)``; positively homogeneous of degree one."""

    a: float
    b: float
    homogeneous = True

    @property
    def _diag(self):
        return (self.a * self.a + self.b * self.b) / 2.0

    @property
    def _kink(self):
        return (self.a - self.b) ** 2 / _TWO_PI

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        theta = angle(q11, q22, q12, xp)
        tdot = self._diag - self._kink * theta
        t = self._kink * safe_sqrt(q11 * q22 - q12 * q12, xp) + tdot * q12
        return t, tdot

    def pair(self, q11, q22, theta, cos, t11, t22, xp=None, *, comp=None):
        """Stable form: the output correlation depends on theta only, ``cos theta_T = cos theta + (m/pi) s(theta)``
        (m = (a - b)^2 / (a^2 + b^2), s = sin - theta cos), and theta_T and pi - theta_T come from the gaps
        1 -+ cos theta_T of :func:`kernels.ntk.duals.abrelu_dual`.  Above pi/2 everything is formed from
        delta = pi - theta (``comp`` when given): Tdot = a b + (a - b)^2 delta / (2 pi) and
        T12 = sqrt(q11 q22) ((a - b)^2 s(delta) / (2 pi) - a b cos delta), so that next to antipodal (ReLU:
        Tdot ~ delta, T12 ~ delta^3) both keep their relative accuracy."""
        from kernels.ntk.duals import abrelu_gaps

        xp = array_namespace(q11, q22, theta) if xp is None else xp
        comp = math.pi - theta if comp is None else comp
        root = xp.sqrt(q11 * q22)
        far = theta > math.pi / 2
        ab = self.a * self.b
        tdot = xp.where(far, ab + self._kink * comp, self._diag - self._kink * theta)
        t12 = root * xp.where(far, self._kink * sin_minus_theta_cos(comp, xp) - ab * xp.cos(comp),
                              self._kink * xp.sin(theta) + tdot * cos)
        gap, cogap = abrelu_gaps(self.a, self.b, theta, comp, xp)
        return t12, tdot, angle_from_gaps(gap, cogap, xp), angle_from_gaps(cogap, gap, xp)

    def normalized_dual(self, rho, xp=None):
        """Unit-variance dual divided by its value at 1: ``(T(1, 1, rho) / c, Tdot(1, 1, rho) / c)``,
        ``c = (a^2 + b^2) / 2``; ``rho`` in ``[-1, 1]``."""
        xp = array_namespace(rho) if xp is None else xp
        one = xp.ones_like(rho)
        t, tdot = self.kernel(one, one, rho, xp)
        return t / self._diag, tdot / self._diag

    @property
    def dual_scale(self):
        """``c = T(1, 1, 1) = (a^2 + b^2) / 2``, the variance gain of the layer."""
        return self._diag

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return self.a * xp.minimum(x, 0.0) + self.b * xp.maximum(x, 0.0)

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return xp.where(x > 0, xp.full_like(x, self.b), xp.full_like(x, self.a))


def Relu() -> ABRelu:
    """``max(x, 0)`` = ABRelu(0, 1)."""
    return ABRelu(0.0, 1.0)


def LeakyRelu(alpha: float = 0.01) -> ABRelu:
    """``max(x, alpha x)`` for ``x`` of either sign = ABRelu(alpha, 1)."""
    return ABRelu(float(alpha), 1.0)


def Abs() -> ABRelu:
    """``|x|`` = ABRelu(-1, 1)."""
    return ABRelu(-1.0, 1.0)


@dataclass(frozen=True)
class Erf(Activation):
    """``phi(x) = a erf(b x) + c``."""

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        b2 = self.b * self.b
        prod = (1.0 + 2.0 * b2 * q11) * (1.0 + 2.0 * b2 * q22)
        root = safe_sqrt(prod - 4.0 * b2 * b2 * q12 * q12, xp)
        a2 = self.a * self.a
        t = a2 * (2.0 / math.pi) * xp.atan2(2.0 * b2 * q12, root) + self.c * self.c
        tdot = a2 * b2 * (4.0 / math.pi) / root
        return t, tdot

    def pair(self, q11, q22, theta, cos, t11, t22, xp=None, *, comp=None):
        """Stable form.  With alpha_i = 2 b^2 q_ii / (1 + 2 b^2 q_ii), z = sqrt(alpha_1 alpha_2) cos theta and
        psi = arcsin: T12 = A psi(z) + c^2 (A = 2 a^2 / pi), T_ii = A psi(alpha_i) + c^2.  The gaps
        e_i = psi(alpha_i) - psi(z) (alpha_i^2 - z^2 = alpha_i (alpha_i - alpha_j) + alpha_1 alpha_2 sin^2 theta)
        give t11 t22 - T12^2 = A^2 (psi(z)(e_1 + e_2) + e_1 e_2) + A c^2 (e_1 + e_2) without cancellation;
        for c = 0 (odd) an angle above pi/2 is reflected to ``comp`` = pi - theta, T12(pi - theta) = -T12(theta),
        so that next to antipodal the output complement pi - theta_T keeps the relative accuracy of ``comp``.
        For q11 != q22 the radial part of the determinant (psi(alpha_1) psi(alpha_2) - psi(sqrt(alpha_1 alpha_2))^2)
        cancels: a small output angle then has relative error ~ eps / |q11 - q22| (absolute error a few ulps)."""
        xp = array_namespace(q11, q22, theta) if xp is None else xp
        comp = math.pi - theta if comp is None else comp
        flip = (theta > math.pi / 2) if self.c == 0.0 else None
        if flip is not None:
            theta, cos = xp.where(flip, comp, theta), xp.where(flip, -cos, cos)
        b2, big_a = self.b * self.b, 2.0 * self.a * self.a / math.pi
        beta1, beta2 = 1.0 / (1.0 + 2.0 * b2 * q11), 1.0 / (1.0 + 2.0 * b2 * q22)
        alpha1, alpha2 = 1.0 - beta1, 1.0 - beta2
        sin2 = xp.sin(theta) ** 2
        z = xp.sqrt(alpha1 * alpha2) * cos
        root_z = xp.sqrt((beta1 + beta2 - beta1 * beta2) + alpha1 * alpha2 * sin2)  # sqrt(1 - z^2)
        psi_z = xp.asin(z)
        d12 = 2.0 * b2 * (q11 - q22) * beta1 * beta2  # alpha_1 - alpha_2
        gaps = []
        for alpha, beta, diff in ((alpha1, beta1, d12), (alpha2, beta2, -d12)):
            root_alpha = xp.sqrt(beta * (1.0 + alpha))
            gaps.append(asin_difference(alpha, z, root_alpha, root_z, alpha * diff + alpha1 * alpha2 * sin2, xp))
        e1, e2 = gaps
        det = big_a * big_a * (psi_z * (e1 + e2) + e1 * e2) + big_a * self.c * self.c * (e1 + e2)
        t12 = big_a * psi_z + self.c * self.c
        tdot = self.a * self.a * b2 * (4.0 / math.pi) * beta1 * beta2 / (xp.sqrt(beta1 * beta2) * root_z)
        if flip is not None:
            t12 = xp.where(flip, -t12, t12)
        return (t12, tdot) + _angle_and_complement(xp.sqrt(xp.maximum(det, 0.0)), t12, xp)

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return self.a * special(xp).erf(self.b * x) + self.c

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return (self.a * self.b * 2.0 / math.sqrt(math.pi)) * xp.exp(-(self.b * self.b) * x * x)


@dataclass(frozen=True)
class Sign(Activation):
    """``phi(x) = sign(x)``; ``Tdot = 0`` (no NTK contribution through the layer)."""

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        theta = angle(q11, q22, q12, xp, zero_variance=math.pi / 2)
        t = 1.0 - theta * (2.0 / math.pi)
        return t, xp.zeros_like(t)

    def pair(self, q11, q22, theta, cos, t11, t22, xp=None, *, comp=None):
        """Stable form: unit output variances and correlation 1 - 2 theta / pi, so 1 -+ cos theta_T are
        2 theta / pi and 2 (pi - theta) / pi (``comp`` for pi - theta when given)."""
        xp = array_namespace(q11, q22, theta) if xp is None else xp
        comp = math.pi - theta if comp is None else comp
        positive = (q11 > 0) & (q22 > 0)
        theta = xp.where(positive, theta, math.pi / 2)
        comp = xp.where(positive, comp, math.pi / 2)
        t12 = 1.0 - theta * (2.0 / math.pi)
        gap, cogap = theta * (2.0 / math.pi), comp * (2.0 / math.pi)
        return t12, xp.zeros_like(t12), angle_from_gaps(gap, cogap, xp), angle_from_gaps(cogap, gap, xp)

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return xp.sign(x)

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return xp.zeros_like(x)


@dataclass(frozen=True)
class Gelu(Activation):
    """``phi(x) = x Phi(x)`` with ``Phi`` the standard normal CDF (the exact, not tanh, Gelu)."""

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        prod = q11 * q22
        prod1 = (1.0 + q11) * (1.0 + q22)
        d2 = xp.maximum(prod1 - q12 * q12, 0.0)
        d = xp.sqrt(d2)
        a = xp.atan2(q12, d)
        t = q12 / 4.0 + (q12 * a + (q12 * q12 + prod * d2) / (prod1 * d)) / _TWO_PI
        tdot = 0.25 + a / _TWO_PI + q12 * (1.0 / d2 + (1.0 - prod) / prod1 + 1.0) / (_TWO_PI * d)
        return t, tdot

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return x * (0.5 * (1.0 + special(xp).erf(x / math.sqrt(2.0))))

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        cdf = 0.5 * (1.0 + special(xp).erf(x / math.sqrt(2.0)))
        return cdf + x * xp.exp(-0.5 * x * x) / math.sqrt(_TWO_PI)


@dataclass(frozen=True)
class Sin(Activation):
    """``phi(x) = a sin(b x + c)``."""

    a: float = 1.0
    b: float = 1.0
    c: float = 0.0

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        b2 = self.b * self.b
        qbar = (q11 + q22) / 2.0
        same = xp.exp(b2 * (q12 - qbar))
        opposite = xp.exp(-b2 * (q12 + qbar)) * math.cos(2.0 * self.c)
        a2 = self.a * self.a
        return (a2 / 2.0) * (same - opposite), (a2 * b2 / 2.0) * (same + opposite)

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return self.a * xp.sin(self.b * x + self.c)

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return (self.a * self.b) * xp.cos(self.b * x + self.c)


def Cos(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Sin:
    """``a cos(b x + c)`` = Sin(a, b, c + pi/2)."""
    return Sin(float(a), float(b), float(c) + math.pi / 2)


@dataclass(frozen=True)
class Rbf(Activation):
    """``phi(x) = sqrt(2) sin(sqrt(2 gamma) x + pi/4)``, whose NNGP layer is the RBF kernel
    ``exp(-gamma (q11 + q22 - 2 q12))``."""

    gamma: float = 1.0

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        t = xp.exp(-self.gamma * (q11 + q22 - 2.0 * q12))
        return t, (2.0 * self.gamma) * t

    def fn(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        return math.sqrt(2.0) * xp.sin(math.sqrt(2.0 * self.gamma) * x + math.pi / 4)

    def derivative(self, x, xp=None):
        xp = array_namespace(x) if xp is None else xp
        w = math.sqrt(2.0 * self.gamma)
        return (math.sqrt(2.0) * w) * xp.cos(w * x + math.pi / 4)


def _hermite_e_coefficients(k: int) -> np.ndarray:
    """Monomial coefficients (ascending) of ``He_k(x) / sqrt(k!)``."""
    basis = np.zeros(k + 1)
    basis[k] = 1.0
    return np.polynomial.hermite_e.herme2poly(basis) / math.sqrt(math.factorial(k))


def _horner(coefficients, x):
    out = 0.0 * x + float(coefficients[-1])
    for c in coefficients[-2::-1]:
        out = out * x + float(c)
    return out


@dataclass(frozen=True)
class Hermite(Activation):
    """``phi(x) = He_k(x) / sqrt(k!)``; dual ``T = q12^k`` (exact for unit-variance pre-activations)."""

    degree: int

    def __post_init__(self):
        if isinstance(self.degree, bool) or int(self.degree) != self.degree or self.degree < 0:
            raise ValueError(f"degree must be an integer >= 0, got {self.degree!r}")

    def kernel(self, q11, q22, q12, xp=None):
        xp = array_namespace(q11, q22, q12) if xp is None else xp
        k = int(self.degree)
        if k == 0:
            return xp.ones_like(q12), xp.zeros_like(q12)
        return q12**k, k * q12 ** (k - 1)

    def fn(self, x, xp=None):
        return _horner(_hermite_e_coefficients(int(self.degree)), x)

    def derivative(self, x, xp=None):
        k = int(self.degree)
        if k == 0:
            return 0.0 * x
        # d/dx He_k = k He_{k-1}
        return math.sqrt(k) * _horner(_hermite_e_coefficients(k - 1), x)


def _gaussian_derivative_moments(coefficients):
    """Table ``A[m, p]`` with ``E[phi^(m)(u)] = sum_p A[m, p] q^p`` for ``u ~ N(0, q)``,
    ``phi = sum_i c_i x^i``: ``A[m, (i-m)/2] = c_i i!/(i-m)! (i-m-1)!!``."""
    n = len(coefficients)
    table = np.zeros((n, n // 2 + 1))
    for m in range(n):
        for i in range(m, n, 2):
            p = (i - m) // 2
            double_factorial = math.prod(range(i - m - 1, 0, -2))
            table[m, p] = coefficients[i] * math.perm(i, m) * double_factorial
    return table


@dataclass(frozen=True)
class Polynomial(Activation):
    """``phi(x) = sum_i coefficients[i] x^i`` (ascending powers, numpy.polynomial convention)."""

    coefficients: tuple = field(default=(0.0, 1.0))

    def __post_init__(self):
        coefficients = tuple(float(c) for c in np.atleast_1d(np.asarray(self.coefficients, dtype=float)))
        if not coefficients or not all(math.isfinite(c) for c in coefficients):
            raise ValueError(f"coefficients must be a non-empty sequence of finite numbers, got {self.coefficients!r}")
        object.__setattr__(self, "coefficients", coefficients)

    @staticmethod
    def _isserlis(coefficients, q11, q22, q12):
        table = _gaussian_derivative_moments(coefficients)
        total = 0.0 * q12
        q12_power = 1.0 + 0.0 * q12
        for m in range(table.shape[0]):
            if np.any(table[m]):
                total = total + (q12_power / math.factorial(m)) * _horner(table[m], q11) * _horner(table[m], q22)
            q12_power = q12_power * q12
        return total

    def kernel(self, q11, q22, q12, xp=None):
        c = self.coefficients
        dc = tuple(i * c[i] for i in range(1, len(c))) or (0.0,)
        return self._isserlis(c, q11, q22, q12), self._isserlis(dc, q11, q22, q12)

    def fn(self, x, xp=None):
        return _horner(self.coefficients, x)

    def derivative(self, x, xp=None):
        c = self.coefficients
        return _horner(tuple(i * c[i] for i in range(1, len(c))) or (0.0,), x)


def _numerical_derivative(fn, x):
    """Five-point central difference; step ``1e-3 (1 + |x|)`` balances truncation and round-off
    (error ~1e-12 relative for smooth ``fn``)."""
    xp = array_namespace(x)
    h = 1e-3 * (1.0 + xp.abs(x))
    return (8.0 * (fn(x + h) - fn(x - h)) - (fn(x + 2.0 * h) - fn(x - 2.0 * h))) / (12.0 * h)


def gauss_hermite_kernel(fn, derivative, q11, q22, q12, degree=25, xp=None):
    """``(E[fn(u) fn(v)], E[derivative(u) derivative(v)])`` by 2-D Gauss-Hermite quadrature.

    ``u = sqrt(q11) z1``, ``v = r z1 + s z2`` with ``r = q12 / sqrt(q11)``, ``s = sqrt(q22 - r^2)``
    and ``z1, z2`` independent standard normal; exact for polynomials of degree ``< 2 degree``.
    Cost and memory scale as ``degree^2`` and ``degree`` per entry.
    """
    xp = array_namespace(q11, q22, q12) if xp is None else xp
    q11, q22, q12 = xp.broadcast_arrays(q11, q22, q12)
    nodes, weights = np.polynomial.hermite_e.hermegauss(int(degree))
    weights = weights / math.sqrt(_TWO_PI)
    positive = q11 > 0
    sd1 = xp.sqrt(xp.maximum(q11, 0.0))
    r = xp.where(positive, q12 / xp.where(positive, sd1, xp.ones_like(sd1)), xp.zeros_like(q12))
    s = safe_sqrt(q22 - r * r, xp)
    z = xp.asarray(nodes, dtype=q12.dtype, device=getattr(q12, "device", None))
    w = xp.asarray(weights, dtype=q12.dtype, device=getattr(q12, "device", None))
    r, s = r[..., None], s[..., None]
    t = xp.zeros_like(q12)
    tdot = xp.zeros_like(q12)
    for zi, wi in zip(nodes.tolist(), weights.tolist()):
        u = sd1 * zi
        v = r * zi + s * z
        t = t + wi * fn(u) * xp.sum(fn(v) * w, axis=-1)
        tdot = tdot + wi * derivative(u) * xp.sum(derivative(v) * w, axis=-1)
    return t, tdot


@dataclass(frozen=True, eq=False)
class Quadrature(Activation):
    """Any elementwise ``fn`` (a callable on arrays), its dual by 2-D Gauss-Hermite quadrature.

    ``derivative`` defaults to a five-point finite difference of ``fn``.  ``degree`` 25 suits smooth
    activations (error ~1e-10 or better); kinks converge slowly (use a closed form instead).
    """

    function: Callable
    derivative_function: Callable | None = None
    degree: int = 25

    def __post_init__(self):
        if not callable(self.function):
            raise TypeError(f"function must be callable, got {self.function!r}")
        if isinstance(self.degree, bool) or int(self.degree) != self.degree or self.degree < 1:
            raise ValueError(f"degree must be an integer >= 1, got {self.degree!r}")

    def kernel(self, q11, q22, q12, xp=None):
        return gauss_hermite_kernel(self.fn, self.derivative, q11, q22, q12, self.degree, xp)

    def fn(self, x, xp=None):
        return self.function(x)

    def derivative(self, x, xp=None):
        if self.derivative_function is not None:
            return self.derivative_function(x)
        return _numerical_derivative(self.function, x)


ACTIVATIONS: dict[str, Callable[..., Activation]] = {
    "ab_relu": ABRelu,
    "relu": Relu,
    "leaky_relu": LeakyRelu,
    "abs": Abs,
    "erf": Erf,
    "sign": Sign,
    "gelu": Gelu,
    "sin": Sin,
    "cos": Cos,
    "rbf": Rbf,
    "hermite": Hermite,
    "polynomial": Polynomial,
    "quadrature": Quadrature,
}


def get_activation(spec, **params) -> Activation:
    """An :class:`Activation` from a name in :data:`ACTIVATIONS` (``params`` go to its constructor),
    an :class:`Activation` (returned as is) or any callable (wrapped in :class:`Quadrature`)."""
    if isinstance(spec, Activation):
        if params:
            raise TypeError(f"parameters {sorted(params)} given with an activation object {spec!r}")
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {spec!r}")
        try:
            return ACTIVATIONS[key](**params)
        except TypeError as err:
            raise TypeError(f"activation {spec!r}: {err}") from None
    if callable(spec):
        return Quadrature(spec, **params)
    raise TypeError(f"activation must be a name, an Activation or a callable, got {spec!r}")
