"""Certified PAC-Bayes and test-set bounds, vectorised over arrays (NumPy, CuPy, array-api-strict).

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957.  The paper bounds the risk
of a prompt chosen on training data with the Occam / PAC-Bayes bounds coded here (posterior = point
mass on the prompt, so KL = ln 1/P(prompt)).  Notation: n samples, k mistakes, r = k/n, KL in nats,
each bound holds with probability >= 1 - delta.

Equations coded (reference sheet ``pac_bayes.md``):

* binary kl: kl(q||p) = q ln(q/p) + (1-q) ln((1-q)/(1-p)), 0 ln 0 = 0;
* kl^-1(q, c) = sup{p in [q, 1] : kl(q||p) <= c} and its lower twin inf{p in [0, q] : kl(q||p) <= c};
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

Certification.  ``kl_inverse`` returns the *upper end* of a bracket that is checked in floating point with
an explicit error allowance: kl is evaluated as q f(d/q) + (1-q) f(-d/(1-q)) with d = p - q and
f(x) = x - ln(1 + x) >= 0 (a sum of non-negative terms, a series near x = 0), whose relative error is
below ``_KL_RELATIVE_ERROR``; an end point p is accepted only when kl(q||p) (1 - that error) > c, so the
exact inverse lies below it.  Closed-form bounds are rounded up by a few ulps; every bound is clipped to
[r, 1] (raising an upper bound or capping it at 1 is always safe).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from kernels.backend import array_namespace, asarray, special
from kernels.validation import check_in_open_interval, check_positive_int

__all__ = [
    "binary_kl",
    "kl_inverse",
    "kl_inverse_lower",
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
    "monte_carlo_coverage",
]

_EPS = float(np.finfo(np.float64).eps)
# Bound on the relative error of the kl evaluation below (256 ulps; measured at most 41 ulps against
# mpmath over 9,000 pairs spanning q, p in 1e-14..1).
_KL_RELATIVE_ERROR = 256 * _EPS
# Number of ulps closed forms are pushed up by (each uses <= 8 correctly rounded operations).
_ROUND_UP = 16 * _EPS
# Allowance for the relative round-off of the binomial CDF (scipy.special.bdtr, via the incomplete beta).
_BDTR_RELATIVE_ERROR = 1e-12
_TINY = 1e-280
DEFAULT_CATONI_GRID = tuple(float(c) for c in np.geomspace(0.01, 100.0, 41))

# f(x) = x - log1p(x) near 0: with u = x/(2+x), log1p(x) = 2 atanh(u), so
# f(x) = x^2/(2+x) - 2 (u^3/3 + u^5/5 + ...), a sum without cancellation.  For |x| < 1/8, |u| < 1/15
# and eight odd terms leave a truncation error below 1e-19 relative.
_SERIES_RADIUS = 0.125
_SERIES_TERMS = 8


# --- validation helpers -------------------------------------------------------------------------


def _as_array(x, name, xp):
    if isinstance(x, bool):
        raise TypeError(f"{name} must be a real number or array, got {x!r}")
    return asarray(x, xp=xp, name=name)


def _check_range(x, name, xp, low, high, *, low_open=False):
    bad_low = x <= low if low_open else x < low
    bad = bad_low | (x > high)
    if bool(xp.any(bad)):
        # the first offending value, for the message
        offending = float(xp.min(xp.where(bad, x, xp.asarray(math.inf, dtype=x.dtype))))
        if not bool(xp.any(bad & (x == offending))):
            offending = float(xp.max(xp.where(bad, x, xp.asarray(-math.inf, dtype=x.dtype))))
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must lie in {bracket}{low}, {high}], got {offending!r}")
    return x


def _namespace(*values):
    arrays = [v for v in values if v is not None and not isinstance(v, (numbers.Number, list, tuple))]
    return array_namespace(*arrays)


def _check_delta(delta):
    return check_in_open_interval(delta, "delta", 0.0, 1.0)


# --- binary kl ------------------------------------------------------------------------------------


def _f_series(x, xp):
    """f(x) = x - ln(1 + x) for |x| < 1/8 (atanh series, see _SERIES_TERMS)."""
    u = x / (2 + x)
    u2 = u * u
    tail = xp.zeros_like(x)
    for j in range(2 * _SERIES_TERMS + 1, 1, -2):  # Horner on sum_k u^(2k-2) / (2k+1), k >= 1
        tail = tail * u2 + 1.0 / j
    return x * x / (2 + x) - 2 * u * u2 * tail


def _f_of_ratio(x, ratio, xp):
    """f(x) = x - ln(ratio) where ratio = 1 + x was computed accurately (series for small |x|)."""
    small = xp.abs(x) < _SERIES_RADIUS
    any_small = bool(xp.any(small))
    if any_small:
        series = _f_series(xp.where(small, x, xp.zeros_like(x)), xp)
        if bool(xp.all(small)):
            return series
    positive = ratio > 0
    log_ratio = xp.log(xp.where(positive, ratio, xp.ones_like(ratio)))
    direct = xp.where(positive, x - log_ratio, xp.full_like(x, math.inf))
    return xp.where(small, series, direct) if any_small else direct


def _kl_terms(q, p, xp):
    """kl(q||p) for q, p in [0, 1] as q f(d/q) + (1-q) f(-d/(1-q)), d = p - q; inf where undefined."""
    one = xp.ones_like(q)
    d = p - q
    q_pos = q > 0
    q_lt1 = q < 1
    q_safe = xp.where(q_pos, q, one)
    finite = xp.abs(d) < q * 1e300  # d/q representable
    q_div = xp.where(finite, q_safe, one)
    term1 = q * _f_of_ratio(xp.where(finite, d / q_div, one), xp.where(finite, p / q_div, one + one), xp)
    if not bool(xp.all(finite)):
        # q so small that d/q overflows (subnormal q): q f(d/q) = d - q ln(p/q), the second part negligible
        p_safe = xp.where(p > 0, p, one)
        term1 = xp.where(finite, term1, d - q * (xp.log(p_safe) - xp.log(q_safe)))
    term1 = xp.where(q_pos, term1, d)
    # 1 + x2 = (1 - p)/(1 - q) is formed from 1 - p directly so that p near 1 keeps its accuracy.
    one_minus_q = xp.where(q_lt1, 1 - q, one)
    f2 = _f_of_ratio(-d / one_minus_q, (1 - p) / one_minus_q, xp)
    # q = 1: term1 = f(p - 1) = p - 1 - ln p, and term2 = 1 - p completes kl(1||p) = -ln p
    term2 = xp.where(q_lt1, one_minus_q * f2, -d)
    return term1 + term2


def binary_kl(q, p):
    """kl(q||p) = q ln(q/p) + (1-q) ln((1-q)/(1-p)) elementwise, with 0 ln 0 = 0 (``inf`` where p hits 0 or 1
    and q does not)."""
    xp = _namespace(q, p)
    q = _check_range(_as_array(q, "q", xp), "q", xp, 0.0, 1.0)
    p = _check_range(_as_array(p, "p", xp), "p", xp, 0.0, 1.0)
    q, p = xp.broadcast_arrays(q, p)
    return _binary_kl(q, p, xp)


def _binary_kl(q, p, xp):
    out = _kl_terms(q, p, xp)
    # both terms are >= 0 in exact arithmetic; the series can return -0.0 or a subnormal negative
    return xp.where(out < 0, xp.zeros_like(out), out)


# --- certified kl inverse -------------------------------------------------------------------------


def _kl_plain(q, p, xp):
    """kl(q||p) by the textbook two-logarithm formula, for q, p in (0, 1) up to the ends handled below:
    cheap, accurate to ~eps absolute (not relative), used only to approach the root."""
    one = xp.ones_like(q)
    inside = (p > _TINY) & (p < 1)  # below _TINY the ratio q/p could overflow
    p_in = xp.where(inside, p, xp.full_like(p, 0.5))
    first = xp.where(q > 0, q * xp.log(xp.where(q > 0, q, one) / p_in), 0.0)
    second = xp.where(q < 1, (1 - q) * xp.log(xp.where(q < 1, 1 - q, one) / (1 - p_in)), 0.0)
    return xp.where(inside, first + second, math.inf)


def _certified_above(q, p, c, xp):
    """True where the exact kl(q||p) > c is guaranteed despite round-off (p on the far side of the root)."""
    value = _binary_kl(q, p, xp)
    return value * (1 - _KL_RELATIVE_ERROR) > c


def _kl_inverse_block(q, c, xp, upper: bool):
    """Vectorised Newton from the far side of the root, then a certified final end point."""
    one = xp.ones_like(q)
    zero = xp.zeros_like(q)
    sign = 1.0 if upper else -1.0
    boundary = one if upper else zero
    finite_c = xp.isfinite(c)
    c_fin = xp.where(finite_c, c, zero)
    # Starting points on the far side of the root: Pinsker (|p - q| <= sqrt(c/2)) and the tail bound
    # kl(q||p) >= (1-q) ln((1-q)/(1-p)) - q ln(1/q)  (upper side; mirrored for the lower side).
    pinsker = q + sign * xp.sqrt(c_fin / 2)
    tail_mass = (1 - q) if upper else q
    other = q if upper else (1 - q)
    other_safe = xp.where(other > 0, other, one)
    entropy_part = xp.where(other > 0, -other * xp.log(other_safe), zero)
    tail_safe = xp.where(tail_mass > 0, tail_mass, one)
    exponent = -(c_fin + entropy_part) / tail_safe
    # upper: 1 - (1-q) e^x written as q - (1-q) expm1(x), which keeps tiny c accurate
    tail_start = (q - tail_mass * xp.expm1(exponent)) if upper else tail_mass * xp.exp(exponent)
    # and, for the upper side, kl(q||p) >= (p - q)^2 / (2p), i.e. p <= q + c + sqrt(c^2 + 2 q c): much
    # closer than Pinsker when q is small
    if upper:
        refined = q + c_fin + xp.sqrt(c_fin * c_fin + 2 * q * c_fin)
        start = xp.minimum(xp.minimum(pinsker, tail_start), refined)
        start = xp.minimum(xp.maximum(start, q), one)
    else:
        start = xp.maximum(pinsker, tail_start)
        start = xp.maximum(xp.minimum(start, q), zero)
    # Trivial cases: the answer is the boundary (q at it, c infinite) or q itself (c = 0).
    at_boundary = (q == boundary) | (~finite_c) | (start == boundary)
    at_q = (c == 0) & ~at_boundary
    active = ~(at_boundary | at_q)
    p = xp.where(active, start, xp.where(at_q, q, boundary))
    lo_clamp, hi_clamp = xp.minimum(q, boundary), xp.maximum(q, boundary)

    def newton(lanes, kl_of, far_side_only, max_iter, moved_tol):
        # Newton on g(p) = kl(q||p) - c, convex and monotone on this side: from the far side the iterates
        # approach the root monotonically and quadratically.  Only lanes still moving are computed
        # (gathered with a boolean mask); a lane stops once its step no longer changes p.
        for _ in range(max_iter):
            if not bool(xp.any(lanes)):
                break
            qa, ca, pa = q[lanes], c_fin[lanes], p[lanes]
            g = kl_of(qa, pa, xp) - ca
            interior = (pa > _TINY) & (pa < 1)  # roots below _TINY keep their far-side start point
            one_a = xp.ones_like(pa)
            slope = (pa - qa) / xp.where(interior, pa * (1 - pa), one_a)
            usable = interior & (slope != 0) & xp.isfinite(g) & ((g > 0) if far_side_only else (g == g))
            p_new = pa - xp.where(usable, g / xp.where(usable, slope, one_a), xp.zeros_like(pa))
            p_new = xp.minimum(xp.maximum(p_new, lo_clamp[lanes]), hi_clamp[lanes])
            # round-off can push a step past q (kl of 1 - p at the last ulp): never go more than
            # 1023/1024 of the way to q, so that the lane keeps a nonzero slope and can recover
            guard = qa + sign * xp.abs(pa - qa) / 1024
            p_new = xp.maximum(p_new, guard) if upper else xp.minimum(p_new, guard)
            p[lanes] = p_new
            lanes[lanes] = usable & (xp.abs(p_new - pa) > moved_tol * xp.abs(pa - qa) + 4 * _EPS * xp.abs(pa))

    # Phase 1: the textbook two-logarithm kl (cheap) until the steps are ~1e-10 of |p - q|.
    solved = ~(at_boundary | at_q)
    newton(active, _kl_plain, True, 60, 1e-10)
    # Phase 2: the accurate kl.  The first step may start on the near side (round-off of the plain
    # formula), and then lands on the far side; later steps stay there until they stop mattering.
    polish = xp.asarray(solved, copy=True)
    # A lane whose first accurate step is below 1e-6 |p - q| is done (quadratic convergence).
    newton(polish, _binary_kl, False, 1, 1e-6)
    newton(polish, _binary_kl, True, 20, 0.0)
    # Final certified end point.  First trial: the estimate pushed out by its uncertainty (relative kl
    # error times c over the slope, plus a few ulps); lanes that fail the check double the push.
    pending = ~(at_boundary | at_q)  # c = 0: q itself is exact
    qa, ca, pa = q[pending], c_fin[pending], p[pending]
    interior = (pa > _TINY) & (pa < 1)
    slope = xp.abs(pa - qa) / xp.where(interior, pa * (1 - pa), xp.ones_like(pa))
    spread = xp.where(slope > 0, _KL_RELATIVE_ERROR * ca / xp.where(slope > 0, slope, xp.ones_like(pa)), 0.0)
    margin = 2 * spread + 4 * _EPS * xp.abs(pa)
    result = xp.full_like(pa, 1.0 if upper else 0.0)
    waiting = xp.ones_like(pa, dtype=xp.bool)
    for _ in range(80):
        trial = pa + sign * margin
        trial = xp.minimum(trial, 1.0) if upper else xp.maximum(trial, 0.0)
        ok = waiting & (_certified_above(qa, trial, ca, xp) | (trial == (1.0 if upper else 0.0)))
        result = xp.where(ok, trial, result)
        waiting = waiting & ~ok
        if not bool(xp.any(waiting)):
            break
        margin = xp.maximum(2 * margin, 1e-300)
    p[pending] = result  # lanes never certified keep the boundary value, which is always safe
    return p


_BLOCK = 1 << 15  # lanes per block: keeps the working arrays in cache


def _kl_inverse(q, c, xp, upper: bool):
    shape = q.shape
    q = xp.reshape(q, (-1,))
    c = xp.reshape(c, (-1,))
    n = q.shape[0]
    if n <= _BLOCK:
        out = _kl_inverse_block(q, c, xp, upper)
    else:
        out = xp.concat([_kl_inverse_block(q[i : i + _BLOCK], c[i : i + _BLOCK], xp, upper) for i in range(0, n, _BLOCK)])
    return xp.reshape(out, shape)


def _validated_kl_inverse(q, c, *, upper):
    """Validate q in [0, 1] and c in [0, inf], broadcast them, and invert (upper or lower branch)."""
    xp = _namespace(q, c)
    q = _check_range(_as_array(q, "q", xp), "q", xp, 0.0, 1.0)
    c = xp.asarray(c, dtype=q.dtype) if not hasattr(c, "dtype") else c
    if bool(xp.any(c < 0)) or bool(xp.any(xp.isnan(c))):
        raise ValueError(f"c must lie in [0, inf], got {float(xp.min(c))!r}")
    q, c = xp.broadcast_arrays(q, xp.astype(c, q.dtype))
    return _kl_inverse(q, c, xp, upper=upper)


def kl_inverse(q, c):
    """Certified upper inverse kl^-1(q, c) = sup{p in [q, 1] : kl(q||p) <= c}, elementwise.

    Never below the exact value, and within 1e-12 of it (tested against mpmath at 50 digits).
    Exact cases: q = 1 or c = inf gives 1; c = 0 gives the smallest certified value >= q
    (q itself); q = 0 gives 1 - e^-c up to the certificate.
    """
    return _validated_kl_inverse(q, c, upper=True)


def kl_inverse_lower(q, c):
    """Certified lower inverse inf{p in [0, q] : kl(q||p) <= c}: never above the exact value."""
    return _validated_kl_inverse(q, c, upper=False)


# --- bounds -----------------------------------------------------------------------------------------


def _round_up(x, xp):
    """Push a closed-form value up by a few ulps so that its round-off cannot make it undershoot."""
    return x + _ROUND_UP * xp.abs(x) + 1e-300


def _finish(bound, risk, xp):
    """Clip to [risk, 1]: raising an upper bound to the empirical risk or capping it at 1 is always safe."""
    return xp.minimum(xp.maximum(bound, risk), xp.ones_like(bound))


def _errors_and_n(errors, n, xp):
    n = check_positive_int(n, "n")
    k = _as_array(errors, "errors", xp)
    _check_range(k, "errors", xp, 0.0, float(n))
    if bool(xp.any(k != xp.round(k))):
        raise ValueError("errors must hold whole numbers of mistakes (0..n)")
    return k, n


def _risk_n_kl(risk, n, kl, xp):
    n = check_positive_int(n, "n")
    r = _check_range(_as_array(risk, "risk", xp), "risk", xp, 0.0, 1.0)
    kl = _as_array(kl, "kl", xp)
    if bool(xp.any(kl < 0)):
        raise ValueError(f"kl must lie in [0, inf), got {float(xp.min(kl))!r}")
    r, kl = xp.broadcast_arrays(r, xp.astype(kl, r.dtype))
    return r, n, kl


def _binomial_tail_inverse(k, n, log_delta, xp):
    """max{p : P[Binomial(n, p) <= k] >= delta}, certified from above, for delta = exp(log_delta).

    P[Bin(n, p) <= k] = 1 - I_p(k + 1, n - k), so the root is I_p^{-1}(k + 1, n - k) at upper-tail mass delta
    (``betainccinv``).  The final step checks P[Bin(n, p_hi) <= k] < delta (with a relative allowance for
    the CDF's own round-off) and moves p_hi up until it holds; k = n gives 1.
    """
    sp = special(xp)
    delta = xp.exp(log_delta)
    full = k >= n
    a = xp.where(full, xp.ones_like(k), k + 1)
    b = xp.where(full, xp.ones_like(k), n - k)
    p = sp.betainccinv(a, b, delta)
    p = xp.where(full, xp.ones_like(p), p)
    # k = 0 has the closed form 1 - delta^(1/n) = -expm1(ln(delta)/n)
    realizable = -xp.expm1(log_delta / n)
    p = xp.where(k == 0, realizable, p)
    pending = ~full
    margin = 4 * _EPS * xp.abs(p) + 1e-300
    for _ in range(200):
        trial = xp.minimum(p + margin, xp.ones_like(p))
        cdf = sp.bdtr(xp.where(full, xp.zeros_like(k), k), n, trial)
        ok = pending & ((cdf < delta * (1 - _BDTR_RELATIVE_ERROR)) | (trial == 1))
        p = xp.where(ok, trial, p)
        pending = pending & ~ok
        if not bool(xp.any(pending)):
            break
        margin = 2 * margin
    return xp.where(pending, xp.ones_like(p), p)


def binomial_test_set_bound(errors, n, delta):
    """Langford's test-set bound: the true risk is <= Bin(n, k, delta) = max{p : P[Bin(n, p) <= k] >= delta}.

    ``errors`` (k mistakes on n held-out samples) may be an array.  Exact binomial tail inversion,
    the tightest test-set bound; never larger than :func:`test_set_kl_bound`.
    """
    xp = _namespace(errors)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    log_delta = xp.full_like(k, math.log(delta))
    return _finish(_binomial_tail_inverse(k, n, log_delta, xp), k / n, xp)


def test_set_kl_bound(errors, n, delta):
    """The kl relaxation of the test-set bound: kl^-1(k/n, ln(1/delta)/n)."""
    xp = _namespace(errors)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    r = k / n
    c = xp.full_like(r, _round_up_scalar(math.log(1 / delta) / n))
    return _finish(_kl_inverse(r, c, xp, upper=True), r, xp)


def realizable_test_set_bound(n, delta):
    """No mistakes on n test samples: the risk is <= 1 - delta^(1/n) (= -expm1(ln(delta)/n), rounded up)."""
    delta = _check_delta(delta)
    n = check_positive_int(n, "n")
    value = -math.expm1(math.log(delta) / n)
    return min(1.0, value * (1 + _ROUND_UP) + 1e-300)


def _round_up_scalar(x: float) -> float:
    return x * (1 + _ROUND_UP) + 1e-300 if x > 0 else 0.0


OCCAM_FORMS = ("binomial", "kl", "hoeffding", "realizable")


def occam_bound(errors, n, complexity, delta, form="binomial"):
    """Occam bound for a countable class with prior pi, valid for all h at once (so for a data-chosen h).

    ``complexity`` = ln(1/pi(h)) in nats (the KL of a point-mass posterior), an array like ``errors``.
    Forms: ``binomial`` Bin(n, k, pi(h) delta) (tightest; computed in log space, so tiny pi(h) is fine),
    ``kl`` kl^-1(r, (ln 1/pi + ln 1/delta)/n), ``hoeffding`` r + sqrt((ln 1/pi + ln 1/delta)/(2n)),
    ``realizable`` (ln 1/pi + ln 1/delta)/n, only for k = 0 (nan-free: raises otherwise).
    """
    if form not in OCCAM_FORMS:
        raise ValueError(f"form must be one of {OCCAM_FORMS}, got {form!r}")
    xp = _namespace(errors, complexity)
    delta = _check_delta(delta)
    k, n = _errors_and_n(errors, n, xp)
    complexity = _as_array(complexity, "complexity", xp)
    if bool(xp.any(complexity < 0)):
        raise ValueError(f"complexity = ln(1/prior) must lie in [0, inf), got {float(xp.min(complexity))!r}")
    k, complexity = xp.broadcast_arrays(k, xp.astype(complexity, k.dtype))
    r = k / n
    budget = complexity + math.log(1 / delta)  # ln(1/(pi delta))
    if form == "binomial":
        # pi delta below the smallest normal double cannot be passed to betainccinv: those lanes use the
        # kl relaxation, which is a valid (looser) bound.
        tiny = budget > 700.0
        log_mass = xp.where(tiny, xp.full_like(budget, -1.0), -budget)
        exact = _binomial_tail_inverse(k, n, log_mass, xp)
        relaxed = _kl_inverse(r, _round_up(budget / n, xp), xp, upper=True)
        bound = xp.where(tiny, relaxed, exact)
    elif form == "kl":
        bound = _kl_inverse(r, _round_up(budget / n, xp), xp, upper=True)
    elif form == "hoeffding":
        bound = _round_up(r + xp.sqrt(budget / (2 * n)), xp)
    else:
        if bool(xp.any(k > 0)):
            raise ValueError("form='realizable' needs errors == 0 for every hypothesis")
        bound = _round_up(budget / n, xp)
    return _finish(bound, r, xp)


def mcallester_1999_bound(risk, n, kl, delta):
    """McAllester (1999): R <= r + sqrt((KL + ln(1/delta) + ln n + 2)/(2n - 1))."""
    xp = _namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    if n < 2:
        return _finish(xp.ones_like(r), r, xp)
    bound = r + xp.sqrt((kl + math.log(1 / delta) + math.log(n) + 2) / (2 * n - 1))
    return _finish(_round_up(bound, xp), r, xp)


def sqrt_bound(risk, n, kl, delta):
    """McAllester/Maurer square-root form: R <= r + sqrt((KL + ln(2 sqrt(n)/delta))/(2n))."""
    xp = _namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    bound = r + xp.sqrt((kl + math.log(2 * math.sqrt(n) / delta)) / (2 * n))
    return _finish(_round_up(bound, xp), r, xp)


def maurer_bound(risk, n, kl, delta):
    """Maurer (2004) PAC-Bayes-kl: R <= kl^-1(r, (KL + ln(2 sqrt(n)/delta))/n)."""
    xp = _namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    c = _round_up((kl + math.log(2 * math.sqrt(n) / delta)) / n, xp)
    return _finish(_kl_inverse(r, c, xp, upper=True), r, xp)


def langford_seeger_bound(risk, n, kl, delta):
    """Langford-Seeger (2001): R <= kl^-1(r, (KL + ln((n+1)/delta))/n)."""
    xp = _namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    c = _round_up((kl + math.log((n + 1) / delta)) / n, xp)
    return _finish(_kl_inverse(r, c, xp, upper=True), r, xp)


def catoni_bound(risk, n, kl, delta, grid=DEFAULT_CATONI_GRID):
    """Catoni (2007), minimised over a grid of C with a union bound (each C gets delta/len(grid)):

    R <= min_C (1 - exp(-C r - (KL + ln(len(grid)/delta))/n)) / (1 - exp(-C)).
    """
    xp = _namespace(risk, kl)
    delta = _check_delta(delta)
    r, n, kl = _risk_n_kl(risk, n, kl, xp)
    grid = [check_in_open_interval(float(C), "grid value C", 0.0, math.inf) for C in grid]
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
    """Every bound for hypotheses with ``errors`` mistakes on n samples and point-mass KL ``complexity``."""
    xp = _namespace(errors, complexity)
    k = _as_array(errors, "errors", xp)
    r = k / check_positive_int(n, "n")
    out = {
        "occam_binomial": occam_bound(k, n, complexity, delta, "binomial"),
        "occam_kl": occam_bound(k, n, complexity, delta, "kl"),
        "occam_hoeffding": occam_bound(k, n, complexity, delta, "hoeffding"),
        "mcallester_1999": mcallester_1999_bound(r, n, complexity, delta),
        "sqrt": sqrt_bound(r, n, complexity, delta),
        "maurer": maurer_bound(r, n, complexity, delta),
        "langford_seeger": langford_seeger_bound(r, n, complexity, delta),
        "catoni": catoni_bound(r, n, complexity, delta),
    }
    return out


def monte_carlo_coverage(n, true_risks, complexity, delta, repetitions, seed=0) -> dict:
    """Failure frequency of every bound over ``repetitions`` synthetic data sets (vectorised).

    A countable class of m hypotheses with known true risks R_h and prior weights pi(h) =
    exp(-complexity_h) (sum <= 1 required); each repetition draws k_h ~ Binomial(n, R_h) for all h.
    The test-set bounds are applied to hypothesis 0 (fixed before the data), the Occam and PAC-Bayes
    bounds to every hypothesis at once (they hold uniformly, so a data-chosen prompt is covered):
    a repetition fails when some h has R_h above its bound.  Returns {bound name: failure frequency}
    plus ``sigma`` = sqrt(delta (1 - delta) / repetitions).
    """
    delta = _check_delta(delta)
    n = check_positive_int(n, "n")
    repetitions = check_positive_int(repetitions, "repetitions")
    risks = np.asarray(true_risks, dtype=np.float64)
    complexity = np.broadcast_to(np.asarray(complexity, dtype=np.float64), risks.shape)
    if risks.ndim != 1 or np.any((risks < 0) | (risks > 1)):
        raise ValueError("true_risks must be a 1-D array of values in [0, 1]")
    if np.any(complexity < 0) or np.exp(-complexity).sum() > 1 + 1e-12:
        raise ValueError("prior weights exp(-complexity) must sum to <= 1")
    rng = np.random.default_rng(seed)
    errors = rng.binomial(n, risks, size=(repetitions, risks.size)).astype(np.float64)
    kl = np.broadcast_to(complexity, errors.shape).copy()
    empirical = errors / n
    failures = {
        "test_set_binomial": binomial_test_set_bound(errors[:, 0], n, delta) < risks[0],
        "test_set_kl": test_set_kl_bound(errors[:, 0], n, delta) < risks[0],
    }
    uniform = {name: value for name, value in all_bounds(errors, n, kl, delta).items()}
    for name, value in uniform.items():
        failures[name] = np.any(value < risks, axis=1)
    zero = errors == 0
    realizable = occam_bound(np.zeros_like(errors), n, kl, delta, "realizable")
    failures["occam_realizable"] = np.any(zero & (realizable < risks), axis=1)
    out = {name: float(np.mean(f)) for name, f in failures.items()}
    out["sigma"] = math.sqrt(delta * (1 - delta) / repetitions)
    out["mean_empirical_risk"] = float(np.mean(empirical))
    return out
