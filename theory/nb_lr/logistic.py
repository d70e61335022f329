"""L2-regularised multinomial logistic regression with scikit-learn's objective, batched Newton-CG.

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
The discriminative model of the paper is scikit-learn's ``LogisticRegression(penalty="l2", C, solver="lbfgs")``:

    minimise_{W, b}   1/2 ||W||_F^2 + C sum_j s_j CE(W x_j + b, y_j),    CE(z, y) = logsumexp(z) - z_y,

with the intercept b unpenalised.  For K > 2, W has K rows (multinomial).  For K = 2, as scikit-learn
does it, there is one row w (scores [0, w.x + b]), so CE is the binary logistic loss log(1 + e^{-+z}).
The multinomial intercept is identified only up to a common shift; like scikit-learn (whose L-BFGS path
starts at 0 and never leaves the sum-zero subspace) it is returned centred, sum_k b_k = 0.

Both solvers minimise the same objective divided by C sum_j s_j (scikit-learn's scaling), so the
tolerance means what ``tol`` means there: stop when max |gradient| <= tol, or when the relative
decrease of the objective falls below ``ftol`` (64 machine epsilons, L-BFGS-B's default).  Every
problem of a batch runs its own iteration (its own steps and stopping), written with masks in the
array API standard so the same code runs on NumPy, CuPy and ``array_api_strict``.

``solver="newton-cg"`` (the default): truncated Newton.  Each iteration solves H d = -g approximately
by preconditioned conjugate gradients (exact Hessian-vector products, two matrix products each:
H v = X^T D (X v) + penalty v, D the per-sample softmax curvature), to the forcing tolerance
||H d + g|| <= min(1/2, ||g||^(1/4)) ||g|| (or until max |H d + g| <= tol / 2, all the stopping rule
needs), then backtracks along d from the full step.  Preconditioner:
the curvature-weighted Gram matrix M = [X 1]^T diag(w c) [X 1] + penalty (coefficients only), with c
the per-sample curvature (p(1 - p) for K = 2, where M is the exact Hessian and CG ends in one step;
the average eigenvalue (1 - sum_k p_k^2) / (K - 1) of diag(p) - p p^T on the sum-zero subspace for K > 2),
shared by the class rows, or its diagonal (the default starts with the diagonal and switches once
CG steps cost more than the Gram matrix would, then reuses a Gram matrix while it still pays).
With fewer samples than features (m < n) the fit is reduced exactly first: the penalty keeps W in the
row space of X, so with X^T = Q R (Q: n x m, orthonormal columns) and W = V Q^T the objective in V
is the same one with the m features X Q = R^T; the stopping rule is still checked on W's gradient.
The multinomial Hessian is singular only along the common intercept shift.  A warm start is first
centred (sum_k W_k = 0, sum_k b_k = 0: no probability changes, the penalty can only fall); the
gradient, the Hessian and a class-shared preconditioner then keep the iterates in that subspace, so
CG never sees the singular direction (the exact solve works in a basis of it).  Near the optimum
a full Newton step whose decrease of the objective is below round-off is accepted when it reduces
the gradient, so tight tolerances (1e-10) are reached instead of stalling.

``solver="lbfgs"``: L-BFGS with a history of ``history`` pairs, a diagonal preconditioner (each
feature's second moment) with the Barzilai-Borwein initial scaling and an Armijo backtracking line
search with safeguarded quadratic interpolation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels.backend import array_namespace

from kernels.linalg import cho_solve, cholesky, solve_triangular
from kernels.validation import check_positive, check_positive_int

from theory.nb_lr.naive_bayes import _host, _LinearClassifierMixin, _prepare, _check_every_class_present

__all__ = ["LogisticFit", "logistic_objective", "fit_logistic", "logistic_predict_proba", "MultinomialLogisticRegression"]

_FTOL = 64 * float(np.finfo(np.float64).eps)
_FORCING = 0.25  # CG forcing exponent: eta = min(1/2, ||g||^0.25); 0.5 and 1 cost more products here


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic` (batch axis first when the input was batched)."""

    coef: Any  # (..., K', n), K' = 1 when K = 2 else K
    intercept: Any  # (..., K')
    n_iter: Any  # (...,) iterations used
    converged: Any  # (...,) bool: stopped by tol or ftol, not by max_iter
    grad_max: Any  # (...,) max |gradient| of the scaled objective at the solution
    objective: Any  # (...,) 1/2 ||W||^2 + C sum s_j CE_j  (unscaled)


def _by_rows(X, rows: int) -> bool:
    """Multiply row by row (one matrix-vector product per class row) rather than as one skinny matrix
    product?  With OpenBLAS a product with K' = 2..8 columns runs at a fraction of the matrix-vector
    speed while one problem's X stays in cache (measured ~1.7x slower at 0.7 MB, break-even ~1.5 MB,
    and 2.5x faster than K' vector passes once X streams from memory)."""
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


def _log_softmax(Z, xp):
    top = xp.max(Z, axis=-1, keepdims=True)
    shifted = Z - top
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def _value_and_grad(theta, X, Y, w, penalty, binary, xp, with_proba=False):
    """Scaled objective (mean weighted CE + penalty ||W||^2 / 2) and its gradient, per problem.

    ``w`` are the weights already divided by their sum; ``penalty`` = 1 / (C sum s) per problem.
    With ``with_proba`` the softmax probabilities (B, m, K) are returned as a third value.
    """
    n = X.shape[-1]
    W = theta[..., :n]
    log_p = _log_softmax(_full_logits(_scores(theta, X), binary, xp), xp)  # (B, m, K)
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
    xp, X, y, Y, w, n_classes = _prepare(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    theta = xp.concat([xp.asarray(coef, dtype=X.dtype), xp.asarray(intercept, dtype=X.dtype)[..., None]], axis=-1)
    total = xp.sum(w, axis=-1)
    value, _ = _value_and_grad(theta, X, Y, w / total[..., None], 1.0 / (C * total), n_classes == 2, xp)
    return value * C * total


SOLVERS = ("auto", "newton-cg", "lbfgs")
PRECONDITIONERS = ("auto", "exact", "gram", "diagonal")


def fit_logistic(
    X,
    y,
    n_classes: int,
    *,
    C: float = 1.0,
    sample_weight=None,
    tol: float = 1e-4,
    max_iter: int = 1000,
    history: int = 10,
    init=None,
    ftol: float = _FTOL,
    solver: str = "auto",
    preconditioner: str = "auto",
) -> LogisticFit:
    """Fit scikit-learn's L2 logistic regression (module docstring) to one or B problems at once.

    Parameters
    ----------
    X : (m, n) or (B, m, n) features; y : (m,) or (B, m) integer labels in [0, n_classes).
    n_classes : K >= 2 (K = 2: one coefficient row, as scikit-learn).
    C : inverse regularisation strength, > 0.
    sample_weight : optional non-negative weights of the same shape as y (0 on padding rows).
    tol : stop when max |gradient of the scaled objective| <= tol (scikit-learn's meaning).
    max_iter : iteration cap per problem (Newton iterations for newton-cg, as scikit-learn counts them).
    history : L-BFGS memory (lbfgs only).
    init : optional (coef, intercept) to start from (warm start); default zeros.  newton-cg starts a
        problem from zero instead where the objective at ``init`` is higher than at zero.
    ftol : stop when the relative decrease of the objective is <= ftol (default 64 eps, as
        scikit-learn; 0 disables it so that only ``tol`` decides).
    solver : "newton-cg", "lbfgs" or "auto" (= newton-cg).
    preconditioner : newton-cg's CG preconditioner, rebuilt at every Newton iteration: "diagonal",
        "gram", or "exact" (no CG: the exact Hessian, formed and solved directly; for small K'(n+1));
        or "auto": diagonal until one CG solve takes more steps than forming and factoring the Gram
        matrix costs (:func:`_gram_cost_in_cg_steps`), then the Gram matrix, kept from one Newton
        iteration to the next until a CG solve again takes more steps than a rebuild would cost.
        Fewer samples than features (m < n): the problem is first reduced exactly to the row space
        of X (module docstring), n -> m.
    """
    xp, X, y, Y, w, n_classes = _prepare(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    tol = check_positive(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    history = check_positive_int(history, "history")
    ftol = check_positive(ftol, "ftol", allow_zero=True)
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner must be one of {PRECONDITIONERS}, got {preconditioner!r}")
    _check_every_class_present(xp.sum(Y * w[..., None], axis=-2))
    single = X.ndim == 2
    if single:
        X, Y, w = X[None, ...], Y[None, ...], w[None, ...]
    binary = n_classes == 2
    n_rows = 1 if binary else n_classes
    B, m, n = X.shape
    total = xp.sum(w, axis=-1)
    w = w / total[:, None]
    penalty = 1.0 / (C * total)
    if init is None:
        theta = xp.zeros((B, n_rows, n + 1), dtype=X.dtype)
    else:
        coef0 = xp.reshape(xp.asarray(init[0], dtype=X.dtype), (B, n_rows, n))
        b0 = xp.reshape(xp.asarray(init[1], dtype=X.dtype), (B, n_rows, 1))
        theta = xp.concat([coef0, b0], axis=-1)

    if solver == "lbfgs":
        problem = _Problem(X, Y, w, penalty, binary, xp)
        theta, value, grad_max, n_iter, active = _lbfgs(problem, theta, tol, max_iter, history, ftol)
        return _result(theta, value, grad_max, n_iter, active, C, total, single, binary, xp)
    if not binary and init is not None:
        theta = theta - xp.mean(theta, axis=-2, keepdims=True)  # centre the warm start (module docstring)
    if m < n:
        # Fewer samples than features: W lies in the row space of X at the optimum (the penalty
        # removes any orthogonal part), so with X^T = Q R (Q: n x m orthonormal) and W = V Q^T the
        # problem is the same one in m features X Q = R^T, exactly (||W|| = ||V||, same scores).
        Q, R = xp.linalg.qr(xp.matrix_transpose(X))
        problem = _Problem(xp.matrix_transpose(R), Y, w, penalty, binary, xp, basis=Q)
        reduced = xp.concat([xp.matmul(theta[..., :n], Q), theta[..., n:]], axis=-1)
        reduced, value, grad_max, n_iter, active = _newton_cg(problem, reduced, tol, max_iter, ftol, preconditioner)
        theta = xp.concat([xp.matmul(reduced[..., :m], xp.matrix_transpose(Q)), reduced[..., m:]], axis=-1)
    else:
        problem = _Problem(X, Y, w, penalty, binary, xp)
        theta, value, grad_max, n_iter, active = _newton_cg(problem, theta, tol, max_iter, ftol, preconditioner)
    return _result(theta, value, grad_max, n_iter, active, C, total, single, binary, xp)


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
            ones = self.xp.ones(self.X.shape[:-1] + (1,), dtype=self.X.dtype)
            self._with_ones = self.xp.concat([self.X, ones], axis=-1)
        return self._with_ones


def _gram_cost_in_cg_steps(B: int, m: int, n: int, n_rows: int) -> float:
    """Rough cost of the (n+1) x (n+1) curvature Gram matrix of B problems, formed, factored and its
    triangular factor inverted, in units of one CG step.

    A model of NumPy/OpenBLAS on one core, measured on this project's machine (only the speed depends
    on it): a CG step is two skinny matrix products, ~4 B m n K' flops at ~5 GFLOP/s, plus ~0.05 ms of
    array calls; the Gram matrix ~B m n^2 flops at ~30 GFLOP/s (symmetric rank-k update); Cholesky
    ~B n^3 / 3 and the triangular inverse as much again, at ~5 GFLOP/s; plus ~0.3 ms of calls.
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
    mask = xp.concat([xp.ones((n,), dtype=dtype), xp.full((1,), 1e-10, dtype=dtype)])
    return problem.penalty[:, None, None] * (xp.eye(n + 1, dtype=dtype) * mask)


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
    eye = xp.eye(n1, dtype=X1.dtype)
    L_inv = xp.stack([solve_triangular(L[b, ...], eye, lower=True) for b in range(B)])
    L_inv_T = xp.matrix_transpose(L_inv)
    return lambda q: xp.matmul(xp.matmul(q, L_inv_T), L_inv)


def _diagonal_preconditioner(proba, problem):
    """q -> q / diag(M), M as in :func:`_gram_preconditioner`."""
    xp, X = problem.xp, problem.X
    cw = _curvature(proba, problem)
    d = xp.matmul(cw[:, None, :], problem.squared()) + problem.penalty[:, None, None]  # (B, 1, n)
    t = xp.maximum(xp.sum(cw, axis=-1), xp.asarray(1e-12, dtype=X.dtype))
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


def _conjugate_gradient(grad, proba, problem, apply_inverse, active, max_cg, tol):
    """Approximate Newton direction d ~ -H^{-1} g by preconditioned CG, per problem (masked).

    Stops a problem at ||H d + g|| <= min(1/2, ||g||^(1/4)) ||g|| or max |H d + g| <= tol / 2, at
    non-positive curvature, or after ``max_cg`` steps.  Where CG makes no step the preconditioned
    gradient -M^{-1} g is returned.
    Returns (d, number of CG steps taken by the slowest problem).
    """
    xp = problem.xp
    g_norm = xp.sqrt(_inner(grad, grad, xp))
    target = xp.minimum(xp.asarray(0.5, dtype=grad.dtype), g_norm**_FORCING) * g_norm
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
        U = xp.asarray(_helmert_basis(K), dtype=X.dtype)
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


def _newton_cg(problem, theta, tol, max_iter, ftol, preconditioner, max_cg=200):
    xp = problem.xp
    B = theta.shape[0]
    kind = "diagonal" if preconditioner == "auto" else preconditioner
    _, m, n1 = problem.X.shape
    switch_after = _gram_cost_in_cg_steps(B, m, n1, theta.shape[1])
    value, grad, proba = problem.evaluate(theta, with_proba=True)
    # A warm start worse than zero (objective above log K, its value at 0) is dropped: e.g. the
    # large weights of a nearly separable neighbour are a poor start on fresh data.
    worse = value > math.log(problem.Y.shape[-1])
    if bool(xp.any(worse)):
        theta = xp.where(worse[:, None, None], xp.zeros_like(theta), theta)
        value, grad, proba = problem.evaluate(theta, with_proba=True)
    grad_max = problem.grad_max(grad)
    active = grad_max > tol
    n_iter = xp.zeros((B,), dtype=xp.int64)
    one = xp.ones((B,), dtype=theta.dtype)
    apply_inverse = None
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        if kind == "exact":
            direction = _exact_newton_direction(grad, proba, problem)
        else:
            if apply_inverse is None:
                make_inverse = _gram_preconditioner if kind == "gram" else _diagonal_preconditioner
                apply_inverse = make_inverse(proba, problem)
            direction, cg_steps = _conjugate_gradient(grad, proba, problem, apply_inverse, active, max_cg, tol)
            if kind == "diagonal":
                apply_inverse = None  # cheap: rebuilt at every iteration
                if preconditioner == "auto" and cg_steps > switch_after:
                    kind = "gram"  # ill-conditioned beyond a diagonal's reach: the Gram matrix pays off
            elif cg_steps > switch_after or preconditioner == "gram":
                apply_inverse = None  # "auto": rebuild only once the stale one costs more CG steps than a rebuild
        slope = _inner(grad, direction, xp)
        bad = slope >= 0  # cannot happen in exact arithmetic (H and M are positive definite)
        direction = xp.where(bad[:, None, None], -grad, direction)
        slope = xp.where(bad, -_inner(grad, grad, xp), slope)
        step = xp.where(active, one, xp.zeros_like(one))
        new_theta, new_value, new_grad, new_proba, accepted = _armijo(
            theta, value, grad_max, slope, direction, step, active, problem, roundoff_accept=True
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
        small_decrease = moved & (decrease <= ftol) if ftol > 0 else xp.zeros_like(moved)
        active = active & ~stalled & ~small_decrease & (grad_max > tol)
    return theta, value, grad_max, n_iter, active


def _lbfgs(problem, theta, tol, max_iter, history, ftol):
    xp, X, w, penalty = problem.xp, problem.X, problem.w, problem.penalty
    B = theta.shape[0]
    # Diagonal preconditioner: second moment of each feature (+ the penalty), 1 for the intercept.
    second_moment = xp.sum(w[..., None] * X * X, axis=-2) + penalty[:, None]
    scale = xp.expand_dims(xp.concat([second_moment, xp.ones((B, 1), dtype=X.dtype)], axis=-1), axis=-2)
    value, grad = problem.evaluate(theta)
    grad_max = _grad_max(grad, xp)
    active = grad_max > tol
    n_iter = xp.zeros((B,), dtype=xp.int64)
    s_hist: list = []
    y_hist: list = []
    rho_hist: list = []
    one = xp.ones((B,), dtype=X.dtype)
    for _ in range(max_iter):
        if not bool(xp.any(active)):
            break
        direction = _two_loop(grad, s_hist, y_hist, rho_hist, xp, scale)
        slope = _inner(grad, direction, xp)
        # Safeguard: fall back to steepest descent where the quasi-Newton direction is not a descent one.
        bad = slope >= 0
        direction = xp.where(bad[:, None, None], -grad, direction)
        slope = xp.where(bad, -_inner(grad, grad, xp), slope)
        if not s_hist:  # first step: unit length, like L-BFGS-B
            step = 1.0 / xp.sqrt(_inner(direction, direction, xp))
        else:
            step = one
        step = xp.where(active, step, xp.zeros_like(step))
        new_theta, new_value, new_grad, _, accepted = _armijo(
            theta, value, grad_max, slope, direction, step, active, problem
        )
        moved = active & accepted
        s = new_theta - theta
        yk = new_grad - grad
        sy = _inner(s, yk, xp)
        decrease = (value - new_value) / xp.maximum(xp.maximum(xp.abs(value), xp.abs(new_value)), one)
        m3 = moved[:, None, None]
        theta = xp.where(m3, new_theta, theta)
        grad = xp.where(m3, new_grad, grad)
        value = xp.where(moved, new_value, value)
        n_iter = n_iter + xp.astype(moved, xp.int64)
        good_pair = moved & (sy > 1e-10 * xp.sqrt(_inner(s, s, xp) * _inner(yk, yk, xp)))
        keep = xp.astype(good_pair, X.dtype)  # pairs that fail the curvature test are stored as zeros
        s_hist.append(s * keep[:, None, None])
        y_hist.append(yk * keep[:, None, None])
        rho_hist.append(keep / xp.where(good_pair, sy, one))
        if len(s_hist) > history:
            s_hist.pop(0), y_hist.pop(0), rho_hist.pop(0)
        grad_max = _grad_max(grad, xp)
        # A failed line search means no further decrease is representable: stop that problem.
        stalled = active & ~accepted
        small_decrease = moved & (decrease <= ftol)
        active = active & ~stalled & ~small_decrease & (grad_max > tol)
    return theta, value, grad_max, n_iter, active


def _two_loop(grad, s_hist, y_hist, rho_hist, xp, scale=None):
    """-H grad by the L-BFGS two-loop recursion, per problem (zero pairs are skipped harmlessly).

    The initial matrix is H0 = gamma diag(1 / scale): a diagonal preconditioner (the Hessian's
    diagonal up to the logistic curvature), with gamma the Barzilai-Borwein factor in that metric.
    """
    q = grad
    alphas = []
    for s, yk, rho in zip(reversed(s_hist), reversed(y_hist), reversed(rho_hist)):
        a = rho * _inner(s, q, xp)
        q = q - a[:, None, None] * yk
        alphas.append(a)
    if scale is not None:
        q = q / scale
    if s_hist:
        # Barzilai-Borwein scaling from the newest non-zero pair of each problem.
        one = xp.ones((grad.shape[0],), dtype=grad.dtype)
        gamma = one
        for s, yk, rho in zip(s_hist, y_hist, rho_hist):
            yy = _inner(yk, yk if scale is None else yk / scale, xp)
            have = rho > 0
            gamma = xp.where(have, 1.0 / xp.where(have, rho * yy, one), gamma)
        q = gamma[:, None, None] * q
    for (s, yk, rho), a in zip(zip(s_hist, y_hist, rho_hist), reversed(alphas)):
        beta = rho * _inner(yk, q, xp)
        q = q + (a - beta)[:, None, None] * s
    return -q


def _armijo(theta, value, grad_max, slope, direction, step, active, problem, max_steps=40, roundoff_accept=False):
    """Backtracking until f(theta + t d) <= f + 1e-4 t slope; quadratic interpolation, t in [0.1, 0.5] t_old.

    ``roundoff_accept``: also accept the first (full) step when the change of f is within round-off
    of f (the Armijo test is then meaningless) and the gradient's largest entry decreases.
    Returns (theta, value, grad, proba, accepted); proba only for newton-cg's use (else None).
    """
    xp = problem.xp
    accepted = ~active
    new_theta, new_value, new_grad, new_proba = theta, value, None, None
    noise = 16 * float(np.finfo(np.float64).eps) * xp.abs(value)
    for attempt in range(max_steps):
        trial = theta + step[:, None, None] * direction
        if roundoff_accept:
            f, g, proba = problem.evaluate(trial, with_proba=True)
        else:
            (f, g), proba = problem.evaluate(trial), None
        ok = (~accepted) & (f <= value + 1e-4 * step * slope) & xp.isfinite(f)
        if roundoff_accept and attempt == 0:
            ok = ok | ((~accepted) & (xp.abs(f - value) <= noise) & (problem.grad_max(g) < grad_max))
        o3 = ok[:, None, None]
        new_theta = xp.where(o3, trial, new_theta)
        new_value = xp.where(ok, f, new_value)
        new_grad = g if new_grad is None else xp.where(o3, g, new_grad)
        if proba is not None:
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
    return xp.exp(_log_softmax(_full_logits(Z, coef.shape[-2] == 1, xp), xp))


class MultinomialLogisticRegression(_LinearClassifierMixin):
    """scikit-learn style shell around :func:`fit_logistic` (same objective as ``LogisticRegression``).

    Attributes after ``fit``: ``classes_``, ``coef_`` ((1, n) for two classes, else (K, n)),
    ``intercept_``, ``n_iter_``, ``converged_``, ``n_features_in_``.
    """

    _param_names = ("C", "tol", "max_iter", "history")

    def __init__(self, C: float = 1.0, tol: float = 1e-4, max_iter: int = 1000, history: int = 10):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter
        self.history = history

    def fit(self, X, y, sample_weight=None):
        xp, X = self._check_X(X)
        self.classes_, codes = self._encode(_host(y) if not isinstance(y, (list, tuple)) else y)
        self.n_features_in_ = X.shape[1]
        result = fit_logistic(
            X,
            xp.asarray(codes),
            self.classes_.size,
            C=self.C,
            sample_weight=sample_weight,
            tol=self.tol,
            max_iter=self.max_iter,
            history=self.history,
        )
        self.coef_, self.intercept_ = result.coef, result.intercept
        self.n_iter_ = int(result.n_iter)
        self.converged_ = bool(result.converged)
        return self

    def decision_function(self, X):
        xp, X = self._check_X(X)
        scores = xp.matmul(X, xp.matrix_transpose(self.coef_)) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        xp, X = self._check_X(X)
        return logistic_predict_proba(self.coef_, self.intercept_, X)
