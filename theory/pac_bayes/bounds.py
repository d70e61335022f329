"""Certified test-set, Occam and PAC-Bayes bounds, vectorised over arrays (NumPy, CuPy, array-api-strict).

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957.  The paper bounds the risk
of a prompt chosen on training data with the Occam / PAC-Bayes bounds coded here (posterior = point
mass on the prompt, so KL = ln 1/P(prompt)).  Notation: n samples, k mistakes, r = k/n, KL in nats,
each bound holds with probability >= 1 - delta.

Equations coded (reference sheet ``pac_bayes.md``):

* test set (Langford 2005): R <= Bin(n, k, delta) = max{p : P[Binomial(n, p) <= k] >= delta};
  realizable: 1 - delta^(1/n); kl relaxation kl^-1(k/n, ln(1/delta)/n);
* Occam, countable class with prior pi: Bin(n, k, pi delta), kl^-1(r, (ln 1/pi + ln 1/delta)/n),
  r + sqrt((ln 1/pi + ln 1/delta)/(2n)), and (ln 1/pi + ln 1/delta)/n when k = 0;
* McAllester 1999: r + sqrt((KL + ln(1/delta) + ln n + 2)/(2n - 1));
* sqrt form: r + sqrt((KL + ln(2 sqrt(n)/delta))/(2n));
* Maurer 2004 (PAC-Bayes-kl): kl^-1(r, (KL + ln(2 sqrt(n)/delta))/n);
* Langford-Seeger 2001: kl^-1(r, (KL + ln((n+1)/delta))/n);
* Catoni 2007 at fixed C: (1 - exp(-C r - (KL + ln 1/delta)/n)) / (1 - exp(-C)); minimised over a grid of
  m values of C with a union bound (delta/m each).

Certification.  kl-form bounds use the certified :func:`theory.pac_bayes.kl.kl_inverse`; the binomial
bounds check P[Bin(n, p) <= k] < delta at the returned p with an allowance for the CDF's round-off;
closed forms are rounded up by a few ulps; every bound is clipped to [r, 1] (raising an upper bound or
capping it at 1 is always safe).  An infinite KL or complexity is allowed and gives the bound 1.

Dtypes.  Every bound is computed in float64 and returned as float64, whatever real dtype comes in
(float32 values convert exactly, so the bound refers to the values received and is never rounded down
into float32).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import special
from kernels.validation import check_in_open_interval
from theory.pac_bayes.kl import broadcast, check_range, kl_inverse_any, namespace, real_array

__all__ = [
    "binomial_test_set_bound",
    "test_set_kl_bound",
    "realizable_test_set_bound",
    "occam_bound",
    "mcallester_1999_bound",
    "sqrt_bound",
    "maurer_bound",
    "langford_seeger_bound",
    "catoni_bound",
    "all_bounds",
    "DEFAULT_CATONI_GRID",
    "OCCAM_FORMS",
    "MAX_N",
]

_EPS = float(np.finfo(np.float64).eps)
# Number of ulps closed forms are pushed up by (each uses <= 8 correctly rounded operations).
_ROUND_UP = 16 * _EPS
# Allowance for the relative round-off of the binomial CDF (scipy.special.bdtr, via the incomplete beta).
_BDTR_RELATIVE_ERROR = 1e-12
# ln(1/(pi delta)) above which pi delta is below the smallest normal double: the kl relaxation is used.
_LOG_MASS_LIMIT = 700.0
# Largest sample size: every count 0..n is an exact float64, so k/n is correctly rounded.
MAX_N = 2**53
DEFAULT_CATONI_GRID = tuple(float(c) for c in np.geomspace(0.01, 100.0, 41))
OCCAM_FORMS = ("binomial", "kl", "hoeffding", "realizable")


# --- validation -----------------------------------------------------------------------------------


def _check_delta(delta):
    return check_in_open_interval(delta, "delta", 0.0, 1.0)


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)):
        raise TypeError(f"n must be an integer in [1, 2**53], got {n!r}")
    if isinstance(n, (float, np.floating)) and not (math.isfinite(n) and float(n).is_integer()):
        raise TypeError(f"n must be an integer in [1, 2**53], got {n!r}")
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be an integer in [1, 2**53], got {n!r}")
    return int(n)


def _errors_and_n(errors, n, xp):
    n = _check_n(n)
    k = check_range(real_array(errors, "errors", xp), "errors", xp, 0.0, float(n))
    if bool(xp.any(k != xp.round(k))):
        raise ValueError("errors must hold whole numbers of mistakes (0..n)")
    return k, n


def _risk_n_kl(risk, n, kl, xp):
    n = _check_n(n)
    r = check_range(real_array(risk, "risk", xp), "risk", xp, 0.0, 1.0)
    kl = check_range(real_array(kl, "kl", xp, allow_inf=True), "kl", xp, 0.0, math.inf)
    r, kl = broadcast(xp, risk=r, kl=kl)
    return r, n, kl


# --- rounding ---------------------------------------------------------------------------------------


def _round_up(x, xp):
    """Push a closed-form value up by a few ulps so that its round-off cannot make it undershoot."""
    return x + _ROUND_UP * xp.abs(x) + 1e-300


def _round_up_scalar(x: float) -> float:
    return x * (1 + _ROUND_UP) + 1e-300 if x > 0 else 0.0


def _finish(bound, risk, xp):
    """Clip to [risk, 1]: raising an upper bound to the empirical risk or capping it at 1 is always safe."""
    return xp.minimum(xp.maximum(bound, risk), xp.ones_like(bound))


# --- binomial tail inversion ------------------------------------------------------------------------


def _binomial_tail_inverse(k, n, log_delta, xp):
    """max{p : P[Binomial(n, p) <= k] >= delta}, certified from above, for delta = exp(log_delta).

    P[Bin(n, p) <= k] = 1 - I_p(k + 1, n - k), so the root is I_p^{-1}(k + 1, n - k) at upper-tail mass delta
    (``betainccinv``).  The final step checks P[Bin(n, p_hi) <= k] < delta (with a relative allowance for
    the CDF's own round-off) and moves p_hi up until it holds; k = n gives 1, k = 0 the closed form.
    """
    sp = special(xp)
    delta = xp.exp(log_delta)
    full = k >= n
    a = xp.where(full, xp.ones_like(k), k + 1)
    b = xp.where(full, xp.ones_like(k), n - k)
    p = sp.betainccinv(a, b, delta)
    p = xp.where(full, xp.ones_like(p), p)
    p = xp.where(k == 0, -xp.expm1(log_delta / n), p)  # 1 - delta^(1/n)
    pending = ~full
    margin = 4 * _EPS * xp.abs(p) + 1e-300
    k_safe = xp.where(full, xp.zeros_like(k), k)
    for _ in range(200):
        trial = xp.minimum(p + margin, xp.ones_like(p))
        cdf = sp.bdtr(k_safe, n, trial)
        ok = pending & ((cdf < delta * (1 - _BDTR_RELATIVE_ERROR)) | (trial == 1))
        p = xp.where(ok, trial, p)
        pending = pending & ~ok
        if not bool(xp.any(pending)):
            break
        margin = 2 * margin
    return xp.where(pending, xp.ones_like(p), p)


# --- test-set bounds ----------------------------------------------------------------------------------


def binomial_test_set_bound(errors, n, delta):
    """Langford's test-set bound by exact binomial tail inversion.

    .. math:: R \\le \\mathrm{Bin}(n, k, \\delta) = \\max\\{p : P[\\mathrm{Binomial}(n, p) \\le k] \\ge \\delta\\}

    Parameters
    ----------
    errors : float or array
        k, the number of mistakes on n held-out samples (whole numbers in [0, n]).
    n : int
        Number of held-out samples, in [1, 2**53].
    delta : float
        Confidence parameter in (0, 1).

    Returns
    -------
    array (float64)
        The tightest test-set bound, certified from above; never larger than :func:`test_set_kl_bound`.
    """
    xp = namespace(errors)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    log_delta = xp.full_like(k, math.log(delta))
    return _finish(_binomial_tail_inverse(k, n, log_delta, xp), k / n, xp)


def test_set_kl_bound(errors, n, delta):
    """The kl relaxation of the test-set bound, R <= kl^-1(k/n, ln(1/delta)/n).

    Parameters as :func:`binomial_test_set_bound`; returns float64, certified from above.
    """
    xp = namespace(errors)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    r = k / n
    c = xp.full_like(r, _round_up_scalar(math.log(1 / delta) / n))
    return _finish(kl_inverse_any(r, c, xp, upper=True), r, xp)


def realizable_test_set_bound(n, delta) -> float:
    """No mistakes on n test samples: R <= 1 - delta^(1/n) = -expm1(ln(delta)/n), rounded up (a float)."""
    delta = _check_delta(delta)
    n = _check_n(n)
    value = -math.expm1(math.log(delta) / n)
    return min(1.0, value * (1 + _ROUND_UP) + 1e-300)


# --- Occam bounds -------------------------------------------------------------------------------------


def occam_bound(errors, n, complexity, delta, form="binomial"):
    """Occam bound for a countable class with prior pi, valid for all h at once (so for a data-chosen h).

    .. math:: R(h) \\le \\mathrm{Bin}(n, k_h, \\pi(h) \\delta) \\quad \\text{for all } h \\text{ at once}

    Parameters
    ----------
    errors : float or array
        k_h, mistakes of each hypothesis on the n samples.
    n : int
        Number of samples, in [1, 2**53].
    complexity : float or array
        ln(1/pi(h)) in nats (the KL of a point-mass posterior), in [0, inf]; broadcast with ``errors``.
    delta : float
        Confidence parameter in (0, 1).
    form : {"binomial", "kl", "hoeffding", "realizable"}
        ``binomial`` Bin(n, k, pi(h) delta) (tightest; in log space, so tiny pi(h) is fine), ``kl``
        kl^-1(r, (ln 1/pi + ln 1/delta)/n), ``hoeffding`` r + sqrt((ln 1/pi + ln 1/delta)/(2n)),
        ``realizable`` (ln 1/pi + ln 1/delta)/n, only for k = 0 (raises otherwise).

    Returns
    -------
    array (float64)
        The bound, certified from above, in [k/n, 1]; 1 where the complexity is infinite.
    """
    if form not in OCCAM_FORMS:
        raise ValueError(f"form must be one of {OCCAM_FORMS}, got {form!r}")
    xp = namespace(errors, complexity)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    complexity = real_array(complexity, "complexity", xp, allow_inf=True)
    complexity = check_range(complexity, "complexity = ln(1/prior)", xp, 0.0, math.inf)
    k, complexity = broadcast(xp, errors=k, complexity=complexity)
    r = k / n
    budget = complexity + math.log(1 / delta)  # ln(1/(pi delta))
    if form == "binomial":
        # pi delta below the smallest normal double cannot be passed to betainccinv: those lanes use the
        # kl relaxation, which is a valid (looser) bound.
        tiny = budget > _LOG_MASS_LIMIT
        log_mass = xp.where(tiny, xp.full_like(budget, -1.0), -budget)
        exact = _binomial_tail_inverse(k, n, log_mass, xp)
        relaxed = kl_inverse_any(r, _round_up(budget / n, xp), xp, upper=True)
        bound = xp.where(tiny, relaxed, exact)
    elif form == "kl":
        bound = kl_inverse_any(r, _round_up(budget / n, xp), xp, upper=True)
    elif form == "hoeffding":
        bound = _round_up(r + xp.sqrt(budget / (2 * n)), xp)
    else:
        if bool(xp.any(k > 0)):
            raise ValueError("form='realizable' needs errors == 0 for every hypothesis")
        bound = _round_up(budget / n, xp)
    return _finish(bound, r, xp)


# --- PAC-Bayes bounds ---------------------------------------------------------------------------------


def mcallester_1999_bound(risk, n, kl, delta):
    """McAllester (1999): R <= r + sqrt((KL + ln(1/delta) + ln n + 2)/(2n - 1)).

    ``risk`` r in [0, 1] and ``kl`` in [0, inf] broadcast together; n in [1, 2**53]; delta in (0, 1).
    Returns float64, rounded up and clipped to [r, 1] (1 for n = 1).
    """
    xp = namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    if n < 2:
        return _finish(xp.ones_like(r), r, xp)
    bound = r + xp.sqrt((kl + math.log(1 / delta) + math.log(n) + 2) / (2 * n - 1))
    return _finish(_round_up(bound, xp), r, xp)


def sqrt_bound(risk, n, kl, delta):
    """McAllester/Maurer square-root form: R <= r + sqrt((KL + ln(2 sqrt(n)/delta))/(2n)).

    Arguments as :func:`mcallester_1999_bound`; float64, rounded up, clipped to [r, 1].
    """
    xp = namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    bound = r + xp.sqrt((kl + math.log(2 * math.sqrt(n) / delta)) / (2 * n))
    return _finish(_round_up(bound, xp), r, xp)


def maurer_bound(risk, n, kl, delta):
    """Maurer (2004) PAC-Bayes-kl: R <= kl^-1(r, (KL + ln(2 sqrt(n)/delta))/n).

    Arguments as :func:`mcallester_1999_bound`; float64, certified from above.
    """
    xp = namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    c = _round_up((kl + math.log(2 * math.sqrt(n) / delta)) / n, xp)
    return _finish(kl_inverse_any(r, c, xp, upper=True), r, xp)


def langford_seeger_bound(risk, n, kl, delta):
    """Langford-Seeger (2001): R <= kl^-1(r, (KL + ln((n+1)/delta))/n).

    Arguments as :func:`mcallester_1999_bound`; float64, certified from above.
    """
    xp = namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    c = _round_up((kl + math.log((n + 1) / delta)) / n, xp)
    return _finish(kl_inverse_any(r, c, xp, upper=True), r, xp)


def catoni_bound(risk, n, kl, delta, grid=DEFAULT_CATONI_GRID):
    """Catoni (2007), minimised over a grid of C with a union bound (each C gets delta/len(grid)).

    .. math:: R \\le \\min_C \\frac{1 - \\exp(-C r - (\\mathrm{KL} + \\ln(|\\mathrm{grid}|/\\delta))/n)}{1 - e^{-C}}

    Arguments as :func:`mcallester_1999_bound`; ``grid`` holds the values C > 0.  Float64, each grid
    value rounded up before the minimum, clipped to [r, 1].
    """
    xp = namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    grid = [check_in_open_interval(C, "grid value C", 0.0, math.inf) for C in grid]
    if not grid:
        raise ValueError("grid must hold at least one value of C > 0")
    penalty = (kl + math.log(len(grid) / delta)) / n
    best = xp.ones_like(r)
    for C in grid:
        # written with expm1 so that small arguments keep their digits
        value = xp.expm1(-C * r - penalty) / math.expm1(-C)
        best = xp.minimum(best, _round_up(value, xp))
    return _finish(best, r, xp)


def all_bounds(errors, n, complexity, delta) -> dict:
    """Every bound for hypotheses with ``errors`` mistakes on n samples and point-mass KL ``complexity``.

    Returns a dict {name: float64 array}: ``occam_binomial``, ``occam_kl``, ``occam_hoeffding`` (see
    :func:`occam_bound`), ``mcallester_1999``, ``sqrt``, ``maurer``, ``langford_seeger``, ``catoni``.
    """
    xp = namespace(errors, complexity)
    k, n = _errors_and_n(errors, n, xp)
    r = k / n
    return {
        "occam_binomial": occam_bound(k, n, complexity, delta, "binomial"),
        "occam_kl": occam_bound(k, n, complexity, delta, "kl"),
        "occam_hoeffding": occam_bound(k, n, complexity, delta, "hoeffding"),
        "mcallester_1999": mcallester_1999_bound(r, n, complexity, delta),
        "sqrt": sqrt_bound(r, n, complexity, delta),
        "maurer": maurer_bound(r, n, complexity, delta),
        "langford_seeger": langford_seeger_bound(r, n, complexity, delta),
        "catoni": catoni_bound(r, n, complexity, delta),
    }
