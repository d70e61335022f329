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

from kernels.backend import array_device, array_namespace

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
    "sparse_whitened_objective_and_grad",
    "sparse_whitened_grams",
    "solve_sparse_dkm",
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


def _eye(m, like):
    """I_m in the dtype, namespace and device of ``like``."""
    return array_namespace(like).eye(m, dtype=like.dtype, device=array_device(like))


def _kernel_blocks(kernel, blocks: SparseBlocks, jitter):
    xp = array_namespace(blocks.G_ii)
    d_i = xp.linalg.diagonal(blocks.G_ii)
    raw_ii = kernel(blocks.G_ii)
    K_ii = raw_ii + jitter * _eye(raw_ii.shape[0], raw_ii)
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
    g_t = k_t - xp.vecdot(C, C, axis=-2) + xp.vecdot(CtH, CtH, axis=-1)
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
    chol_C = cholesky(W @ W.T + _eye(M, K_ii), "I + L^-1 K_it K_ti L^-T / noise_var", 0.0)
    Q = solve_triangular(chol_C, W, lower=True)
    return _OutputPosterior(chol_K, W, chol_C, Q, logdet_from_factor(chol_C))


def _output_moments(post: _OutputPosterior, W_star, k_star, Y, noise_var, Q_star=None):
    """Predictive mean and latent variance at points whose whitened cross-covariance is W_star
    (= L^-1 K_i* / sigma): mean = W_*^T C^-1 W Y, var = k_* - sigma^2 ||W_*||^2 + sigma^2 ||R^-1 W_*||^2
    (``Q_star`` = R^-1 W_*, when known: ``post.Q`` at the training points)."""
    xp = array_namespace(W_star)
    if Q_star is None:
        Q_star = solve_triangular(post.chol_C, W_star, lower=True)
    mean = Q_star.T @ (post.Q @ Y)
    var = k_star + noise_var * (xp.vecdot(Q_star, Q_star, axis=-2) - xp.vecdot(W_star, W_star, axis=-2))
    return mean, var


def _forward_layers(blocks0: SparseBlocks, kernels, nu, grams_ii, jitter, factors, with_kl=True):
    """Per layer: the kernel blocks of the layer below, the conditional Grams and the KL term."""
    xp = array_namespace(blocks0.G_ii)
    cache, blocks, kl_total = [], blocks0, 0.0
    for l in range(len(nu)):
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
                        + logdet_from_factor(cond.A) - M) if with_kl else 0.0
            kl_total += nu[l] * kl
            Kinv, Ainv = inverse_from_factor(cond.A)
            Ginv, _ = inverse_from_factor(cond.F)
            entry.update(Kinv=Kinv, Ginv=Ginv, B=cond.C.T @ Ainv, kl=kl)
            blocks = SparseBlocks(G_ii, cond.G_ti, cond.g_t)
        cache.append(entry)
    return cache, blocks, kl_total


def _output_elbo(blocks: SparseBlocks, Y2, kernel, noise_var, jitter):
    """The collapsed output bound and dL/d(K_ii, K_ti, k_t), dL/dlog sigma^2 at the optimal (mu, A)."""
    xp = array_namespace(blocks.G_ii, Y2)
    P, D = Y2.shape
    raw_ii, K_ii, K_ti, k_t = _kernel_blocks(kernel, blocks, jitter)
    post = _output_posterior(K_ii, K_ti, noise_var, jitter)
    M = K_ii.shape[0]
    mean, var = _output_moments(post, post.W, k_t, Y2, noise_var, Q_star=post.Q)
    R = Y2 - mean
    sum_r2, sum_var = float(xp.sum(R * R)), float(xp.sum(var))
    expected_loglik = -0.5 * P * D * (LOG_2PI + math.log(noise_var)) - (sum_r2 + D * sum_var) / (2 * noise_var)
    Cinv, Rinv = inverse_from_factor(post.chol_C)
    CinvWY = Cinv @ (post.W @ Y2)
    kl_out = 0.5 * (D * float(xp.sum(Rinv * Rinv)) + float(xp.sum(CinvWY * CinvWY)) / noise_var - D * M
                    + D * post.logdet_C)
    # gradients at fixed (mu, A) = (L C^-1 W Y / sigma, L C^-1 L^T): the envelope theorem
    Kinv, Linv = inverse_from_factor(post.chol_K)
    sigma = math.sqrt(noise_var)
    mu = post.chol_K @ CinvWY / sigma
    A = post.chol_K @ Cinv @ post.chol_K.T
    A = (A + A.T) / 2
    B = post.W.T @ (Linv * sigma)  # K_ti K_ii^-1
    c = D / (2 * noise_var)
    # Bbar = R mu^T / sigma^2 - c (2 B A - K_ti), updated in place: every P x M temporary costs a pass
    Bbar = R @ (mu.T / noise_var)
    Bbar -= B @ ((2.0 * c) * A)
    Bbar += c * K_ti
    K_tibar = Bbar @ Kinv
    K_tibar += c * B
    K_iibar = -(B.T @ Bbar @ Kinv) - 0.5 * (D * Kinv - Kinv @ (D * A + mu @ mu.T) @ Kinv)
    k_tbar = xp.zeros_like(k_t) - c
    d_log_noise = noise_var * (-P * D / (2 * noise_var) + (sum_r2 + D * sum_var) / (2 * noise_var**2))
    return expected_loglik - kl_out, raw_ii, K_ti, (K_iibar, K_tibar, k_tbar), d_log_noise


def _kernel_blocks_vjp(kernel, top: SparseBlocks, raw_top, K_ti_now, bars, kernel_grad=True):
    """dL/d(G_ii, G_ti, g_t) of the layer below and {param: dL/dlog param} (0 unless ``kernel_grad``) from
    dL/d(K_ii, K_ti, k_t); ``raw_top`` and ``K_ti_now`` are the kernel's K(G_ii) and K_ti of the forward pass."""
    xp = array_namespace(top.G_ii)
    K_iibar, K_tibar, k_tbar = bars
    Gii_bar, hyper_full = kernel.vjp(top.G_ii, K_iibar, raw_top)
    d_i = xp.linalg.diagonal(top.G_ii)
    Gti_bar, gt_bar, di_bar, hyper_cross = kernel.cross_vjp(top.G_ti, top.g_t, d_i, K_ti_now, K_tibar,
                                                             hyper=kernel_grad)
    gt_bar2, hyper_diag = kernel.diag_vjp(top.g_t, k_tbar)
    hyper = ({n: hyper_full[n] + hyper_cross[n] + hyper_diag[n] for n in hyper_full} if kernel_grad
             else kernel.zero_hyper())
    Gii_bar = Gii_bar + _eye(di_bar.shape[0], di_bar) * di_bar[None, :]
    return Gii_bar, Gti_bar, gt_bar + gt_bar2, hyper


def _conditional_vjp(entry, G_ii, nu_l, Gii_bar, Gti_bar, gt_bar):
    """dL/dG_ii (KL included) and dL/d(K_ii, K_ti, k_t) through G_ti = B G_ii, g_t = diag(B G_ii B^T) + k_t - diag(B K_it)."""
    Bl, Kinv_l = entry["B"], entry["Kinv"]
    gt_B = gt_bar[:, None] * Bl
    pulled = gt_B + Gti_bar
    Gii_bar = Gii_bar + Bl.T @ pulled  # four P x M x M products in all (G_ii is symmetric)
    Gii_bar = Gii_bar - (0.5 * nu_l) * (Kinv_l - entry["Ginv"])
    pulled += gt_B  # Gti_bar + 2 gt_B, in place: every P x M temporary costs a pass over memory
    Bbar_l = pulled @ ((G_ii + G_ii.T) / 2)
    Bbar_l -= gt_bar[:, None] * entry["K_ti"]
    K_tibar = Bbar_l @ Kinv_l
    K_tibar -= gt_B
    K_iibar = -(Bl.T @ Bbar_l @ Kinv_l) - (0.5 * nu_l) * (Kinv_l - Kinv_l @ G_ii @ Kinv_l)
    return Gii_bar, (K_iibar, K_tibar, gt_bar)


def sparse_objective_and_grad(
    blocks0: SparseBlocks, Y, kernels, nu, grams_ii, noise_var: float, jitter: float = 1e-6, factors=None, *,
    with_kl: bool = True, kernel_grad: bool = True,
):
    """(value, :class:`DKMGradient`) of the sparse DKM objective; gradients w.r.t. the inducing Grams.

    The value is formed from Cholesky factors only (see :class:`_Conditional`); the gradients use
    explicit inverses of K_ii, which is accurate enough for them and keeps the formulas short.
    ``factors[l]`` (optional) is a lower Cholesky factor of ``grams_ii[l]``.  ``with_kl=False`` leaves
    out the KL terms (value and gradient): the output bound alone, for the whitened solver, which
    adds the KL terms in its own coordinates.  ``kernel_grad=False`` leaves the kernel-parameter gradients
    at 0 and skips the pullback into the input blocks (data), which only they need.
    """
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    L = len(nu)
    if len(kernels) != L + 1:
        raise ValueError(f"need len(kernels) = len(nu) + 1, got {len(kernels)} and {len(nu)}")
    cache, top, kl_total = _forward_layers(blocks0, kernels, nu, grams_ii, jitter, factors, with_kl)
    elbo, raw_top, K_ti_top, bars, d_log_noise = _output_elbo(top, Y2, kernels[L], noise_var, jitter)
    kernel_grads, gram_grads = [None] * (L + 1), [None] * L
    for l in range(L, -1, -1):
        if l == 0 and not kernel_grad:
            kernel_grads[0] = kernels[0].zero_hyper()
            break
        # kernel l produced the blocks (K_ii, K_ti, k_t) from the blocks of layer l ("top")
        Gii_bar, Gti_bar, gt_bar, kernel_grads[l] = _kernel_blocks_vjp(kernels[l], top, raw_top, K_ti_top, bars,
                                                                       kernel_grad)
        if l == 0:
            break
        entry = cache[l - 1]
        if math.isinf(nu[l - 1]):
            bars = (Gii_bar, Gti_bar, gt_bar)
        else:
            gram_grads[l - 1], bars = _conditional_vjp(entry, top.G_ii, nu[l - 1] if with_kl else 0.0, Gii_bar,
                                                       Gti_bar, gt_bar)
        top, raw_top, K_ti_top = entry["blocks_prev"], entry["raw_ii"], entry["K_ti"]
    return elbo - kl_total, DKMGradient(grams=gram_grads, kernels=kernel_grads, log_noise_var=d_log_noise)


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
    chol_y = cholesky(K_ii + noise_var * _eye(K_ii.shape[0], K_ii), "K(G_L) + noise_var I",
                      jitter + noise_var)
    V = solve_triangular(chol_y, K_ti.T, lower=True)
    mean = V.T @ solve_triangular(chol_y, Y2, lower=True)
    var = k_t - xp.sum(V * V, axis=0)
    return mean, var


__all__ += ["dkm_predict"]


def _whitened_sparse_forward(blocks0: SparseBlocks, W, kernels, jitter):
    """Inducing Grams G_ii^l = A_l U_l U_l^T A_l^T (A_l = chol K_ii^l, U_l = I + W_l) and the chain the
    gradient needs."""
    xp = array_namespace(blocks0.G_ii)
    grams, factors, chain, G_prev = [], [], [], blocks0.G_ii
    for l, W_l in enumerate(W):  # G_ii^l depends on the inducing blocks only: no P x M work here
        raw_ii = kernels[l](G_prev)
        K_ii = raw_ii + jitter * _eye(raw_ii.shape[0], raw_ii)
        if W_l is None:
            A, F, G_ii = None, None, K_ii
        else:
            A = cholesky(K_ii, f"K_ii of layer {l + 1}", jitter)
            F = A + A @ W_l
            G_ii = F @ F.T
        chain.append((G_prev, raw_ii, A, F))
        G_prev = G_ii
        grams.append(G_ii)
        factors.append(F)
    return grams, factors, chain


def _whitened_sparse_pullback(U, kernels, chain, grad, kernel_grad):
    """dL/dU_l (and kernel-parameter terms through A_l = chol K_ii^l) from the partials dL/dG_ii^l."""
    from kernels.dkm.whitened import cholesky_vjp

    dU = [None] * len(U)
    extra = [dict.fromkeys(k.learnable, 0.0) for k in kernels]
    free = [l for l, u in enumerate(U) if u is not None]
    lowest = 0 if kernel_grad else (min(free) if free else len(U))
    carry = None  # dL/dG_ii^l through the Cholesky factor of the layer above
    for l in range(len(U) - 1, lowest - 1, -1):
        G_prev, raw, A, F = chain[l]
        total = grad.grams[l] if U[l] is not None else None
        total = carry if total is None else (total if carry is None else total + carry)
        if U[l] is None:
            Kbar = total
        else:
            xp = array_namespace(total)
            Fbar = (total + total.T) @ F
            dU[l] = xp.tril(A.T @ Fbar)
            if l == lowest and not kernel_grad:
                break
            Kbar = cholesky_vjp(A, xp.tril(Fbar + Fbar @ U[l].T))
        if Kbar is None:
            carry = None
            continue
        carry, hyper = kernels[l].vjp(G_prev, Kbar, raw)
        for name in kernels[l].learnable:
            extra[l][name] += hyper[name]
    return dU, extra


def sparse_whitened_objective_and_grad(blocks0: SparseBlocks, W, Y, kernels, nu, noise_var: float,
                                       jitter: float = 1e-6, *, kernel_grad: bool = False):
    """(L, :class:`kernels.dkm.whitened.WhitenedGradient`) of the sparse objective in whitened coordinates
    G_ii^l = A_l U_l U_l^T A_l^T, A_l = chol(K_ii^l), U_l = I + W_l (None in ``W``: an NNGP layer).

    The output bound and its gradient come from :func:`sparse_objective_and_grad` without the KL
    terms; the KL terms are added in W (:func:`kernels.dkm.whitened.whitened_kl`), exact for any nu.
    The kernels' parameter gradients are formed only with ``kernel_grad`` (empty dicts otherwise).
    """
    from kernels.dkm.whitened import WhitenedGradient, whitened_kl, whitened_kl_grad

    Y2 = Y if Y.ndim == 2 else Y[:, None]
    U = W
    grams, factors, chain = _whitened_sparse_forward(blocks0, W, kernels, jitter)
    value, grad = sparse_objective_and_grad(blocks0, Y2, kernels, nu, [g if u is not None else None
                                                                       for g, u in zip(grams, W)],
                                            noise_var, jitter, factors, with_kl=False, kernel_grad=kernel_grad)
    dU, extra = _whitened_sparse_pullback(U, kernels, chain, grad, kernel_grad)
    for l, W_l in enumerate(W):
        if W_l is not None:
            value -= nu[l] * whitened_kl(W_l)
            dU[l] = dU[l] - nu[l] * whitened_kl_grad(W_l)
    hyper = ([{n: g[n] + e[n] for n in k.learnable} for k, g, e in zip(kernels, grad.kernels, extra)]
             if kernel_grad else [{} for _ in kernels])  # as the full model: none formed
    return value, WhitenedGradient(U=dU, kernels=hyper, log_noise_var=grad.log_noise_var)


def sparse_whitened_grams(blocks0: SparseBlocks, W, kernels, jitter: float = 1e-6) -> list:
    """Inducing Grams G_ii^1..G_ii^L for whitened factors U_l = I + W_l (None: NNGP layer)."""
    return _whitened_sparse_forward(blocks0, W, kernels, jitter)[0]


def solve_sparse_dkm(blocks0: SparseBlocks, Y, kernels, nu, noise_var: float, *, jitter: float = 1e-6,
                     learn_kernel: bool = False, learn_noise: bool = False, min_noise_var: float = 1e-6,
                     method: str = "lbfgs", tol: float = 1e-6, max_iter: int = 2000):
    """Maximise the sparse DKM objective over the inducing Grams (whitened), as :func:`kernels.dkm.solve_dkm`.

    ``blocks0``: layer-0 blocks from :func:`input_blocks`; the start is the NNGP; other arguments as in
    :func:`kernels.dkm.solve_dkm`.
    """
    import numpy as np

    from kernels.dkm.objective import _check_layers
    from kernels.dkm.solver import Parameters, maximise

    xp = array_namespace(blocks0.G_ii, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    kernels = list(kernels)
    _check_layers(kernels, nu)
    params = Parameters([blocks0.G_ii.shape[0]] * len(nu), nu, kernels, noise_var, learn_kernel=learn_kernel,
                        learn_noise=learn_noise, xp=xp, dtype=blocks0.G_ii.dtype, min_noise_var=min_noise_var,
                        device=array_device(blocks0.G_ii))
    return maximise(
        lambda U, ks, s2: sparse_whitened_objective_and_grad(blocks0, U, Y2, ks, params.nu, s2, jitter,
                                                             kernel_grad=learn_kernel),
        lambda U, ks: sparse_whitened_grams(blocks0, U, ks, jitter),
        params, np.clip(params.pack(None), *params.bounds()), Y2.shape[0] * Y2.shape[1],
        method=method, tol=tol, max_iter=max_iter)
