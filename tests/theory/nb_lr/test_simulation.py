"""The NB-vs-LR simulation (generator, exact Bayes errors, m* search, resumable driver), the real-data
learning curves and the logistic-loss consistency bound."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.nb_lr.consistency import (
    consistency_bound,
    excess_cross_entropy,
    excess_zero_one,
    near_tight_pair,
    total_variation,
)
from theory.nb_lr.simulation import (
    SimulationConfig,
    bayes_error,
    class_mean_coefficients,
    load_sample_complexity_results,
    easy_covariance_diagonal,
    make_test_set,
    preprocessing_shift_scale,
    run_sample_complexity,
    search_m_star,
    training_sample,
)


@pytest.mark.parametrize("n", [2, 10, 100, 1000])
def test_bayes_error_binary_closed_form(n):
    with mpmath.workdps(40):  # at mpmath's default 15 digits the reference itself is off by 1e-15 relative
        expected = float(mpmath.ncdf(-mpmath.sqrt(mpmath.mpf(n + 1) / 2)))  # even n
    assert bayes_error(2, n) == pytest.approx(expected, rel=4e-16, abs=0)


@pytest.mark.parametrize("K", [3, 5, 7])
def test_bayes_error_multiclass_matches_bayes_rule_monte_carlo(K):
    """Nearest mean in the Mahalanobis metric on 2e5 fresh points, n = 2 (errors of order 0.1)."""
    n, per_class = 2, 40_000
    X, y = make_test_set(K, n, per_class, rng=K)
    shift, scale = preprocessing_shift_scale(K)
    means = (class_mean_coefficients(K)[:, None] * np.ones(n) - shift) / scale
    var = easy_covariance_diagonal(n) / scale**2
    dist = (((X[:, None, :] - means[None]) ** 2) / var).sum(axis=-1)
    mc = np.mean(np.argmin(dist, axis=1) != y)
    exact = bayes_error(K, n)
    assert abs(mc - exact) < 4 * math.sqrt(exact * (1 - exact) / y.size)


def test_bayes_error_multiclass_by_one_dimensional_integration():
    """Independent route: 1 - (1/K) sum_k P(class k's interval | k), integrated with mpmath."""
    K, n = 5, 6
    q = mpmath.mpf(n // 2) / n + (n - n // 2)
    c = sorted(class_mean_coefficients(K).tolist())
    cuts = [-mpmath.inf] + [(a + b) / 2 * mpmath.sqrt(q) for a, b in zip(c, c[1:])] + [mpmath.inf]
    correct = sum(
        mpmath.quad(lambda t, mu=ck * mpmath.sqrt(q): mpmath.npdf(t, mu, 1), [cuts[k], cuts[k + 1]])
        for k, ck in enumerate(c)
    )
    assert bayes_error(K, n) == pytest.approx(float(1 - correct / K), rel=1e-10, abs=0)


def test_generator_moments_and_preprocessing():
    K, n = 3, 6
    X, y = make_test_set(K, n, 20_000, rng=0)
    a = 2.0 ** (K - 3)
    for k, ck in enumerate(class_mean_coefficients(K)):
        np.testing.assert_allclose(X[y == k].mean(axis=0), (ck - a) / a, atol=0.05)
        np.testing.assert_allclose(X[y == k].var(axis=0), easy_covariance_diagonal(n) / a**2, rtol=0.05)
    assert class_mean_coefficients(5).tolist() == [-1, 1, 2, 4, 8]
    assert easy_covariance_diagonal(5).tolist() == [5, 5, 1, 1, 1]
    assert preprocessing_shift_scale(2) == (0.0, 1.0)


def test_training_sample_every_class_present_and_reproducible():
    for seed in range(30):
        X, y = training_sample(7, 4, 14, rng=seed)
        assert X.shape == (14, 4) and set(y.tolist()) == set(range(7))
    a = training_sample(3, 5, 9, rng=1)
    b = training_sample(3, 5, 9, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="m \\(training size\\)"):
        training_sample(3, 5, 2, rng=0)


@given(threshold=st.integers(4, 5000), resolution=st.integers(1, 9))
@settings(max_examples=30)
def test_search_finds_threshold_of_a_monotone_curve(threshold, resolution):
    search = search_m_star(lambda m: 0.0 if m >= threshold else 1.0, 0.5, 4, 10_000, resolution)
    m_star, visited = search.m_star, search.visited
    assert threshold <= m_star <= threshold + resolution - 1 or m_star == 4
    # doubling, then at most two bracket steps per halving (an interpolation step that did not halve
    # is followed by a bisection step): a step curve is the worst case for interpolation
    doubling = _doubling_prefix(visited, 4)
    assert len(visited) - len(doubling) <= 2 * math.ceil(math.log2(max(threshold / resolution, 1))) + 2


def _doubling_prefix(visited, m_min):
    """The leading m_min, 2 m_min, 4 m_min, ... of a search path."""
    prefix = []
    for i, m in enumerate(visited):
        if m != m_min * 2**i:
            break
        prefix.append(m)
    return prefix


@pytest.mark.parametrize("scale", [100.0, 300.0, 462.0, 1000.0, 5300.0])
def test_search_on_a_smooth_curve_beats_bisection(scale):
    """On an exponentially decaying curve the interpolation step lands near the crossing."""
    target, resolution = 0.01, 6

    def error(m):
        return 0.6 * math.exp(-4.1 * m / scale)

    search = search_m_star(error, target, 6, 10**6, resolution)
    m_star, visited = search.m_star, search.visited
    crossing = scale * math.log(60) / 4.1
    assert crossing <= m_star <= crossing + resolution
    doubling = _doubling_prefix(visited, 6)
    lo = max(m for m in doubling if error(m) >= target)
    bisection_steps = math.ceil(math.log2(lo / resolution))  # bracket [lo, 2 lo] halved down to the resolution
    assert len(visited) - len(doubling) <= bisection_steps


def test_search_reports_none_when_never_reached():
    assert search_m_star(lambda m: 1.0, 0.5, 4, 100, 3).m_star is None


def test_driver_streams_and_resumes(tmp_path, monkeypatch):
    config = SimulationConfig(trials=2, test_per_class=200, seed=3)
    first = run_sample_complexity((2, 3), (10,), config=config, results_dir=tmp_path, progress=False)
    assert [(r.n_classes, r.model) for r in first] == [(2, "nb"), (2, "lr"), (3, "nb"), (3, "lr")]
    for r in first:
        assert r.m_star is not None
        passing = [m for m, mean, _ in r.curve if mean < r.target]
        assert r.m_star == min(passing)
    lines = (tmp_path / "mstar.jsonl").read_text().splitlines()
    assert len(lines) == 4
    import theory.nb_lr.simulation as sim

    def fail(*a, **k):
        raise AssertionError("a resumed run must not recompute")

    monkeypatch.setattr(sim, "evaluate_errors", fail)
    again = run_sample_complexity((2, 3), (10,), config=config, results_dir=tmp_path, progress=False)
    assert again == first
    assert (tmp_path / "mstar.jsonl").read_text().splitlines() == lines
    assert load_sample_complexity_results(tmp_path, config) == first


def test_interrupted_run_resumes_the_missing_cells(tmp_path):
    """A store holding some cells (and a torn last line) is completed; the result equals a fresh run."""
    config = SimulationConfig(trials=2, test_per_class=100, seed=5)
    fresh = run_sample_complexity((2, 3), (8,), config=config, store=False, progress=False)
    run_sample_complexity((2,), (8,), ("nb",), config=config, results_dir=tmp_path, progress=False)
    with open(tmp_path / "mstar.jsonl", "a") as fh:
        fh.write('{"n_classes": 2, "n": 8, "mo')  # cut by an interruption
    resumed = run_sample_complexity((2, 3), (8,), config=config, results_dir=tmp_path, progress=False)
    assert resumed == fresh


def test_results_do_not_depend_on_the_executor():
    """Two worker processes, cells completing in any order: the same results as in-process."""
    from concurrent.futures import ProcessPoolExecutor

    config = SimulationConfig(trials=2, test_per_class=100, seed=1)
    serial = run_sample_complexity((2, 3), (6, 12), config=config, store=False, progress=False)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = run_sample_complexity((2, 3), (6, 12), config=config, store=False, progress=False, executor=pool)
    assert parallel == serial


def test_config_key():
    config = SimulationConfig(trials=2, test_per_class=200, seed=3)
    assert config.key() == {"trials": 2, "test_per_class": 200, "margin": 0.01, "C": 1.0, "tol": 1e-4,
                            "max_iter": 1000, "seed": 3, "solver": "newton-cg"}
    a, b = config.rng(2, 3, 10, 0, 12), config.rng(2, 3, 10, 0, 12)
    assert a.random() == b.random()


def test_nb_reaches_bayes_error_sooner_than_lr():
    results = run_sample_complexity((3,), (40,), config=SimulationConfig(trials=2, test_per_class=300), store=False)
    by_model = {r.model: r.m_star for r in results}
    assert by_model["nb"] < by_model["lr"]


# --- consistency bound --------------------------------------------------------------------------


@given(seed=st.integers(0, 2**31 - 1), K=st.integers(2, 8))
@settings(max_examples=30)
def test_consistency_bound_holds_pointwise(seed, K):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(K, 0.5), size=200)
    logits = rng.normal(size=(200, K)) * rng.uniform(0.1, 5)
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    e01, ece = excess_zero_one(p, q), excess_cross_entropy(p, q)
    assert (e01 >= 0).all() and (ece >= 0).all()
    assert (e01 <= 2 * total_variation(p, q) + 1e-15).all()
    assert (e01 <= consistency_bound(ece)).all()


def test_consistency_bound_is_tight():
    p, q = near_tight_pair(1e-4)
    ratio = excess_zero_one(p, q) / consistency_bound(float(excess_cross_entropy(p, q)))
    assert 0.99 < ratio <= 1.0


def test_consistency_bad_input():
    with pytest.raises(ValueError, match="excess_ce"):
        consistency_bound(-0.1)
    with pytest.raises(ValueError, match="sum to 1"):
        excess_cross_entropy(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    assert consistency_bound(0.0) == 0.0


# --- real data ----------------------------------------------------------------------------------


def test_real_learning_curves_wine():
    from theory.nb_lr.real_data import real_learning_curves

    out = real_learning_curves("wine", sizes=[6, 60], trials=2, rng=0)
    assert out.n_classes == 3 and out.n_features == 13 and out.sizes == [6, 60]
    for values in (out.nb_mean, out.lr_mean, out.nb_std, out.lr_std):
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    assert out.nb_mean[1] < 0.15 and out.lr_mean[1] < 0.15  # both learn wine well from 60 points
    assert real_learning_curves("wine", sizes=[6, 60], trials=2, rng=0) == out
    with pytest.raises(ValueError, match="dataset must be one of"):
        real_learning_curves("iris2")


def test_evaluation_is_backend_generic(xp):
    """The batched fits and test errors of one m are identical on every array backend."""
    from theory.nb_lr.simulation import evaluate_errors

    config = SimulationConfig(trials=2, test_per_class=50, tol=1e-8)
    for model in ("nb", "lr"):
        ref = evaluate_errors(3, 6, 12, model, config)
        got = evaluate_errors(3, 6, 12, model, config, xp=xp)
        assert type(got.coef).__module__.split(".")[0] == type(xp.asarray(0.0)).__module__.split(".")[0]
        np.testing.assert_array_equal(got.errors, ref.errors)
