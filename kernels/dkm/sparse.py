"""Sparse (inducing-point) deep kernel machine: cost O(L (M^3 + P M^2)), linear in P.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097 (inducing-point DKM).

Only the inducing Gram G_ii^l (M x M) of each layer is learned.  With K_ii, K_ti, k_t the kernel
of layer l applied to the blocks of layer l - 1 (K_ii and k_t carry the jitter) and B = K_ti K_ii^-1,

    G_ti = B G_ii,   g_t = diag(B G_ii B^T) + k_t - diag(B K_it),
    L = ELBO_out - sum_l nu_l KL( N(0, G_ii^l) || N(0, K_ii^l) ).

Output layer: q(f_i) = N(mu, A) with A shared by the D output columns;
    ELBO_out = sum_t,lambda E_q log N(y_t,lambda; f_t,lambda, sigma^2) - sum_lambda KL(N(mu_lambda, A) || N(0, K_ii)),
    E_q f_t = (B mu)_t,  Var_q f_t = k_t - (B K_it)_tt + (B A B^T)_tt.
For given Grams, mu and A are set to their optimum (Titsias 2009):
    S = (K_ii + sigma^-2 K_it K_ti)^-1,  A = K_ii S K_ii,  mu = sigma^-2 K_ii S K_it Y,
where ELBO_out equals the collapsed bound; by the envelope theorem its gradient with respect to
the kernels is the partial gradient at fixed (mu, A), which is what is coded below.
Predictions: mean B_* mu, variance k_* - (B_* K_i*)_** + (B_* A B_*^T)_**.
Every value is formed from Cholesky factors (K_ii = A A^T, G_ii = F F^T, C = A^-1 K_it, H = A^-1 F:
G_ti = C^T H F^T, g_t = k_t - ||C_t||^2 + ||H^T C_t||^2, tr(K_ii^-1 G_ii) = ||H||^2), never from
K_ii^-1, whose entries reach 1 / jitter when inducing inputs nearly coincide.
With the inducing inputs equal to all training inputs the objective equals the full DKM's
(up to the jitter): G_ti = G_ii, g_t = diag G_ii and the collapsed bound is the exact marginal likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.backend import array_namespace

from kernels.linalg import cholesky, inverse_from_factor, logdet_from_factor, solve_triangular
from kernels.dkm.objective import LOG_2PI, DKMGradient

__all__ = [
    "SparseBlocks",
    "input_blocks",
    "propagate",
    "sparse_nngp_grams",
    "sparse_objective_and_grad",
    "sparse_objective",
    "sparse_predict",
]


@dataclass
class SparseBlocks:
    """Gram blocks of one layer: inducing G_ii (M x M), cross G_ti (P x M), diagonal g_t (P)."""

    G_ii: object
    G_ti: object
    g_t: object


def input_blocks(Z, X) -> SparseBlocks:
    """Layer-0 blocks from inducing inputs Z (M x N0) and inputs X (P x N0)."""
    xp = array_namespace(Z, X)
    n0 = X.shape[1]
    return SparseBlocks((Z @ Z.T) / n0, (X @ Z.T) / n0, xp.sum(X * X, axis=1) / n0)


def _eye(xp, m, dtype):
    return xp.eye(m, dtype=dtype)


def _kernel_blocks(kernel, blocks: SparseBlocks, jitter):
    xp = array_namespace(blocks.G_ii)
    d_i = xp.linalg.diagonal(blocks.G_ii)
    raw_ii = kernel(blocks.G_ii)
    K_ii = raw_ii + jitter * _eye(xp, raw_ii.shape[0], raw_ii.dtype)
    K_ti = kernel.cross(blocks.G_ti, blocks.g_t, d_i)
    k_t = kernel.diag(blocks.g_t) + jitter
    return raw_ii, K_ii, K_ti, k_t


@dataclass
class _Conditional:
    """One layer's conditional Grams, computed through Cholesky factors only.

    With K_ii = A A^T, G_ii = F F^T, C = A^-1 K_it and H = A^-1 F:
    G_ti = C^T H F^T and g_t = k_t - ||C_t||^2 + ||H^T C_t||^2, both O(1) quantities formed
    without K_ii^-1, whose entries are as large as 1 / jitter (explicit inverses made the
    objective noisy at the 1e-2 level on near-duplicate inducing inputs); tr(K_ii^-1 G_ii) = ||H||^2.
    """

    A: object
    F: object
    C: object
    H: object
    G_ti: object
    g_t: object


def _conditional(xp, K_ii, K_ti, k_t, G_ii, *, factor=None, name="K_ii", jitter=0.0):
    A = cholesky(K_ii, name, jitter)
    F = cholesky(G_ii, "G_ii", 0.0) if factor is None else factor
    C = solve_triangular(A, K_ti.T, lower=True)
    H = solve_triangular(A, F, lower=True)
    CtH = C.T @ H
    G_ti = CtH @ F.T
    g_t = k_t - xp.sum(C * C, axis=0) + xp.sum(CtH * CtH, axis=1)
    return _Conditional(A, F, C, H, G_ti, g_t)


def propagate(blocks: SparseBlocks, kernels, grams_ii, jitter: float = 1e-6) -> list[SparseBlocks]:
    """Blocks of layers 1..L given the layer-0 blocks and the inducing Grams (None: NNGP layer)."""
    xp = array_namespace(blocks.G_ii)
    out = []
    for l, G_ii in enumerate(grams_ii):
        _, K_ii, K_ti, k_t = _kernel_blocks(kernels[l], blocks, jitter)
        if G_ii is None:
            blocks = SparseBlocks(K_ii, K_ti, k_t)
        else:
            cond = _conditional(xp, K_ii, K_ti, k_t, G_ii, name=f"K_ii of layer {l + 1}", jitter=jitter)
            blocks = SparseBlocks(G_ii, cond.G_ti, cond.g_t)
        out.append(blocks)
    return out


def sparse_nngp_grams(blocks: SparseBlocks, kernels, depth: int, jitter: float = 1e-6) -> list:
    """Inducing Grams of the NNGP recursion, G_ii^l = K_l(G_ii^(l-1)) + jitter I."""
    return [b.G_ii for b in propagate(blocks, kernels, [None] * depth, jitter)]


@dataclass
class _OutputPosterior:
    """Optimal q(f_i) = N(mu, A) of the output layer and the collapsed-bound pieces.

    With K_ii = L L^T, W = L^-1 K_it / sigma and C = I + W W^T = R R^T (well conditioned):
    A = L C^-1 L^T, mu = L C^-1 W Y / sigma, and at the training points
    mean = W^T C^-1 W Y,  var = k_t - sigma^2 ||W_t||^2 + sigma^2 ||R^-1 W_t||^2,
    tr(K_ii^-1 A) = tr(C^-1),  mu^T K_ii^-1 mu = ||C^-1 W Y||^2 / sigma^2,  log|K_ii| - log|A| = log|C|.
    """

    chol_K: object
    W: object
    chol_C: object
    Q: object  # R^-1 W
    logdet_C: float


def _output_posterior(K_ii, K_ti, noise_var, jitter):
    xp = array_namespace(K_ii)
    M = K_ii.shape[0]
    chol_K = cholesky(K_ii, "K_ii of the output layer", jitter)
    W = solve_triangular(chol_K, K_ti.T, lower=True) / math.sqrt(noise_var)
    chol_C = cholesky(W @ W.T + _eye(xp, M, K_ii.dtype), "I + L^-1 K_it K_ti L^-T / noise_var", 0.0)
    Q = solve_triangular(chol_C, W, lower=True)
    return _OutputPosterior(chol_K, W, chol_C, Q, logdet_from_factor(chol_C))


def _output_moments(post: _OutputPosterior, W_star, k_star, Y, noise_var):
    """Predictive mean and latent variance at points whose whitened cross-covariance is W_star
    (= L^-1 K_i* / sigma): mean = W_*^T C^-1 W Y, var = k_* - sigma^2 ||W_*||^2 + sigma^2 ||R^-1 W_*||^2."""
    xp = array_namespace(W_star)
    Q_star = solve_triangular(post.chol_C, W_star, lower=True)
    mean = Q_star.T @ (post.Q @ Y)
    var = k_star + noise_var * (xp.sum(Q_star * Q_star, axis=0) - xp.sum(W_star * W_star, axis=0))
    return mean, var


def sparse_objective_and_grad(
    blocks0: SparseBlocks, Y, kernels, nu, grams_ii, noise_var: float, jitter: float = 1e-6, factors=None
):
    """(value, :class:`DKMGradient`) of the sparse DKM objective; gradients w.r.t. the inducing Grams.

    The value is formed from Cholesky factors only (see :class:`_Conditional`); the gradients use
    explicit inverses of K_ii, which is accurate enough for them and keeps the formulas short.
    """
    xp = array_namespace(blocks0.G_ii, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    P, D = Y2.shape
    L = len(nu)
    if len(kernels) != L + 1:
        raise ValueError(f"need len(kernels) = len(nu) + 1, got {len(kernels)} and {len(nu)}")
    # forward
    cache, blocks, value = [], blocks0, 0.0
    for l in range(L):
        raw_ii, K_ii, K_ti, k_t = _kernel_blocks(kernels[l], blocks, jitter)
        entry = {"blocks_prev": blocks, "raw_ii": raw_ii, "K_ii": K_ii, "K_ti": K_ti, "k_t": k_t}
        if math.isinf(nu[l]):
            blocks = SparseBlocks(K_ii, K_ti, k_t)
        else:
            G_ii = grams_ii[l]
            factor = None if factors is None else factors[l]
            cond = _conditional(xp, K_ii, K_ti, k_t, G_ii, factor=factor, name=f"K_ii of layer {l + 1}",
                                jitter=jitter)
            M = G_ii.shape[0]
            kl = 0.5 * (float(xp.sum(cond.H * cond.H)) - logdet_from_factor(cond.F)
                        + logdet_from_factor(cond.A) - M)
            value -= nu[l] * kl
            Kinv, Ainv = inverse_from_factor(cond.A)
            Ginv, _ = inverse_from_factor(cond.F)
            entry.update(Kinv=Kinv, Ginv=Ginv, B=cond.C.T @ Ainv, kl=kl)
            blocks = SparseBlocks(G_ii, cond.G_ti, cond.g_t)
        cache.append(entry)
    raw_ii, K_ii, K_ti, k_t = _kernel_blocks(kernels[L], blocks, jitter)
    post = _output_posterior(K_ii, K_ti, noise_var, jitter)
    M = K_ii.shape[0]
    mean, var = _output_moments(post, post.W, k_t, Y2, noise_var)
    R = Y2 - mean
    sum_r2, sum_var = float(xp.sum(R * R)), float(xp.sum(var))
    expected_loglik = -0.5 * P * D * (LOG_2PI + math.log(noise_var)) - (sum_r2 + D * sum_var) / (2 * noise_var)
    Cinv, Rinv = inverse_from_factor(post.chol_C)
    CinvWY = Cinv @ (post.W @ Y2)
    kl_out = 0.5 * (D * float(xp.sum(Rinv * Rinv)) + float(xp.sum(CinvWY * CinvWY)) / noise_var - D * M
                    + D * post.logdet_C)
    value += expected_loglik - kl_out

    # backward through the output layer at fixed (mu, A) = (L C^-1 W Y / sigma, L C^-1 L^T)
    Kinv, Linv = inverse_from_factor(post.chol_K)
    sigma = math.sqrt(noise_var)
    mu = post.chol_K @ CinvWY / sigma
    A = post.chol_K @ Cinv @ post.chol_K.T
    A = (A + A.T) / 2
    B = post.W.T @ Linv * sigma  # K_ti K_ii^-1
    c = D / (2 * noise_var)
    Bbar = (R @ mu.T) / noise_var - c * (2.0 * (B @ A) - K_ti)
    K_tibar = Bbar @ Kinv + c * B
    K_iibar = -(B.T @ Bbar @ Kinv) - 0.5 * (D * Kinv - Kinv @ (D * A + mu @ mu.T) @ Kinv)
    k_tbar = xp.zeros_like(k_t) - c
    d_log_noise = noise_var * (-P * D / (2 * noise_var) + (sum_r2 + D * sum_var) / (2 * noise_var**2))
    kernel_grads = [None] * (L + 1)
    gram_grads = [None] * L
    top = blocks
    raw_top = raw_ii
    for l in range(L, -1, -1):
        # kernel l (0-based) produced K_ii, K_ti, k_t from the blocks of layer l ("top")
        Gii_bar, hyper_full = kernels[l].vjp(top.G_ii, K_iibar, raw_top)
        d_i = xp.linalg.diagonal(top.G_ii)
        K_ti_now = kernels[l].cross(top.G_ti, top.g_t, d_i)
        Gti_bar, gt_bar, di_bar, hyper_cross = kernels[l].cross_vjp(top.G_ti, top.g_t, d_i, K_ti_now, K_tibar)
        gt_bar2, hyper_diag = kernels[l].diag_vjp(top.g_t, k_tbar)
        kernel_grads[l] = {n: hyper_full[n] + hyper_cross[n] + hyper_diag[n] for n in hyper_full}
        if l == 0:
            break
        Gii_bar = Gii_bar + _eye(xp, di_bar.shape[0], di_bar.dtype) * di_bar[None, :]
        gt_bar = gt_bar + gt_bar2
        entry = cache[l - 1]
        if math.isinf(nu[l - 1]):
            K_iibar, K_tibar, k_tbar = Gii_bar, Gti_bar, gt_bar
        else:
            Bl, Kinv_l, H = entry["B"], entry["Kinv"], top.G_ii
            Gii_bar = Gii_bar + Bl.T @ (gt_bar[:, None] * Bl) + Bl.T @ Gti_bar
            Gii_bar = Gii_bar - (0.5 * nu[l - 1]) * (Kinv_l - entry["Ginv"])
            gram_grads[l - 1] = Gii_bar
            Bbar_l = Gti_bar @ H.T + gt_bar[:, None] * (Bl @ (H + H.T)) - gt_bar[:, None] * entry["K_ti"]
            K_tibar = Bbar_l @ Kinv_l - gt_bar[:, None] * Bl
            K_iibar = -(Bl.T @ Bbar_l @ Kinv_l) - (0.5 * nu[l - 1]) * (Kinv_l - Kinv_l @ H @ Kinv_l)
            k_tbar = gt_bar
        top = entry["blocks_prev"]
        raw_top = entry["raw_ii"]
    return value, DKMGradient(grams=gram_grads, kernels=kernel_grads, log_noise_var=d_log_noise)


def sparse_objective(blocks0, Y, kernels, nu, grams_ii, noise_var: float, jitter: float = 1e-6) -> float:
    return sparse_objective_and_grad(blocks0, Y, kernels, nu, grams_ii, noise_var, jitter)[0]


def sparse_predict(blocks_train: SparseBlocks, blocks_test: SparseBlocks, Y, kernels, nu, grams_ii,
                   noise_var: float, jitter: float = 1e-6):
    """Predictive mean (P* x D) and latent variance (P*) at test points for given inducing Grams."""
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    L = len(nu)
    top_train = propagate(blocks_train, kernels[:L], grams_ii, jitter)
    top_test = propagate(blocks_test, kernels[:L], grams_ii, jitter)
    tr = top_train[-1] if L else blocks_train
    te = top_test[-1] if L else blocks_test
    _, K_ii, K_ti, _ = _kernel_blocks(kernels[L], tr, jitter)
    post = _output_posterior(K_ii, K_ti, noise_var, jitter)
    _, _, K_si, k_s = _kernel_blocks(kernels[L], te, jitter)
    W_star = solve_triangular(post.chol_K, K_si.T, lower=True) / math.sqrt(noise_var)
    return _output_moments(post, W_star, k_s, Y2, noise_var)


def dkm_predict(X_train, X_test, Y, kernels, nu, grams, noise_var: float, jitter: float = 1e-6):
    """Full DKM predictive mean (P* x D) and latent variance (P*) at X_test.

    Test features are Gaussian given the training Grams, so the test blocks follow the same
    conditional as the inducing-point equations with the training points as the inducing set:
    G_ti = K_ti K_ii^-1 G_l,  g_t = diag(K_ti K_ii^-1 G_l K_ii^-1 K_it) + k_t - diag(K_ti K_ii^-1 K_it);
    where nu = inf this gives the NNGP recursion exactly.  The output is GP regression on K(G_L).
    """
    xp = array_namespace(X_train, X_test, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    G0 = (X_train @ X_train.T) / X_train.shape[1]
    train = SparseBlocks(G0, (X_test @ X_train.T) / X_train.shape[1], xp.sum(X_test * X_test, axis=1) / X_train.shape[1])
    for l in range(len(nu)):
        _, K_ii, K_ti, k_t = _kernel_blocks(kernels[l], train, jitter)
        if math.isinf(nu[l]):
            train = SparseBlocks(K_ii, K_ti, k_t)
        else:
            cond = _conditional(xp, K_ii, K_ti, k_t, grams[l], name=f"K(G_{l}) (prior of layer {l + 1})",
                                jitter=jitter)
            train = SparseBlocks(grams[l], cond.G_ti, cond.g_t)
    raw, K_ii, K_ti, k_t = _kernel_blocks(kernels[len(nu)], train, jitter)
    chol_y = cholesky(K_ii + noise_var * _eye(xp, K_ii.shape[0], K_ii.dtype), "K(G_L) + noise_var I",
                      jitter + noise_var)
    V = solve_triangular(chol_y, K_ti.T, lower=True)
    mean = V.T @ solve_triangular(chol_y, Y2, lower=True)
    var = k_t - xp.sum(V * V, axis=0)
    return mean, var


__all__ += ["dkm_predict"]
