"""Tests for theory/ntk/data.py: the paper's Dirichlet data on the sphere and its Bayes rule."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.ntk.classifiers import hilbert_kernel_predict, one_nn_predict
from theory.ntk.data import dirichlet_bayes_predict, sample_dirichlet_sphere
from theory.ntk.metrics import accuracy


def test_generator_is_seeded_on_sphere_and_distinct():
    x, y = sample_dirichlet_sphere(300, 3, rng=7)
    x2, y2 = sample_dirichlet_sphere(300, 3, rng=7)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.all(x >= 0)
    gram = x @ x.T
    np.fill_diagonal(gram, -np.inf)
    assert gram.max() < 1.0
    assert set(np.unique(y)) <= {-1.0, 1.0}


def test_generator_prior_and_fixed_split():
    _, y = sample_dirichlet_sphere(20000, 2, rng=0, distinct=False)
    assert np.mean(y > 0) == pytest.approx(0.4, abs=0.015)  # 4 standard errors
    _, y = sample_dirichlet_sphere(100, 2, rng=1, n_positive=40)
    assert int(np.sum(y > 0)) == 40


def test_generator_errors():
    with pytest.raises(ValueError, match="prior"):
        sample_dirichlet_sphere(10, 2, prior=1.0)
    with pytest.raises(ValueError, match="d must be one of"):
        sample_dirichlet_sphere(10, 4)
    with pytest.raises(ValueError, match="n_positive"):
        sample_dirichlet_sphere(10, 2, n_positive=11)


def test_bayes_rule_beats_baselines_and_matches_reference():
    x_tr, y_tr = sample_dirichlet_sphere(2000, 2, rng=1)
    x_te, y_te = sample_dirichlet_sphere(2000, 2, rng=2)
    bayes = accuracy(dirichlet_bayes_predict(x_te), y_te)
    assert bayes == pytest.approx(0.7565, abs=0.03)  # reference sheet, n_test = 2000
    assert bayes >= accuracy(one_nn_predict(x_tr, y_tr, x_te), y_te)
    assert bayes >= accuracy(hilbert_kernel_predict(x_tr, y_tr, x_te), y_te) - 0.02
    # the rule is the likelihood-ratio test: a point where class +1 is much likelier is labelled +1
    p = np.array([[0.05, 0.95]])  # alpha_+ = (1, 2) puts mass on the second coordinate
    assert dirichlet_bayes_predict(p / np.linalg.norm(p))[0] == 1.0
