"""The data model of the paper's infinite-depth experiments and its Bayes-optimal rule.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126 (the experiments of its authors' ``main.py``).

* Generator: prior P(y = +1) = 0.4, Dirichlet class-conditionals p ~ Dir(alpha_y) on the simplex, points
  x = p / ||p|| on the unit sphere, a sample redrawn while two of its points have cosine >= 1 (the
  interpolating kernels need distinct points).
* Bayes-optimal rule: the map p -> p / ||p|| is one-to-one and the same for both classes, so the rule
  compares pi Dir(p; alpha_+) with (1 - pi) Dir(p; alpha_-) at p = x / sum(x).

Labels are +1 / -1.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import asarray
from kernels.ntk.classifiers import cosines
from kernels.validation import check_in_open_interval, check_matrix, check_positive_int

__all__ = ["DIRICHLET_ALPHAS", "sample_dirichlet_sphere", "dirichlet_bayes_predict"]

# (alpha of class +1, alpha of class -1) in the paper's main.py, by input dimension d
DIRICHLET_ALPHAS = {
    2: ((1.0, 2.0), (2.0, 1.0)),
    3: ((0.5, 0.5, 2.5), (2.5, 0.1, 0.5)),
    5: ((3.0, 1.0, 2.0, 1.0, 1.0), (1.0, 2.0, 2.0, 2.0, 3.0)),
    9: ((1.0, 2.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 2.0, 2.0, 1.0)),
}


def _alphas(d, alphas):
    if alphas is None:
        if d not in DIRICHLET_ALPHAS:
            raise ValueError(f"d must be one of {sorted(DIRICHLET_ALPHAS)} unless alphas is given, got {d!r}")
        alphas = DIRICHLET_ALPHAS[d]
    a_pos, a_neg = (np.asarray(a, dtype=np.float64) for a in alphas)
    if a_pos.shape != a_neg.shape or a_pos.ndim != 1 or np.any(a_pos <= 0) or np.any(a_neg <= 0):
        raise ValueError("alphas must be two positive vectors of the same length")
    return a_pos, a_neg


def _draw(rng, n, prior, n_positive, a_pos, a_neg):
    if n_positive is None:
        y = np.where(rng.random(n) < prior, 1.0, -1.0)
    else:
        y = rng.permutation(np.where(np.arange(n) < n_positive, 1.0, -1.0))
    p = np.empty((n, a_pos.size))
    pos = y > 0
    p[pos] = rng.dirichlet(a_pos, size=int(pos.sum()))
    p[~pos] = rng.dirichlet(a_neg, size=int((~pos).sum()))
    return p / np.linalg.norm(p, axis=1, keepdims=True), y


def sample_dirichlet_sphere(
    n, d=None, *, rng=None, prior=0.4, alphas=None, n_positive=None, distinct=True, max_redraws=100
):
    """Draw ``n`` labelled points: y = +1 with probability ``prior``, p ~ Dir(alpha_y), x = p / ||p||.

    Parameters
    ----------
    n : int
        Number of points.
    d : int, optional
        Dimension; selects the paper's pair of alphas (2, 3, 5 or 9) unless ``alphas`` is given.
    rng : anything ``numpy.random.default_rng`` accepts
        Source of randomness (a seed, a sequence of seeds or a Generator).
    prior : float in (0, 1)
        P(y = +1).
    alphas : (alpha_+, alpha_-), optional
        Dirichlet parameters of the two classes.
    n_positive : int, optional
        Fixes the number of +1 labels (a split such as 40 / 60) in place of drawing them.
    distinct : bool
        Redraw the sample while two points have cosine >= 1 in floating point.

    Returns
    -------
    (x, y) : NumPy arrays of shapes (n, d) and (n,).
    """
    n = check_positive_int(n, "n")
    prior = check_in_open_interval(prior, "prior", 0.0, 1.0)
    if n_positive is not None:
        n_positive = check_positive_int(n_positive, "n_positive", minimum=0)
        if n_positive > n:
            raise ValueError(f"n_positive must lie in [0, n] = [0, {n}], got {n_positive}")
    a_pos, a_neg = _alphas(d, alphas)
    rng = np.random.default_rng(rng)
    for _ in range(max_redraws):
        x, y = _draw(rng, n, prior, n_positive, a_pos, a_neg)
        if not distinct or n == 1:
            return x, y
        gram = cosines(x)  # the classifiers' cosines, so that "distinct" means distinct to them
        np.fill_diagonal(gram, -np.inf)
        if gram.max() < 1.0:
            return x, y
    raise RuntimeError(f"no sample of {n} distinct points after {max_redraws} draws")


def dirichlet_bayes_predict(x, *, d=None, prior=0.4, alphas=None):
    """Bayes-optimal labels for the Dirichlet model of :func:`sample_dirichlet_sphere` (ties: +1).

    sign(log pi + log Dir(p; alpha_+) - log(1 - pi) - log Dir(p; alpha_-)) at p = x / sum(x).
    """
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
