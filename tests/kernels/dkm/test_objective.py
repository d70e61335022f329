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
    lam = np.linalg.eigvals(np.linalg.solve(K, G)).real
    assert_close(np.asarray(kl_gaussian(G, K)), np.asarray(0.5 * np.sum(lam - np.log(lam) - 1)), rtol=1e-9)


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
