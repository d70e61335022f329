"""Deep and infinitely deep kernel classifiers on the unit sphere.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.

A wide network trained to interpolation predicts with kernel regression, so its classifier is

    f_L(x) = sign(y^T K_L^(-1) k_L(x)),   K_L = [k_L(x_i . x_j)],  k_L(x) = [k_L(x_i . x)],

with k_L the NNGP Sigma^L or the NTK K^L of the normalised recursion (:mod:`kernels.ntk.duals`).
As L -> infinity the rule tends to one of three limits fixed by the dual (paper, Theorems 1-3):
majority vote (phĭ(0) > 0), 1-nearest neighbour (phĭ(0) = phĭ'(0) = 0) or the singular kernel rule
sign(sum_i y_i h(x_i . x)) with h(xi) ~ (1 - xi)^(-beta), beta = ln(1/phĭ'(0)) / ln phĭ'(1).

The sign of y^T K^(-1) k(x) does not change when k(x) is scaled by a positive number, so in the
1-NN regime (kernels that underflow like xi^(k^L)) the test kernel is evaluated in the log domain and
each test column is rescaled by its largest entry before the solve.  The NTK is used as K^L / K^L(1),
which never overflows.

Baselines (the limits themselves, and the rules they are compared with):

* Majority vote: sign(sum_i y_i) (the infinite-depth limit when phĭ(0) > 0).
* 1-nearest neighbour on the sphere: the label of the training point of largest cosine (the limit when
  phĭ(0) = phĭ'(0) = 0).
* Singular-kernel (Nadaraya-Watson) rule sign(sum_i y_i (1 - x.x_i)^(-beta)) (the limit when
  0 < phĭ'(0) < 1); on S^(d-1) with beta = (d - 1)/2 it is the Hilbert (Devroye) kernel rule
  sign(sum_i y_i ||x - x_i||^(-(d-1))), which is Bayes-consistent.  Weights are combined in the log
  domain (log-sum-exp per class) and a test point equal to training points takes their vote.

Labels are +1 / -1 throughout.
"""

from __future__ import annotations

import math

from kernels.backend import array_device, array_namespace, asarray
from kernels.linalg import CholeskyError, cho_solve, cholesky
from kernels.ntk.depth import DepthTable, tabulate_depth
from kernels.ntk.duals import beta_exponent, get_dual, regime
from kernels.numerics import unit_rows
from kernels.validation import check_matrix, check_positive, check_positive_int, check_same_length

__all__ = [
    "majority_vote_predict",
    "one_nn_predict",
    "singular_kernel_predict",
    "hilbert_kernel_predict",
    "half_squared_distances",
    "cosines",
    "normalized_kernel",
    "kernel_interpolation_predict",
    "deep_kernel_predict",
    "infinite_depth_predict",
    "limit_name",
]

_KERNELS = ("nngp", "ntk")


# --- baseline rules -------------------------------------------------------------------------


def _check_labels(y, name="y_train"):
    xp = array_namespace(y)
    if not bool(xp.all((y == 1.0) | (y == -1.0))):
        raise ValueError(f"{name} must hold labels +1 or -1 only")
    return y


def majority_vote_predict(y_train, n_test: int):
    """sign(sum_i y_i) for every test point (ties: +1)."""
    y_train = _check_labels(asarray(y_train, name="y_train"))
    xp = array_namespace(y_train)
    label = 1.0 if float(xp.sum(y_train)) >= 0 else -1.0
    return xp.full((check_positive_int(n_test, "n_test", minimum=0),), label, dtype=y_train.dtype,
                   device=array_device(y_train))


def _prepare(x_train, y_train, x_test):
    x_train = check_matrix(asarray(x_train, name="x_train"), "x_train")
    x_test = check_matrix(asarray(x_test, name="x_test"), "x_test")
    y_train = _check_labels(asarray(y_train, name="y_train"))
    check_same_length(x_train, y_train, "x_train", "y_train")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"x_train and x_test must have the same number of columns, got {x_train.shape[1]} and {x_test.shape[1]}")
    return x_train, y_train, x_test, array_namespace(x_train, x_test)


def one_nn_predict(x_train, y_train, x_test):
    """Label of the training point with the largest cosine to each test point (first on ties)."""
    x_train, y_train, x_test, xp = _prepare(x_train, y_train, x_test)
    cosines = unit_rows(x_test, xp, name="x_test") @ unit_rows(x_train, xp, name="x_train").T
    return xp.take(y_train, xp.argmax(cosines, axis=1))


def singular_kernel_predict(x_train, y_train, x_test, beta: float):
    """sign(sum_i y_i (1 - x.x_i)^(-beta)) on the unit sphere, combined in the log domain.

    A test point that coincides with training points (cosine 1) takes the sum of their labels
    (the limit of the rule); an exact tie of the two classes predicts +1.
    """
    beta = check_positive(beta, "beta")
    x_train, y_train, x_test, xp = _prepare(x_train, y_train, x_test)
    cos_gap = half_squared_distances(unit_rows(x_test, xp, name="x_test"), unit_rows(x_train, xp, name="x_train"))
    coincide = cos_gap <= 0.0
    log_w = -beta * xp.log(xp.where(coincide, 1.0, cos_gap))
    log_w = xp.where(coincide, math.inf, log_w)
    pos = y_train > 0
    score = _log_sum(xp, xp.where(pos[None, :], log_w, -math.inf)) - _log_sum(
        xp, xp.where(pos[None, :], -math.inf, log_w)
    )
    # rows with an exact match: vote of the coinciding training points
    exact = xp.any(coincide, axis=1)
    vote = xp.sum(xp.where(coincide, y_train[None, :], 0.0), axis=1)
    decision = xp.where(exact, vote, xp.where(xp.isnan(score), 0.0, score))
    return _labels(xp, decision >= 0)


def half_squared_distances(a, b, *, block_elements: int = 1 << 22):
    """||a_i - b_j||^2 / 2 (= 1 - a_i.b_j for unit vectors) from coordinate differences, in row blocks.

    Unlike 1 - a.b this keeps full relative accuracy for nearby points, where singular kernels live.
    """
    xp = array_namespace(a, b)
    rows = max(1, block_elements // max(1, b.shape[0] * b.shape[1]))
    parts = []
    for lo in range(0, a.shape[0], rows):
        diff = a[lo : min(lo + rows, a.shape[0]), None, :] - b[None, :, :]
        parts.append(xp.sum(diff * diff, axis=2) / 2.0)
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def _labels(xp, positive):
    """+1 where ``positive`` holds, else -1."""
    return 2.0 * xp.astype(positive, xp.float64) - 1.0


def _log_sum(xp, log_w):
    """Row-wise log sum exp, -inf for empty rows, +inf where a weight is infinite."""
    m = xp.max(log_w, axis=1, keepdims=True)
    finite = xp.isfinite(m)
    m0 = xp.where(finite, m, 0.0)
    s = xp.sum(xp.exp(xp.where(finite, log_w - m0, -math.inf)), axis=1)
    # rows without a finite maximum take m itself; their s = 0 is replaced before the log (no warning)
    return xp.where(finite[:, 0], m0[:, 0] + xp.log(xp.where(finite[:, 0], s, 1.0)), m[:, 0])


def hilbert_kernel_predict(x_train, y_train, x_test):
    """The Hilbert (Devroye) kernel rule sign(sum_i y_i ||x - x_i||^(-(d-1))) on S^(d-1), d = x.shape[1]."""
    d = asarray(x_train, name="x_train").shape[1]
    if d < 2:
        raise ValueError(f"x_train must have at least 2 columns (points on S^(d-1)), got {d}")
    # ||x - x_i||^2 = 2 (1 - x.x_i): the power -(d-1)/2 of (1 - x.x_i)
    return singular_kernel_predict(x_train, y_train, x_test, beta=(d - 1) / 2)


# --- deep and infinitely deep kernel rules ------------------------------------------------------


def cosines(x1, x2=None):
    """Cosines of the angles between the rows of ``x1`` and ``x2`` (default ``x1``), clipped to [-1, 1]."""
    x1 = check_matrix(asarray(x1, name="x1"), "x1")
    xp = array_namespace(x1)
    u1 = unit_rows(x1, xp, name="x1")
    if x2 is None:
        u2 = u1
    else:
        x2 = check_matrix(asarray(x2, name="x2"), "x2")
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x1 and x2 must have the same number of columns, got {x1.shape[1]} and {x2.shape[1]}")
        u2 = unit_rows(x2, xp, name="x2")
    c = xp.clip(u1 @ u2.T, -1.0, 1.0)
    if x2 is None:  # the diagonal is exactly 1, whatever the rounding of the norms
        n = c.shape[0]
        c = xp.where(xp.eye(n, dtype=c.dtype, device=array_device(c)) > 0, 1.0, c)
    return c


def _table(dual, depth, table, **table_options) -> DepthTable:
    if table is not None:
        if not isinstance(table, DepthTable):
            raise TypeError(f"table must be a DepthTable, got {type(table).__name__}")
        return table
    return tabulate_depth(dual, depth, **table_options)


def normalized_kernel(x1, x2=None, *, dual="relu", depth=1, kernel="ntk", normalized=False, table=None):
    """The depth-L NNGP (``kernel="nngp"``) or NTK of the normalised recursion between the directions of
    the rows of ``x1`` and ``x2`` (inputs are projected to the unit sphere).  ``normalized=True`` gives
    K^L / K^L(1) for the NTK.  A prebuilt ``table`` (from :func:`tabulate_depth`) is reused."""
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    sigma, ntk = _table(dual, depth, table)(cosines(x1, x2), normalized=normalized)
    return sigma if kernel == "nngp" else ntk


def kernel_interpolation_predict(gram_train, y_train, gram_test):
    """sign(gram_test @ gram_train^(-1) y_train): the interpolating kernel regression classifier.

    ``gram_test`` has shape (n_test, n_train).  Ties (exact zeros) predict +1.  Where ``gram_train`` is
    singular in floating point the minimum-norm interpolant is used (eigenvalues below n eps max dropped).
    """
    gram_train = check_matrix(asarray(gram_train, name="gram_train"), "gram_train")
    gram_test = check_matrix(asarray(gram_test, name="gram_test"), "gram_test")
    y_train = asarray(y_train, name="y_train")
    xp = array_namespace(gram_train, gram_test, y_train)
    if gram_train.shape[0] != gram_train.shape[1]:
        raise ValueError(f"gram_train must be square, got shape {tuple(gram_train.shape)}")
    check_same_length(gram_train, y_train, "gram_train", "y_train")
    if gram_test.shape[1] != gram_train.shape[0]:
        raise ValueError(f"gram_test must have {gram_train.shape[0]} columns, got {gram_test.shape[1]}")
    try:
        alpha = cho_solve(cholesky(gram_train, "gram_train"), y_train[:, None])[:, 0]
    except CholeskyError:
        # Singular in floating point (coinciding points, a low-rank polynomial kernel): the minimum-norm
        # interpolant, which gradient descent from zero reaches; a plain solve would return noise here.
        w, V = xp.linalg.eigh(gram_train)
        keep = w > w[-1] * w.shape[0] * xp.finfo(gram_train.dtype).eps
        coef = xp.where(keep, (V.T @ y_train) / xp.where(keep, w, 1.0), 0.0)
        alpha = V @ coef
    return 2.0 * xp.astype(gram_test @ alpha >= 0, alpha.dtype) - 1.0


def deep_kernel_predict(x_train, y_train, x_test, *, dual="relu", depth=1, kernel="ntk", table=None, **table_options):
    """Labels of the depth-L interpolating kernel classifier sign(y^T K_L^(-1) k_L(x)).

    Works at any depth: the NTK is used as K^L / K^L(1), and the test kernel comes from the table's log
    values with each test row divided by its largest entry, so it stays finite where K^L underflows.
    """
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    t = _table(dual, depth, table, **table_options)
    if kernel == "ntk" and t.ntk_nodes is None:
        raise ValueError(f"dual {t.dual.name!r} has no derivative: the NTK needs phĭ'")
    c_train = cosines(x_train)
    c_test = cosines(x_test, x_train)
    xp = array_namespace(c_train)
    column = 0 if kernel == "nngp" else 1
    gram_train = t(c_train, normalized=True)[column]
    # Each test row is divided by its largest entry (the labels do not change), so rows whose kernel values
    # all underflow float64 (deep singular duals: K^L(xi) ~ phĭ'(0)^L) stay informative.
    log_abs, sign = t.log(c_test)[2 * column : 2 * column + 2]
    top = xp.max(log_abs, axis=1, keepdims=True)
    if not bool(xp.all(xp.isfinite(top))):
        raise FloatingPointError(
            f"the log-kernel underflows at depth {t.depth}: use infinite_depth_predict (the limit rule)"
        )
    gram_test = sign * xp.exp(log_abs - top)
    return kernel_interpolation_predict(gram_train, y_train, gram_test)


def infinite_depth_predict(x_train, y_train, x_test, *, dual):
    """The L -> infinity limit of :func:`deep_kernel_predict` for ``dual``: majority vote, 1-NN, or the
    singular-kernel rule sign(sum_i y_i (1 - x.x_i)^(-beta)) by the regime of the dual."""
    d = get_dual(dual)
    kind = regime(d)
    if kind == "majority_vote":
        x_test = asarray(x_test, name="x_test")
        return majority_vote_predict(y_train, x_test.shape[0])
    if kind == "one_nn":
        return one_nn_predict(x_train, y_train, x_test)
    if kind == "singular":
        return singular_kernel_predict(x_train, y_train, x_test, beta_exponent(d))
    raise ValueError(f"dual {d.name!r} is linear (phĭ(xi) = xi): depth does not change the kernel, no limit rule")


def limit_name(dual) -> str:
    """Name of the infinite-depth rule of ``dual`` ("majority vote", "1-NN", "singular kernel beta=...")."""
    d = get_dual(dual)
    kind = regime(d)
    if kind == "singular":
        return f"singular kernel, beta = {beta_exponent(d):.6g}"
    return {"majority_vote": "majority vote", "one_nn": "1-NN", "linear": "none (linear dual)"}[kind]

