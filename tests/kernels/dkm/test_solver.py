"""kernels.dkm.solver: both methods converge, reach the previous solver's optima and the linear closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels.backend import from_numpy
from kernels.dkm import Linear, SquaredExponential, input_gram, make_kernel, nngp_grams, solve_dkm
from kernels.dkm.solver import Parameters
from tests.helpers import assert_close
from tests.kernels.dkm._common import data, pd_matrix, seeded_data

METHODS = ["lbfgs", "lbfgsb", "newton"]

# Optima found by the previous solver (L-BFGS on the full-matrix whitened parametrisation, tol 1e-7,
# every run converged), on seeded_data(seed, P) with noise 0.1 and jitter 1e-6.
PREVIOUS_OPTIMA = [
    (0, 12, "se", [1.0, 2.0], -8.00486272021846),
    (1, 15, "arccos", [1.0, 1.0], -17.412104031778313),
    (2, 20, "se", [10.0, 10.0], -14.685538292332673),
    (3, 12, "se", [0.5], -8.481188770012139),
]


@pytest.mark.parametrize("method", METHODS)
def test_solver_converges_and_reports(method, rng):
    X, Y = data(rng, P=15)
    sol = solve_dkm(input_gram(X), Y, [SquaredExponential()] * 3, [1.0, 1.0], 0.1, tol=1e-7, method=method)
    assert sol.converged and sol.grad_norm <= 1e-7
    assert sol.trace[0] <= sol.objective and len(sol.trace) == sol.n_iter + 1
    assert all(np.linalg.eigvalsh(g).min() > 0 for g in sol.grams)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("seed", "P", "kernel", "nu", "expected"), PREVIOUS_OPTIMA)
def test_reaches_the_previous_solvers_optimum(method, seed, P, kernel, nu, expected):
    X, Y = seeded_data(seed, P)
    sol = solve_dkm(input_gram(X), Y, [make_kernel(kernel)] * (len(nu) + 1), nu, 0.1, tol=1e-8, method=method)
    assert sol.converged
    assert sol.objective == pytest.approx(expected, rel=1e-9, abs=0)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_linear_kernel_closed_form(method, depth):
    """Linear kernel, D = nu columns, Y Y^T / D = G_(L+1), no noise: G_l = G0^(1/2) M^(l/(L+1)) G0^(1/2)."""
    rng = np.random.default_rng(depth)
    P = 6
    D = 2 * P
    X = rng.normal(size=(P, P))
    G0 = X @ X.T / P
    Y = rng.normal(size=(P, D))
    w, Q = np.linalg.eigh(G0)
    root, inv_root = Q @ np.diag(np.sqrt(w)) @ Q.T, Q @ np.diag(1 / np.sqrt(w)) @ Q.T
    m_w, m_Q = np.linalg.eigh(inv_root @ (Y @ Y.T / D) @ inv_root)
    expected = [root @ m_Q @ np.diag(m_w ** (l / (depth + 1))) @ m_Q.T @ root for l in range(1, depth + 1)]
    A = rng.normal(size=(P, P))
    init = [G0 + A @ A.T / P] * depth  # a start away from the NNGP
    sol = solve_dkm(G0, Y, [Linear()] * (depth + 1), [float(D)] * depth, 1e-13, jitter=0.0, init=init,
                    tol=1e-10, max_iter=5000, method=method)
    for g, e in zip(sol.grams, expected):
        assert np.linalg.norm(g - e) <= 1e-5 * np.linalg.norm(e)


@pytest.mark.parametrize(("nu", "learn"), [
    (1e-2, False), (1.0, False), (1e4, False), (1e10, False), (1.0, True), (1e4, True),
    pytest.param(1e10, True, marks=pytest.mark.xfail(
        strict=True, reason="measured: at nu = 1e10 the layer-1 variance and layer-2 lengthscale enter almost only "
                            "through v1 / l2^2 (exact at nu = inf), a nearly flat valley; L-BFGS-B and the Newton "
                            "steps on the gradient stop at 1.3e-6 on this seed, 0.044 and 0.028 on seeds 1 and 2 "
                            "(tolerance 1e-6; one BLAS thread)")),
    pytest.param(1e-2, True, marks=pytest.mark.xfail(
        strict=True, reason="measured: with nu = 1e-2 and learned kernels the fit stops at a max-abs gradient "
                            "of 0.068 (line search and trust region at the objective's rounding level)")),
])
def test_converges_for_any_scale_of_nu(nu, learn, rng):
    X, Y = data(rng, P=20)
    Y = Y + 0.3 * rng.normal(size=Y.shape)
    G0, kernels = input_gram(X), [SquaredExponential()] * 3
    sol = solve_dkm(G0, Y, kernels, [nu, nu], 0.1, tol=1e-6, learn_kernel=learn, learn_noise=learn,
                    min_noise_var=1e-2)
    assert sol.converged, (sol.message, sol.grad_norm)
    if nu >= 1e4 and not learn:  # the optimum tends to the NNGP at rate 1/nu
        for g, e in zip(sol.grams, nngp_grams(G0, kernels, 2, 1e-6)):
            assert np.linalg.norm(g - e) <= 100 / nu * np.linalg.norm(e)


def test_learning_kernel_and_noise(rng):
    X, Y = data(rng, P=30)
    Y = Y + 0.3 * rng.normal(size=Y.shape)
    sol = solve_dkm(input_gram(X), Y, [SquaredExponential()] * 2, [math.inf], 0.3, learn_kernel=True,
                    learn_noise=True, tol=1e-6)
    assert sol.converged, (sol.message, sol.noise_var, sol.kernels)
    assert 1e-3 < sol.noise_var != 0.3 and sol.kernels[0].lengthscale != 1.0


def test_parameters_round_trip(rng):
    kernels = [SquaredExponential(0.7, 1.2)] * 3
    params = Parameters([5, 5], [2.0, math.inf], kernels, 0.3, learn_kernel=True, learn_noise=True, xp=np, dtype=np.float64)
    U = [np.tril(0.1 * rng.normal(size=(5, 5))), None]  # W_l = U_l - I
    U2, ks, s2 = params.unpack(params.pack(U))
    assert_close(U2[0], U[0], rtol=1e-14, atol=1e-15) and U2[1] is None
    assert ks[0].lengthscale == pytest.approx(0.7) and s2 == pytest.approx(0.3)


def test_solver_backend_generic(xp, rng):
    X, Y = data(rng, P=10)
    ref = solve_dkm(input_gram(X), Y, [SquaredExponential()] * 2, [2.0], 0.1, tol=1e-8)
    sol = solve_dkm(input_gram(from_numpy(X, xp)), from_numpy(Y, xp), [SquaredExponential()] * 2, [2.0], 0.1, tol=1e-8)
    assert abs(sol.objective - ref.objective) <= 1e-9 * abs(ref.objective)
    assert_close(sol.grams[0], ref.grams[0], rtol=1e-5, xp=xp)


def test_unknown_method():
    X, Y = data(np.random.default_rng(0), P=5)
    with pytest.raises(ValueError, match="method must be one of"):
        solve_dkm(input_gram(X), Y, [SquaredExponential()] * 2, [1.0], 0.1, method="adam")


def test_history_two_loop_secant_and_ring_buffer(rng):
    """-direction(y_k) = s_k for the newest pair (the BFGS secant equation), and a full ring buffer uses
    exactly the last m pairs."""
    from kernels.dkm.solver import _History

    n, m = 7, 3
    A = pd_matrix(rng, n)
    pairs = [(s, A @ s) for s in rng.normal(size=(5, n))]
    full, last = _History(n, m), _History(n, m)
    for s, y in pairs:
        assert full.add(s, y)
    for s, y in pairs[-m:]:
        last.add(s, y)
    s_k, y_k = pairs[-1]
    assert_close(-full.direction(y_k), s_k, rtol=1e-12, atol=1e-14)
    g = rng.normal(size=n)
    assert_close(full.direction(g), last.direction(g), rtol=1e-14, atol=1e-15)
    assert not full.add(s_k, -y_k)  # s.y < 0 is refused


def test_history_size():
    from kernels.dkm.solver import HISTORY_RANGE, default_history

    assert default_history(10) == HISTORY_RANGE[1]
    assert default_history(10**9) == HISTORY_RANGE[0]
    assert default_history(2**19) == 2**25 // 2**20 == 32
    assert default_history(2**25 // 200) == HISTORY_RANGE[1]
    # the sparse model on protein: 10,100 coordinates, 41,157 targets: one pair per 40 targets
    assert default_history(10_100, 41_157) == 41_157 // 40 == 1028
    assert default_history(10_100, 10**7) == 2**25 // (2 * 10_100) == 1661  # then the memory budget
    assert default_history(250_500, 500) == 2**25 // (2 * 250_500) == 66  # the full model: as before
    assert default_history(10, 500) == HISTORY_RANGE[1]


def test_triangular_metric(rng):
    """B t = U T per block, B^T its adjoint, B B^T positive definite, B = I at the NNGP (V = 0), identity on
    log-parameters; with it the two-loop recursion still meets the secant equation -H y_k = s_k."""
    from kernels.dkm.solver import _History

    m, nu = 4, [4.0, math.inf, 9.0]
    params = Parameters([m] * 3, nu, [SquaredExponential()] * 4, 0.1, learn_kernel=True, learn_noise=True, xp=np,
                        dtype=np.float64)
    W = [np.tril(0.3 * rng.normal(size=(m, m))), None, np.tril(0.3 * rng.normal(size=(m, m)))]
    x = params.pack(W)
    B = params.metric(x)
    n = x.size
    t, q = rng.normal(size=n), rng.normal(size=n)
    assert float(B.apply(t) @ q) == pytest.approx(float(t @ B.transpose(q)), rel=1e-13, abs=0)
    rows, cols = np.tril_indices(m)
    T = np.zeros((m, m))
    T[rows, cols] = t[:rows.size]
    assert_close(B.apply(t)[:rows.size], ((np.eye(m) + W[0]) @ T)[rows, cols], rtol=1e-14, atol=1e-15)
    assert_close(B.apply(t)[2 * rows.size:], t[2 * rows.size:], rtol=0, atol=0)  # log-parameters
    dense = np.stack([B.apply(B.transpose(e)) for e in np.eye(n)])
    assert_close(dense, dense.T, rtol=1e-13, atol=1e-14)
    assert np.linalg.eigvalsh(dense)[0] > 1e-3
    identity = params.metric(params.pack(None))
    assert_close(identity.apply(t), t, rtol=0, atol=0)
    assert_close(identity.transpose(q), q, rtol=0, atol=0)
    A = pd_matrix(rng, n)
    memory = _History(n, 3)
    for s in rng.normal(size=(4, n)):
        memory.add(s, A @ s)
    assert_close(-memory.direction(A @ s, B), s, rtol=1e-10, atol=1e-12)
    # H0's scale per layer: s_l = c_l B_l B_l^T y_l gives exactly c_l on block l, the whole pair's ratio elsewhere
    y = rng.normal(size=n)
    s = B.apply(B.transpose(y))
    s[B.slices[0]] *= 3.0
    s[B.slices[1]] *= 0.25
    memory = _History(n, 2)
    memory.add(s, y)
    scales = memory._layer_scales(0, B)
    whole = float(s @ y) / float(B.transpose(y) @ B.transpose(y))
    for part, expected in [(B.slices[0], 3.0), (B.slices[1], 0.25), (slice(B.slices[1].stop, n), whole)]:
        assert_close(scales[part], np.full(part.stop - part.start, expected), rtol=1e-13, atol=0)


@pytest.mark.parametrize("history", [1, 5, None])
def test_lbfgs_reaches_the_lbfgsb_optimum(history):
    """Same start (the NNGP), same tolerance: the own L-BFGS and scipy's L-BFGS-B agree to 1e-10 relative."""
    from scipy.optimize import minimize

    from kernels.dkm.solver import _Counted
    from kernels.dkm.whitened import whitened_objective_and_grad

    X, Y = seeded_data(4, 14)
    G0, kernels, nu = input_gram(X), [SquaredExponential()] * 3, [1.0, 3.0]
    params = Parameters([14, 14], nu, kernels, 0.1, learn_kernel=False, learn_noise=False, xp=np, dtype=np.float64)

    def evaluate(x):
        U, ks, s2 = params.unpack(x)
        value, grad = whitened_objective_and_grad(G0, U, Y, ks, nu, s2, 1e-6)
        return value, params.flatten_grad(grad.U, grad.kernels, grad.log_noise_var)

    fun = _Counted(evaluate, 14, params.bounds())
    ref = minimize(fun, params.pack(None), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-15, "maxls": 40})
    sol = solve_dkm(G0, Y, kernels, nu, 0.1, tol=1e-9, history=history, max_iter=5000)
    assert sol.converged and sol.grad_norm <= 1e-9
    assert sol.objective == pytest.approx(-ref.fun * 14, rel=1e-10, abs=0)
