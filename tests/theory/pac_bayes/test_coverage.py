"""Monte Carlo coverage of every bound (theory.pac_bayes.coverage): failure frequency <= delta + 3 sigma."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from theory.pac_bayes import bounds as bd
from theory.pac_bayes import coverage as cv

REPETITIONS = 2000
DELTA = 0.1
PINNED_MEAN_RISK = 0.27599999999999997  # coverage_study, one setting (n = 20, R = 0.3), 50 repetitions, rng=1


def test_allowance_formula_exactly():
    sigma, allowance = cv.coverage_allowance(0.1, 2000)
    assert sigma == math.sqrt(0.1 * 0.9 / 2000)
    assert allowance == 0.1 + 3 * math.sqrt(0.1 * 0.9 / 2000)
    assert cv.coverage_allowance(0.05, 400, n_sigma=2.0) == (math.sqrt(0.05 * 0.95 / 400), 0.05 + 2 * math.sqrt(0.05 * 0.95 / 400))
    result = cv.monte_carlo_coverage(50, [0.2], 0.0, 0.1, 800, rng=0)
    assert (result.sigma, result.allowance) == cv.coverage_allowance(0.1, 800)
    assert result.allowance < 0.14  # sqrt(delta (1 - delta) * m) would make every check vacuous


@pytest.mark.parametrize(
    "n, risks",
    [
        (100, np.full(1, 0.3)),  # one hypothesis: the test-set bound is nearly exact, its failure rate ~ delta
        (60, np.linspace(0.0, 0.5, 12)),  # a class with a zero-risk member (realizable form) and a spread
        (400, np.full(8, 0.1)),
    ],
)
def test_each_bound_fails_at_most_delta_plus_three_sigma(n, risks):
    complexity = np.full(risks.size, np.log(risks.size))  # uniform prior over the class
    result = cv.monte_carlo_coverage(n, risks, complexity, DELTA, REPETITIONS, rng=11)
    assert set(result.failure_rates) == {"test_set_binomial", "test_set_kl", "occam_realizable", *bd.all_bounds(0, 1, 0, 0.5)}
    for name, value in result.failure_rates.items():
        assert value <= result.allowance, f"{name} failed in {value:.4f} of runs > {result.allowance:.4f}"
    assert result.passed
    assert result.mean_empirical_risk == pytest.approx(float(np.mean(risks)), abs=0.01)


def test_binomial_test_set_bound_is_nearly_exact():
    # the binomial tail inversion spends almost all of delta: its failure rate is close to delta,
    # so a bound that undershot even slightly would show up above the allowance
    result = cv.monte_carlo_coverage(100, np.full(1, 0.3), np.zeros(1), DELTA, 20000, rng=3)
    assert 0.5 * DELTA <= result.failure_rates["test_set_binomial"] <= result.allowance
    # the realizable rule fires only when k = 0, which is (0.7)^100 ~ 3e-16 likely here
    assert result.failure_rates["occam_realizable"] == 0.0


def test_failure_rates_are_the_exact_frequencies():
    # recompute one setting's frequencies from the same draws
    n, risks, reps = 40, np.array([0.25, 0.5]), 300
    result = cv.monte_carlo_coverage(n, risks, np.log(2), DELTA, reps, rng=5)
    errors = np.random.default_rng(5).binomial(n, risks, size=(reps, 2)).astype(float)
    assert result.failure_rates["test_set_binomial"] == float(np.mean(bd.binomial_test_set_bound(errors[:, 0], n, DELTA) < 0.25))
    kl = np.full_like(errors, np.log(2))
    assert result.failure_rates["maurer"] == float(np.mean(np.any(bd.maurer_bound(errors / n, n, kl, DELTA) < risks, axis=1)))
    assert result.mean_empirical_risk == float(np.mean(errors / n))
    assert (result.n, result.repetitions, result.delta) == (n, reps, DELTA)


def test_the_check_detects_an_invalid_bound():
    # power: the binomial bound at confidence 2 delta (not valid at delta) fails in ~2 delta of the runs
    rng = np.random.default_rng(0)
    n, risk = 100, 0.3
    k = rng.binomial(n, risk, size=REPETITIONS).astype(float)
    overconfident = bd.binomial_test_set_bound(k, n, 2 * DELTA)
    _, allowance = cv.coverage_allowance(DELTA, REPETITIONS)
    assert np.mean(overconfident < risk) > allowance


def test_study_seeds_come_from_the_configuration():
    a = cv.CoverageSetting("a", 50, (0.2, 0.4))
    b = cv.CoverageSetting("b", 80, (0.1,), (0.0,))
    forward = cv.coverage_study([a, b], DELTA, 300, rng=7)
    backward = cv.coverage_study([b, a], DELTA, 300, rng=7)
    assert [r.label for r in forward] == ["a", "b"]
    assert forward[0] == backward[1] and forward[1] == backward[0]
    with ThreadPoolExecutor(2) as pool:
        assert cv.coverage_study([a, b], DELTA, 300, rng=7, executor=pool) == forward
    assert cv.coverage_study([a, b], DELTA, 300, rng=8) != forward
    worst_name, worst_rate = forward[0].worst
    assert worst_rate == max(forward[0].failure_rates.values()) and worst_name in forward[0].failure_rates


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"true_risks": [1.5]}, "true_risks must be"),
        ({"true_risks": []}, "true_risks must be"),
        ({"true_risks": [[0.1]]}, "true_risks must be"),
        ({"complexity": [0.1, 0.1]}, "complexity must broadcast"),
        ({"complexity": 0.0, "true_risks": [0.1, 0.2]}, "summing to <= 1"),
        ({"delta": 1.0}, "delta"),
        ({"repetitions": 0}, "repetitions"),
        ({"n": 0}, "n must be"),
    ],
)
def test_bad_input(kwargs, message):
    args = {"n": 10, "true_risks": [0.1], "complexity": 0.0, "delta": 0.1, "repetitions": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        cv.monte_carlo_coverage(**args)
    with pytest.raises(TypeError, match="CoverageSetting"):
        cv.coverage_study([("a", 10, (0.1,))], 0.1, 5)


def test_every_rate_is_the_exact_frequency_of_its_rule():
    # a zero-risk member (the realizable form applies, and bound == risk == 0 is no failure) and a spread
    n, risks, reps = 30, np.array([0.0, 0.2, 0.45]), 400
    complexity = np.full(3, np.log(3))
    result = cv.monte_carlo_coverage(n, risks, complexity, DELTA, reps, rng=9)
    errors = np.random.default_rng(9).binomial(n, risks, size=(reps, 3)).astype(float)
    kl = np.broadcast_to(complexity, errors.shape)
    expected = {
        "test_set_binomial": np.mean(bd.binomial_test_set_bound(errors[:, 0], n, DELTA) < risks[0]),
        "test_set_kl": np.mean(bd.test_set_kl_bound(errors[:, 0], n, DELTA) < risks[0]),
        "occam_realizable": np.mean(np.any((errors == 0) & (bd.occam_bound(0 * errors, n, kl, DELTA, "realizable") < risks), axis=1)),
    }
    for name, value in bd.all_bounds(errors, n, kl, DELTA).items():
        expected[name] = np.mean(np.any(value < risks, axis=1))
    assert result.failure_rates == {name: float(v) for name, v in expected.items()}
    assert all(v < 0.5 for v in result.failure_rates.values())


def test_pinned_study_values():
    # regression pin of the seed derivation: the same base seed and configuration give these draws
    setting = cv.CoverageSetting("pin", 20, (0.3,))
    (result,) = cv.coverage_study([setting], DELTA, 50, rng=1)
    assert result.label == "pin" and result.n == 20 and result.repetitions == 50
    assert result.mean_empirical_risk == PINNED_MEAN_RISK
    np.testing.assert_array_equal(setting.arrays()[1], [0.0])  # uniform prior over one hypothesis: ln 1
    np.testing.assert_array_equal(cv.CoverageSetting("u", 5, (0.1, 0.2, 0.3)).arrays()[1], np.full(3, math.log(3)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"true_risks": [0.1, 1.5]}, "true_risks must be"),
        ({"true_risks": [0.1, math.nan]}, "true_risks must be"),
        ({"true_risks": [0.1, 0.2], "complexity": [1.0, -1.0]}, r"complexity = ln\(1/prior\) must be >= 0"),
        ({"true_risks": [0.1, 0.2], "complexity": [1.0, math.nan]}, r"complexity = ln\(1/prior\) must be >= 0"),
        ({"true_risks": [0.1, 0.2], "complexity": [math.log(2), math.log(2) - 1e-9]}, "summing to <= 1"),
    ],
)
def test_partly_bad_classes_are_refused(kwargs, message):
    args = {"n": 10, "complexity": math.log(2), "delta": 0.1, "repetitions": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        cv.monte_carlo_coverage(**args)
    cv.monte_carlo_coverage(10, [0.1, 0.2], [math.log(2), math.log(2)], 0.1, 5, rng=0)  # exactly 1 is fine


def test_a_bound_equal_to_the_true_risk_is_no_failure():
    # R = 1 for hypothesis 0: k = n always and every bound is exactly 1 = R, which is no failure
    result = cv.monte_carlo_coverage(25, [1.0, 0.0], math.log(2), DELTA, 200, rng=4)  # R = 0: k = 0, bound >= 0
    assert all(rate == 0.0 for rate in result.failure_rates.values()), result.failure_rates
    at_allowance = cv.CoverageResult({"a": 0.2}, 0.1, 10, 5, 0.1, 0.2, 0.0)
    assert at_allowance.passed and not cv.CoverageResult({"a": 0.2 + 1e-12}, 0.1, 10, 5, 0.1, 0.2, 0.0).passed
