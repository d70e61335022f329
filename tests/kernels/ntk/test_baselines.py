"""Baselines of the infinite-depth paper: data generator, 1-NN, majority vote, singular / Hilbert rule, Bayes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernels.backend import to_numpy
from kernels.ntk.baselines import (
    accuracy,
    agreement,
    dirichlet_bayes_predict,
    half_squared_distances,
    hilbert_kernel_predict,
    majority_vote_predict,
    one_nn_predict,
    sample_dirichlet_sphere,
    singular_kernel_predict,
)


def test_generator_is_seeded_on_sphere_and_distinct():
    x, y = sample_dirichlet_sphere(300, 3, seed=7)
    x2, y2 = sample_dirichlet_sphere(300, 3, seed=7)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.all(x >= 0)
    gram = x @ x.T
    np.fill_diagonal(gram, -np.inf)
    assert gram.max() < 1.0
    assert set(np.unique(y)) <= {-1.0, 1.0}


def test_generator_prior_and_fixed_split():
    _, y = sample_dirichlet_sphere(20000, 2, seed=0, distinct=False)
    assert np.mean(y > 0) == pytest.approx(0.4, abs=0.015)  # 4 standard errors
    _, y = sample_dirichlet_sphere(100, 2, seed=1, n_positive=40)
    assert int(np.sum(y > 0)) == 40


def test_generator_errors():
    with pytest.raises(ValueError, match="prior"):
        sample_dirichlet_sphere(10, 2, prior=1.0)
    with pytest.raises(ValueError, match="d must be one of"):
        sample_dirichlet_sphere(10, 4)
    with pytest.raises(ValueError, match="n_positive"):
        sample_dirichlet_sphere(10, 2, n_positive=11)


def test_majority_vote(xp):
    y = xp.asarray([1.0, -1.0, -1.0])
    assert to_numpy(majority_vote_predict(y, 4)).tolist() == [-1.0] * 4
    assert to_numpy(majority_vote_predict(xp.asarray([1.0, -1.0]), 2)).tolist() == [1.0, 1.0]  # tie: +1
    with pytest.raises(ValueError, match="labels"):
        majority_vote_predict(xp.asarray([1.0, 0.0]), 2)


def test_one_nn_matches_brute_force(xp, rng):
    x_tr = rng.standard_normal((30, 4))
    x_te = rng.standard_normal((20, 4))
    y_tr = np.where(rng.random(30) < 0.5, 1.0, -1.0)
    got = to_numpy(one_nn_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te)))
    u_tr = x_tr / np.linalg.norm(x_tr, axis=1, keepdims=True)
    u_te = x_te / np.linalg.norm(x_te, axis=1, keepdims=True)
    want = [y_tr[np.argmin(np.linalg.norm(u_tr - u, axis=1))] for u in u_te]
    assert got.tolist() == want


def test_singular_kernel_matches_direct_sum(xp, rng):
    x_tr, y_tr = sample_dirichlet_sphere(40, 3, seed=3)
    x_te, _ = sample_dirichlet_sphere(25, 3, seed=4)
    for beta in (0.5, 1.0, 4.0):
        got = to_numpy(singular_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te), beta))
        gap = 1.0 - x_te @ x_tr.T
        want = np.where((gap ** (-beta)) @ y_tr >= 0, 1.0, -1.0)
        assert got.tolist() == want.tolist()
    hilbert = to_numpy(hilbert_kernel_predict(xp.asarray(x_tr), xp.asarray(y_tr), xp.asarray(x_te)))
    dist = np.linalg.norm(x_te[:, None, :] - x_tr[None, :, :], axis=2)
    assert hilbert.tolist() == np.where((dist ** (-2.0)) @ y_tr >= 0, 1.0, -1.0).tolist()


def test_singular_kernel_log_domain_and_exact_ties():
    # weights (1 - xi)^(-beta) overflow for beta = 200: the log-domain rule still picks the closest point
    x_tr = np.array([[1.0, 0.0], [math.cos(0.01), math.sin(0.01)], [math.cos(0.02), math.sin(0.02)]])
    y_tr = np.array([-1.0, 1.0, -1.0])
    x_te = np.array([[math.cos(0.011), math.sin(0.011)], [1.0, 0.0]])
    pred = singular_kernel_predict(x_tr, y_tr, x_te, beta=200.0)
    assert pred.tolist() == [1.0, -1.0]  # the second test point coincides with a training point


@given(st.integers(0, 2**32 - 1))
def test_half_squared_distance_is_one_minus_cosine(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((7, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = a + 1e-9 * rng.standard_normal((7, 3))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    got = half_squared_distances(a, b)
    want = np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=2) / 2
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_bayes_rule_beats_baselines_and_matches_reference():
    x_tr, y_tr = sample_dirichlet_sphere(2000, 2, seed=1)
    x_te, y_te = sample_dirichlet_sphere(2000, 2, seed=2)
    bayes = accuracy(dirichlet_bayes_predict(x_te), y_te)
    assert bayes == pytest.approx(0.7565, abs=0.03)  # reference sheet, n_test = 2000
    assert bayes >= accuracy(one_nn_predict(x_tr, y_tr, x_te), y_te)
    assert bayes >= accuracy(hilbert_kernel_predict(x_tr, y_tr, x_te), y_te) - 0.02
    # the rule is the likelihood-ratio test: a point where class +1 is much likelier is labelled +1
    p = np.array([[0.05, 0.95]])  # alpha_+ = (1, 2) puts mass on the second coordinate
    assert dirichlet_bayes_predict(p / np.linalg.norm(p))[0] == 1.0


def test_agreement_and_accuracy():
    a, b = np.array([1.0, -1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0, -1.0])
    assert agreement(a, b) == accuracy(a, b) == 0.5
