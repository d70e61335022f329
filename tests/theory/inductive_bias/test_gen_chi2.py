"""The generalised chi-squared CDF: reproducers, asymptotes, scipy special cases, mpmath references, bounds."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import example, given, settings
from hypothesis import strategies as st

from proofs_check.references import gen_chi2_cdf_inversion, gen_chi2_logcdf_series
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
    assert result.probability == pytest.approx(exact, rel=1e-9)
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
        assert result.log_probability == pytest.approx(ref, rel=1e-12)
        assert _contains(result, ref, 1e-13 * abs(ref))


def test_equal_weights_upper_tail_against_chi2_sf():
    dist = GeneralizedChi2(np.full(4, 0.7), [1, 2, 3, 2])
    for x in (20.0, 40.0, 60.0):
        sf = float(scipy.stats.chi2.sf(x / 0.7, 8))
        result = dist.log_cdf_result(x)
        assert result.log_probability == pytest.approx(math.log1p(-sf), abs=1e-12)
        assert _contains(result, math.log1p(-sf), 1e-16)


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
    for x in xs:
        log_ref, rel = gen_chi2_logcdf_series(w, x, k, d, offset, n_max=150)
        result = dist.log_cdf_result(x)
        assert abs(result.log_probability - float(log_ref)) <= 1e-11 * max(1.0, abs(float(log_ref))), (x, result)
        assert _contains(result, float(log_ref)), (x, result, float(log_ref))


def test_spread_weights_bulk_against_mpmath_inversion():
    w, k, d = [1e-4, 0.02, 1.0, 3.0], [1, 2, 1, 1], [0.0, 4.0, 1.0, 0.0]
    dist = GeneralizedChi2(w, k, d)
    for x in (0.5, 2.0, 6.0):
        ref = float(gen_chi2_cdf_inversion(w, x, k, d))
        result = dist.log_cdf_result(x)
        assert result.probability == pytest.approx(ref, rel=1e-10)
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
        assert ruben.log_probability == pytest.approx(math.log(q), rel=1e-6)
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


def test_imhof_bound_is_asserted_and_holds():
    dist = GeneralizedChi2(np.full(3, 0.4), [1, 2, 2])
    for q in (0.05, 0.5, 0.95):
        x = 0.4 * float(scipy.stats.chi2.ppf(q, 5))
        p, err = dist.imhof_cdf(x)
        assert err <= dist.tol
        assert abs(p - q) <= err + 1e-15


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
    assert samples.var() == pytest.approx(mixed.variance, rel=0.03)
    np.testing.assert_array_equal(mixed.sample(10, rng=3), mixed.sample(10, rng=3))


def test_eps_below_minimum_gives_infinite_bias_not_nan(mixed):
    result = mixed.log_cdf_result(mixed.offset * 0.5)
    assert result.method == "below_minimum" and not result.attainable and result.abs_error == 0.0
    with pytest.warns(BelowMinimumWarning, match="infinite"):
        assert mixed.bits(mixed.offset).bits == math.inf
    assert mixed.cdf(mixed.offset - 1.0) == 0.0


def test_no_random_part_is_a_step():
    dist = GeneralizedChi2([], offset=0.5)
    assert dist.cdf(0.6) == 1.0 and dist.cdf(0.4) == 0.0


def test_result_properties():
    r = CDFResult(math.log(0.25), "ruben", 1e-10)
    assert r.probability == pytest.approx(0.25) and r.bits == pytest.approx(2.0)
    assert r.bits_error == pytest.approx(1e-10 / math.log(2.0))
    assert r.abs_error == pytest.approx(0.25 * 1e-10, rel=1e-6)


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
        assert noncentral.pdf(1.0 + x) == pytest.approx(scipy.stats.ncx2.pdf(x, 3.0, 5.0, scale=0.3), rel=1e-9)
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
