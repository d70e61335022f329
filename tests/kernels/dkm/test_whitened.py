"""kernels.dkm.whitened: the objective in whitened coordinates equals the Gram-space objective; exact gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels.backend import from_numpy
from kernels.dkm import (
    ArcCos,
    NormalisedGaussian,
    SquaredExponential,
    dkm_objective,
    input_gram,
    whitened_grams,
    whitened_objective_and_grad,
)
from kernels.dkm.whitened import whitened_kl
from tests.helpers import assert_close
from tests.kernels.dkm._common import assert_gradient_matches_differences, data

NUS = [[1.0, 2.0], [math.inf, 2.0], [1.5, math.inf], [0.7], []]


def _factors(rng, P, nu, scale=0.1):
    """Deviations W_l = U_l - I (lower triangular)."""
    return [None if math.isinf(v) else np.tril(scale * rng.normal(size=(P, P))) for v in nu]


def _kernels(nu):
    return ([SquaredExponential(0.9, 1.1), ArcCos(1.2, 0.2), NormalisedGaussian(0.8)][: len(nu)]
            + [SquaredExponential(1.2)])


@pytest.mark.parametrize("nu", NUS, ids=str)
def test_value_equals_gram_space_objective(nu, rng):
    X, Y = data(rng, P=9, D=2)
    G0, kernels = input_gram(X), _kernels(nu)
    U = _factors(rng, 9, nu)
    value, _ = whitened_objective_and_grad(G0, U, Y, kernels, nu, 0.2)
    grams = [None if math.isinf(v) else G for v, G in zip(nu, whitened_grams(G0, U, kernels))]
    assert value == pytest.approx(dkm_objective(G0, grams, Y, kernels, nu, 0.2), rel=1e-12, abs=0)


def test_whitened_kl_equals_gaussian_kl(rng):
    from kernels.dkm import kl_gaussian

    A = np.tril(rng.normal(size=(6, 6))) + 3 * np.eye(6)
    W = np.tril(0.2 * rng.normal(size=(6, 6)))
    U = np.eye(6) + W
    G = A @ U @ U.T @ A.T
    assert whitened_kl(W) == pytest.approx(kl_gaussian(G, A @ A.T), rel=1e-10, abs=0)


def test_whitened_kl_accurate_for_tiny_deviations():
    """KL ~ ||W||^2 / 2 for W -> 0 (with the diagonal's log1p), no cancellation at P eps."""
    W = np.tril(np.full((4, 4), 1e-9))
    off, w = 6 * 1e-18, 1e-9
    expected = 0.5 * (off + 4 * (w * w + 2 * (w - math.log1p(w))))
    assert whitened_kl(W) == pytest.approx(expected, rel=1e-6, abs=0)
    assert whitened_kl(W) == pytest.approx(0.5 * (off + 4 * 2 * w * w), rel=1e-6, abs=0)


@pytest.mark.parametrize("nu", NUS, ids=str)
def test_gradient_by_finite_differences(nu, rng):
    X, Y = data(rng, P=9, D=2)
    G0, kernels = input_gram(X), _kernels(nu)
    U = _factors(rng, 9, nu)
    _, grad = whitened_objective_and_grad(G0, U, Y, kernels, nu, 0.2, kernel_grad=True)

    def f(U=U, kernels=kernels, noise=0.2):
        return whitened_objective_and_grad(G0, U, Y, kernels, nu, noise)[0]

    assert_gradient_matches_differences(f, U, kernels, grad, rng)
    h = 1e-6
    fd = (f(noise=0.2 * math.exp(h)) - f(noise=0.2 * math.exp(-h))) / (2 * h)
    assert abs(fd - grad.log_noise_var) <= 1e-6 * max(1.0, abs(fd))


def test_identity_factors_are_the_nngp(rng):
    from kernels.dkm import nngp_grams

    X, _ = data(rng, P=8)
    G0, kernels = input_gram(X), [SquaredExponential()] * 3
    for g, e in zip(whitened_grams(G0, [np.zeros((8, 8))] * 2, kernels), nngp_grams(G0, kernels, 2, 1e-6)):
        assert_close(g, e, rtol=1e-12)


def test_backend_generic(xp, rng):
    X, Y = data(rng, P=8)
    nu = [1.0, 2.0]
    G0, kernels, U = input_gram(X), _kernels(nu), _factors(rng, 8, nu)
    ref_value, ref_grad = whitened_objective_and_grad(G0, U, Y, kernels, nu, 0.2)
    value, grad = whitened_objective_and_grad(from_numpy(G0, xp), [from_numpy(u, xp) for u in U],
                                              from_numpy(Y, xp), kernels, nu, 0.2)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=0)
    for g, r in zip(grad.U, ref_grad.U):
        assert_close(g, r, rtol=1e-10, xp=xp)
