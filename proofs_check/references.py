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
