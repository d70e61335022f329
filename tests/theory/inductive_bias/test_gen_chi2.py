"""The generalised chi-squared CDF: Monte Carlo, chi-squared / ncx2 special cases, saddle point, bad input."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.inductive_bias.gen_chi2 import BelowMinimumWarning, GeneralizedChi2


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(7)
    return GeneralizedChi2(rng.uniform(0.05, 2.0, 12), rng.integers(1, 4, 12), rng.uniform(0.0, 3.0, 12), offset=0.4)


@pytest.mark.slow
def test_cdf_matches_monte_carlo_within_4_standard_errors(mixed):
    n = 1_000_000
    samples = mixed.sample(n, rng=123)
    for q in (0.001, 0.02, 0.2, 0.5, 0.8, 0.99):
        eps = float(np.quantile(samples, q))
        empirical = float(np.mean(samples <= eps))
        exact = mixed.cdf(eps)
        se = math.sqrt(exact * (1 - exact) / n)
        assert abs(exact - empirical) <= 4 * se, (eps, exact, empirical, se)


def test_moments_match_monte_carlo(mixed):
    samples = mixed.sample(200_000, rng=5)
    assert abs(samples.mean() - mixed.mean) <= 5 * math.sqrt(mixed.variance / samples.size)
    assert samples.var() == pytest.approx(mixed.variance, rel=0.03)


def test_cdf_is_monotone_in_eps(mixed):
    grid = np.linspace(mixed.offset + 1e-3, mixed.mean + 6 * math.sqrt(mixed.variance), 40)
    values = [mixed.imhof_cdf(x) for x in grid]
    probs = np.array([v[0] for v in values])
    errors = np.array([v[1] for v in values])
    assert np.all(np.diff(probs) >= -(errors[1:] + errors[:-1]))
    assert np.all(errors < 1e-12)
    # The log CDF, whichever method each point uses, is monotone too, including the far tail.
    logs = [mixed.logcdf(x) for x in np.geomspace(1e-4, 10.0, 30) + mixed.offset]
    assert np.all(np.diff(logs) > 0)


@settings(max_examples=25)
@given(
    weight=st.floats(0.01, 100.0),
    dofs=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    quantile=st.floats(0.001, 0.999),
)
def test_equal_weights_zero_means_is_chi_squared(weight, dofs, quantile):
    total = sum(dofs)
    x = weight * float(scipy.stats.chi2.ppf(quantile, total))
    dist = GeneralizedChi2(np.full(len(dofs), weight), dofs)
    p, err = dist.imhof_cdf(x)
    assert err < 1e-12
    assert p == pytest.approx(float(scipy.stats.chi2.cdf(x / weight, total)), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("dof, nc", [(1.0, 4.0), (3.0, 0.5), (6.0, 20.0)])
def test_single_noncentral_term_is_scaled_ncx2(dof, nc):
    dist = GeneralizedChi2([0.3], [dof], [nc], offset=1.0)
    for q in (0.01, 0.3, 0.9):
        x = 1.0 + 0.3 * float(scipy.stats.ncx2.ppf(q, dof, nc))
        p, err = dist.imhof_cdf(x)
        assert p == pytest.approx(q, abs=max(err, 1e-12) + 1e-10)


def test_saddlepoint_agrees_with_imhof_where_both_work(mixed):
    for q in (1e-9, 1e-6, 1e-3, 0.05):
        # find x with P ~ q by bisection on the Imhof CDF
        lo, hi = mixed.offset, mixed.mean
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mixed.imhof_cdf(mid)[0] < q else (lo, mid)
        p, err = mixed.imhof_cdf(hi)
        assert err < 1e-4 * p
        assert mixed.saddlepoint_logcdf(hi) == pytest.approx(math.log(p), abs=0.02)


def test_far_tail_uses_saddle_point_and_stays_finite(mixed):
    x = mixed.offset + 1e-3
    result = mixed.log_cdf_result(x)
    assert result.method == "saddlepoint"
    assert math.isfinite(result.log_probability) and result.log_probability < -50
    assert mixed.bits(x) == pytest.approx(-result.log_probability / math.log(2))


def test_eps_below_minimum_gives_infinite_bias_not_nan(mixed):
    result = mixed.log_cdf_result(mixed.offset * 0.5)
    assert result.method == "below_minimum" and not result.attainable
    with pytest.warns(BelowMinimumWarning, match="infinite"):
        assert mixed.bits(mixed.offset) == math.inf
    assert mixed.cdf(mixed.offset - 1.0) == 0.0


def test_no_random_part_is_a_step():
    dist = GeneralizedChi2([], offset=0.5)
    assert dist.cdf(0.6) == 1.0 and dist.cdf(0.4) == 0.0


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
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(mixed.bits(mixed.mean))


@pytest.mark.parametrize("n_terms", [1, 2, 5, 20])
def test_density_by_inversion_is_chi_squared_density(n_terms):
    dist = GeneralizedChi2(np.full(n_terms, 0.5))
    for x in (0.05, 0.5, 2.0, 8.0):
        assert dist.pdf(x) == pytest.approx(2.0 * scipy.stats.chi2.pdf(2.0 * x, n_terms), rel=1e-9, abs=1e-12)
    noncentral = GeneralizedChi2([0.3], [3.0], [5.0], offset=1.0)
    for x in (0.1, 1.0, 3.0):
        assert noncentral.pdf(1.0 + x) == pytest.approx(scipy.stats.ncx2.pdf(x, 3.0, 5.0, scale=0.3), rel=1e-9)
    assert noncentral.pdf(0.5) == 0.0
