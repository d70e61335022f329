"""Deep normalised NNGP/NTK recursions of the cosine and their depth tables: the one tabulation engine.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.

For inputs on the unit sphere and a normalised dual phĭ (:mod:`kernels.ntk.duals`) the depth-L kernels
depend on the inputs only through their cosine xi:

    Sigma^0 = K^0 = xi,
    Sigma^l = phĭ(Sigma^(l-1))                  (clipped to [-1, 1]; NNGP),
    K^l     = Sigma^l + K^(l-1) phĭ'(Sigma^(l-1))                   (NTK).

Numerics.  The recursions work on cosines (never on variances), so repelling duals (phĭ'(1) > 1) cannot
blow up.  In the 1-NN regime off-diagonal kernels behave like xi^(k^L) and underflow; for polynomial
duals :func:`log_nngp_ntk` runs the recursion on (log|x|, sign x) instead.  :func:`tabulate_depth` makes
the evaluation cost independent of depth: the depth-L maps xi -> (Sigma^L, K^L) are computed once on a grid
of the angle (uniform in u = theta + c ln(theta / (pi - theta)), which resolves both ends of [0, pi] where
the sqrt(1 - xi^2) singularities live) and then interpolated by local degree-5 Lagrange polynomials, in the
log domain wherever the stencil keeps one sign.  :mod:`kernels.ntk.fc` evaluates its homogeneous-activation
path through these tables too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from kernels.backend import array_namespace, asarray
from kernels.ntk.duals import NormalizedDual, get_dual, regime
from kernels.numerics import clip, log_abs
from kernels.validation import check_positive_int

__all__ = ["nngp_ntk", "log_nngp_ntk", "DepthTable", "tabulate_depth"]

# --- direct recursions -------------------------------------------------------------------------


def nngp_ntk(xi, dual, depth: int, *, dual_derivative: Callable | None = None, normalized: bool = False):
    """(Sigma^L, K^L) of the normalised recursion at the cosines ``xi`` (any shape), O(size * depth).

    The reference implementation; :func:`tabulate_depth` gives the same values at a cost independent
    of depth.  ``xi`` is clipped to [-1, 1] (dot products of unit vectors may round past 1).
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


def _log_poly(coeffs: tuple[float, ...], log_x, sign, xp):
    """(log|p(x)|, sign p(x)) for p = sum_i c_i x^i with x = sign * exp(log_x), |x| <= 1.

    p(x) = x^k B(x) with k the lowest non-zero index and B(x) = sum_{i>=k} c_i x^(i-k): B is evaluated
    in the linear domain (x underflowing to 0 only drops terms negligible next to c_k).
    """
    k = next(i for i, c in enumerate(coeffs) if c != 0.0)
    x = sign * xp.exp(log_x)
    tail = coeffs[k:]
    b = xp.zeros_like(x) + tail[-1]
    for c in tail[-2::-1]:
        b = b * x + c
    log_b = log_abs(b)
    sign_b = xp.sign(b)
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
        ls_next, ss_next = _log_poly(coeffs, ls, ss, xp)
        ls_next = xp.minimum(ls_next, 0.0)  # |Sigma| <= 1, the clip of the linear recursion
        lk, sk = _signed_logaddexp(ls_next, ss_next, lk + ld, sk * sd, xp)
        ls, ss = ls_next, ss_next
    return ls, ss, lk, sk


def _diagonal_ntk_log(d: NormalizedDual, depth: int) -> float:
    """ln K^L(1) = ln sum_{l=0}^{L} phĭ'(1)^l, computed without overflow."""
    g = d.slope_at_one
    if abs(g - 1.0) < 1e-15:
        return math.log(depth + 1.0)
    if g < 1.0:
        return math.log1p(-(g ** (depth + 1))) - math.log1p(-g)
    # g^(L+1) - 1 over g - 1, in logs
    top = (depth + 1) * math.log(g)
    return top + math.log1p(-math.exp(-top)) - math.log(g - 1.0)


# --- depth-independent evaluation --------------------------------------------------------------

_LOG_FROM = 0.5  # cosine above which the table interpolates log|f| (theta < pi/3)
_DOUBLING_FROM = 64  # depth above which majority-vote duals are tabulated by binary powering
_LOG_BEND = 1e-3  # largest second difference of log|f| on a stencil interpolated in the log domain
_BLOCK = 1 << 15  # entries evaluated together (keeps the temporaries in cache)
_STENCIL = 6  # points of the local Lagrange interpolant (degree 5)


@dataclass(frozen=True)
class DepthTable:
    """The depth-L maps xi -> Sigma^L(xi), K^L(xi) tabulated on an angle grid (see :func:`tabulate_depth`).

    Call ``table(xi)`` for (Sigma^L, K^L) arrays like ``xi``; ``table(xi, normalized=True)`` returns
    K^L / K^L(1) instead of K^L (finite at any depth).  ``table.log(xi)`` returns
    (log|Sigma^L|, sign, log|K^L / K^L(1)|, sign), finite where the linear values underflow (1-NN regime
    of a polynomial dual).  ``log_ntk_at_one`` is ln K^L(1).
    """

    dual: NormalizedDual
    depth: int
    log_ntk_at_one: float
    grid: _Grid = field(repr=False)
    sigma_nodes: np.ndarray = field(repr=False)  # shape (2, G): log|Sigma^L| (or log ratio), sign
    ntk_nodes: np.ndarray | None = field(repr=False)  # same for K^L / K^L(1)
    sigma_linear: np.ndarray = field(repr=False)
    ntk_linear: np.ndarray | None = field(repr=False)
    log_ratio: bool = False  # True: nodes store log|f| / log|xi| (1-NN regime)
    antipodal: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 1.0)  # logs and signs at xi = -1
    use_log: bool = True  # interpolate log|f| near xi = +-1 (power laws of the singular and 1-NN regimes)

    @property
    def ntk_at_one(self) -> float:
        return math.exp(self.log_ntk_at_one)

    def _weights(self, xi, xp):
        return _lagrange_weights(self.grid, xi, xp)

    def _interpolate(self, nodes_log, nodes_linear, start, weights, xi, xp):
        return _hybrid_interpolate(nodes_log, nodes_linear, start, weights, xi, xp, log_ratio=self.log_ratio)

    def _evaluate(self, xi, *, want_log: bool = False):
        """[Sigma, log|Sigma|, sign Sigma, N, log|N|, sign N] (N = K / K(1)) at ``xi``, in cache-sized blocks."""
        xi = asarray(xi, name="xi")
        xp = array_namespace(xi)
        shape = xi.shape
        flat = clip(xp.reshape(xi, (-1,)), -1.0, 1.0)
        n = flat.shape[0]
        blocks = [
            self._evaluate_block(flat[lo : min(lo + _BLOCK, n)], xp, want_log) for lo in range(0, max(n, 1), _BLOCK)
        ]
        out = []
        for i in range(len(blocks[0])):
            parts = [blk[i] for blk in blocks]
            if parts[0] is None:
                out.append(None)
            else:
                out.append(xp.reshape(parts[0] if len(parts) == 1 else xp.concat(parts), shape))
        return out, xp

    def _evaluate_block(self, flat, xp, want_log):
        at_one, at_minus_one = flat >= 1.0, flat <= -1.0
        inner = xp.where(at_one | at_minus_one, 0.5, flat)
        start, weights = self._weights(inner, xp)
        pieces = [(self.sigma_nodes, self.sigma_linear, self.antipodal[:2])]
        if self.ntk_nodes is not None:
            pieces.append((self.ntk_nodes, self.ntk_linear, self.antipodal[2:]))
        if not self.use_log:
            acc = None
            for m in range(_STENCIL):
                term = xp.take(self._linear_table(xp), start + m, axis=0) * weights[m][:, None]
                acc = term if acc is None else acc + term
        out = []
        for col, (nodes, linear, (log_end, sign_end)) in enumerate(pieces):
            end_value = sign_end * math.exp(log_end) if math.isfinite(log_end) else 0.0
            if self.use_log:
                value, log_value, sign = self._interpolate(nodes, linear, start, weights, inner, xp)
            else:
                value = acc[:, col]
            out.append(xp.where(at_one, 1.0, xp.where(at_minus_one, end_value, value)))
            if not want_log:
                out += [None, None]
            elif self.use_log:
                out.append(xp.where(at_one, 0.0, xp.where(at_minus_one, log_end, log_value)))
                out.append(xp.where(at_one, 1.0, xp.where(at_minus_one, sign_end, sign)))
            else:
                out += [log_abs(out[-1]), xp.sign(out[-1])]
        return out

    def _linear_table(self, xp):
        columns = [self.sigma_linear] + ([self.ntk_linear] if self.ntk_linear is not None else [])
        return xp.asarray(np.stack(columns, axis=1))

    def __call__(self, xi, *, normalized: bool = False):
        out, xp = self._evaluate(xi)
        sigma = out[0]
        if self.ntk_nodes is None:
            return sigma, None
        ntk = out[3]
        if not normalized:
            if self.log_ntk_at_one > math.log(np.finfo(np.float64).max) - 1:
                raise OverflowError(
                    f"K^L(1) = exp({self.log_ntk_at_one:.6g}) overflows float64 at depth {self.depth}: "
                    "use normalized=True (K^L / K^L(1)) or table.log"
                )
            ntk = ntk * self.ntk_at_one
        return sigma, ntk

    def log(self, xi):
        """(log|Sigma^L|, sign Sigma^L, log|K^L / K^L(1)|, sign K^L) at the cosines ``xi``."""
        out, _ = self._evaluate(xi, want_log=True)
        if self.ntk_nodes is None:
            return out[1], out[2], None, None
        return out[1], out[2], out[4], out[5]


def _lagrange_weights(grid, xi, xp):
    """Stencil start indices and the Lagrange weights at the cosines ``xi`` (flattened, |xi| < 1).

    The stencil is located through a bucket table on a uniform partition of u (no binary search):
    buckets are finer than the node spacing, so the stencil is centred to within one node.
    """
    theta = xp.acos(xi)
    u = theta + grid.c * (xp.log(theta) - xp.log(math.pi - theta)) if grid.c else theta
    nodes = xp.asarray(grid.u)
    g = grid.u.shape[0]
    bucket = xp.astype(clip(xp.floor((u - grid.bucket_origin) / grid.bucket_width), 0, grid.buckets.shape[0] - 1),
                       xp.int64)
    start = clip(xp.take(xp.asarray(grid.buckets), bucket) - _STENCIL // 2, 0, g - _STENCIL)
    diffs = [u - xp.take(nodes, start + j) for j in range(_STENCIL)]
    prefix = [None, diffs[0]]
    for j in range(1, _STENCIL - 1):
        prefix.append(prefix[-1] * diffs[j])
    suffix = [None, diffs[_STENCIL - 1]]
    for j in range(_STENCIL - 2, 0, -1):
        suffix.append(suffix[-1] * diffs[j])
    inverse = xp.asarray(grid.inverse_denominators)
    weights = []
    for m in range(_STENCIL):
        left, right = prefix[m], suffix[_STENCIL - 1 - m]
        product = left if right is None else (right if left is None else left * right)
        weights.append(product * xp.take(inverse, start * _STENCIL + m))
    return start, weights


def _hybrid_interpolate(nodes_log, nodes_linear, start, weights, xi, xp, *, log_ratio=False):
    """(value, log|value|, sign) of the Lagrange interpolant.

    Towards xi = +-1 (|xi| > 1/2), where power laws in theta live, log|f| is interpolated whenever the
    stencil keeps one sign; elsewhere f itself.  In the ratio mode (1-NN regime) the nodes hold
    log|f| / log|xi|, smooth on all of (-1, 1), and that is interpolated throughout.
    """
    log_nodes = xp.asarray(nodes_log[0])
    sign_nodes = xp.asarray(nodes_log[1])
    lin_nodes = xp.asarray(nodes_linear)
    acc_log = xp.zeros_like(xi)
    acc_lin = xp.zeros_like(xi)
    s_first = xp.take(sign_nodes, start)
    same_sign = (s_first != 0) if log_ratio else (s_first != 0) & (xp.abs(xi) > _LOG_FROM)
    logs = []
    for m in range(_STENCIL):
        idx = start + m
        log_m = xp.take(log_nodes, idx)
        logs.append(xp.where(xp.isfinite(log_m), log_m, -1e300))  # -inf = 0 values: keeps differences finite
        acc_log = acc_log + weights[m] * xp.where(same_sign & xp.isfinite(log_m), log_m, 0.0)
        acc_lin = acc_lin + weights[m] * xp.take(lin_nodes, idx)
        same_sign = same_sign & (xp.take(sign_nodes, idx) == s_first) & xp.isfinite(log_m)
    if not log_ratio:
        # A zero of f near the stencil bends log|f| (second differences ~ (h / distance)^2) and spoils its
        # interpolant; power laws keep log|f| nearly straight in u.  Bent stencils use the linear one.
        bend = xp.zeros_like(xi)
        for m in range(1, _STENCIL - 1):
            second = xp.abs(logs[m + 1] - 2.0 * logs[m] + logs[m - 1])
            bend = xp.maximum(bend, xp.where(same_sign, second, math.inf))
        same_sign = same_sign & (bend < _LOG_BEND)
    if log_ratio:
        acc_log = acc_log * log_abs(xi)
        acc_log = xp.where(xp.isnan(acc_log), -math.inf, acc_log)  # ratio * log 0 at xi = 0
    log_value = xp.where(same_sign, acc_log, log_abs(acc_lin))
    sign = xp.where(same_sign, s_first, xp.sign(acc_lin))
    value = xp.where(same_sign, s_first * xp.exp(xp.where(same_sign, acc_log, 0.0)), acc_lin)
    return value, log_value, sign


def _log_sign_nodes(values):
    values = np.asarray(values, dtype=np.float64)
    logs = np.log(np.abs(values), where=values != 0, out=np.full_like(values, -np.inf))
    return np.stack([logs, np.sign(values)])


class _NodeMaps:
    """Node values of the b-layer maps S_b, f_b = F_b / K^b(1), e_b = D_b / K^b(1) of the NTK recursion
    started at depth a: K^(a+b) = F_b(Sigma^a) + D_b(Sigma^a) K^a (D_b = dS_b/ds), plus their values at +-1."""

    def __init__(self, grid, values, ends_plus, ends_minus, log_scale):
        self.grid = grid  # (u, xi, inverse denominators, c)
        self.values = [np.asarray(v) for v in values]
        self.logs = [_log_sign_nodes(v) for v in self.values]
        self.ends_plus, self.ends_minus, self.log_scale = ends_plus, ends_minus, log_scale

    def at(self, s):
        """The three maps at the cosines ``s`` (NumPy)."""
        xp = array_namespace(s)
        plus, minus = s >= 1.0, s <= -1.0
        inner = np.where(plus | minus, 0.5, s)
        start, weights = _lagrange_weights(self.grid, inner, xp)
        out = []
        for lin, logs, e_plus, e_minus in zip(self.values, self.logs, self.ends_plus, self.ends_minus):
            value = _hybrid_interpolate(logs, lin, start, weights, inner, xp)[0]
            out.append(np.where(plus, e_plus, np.where(minus, e_minus, value)))
        return out

    def then(self, outer: "_NodeMaps") -> "_NodeMaps":
        """The maps of (self's a layers, then outer's b layers):

        S_(a+b) = S_b(S_a),  F_(a+b) = F_b(S_a) + D_b(S_a) F_a,  D_(a+b) = D_b(S_a) D_a,
        with every F, D divided by its K(1) (kept as a log scale) so that nothing overflows.
        """
        log_a, log_b = self.log_scale, outer.log_scale
        f_b1, e_b1 = outer.ends_plus[1], outer.ends_plus[2]
        # K^(a+b)(1) = F_b(1) + D_b(1) K^a(1) = K^b(1) (f_b(1) + e_b(1) K^a(1))
        log_ab = log_b + log_a + math.log(e_b1 + f_b1 * math.exp(-log_a))
        r_b = math.exp(log_b - log_ab)
        r_ab = math.exp(log_b + log_a - log_ab)

        def combine(f, e, sb, fb, eb):
            return sb, r_b * fb + r_ab * eb * f, r_ab * eb * e

        s_a, f_a, e_a = self.values
        values = combine(f_a, e_a, *outer.at(s_a))
        ends = []
        for s0, f0, e0 in (self.ends_plus, self.ends_minus):
            sb0, fb0, eb0 = (float(v[0]) for v in outer.at(np.array([s0])))
            ends.append(tuple(float(v) for v in combine(f0, e0, sb0, fb0, eb0)))
        return _NodeMaps(self.grid, values, ends[0], ends[1], log_ab)


def _composed_maps(d: NormalizedDual, depth: int, grid) -> _NodeMaps:
    """Node values of the depth-L maps by binary powering: O(grid * log L) instead of O(grid * L)."""
    xi_nodes = grid.xi

    def one_layer(x):
        x = np.asarray(x, dtype=np.float64)
        s1 = np.clip(np.asarray(d.value(x, array_namespace(x))), -1.0, 1.0)
        return s1, np.asarray(d.derivative(x, array_namespace(x)))

    log_k1 = math.log1p(d.slope_at_one)
    s1, d1 = one_layer(xi_nodes)
    scale = math.exp(-log_k1)
    ends = []
    for x0 in (1.0, -1.0):
        sv, dv = one_layer(np.array([x0]))
        ends.append((float(sv[0]), float(sv[0]) * scale, float(dv[0]) * scale))
    power = _NodeMaps(grid, (s1, s1 * scale, d1 * scale), ends[0], ends[1], log_k1)
    result = None
    remaining = depth
    while remaining:
        if remaining & 1:
            result = power if result is None else result.then(power)
        remaining >>= 1
        if remaining:
            power = power.then(power)
    return result


def _grid_variable(theta, c):
    """u = theta + c ln(theta / (pi - theta)): log-spaced towards both ends of (0, pi), uniform between."""
    return theta + c * (np.log(theta) - np.log(math.pi - theta)) if c else np.asarray(theta, dtype=np.float64)


@dataclass(frozen=True)
class _Grid:
    """Interpolation nodes: cosines ``xi`` and abscissae ``u`` (increasing), per-stencil Lagrange
    denominators, and the bucket table that locates a stencil in O(1)."""

    u: np.ndarray
    xi: np.ndarray
    inverse_denominators: np.ndarray
    c: float
    buckets: np.ndarray
    bucket_origin: float
    bucket_width: float


def _angle_grid(grid_size: int, c: float) -> _Grid:
    """Cosine nodes whose angles are near-uniform in u on [theta_min, pi - theta_min].

    Each node is a float xi_j and its abscissa is u(arccos xi_j), computed exactly as for a query:
    close to xi = 1 the floats are sparse in theta (spacing 1.1e-16 / theta), so nodes placed at
    exact angles would sit at the wrong abscissae.  Duplicate floats are dropped.
    """
    theta_min = 1.5e-8  # arccos of the largest float below 1 is 1.49e-8
    u_lo, u_hi = _grid_variable(theta_min, c), _grid_variable(math.pi - theta_min, c)
    u = np.linspace(u_lo, u_hi, grid_size)
    lo, hi = np.full_like(u, theta_min / 2), np.full_like(u, math.pi - theta_min / 2)
    for _ in range(80):  # u is increasing in theta: bisection to full precision
        mid = 0.5 * (lo + hi)
        below = _grid_variable(mid, c) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    ends = [np.nextafter(1.0, 0.0), np.nextafter(-1.0, 0.0)]  # the cosines closest to +-1 are nodes
    xi = np.unique(np.concatenate([np.cos(0.5 * (lo + hi)), ends]))[::-1]
    xi = xi[(xi < 1.0) & (xi > -1.0)]
    u = _grid_variable(np.arccos(xi), c)
    inverse_denominators = np.empty((u.size - _STENCIL + 1, _STENCIL))
    for m in range(_STENCIL):
        prod = np.ones(u.size - _STENCIL + 1)
        for j in range(_STENCIL):
            if j != m:
                prod *= u[m : m + prod.size] - u[j : j + prod.size]
        inverse_denominators[:, m] = 1.0 / prod
    width = (u[-1] - u[0]) / (4 * u.size)
    edges = u[0] + width * np.arange(4 * u.size + 1)
    buckets = np.searchsorted(u, edges + 0.5 * width).astype(np.int64)
    return _Grid(u, xi, inverse_denominators.reshape(-1), c, buckets, float(u[0]), float(width))


def _ratio_nodes(log_f, log_xi):
    """log|f| / log|xi| on the nodes (none sits at xi = +-1, where log|xi| = 0)."""
    return log_f / log_xi


def tabulate_depth(
    dual,
    depth: int,
    *,
    dual_derivative: Callable | None = None,
    grid_size: int = 4097,
    log_domain: bool | None = None,
    method: str = "auto",
) -> DepthTable:
    """Tabulate the depth-L maps of :func:`nngp_ntk` once (O(grid_size * depth)); evaluate in O(size).

    ``log_domain`` (default: on for polynomial duals in the 1-NN regime) runs :func:`log_nngp_ntk`
    on the nodes and interpolates log|f(xi)| / log|xi|, which stays smooth where f ~ xi^(k^L).
    """
    d = get_dual(dual, derivative=dual_derivative)
    depth = check_positive_int(depth, "depth", minimum=0)
    grid_size = check_positive_int(grid_size, "grid_size", minimum=4 * _STENCIL)
    if method not in ("auto", "direct", "doubling"):
        raise ValueError(f"method must be 'auto', 'direct' or 'doubling', got {method!r}")
    if method == "auto":
        deep = depth > _DOUBLING_FROM and d.derivative is not None
        method = "doubling" if deep and regime(d) == "majority_vote" else "direct"
    if method == "doubling" and d.derivative is None:
        raise ValueError("method='doubling' needs the derivative of the dual")
    if log_domain is None:
        log_domain = d.coefficients is not None and regime(d) == "one_nn"
    if log_domain and d.coefficients is None:
        raise ValueError(f"log_domain=True needs a polynomial dual, got {d.name!r}")
    # power laws (singular and 1-NN regimes) need log spacing towards theta = 0 and pi; otherwise theta
    use_log = bool(log_domain) or regime(d) != "majority_vote"
    grid = _angle_grid(grid_size, 0.1)
    xi_nodes = grid.xi
    has_ntk = d.derivative is not None
    log_k1 = _diagonal_ntk_log(d, depth) if has_ntk else 0.0
    if log_domain:
        ls, ss, lk, sk = (np.asarray(v) for v in log_nngp_ntk(xi_nodes, d, depth))
        lk = lk - log_k1
        log_xi = np.log(np.abs(xi_nodes))
        sigma_nodes = np.stack([_ratio_nodes(ls, log_xi), ss])
        ntk_nodes = np.stack([_ratio_nodes(lk, log_xi), sk])
        sigma_lin, ntk_lin = ss * np.exp(ls), sk * np.exp(lk)
    elif method == "doubling":
        maps = _composed_maps(d, depth, grid)
        s_l, f_l, e_l = maps.values
        sigma_lin = s_l
        sigma_nodes = _log_sign_nodes(sigma_lin)
        ntk_lin = f_l + e_l * xi_nodes
        ntk_nodes = _log_sign_nodes(ntk_lin)
    else:
        sigma, ntk = nngp_ntk(xi_nodes, d, depth, normalized=True)
        sigma_lin = np.asarray(sigma)
        sigma_nodes = np.stack([np.log(np.abs(sigma_lin), where=sigma_lin != 0, out=np.full_like(sigma_lin, -np.inf)),
                                np.sign(sigma_lin)])
        if has_ntk:
            ntk_lin = np.asarray(ntk)
            ntk_nodes = np.stack([np.log(np.abs(ntk_lin), where=ntk_lin != 0, out=np.full_like(ntk_lin, -np.inf)),
                                  np.sign(ntk_lin)])
    if not has_ntk:
        ntk_nodes = ntk_lin = None
    minus_one = np.array([-1.0])
    if log_domain:
        ls, ss, lk, sk = (float(np.asarray(v)[0]) for v in log_nngp_ntk(minus_one, d, depth))
        antipodal = (ls, ss, lk - log_k1, sk)
    elif method == "doubling":
        s_end, f_end, e_end = maps.ends_minus
        antipodal = tuple(
            v for x in (s_end, f_end - e_end) for v in ((math.log(abs(x)) if x != 0 else -math.inf), float(np.sign(x)))
        )
    else:
        sigma_end, ntk_end = nngp_ntk(minus_one, d, depth, normalized=True)
        values = [float(np.asarray(sigma_end)[0]), float(np.asarray(ntk_end)[0]) if has_ntk else 1.0]
        antipodal = tuple(
            v for x in values for v in ((math.log(abs(x)) if x != 0 else -math.inf), float(np.sign(x)))
        )
    return DepthTable(
        dual=d, depth=depth, log_ntk_at_one=log_k1, grid=grid,
        sigma_nodes=sigma_nodes, ntk_nodes=ntk_nodes, sigma_linear=sigma_lin, ntk_linear=ntk_lin,
        log_ratio=bool(log_domain), antipodal=antipodal, use_log=use_log,
    )

