"""Numerically delicate primitives shared by the closed-form kernels.

Used by the NNGP/NTK recursions of Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks
achieve consistency for classification" (PNAS 2023; arXiv 2204.14126) in the form computed by
neural-tangents (Novak et al., "Neural Tangents: Fast and Easy Infinite Neural Networks in Python",
ICLR 2020; arXiv 1912.02803).

For a pair of centred Gaussian pre-activations with variances ``q11``, ``q22`` and covariance
``q12`` the kernels need

* the determinant ``q11 q22 - q12^2`` (clipped at zero: round-off can make it slightly negative),
* the correlation ``rho = q12 / sqrt(q11 q22)`` clipped to ``[-1, 1]``,
* the angle ``theta = arccos(rho)`` in the form ``theta = arctan2(sqrt(q11 q22 - q12^2), q12)``.

``arccos`` has an infinite derivative at ``rho = 1``: a rounding error ``eps`` in ``rho`` becomes an
error ``sqrt(2 eps) ~ 1e-8`` in ``theta``.  The ``arctan2`` form keeps the error relative when the
determinant is computed from the variances, and exactly identical variances and covariance (the
diagonal of a Gram matrix, ``x1 is x2``) give an exactly zero determinant and hence ``theta = 0``.
Every function takes and returns arrays of any array-API namespace.

The arc-cosine kernels of Cho and Saul (order 0 and 1, normalised to 1 at theta = 0) are written once:
``J0(theta) = (pi - theta) / pi`` and ``J1(theta) = (sin theta + (pi - theta) cos theta) / pi``; callers pass an
angle computed stably (:func:`angle`, :func:`normalized_angle`).

Beyond the kernels: :func:`unit_rows` (x / ||x|| row by row, refusing a zero row) and :func:`log_softmax`
(``z - logsumexp(z)``), dispatched to ``scipy.special`` / ``cupyx.scipy.special`` where they exist.
"""

from __future__ import annotations

import math

from array_api_compat import is_cupy_namespace, is_numpy_namespace

from kernels.backend import array_device, array_namespace

__all__ = [
    "clip",
    "log_abs",
    "safe_sqrt",
    "determinant",
    "clipped_correlation",
    "angle",
    "normalized_angle",
    "arccos_j0",
    "arccos_j1",
    "sin_minus_theta_cos",
    "asin_difference",
    "angle_from_gaps",
    "pair_angle",
    "unit_rows",
    "log_softmax",
    "one_hot",
]


def clip(x, lo, hi, xp=None):
    """``min(max(x, lo), hi)`` elementwise (``xp.clip`` where the namespace has it)."""
    xp = array_namespace(x) if xp is None else xp
    if hasattr(xp, "clip"):
        return xp.clip(x, lo, hi)
    return xp.where(x < lo, lo, xp.where(x > hi, hi, x))


def log_abs(x, xp=None):
    """``log|x|`` with ``log 0 = -inf`` and no floating-point warning."""
    xp = array_namespace(x) if xp is None else xp
    ax = xp.abs(x)
    zero = ax == 0
    return xp.where(zero, -math.inf, xp.log(xp.where(zero, 1.0, ax)))


def safe_sqrt(x, xp=None):
    """``sqrt(max(x, 0))``: square root of a quantity that is non-negative up to round-off."""
    xp = array_namespace(x) if xp is None else xp
    return xp.sqrt(xp.maximum(x, 0.0))


def determinant(q11, q22, q12, xp=None):
    """``max(q11 q22 - q12^2, 0)``, the determinant of the 2x2 covariance ``[[q11, q12], [q12, q22]]``."""
    xp = array_namespace(q11, q22, q12) if xp is None else xp
    return xp.maximum(q11 * q22 - q12 * q12, 0.0)


def clipped_correlation(q11, q22, q12, xp=None):
    """``q12 / sqrt(q11 q22)`` clipped to ``[-1, 1]``; zero where a variance is zero."""
    xp = array_namespace(q11, q22, q12) if xp is None else xp
    prod = q11 * q22
    positive = prod > 0
    denom = xp.sqrt(xp.where(positive, prod, xp.ones_like(prod)))
    rho = xp.where(positive, q12 / denom, xp.zeros_like(denom))
    return xp.minimum(xp.maximum(rho, -1.0), 1.0)


def angle(q11, q22, q12, xp=None, *, zero_variance=0.0):
    """``theta = arctan2(sqrt(q11 q22 - q12^2), q12)`` in ``[0, pi]``.

    Where ``q11 == q22 == q12`` bit for bit (a Gram diagonal) the determinant is exactly zero and
    ``theta`` is exactly 0.  Where a variance is zero the angle is undefined; it is set to
    ``zero_variance`` (neural-tangents uses ``pi/2`` for ``Sign``, i.e. a zero output).
    """
    xp = array_namespace(q11, q22, q12) if xp is None else xp
    prod = q11 * q22
    theta = xp.atan2(xp.sqrt(xp.maximum(prod - q12 * q12, 0.0)), q12)
    if zero_variance != 0.0:
        theta = xp.where(prod > 0, theta, xp.full_like(theta, zero_variance))
    return theta


def normalized_angle(rho, xp=None):
    """``arccos(rho)`` for a correlation ``rho`` in ``[-1, 1]``, via ``arctan2(sqrt((1-rho)(1+rho)), rho)``.

    Factorising ``1 - rho^2`` keeps its relative accuracy near ``rho = +-1``.
    """
    xp = array_namespace(rho) if xp is None else xp
    rho = xp.minimum(xp.maximum(rho, -1.0), 1.0)
    return xp.atan2(xp.sqrt((1.0 - rho) * (1.0 + rho)), rho)


def arccos_j0(theta, xp=None):
    """Order-0 arc-cosine kernel ``(pi - theta) / pi`` (the ReLU NTK's derivative term), theta in [0, pi]."""
    xp = array_namespace(theta) if xp is None else xp
    return (math.pi - theta) / math.pi


def arccos_j1(theta, xp=None):
    """Order-1 arc-cosine kernel ``(sin theta + (pi - theta) cos theta) / pi`` (ReLU NNGP), theta in [0, pi]."""
    xp = array_namespace(theta) if xp is None else xp
    return (xp.sin(theta) + (math.pi - theta) * xp.cos(theta)) / math.pi


def sin_minus_theta_cos(theta, xp=None):
    """``sin theta - theta cos theta`` for theta in [0, pi], accurate to a few ulps relative.

    For theta < 1 the two terms cancel (the difference is theta^3 / 3 + ...); there the series
    ``sum_k (-1)^(k+1) 2k theta^(2k+1) / (2k+1)!`` (fourteen terms, truncation < 1e-22 relative) is used.
    """
    xp = array_namespace(theta) if xp is None else xp
    t2 = theta * theta
    series = xp.zeros_like(theta)
    for k in range(14, 0, -1):  # Horner in theta^2 of sum_k (-1)^(k+1) 2k theta^(2k-2) / (2k+1)!
        series = series * t2 + ((-1.0) ** (k + 1)) * 2.0 * k / math.factorial(2 * k + 1)
    return xp.where(theta < 1.0, series * t2 * theta, xp.sin(theta) - theta * xp.cos(theta))


def asin_difference(a, b, root_a, root_b, a2_minus_b2, xp=None):
    """``arcsin a - arcsin b`` for a, b in [-1, 1], without cancellation when a is close to b.

    ``root_a = sqrt(1 - a^2)``, ``root_b = sqrt(1 - b^2)`` and ``a2_minus_b2 = a^2 - b^2`` are passed by the
    caller, computed stably from whatever a and b are made of.  Uses
    ``sin(A - B) = a root_b - b root_a = (a^2 - b^2) / (a root_b + b root_a)`` (the second form when a and b
    have the same sign, where the first cancels) and ``cos(A - B) = root_a root_b + a b``.
    """
    xp = array_namespace(a, b) if xp is None else xp
    denominator = a * root_b + b * root_a
    same_sign = (a * b > 0) & (denominator != 0)
    sine = xp.where(same_sign, a2_minus_b2 / xp.where(same_sign, denominator, 1.0), a * root_b - b * root_a)
    return xp.atan2(sine, root_a * root_b + a * b)


def angle_from_gaps(gap, cogap, xp=None):
    """The angle ``theta`` in [0, pi] with ``1 - cos theta = gap`` and ``1 + cos theta = cogap``:
    ``theta = 2 arctan2(sqrt(gap), sqrt(cogap))`` (each argument known to full relative accuracy where small)."""
    xp = array_namespace(gap, cogap) if xp is None else xp
    return 2.0 * xp.atan2(xp.sqrt(xp.maximum(gap, 0.0)), xp.sqrt(xp.maximum(cogap, 0.0)))


def pair_angle(u, v, xp=None):
    """Angles between the unit rows of ``u`` (n, d) and ``v`` (m, d), ``2 arctan2(|u - v|, |u + v|)``.

    Accurate to a few ulps in absolute terms for every pair, parallel and antipodal ones included
    (``arccos(u . v)`` errs by ``sqrt(eps) ~ 1e-8`` there).  The matrix product ``u . v^T`` is used where
    ``|u . v| <= 1/2`` (arccos is well conditioned there); the differences are formed only for the other pairs.
    """
    xp = array_namespace(u, v) if xp is None else xp
    rho = clip(u @ v.T, -1.0, 1.0, xp)
    theta = normalized_angle(rho, xp)
    near = xp.abs(rho) > 0.5
    if bool(xp.any(near)):
        rows, cols = xp.nonzero(near)
        a, b = xp.take(u, rows, axis=0), xp.take(v, cols, axis=0)
        minus = xp.linalg.vector_norm(a - b, axis=1)
        plus = xp.linalg.vector_norm(a + b, axis=1)
        theta[near] = 2.0 * xp.atan2(minus, plus)
    return theta


def unit_rows(x, xp=None, *, name: str = "x", zero_rows: str = "raise"):
    """Rows of ``x`` scaled to unit Euclidean norm.

    A zero row has no direction: ``zero_rows="raise"`` (default) raises ``ValueError`` naming ``name``;
    ``zero_rows="keep"`` leaves it zero (a kernel that is homogeneous in each input is then zero there).
    """
    xp = array_namespace(x) if xp is None else xp
    if zero_rows not in ("raise", "keep"):
        raise ValueError(f"zero_rows must be 'raise' or 'keep', got {zero_rows!r}")
    norms = xp.linalg.vector_norm(x, axis=-1, keepdims=True)
    positive = norms > 0
    if zero_rows == "raise":
        if not bool(xp.all(positive)):
            raise ValueError(f"{name} has a row of zero norm: its direction (cosine similarity) is undefined")
        return x / norms
    return x / xp.where(positive, norms, xp.ones_like(norms))


def log_softmax(z, axis: int = -1, xp=None):
    """``z - logsumexp(z, axis)``, computed stably (scipy.special / cupyx.scipy.special where available)."""
    xp = array_namespace(z) if xp is None else xp
    if is_numpy_namespace(xp):
        import scipy.special

        return scipy.special.log_softmax(z, axis=axis)
    if is_cupy_namespace(xp):
        import cupyx.scipy.special

        return cupyx.scipy.special.log_softmax(z, axis=axis)
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def one_hot(labels, n_classes: int, xp=None, dtype=None):
    """Indicator matrix (..., m, n_classes) of integer labels (..., m) with values in [0, n_classes).

    Raises ``ValueError`` naming ``labels`` when a label lies outside that range.
    """
    xp = array_namespace(labels) if xp is None else xp
    labels = xp.asarray(labels)
    if labels.shape and bool(xp.any((labels < 0) | (labels >= n_classes))):
        raise ValueError(f"labels must be integers in [0, {n_classes - 1}] (n_classes = {n_classes})")
    classes = xp.arange(n_classes, dtype=labels.dtype, device=array_device(labels))
    return xp.astype(labels[..., None] == classes, xp.float64 if dtype is None else dtype)
