"""The DKM objective in whitened coordinates, with its exact gradient.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.

Each learned Gram matrix is written G_l = A_l U_l U_l^T A_l^T with U_l lower triangular and
A_l = chol(K_l(G_(l-1)) + jitter I) the Cholesky factor of the layer's own prior (the non-centred
parametrisation of deep Gaussian processes).  Then

    KL( N(0, G_l) || N(0, K_l) ) = 1/2 ( ||U_l||_F^2 - 2 sum_i log|(U_l)_ii| - P )

exactly, whatever the layers below do, and the objective is

    L(U_1..U_L) = log N(Y; 0, K_(L+1)(G_L) + sigma^2 I) - sum_l nu_l/2 ( ||U_l||^2 - 2 sum_i log|(U_l)_ii| - P ),

coupled only through the likelihood.  U_l = I is the NNGP (every KL term vanishes).  The gradient:
with Gbar_l = dL/dG_l from the layer above (symmetrised), F_l = A_l U_l,

    dL/dU_l = tril( A_l^T (Gbar_l + Gbar_l^T) F_l ) - nu_l ( U_l - diag(1 / (U_l)_ii) ),
    dL/dA_l = tril( (Gbar_l + Gbar_l^T) F_l U_l^T ),
    dL/dK_l = sym( A_l^-T Phi(A_l^T dL/dA_l) A_l^-1 )          (Phi: lower triangle, halved diagonal),

and dL/dG_(l-1) follows through the kernel (:meth:`kernels.dkm.gram_kernels.GramKernel.vjp`).  A layer
with nu_l = inf has no U_l: G_l = K_l, the NNGP recursion.  One evaluation costs, per layer, one
kernel matrix, one Cholesky factorisation, two triangular solves and five matrix products, plus one
Cholesky factorisation and one inverse at the output; nothing is factorised twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.backend import array_namespace
from kernels.linalg import cholesky, inverse_from_factor, logdet_from_factor, solve_triangular

__all__ = ["WhitenedGradient", "whitened_kl", "whitened_grams", "whitened_objective_and_grad", "cholesky_vjp"]

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class WhitenedGradient:
    """Gradient of the whitened DKM objective.

    Attributes
    ----------
    U : list
        dL/dU_l (lower triangular, P x P) per layer; None where nu_l is infinite.
    kernels : list of dict
        Per kernel (one per layer and the output), {parameter: dL/dlog parameter}; empty dicts
        unless ``kernel_grad`` was asked for.
    log_noise_var : float
        dL/dlog sigma^2.
    """

    U: list
    kernels: list
    log_noise_var: float


@dataclass
class _Layer:
    """Forward record of one layer: G_(l-1), raw kernel K_l(G_(l-1)), A_l, U_l, F_l = A_l U_l, G_l."""

    G_prev: object
    raw: object
    A: object
    U: object
    F: object
    G: object


def whitened_kl(U) -> float:
    """KL(N(0, A U U^T A^T) || N(0, A A^T)) = 1/2 (||U||_F^2 - 2 sum_i log|U_ii| - P)."""
    xp = array_namespace(U)
    return 0.5 * (float(xp.sum(U * U)) - logdet_from_factor(U) - U.shape[0])


def _forward_layers(G0, U, kernels, jitter):
    xp = array_namespace(G0)
    eye = xp.eye(G0.shape[0], dtype=G0.dtype)
    layers, G_prev = [], G0
    for l, U_l in enumerate(U):
        raw = kernels[l](G_prev)
        if U_l is None:  # nu = inf: the NNGP recursion
            layer = _Layer(G_prev, raw, None, None, None, raw + jitter * eye)
        else:
            A = cholesky(raw + jitter * eye, f"K(G_{l}) (prior of layer {l + 1})", jitter)
            F = A @ U_l
            layer = _Layer(G_prev, raw, A, U_l, F, F @ F.T)
        layers.append(layer)
        G_prev = layer.G
    return layers


def whitened_grams(G0, U, kernels, jitter: float = 1e-6) -> list:
    """G_1..G_L for whitened factors U (None: NNGP layer, G_l = K_l(G_(l-1)) + jitter I)."""
    return [layer.G for layer in _forward_layers(G0, U, kernels, jitter)]


def _likelihood(G_top, Y, kernel, noise_var, jitter):
    """(log N(Y; 0, K + sigma^2 I), raw K, dL/dK = 1/2 (alpha alpha^T - D K_y^-1))."""
    xp = array_namespace(G_top, Y)
    P, D = Y.shape
    raw = kernel(G_top)
    Ky = raw + (jitter + noise_var) * xp.eye(P, dtype=G_top.dtype)
    chol = cholesky(Ky, f"K(G_L) + noise_var I", jitter + noise_var)
    Kyinv, _ = inverse_from_factor(chol)
    alpha = Kyinv @ Y
    value = -0.5 * (float(xp.sum(Y * alpha)) + D * logdet_from_factor(chol) + P * D * LOG_2PI)
    return value, raw, 0.5 * (alpha @ alpha.T - D * Kyinv)


def cholesky_vjp(A, Abar):
    """dF/dK for A = chol(K) given Abar = dF/dA (lower): sym(A^-T Phi(A^T Abar) A^-1)."""
    xp = array_namespace(A, Abar)
    M = A.T @ Abar
    S = xp.tril(M) - 0.5 * xp.eye(M.shape[0], dtype=M.dtype) * M
    left = solve_triangular(A, S, lower=True, trans=1)  # A^-T S
    Kbar = solve_triangular(A, left.T, lower=True, trans=1).T  # (A^-T S) A^-1
    return 0.5 * (Kbar + Kbar.T)


def _backward_layers(layers, Gbar, kernels, nu, kernel_grad):
    """dL/dU_l for every layer (and kernel-parameter gradients) from Gbar = dL/dG_L."""
    xp = array_namespace(Gbar)
    L = len(layers)
    dU, hyper = [None] * L, [{} for _ in range(L)]
    lowest = 0 if kernel_grad else next((l for l, layer in enumerate(layers) if layer.U is not None), L)
    for l in range(L - 1, lowest - 1, -1):
        layer = layers[l]
        if layer.U is None:
            Kbar = Gbar  # G_l = K_l + jitter I
        else:
            Fbar = (Gbar + Gbar.T) @ layer.F
            d = xp.linalg.diagonal(layer.U)
            eye = xp.eye(d.shape[0], dtype=d.dtype)
            dU[l] = xp.tril(layer.A.T @ Fbar) - nu[l] * (layer.U - eye * (1.0 / d)[None, :])
            if l == lowest and not kernel_grad:
                break
            Kbar = cholesky_vjp(layer.A, xp.tril(Fbar @ layer.U.T))
        Gbar, hyper[l] = kernels[l].vjp(layer.G_prev, Kbar, layer.raw)
    return dU, hyper


def whitened_objective_and_grad(G0, U, Y, kernels, nu, noise_var: float, jitter: float = 1e-6, *,
                                kernel_grad: bool = False):
    """(L, :class:`WhitenedGradient`) of the whitened DKM objective (module docstring).

    Parameters
    ----------
    G0 : array (P, P)
        Input Gram X X^T / N_0.
    U : list
        Lower-triangular U_l per layer (None where ``nu[l]`` is inf).
    Y : array (P, D)
        Targets.
    kernels : list of GramKernel
        ``len(U) + 1`` kernels, the last giving the output covariance.
    nu : sequence of float
        KL weights (inf for NNGP layers).
    noise_var, jitter : float
        Likelihood noise variance sigma^2 and the jitter added to every kernel matrix.
    kernel_grad : bool
        Also return the gradients with respect to the kernels' log-parameters.
    """
    layers = _forward_layers(G0, U, kernels, jitter)
    G_top = layers[-1].G if layers else G0
    value, raw, Kbar = _likelihood(G_top, Y, kernels[-1], noise_var, jitter)
    for l, layer in enumerate(layers):
        if layer.U is not None:
            value -= nu[l] * whitened_kl(layer.U)
    xp = array_namespace(Kbar)
    d_log_noise = noise_var * float(xp.sum(xp.linalg.diagonal(Kbar)))
    Gbar, top_hyper = kernels[-1].vjp(G_top, Kbar, raw)
    dU, hyper = _backward_layers(layers, Gbar, kernels, nu, kernel_grad)
    grads = (hyper + [top_hyper]) if kernel_grad else [{} for _ in kernels]
    return value, WhitenedGradient(U=dU, kernels=grads, log_noise_var=d_log_noise)
