"""Inductive bias: the paper's sampled ncx2 estimator and the exact GP pipeline, in bits.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).

Definition: for hypotheses h that fit the training set, drawn from p_h, and test loss e(h),

    I(eps) = -log2 P_{h ~ p_h}( e(h) <= eps )   bits.                                        (1)

The paper's estimator (:func:`ncx2_inductive_bias`): sample test losses e_1..e_N of fitting
hypotheses, fit a scaled non-central chi-squared (df k, non-centrality l, scale s) by maximum
likelihood with location 0 (``scipy.stats.ncx2.fit(e, floc=0)``, here guarded by a second optimiser,
see :func:`fit_ncx2`), and return -log F(eps; k, l, s).
Where ``logcdf`` underflows, Sankaran's (1963) normal approximation is used:

    h = 1 - (2/3) (k + l)(k + 3 l) / (k + 2 l)^2,   p = (k + 2 l) / (k + l)^2,   m = (h - 1)(1 - 3 h),
    z = [ (eps / s / (k + l))^h - (1 + h p (h - 1 - (2 - h) m p / 2)) ] / [ h sqrt(2 p) (1 + m p / 2) ],  (2)

    P ~ Phi(z).   The reference code keeps only the leading term, -ln P ~ z^2 / 2 (``tail="paper"``);
    the default ``tail="log_ndtr"`` evaluates -ln Phi(z) exactly.

The reference code works in nats; everything here is reported in bits (nats / ln 2).

The exact pipeline (:func:`exact_inductive_bias`): task -> noise-free GP posterior -> the test loss
as a generalised chi-squared variable -> certified CDF (Ruben's series, Bromwich inversion; gen_chi2) -> bits, with no sampling and no
fitted family (theory.inductive_bias.gp_hypotheses, theory.inductive_bias.gen_chi2).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats
from sklearn.utils.validation import check_non_negative

from kernels.backend import array_namespace, to_numpy
from kernels.base import Estimator, check_fitted
from kernels.validation import StrOptions, check_positive

from theory.inductive_bias.gen_chi2 import LN2, BelowMinimumWarning, GeneralizedChi2
from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution

__all__ = [
    "NCX2Fit",
    "fit_ncx2",
    "ncx2_logpdf",
    "sankaran_log_cdf",
    "NCX2Estimate",
    "ncx2_inductive_bias",
    "NCX2InductiveBias",
    "InductiveBiasResult",
    "exact_inductive_bias",
]


@dataclass(frozen=True)
class NCX2Fit:
    """Maximum-likelihood scaled non-central chi-squared (location 0)."""

    df: float
    nc: float
    scale: float

    def log_cdf(self, eps: float, *, tail: str = "log_ndtr") -> tuple[float, str]:
        """(log F(eps), method): scipy's ``ncx2.logcdf``, or Sankaran (2) where it underflows."""
        value = float(scipy.stats.ncx2.logcdf(eps, self.df, self.nc, scale=self.scale))
        if math.isfinite(value) and value > -700.0:
            return min(value, 0.0), "logcdf"
        return sankaran_log_cdf(eps, self.df, self.nc, self.scale, tail=tail), "sankaran"

    def pdf(self, x):
        return scipy.stats.ncx2.pdf(x, self.df, self.nc, scale=self.scale)


def _moment_start(losses: np.ndarray) -> tuple[float, float, float]:
    """Method-of-moments (df, nc, scale) from the first three cumulants, a starting point for the MLE.

    kappa1 = s (k + l), kappa2 = 2 s^2 (k + 2 l), kappa3 = 8 s^3 (k + 3 l); eliminating k and l gives
    8 kappa1 s^2 - 8 kappa2 s + kappa3 = 0.  Falls back to central chi-squared moments.
    """
    k1 = float(np.mean(losses))
    k2 = float(np.var(losses))
    k3 = float(np.mean((losses - k1) ** 3))
    disc = 64.0 * k2**2 - 32.0 * k1 * k3
    if disc > 0 and k3 > 0:
        for sign in (-1.0, 1.0):
            scale = (8.0 * k2 + sign * math.sqrt(disc)) / (16.0 * k1)
            nc = k2 / (2.0 * scale**2) - k1 / scale
            if nc > 0 and k1 / scale - nc > 0:
                return k1 / scale - nc, nc, scale
    scale = k2 / (2.0 * k1)
    return k1 / scale, 1e-3, scale


def ncx2_logpdf(x, df, nc, scale=1.0):
    """log density of scale * ncx2(df, nc), in log space throughout.

    Poisson mixture of central chi-squared densities, sum_i Pois(i; nc/2) chi2_{df+2i}(x/scale) / scale,
    summed by logsumexp over i from 0 (from nc/2 - w when nc/2 > 200) to nc/2 + w, w = 8 sqrt(nc/2) + 16:
    the omitted Poisson mass is below about 1e-12, which is exact for x in the bulk of the
    distribution (where fitted losses lie); far in the lower tail with nc/2 > 200 the low-i terms
    that dominate there are cut.  ``scipy.stats.ncx2.logpdf`` underflows to -inf for df ~ 1000,
    which breaks the MLE on the loss distributions of many test points.
    """
    x = np.asarray(x, dtype=np.float64) / scale
    half = nc / 2.0
    width = 8.0 * math.sqrt(half) + 16.0
    first = int(half - width) if half > 200.0 else 0
    terms = np.arange(max(0, first), int(half + width) + 1, dtype=np.float64)
    log_weights = scipy.stats.poisson.logpmf(terms, half)
    half_k = (df + 2.0 * terms) / 2.0  # chi2_k log density: (k/2 - 1) log x - x/2 - (k/2) log 2 - lgamma(k/2)
    log_x = np.log(x)[..., None]
    log_chi2 = (half_k - 1.0) * log_x - (x[..., None] / 2.0) - half_k * LN2 - scipy.special.gammaln(half_k)
    return scipy.special.logsumexp(log_chi2 + log_weights, axis=-1) - math.log(scale)


def _neg_log_likelihood(losses, df, nc, scale):
    if not (df > 0 and nc >= 0 and scale > 0) or not math.isfinite(df * nc * scale):
        return math.inf
    value = -float(np.sum(ncx2_logpdf(losses, df, nc, scale)))
    return value if math.isfinite(value) else math.inf


def fit_ncx2(losses, *, optimizer: str = "nelder-mead") -> NCX2Fit:
    """Maximum-likelihood (df, nc, scale) with location 0, started from the method of moments.

    ``optimizer="nelder-mead"`` (default): Nelder-Mead on (log df, log nc, log scale) with the
    log-space likelihood :func:`ncx2_logpdf`.  ``"scipy"``: the paper's call
    ``scipy.stats.ncx2.fit(losses, floc=0)`` (from the same start), which fails on losses whose
    fitted df is ~ 1000 (its logpdf underflows; on digits it returned scale ~ 1e-8, a mean five
    orders of magnitude off).  ``"both"``: the higher likelihood of the two.
    """
    if optimizer not in ("nelder-mead", "scipy", "both"):
        raise ValueError(f"optimizer must be 'nelder-mead', 'scipy' or 'both', got {optimizer!r}")
    losses = np.asarray(to_numpy(losses), dtype=np.float64).ravel()
    if losses.size < 3:
        raise ValueError(f"losses must hold at least 3 values, got {losses.size}")
    if not np.all(np.isfinite(losses)) or np.any(losses <= 0):
        raise ValueError("losses must be finite and positive (the ncx2 family lives on (0, inf))")
    start = _moment_start(losses)
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if optimizer in ("scipy", "both"):
            df, nc, _, scale = scipy.stats.ncx2.fit(losses, start[0], start[1], floc=0, scale=start[2])
            candidates.append((float(df), float(nc), float(scale)))
        if optimizer in ("nelder-mead", "both"):
            result = scipy.optimize.minimize(
                lambda theta: _neg_log_likelihood(losses, *np.exp(theta)),
                np.log(start),
                method="Nelder-Mead",
                options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 1500},
            )
            candidates.append(tuple(float(v) for v in np.exp(result.x)))
    if len(candidates) == 1:
        return NCX2Fit(*candidates[0])
    scores = [_neg_log_likelihood(losses, *c) for c in candidates]
    return NCX2Fit(*candidates[int(np.argmin(scores))])


def sankaran_log_cdf(eps, df, nc, scale, *, tail: str = "log_ndtr") -> float:
    """log F(eps; df, nc, scale) by Sankaran's normal approximation (2).

    ``tail="log_ndtr"``: log Phi(z); ``tail="paper"``: -z^2 / 2 (the reference code's form).
    """
    if tail not in ("log_ndtr", "paper"):
        raise ValueError(f"tail must be 'log_ndtr' or 'paper', got {tail!r}")
    k, lam, s = float(df), float(nc), float(scale)
    h = 1.0 - (2.0 / 3.0) * (k + lam) * (k + 3.0 * lam) / (k + 2.0 * lam) ** 2
    p = (k + 2.0 * lam) / (k + lam) ** 2
    m = (h - 1.0) * (1.0 - 3.0 * h)
    z = ((eps / s / (k + lam)) ** h - (1.0 + h * p * (h - 1.0 - (2.0 - h) * m * p / 2.0))) / (
        h * math.sqrt(2.0 * p) * (1.0 + m * p / 2.0)
    )
    if tail == "paper":
        return -0.5 * z * z
    return float(scipy.special.log_ndtr(z))


@dataclass(frozen=True)
class NCX2Estimate:
    """The paper's estimate of I(eps) from sampled losses.

    Attributes
    ----------
    bits, nats : float
        -log2 F(eps) and -ln F(eps) for the fitted ncx2 CDF F.
    method : str
        ``"logcdf"`` (scipy's ncx2 log CDF) or ``"sankaran"`` (normal approximation (2) where it underflows).
    fit : NCX2Fit
        The fitted (df, nc, scale).
    """

    bits: float
    nats: float
    method: str
    fit: NCX2Fit


def ncx2_inductive_bias(losses, eps, *, tail: str = "log_ndtr") -> NCX2Estimate:
    """The paper's estimator of I(eps) in bits from sampled test losses (see the module docstring)."""
    check_positive(eps, "eps")
    fit = fit_ncx2(losses)
    log_p, method = fit.log_cdf(eps, tail=tail)
    nats = -log_p + 0.0
    return NCX2Estimate(bits=nats / LN2, nats=nats, method=method, fit=fit)


class NCX2InductiveBias(Estimator):
    """The paper's estimator as a scikit-learn estimator.

    ``fit(X)`` takes the losses of sampled hypotheses, one row per hypothesis: ``X`` of shape
    (n_hypotheses, n_test_points) holds per-test-point losses and the hypothesis' test loss is the row
    mean (one column: the losses themselves); the scaled ncx2 is fitted by maximum likelihood
    (:func:`fit_ncx2`) and stored in ``fit_``.  ``bits(eps)`` evaluates I(eps); ``score_samples(X)``
    is the fitted log density of each row's loss and ``score(X)`` their sum (model selection).

    Parameters
    ----------
    tail : {"log_ndtr", "paper"}
        How the far lower tail is evaluated where scipy's log CDF underflows (Sankaran's approximation).
    """

    _parameter_constraints = {"tail": [StrOptions({"log_ndtr", "paper"})]}

    def __init__(self, tail: str = "log_ndtr"):
        self.tail = tail

    def _losses(self, X, *, reset: bool):
        X = np.asarray(to_numpy(self._validate_X(X, reset=reset, ensure_min_samples=3)), dtype=np.float64)
        check_non_negative(X, "NCX2InductiveBias (X, the losses)")
        losses = X.mean(axis=1)
        if np.any(losses <= 0):
            raise ValueError(f"X must hold losses with a positive mean per row, got a row of zeros (row "
                             f"{int(np.argmin(losses))})")
        return losses

    def fit(self, X, y=None):
        """Fit the scaled ncx2 to the row means of ``X`` (y is ignored)."""
        self._validate_params()
        losses = self._losses(X, reset=True)
        self.fit_ = fit_ncx2(losses)
        self.n_samples_ = int(losses.size)
        return self

    def bits(self, eps) -> float:
        """I(eps) in bits under the fitted ncx2."""
        check_fitted(self)
        check_positive(eps, "eps")
        return (-self.fit_.log_cdf(eps, tail=self.tail)[0] + 0.0) / LN2

    def score_samples(self, X):
        """Fitted log density of each row's loss."""
        check_fitted(self)
        X = np.asarray(to_numpy(self._validate_X(X, reset=False)), dtype=np.float64)
        return ncx2_logpdf(X.mean(axis=1), self.fit_.df, self.fit_.nc, self.fit_.scale)

    def score(self, X, y=None) -> float:
        """Total log-likelihood of the rows' losses under the fitted ncx2."""
        return float(np.sum(self.score_samples(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.array_api_support = False
        return tags


def _as_float64(a, name):
    xp = array_namespace(a) if hasattr(a, "__array_namespace__") or hasattr(a, "dtype") else np
    arr = xp.asarray(a)
    if not (isinstance(arr.dtype, np.dtype) and arr.dtype.kind in "biuf") and not (
            not isinstance(arr.dtype, np.dtype) and xp.isdtype(arr.dtype, ("real floating", "integral", "bool"))):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return xp.astype(arr, xp.float64)


def _check_no_conflicting_duplicates(x_train, y_train):
    x = np.asarray(to_numpy(x_train))
    y = np.asarray(to_numpy(y_train)).reshape(x.shape[0] if x.ndim else 1, -1)
    if x.ndim != 2 or y.shape[0] != x.shape[0]:
        return  # shapes are checked, with their own messages, by gp_posterior
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    clash = np.flatnonzero(np.any(y != y[first[inverse]], axis=1))
    if clash.size:
        i = int(clash[0])
        j = int(first[inverse[i]])
        raise ValueError(
            f"x_train rows {j} and {i} are equal but y_train differs there: no noise-free interpolant exists "
            "(remove the duplicate or use distinct inputs)")


@dataclass(frozen=True)
class InductiveBiasResult:
    """Exact I(eps) for a GP-posterior hypothesis space.

    Attributes
    ----------
    bits : float
        I(eps) = -log2 P(loss <= eps); ``inf`` when eps is at or below ``min_loss``.
    bits_error : float
        Bound on the error of ``bits`` (from :class:`~theory.inductive_bias.gen_chi2.CDFResult`).
    eps : float
        The test-loss level.
    method : str
        How P was computed (``"ruben"``, ``"bromwich"``, ``"imhof"``, ``"saddlepoint"``, ...).
    probability_abs_error : float
        Bound on the absolute error of P.
    approximate : bool
        True when the value rests on the saddle-point approximation.
    min_loss, mean_loss : float
        Smallest attainable and mean test loss.
    distribution : GeneralizedChi2
        The exact law of the test loss.
    """

    bits: float
    bits_error: float
    eps: float
    method: str
    probability_abs_error: float
    approximate: bool
    min_loss: float
    mean_loss: float
    distribution: GeneralizedChi2

    @property
    def attainable(self) -> bool:
        return math.isfinite(self.bits)


def exact_inductive_bias(x_train, y_train, x_test, y_test, eps, kernel: Callable | None = None, *,
                         jitter: float = 1e-10, method: str = "auto") -> InductiveBiasResult:
    """I(eps) in bits for the noise-free GP-posterior hypothesis space of ``kernel`` (RBF by default).

    Inputs are computed in float64 whatever their dtype (in their own array namespace).  eps <= 0 raises
    ``ValueError``; so do training inputs repeated with different targets (no noise-free interpolant
    exists).  eps at or below the smallest attainable test loss gives ``bits = inf`` with
    ``method = "below_minimum"`` and a :class:`BelowMinimumWarning`.
    """
    check_positive(eps, "eps")
    x_train, y_train, x_test, y_test = (_as_float64(a, name) for a, name in (
        (x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")))
    _check_no_conflicting_duplicates(x_train, y_train)
    posterior = gp_posterior(x_train, y_train, x_test, kernel, jitter=jitter)
    dist = loss_distribution(posterior, y_test)
    result = dist.log_cdf_result(eps, method)
    if not result.attainable:
        warnings.warn(
            f"eps={eps!r} is at or below the smallest attainable test loss {dist.minimum!r}: "
            "no hypothesis reaches it and the inductive bias is infinite",
            BelowMinimumWarning,
            stacklevel=2,
        )
    return InductiveBiasResult(
        bits=result.bits + 0.0,
        bits_error=result.bits_error,
        eps=float(eps),
        method=result.method,
        probability_abs_error=result.abs_error,
        approximate=result.approximate,
        min_loss=dist.minimum,
        mean_loss=dist.mean,
        distribution=dist,
    )
