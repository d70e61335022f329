"""Accuracy and agreement of classifiers, as reported in the paper's experiments.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.
"""

from __future__ import annotations

from kernels.backend import array_namespace

__all__ = ["accuracy", "agreement"]


def _check_pair(a, b, name_a, name_b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] == 0:
        raise ValueError(f"{name_a} and {name_b} must not be empty")


def accuracy(y_pred, y_true) -> float:
    """Fraction of equal labels, (1/n) sum_i [y_pred_i = y_true_i]."""
    xp = array_namespace(y_pred, y_true)
    y_pred, y_true = xp.asarray(y_pred), xp.asarray(y_true)
    _check_pair(y_pred, y_true, "y_pred", "y_true")
    return float(xp.mean(xp.astype(y_pred == y_true, xp.float64)))


def agreement(a, b) -> float:
    """Fraction of test points on which two classifiers' labels ``a`` and ``b`` agree."""
    xp = array_namespace(a, b)
    a, b = xp.asarray(a), xp.asarray(b)
    _check_pair(a, b, "a", "b")
    return float(xp.mean(xp.astype(a == b, xp.float64)))
