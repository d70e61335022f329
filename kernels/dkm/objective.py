"""The deep kernel machine objective, its KL terms and its exact gradients.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.

With G_0 = X X^T / N_0, K_(l-1) = K_l(G_(l-1)) + jitter I and Gram matrices G_1..G_L (P x P),

    L(G_1..G_L) = log P(Y | G_L) - sum_l nu_l KL( N(0, G_l) || N(0, K_(l-1)) )
    KL(N(0,G) || N(0,K)) = 1/2 [ tr(K^-1 G) - log|G| + log|K| - P ]
    log P(Y | G_L) = sum_lambda log N(y_lambda; 0, K_L + sigma^2 I).

Exact gradients (matrix calculus; used by the solver, checked by finite differences in the tests):

    dKL/dG = 1/2 (K^-1 - G^-1),   dKL/dK = 1/2 (K^-1 - K^-1 G K^-1),
    d log P / dK_y = 1/2 (alpha alpha^T - D K_y^-1),   alpha = K_y^-1 Y,  K_y = K_L + sigma^2 I,

chained through each kernel with :mod:`kernels.dkm.gram_kernels`.  A layer with nu_l = inf is
deterministic, G_l = K_(l-1) (the NNGP recursion); with every nu_l infinite the objective is the
NNGP log marginal likelihood, and with L = 0 it is the GP log marginal likelihood.
Everything here is written against the array API standard (numpy, cupy, array_api_strict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.backend import array_device, array_namespace

from kernels.linalg import (
    cholesky,
    inverse_and_logdet,
    inverse_from_factor,
    logdet_from_factor,
    solve_triangular,
)
from kernels.dkm.whitened import whitened_kl

__all__ = [
    "kl_gaussian",
    "kl_gaussian_grad",
    "gaussian_log_likelihood",
    "input_gram",
    "nngp_grams",
    "DKMGradient",
    "dkm_objective",
    "dkm_objective_and_grad",
]

LOG_2PI = math.log(2.0 * math.pi)


def kl_gaussian(G, K) -> float:
    """KL(N(0, G) || N(0, K)) = 1/2 [tr(K^-1 G) - log|G| + log|K| - P] (one column).

    Formed as 1/2 (||H||_F^2 - 2 sum log H_ii - P) with H = chol(K)^-1 chol(G) (lower triangular), through
    H - I (:func:`kernels.dkm.whitened.whitened_kl`), so that it keeps its relative accuracy as G -> K,
    where the four-term sum cancels to an absolute error of about P eps.
    """
    xp = array_namespace(G, K)
    H = solve_triangular(cholesky(K, "K"), cholesky(G, "G"), lower=True)
    return whitened_kl(H - xp.eye(H.shape[0], dtype=H.dtype, device=array_device(H)))


def kl_gaussian_grad(G, K):
    """(dKL/dG, dKL/dK) = (1/2 (K^-1 - G^-1), 1/2 (K^-1 - K^-1 G K^-1))."""
    Kinv, _, _ = inverse_and_logdet(K, "K")
    Ginv, _, _ = inverse_and_logdet(G, "G")
    return 0.5 * (Kinv - Ginv), 0.5 * (Kinv - Kinv @ G @ Kinv)


def gaussian_log_likelihood(K, Y, noise_var: float, jitter: float = 0.0) -> float:
    """sum over columns of log N(y; 0, K + noise_var I)."""
    xp = array_namespace(K, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    Ky = K + noise_var * xp.eye(K.shape[0], dtype=K.dtype, device=array_device(K))
    L = cholesky(Ky, "K_L + noise_var I", jitter + noise_var)
    w = solve_triangular(L, Y2, lower=True)
    logdet = logdet_from_factor(L)
    P, D = Y2.shape
    return -0.5 * (float(xp.sum(w * w)) + D * logdet + P * D * LOG_2PI)


def input_gram(X):
    """G_0 = X X^T / N_0."""
    return (X @ X.T) / X.shape[1]


def _check_layers(kernels, nu):
    if len(kernels) != len(nu) + 1:
        raise ValueError(f"need one kernel per layer plus the output (len(kernels) = len(nu) + 1), "
                         f"got {len(kernels)} kernels and {len(nu)} values of nu")


def nngp_grams(G0, kernels, depth: int | None = None, jitter: float = 0.0):
    """The NNGP recursion G_l = K_l(G_(l-1)) + jitter I for l = 1..depth (default len(kernels) - 1)."""
    depth = len(kernels) - 1 if depth is None else depth
    grams, G = [], G0
    for layer in range(depth):
        G = kernels[layer](G) + jitter * _eye_like(G)
        grams.append(G)
    return grams


def _eye_like(G):
    xp = array_namespace(G)
    return xp.eye(G.shape[0], dtype=G.dtype, device=array_device(G))


@dataclass
class DKMGradient:
    """Gradient of the DKM objective: one P x P matrix per layer (None where nu = inf),
    per-kernel {param: d/dlog param}, and d/dlog noise_var."""

    grams: list
    kernels: list
    log_noise_var: float


def _forward(G0, grams, Y, kernels, nu, noise_var, jitter, factors=None):
    """Everything the value and the gradient need, layer by layer."""
    xp = array_namespace(G0, Y)
    L = len(nu)
    eye = _eye_like(G0)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    layers = []  # per layer l = 1..L: dict with the layer's G, prior K (jittered), raw kernel output
    G_prev = G0
    value = 0.0
    for l in range(L):
        raw = kernels[l](G_prev)
        K = raw + jitter * eye
        Kinv, logdet_K, chol_K = inverse_and_logdet(K, f"K(G_{l}) (prior of layer {l + 1})", jitter)
        if math.isinf(nu[l]):
            G, Ginv, kl = K, None, 0.0
        else:
            G = grams[l]
            if factors is not None and factors[l] is not None:
                Ginv, _ = inverse_from_factor(factors[l])
                logdet_G = logdet_from_factor(factors[l])
                # tr(K^-1 G) = ||chol(K)^-1 F||^2: no entries of size 1 / jitter, so no rounding noise
                H = solve_triangular(chol_K, factors[l], lower=True)
                trace_term = float(xp.sum(H * H))
            else:
                Ginv, logdet_G, _ = inverse_and_logdet(G, f"G_{l + 1}", 0.0)
                trace_term = float(xp.sum(Kinv * G))
            kl = 0.5 * (trace_term - logdet_G + logdet_K - G.shape[0])
            value -= nu[l] * kl
        layers.append({"G_prev": G_prev, "raw": raw, "Kinv": Kinv, "G": G, "Ginv": Ginv, "kl": kl})
        G_prev = G
    raw = kernels[L](G_prev)
    Ky = raw + (jitter + noise_var) * eye
    Kyinv, logdet_y, _ = inverse_and_logdet(Ky, f"K(G_{L}) + noise_var I", jitter + noise_var)
    alpha = Kyinv @ Y2
    P, D = Y2.shape
    loglik = -0.5 * (float(xp.sum(Y2 * alpha)) + D * logdet_y + P * D * LOG_2PI)
    value += loglik
    out = {"G_top": G_prev, "raw": raw, "Kyinv": Kyinv, "alpha": alpha, "D": D, "loglik": loglik}
    return value, layers, out


def dkm_objective(G0, grams, Y, kernels, nu, noise_var: float, jitter: float = 1e-6) -> float:
    """The DKM objective L(G_1..G_L) (see the module docstring).

    ``grams[l]`` is G_(l+1) (ignored, may be None, where ``nu[l]`` is inf); ``kernels`` has
    len(nu) + 1 entries (the last acts on G_L to give the output covariance).
    """
    _check_layers(kernels, nu)
    return _forward(G0, grams, Y, kernels, nu, noise_var, jitter)[0]


def dkm_objective_and_grad(G0, grams, Y, kernels, nu, noise_var: float, jitter: float = 1e-6, factors=None):
    """(value, :class:`DKMGradient`) with exact closed-form gradients.

    ``factors`` (optional): lower-triangular F_l with G_l = F_l F_l^T, which saves a Cholesky
    factorisation per layer and keeps log|G_l| accurate when G_l is ill-conditioned.
    """
    _check_layers(kernels, nu)
    value, layers, out = _forward(G0, grams, Y, kernels, nu, noise_var, jitter, factors)
    L = len(nu)
    Kyinv, alpha = out["Kyinv"], out["alpha"]
    Kbar = 0.5 * (alpha @ alpha.T - out["D"] * Kyinv)
    xp = array_namespace(Kbar)
    d_log_noise = noise_var * float(xp.sum(xp.linalg.diagonal(Kbar)))
    kernel_grads = [None] * (L + 1)
    gram_grads = [None] * L
    G_top, raw = out["G_top"], out["raw"]
    for l in range(L, 0, -1):
        # Kbar is dF/dK_l where K_l = kernel_l(G_l); G_l is layers[l-1]["G"].
        layer = layers[l - 1]
        Gbar, kernel_grads[l] = kernels[l].vjp(G_top, Kbar, raw)
        Kinv = layer["Kinv"]
        if math.isinf(nu[l - 1]):
            Kbar = Gbar  # G_l = K_(l-1): the gradient flows straight through
        else:
            G = layer["G"]
            Gbar = Gbar - (0.5 * nu[l - 1]) * (Kinv - layer["Ginv"])
            gram_grads[l - 1] = Gbar
            Kbar = (-0.5 * nu[l - 1]) * (Kinv - Kinv @ G @ Kinv)
        G_top, raw = layer["G_prev"], layer["raw"]
    _, kernel_grads[0] = kernels[0].vjp(G_top, Kbar, raw)
    return value, DKMGradient(grams=gram_grads, kernels=kernel_grads, log_noise_var=d_log_noise)


def kl_terms(G0, grams, kernels, nu, jitter: float = 1e-6) -> list[float]:
    """KL(N(0, G_l) || N(0, K(G_(l-1)))) per layer (0 where nu = inf)."""
    layers = _forward(G0, grams, _zeros_target(G0), kernels, nu, 1.0, jitter)[1]
    return [layer["kl"] for layer in layers]


def _zeros_target(G0):
    xp = array_namespace(G0)
    return xp.zeros((G0.shape[0], 1), dtype=G0.dtype, device=array_device(G0))


__all__ += ["kl_terms"]
