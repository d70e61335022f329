"""Gaussian naive Bayes with one diagonal covariance shared by all classes, batched.

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.

The generative model of the paper (and of its code).  From m labelled points, m_k of them in class k,

    pi_k      = m_k / m                                          (class prior)
    mu_{k,i}  = (1/m_k) sum_{j: y_j = k} x_{j,i}                 (class mean)
    s2_i      = sum_k pi_k s2_{k,i} + eps
              = (1/m) sum_j (x_{j,i} - mu_{y_j,i})^2 + eps        (pooled within-class variance, ddof = 0)

and the classifier is linear in x:

    h(x) = argmax_k  ln pi_k - 1/2 sum_i (x_i - mu_{k,i})^2 / s2_i
         = argmax_k  <w_k, x> + b_k,   w_k = mu_k / s2,   b_k = ln pi_k - 1/2 sum_i mu_{k,i}^2 / s2_i.

Every function accepts one problem (``X`` of shape (m, n)) or a batch of B independent problems
(``X`` of shape (B, m, n)); unequal training sizes are padded and masked with ``sample_weight``
(weight 0 on padding rows; general non-negative weights give the weighted MLE).  The code uses only
the array API standard, so it runs unchanged on NumPy, CuPy and ``array_api_strict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.backend import array_namespace, asarray
from kernels.validation import check_positive, check_positive_int

__all__ = [
    "SharedVarianceNBParams",
    "fit_shared_variance_nb",
    "nb_linear_classifier",
    "nb_joint_log_likelihood",
    "one_hot",
    "linear_predict",
    "SharedVarianceGaussianNB",
]


@dataclass(frozen=True)
class SharedVarianceNBParams:
    """Fitted parameters; leading batch axes (if any) are those of the training data."""

    class_log_prior: Any  # (..., K)
    means: Any  # (..., K, n)
    variance: Any  # (..., n), shared by all classes
    class_count: Any  # (..., K), total sample weight per class


def one_hot(y, n_classes: int, xp=None, dtype=None):
    """Indicator matrix (..., m, K) of integer labels ``y`` (..., m) with values in [0, K)."""
    xp = array_namespace(y) if xp is None else xp
    classes = xp.arange(n_classes, dtype=y.dtype)
    return xp.astype(y[..., None] == classes, xp.float64 if dtype is None else dtype)


def _check_labels(y, n_classes: int, xp):
    if y.ndim < 1:
        raise ValueError(f"y must have at least one axis, got shape {tuple(y.shape)}")
    if not xp.isdtype(y.dtype, "integral"):
        raise TypeError(f"y must hold integer class labels 0..{n_classes - 1}, got dtype {y.dtype}")
    lo, hi = int(xp.min(y)), int(xp.max(y))
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"y must hold labels in [0, {n_classes - 1}] (n_classes={n_classes}), got range [{lo}, {hi}]")


def _prepare(X, y, n_classes, sample_weight):
    """Validated float X, integer y, one-hot Y and weights, all of one namespace."""
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    xp = array_namespace(X)
    X = asarray(X, xp=xp, name="X")
    if X.ndim not in (2, 3):
        raise ValueError(f"X must have shape (m, n) or (B, m, n), got shape {tuple(X.shape)}")
    if any(s == 0 for s in X.shape):
        raise ValueError(f"X must not be empty, got shape {tuple(X.shape)}")
    y = xp.asarray(y)
    if tuple(y.shape) != tuple(X.shape[:-1]):
        raise ValueError(f"y must have shape {tuple(X.shape[:-1])} to match X {tuple(X.shape)}, got {tuple(y.shape)}")
    _check_labels(y, n_classes, xp)
    if sample_weight is None:
        w = xp.ones(tuple(y.shape), dtype=X.dtype)
    else:
        w = asarray(sample_weight, xp=xp, dtype=X.dtype, name="sample_weight")
        if tuple(w.shape) != tuple(y.shape):
            raise ValueError(f"sample_weight must have shape {tuple(y.shape)}, got {tuple(w.shape)}")
        if bool(xp.any(w < 0)):
            raise ValueError("sample_weight must be non-negative (0 marks padding rows)")
    Y = one_hot(y, n_classes, xp, X.dtype)
    return xp, X, y, Y, w, n_classes


def _check_every_class_present(class_count):
    """Raise naming the problem and the class when a class has no (positively weighted) sample."""
    empty = _host(class_count) <= 0
    if empty.any():
        first = tuple(int(i[0]) for i in np.nonzero(empty))
        where = f"problem {first[:-1]}: " if len(first) > 1 else ""
        raise ValueError(f"every class needs at least one training sample; {where}class {first[-1]} has none")


def _host(a):
    from kernels.backend import to_numpy

    return to_numpy(a)


def fit_shared_variance_nb(X, y, n_classes: int, *, sample_weight=None, var_smoothing: float = 1e-9):
    """Fit the shared-variance Gaussian naive Bayes model (module docstring) to one or B problems.

    Parameters
    ----------
    X : (m, n) or (B, m, n) float array.
    y : (m,) or (B, m) integer labels in [0, n_classes).
    n_classes : K >= 2.
    sample_weight : optional (m,) or (B, m) non-negative weights; 0 on padding rows.
    var_smoothing : eps >= 0 added to every pooled variance (the authors' 1e-9, absolute).

    Raises ``ValueError`` when a class has no sample in some problem.
    """
    xp, X, y, Y, w, n_classes = _prepare(X, y, n_classes, sample_weight)
    var_smoothing = check_positive(var_smoothing, "var_smoothing", allow_zero=True)
    Yw = Y * w[..., None]  # (..., m, K)
    class_count = xp.sum(Yw, axis=-2)  # (..., K)
    _check_every_class_present(class_count)
    total = xp.sum(class_count, axis=-1, keepdims=True)
    sums = xp.matmul(xp.matrix_transpose(Yw), X)  # (..., K, n)
    means = sums / class_count[..., None]
    residual = X - xp.matmul(Y, means)  # x_j - mu_{y_j}
    variance = xp.sum(w[..., None] * residual * residual, axis=-2) / total + var_smoothing
    if bool(xp.any(variance <= 0)):
        raise ValueError("a feature has zero pooled within-class variance; use var_smoothing > 0")
    class_log_prior = xp.log(class_count / total)
    return SharedVarianceNBParams(class_log_prior, means, variance, class_count)


def nb_linear_classifier(params: SharedVarianceNBParams):
    """(coef (..., K, n), intercept (..., K)) with h(x) = argmax_k coef_k . x + intercept_k."""
    xp = array_namespace(params.means)
    coef = params.means / params.variance[..., None, :]
    intercept = params.class_log_prior - 0.5 * xp.sum(params.means * coef, axis=-1)
    return coef, intercept


def nb_joint_log_likelihood(params: SharedVarianceNBParams, X):
    """ln pi_k + ln N(x; mu_k, diag(s2)) for every row of X: shape (..., N, K).

    ``X`` is (N, n) (shared by all problems) or (..., N, n) matching the batch axes.
    """
    xp = array_namespace(params.means, X)
    coef, intercept = nb_linear_classifier(params)
    quad = xp.sum(X * X / params.variance[..., None, :], axis=-1)  # (..., N)
    log_norm = xp.sum(xp.log(2 * math.pi * params.variance), axis=-1)  # (...,)
    linear = xp.matmul(X, xp.matrix_transpose(coef)) + intercept[..., None, :]
    return linear - 0.5 * quad[..., None] - 0.5 * log_norm[..., None, None]


def linear_predict(coef, intercept, X):
    """Labels of a linear classifier on the rows of X: argmax of X coef^T + intercept.

    A single score row (K' = 1, scikit-learn's binary layout) predicts class 1 where the score is > 0.
    ``coef`` (..., K', n), ``intercept`` (..., K'), ``X`` (N, n) or (..., N, n); returns (..., N) int64.
    """
    xp = array_namespace(coef, X)
    scores = xp.matmul(X, xp.matrix_transpose(coef)) + intercept[..., None, :]
    if scores.shape[-1] == 1:
        return xp.astype(scores[..., 0] > 0, xp.int64)
    return xp.astype(xp.argmax(scores, axis=-1), xp.int64)


class _LinearClassifierMixin:
    """predict / score written once for the linear classifiers of this topic."""

    def _encode(self, y):
        classes = np.unique(np.asarray(y))
        if classes.size < 2:
            raise ValueError(f"y must contain at least 2 classes, got {classes.size} ({classes.tolist()})")
        codes = np.searchsorted(classes, np.asarray(y))
        return classes, codes

    def _check_X(self, X):
        xp = array_namespace(X)
        X = asarray(X, xp=xp, name="X")
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {tuple(X.shape)}")
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but this estimator was fitted with {self.n_features_in_}")
        return xp, X

    def predict(self, X):
        xp, X = self._check_X(X)
        codes = linear_predict(self.coef_, self.intercept_, X)
        return self.classes_[_host(codes)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (weighted when ``sample_weight`` is given)."""
        correct = (self.predict(X) == np.asarray(y)).astype(float)
        if sample_weight is None:
            return float(correct.mean())
        sw = np.asarray(sample_weight, dtype=float)
        return float((correct * sw).sum() / sw.sum())

    def get_params(self, deep=True):
        return {k: getattr(self, k) for k in self._param_names}

    def set_params(self, **params):
        for k, v in params.items():
            if k not in self._param_names:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}; valid: {self._param_names}")
            setattr(self, k, v)
        return self


class SharedVarianceGaussianNB(_LinearClassifierMixin):
    """scikit-learn style shell around :func:`fit_shared_variance_nb`.

    Attributes after ``fit``: ``classes_``, ``class_log_prior_``, ``theta_`` (class means, (K, n)),
    ``var_`` (shared variances, (n,)), ``coef_``/``intercept_`` (the equivalent linear classifier),
    ``n_features_in_``.  Arrays keep the namespace of ``X``.
    """

    _param_names = ("var_smoothing",)

    def __init__(self, var_smoothing: float = 1e-9):
        self.var_smoothing = var_smoothing

    def fit(self, X, y, sample_weight=None):
        xp, X = self._check_X(X)
        self.classes_, codes = self._encode(_host(y) if not isinstance(y, (list, tuple)) else y)
        self.n_features_in_ = X.shape[1]
        params = fit_shared_variance_nb(
            X, xp.asarray(codes), self.classes_.size, sample_weight=sample_weight, var_smoothing=self.var_smoothing
        )
        self.params_ = params
        self.class_log_prior_ = params.class_log_prior
        self.theta_ = params.means
        self.var_ = params.variance
        self.coef_, self.intercept_ = nb_linear_classifier(params)
        return self

    def predict_joint_log_proba(self, X):
        xp, X = self._check_X(X)
        return nb_joint_log_likelihood(self.params_, X)

    def predict_log_proba(self, X):
        jll = self.predict_joint_log_proba(X)
        xp = array_namespace(jll)
        top = xp.max(jll, axis=-1, keepdims=True)
        return jll - (top + xp.log(xp.sum(xp.exp(jll - top), axis=-1, keepdims=True)))

    def predict_proba(self, X):
        xp = array_namespace(self.theta_)
        return xp.exp(self.predict_log_proba(X))
