"""Shared problem builders for the DKM tests."""

from __future__ import annotations

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
