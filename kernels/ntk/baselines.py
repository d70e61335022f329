"""Baseline classifiers and the data model of the infinite-depth consistency experiments.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.

* Majority vote: sign(sum_i y_i) (the infinite-depth limit when phĭ(0) > 0).
* 1-nearest neighbour on the sphere: the label of the training point of largest cosine (the limit when
  phĭ(0) = phĭ'(0) = 0).
* Singular-kernel (Nadaraya-Watson) rule sign(sum_i y_i (1 - x.x_i)^(-beta)) (the limit when
  0 < phĭ'(0) < 1); on S^(d-1) with beta = (d - 1)/2 it is the Hilbert (Devroye) kernel rule
  sign(sum_i y_i ||x - x_i||^(-(d-1))), which is Bayes-consistent.  Weights are combined in the log
  domain (log-sum-exp per class) and a test point equal to training points takes their vote.
* Bayes-optimal rule for two Dirichlet class-conditionals on the simplex, observed after the map
  p -> p / ||p|| to the sphere (the map is one-to-one and the same for both classes, so the rule compares
  pi Dir(p; alpha_+) with (1 - pi) Dir(p; alpha_-) at p = x / sum(x)).
* The data generator of the paper's experiments: prior P(y = +1) = 0.4, Dirichlet class-conditionals,
  points normalised to the unit sphere, a training sample redrawn while two of its points have
  cosine >= 1 (the interpolating kernels need distinct points).

Labels are +1 / -1 throughout.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import array_namespace, asarray
from kernels.validation import check_in_open_interval, check_matrix, check_positive, check_positive_int, check_same_length

__all__ = [
    "DIRICHLET_ALPHAS",
    "sample_dirichlet_sphere",
    "majority_vote_predict",
    "one_nn_predict",
    "singular_kernel_predict",
    "hilbert_kernel_predict",
    "dirichlet_bayes_predict",
    "accuracy",
    "agreement",
    "half_squared_distances",
]

# (alpha of class +1, alpha of class -1) in the paper's main.py, by input dimension d
DIRICHLET_ALPHAS = {
    2: ((1.0, 2.0), (2.0, 1.0)),
    3: ((0.5, 0.5, 2.5), (2.5, 0.1, 0.5)),
    5: ((3.0, 1.0, 2.0, 1.0, 1.0), (1.0, 2.0, 2.0, 2.0, 3.0)),
}


def _check_labels(y, name="y_train"):
    xp = array_namespace(y)
    if not bool(xp.all((y == 1.0) | (y == -1.0))):
        raise ValueError(f"{name} must hold labels +1 or -1 only")
    return y


def _alphas(d, alphas):
    if alphas is None:
        if d not in DIRICHLET_ALPHAS:
            raise ValueError(f"d must be one of {sorted(DIRICHLET_ALPHAS)} unless alphas is given, got {d!r}")
        alphas = DIRICHLET_ALPHAS[d]
    a_pos, a_neg = (np.asarray(a, dtype=np.float64) for a in alphas)
    if a_pos.shape != a_neg.shape or a_pos.ndim != 1 or np.any(a_pos <= 0) or np.any(a_neg <= 0):
        raise ValueError("alphas must be two positive vectors of the same length")
    return a_pos, a_neg


def sample_dirichlet_sphere(
    n, d=None, *, seed=None, prior=0.4, alphas=None, n_positive=None, distinct=True, max_redraws=100
):
    """Draw ``n`` labelled points: y = +1 with probability ``prior``, p ~ Dir(alpha_y), x = p / ||p||.

    ``alphas``: (alpha_+, alpha_-) (default: the paper's pair for ``d``).  ``n_positive`` fixes the number
    of +1 labels instead (a split such as 40 / 60).  With ``distinct`` the sample is redrawn while two
    points have cosine >= 1 in floating point.  Returns NumPy arrays (x, y).
    """
    n = check_positive_int(n, "n")
    prior = check_in_open_interval(prior, "prior", 0.0, 1.0)
    if n_positive is not None:
        n_positive = check_positive_int(n_positive, "n_positive", minimum=0)
        if n_positive > n:
            raise ValueError(f"n_positive must lie in [0, n] = [0, {n}], got {n_positive}")
    a_pos, a_neg = _alphas(d, alphas)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    for _ in range(max_redraws):
        if n_positive is None:
            y = np.where(rng.random(n) < prior, 1.0, -1.0)
        else:
            y = rng.permutation(np.where(np.arange(n) < n_positive, 1.0, -1.0))
        p = np.empty((n, a_pos.size))
        pos = y > 0
        p[pos] = rng.dirichlet(a_pos, size=int(pos.sum()))
        p[~pos] = rng.dirichlet(a_neg, size=int((~pos).sum()))
        x = p / np.linalg.norm(p, axis=1, keepdims=True)
        if not distinct or n == 1:
            return x, y
        gram = x @ x.T
        np.fill_diagonal(gram, -np.inf)
        if gram.max() < 1.0:
            return x, y
    raise RuntimeError(f"no sample of {n} distinct points after {max_redraws} draws")


def majority_vote_predict(y_train, n_test: int):
    """sign(sum_i y_i) for every test point (ties: +1)."""
    y_train = _check_labels(asarray(y_train, name="y_train"))
    xp = array_namespace(y_train)
    label = 1.0 if float(xp.sum(y_train)) >= 0 else -1.0
    return xp.full((check_positive_int(n_test, "n_test", minimum=0),), label, dtype=y_train.dtype)


def _prepare(x_train, y_train, x_test):
    x_train = check_matrix(asarray(x_train, name="x_train"), "x_train")
    x_test = check_matrix(asarray(x_test, name="x_test"), "x_test")
    y_train = _check_labels(asarray(y_train, name="y_train"))
    check_same_length(x_train, y_train, "x_train", "y_train")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"x_train and x_test must have the same number of columns, got {x_train.shape[1]} and {x_test.shape[1]}")
    return x_train, y_train, x_test, array_namespace(x_train, x_test)


def _unit(x, xp):
    return x / xp.linalg.vector_norm(x, axis=1, keepdims=True)


def one_nn_predict(x_train, y_train, x_test):
    """Label of the training point with the largest cosine to each test point (first on ties)."""
    x_train, y_train, x_test, xp = _prepare(x_train, y_train, x_test)
    cosines = _unit(x_test, xp) @ _unit(x_train, xp).T
    return xp.take(y_train, xp.argmax(cosines, axis=1))


def singular_kernel_predict(x_train, y_train, x_test, beta: float):
    """sign(sum_i y_i (1 - x.x_i)^(-beta)) on the unit sphere, combined in the log domain.

    A test point that coincides with training points (cosine 1) takes the sum of their labels
    (the limit of the rule); an exact tie of the two classes predicts +1.
    """
    beta = check_positive(beta, "beta")
    x_train, y_train, x_test, xp = _prepare(x_train, y_train, x_test)
    cos_gap = half_squared_distances(_unit(x_test, xp), _unit(x_train, xp))
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
    return xp.where(finite[:, 0], m0[:, 0] + xp.log(s), m[:, 0])


def hilbert_kernel_predict(x_train, y_train, x_test):
    """The Hilbert (Devroye) kernel rule sign(sum_i y_i ||x - x_i||^(-(d-1))) on S^(d-1), d = x.shape[1]."""
    d = asarray(x_train, name="x_train").shape[1]
    if d < 2:
        raise ValueError(f"x_train must have at least 2 columns (points on S^(d-1)), got {d}")
    # ||x - x_i||^2 = 2 (1 - x.x_i): the power -(d-1)/2 of (1 - x.x_i)
    return singular_kernel_predict(x_train, y_train, x_test, beta=(d - 1) / 2)


def dirichlet_bayes_predict(x, *, d=None, prior=0.4, alphas=None):
    """Bayes-optimal labels for the Dirichlet model of :func:`sample_dirichlet_sphere` (ties: +1)."""
    from scipy.special import gammaln, xlogy

    prior = check_in_open_interval(prior, "prior", 0.0, 1.0)
    x = np.asarray(check_matrix(asarray(x, name="x"), "x"), dtype=np.float64)
    a_pos, a_neg = _alphas(d if d is not None else x.shape[1], alphas)
    if a_pos.size != x.shape[1]:
        raise ValueError(f"x must have {a_pos.size} columns for these alphas, got {x.shape[1]}")
    p = x / x.sum(axis=1, keepdims=True)

    def log_density(alpha):
        return gammaln(alpha.sum()) - gammaln(alpha).sum() + xlogy(alpha - 1.0, p).sum(axis=1)

    with np.errstate(invalid="ignore"):
        score = (math.log(prior) + log_density(a_pos)) - (math.log1p(-prior) + log_density(a_neg))
    score = np.where(np.isnan(score), 0.0, score)  # a coordinate 0 where both densities vanish
    return np.where(score >= 0, 1.0, -1.0)


def accuracy(y_pred, y_true) -> float:
    """Fraction of equal labels."""
    xp = array_namespace(y_pred, y_true)
    return float(xp.mean(xp.astype(y_pred == y_true, xp.float64)))


def agreement(a, b) -> float:
    """Fraction of test points on which two classifiers agree."""
    return accuracy(a, b)
