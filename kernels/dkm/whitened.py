"""The DKM objective in whitened coordinates, with its exact gradient.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.

Each learned Gram matrix is written G_l = A_l U_l U_l^T A_l^T with U_l lower triangular and
A_l = chol(K_l(G_(l-1)) + jitter I) the Cholesky factor of the layer's own prior (the non-centred
parametrisation of deep Gaussian processes).  Then

    KL( N(0, G_l) || N(0, K_l) ) = 1/2 ( ||U_l||_F^2 - 2 sum_i log (U_l)_ii - P )

exactly, whatever the layers below do, and the objective is

    L(U_1..U_L) = log N(Y; 0, K_(L+1)(G_L) + sigma^2 I) - sum_l nu_l/2 ( ||U_l||^2 - 2 sum_i log (U_l)_ii - P ),

coupled only through the likelihood.  U_l = I is the NNGP (every KL term vanishes); the functions
take W_l = U_l - I (diagonal > -1), in which the KL term is evaluated without cancellation.  The gradient:
with Gbar_l = dL/dG_l from the layer above (symmetrised), F_l = A_l U_l,

    dL/dU_l = tril( A_l^T (Gbar_l + Gbar_l^T) F_l ) - nu_l ( W_l + diag(w_i / (1 + w_i)) ),
    dL/dA_l = tril( (Gbar_l + Gbar_l^T) F_l U_l^T ),
    dL/dK_l = sym( A_l^-T Phi(A_l^T dL/dA_l) A_l^-1 )          (Phi: lower triangle, halved diagonal),

and dL/dG_(l-1) follows through the kernel (:meth:`kernels.dkm.gram_kernels.GramKernel.vjp`).  A layer
with nu_l = inf has no U_l: G_l = K_l, the NNGP recursion.  One evaluation costs, per layer, one
kernel matrix, one Cholesky factorisation, two triangular solves, F_l F_l^T and five products with a
triangular factor (half the cost of a general product), plus one Cholesky factorisation and one inverse
from it (LAPACK potri) at the output; nothing is factorised twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.backend import array_device, array_namespace
from kernels.linalg import (CholeskyError, cho_inverse, cholesky, logdet_from_factor, solve_triangular,
                            triangular_matmul)

__all__ = ["WhitenedGradient", "whitened_kl", "whitened_kl_grad", "whitened_grams", "whitened_objective_and_grad",
           "cholesky_vjp"]

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class WhitenedGradient:
    """Gradient of the whitened DKM objective.

    Attributes
    ----------
    U : list
        dL/dU_l = dL/dW_l (lower triangular, P x P) per layer; None where nu_l is infinite.
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
    """Forward record of one layer: G_(l-1), raw kernel K_l(G_(l-1)), A_l, W_l = U_l - I, F_l = A_l U_l, G_l."""

    G_prev: object
    raw: object
    A: object
    W: object
    F: object
    G: object


def whitened_kl(W) -> float:
    """KL(N(0, A U U^T A^T) || N(0, A A^T)) for U = I + W (W lower triangular, diagonal w > -1):

        1/2 (||U||_F^2 - 2 sum_i log U_ii - P) = 1/2 ( ||W_offdiag||^2 + sum_i [w_i^2 + 2 (w_i - log1p(w_i))] ),

    written in W so that it keeps its relative accuracy when W is tiny (large nu), where the form in
    U cancels to an absolute error of P eps.
    """
    xp = array_namespace(W)
    w = xp.linalg.diagonal(W)
    if not bool(xp.all(w > -1.0)):
        raise CholeskyError("U = I + W must have a positive diagonal (a whitened Cholesky factor)")
    return 0.5 * (float(xp.sum(W * W)) + 2.0 * float(xp.sum(w - xp.log1p(w))))


def whitened_kl_grad(W):
    """d KL / dW = W + diag(w_i / (1 + w_i)) (lower triangular), the gradient of :func:`whitened_kl`."""
    xp = array_namespace(W)
    w = xp.linalg.diagonal(W)
    return W + xp.eye(w.shape[0], dtype=W.dtype, device=array_device(W)) * (w / (1.0 + w))[None, :]


def _forward_layers(G0, W, kernels, jitter):
    xp = array_namespace(G0)
    eye = xp.eye(G0.shape[0], dtype=G0.dtype, device=array_device(G0))
    layers, G_prev = [], G0
    for l, W_l in enumerate(W):
        raw = kernels[l](G_prev)
        if W_l is None:  # nu = inf: the NNGP recursion
            layer = _Layer(G_prev, raw, None, None, None, raw + jitter * eye)
        else:
            A = cholesky(raw + jitter * eye, f"K(G_{l}) (prior of layer {l + 1})", jitter)
            F = A + triangular_matmul(A, W_l)
            layer = _Layer(G_prev, raw, A, W_l, F, F @ F.T)
        layers.append(layer)
        G_prev = layer.G
    return layers


def whitened_grams(G0, W, kernels, jitter: float = 1e-6) -> list:
    """G_1..G_L for whitened factors U_l = I + W_l (None: NNGP layer, G_l = K_l(G_(l-1)) + jitter I)."""
    return [layer.G for layer in _forward_layers(G0, W, kernels, jitter)]


def _likelihood(G_top, Y, kernel, noise_var, jitter):
    """(log N(Y; 0, K + sigma^2 I), raw K, dL/dK = 1/2 (alpha alpha^T - D K_y^-1))."""
    xp = array_namespace(G_top, Y)
    P, D = Y.shape
    raw = kernel(G_top)
    Ky = raw + (jitter + noise_var) * xp.eye(P, dtype=G_top.dtype, device=array_device(G_top))
    chol = cholesky(Ky, f"K(G_L) + noise_var I", jitter + noise_var)
    Kyinv = cho_inverse(chol)
    alpha = Kyinv @ Y
    value = -0.5 * (float(xp.sum(Y * alpha)) + D * logdet_from_factor(chol) + P * D * LOG_2PI)
    return value, raw, 0.5 * (alpha @ alpha.T - D * Kyinv)


def cholesky_vjp(A, Abar):
    """dF/dK for A = chol(K) given Abar = dF/dA (lower): sym(A^-T Phi(A^T Abar) A^-1)."""
    xp = array_namespace(A, Abar)
    M = triangular_matmul(A, Abar, trans=True)
    S = xp.tril(M) - 0.5 * xp.eye(M.shape[0], dtype=M.dtype, device=array_device(M)) * M
    left = solve_triangular(A, S, lower=True, trans=1)  # A^-T S
    Kbar = solve_triangular(A, left.T, lower=True, trans=1).T  # (A^-T S) A^-1
    return 0.5 * (Kbar + Kbar.T)


def _backward_layers(layers, Gbar, kernels, nu, kernel_grad):
    """dL/dU_l for every layer (and kernel-parameter gradients) from Gbar = dL/dG_L."""
    xp = array_namespace(Gbar)
    L = len(layers)
    dU, hyper = [None] * L, [{} for _ in range(L)]
    lowest = 0 if kernel_grad else next((l for l, layer in enumerate(layers) if layer.W is not None), L)
    for l in range(L - 1, lowest - 1, -1):
        layer = layers[l]
        if layer.W is None:
            Kbar = Gbar  # G_l = K_l + jitter I
        else:
            Fbar = triangular_matmul(layer.F, Gbar + Gbar.T, right=True)  # F_l = A_l U_l is lower triangular
            dU[l] = xp.tril(triangular_matmul(layer.A, Fbar, trans=True)) - nu[l] * whitened_kl_grad(layer.W)
            if l == lowest and not kernel_grad:
                break
            Kbar = cholesky_vjp(layer.A, xp.tril(Fbar + triangular_matmul(layer.W, Fbar, trans=True, right=True)))
        Gbar, hyper[l] = kernels[l].vjp(layer.G_prev, Kbar, layer.raw, hyper=kernel_grad)
    return dU, hyper


def whitened_objective_and_grad(G0, W, Y, kernels, nu, noise_var: float, jitter: float = 1e-6, *,
                                kernel_grad: bool = False):
    """(L, :class:`WhitenedGradient`) of the whitened DKM objective (module docstring), U_l = I + W_l.

    Parameters
    ----------
    G0 : array (P, P)
        Input Gram X X^T / N_0.
    W : list
        Lower-triangular W_l = U_l - I per layer (None where ``nu[l]`` is inf); W_l = 0 is the NNGP.
        The deviation from the identity, not U_l itself, is the argument so that the KL term keeps
        its accuracy for large nu (:func:`whitened_kl`).
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
    layers = _forward_layers(G0, W, kernels, jitter)
    G_top = layers[-1].G if layers else G0
    value, raw, Kbar = _likelihood(G_top, Y, kernels[-1], noise_var, jitter)
    for l, layer in enumerate(layers):
        if layer.W is not None:
            value -= nu[l] * whitened_kl(layer.W)
    xp = array_namespace(Kbar)
    d_log_noise = noise_var * float(xp.sum(xp.linalg.diagonal(Kbar)))
    Gbar, top_hyper = kernels[-1].vjp(G_top, Kbar, raw, hyper=kernel_grad)
    dU, hyper = _backward_layers(layers, Gbar, kernels, nu, kernel_grad)
    grads = (hyper + [top_hyper]) if kernel_grad else [{} for _ in kernels]
    return value, WhitenedGradient(U=dU, kernels=grads, log_noise_var=d_log_noise)
