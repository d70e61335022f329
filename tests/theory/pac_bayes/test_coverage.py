"""Monte Carlo coverage of every bound in theory.pac_bayes.bounds: failure frequency <= delta + 3 sigma."""

from __future__ import annotations

import numpy as np
import pytest

from theory import pac_bayes as pb

REPETITIONS = 2000
DELTA = 0.1


@pytest.mark.parametrize(
    "n, risks",
    [
        (100, np.full(1, 0.3)),  # one hypothesis: the test-set bound is nearly exact, its failure rate ~ delta
        (60, np.linspace(0.0, 0.5, 12)),  # a class with a zero-risk member (realizable form) and a spread
        (400, np.full(8, 0.1)),
    ],
)
def test_each_bound_fails_at_most_delta_plus_three_sigma(n, risks):
    m = risks.size
    complexity = np.full(m, np.log(m))  # uniform prior over the class
    freq = pb.monte_carlo_coverage(n, risks, complexity, DELTA, REPETITIONS, seed=11)
    allowance = DELTA + 3 * freq["sigma"]
    for name, value in freq.items():
        if name in ("sigma", "mean_empirical_risk"):
            continue
        assert value <= allowance, f"{name} failed in {value:.4f} of runs > {allowance:.4f}"


def test_binomial_test_set_bound_is_nearly_exact():
    # the binomial tail inversion spends almost all of delta: its failure rate is close to delta,
    # so a bound that undershot even slightly would show up above the allowance
    freq = pb.monte_carlo_coverage(100, np.full(1, 0.3), np.zeros(1), DELTA, 20000, seed=3)
    assert 0.5 * DELTA <= freq["test_set_binomial"] <= DELTA + 3 * freq["sigma"]


def test_the_check_detects_an_invalid_bound():
    # power: the binomial bound at confidence 2 delta (not valid at delta) fails in ~2 delta of the runs
    rng = np.random.default_rng(0)
    n, risk = 100, 0.3
    k = rng.binomial(n, risk, size=REPETITIONS).astype(float)
    overconfident = pb.binomial_test_set_bound(k, n, 2 * DELTA)
    sigma = np.sqrt(DELTA * (1 - DELTA) / REPETITIONS)
    assert np.mean(overconfident < risk) > DELTA + 3 * sigma
