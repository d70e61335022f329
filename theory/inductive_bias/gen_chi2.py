"""The generalised chi-squared distribution with non-negative weights: CDF values that carry a bound.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).  For a noise-free GP-posterior
interpolant and squared loss the test loss is a quadratic form in a Gaussian vector,

    Q = offset + sum_j w_j chi'^2(k_j, delta_j),      w_j > 0,                                (1)

a sum of scaled non-central chi-squared variables with k_j degrees of freedom and non-centrality
delta_j.  The inductive bias at test-loss level eps is I(eps) = -log2 P(Q <= eps) bits, so everything
reduces to the lower CDF of (1), often far in the lower tail (P ~ 1e-30 and below).  With y = x - offset,
the cumulant generating function is

    K(s) = sum_j [ -(k_j/2) log(1 - 2 w_j s) + delta_j w_j s / (1 - 2 w_j s) ],   s < 1 / (2 max w).   (2)

Every value comes as a :class:`CDFResult` with a bound ``log_error`` on |log P_computed - log P|, from one
of four methods; ``method="auto"`` computes them in this order and keeps the one with the smallest bound:

1. ``"ruben"``: Ruben's (1962) series.  With beta = min w_j, a_j = w_j / beta, q_j = 1 - 1/a_j in [0, 1),

       P(Q <= x) = sum_{i >= 0} c_i F_{K + 2i}(y / beta),    K = sum_j k_j,                    (3)

   F_m the central chi-squared CDF, c_i >= 0 with sum_i c_i = 1 the coefficients of the generating function
   G(u) = prod_j a_j^(-k_j/2) (1 - q_j u)^(-k_j/2) exp((delta_j/2)(u - 1)/(1 - q_j u)), so
   c_0 = prod_j a_j^(-k_j/2) exp(-sum delta_j / 2) and c_i = (1/i) sum_{m=1}^{i} h_m c_{i-m},
   h_m = (1/2) sum_j [k_j q_j^m + m (delta_j / a_j) q_j^(m-1)].  The terms are positive, so the partial sum
   over i < N is a lower bound, and since F_{m+2}(y) <= (y/2)/(m/2+1) F_m(y) and c_i <= G(rho) rho^(-i)
   for every rho in (0, 1/max q), the remainder obeys

       0 <= R_N <= F_{K+2N}(y/beta) min( 1 - sum_{i<N} c_i,  G(rho) rho^(-N) / (1 - r) ),
       r = y / (2 beta rho (K/2 + N + 1)) < 1,                                                  (4)

   minimised over rho (a convex problem in log rho).  c_i are kept with a common scale factor and the
   sum is formed in log space, so a probability of 1e-3000 keeps its relative accuracy.  The bound adds a
   worst-case rounding analysis of the recursion and a relative accuracy of 1e-13 for scipy's regularised
   incomplete gamma function (checked against mpmath in the tests).  Feasible while the terms needed
   (about y / (2 beta) in the bulk) stay below ``max_terms``: always in the lower tail of weights of one
   scale, not in the bulk of widely spread weights.
2. ``"bromwich"``: inversion along the vertical line Re s = c through the saddle point (Helstrom 1983),

       P(Q <= x) = exp(K(c) - c y) (1/pi) int_0^inf Re[ exp(K(c + it) - K(c) - i t y) / (-(c + it)) ] dt,  c < 0,
       P(Q >  x) = exp(K(c) - c y) (1/pi) int_0^inf Re[ exp(K(c + it) - K(c) - i t y) / (c + it) ] dt,   c > 0,   (5)

   the integrand relative to its value at t = 0, hence relative accuracy in both tails.  The integral is
   cut where the truncation bound (2/K_B) prod_{j in B} (2 w_j U / a_j)^(-k_j/2) exp(-D(U)) (a_j = 1 - 2 w_j c,
   B the terms with 2 w_j U > a_j) is small; its quadrature part is QUADPACK's error estimate.
3. ``"imhof"``: Imhof's (1961) integral at c = 0, P = 1/2 - (1/pi) int_0^inf Im[exp(-ity) phi(t)] / t dt,
   with his truncation bound plus QUADPACK's estimate; an absolute error of about 1e-13, useless where P is
   of that size.  Where y < pi / 32 (units of the largest weight) the QAWF tail's estimate is not trusted
   and no bound is claimed.
4. ``"saddlepoint"``: the Lugannani-Rice (1980) formula, an asymptotic approximation without a bound of
   its own (``approximate=True``); its value is kept inside every rigorous interval available.

Every candidate is intersected with the rigorous interval of Ruben's partial sum (3)-(4) and with the
Chernoff bounds P <= exp(K(s) - s y) (s < 0) and P >= 1 - exp(K(s) - s y) (s > 0); a candidate whose
interval misses the rigorous one is discarded.  Below the smallest attainable value (x <= offset) the
probability is exactly 0 and the bias infinite.

Accuracy, measured against the independent mpmath references of :mod:`proofs_check.references` (a
convolution form of the chi-squared mixture at 40 digits, and Gil-Pelaez inversion at 30 digits) on random
laws of 2-4 terms: |log P_computed - log P| at most 1.6e-14 in the bulk, 2.0e-14 in the upper tail
(P > 0.99) and 1.8e-16 |log P| in the far lower tail (P < 1e-10), 5e-14 relative for weights spread over
six decades; the reported ``log_error`` held in every comparison, at least a hundred times wider than the
error.  Against the leading small-x asymptote (hypothesis, 2-500 terms, weights 1e-4..1e2,
non-centralities 0..100) the values agree to the asymptote's own O(x / w_min) error.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special

from array_api_compat import is_array_api_obj

from kernels.backend import to_numpy
from kernels.validation import check_positive, check_positive_int

__all__ = ["GeneralizedChi2", "CDFResult", "BitsResult", "BelowMinimumWarning"]

LN2 = math.log(2.0)
EPS = float(np.finfo(np.float64).eps)
SPECIAL_RTOL = 1e-13  # relative accuracy assumed of scipy.special.gammainc / gammaln (tested)
_QAWF_FROM = 32.0  # t (in units of the scale) beyond which a slowly decaying tail is integrated by QAWF
_LOG_V_MIN = 230.0  # 1 - 2 s >= exp(-230) keeps (1 - 2 w s)^3 in the normal range
_METHODS = ("auto", "ruben", "bromwich", "imhof", "saddlepoint")


class BelowMinimumWarning(RuntimeWarning):
    """eps is at or below the smallest attainable loss: the probability is 0 and the bias infinite."""


@dataclass(frozen=True)
class CDFResult:
    """log P(Q <= x) with how it was computed and a bound on its error.

    Attributes
    ----------
    log_probability : float
        log P(Q <= x); ``-inf`` below the minimum.
    method : str
        ``"ruben"``, ``"bromwich"``, ``"imhof"``, ``"saddlepoint"``, ``"chernoff"`` (upper tail beyond
        double precision: P = 1 within the Chernoff bound), ``"below_minimum"`` (x <= offset: P = 0
        exactly) or ``"degenerate"`` (no random part).
    log_error : float
        Bound on |log P_computed - log P_true| (``inf`` when nothing bounds it).
    approximate : bool
        True when the value rests on an approximation (the saddle point), whatever the bound says.
    """

    log_probability: float
    method: str
    log_error: float
    approximate: bool = False

    @property
    def probability(self) -> float:
        return math.exp(self.log_probability)

    @property
    def abs_error(self) -> float:
        """Bound on |P_computed - P_true|: P (exp(log_error) - 1)."""
        if self.log_probability == -math.inf:
            return 0.0 if self.log_error == 0.0 else math.inf
        return self.probability * math.expm1(min(self.log_error, 700.0))

    @property
    def bits(self) -> float:
        """-log2 P(Q <= x); ``inf`` when x is below the smallest attainable value."""
        return -self.log_probability / LN2 + 0.0

    @property
    def bits_error(self) -> float:
        """Bound on the error of :attr:`bits`, in bits."""
        return self.log_error / LN2

    @property
    def attainable(self) -> bool:
        return self.log_probability > -math.inf


@dataclass(frozen=True)
class BitsResult:
    """I(eps) = -log2 P(Q <= eps) with a bound ``bits_error`` on its error (in bits).

    ``float(result)`` is ``result.bits``.
    """

    bits: float
    bits_error: float
    method: str
    approximate: bool = False

    def __float__(self) -> float:
        return float(self.bits)


@dataclass(frozen=True)
class _Interval:
    """A rigorous interval [exp(lo), exp(hi)] for P, in log space."""

    lo: float
    hi: float

    def intersect(self, other: "_Interval") -> "_Interval | None":
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        return _Interval(lo, hi) if lo <= hi else None


_UNBOUNDED = _Interval(-math.inf, 0.0)


def _as_vector(values, name, n=None):
    # The law's parameters are a few numbers evaluated by SciPy's quadrature: one explicit host copy.
    arr = np.atleast_1d(np.asarray(to_numpy(values) if is_array_api_obj(values) else values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have the same length as weights ({n}), got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


def _log_regularized_gamma(a, z):
    """log P(a, z), the regularised lower incomplete gamma function, for an array ``a`` and a scalar z >= 0.

    scipy's ``gammainc`` where it does not underflow; below 1e-250 the series
    P(a, z) = z^a e^-z / Gamma(a+1) sum_n z^n / ((a+1)...(a+n)) in log space (then z < a, so it converges).
    """
    a = np.asarray(a, dtype=np.float64)
    if z == 0.0:
        return np.full(a.shape, -math.inf)
    if math.isinf(z):
        return np.zeros(a.shape)
    with np.errstate(divide="ignore"):
        out = np.log(scipy.special.gammainc(a, z))
    tiny = out < math.log(1e-250)
    if np.any(tiny):
        at = a[tiny]
        total, term = np.ones_like(at), np.ones_like(at)
        for n in range(1, 100_000):
            term = term * (z / (at + n))
            total += term
            if np.all(term <= 1e-17 * total):
                break
        out[tiny] = at * math.log(z) - z - scipy.special.gammaln(at + 1.0) + np.log(total)
    return out


def _logsumexp(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.all(values == -math.inf):
        return -math.inf
    top = float(np.max(values))
    return top + math.log(float(np.sum(np.exp(values - top))))


def _interval_result(interval: _Interval, method: str, approximate: bool = False) -> CDFResult:
    """Midpoint (in log space) and half-width of a rigorous interval."""
    if interval.lo == -math.inf:
        return CDFResult(interval.hi if interval.hi < 0 else -math.inf, method, math.inf, approximate)
    mid = min(0.5 * (interval.lo + interval.hi), 0.0)
    return CDFResult(mid, method, max(interval.hi - mid, mid - interval.lo), approximate)


class GeneralizedChi2:
    """Q = offset + sum_j w_j chi'^2(k_j, delta_j) with positive weights (equation (1)).

    Parameters
    ----------
    weights : array_like
        Positive weights w_j.
    dofs : array_like, optional
        Degrees of freedom k_j > 0 (default 1 each).
    noncentralities : array_like, optional
        delta_j >= 0 (default 0 each).
    offset : float
        Constant added to the sum (the loss along directions with no posterior variance).
    tol : float
        Target absolute error of the Imhof integral (truncation plus quadrature).
    """

    def __init__(self, weights, dofs=None, noncentralities=None, offset=0.0, *, tol=1e-13):
        w = _as_vector(weights, "weights")
        if w.size and np.any(w <= 0):
            raise ValueError(f"weights must all lie in (0, inf), got minimum {float(w.min())!r}")
        m = w.shape[0]
        k = np.ones(m) if dofs is None else _as_vector(dofs, "dofs", m)
        if np.any(k <= 0):
            raise ValueError(f"dofs must all lie in (0, inf), got minimum {float(k.min())!r}")
        d = np.zeros(m) if noncentralities is None else _as_vector(noncentralities, "noncentralities", m)
        if np.any(d < 0):
            raise ValueError(f"noncentralities must all lie in [0, inf), got minimum {float(d.min())!r}")
        try:
            offset = float(offset)
        except (TypeError, ValueError):
            raise TypeError(f"offset must be a real number, got {offset!r}") from None
        if not math.isfinite(offset):
            raise ValueError(f"offset must be finite, got {offset!r}")
        self.weights, self.dofs, self.noncentralities = w, k, d
        self.offset = offset
        self.tol = check_positive(tol, "tol")
        # Work in units of the largest weight so that s and t are O(1).
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

    def _scaled(self, x) -> float:
        return (float(x) - self.offset) / self._scale

    # --- Ruben's series ------------------------------------------------------------------------
    def _ruben_setup(self):
        w, k, d = self._w, self.dofs, self.noncentralities
        beta = float(w.min())
        a = w / beta
        q = (w - beta) / w
        log_c0_terms = np.concatenate([-0.5 * k * np.log(a), -0.5 * d])
        log_c0 = math.fsum(log_c0_terms)  # correctly rounded: the error is that of the terms
        err_c0 = 3.0 * EPS * (float(np.sum(np.abs(log_c0_terms))) + float(np.sum(k)) + 1.0)
        return beta, a, q, d / a, log_c0, err_c0

    def _h_block(self, q, d_over_a, m):
        """h_m of the recursion for an array of orders m >= 1."""
        powers = np.power(q[:, None], (m - 1.0)[None, :])
        return 0.5 * (self.dofs @ (powers * q[:, None]) + m * (d_over_a @ powers))

    def _ruben_log_g(self, rho, a, q, d_over_a) -> float:
        """log G(rho) = sum_j [-(k_j/2) log(a_j (1 - q_j rho)) + (delta_j/2)(rho - 1)/(1 - q_j rho)]."""
        one_minus = 1.0 - q * rho
        return float(np.sum(-0.5 * self.dofs * np.log(a * one_minus)
                            + 0.5 * self.noncentralities * (rho - 1.0) / one_minus))

    def _ruben_tail_bound(self, n, log_mass_left, log_f_n, z, a, q, d_over_a) -> float:
        """log of the remainder bound (4) after n terms."""
        half_k = 0.5 * float(np.sum(self.dofs))
        best = log_mass_left + log_f_n
        rho_lo = z / (half_k + n + 1.0)
        q_max = float(q.max())
        rho_hi = (1.0 / q_max) * (1.0 - 1e-12) if q_max > 0 else max(1e6 * rho_lo, 1e6)
        if not (0.0 < rho_lo * (1.0 + 1e-9) < rho_hi) or math.isinf(z):
            return best

        log_rho_lo = math.log(rho_lo)

        def log_bound(gap):  # at rho = rho_lo e^gap: log G(rho) - n log rho - log(1 - rho_lo / rho)
            return (self._ruben_log_g(rho_lo * math.exp(gap), a, q, d_over_a) - n * (log_rho_lo + gap)
                    - math.log(-math.expm1(-gap)))

        def slope(gap):  # d log_bound / d gap: increasing (the bound is convex in log rho)
            return self._ruben_log_g_slope(rho_lo * math.exp(gap), q) - n - 1.0 / math.expm1(gap)

        # Any rho in (rho_lo, 1/q_max) gives a valid bound.  The convex minimum is the root of the slope, found to
        # rounding from a lower end where the slope is negative (it tends to -inf as gap -> 0), so that the bound
        # does not depend on where the search starts.
        gap_lo, gap_hi = 1e-9, math.log(rho_hi) - log_rho_lo
        while gap_lo > 1e-300 and slope(gap_lo) >= 0.0:
            gap_lo /= 16.0
        if slope(gap_hi) <= 0.0:
            gap = gap_hi
        elif slope(gap_lo) >= 0.0:
            gap = gap_lo
        else:
            gap = scipy.optimize.brentq(slope, gap_lo, gap_hi, xtol=1e-300, rtol=4.0 * EPS)
        fun = log_bound(gap)
        value = fun + 1e-9 * (1.0 + abs(fun))
        return min(best, value + log_f_n)

    def _ruben_log_g_slope(self, rho, q) -> float:
        """d log G / d log rho = rho sum_j [(k_j/2) q_j / (1 - q_j rho) + (delta_j/2)(1 - q_j) / (1 - q_j rho)^2]
        (every term increasing in rho, as 0 <= q_j < 1)."""
        one_minus = 1.0 - q * rho
        return rho * float(np.sum(0.5 * self.dofs * q / one_minus
                                  + 0.5 * self.noncentralities * (1.0 - q) / (one_minus * one_minus)))

    def ruben_interval(self, x, *, rtol=1e-10, max_terms=4000) -> tuple[_Interval, int]:
        """Rigorous interval for log P(Q <= x) from Ruben's series (3) with remainder (4), and the terms used."""
        y = self._scaled(x)
        if y <= 0:
            return _Interval(-math.inf, -math.inf), 0
        beta, a, q, d_over_a, log_c0, err_c0 = self._ruben_setup()
        z = y / (2.0 * beta)
        half_k = 0.5 * float(np.sum(self.dofs))
        n_terms = self.n_terms
        d = np.zeros(max_terms)
        d[0] = 1.0
        h = np.zeros(max_terms)
        log_scale = log_c0
        log_sum, log_mass, done, block = -math.inf, -math.inf, 0, 64
        log_werr = -math.inf
        while True:
            stop = min(done + block, max_terms)
            m_lo = max(done, 1)
            h[m_lo:stop] = self._h_block(q, d_over_a, np.arange(m_lo, stop, dtype=np.float64))
            for i in range(max(done, 1), stop):
                d[i] = np.dot(h[1:i + 1], d[i - 1::-1]) / i
                if d[i] > 1e250:
                    d[:i + 1] *= 1e-250
                    log_scale += 250.0 * math.log(10.0)
            with np.errstate(divide="ignore"):
                log_c = log_scale + np.log(d[done:stop])
            log_f = _log_regularized_gamma(half_k + np.arange(done, stop + 1, dtype=np.float64), z)
            log_terms = log_c + log_f[:-1]
            log_sum = float(np.logaddexp(log_sum, _logsumexp(log_terms)))
            # Relative error of each F: scipy's, or that of the log series' a log z - z - lgamma(a + 1).
            shape = half_k + np.arange(done, stop, dtype=np.float64)
            f_err = np.full(shape.shape, SPECIAL_RTOL)
            series = log_f[:-1] < math.log(1e-250)
            f_err[series] += 8.0 * EPS * (shape[series] * abs(math.log(z)) + z
                                          + np.abs(scipy.special.gammaln(shape[series] + 1.0)))
            log_werr = float(np.logaddexp(log_werr, _logsumexp(log_terms + np.log(f_err))))
            log_mass = float(np.logaddexp(log_mass, _logsumexp(log_c)))
            done = stop
            mass_left = max(-math.expm1(min(log_mass, 0.0)), 0.0) + 4.0 * done * EPS
            log_rem = self._ruben_tail_bound(done, math.log(min(mass_left, 1.0)), float(log_f[-1]), z, a, q,
                                             d_over_a)
            err = err_c0 + EPS * done * (n_terms + 2.0 * done + 8.0) + math.exp(log_werr - log_sum)
            if done >= max_terms or log_rem - log_sum <= math.log(rtol / 2.0):
                break
            block = min(2 * block, 1024)
        err += 2.0 * EPS * (abs(log_sum) + 1.0)  # the logsumexp accumulation and the log's representation
        hi = float(np.logaddexp(log_sum, log_rem)) + math.log1p(err)
        lo = log_sum + math.log1p(-min(err, 0.5)) if log_sum > -math.inf else -math.inf
        return _Interval(lo, min(hi, 0.0)), done

    # --- cumulant generating function and the saddle point ------------------------------------
    def _cgf_terms(self, one_minus):
        """K, K', K'' (scaled units) from a_j = 1 - 2 w_j s, given directly so that s near 1/2 stays exact."""
        w, k, d = self._w, self.dofs, self.noncentralities
        s_w = (1.0 - one_minus) / 2.0  # w_j s
        inv = 1.0 / one_minus
        with np.errstate(over="ignore", under="ignore"):  # s -> -inf: the terms go to 0
            k0 = float(np.sum(-0.5 * k * np.log(one_minus) + d * s_w * inv))
            k1 = float(np.sum(k * w * inv + d * w * inv * inv))
            k2 = float(np.sum(2.0 * k * (w * inv) ** 2 + 4.0 * d * (w * inv) ** 2 * inv))
        return k0, k1, k2

    def _one_minus(self, s):
        return 1.0 - 2.0 * self._w * s

    def _saddle(self, y):
        """Solve K'(s) = y (scaled); returns s and a_j = 1 - 2 w_j s (for s > 0 through v = 1 - 2s, exact)."""
        mean = float(np.sum(self._w * (self.dofs + self.noncentralities)))
        if y <= mean:
            f = lambda s: self._cgf_terms(self._one_minus(s))[1] - y  # noqa: E731
            lo = -1.0
            while f(lo) > 0:
                lo *= 2.0
                if lo < -1e300:
                    break
            if f(0.0) <= 0:
                return 0.0, self._one_minus(0.0)
            if f(lo) > 0:  # y below what double precision resolves: the most negative s reached
                return lo, self._one_minus(lo)
            s = scipy.optimize.brentq(f, lo, 0.0, xtol=1e-300, rtol=4 * EPS, maxiter=500)
            return s, self._one_minus(s)
        # s = (1 - v)/2 in (0, 1/2): a_j = (1 - w_j) + w_j v, solved in log v.
        one_minus_v = lambda lv: (1.0 - self._w) + self._w * math.exp(lv)  # noqa: E731
        g = lambda lv: self._cgf_terms(one_minus_v(lv))[1] - y  # noqa: E731
        lo_lv = -1.0
        while g(lo_lv) < 0:
            lo_lv = max(2.0 * lo_lv, -_LOG_V_MIN - 1.0)
            if lo_lv < -_LOG_V_MIN:
                return None, None  # y beyond about K / v_min: see chernoff_interval
        lv = scipy.optimize.brentq(g, lo_lv, 0.0, xtol=1e-300, rtol=4 * EPS, maxiter=500)
        return -math.expm1(lv) / 2.0, one_minus_v(lv)

    def chernoff_interval(self, x) -> _Interval:
        """Rigorous bounds from Chernoff's inequality at the saddle point: P <= e^(K(s) - sy) for s < 0,
        1 - P <= e^(K(s) - sy) for s > 0."""
        y = self._scaled(x)
        s, one_minus = self._saddle(y)
        if s is None:
            # K'(s) < y even at v = 1 - 2s = exp(-230): that s is still a valid Chernoff point.
            v = math.exp(-_LOG_V_MIN)
            one_minus = (1.0 - self._w) + self._w * v
            s = (1.0 - v) / 2.0
        k0 = self._cgf_terms(one_minus)[0]
        log_bound = k0 - s * y
        slack = 1e-10 * (1.0 + abs(k0) + abs(s * y))
        if s < 0:
            return _Interval(-math.inf, min(log_bound + slack, 0.0))
        tail = math.exp(min(log_bound + slack, 0.0))
        return _Interval(math.log1p(-tail) if tail < 1.0 else -math.inf, 0.0)

    def saddlepoint_logcdf(self, x) -> float:
        """log P(Q <= x) by the Lugannani-Rice formula, in log space (an approximation, no bound).

        Next to the mean the formula is 0/0: below |w| = 1e-5 its limit is used (relative error about 2|w|
        against the formula at 40 digits, at most 2.3e-5 measured), above it the formula itself, with
        s y - K(s) formed without cancellation (at most 2e-11 relative for 1e-5 <= |w| <= 1e-2 on three
        laws; the rounding of the saddle point bounds it by about eps / w^2); in the tails it is reproduced
        to 1e-9.
        """
        x = float(x)
        if self.n_terms == 0:
            return 0.0 if x >= self.offset else -math.inf
        if x <= self.offset:
            return -math.inf
        y = self._scaled(x)
        s_hat, one_minus = self._saddle(y)
        if s_hat is None:
            return 0.0
        k0, _, k2 = self._cgf_terms(one_minus)
        if not 0.0 < k2 < math.inf:  # beyond double precision around the saddle point: Chernoff's value
            return min(k0 - s_hat * y, 0.0)
        # s y - K(s) = s K'(s) - K(s) + s (y - K'(s)); the last term is below 8 eps of the first (s solves
        # K'(s) = y to 4 eps), hence left out.
        w_hat = math.copysign(math.sqrt(2.0 * max(self._saddle_gap(s_hat, one_minus), 0.0)), s_hat)
        u_hat = s_hat * math.sqrt(k2)
        if abs(w_hat) < 1e-5:
            # Next to the mean the formula is 0/0; its limit is 1/2 + K'''/(6 sqrt(2 pi) K''^(3/2)).
            k3 = float(np.sum(8.0 * self.dofs * self._w**3 + 24.0 * self.noncentralities * self._w**3))
            return math.log(0.5 + k3 / (6.0 * math.sqrt(2.0 * math.pi) * k2**1.5))
        mills = math.sqrt(math.pi / 2.0) * float(scipy.special.erfcx(-w_hat / math.sqrt(2.0)))
        bracket = mills + 1.0 / w_hat - 1.0 / u_hat
        log_phi_n = -0.5 * w_hat**2 - 0.5 * math.log(2.0 * math.pi)
        if w_hat < 0 and bracket > 0:
            return min(log_phi_n + math.log(bracket), 0.0)
        if w_hat > 0:
            upper = math.sqrt(math.pi / 2.0) * float(scipy.special.erfcx(w_hat / math.sqrt(2.0)))
            tail = upper - 1.0 / w_hat + 1.0 / u_hat
            if tail > 0:
                return math.log1p(-min(math.exp(log_phi_n) * tail, 0.5))
        # Barndorff-Nielsen's r* form, of the same order, when the bracket loses its sign.
        r_star = w_hat + math.log(u_hat / w_hat) / w_hat
        return float(scipy.special.log_ndtr(r_star))

    def _saddle_gap(self, s, one_minus) -> float:
        """s K'(s) - K(s) = sum_j [(k_j/2)(x_j/(1-x_j) + log(1-x_j)) + (d_j/2) x_j^2/(1-x_j)^2], x_j = 2 w_j s.

        Each term is O(x_j^2) and formed without cancellation (the series -sum_{n>=2} x^n/n for
        x + log(1-x) where |x| < 0.05), so that w = sqrt(2 (s y - K(s))) keeps its relative accuracy next to
        the mean, where s y and K(s) agree to many digits.
        """
        x = 2.0 * self._w * s
        orders = np.arange(2.0, 30.0)
        small = np.abs(x) < 0.05
        x_small = np.where(small, x, 0.0)
        series = x_small**2 / one_minus - np.sum(x_small[:, None] ** orders / orders, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = x / one_minus + np.log(one_minus)
        phi = np.where(small, series, direct)
        return float(np.sum(0.5 * self.dofs * phi + 0.5 * self.noncentralities * (x / one_minus) ** 2))

    # --- Fourier integrals (Imhof, Bromwich) ---------------------------------------------------
    def _pieces(self, u_max, t_scale):
        lo = max(u_max * 1e-6, 1e-3 * t_scale)
        edges = [0.0]
        edge = min(lo, u_max)
        while edge < u_max:
            edges.append(edge)
            edge *= 4.0
        edges.append(u_max)
        return edges

    def _fourier_integral(self, g, y, u_max, tail_from, eps_abs, t_scale):
        """int_0^inf Re[g(t) e^(-ity)] dt on [0, u_max], plus [tail_from, inf) by QAWF when given; (value, error)."""
        total, err_sum = 0.0, 0.0
        edges = self._pieces(u_max, t_scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
            for lo, hi in zip(edges[:-1], edges[1:]):
                val, err = scipy.integrate.quad(lambda t: float(np.real(g(t) * np.exp(-1j * t * y))), lo, hi,
                                                epsabs=eps_abs / len(edges), epsrel=0.0, limit=400)
                total += val
                err_sum += err
            if tail_from is not None:
                for part, weight in ((np.real, "cos"), (np.imag, "sin")):
                    val, err = scipy.integrate.quad(lambda t, part=part: float(part(g(t))), tail_from, np.inf,
                                                    weight=weight, wvar=y, epsabs=eps_abs / 4.0, limlst=200)
                    total += val
                    err_sum += err
        return total, err_sum

    def _log_phi(self, t):
        x = 1.0 - 2j * self._w * t
        return np.sum(-0.5 * self.dofs * np.log(x) + 1j * self.noncentralities * self._w * t / x)

    def _log_truncation_bound(self, u, one_minus=None):
        """log of (2/K_B) prod_{j in B} (2 w_j U / a_j)^(-k_j/2) exp(-D(U)), a_j = 1 - 2 w_j c (1 for Imhof)."""
        w, k, d = self._w, self.dofs, self.noncentralities
        a = np.ones_like(w) if one_minus is None else one_minus
        ratio = 2.0 * w * u / a
        big = ratio > 1.0
        if not np.any(big):
            return 0.0
        damp = 0.5 * float(np.sum(d / a * ratio**2 / (1.0 + ratio**2)))
        return math.log(2.0 / float(np.sum(k[big]))) - float(np.sum(0.5 * k[big] * np.log(ratio[big]))) - damp

    def _cutoff(self, log_target, one_minus=None, start=1.0):
        u = start
        while self._log_truncation_bound(u, one_minus) > log_target and u < 1e12 * start:
            u *= 2.0
        while u > 1e-8 * start and self._log_truncation_bound(u / 2.0, one_minus) <= log_target:
            u /= 2.0
        return u, self._log_truncation_bound(u, one_minus)

    def imhof_cdf(self, x) -> tuple[float, float]:
        """P(Q <= x) by Imhof's integral and a bound on its absolute error (truncation + quadrature estimate)."""
        x = float(x)
        if self.n_terms == 0:
            return (1.0 if x >= self.offset else 0.0), 0.0
        y = self._scaled(x)
        u_max, log_trunc = self._cutoff(math.log(self.tol / 4.0) + math.log(math.pi))
        trunc = math.exp(log_trunc) / math.pi
        tail_from = None
        if u_max > _QAWF_FROM and y > 0:
            tail_from, u_max, trunc = _QAWF_FROM, _QAWF_FROM, 0.0
            if y * _QAWF_FROM < math.pi:
                # No cycle of e^(-ity) before the tail starts: QAWF's first cycle spans the power-law tail over
                # [32, 32 + pi/y] and its estimate misses most of it (weights [1, 0.5], y = 4e-12: 0.007 with
                # 7e-15 reported, true 2.8e-12).  The value is kept, without a bound.
                trunc = math.inf
        t_scale = 1.0 / max(float(np.sum(self.dofs * self._w)), 1e-300)
        g = lambda t: np.exp(self._log_phi(t)) * (1j / t)  # noqa: E731  Re[g e^{-ity}] = -Im[phi e^{-ity}]/t
        total, quad_err = self._fourier_integral(g, y, u_max, tail_from, self.tol, t_scale)
        p = 0.5 + total / math.pi
        return min(max(p, 0.0), 1.0), trunc + quad_err / math.pi

    def bromwich_result(self, x, *, rtol=1e-10) -> CDFResult:
        """log P(Q <= x) by the inversion (5) through the saddle point, with its error bound."""
        y = self._scaled(x)
        s_hat, _ = self._saddle(y)
        if s_hat is None:
            return CDFResult(0.0, "bromwich", math.inf)
        sd = math.sqrt(self._cgf_terms(self._one_minus(s_hat))[2])
        if not 0.0 < sd < math.inf:  # y beyond what double precision resolves around the saddle point
            return CDFResult(0.0, "bromwich", math.inf)
        lower = s_hat <= 0
        c = min(s_hat, -1.0 / sd) if lower else max(s_hat, min(1.0 / sd, 0.25))
        one_minus = self._one_minus(c)
        w, k, d = self._w, self.dofs, self.noncentralities
        _, _, k2 = self._cgf_terms(one_minus)
        sd = math.sqrt(k2)
        k_terms = -0.5 * k * np.log(one_minus) + d * ((1.0 - one_minus) / 2.0) / one_minus
        k0 = math.fsum(k_terms)
        # Rounding of K(c) - c y (terms, their correctly rounded sum, the product) and of the final log.
        round_err = 4.0 * EPS * (float(np.sum(np.abs(k_terms))) + float(np.sum(k)) + 2.0 * abs(c * y) + 1.0)
        sign = -1.0 if lower else 1.0

        def g(t):
            z = 2j * w * t / one_minus
            delta = np.sum(-0.5 * k * np.log1p(-z) + 0.5 * d / one_minus * z / (1.0 - z))
            return np.exp(delta) * (sign / (c + 1j * t))

        # Size of the integral: the integrand is about exp(-K''(c) t^2 / 2) / |c| near t = 0.
        target = rtol * math.sqrt(math.pi / 2.0) / (sd * abs(c)) / 8.0
        u_max, log_trunc = self._cutoff(math.log(target), one_minus, start=1.0 / sd)
        tail_from = None
        if u_max > _QAWF_FROM / sd * 64.0:
            tail_from, u_max, log_trunc = _QAWF_FROM / sd, _QAWF_FROM / sd, -math.inf
        total, quad_err = self._fourier_integral(g, y, u_max, tail_from, target, 1.0 / sd)
        error = quad_err + math.exp(log_trunc)
        if not total > 0 or error >= total:
            return CDFResult(0.0 if not lower else -math.inf, "bromwich", math.inf)
        log_part = k0 - c * y - math.log(math.pi)
        rel = error / total
        if lower:
            log_p = log_part + math.log(total)
            return CDFResult(log_p, "bromwich", -math.log1p(-rel) + round_err + EPS * abs(log_p))
        tail = math.exp(log_part) * total
        if tail * (1.0 + rel) >= 1.0:
            return CDFResult(-math.inf, "bromwich", math.inf)
        rel += round_err
        if tail * (1.0 + rel) >= 1.0:
            return CDFResult(-math.inf, "bromwich", math.inf)
        return CDFResult(math.log1p(-tail), "bromwich", abs(math.log1p(-tail * (1 + rel)) - math.log1p(-tail))
                         + 4 * EPS * tail)

    # --- public CDF ----------------------------------------------------------------------------
    def _candidate_interval(self, result: CDFResult) -> _Interval:
        return _Interval(result.log_probability - result.log_error, min(result.log_probability + result.log_error, 0.0))

    def _combine(self, result: CDFResult, rigorous: _Interval) -> CDFResult | None:
        """A candidate intersected with the rigorous interval; None when they are disjoint."""
        if result.log_error == math.inf:
            return None
        both = self._candidate_interval(result).intersect(rigorous)
        if both is None:
            return None
        combined = _interval_result(both, result.method, result.approximate)
        return combined if combined.log_error < result.log_error else result

    def log_cdf_result(self, x, method: str = "auto", *, rtol: float = 1e-10, max_terms: int = 4000) -> CDFResult:
        """log P(Q <= x) with the method used and a bound on its error.

        Parameters
        ----------
        x : float
            The level (finite).
        method : {"auto", "ruben", "bromwich", "imhof", "saddlepoint"}
            ``"auto"`` tries Ruben's series, then the Bromwich inversion, then Imhof's integral, then the
            saddle point, stopping at the first whose bound is at most ``rtol`` and otherwise keeping the
            smallest bound; every candidate is intersected with the rigorous Ruben and Chernoff intervals.
            A named method is computed alone (still intersected).
        rtol : float
            Target bound on |log P_computed - log P|.
        max_terms : int
            Most terms of Ruben's series.
        """
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"x must be finite, got {x!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}")
        rtol = check_positive(rtol, "rtol")
        max_terms = check_positive_int(max_terms, "max_terms", minimum=2)
        if self.n_terms == 0 and x >= self.offset:
            return CDFResult(0.0, "degenerate", 0.0)  # Q = offset with probability one
        if x <= self.offset:
            return CDFResult(-math.inf, "below_minimum", 0.0)
        rigorous = self.chernoff_interval(x)
        if rigorous.lo > -4 * EPS:  # P = 1 to double precision, by Chernoff's bound
            return CDFResult(0.0, "chernoff", -rigorous.lo + 0.0)
        order = ("ruben", "bromwich", "imhof", "saddlepoint") if method == "auto" else (method,)
        best = None
        for name in order:
            candidate = self._candidate(name, x, rtol, max_terms, rigorous)
            if name == "ruben":
                ruben_interval = self._candidate_interval(candidate) if candidate.log_error < math.inf else None
                if ruben_interval is not None:
                    rigorous = rigorous.intersect(ruben_interval) or rigorous
            combined = self._combine(candidate, rigorous)
            if combined is None:  # no bound of its own, or one that misses the rigorous interval
                clipped = min(max(candidate.log_probability, rigorous.lo), rigorous.hi)
                combined = CDFResult(clipped, name, max(rigorous.hi - clipped, clipped - rigorous.lo),
                                     candidate.approximate)
            if combined is not None and (best is None or combined.log_error < best.log_error):
                best = combined
            if best is not None and best.log_error <= rtol:
                break
        return best

    def _candidate(self, name, x, rtol, max_terms, rigorous) -> CDFResult:
        if name == "ruben":
            interval, _ = self.ruben_interval(x, rtol=rtol, max_terms=max_terms)
            return _interval_result(interval, "ruben")
        if name == "bromwich":
            return self.bromwich_result(x, rtol=rtol)
        if name == "imhof":
            p, err = self.imhof_cdf(x)
            if p <= 0 or err >= p:
                return CDFResult(math.log(p) if p > 0 else -math.inf, "imhof", math.inf)
            return CDFResult(math.log(p), "imhof", -math.log1p(-err / p))
        return CDFResult(self.saddlepoint_logcdf(x), "saddlepoint", math.inf, True)

    def logcdf(self, x, method: str = "auto") -> float:
        """log P(Q <= x) (see :meth:`log_cdf_result`)."""
        return self.log_cdf_result(x, method).log_probability

    def cdf(self, x, method: str = "auto") -> float:
        """P(Q <= x) (see :meth:`log_cdf_result`)."""
        return math.exp(self.logcdf(x, method))

    def bits(self, eps, method: str = "auto") -> BitsResult:
        """I(eps) = -log2 P(Q <= eps) with its error bound; ``inf`` (with a BelowMinimumWarning) when eps <= offset."""
        check_positive(eps, "eps")
        result = self.log_cdf_result(eps, method)
        if not result.attainable:
            warnings.warn(
                f"eps={eps!r} is at or below the smallest attainable loss {self.offset!r}: "
                "P(loss <= eps) = 0 and the inductive bias is infinite",
                BelowMinimumWarning,
                stacklevel=2,
            )
        return BitsResult(result.bits, result.bits_error, result.method, result.approximate)

    # --- density and sampling ------------------------------------------------------------------
    def pdf(self, x) -> float:
        """Density of Q at x by inversion: (1/pi) int_0^inf Re[exp(-i t (x - offset)) phi(t)] dt."""
        x = float(x)
        if self.n_terms == 0 or x <= self.offset:
            return 0.0
        y = self._scaled(x)
        u_max, _ = self._cutoff(math.log(1e-13))
        tail_from = _QAWF_FROM if u_max > _QAWF_FROM else None
        u_max = min(u_max, _QAWF_FROM) if tail_from else u_max
        t_scale = 1.0 / max(float(np.sum(self.dofs * self._w)), 1e-300)
        total, _ = self._fourier_integral(lambda t: np.exp(self._log_phi(t)), y, u_max, tail_from, 1e-12, t_scale)
        return max(total / math.pi, 0.0) / self._scale

    def sample(self, n_samples, *, rng=None, batch_size=100_000) -> np.ndarray:
        """Draw Q by summing independent scaled non-central chi-squared variables (Monte Carlo)."""
        n_samples = check_positive_int(n_samples, "n_samples")
        rng = np.random.default_rng(rng)
        out = np.empty(n_samples)
        for start in range(0, n_samples, batch_size):
            stop = min(start + batch_size, n_samples)
            draws = rng.noncentral_chisquare(self.dofs, self.noncentralities, size=(stop - start, self.n_terms))
            out[start:stop] = self.offset + draws @ self.weights
        return out
