"""Consistency bound of the multiclass logistic (cross-entropy) loss: excess 0-1 risk <= sqrt(2 excess CE).

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
The paper's logistic-regression rate goes through an H-consistency bound for the multiclass logistic
loss.  Pointwise, for a conditional class distribution p and softmax scores q = softmax(z):

    excess cross-entropy   E_CE(p, q) = -sum_k p_k ln q_k - H(p) = KL(p || q)             (1)
    excess 0-1 risk        E_01(p, q) = max_k p_k - p_{argmax q}                         (2)
    E_01 <= |p_i - q_i| + |q_j - p_j| <= ||p - q||_1 = 2 TV(p, q)   (i = argmax p, j = argmax q)   (3)
    2 TV(p, q) <= sqrt(2 KL(p || q))                                  (Pinsker)           (4)

so E_01 <= Gamma(E_CE) with Gamma(t) = sqrt(2 t), for every p and q; taking expectations over x and
Jensen (Gamma concave) gives the bound for risks over the class of all score functions, where the
minimisability gaps vanish.  The constant is tight: for p = (1/2 + e, 1/2 - e) and q = (1/2 - d,
1/2 + d), E_01 / Gamma(E_CE) -> 1 as e, d -> 0 (see :func:`near_tight_pair`).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import array_device, array_namespace, asarray
from kernels.validation import check_positive

__all__ = [
    "consistency_bound",
    "excess_zero_one",
    "excess_cross_entropy",
    "total_variation",
    "near_tight_pair",
]


def _check_distributions(p, name, xp, atol=1e-9):
    if p.ndim < 1 or p.shape[-1] < 2:
        raise ValueError(f"{name} must have a last axis of >= 2 classes, got shape {tuple(p.shape)}")
    if bool(xp.any(p < 0)):
        raise ValueError(f"{name} must be non-negative (probabilities)")
    if bool(xp.any(xp.abs(xp.sum(p, axis=-1) - 1.0) > atol)):
        raise ValueError(f"{name} must sum to 1 along the last axis (tolerance {atol})")


def consistency_bound(excess_ce):
    """Gamma(t) = sqrt(2 t): an upper bound on the excess 0-1 risk given the excess cross-entropy t >= 0.

    Accepts a Python float (returns float, rounded up by one ulp) or an array (any backend).
    """
    if isinstance(excess_ce, (int, float)):
        t = check_positive(excess_ce, "excess_ce", allow_zero=True, allow_inf=True)
        return 0.0 if t == 0 else float(np.nextafter(math.sqrt(2.0 * t), math.inf))  # sqrt(0) is exact
    xp = array_namespace(excess_ce)
    t = asarray(excess_ce, xp=xp, name="excess_ce")
    if bool(xp.any(t < 0)):
        raise ValueError("excess_ce must be >= 0 (an excess risk)")
    value = xp.sqrt(2.0 * t)
    return value * (1.0 + 4 * float(np.finfo(np.float64).eps))


def excess_zero_one(p, q):
    """max_k p_k - p_{argmax_k q_k} (ties in q broken toward the first index, like argmax)."""
    xp = array_namespace(p, q)
    p, q = asarray(p, xp=xp, name="p"), asarray(q, xp=xp, name="q")
    _check_distributions(p, "p", xp)
    chosen = xp.argmax(q, axis=-1)
    columns = xp.arange(p.shape[-1], device=array_device(p))
    picked = xp.sum(xp.where(columns == chosen[..., None], p, xp.zeros_like(p)), axis=-1)
    return xp.max(p, axis=-1) - picked


def excess_cross_entropy(p, q):
    """KL(p || q) = sum_k p_k ln(p_k / q_k) (terms with p_k = 0 contribute 0); +inf if q_k = 0 < p_k."""
    xp = array_namespace(p, q)
    p, q = asarray(p, xp=xp, name="p"), asarray(q, xp=xp, name="q")
    _check_distributions(p, "p", xp)
    _check_distributions(q, "q", xp)
    positive = p > 0
    safe_p = xp.where(positive, p, xp.ones_like(p))
    terms = xp.where(positive, p * (xp.log(safe_p) - xp.log(q)), xp.zeros_like(p))
    return xp.maximum(xp.sum(terms, axis=-1), xp.zeros(p.shape[:-1], dtype=p.dtype, device=array_device(p)))


def total_variation(p, q):
    xp = array_namespace(p, q)
    return 0.5 * xp.sum(xp.abs(asarray(p, xp=xp, name="p") - asarray(q, xp=xp, name="q")), axis=-1)


def near_tight_pair(eps: float, delta: float | None = None):
    """Binary p = (1/2 + eps, 1/2 - eps), q = (1/2 - delta, 1/2 + delta): E_01 / Gamma(E_CE) -> 1 as eps -> 0."""
    eps = check_positive(eps, "eps")
    if eps >= 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps!r}")
    delta = eps * 1e-3 if delta is None else check_positive(delta, "delta")
    return np.array([0.5 + eps, 0.5 - eps]), np.array([0.5 - delta, 0.5 + delta])
