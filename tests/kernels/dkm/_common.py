"""Shared problem builders for the DKM tests."""

from __future__ import annotations

import math

import numpy as np

from kernels.dkm import ArcCos, Linear, NormalisedGaussian, SquaredExponential

KERNELS = [SquaredExponential(0.8, 1.3), ArcCos(1.1, 0.3), NormalisedGaussian(0.9), Linear(1.05)]


def pd_matrix(rng, P, ridge=0.1):
    A = rng.normal(size=(P, P))
    return A @ A.T / P + ridge * np.eye(P)


def data(rng, P=12, N0=3, D=1):
    X = rng.normal(size=(P, N0))
    Y = np.sin(X[:, :1] * 2) + 0.1 * rng.normal(size=(P, D))
    return X, Y


def seeded_data(seed, P, N0=3, D=1):
    return data(np.random.default_rng(seed), P, N0, D)


def assert_gradient_matches_differences(f, U, kernels, grad, rng, h=1e-6, rtol=1e-6):
    """Central differences of ``f(U=..., kernels=...)`` along random lower-triangular directions of each free
    layer and along each learnable log-hyperparameter agree with the closed-form ``grad`` to ``rtol``."""
    for l, U_l in enumerate(U):
        if U_l is None:
            assert grad.U[l] is None
            continue
        E = np.tril(rng.normal(size=U_l.shape))
        plus, minus = list(U), list(U)
        plus[l], minus[l] = U_l + h * E, U_l - h * E
        fd = (f(U=plus) - f(U=minus)) / (2 * h)
        assert abs(fd - np.sum(grad.U[l] * E)) <= rtol * max(1.0, abs(fd))
    for i, kernel in enumerate(kernels):
        for name in kernel.learnable:
            v = getattr(kernel, name)
            plus, minus = list(kernels), list(kernels)
            plus[i] = kernel.with_params(**{name: v * math.exp(h)})
            minus[i] = kernel.with_params(**{name: v * math.exp(-h)})
            fd = (f(kernels=plus) - f(kernels=minus)) / (2 * h)
            assert abs(fd - grad.kernels[i][name]) <= rtol * max(1.0, abs(fd))
