"""kernels.dkm.sparse: inducing-point objective, its gradients, solver and predictions."""

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
    dkm_predict,
    input_blocks,
    input_gram,
    nngp_grams,
    solve_dkm,
    solve_sparse_dkm,
    sparse_nngp_grams,
    sparse_objective,
    sparse_objective_and_grad,
    sparse_predict,
    sparse_whitened_objective_and_grad,
)
from tests.helpers import assert_close
from tests.kernels.dkm._common import KERNELS, assert_gradient_matches_differences, data, pd_matrix


def test_sparse_backend_generic(xp, rng):
    X, Y = data(rng)
    Z = X[:5] + 0.05
    kernels = [NormalisedGaussian()] * 2
    blocks = input_blocks(Z, X)
    grams = [g + 0.1 * pd_matrix(rng, 5) for g in sparse_nngp_grams(blocks, kernels, 1)]
    ref_value, ref_grad = sparse_objective_and_grad(blocks, Y, kernels, [1.5], grams, 0.3)
    blocks_xp = input_blocks(from_numpy(Z, xp), from_numpy(X, xp))
    value, grad = sparse_objective_and_grad(blocks_xp, from_numpy(Y, xp), kernels, [1.5],
                                            [from_numpy(g, xp) for g in grams], 0.3)
    assert abs(value - ref_value) <= 1e-12 * abs(ref_value)
    assert_close(grad.grams[0], ref_grad.grams[0], rtol=1e-10, xp=xp)


@pytest.mark.parametrize("nu", [[1.3, 0.6], [math.inf, 0.8], [0.5]])
@pytest.mark.parametrize("kernel", KERNELS[:3], ids=lambda k: type(k).__name__)
def test_sparse_gradient_by_finite_differences(kernel, nu, rng):
    X, Y = data(rng, P=9, D=2)
    Z = X[:4] + 0.1
    blocks = input_blocks(Z, X)
    kernels = [kernel] * (len(nu) + 1)
    grams = [g + 0.1 * pd_matrix(rng, 4) for g in sparse_nngp_grams(blocks, kernels, len(nu))]
    _, grad = sparse_objective_and_grad(blocks, Y, kernels, nu, grams, 0.3)
    h = 1e-6
    for l in range(len(nu)):
        if math.isinf(nu[l]):
            assert grad.grams[l] is None
            continue
        E = rng.normal(size=(4, 4))
        E = E + E.T
        plus, minus = list(grams), list(grams)
        plus[l], minus[l] = grams[l] + h * E, grams[l] - h * E
        fd = (sparse_objective(blocks, Y, kernels, nu, plus, 0.3) - sparse_objective(blocks, Y, kernels, nu, minus, 0.3)) / (2 * h)
        assert abs(fd - np.sum(grad.grams[l] * E)) <= 1e-6 * max(1.0, abs(fd))
    fd = (sparse_objective(blocks, Y, kernels, nu, grams, 0.3 * math.exp(h))
          - sparse_objective(blocks, Y, kernels, nu, grams, 0.3 * math.exp(-h))) / (2 * h)
    assert abs(fd - grad.log_noise_var) <= 1e-6 * max(1.0, abs(fd))


@pytest.mark.parametrize("nu", [[1.0, 2.0], [math.inf, 2.0], [1.5, math.inf]], ids=str)
def test_sparse_whitened_gradient_by_finite_differences(nu, rng):
    X, Y = data(rng, P=20, D=2)
    blocks = input_blocks(X[:7] + 0.05, X)
    kernels = [SquaredExponential(0.9), ArcCos(1.1, 0.2), SquaredExponential(1.2)]
    U = [None if math.isinf(v) else np.tril(0.1 * rng.normal(size=(7, 7))) for v in nu]  # W_l = U_l - I
    _, grad = sparse_whitened_objective_and_grad(blocks, U, Y, kernels, nu, 0.2, kernel_grad=True)

    def f(U=U, kernels=kernels):
        return sparse_whitened_objective_and_grad(blocks, U, Y, kernels, nu, 0.2)[0]

    assert_gradient_matches_differences(f, U, kernels, grad, rng)


@pytest.mark.parametrize("nu", [[1.0, 2.0], [math.inf, 2.0]], ids=str)
def test_sparse_whitened_without_kernel_gradients_keeps_the_rest(nu, rng):
    """kernel_grad=False (fixed kernels) skips the kernels' parameter gradients and the pullback into the data
    blocks: the value and the gradients in U and the noise are the same to rounding, and no kernel gradient is
    reported (empty, as the full model's)."""
    X, Y = data(rng, P=20, D=2)
    blocks = input_blocks(X[:7] + 0.05, X)
    kernels = [NormalisedGaussian(1.3), ArcCos(1.1, 0.2), SquaredExponential(1.2)]
    U = [None if math.isinf(v) else np.tril(0.1 * rng.normal(size=(7, 7))) for v in nu]
    value, full = sparse_whitened_objective_and_grad(blocks, U, Y, kernels, nu, 0.2, kernel_grad=True)
    value_fixed, fixed = sparse_whitened_objective_and_grad(blocks, U, Y, kernels, nu, 0.2, kernel_grad=False)
    assert value_fixed == value
    for g_full, g_fixed in zip(full.U, fixed.U):
        assert (g_full is None) == (g_fixed is None)
        if g_full is not None:
            assert_close(g_fixed, g_full, rtol=1e-13, atol=1e-15)
    assert fixed.log_noise_var == pytest.approx(full.log_noise_var, rel=1e-13, abs=0)
    assert fixed.kernels == [{}, {}, {}] and any(v != 0.0 for v in full.kernels[0].values())


def test_sparse_with_all_points_equals_full(rng):
    X, Y = data(rng)
    kernels = [SquaredExponential()] * 3
    G0 = input_gram(X)
    grams = [g + 0.2 * pd_matrix(rng, 12) for g in nngp_grams(G0, kernels, 2, 1e-9)]
    full = dkm_objective(G0, grams, Y, kernels, [1.0, 1.0], 0.1, 1e-9)
    sparse = sparse_objective(input_blocks(X, X), Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    assert abs(full - sparse) <= 1e-6 * abs(full)
    Xt = rng.normal(size=(4, 3))
    m_full, v_full = dkm_predict(X, Xt, Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    m_sp, v_sp = sparse_predict(input_blocks(X, X), input_blocks(X, Xt), Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    assert_close(m_sp, m_full, rtol=1e-5, atol=1e-7)
    assert_close(v_sp, v_full, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("method", ["lbfgs", "newton"])
def test_sparse_solver_with_all_points_reaches_the_full_optimum(method, rng):
    X, Y = data(rng, P=12)
    kernels = [SquaredExponential()] * 3
    full = solve_dkm(input_gram(X), Y, kernels, [1.0, 2.0], 0.1, jitter=1e-8, tol=1e-8)
    sparse = solve_sparse_dkm(input_blocks(X, X), Y, kernels, [1.0, 2.0], 0.1, jitter=1e-8, tol=1e-8,
                              method=method)
    assert full.converged and sparse.converged
    assert sparse.objective == pytest.approx(full.objective, rel=1e-6, abs=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_objective_smooth_with_duplicate_inducing_inputs(seed):
    """Duplicate inducing inputs put K_ii's eigenvalues at the jitter level.  Along a path
    G_ii(t) = A (W + t S) A^T (A = chol K_ii, a well-scaled direction) the objective is smooth, so
    its deviation from a straight line over |t| <= 1e-7 measures rounding noise.  Formed from
    Cholesky factors it stays ~1e-9; the explicit-inverse form (entries ~1 / jitter) gave ~1e-6."""
    from kernels.dkm.sparse import _kernel_blocks

    rng = np.random.default_rng(seed)
    P, M = 400, 80
    X = np.round(rng.normal(size=(P, 3)), 1)  # repeated rows, as in data sets with discrete features
    Y = np.sin(X[:, :1]) + 0.1 * rng.normal(size=(P, 1))
    Z = np.concatenate([X[: M // 2], X[: M // 2]])
    blocks = input_blocks(Z, X)
    kernels = [SquaredExponential()] * 3
    A = np.linalg.cholesky(_kernel_blocks(kernels[0], blocks, 1e-6)[1])
    S = rng.normal(size=(M, M))
    G1 = A @ (np.eye(M) + 0.3 * S @ S.T / M) @ A.T
    G2 = sparse_nngp_grams(blocks, kernels, 2, 1e-6)[1]
    E = rng.normal(size=(M, M))
    E = A @ (E + E.T) @ A.T
    ts = np.linspace(-1e-7, 1e-7, 11)
    values = np.array([sparse_objective(blocks, Y, kernels, [10.0, 10.0], [G1 + t * E, G2], 0.1, 1e-6) for t in ts])
    line = np.polyval(np.polyfit(ts, values, 1), ts)
    assert np.max(np.abs(values - line)) <= 1e-7
