"""Claims about deep kernel machines.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.  The ten properties of the reference sheet (KL laws and gradients, the NNGP and
GP limits, Gram kernels = feature kernels, sparse = full, positive definite optimum, monotone
small-step ascent, the linear closed form, permutation equivariance) and the UCI comparison.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import from_numpy, to_numpy
from kernels.dkm import (
    dkm_objective,
    dkm_objective_and_grad,
    dkm_predict,
    input_blocks,
    input_gram,
    kl_gaussian,
    kl_gaussian_grad,
    make_kernel,
    nngp_grams,
    solve_dkm,
    sparse_objective,
)

from proofs_check.papers import DEEP_KERNEL_MACHINES as PAPER
from proofs_check.registry import Outcome, claim


def _problem(xp, P, seed, n_features=3, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(P, n_features))
    y = np.sin(2.0 * X[:, 0]) + 0.5 * X[:, 1] ** 2 - 0.5 + noise * rng.normal(size=P)
    return from_numpy(X, xp), from_numpy(y[:, None], xp), rng


def _random_pd(rng, P, xp, ridge=0.1):
    A = rng.normal(size=(P, P))
    return from_numpy(A @ A.T / P + ridge * np.eye(P), xp)


def _rel(a, b):
    a, b = to_numpy(a), to_numpy(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@claim(
    "dkm.kl_nonnegative",
    paper=PAPER,
    statement="KL(N(0,G) || N(0,K)) >= 0 with equality iff G = K, and it equals the direct Gaussian KL "
    "1/2 sum_i (lambda_i - log lambda_i - 1) over the eigenvalues of K^-1 G.",
    stated="min KL >= 0; KL(K,K) <= 1e-12; rel. error vs eigenvalue form <= 1e-10",
    quick={"P": 12, "trials": 30, "seed": 0},
    full={"P": 60, "trials": 200},
)
def kl_nonnegative(params, xp):
    rng = np.random.default_rng(params["seed"])
    worst_rel, min_kl, self_kl = 0.0, math.inf, 0.0
    for _ in range(params["trials"]):
        G, K = _random_pd(rng, params["P"], xp), _random_pd(rng, params["P"], xp)
        kl = kl_gaussian(G, K)
        lam = np.linalg.eigvals(np.linalg.solve(to_numpy(K), to_numpy(G))).real
        direct = 0.5 * float(np.sum(lam - np.log(lam) - 1.0))
        worst_rel = max(worst_rel, abs(kl - direct) / abs(direct))
        min_kl = min(min_kl, kl)
        self_kl = max(self_kl, abs(kl_gaussian(K, K)))
    passed = min_kl >= 0 and self_kl <= 1e-12 and worst_rel <= 1e-10
    return Outcome({"min_kl": min_kl, "max_kl_self": self_kl, "max_rel_err_vs_eigen": worst_rel},
                   {"kl_self": 1e-12, "rel_err": 1e-10}, passed)


@claim(
    "dkm.kl_gradient",
    paper=PAPER,
    statement="dKL/dG = 1/2 (K^-1 - G^-1) and dKL/dK = 1/2 (K^-1 - K^-1 G K^-1); the full DKM objective "
    "gradient (through the kernels) matches central finite differences in float64.",
    stated="max relative error vs finite differences <= 1e-6",
    quick={"P": 8, "directions": 6, "seed": 1},
    full={"P": 25, "directions": 20},
)
def kl_gradient(params, xp):
    rng = np.random.default_rng(params["seed"])
    P, h = params["P"], 1e-6
    worst = 0.0
    G, K = _random_pd(rng, P, xp), _random_pd(rng, P, xp)
    dG, dK = kl_gaussian_grad(G, K)
    X, Y, _ = _problem(xp, P, params["seed"])
    G0 = input_gram(X)
    for name in ("se", "arccos", "normalised_gaussian"):
        kernels = [make_kernel(name)] * 3
        grams = [g + _random_pd(rng, P, xp) * 0.1 for g in nngp_grams(G0, kernels, 2, 1e-6)]
        _, grad = dkm_objective_and_grad(G0, grams, Y, kernels, [1.3, 0.6], 0.2)
        for _ in range(params["directions"]):
            E = rng.normal(size=(P, P))
            E = from_numpy(E + E.T, xp)
            fd = (kl_gaussian(G + h * E, K) - kl_gaussian(G - h * E, K)) / (2 * h)
            worst = max(worst, abs(fd - float(to_numpy(dG * E).sum())) / abs(fd))
            fd = (kl_gaussian(G, K + h * E) - kl_gaussian(G, K - h * E)) / (2 * h)
            worst = max(worst, abs(fd - float(to_numpy(dK * E).sum())) / abs(fd))
            for l in range(2):
                plus, minus = list(grams), list(grams)
                plus[l], minus[l] = grams[l] + h * E, grams[l] - h * E
                fd = (dkm_objective(G0, plus, Y, kernels, [1.3, 0.6], 0.2)
                      - dkm_objective(G0, minus, Y, kernels, [1.3, 0.6], 0.2)) / (2 * h)
                worst = max(worst, abs(fd - float(to_numpy(grad.grams[l] * E).sum())) / max(abs(fd), 1e-3))
    return Outcome({"max_rel_err": worst}, 1e-6, worst <= 1e-6)


@claim(
    "dkm.nu_infinity_nngp",
    paper=PAPER,
    statement="As nu -> infinity the optimal Grams tend to the NNGP recursion G_l = K(G_(l-1)) "
    "(distance ~ 1/nu), and at initialisation the DKM's predictions equal the NNGP's.",
    stated="rel. distance decreases with nu and is <= 1e-2 at the largest nu; initial predictions equal "
    "(rel. difference <= 1e-10)",
    quick={"P": 25, "nus": [1.0, 10.0, 100.0, 1000.0], "seed": 2},
    full={"P": 80, "nus": [1.0, 10.0, 100.0, 1000.0, 10000.0]},
)
def nu_infinity_nngp(params, xp):
    X, Y, _ = _problem(xp, params["P"], params["seed"])
    G0 = input_gram(X)
    kernels = [make_kernel("se")] * 3
    nngp = nngp_grams(G0, kernels, 2, 1e-6)
    distances = []
    for nu in params["nus"]:
        sol = solve_dkm(G0, Y, kernels, [nu, nu], 0.1, tol=1e-9, max_iter=3000)
        distances.append(max(_rel(sol.grams[l], nngp[l]) for l in range(2)))
    Xt = X[:5, :] * 0.9 + 0.05
    mean_dkm, var_dkm = dkm_predict(X, Xt, Y, kernels, [1.0, 1.0], nngp, 0.1)
    mean_nngp, var_nngp = dkm_predict(X, Xt, Y, kernels, [math.inf, math.inf], [None, None], 0.1)
    pred_diff = max(_rel(mean_dkm, mean_nngp), _rel(var_dkm, var_nngp))
    decreasing = all(b < a for a, b in zip(distances, distances[1:]))
    passed = decreasing and distances[-1] <= 1e-2 and pred_diff <= 1e-10
    return Outcome({"rel_distance_per_nu": dict(zip(map(str, params["nus"]), distances)),
                    "initial_prediction_rel_diff": pred_diff},
                   {"last_distance": 1e-2, "prediction": 1e-10}, passed)


@claim(
    "dkm.gp_limit",
    paper=PAPER,
    statement="With L = 0 the DKM objective is the GP log marginal likelihood and the predictions are GP "
    "regression with the base kernel.",
    stated="rel. error of objective and predictions vs a direct numpy GP <= 1e-10",
    quick={"P": 40, "seed": 3},
    full={"P": 300},
)
def gp_limit(params, xp):
    X, Y, _ = _problem(xp, params["P"], params["seed"])
    kernel = make_kernel("se", lengthscale=0.8, variance=1.3)
    noise, jitter = 0.05, 1e-6
    value = dkm_objective(input_gram(X), [], Y, [kernel], [], noise, jitter)
    Xn, y = to_numpy(X), to_numpy(Y)[:, 0]
    sq = ((Xn[:, None, :] - Xn[None, :, :]) ** 2).sum(-1) / Xn.shape[1]
    K = 1.3 * np.exp(-sq / (2 * 0.8**2)) + (jitter + noise) * np.eye(len(y))
    sign, logdet = np.linalg.slogdet(K)
    direct = -0.5 * (y @ np.linalg.solve(K, y) + logdet + len(y) * math.log(2 * math.pi))
    rng = np.random.default_rng(params["seed"])
    Xt = rng.normal(size=(7, Xn.shape[1]))
    sq_t = ((Xt[:, None, :] - Xn[None, :, :]) ** 2).sum(-1) / Xn.shape[1]
    Kt = 1.3 * np.exp(-sq_t / (2 * 0.8**2))
    mean_direct = Kt @ np.linalg.solve(K, y)
    var_direct = 1.3 + jitter - np.einsum("ij,ji->i", Kt, np.linalg.solve(K, Kt.T))
    mean, var = dkm_predict(X, from_numpy(Xt, xp), Y, [kernel], [], [], noise, jitter)
    errors = {"objective": abs(value - direct) / abs(direct), "mean": _rel(mean[:, 0], mean_direct),
              "variance": _rel(var, var_direct)}
    return Outcome(errors, 1e-10, max(errors.values()) <= 1e-10)


@claim(
    "dkm.gram_kernel_is_feature_kernel",
    paper=PAPER,
    statement="A kernel applied to G0 = X X^T / N0 equals the kernel on the features: SE with lengthscale l "
    "is SE on X with lengthscale l sqrt(N0); arccos is Cho and Saul's first-order arc-cosine kernel; "
    "the normalised Gaussian is sqrt(|x||y|) times an SE kernel on normalised features.",
    stated="max relative error <= 1e-12",
    quick={"P": 30, "N0": 5, "seed": 4},
    full={"P": 200, "N0": 20},
)
def gram_kernel_is_feature_kernel(params, xp):
    rng = np.random.default_rng(params["seed"])
    Xn = rng.normal(size=(params["P"], params["N0"]))
    G0 = input_gram(from_numpy(Xn, xp))
    n0 = Xn.shape[1]
    sq = ((Xn[:, None, :] - Xn[None, :, :]) ** 2).sum(-1)
    norms = np.linalg.norm(Xn, axis=1) / math.sqrt(n0)
    cos = np.clip((Xn @ Xn.T) / n0 / np.outer(norms, norms), -1.0, 1.0)
    theta = np.arccos(cos)
    arccos_feature = np.outer(norms, norms) * (np.sin(theta) + (math.pi - theta) * np.cos(theta)) / math.pi
    U = Xn / np.linalg.norm(Xn, axis=1, keepdims=True)
    sq_unit = ((U[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    errors = {
        "se": _rel(make_kernel("se", lengthscale=0.7)(G0), np.exp(-sq / (2 * (0.7 * math.sqrt(n0)) ** 2))),
        "arccos": _rel(make_kernel("arccos")(G0), arccos_feature),
        "normalised_gaussian": _rel(make_kernel("normalised_gaussian")(G0),
                                    np.outer(norms, norms) * np.exp(-sq_unit / 2)),
    }
    return Outcome(errors, 1e-12, max(errors.values()) <= 1e-12)


@claim(
    "dkm.sparse_equals_full",
    paper=PAPER,
    statement="The inducing-point DKM with the inducing inputs equal to all training inputs has the same "
    "objective as the full DKM (at jitter 1e-9 on every kernel matrix).",
    stated="relative objective difference <= 1e-6",
    quick={"P": 20, "seed": 5, "jitter": 1e-9},
    full={"P": 100},
)
def sparse_equals_full(params, xp):
    X, Y, rng = _problem(xp, params["P"], params["seed"])
    G0, jitter = input_gram(X), params["jitter"]
    kernels = [make_kernel("se")] * 3
    blocks = input_blocks(X, X)
    start = nngp_grams(G0, kernels, 2, jitter)
    perturbed = [g + 0.2 * _random_pd(rng, params["P"], xp) for g in start]
    worst = 0.0
    for grams in (start, perturbed):
        full = dkm_objective(G0, grams, Y, kernels, [1.0, 1.0], 0.1, jitter)
        sparse = sparse_objective(blocks, Y, kernels, [1.0, 1.0], grams, 0.1, jitter)
        worst = max(worst, abs(full - sparse) / abs(full))
    return Outcome({"max_rel_objective_diff": worst}, 1e-6, worst <= 1e-6)


@claim(
    "dkm.optimum_positive_definite",
    paper=PAPER,
    statement="The optimal Gram matrices are positive definite (-log|G| is a barrier) and the test-point "
    "variances g_t of the conditional Grams are nonnegative.",
    stated="min eigenvalue of every optimal G_l > 0 and min g_t >= 0; solver converged",
    quick={"P": 30, "seed": 6, "nu": 0.5},
    full={"P": 120},
)
def optimum_positive_definite(params, xp):
    from kernels.dkm.sparse import SparseBlocks, propagate

    X, Y, rng = _problem(xp, params["P"], params["seed"])
    G0 = input_gram(X)
    kernels = [make_kernel("se")] * 3
    sol = solve_dkm(G0, Y, kernels, [params["nu"]] * 2, 0.05, tol=1e-7, max_iter=3000)
    min_eig = min(float(np.min(np.linalg.eigvalsh(to_numpy(g)))) for g in sol.grams)
    # test points conditioned on the training points as the "inducing" set
    Xt = from_numpy(rng.normal(size=(20, X.shape[1])) * 1.5, xp)
    blocks = input_blocks(X, Xt)
    layers = propagate(SparseBlocks(G0, blocks.G_ti, blocks.g_t), kernels, sol.grams, 1e-6)
    min_gt = min(float(np.min(to_numpy(b.g_t))) for b in layers)
    passed = min_eig > 0 and min_gt >= 0 and sol.converged
    return Outcome({"min_eigenvalue": min_eig, "min_g_t": min_gt, "n_iter": sol.n_iter, "converged": sol.converged},
                   "> 0", passed)


@claim(
    "dkm.small_step_ascent",
    paper=PAPER,
    statement="Full-batch gradient ascent with small steps never decreases the DKM objective.",
    stated="every step changes the objective by >= -1e-12 |L|",
    quick={"P": 20, "steps": 60, "step": 1e-3, "seed": 7},
    # a step is small next to the Grams' smallest eigenvalue: 1.6e-4 at P = 20, 1.0e-6 at P = 60 (where a
    # step of 1e-4 already leaves the positive definite cone)
    full={"P": 60, "steps": 300, "step": 1e-5},
)
def small_step_ascent(params, xp):
    X, Y, _ = _problem(xp, params["P"], params["seed"])
    G0 = input_gram(X)
    kernels = [make_kernel("se")] * 3
    V = [to_numpy(g) for g in nngp_grams(G0, kernels, 2, 1e-6)]
    V = [np.linalg.cholesky(g) for g in V]
    values, worst = [], math.inf
    for _ in range(params["steps"]):
        grams = [from_numpy(v @ v.T, xp) for v in V]
        value, grad = dkm_objective_and_grad(G0, grams, Y, kernels, [1.0, 1.0], 0.1)
        values.append(value)
        # ascent on G = V V^T: dL/dV = (Gbar + Gbar^T) V
        V = [v + params["step"] * (to_numpy(g) + to_numpy(g).T) @ v / params["P"] for v, g in zip(V, grad.grams)]
    changes = np.diff(values)
    worst = float(changes.min() / abs(values[0]))
    return Outcome({"min_relative_change": worst, "total_gain": values[-1] - values[0]}, -1e-12, worst >= -1e-12)


@claim(
    "dkm.linear_closed_form",
    paper=PAPER,
    statement="Linear kernel, equal nu, fixed top Gram G_(L+1): the optimum is "
    "G_l = G0^(1/2) (G0^(-1/2) G_(L+1) G0^(-1/2))^(l/(L+1)) G0^(1/2), reached from random starts.",
    stated="max relative Frobenius error over layers and starts <= 1e-5",
    quick={"P": 6, "depth": 2, "starts": 3, "seed": 8},
    full={"P": 15, "depth": 3, "starts": 10},
)
def linear_closed_form(params, xp):
    # A Gaussian likelihood with D = nu columns, Y Y^T / D = G_(L+1) and no noise equals
    # -nu KL(N(0, G_(L+1)) || N(0, G_L)) up to a constant, which fixes the top Gram.
    rng = np.random.default_rng(params["seed"])
    P, L = params["P"], params["depth"]
    D = 2 * P
    X = rng.normal(size=(P, P))
    G0n = X @ X.T / P
    Y = rng.normal(size=(P, D))
    top = Y @ Y.T / D
    w, Q = np.linalg.eigh(G0n)
    root, inv_root = Q @ np.diag(np.sqrt(w)) @ Q.T, Q @ np.diag(1 / np.sqrt(w)) @ Q.T
    m_w, m_Q = np.linalg.eigh(inv_root @ top @ inv_root)
    expected = [root @ m_Q @ np.diag(m_w ** (l / (L + 1))) @ m_Q.T @ root for l in range(1, L + 1)]
    kernels = [make_kernel("linear")] * (L + 1)
    worst = 0.0
    for _ in range(params["starts"]):
        init = [from_numpy(g, xp) for g in (G0n + _rnd(rng, P) for _ in range(L))]
        sol = solve_dkm(from_numpy(G0n, xp), from_numpy(Y, xp), kernels, [float(D)] * L, 1e-13, jitter=0.0,
                        init=init, tol=1e-10, max_iter=5000)
        worst = max(worst, max(_rel(sol.grams[l], expected[l]) for l in range(L)))
    return Outcome({"max_rel_error": worst}, 1e-5, worst <= 1e-5)


def _rnd(rng, P):
    A = rng.normal(size=(P, P))
    return A @ A.T / P


@claim(
    "dkm.permutation_equivariance",
    paper=PAPER,
    statement="Permuting the data points permutes the optimal Gram matrices and leaves the objective unchanged.",
    stated="rel. Gram difference <= 1e-5 and rel. objective difference <= 1e-9",
    quick={"P": 25, "seed": 9},
    full={"P": 80},
)
def permutation_equivariance(params, xp):
    X, Y, rng = _problem(xp, params["P"], params["seed"])
    perm = rng.permutation(params["P"])
    kernels = [make_kernel("se")] * 3
    a = solve_dkm(input_gram(X), Y, kernels, [1.0, 1.0], 0.1, tol=1e-9, max_iter=3000)
    Xp, Yp = from_numpy(to_numpy(X)[perm], xp), from_numpy(to_numpy(Y)[perm], xp)
    b = solve_dkm(input_gram(Xp), Yp, kernels, [1.0, 1.0], 0.1, tol=1e-9, max_iter=3000)
    gram_diff = max(_rel(to_numpy(b.grams[l]), to_numpy(a.grams[l])[np.ix_(perm, perm)]) for l in range(2))
    obj_diff = abs(a.objective - b.objective) / abs(a.objective)
    return Outcome({"rel_gram_diff": gram_diff, "rel_objective_diff": obj_diff}, {"gram": 1e-5, "objective": 1e-9},
                   gram_diff <= 1e-5 and obj_diff <= 1e-9)


@claim(
    "dkm.uci_representation_learning",
    paper=PAPER,
    statement="Representation learning helps: on UCI regression the DKM (finite nu) has a higher test "
    "log-likelihood than the NNGP (nu = inf) with the same kernel, reported per data set.",
    stated="DKM mean test log-likelihood > NNGP's on every data set run",
    quick={"datasets": ["yacht", "energy"], "splits": 1, "depth": 2, "nu": 10.0, "max_iter": 100},
    full={"datasets": ["yacht", "energy", "concrete", "wine-quality-red"], "splits": 20, "max_iter": 200},
    known_failure=(
        "quick scale, split 0, depth 2, nu = 10, NNGP hyperparameters: it holds on energy (sparse, M = 100; "
        "test log-lik. -1.38 vs -1.73, RMSE 0.47 vs 1.30) but not on yacht (full DKM): RMSE improves "
        "(0.36 vs 0.55) while the test log-likelihood drops (-0.49 vs -0.18), the learned Grams make the "
        "predictive variance overconfident (mean squared z-score 2.7 vs 1.7). Not the solver (every fit "
        "converged) nor fixable by the noise: learned jointly under the DKM objective the noise goes to its "
        "lower bound on yacht splits 0-3 (1e-6: no convergence in 2000 iterations, test log-lik. -35; "
        "floors 1e-3 / 1e-2: underconfident, -0.71 / -1.46, against the NNGP's -0.03)"
    ),
    known_failure_full=(
        "all 20 splits, max_iter 200, every fit converged: it holds on energy (test log-lik. -1.384 vs -1.781), concrete (-3.180 "
        "vs -3.300) and wine-quality-red (-0.960 vs -0.971), not on yacht (-0.510 vs -0.049, RMSE 0.412 for "
        "both): the overconfident learned Grams of the quick-scale finding, on every split"
    ),
)
def uci_representation_learning(params, xp):
    from theory.dkm.uci import fit_split

    per_dataset = {}
    for dataset in params["datasets"]:
        records = [r for split in range(params["splits"])
                   for r in fit_split(dataset, split, depth=params["depth"], nu=params["nu"],
                                      max_iter=params["max_iter"], models=("nngp", "dkm"))]
        summary = {}
        for model in ("nngp", "dkm"):
            mine = [r for r in records if r["model"] == model]
            summary[f"{model}_rmse"] = float(np.mean([r["rmse"] for r in mine]))
            summary[f"{model}_test_ll"] = float(np.mean([r["test_ll"] for r in mine]))
            summary[f"{model}_converged"] = f"{sum(r['converged'] for r in mine)}/{len(mine)}"
        summary["holds"] = summary["dkm_test_ll"] > summary["nngp_test_ll"]
        per_dataset[dataset] = summary
    passed = all(v["holds"] for v in per_dataset.values())
    return Outcome(per_dataset, "dkm_test_ll > nngp_test_ll", passed)
