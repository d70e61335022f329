"""Deep kernel machines: Gram kernels, KL, objective gradients, solver, sparse version, estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.backend import from_numpy, to_numpy
from kernels.dkm import (
    ArcCos,
    CholeskyError,
    DeepKernelMachine,
    Linear,
    NormalisedGaussian,
    SquaredExponential,
    dkm_objective,
    dkm_objective_and_grad,
    dkm_predict,
    gaussian_log_likelihood,
    input_blocks,
    input_gram,
    kl_gaussian,
    kl_gaussian_grad,
    make_kernel,
    nngp_grams,
    solve_dkm,
    sparse_nngp_grams,
    sparse_objective,
    sparse_objective_and_grad,
    sparse_predict,
)
from tests.helpers import assert_close

KERNELS = [SquaredExponential(0.8, 1.3), ArcCos(1.2, 0.1), NormalisedGaussian(0.9), Linear(1.1)]


def _pd(rng, P, ridge=0.1):
    A = rng.normal(size=(P, P))
    return A @ A.T / P + ridge * np.eye(P)


def _data(rng, P=12, N0=3, D=1):
    X = rng.normal(size=(P, N0))
    Y = np.sin(X[:, :1] * 2) + 0.1 * rng.normal(size=(P, D))
    return X, Y


seeds = st.integers(0, 2**31 - 1)


# --- Gram kernels ------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
@given(seed=seeds, P=st.integers(2, 8))
@settings(max_examples=15)
def test_kernel_symmetric_psd_and_diagonal(kernel, seed, P):
    rng = np.random.default_rng(seed)
    G = _pd(rng, P)
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
    G, W, E = _pd(rng, P), rng.normal(size=(P, P)), rng.normal(size=(P, P))
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
    assert_close(K[0, 1], np.float64(2.0 / math.pi))
    assert abs(K[0, 2]) <= 1e-15


def test_kernel_name_lookup_and_errors():
    assert isinstance(make_kernel("relu"), ArcCos)
    assert make_kernel("se", lengthscale=2.0).lengthscale == 2.0
    with pytest.raises(ValueError, match="kernel must be"):
        make_kernel("matern")
    with pytest.raises(ValueError, match="lengthscale"):
        SquaredExponential(lengthscale=-1.0)


# --- KL and likelihood -------------------------------------------------------------------------


@given(seed=seeds, P=st.integers(1, 7))
def test_kl_nonnegative_zero_iff_equal(seed, P):
    rng = np.random.default_rng(seed)
    G, K = _pd(rng, P), _pd(rng, P)
    assert kl_gaussian(G, K) >= 0
    assert abs(kl_gaussian(K, K)) <= 1e-12 * P
    lam = np.linalg.eigvals(np.linalg.solve(K, G)).real
    assert_close(np.float64(kl_gaussian(G, K)), np.float64(0.5 * np.sum(lam - np.log(lam) - 1)), rtol=1e-9)


@given(seed=seeds)
@settings(max_examples=10)
def test_kl_gradients_by_finite_differences(seed):
    rng = np.random.default_rng(seed)
    G, K, E = _pd(rng, 5), _pd(rng, 5), rng.normal(size=(5, 5))
    E = E + E.T
    dG, dK = kl_gaussian_grad(G, K)
    h = 1e-6
    fd_G = (kl_gaussian(G + h * E, K) - kl_gaussian(G - h * E, K)) / (2 * h)
    fd_K = (kl_gaussian(G, K + h * E) - kl_gaussian(G, K - h * E)) / (2 * h)
    assert abs(fd_G - np.sum(dG * E)) <= 1e-6 * max(1.0, abs(fd_G))
    assert abs(fd_K - np.sum(dK * E)) <= 1e-6 * max(1.0, abs(fd_K))


def test_gaussian_log_likelihood_matches_scipy(rng):
    from scipy.stats import multivariate_normal

    K, y = _pd(rng, 6), rng.normal(size=6)
    expected = multivariate_normal(np.zeros(6), K + 0.3 * np.eye(6)).logpdf(y)
    assert_close(np.float64(gaussian_log_likelihood(K, y, 0.3)), np.float64(expected), rtol=1e-12)


# --- objective on every backend ---------------------------------------------------------------


def test_objective_and_gradient_backend_generic(xp, rng):
    X, Y = _data(rng)
    kernels = [SquaredExponential()] * 3
    G0 = input_gram(X)
    grams = [g + 0.1 * _pd(rng, 12) for g in nngp_grams(G0, kernels, 2, 1e-6)]
    ref_value, ref_grad = dkm_objective_and_grad(G0, grams, Y, kernels, [1.0, 2.0], 0.2)
    value, grad = dkm_objective_and_grad(from_numpy(G0, xp), [from_numpy(g, xp) for g in grams],
                                         from_numpy(Y, xp), kernels, [1.0, 2.0], 0.2)
    assert abs(value - ref_value) <= 1e-12 * abs(ref_value)
    for g, r in zip(grad.grams, ref_grad.grams):
        assert_close(g, r, rtol=1e-10, xp=xp)


def test_sparse_backend_generic(xp, rng):
    X, Y = _data(rng)
    Z = X[:5] + 0.05
    kernels = [NormalisedGaussian()] * 2
    blocks = input_blocks(Z, X)
    grams = [g + 0.1 * _pd(rng, 5) for g in sparse_nngp_grams(blocks, kernels, 1)]
    ref_value, ref_grad = sparse_objective_and_grad(blocks, Y, kernels, [1.5], grams, 0.3)
    blocks_xp = input_blocks(from_numpy(Z, xp), from_numpy(X, xp))
    value, grad = sparse_objective_and_grad(blocks_xp, from_numpy(Y, xp), kernels, [1.5],
                                            [from_numpy(g, xp) for g in grams], 0.3)
    assert abs(value - ref_value) <= 1e-12 * abs(ref_value)
    assert_close(grad.grams[0], ref_grad.grams[0], rtol=1e-10, xp=xp)


@pytest.mark.parametrize("nu", [[1.3, 0.6], [math.inf, 0.8], [0.5]])
@pytest.mark.parametrize("kernel", KERNELS[:3], ids=lambda k: type(k).__name__)
def test_sparse_gradient_by_finite_differences(kernel, nu, rng):
    X, Y = _data(rng, P=9, D=2)
    Z = X[:4] + 0.1
    blocks = input_blocks(Z, X)
    kernels = [kernel] * (len(nu) + 1)
    grams = [g + 0.1 * _pd(rng, 4) for g in sparse_nngp_grams(blocks, kernels, len(nu))]
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


def test_sparse_with_all_points_equals_full(rng):
    X, Y = _data(rng)
    kernels = [SquaredExponential()] * 3
    G0 = input_gram(X)
    grams = [g + 0.2 * _pd(rng, 12) for g in nngp_grams(G0, kernels, 2, 1e-9)]
    full = dkm_objective(G0, grams, Y, kernels, [1.0, 1.0], 0.1, 1e-9)
    sparse = sparse_objective(input_blocks(X, X), Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    assert abs(full - sparse) <= 1e-6 * abs(full)
    Xt = rng.normal(size=(4, 3))
    m_full, v_full = dkm_predict(X, Xt, Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    m_sp, v_sp = sparse_predict(input_blocks(X, X), input_blocks(X, Xt), Y, kernels, [1.0, 1.0], grams, 0.1, 1e-9)
    assert_close(m_sp, m_full, rtol=1e-5, atol=1e-7)
    assert_close(v_sp, v_full, rtol=1e-4, atol=1e-7)


# --- solver ------------------------------------------------------------------------------------


def test_solver_converges_and_reports(rng):
    X, Y = _data(rng, P=15)
    sol = solve_dkm(input_gram(X), Y, [SquaredExponential()] * 3, [1.0, 1.0], 0.1, tol=1e-7)
    assert sol.converged and sol.grad_norm <= 1e-7
    assert sol.trace[0] <= sol.objective and len(sol.trace) == sol.n_iter + 1
    assert all(np.linalg.eigvalsh(g).min() > 0 for g in sol.grams)


def test_solver_backend_generic(xp, rng):
    X, Y = _data(rng, P=10)
    ref = solve_dkm(input_gram(X), Y, [SquaredExponential()] * 2, [2.0], 0.1, tol=1e-8)
    sol = solve_dkm(input_gram(from_numpy(X, xp)), from_numpy(Y, xp), [SquaredExponential()] * 2, [2.0], 0.1, tol=1e-8)
    assert abs(sol.objective - ref.objective) <= 1e-9 * abs(ref.objective)
    assert_close(sol.grams[0], ref.grams[0], rtol=1e-5, xp=xp)


@pytest.mark.parametrize(
    ("nu", "learn_kernel"), [([1.0, 2.0], False), ([1.0, math.inf, 3.0], True), ([math.inf, 2.0], True)]
)
def test_whitened_parametrisation_gradient_by_finite_differences(nu, learn_kernel, rng, monkeypatch):
    """The gradient chained through chol(K_l(G_(l-1))) (whitened Grams) matches finite differences."""
    import kernels.dkm.solver as solver

    captured = {}
    real_minimize = solver.minimize

    def capture(fun, x0, **kwargs):
        captured["fun"], captured["x0"] = fun, x0
        return real_minimize(fun, x0, **kwargs)

    monkeypatch.setattr(solver, "minimize", capture)
    X, Y = _data(rng, P=9, D=2)
    kernels = [SquaredExponential(), ArcCos(), NormalisedGaussian(), SquaredExponential()][: len(nu)]
    kernels.append(SquaredExponential(1.2))
    solve_dkm(input_gram(X), Y, kernels, nu, 0.2, learn_kernel=learn_kernel, learn_noise=True, max_iter=2)
    fun = captured["fun"]
    x = captured["x0"] + 0.05 * rng.normal(size=captured["x0"].shape)
    _, grad = fun(x)
    h = 1e-5
    for _ in range(3):
        d = rng.normal(size=x.shape)
        fd = (fun(x + h * d)[0] - fun(x - h * d)[0]) / (2 * h)
        assert abs(fd - grad @ d) <= 1e-6 * max(1.0, abs(fd))


def test_whitened_and_fixed_parametrisations_reach_the_same_optimum(rng):
    from kernels.dkm import dkm_objective_and_grad, optimise_grams

    X, Y = _data(rng, P=12)
    G0 = input_gram(X)
    kernels = [SquaredExponential()] * 3
    nu = [1.0, 2.0]
    init = nngp_grams(G0, kernels, 2, 1e-6)

    def objective(grams, factors, ks, s2):
        return dkm_objective_and_grad(G0, grams, Y, ks, nu, s2, 1e-6, factors)

    common = dict(n_data=12, jitter=1e-6, learn_kernel=False, learn_noise=False, tol=1e-7, max_iter=3000)
    fixed = optimise_grams(objective, init, nu, kernels, 0.1, **common)
    whitened = optimise_grams(objective, init, nu, kernels, 0.1, base_gram=G0, **common)
    assert fixed.converged and whitened.converged
    assert whitened.objective == pytest.approx(fixed.objective, rel=1e-8)
    for a, b in zip(whitened.grams, fixed.grams):
        assert_close(a, b, rtol=1e-4, atol=1e-6)


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


# --- estimator ---------------------------------------------------------------------------------


def test_estimator_fit_predict_score(rng):
    X, Y = _data(rng, P=30)
    y = Y[:, 0]
    model = DeepKernelMachine(depth=1, nu=5.0, tol=1e-4, max_iter=200).fit(X, y)
    mean, std = model.predict(X[:5], return_std=True)
    assert mean.shape == (5,) and std.shape == (5,) and np.all(std > 0)
    assert model.score(X, y) > 0.5
    assert len(model.grams_) == 1 and model.objective_trace_[-1] == pytest.approx(model.objective_, rel=1e-9)
    assert np.isfinite(model.log_likelihood(X, y))
    assert model.get_params()["depth"] == 1


def test_estimator_sparse(rng):
    X, Y = _data(rng, P=40)
    model = DeepKernelMachine(depth=1, nu=2.0, n_inducing=10, tol=1e-4, max_iter=100).fit(X, Y[:, 0])
    mean, std = model.predict(X[:3], return_std=True)
    assert model.inducing_points_.shape == (10, 3) and model.grams_[0].shape == (10, 10)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)


def test_estimator_nngp_and_gp_limits(rng):
    X, Y = _data(rng, P=20)
    gp = DeepKernelMachine(depth=0, learn_kernel=False, learn_noise=False).fit(X, Y[:, 0])
    direct = dkm_objective(input_gram(X), [], Y, [SquaredExponential()], [], 0.1, 1e-6)
    assert gp.objective_ == pytest.approx(direct, rel=1e-12)
    nngp = DeepKernelMachine(depth=2, nu=math.inf, learn_kernel=False, learn_noise=False).fit(X, Y[:, 0])
    for g, e in zip(nngp.grams_, nngp_grams(input_gram(X), [SquaredExponential()] * 3, 2, 1e-6)):
        assert_close(g, e)


@pytest.mark.parametrize(
    "kwargs, X, y, match",
    [
        ({}, [[np.nan, 1.0]] * 3, [1.0, 2.0, 3.0], "X must contain only finite"),
        ({}, [[0.0, 1.0]] * 3, [1.0, np.inf, 3.0], "y must contain only finite"),
        ({}, [[0.0, 1.0]] * 3, [1.0, 2.0], "same number of rows"),
        ({"depth": -1}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "depth"),
        ({"nu": 0.0}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], r"nu\[0\] must lie in \(0, inf\)"),
        ({"n_inducing": 4}, [[0.0, 1.0]] * 3, [1.0, 2.0, 3.0], "n_inducing must be at most"),
    ],
)
def test_estimator_bad_input(kwargs, X, y, match):
    with pytest.raises(ValueError, match=match):
        DeepKernelMachine(**kwargs).fit(np.array(X), np.array(y))


def test_cholesky_failure_names_matrix_eigenvalue_and_jitter():
    X = np.ones((4, 2))  # identical points: K(G0) is singular without jitter
    Y = np.arange(4.0)[:, None]
    with pytest.raises(CholeskyError, match=r"K\(G_0\).*smallest eigenvalue estimate.*jitter tried 0"):
        dkm_objective(input_gram(X), [np.eye(4)], Y, [SquaredExponential()] * 2, [1.0], 0.1, jitter=0.0)
