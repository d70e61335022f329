"""The one estimator base: scikit-learn's ``BaseEstimator`` and mixins, plus what is ours.

Parameters, ``get_params``/``set_params``, ``repr``, cloning, tags and :class:`NotFittedError` come from
scikit-learn; an estimator here only stores its arguments in ``__init__`` and sets attributes ending in
``_`` in ``fit``. What this module adds:

- :meth:`Estimator._validate_X` / :meth:`Estimator._validate_Xy`: scikit-learn's ``validate_data`` for NumPy
  input (lists accepted, complex and sparse refused, NaN/inf refused, ``n_features_in_`` kept); arrays of
  another array-API namespace (CuPy, array-api-strict) are checked with the same rules and stay in their
  namespace, so a fit on the GPU never copies to the host.
- :func:`check_fitted`: ``check_is_fitted`` under one name.
- Declared parameters: a subclass lists ``_parameter_constraints`` (types from :mod:`kernels.validation`) and
  calls ``self._validate_params()`` (scikit-learn's) first thing in ``fit``; the error names the parameter,
  the allowed range and the value received.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
from array_api_compat import is_array_api_obj, is_numpy_array
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from kernels.backend import array_device, array_namespace, as_array_like, default_dtype, to_numpy

__all__ = [
    "Estimator",
    "ClassifierMixin",
    "RegressorMixin",
    "NotFittedError",
    "check_fitted",
    "is_device_array",
]


def is_device_array(x) -> bool:
    """True for an array of a non-NumPy array-API namespace (CuPy, array-api-strict)."""
    return is_array_api_obj(x) and not is_numpy_array(x)


def _namespace_and_device(x):
    if not is_array_api_obj(x):
        return "numpy", "cpu"
    name = array_namespace(x).__name__.rsplit(".", 1)[-1]
    return name, str(array_device(x))


def check_fitted(estimator, attributes=None) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has been fitted (scikit-learn's rule)."""
    check_is_fitted(estimator, attributes)


def _check_device_X(estimator, X, reset: bool, ensure_min_samples: int):
    xp = array_namespace(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead: X has shape {tuple(X.shape)}")
    if not xp.isdtype(X.dtype, ("real floating", "integral")):
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    X = xp.astype(X, default_dtype(xp, X.dtype if xp.isdtype(X.dtype, "real floating") else None), copy=False)
    if X.shape[0] < ensure_min_samples:
        raise ValueError(f"Found array with {X.shape[0]} sample(s) while a minimum of {ensure_min_samples} is required.")
    if X.shape[1] < 1:
        raise ValueError("Found array with 0 feature(s) while a minimum of 1 is required.")
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        estimator.n_features_in_ = int(X.shape[1])
    elif hasattr(estimator, "n_features_in_") and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X


@contextlib.contextmanager
def _naming(argument: str):
    """Prefix scikit-learn's validation errors with the argument they concern when the message does not say it
    (e.g. "Found array with 0 sample(s)"); the rest of the message, which scikit-learn's checks match, is kept."""
    try:
        yield
    except ValueError as err:
        message = str(err)
        if re.search(r"\b(X|y)\b", message):
            raise
        raise ValueError(f"{argument}: {message}") from err


class Estimator(BaseEstimator):
    """Base of every estimator in the package (combine with ``ClassifierMixin`` / ``RegressorMixin``)."""

    def _validate_X(self, X, *, reset: bool, ensure_min_samples: int = 1):
        """Validated 2-D float array (float64 unless float32 came in), in the namespace it came in."""
        if is_device_array(X):
            return _check_device_X(self, X, reset, ensure_min_samples)
        with _naming("X"):
            return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32],
                                 ensure_min_samples=ensure_min_samples)

    def _validate_Xy(self, X, y, *, y_numeric: bool, ensure_min_samples: int = 1):
        """Validated (X, y) for ``fit``; ``y`` is 1-D (a column vector is accepted with scikit-learn's warning)."""
        if is_device_array(X):
            X = _check_device_X(self, X, True, ensure_min_samples)
            xp = array_namespace(X)
            # numeric targets join X's namespace and device; class labels (strings too) stay on the host
            y = as_array_like(y, X) if y_numeric else (to_numpy(y) if is_array_api_obj(y) else np.asarray(y))
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ValueError(f"y must be 1-D with {X.shape[0]} entries (one per row of X), got shape {tuple(y.shape)}")
            if y_numeric:
                y = xp.astype(y, X.dtype)
                if not bool(xp.all(xp.isfinite(y))):
                    raise ValueError("Input y contains NaN or infinity.")
            return X, y
        with _naming("X"):
            return validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=y_numeric,
                                 ensure_min_samples=ensure_min_samples)

    def _check_same_namespace(self, X, method: str, attribute: str = "X_train_"):
        """Refuse an ``X`` of another namespace or device than the fitted ``attribute`` (lists, data frames and
        other array-likes count as NumPy on the host), with scikit-learn's ``check_same_namespace`` wording;
        unlike scikit-learn's, this holds with or without ``array_api_dispatch``: nothing is copied between host
        and device behind the caller's back."""
        fitted = _namespace_and_device(getattr(self, attribute))
        given = _namespace_and_device(X)
        if fitted != given:
            raise ValueError(
                f"{type(self).__name__}.{method}() must use the same namespace and device as fit: fitted on "
                f"{fitted[0]} ({fitted[1]}), X is {given[0]} ({given[1]}) (move X explicitly)"
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags
