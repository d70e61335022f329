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
"""

from __future__ import annotations

from kernels.backend import array_namespace, asarray
from kernels.ntk.baselines import majority_vote_predict, one_nn_predict, singular_kernel_predict
from kernels.ntk.duals import DepthTable, beta_exponent, get_dual, regime, tabulate_depth
from kernels.validation import check_matrix, check_same_length

__all__ = [
    "cosines",
    "normalized_kernel",
    "kernel_interpolation_predict",
    "deep_kernel_predict",
    "infinite_depth_predict",
    "limit_name",
]

_KERNELS = ("nngp", "ntk")


def cosines(x1, x2=None):
    """Cosines of the angles between the rows of ``x1`` and ``x2`` (default ``x1``), clipped to [-1, 1]."""
    x1 = check_matrix(asarray(x1, name="x1"), "x1")
    xp = array_namespace(x1)
    u1 = x1 / xp.linalg.vector_norm(x1, axis=1, keepdims=True)
    if x2 is None:
        u2 = u1
    else:
        x2 = check_matrix(asarray(x2, name="x2"), "x2")
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x1 and x2 must have the same number of columns, got {x1.shape[1]} and {x2.shape[1]}")
        u2 = x2 / xp.linalg.vector_norm(x2, axis=1, keepdims=True)
    c = xp.clip(u1 @ u2.T, -1.0, 1.0)
    if x2 is None:  # the diagonal is exactly 1, whatever the rounding of the norms
        n = c.shape[0]
        c = xp.where(xp.eye(n, dtype=c.dtype) > 0, 1.0, c)
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

    ``gram_test`` has shape (n_test, n_train).  Ties (exact zeros) predict +1.
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
    alpha = xp.linalg.solve(gram_train, y_train[:, None])[:, 0]
    return 2.0 * xp.astype(gram_test @ alpha >= 0, alpha.dtype) - 1.0


def deep_kernel_predict(x_train, y_train, x_test, *, dual="relu", depth=1, kernel="ntk", table=None, **table_options):
    """Labels of the depth-L interpolating kernel classifier sign(y^T K_L^(-1) k_L(x)).

    Works at any depth: the NTK is used as K^L / K^L(1); in the 1-NN regime of a polynomial dual the test
    kernel comes from the log-domain table and each test row is divided by its largest entry.
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
    if t.log_ratio:
        log_abs, sign = t.log(c_test)[2 * column : 2 * column + 2]
        top = xp.max(log_abs, axis=1, keepdims=True)
        if not bool(xp.all(xp.isfinite(top))):
            raise FloatingPointError(
                f"the log-kernel underflows at depth {t.depth}: use infinite_depth_predict (the 1-NN limit)"
            )
        gram_test = sign * xp.exp(log_abs - top)
    else:
        gram_test = t(c_test, normalized=True)[column]
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

