"""Deep kernel machine solver against the reference recipe (Adam), and sparse DKM scaling in P.

Paper: Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives
a deep generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

1. Full DKM, P points, 2 layers, squared-exponential kernel, nu = 1, fixed noise: time for
   :func:`kernels.dkm.solve_dkm` (L-BFGS, exact gradients) to converge, then time for Adam with the
   group's recipe (G = V V^T / P, V initialised at chol(K) sqrt(P), lr 0.01, betas (0.8, 0.9), the
   same exact gradients) to come within 1e-6 (relative) of the same objective.  Adam is stopped
   at ``adam_cap`` times the L-BFGS time; the ratio is then a lower bound.
2. Sparse DKM with M = 100 inducing points: time per objective-and-gradient evaluation and time to
   solve at P = 1000 and P = 4000.

``python -m benchmarks --only dkm``; sizes from the environment: DKM_BENCH_P (default 500),
DKM_BENCH_SPARSE_P (default "1000,4000").  BLAS is limited to one thread so timings are comparable.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np


def _problem(P, seed=0, n_features=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, n_features))
    y = np.sin(2.0 * X[:, 0]) + 0.3 * X[:, 1] ** 2 - 0.3 + 0.1 * rng.normal(size=P)
    return X, y[:, None]


def adam_reference(G0, Y, kernels, nu, noise_var, target, *, lr=0.01, betas=(0.8, 0.9), eps=1e-8,
                   time_cap=math.inf, jitter=1e-6):
    """The reference recipe on G_l = V_l V_l^T / P; returns (seconds to reach target or None, steps, best)."""
    from kernels.dkm import dkm_objective_and_grad, nngp_grams

    P = G0.shape[0]
    V = [np.linalg.cholesky(g) * math.sqrt(P) for g in nngp_grams(G0, kernels, len(nu), jitter)]
    m = [np.zeros_like(v) for v in V]
    s = [np.zeros_like(v) for v in V]
    start, step, best = time.perf_counter(), 0, -math.inf
    while True:
        grams = [v @ v.T / P for v in V]
        value, grad = dkm_objective_and_grad(G0, grams, Y, kernels, nu, noise_var, jitter)
        best = max(best, value)
        elapsed = time.perf_counter() - start
        if value >= target - 1e-6 * abs(target):
            return elapsed, step, best
        if elapsed > time_cap:
            return None, step, best
        step += 1
        for l, v in enumerate(V):
            g = -((grad.grams[l] + grad.grams[l].T) @ v) / P  # descent direction of -L
            m[l] = betas[0] * m[l] + (1 - betas[0]) * g
            s[l] = betas[1] * s[l] + (1 - betas[1]) * g * g
            m_hat = m[l] / (1 - betas[0] ** step)
            s_hat = s[l] / (1 - betas[1] ** step)
            V[l] = v - lr * m_hat / (np.sqrt(s_hat) + eps)


def bench_full(P, adam_cap=10.0):
    from kernels.dkm import SquaredExponential, input_gram, solve_dkm

    X, Y = _problem(P)
    G0 = input_gram(X)
    kernels = [SquaredExponential()] * 3
    nu, noise = [1.0, 1.0], 0.1
    start = time.perf_counter()
    sol = solve_dkm(G0, Y, kernels, nu, noise, tol=1e-6, max_iter=5000)
    t_ours = time.perf_counter() - start
    t_adam, steps, best = adam_reference(G0, Y, kernels, nu, noise, sol.objective, time_cap=adam_cap * t_ours)
    print(f"full DKM P={P}, L=2: L-BFGS {t_ours:.2f} s ({sol.n_iter} iterations, {sol.n_evals} evaluations, "
          f"objective {sol.objective:.10g}, converged={sol.converged})")
    if t_adam is None:
        print(f"  Adam (lr 0.01, betas (0.8, 0.9)) did not reach it in {adam_cap:.0f}x that time "
              f"({steps} steps, best {best:.10g}, rel. gap {(sol.objective - best) / abs(sol.objective):.2e}): "
              f"speed-up >= {adam_cap:.0f}x")
    else:
        print(f"  Adam reached it in {t_adam:.2f} s ({steps} steps): speed-up {t_adam / t_ours:.1f}x")
    return t_ours, t_adam


def bench_sparse(sizes, M=100, depth=2):
    from kernels.dkm import DeepKernelMachine, SquaredExponential, input_blocks, sparse_nngp_grams
    from kernels.dkm import sparse_objective_and_grad

    per_eval, per_fit = {}, {}
    for P in sizes:
        X, Y = _problem(P, seed=1)
        Z = X[:M]
        blocks = input_blocks(Z, X)
        kernels = [SquaredExponential()] * (depth + 1)
        grams = sparse_nngp_grams(blocks, kernels, depth)
        sparse_objective_and_grad(blocks, Y, kernels, [1.0] * depth, grams, 0.1)
        start = time.perf_counter()
        for _ in range(5):
            sparse_objective_and_grad(blocks, Y, kernels, [1.0] * depth, grams, 0.1)
        per_eval[P] = (time.perf_counter() - start) / 5
        start = time.perf_counter()
        model = DeepKernelMachine(depth=depth, nu=1.0, n_inducing=M, learn_kernel=False, learn_noise=False,
                                  tol=1e-5, max_iter=300).fit(X, Y[:, 0])
        per_fit[P] = time.perf_counter() - start
        print(f"sparse DKM M={M}, P={P}: {1e3 * per_eval[P]:.1f} ms per evaluation; fit {per_fit[P]:.2f} s "
              f"({model.n_iter_} iterations)")
    lo, hi = min(sizes), max(sizes)
    print(f"  time(P={hi}) / time(P={lo}): per evaluation {per_eval[hi] / per_eval[lo]:.2f}, "
          f"per fit {per_fit[hi] / per_fit[lo]:.2f} (target <= 5 for a 4x larger P)")
    return per_eval, per_fit


def main():
    import scipy.linalg  # noqa: F401  (load scipy's BLAS now, so that the thread limit below reaches it)

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # timings then use whatever BLAS threading is configured
        threadpool_limits = None
    P = int(os.environ.get("DKM_BENCH_P", "500"))
    sizes = [int(s) for s in os.environ.get("DKM_BENCH_SPARSE_P", "1000,4000").split(",")]
    if threadpool_limits is not None:
        with threadpool_limits(1):
            bench_full(P)
            bench_sparse(sizes)
    else:
        bench_full(P)
        bench_sparse(sizes)


if __name__ == "__main__":
    main()
