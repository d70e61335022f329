"""High-precision references shared by the claims and the tests.

Each reference computes in mpmath at a precision it sets locally (``mpmath.workdps``), never through the
global ``mp.dps``, and is written independently of the code it checks (a different formula or algorithm
where one exists).
"""

from __future__ import annotations

import mpmath as mp

__all__ = ["binary_kl"]


def binary_kl(q, p, *, dps: int = 50):
    """kl(q || p) = q ln(q/p) + (1-q) ln((1-q)/(1-p)) as an mpf at ``dps`` digits (0 ln 0 = 0; inf off the support).

    ``q`` and ``p`` are taken exactly (floats convert without rounding).
    """
    with mp.workdps(dps):
        q, p = mp.mpf(q), mp.mpf(p)
        if (p <= 0 and q > 0) or (p >= 1 and q < 1):
            return mp.inf
        first = 0 if q == 0 else q * (mp.log(q) - mp.log(p))
        second = 0 if q == 1 else (1 - q) * (mp.log1p(-q) - mp.log1p(-p))
        return +(first + second)


# --- generalised chi-squared CDF (inductive_bias) ---------------------------------------------------------
__all__ += ["gen_chi2_logcdf_series", "gen_chi2_cdf_inversion"]


def _gen_chi2_index_pmf(w, k, d, beta, n_max):
    """pmf (n_max values) of the mixture index of the chi-squared mixture of Q / beta, as a convolution.

    Each term w_j chi'^2(k_j, delta_j) contributes an independent index: a negative binomial
    NB(k_j / 2, q_j) (q_j = 1 - beta / w_j) plus a Poisson(delta_j / 2) number of geometric jumps on
    {1, 2, ...} with parameter q_j.  Formed here explicitly and convolved (not by a recursion).
    """
    total = [mp.mpf(1)] + [mp.mpf(0)] * (n_max - 1)
    for wj, kj, dj in zip(w, k, d):
        q = 1 - beta / wj
        r = kj / 2
        nb = [mp.exp(mp.loggamma(n + r) - mp.loggamma(r) - mp.loggamma(n + 1)) * (1 - q) ** r * q**n
              for n in range(n_max)]
        lam = dj / 2
        pois = [mp.exp(-lam)] + [mp.mpf(0)] * (n_max - 1)
        if lam > 0:
            for n in range(1, n_max):
                pois[n] = mp.exp(-lam) * mp.fsum(
                    lam**l / mp.factorial(l) * mp.binomial(n - 1, l - 1) * (1 - q) ** l * q ** (n - l)
                    for l in range(1, n + 1))
        for part in (nb, pois):
            total = [mp.fsum(total[i] * part[n - i] for i in range(n + 1)) for n in range(n_max)]
    return total


def gen_chi2_logcdf_series(weights, x, dofs=None, noncentralities=None, offset=0.0, *, n_max=200, dps=40):
    """log P(offset + sum_j w_j chi'^2(k_j, delta_j) <= x) and a bound on its truncation error, as mpf.

    Chi-squared mixture with beta = min w: P = sum_n p_n P(K/2 + n, (x - offset) / (2 beta)) with p_n the
    pmf of :func:`_gen_chi2_index_pmf`, summed to ``n_max`` terms; the remainder is at most
    (1 - sum p_n) P(K/2 + n_max, .) because the regularised gamma decreases in its first argument.
    Returns ``(log_p, rel_bound)``; raises ``ValueError`` when the bound exceeds 10^(-dps/2).
    """
    with mp.workdps(dps):
        w = [mp.mpf(v) for v in weights]
        k = [mp.mpf(1)] * len(w) if dofs is None else [mp.mpf(v) for v in dofs]
        d = [mp.mpf(0)] * len(w) if noncentralities is None else [mp.mpf(v) for v in noncentralities]
        y = mp.mpf(x) - mp.mpf(offset)
        if y <= 0:
            return -mp.inf, mp.mpf(0)
        beta = min(w)
        half_k = mp.fsum(k) / 2
        z = y / (2 * beta)
        pmf = _gen_chi2_index_pmf(w, k, d, beta, n_max)
        p = mp.fsum(pn * mp.gammainc(half_k + n, 0, z, regularized=True) for n, pn in enumerate(pmf))
        remainder = (1 - mp.fsum(pmf)) * mp.gammainc(half_k + n_max, 0, z, regularized=True)
        rel = abs(remainder) / p
        if rel > mp.mpf(10) ** (-dps // 2):
            raise ValueError(f"series not converged in n_max={n_max} terms (relative remainder {mp.nstr(rel, 3)})")
        return mp.log(p + remainder / 2), rel


def gen_chi2_cdf_inversion(weights, x, dofs=None, noncentralities=None, offset=0.0, *, dps=30):
    """P(Q <= x) by Gil-Pelaez inversion at ``dps`` digits (mpmath quadrature), for the bulk of the law.

    P = 1/2 - (1/pi) int_0^inf Im[phi(t) exp(-i t y)] / t dt with phi the characteristic function of
    Q - offset; the integral is split at multiples of pi / y and summed by mpmath's oscillatory quadrature.
    Absolute accuracy about 10^(-dps/2): not for probabilities below that.
    """
    with mp.workdps(dps):
        w = [mp.mpf(v) for v in weights]
        k = [mp.mpf(1)] * len(w) if dofs is None else [mp.mpf(v) for v in dofs]
        d = [mp.mpf(0)] * len(w) if noncentralities is None else [mp.mpf(v) for v in noncentralities]
        y = mp.mpf(x) - mp.mpf(offset)

        def integrand(t):
            if t == 0:
                return mp.fsum(wj * (kj + dj) for wj, kj, dj in zip(w, k, d)) - y
            log_phi = mp.fsum(-kj / 2 * mp.log(1 - 2j * wj * t) + 1j * dj * wj * t / (1 - 2j * wj * t)
                              for wj, kj, dj in zip(w, k, d))
            return mp.im(mp.exp(log_phi - 1j * t * y)) / t

        value = mp.quadosc(integrand, [0, mp.inf], omega=y)
        return mp.mpf(1) / 2 - value / mp.pi


# --- ntk: normalised NNGP/NTK recursions and fully connected kernels (Radhakrishnan, Belkin, Uhler, PNAS 2023) ---

def _ntk_dual_mp(dual):
    """(phĭ, phĭ') of a normalised dual as mpmath functions of the cosine: "relu", "erf", "sine_<a>",
    "ab_relu_<a>_<b>" or a tuple of polynomial coefficients (a_0^2, a_1^2, ...)."""
    if isinstance(dual, (tuple, list)):  # divided by their sum: phĭ(1) = 1 exactly, as the package defines a dual
        c = [mp.mpf(v) for v in dual]
        c = [ci / mp.fsum(c) for ci in c]
        return (lambda x: mp.fsum(ci * x**i for i, ci in enumerate(c)),
                lambda x: mp.fsum(i * ci * x ** (i - 1) for i, ci in enumerate(c) if i))
    if dual == "relu" or dual.startswith("ab_relu_"):
        a, b = (0, 1) if dual == "relu" else (mp.mpf(v) for v in dual[len("ab_relu_"):].split("_"))
        m = (a - b) ** 2 / (a * a + b * b)

        def j1(x):
            th = mp.acos(x)
            return (mp.sin(th) + (mp.pi - th) * x) / mp.pi

        return (lambda x: (1 - m) * x + m * j1(x), lambda x: (1 - m) + m * (mp.pi - mp.acos(x)) / mp.pi)
    if dual == "erf":
        s = mp.asin(mp.mpf(2) / 3)
        return lambda x: mp.asin(2 * x / 3) / s, lambda x: 2 / (mp.sqrt(9 - 4 * x * x) * s)
    if dual.startswith("sine_"):
        a = mp.mpf(dual[len("sine_"):])
        return lambda x: mp.sinh(a * x) / mp.sinh(a), lambda x: a * mp.cosh(a * x) / mp.sinh(a)
    raise ValueError(f"dual must be 'relu', 'ab_relu_<a>_<b>', 'erf', 'sine_<a>' or coefficients, got {dual!r}")


def ntk_normalized_recursion(dual, theta, depth: int, *, dps: int = 40):
    """(Sigma^L, K^L / K^L(1)) of the normalised NNGP/NTK recursion at the cosine cos(theta), as mpf.

    Sigma^0 = K^0 = xi, Sigma^l = phĭ(Sigma^(l-1)), K^l = Sigma^l + K^(l-1) phĭ'(Sigma^(l-1)) (Radhakrishnan,
    Belkin, Uhler, PNAS 2023), iterated ``depth`` times at ``dps`` digits from the angle ``theta`` (a float,
    taken exactly; above pi/2 it is read as pi - (math.pi - theta), math.pi standing for pi as in
    :mod:`kernels.ntk.depth`), so that cosines near +-1 keep their digits.  K^L(1) is iterated alongside.
    """
    import math

    with mp.workdps(dps):
        value, slope = _ntk_dual_mp(dual)
        theta = mp.mpf(theta)
        if theta > mp.pi / 2:  # math.pi stands for pi (as in the package): keep pi - theta exact
            theta = mp.pi - (mp.mpf(math.pi) - theta)
        s = mp.cos(theta)
        k, k1 = s, mp.mpf(1)
        one_slope = slope(mp.mpf(1))
        for _ in range(int(depth)):
            s_next = value(s)
            k = s_next + k * slope(s)
            k1 = 1 + k1 * one_slope
            s = s_next
        return +s, +(k / k1)


def fc_kernel_reference(x1, x2, depth: int, activation: str, W_std: float = 1.0, b_std: float = 0.0, *, dps: int = 50):
    """(nngp, ntk) of neural-tangents' ``serial(*[Dense(W_std, b_std), act] * depth, Dense(W_std, b_std))`` for
    the single pair of input vectors ``x1``, ``x2`` (floats, taken exactly), computed in mpmath at ``dps`` digits.

    ``activation``: "relu", "abs", "leaky_relu_<alpha>", "erf" (a erf(b x) + c with a = b = 1, c = 0) or
    "sign".  Closed forms as in :mod:`kernels.ntk.activations` (theta = arccos of the correlation).
    """
    with mp.workdps(dps):
        d = len(x1)
        u = [mp.mpf(v) for v in x1]
        v = [mp.mpf(w) for w in x2]
        sw2, sb2 = mp.mpf(W_std) ** 2, mp.mpf(b_std) ** 2
        q11 = sw2 * mp.fsum(a * a for a in u) / d + sb2
        q22 = sw2 * mp.fsum(b * b for b in v) / d + sb2
        q12 = sw2 * mp.fsum(a * b for a, b in zip(u, v)) / d + sb2
        ntk = q12
        for _ in range(int(depth)):
            t11, _ = _act_mp(activation, q11, q11, q11)
            t22, _ = _act_mp(activation, q22, q22, q22)
            t12, tdot = _act_mp(activation, q11, q22, q12)
            q11, q22, q12 = sw2 * t11 + sb2, sw2 * t22 + sb2, sw2 * t12 + sb2
            ntk = q12 + sw2 * ntk * tdot
        return +q12, +ntk


def _act_mp(activation, q11, q22, q12):
    if activation in ("relu", "abs") or activation.startswith("leaky_relu_"):
        a, b = {"relu": (0, 1), "abs": (-1, 1)}.get(activation, (None, 1))
        if a is None:
            a = mp.mpf(activation[len("leaky_relu_"):])
        rho = q12 / mp.sqrt(q11 * q22)
        rho = min(max(rho, mp.mpf(-1)), mp.mpf(1))
        th = mp.acos(rho)
        tdot = (a * a + b * b) / 2 - (a - b) ** 2 * th / (2 * mp.pi)
        det = max(q11 * q22 - q12 * q12, mp.mpf(0))
        return (a - b) ** 2 / (2 * mp.pi) * mp.sqrt(det) + tdot * q12, tdot
    if activation == "erf":
        prod = (1 + 2 * q11) * (1 + 2 * q22)
        root = mp.sqrt(prod - 4 * q12 * q12)
        return 2 / mp.pi * mp.atan2(2 * q12, root), 4 / mp.pi / root
    if activation == "sign":
        rho = min(max(q12 / mp.sqrt(q11 * q22), mp.mpf(-1)), mp.mpf(1))
        return 1 - 2 * mp.acos(rho) / mp.pi, mp.mpf(0)
    raise ValueError(f"activation must be relu, abs, leaky_relu_<alpha>, erf or sign, got {activation!r}")


# --- generalised chi-squared CDF at several levels (inductive_bias) ---------------------------------------
__all__ += ["gen_chi2_logcdf_series_many"]


def gen_chi2_logcdf_series_many(weights, xs, dofs=None, noncentralities=None, offset=0.0, *, n_max=200, dps=40):
    """:func:`gen_chi2_logcdf_series` at each level of ``xs``, the mixture-index pmf formed once.

    Returns a list of ``(log_p, rel_bound)`` as mpf; raises ``ValueError`` where the remainder bound exceeds
    10^(-dps/2) (the same test, formula and remainder as the single-level function).
    """
    with mp.workdps(dps):
        w = [mp.mpf(v) for v in weights]
        k = [mp.mpf(1)] * len(w) if dofs is None else [mp.mpf(v) for v in dofs]
        d = [mp.mpf(0)] * len(w) if noncentralities is None else [mp.mpf(v) for v in noncentralities]
        beta = min(w)
        half_k = mp.fsum(k) / 2
        pmf = _gen_chi2_index_pmf(w, k, d, beta, n_max)
        mass_left = 1 - mp.fsum(pmf)
        out = []
        for x in xs:
            y = mp.mpf(x) - mp.mpf(offset)
            if y <= 0:
                out.append((-mp.inf, mp.mpf(0)))
                continue
            z = y / (2 * beta)
            p = mp.fsum(pn * mp.gammainc(half_k + n, 0, z, regularized=True) for n, pn in enumerate(pmf))
            remainder = mass_left * mp.gammainc(half_k + n_max, 0, z, regularized=True)
            rel = abs(remainder) / p
            if rel > mp.mpf(10) ** (-dps // 2):
                raise ValueError(f"series not converged in n_max={n_max} terms at x={x!r} "
                                 f"(relative remainder {mp.nstr(rel, 3)})")
            out.append((mp.log(p + remainder / 2), rel))
        return out
