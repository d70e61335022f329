"""kernels.dkm.gram_kernels: closed forms, symmetry, diagonals and reverse-mode derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.dkm import ArcCos, Linear, SquaredExponential, input_gram, make_kernel
from tests.helpers import assert_close
from tests.kernels.dkm._common import KERNELS, pd_matrix

seeds = st.integers(0, 2**31 - 1)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
@given(seed=seeds, P=st.integers(2, 8))
@settings(max_examples=15)
def test_kernel_symmetric_psd_and_diagonal(kernel, seed, P):
    rng = np.random.default_rng(seed)
    G = pd_matrix(rng, P)
    K = kernel(G)
    np.testing.assert_allclose(K, K.T, rtol=1e-13, atol=1e-14)
    assert np.linalg.eigvalsh(K).min() >= -1e-10 * np.abs(K).max()
    np.testing.assert_allclose(np.diag(K), kernel.diag(np.diag(G)), rtol=1e-13)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
@given(seed=seeds)
@settings(max_examples=10)
def test_kernel_vjp_matches_finite_differences(kernel, seed):
    rng = np.random.default_rng(seed)
    P = 5
    G, W, E = pd_matrix(rng, P), rng.normal(size=(P, P)), rng.normal(size=(P, P))
    E = E + E.T
    h = 1e-6
    fd = (np.sum(W * kernel(G + h * E)) - np.sum(W * kernel(G - h * E))) / (2 * h)
    Gbar, hyper = kernel.vjp(G, W)
    assert abs(fd - np.sum(Gbar * E)) <= 1e-6 * max(1.0, abs(fd))
    for name in kernel.learnable:
        v = getattr(kernel, name)
        plus, minus = kernel.with_params(**{name: v * math.exp(h)}), kernel.with_params(**{name: v * math.exp(-h)})
        fd = (np.sum(W * plus(G)) - np.sum(W * minus(G))) / (2 * h)
        assert abs(fd - hyper[name]) <= 1e-6 * max(1.0, abs(fd))


def test_arccos_known_values():
    # theta = 0: K = G_ii; orthogonal: K = sqrt(ab)/pi; opposite: K = 0.
    G = np.array([[2.0, 0.0, -2.0], [0.0, 2.0, 0.0], [-2.0, 0.0, 2.0]])
    K = ArcCos()(G)
    assert_close(np.diag(K), np.diag(G))
    assert_close(K[0, 1:2], np.array([2.0 / math.pi]))
    assert abs(K[0, 2]) <= 1e-15


def test_arccos_standard_deviations_match_cho_saul_on_features(rng):
    """W_std, b_std are standard deviations: K = W_std^2 |x||y| J_1(theta) / N0 + b_std^2 (Cho and Saul 2009)."""
    X = rng.normal(size=(7, 4))
    norms = np.linalg.norm(X, axis=1)
    theta = np.arccos(np.clip(X @ X.T / np.outer(norms, norms), -1.0, 1.0))
    j1 = (np.sin(theta) + (math.pi - theta) * np.cos(theta)) / math.pi
    expected = 1.7**2 * np.outer(norms, norms) * j1 / 4 + 0.4**2
    assert_close(ArcCos(W_std=1.7, b_std=0.4)(input_gram(X)), expected, rtol=1e-12)
    assert_close(Linear(W_std=1.5)(input_gram(X)), 2.25 * X @ X.T / 4, rtol=1e-14)


def test_kernel_name_lookup_and_errors():
    assert isinstance(make_kernel("relu"), ArcCos)
    assert make_kernel("se", lengthscale=2.0).lengthscale == 2.0
    with pytest.raises(ValueError, match="kernel must be"):
        make_kernel("matern")
    with pytest.raises(ValueError, match="lengthscale"):
        SquaredExponential(lengthscale=-1.0)
    with pytest.raises(ValueError, match="W_std"):
        ArcCos(W_std=0.0)
