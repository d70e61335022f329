"""Kernels that act on Gram matrices, with their exact reverse-mode derivatives.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.  In a deep kernel machine each layer sees only the Gram matrix G of the layer
below, so every kernel is a function K(G).  Each entry depends on one off-diagonal entry C = G_ij
and the two diagonal entries a = G_ii, b = G_jj:

* squared exponential:  K_ij = h exp(-(a + b - 2 C) / (2 l^2))
* arccos / ReLU (He-scaled, first order, Cho and Saul 2009):
  theta = arccos(C / sqrt(a b)),  K_ij = W_std^2 (1/pi) (sqrt(a b - C^2) + (pi - theta) C) + b_std^2
* normalised Gaussian:  K_ij = v sqrt(a b) exp(C / sqrt(a b) - 1)
* linear:  K_ij = W_std^2 C  (deep linear networks; closed-form optimum, property 9 of the reference)

so one elementwise rule ``entries(C, a, b)`` serves the full P x P kernel, the cross block between
test and inducing points, and (with ``diag``) the test-point variances.  The reverse-mode rule
``entries_vjp`` returns dF/dC, dF/da, dF/db for a scalar F given dF/dK; the partial derivatives are

* SE:      dK/dC = K / l^2,              dK/da = dK/db = -K / (2 l^2)
* arccos:  dK/dC = W_std^2 (pi - theta) / pi,  dK/da = W_std^2 sin(theta) sqrt(b / a) / (2 pi)
* NG:      dK/dC = v exp(c - 1),         dK/da = v exp(c - 1) (1 - c) sqrt(b / a) / 2,   c = C / sqrt(a b)

(the arccos and NG rules are written without 1/sin(theta) so they stay finite on the diagonal).
Gradients with respect to a matrix G are "unconstrained" (all P^2 entries treated as independent),
which is what the chain rule through G = A U U^T A^T needs.  Hyperparameter gradients are taken with
respect to the logarithm of each learnable parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from kernels.backend import array_device, array_namespace
from kernels.numerics import angle, arccos_j0, arccos_j1
from kernels.validation import check_positive

__all__ = [
    "GramKernel",
    "SquaredExponential",
    "ArcCos",
    "NormalisedGaussian",
    "Linear",
    "KERNELS",
    "make_kernel",
    "kernel_matrix",
    "kernel_vjp",
]


def _diagonal(xp, G):
    return xp.linalg.diagonal(G)


@dataclass(frozen=True)
class GramKernel:
    """Base class: a kernel K(G) given by an elementwise rule on (G_ij, G_ii, G_jj)."""

    #: names of the positive parameters that may be learned (gradient w.r.t. their logarithm)
    learnable: tuple = field(default=(), init=False, repr=False)

    # --- to be written by each kernel -------------------------------------------------------
    def entries(self, C, a, b):
        """K entries from C (any shape), a (rows, shape[0]) and b (columns, shape[1])."""
        raise NotImplementedError

    def entries_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        """(dF/dC, dF/da, dF/db, {param: dF/dlog param}) given Kbar = dF/dK; ``hyper=False`` leaves the
        parameter gradients at 0 (each costs passes over a P x M block)."""
        raise NotImplementedError

    def diag(self, d):
        """K_ii from G_ii (vector)."""
        raise NotImplementedError

    def diag_vjp(self, d, kbar):
        """(dF/dd, {param: dF/dlog param}) given kbar = dF/dk_ii."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    def params(self) -> dict:
        return {name: getattr(self, name) for name in self.learnable}

    def with_params(self, **params) -> "GramKernel":
        return replace(self, **params)

    def cross(self, C, a, b):
        """Cross block K(C) with row variances ``a`` and column variances ``b``."""
        return self.entries(C, a[:, None], b[None, :])

    def cross_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        """(dF/dC, dF/da, dF/db, hyper) for :meth:`cross`; da, db are vectors."""
        xp = array_namespace(C)
        dC, da, db, grads = self.entries_vjp(C, a[:, None], b[None, :], K, Kbar, hyper=hyper)
        return dC, xp.sum(da, axis=1), xp.sum(db, axis=0), grads

    def zero_hyper(self) -> dict:
        """{param: 0.0}: the parameter gradients where they are not formed."""
        return dict.fromkeys(self.learnable, 0.0)

    def __call__(self, G):
        """K(G) for a square Gram matrix G (P x P)."""
        xp = array_namespace(G)
        d = _diagonal(xp, G)
        return self.cross(G, d, d)

    def vjp(self, G, Kbar, K=None, *, hyper: bool = True):
        """dF/dG (P x P) and {param: dF/dlog param} (0 unless ``hyper``) for F(K(G)) given Kbar = dF/dK."""
        xp = array_namespace(G)
        d = _diagonal(xp, G)
        if K is None:
            K = self.cross(G, d, d)
        dC, da, db, grads = self.cross_vjp(G, d, d, K, Kbar, hyper=hyper)
        eye = xp.eye(G.shape[0], dtype=G.dtype, device=array_device(G))
        return dC + eye * (da + db)[None, :], grads


def _sum(xp, A):
    return float(xp.sum(A))


@dataclass(frozen=True)
class SquaredExponential(GramKernel):
    """K_ij = variance exp(-(G_ii + G_jj - 2 G_ij) / (2 lengthscale^2))."""

    lengthscale: float = 1.0
    variance: float = 1.0
    learnable: tuple = field(default=("lengthscale", "variance"), init=False, repr=False)

    def __post_init__(self):
        check_positive(self.lengthscale, "lengthscale")
        check_positive(self.variance, "variance")

    def entries(self, C, a, b):
        xp = array_namespace(C)
        sq_dist = a + b - 2.0 * C
        return self.variance * xp.exp(sq_dist * (-0.5 / self.lengthscale**2))

    def entries_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        xp = array_namespace(C)
        inv_l2 = 1.0 / self.lengthscale**2
        W = Kbar * K
        dC = W * inv_l2
        dab = W * (-0.5 * inv_l2)
        if not hyper:
            return dC, dab, dab, self.zero_hyper()
        sq_dist = a + b - 2.0 * C
        hyper = {"lengthscale": _sum(xp, W * sq_dist) * inv_l2, "variance": _sum(xp, W)}
        return dC, dab, dab, hyper

    def diag(self, d):
        xp = array_namespace(d)
        return xp.zeros_like(d) + self.variance

    def diag_vjp(self, d, kbar):
        xp = array_namespace(d)
        return xp.zeros_like(d), {"lengthscale": 0.0, "variance": _sum(xp, kbar) * self.variance}


@dataclass(frozen=True)
class ArcCos(GramKernel):
    """He-scaled first-order arc-cosine (ReLU) kernel on a Gram matrix: W_std^2 K_1 + b_std^2.

    K_1 = sqrt(a b) J_1(theta), theta = arctan2(sqrt(a b - C^2), C) (:func:`kernels.numerics.angle`),
    J_1 from :func:`kernels.numerics.arccos_j1`; K_ii = W_std^2 G_ii + b_std^2, so a ReLU layer with
    W_std = 1 (He initialisation) preserves the second moment.  ``W_std`` and ``b_std`` are standard
    deviations, as in :func:`kernels.ntk.fc.fc_kernel`.
    """

    W_std: float = 1.0
    b_std: float = 0.0
    learnable: tuple = field(default=("W_std",), init=False, repr=False)

    def __post_init__(self):
        check_positive(self.W_std, "W_std")
        check_positive(self.b_std, "b_std", allow_zero=True)

    def _base(self, C, a, b):
        xp = array_namespace(C)
        s = xp.sqrt(a * b)
        theta = angle(a, b, C, xp)
        return s * arccos_j1(theta, xp), s, theta

    def entries(self, C, a, b):
        return self.W_std**2 * self._base(C, a, b)[0] + self.b_std**2

    def entries_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        xp = array_namespace(C)
        S = a * b
        root = xp.sqrt(xp.maximum(S - C * C, 0.0))  # sqrt(a b) sin(theta), as in kernels.numerics.angle
        theta = xp.atan2(root, C)
        W = Kbar * self.W_std**2
        dC = W * arccos_j0(theta, xp)
        # dK/dS with S = a b equals W_std^2 sin(theta) / (2 pi sqrt(S)) = W_std^2 root / (2 pi S); dS/da = b.
        T = W * root / (2.0 * math.pi * xp.where(S > 0, S, xp.ones_like(S)))
        if not hyper:
            return dC, T * b, T * a, self.zero_hyper()
        base = (K - self.b_std**2) / self.W_std**2  # K_1 = sqrt(a b) J_1(theta), from the forward pass
        return dC, T * b, T * a, {"W_std": 2.0 * _sum(xp, W * base)}

    def diag(self, d):
        return self.W_std**2 * d + self.b_std**2

    def diag_vjp(self, d, kbar):
        xp = array_namespace(d)
        return kbar * self.W_std**2, {"W_std": 2.0 * _sum(xp, kbar * d) * self.W_std**2}


@dataclass(frozen=True)
class NormalisedGaussian(GramKernel):
    """K_ij = variance sqrt(G_ii G_jj) exp(G_ij / sqrt(G_ii G_jj) - 1)."""

    variance: float = 1.0
    learnable: tuple = field(default=("variance",), init=False, repr=False)

    def __post_init__(self):
        check_positive(self.variance, "variance")

    def entries(self, C, a, b):
        xp = array_namespace(C)
        s = xp.sqrt(a * b)
        return self.variance * s * xp.exp(C / s - 1.0)

    def entries_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        xp = array_namespace(C)
        s = xp.sqrt(a * b)
        c = C / s
        e = self.variance * xp.exp(c - 1.0)
        W = Kbar * e
        # dK/dS = v e^(c-1) (1 - c) / (2 sqrt(S)), S = a b.
        T = W * (1.0 - c) / (2.0 * s)
        return W, T * b, T * a, {"variance": _sum(xp, Kbar * K)} if hyper else self.zero_hyper()

    def diag(self, d):
        return self.variance * d

    def diag_vjp(self, d, kbar):
        xp = array_namespace(d)
        return kbar * self.variance, {"variance": _sum(xp, kbar * d) * self.variance}


@dataclass(frozen=True)
class Linear(GramKernel):
    """K(G) = W_std^2 G: the deep linear network, for which the optimum is known in closed form."""

    W_std: float = 1.0
    learnable: tuple = field(default=("W_std",), init=False, repr=False)

    def __post_init__(self):
        check_positive(self.W_std, "W_std")

    def entries(self, C, a, b):
        return self.W_std**2 * C

    def entries_vjp(self, C, a, b, K, Kbar, *, hyper: bool = True):
        xp = array_namespace(C)
        zero = xp.zeros_like(C)
        return self.W_std**2 * Kbar, zero, zero, {"W_std": 2.0 * _sum(xp, Kbar * K)} if hyper else self.zero_hyper()

    def diag(self, d):
        return self.W_std**2 * d

    def diag_vjp(self, d, kbar):
        xp = array_namespace(d)
        return kbar * self.W_std**2, {"W_std": 2.0 * _sum(xp, kbar * d) * self.W_std**2}


KERNELS = {
    "linear": Linear,
    "se": SquaredExponential,
    "squared_exponential": SquaredExponential,
    "rbf": SquaredExponential,
    "arccos": ArcCos,
    "relu": ArcCos,
    "normalised_gaussian": NormalisedGaussian,
    "normalized_gaussian": NormalisedGaussian,
}


def make_kernel(kernel, **params) -> GramKernel:
    """A :class:`GramKernel` from a name in :data:`KERNELS` (with parameters) or an instance."""
    if isinstance(kernel, GramKernel):
        return kernel.with_params(**params) if params else kernel
    if not isinstance(kernel, str) or kernel.lower() not in KERNELS:
        raise ValueError(f"kernel must be a GramKernel or one of {sorted(KERNELS)}, got {kernel!r}")
    return KERNELS[kernel.lower()](**params)


def kernel_matrix(kernel: GramKernel, G, jitter: float = 0.0):
    """K(G) + jitter I."""
    xp = array_namespace(G)
    K = kernel(G)
    if jitter:
        K = K + jitter * xp.eye(G.shape[0], dtype=G.dtype, device=array_device(G))
    return K


def kernel_vjp(kernel: GramKernel, G, Kbar, K=None):
    """dF/dG and hyperparameter gradients for F(K(G)); the jitter does not depend on G."""
    return kernel.vjp(G, Kbar, K)
