"""What the two linear classifiers of this topic share: input checks, the linear form, the estimator base.

Paper: Zheng, Wu, Bao, Cao, Li, Zhu, "Revisiting Discriminative vs. Generative Classifiers: Theory and
Implications", ICML 2023, arXiv 2302.02334.  Both models of the paper (shared-variance Gaussian naive
Bayes and multinomial logistic regression) predict with a linear rule

    h(x) = argmax_k  <w_k, x> + b_k,

written once here (:func:`linear_predict`, :class:`LinearClassifier`), as are the checks of the batched
pure functions (:func:`prepare_problem`) and the scikit-learn estimator base (:class:`LinearClassifierBase`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight

from kernels.backend import array_device, array_namespace, as_array_like, asarray, to_numpy
from kernels.base import ClassifierMixin, Estimator, check_fitted, is_device_array
from kernels.numerics import one_hot
from kernels.validation import check_positive_int

__all__ = ["LinearClassifier", "linear_predict"]


@dataclass(frozen=True)
class LinearClassifier:
    """A linear classifier h(x) = argmax_k coef_k . x + intercept_k (one problem or a batch).

    Attributes
    ----------
    coef : array, shape (..., K', n)
        Score rows; K' = 1 is scikit-learn's binary layout (scores [0, coef . x + intercept]).
    intercept : array, shape (..., K')
        Offsets of the score rows.
    """

    coef: Any
    intercept: Any


def linear_predict(coef, intercept, X):
    """Labels of a linear classifier on the rows of X: argmax of X coef^T + intercept.

    A single score row (K' = 1, scikit-learn's binary layout) predicts class 1 where the score is > 0.

    Parameters
    ----------
    coef : array, shape (..., K', n)
    intercept : array, shape (..., K')
    X : array, shape (N, n) or (..., N, n)

    Returns
    -------
    array of int64, shape (..., N)
    """
    xp = array_namespace(coef, X)
    scores = xp.matmul(X, xp.matrix_transpose(coef)) + intercept[..., None, :]
    if scores.shape[-1] == 1:
        return xp.astype(scores[..., 0] > 0, xp.int64)
    return xp.astype(xp.argmax(scores, axis=-1), xp.int64)


def _check_labels(y, n_classes: int, xp):
    if y.ndim < 1:
        raise ValueError(f"y must have at least one axis, got shape {tuple(y.shape)}")
    if not xp.isdtype(y.dtype, "integral"):
        raise TypeError(f"y must hold integer class labels 0..{n_classes - 1}, got dtype {y.dtype}")
    lo, hi = int(xp.min(y)), int(xp.max(y))
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"y must hold labels in [0, {n_classes - 1}] (n_classes={n_classes}), got range [{lo}, {hi}]")


def check_magnitude(X, xp) -> None:
    """Refuse X whose squares could overflow (the variances, Gram matrices and Hessians sum them):
    max |X| must stay below sqrt(largest float / number of entries)."""
    top = float(xp.max(xp.abs(X)))
    limit = math.sqrt(float(np.finfo(np.float32 if X.dtype == xp.float32 else np.float64).max) / math.prod(X.shape))
    if top > limit:
        raise ValueError(
            f"X is too large: its squares overflow {X.dtype} (max |X| = {top:.3g}, the limit for this size is "
            f"{limit:.3g}); rescale X"
        )


def prepare_problem(X, y, n_classes, sample_weight):
    """Validated float X, integer y, one-hot Y and weights, all of one namespace.

    Returns (xp, X, y, Y, w, n_classes); raises ``ValueError``/``TypeError`` naming the argument.
    """
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    xp = array_namespace(X)
    X = asarray(X, xp=xp, name="X")
    if X.ndim not in (2, 3):
        raise ValueError(f"X must have shape (m, n) or (B, m, n), got shape {tuple(X.shape)}")
    if any(s == 0 for s in X.shape):
        raise ValueError(f"X must not be empty, got shape {tuple(X.shape)}")
    check_magnitude(X, xp)
    y = as_array_like(y, X)
    if tuple(y.shape) != tuple(X.shape[:-1]):
        raise ValueError(f"y must have shape {tuple(X.shape[:-1])} to match X {tuple(X.shape)}, got {tuple(y.shape)}")
    _check_labels(y, n_classes, xp)
    if sample_weight is None:
        w = xp.ones(tuple(y.shape), dtype=X.dtype, device=array_device(X))
    else:
        w = asarray(sample_weight, xp=xp, dtype=X.dtype, name="sample_weight")
        if tuple(w.shape) != tuple(y.shape):
            raise ValueError(f"sample_weight must have shape {tuple(y.shape)}, got {tuple(w.shape)}")
        if bool(xp.any(w < 0)):
            raise ValueError("sample_weight must be non-negative (0 marks padding rows)")
    Y = one_hot(y, n_classes, xp, X.dtype)
    return xp, X, y, Y, w, n_classes


def check_every_class_present(class_count) -> None:
    """Raise naming the problem and the class when a class has no (positively weighted) sample."""
    empty = to_numpy(class_count) <= 0
    if empty.any():
        first = tuple(int(i[0]) for i in np.nonzero(empty))
        where = f"problem {first[:-1]}: " if len(first) > 1 else ""
        raise ValueError(f"every class needs at least one training sample; {where}class {first[-1]} has none")


def _encode_device_labels(y, xp):
    """classes_ and codes of labels held in a device namespace (they stay there)."""
    if xp.isdtype(y.dtype, "real floating"):
        if not bool(xp.all(xp.isfinite(y))):
            raise ValueError("Input y contains NaN or infinity.")
        if not bool(xp.all(y == xp.round(y))):
            raise ValueError("Unknown label type: continuous; y must hold class labels, not a regression target")
    elif not xp.isdtype(y.dtype, ("integral", "bool")):
        raise ValueError(f"y must hold class labels (integers), got dtype {y.dtype}")
    classes = xp.unique_values(y)
    return classes, xp.searchsorted(classes, y)


def encode_labels(y):
    """(classes_, integer codes) of classifier targets; continuous, multi-output and NaN targets refused."""
    if is_device_array(y):
        classes, codes = _encode_device_labels(y, array_namespace(y))
    else:
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {kind}; y must hold class labels of one output (binary or multiclass)"
            )
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(f"y must contain at least 2 classes, got {classes.shape[0]} class ({classes})")
    return classes, codes


class LinearClassifierBase(ClassifierMixin, Estimator):
    """fit-input handling and ``predict`` written once for the linear classifiers of this topic.

    A subclass implements ``_fit_encoded(X, codes, n_classes, sample_weight)``, which sets ``coef_`` and
    ``intercept_`` (and its own attributes); ``score`` is scikit-learn's mean accuracy.
    """

    def fit(self, X, y, sample_weight=None):
        """Fit to X (n_samples, n_features) and class labels y (n_samples,); returns self."""
        self._validate_params()
        if getattr(X, "shape", (1,))[0] == 0 or (isinstance(X, (list, tuple)) and len(X) == 0):
            raise ValueError(f"X is empty: found 0 samples (shape {getattr(X, 'shape', (0,))}); at least 2 are needed")
        X, y = self._validate_Xy(X, y, y_numeric=False)
        classes, codes = encode_labels(y)
        xp = array_namespace(X)
        codes = as_array_like(codes, X)
        if sample_weight is not None:
            if is_device_array(X):
                sample_weight = xp.asarray(sample_weight, dtype=X.dtype, device=array_device(X))
                if tuple(sample_weight.shape) != (X.shape[0],):
                    raise ValueError(f"sample_weight must have shape ({X.shape[0]},), got {tuple(sample_weight.shape)}")
            else:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        self.classes_ = classes
        self._fit_encoded(X, xp.astype(codes, xp.int64), int(classes.shape[0]), sample_weight)
        return self

    def _input(self, X, method: str):
        """X validated for a fitted estimator's ``method``, in the namespace the estimator was fitted in."""
        check_fitted(self)
        X = self._validate_X(X, reset=False)
        self._check_same_namespace(X, method, "coef_")
        return X

    def predict(self, X):
        """Class labels (from ``classes_``) of the rows of X."""
        X = self._input(X, "predict")
        codes = linear_predict(self.coef_, self.intercept_, X)
        if is_device_array(self.classes_):
            return array_namespace(self.classes_).take(self.classes_, codes)
        labels = self.classes_[to_numpy(codes)]
        return as_array_like(labels, X) if is_device_array(X) and labels.dtype.kind in "iufb" else labels
