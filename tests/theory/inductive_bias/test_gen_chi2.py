"""The generalised chi-squared CDF: reproducers, asymptotes, scipy special cases, mpmath references, bounds."""

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
import scipy.stats
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proofs_check.references import gen_chi2_cdf_inversion, gen_chi2_logcdf_series, gen_chi2_logcdf_series_many
from theory.inductive_bias.gen_chi2 import BelowMinimumWarning, BitsResult, CDFResult, GeneralizedChi2


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(7)
    return GeneralizedChi2(rng.uniform(0.05, 2.0, 12), rng.integers(1, 4, 12), rng.uniform(0.0, 3.0, 12), offset=0.4)


def _contains(result: CDFResult, log_ref: float, slack: float = 0.0) -> bool:
    return abs(result.log_probability - log_ref) <= result.log_error + slack


# --- the reproducers ---------------------------------------------------------------------------
def test_far_lower_tail_two_terms_is_the_asymptote():
    result = GeneralizedChi2([2.0, 1.5e-3]).log_cdf_result(1e-13)
    exact = 1e-13 / (2.0 * math.sqrt(2.0 * 1.5e-3))  # x / (2 sqrt(w1 w2)), relative error O(x / w_min)
    assert result.probability == pytest.approx(exact, rel=1e-9, abs=0)
    assert result.log_error < 1e-10 and not result.approximate


def test_three_terms_bits_and_monotone():
    g = GeneralizedChi2([1.7e-3, 5e-3, 7.7e-3])
    bits = g.bits(1e-10)
    assert isinstance(bits, BitsResult)
    exact = -math.log2(1e-15 / (math.gamma(2.5) * math.sqrt(8 * 1.7e-3 * 5e-3 * 7.7e-3)))
    assert bits.bits == pytest.approx(39.80711620530356, abs=1e-6)
    assert abs(bits.bits - exact) < 1e-6 and bits.bits_error < 1e-9 and float(bits) == bits.bits
    assert g.cdf(1e-9) < g.cdf(1e-8)


def test_huge_x_is_one():
    assert GeneralizedChi2([1.0, 0.5]).cdf(1e300) == 1.0
    assert GeneralizedChi2([1.0, 0.5], noncentralities=[3.0, 0.0]).logcdf(1e300) == 0.0
    assert GeneralizedChi2([1e-4, 1e2]).cdf(1e308) == 1.0


# --- the error bounds, pinned against their closed forms ------------------------------------------------
# Each bound is recomputed here from its formula at 30 digits (mpmath) and compared with what the code
# reports, so that a change of a constant in a bound (a rounding allowance, a slack) is seen although the
# values themselves stay accurate; every pinned bound is also checked to hold against a reference.
EPS = 2.0**-52
SPECIAL_RTOL = 1e-13  # the relative accuracy assumed of scipy's regularised gamma (checked below)

# Laws with largest weight 1, so that the scaled units of the code are the units of the test.
PIN_LAWS = [
    ([0.3, 0.7, 1.0], [1, 2, 3], [0.0, 0.0, 0.0]),
    ([0.3, 0.7, 1.0], [1, 2, 3], [0.5, 0.0, 2.0]),
    ([1e-3, 0.02, 1.0], [1, 1, 2], [0.0, 4.0, 1.0]),
    ([1.0, 1.0], [2, 3], [1.5, 0.0]),
]


def _mp_law(w, k, d):
    return [mp.mpf(v) for v in w], [mp.mpf(v) for v in k], [mp.mpf(v) for v in d]


def _mp_ruben(w, k, d, y, n):
    """Ruben's series after n terms at 30 digits: S_n, the coefficients c_0..c_n, the terms and the law's q_j."""
    w, k, d = _mp_law(w, k, d)
    beta = min(w)
    a = [wj / beta for wj in w]
    q = [1 - 1 / aj for aj in a]
    c = [mp.fprod(aj ** (-kj / 2) for aj, kj in zip(a, k)) * mp.exp(-mp.fsum(d) / 2)]
    h = [None] + [mp.fsum(kj * qj**m + m * dj / aj * qj ** (m - 1) for kj, qj, dj, aj in zip(k, q, d, a)) / 2
                  for m in range(1, n + 1)]
    for i in range(1, n + 1):
        c.append(mp.fsum(h[m] * c[i - m] for m in range(1, i + 1)) / i)
    half_k, z = mp.fsum(k) / 2, mp.mpf(y) / (2 * beta)
    f = [mp.gammainc(half_k + i, 0, z, regularized=True) for i in range(n + 1)]
    return {"c": c, "f": f, "z": z, "half_k": half_k, "a": a, "q": q, "k": k, "d": d, "beta": beta,
            "terms": [c[i] * f[i] for i in range(n)]}


def _mp_min_log_g_bound(r, n):
    """min over rho of log[G(rho) rho^-n / (1 - rho_lo / rho)] (equation (4)), by golden section in log rho."""
    rho_lo = r["z"] / (r["half_k"] + n + 1)
    q_max = max(r["q"])
    rho_hi = 1 / q_max if q_max > 0 else max(mp.mpf(1e6) * rho_lo, mp.mpf(1e6))
    if rho_lo >= rho_hi:  # no rho with r < 1 inside the disc of convergence: only the mass bound applies
        return mp.inf

    def f(lr):
        rho = mp.exp(lr)
        log_g = mp.fsum(-kj / 2 * mp.log(aj * (1 - qj * rho)) + dj / 2 * (rho - 1) / (1 - qj * rho)
                        for kj, aj, qj, dj in zip(r["k"], r["a"], r["q"], r["d"]))
        return log_g - n * lr - mp.log(1 - rho_lo / rho)

    lo, hi = mp.log(rho_lo), mp.log(rho_hi)
    lo, hi = lo + (hi - lo) * mp.mpf(1e-12), hi - (hi - lo) * mp.mpf(1e-12)
    golden = (mp.sqrt(5) - 1) / 2
    for _ in range(160):
        m1, m2 = hi - golden * (hi - lo), lo + golden * (hi - lo)
        lo, hi = (lo, m2) if f(m1) < f(m2) else (m1, hi)
    return f((lo + hi) / 2)


def _expected_ruben(w, k, d, y, n):
    """(lo, hi, err, log S, log R) of the Ruben interval after n terms, from (3)-(4) and the rounding allowance."""
    r = _mp_ruben(w, k, d, y, n)
    s, mass = mp.fsum(r["terms"]), mp.fsum(r["c"][:n])
    log_f_n = mp.log(r["f"][n])
    mass_left = max(1 - mass, 0) + 4 * n * EPS
    log_rem = mp.log(min(mass_left, 1)) + log_f_n
    fmin = _mp_min_log_g_bound(r, n)
    log_rem = min(log_rem, fmin + mp.mpf(1e-9) * (1 + abs(fmin)) + log_f_n)
    log_c0_terms = [-kj / 2 * mp.log(aj) for kj, aj in zip(r["k"], r["a"])] + [-dj / 2 for dj in r["d"]]
    err_c0 = 3 * EPS * (mp.fsum(abs(t) for t in log_c0_terms) + mp.fsum(r["k"]) + 1)
    f_err = []
    for i in range(n):
        e = mp.mpf(SPECIAL_RTOL)
        if r["f"][i] < mp.mpf(1e-250):
            m = r["half_k"] + i
            e += 8 * EPS * (m * abs(mp.log(r["z"])) + r["z"] + abs(mp.loggamma(m + 1)))
        f_err.append(e)
    werr = mp.fsum(t * e for t, e in zip(r["terms"], f_err)) / s
    err = err_c0 + EPS * n * (len(w) + 2 * n + 8) + werr + 2 * EPS * (abs(mp.log(s)) + 1)
    lo = mp.log(s) + mp.log1p(-min(err, mp.mpf(0.5)))
    hi = min(mp.log(s + mp.exp(log_rem)) + mp.log1p(err), 0)
    return float(lo), float(hi), float(err), float(mp.log(s)), float(log_rem)


RUBEN_CASES = [(law, y, rtol, max_terms) for law in (0, 1, 3)
               for y, rtol, max_terms in [(0.05, 1e-15, 4000), (0.8, 1e-10, 4000), (0.8, 1e-10, 2),
                                          (3.0, 1e-10, 5), (6.0, 1e-13, 4000)]]
RUBEN_CASES += [(2, 0.05, 1e-15, 4000), (2, 0.3, 1e-10, 4000), (2, 1e-3, 1e-10, 2), (2, 0.4, 1e-10, 80),
                (0, 1e-200, 1e-10, 4000),
                (2, 0.3, 0.015, 4000)]  # R / S = 0.0050 after 192 terms: met at rtol / 2, not at rtol / 4


@pytest.mark.parametrize("law, y, rtol, max_terms", RUBEN_CASES)
def test_ruben_interval_is_its_closed_form(law, y, rtol, max_terms):
    w, k, d = PIN_LAWS[law]
    dist = GeneralizedChi2(w, k, d)
    interval, n = dist.ruben_interval(y, rtol=rtol, max_terms=max_terms)
    blocks = [b for b in np.cumsum([64, 128, 256, 512, 1024, 1024, 1024]) if b < max_terms] + [max_terms]
    assert n in blocks
    with mp.workdps(30):
        lo, hi, err, log_s, log_rem = _expected_ruben(w, k, d, y, n)
        if n != blocks[0] and n < max_terms:  # the previous block had not met the request
            prev = _expected_ruben(w, k, d, y, blocks[blocks.index(n) - 1])
            assert prev[4] - prev[3] > math.log(rtol / 2)
    if n < max_terms:
        assert log_rem - log_s <= math.log(rtol / 2) + 1e-9
    # The width is the remainder plus twice the rounding allowance (log S's own rounding cancels in it).
    width = float(mp.log1p(mp.exp(log_rem - log_s)) + mp.log1p(err) - mp.log1p(-err))
    share = math.exp(log_rem - np.logaddexp(log_s, log_rem))  # R / (S + R): how much of hi the remainder bound makes
    assert interval.hi - interval.lo == pytest.approx(width, rel=0, abs=4 * EPS * (2 + abs(log_s)) + 1e-10 * share)
    assert abs(interval.lo - lo) <= err
    try:
        log_p = float(gen_chi2_logcdf_series(w, y, k, d, n_max=60, dps=30)[0])
    except ValueError:  # the reference needs more terms than a fast test affords: the width pin above stays
        return
    assert interval.lo <= log_p <= interval.hi


def test_ruben_block_schedule_and_width():
    # Blocks of 64, 128, 256, 512 and then 1024 terms; the width is then the rounding allowance,
    # EPS N (n + 2N + 8) plus the rest, growing like N^2 (each interval checked against Bromwich's value).
    w, k, d = PIN_LAWS[2]
    dist = GeneralizedChi2(w, k, d)
    for y, n_expected in ((0.05, 192), (0.3, 448), (1.0, 960), (2.0, 1984), (4.5, 3008)):
        interval, n = dist.ruben_interval(y)
        assert n == n_expected
        assert interval.hi - interval.lo >= 2 * EPS * n * (3 + 2 * n + 8)
        bromwich = dist.log_cdf_result(y, "bromwich")
        assert interval.lo - bromwich.log_error <= bromwich.log_probability <= interval.hi + bromwich.log_error


def test_ruben_rescales_huge_coefficients():
    # Non-centrality 1500: c_i / c_0 = 750^i / i! passes 1e250 long before the peak of the Poisson weights.
    x = float(scipy.stats.ncx2.ppf(0.3, 2, 1500.0))
    result = GeneralizedChi2([1.0], [2], [1500.0]).log_cdf_result(x, "ruben")
    ref = float(scipy.stats.ncx2.logcdf(x, 2, 1500.0))
    assert result.log_probability == pytest.approx(ref, rel=1e-12, abs=0) and _contains(result, ref, 1e-14)
    assert result.log_error < 1e-9


def test_ruben_series_matches_the_convolution_reference():
    from proofs_check.references import _gen_chi2_index_pmf

    w, k, d = PIN_LAWS[1]
    with mp.workdps(30):
        ours = _mp_ruben(w, k, d, 1.0, 30)["c"]
        ref = _gen_chi2_index_pmf(*_mp_law(w, k, d), mp.mpf(min(w)), 31)
        assert max(abs(a - b) for a, b in zip(ours, ref)) < mp.mpf(1e-25)


def test_ruben_setup_and_generating_function():
    w, k, d = PIN_LAWS[2]
    dist = GeneralizedChi2(np.array(w) * 3.0, k, d)  # scaled units: weights / 3
    beta, a, q, d_over_a, log_c0, err_c0 = dist._ruben_setup()
    assert beta == pytest.approx(1e-3, rel=1e-15, abs=0)
    np.testing.assert_allclose(a, np.array(w) / 1e-3, rtol=1e-15)
    np.testing.assert_allclose(q, 1.0 - 1e-3 / np.array(w), rtol=1e-15)
    np.testing.assert_allclose(d_over_a, np.array(d) * 1e-3 / np.array(w), rtol=1e-15)
    terms = [-0.5 * kj * math.log(wj / 1e-3) for kj, wj in zip(k, w)] + [-0.5 * dj for dj in d]
    assert log_c0 == pytest.approx(math.fsum(terms), rel=1e-15, abs=0)
    assert err_c0 == pytest.approx(3 * EPS * (sum(map(abs, terms)) + sum(k) + 1), rel=1e-14, abs=0)
    with mp.workdps(30):
        r = _mp_ruben(w, k, d, 1.0, 6)
        h = dist._h_block(q, d_over_a, np.arange(1.0, 7.0))
        c = [float(v) for v in r["c"]]
        # c_i = (1/i) sum_m h_m c_(i-m): the h of the code reproduce the coefficients
        for i in range(1, 7):
            assert float(sum(h[m - 1] * c[i - m] for m in range(1, i + 1)) / i) == pytest.approx(c[i], rel=1e-13, abs=0)
        for rho in (0.3, 1.0, 1.0005):
            log_g = mp.fsum(-kj / 2 * mp.log(aj * (1 - qj * rho)) + dj / 2 * (rho - 1) / (1 - qj * rho)
                            for kj, aj, qj, dj in zip(r["k"], r["a"], r["q"], r["d"]))
            assert dist._ruben_log_g(rho, a, q, d_over_a) == pytest.approx(float(log_g), rel=1e-13, abs=1e-14)
    assert dist._ruben_log_g(1.0, a, q, d_over_a) == pytest.approx(0.0, abs=1e-13)  # G(1) = sum c_i = 1


@pytest.mark.parametrize("law", PIN_LAWS)
@pytest.mark.parametrize("n, y", [(3, 0.5), (40, 2.0), (200, 30.0)])
def test_ruben_tail_bound_is_minimised_over_rho(law, n, y):
    w, k, d = law
    dist = GeneralizedChi2(w, k, d)
    beta, a, q, d_over_a, _, _ = dist._ruben_setup()
    with mp.workdps(30):
        r = _mp_ruben(w, k, d, y, 0)
        fmin = float(_mp_min_log_g_bound(r, n))
    z = y / (2 * beta)
    for log_mass_left in (0.0, -3.0, -80.0):
        got = dist._ruben_tail_bound(n, log_mass_left, -2.0, z, a, q, d_over_a)
        slack = 1e-9 * (1.0 + abs(fmin))
        expected = min(log_mass_left, fmin + slack) - 2.0
        # the convex minimum is found to rounding (the bounded minimiser it replaced was 1e-11 above it)
        assert abs(got - expected) <= 1e-13 * (1.0 + abs(fmin)), (log_mass_left, got, expected)
    assert dist._ruben_tail_bound(n, -1.0, -2.0, math.inf, a, q, d_over_a) == -3.0


@pytest.mark.parametrize("law", PIN_LAWS)
def test_ruben_log_g_slope_against_mpmath(law):
    """d log G / d log rho (the remainder bound's minimiser solves for its root) against mpmath's derivative of
    log G(e^t) at 30 digits, 1e-12 relative, for rho from 1e-3 to 0.999 of the pole 1 / q_max."""
    w, k, d = law
    dist = GeneralizedChi2(w, k, d)
    _, a, q, _, _, _ = dist._ruben_setup()
    q_max = float(q.max())
    with mp.workdps(30):
        def log_g(t):
            rho = mp.exp(t)
            return mp.fsum(-mp.mpf(kj) / 2 * mp.log(mp.mpf(aj) * (1 - mp.mpf(qj) * rho))
                           + mp.mpf(dj) / 2 * (rho - 1) / (1 - mp.mpf(qj) * rho) for kj, aj, qj, dj in zip(k, a, q, d))

        pole = 1.0 / q_max if q_max > 0 else 100.0
        for rho in (1e-3, 0.5, 1.0, 0.9 * pole, (1.0 - 1e-3) * pole):
            want = float(mp.diff(log_g, mp.log(mp.mpf(rho))))
            assert dist._ruben_log_g_slope(rho, q) == pytest.approx(want, rel=1e-12, abs=1e-14), rho


def _mp_cgf(w, k, d):
    """K, K', K'' of the law (equation (2)) as mpmath functions of s (real or complex)."""
    w, k, d = _mp_law(w, k, d)

    def cgf(s, order=0):
        if order == 0:
            return mp.fsum(-kj / 2 * mp.log(1 - 2 * wj * s) + dj * wj * s / (1 - 2 * wj * s)
                           for wj, kj, dj in zip(w, k, d))
        if order == 1:
            return mp.fsum(kj * wj / (1 - 2 * wj * s) + dj * wj / (1 - 2 * wj * s) ** 2 for wj, kj, dj in zip(w, k, d))
        return mp.fsum(2 * kj * wj**2 / (1 - 2 * wj * s) ** 2 + 4 * dj * wj**2 / (1 - 2 * wj * s) ** 3
                       for wj, kj, dj in zip(w, k, d))

    return cgf


def _mp_saddle(cgf, y, s_max):
    """The root of K'(s) = y by bisection (K' increases), s in (-1e12, s_max)."""
    lo, hi = mp.mpf(-1e12), mp.mpf(s_max)
    for _ in range(220):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cgf(mid, 1) < y else (lo, mid)
    return (lo + hi) / 2


def test_chernoff_interval_is_its_closed_form():
    for w, k, d in PIN_LAWS:
        dist = GeneralizedChi2(w, k, d, offset=0.25)
        with mp.workdps(30):
            cgf = _mp_cgf(w, k, d)
            for frac in (0.02, 0.3, 2.5, 6.0):
                y = frac * (dist.mean - 0.25)
                s = _mp_saddle(cgf, y, mp.mpf(1) / (2 * max(w)) * (1 - mp.mpf(10) ** -25))
                log_bound = cgf(s) - s * y
                slack = 1e-10 * (1.0 + abs(cgf(s)) + abs(s * y))
                interval = dist.chernoff_interval(0.25 + y)
                if frac < 1.0:
                    assert interval.lo == -math.inf
                    assert interval.hi == pytest.approx(float(log_bound + slack), rel=1e-12, abs=1e-15)
                else:
                    assert interval.hi == 0.0
                    assert interval.lo == pytest.approx(float(mp.log1p(-mp.exp(log_bound + slack))), rel=1e-9, abs=0)
        at_mean = dist.chernoff_interval(dist.mean)
        assert at_mean.lo == -math.inf and at_mean.hi == 0.0  # s = 0: the bound is 1
        # Beyond what double precision resolves: the valid Chernoff point v = 1 - 2s = exp(-230).
        assert dist.chernoff_interval(1e6).lo == 0.0 and dist.chernoff_interval(1e6).hi == 0.0


def _mp_log_truncation_bound(w, k, d, u, a=None):
    """log[(2/K_B) prod_{j in B} (2 w_j U / a_j)^(-k_j/2) exp(-(1/2) sum_j (d_j/a_j) r_j^2 / (1 + r_j^2))]."""
    w, k, d = _mp_law(w, k, d)
    a = [mp.mpf(1)] * len(w) if a is None else [mp.mpf(v) for v in a]
    r = [2 * wj * u / aj for wj, aj in zip(w, a)]
    big = [j for j in range(len(w)) if r[j] > 1]
    if not big:
        return mp.mpf(0)
    damp = mp.fsum(dj / aj * rj**2 / (1 + rj**2) for dj, aj, rj in zip(d, a, r)) / 2
    return mp.log(2 / mp.fsum(k[j] for j in big)) - mp.fsum(k[j] / 2 * mp.log(r[j]) for j in big) - damp


def test_truncation_bound_is_its_closed_form_and_bounds_the_tail():
    import scipy.integrate

    for w, k, d in PIN_LAWS:
        dist = GeneralizedChi2(w, k, d)
        shift = 1.0 - 2.0 * np.array(w) * (-0.7)  # a_j = 1 - 2 w_j c at c = -0.7
        for u in (0.2, 0.5, 3.0, 40.0):  # u = 0.5: 2 w U = 1 exactly for w = 1, a term not in B
            for a in (None, shift):
                with mp.workdps(30):
                    expected = float(_mp_log_truncation_bound(w, k, d, u, a))
                assert dist._log_truncation_bound(u, a) == pytest.approx(expected, rel=1e-13, abs=1e-15)
        # It bounds int_U^inf |phi(t)| / t dt, the part of Imhof's integral left out.
        u = 6.0
        tail, _ = scipy.integrate.quad(lambda t: abs(np.exp(dist._log_phi(t))) / t, u, np.inf, limit=200)
        assert tail <= math.exp(dist._log_truncation_bound(u)) and tail >= 0.2 * math.exp(dist._log_truncation_bound(u))
        # _cutoff: the smallest power-of-two multiple of the start whose bound meets the target.
        tie = dist._log_truncation_bound(0.5)  # a target met exactly at U = 0.5: that U is the one returned
        for start, log_target in ((1.0, math.log(1e-13)), (0.3, math.log(1e-6)), (1.0, 1.0), (1.0, tie)):
            u_max, log_trunc = dist._cutoff(log_target, None, start)
            assert log_trunc == dist._log_truncation_bound(u_max)
            assert log_trunc <= log_target < dist._log_truncation_bound(u_max / 2) or u_max <= 1e-8 * start * 2
            assert math.log2(u_max / start) == round(math.log2(u_max / start))


def test_fourier_integral_pieces_and_closed_forms():
    dist = GeneralizedChi2([1.0])
    edges = dist._pieces(100.0, 2.0)
    assert edges[0] == 0.0 and edges[-1] == 100.0 and edges[1] == pytest.approx(2e-3)
    np.testing.assert_allclose(np.diff(np.log(edges[1:-1])), math.log(4.0))
    assert dist._pieces(100.0, 1e-9)[1] == pytest.approx(1e-4)  # never below u_max * 1e-6
    assert dist._pieces(1e-4, 1.0) == [0.0, 1e-4]
    # int_0^inf Re[exp(-t^2) e^(-ity)] dt = (sqrt(pi)/2) exp(-y^2/4); with QAWF: int cos(ty)/(1+t^2) = (pi/2) e^-y
    for y in (0.5, 3.0):
        val, err = dist._fourier_integral(lambda t: np.exp(-t * t) + 0j, y, 8.0, None, 1e-13, 1.0)
        assert val == pytest.approx(math.sqrt(math.pi) / 2 * math.exp(-y * y / 4), abs=1e-13) and err < 1e-12
        val, err = dist._fourier_integral(lambda t: 1.0 / (1.0 + t * t) + 0j, y, 32.0, 32.0, 1e-12, 1.0)
        assert val == pytest.approx(math.pi / 2 * math.exp(-y), abs=1e-11) and err < 1e-10
        val, _ = dist._fourier_integral(lambda t: 1j / (1.0 + t * t), y, 32.0, 32.0, 1e-12, 1.0)
        # Re[i e^(-ity)] = sin(ty): int_0^inf sin(ty)/(1+t^2) dt = [e^-y Ei(y) - e^y Ei(-y)] / 2
        assert val == pytest.approx(float((mp.exp(-y) * mp.ei(y) - mp.exp(y) * mp.ei(-y)) / 2), abs=1e-10)


def _capture_fourier(monkeypatch, dist, total, error):
    """Replace the quadrature by a known (value, error) and record what it was asked."""
    calls = []

    def fake(g, y, u_max, tail_from, eps_abs, t_scale):
        calls.append({"g": g, "y": y, "u_max": u_max, "tail_from": tail_from, "eps_abs": eps_abs,
                      "t_scale": t_scale})
        return total, error

    monkeypatch.setattr(dist, "_fourier_integral", fake)
    return calls


@pytest.mark.parametrize("law", PIN_LAWS[1:3] + [([0.5, 1.0], [12, 14], [0.0, 1.0])])
@pytest.mark.parametrize("frac", [0.05, 0.4, 1.8, 4.0])
def test_bromwich_bound_is_its_closed_form(monkeypatch, law, frac):
    w, k, d = law
    dist = GeneralizedChi2(w, k, d)
    y = frac * dist.mean
    lower = frac < 1.0
    with mp.workdps(30):
        cgf = _mp_cgf(w, k, d)
        s_hat = _mp_saddle(cgf, y, mp.mpf(1) / (2 * max(w)) * (1 - mp.mpf(10) ** -25))
        sd0 = mp.sqrt(cgf(s_hat, 2))
        c = min(s_hat, -1 / sd0) if lower else max(s_hat, min(1 / sd0, mp.mpf(0.25)))
        sd = mp.sqrt(cgf(c, 2))
        log_part = cgf(c) - c * y - mp.log(mp.pi)
    calls = _capture_fourier(monkeypatch, dist, 0.75, 0.0)
    result = dist.bromwich_result(y, rtol=1e-10)
    (call,) = calls
    assert call["y"] == y and call["t_scale"] == pytest.approx(float(1 / sd), rel=1e-9, abs=0)
    target = 1e-10 * math.sqrt(math.pi / 2) / float(sd * abs(c)) / 8
    assert call["eps_abs"] == pytest.approx(target, rel=1e-9, abs=0)
    with mp.workdps(30):
        for t in (0.0, 0.4 / sd, 3.0 / sd):
            expected = mp.exp(cgf(c + 1j * t) - cgf(c)) * ((-1 if lower else 1) / (c + 1j * t))
            assert complex(call["g"](float(t))) == pytest.approx(complex(expected), rel=1e-11, abs=0)
    u_max, tail_from = call["u_max"], call["tail_from"]
    one_minus = [float(1 - 2 * wj * c) for wj in w]
    if tail_from is None:
        with mp.workdps(30):
            log_trunc = float(_mp_log_truncation_bound(w, k, d, u_max, one_minus))
        assert log_trunc <= math.log(target) < float(_mp_log_truncation_bound(w, k, d, u_max / 2, one_minus))
        assert math.log2(u_max * sd) == pytest.approx(round(math.log2(u_max * sd)), abs=1e-9)
        trunc = math.exp(log_trunc)
    else:
        assert tail_from == u_max == pytest.approx(float(32.0 / sd), rel=1e-9, abs=0)
        trunc = 0.0
    with mp.workdps(30):
        k_terms = [-kj / 2 * mp.log(1 - 2 * wj * c) + dj * wj * c / (1 - 2 * wj * c) for wj, kj, dj in
                   zip(*_mp_law(w, k, d))]
        round_err = float(4 * EPS * (mp.fsum(abs(t) for t in k_terms) + sum(k) + 2 * abs(c * y) + 1))
        rel = trunc / 0.75
        if lower:
            log_p = float(log_part + mp.log(0.75))
            bound = -math.log1p(-rel) + round_err + EPS * abs(log_p)
        else:
            tail = float(mp.exp(log_part) * 0.75)
            log_p = math.log1p(-tail)
            bound = abs(math.log1p(-tail * (1 + rel + round_err)) - log_p) + 4 * EPS * tail
    assert result.method == "bromwich" and not result.approximate
    assert result.log_probability == pytest.approx(log_p, rel=1e-12, abs=1e-15)
    # The upper tail's bound is a difference of two log1p's ~ log_p apart by ~1e-14: both evaluations of it
    # round at about EPS |log_p|.  (pytest.approx's default abs of 1e-12 would pass any bound below 1e-12.)
    assert result.log_error == pytest.approx(bound, rel=1e-6, abs=0 if lower else 4 * EPS * abs(log_p))
    # An integral whose error reaches its value, or a tail of 1 or more, has no bound.
    for total, error in ((0.75, 0.75), (-0.1, 0.0), (1e300, 0.0)):
        calls = _capture_fourier(monkeypatch, dist, total, error)
        bad = dist.bromwich_result(y, rtol=1e-10)
        if lower and total < 1e300:
            assert bad.log_error == math.inf and bad.log_probability == -math.inf
        elif not lower:
            assert bad.log_error == math.inf and bad.log_probability == (-math.inf if total == 1e300 else 0.0)
    if not lower:
        # A tail of 0.6 keeps its bound; one within the rounding allowance of 1 loses it.
        for tail in (0.6, 1.0 - round_err / 2):
            total = tail / float(mp.exp(log_part))
            _capture_fourier(monkeypatch, dist, total, 0.0)
            result = dist.bromwich_result(y, rtol=1e-10)
            if tail == 0.6:
                assert result.log_probability == pytest.approx(math.log1p(-0.6), rel=1e-13, abs=0)
                bound = abs(math.log1p(-0.6 * (1 + trunc / total + round_err)) - math.log1p(-0.6)) + 4 * EPS * 0.6
                assert result.log_error == pytest.approx(bound, rel=1e-6, abs=4 * EPS * 0.92)  # |ln 0.4|
            else:
                assert result.log_probability == -math.inf and result.log_error == math.inf


@pytest.mark.parametrize("w, k, d", [PIN_LAWS[1], ([0.5, 1.0], [12, 14], [0.0, 1.0])])
def test_imhof_bound_is_its_closed_form(monkeypatch, w, k, d):
    dist = GeneralizedChi2(w, k, d, tol=1e-12)
    for y, total, error in ((0.4, -1.2, 3e-14), (2.0, 0.2, 1e-13), (2.0, 0.2, 0.02), (9.0, 1.5, 0.0)):
        calls = _capture_fourier(monkeypatch, dist, total, error)
        p, err = dist.imhof_cdf(y)
        (call,) = calls
        assert call["y"] == y and call["eps_abs"] == 1e-12
        assert call["t_scale"] == pytest.approx(1.0 / sum(wj * kj for wj, kj in zip(w, k)), rel=1e-14, abs=0)
        with mp.workdps(30):
            cgf = _mp_cgf(w, k, d)
            for t in (0.3, 5.0):
                expected = mp.exp(cgf(1j * t)) * 1j / t
                assert complex(call["g"](t)) == pytest.approx(complex(expected), rel=1e-12, abs=0)
        u_max = call["u_max"]
        if call["tail_from"] is None:
            with mp.workdps(30):
                log_trunc = float(_mp_log_truncation_bound(w, k, d, u_max))
            assert log_trunc <= math.log(1e-12 / 4 * math.pi) < float(_mp_log_truncation_bound(w, k, d, u_max / 2))
            trunc = math.exp(log_trunc) / math.pi
        else:
            assert call["tail_from"] == u_max == 32.0
            trunc = 0.0
        assert p == min(max(0.5 + total / math.pi, 0.0), 1.0)
        assert err == pytest.approx(trunc + error / math.pi, rel=1e-9, abs=0)
        candidate = dist._candidate("imhof", y, 1e-10, 100, None)
        assert candidate.method == "imhof" and candidate.log_probability == pytest.approx(math.log(p), rel=1e-14, abs=0)
        assert candidate.log_error == pytest.approx(-math.log1p(-err / p), rel=1e-9, abs=0)
    # A value clipped to 0, or one whose error reaches it, has no bound.
    for total, error in ((-5.0, 0.0), (0.0, 2.0)):
        _capture_fourier(monkeypatch, dist, total, error)
        refused = dist._candidate("imhof", 2.0, 1e-10, 100, None)
        assert refused.log_error == math.inf
        assert refused.log_probability == (-math.inf if total < 0 else math.log(0.5))


def _mp_lugannani_rice(w, k, d, y):
    """Lugannani-Rice: Phi(w) + phi(w) (1/w - 1/u), w = sign(s) sqrt(2 (s y - K(s))), u = s sqrt(K''(s))."""
    cgf = _mp_cgf(w, k, d)
    s = _mp_saddle(cgf, y, mp.mpf(1) / (2 * max(w)) * (1 - mp.mpf(10) ** -35))
    w_hat = mp.sign(s) * mp.sqrt(2 * (s * y - cgf(s)))
    u_hat = s * mp.sqrt(cgf(s, 2))
    return mp.ncdf(w_hat) + mp.npdf(w_hat) * (1 / w_hat - 1 / u_hat), w_hat


@pytest.mark.parametrize("law", PIN_LAWS[:3])
def test_saddlepoint_is_the_lugannani_rice_formula(law):
    w, k, d = law
    dist = GeneralizedChi2(w, k, d, offset=0.5)
    mean = dist.mean - 0.5
    with mp.workdps(40):
        sd = math.sqrt(dist.variance)
        # Both tails (the upper one through 1 - P, its own bracket).
        for y in (0.05 * mean, 0.4 * mean, 1.8 * mean, 4.0 * mean, mean + 0.05 * sd, mean - 0.05 * sd):
            p, w_hat = _mp_lugannani_rice(w, k, d, y)
            assert dist.saddlepoint_logcdf(0.5 + y) == pytest.approx(float(mp.log(p)), rel=1e-9, abs=1e-12), y
        # Next to the mean: |w| = 1.5e-5 is just past the limit form (whose error there would be 2.7e-5); the
        # formula's rounding grows like eps / w^2 (s solves K'(s) = y, ill-conditioned there).
        for y, tol in ((mean + 1.5e-5 * sd, 5e-6), (mean - 1.5e-5 * sd, 5e-6), (mean + 1.5e-4 * sd, 1e-7),
                       (mean - 1.5e-4 * sd, 1e-7)):
            p, w_hat = _mp_lugannani_rice(w, k, d, y)
            assert dist.saddlepoint_logcdf(0.5 + y) == pytest.approx(float(mp.log(p)), rel=tol, abs=0), y
        # At the mean the formula is 0/0; its limit 1/2 + K'''/(6 sqrt(2 pi) K''^(3/2)).
        k3 = sum(8 * kj * wj**3 + 24 * dj * wj**3 for wj, kj, dj in zip(w, k, d))
        at_mean = math.log(0.5 + k3 / (6 * math.sqrt(2 * math.pi) * dist.variance**1.5))
        assert dist.saddlepoint_logcdf(dist.mean) == pytest.approx(at_mean, rel=1e-12, abs=0)
    assert dist.saddlepoint_logcdf(0.5) == -math.inf and dist.saddlepoint_logcdf(0.4) == -math.inf
    assert dist.saddlepoint_logcdf(1e6) == 0.0  # no saddle point in double precision: P = 1
    assert GeneralizedChi2([], offset=1.0).saddlepoint_logcdf(1.0) == 0.0
    assert GeneralizedChi2([], offset=1.0).saddlepoint_logcdf(0.9) == -math.inf
    result = dist.log_cdf_result(0.5 + 0.4 * mean, "saddlepoint")
    assert result.method == "saddlepoint" and result.approximate
    rigorous = dist.chernoff_interval(0.5 + 0.4 * mean)
    assert rigorous.lo <= result.log_probability <= rigorous.hi
    assert result.log_error == pytest.approx(max(rigorous.hi - result.log_probability,
                                                 result.log_probability - rigorous.lo))


def test_saddle_solves_the_cgf_equation():
    dist = GeneralizedChi2([0.3, 0.7, 1.0], [1, 2, 3], [0.5, 0.0, 2.0])
    mean = dist.mean
    for y in (1e-6, 0.1, 0.9 * mean, mean, 1.1 * mean, 40.0, 1e90):
        s, one_minus = dist._saddle(y)
        np.testing.assert_allclose(one_minus, 1.0 - 2.0 * dist._w * s, rtol=1e-12, atol=1e-15)
        assert dist._cgf_terms(one_minus)[1] == pytest.approx(y, rel=1e-12, abs=0)
        assert (s < 0) == (y < mean) and (s == 0) == (y == mean)
    assert dist._saddle(1e120) == (None, None)  # 1 - 2s below exp(-230)
    s, _ = GeneralizedChi2([1.0])._saddle(1e-310)  # below what double precision resolves: the most negative s
    assert s <= -1e300
    with mp.workdps(30):
        cgf = _mp_cgf([0.3, 0.7, 1.0], [1, 2, 3], [0.5, 0.0, 2.0])
        for s in (-3.0, 0.0, 0.2, 0.4999):
            k0, k1, k2 = dist._cgf_terms(dist._one_minus(s))
            assert (k0, k1, k2) == pytest.approx((float(cgf(s)), float(cgf(s, 1)), float(cgf(s, 2))), rel=1e-13, abs=0)


def test_auto_picks_by_the_bound():
    spread = GeneralizedChi2([1e-4, 0.02, 1.0, 3.0], [1, 2, 1, 1], [0.0, 4.0, 1.0, 0.0])
    lower_tail = spread.log_cdf_result(1e-5)
    assert lower_tail.method == "ruben" and lower_tail.log_error <= 1e-10
    # The bulk of spread weights needs ~y / (2 w_min) = 1e4 Ruben terms: Bromwich's bound is the one met.
    bulk = spread.log_cdf_result(2.0)
    ruben = spread.log_cdf_result(2.0, "ruben")
    assert ruben.log_error > 1e-10 and bulk.method == "bromwich" and bulk.log_error <= 1e-10
    # Nothing meets the request: the smallest bound of all the methods is kept.
    for x in (1e-5, 2.0, 30.0):
        best = spread.log_cdf_result(x, rtol=1e-300)
        named = [spread.log_cdf_result(x, m, rtol=1e-300) for m in ("ruben", "bromwich", "imhof", "saddlepoint")]
        assert best.log_error <= min(r.log_error for r in named)
        assert best.log_error > 0 and best.method in ("ruben", "bromwich", "imhof", "saddlepoint")
    # Where Imhof's error is not below the value it is refused, by auto and when named.
    tiny = GeneralizedChi2([1.0, 0.5])
    for x, log_ref in ((4e-12, math.log(4e-12 / (2 * math.sqrt(0.5)))), (1e-5, None)):
        p, err = tiny.imhof_cdf(x)
        ruben = tiny.log_cdf_result(x, "ruben")
        assert tiny.log_cdf_result(x).method == "ruben" and err > 1e-10 * ruben.probability
        forced = tiny.log_cdf_result(x, "imhof")
        assert _contains(forced, ruben.log_probability, ruben.log_error)
    # The upper tail beyond double precision: P = 1 within the Chernoff bound, and exactly then.
    for x in (40.0, 60.0, 75.0, 80.0, 90.0, 120.0):
        result, chernoff = tiny.log_cdf_result(x), tiny.chernoff_interval(x)
        assert (result.method == "chernoff") == (chernoff.lo > -4 * EPS)
        if result.method == "chernoff":
            assert result.log_probability == 0.0 and result.log_error == -chernoff.lo
        else:
            assert result.log_error <= 1e-10 and chernoff.lo <= result.log_probability
    assert GeneralizedChi2([], offset=2.0).log_cdf_result(2.0) == CDFResult(0.0, "degenerate", 0.0)


def test_requested_accuracy_is_honoured(mixed):
    for rtol in (1e-6, 1e-9, 1e-11):
        for x in (0.5, 2.0, 8.0, 25.0):
            result = mixed.log_cdf_result(x, rtol=rtol)
            assert result.log_error <= rtol and not result.approximate
            assert result.abs_error <= rtol * result.probability * (1 + rtol)
            assert result.abs_error == pytest.approx(result.probability * math.expm1(result.log_error), rel=1e-12, abs=0)


def test_interval_helpers():
    from theory.inductive_bias.gen_chi2 import _Interval, _interval_result, _logsumexp

    a, b = _Interval(-3.0, -1.0), _Interval(-2.0, 0.0)
    assert a.intersect(b) == _Interval(-2.0, -1.0) and a.intersect(_Interval(-0.5, 0.0)) is None
    assert a.intersect(_Interval(-1.0, 0.0)) == _Interval(-1.0, -1.0)
    r = _interval_result(_Interval(-3.0, -1.0), "ruben")
    assert r == CDFResult(-2.0, "ruben", 1.0)
    assert _interval_result(_Interval(-1e-20, 1e-20), "x").log_probability == 0.0
    assert _interval_result(_Interval(-1e-20, 1e-20), "x").log_error == 1e-20
    assert _interval_result(_Interval(-math.inf, -2.0), "x", True) == CDFResult(-2.0, "x", math.inf, True)
    assert _interval_result(_Interval(-math.inf, 0.0), "x").log_probability == -math.inf
    dist = GeneralizedChi2([1.0])
    rigorous = _Interval(-2.0, -1.0)
    assert dist._combine(CDFResult(-1.5, "m", 0.1), rigorous) == CDFResult(-1.5, "m", 0.1)
    assert dist._combine(CDFResult(-1.5, "m", 1.0), rigorous) == CDFResult(-1.5, "m", 0.5)
    narrowed = dist._combine(CDFResult(-1.05, "m", 0.1), rigorous)  # [-1.15, -0.95] with [-2, -1]
    assert narrowed == CDFResult(pytest.approx(-1.075), "m", pytest.approx(0.075))
    assert dist._combine(CDFResult(-0.5, "m", 0.1), rigorous) is None
    assert dist._combine(CDFResult(-1.5, "m", math.inf), rigorous) is None
    assert dist._candidate_interval(CDFResult(-0.1, "m", 0.3)) == _Interval(-0.4, 0.0)
    assert _logsumexp([]) == -math.inf and _logsumexp([-math.inf, -math.inf]) == -math.inf
    assert _logsumexp([math.log(2.0), math.log(3.0)]) == pytest.approx(math.log(5.0), rel=1e-15, abs=0)
    assert _logsumexp([-1000.0, -1000.0]) == pytest.approx(-1000.0 + math.log(2.0), rel=1e-15, abs=0)


def test_result_error_conversions():
    assert CDFResult(-math.inf, "below_minimum", 0.0).abs_error == 0.0
    assert CDFResult(-math.inf, "ruben", 0.5).abs_error == math.inf
    assert CDFResult(-1.0, "ruben", 800.0).abs_error == pytest.approx(math.exp(-1.0) * math.expm1(700.0))
    assert math.copysign(1.0, CDFResult(0.0, "chernoff", 0.0).bits) == 1.0
    assert CDFResult(math.log(0.125), "ruben", 0.0).bits == pytest.approx(3.0, rel=1e-15, abs=0)
    assert CDFResult(-2.0, "ruben", 0.1).attainable and not CDFResult(-math.inf, "x", 0.0).attainable
    dist = GeneralizedChi2([1.7e-3, 5e-3, 7.7e-3])
    bits, result = dist.bits(1e-10), dist.log_cdf_result(1e-10)
    assert bits.bits_error == result.log_error / math.log(2.0) and bits.method == result.method == "ruben"
    assert bits.bits == -result.log_probability / math.log(2.0) and not bits.approximate


def test_moments_are_exact():
    w, k, d = np.array([0.3, 0.7, 1.1]), np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.0, 2.0])
    dist = GeneralizedChi2(w, k, d, offset=0.4)
    assert dist.mean == pytest.approx(0.4 + 0.3 * 1.5 + 0.7 * 2 + 1.1 * 5, rel=1e-15, abs=0)
    assert dist.variance == pytest.approx(2 * (0.09 * 2 + 0.49 * 2 + 1.21 * 7), rel=1e-15, abs=0)
    assert dist.n_terms == 3 and dist.minimum == 0.4
    for batch in (1, 4, 100):
        draws = dist.sample(10, rng=1, batch_size=batch)
        assert draws.shape == (10,) and np.all(draws > 0.4) and np.all(np.isfinite(draws))
    np.testing.assert_array_equal(dist.sample(10, rng=1, batch_size=4)[:4], dist.sample(4, rng=1))


def test_regularized_gamma_edges():
    from theory.inductive_bias.gen_chi2 import _log_regularized_gamma

    a = np.array([0.5, 40.0])
    assert np.all(_log_regularized_gamma(a, 0.0) == -math.inf)
    assert np.all(_log_regularized_gamma(a, math.inf) == 0.0)
    # A mixture of underflowing and ordinary entries: each against mpmath.
    a = np.array([1.0, 150.0, 400.0])
    ours = _log_regularized_gamma(a, 2.0)
    with mp.workdps(40):
        ref = [float(mp.log(mp.gammainc(ai, 0, 2, regularized=True))) for ai in a]
    np.testing.assert_allclose(ours, ref, rtol=1e-14)


# --- leading-order asymptote over random laws ----------------------------------------------------------
def _log_asymptote(w, k, d, y):
    """log of x^(K/2) exp(-sum d / 2) / (Gamma(K/2 + 1) prod (2 w_j)^(k_j/2))."""
    half_k = 0.5 * float(np.sum(k))
    return half_k * math.log(y) - 0.5 * float(np.sum(d)) - math.lgamma(half_k + 1.0) - float(
        np.sum(0.5 * k * np.log(2.0 * w)))


@settings(max_examples=40, deadline=None)
@given(
    n_terms=st.integers(2, 500),
    seed=st.integers(0, 2**32 - 1),
    nc_max=st.sampled_from([0.0, 1.0, 100.0]),
    depth=st.floats(8.0, 14.0),
)
@example(n_terms=500, seed=1, nc_max=100.0, depth=8.0)
def test_tiny_x_matches_the_leading_asymptote(n_terms, seed, nc_max, depth):
    rng = np.random.default_rng(seed)
    w = 10.0 ** rng.uniform(-4.0, 2.0, n_terms)
    k = rng.integers(1, 4, n_terms).astype(float)
    d = rng.uniform(0.0, nc_max, n_terms)
    y = float(w.min()) * 10.0**-depth
    result = GeneralizedChi2(w, k, d).log_cdf_result(y)
    log_ref = _log_asymptote(w, k, d, y)
    # Relative error of the asymptote: about z (2 + h1), z = y / (2 w_min), h1 the first coefficient ratio.
    z = y / (2.0 * w.min())
    h1 = 0.5 * float(np.sum(k + d * w.min() / w))
    tol = 3.0 * z * (2.0 + h1) + 1e-12 * (1.0 + abs(log_ref))
    assert result.log_error < 1e-9 * max(1.0, abs(log_ref)) and not result.approximate
    assert abs(result.log_probability - log_ref) <= tol
    assert _contains(result, log_ref, tol)


# --- one term against scipy ----------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(dof=st.integers(1, 12), nc=st.floats(0.0, 100.0), scale=st.floats(1e-4, 1e2), q=st.floats(1e-6, 0.999))
def test_one_term_is_scaled_ncx2(dof, nc, scale, q):
    x = scale * float(scipy.stats.ncx2.ppf(q, dof, nc)) if nc > 0 else scale * float(scipy.stats.chi2.ppf(q, dof))
    ref = (scipy.stats.ncx2.logcdf(x / scale, dof, nc) if nc > 0 else scipy.stats.chi2.logcdf(x / scale, dof))
    result = GeneralizedChi2([scale], [dof], [nc]).log_cdf_result(x)
    assert result.log_probability == pytest.approx(float(ref), rel=1e-9, abs=1e-11)
    assert result.log_error < 1e-9


@pytest.mark.parametrize("x", [1e-300, 1e-40, 1e-8])
def test_one_central_term_far_tail_against_chi2(x):
    import mpmath as mp

    for dof in (1, 4, 30):
        result = GeneralizedChi2([0.5], [dof]).log_cdf_result(x)
        ref = float(scipy.stats.chi2.logcdf(2 * x, dof))
        if not math.isfinite(ref):  # scipy underflows: the same CDF at 40 digits
            with mp.workdps(40):
                ref = float(mp.log(mp.gammainc(mp.mpf(dof) / 2, 0, mp.mpf(x), regularized=True)))
        assert result.log_probability == pytest.approx(ref, rel=1e-12, abs=0)
        assert _contains(result, ref, 1e-13 * abs(ref))


def test_equal_weights_upper_tail_against_chi2_sf():
    dist = GeneralizedChi2(np.full(4, 0.7), [1, 2, 3, 2])
    for x in (20.0, 40.0, 60.0):
        sf = float(scipy.stats.chi2.sf(x / 0.7, 8))
        result = dist.log_cdf_result(x)
        assert result.log_probability == pytest.approx(math.log1p(-sf), abs=1e-12)
        assert _contains(result, math.log1p(-sf), 1e-16)


def test_imhof_bound_is_asserted_and_holds():
    dist = GeneralizedChi2(np.full(3, 0.4), [1, 2, 2])
    for q in (0.05, 0.5, 0.95):
        x = 0.4 * float(scipy.stats.chi2.ppf(q, 5))
        p, err = dist.imhof_cdf(x)
        assert err <= dist.tol
        assert abs(p - q) <= err + 1e-15


def test_imhof_bound_holds_on_a_grid_or_is_refused():
    # y * 32 < pi with a slowly decaying characteristic function: QAWF's estimate fails, no bound is claimed
    # (weights [1, 0.5] at y = 4e-12 gave 0.007 with 7e-15 claimed).
    assert GeneralizedChi2([1.0, 0.5]).imhof_cdf(4e-12)[1] == math.inf
    for w, k in (([1.0, 0.5], None), ([2.0, 1.5e-3], None), ([1.0, 0.2, 0.05], None), ([1.0, 0.9], [1, 2])):
        dist = GeneralizedChi2(w, k)
        for y in np.geomspace(1e-6, 3.0, 9):
            p, err = dist.imhof_cdf(y)
            ruben = dist.log_cdf_result(y, "ruben", max_terms=20000)
            assert abs(p - ruben.probability) <= err + ruben.abs_error, (w, y, p, err)


def test_imhof_is_refused_where_its_error_exceeds_the_value():
    dist = GeneralizedChi2([2.0, 1.5e-3])
    forced = dist.log_cdf_result(1e-13, "imhof")
    log_ref = math.log(1e-13 / (2.0 * math.sqrt(2.0 * 1.5e-3)))
    assert _contains(forced, log_ref, 1e-9)  # whatever it reports, the bound holds
    assert dist.log_cdf_result(1e-13).method == "ruben"


@pytest.mark.slow
def test_cdf_matches_monte_carlo_within_4_standard_errors(mixed):
    n = 1_000_000
    samples = mixed.sample(n, rng=123)
    for q in (0.001, 0.02, 0.2, 0.5, 0.8, 0.99):
        eps = float(np.quantile(samples, q))
        empirical = float(np.mean(samples <= eps))
        exact = mixed.cdf(eps)
        assert abs(exact - empirical) <= 4 * math.sqrt(exact * (1 - exact) / n)


def test_moments_match_monte_carlo(mixed):
    samples = mixed.sample(200_000, rng=5)
    assert abs(samples.mean() - mixed.mean) <= 5 * math.sqrt(mixed.variance / samples.size)
    assert samples.var() == pytest.approx(mixed.variance, rel=0.03, abs=0)
    np.testing.assert_array_equal(mixed.sample(10, rng=3), mixed.sample(10, rng=3))


def test_eps_below_minimum_gives_infinite_bias_not_nan(mixed):
    result = mixed.log_cdf_result(mixed.offset * 0.5)
    assert result.method == "below_minimum" and not result.attainable and result.abs_error == 0.0
    with pytest.warns(BelowMinimumWarning, match="infinite"):
        assert mixed.bits(mixed.offset).bits == math.inf
    assert mixed.cdf(mixed.offset - 1.0) == 0.0


def test_default_tolerance():
    assert GeneralizedChi2([1.0]).tol == 1e-13  # the documented Imhof target


def test_no_random_part_is_a_step():
    dist = GeneralizedChi2([], offset=0.5)
    assert dist.cdf(0.6) == 1.0 and dist.cdf(0.4) == 0.0


def test_result_properties():
    r = CDFResult(math.log(0.25), "ruben", 1e-10)
    assert r.probability == pytest.approx(0.25) and r.bits == pytest.approx(2.0)
    assert r.bits_error == pytest.approx(1e-10 / math.log(2.0))
    assert r.abs_error == pytest.approx(0.25 * 1e-10, rel=1e-6, abs=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [1.0, -1.0]}, "weights"),
        ({"weights": [1.0, 0.0]}, "weights"),
        ({"weights": [1.0, np.nan]}, "weights"),
        ({"weights": [1.0, 1.0], "dofs": [1.0]}, "dofs"),
        ({"weights": [1.0], "dofs": [0.0]}, "dofs"),
        ({"weights": [1.0], "noncentralities": [-0.1]}, "noncentralities"),
        ({"weights": [1.0], "offset": math.inf}, "offset"),
        ({"weights": [[1.0, 2.0]]}, "weights"),
        ({"weights": [1.0], "tol": 0.0}, "tol"),
        ({"weights": [3.0, -2.0, 1.0]}, r"weights must all lie in \(0, inf\), got minimum -2.0"),
        ({"weights": [1.0, 1.0], "dofs": [2.0, -1.0]}, r"dofs must all lie in \(0, inf\), got minimum -1.0"),
        ({"weights": [1.0, 1.0], "noncentralities": [2.0, -1.0]}, r"got minimum -1.0"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GeneralizedChi2(**kwargs)


def test_bad_eps_and_method(mixed):
    with pytest.raises(ValueError, match="eps"):
        mixed.bits(0.0)
    with pytest.raises(ValueError, match="eps"):
        mixed.bits(-1.0)
    with pytest.raises(ValueError, match="method"):
        mixed.logcdf(1.0, method="davies")
    with pytest.raises(ValueError, match="x must be finite"):
        mixed.logcdf(math.nan)
    with pytest.raises(ValueError, match="rtol"):
        mixed.log_cdf_result(1.0, rtol=0.0)
    with pytest.raises(ValueError, match="max_terms"):
        mixed.log_cdf_result(1.0, max_terms=1)
    with pytest.raises(TypeError, match="offset"):
        GeneralizedChi2([1.0], offset="a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(mixed.bits(mixed.mean).bits)


@pytest.mark.parametrize("n_terms", [1, 2, 5, 20])
def test_density_by_inversion_is_chi_squared_density(n_terms):
    dist = GeneralizedChi2(np.full(n_terms, 0.5))
    for x in (0.05, 0.5, 2.0, 8.0):
        assert dist.pdf(x) == pytest.approx(2.0 * scipy.stats.chi2.pdf(2.0 * x, n_terms), rel=1e-9, abs=1e-12)
    noncentral = GeneralizedChi2([0.3], [3.0], [5.0], offset=1.0)
    for x in (0.1, 1.0, 3.0):
        assert noncentral.pdf(1.0 + x) == pytest.approx(scipy.stats.ncx2.pdf(x, 3.0, 5.0, scale=0.3), rel=1e-9, abs=0)
    assert noncentral.pdf(0.5) == 0.0


def test_regularized_gamma_against_mpmath():
    import mpmath as mp

    from theory.inductive_bias.gen_chi2 import SPECIAL_RTOL, _log_regularized_gamma

    for a in (0.5, 3.0, 250.0, 4000.0):
        for z in (1e-300, 1e-5, 0.3 * a, a, 3.0 * a):
            ours = float(_log_regularized_gamma(np.array([a]), z)[0])
            with mp.workdps(40):
                ref = float(mp.log(mp.gammainc(a, 0, z, regularized=True)))
            assert abs(ours - ref) <= SPECIAL_RTOL + 1e-15 * abs(ref), (a, z, ours, ref)


# --- mpmath references ---------------------------------------------------------------------------------
SERIES_CASES = [
    ([0.3, 0.7, 1.1], [1, 2, 3], [0.5, 0.0, 2.0], 0.4, [0.401, 0.45, 1.0, 3.0, 8.0]),
    ([1e-3, 2e-3, 0.5], [1, 1, 1], [10.0, 0.0, 3.0], 0.0, [1e-30, 1e-6, 1e-3, 0.01]),
    ([2.0, 1.5e-3], [1, 1], [0.0, 0.0], 0.0, [1e-13, 1e-6, 1e-3]),
    ([1e-4, 1e-3], [3, 1], [100.0, 50.0], 0.0, [1e-200, 1e-9, 0.01]),
]


@pytest.mark.parametrize("w, k, d, offset, xs", SERIES_CASES)
def test_against_mpmath_series(w, k, d, offset, xs):
    dist = GeneralizedChi2(w, k, d, offset=offset)
    refs = gen_chi2_logcdf_series_many(w, xs, k, d, offset, n_max=150)
    for x, (log_ref, rel) in zip(xs, refs):
        result = dist.log_cdf_result(x)
        assert abs(result.log_probability - float(log_ref)) <= 1e-11 * max(1.0, abs(float(log_ref))), (x, result)
        assert _contains(result, float(log_ref)), (x, result, float(log_ref))


def test_spread_weights_bulk_against_mpmath_inversion():
    w, k, d = [1e-4, 0.02, 1.0, 3.0], [1, 2, 1, 1], [0.0, 4.0, 1.0, 0.0]
    dist = GeneralizedChi2(w, k, d)
    for x in (0.5, 2.0, 6.0):
        ref = float(gen_chi2_cdf_inversion(w, x, k, d))
        result = dist.log_cdf_result(x)
        assert result.probability == pytest.approx(ref, rel=1e-10, abs=0)
        assert _contains(result, math.log(ref), 1e-13)


def test_methods_agree_where_each_is_bounded(mixed):
    for q in (1e-30, 1e-9, 1e-3, 0.3, 0.9):
        lo, hi = mixed.offset, mixed.mean * 3
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mixed.logcdf(mid) < math.log(q) else (lo, mid)
        ruben = mixed.log_cdf_result(hi, "ruben")
        bromwich = mixed.log_cdf_result(hi, "bromwich")
        assert ruben.method == "ruben" and bromwich.method == "bromwich"
        assert ruben.log_error < 1e-9 and bromwich.log_error < 1e-9
        assert abs(ruben.log_probability - bromwich.log_probability) <= ruben.log_error + bromwich.log_error
        assert ruben.log_probability == pytest.approx(math.log(q), rel=1e-6, abs=0)
        saddle = mixed.log_cdf_result(hi, "saddlepoint")
        assert saddle.approximate and abs(saddle.log_probability - ruben.log_probability) < 0.05 * abs(math.log(q))


# --- monotonicity and bounds ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    ([1.7e-3, 5e-3, 7.7e-3], None, None),
    ([2.0, 1.5e-3], None, None),
    (list(np.geomspace(1e-4, 1e2, 40)), None, list(np.linspace(0, 100, 40))),
])
def test_cdf_is_monotone_on_a_dense_grid(case):
    w, k, d = case
    dist = GeneralizedChi2(w, k, d)
    grid = np.geomspace(dist.mean * 1e-12, dist.mean * 4, 300)
    results = [dist.log_cdf_result(x) for x in grid]
    logs = np.array([r.log_probability for r in results])
    errs = np.array([r.log_error for r in results])
    assert np.all(np.isfinite(logs)) and np.all(errs < 1e-8)
    assert np.all(np.diff(logs) >= -(errs[1:] + errs[:-1]))
    assert np.all(np.diff(logs[::10]) > 0) or np.all(np.diff(logs[::10])[logs[::10][1:] < -1e-12] > 0)


@pytest.mark.parametrize("x", [0.11, 0.15, 0.3, 1.0])
def test_saddle_point_r_star_branch_against_closed_form(x):
    """One chi-squared term with 0.1 degrees of freedom is so skewed that above its mean the Lugannani-Rice
    upper-tail bracket 1 - Phi(w) + phi(w)(1/u - 1/w) is negative; the saddle point then returns
    Barndorff-Nielsen's log Phi(r*), r* = w + log(u / w) / w.  With K(s) = -(k/2) log(1 - 2 s) the saddle point is
    s = (1 - k / x) / 2 and u = s x sqrt(2 / k): against 30-digit arithmetic, 1e-12 relative."""
    k = 0.1
    with mp.workdps(30):
        xm, km = mp.mpf(x), mp.mpf(k)
        s = (1 - km / xm) / 2
        w = mp.sqrt(2 * (s * xm + (km / 2) * mp.log(km / xm)))
        u = s * xm * mp.sqrt(2 / km)
        assert (1 - mp.ncdf(w)) / mp.npdf(w) - 1 / w + 1 / u < 0  # the bracket has lost its sign
        want = float(mp.log(mp.ncdf(w + mp.log(u / w) / w)))
    assert GeneralizedChi2([1.0], [k]).saddlepoint_logcdf(x) == pytest.approx(want, rel=1e-12, abs=0)


@pytest.mark.parametrize("q", [1.0 - 1e-6, 1.0 - 1e-9, 1.0 - 1e-12])
def test_chernoff_bound_next_to_the_mean_is_a_log_probability(q):
    """Just below the mean the Chernoff exponent K(s) - s y is about -(y - mean)^2 / (2 var), far below the
    1e-10 slack added to it: the upper end of the interval for log P is then 0, never above."""
    dist = GeneralizedChi2([0.3, 0.7, 1.0], [1, 2, 3], [0.5, 0.0, 2.0])
    interval = dist.chernoff_interval(dist.mean * q)
    assert interval.hi == 0.0 and interval.lo == -math.inf


def test_ruben_tail_bound_on_a_narrow_range_of_rho():
    """Weights [1, 2] (q_max = 1/2), n = 200, and z putting rho_lo 1.5e-9 below rho_hi = (1 - 1e-12) / q_max: the
    range of rho is narrow but not empty, and the bound there (about e^-110) is far below the mass left (1).  It
    lies within 1e-9 (1 + |f|) of the smallest of 2001 points of the range in 30-digit arithmetic, and not below."""
    dist = GeneralizedChi2([1.0, 2.0])
    _, a, q, d_over_a, _, _ = dist._ruben_setup()
    n, half_k = 200, 1.0
    rho_hi = (1.0 - 1e-12) / float(q.max())
    z = rho_hi / (1.0 + 1.5e-9) * (half_k + n + 1.0)
    rho_lo = z / (half_k + n + 1.0)
    got = dist._ruben_tail_bound(n, 0.0, -2.0, z, a, q, d_over_a)
    with mp.workdps(30):
        def f(rho):
            rho = mp.mpf(rho)
            log_g = mp.fsum(-mp.mpf(k) / 2 * mp.log(mp.mpf(aj) * (1 - mp.mpf(qj) * rho)) for k, aj, qj in zip((1, 1), a, q))
            return log_g - n * mp.log(rho) - mp.log(1 - mp.mpf(rho_lo) / rho)

        grid = [mp.mpf(rho_lo) + (mp.mpf(rho_hi) - mp.mpf(rho_lo)) * j / 2000 for j in range(1, 2001)]
        f_min = float(min(f(r) for r in grid))
    assert f_min < -100.0
    assert f_min - 1e-9 * (1 + abs(f_min)) - 1e-9 <= got + 2.0 <= f_min + 2e-9 * (1 + abs(f_min)), (got, f_min)


@pytest.mark.parametrize("above", [0.0, 5e-10, 1e-6])
def test_ruben_tail_bound_on_an_empty_range_of_rho(above):
    """rho_lo at or above rho_hi = (1 - 1e-12) / q_max: no rho is left, and the bound is the mass left times F_n."""
    dist = GeneralizedChi2([1.0, 2.0])
    _, a, q, d_over_a, _, _ = dist._ruben_setup()
    n = 200
    rho_hi = (1.0 - 1e-12) / float(q.max())
    z = rho_hi * (1.0 + above) * (1.0 + n + 1.0)
    assert dist._ruben_tail_bound(n, -0.5, -2.0, z, a, q, d_over_a) == -2.5
