"""Shared-variance Gaussian naive Bayes: closed-form formulas, batching, backends, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.backend import from_numpy, to_numpy
from tests.helpers import assert_close
from theory.nb_lr import linear_predict
from theory.nb_lr.naive_bayes import (
    SharedVarianceGaussianNB,
    fit_shared_variance_nb,
    nb_joint_log_likelihood,
    nb_linear_classifier,
)


def _problem(seed, K, m, n):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(K), rng.integers(0, K, m - K)])
    X = rng.normal(size=(m, n)) + 0.7 * y[:, None] * rng.normal(size=n)
    return X, y


def _closed_form(X, y, K, eps=1e-9):
    """The formulas of the module docstring, written as plainly as possible."""
    m, n = X.shape
    prior = np.array([np.mean(y == k) for k in range(K)])
    means = np.array([X[y == k].mean(axis=0) for k in range(K)])
    within = np.array([X[y == k].var(axis=0) for k in range(K)])  # ddof = 0
    var = (prior[:, None] * within).sum(axis=0) + eps
    jll = np.array(
        [[np.log(prior[k]) - 0.5 * np.sum((x - means[k]) ** 2 / var) - 0.5 * np.sum(np.log(2 * np.pi * var))
          for k in range(K)] for x in X]
    )
    return prior, means, var, jll


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), K=st.integers(2, 7), n=st.integers(1, 12), extra=st.integers(0, 40))
def test_matches_closed_form(seed, K, n, extra):
    X, y = _problem(seed, K, K + 2 + extra, n)
    params = fit_shared_variance_nb(X, y, K)
    prior, means, var, jll = _closed_form(X, y, K)
    np.testing.assert_allclose(np.exp(params.class_log_prior), prior, rtol=1e-12)
    np.testing.assert_allclose(params.means, means, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(params.variance, var, rtol=1e-10)
    np.testing.assert_allclose(nb_joint_log_likelihood(params, X), jll, rtol=1e-10, atol=1e-9)
    # the linear form predicts the argmax of the joint log-likelihood
    linear = nb_linear_classifier(params)
    np.testing.assert_array_equal(linear_predict(linear.coef, linear.intercept, X), np.argmax(jll, axis=1))


def test_batched_with_padding_equals_separate_fits():
    K, n = 3, 5
    sizes = [7, 12, 20]
    problems = [_problem(s, K, m, n) for s, m in zip(range(3), sizes)]
    M = max(sizes)
    Xb = np.zeros((3, M, n))
    yb = np.zeros((3, M), dtype=np.int64)
    wb = np.zeros((3, M))
    for b, (X, y) in enumerate(problems):
        Xb[b, : len(y)], yb[b, : len(y)], wb[b, : len(y)] = X, y, 1.0
    batched = fit_shared_variance_nb(Xb, yb, K, sample_weight=wb)
    for b, (X, y) in enumerate(problems):
        single = fit_shared_variance_nb(X, y, K)
        np.testing.assert_allclose(batched.means[b], single.means, rtol=1e-13)
        np.testing.assert_allclose(batched.variance[b], single.variance, rtol=1e-12)
        np.testing.assert_allclose(batched.class_log_prior[b], single.class_log_prior, rtol=1e-13)


def test_backends_agree(xp):
    X, y = _problem(1, 4, 30, 6)
    ref = fit_shared_variance_nb(X, y, 4)
    got = fit_shared_variance_nb(from_numpy(X, xp), from_numpy(y, xp), 4)
    assert_close(got.variance, ref.variance, xp=xp, rtol=1e-13)
    assert_close(got.means, ref.means, xp=xp, rtol=1e-13)
    linear, ref_linear = nb_linear_classifier(got), nb_linear_classifier(ref)
    labels = linear_predict(linear.coef, linear.intercept, from_numpy(X, xp))
    np.testing.assert_array_equal(to_numpy(labels), linear_predict(ref_linear.coef, ref_linear.intercept, X))


def test_estimator_shell_and_probabilities():
    X, y = _problem(3, 3, 40, 4)
    labels = np.array(["a", "b", "c"])[y]
    est = SharedVarianceGaussianNB().fit(X, labels)
    assert list(est.classes_) == ["a", "b", "c"]
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-13)
    np.testing.assert_array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    assert 0.0 <= est.score(X, labels) <= 1.0
    assert est.get_params() == {"var_smoothing": 1e-9}


def test_bad_input():
    X, y = _problem(0, 3, 20, 3)
    with pytest.raises(ValueError, match="class 2 has none"):
        fit_shared_variance_nb(X, np.where(y == 2, 0, y), 3)
    with pytest.raises(ValueError, match="n_classes"):
        fit_shared_variance_nb(X, np.zeros(20, dtype=np.int64), 1)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must contain only finite"):
        fit_shared_variance_nb(bad, y, 3)
    with pytest.raises(ValueError, match="X contains NaN"):
        SharedVarianceGaussianNB().fit(bad, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SharedVarianceGaussianNB().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        fit_shared_variance_nb(X, y, 2)
