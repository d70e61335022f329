"""L2-regularised multinomial logistic regression with scikit-learn's objective, batched truncated Newton.

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
The discriminative model of the paper is scikit-learn's ``LogisticRegression(penalty="l2", C)``:

    minimise_{W, b}   1/2 ||W||_F^2 + C sum_j s_j CE(W x_j + b, y_j),    CE(z, y) = logsumexp(z) - z_y,

with the intercept b unpenalised.  For K > 2, W has K rows (multinomial).  For K = 2, as scikit-learn
does it, there is one row w (scores [0, w.x + b]), so CE is the binary logistic loss log(1 + e^{-+z}).
The multinomial intercept is identified only up to a common shift; like scikit-learn it is returned
centred, sum_k b_k = 0.

The solver minimises the objective divided by C sum_j s_j (scikit-learn's scaling), so ``tol`` means what
it means there: max |gradient| <= tol.  A problem stops when that holds and, unless ``rtol`` is None, the
last Newton step was a full step that changed (W, b) by at most ``rtol`` relative (Frobenius norms): a
Newton step estimates the distance to the optimum and the iteration converges superlinearly, so the
coefficients are then within about ``rtol`` (relative) of the exact optimum, whatever C.  It also stops
when the relative decrease of the objective falls below ``ftol`` (64 machine epsilons, L-BFGS-B's
default) or a line search finds no decrease.  Every problem of a batch runs its own iteration (its own
steps and stopping), written with masks in the array API standard so the same code runs on NumPy, CuPy
and ``array_api_strict``.

Truncated Newton: each iteration solves H d = -g approximately by preconditioned conjugate gradients
(exact Hessian-vector products, two matrix products each: H v = X^T D (X v) + penalty v, D the
per-sample softmax curvature), to the forcing tolerance ||H d + g|| <= min(1/2, ||g||^(1/4)) ||g|| (or
until the residual meets the stopping rule), then backtracks along d from the full step.
Preconditioner: the curvature-weighted Gram matrix M = [X 1]^T diag(w c) [X 1] + penalty (coefficients
only), with c the per-sample curvature (p(1 - p) for K = 2, where M is the exact Hessian and CG ends in
one step; the average eigenvalue (1 - sum_k p_k^2) / (K - 1) of diag(p) - p p^T on the sum-zero subspace
for K > 2), shared by the class rows, or its diagonal (the default starts with the diagonal and switches
once CG steps cost more than the Gram matrix would, then reuses a Gram matrix while it still pays).
With fewer samples than features (m < n) the fit is reduced exactly first: the penalty keeps W in the
row space of X, so with X^T = Q R (Q: n x m, orthonormal columns) and W = V Q^T the objective in V
is the same one with the m features X Q = R^T; the stopping rule is still checked on W's gradient.
The multinomial Hessian is singular only along the common intercept shift.  A warm start is first
centred (sum_k W_k = 0, sum_k b_k = 0: no probability changes, the penalty can only fall); the
gradient, the Hessian and a class-shared preconditioner then keep the iterates in that subspace, so
CG never sees the singular direction (the exact solve works in a basis of it).  Near the optimum
a full Newton step whose decrease of the objective is below round-off is accepted when it reduces
the gradient, so tight tolerances are reached instead of stalling.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np

from sklearn.exceptions import ConvergenceWarning

from kernels.backend import array_device, array_namespace
from kernels.linalg import cho_solve, cholesky, solve_triangular
from kernels.numerics import log_softmax
from kernels.validation import Interval, check_positive, check_positive_int

from theory.nb_lr._common import LinearClassifierBase, check_every_class_present, prepare_problem

__all__ = ["LogisticFit", "logistic_objective", "fit_logistic", "logistic_predict_proba", "MultinomialLogisticRegression"]

_FTOL = 64 * float(np.finfo(np.float64).eps)
_FORCING = 0.25  # CG forcing exponent: eta = min(1/2, ||g||^0.25)
PRECONDITIONERS = ("auto", "exact", "gram", "diagonal")
_EXACT_MAX = 1500  # largest Newton system (unknowns per problem) formed and solved directly when polishing


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic` (batch axis first when the input was batched).

    Attributes
    ----------
    coef : array, shape (..., K', n)
        K' = 1 when K = 2 (scikit-learn's binary layout), else K.
    intercept : array, shape (..., K')
        Centred (sum zero) for K > 2.
    n_iter : array of int, shape (...,)
        Newton iterations used.
    converged : array of bool, shape (...,)
        Stopped by the tolerances (or a line search without decrease), not by ``max_iter``.
    grad_max : array, shape (...,)
        max |gradient| of the scaled objective at the solution.
    objective : array, shape (...,)
        1/2 ||W||^2 + C sum_j s_j CE_j (unscaled).
    """

    coef: Any
    intercept: Any
    n_iter: Any
    converged: Any
    grad_max: Any
    objective: Any


@dataclass(frozen=True)
class _Stopping:
    tol: float
    rtol: float | None
    ftol: float
    max_iter: int


def _by_rows(X, rows: int) -> bool:
    """Multiply row by row (one matrix-vector product per class row) rather than as one skinny matrix
    product: faster while one problem's X fits in cache (about 1 MB), slower once it streams from memory."""
    return rows > 1 and X.shape[-2] * X.shape[-1] * 8 <= 1 << 20


def _times_rows(X, W, xp):
    """X W^T per problem: (..., m, n) x (..., K', n) -> (..., m, K')."""
    if _by_rows(X, W.shape[-2]):
        return xp.concat([xp.matmul(X, W[..., k, :, None]) for k in range(W.shape[-2])], axis=-1)
    return xp.matmul(X, xp.matrix_transpose(W))


def _rows_times(R, X, xp):
    """R^T X per problem: (..., m, K') x (..., m, n) -> (..., K', n)."""
    if _by_rows(X, R.shape[-1]):
        return xp.concat([xp.matmul(R[..., None, :, k], X) for k in range(R.shape[-1])], axis=-2)
    return xp.matmul(xp.matrix_transpose(R), X)


def _scores(theta, X):
    n = X.shape[-1]
    xp = array_namespace(theta, X)
    return _times_rows(X, theta[..., :n], xp) + xp.expand_dims(theta[..., n], axis=-2)


def _full_logits(Z, binary, xp):
    if binary:
        return xp.concat([xp.zeros_like(Z), Z], axis=-1)
    return Z


def _value_and_grad(theta, X, Y, w, penalty, binary, xp, with_proba=False):
    """Scaled objective (mean weighted CE + penalty ||W||^2 / 2) and its gradient, per problem.

    ``w`` are the weights already divided by their sum; ``penalty`` = 1 / (C sum s) per problem.
    With ``with_proba`` the softmax probabilities (B, m, K) are returned as a third value.
    """
    n = X.shape[-1]
    W = theta[..., :n]
    log_p = log_softmax(_full_logits(_scores(theta, X), binary, xp), axis=-1, xp=xp)  # (B, m, K)
    ce = -xp.sum(Y * log_p, axis=-1)  # (B, m)
    value = xp.sum(w * ce, axis=-1) + 0.5 * penalty * xp.sum(W * W, axis=(-2, -1))
    proba = xp.exp(log_p)
    residual = (proba - Y) * w[..., None]  # d value / d logits
    if binary:
        residual = residual[..., 1:]
    grad_W = _rows_times(residual, X, xp) + penalty[..., None, None] * W
    grad_b = xp.sum(residual, axis=-2)
    grad = xp.concat([grad_W, grad_b[..., None]], axis=-1)
    return (value, grad, proba) if with_proba else (value, grad)


def _inner(a, b, xp):
    return xp.sum(a * b, axis=(-2, -1))


def _grad_max(grad, xp):
    return xp.max(xp.abs(xp.reshape(grad, (grad.shape[0], -1))), axis=-1)


def logistic_objective(coef, intercept, X, y, n_classes, *, C=1.0, sample_weight=None):
    """scikit-learn's objective 1/2 ||W||^2 + C sum_j s_j CE(W x_j + b, y_j) for one or B problems."""
    xp, X, y, Y, w, n_classes = prepare_problem(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    device = array_device(X)
    theta = xp.concat([xp.asarray(coef, dtype=X.dtype, device=device),
                       xp.asarray(intercept, dtype=X.dtype, device=device)[..., None]], axis=-1)
    total = xp.sum(w, axis=-1)
    value, _ = _value_and_grad(theta, X, Y, w / total[..., None], 1.0 / (C * total), n_classes == 2, xp)
    return value * C * total


def fit_logistic(
    X,
    y,
    n_classes: int,
    *,
    C: float = 1.0,
    sample_weight=None,
    tol: float = 1e-4,
    rtol: float | None = 1e-8,
    max_iter: int = 1000,
    init=None,
    ftol: float = _FTOL,
    preconditioner: str = "auto",
) -> LogisticFit:
    """Fit scikit-learn's L2 logistic regression (module docstring) to one or B problems at once.

    Parameters
    ----------
    X : array, shape (m, n) or (B, m, n)
        Features.
    y : array of int, shape (m,) or (B, m)
        Labels in [0, n_classes).
    n_classes : int
        K >= 2 (K = 2: one coefficient row, as scikit-learn).
    C : float
        Inverse regularisation strength, > 0.
    sample_weight : array, shape of y, optional
        Non-negative weights (0 on padding rows).
    tol : float
        Stop only once max |gradient of the scaled objective| <= tol (scikit-learn's meaning).
    rtol : float or None
        Also require the last Newton step to be a full step with ||step|| <= rtol ||(W, b)||: the
        coefficients are then within about rtol (relative) of the optimum.  None: ``tol`` alone decides,
        as in scikit-learn (what the paper's experiment ran).
    max_iter : int
        Newton iterations per problem, >= 1.
    init : (coef, intercept), optional
        Warm start; default zeros.  A problem starts from zero instead where the objective at ``init``
        is higher than at zero.
    ftol : float
        Stop when the relative decrease of the objective is <= ftol (default 64 eps, as scikit-learn;
        0 disables it).
    preconditioner : {"auto", "diagonal", "gram", "exact"}
        CG preconditioner, rebuilt at every Newton iteration: "diagonal", "gram", or "exact" (no CG: the
        exact Hessian, formed and solved directly; for small K'(n+1)); "auto": diagonal until one CG
        solve takes more steps than forming and factoring the Gram matrix costs, then the Gram matrix,
        kept from one iteration to the next until a CG solve again costs more than a rebuild.

    Returns
    -------
    LogisticFit

    Raises
    ------
    ValueError
        Bad arguments (named), a class without samples, or X so large that the objective overflows.
    """
    xp, X, y, Y, w, n_classes = prepare_problem(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    stopping = _Stopping(
        tol=check_positive(tol, "tol"),
        rtol=None if rtol is None else check_positive(rtol, "rtol"),
        ftol=check_positive(ftol, "ftol", allow_zero=True),
        max_iter=check_positive_int(max_iter, "max_iter", minimum=1),
    )
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got {preconditioner!r}")
    check_every_class_present(xp.sum(Y * w[..., None], axis=-2))
    single = X.ndim == 2
    if single:
        X, Y, w = X[None, ...], Y[None, ...], w[None, ...]
    binary = n_classes == 2
    total = xp.sum(w, axis=-1)
    problem = _Problem(X, Y, w / total[:, None], 1.0 / (C * total), binary, xp)
    theta = _initial_theta(init, X, 1 if binary else n_classes, binary, xp)
    if X.shape[-2] < X.shape[-1]:
        theta, value, grad_max, n_iter, active = _newton_in_row_space(problem, theta, stopping, preconditioner)
    else:
        theta, value, grad_max, n_iter, active = _newton_cg(problem, theta, stopping, preconditioner)
    return _result(theta, value, grad_max, n_iter, active, C, total, single, binary, xp)


def _initial_theta(init, X, n_rows, binary, xp):
    """Zeros, or the warm start (B, K', n + 1), centred for K > 2 (module docstring); dtype and device of X."""
    B, n, dtype, device = X.shape[0], X.shape[-1], X.dtype, array_device(X)
    if init is None:
        return xp.zeros((B, n_rows, n + 1), dtype=dtype, device=device)
    coef0 = xp.reshape(xp.asarray(init[0], dtype=dtype, device=device), (B, n_rows, n))
    b0 = xp.reshape(xp.asarray(init[1], dtype=dtype, device=device), (B, n_rows, 1))
    theta = xp.concat([coef0, b0], axis=-1)
    return theta if binary else theta - xp.mean(theta, axis=-2, keepdims=True)


def _newton_in_row_space(problem, theta, stopping, preconditioner):
    """Fewer samples than features: W lies in the row space of X at the optimum (the penalty removes any
    orthogonal part), so with X^T = Q R (Q: n x m orthonormal) and W = V Q^T the problem is the same one in
    m features X Q = R^T, exactly (||W|| = ||V||, same scores)."""
    xp = problem.xp
    m, n = problem.X.shape[-2:]
    Q, R = xp.linalg.qr(xp.matrix_transpose(problem.X))
    reduced_problem = _Problem(xp.matrix_transpose(R), problem.Y, problem.w, problem.penalty, problem.binary, xp,
                               basis=Q)
    reduced = xp.concat([xp.matmul(theta[..., :n], Q), theta[..., n:]], axis=-1)
    reduced, value, grad_max, n_iter, active = _newton_cg(reduced_problem, reduced, stopping, preconditioner)
    theta = xp.concat([xp.matmul(reduced[..., :m], xp.matrix_transpose(Q)), reduced[..., m:]], axis=-1)
    return theta, value, grad_max, n_iter, active


def _result(theta, value, grad_max, n_iter, active, C, total, single, binary, xp) -> LogisticFit:
    n = theta.shape[-1] - 1
    converged = ~active
    if not binary:  # centre the non-identified multinomial intercept
        b = theta[..., n]
        theta = xp.concat([theta[..., :n], (b - xp.mean(b, axis=-1, keepdims=True))[..., None]], axis=-1)
    objective = value * C * total
    coef, intercept = theta[..., :n], theta[..., n]
    if single:
        coef, intercept = coef[0, ...], intercept[0, ...]
        n_iter, converged, grad_max, objective = n_iter[0], converged[0], grad_max[0], objective[0]
    return LogisticFit(coef, intercept, n_iter, converged, grad_max, objective)


@dataclass
class _Problem:
    """A batch of B scaled problems: features, one-hot labels, normalised weights, penalty (B,)."""

    X: Any
    Y: Any
    w: Any
    penalty: Any
    binary: bool
    xp: Any
    basis: Any = None  # Q (B, n, m) when the coefficients are V with W = V Q^T (fewer samples than features)
    _squared: Any = field(default=None, repr=False)
    _with_ones: Any = field(default=None, repr=False)

    def evaluate(self, theta, with_proba=False):
        return _value_and_grad(theta, self.X, self.Y, self.w, self.penalty, self.binary, self.xp, with_proba)

    def below(self, r, level):
        """max |r| <= level in the original coordinates (the 2-norm, an upper bound, when reduced)."""
        if self.basis is None:
            return _grad_max(r, self.xp) <= level
        return self.xp.sqrt(_inner(r, r, self.xp)) <= level

    def grad_max(self, grad):
        """max |gradient| in the original coordinates (W, b), where ``tol`` is defined."""
        if self.basis is None:
            return _grad_max(grad, self.xp)
        xp, k = self.xp, grad.shape[-1] - 1
        grad_W = xp.matmul(grad[..., :k], xp.matrix_transpose(self.basis))
        return xp.maximum(_grad_max(grad_W, xp), _grad_max(grad[..., k:], xp))

    def squared(self):
        """X * X, built once."""
        if self._squared is None:
            self._squared = self.X * self.X
        return self._squared

    def with_ones(self):
        """[X 1] (B, m, n+1), built once."""
        if self._with_ones is None:
            ones = self.xp.ones(self.X.shape[:-1] + (1,), dtype=self.X.dtype, device=array_device(self.X))
            self._with_ones = self.xp.concat([self.X, ones], axis=-1)
        return self._with_ones


def _gram_cost_in_cg_steps(B: int, m: int, n: int, n_rows: int) -> float:
    """Rough cost of the (n+1) x (n+1) curvature Gram matrix of B problems, formed, factored and its
    triangular factor inverted, in units of one CG step.

    A flop model with fixed rates (only the switch point between preconditioners depends on it): a CG
    step is two skinny matrix products, ~4 B m n K' flops, plus a fixed cost of array calls; the Gram
    matrix ~B m n^2 flops (a symmetric rank-k update, at a higher rate); Cholesky ~B n^3 / 3 and the
    triangular inverse as much again; plus a fixed cost of calls.
    """
    cg_step = 4.0 * B * m * n * n_rows / 5e9 + 5e-5
    factor = 2.0 * B * float(n) ** 3 / 3.0 / 5e9
    return (B * m * float(n) ** 2 / 30e9 + factor + 3e-4) / cg_step


def _curvature(proba, problem):
    """Per-sample weight w_j c_j of the class-shared preconditioner (module docstring), shape (B, m)."""
    xp = problem.xp
    if problem.binary:
        c = proba[..., 1] * proba[..., 0]
    else:
        K = proba.shape[-1]
        c = (1.0 - xp.sum(proba * proba, axis=-1)) / (K - 1)
    return c * problem.w


def _weighted_gram(X1, weight, xp):
    """X1^T diag(weight) X1 per problem; for weight >= 0 as (sqrt(weight) X1)^T (sqrt(weight) X1), one
    2-D product per problem, which NumPy runs as a symmetric rank-k update (half the work)."""
    Xs = X1 * xp.sqrt(weight)[..., None]
    return xp.stack([xp.matmul(xp.matrix_transpose(Xs[b, ...]), Xs[b, ...]) for b in range(X1.shape[0])])


def _ridge(problem, dtype):
    """The penalty on the coefficient diagonal of an (n+1) x (n+1) block, and a tiny floor on the
    intercept entry (1e-10 of the penalty) so that a saturated fit stays positive definite."""
    xp, n = problem.xp, problem.X.shape[-1]
    device = array_device(problem.X)
    mask = xp.concat([xp.ones((n,), dtype=dtype, device=device), xp.full((1,), 1e-10, dtype=dtype, device=device)])
    return problem.penalty[:, None, None] * (xp.eye(n + 1, dtype=dtype, device=device) * mask)


def _cholesky_solve(M, b, xp):
    """Solve M x = b for symmetric positive definite M (B, N, N) and b (B, N, k) via Cholesky."""
    L = cholesky(M, "the Newton system")
    return xp.stack([cho_solve(L[i, ...], b[i, ...]) for i in range(M.shape[0])])


def _gram_preconditioner(proba, problem):
    """q -> q M^{-1} for M = [X 1]^T diag(w c) [X 1] + penalty on the coefficient block, per problem.

    M^{-1} = L^{-T} L^{-1} from the Cholesky factor, applied as two products (exactly symmetric).
    """
    xp = problem.xp
    X1 = problem.with_ones()
    B, _, n1 = X1.shape
    M = _weighted_gram(X1, _curvature(proba, problem), xp) + _ridge(problem, X1.dtype)
    L = cholesky(M, "the Newton system")
    eye = xp.eye(n1, dtype=X1.dtype, device=array_device(X1))
    L_inv = xp.stack([solve_triangular(L[b, ...], eye, lower=True) for b in range(B)])
    L_inv_T = xp.matrix_transpose(L_inv)
    return lambda q: xp.matmul(xp.matmul(q, L_inv_T), L_inv)


def _diagonal_preconditioner(proba, problem):
    """q -> q / diag(M), M as in :func:`_gram_preconditioner`."""
    xp, X = problem.xp, problem.X
    cw = _curvature(proba, problem)
    d = xp.matmul(cw[:, None, :], problem.squared()) + problem.penalty[:, None, None]  # (B, 1, n)
    t = xp.maximum(xp.sum(cw, axis=-1), xp.asarray(1e-12, dtype=X.dtype, device=array_device(X)))
    diag = xp.concat([d, t[:, None, None]], axis=-1)
    return lambda q: q / diag


def _hessian_vector(proba, V, problem):
    """H V per problem: X^T D (X V) + penalty V (coefficients), D the softmax curvature at ``proba``."""
    xp, X = problem.xp, problem.X
    n = X.shape[-1]
    Z = _scores(V, X)  # (B, m, K')
    if problem.binary:
        p1 = proba[..., 1:]
        R = p1 * (1.0 - p1) * Z
    else:
        R = proba * (Z - xp.sum(proba * Z, axis=-1, keepdims=True))
    R = R * problem.w[..., None]
    H_W = _rows_times(R, X, xp) + problem.penalty[:, None, None] * V[..., :n]
    return xp.concat([H_W, xp.sum(R, axis=-2)[..., None]], axis=-1)


def _conjugate_gradient(grad, proba, problem, apply_inverse, active, max_cg, tol, forcing_cap=0.5):
    """Approximate Newton direction d ~ -H^{-1} g by preconditioned CG, per problem (masked).

    Stops a problem at ||H d + g|| <= min(forcing_cap, ||g||^(1/4)) ||g|| or max |H d + g| <= tol / 2, at
    non-positive curvature, or after ``max_cg`` steps.  Where CG makes no step the preconditioned
    gradient -M^{-1} g is returned.
    Returns (d, number of CG steps taken by the slowest problem).
    """
    xp = problem.xp
    g_norm = xp.sqrt(_inner(grad, grad, xp))
    target = xp.minimum(xp.asarray(forcing_cap, dtype=grad.dtype, device=array_device(grad)), g_norm**_FORCING) * g_norm
    d = xp.zeros_like(grad)
    r = -grad
    z = apply_inverse(r)
    fallback = z
    p = z
    rz = _inner(r, z, xp)
    running = active
    zero = xp.zeros_like(rz)
    one = xp.ones_like(rz)
    steps = 0
    for _ in range(max_cg):
        steps += 1
        Hp = _hessian_vector(proba, p, problem)
        pHp = _inner(p, Hp, xp)
        running = running & (pHp > 0)
        alpha = xp.where(running, rz / xp.where(running, pHp, one), zero)
        d = d + alpha[:, None, None] * p
        r = r - alpha[:, None, None] * Hp
        # Also stop once the residual meets the stopping rule itself (after a unit step the gradient
        # is ~ the residual): no need to solve beyond max |gradient| <= tol.
        running = running & (xp.sqrt(_inner(r, r, xp)) > target) & ~problem.below(r, 0.5 * tol)
        if not bool(xp.any(running)):
            break
        z = apply_inverse(r)
        rz_new = _inner(r, z, xp)
        beta = xp.where(running, rz_new / xp.where(rz != 0, rz, one), zero)
        p = z + beta[:, None, None] * p
        rz = xp.where(running, rz_new, rz)
    no_step = _inner(d, d, xp) == 0
    return xp.where(no_step[:, None, None], fallback, d), steps


def _helmert_basis(K: int) -> np.ndarray:
    """K x (K-1) orthonormal basis of the sum-zero vectors (columns of the Helmert matrix)."""
    U = np.zeros((K, K - 1))
    for a in range(1, K):
        U[:a, a - 1] = 1.0
        U[a, a - 1] = -float(a)
        U[:, a - 1] /= np.sqrt(a * (a + 1.0))
    return U


def _exact_newton_direction(grad, proba, problem):
    """-H^{-1} g with the exact Hessian, formed block by block and solved directly, per problem.

    K = 2: H = [X 1]^T diag(w p (1-p)) [X 1] + penalty (coefficients).  K > 2: on the sum-zero
    subspace, in the Helmert basis U (W = U V, ||W|| = ||V||), the (a, b) block of H is
    [X 1]^T diag(w (U^T (diag p - p p^T) U)_ab) [X 1] + penalty delta_ab (coefficients), size
    (K-1)(n+1) in all; the common intercept shift, the one direction H does not identify, is left out.
    """
    xp, X, w = problem.xp, problem.X, problem.w
    B, m, n = X.shape
    X1 = problem.with_ones()
    if problem.binary:
        p1 = proba[..., 1]
        weights = [[(p1 * (1.0 - p1) * w)]]
        U = None
        g = grad
    else:
        K = proba.shape[-1]
        U = xp.asarray(_helmert_basis(K), dtype=X.dtype, device=array_device(X))
        PU = xp.matmul(proba, U)  # (B, m, K-1)
        weights = [[None] * (K - 1) for _ in range(K - 1)]
        for a in range(K - 1):
            for b in range(a, K - 1):
                # (U^T diag(p) U)_ab - (U^T p)_a (U^T p)_b
                diag_part = xp.matmul(proba, U[:, a] * U[:, b])
                weights[a][b] = (diag_part - PU[..., a] * PU[..., b]) * w
        g = xp.matmul(xp.matrix_transpose(U), grad)  # (B, K-1, n+1)
    rows = len(weights)
    ridge = _ridge(problem, X.dtype)
    blocks = [[None] * rows for _ in range(rows)]
    for a in range(rows):
        for b in range(a, rows):
            if a == b:  # diagonal blocks have weights >= 0 (H is positive semidefinite)
                G = _weighted_gram(X1, xp.maximum(weights[a][a], xp.zeros_like(weights[a][a])), xp) + ridge
            else:
                G = xp.matmul(xp.matrix_transpose(X1 * weights[a][b][..., None]), X1)
            blocks[a][b] = G
            if b != a:
                blocks[b][a] = xp.matrix_transpose(G)
    H = blocks[0][0] if rows == 1 else xp.concat([xp.concat(blocks[a], axis=-1) for a in range(rows)], axis=-2)
    step = _cholesky_solve(H, -xp.reshape(g, (B, rows * (n + 1), 1)), xp)
    step = xp.reshape(step, (B, rows, n + 1))
    return step if U is None else xp.matmul(U, step)




def _start(problem, theta):
    """Objective, gradient and probabilities at the start point; a warm start worse than zero (objective
    above ln K, its value at 0, e.g. the large weights of a nearly separable neighbour) is dropped."""
    xp = problem.xp
    value, grad, proba = problem.evaluate(theta, with_proba=True)
    worse = value > math.log(problem.Y.shape[-1])
    if bool(xp.any(worse)):
        theta = xp.where(worse[:, None, None], xp.zeros_like(theta), theta)
        value, grad, proba = problem.evaluate(theta, with_proba=True)
    if not (bool(xp.all(xp.isfinite(value))) and bool(xp.all(xp.isfinite(grad)))):
        raise ValueError("X is too large: the logistic objective or its gradient overflows float64; rescale X")
    return theta, value, grad, proba


class _Directions:
    """Newton directions under the preconditioner policy of :func:`fit_logistic` (kept between iterations)."""

    def __init__(self, problem, preconditioner, n_rows, max_cg=200):
        B, m, n = problem.X.shape
        self.problem, self.preconditioner, self.max_cg = problem, preconditioner, max_cg
        self.kind = "diagonal" if preconditioner == "auto" else preconditioner
        self.switch_after = _gram_cost_in_cg_steps(B, m, n, n_rows)
        self.exact_size = (n_rows - 1 if n_rows > 1 else 1) * (n + 1)
        self.apply_inverse = None

    def accurate(self, grad, proba, active, forcing_cap):
        """A direction accurate to ``forcing_cap`` (relative residual): exact for small Hessians."""
        if self.exact_size <= _EXACT_MAX:
            return _exact_newton_direction(grad, proba, self.problem)
        inverse = _gram_preconditioner(proba, self.problem)
        return _conjugate_gradient(grad, proba, self.problem, inverse, active, 4 * self.max_cg, 0.0, forcing_cap)[0]

    def __call__(self, grad, proba, active, tol):
        if self.kind == "exact":
            return _exact_newton_direction(grad, proba, self.problem)
        if self.apply_inverse is None:
            make_inverse = _gram_preconditioner if self.kind == "gram" else _diagonal_preconditioner
            self.apply_inverse = make_inverse(proba, self.problem)
        direction, cg_steps = _conjugate_gradient(grad, proba, self.problem, self.apply_inverse, active,
                                                  self.max_cg, tol)
        if self.kind == "diagonal":
            self.apply_inverse = None  # cheap: rebuilt at every iteration
            if self.preconditioner == "auto" and cg_steps > self.switch_after:
                self.kind = "gram"  # ill-conditioned beyond a diagonal's reach: the Gram matrix pays off
        elif cg_steps > self.switch_after or self.preconditioner == "gram":
            self.apply_inverse = None  # "auto": rebuild only once the stale one costs more CG steps than a rebuild
        return direction


def _descent(grad, direction, xp):
    """The direction and its slope g . d, replaced by -g where it is not a descent direction (cannot
    happen in exact arithmetic: H and M are positive definite)."""
    slope = _inner(grad, direction, xp)
    bad = slope >= 0
    direction = xp.where(bad[:, None, None], -grad, direction)
    return direction, xp.where(bad, -_inner(grad, grad, xp), slope)


def _newton_cg(problem, theta, stopping: _Stopping, preconditioner):
    """Truncated Newton with backtracking, per problem of the batch (module docstring)."""
    xp = problem.xp
    B = theta.shape[0]
    theta, value, grad, proba = _start(problem, theta)
    directions = _Directions(problem, preconditioner, theta.shape[1])
    grad_max = problem.grad_max(grad)
    device = array_device(theta)
    small_step = (grad_max == 0) if stopping.rtol is not None else xp.ones((B,), dtype=xp.bool, device=device)
    active = ~((grad_max <= stopping.tol) & small_step)
    n_iter = xp.zeros((B,), dtype=xp.int64, device=device)
    one = xp.ones((B,), dtype=theta.dtype, device=device)
    polish, length = False, None
    for _ in range(stopping.max_iter):
        if not bool(xp.any(active)):
            break
        # With rtol, once the gradient test holds the Newton direction itself must be accurate ("polish"):
        # exact where the Hessian is small, else CG to a forcing of sqrt(rtol), not cut at the tolerance.
        polish = polish or (stopping.rtol is not None and bool(xp.any(active & (grad_max <= stopping.tol))))
        if polish:
            raw = directions.accurate(grad, proba, active, math.sqrt(stopping.rtol))
        else:
            raw = directions(grad, proba, active, stopping.tol)
        direction, slope = _descent(grad, raw, xp)
        stagnant = xp.ones((B,), dtype=xp.bool, device=device)
        if polish:  # the Newton step estimates the distance to the optimum
            previous, length = length, xp.sqrt(_inner(direction, direction, xp))
            small_step = length <= stopping.rtol * (xp.sqrt(_inner(theta, theta, xp)) + length)
            # while the steps still shrink fast (Newton's local convergence) a tiny decrease of f is no reason to stop
            stagnant = xp.zeros((B,), dtype=xp.bool, device=device) if previous is None else length > 0.5 * previous
        step = xp.where(active, one, xp.zeros_like(one))
        new_theta, new_value, new_grad, new_proba, accepted = _armijo(
            theta, value, grad_max, slope, direction, step, active, problem
        )
        moved = active & accepted
        decrease = (value - new_value) / xp.maximum(xp.maximum(xp.abs(value), xp.abs(new_value)), one)
        m3 = moved[:, None, None]
        theta = xp.where(m3, new_theta, theta)
        grad = xp.where(m3, new_grad, grad)
        proba = xp.where(m3, new_proba, proba)
        value = xp.where(moved, new_value, value)
        n_iter = n_iter + xp.astype(moved, xp.int64)
        grad_max = problem.grad_max(grad)
        stalled = active & ~accepted
        # ftol = 0 disables the rule (a round-off step may change f by <= 0 while the gradient still falls)
        small_decrease = moved & stagnant & (decrease <= stopping.ftol) if stopping.ftol > 0 else xp.zeros_like(moved)
        active = active & ~stalled & ~small_decrease & ~((grad_max <= stopping.tol) & small_step)
    return theta, value, grad_max, n_iter, active


def _armijo(theta, value, grad_max, slope, direction, step, active, problem, max_steps=40):
    """Backtracking until f(theta + t d) <= f + 1e-4 t slope; quadratic interpolation, t in [0.1, 0.5] t_old.

    The first (full) step is also accepted when the change of f is within round-off of f (the Armijo
    test is then meaningless) and the gradient's largest entry decreases.
    Returns (theta, value, grad, proba, accepted).
    """
    xp = problem.xp
    accepted = ~active
    new_theta, new_value, new_grad, new_proba = theta, value, None, None
    noise = 16 * float(np.finfo(np.float64).eps) * xp.abs(value)
    for attempt in range(max_steps):
        trial = theta + step[:, None, None] * direction
        f, g, proba = problem.evaluate(trial, with_proba=True)
        ok = (~accepted) & (f <= value + 1e-4 * step * slope) & xp.isfinite(f)
        if attempt == 0:
            ok = ok | ((~accepted) & (xp.abs(f - value) <= noise) & (problem.grad_max(g) < grad_max))
        o3 = ok[:, None, None]
        new_theta = xp.where(o3, trial, new_theta)
        new_value = xp.where(ok, f, new_value)
        new_grad = g if new_grad is None else xp.where(o3, g, new_grad)
        new_proba = proba if new_proba is None else xp.where(o3, proba, new_proba)
        accepted = accepted | ok
        if bool(xp.all(accepted)):
            break
        # Minimiser of the quadratic through f(0), f'(0) and f(step), kept in [0.1, 0.5] * step.
        curvature = f - value - step * slope
        safe = xp.isfinite(f) & (curvature > 0)
        t_quad = -slope * step * step / (2 * xp.where(safe, curvature, xp.ones_like(curvature)))
        t_new = xp.where(safe, xp.clip(t_quad, 0.1 * step, 0.5 * step), 0.1 * step)
        step = xp.where(accepted, step, t_new)
    return new_theta, new_value, new_grad, new_proba, accepted & active


def logistic_predict_proba(coef, intercept, X):
    """Softmax class probabilities (..., N, K) of a fitted model (binary layout expanded to 2 columns)."""
    xp = array_namespace(coef, X)
    Z = xp.matmul(X, xp.matrix_transpose(coef)) + intercept[..., None, :]
    return xp.exp(log_softmax(_full_logits(Z, coef.shape[-2] == 1, xp), axis=-1, xp=xp))


class MultinomialLogisticRegression(LinearClassifierBase):
    """L2 multinomial logistic regression with scikit-learn's objective, a scikit-learn estimator.

    A thin shell around :func:`fit_logistic` (the same objective as ``LogisticRegression(C=C)``).

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength, > 0.
    tol : float, default 1e-4
        max |gradient| of the scaled objective at which to stop (scikit-learn's meaning).
    rtol : float or None, default 1e-8
        Relative accuracy of the coefficients: stop only after a full Newton step of relative size
        <= rtol (module docstring of :mod:`theory.nb_lr.logistic`); None leaves ``tol`` alone to decide.
    max_iter : int, default 1000
        Newton iterations, >= 1.

    Attributes
    ----------
    classes_ : array (n_classes,)
        Labels seen in ``fit``.
    coef_ : array (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : array (1,) or (n_classes,)
    n_iter_ : int
    converged_ : bool
    n_features_in_ : int
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "rtol": [Interval(Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, C: float = 1.0, tol: float = 1e-4, rtol: float | None = 1e-8, max_iter: int = 1000):
        self.C = C
        self.tol = tol
        self.rtol = rtol
        self.max_iter = max_iter

    def _fit_encoded(self, X, codes, n_classes, sample_weight):
        result = fit_logistic(X, codes, n_classes, C=self.C, sample_weight=sample_weight, tol=self.tol,
                              rtol=self.rtol, max_iter=self.max_iter)
        self.coef_, self.intercept_ = result.coef, result.intercept
        self.n_iter_ = int(result.n_iter)
        self.converged_ = bool(result.converged)
        if not self.converged_:
            warnings.warn(f"MultinomialLogisticRegression stopped at max_iter={self.max_iter} before reaching "
                          f"tol={self.tol} / rtol={self.rtol}; increase max_iter", ConvergenceWarning, stacklevel=3)

    def decision_function(self, X):
        """Scores X coef_^T + intercept_: (n_samples,) for two classes, else (n_samples, n_classes)."""
        X = self._input(X, "decision_function")
        xp = array_namespace(X)
        scores = xp.matmul(X, xp.matrix_transpose(self.coef_)) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Softmax class probabilities, shape (n_samples, n_classes)."""
        X = self._input(X, "predict_proba")
        return logistic_predict_proba(self.coef_, self.intercept_, X)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably."""
        X = self._input(X, "predict_log_proba")
        xp = array_namespace(X)
        Z = xp.matmul(X, xp.matrix_transpose(self.coef_)) + self.intercept_
        return log_softmax(_full_logits(Z, self.coef_.shape[0] == 1, xp), axis=-1, xp=xp)
