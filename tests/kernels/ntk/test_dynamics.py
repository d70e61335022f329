"""Tests for kernels/ntk/dynamics.py: closed-form MSE dynamics and the NTK estimators (no oracle needed)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from kernels.ntk.dynamics import (
    Gaussian,
    NTKClassifier,
    NTKRegressor,
    fc_kernel_diagonal,
    gp_inference,
    gradient_descent_mse_ensemble,
)
from kernels.base import NotFittedError
from kernels.ntk.fc import fc_kernel
from tests.helpers import assert_close

KW = dict(depth=3, activation="erf", W_std=1.4, b_std=0.1)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(15, 4)), rng.normal(size=(6, 4))
    y = rng.normal(size=15)
    k_dd = fc_kernel(x_train, None, **KW)
    k_td = fc_kernel(x_test, x_train, **KW)
    nngp_tt = fc_kernel(x_test, None, get="nngp", **KW).nngp
    return x_train, x_test, y, k_dd, k_td, nngp_tt


@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_finite_time_mean_matches_matrix_exponential(problem, get):
    """mean(t) = K_td K^-1 (I - exp(-eta t K / N)) y, with scipy's expm."""
    _, _, y, k_dd, k_td, _ = problem
    k = getattr(k_dd, get)
    t, eta = 3.0, 0.5
    expected = getattr(k_td, get) @ np.linalg.solve(k, (np.eye(15) - scipy.linalg.expm(-eta * t * k / 15)) @ y)
    got = gp_inference(k_dd, k_td, y, get=get, t=t, learning_rate=eta).mean
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_time_limits(problem, get):
    _, _, y, k_dd, k_td, nngp_tt = problem
    start = gp_inference(k_dd, k_td, y, get=get, t=0.0, nngp_test_test=nngp_tt)
    np.testing.assert_array_equal(start.mean, 0.0)
    np.testing.assert_allclose(start.covariance, nngp_tt, rtol=1e-13, atol=1e-14)  # the prior at t = 0
    late = gp_inference(k_dd, k_td, y, get=get, t=1e9, diag_reg=1e-3, nngp_test_test=nngp_tt)
    final = gp_inference(k_dd, k_td, y, get=get, t=None, diag_reg=1e-3, nngp_test_test=nngp_tt)
    np.testing.assert_allclose(late.mean, final.mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(late.covariance, final.covariance, rtol=1e-7, atol=1e-9)
    inf = gp_inference(k_dd, k_td, y, get=get, t=float("inf"), diag_reg=1e-3)
    np.testing.assert_array_equal(inf.mean, final.mean)


def test_interpolation_and_zero_posterior_variance_on_train(problem):
    x_train, _, y, k_dd, _, _ = problem
    for get in ("nngp", "ntk"):
        g = gp_inference(k_dd, k_dd, y, get=get, nngp_test_test=k_dd.nngp)
        np.testing.assert_allclose(g.mean, y, rtol=1e-8, atol=1e-8)
        assert np.max(np.abs(g.covariance)) <= 1e-7 * np.max(np.abs(k_dd.nngp))


def test_covariance_diagonal_mode_and_time_axis(problem):
    _, _, y, k_dd, k_td, nngp_tt = problem
    for get in ("nngp", "ntk"):
        for t in (None, 2.0):
            full = gp_inference(k_dd, k_td, y, get=get, t=t, nngp_test_test=nngp_tt)
            diag = gp_inference(k_dd, k_td, y, get=get, t=t, nngp_test_test=np.diag(nngp_tt).copy())
            np.testing.assert_allclose(diag.covariance, np.diag(full.covariance), rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(full.covariance, full.covariance.T, rtol=1e-10, atol=1e-13)
        stacked = gp_inference(k_dd, k_td, y, get=get, t=[1.0, 2.0], nngp_test_test=nngp_tt)
        assert stacked.mean.shape == (2, 6) and stacked.covariance.shape == (2, 6, 6)
        single = gp_inference(k_dd, k_td, y, get=get, t=2.0, nngp_test_test=nngp_tt)
        np.testing.assert_allclose(stacked.mean[1], single.mean, rtol=1e-14)


def test_zero_eigenvalue_takes_the_limit():
    """A singular kernel: e_s(0) = s/N instead of 0/0."""
    k = np.array([[1.0, 1.0], [1.0, 1.0]])
    kernels = type("K", (), {"ntk": k, "nngp": k})()
    g = gp_inference(kernels, kernels, np.array([1.0, -1.0]), get="ntk", t=2.0)
    assert np.all(np.isfinite(g.mean))


def test_validation(problem):
    _, _, y, k_dd, k_td, _ = problem
    with pytest.raises(ValueError, match="get"):
        gp_inference(k_dd, k_td, y, get="both")
    with pytest.raises(ValueError, match="t must be"):
        gp_inference(k_dd, k_td, y, t=-1.0)
    with pytest.raises(ValueError, match="shapes"):
        gp_inference(k_dd, k_td, y[:5])
    with pytest.raises(ValueError, match="positive definite"):
        bad = type("K", (), {"ntk": -np.eye(3), "nngp": -np.eye(3)})()
        gp_inference(bad, bad, np.ones(3))
    with pytest.raises(ValueError, match="diag_reg"):
        gp_inference(k_dd, k_td, y, diag_reg=-1.0)


def test_backends_agree(xp, problem):
    _, _, y, k_dd, k_td, nngp_tt = problem
    convert = lambda k: type(k)(nngp=xp.asarray(k.nngp), ntk=xp.asarray(k.ntk))  # noqa: E731
    for t in (None, 1.5):
        ref = gp_inference(k_dd, k_td, y, get="ntk", t=t, nngp_test_test=nngp_tt)
        got = gp_inference(convert(k_dd), convert(k_td), xp.asarray(y), get="ntk", t=t,
                           nngp_test_test=xp.asarray(nngp_tt))
        assert_close(got.mean, ref.mean, xp=xp, rtol=1e-10, atol=1e-12)
        assert_close(got.covariance, ref.covariance, xp=xp, rtol=1e-10, atol=1e-12)


def test_wrapper_and_diagonal(problem):
    x_train, x_test, y, k_dd, k_td, nngp_tt = problem
    g = gradient_descent_mse_ensemble(x_train, y, x_test, get="ntk", t=None, compute_cov=True, **KW)
    ref = gp_inference(k_dd, k_td, y, get="ntk", nngp_test_test=nngp_tt)
    assert isinstance(g, Gaussian)
    np.testing.assert_array_equal(g.mean, ref.mean)
    nngp_diag, ntk_diag = fc_kernel_diagonal(x_test, **KW)
    gram = fc_kernel(x_test, None, **KW)
    np.testing.assert_allclose(nngp_diag, np.diag(gram.nngp), rtol=1e-14)
    np.testing.assert_allclose(ntk_diag, np.diag(gram.ntk), rtol=1e-14)


def test_regressor(problem):
    x_train, x_test, y, k_dd, k_td, nngp_tt = problem
    reg = NTKRegressor(kernel="ntk", t=None, diag_reg=1e-4, **KW)
    assert reg.get_params()["depth"] == 3 and not hasattr(reg, "X_train_")
    reg.fit(x_train, y)
    mean, std = reg.predict(x_test, return_std=True)
    ref = gp_inference(k_dd, k_td, y, get="ntk", diag_reg=1e-4, nngp_test_test=nngp_tt)
    np.testing.assert_allclose(mean, ref.mean, rtol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(np.clip(np.diag(ref.covariance), 0, None)), rtol=1e-8, atol=1e-10)
    assert reg.score(x_train, y) > 0.999
    reg.set_params(kernel="nngp", t=5.0)
    assert reg.fit(x_train, y).predict(x_test).shape == (6,)
    with pytest.raises(ValueError, match="Invalid parameter 'depht'"):
        reg.set_params(depht=2)
    with pytest.raises(NotFittedError, match="not fitted"):
        NTKRegressor().predict(x_test)
    with pytest.raises(ValueError, match="'kernel' parameter"):
        NTKRegressor(kernel="rbf").fit(x_train, y)
    with pytest.raises(ValueError, match="3 features"):
        reg.predict(x_test[:, :3])


def test_classifier_binary_and_multiclass():
    rng = np.random.default_rng(2)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    labels = rng.integers(0, 3, 90)
    x = centers[labels] + 0.3 * rng.normal(size=(90, 2))
    clf = NTKClassifier(depth=2, activation="relu", diag_reg=1e-6).fit(x[:60], labels[:60])
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.score(x[60:], labels[60:]) == 1.0
    names = np.where(labels == 0, "a", "b")
    binary = NTKClassifier(depth=2, kernel="nngp").fit(x[:60], names[:60])
    scores = binary.decision_function(x[60:])
    assert scores.shape == (30,)
    np.testing.assert_array_equal(binary.predict(x[60:]), np.where(scores > 0, "b", "a"))
    # +-1 targets: the decision function is the NNGP posterior mean of the encoded labels
    k_dd = fc_kernel(x[:60], None, depth=2, activation="relu")
    k_td = fc_kernel(x[60:], x[:60], depth=2, activation="relu")
    encoded = np.where(names[:60] == "b", 1.0, -1.0)
    np.testing.assert_allclose(scores, gp_inference(k_dd, k_td, encoded, get="nngp", diag_reg=1e-10).mean, rtol=1e-12)
    assert binary.score(x[60:], names[60:]) >= 0.9
    with pytest.raises(ValueError, match="two classes"):
        NTKClassifier().fit(x[:5], np.zeros(5))


def test_sklearn_compatibility():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone, is_classifier, is_regressor
    from sklearn.model_selection import cross_val_score

    assert sklearn is not None
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 3))
    y = (x[:, 0] > 0).astype(int)
    clf = NTKClassifier(depth=2)
    assert is_classifier(clf) and is_regressor(NTKRegressor())
    assert clone(clf).get_params() == clf.get_params()
    scores = cross_val_score(clf, x, y, cv=3)
    assert scores.shape == (3,) and np.all(scores >= 0.5)
