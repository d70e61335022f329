"""Input validation shared by every module.

Each check raises ``ValueError`` (or ``TypeError``) whose message names the argument, the allowed
range and the value received, so a user never has to guess which input was wrong.

Estimators declare their parameters once, as scikit-learn does: a class attribute
``_parameter_constraints = {"tol": [Interval(Real, 0, None, closed="neither")], ...}`` built from
:class:`Interval`, :class:`StrOptions`, :class:`Options` and :class:`HasMethods` (scikit-learn's own constraint types,
re-exported here so that there is one import for them), checked once at the start of ``fit`` by
:meth:`kernels.base.Estimator._validate_params`. Functions use the ``check_*`` helpers below.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions

from kernels.backend import array_namespace

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "check_in_open_interval",
    "check_positive",
    "check_positive_int",
    "check_finite_array",
    "check_matrix",
    "check_same_length",
    "check_symmetric_psd",
]


def _as_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_in_open_interval(value, name, low, high):
    """Scalar ``value`` in ``(low, high)``; returns it as float."""
    v = _as_real(value, name)
    if not low < v < high:
        raise ValueError(f"{name} must lie in the open interval ({low}, {high}), got {value!r}")
    return v


def check_positive(value, name, *, allow_zero=False, allow_inf=False):
    """Scalar ``value > 0`` (``>= 0`` with ``allow_zero``); returns it as float."""
    v = _as_real(value, name)
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        rng = "[0, inf)" if allow_zero else "(0, inf)"
        raise ValueError(f"{name} must lie in {rng}, got {value!r}")
    return v


def check_positive_int(value, name, *, minimum=1):
    """Integer ``value >= minimum``; returns it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_finite_array(x, name):
    """Array ``x`` (any backend) holds only finite values."""
    xp = array_namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return x


def check_matrix(x, name, *, ndim=2):
    """Array of exactly ``ndim`` dimensions and no empty axis."""
    if x.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {tuple(x.shape)}")
    if any(s == 0 for s in x.shape):
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def check_same_length(a, b, name_a, name_b):
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same number of rows, got {a.shape[0]} and {b.shape[0]}"
        )


def check_symmetric_psd(k, name, *, rtol=1e-10):
    """Square, symmetric to ``rtol`` and positive semi-definite up to round-off.

    The smallest eigenvalue may be as negative as ``-rtol * max|eigenvalue|``; the error message
    reports the smallest eigenvalue found.
    """
    xp = array_namespace(k)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {tuple(k.shape)}")
    check_finite_array(k, name)
    scale = float(xp.max(xp.abs(k))) or 1.0
    asym = float(xp.max(xp.abs(k - k.T)))
    if asym > rtol * scale * 10:
        raise ValueError(f"{name} must be symmetric, max |K - K^T| = {asym:.3g}")
    eigenvalues = xp.linalg.eigvalsh((k + k.T) / 2)
    lam_min = float(xp.min(eigenvalues))
    lam_max = float(xp.max(xp.abs(eigenvalues)))
    if lam_min < -max(rtol * lam_max, np.finfo(np.float64).eps * k.shape[0] * lam_max):
        raise ValueError(f"{name} must be positive semi-definite, smallest eigenvalue {lam_min:.6g}")
    return k
