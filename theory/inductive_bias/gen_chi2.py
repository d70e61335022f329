"""The generalised chi-squared distribution: exact CDF by Imhof's integral, saddle-point lower tail.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).  For a noise-free GP-posterior
interpolant and squared loss the test loss is a quadratic form in a Gaussian vector,

    Q = offset + sum_j w_j chi'^2(k_j, delta_j),      w_j > 0,                                (1)

a sum of scaled non-central chi-squared variables with k_j degrees of freedom and non-centrality
delta_j (for one degree of freedom, w_j (z_j + b_j)^2 with delta_j = b_j^2).  The inductive bias at
test-loss level eps is I(eps) = -log2 P(Q <= eps) bits, so everything reduces to the lower CDF of (1).

Characteristic function (with x_j = 1 - 2 i w_j t):

    log phi(t) = sum_j [ -(k_j / 2) log x_j + i delta_j w_j t / x_j ].                         (2)

Gil-Pelaez / Imhof (1961) inversion, used for every probability that is not tiny:

    P(Q <= x) = 1/2 - (1/pi) int_0^inf Im[ exp(-i t (x - offset)) phi(t) ] / t dt.             (3)

Error control, stated and returned: the integral is cut at U where Imhof's truncation bound

    T(U) = (2 / (pi K)) prod_j (2 w_j U)^(-k_j/2) exp(-(1/2) sum_j delta_j 4 w_j^2 U^2 / (1 + 4 w_j^2 U^2)),
    K = sum_j k_j,                                                                              (4)

(|phi(t)| <= prod_j (2 w_j t)^(-k_j/2) times the non-centrality factor at U, integrated over t > U;
only terms with 2 w_j U > 1 are kept in the product, with K their degrees of freedom),

is below the target, and [0, U] is integrated piecewise by adaptive Gauss-Kronrod quadrature
(scipy.integrate.quad); the returned error bound is T(U) + (sum of quad's error estimates) / pi.
With few degrees of freedom (|phi| ~ t^(-K/2) decays slowly) U would be huge; then [U0, inf) is
integrated as two Fourier integrals by QUADPACK's QAWF and its error estimate is used instead of T.

Far lower tail: (3) is a difference of two numbers near 1/2 and cannot resolve probabilities
below its absolute error (about 1e-13).  There the Lugannani-Rice (1980) saddle-point formula is
used in log space.  With the cumulant generating function

    K(s) = sum_j [ -(k_j/2) log(1 - 2 w_j s) + delta_j w_j s / (1 - 2 w_j s) ],   s < 1/(2 max w),   (5)

the saddle point K'(s^) = x - offset, w^ = sign(s^) sqrt(2 (s^ (x - offset) - K(s^))) and
u^ = s^ sqrt(K''(s^)):

    log P(Q <= x) ~ log phi_N(w^) + log( Phi_N(w^) / phi_N(w^) + 1/w^ - 1/u^ ),                (6)

with Phi_N / phi_N = sqrt(pi/2) erfcx(-w^/sqrt 2) evaluated without underflow.  Below the smallest
attainable value (x <= offset) the probability is exactly 0 and the bias infinite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special

from kernels.validation import check_positive, check_positive_int

__all__ = ["GeneralizedChi2", "CDFResult", "BelowMinimumWarning"]

LN2 = math.log(2.0)
_QAWF_FROM = 32.0  # scaled t beyond which a slowly decaying tail is integrated by QAWF


class BelowMinimumWarning(RuntimeWarning):
    """eps is at or below the smallest attainable loss: the probability is 0 and the bias infinite."""


@dataclass(frozen=True)
class CDFResult:
    """log P(Q <= x) with how it was computed.

    ``method``: ``"imhof"`` (error bound ``abs_error`` on P, rigorous up to quad's estimate),
    ``"saddlepoint"`` (Lugannani-Rice; asymptotic, no bound: ``abs_error`` is NaN-free ``inf``),
    ``"below_minimum"`` (x <= offset: P = 0 exactly, log P = -inf), ``"degenerate"`` (no random part).
    """

    log_probability: float
    method: str
    abs_error: float

    @property
    def probability(self) -> float:
        return math.exp(self.log_probability)

    @property
    def bits(self) -> float:
        """-log2 P(Q <= x); ``inf`` when x is below the smallest attainable value."""
        return -self.log_probability / LN2

    @property
    def attainable(self) -> bool:
        return self.log_probability > -math.inf


def _as_vector(values, name, n=None):
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have the same length as weights ({n}), got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


class GeneralizedChi2:
    """Q = offset + sum_j w_j chi'^2(k_j, delta_j) with positive weights (equation (1)).

    Parameters
    ----------
    weights : positive weights w_j.
    dofs : degrees of freedom k_j > 0 (default 1 each).
    noncentralities : delta_j >= 0 (default 0 each).
    offset : constant added to the sum (the loss along directions with no posterior variance).
    tol : target absolute error of the Imhof CDF (truncation plus quadrature).
    """

    def __init__(self, weights, dofs=None, noncentralities=None, offset=0.0, *, tol=1e-13):
        w = _as_vector(weights, "weights")
        if w.size and np.any(w <= 0):
            raise ValueError(f"weights must all lie in (0, inf), got minimum {w.min()!r}")
        m = w.shape[0]
        k = np.ones(m) if dofs is None else _as_vector(dofs, "dofs", m)
        if np.any(k <= 0):
            raise ValueError(f"dofs must all lie in (0, inf), got minimum {k.min()!r}")
        d = np.zeros(m) if noncentralities is None else _as_vector(noncentralities, "noncentralities", m)
        if np.any(d < 0):
            raise ValueError(f"noncentralities must all lie in [0, inf), got minimum {d.min()!r}")
        if not math.isfinite(float(offset)):
            raise ValueError(f"offset must be finite, got {offset!r}")
        self.weights, self.dofs, self.noncentralities = w, k, d
        self.offset = float(offset)
        self.tol = check_positive(tol, "tol")
        # Work in units of the largest weight so that t is O(1) in the integrals.
        self._scale = float(w.max()) if m else 1.0
        self._w = w / self._scale

    # --- moments ------------------------------------------------------------------------------
    @property
    def n_terms(self) -> int:
        return int(self.weights.shape[0])

    @property
    def mean(self) -> float:
        return self.offset + float(np.sum(self.weights * (self.dofs + self.noncentralities)))

    @property
    def variance(self) -> float:
        return float(np.sum(2.0 * self.weights**2 * (self.dofs + 2.0 * self.noncentralities)))

    @property
    def minimum(self) -> float:
        """Smallest attainable value: Q > offset with probability one."""
        return self.offset

    # --- Imhof ---------------------------------------------------------------------------------
    def _log_phi(self, t):
        x = 1.0 - 2j * self._w * t
        return np.sum(-0.5 * self.dofs * np.log(x) + 1j * self.noncentralities * self._w * t / x)

    def _log_truncation_bound(self, u):
        # Equation (4) over the terms with 2 w_j U > 1 only (the others' factors are bounded by 1),
        # which stays tight when the weights span many orders of magnitude.
        w, k, d = self._w, self.dofs, self.noncentralities
        two_wu = 2.0 * w * u
        big = two_wu > 1.0
        if not np.any(big):
            return 0.0
        four_w2u2 = two_wu**2
        return (
            math.log(2.0 / (math.pi * float(np.sum(k[big]))))
            - float(np.sum(0.5 * k[big] * np.log(two_wu[big])))
            - 0.5 * float(np.sum(d * four_w2u2 / (1.0 + four_w2u2)))
        )

    def _cutoff(self, target):
        u = 1.0
        log_target = math.log(target)
        while self._log_truncation_bound(u) > log_target and u < 1e12:
            u *= 2.0
        while u > 1e-8 and self._log_truncation_bound(u / 2.0) <= log_target:
            u /= 2.0
        return u, math.exp(self._log_truncation_bound(u))

    def _pieces(self, u_max):
        # Geometric break points: the integrand varies on the scale 1/w_j of every weight.
        lo = max(u_max * 1e-6, 1e-3 / max(float(np.sum(self.dofs * self._w)), 1e-300))
        edges = [0.0]
        edge = min(lo, u_max)
        while edge < u_max:
            edges.append(edge)
            edge *= 4.0
        edges.append(u_max)
        return edges

    def imhof_cdf(self, x) -> tuple[float, float]:
        """P(Q <= x) by equation (3), and a bound on its absolute error (truncation (4) + quadrature)."""
        x = float(x)
        if self.n_terms == 0:
            return (1.0 if x >= self.offset else 0.0), 0.0
        y = (x - self.offset) / self._scale
        u_max, trunc = self._cutoff(self.tol / 4.0)
        tail_from = None
        if u_max > _QAWF_FROM and y > 0:
            # Slow algebraic decay (few degrees of freedom): integrate [U0, inf) as Fourier integrals
            # (QUADPACK QAWF) instead of truncating, using
            # Im[exp(-i t y) phi(t)] = Im phi(t) cos(t y) - Re phi(t) sin(t y).
            tail_from, u_max, trunc = _QAWF_FROM, _QAWF_FROM, 0.0

        def integrand(t):
            return float(np.imag(np.exp(self._log_phi(t) - 1j * t * y))) / t

        total = 0.0
        quad_err = 0.0
        edges = self._pieces(u_max)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
            for a, b in zip(edges[:-1], edges[1:]):
                val, err = scipy.integrate.quad(
                    integrand, a, b, epsabs=self.tol / (4.0 * len(edges)), epsrel=0.0, limit=400
                )
                total += val
                quad_err += err
            if tail_from is not None:
                for part, weight, sign in ((np.imag, "cos", 1.0), (np.real, "sin", -1.0)):
                    val, err = scipy.integrate.quad(
                        lambda t, part=part: float(part(np.exp(self._log_phi(t)))) / t,
                        tail_from, np.inf, weight=weight, wvar=y, epsabs=self.tol / 8.0, limlst=200,
                    )
                    total += sign * val
                    quad_err += err
        p = 0.5 - total / math.pi
        return min(max(p, 0.0), 1.0), trunc + quad_err / math.pi

    def pdf(self, x) -> float:
        """Density of Q at x by inversion: (1/pi) int_0^inf Re[exp(-i t (x - offset)) phi(t)] dt."""
        x = float(x)
        if self.n_terms == 0 or x <= self.offset:
            return 0.0
        y = (x - self.offset) / self._scale
        u_max, _ = self._cutoff(self.tol / 4.0)
        tail_from = None
        if u_max > _QAWF_FROM:
            # Re[exp(-i t y) phi(t)] = Re phi(t) cos(t y) + Im phi(t) sin(t y), tail by QAWF as in the CDF.
            tail_from = u_max = _QAWF_FROM
        total = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
            edges = self._pieces(u_max)
            for a, b in zip(edges[:-1], edges[1:]):
                val, _ = scipy.integrate.quad(
                    lambda t: float(np.real(np.exp(self._log_phi(t) - 1j * t * y))), a, b, epsabs=1e-12, limit=400
                )
                total += val
            if tail_from is not None:
                for part, weight in ((np.real, "cos"), (np.imag, "sin")):
                    val, _ = scipy.integrate.quad(
                        lambda t, part=part: float(part(np.exp(self._log_phi(t)))),
                        tail_from, np.inf, weight=weight, wvar=y, epsabs=1e-12, limlst=200,
                    )
                    total += val
        return max(total / math.pi, 0.0) / self._scale

    # --- saddle point --------------------------------------------------------------------------
    def _cgf(self, s):
        w, k, d = self._w, self.dofs, self.noncentralities
        a = 1.0 - 2.0 * w * s
        return float(np.sum(-0.5 * k * np.log(a) + d * w * s / a))

    def _cgf1(self, s):
        w, k, d = self._w, self.dofs, self.noncentralities
        a = 1.0 - 2.0 * w * s
        return float(np.sum(k * w / a + d * w / a**2))

    def _cgf2(self, s):
        w, k, d = self._w, self.dofs, self.noncentralities
        a = 1.0 - 2.0 * w * s
        return float(np.sum(2.0 * k * w**2 / a**2 + 4.0 * d * w**2 / a**3))

    def saddlepoint_logcdf(self, x) -> float:
        """log P(Q <= x) by the Lugannani-Rice formula (6), evaluated in log space."""
        x = float(x)
        if self.n_terms == 0:
            return 0.0 if x >= self.offset else -math.inf
        if x <= self.offset:
            return -math.inf
        y = (x - self.offset) / self._scale
        f = lambda s: self._cgf1(s) - y  # noqa: E731  (increasing on (-inf, 1/2))
        if f(0.0) > 0:
            lo = -1.0
            while f(lo) > 0:
                lo *= 2.0
            hi = 0.0
        else:
            lo, hi = 0.0, 0.25
            while f(hi) < 0:
                hi = 0.5 - (0.5 - hi) / 4.0
        s_hat = scipy.optimize.brentq(f, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
        two_delta = 2.0 * (s_hat * y - self._cgf(s_hat))
        w_hat = math.copysign(math.sqrt(max(two_delta, 0.0)), s_hat)
        u_hat = s_hat * math.sqrt(self._cgf2(s_hat))
        if abs(w_hat) < 1e-4:
            # Next to the mean (6) is 0/0; the Imhof integral is accurate there.
            p, _ = self.imhof_cdf(x)
            return math.log(p) if p > 0 else -math.inf
        mills = math.sqrt(math.pi / 2.0) * float(scipy.special.erfcx(-w_hat / math.sqrt(2.0)))
        bracket = mills + 1.0 / w_hat - 1.0 / u_hat
        log_phi_n = -0.5 * w_hat**2 - 0.5 * math.log(2.0 * math.pi)
        if bracket > 0:
            return min(log_phi_n + math.log(bracket), 0.0)
        # Barndorff-Nielsen's r* form, the same order of accuracy, when (6) loses its sign.
        r_star = w_hat + math.log(u_hat / w_hat) / w_hat
        return float(scipy.special.log_ndtr(r_star))

    # --- public CDF ----------------------------------------------------------------------------
    def log_cdf_result(self, x, method: str = "auto", rel_accuracy: float = 1e-4) -> CDFResult:
        """log P(Q <= x) with the method used.

        ``method="auto"``: Imhof when its error bound is below ``rel_accuracy`` times the
        probability, otherwise the saddle point (the far lower tail).  ``"imhof"`` or
        ``"saddlepoint"`` force one method.  For x <= offset the probability is exactly 0.
        """
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"x must be finite, got {x!r}")
        if method not in ("auto", "imhof", "saddlepoint"):
            raise ValueError(f"method must be 'auto', 'imhof' or 'saddlepoint', got {method!r}")
        if self.n_terms == 0 and x >= self.offset:
            return CDFResult(0.0, "degenerate", 0.0)  # Q = offset with probability one
        if x <= self.offset:
            return CDFResult(-math.inf, "below_minimum", 0.0)
        if method in ("auto", "imhof"):
            p, err = self.imhof_cdf(x)
            if method == "imhof" or (p > 0 and err <= rel_accuracy * p):
                return CDFResult(math.log(p) if p > 0 else -math.inf, "imhof", err)
        return CDFResult(self.saddlepoint_logcdf(x), "saddlepoint", math.inf)

    def logcdf(self, x, method: str = "auto") -> float:
        return self.log_cdf_result(x, method).log_probability

    def cdf(self, x, method: str = "auto") -> float:
        return math.exp(self.logcdf(x, method))

    def bits(self, eps, method: str = "auto") -> float:
        """I(eps) = -log2 P(Q <= eps); ``inf`` (with a BelowMinimumWarning) when eps <= offset."""
        check_positive(eps, "eps")
        result = self.log_cdf_result(eps, method)
        if not result.attainable:
            warnings.warn(
                f"eps={eps!r} is at or below the smallest attainable loss {self.offset!r}: "
                "P(loss <= eps) = 0 and the inductive bias is infinite",
                BelowMinimumWarning,
                stacklevel=2,
            )
        return result.bits + 0.0  # -0.0 -> 0.0

    # --- sampling ------------------------------------------------------------------------------
    def sample(self, n_samples, rng=None, *, batch_size=100_000) -> np.ndarray:
        """Draw Q by summing independent scaled non-central chi-squared variables (Monte Carlo)."""
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = np.random.default_rng(rng)
        out = np.empty(n_samples)
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            draws = rng.noncentral_chisquare(self.dofs, self.noncentralities, size=(stop - start, self.n_terms))
            out[start:stop] = self.offset + draws @ self.weights
        return out
