"""Deep normalised NNGP/NTK recursions of the cosine and their depth tables: the one tabulation engine.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.

For inputs on the unit sphere and a normalised dual phĭ (:mod:`kernels.ntk.duals`) the depth-L kernels
depend on the inputs only through their cosine xi:

    Sigma^0 = K^0 = xi,
    Sigma^l = phĭ(Sigma^(l-1))                  (clipped to [-1, 1]; NNGP),
    K^l     = Sigma^l + K^(l-1) phĭ'(Sigma^(l-1))                   (NTK).

Numerics.  :func:`nngp_ntk` and :func:`log_nngp_ntk` are the plain float recursions on cosines (reference
implementations).  :func:`tabulate_depth` computes the depth-L maps once on a grid of the angle theta =
arccos xi (8193 nodes uniform in u = theta + 0.1 ln(theta / (pi - theta)), theta in [1e-20, pi - 1e-15]) and
interpolates them by local degree-5 Lagrange polynomials in u (in log|f| towards xi = +-1 where the stencil keeps
one sign; linear in theta beyond the outer nodes), so its cost does not grow with depth at evaluation.  Where the
interpolants of two neighbouring stencils differ by more than 1e-11 the interval is halved (up to 4 times; the
new nodes are computed like the others), so steep maps get nodes only where they need them:

* the recursion runs on the angle where |xi| > 1/2, from the dual's stable forms of 1 -+ phĭ(cos theta)
  (:class:`kernels.ntk.duals.NormalizedDual`), and on xi itself in the middle, where values tend to 0;
* majority-vote duals (ReLU) deeper than 64 layers: the maps theta -> theta_L and the affine NTK maps are
  composed by binary powering in the angle, O(grid log L);
* singular regime: once every |Sigma| < 1e-20 the remaining layers are linear (phĭ(s) = phĭ'(0) s to
  rounding) and summed in closed form; 1-NN regime (polynomial duals, log domain): likewise, and a monomial
  xi^k is exact in closed form (Sigma^L = K^L / K^L(1) = xi^(k^L)).  The cost is bounded in L for every regime;
* odd duals are evaluated on [0, pi/2] and reflected: exactly odd, Sigma^L(0) = 0.

Measured against mpmath (:func:`proofs_check.references.ntk_normalized_recursion`, 32-150 digits) at angles
from 1e-9 to pi - 1e-12, relative error of Sigma^L and K^L / K^L(1): ReLU <= 1.0e-13 (L = 1e3), 1.6e-13 (1e4),
8.2e-12 (1e5), 1.1e-11 (2e5), Sigma^L <= 2.2e-16; erf (L = 60) <= 4.7e-13, sine_2.676 (40) 2.9e-12, 3d_opt (60)
1.3e-12, 5d_opt (60, its double root at -1 included: values to 1e-85 next to antipodal) 3.3e-12, 9d_opt (20, 60,
200) 2.9e-12, 2d_opt (30) 2.1e-12, hermite_2 (12) 3.5e-13, ReLU (300) 9.5e-14 (the uniform grid alone: 9d_opt
4.2e-9 at theta = 3.5e-9, 2d_opt 1.4e-10); the 1-NN polynomial 0.7 xi^2 + 0.3 xi^3 (L = 12, 60) within 2.9e-14
of the log from 1e-9 to pi - 1e-9 (each layer keeps the digits of 1 - Sigma), hermite_2 past 2^1024 (L = 1010 to
1030) within 1e-12 of the log.  Values below the float range are returned as logs.  In the singular regime with
|L ln phĭ'(0)| > 1000 the table stores them less L ln phĭ'(0) (and (L + 1) ln phĭ'(1) for N), both as pairs of
floats, so nodes and interpolants keep the digits of the O(1) rest: at L = 2e5, where |ln f| reaches 1.4e5
(2d_opt, 3d_opt) to 5.5e5 (9d_opt), the logs are within one unit in the last place of 30-digit arithmetic
(2d_opt, 3d_opt, 5d_opt, 9d_opt, next to the zero of phĭ of 9d_opt at theta = 1.6427 too), two (sine_2.676) and
ten (erf: the float phĭ'(0) is the limit there); relative 5.8e-11 (2d_opt, 3d_opt, 5d_opt, sine_2.676), 4.4e-11
(erf) and 1.16e-10 (9d_opt, one unit of a log of 5.5e5).  Angles are read with math.pi standing for pi.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernels.backend import array_device, array_namespace, asarray
from kernels.ntk.duals import REGIME_ATOL, NormalizedDual, get_dual, regime
from kernels.numerics import angle_from_gaps, clip, log_abs, normalized_angle
from kernels.validation import check_positive_int

__all__ = ["nngp_ntk", "log_nngp_ntk", "DepthTable", "tabulate_depth"]

# --- direct recursions -------------------------------------------------------------------------


def nngp_ntk(xi, dual, depth: int, *, dual_derivative: Callable | None = None, normalized: bool = False):
    """(Sigma^L, K^L) of the normalised recursion at the cosines ``xi`` (any shape), O(size * depth).

    The plain float reference implementation; :func:`tabulate_depth` gives the values (more accurately next
    to xi = +-1) at a cost bounded in depth.  ``xi`` is clipped to [-1, 1] (dot products of unit vectors may round past 1).
    ``normalized=True`` returns K^L / K^L(1) in place of K^L, carried through the recursion
    (N^l = Sigma^l / K^l(1) + N^(l-1) phĭ'(Sigma^(l-1)) K^(l-1)(1) / K^l(1)), so it never overflows.
    """
    d = get_dual(dual, derivative=dual_derivative)
    depth = check_positive_int(depth, "depth", minimum=0)
    xi = asarray(xi, name="xi")
    xp = array_namespace(xi)
    sigma = clip(xi, -1.0, 1.0)
    ntk = sigma
    inv_diag = 1.0  # 1 / K^l(1), with K^l(1) = 1 + phĭ'(1) K^(l-1)(1)
    for _ in range(depth):
        slope = d.derivative(sigma, xp) if d.derivative is not None else None
        sigma_next = clip(d.value(sigma, xp), -1.0, 1.0)
        if slope is None:
            ntk = sigma_next
        elif normalized:
            ratio = 1.0 / (inv_diag + d.slope_at_one)  # K^(l-1)(1) / K^l(1)
            inv_diag = inv_diag * ratio
            ntk = sigma_next * inv_diag + ntk * (slope * ratio)
        else:
            ntk = sigma_next + ntk * slope
        sigma = sigma_next
    if d.derivative is None:
        return sigma, None
    return sigma, ntk


def _log_poly(coeffs: tuple[float, ...], log_x, sign, xp, *, unit: bool = False):
    """(log|p(x)|, sign p(x)) for p = sum_i c_i x^i with x = sign * exp(log_x), |x| <= 1.

    p(x) = x^k B(x) with k the lowest non-zero index and B(x) = sum_{j>=0} c_(k+j) x^j.  Next to |x| = 1
    (log_x > -1/2) log B keeps the digits of 1 - |x| (Horner's B rounds them away: 1e-3 relative at
    1 - x = 1e-13): next to 1, B(x) = B(1) + sum_j c_(k+j) expm1(j log_x), and ``unit=True`` takes
    p(1) = B(1) = 1 exactly (a normalised dual) and log B = log1p(B - 1); next to -1, B is summed in powers of
    u = 1 + x = -expm1(log_x), B(x) = sum_m b_m u^m with b_m = sum_j C(j, m) (-1)^(j-m) c_(k+j), so that a root
    of B at -1 (5d_opt's is double) leaves no cancellation.  Elsewhere B is evaluated by Horner's rule (x
    underflowing to 0 only drops terms negligible next to c_k).
    """
    k = next(i for i, c in enumerate(coeffs) if c != 0.0)
    x = sign * xp.exp(log_x)
    tail = coeffs[k:]
    b = xp.zeros_like(x) + tail[-1]
    for c in tail[-2::-1]:
        b = b * x + c
    log_b, sign_b = log_abs(b), xp.sign(b)
    if len(tail) > 1:
        near = log_x > -0.5
        safe_log = xp.where(near, log_x, 0.0)
        delta = xp.zeros_like(x)  # B(x) - B(1) next to 1
        for j, c in enumerate(tail[1:], start=1):
            delta = delta + c * xp.expm1(j * safe_log)
        at_one = 1.0 if unit else math.fsum(tail)
        u = -xp.expm1(safe_log)  # 1 + x next to -1
        taylor = [math.fsum(math.comb(j, m) * (-1.0) ** (j - m) * c for j, c in enumerate(tail) if j >= m)
                  for m in range(len(tail))]
        b_minus = xp.zeros_like(x) + taylor[-1]
        for c in taylor[-2::-1]:
            b_minus = b_minus * u + c
        b_near = xp.where(sign > 0, at_one + delta, b_minus)
        log_b_near = log_abs(b_near)
        if unit:
            log_b_near = xp.where(sign > 0, xp.log1p(xp.where(sign > 0, delta, 0.0)), log_b_near)
        log_b = xp.where(near, log_b_near, log_b)
        sign_b = xp.where(near, xp.sign(b_near), sign_b)
    if k == 0:
        return log_b, sign_b
    sign_xk = sign if k % 2 else sign * sign
    return k * log_x + log_b, sign_xk * sign_b


def _signed_logaddexp(la, sa, lb, sb, xp):
    """(log|A + B|, sign(A + B)) for A = sa e^la, B = sb e^lb."""
    m = xp.maximum(la, lb)
    finite = xp.isfinite(m)
    m0 = xp.where(finite, m, 0.0)
    r = sa * xp.exp(xp.where(finite, la - m0, -math.inf)) + sb * xp.exp(xp.where(finite, lb - m0, -math.inf))
    return xp.where(finite, m0 + log_abs(r), -math.inf), xp.sign(r)


def log_nngp_ntk(xi, dual, depth: int):
    """Log-domain recursion for polynomial duals: (log|Sigma^L|, sign Sigma^L, log|K^L|, sign K^L).

    Stays accurate where Sigma^L and K^L underflow (the 1-NN regime: xi^(k^L)), as long as the
    logs themselves fit a float (k^L |ln xi| < 1e308).
    """
    d = get_dual(dual)
    if d.coefficients is None:
        raise ValueError(f"log-domain recursion needs a polynomial dual, got {d.name!r}")
    depth = check_positive_int(depth, "depth", minimum=0)
    xi = asarray(xi, name="xi")
    xp = array_namespace(xi)
    xi = clip(xi, -1.0, 1.0)
    coeffs = d.coefficients
    dcoeffs = tuple((i + 1) * c for i, c in enumerate(coeffs[1:]))
    ls, ss = log_abs(xi), xp.sign(xi)
    lk, sk = ls, ss
    for _ in range(depth):
        ld, sd = _log_poly(dcoeffs, ls, ss, xp) if dcoeffs else (xp.full_like(ls, -math.inf), xp.zeros_like(ss))
        ls_next, ss_next = _log_poly(coeffs, ls, ss, xp, unit=True)
        ls_next = xp.minimum(ls_next, 0.0)  # |Sigma| <= 1, the clip of the linear recursion
        lk, sk = _signed_logaddexp(ls_next, ss_next, lk + ld, sk * sd, xp)
        ls, ss = ls_next, ss_next
    return ls, ss, lk, sk


def _diagonal_ntk_log(d: NormalizedDual, depth: int) -> float:
    """ln K^L(1) = ln sum_{l=0}^{L} g^l = ln((g^(L+1) - 1) / (g - 1)), g = phĭ'(1), without overflow and without
    cancellation next to g = 1 (in e = g - 1, exact: (expm1((L+1) log1p(e))) / e)."""
    e = d.slope_at_one - 1.0
    if e == 0.0:
        return math.log(depth + 1.0)
    if e == -1.0:  # phĭ'(1) = 0: K^L(1) = 1
        return 0.0
    top = (depth + 1) * math.log1p(e)
    if e < 0.0:
        return math.log(-math.expm1(top)) - math.log(-e)
    if top < 700.0:
        return math.log(math.expm1(top)) - math.log(e)
    return top + math.log1p(-math.exp(-top)) - math.log(e)  # g^(L+1) overflows: in logs


# --- the recursion in the angle ------------------------------------------------------------------

_OUTER = 0.5  # |xi| above which a layer is computed from the angle (1 -+ phĭ in stable forms)
_TAIL = 1e-20  # |Sigma| below which phĭ(s) = phĭ'(0) s and phĭ'(s) = phĭ'(0) to rounding (singular regime)
_TAIL_CHECK = 16  # layers between checks for the tail


def _gaps(d: NormalizedDual, theta, xi, xp):
    """(1 - phĭ(cos theta), 1 + phĭ(cos theta)), from the dual's angle forms where it has them."""
    if d.gap is None:
        v = clip(d.value(xi, xp), -1.0, 1.0, xp)
        return 1.0 - v, 1.0 + v
    g = d.gap(theta, xp)
    return g, (d.cogap(theta, xp) if d.cogap is not None else 2.0 - g)


def _angle_step(d: NormalizedDual, theta, xi, xp):
    """One layer on the pair (theta, xi = cos theta): (theta', xi', phĭ'(xi)).

    Where |xi| > 1/2 the new angle is 2 arctan2(sqrt(1 - phĭ), sqrt(1 + phĭ)) from the stable gaps, so that
    it keeps its absolute accuracy next to +-1; elsewhere xi' = phĭ(xi) keeps its relative accuracy (values
    tending to 0 in the singular regime) and theta' = arccos xi' is well conditioned.
    """
    outer = xp.abs(xi) > _OUTER
    g, cg = _gaps(d, theta, xi, xp)
    middle = clip(d.value(xi, xp), -1.0, 1.0, xp)
    near_ends = d.value_at_angle(theta, xp) if d.value_at_angle is not None else xp.where(g <= cg, 1.0 - g, cg - 1.0)
    xi_next = xp.where(outer, near_ends, middle)
    theta_next = xp.where(outer, angle_from_gaps(g, cg, xp), normalized_angle(middle, xp))
    slope = d.slope_at_angle(theta, xp) if d.slope_at_angle is not None else d.derivative(xi, xp)
    return theta_next, clip(xi_next, -1.0, 1.0, xp), slope


@dataclass
class _NodeState:
    """Sigma (as xi and its angle), N = K / K(1) and 1 / K(1) of the recursion at the nodes after ``layers``."""

    theta: np.ndarray
    xi: np.ndarray
    ntk: np.ndarray
    inv_diag: float
    layers: int


def _iterate(d: NormalizedDual, state: _NodeState, layers: int, *, tail_at=None) -> _NodeState:
    """``layers`` more layers on the nodes; stops early (returning the state) once ``tail_at(state)``."""
    theta, xi, ntk, inv, done = state.theta, state.xi, state.ntk, state.inv_diag, state.layers
    g1 = d.slope_at_one
    for step in range(layers):
        theta, xi_next, slope = _angle_step(d, theta, xi, np)
        ratio = 1.0 / (inv + g1)  # K^(l-1)(1) / K^l(1)
        inv = inv * ratio
        ntk = xi_next * inv + ntk * (slope * ratio)
        xi, done = xi_next, done + 1
        if tail_at is not None and step % _TAIL_CHECK == 0 and tail_at(xi):
            break
    return _NodeState(theta, xi, ntk, inv, done)


def _tail_logs(d: NormalizedDual, state: _NodeState, depth: int):
    """(log|Sigma^L|, sign, log|N^L|, sign) from a state in the singular regime's linear tail, less the
    offsets of :func:`_log_offsets`.

    There phĭ(s) = c s and phĭ'(s) = c (c = phĭ'(0)), so after n more layers Sigma = c^n s and
    K = c^n (K + n s): N^L = c^n (N + n s / K(1)) K(1) / K^L(1), evaluated in logs (c^n underflows).
    """
    n = depth - state.layers
    log_c = math.log(d.slope_at_zero)
    log_s, sign_s = log_abs(state.xi, np), np.sign(state.xi)
    total = state.ntk + n * state.xi * state.inv_diag
    log_k1_l = -math.log(state.inv_diag)
    (off_s, _), _ = _log_offsets(d, depth)
    if off_s == 0.0:
        log_n = n * log_c + log_abs(total, np) + log_k1_l - _diagonal_ntk_log(d, depth)
        return log_s + n * log_c, sign_s, log_n, np.sign(total)
    # n ln c - L ln c = -layers ln c, and ln K^L(1) less its part (L + 1) ln phĭ'(1) in the offset
    # (the same condition as in _log_offsets_of)
    diagonal_rest = _diagonal_log_excess(d, depth) if d.slope_at_one > 1.0 else _diagonal_ntk_log(d, depth)
    log_n = -state.layers * log_c + log_abs(total, np) + log_k1_l - diagonal_rest
    return log_s - state.layers * log_c, sign_s, log_n, np.sign(total)


_OFFSET_FROM = 1000.0  # |L ln phĭ'(0)| above which the singular tail's logs are stored less L ln phĭ'(0)


def _log_offsets(d: NormalizedDual, depth: int):
    """((hi, lo), (hi, lo)): the parts of log|Sigma^L| and log|N^L| common to every angle in the singular
    regime deep enough that they dominate, L ln c and L ln c - (L + 1) ln g (c = phĭ'(0), g = phĭ'(1), the second
    term where g > 1), each as a pair of floats (hi + lo to 1e-32 relative, from 40-digit decimal logarithms).
    The tables store the logs less these offsets, so the nodes and their interpolants carry the digits of the
    O(1) rest rather than eps |log| ~ 1e-10 of a log near -1e5; (0, 0) elsewhere."""
    return _log_offsets_of(d.slope_at_zero, d.slope_at_one, regime(d) == "singular", depth)


@functools.lru_cache(maxsize=256)
def _log_offsets_of(c: float, g: float, singular: bool, depth: int):
    if not singular or not 0.0 < c < 1.0 or depth * -math.log(c) < _OFFSET_FROM:
        return (0.0, 0.0), (0.0, 0.0)
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 40
        off_s = depth * decimal.Decimal(c).ln()
        off_n = off_s - (depth + 1) * decimal.Decimal(g).ln() if g > 1.0 else off_s

        def split(v):
            hi = float(v)
            return hi, float(v - decimal.Decimal(hi))

        return split(off_s), split(off_n)


def _diagonal_log_excess(d: NormalizedDual, depth: int) -> float:
    """ln K^L(1) - (L + 1) ln g = ln(1 - g^-(L+1)) - ln(g - 1) for g = phĭ'(1) > 1."""
    e = d.slope_at_one - 1.0
    return math.log1p(-math.exp(-(depth + 1) * math.log1p(e))) - math.log(e)


def _direct_nodes(d: NormalizedDual, depth: int, theta):
    """(log|Sigma^L|, sign, log|N^L|, sign) at the angles ``theta`` by the angle recursion;
    in the singular regime the layers beyond the linear tail are summed in closed form (cost bounded in L)."""
    theta = np.asarray(theta, dtype=np.float64)
    state = _NodeState(theta, np.cos(theta), np.cos(theta), 1.0, 0)
    if d.derivative is None:
        raise ValueError(f"dual {d.name!r} has no derivative: pass dual_derivative (phĭ') to tabulate it")
    tail_at = None
    if regime(d) == "singular":
        tail_at = lambda xi: bool(np.all(np.abs(xi) < _TAIL))  # noqa: E731
    state = _iterate(d, state, depth, tail_at=tail_at)
    if state.layers < depth:
        return _tail_logs(d, state, depth)
    (hs, ls_), (hn, ln_) = _log_offsets(d, depth)  # (0, 0) unless deep and singular, where the tail is reached
    return (log_abs(state.xi, np) - hs - ls_, np.sign(state.xi), log_abs(state.ntk, np) - hn - ln_,
            np.sign(state.ntk))


def _log_domain_nodes(d: NormalizedDual, depth: int, theta):
    """(log|Sigma^L|, sign, log|N^L|, sign) at the angles ``theta`` (none at 0 or pi) in the 1-NN regime of a
    polynomial dual p = c_k x^k + ... (k >= 2).

    A monomial (hermite_k) is exact in closed form: Sigma^L = xi^(k^L) and K^L / K^L(1) = Sigma^L.  Otherwise
    :func:`log_nngp_ntk` runs until every |Sigma| < 1e-20, and then in closed form: log|Sigma| ->
    k^n (log|Sigma| + g) - g with g = ln c_k / (k - 1), and q = K / Sigma -> k^n q + (k^n - 1)/(k - 1), so the
    cost is bounded in L.
    """
    coeffs = d.coefficients
    k = next(i for i, c in enumerate(coeffs) if c != 0.0)
    log_xi, sign_xi = _log_abs_cos(theta, np), np.sign(np.cos(theta))
    with np.errstate(over="ignore", invalid="ignore"):
        if sum(c != 0.0 for c in coeffs) == 1:  # c_k = 1: exact
            ls = _log_from_log_ratio(np.full(theta.shape, depth * math.log(k)), theta, log_xi, np)
            ss = np.ones_like(sign_xi) if (k % 2 == 0 and depth >= 1) else sign_xi
            return ls, ss, ls.copy(), ss.copy()
    done, state = 0, (log_xi, sign_xi, log_xi.copy(), sign_xi.copy())
    while done < depth:
        step = min(_TAIL_CHECK, depth - done)
        state = _continue_log(d, step, state)
        done += step
        if np.all(state[0] < math.log(_TAIL)):
            break
    ls, ss, lk, sk = state
    n = depth - done
    if n:
        g = math.log(coeffs[k]) / (k - 1)
        with np.errstate(over="ignore", invalid="ignore"):
            grow = float(k) ** n if n * math.log(k) < 700 else math.inf
            ls_new = np.where(np.isfinite(ls), grow * (ls + g) - g, -math.inf)
            log_q = np.logaddexp(lk - ls, math.log((1.0 - float(k) ** (-n)) / (k - 1))) + n * math.log(k)
        lk, ls = ls_new + log_q, ls_new
    return ls, ss, lk - _diagonal_ntk_log(d, depth), sk


def _continue_log(d, layers, start):
    """``layers`` more steps of :func:`log_nngp_ntk` from (log|Sigma|, sign, log|K|, sign) = ``start``."""
    coeffs = d.coefficients
    dcoeffs = tuple((i + 1) * c for i, c in enumerate(coeffs[1:]))
    ls, ss, lk, sk = start
    for _ in range(layers):
        with np.errstate(over="ignore", invalid="ignore"):
            ld, sd = _log_poly(dcoeffs, ls, ss, np)
            ls_next, ss_next = _log_poly(coeffs, ls, ss, np, unit=True)
            ls_next = np.minimum(ls_next, 0.0)
            lk, sk = _signed_logaddexp(ls_next, ss_next, lk + ld, sk * sd, np)
        ls, ss = ls_next, ss_next
    return ls, ss, lk, sk


# --- binary powering of the maps (majority-vote regime) ------------------------------------------


class _Maps:
    """The b-layer maps at the nodes, in the angle: log theta_b(theta), f_b = F_b / K^b(1) and
    e_b = D_b / K^b(1) with K^(a+b) = F_b(Sigma^a) + D_b(Sigma^a) K^a (D_b = dS_b/ds), and their values at the
    ends theta = 0 (where theta_b = 0) and theta = pi; ``log_scale`` = ln K^b(1)."""

    def __init__(self, grid, log_theta, f, e, end0, end_pi, log_scale):
        self.grid, self.log_theta, self.f, self.e = grid, log_theta, f, e
        self.end0, self.end_pi, self.log_scale = end0, end_pi, log_scale  # (f, e) at 0; (theta, f, e) at pi

    def at(self, theta):
        """(theta_b, f_b, e_b) at the angles ``theta`` (NumPy), by interpolation in the grid variable."""
        start, weights, below, above, t_lo, t_hi = _weights(self.grid, theta, np)
        log_theta = _lagrange(self.log_theta, start, weights, np)
        f, e = _lagrange(self.f, start, weights, np), _lagrange(self.e, start, weights, np)
        g = self.grid
        # beyond the outer nodes: theta_b ~ theta theta_b'(0) at 0, linear in theta towards the value at pi
        log_theta = np.where(below, np.log(np.maximum(theta, 1e-300)) + self.log_theta[0] - math.log(g.theta[0]), log_theta)
        out_theta = np.where(above, self.end_pi[0] + (math.exp(self.log_theta[-1]) - self.end_pi[0]) * t_hi,
                             np.exp(log_theta))
        out_theta = np.where(theta <= 0.0, 0.0, out_theta)
        f = np.where(below, self.end0[0] + (self.f[0] - self.end0[0]) * t_lo, f)
        e = np.where(below, self.end0[1] + (self.e[0] - self.end0[1]) * t_lo, e)
        f = np.where(above, self.end_pi[1] + (self.f[-1] - self.end_pi[1]) * t_hi, f)
        e = np.where(above, self.end_pi[2] + (self.e[-1] - self.end_pi[2]) * t_hi, e)
        return out_theta, f, e

    def then(self, outer: "_Maps") -> "_Maps":
        """Self's a layers followed by outer's b layers:
        theta_(a+b) = theta_b(theta_a), f_(a+b) = r_b f_b(theta_a) + r_ab e_b(theta_a) f_a, e_(a+b) = r_ab e_b(theta_a) e_a."""
        log_a, log_b = self.log_scale, outer.log_scale
        f_b1, e_b1 = outer.end0
        log_ab = log_b + log_a + math.log(e_b1 + f_b1 * math.exp(-log_a))  # K^(a+b)(1) = K^b(1)(f_b(1) + e_b(1) K^a(1))
        r_b, r_ab = math.exp(log_b - log_ab), math.exp(log_b + log_a - log_ab)
        theta_a = np.exp(self.log_theta)
        th, fb, eb = outer.at(theta_a)
        f = r_b * fb + r_ab * eb * self.f
        e = r_ab * eb * self.e
        f0 = r_b * f_b1 + r_ab * e_b1 * self.end0[0]
        e0 = r_ab * e_b1 * self.end0[1]
        th_pi, fb_pi, eb_pi = (float(v[0]) for v in outer.at(np.array([self.end_pi[0]])))
        end_pi = (th_pi, r_b * fb_pi + r_ab * eb_pi * self.end_pi[1], r_ab * eb_pi * self.end_pi[2])
        return _Maps(self.grid, np.log(th), f, e, (f0, e0), end_pi, log_ab)


def _one_layer_maps(d: NormalizedDual, grid) -> _Maps:
    theta = grid.theta
    th1, xi1, slope = _angle_step(d, theta, np.cos(theta), np)
    log_k1 = math.log1p(d.slope_at_one)
    scale = math.exp(-log_k1)
    th_pi, xi_pi, slope_pi = (float(v[0]) for v in _angle_step(d, np.array([math.pi]), np.array([-1.0]), np))
    return _Maps(grid, np.log(th1), xi1 * scale, slope * scale, (scale, d.slope_at_one * scale),
                 (th_pi, xi_pi * scale, slope_pi * scale), log_k1)


def _doubling_nodes(d: NormalizedDual, depth: int, grid):
    """(Sigma^L, N^L) at the nodes and at theta = pi by binary powering of the angle maps: O(grid log L)."""
    power, result, remaining = _one_layer_maps(d, grid), None, depth
    while remaining:
        if remaining & 1:
            result = power if result is None else result.then(power)
        remaining >>= 1
        if remaining:
            power = power.then(power)
    theta = np.exp(result.log_theta)
    sigma, ntk = np.cos(theta), result.f + result.e * np.cos(grid.theta)
    th_pi, f_pi, e_pi = result.end_pi
    return sigma, ntk, (math.cos(th_pi), f_pi - e_pi)


# --- the grid and the interpolation ---------------------------------------------------------------

_THETA_MIN = 1e-20  # first node; below it the maps are linear in theta to ~1e-40 f''
_DELTA_MIN = 1e-15  # pi - (last node): angles next to pi are floats 4.4e-16 apart
_STENCIL = 6  # points of the local Lagrange interpolant (degree 5)
_C = 0.1  # weight of the logarithmic part of the grid variable
_DOUBLING_FROM = 64  # depth above which majority-vote duals are tabulated by binary powering
_LOG_BELOW = -600.0  # log|r| below which the linear nodes lose digits to underflow: interpolate logs
_LOG_BEND = 1e-3  # largest second difference of log|f| on a stencil interpolated in the log domain
_BLOCK = 1 << 15  # entries evaluated together (keeps the temporaries in cache)


def _grid_variable(theta, xp):
    """u = theta + c ln(theta / (pi - theta)): log-spaced towards both ends of (0, pi), uniform between."""
    return theta + _C * (xp.log(theta) - xp.log(math.pi - theta))


@dataclass(frozen=True)
class _Grid:
    """Nodes (angles, increasing; uniform in u), per-stencil Lagrange denominators, bucket table."""

    u: np.ndarray
    theta: np.ndarray
    inverse_denominators: np.ndarray
    buckets: np.ndarray
    bucket_origin: float
    bucket_width: float


@functools.lru_cache(maxsize=8)
def _angle_grid(grid_size: int) -> _Grid:
    u_lo = float(_grid_variable(np.float64(_THETA_MIN), np))
    u_hi = float(_grid_variable(np.float64(math.pi - _DELTA_MIN), np))
    u = np.linspace(u_lo, u_hi, grid_size)
    lo, hi = np.full_like(u, _THETA_MIN / 2), np.full_like(u, math.pi)
    for _ in range(100):  # u is increasing in theta: bisection to full precision
        mid = 0.5 * (lo + hi)
        below = _grid_variable(mid, np) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    theta = 0.5 * (lo + hi)
    # next to pi the floats are sparse (4.4e-16 apart): no duplicate nodes, none at pi itself
    keep = np.concatenate([[True], np.diff(theta) > 0]) & (math.pi - theta >= _DELTA_MIN / 2)
    return _grid_at(theta[keep])


def _grid_at(theta) -> _Grid:
    """The grid on the increasing angles ``theta``: u, the per-stencil Lagrange denominators and a bucket table
    whose buckets are narrower than half of every node interval (so each holds at most one node)."""
    u = _grid_variable(theta, np)
    inverse_denominators = np.empty((u.size - _STENCIL + 1, _STENCIL))
    for m in range(_STENCIL):
        prod = np.ones(u.size - _STENCIL + 1)
        for j in range(_STENCIL):
            if j != m:
                prod *= u[m : m + prod.size] - u[j : j + prod.size]
        inverse_denominators[:, m] = 1.0 / prod
    count = max(4 * u.size, math.ceil(2.0 * (u[-1] - u[0]) / float(np.min(np.diff(u)))))
    width = (u[-1] - u[0]) / count
    edges = u[0] + width * np.arange(count + 1)
    buckets = np.searchsorted(u, edges + 0.5 * width).astype(np.int64)
    return _Grid(u, theta, inverse_denominators.reshape(-1), buckets, float(u[0]), float(width))


def _weights(grid: _Grid, theta, xp):
    """Stencil starts and Lagrange weights at the angles ``theta``; masks and fractions for the end pieces
    (``t_lo = theta / theta_0`` below the first node, ``t_hi = (pi - theta) / (pi - theta_last)`` above the last)."""
    lo_node, hi_node = float(grid.theta[0]), float(grid.theta[-1])
    below, above = theta < lo_node, theta > hi_node
    inner = xp.where(below | above, math.pi / 2, theta)
    u = _grid_variable(inner, xp)
    g = grid.u.shape[0]
    bucket = xp.astype(clip(xp.floor((u - grid.bucket_origin) / grid.bucket_width), 0, grid.buckets.shape[0] - 1, xp),
                       xp.int64)
    start = clip(xp.take(xp.asarray(grid.buckets, device=array_device(u)), bucket) - _STENCIL // 2, 0, g - _STENCIL, xp)
    nodes = xp.asarray(grid.u, device=array_device(u))
    # the bucket's guess can be one node off: one step to the stencil whose central interval holds u
    middle = _STENCIL // 2
    step = xp.astype(u >= xp.take(nodes, start + middle), xp.int64) - xp.astype(u < xp.take(nodes, start + middle - 1),
                                                                                 xp.int64)
    start = clip(start + step, 0, g - _STENCIL, xp)
    t_lo = theta / lo_node
    t_hi = (math.pi - theta) / (math.pi - hi_node)
    return start, _stencil_weights(grid, u, start, xp), below, above, t_lo, t_hi


def _stencil_weights(grid: _Grid, u, start, xp):
    """Lagrange weights at the grid variables ``u`` on the stencils beginning at the nodes ``start``."""
    nodes = xp.asarray(grid.u, device=array_device(u))
    diffs = [u - xp.take(nodes, start + j) for j in range(_STENCIL)]
    inverse = xp.asarray(grid.inverse_denominators, device=array_device(u))
    weights = []
    for m in range(_STENCIL):
        product = None
        for j in range(_STENCIL):
            if j != m:
                product = diffs[j] if product is None else product * diffs[j]
        weights.append(product * xp.take(inverse, start * _STENCIL + m))
    return weights


def _lagrange(values, start, weights, xp):
    nodes = xp.asarray(values, device=array_device(start))
    out = None
    for m in range(_STENCIL):
        term = weights[m] * xp.take(nodes, start + m)
        out = term if out is None else out + term
    return out


def _interpolate_column(col: "_Column", start, weights, xi, grid_u, xp):
    """(value, log|value|, sign) of one tabulated map at the stencils: log|r| towards xi = +-1 (|xi| > 1/2, where
    power laws in theta live) or where r underflows, if the stencil keeps one sign and log|r| is nearly straight
    on it; r itself elsewhere (a zero of r near the stencil bends log|r| and spoils its interpolant)."""
    if col.log_ratio:
        ratio = _lagrange(col.log, start, weights, xp)
        return None, ratio, xp.take(xp.asarray(col.sign, device=array_device(start)), start)
    log_nodes, sign_nodes = (xp.asarray(col.log, device=array_device(start)),
                             xp.asarray(col.sign, device=array_device(start)))
    off_hi, off_lo = col.offset
    s_first = xp.take(sign_nodes, start)
    tiny = xp.take(log_nodes, start) + off_hi < _LOG_BELOW
    same = (s_first != 0) & ((xp.abs(xi) > _OUTER) | tiny)
    logs = []
    for m in range(_STENCIL):
        log_m = xp.take(log_nodes, start + m)
        same = same & (xp.take(sign_nodes, start + m) == s_first) & xp.isfinite(log_m)
        logs.append(xp.where(xp.isfinite(log_m), log_m, 0.0))
    # curvature of log|r| in u on the stencil, scaled by the spacing (the second difference on uniform nodes; next
    # to pi the nodes are floats 4.4e-16 apart, so their spacing in u is uneven and plain differences would not do)
    nodes_u = [xp.take(xp.asarray(grid_u, device=array_device(start)), start + m) for m in range(_STENCIL)]
    slopes = [(logs[m + 1] - logs[m]) / (nodes_u[m + 1] - nodes_u[m]) for m in range(_STENCIL - 1)]
    bend = xp.zeros_like(logs[0])
    for m in range(1, _STENCIL - 1):
        bend = xp.maximum(bend, xp.abs(slopes[m] - slopes[m - 1]) * (0.5 * (nodes_u[m + 1] - nodes_u[m - 1])))
    same = same & ((bend < _LOG_BEND) | tiny)  # where the linear values underflow only the logs carry digits
    # in differences from the first node's log: deep maps have logs ~ -1e5 that vary little on a stencil, and the
    # weights sum to 1 only to rounding
    acc_log = None
    for m in range(1, _STENCIL):
        term = weights[m] * (logs[m] - logs[0])
        acc_log = term if acc_log is None else acc_log + term
    acc_log = logs[0] + acc_log
    if off_hi != 0.0:
        acc_log = (acc_log + off_lo) + off_hi
    linear = _lagrange(col.linear, start, weights, xp)
    log_lin, sign_lin = log_abs(linear, xp), xp.sign(linear)
    scaled = tiny & ~same
    if bool(xp.any(scaled)):  # a sign change where the linear values underflow: r e^(-max log) on the stencil
        log_sc, sign_sc = _scaled_lagrange(log_nodes, sign_nodes, start, weights, xp)
        log_sc = (log_sc + off_lo) + off_hi if off_hi != 0.0 else log_sc
        log_lin, sign_lin = xp.where(scaled, log_sc, log_lin), xp.where(scaled, sign_sc, sign_lin)
    value = xp.where(same, s_first * xp.exp(xp.where(same, acc_log, 0.0)), linear)
    return value, xp.where(same, acc_log, log_lin), xp.where(same, s_first, sign_lin)


def _scaled_lagrange(log_nodes, sign_nodes, start, weights, xp):
    """(log|p|, sign p) of the Lagrange interpolant p of r = sign e^log on each stencil, formed from
    r e^(-M) with M the stencil's largest log, so that it keeps its digits where r underflows."""
    logs = [xp.take(log_nodes, start + m) for m in range(_STENCIL)]
    top = logs[0]
    for m in range(1, _STENCIL):
        top = xp.maximum(top, logs[m])
    top = xp.where(xp.isfinite(top), top, 0.0)
    acc = None
    for m in range(_STENCIL):
        term = weights[m] * xp.take(sign_nodes, start + m) * xp.exp(logs[m] - top)
        acc = term if acc is None else acc + term
    return top + log_abs(acc, xp), xp.sign(acc)


@dataclass(frozen=True)
class _Column:
    """One tabulated map at the nodes: r = f (or f / xi with ``over_xi``) as log|r|, sign and linear values, or
    with ``log_ratio`` the log of log|f| / log|xi| (in ``log``: k^L and more for xi^(k^L), past the float range),
    with the exact values of f at theta = 0 and pi (log|f|, sign)."""

    log: np.ndarray
    sign: np.ndarray
    linear: np.ndarray
    end0: tuple
    end_pi: tuple
    over_xi: bool = False
    log_ratio: bool = False
    offset: tuple = (0.0, 0.0)  # (hi, lo): ``log`` holds log|r| - hi - lo (see _log_offsets)


def _column(values_log, values_sign, theta_nodes, end0, end_pi, *, over_xi, log_ratio=False, offset=(0.0, 0.0)):
    log_xi, xi_nodes = _log_abs_cos(theta_nodes, np), np.cos(theta_nodes)
    if log_ratio:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ratio = values_log / log_xi  # exact to rounding where it is a normal float; else in logs
            direct = (ratio > 0) & (ratio < math.inf) & (np.abs(log_xi) >= _TINY)
            log_ratio = np.where(direct, np.log(np.where(direct, ratio, 1.0)),
                                 np.log(-values_log) - _log_neg_log_abs_cos(theta_nodes, np))
            log_ratio = np.maximum(log_ratio, -745.0)  # f = +-1 (ratio 0): e^-745 is 0, and interpolable
        return _Column(log_ratio, values_sign, values_sign * 0.0, end0, end_pi, log_ratio=True)
    log_r = values_log - log_xi if over_xi else values_log
    sign_r = values_sign * np.sign(xi_nodes) if over_xi else values_sign
    return _Column(log_r, sign_r, sign_r * np.exp(log_r + offset[1] + offset[0]), end0, end_pi, over_xi=over_xi,
                   offset=offset)


def _log_abs_cos(theta, xp):
    """log|cos theta| without cancellation next to theta = 0 and pi: log1p(-2 sin^2(...))."""
    near = xp.minimum(theta, math.pi - theta)
    return xp.where(near < 0.5, xp.log1p(-2.0 * xp.sin(near / 2) ** 2), log_abs(xp.cos(theta), xp))


def _log_neg_log_abs_cos(theta, xp):
    """log(-log|cos theta|), finite where log|cos theta| ~ -theta^2 / 2 underflows (theta < 1e-162): with
    x = 2 sin^2(near / 2), near = min(theta, pi - theta), -log1p(-x) = x (1 + x/2 + O(x^2)), so below x = 1e-8
    log x + x/2 (error < 2e-17), log x taken as ln 2 + 2 ln sin(near / 2)."""
    near = xp.minimum(theta, math.pi - theta)
    half_sine = xp.sin(near / 2)
    x = 2.0 * half_sine**2
    with np.errstate(divide="ignore"):
        small = math.log(2.0) + 2.0 * xp.log(half_sine) + x / 2
        return xp.where(x < 1e-8, small, xp.log(-_log_abs_cos(theta, xp)))


def _log_from_log_ratio(log_ratio, theta, log_xi, xp):
    """log|f| = ratio * log|xi| from ln(ratio) (a ``log_ratio`` column): the product where both factors are
    normal floats, else -exp(ln ratio + ln(-log|xi|)), so k^L past the float range over a tiny angle stays
    finite; NaN (f = 0 at xi = +-1 only) is -inf."""
    direct = (log_ratio < 700.0) & (xp.abs(log_xi) >= _TINY)
    out = xp.where(direct, xp.exp(xp.where(direct, log_ratio, 0.0)) * log_xi,
                   -xp.exp(log_ratio + _log_neg_log_abs_cos(theta, xp)))
    return xp.where(xp.isnan(out), -math.inf, out)


@dataclass(frozen=True)
class DepthTable:
    """The depth-L maps theta -> Sigma^L, K^L of :func:`tabulate_depth`, cheap to evaluate.

    ``table(xi)`` gives (Sigma^L, K^L) at the cosines ``xi``; ``table.at_angle(theta)`` at the angles
    (the accurate call next to xi = +-1, where a cosine has lost the angle's digits).  ``normalized=True``
    returns K^L / K^L(1) instead of K^L (finite at any depth).  ``table.log(xi)`` returns
    (log|Sigma^L|, sign, log|K^L / K^L(1)|, sign), finite where the linear values underflow.
    ``log_ntk_at_one`` is ln K^L(1); ``method`` the way the nodes were computed.
    """

    dual: NormalizedDual
    depth: int
    log_ntk_at_one: float
    grid: _Grid = field(repr=False)
    sigma: _Column = field(repr=False)
    ntk: _Column | None = field(repr=False)
    method: str = "direct"

    @property
    def ntk_at_one(self) -> float:
        return math.exp(self.log_ntk_at_one)

    @property
    def ntk_nodes(self):
        """The tabulated NTK (None when the dual has no derivative)."""
        return self.ntk

    @property
    def log_ratio(self) -> bool:
        """True when the maps are stored as log|f| / log|xi| (1-NN regime of a polynomial dual)."""
        return self.sigma.log_ratio

    def __call__(self, xi, *, normalized: bool = False):
        xi = clip(asarray(xi, name="xi"), -1.0, 1.0)
        return self._linear(self._evaluate_cosine(xi), normalized)

    def _evaluate_cosine(self, xi):
        if self.dual.odd:  # f(-xi) = -f(xi) exactly: evaluate at |xi|
            xp = array_namespace(xi)
            ax = xp.abs(xi)
            return self._evaluate(normalized_angle(ax), ax, negative=xi < 0)
        return self._evaluate(normalized_angle(xi), xi)

    def at_angle(self, theta, *, normalized: bool = False):
        """(Sigma^L, K^L) at the angles ``theta`` in [0, pi]."""
        theta = clip(asarray(theta, name="theta"), 0.0, math.pi)
        xp = array_namespace(theta)
        return self._linear(self._evaluate(theta, xp.cos(theta)), normalized)

    def log(self, xi):
        """(log|Sigma^L|, sign Sigma^L, log|K^L / K^L(1)|, sign K^L) at the cosines ``xi``."""
        xi = clip(asarray(xi, name="xi"), -1.0, 1.0)
        out = self._evaluate_cosine(xi)
        return (out[1], out[2], None, None) if self.ntk is None else tuple(out[1:3] + out[4:6])

    def _linear(self, out, normalized):
        sigma, ntk = out[0], out[3]
        if ntk is None or normalized:
            return sigma, ntk
        if self.log_ntk_at_one >= math.log(np.finfo(np.float64).max):  # 2^1024 - 1 reads as the largest float
            raise OverflowError(
                f"K^L(1) = exp({self.log_ntk_at_one:.6g}) overflows float64 at depth {self.depth}: "
                "use normalized=True (K^L / K^L(1)) or table.log"
            )
        return sigma, ntk * self.ntk_at_one

    def _evaluate(self, theta, xi, negative=None):
        """[Sigma, log|Sigma|, sign, N, log|N|, sign] (N = K / K(1)), in cache-sized blocks; ``negative``
        (odd duals): where the values are to be negated (the caller folded xi to |xi|)."""
        xp = array_namespace(theta)
        shape = theta.shape
        theta, xi = xp.reshape(theta, (-1,)), xp.reshape(xi, (-1,))
        if self.dual.odd and negative is None:  # fold the angle: pi - theta is exact for theta >= pi/2
            negative = theta > math.pi / 2
            theta, xi = xp.where(negative, math.pi - theta, theta), xp.abs(xi)
        flips = None if negative is None else xp.reshape(negative, theta.shape)
        n = theta.shape[0]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # -inf logs of exact zeros are intended
                blocks = [self._evaluate_block(theta[lo:min(lo + _BLOCK, n)], xi[lo:min(lo + _BLOCK, n)],
                                           None if flips is None else flips[lo:min(lo + _BLOCK, n)], xp)
                      for lo in range(0, max(n, 1), _BLOCK)]
        out = []
        for i in range(6):
            parts = [b[i] for b in blocks]
            out.append(None if parts[0] is None else xp.reshape(parts[0] if len(parts) == 1 else xp.concat(parts), shape))
        return out

    def _evaluate_block(self, theta, xi, flip, xp):
        start, weights, below, above, t_lo, t_hi = _weights(self.grid, theta, xp)
        log_xi = _log_abs_cos(theta, xp)
        out = []
        for col in (self.sigma, self.ntk):
            if col is None:
                out += [None, None, None]
                continue
            value, log_v, sign = self._column_values(col, start, weights, below, above, t_lo, t_hi, theta, xi, log_xi,
                                                     self.grid.u, xp)
            if flip is not None:
                value, sign = xp.where(flip, -value, value), xp.where(flip, -sign, sign)
            out += [value, log_v, sign]
        return out

    @staticmethod
    def _column_values(col, start, weights, below, above, t_lo, t_hi, theta, xi, log_xi, grid_u, xp):
        value, log_v, sign = _interpolate_column(col, start, weights, xi, grid_u, xp)
        if col.log_ratio:
            first, last = float(col.log[0]), float(col.log[-1])
            log_v = _log_from_log_ratio(xp.where(below, first, xp.where(above, last, log_v)), theta, log_xi, xp)
            value = sign * xp.exp(log_v)
        elif col.over_xi:
            value, log_v, sign = value * xi, log_v + log_xi, sign * xp.sign(xi)
        e0 = col.end0[1] * math.exp(col.end0[0])
        e_pi = col.end_pi[1] * math.exp(col.end_pi[0])  # exp(-inf) = 0: a zero end value
        if not col.log_ratio:  # beyond the outer nodes the map is linear in theta to the exact end value
            # f = r xi at the outer nodes, where xi rounds to +-1 (cos 1e-20 = cos(pi - 8.9e-16) = 1 in floats)
            f_first, f_last = float(col.linear[0]), float(col.linear[-1])
            if col.over_xi:
                f_last = -f_last
            low = e0 + (f_first - e0) * t_lo
            high = e_pi + (f_last - e_pi) * t_hi
            value = xp.where(below, low, xp.where(above, high, value))
            log_v = xp.where(below | above, log_abs(value, xp), log_v)
            sign = xp.where(below | above, xp.sign(value), sign)
        exact0, exact_pi = theta <= 0.0, theta >= math.pi
        log_v = xp.where(exact0, col.end0[0], xp.where(exact_pi, col.end_pi[0], log_v))
        sign = xp.where(exact0, col.end0[1], xp.where(exact_pi, col.end_pi[1], sign))
        value = xp.where(exact0, e0, xp.where(exact_pi, e_pi, value))
        return value, log_v, sign


def _log_sign(x):
    return float(log_abs(np.array([x]), np)[0]), float(np.sign(x))


def _node_values(d: NormalizedDual, depth: int, grid: _Grid, method: str, log_domain: bool):
    """(log|Sigma|, sign, log|N|, sign) at the nodes, and the same at theta = pi appended."""
    if method == "doubling":
        sigma, ntk, (s_pi, n_pi) = _doubling_nodes(d, depth, grid)
        sigma, ntk = np.concatenate([sigma, [s_pi]]), np.concatenate([ntk, [n_pi]])
        return log_abs(sigma, np), np.sign(sigma), log_abs(ntk, np), np.sign(ntk)
    nodes = _log_domain_nodes if log_domain else _direct_nodes
    if d.odd:  # evaluation folds to theta <= pi/2; next to pi the float angles could not carry the orbit anyway
        used = grid.theta <= 2.0
        half = nodes(d, depth, grid.theta[used])
        values = []
        for v, fill in zip(half, (-math.inf, 0.0, -math.inf, 0.0)):
            full = np.full(grid.theta.shape, fill)
            full[used] = v
            values.append(full)
    else:
        values = nodes(d, depth, grid.theta)
    end = _antipodal(d, depth, nodes)
    return tuple(np.concatenate([v, [e]]) for v, e in zip(values, end))


def _antipodal(d: NormalizedDual, depth: int, nodes):
    """(log|Sigma^L(-1)|, sign, log|N^L(-1)|, sign).  An odd dual keeps -1 (Sigma = N = -1); a dual with
    phĭ(-1) = 1 reaches the fixed point 1 after one layer with K^1(-1) = K^1(1) when phĭ'(-1) = -phĭ'(1)
    (even polynomials), so N = 1 from there; other duals leave -1 and are iterated like the nodes."""
    if depth == 0 or d.odd:
        ends = (0.0, -1.0)
    elif d.coefficients is not None and all(c == 0.0 for c in d.coefficients[1::2]):  # even polynomial
        ends = (0.0, 1.0)
    else:
        return tuple(float(v[0]) for v in nodes(d, depth, np.array([math.pi])))
    if nodes is _direct_nodes:  # its logs are stored less the offsets
        (hs, ls_), (hn, ln_) = _log_offsets(d, depth)
        return (ends[0] - hs) - ls_, ends[1], (ends[0] - hn) - ln_, ends[1]
    return ends + ends


_REFINE_RTOL = 1e-11  # relative spread of two neighbouring stencils' interpolants above which an interval is halved
_REFINE_LEVELS = 4  # halvings of an interval at most
_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)


def _stencil_spread(grid: _Grid, column: _Column, theta, interval):
    """Relative difference, at the angles ``theta`` inside the node intervals ``interval``, between the centred
    stencil's interpolant of ``column`` (the one evaluation uses) and the stencil one node to the side: an
    estimate of the interpolation error that needs no new values.  Where the sign changes on the interval or
    between the two, the difference is scaled by the largest of the two values and the interval's end nodes."""
    g = grid.u.shape[0]
    u, xi = _grid_variable(theta, np), np.cos(theta)
    centred = np.clip(interval - (_STENCIL // 2 - 1), 0, g - _STENCIL)
    side = np.where(centred > 0, centred - 1, centred + 1)
    logs, signs = [], []
    for start in (centred, side):
        _, log_v, sign = _interpolate_column(column, start, _stencil_weights(grid, u, start, np), xi, grid.u, np)
        if column.log_ratio:
            log_v = _log_from_log_ratio(log_v, theta, _log_abs_cos(theta, np), np)
        logs.append(log_v)
        signs.append(sign)
    ends_log = [column.log[interval + j] + column.offset[0] for j in (0, 1)]
    ends_sign = [column.sign[interval + j] for j in (0, 1)]
    if column.log_ratio:
        ends_log = [_log_from_log_ratio(r, grid.theta[interval + j], _log_abs_cos(grid.theta[interval + j], np), np)
                    for r, j in zip(ends_log, (0, 1))]
    one_sign = (signs[0] == signs[1]) & (signs[1] == ends_sign[0]) & (ends_sign[0] == ends_sign[1]) & (signs[1] != 0)
    top = np.where(one_sign, logs[0], np.maximum(np.maximum(logs[0], logs[1]), np.maximum(*ends_log)))
    spread = np.abs(signs[1] * np.exp(logs[1] - top) - signs[0] * np.exp(logs[0] - top))
    # logs of deep maps (~ -1e5) carry their own rounding, eps |log| absolute: not an interpolation error
    spread = spread - 8.0 * _EPS * np.abs(top - column.offset[0])
    return np.where(np.isnan(spread), 0.0, spread)


def _refine(d: NormalizedDual, depth: int, grid: _Grid, values, nodes, build):
    """Halve, up to ``_REFINE_LEVELS`` times, every node interval on which two neighbouring stencils' interpolants
    differ by more than ``_REFINE_RTOL`` (relative), computing the new nodes like the others: the grid stays fine
    only where the maps are steep.  A half is halved again only if halving cut the spread by more than 4 (it
    cuts it by about 2^6 where the map is smooth; not where rounding in the values dominates).  ``values`` =
    (log|Sigma|, sign, log|N|, sign) at the nodes; ``build(grid, values)`` gives the columns.  Returns the
    refined grid and values."""
    theta = grid.theta
    interval = np.arange(theta.size - 1)
    limit = np.full(interval.shape, math.inf)  # the spread on the parent interval
    for _ in range(_REFINE_LEVELS):
        mid = 0.5 * (theta[interval] + theta[interval + 1])
        ok = (mid > theta[interval]) & (mid < theta[interval + 1]) & ((mid <= math.pi / 2) | (not d.odd))
        interval, mid, limit = interval[ok], mid[ok], limit[ok]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            spread = np.zeros(mid.shape)
            for column in build(grid, values):
                spread = np.maximum(spread, _stencil_spread(grid, column, mid, interval))
            wide = (spread > _REFINE_RTOL) & (4.0 * spread < limit)
        if not np.any(wide):
            break
        interval, mid, spread = interval[wide], mid[wide], spread[wide]
        new = nodes(d, depth, mid)
        values = tuple(np.insert(v, interval + 1, w) for v, w in zip(values, new))
        theta = np.insert(theta, interval + 1, mid)
        grid = _grid_at(theta)
        left = interval + np.arange(interval.size)  # the halves, numbered in the new grid
        order = np.argsort(np.concatenate([left, left + 1]), kind="stable")
        interval = np.concatenate([left, left + 1])[order]
        limit = np.concatenate([spread, spread])[order]
    return grid, values


def tabulate_depth(
    dual,
    depth: int,
    *,
    dual_derivative: Callable | None = None,
    grid_size: int = 8193,
    log_domain: bool | None = None,
    method: str = "auto",
    refine: bool = True,
) -> DepthTable:
    """Tabulate the depth-L maps of :func:`nngp_ntk` once; evaluate them in O(size) at any depth.

    Parameters
    ----------
    dual : name, NormalizedDual or callable
        See :func:`kernels.ntk.duals.get_dual` (``dual_derivative`` is phĭ' of a callable; the NTK needs it).
    depth : int
        L >= 0.
    grid_size : int
        Nodes of the base grid, uniform in u = theta + 0.1 ln(theta / (pi - theta)) on [1e-20, pi - 1e-15].
    log_domain : bool, optional
        Store log|f| / log|xi| (default: for polynomial duals in the 1-NN regime, where f ~ xi^(k^L) underflows).
    method : {"auto", "direct", "doubling"}
        Node values by the angle recursion ("direct"; in the singular and 1-NN regimes the layers past the
        linear tail are summed in closed form, so the cost is bounded in L) or by binary powering of the
        angle maps ("doubling", O(grid log L); "auto" takes it for majority-vote duals deeper than 64).
    refine : bool
        With "direct" node values: halve (up to 4 times) each node interval on which the interpolants of two
        neighbouring stencils differ by more than 1e-11 relative, so that steep maps get nodes where they need
        them (default True).

    Returns
    -------
    DepthTable
    """
    d = get_dual(dual, derivative=dual_derivative)
    depth = check_positive_int(depth, "depth", minimum=0)
    grid_size = check_positive_int(grid_size, "grid_size", minimum=4 * _STENCIL)
    if method not in ("auto", "direct", "doubling"):
        raise ValueError(f"method must be 'auto', 'direct' or 'doubling', got {method!r}")
    has_ntk = d.derivative is not None
    if method == "doubling" and not has_ntk:
        raise ValueError("method='doubling' needs the derivative of the dual")
    kind = regime(d) if (has_ntk or d.at_zero > REGIME_ATOL) else "unknown"
    if method == "auto":
        method = "doubling" if depth > _DOUBLING_FROM and has_ntk and kind == "majority_vote" else "direct"
    if log_domain is None:
        log_domain = d.coefficients is not None and kind == "one_nn"
    if log_domain and d.coefficients is None:
        raise ValueError(f"log_domain=True needs a polynomial dual, got {d.name!r}")
    grid = _angle_grid(grid_size)
    if not has_ntk:
        d = _with_zero_slope(d)
    values = _node_values(d, depth, grid, method, log_domain)
    over_xi = d.at_zero == 0.0 and not log_domain
    offsets = _log_offsets(d, depth) if method == "direct" and not log_domain else ((0.0, 0.0), (0.0, 0.0))
    end_pi = [((float(v[-1]) + lo) + hi, float(s_[-1])) for (v, s_), (hi, lo) in zip((values[:2], values[2:]), offsets)]

    def build(grid, values):
        return [_column(l_, s_, grid.theta, (0.0, 1.0), e, over_xi=over_xi, log_ratio=log_domain, offset=off)
                for (l_, s_), e, off in zip((values[:2], values[2:]), end_pi, offsets)]

    values = tuple(v[:-1] for v in values)
    if refine and method == "direct":
        grid, values = _refine(d, depth, grid, values, _log_domain_nodes if log_domain else _direct_nodes, build)
    columns = build(grid, values)
    return DepthTable(dual=d, depth=depth, log_ntk_at_one=_diagonal_ntk_log(d, depth) if has_ntk else 0.0,
                      grid=grid, sigma=columns[0], ntk=columns[1] if has_ntk else None, method=method)


def _with_zero_slope(d: NormalizedDual) -> NormalizedDual:
    """The dual with phĭ' = 0 (only Sigma is tabulated when the derivative is unknown)."""
    from dataclasses import replace

    return replace(d, derivative=lambda xi, xp: xp.zeros_like(xi), slope_at_angle=None,
                   slope_at_zero=0.0 if math.isnan(d.slope_at_zero) else d.slope_at_zero,
                   slope_at_one=0.0 if math.isnan(d.slope_at_one) else d.slope_at_one)
