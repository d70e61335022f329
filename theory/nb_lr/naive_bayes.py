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
from numbers import Real
from typing import Any

from kernels.backend import array_namespace
from kernels.numerics import log_softmax
from kernels.validation import Interval, check_positive

from theory.nb_lr._common import (
    LinearClassifier,
    LinearClassifierBase,
    check_every_class_present,
    linear_predict,
    prepare_problem,
)

__all__ = [
    "SharedVarianceNBParams",
    "fit_shared_variance_nb",
    "nb_linear_classifier",
    "nb_joint_log_likelihood",
    "linear_predict",
    "SharedVarianceGaussianNB",
]


@dataclass(frozen=True)
class SharedVarianceNBParams:
    """Fitted parameters of :func:`fit_shared_variance_nb`; leading batch axes are those of the training data.

    Attributes
    ----------
    class_log_prior : array, shape (..., K)
        ln pi_k.
    means : array, shape (..., K, n)
        Class means mu_k.
    variance : array, shape (..., n)
        Pooled within-class variance s2 (shared by all classes), var_smoothing included.
    class_count : array, shape (..., K)
        Total sample weight per class.
    """

    class_log_prior: Any
    means: Any
    variance: Any
    class_count: Any


def fit_shared_variance_nb(X, y, n_classes: int, *, sample_weight=None, var_smoothing: float = 1e-9):
    """Fit the shared-variance Gaussian naive Bayes model (module docstring) to one or B problems.

    Parameters
    ----------
    X : array, shape (m, n) or (B, m, n)
        Features (finite; their squares must not overflow).
    y : array of int, shape (m,) or (B, m)
        Labels in [0, n_classes).
    n_classes : int
        K >= 2.
    sample_weight : array, shape of y, optional
        Non-negative weights; 0 on padding rows.
    var_smoothing : float
        eps >= 0 added to every pooled variance (the authors' 1e-9, absolute).

    Returns
    -------
    SharedVarianceNBParams

    Raises
    ------
    ValueError
        When a class has no sample in some problem, a pooled variance is zero, or X is too large for float64.
    """
    xp, X, y, Y, w, n_classes = prepare_problem(X, y, n_classes, sample_weight)
    var_smoothing = check_positive(var_smoothing, "var_smoothing", allow_zero=True)
    Yw = Y * w[..., None]  # (..., m, K)
    class_count = xp.sum(Yw, axis=-2)  # (..., K)
    check_every_class_present(class_count)
    total = xp.sum(class_count, axis=-1, keepdims=True)
    sums = xp.matmul(xp.matrix_transpose(Yw), X)  # (..., K, n)
    means = sums / class_count[..., None]
    residual = X - xp.matmul(Y, means)  # x_j - mu_{y_j}
    variance = xp.sum(w[..., None] * residual * residual, axis=-2) / total + var_smoothing
    if not bool(xp.all(xp.isfinite(variance))):
        raise ValueError("X is too large: the pooled within-class variance overflows; rescale X")
    if bool(xp.any(variance <= 0)):
        raise ValueError("a feature has zero pooled within-class variance; use var_smoothing > 0")
    class_log_prior = xp.log(class_count / total)
    return SharedVarianceNBParams(class_log_prior, means, variance, class_count)


def nb_linear_classifier(params: SharedVarianceNBParams) -> LinearClassifier:
    """The linear form h(x) = argmax_k w_k . x + b_k with w_k = mu_k / s2, b_k = ln pi_k - mu_k . w_k / 2."""
    xp = array_namespace(params.means)
    coef = params.means / params.variance[..., None, :]
    intercept = params.class_log_prior - 0.5 * xp.sum(params.means * coef, axis=-1)
    return LinearClassifier(coef, intercept)


def nb_joint_log_likelihood(params: SharedVarianceNBParams, X):
    """ln pi_k + ln N(x; mu_k, diag(s2)) for every row of X: shape (..., N, K).

    ``X`` is (N, n) (shared by all problems) or (..., N, n) matching the batch axes.
    """
    xp = array_namespace(params.means, X)
    linear = nb_linear_classifier(params)
    quad = xp.sum(X * X / params.variance[..., None, :], axis=-1)  # (..., N)
    log_norm = xp.sum(xp.log(2 * math.pi * params.variance), axis=-1)  # (...,)
    scores = xp.matmul(X, xp.matrix_transpose(linear.coef)) + linear.intercept[..., None, :]
    return scores - 0.5 * quad[..., None] - 0.5 * log_norm[..., None, None]


class SharedVarianceGaussianNB(LinearClassifierBase):
    """Gaussian naive Bayes with one diagonal covariance shared by all classes (the paper's generative model).

    A scikit-learn estimator around :func:`fit_shared_variance_nb`.

    Parameters
    ----------
    var_smoothing : float, default 1e-9
        Added to every pooled variance (absolute, as the authors' code).

    Attributes
    ----------
    classes_ : array (n_classes,)
        Labels seen in ``fit``.
    class_log_prior_ : array (n_classes,)
    theta_ : array (n_classes, n_features)
        Class means.
    var_ : array (n_features,)
        Shared variances.
    coef_, intercept_ : arrays (n_classes, n_features), (n_classes,)
        The equivalent linear classifier.
    n_features_in_ : int

    Arrays keep the namespace of ``X`` (NumPy, CuPy, array-api-strict).
    """

    _parameter_constraints = {"var_smoothing": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, var_smoothing: float = 1e-9):
        self.var_smoothing = var_smoothing

    def _fit_encoded(self, X, codes, n_classes, sample_weight):
        params = fit_shared_variance_nb(
            X, codes, n_classes, sample_weight=sample_weight, var_smoothing=self.var_smoothing
        )
        self.class_log_prior_ = params.class_log_prior
        self.theta_ = params.means
        self.var_ = params.variance
        self.class_count_ = params.class_count
        linear = nb_linear_classifier(params)
        self.coef_, self.intercept_ = linear.coef, linear.intercept

    def _params(self):
        return SharedVarianceNBParams(self.class_log_prior_, self.theta_, self.var_, self.class_count_)

    def predict_joint_log_proba(self, X):
        """ln pi_k + ln N(x; mu_k, diag(s2)), shape (n_samples, n_classes)."""
        return nb_joint_log_likelihood(self._params(), self._input(X, "predict_joint_log_proba"))

    def predict_log_proba(self, X):
        """Log posterior class probabilities, shape (n_samples, n_classes)."""
        X = self._input(X, "predict_log_proba")
        return log_softmax(nb_joint_log_likelihood(self._params(), X), axis=-1)

    def predict_proba(self, X):
        """Posterior class probabilities, shape (n_samples, n_classes)."""
        X = self._input(X, "predict_proba")
        jll = log_softmax(nb_joint_log_likelihood(self._params(), X), axis=-1)
        return array_namespace(jll).exp(jll)
