"""The binary kl divergence and its certified upper and lower inverses, vectorised over arrays.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957 (every kl-form bound of the
paper inverts the binary kl).

.. math::

    \\mathrm{kl}(q \\,\\|\\, p) = q \\ln\\frac{q}{p} + (1 - q) \\ln\\frac{1 - q}{1 - p}, \\qquad 0 \\ln 0 = 0,

    \\mathrm{kl}^{-1}(q, c) = \\sup\\{p \\in [q, 1] : \\mathrm{kl}(q \\| p) \\le c\\}, \\qquad
    \\mathrm{kl}^{-1}_{\\mathrm{lower}}(q, c) = \\inf\\{p \\in [0, q] : \\mathrm{kl}(q \\| p) \\le c\\}.

Accuracy.  kl is evaluated as q f(d/q) + (1-q) f(-d/(1-q)) with d = p - q and f(x) = x - ln(1 + x) >= 0 (a
sum of non-negative terms; near x = 0 an atanh series without cancellation), whose relative error is below
``KL_RELATIVE_ERROR``.  The inverses are found by Newton's method from the far side of the root and then
*certified*: an end point p is returned only when kl(q||p) (1 - KL_RELATIVE_ERROR) > c, so the exact inverse
lies on the returned side of it (upper inverse: never below the exact value; lower inverse: never above).
The distance to the exact value is below 1e-12 absolute, and below 2e-13 relative for q and c in
1e-300..1e-20 (tested against mpmath at 60 digits): the certificate's allowance costs about
2 KL_RELATIVE_ERROR relative.

Dtypes.  Every computation runs in float64 and every result is float64, whatever real dtype comes in
(float32 values convert exactly, so the certificate refers to the values received).

Arrays of any array-API namespace (NumPy, CuPy, array-api-strict) are accepted and the result stays in that
namespace; nothing is copied to the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from array_api_compat import is_array_api_obj

from kernels.backend import array_namespace

__all__ = ["binary_kl", "kl_inverse", "kl_inverse_lower", "KL_RELATIVE_ERROR"]

_EPS = float(np.finfo(np.float64).eps)
# Bound on the relative error of the kl evaluation (256 ulps; measured at most 41 ulps against mpmath over
# 9,000 pairs spanning q, p in 1e-14..1).
KL_RELATIVE_ERROR = 256 * _EPS
_SMALLEST_SUBNORMAL = 5e-324

# f(x) = x - log1p(x) near 0: with u = x/(2+x), log1p(x) = 2 atanh(u), so
# f(x) = x^2/(2+x) - 2 (u^3/3 + u^5/5 + ...), a sum without cancellation.  For |x| < 1/8, |u| < 1/15
# and eight odd terms leave a truncation error below 1e-19 relative.
_SERIES_RADIUS = 0.125
_SERIES_TERMS = 8
_BLOCK = 1 << 15  # lanes per block of the inverse: keeps the working arrays in cache


# --- input handling (shared with theory.pac_bayes.bounds) -------------------------------------------


def namespace(*values):
    """Namespace of the array arguments (Python scalars, lists and strings ignored; default backend if none)."""
    return array_namespace(*[v for v in values if is_array_api_obj(v)])


def real_array(x, name, xp, *, allow_inf=False):
    """``x`` as a float64 array of namespace ``xp``; TypeError for non-real input, ValueError for NaN/inf.

    ``allow_inf`` admits ``+inf`` (a KL or a complexity may be infinite); NaN and ``-inf`` are always refused.
    """
    if is_array_api_obj(x):
        xp_x = array_namespace(x)
        if not xp_x.isdtype(x.dtype, ("real floating", "integral")):
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {x.dtype}")
        if xp_x is not xp:
            raise TypeError(f"{name} is an array of {xp_x.__name__}, the other arguments of {xp.__name__}")
        arr = xp.astype(x, xp.float64)
    else:
        try:
            values = None if isinstance(x, (bool, str, bytes)) else np.asarray(x)
        except (TypeError, ValueError):  # ragged nested sequences
            values = None
        if values is None or values.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number or an array of real numbers, got {x!r}")
        arr = xp.asarray(values.astype(np.float64))
    bad = xp.isnan(arr) | (arr == -math.inf)
    if not allow_inf:
        bad = bad | (arr == math.inf)
    if bool(xp.any(bad)):
        allowed = "finite values or +inf (no NaN, no -inf)" if allow_inf else "only finite values (no NaN or inf)"
        raise ValueError(f"{name} must contain {allowed}, got {_first(arr, bad, xp)!r}")
    return arr


def _first(x, mask, xp):
    """The first value of ``x`` where ``mask`` holds, as a Python float (for error messages)."""
    flat_x, flat_m = xp.reshape(x, (-1,)), xp.reshape(mask, (-1,))
    index = int(xp.argmax(xp.astype(flat_m, xp.int8)))
    return float(flat_x[index])


def check_range(x, name, xp, low, high):
    """Raise ValueError naming ``name``, the range [low, high] and the first value outside it."""
    bad = (x < low) | (x > high)
    if bool(xp.any(bad)):
        raise ValueError(f"{name} must lie in [{low}, {high}], got {_first(x, bad, xp)!r}")
    return x


def broadcast(xp, **arrays):
    """Broadcast the named arrays together; a shape mismatch raises ValueError naming every argument."""
    try:
        return xp.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{name} {tuple(a.shape)}" for name, a in arrays.items())
        raise ValueError(f"shapes do not broadcast together: {shapes}") from None


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
    series = _f_series(xp.where(small, x, xp.zeros_like(x)), xp)
    positive = ratio > 0
    log_ratio = xp.log(xp.where(positive, ratio, xp.ones_like(ratio)))
    direct = xp.where(positive, x - log_ratio, xp.full_like(x, math.inf))
    return xp.where(small, series, direct)


def _kl_terms(q, p, xp):
    """kl(q||p) for q, p in [0, 1] as q f(d/q) + (1-q) f(-d/(1-q)), d = p - q; inf where undefined."""
    one = xp.ones_like(q)
    d = p - q
    q_pos = q > 0
    q_safe = xp.where(q_pos, q, one)
    finite = xp.abs(d) < q * 1e300  # d/q representable
    q_div = xp.where(finite, q_safe, one)
    term1 = q * _f_of_ratio(xp.where(finite, d / q_div, one), xp.where(finite, p / q_div, one + one), xp)
    # q so small that d/q overflows (subnormal q): q f(d/q) = d - q ln(p/q)
    p_safe = xp.where(p > 0, p, one)
    term1 = xp.where(finite, term1, d - q * (xp.log(p_safe) - xp.log(q_safe)))
    term1 = xp.where(q_pos, term1, d)
    # 1 + x2 = (1 - p)/(1 - q) is formed from 1 - p directly so that p near 1 keeps its accuracy.
    q_lt1 = q < 1
    one_minus_q = xp.where(q_lt1, 1 - q, one)
    f2 = _f_of_ratio(-d / one_minus_q, (1 - p) / one_minus_q, xp)
    # q = 1: term1 = f(p - 1) = p - 1 - ln p, and term2 = 1 - p completes kl(1||p) = -ln p
    term2 = xp.where(q_lt1, one_minus_q * f2, -d)
    out = term1 + term2
    # both terms are >= 0 in exact arithmetic; the series can return -0.0 or a subnormal negative
    return xp.where(out < 0, xp.zeros_like(out), out)


def binary_kl(q, p):
    """Binary kl divergence kl(q||p), elementwise.

    .. math:: \\mathrm{kl}(q \\| p) = q \\ln(q/p) + (1-q) \\ln((1-q)/(1-p)), \\quad 0 \\ln 0 = 0.

    Parameters
    ----------
    q, p : float or array
        Values in [0, 1]; broadcast together.

    Returns
    -------
    array (float64)
        kl(q||p) to within ``KL_RELATIVE_ERROR`` relative; ``inf`` where p is 0 or 1 and q is not.
    """
    xp = namespace(q, p)
    q = check_range(real_array(q, "q", xp), "q", xp, 0.0, 1.0)
    p = check_range(real_array(p, "p", xp), "p", xp, 0.0, 1.0)
    q, p = broadcast(xp, q=q, p=p)
    return _kl_terms(q, p, xp)


# --- certified kl inverse -------------------------------------------------------------------------


@dataclass
class _Inversion:
    """One block of kl inversions: q and c (finite lanes), the side, and the clamp interval [lo, hi]."""

    q: object
    c: object
    xp: object
    upper: bool

    @property
    def sign(self) -> float:
        return 1.0 if self.upper else -1.0

    @property
    def boundary(self) -> float:
        return 1.0 if self.upper else 0.0


def _kl_plain(q, p, xp):
    """kl(q||p) by the two-logarithm formula, for p in (0, 1): cheap, accurate to ~eps absolute (not
    relative), used only to approach the root; inf at p = 0 or 1."""
    one = xp.ones_like(q)
    inside = (p > 0) & (p < 1)
    p_in = xp.where(inside, p, xp.full_like(p, 0.5))
    q_in = xp.where(q > 0, q, one)
    first = xp.where(q > 0, q * (xp.log(q_in) - xp.log(p_in)), 0.0)
    second = xp.where(q < 1, (1 - q) * (xp.log1p(-xp.where(q < 1, q, xp.zeros_like(q))) - xp.log1p(-p_in)), 0.0)
    return xp.where(inside, first + second, math.inf)


def _start(problem: _Inversion):
    """A point on the far side of the root (kl(q||start) >= c), the closest of three bounds on kl.

    Pinsker: |p - q| <= sqrt(c/2).  Tail: kl(q||p) >= (1-q) ln((1-q)/(1-p)) - q ln(1/q) on the upper side
    (mirrored below).  Upper side only: kl(q||p) >= (p - q)^2 / (2p), i.e. p <= q + c + sqrt(c^2 + 2 q c).
    """
    q, c, xp, upper = problem.q, problem.c, problem.xp, problem.upper
    one, zero = xp.ones_like(q), xp.zeros_like(q)
    pinsker = q + problem.sign * xp.sqrt(c / 2)
    tail_mass, other = ((1 - q), q) if upper else (q, (1 - q))
    entropy_part = xp.where(other > 0, -other * xp.log(xp.where(other > 0, other, one)), zero)
    spent = c + entropy_part
    safe = tail_mass * 1e300 > spent  # the quotient below is representable
    exponent = xp.where(safe, -spent / xp.where(safe, tail_mass, one), xp.full_like(q, -math.inf))
    if upper:
        # 1 - (1-q) e^x written as q - (1-q) expm1(x), which keeps tiny c accurate
        tail_start = q - tail_mass * xp.expm1(exponent)
        refined = q + c + xp.sqrt(c) * xp.sqrt(c + 2 * q)  # sqrt(c^2 + 2 q c) without underflow
        start = xp.minimum(xp.minimum(pinsker, tail_start), refined)
        return xp.minimum(xp.maximum(start, q), one)
    start = xp.maximum(pinsker, tail_mass * xp.exp(exponent))
    return xp.maximum(xp.minimum(start, q), zero)


def _plain_is_accurate(problem: _Inversion, p):
    """Lanes where the two-logarithm kl's absolute round-off near ``p`` is below 1e-6 c."""
    xp, q = problem.xp, problem.q
    inside = (p > 0) & (p < 1)
    p_in = xp.where(inside, p, xp.full_like(p, 0.5))
    size = q * xp.abs(xp.log(p_in)) + (1 - q) * xp.abs(xp.log1p(-p_in)) + xp.abs(xp.log(xp.where(q > 0, q, xp.ones_like(q)))) * q
    return problem.c > 1e6 * 8 * _EPS * size


def _newton(problem: _Inversion, p, lanes, kl_of, *, far_side_only, max_iter, moved_tol):
    """Newton on g(p) = kl(q||p) - c on the active ``lanes``; returns updated copies of ``p`` and ``lanes``.

    g is convex and monotone on each side of q: from the far side the iterates approach the root
    monotonically and quadratically.  Only lanes still moving are computed (gathered with a boolean mask);
    a lane stops once its step no longer changes p, or (``far_side_only``) once g <= 0.
    """
    xp, upper = problem.xp, problem.upper
    p, lanes = xp.asarray(p, copy=True), xp.asarray(lanes, copy=True)
    lo_clamp = xp.minimum(problem.q, problem.boundary)
    hi_clamp = xp.maximum(problem.q, problem.boundary)
    for _ in range(max_iter):
        if not bool(xp.any(lanes)):
            break
        qa, ca, pa = problem.q[lanes], problem.c[lanes], p[lanes]
        g = kl_of(qa, pa, xp) - ca
        interior = (pa > 0) & (pa < 1)
        one_a = xp.ones_like(pa)
        # g'(p) = (p - q) / (p (1 - p)), written as ((p - q)/p) / (1 - p); at a subnormal p it can still
        # overflow to inf, and such a lane stops (not ``usable``) where its step would be below one ulp anyway
        with np.errstate(over="ignore"):
            slope = ((pa - qa) / xp.where(interior, pa, one_a)) / xp.where(interior, 1 - pa, one_a)
        usable = interior & (slope != 0) & xp.isfinite(slope) & xp.isfinite(g) & ((g > 0) if far_side_only else (g == g))
        p_new = pa - xp.where(usable, g / xp.where(usable, slope, one_a), xp.zeros_like(pa))
        p_new = xp.minimum(xp.maximum(p_new, lo_clamp[lanes]), hi_clamp[lanes])
        # round-off can push a step past q (kl of 1 - p at the last ulp): never go more than
        # 1023/1024 of the way to q, so that the lane keeps a nonzero slope and can recover
        guard = qa + problem.sign * xp.abs(pa - qa) / 1024
        p_new = xp.maximum(p_new, guard) if upper else xp.minimum(p_new, guard)
        p[lanes] = p_new
        lanes[lanes] = usable & (xp.abs(p_new - pa) > moved_tol * xp.abs(pa - qa) + 4 * _EPS * xp.abs(pa))
    return p, lanes


def _certified_above(q, p, c, xp):
    """True where the exact kl(q||p) > c is guaranteed despite round-off (p on the far side of the root)."""
    return _kl_terms(q, p, xp) * (1 - KL_RELATIVE_ERROR) > c


def _certify(problem: _Inversion, p):
    """Final end point: ``p`` pushed outward until kl(q||p) > c is certified (the boundary if never).

    The first push is the estimate's uncertainty: the kl's relative error times c over the slope
    |kl'(p)| = |p - q| / (p (1 - p)), plus a few ulps of p; a lane that fails the check doubles its push.
    """
    q, c, xp, upper = problem.q, problem.c, problem.xp, problem.upper
    gap = xp.abs(p - q)
    ratio = xp.where(gap > 0, p / xp.where(gap > 0, gap, xp.ones_like(gap)), xp.zeros_like(gap))
    spread = KL_RELATIVE_ERROR * c * ratio * (1 - p)
    margin = xp.maximum(2 * spread + 4 * _EPS * p, xp.full_like(p, _SMALLEST_SUBNORMAL))
    result = xp.full_like(p, problem.boundary)
    waiting = xp.ones_like(p, dtype=xp.bool)
    for _ in range(1100):  # from the smallest subnormal, 1075 doublings reach 1
        trial = p + problem.sign * margin
        trial = xp.minimum(trial, xp.ones_like(trial)) if upper else xp.maximum(trial, xp.zeros_like(trial))
        ok = waiting & (_certified_above(q, trial, c, xp) | (trial == problem.boundary))
        result = xp.where(ok, trial, result)
        waiting = waiting & ~ok
        if not bool(xp.any(waiting)):
            break
        margin = 2 * margin
    return result  # lanes never certified keep the boundary value, which is always safe


def _kl_inverse_block(q, c, xp, upper: bool):
    """Invert one block: trivial lanes, Newton (plain then accurate kl), certified end point."""
    finite_c = xp.isfinite(c)
    c_fin = xp.where(finite_c, c, xp.zeros_like(c))
    problem = _Inversion(q, c_fin, xp, upper)
    start = _start(problem)
    # the answer is the boundary (q at it, c infinite, the start already there) or q itself (c = 0)
    at_boundary = (q == problem.boundary) | ~finite_c | (start == problem.boundary)
    at_q = (c == 0) & ~at_boundary
    active = ~(at_boundary | at_q)
    p = xp.where(active, start, xp.where(at_q, q, xp.full_like(q, problem.boundary)))
    # Phase 1: the two-logarithm kl (cheap) until the steps are ~1e-10 of |p - q|, on the lanes where its
    # absolute round-off (~eps (q |ln p| + (1-q) |ln(1-p)|)) is far below c; elsewhere (c tiny against q)
    # it would steer p onto q, and phase 2 starts from the far-side point itself.
    p, _ = _newton(problem, p, active & _plain_is_accurate(problem, start), _kl_plain,
                   far_side_only=True, max_iter=60, moved_tol=1e-10)
    # Phase 2: the accurate kl.  The first step may start on the near side (round-off of the plain
    # formula) and then lands on the far side; later steps stay there until they stop mattering.  A lane
    # whose first accurate step is below 1e-6 |p - q| is done (quadratic convergence).
    p, moving = _newton(problem, p, active, _kl_terms, far_side_only=False, max_iter=1, moved_tol=1e-6)
    p, _ = _newton(problem, p, moving, _kl_terms, far_side_only=True, max_iter=60, moved_tol=0.0)
    if bool(xp.any(active)):
        sub = _Inversion(q[active], c_fin[active], xp, upper)
        p[active] = _certify(sub, p[active])
    return p


def kl_inverse_any(q, c, xp, *, upper: bool):
    """Certified inverse of validated float64 arrays ``q``, ``c`` of one shape (blocks of ``_BLOCK`` lanes)."""
    shape = q.shape
    q = xp.reshape(q, (-1,))
    c = xp.reshape(c, (-1,))
    n = q.shape[0]
    if n <= _BLOCK:
        out = _kl_inverse_block(q, c, xp, upper)
    else:
        blocks = [_kl_inverse_block(q[i : i + _BLOCK], c[i : i + _BLOCK], xp, upper) for i in range(0, n, _BLOCK)]
        out = xp.concat(blocks)
    return xp.reshape(out, shape)


def _validated_inverse(q, c, *, upper):
    xp = namespace(q, c)
    q = check_range(real_array(q, "q", xp), "q", xp, 0.0, 1.0)
    c = check_range(real_array(c, "c", xp, allow_inf=True), "c", xp, 0.0, math.inf)
    q, c = broadcast(xp, q=q, c=c)
    return kl_inverse_any(q, c, xp, upper=upper)


def kl_inverse(q, c):
    """Certified upper inverse of the binary kl, elementwise.

    .. math:: \\mathrm{kl}^{-1}(q, c) = \\sup\\{p \\in [q, 1] : \\mathrm{kl}(q \\| p) \\le c\\}

    Parameters
    ----------
    q : float or array
        Empirical risk, in [0, 1].
    c : float or array
        Budget in nats, in [0, inf]; broadcast with ``q``.

    Returns
    -------
    array (float64)
        Never below the exact value and within 1e-12 of it (2e-13 relative for q, c below 1e-20).
        Exact cases: q = 1 or c = inf gives 1; c = 0 gives q; q = 0 gives 1 - e^-c up to the certificate.
    """
    return _validated_inverse(q, c, upper=True)


def kl_inverse_lower(q, c):
    """Certified lower inverse of the binary kl, elementwise.

    .. math:: \\inf\\{p \\in [0, q] : \\mathrm{kl}(q \\| p) \\le c\\}

    Parameters and accuracy as :func:`kl_inverse`, mirrored: never above the exact value, within 1e-12 of
    it; q = 0 or c = inf gives 0, c = 0 gives q, q = 1 gives e^-c up to the certificate.
    """
    return _validated_inverse(q, c, upper=False)
