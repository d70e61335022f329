"""kernels.dkm.objective: KL terms, Gaussian likelihood, the full objective and its gradient."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from kernels.backend import from_numpy
from kernels.dkm import (
    CholeskyError,
    SquaredExponential,
    dkm_objective,
    dkm_objective_and_grad,
    gaussian_log_likelihood,
    input_gram,
    kl_gaussian,
    kl_gaussian_grad,
    nngp_grams,
)
from tests.helpers import assert_close
from tests.kernels.dkm._common import data, pd_matrix

seeds = st.integers(0, 2**31 - 1)


@given(seed=seeds, P=st.integers(1, 7))
def test_kl_nonnegative_zero_iff_equal(seed, P):
    rng = np.random.default_rng(seed)
    G, K = pd_matrix(rng, P), pd_matrix(rng, P)
    assert kl_gaussian(G, K) >= 0
    assert abs(kl_gaussian(K, K)) <= 1e-12 * P
    mu = np.linalg.eigvals(np.linalg.solve(K, G)).real - 1.0  # eigenvalues of K^-1 G, less 1
    assert_close(np.asarray(kl_gaussian(G, K)), np.asarray(0.5 * np.sum(mu - np.log1p(mu))), rtol=1e-9)


@pytest.mark.parametrize("delta", [1e-3, 1e-6, 1e-9])
def test_kl_keeps_its_relative_accuracy_as_G_tends_to_K(delta, rng):
    """G = K + delta K^(1/2) E K^(1/2) against 50-digit mpmath on the same floats: the error stays within
    5 eps / delta relative (the rounding of G's perturbation), where the four-term sum in tr(K^-1 G) and the
    log-determinants would cancel to about P eps absolute (relative 40 at delta = 1e-9)."""
    import mpmath as mp

    K = pd_matrix(rng, 6)
    E = rng.normal(size=(6, 6))
    E = E + E.T
    w, V = np.linalg.eigh(K)
    root = (V * np.sqrt(w)) @ V.T
    G = K + delta * root @ E @ root
    with mp.workdps(50):
        Gm, Km = mp.matrix(G.tolist()), mp.matrix(K.tolist())
        M = mp.inverse(Km) * Gm
        exact = float(0.5 * (sum(M[i, i] for i in range(6)) - mp.log(mp.det(Gm)) + mp.log(mp.det(Km)) - 6))
    eps = np.finfo(float).eps
    assert kl_gaussian(G, K) == pytest.approx(exact, rel=1e-13 + 5 * eps / delta, abs=0)


@given(seed=seeds)
@settings(max_examples=10)
def test_kl_gradients_by_finite_differences(seed):
    rng = np.random.default_rng(seed)
    G, K, E = pd_matrix(rng, 5), pd_matrix(rng, 5), rng.normal(size=(5, 5))
    E = E + E.T
    dG, dK = kl_gaussian_grad(G, K)
    h = 1e-6
    fd_G = (kl_gaussian(G + h * E, K) - kl_gaussian(G - h * E, K)) / (2 * h)
    fd_K = (kl_gaussian(G, K + h * E) - kl_gaussian(G, K - h * E)) / (2 * h)
    assert abs(fd_G - np.sum(dG * E)) <= 1e-6 * max(1.0, abs(fd_G))
    assert abs(fd_K - np.sum(dK * E)) <= 1e-6 * max(1.0, abs(fd_K))


def test_gaussian_log_likelihood_matches_scipy(rng):
    from scipy.stats import multivariate_normal

    K, y = pd_matrix(rng, 6), rng.normal(size=6)
    expected = multivariate_normal(np.zeros(6), K + 0.3 * np.eye(6)).logpdf(y)
    assert_close(np.asarray(gaussian_log_likelihood(K, y, 0.3)), np.asarray(expected), rtol=1e-12)


def test_objective_and_gradient_backend_generic(xp, rng):
    X, Y = data(rng)
    kernels = [SquaredExponential()] * 3
    G0 = input_gram(X)
    grams = [g + 0.1 * pd_matrix(rng, 12) for g in nngp_grams(G0, kernels, 2, 1e-6)]
    ref_value, ref_grad = dkm_objective_and_grad(G0, grams, Y, kernels, [1.0, 2.0], 0.2)
    value, grad = dkm_objective_and_grad(from_numpy(G0, xp), [from_numpy(g, xp) for g in grams],
                                         from_numpy(Y, xp), kernels, [1.0, 2.0], 0.2)
    assert abs(value - ref_value) <= 1e-12 * abs(ref_value)
    for g, r in zip(grad.grams, ref_grad.grams):
        assert_close(g, r, rtol=1e-10, xp=xp)


def test_cholesky_failure_names_matrix_eigenvalue_and_jitter():
    X = np.ones((4, 2))  # identical points: K(G0) is singular without jitter
    Y = np.arange(4.0)[:, None]
    with pytest.raises(CholeskyError, match=r"K\(G_0\).*smallest eigenvalue estimate.*jitter tried 0"):
        dkm_objective(input_gram(X), [np.eye(4)], Y, [SquaredExponential()] * 2, [1.0], 0.1, jitter=0.0)
