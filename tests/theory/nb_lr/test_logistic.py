"""Batched truncated-Newton logistic regression against scikit-learn's LogisticRegression (same objective) and
against an extended-precision Newton reference (the default tolerance)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from kernels.backend import from_numpy
from tests.helpers import assert_close
from theory.nb_lr.logistic import MultinomialLogisticRegression, fit_logistic, logistic_objective, logistic_predict_proba
from theory.nb_lr import linear_predict

RTOL = 1e-5  # the agreement target, relative to the largest coefficient


def _problem(seed, K, m, n, separation=0.8):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(K), rng.integers(0, K, m - K)])
    centres = rng.normal(size=(K, n)) * separation
    X = rng.normal(size=(m, n)) + centres[y] + rng.normal(size=n)
    return X, y


def _sklearn(X, y, C):
    return LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=20000).fit(X, y)


def _gradient_max(coef, intercept, X, y, K, C):
    """max |gradient| of the objective / (C m), written out in NumPy (binary: one row, as scikit-learn)."""
    p = logistic_predict_proba(coef, intercept, X)
    residual = (p - np.eye(K)[y])[:, -coef.shape[0]:]
    m = X.shape[0]
    grad_W = residual.T @ X / m + coef / (C * m)
    return max(np.abs(grad_W).max(), np.abs(residual.sum(axis=0) / m).max())


def _assert_agrees(fit, ref, X):
    intercept = ref.intercept_
    if intercept.size > 1:  # a common shift is not identified; ours is centred (scikit-learn's newton-cg need not be)
        intercept = intercept - intercept.mean()
    scale = max(np.abs(ref.coef_).max(), np.abs(intercept).max())
    np.testing.assert_allclose(fit.coef, ref.coef_, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(fit.intercept, intercept, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_array_equal(linear_predict(fit.coef, fit.intercept, X), ref.predict(X))


SOLVERS = [
    {},
    {"preconditioner": "diagonal"},
    {"preconditioner": "gram"},
    {"preconditioner": "exact"},
    {"rtol": None},
]


@pytest.mark.slow
@settings(max_examples=24)
@given(
    seed=st.integers(0, 2**31 - 1),
    K=st.integers(2, 7),
    n=st.integers(1, 8),
    extra=st.integers(5, 60),
    C=st.sampled_from([0.01, 0.1, 1.0, 10.0]),
    options=st.sampled_from(SOLVERS),
)
def test_agrees_with_sklearn(seed, K, n, extra, C, options):
    X, y = _problem(seed, K, K + extra, n)
    fit = fit_logistic(X, y, K, C=C, tol=1e-10, ftol=0.0, max_iter=20000, **options)
    assert bool(fit.converged)
    _assert_agrees(fit, _sklearn(X, y, C), X)


@pytest.mark.slow
@settings(max_examples=16)
@given(
    seed=st.integers(0, 2**31 - 1),
    K=st.integers(2, 5),
    n=st.integers(12, 40),
    C=st.sampled_from([0.1, 1.0, 10.0]),
    options=st.sampled_from(SOLVERS[:4]),
    data=st.data(),
)
def test_fewer_samples_than_features_agrees_with_sklearn(seed, K, n, C, options, data):
    """m < n: newton-cg solves in the row space of X (W = V Q^T); the answer is still scikit-learn's.

    On these nearly separable problems each of scikit-learn's solvers sometimes stops ~1e-5 short of
    the optimum (a line search defeated by round-off), so the reference is whichever of its lbfgs
    and newton-cg fits ends with the smaller gradient.
    """
    m = data.draw(st.integers(K + 2, n - 1), label="m")
    X, y = _problem(seed, K, m, n, separation=0.3)
    fit = fit_logistic(X, y, K, C=C, tol=1e-10, ftol=0.0, max_iter=20000, **options)
    assert bool(fit.converged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's line searches complain at tol=1e-14
        refs = [LogisticRegression(C=C, solver=s, tol=1e-14, max_iter=20000).fit(X, y) for s in ("lbfgs", "newton-cg")]
    ref = min(refs, key=lambda r: _gradient_max(r.coef_, r.intercept_, X, y, K, C))
    _assert_agrees(fit, ref, X)
    assert float(fit.objective) <= float(logistic_objective(ref.coef_, ref.intercept_, X, y, K, C=C)) * (1 + 1e-12)


@pytest.mark.parametrize("K", [2, 4])
def test_newton_cg_stops_at_tol_in_original_coordinates(K):
    """With the default tol the reported max |gradient| (of the scaled objective, in W) is <= tol."""
    for m, n in [(40, 6), (15, 30)]:
        X, y = _problem(3, K, m, n)
        fit = fit_logistic(X, y, K, tol=1e-4, rtol=None)
        assert bool(fit.converged) and float(fit.grad_max) <= 1e-4
        assert _gradient_max(fit.coef, fit.intercept, X, y, K, 1.0) <= 1e-4 + 1e-12


def test_warm_start_worse_than_zero_is_dropped():
    """newton-cg restarts a problem from zero when the warm start is worse than zero; same optimum."""
    X, y = _problem(4, 3, 30, 12)
    bad = (np.full((3, 12), 50.0) * np.array([[1.0], [-1.0], [0.0]]), np.zeros(3))
    ref = fit_logistic(X, y, 3, tol=1e-10, ftol=0.0)
    warm = fit_logistic(X, y, 3, tol=1e-10, ftol=0.0, init=bad)
    np.testing.assert_allclose(warm.coef, ref.coef, rtol=1e-7, atol=1e-9)
    assert int(warm.n_iter) <= int(ref.n_iter) + 1


@pytest.mark.parametrize("preconditioner", ["auto", "gram", "exact", "diagonal"])
def test_uncentred_warm_start_reaches_the_optimum(preconditioner):
    """A common shift of the class rows changes no probability; the fit removes it (exact solve included)."""
    X, y = _problem(6, 4, 40, 5)
    ref = fit_logistic(X, y, 4, tol=1e-10, ftol=0.0)
    shifted = (np.asarray(ref.coef) + np.linspace(-3, 3, 5), np.asarray(ref.intercept) + 7.0)
    warm = fit_logistic(X, y, 4, tol=1e-10, ftol=0.0, init=shifted, preconditioner=preconditioner)
    np.testing.assert_allclose(warm.coef, ref.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(warm.intercept, ref.intercept, rtol=1e-7, atol=1e-9)


def test_preconditioner_choices_validated():
    X, y = _problem(0, 3, 20, 3)
    with pytest.raises(ValueError, match="preconditioner must be one of"):
        fit_logistic(X, y, 3, preconditioner="ilu")


def test_objective_is_sklearn_objective_at_the_optimum():
    X, y = _problem(5, 4, 50, 3)
    ref = _sklearn(X, y, 2.0)
    fit = fit_logistic(X, y, 4, C=2.0, tol=1e-10, ftol=0.0)
    p = ref.predict_proba(X)
    direct = 0.5 * np.sum(ref.coef_**2) - 2.0 * np.sum(np.log(p[np.arange(50), y]))
    np.testing.assert_allclose(logistic_objective(ref.coef_, ref.intercept_, X, y, 4, C=2.0), direct, rtol=1e-12)
    assert float(fit.objective) <= direct * (1 + 1e-12)
    np.testing.assert_allclose(logistic_predict_proba(fit.coef, fit.intercept, X), p, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("K", [2, 5])
def test_batched_with_padding_equals_separate_fits(K):
    n, sizes = 4, [15, 30, 22]
    problems = [_problem(s + 10, K, m, n) for s, m in enumerate(sizes)]
    M = max(sizes)
    Xb, yb, wb = np.zeros((3, M, n)), np.zeros((3, M), dtype=np.int64), np.zeros((3, M))
    for b, (X, y) in enumerate(problems):
        Xb[b, : len(y)], yb[b, : len(y)], wb[b, : len(y)] = X, y, 1.0
    batched = fit_logistic(Xb, yb, K, sample_weight=wb, tol=1e-10, ftol=0.0, max_iter=5000)
    assert batched.coef.shape == (3, 1 if K == 2 else K, n)
    for b, (X, y) in enumerate(problems):
        ref = _sklearn(X, y, 1.0)
        scale = np.abs(ref.coef_).max()
        np.testing.assert_allclose(batched.coef[b], ref.coef_, rtol=RTOL, atol=RTOL * scale)
        np.testing.assert_allclose(batched.intercept[b], ref.intercept_, rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize(
    "m, n, options",
    [(40, 3, {}), (40, 3, {"preconditioner": "gram"}), (40, 3, {"preconditioner": "exact"}),
     (40, 3, {"rtol": None}), (12, 20, {})],
)
def test_backends_agree(xp, m, n, options):
    X, y = _problem(7, 3, m, n)
    ref = fit_logistic(X, y, 3, tol=1e-10, ftol=0.0, **options)
    got = fit_logistic(from_numpy(X, xp), from_numpy(y, xp), 3, tol=1e-10, ftol=0.0, **options)
    assert_close(got.coef, ref.coef, xp=xp, rtol=1e-7, atol=1e-9)
    assert_close(got.intercept, ref.intercept, xp=xp, rtol=1e-7, atol=1e-9)


def test_estimator_shell_matches_sklearn_layout():
    X, y = _problem(2, 2, 40, 3)
    labels = np.array([-1, 1])[y]
    ours = MultinomialLogisticRegression(C=0.5).fit(X, labels)
    ref = LogisticRegression(C=0.5, tol=1e-12, max_iter=5000).fit(X, labels)
    assert ours.coef_.shape == ref.coef_.shape == (1, 3)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-5, atol=1e-7)
    assert ours.score(X, labels) == ref.score(X, labels)


def test_bad_input():
    X, y = _problem(0, 3, 20, 3)
    with pytest.raises(ValueError, match="C must lie in"):
        fit_logistic(X, y, 3, C=0.0)
    with pytest.raises(ValueError, match="class 1 has none"):
        fit_logistic(X, np.where(y == 1, 0, y), 3)
    with pytest.raises(ValueError, match="n_classes"):
        fit_logistic(X, y, 1)
    with pytest.raises(ValueError, match="max_iter"):
        fit_logistic(X, y, 3, max_iter=0)
    bad = X.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="X contains"):
        MultinomialLogisticRegression().fit(bad, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MultinomialLogisticRegression().fit(X, np.ones(20))


def _extended_precision_reference(X, y, K, C, iterations=40):
    """The exact optimum, independently: Newton on the sum-zero parametrisation W = U V, b = U c (U an
    orthonormal basis of the sum-zero vectors, so the penalty is ||V||^2 / 2), the gradient summed in
    np.longdouble and the float64 Hessian solved directly; accurate to about cond(H) * 1e-19."""
    m, n = X.shape
    U = np.linalg.qr(np.eye(K)[:, :-1] - 1.0 / K)[0]  # K x (K-1), orthonormal, columns sum to zero
    X1 = np.hstack([X, np.ones((m, 1))])
    Y = np.eye(K)[y]

    def gradient(v, dtype):
        T = U.astype(dtype) @ v.reshape(K - 1, n + 1)
        Z = X1.astype(dtype) @ T.T
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = C * (P - Y).T @ X1.astype(dtype)
        G[:, :n] += T[:, :n]
        return (U.T.astype(dtype) @ G).ravel(), np.asarray(P, dtype=np.float64)

    def hessian(P):
        H = np.zeros(((K - 1) * (n + 1),) * 2)
        PU = P @ U
        for a in range(K - 1):
            for b in range(K - 1):
                block = C * (X1 * (P @ (U[:, a] * U[:, b]) - PU[:, a] * PU[:, b])[:, None]).T @ X1
                block[:n, :n] += np.eye(n) * (a == b)
                H[a * (n + 1):(a + 1) * (n + 1), b * (n + 1):(b + 1) * (n + 1)] = block
        return H

    v = np.zeros((K - 1) * (n + 1), dtype=np.longdouble)
    for it in range(iterations):
        g, P = gradient(v, np.longdouble)
        d = np.linalg.solve(hessian(P), -np.asarray(g, dtype=np.float64))
        t = 1.0
        while it < iterations // 2 and t > 1e-8 and (
            np.linalg.norm(np.asarray(gradient(v + t * d, np.longdouble)[0], dtype=float))
            > np.linalg.norm(np.asarray(g, dtype=float))
        ):
            t /= 2
        v = v + t * d
    T = np.asarray(U @ np.asarray(v, dtype=np.float64).reshape(K - 1, n + 1))
    return T[:, :n], T[:, n]


@pytest.mark.parametrize("C", [10.0, 1e4])
def test_default_tolerance_reaches_the_exact_optimum(C):
    """The issue's case K = 6, n = 19, m = 217: the default stopping rule ends within 1e-8 (relative)
    of the exact optimum at C = 10 and at C = 1e4 (scikit-learn's tol = 1e-4 alone: 1e-2 and 0.5 off)."""
    K, n, m = 6, 19, 217
    X, y = _problem(0, K, m, n)
    W, b = _extended_precision_reference(X, y, K, C)
    scale = np.sqrt(np.sum(W**2) + np.sum(b**2))
    model = MultinomialLogisticRegression(C=C).fit(X, y)
    error = np.sqrt(np.sum((model.coef_ - W) ** 2) + np.sum((model.intercept_ - b) ** 2)) / scale
    assert model.converged_ and error <= 1e-8
    loose = fit_logistic(X, y, K, C=C, rtol=None)
    assert np.sqrt(np.sum((loose.coef - W) ** 2)) / scale > 1e-4  # the old default was far off
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)  # scikit-learn agrees with the reference
    assert np.abs(ref.coef_ - W).max() / np.abs(W).max() < 1e-4
