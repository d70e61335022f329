"""Kernel hypothesis space: noise-free GP-posterior interpolants, sampled exactly, and their test losses.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).  The kernel hypothesis space of the
paper draws functions that fit the training set exactly from the noise-free GP posterior:

    f(X*) = m + C^(1/2) z,   z ~ N(0, I),                                                    (1)
    m = K(X*, X) K^-1 Y,     C = K(X*, X*) - K(X*, X) K^-1 K(X, X*),

one independent draw per output column, and scores each by the squared test loss against one-hot
labels,

    e(f) = (1/n*) sum_{i, c} (f_c(x*_i) - y*_ic)^2   (summed over outputs, averaged over points).  (2)

Here K = L L^T (Cholesky) gives m and C by two triangular solves (W = L^-1 K(X, X*),
m = W^T L^-1 Y, C = K** - W^T W), and C = V diag(lambda) V^T (symmetric eigendecomposition)
gives the exact square root V diag(lambda)^(1/2), valid even where C is singular (test points next
to training points), where a Cholesky factor of C would need jitter.  In that basis (2) is

    e = (1/n*) sum_{j, c} (rho_jc + lambda_j^(1/2) z_jc)^2,     rho = V^T (m - Y*),            (3)

a generalised chi-squared variable: weights lambda_j / n* with n_out degrees of freedom each and
non-centralities sum_c rho_jc^2 / lambda_j; directions with lambda_j = 0 add the constant
sum_c rho_jc^2 / n*.  Losses are therefore sampled from (3) at O(n* n_out) per draw, the same
numbers as evaluating (2) on the functions (1) with the same z.

Everything heavy is written against the array API standard (numpy, cupy, array_api_strict).
The reference code solves the linear systems by Adam and takes scipy.linalg.sqrtm of C; the direct
factorisations here are exact to round-off and far cheaper (benchmarks/bench_inductive_bias.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from array_api_compat import is_cupy_namespace

from kernels.backend import array_namespace, asarray, to_numpy

from kernels.linalg import cholesky, solve_triangular
from kernels.ntk.fc import fc_kernel
from kernels.validation import check_matrix, check_positive, check_positive_int, check_same_length

from theory.inductive_bias.gen_chi2 import GeneralizedChi2

__all__ = [
    "RBFKernel",
    "rbf_kernel",
    "fc_kernel_fn",
    "GPPosterior",
    "gp_posterior",
    "sample_functions",
    "sample_losses",
    "test_loss",
    "loss_distribution",
    "standard_normal",
]


def rbf_kernel(x1, x2, *, lengthscale: float = 1.0, variance: float = 1.0):
    """k(x, x') = variance * exp(-||x - x'||^2 / (2 lengthscale^2)) for rows of x1 (n1, d) and x2 (n2, d)."""
    xp = array_namespace(x1, x2)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"x1 and x2 must be 2-D with the same number of columns, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    sq1 = xp.sum(x1 * x1, axis=1)
    sq2 = xp.sum(x2 * x2, axis=1)
    sq_dist = xp.maximum(sq1[:, None] + sq2[None, :] - 2.0 * (x1 @ x2.T), 0.0)
    return variance * xp.exp(sq_dist * (-0.5 / lengthscale**2))


@dataclass(frozen=True)
class RBFKernel:
    """Callable RBF kernel with fixed lengthscale and variance (the paper uses lengthscale 1)."""

    lengthscale: float = 1.0
    variance: float = 1.0

    def __post_init__(self):
        check_positive(self.lengthscale, "lengthscale")
        check_positive(self.variance, "variance")

    def __call__(self, x1, x2):
        return rbf_kernel(x1, x2, lengthscale=self.lengthscale, variance=self.variance)


def fc_kernel_fn(depth: int, activation: str = "relu", kind: str = "nngp", **options) -> Callable:
    """k(X1, X2): the NNGP or NTK matrix of a fully-connected network (:func:`kernels.ntk.fc.fc_kernel`), as a function.

    ``options`` are passed to :func:`kernels.ntk.fc.fc_kernel` (``W_std``, ``b_std``, ...).
    """
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    depth = check_positive_int(depth, "depth")

    def kernel(x1, x2):
        return getattr(fc_kernel(x1, x2, depth=depth, activation=activation, **options), kind)

    kernel.__name__ = f"fc_{kind}_depth{depth}_{activation}"
    return kernel


@dataclass(frozen=True)
class GPPosterior:
    """Noise-free GP posterior at the test inputs: mean (n_test, n_out), C = V diag(lambda) V^T.

    ``variance_floor``: eigenvalues at or below it are zero up to round-off and jitter.
    """

    mean: Any
    eigenvalues: Any
    eigenvectors: Any
    variance_floor: float = 0.0

    @property
    def n_test(self) -> int:
        return int(self.mean.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.mean.shape[1])

    @property
    def covariance(self):
        return (self.eigenvectors * self.eigenvalues[None, :]) @ self.eigenvectors.T

    @property
    def factor(self):
        """V diag(lambda)^(1/2): factor @ factor.T equals the posterior covariance."""
        xp = array_namespace(self.mean)
        return self.eigenvectors * xp.sqrt(self.eigenvalues)[None, :]


def _as_targets(y, name, xp, dtype):
    y = asarray(y, xp=xp, dtype=dtype, name=name)
    if y.ndim == 1:
        y = y[:, None]
    return check_matrix(y, name)


def gp_posterior(x_train, y_train, x_test, kernel: Callable | None = None, *, jitter: float = 1e-10,
                 psd_rtol: float = 1e-8) -> GPPosterior:
    """Posterior of the noise-free GP interpolating (x_train, y_train), at x_test (equation (1)).

    ``kernel(X1, X2)`` returns the kernel matrix (default: RBF with lengthscale 1).  ``jitter`` is
    added to the training Gram diagonal relative to its mean diagonal (1e-10 keeps the Cholesky
    factor of a near-singular RBF Gram finite without changing the interpolant visibly).  A
    training Gram that is not positive definite, or a posterior covariance with an eigenvalue below
    ``-psd_rtol`` times its largest, raises ``ValueError``.
    """
    kernel = RBFKernel() if kernel is None else kernel
    xp = array_namespace(x_train, x_test)
    x_train = check_matrix(asarray(x_train, xp=xp, name="x_train"), "x_train")
    dtype = x_train.dtype
    x_test = check_matrix(asarray(x_test, xp=xp, dtype=dtype, name="x_test"), "x_test")
    y_train = _as_targets(y_train, "y_train", xp, dtype)
    check_same_length(x_train, y_train, "x_train", "y_train")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"x_train and x_test must have the same number of features, got {x_train.shape[1]} and {x_test.shape[1]}"
        )
    check_positive(jitter, "jitter", allow_zero=True)

    k_train = kernel(x_train, x_train)
    k_cross = kernel(x_train, x_test)
    k_test = kernel(x_test, x_test)
    n = x_train.shape[0]
    if tuple(k_train.shape) != (n, n) or tuple(k_cross.shape) != (n, x_test.shape[0]):
        raise ValueError(f"kernel returned shapes {tuple(k_train.shape)}, {tuple(k_cross.shape)}; expected ({n}, {n})")
    scale = float(xp.max(xp.abs(k_train)))
    asym = float(xp.max(xp.abs(k_train - k_train.T)))
    if asym > 1e-10 * scale:
        raise ValueError(f"kernel matrix of x_train must be symmetric, max |K - K^T| = {asym:.3g}")
    mean_diag = float(xp.mean(xp.linalg.diagonal(k_train)))
    k_train = k_train + (jitter * mean_diag) * xp.eye(n, dtype=dtype)
    chol = cholesky(k_train, "kernel matrix of x_train", jitter * mean_diag,
                    hint="check the kernel, remove duplicate training inputs or raise jitter")

    w = solve_triangular(chol, k_cross, lower=True)
    mean = w.T @ solve_triangular(chol, y_train, lower=True)
    cov = k_test - w.T @ w
    cov = (cov + cov.T) / 2.0
    eigenvalues, eigenvectors = xp.linalg.eigh(cov)
    lam_max = float(xp.max(xp.abs(eigenvalues)))
    lam_min = float(xp.min(eigenvalues))
    if lam_min < -psd_rtol * max(lam_max, float(xp.max(xp.abs(k_test)))):
        raise ValueError(
            f"posterior covariance must be positive semi-definite, smallest eigenvalue {lam_min:.6g} "
            f"(largest {lam_max:.6g}): the kernel is not positive semi-definite on x_train and x_test"
        )
    eigenvalues = xp.maximum(eigenvalues, 0.0)  # round-off below zero
    # Variance the jitter leaves at training inputs, or round-off relative to the prior variance.
    prior_max = float(xp.max(xp.linalg.diagonal(k_test)))
    floor = max(10.0 * jitter * mean_diag, k_test.shape[0] * float(np.finfo(np.float64).eps) * prior_max)
    return GPPosterior(mean=mean, eigenvalues=eigenvalues, eigenvectors=eigenvectors, variance_floor=floor)


def standard_normal(shape, xp, dtype=None, *, rng=None):
    """Standard normal draws of ``shape`` in namespace ``xp``, generated where the array lives.

    numpy/array_api_strict draw from ``numpy.random.default_rng(rng)`` (a Generator passed in is used
    and advanced); cupy draws on the device from a cupy Generator seeded from it.
    """
    rng = np.random.default_rng(rng)
    dtype = xp.float64 if dtype is None else dtype
    if is_cupy_namespace(xp):
        import cupy

        return cupy.random.default_rng(int(rng.integers(2**62))).standard_normal(shape, dtype=dtype)
    np_dtype = np.float32 if dtype == xp.float32 else np.float64
    return xp.asarray(rng.standard_normal(shape, dtype=np_dtype))


def _check_targets(posterior: GPPosterior, y_test):
    xp = array_namespace(posterior.mean)
    y_test = _as_targets(y_test, "y_test", xp, posterior.mean.dtype)
    if tuple(y_test.shape) != tuple(posterior.mean.shape):
        raise ValueError(
            f"y_test must have shape (n_test, n_outputs) = {tuple(posterior.mean.shape)}, got {tuple(y_test.shape)}"
        )
    return xp, y_test


def sample_functions(posterior: GPPosterior, n_samples: int, *, rng=None):
    """``n_samples`` posterior functions at the test inputs, shape (n_samples, n_test, n_outputs)."""
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(rng)
    xp = array_namespace(posterior.mean)
    z = standard_normal((n_samples, posterior.n_test, posterior.n_outputs), xp, posterior.mean.dtype, rng=rng)
    return posterior.mean[None, :, :] + xp.matmul(posterior.factor, z)


def test_loss(predictions, y_test):
    """Equation (2): squared error summed over outputs, averaged over test points; batched over leading axes."""
    xp = array_namespace(predictions, y_test)
    if predictions.shape[-2:] != y_test.shape:
        raise ValueError(f"predictions must end in shape {tuple(y_test.shape)}, got {tuple(predictions.shape)}")
    diff = predictions - y_test
    return xp.sum(diff * diff, axis=(-2, -1)) / y_test.shape[0]


test_loss.__test__ = False  # not a pytest test despite the name


def sample_losses(posterior: GPPosterior, y_test, n_samples: int, *, rng=None, batch_size: int = 2048):
    """Test losses (2) of ``n_samples`` posterior functions, via the rotated form (3), in batches.

    Consumes the random stream exactly as :func:`sample_functions` does when ``batch_size >= n_samples``,
    so the two agree draw for draw.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    batch_size = check_positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(rng)
    xp, y_test = _check_targets(posterior, y_test)
    rho = posterior.eigenvectors.T @ (posterior.mean - y_test)
    sqrt_lam = xp.sqrt(posterior.eigenvalues)[:, None]
    chunks = []
    for start in range(0, n_samples, batch_size):
        size = min(batch_size, n_samples - start)
        z = standard_normal((size, posterior.n_test, posterior.n_outputs), xp, posterior.mean.dtype, rng=rng)
        resid = rho[None, :, :] + sqrt_lam[None, :, :] * z
        chunks.append(xp.sum(resid * resid, axis=(1, 2)) / posterior.n_test)
    return xp.concat(chunks) if len(chunks) > 1 else chunks[0]


def loss_distribution(posterior: GPPosterior, y_test, *, tol: float = 1e-13) -> GeneralizedChi2:
    """The exact law of the test loss (2) as a generalised chi-squared variable (equation (3)).

    Eigenvalues at or below ``posterior.variance_floor`` (ten times the jitter, or n_test machine
    epsilons of the prior variance) count as zero variance: their directions contribute a constant.
    """
    xp, y_test = _check_targets(posterior, y_test)
    rho = to_numpy(posterior.eigenvectors.T @ (posterior.mean - y_test)).astype(np.float64)
    lam = to_numpy(posterior.eigenvalues).astype(np.float64)
    n_test, n_out = posterior.n_test, posterior.n_outputs
    active = lam > posterior.variance_floor
    rho_sq = np.sum(rho**2, axis=1)
    offset = float(np.sum(rho_sq[~active])) / n_test
    return GeneralizedChi2(
        weights=lam[active] / n_test,
        dofs=np.full(int(active.sum()), float(n_out)),
        noncentralities=rho_sq[active] / lam[active],
        offset=offset,
        tol=tol,
    )
