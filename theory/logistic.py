"""L2-regularised multinomial logistic regression with scikit-learn's objective, batched L-BFGS.

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
The discriminative model of the paper is scikit-learn's ``LogisticRegression(penalty="l2", C, solver="lbfgs")``:

    minimise_{W, b}   1/2 ||W||_F^2 + C sum_j s_j CE(W x_j + b, y_j),    CE(z, y) = logsumexp(z) - z_y,

with the intercept b unpenalised.  For K > 2, W has K rows (multinomial).  For K = 2, as scikit-learn
does it, there is one row w (scores [0, w.x + b]), so CE is the binary logistic loss log(1 + e^{-+z}).
The multinomial intercept is identified only up to a common shift; like scikit-learn (whose L-BFGS path
starts at 0 and never leaves the sum-zero subspace) it is returned centred, sum_k b_k = 0.

The solver minimises the same objective divided by C sum_j s_j (scikit-learn's scaling), so the
tolerance means what ``tol`` means there: stop when max |gradient| <= tol, or when the relative
decrease of the objective falls below 64 machine epsilons (L-BFGS-B's ``ftol``).  L-BFGS with a
history of ``history`` pairs, a diagonal preconditioner (each feature's second moment) with the
Barzilai-Borwein initial scaling and an Armijo backtracking line
search with safeguarded quadratic interpolation; every problem of the batch runs its own iteration
(its own step, history and stopping), written with masks in the array API standard so the same
code runs on NumPy, CuPy and ``array_api_strict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.backend import array_namespace
from kernels.validation import check_positive, check_positive_int

from .naive_bayes import _host, _LinearClassifierMixin, _prepare, _check_every_class_present

__all__ = ["LogisticFit", "logistic_objective", "fit_logistic", "logistic_predict_proba", "MultinomialLogisticRegression"]

_FTOL = 64 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic` (batch axis first when the input was batched)."""

    coef: Any  # (..., K', n), K' = 1 when K = 2 else K
    intercept: Any  # (..., K')
    n_iter: Any  # (...,) iterations used
    converged: Any  # (...,) bool: stopped by tol or ftol, not by max_iter
    grad_max: Any  # (...,) max |gradient| of the scaled objective at the solution
    objective: Any  # (...,) 1/2 ||W||^2 + C sum s_j CE_j  (unscaled)


def _scores(theta, X):
    n = X.shape[-1]
    xp = array_namespace(theta, X)
    return xp.matmul(X, xp.matrix_transpose(theta[..., :n])) + xp.expand_dims(theta[..., n], axis=-2)


def _full_logits(Z, binary, xp):
    if binary:
        return xp.concat([xp.zeros_like(Z), Z], axis=-1)
    return Z


def _log_softmax(Z, xp):
    top = xp.max(Z, axis=-1, keepdims=True)
    shifted = Z - top
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def _value_and_grad(theta, X, Y, w, penalty, binary, xp):
    """Scaled objective (mean weighted CE + penalty ||W||^2 / 2) and its gradient, per problem.

    ``w`` are the weights already divided by their sum; ``penalty`` = 1 / (C sum s) per problem.
    """
    n = X.shape[-1]
    W = theta[..., :n]
    log_p = _log_softmax(_full_logits(_scores(theta, X), binary, xp), xp)  # (B, m, K)
    ce = -xp.sum(Y * log_p, axis=-1)  # (B, m)
    value = xp.sum(w * ce, axis=-1) + 0.5 * penalty * xp.sum(W * W, axis=(-2, -1))
    residual = (xp.exp(log_p) - Y) * w[..., None]  # d value / d logits
    if binary:
        residual = residual[..., 1:]
    grad_W = xp.matmul(xp.matrix_transpose(residual), X) + penalty[..., None, None] * W
    grad_b = xp.sum(residual, axis=-2)
    return value, xp.concat([grad_W, grad_b[..., None]], axis=-1)


def _inner(a, b, xp):
    return xp.sum(a * b, axis=(-2, -1))


def logistic_objective(coef, intercept, X, y, n_classes, *, C=1.0, sample_weight=None):
    """scikit-learn's objective 1/2 ||W||^2 + C sum_j s_j CE(W x_j + b, y_j) for one or B problems."""
    xp, X, y, Y, w, n_classes = _prepare(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    theta = xp.concat([xp.asarray(coef, dtype=X.dtype), xp.asarray(intercept, dtype=X.dtype)[..., None]], axis=-1)
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
    max_iter: int = 1000,
    history: int = 10,
    init=None,
    ftol: float = _FTOL,
) -> LogisticFit:
    """Fit scikit-learn's L2 logistic regression (module docstring) to one or B problems at once.

    Parameters
    ----------
    X : (m, n) or (B, m, n) features; y : (m,) or (B, m) integer labels in [0, n_classes).
    n_classes : K >= 2 (K = 2: one coefficient row, as scikit-learn).
    C : inverse regularisation strength, > 0.
    sample_weight : optional non-negative weights of the same shape as y (0 on padding rows).
    tol : stop when max |gradient of the scaled objective| <= tol (scikit-learn's meaning).
    max_iter : iteration cap per problem.  history : L-BFGS memory.
    init : optional (coef, intercept) to start from (warm start); default zeros.
    ftol : stop when the relative decrease of the objective is <= ftol (default 64 eps, as
        scikit-learn; 0 disables it so that only ``tol`` decides).
    """
    xp, X, y, Y, w, n_classes = _prepare(X, y, n_classes, sample_weight)
    C = check_positive(C, "C")
    tol = check_positive(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter", minimum=0)
    history = check_positive_int(history, "history")
    ftol = check_positive(ftol, "ftol", allow_zero=True)
    _check_every_class_present(xp.sum(Y * w[..., None], axis=-2))
    single = X.ndim == 2
    if single:
        X, Y, w = X[None, ...], Y[None, ...], w[None, ...]
    binary = n_classes == 2
    n_rows = 1 if binary else n_classes
    B, _, n = X.shape
    total = xp.sum(w, axis=-1)
    w = w / total[:, None]
    penalty = 1.0 / (C * total)
    if init is None:
        theta = xp.zeros((B, n_rows, n + 1), dtype=X.dtype)
    else:
        coef0 = xp.reshape(xp.asarray(init[0], dtype=X.dtype), (B, n_rows, n))
        b0 = xp.reshape(xp.asarray(init[1], dtype=X.dtype), (B, n_rows, 1))
        theta = xp.concat([coef0, b0], axis=-1)

    # Diagonal preconditioner: second moment of each feature (+ the penalty), 1 for the intercept.
    second_moment = xp.sum(w[..., None] * X * X, axis=-2) + penalty[:, None]
    scale = xp.expand_dims(xp.concat([second_moment, xp.ones((B, 1), dtype=X.dtype)], axis=-1), axis=-2)
    value, grad = _value_and_grad(theta, X, Y, w, penalty, binary, xp)
    grad_max = xp.max(xp.abs(xp.reshape(grad, (B, -1))), axis=-1)
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
        new_theta, new_value, new_grad, accepted = _armijo(
            theta, value, slope, direction, step, active, X, Y, w, penalty, binary, xp
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
        grad_max = xp.max(xp.abs(xp.reshape(grad, (B, -1))), axis=-1)
        # A failed line search means no further decrease is representable: stop that problem.
        stalled = active & ~accepted
        small_decrease = moved & (decrease <= ftol)
        active = active & ~stalled & ~small_decrease & (grad_max > tol)

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


def _armijo(theta, value, slope, direction, step, active, X, Y, w, penalty, binary, xp, max_steps=40):
    """Backtracking until f(theta + t d) <= f + 1e-4 t slope; quadratic interpolation, t in [0.1, 0.5] t_old."""
    accepted = ~active
    new_theta, new_value, new_grad = theta, value, None
    for _ in range(max_steps):
        trial = theta + step[:, None, None] * direction
        f, g = _value_and_grad(trial, X, Y, w, penalty, binary, xp)
        ok = (~accepted) & (f <= value + 1e-4 * step * slope) & xp.isfinite(f)
        o3 = ok[:, None, None]
        new_theta = xp.where(o3, trial, new_theta)
        new_value = xp.where(ok, f, new_value)
        new_grad = g if new_grad is None else xp.where(o3, g, new_grad)
        accepted = accepted | ok
        if bool(xp.all(accepted)):
            break
        # Minimiser of the quadratic through f(0), f'(0) and f(step), kept in [0.1, 0.5] * step.
        curvature = f - value - step * slope
        safe = xp.isfinite(f) & (curvature > 0)
        t_quad = -slope * step * step / (2 * xp.where(safe, curvature, xp.ones_like(curvature)))
        t_new = xp.where(safe, xp.clip(t_quad, 0.1 * step, 0.5 * step), 0.1 * step)
        step = xp.where(accepted, step, t_new)
    return new_theta, new_value, new_grad, accepted & active


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
