"""Naive Bayes versus logistic regression learning curves on real data (scikit-learn's bundled sets).

Paper: Chenyu Zheng, Guoqiang Wu, Fan Bao, Yue Cao, Chongxuan Li, Jun Zhu, "Revisiting Discriminative vs.
Generative Classifiers: Theory and Implications", ICML 2023 (PMLR 202:42420-42477), arXiv 2302.02334.
The "two regimes" picture (Ng & Jordan 2001; the paper's multiclass version): the generative model
(shared-variance Gaussian naive Bayes) approaches its asymptotic error with few samples, the
discriminative one (L2 logistic regression, scikit-learn's objective, C = 1) reaches a lower asymptote
with more.  Data: ``load_digits`` (1,797 x 64, 10 classes), ``load_wine`` (178 x 13, 3 classes),
``load_breast_cancer`` (569 x 30, 2 classes), all shipped with scikit-learn (offline).

Protocol per trial: a stratified split into a training pool and a test set (``test_fraction``), features
standardised with the pool's mean and standard deviation (constant features left at 0), then for
each training size m a uniformly random m-subset of the pool (redrawn while a class is missing).
The trials of one m are fitted in one batched call of each model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.backend import from_numpy, namespace_of, to_numpy
from kernels.validation import check_in_open_interval, check_positive, check_positive_int

from theory.nb_lr.logistic import fit_logistic
from theory.nb_lr.naive_bayes import fit_shared_variance_nb, linear_predict, nb_linear_classifier

__all__ = ["REAL_DATASETS", "load_real_dataset", "default_sizes", "LearningCurves", "real_learning_curves"]

REAL_DATASETS = ("digits", "wine", "breast_cancer")


def load_real_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X float64, y int64 in 0..K-1) of one of :data:`REAL_DATASETS`."""
    from sklearn import datasets

    loaders = {"digits": datasets.load_digits, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer}
    if name not in loaders:
        raise ValueError(f"dataset must be one of {REAL_DATASETS}, got {name!r}")
    data = loaders[name]()
    _, y = np.unique(data.target, return_inverse=True)
    return np.asarray(data.data, dtype=np.float64), y.astype(np.int64)


def default_sizes(n_classes: int, pool_size: int, points: int = 10) -> list[int]:
    """Geometric grid of training sizes from 2K to the pool size."""
    grid = np.geomspace(2 * n_classes, pool_size, points)
    return sorted({int(round(m)) for m in grid})


def _stratified_split(rng, y, test_fraction):
    test = []
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        test.extend(idx[: max(1, int(round(test_fraction * idx.size)))])
    test_mask = np.zeros(y.size, dtype=bool)
    test_mask[np.asarray(test)] = True
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


def _subset_with_all_classes(rng, y_pool, m, K):
    while True:
        idx = rng.choice(y_pool.size, size=m, replace=False)
        if np.unique(y_pool[idx]).size == K:
            return idx


@dataclass(frozen=True)
class LearningCurves:
    """Result of :func:`real_learning_curves` (lists aligned with ``sizes``; mean and standard deviation
    over the trials of the test error).

    Attributes
    ----------
    dataset : str
    n_features, n_classes, pool_size : int
    sizes : list of int
        Training sizes m.
    nb_mean, nb_std, lr_mean, lr_std : list of float
    """

    dataset: str
    n_features: int
    n_classes: int
    pool_size: int
    sizes: list
    nb_mean: list
    nb_std: list
    lr_mean: list
    lr_std: list


def _standardised_splits(X, y, trials, test_fraction, rng):
    """``trials`` stratified (pool, test) splits, standardised with the pool's mean and deviation."""
    splits = []
    for _ in range(trials):
        pool, test = _stratified_split(rng, y, test_fraction)
        mean, std = X[pool].mean(axis=0), X[pool].std(axis=0)
        std = np.where(std > 0, std, 1.0)
        splits.append(((X[pool] - mean) / std, y[pool], (X[test] - mean) / std, y[test]))
    return splits


def _test_errors(linear, splits, xp):
    coef, intercept = linear
    return [float(np.mean(to_numpy(linear_predict(coef[t], intercept[t], from_numpy(s[2], xp))) != s[3]))
            for t, s in enumerate(splits)]


def real_learning_curves(
    name: str,
    sizes=None,
    *,
    trials: int = 10,
    test_fraction: float = 0.3,
    C: float = 1.0,
    tol: float = 1e-4,
    max_iter: int = 1000,
    rng=None,
    xp=None,
) -> LearningCurves:
    """Mean and standard deviation over trials of the test error of NB and LR at each training size.

    Parameters
    ----------
    name : one of :data:`REAL_DATASETS`
    sizes : sequence of int, optional
        Training sizes in [K, pool size]; default :func:`default_sizes`.
    trials, test_fraction : int, float
        Number of random splits; test share of each, in (0, 1).
    C, tol, max_iter : float, float, int
        Logistic regression as the paper runs it (scikit-learn's gradient tolerance).
    rng : seed or Generator, optional
        Anything ``numpy.random.default_rng`` accepts.
    xp : array namespace, optional

    Returns
    -------
    LearningCurves
    """
    X, y = load_real_dataset(name)
    trials = check_positive_int(trials, "trials")
    check_in_open_interval(test_fraction, "test_fraction", 0.0, 1.0)
    check_positive(C, "C")
    xp = namespace_of() if xp is None else xp
    K = int(y.max()) + 1
    rng = np.random.default_rng(rng)
    splits = _standardised_splits(X, y, trials, test_fraction, rng)
    pool_size = min(s[1].size for s in splits)
    sizes = default_sizes(K, pool_size) if sizes is None else sorted(int(m) for m in sizes)
    if sizes[0] < K or sizes[-1] > pool_size:
        raise ValueError(f"sizes must lie in [{K}, {pool_size}] (classes, pool size), got {sizes[0]}..{sizes[-1]}")
    curves = {"nb_mean": [], "nb_std": [], "lr_mean": [], "lr_std": []}
    for m in sizes:
        chosen = [_subset_with_all_classes(rng, s[1], m, K) for s in splits]
        Xb = from_numpy(np.stack([s[0][i] for s, i in zip(splits, chosen)]), xp)
        yb = from_numpy(np.stack([s[1][i] for s, i in zip(splits, chosen)]), xp)
        nb = nb_linear_classifier(fit_shared_variance_nb(Xb, yb, K))
        lr = fit_logistic(Xb, yb, K, C=C, tol=tol, rtol=None, max_iter=max_iter)
        for label, linear in (("nb", (nb.coef, nb.intercept)), ("lr", (lr.coef, lr.intercept))):
            errors = _test_errors(linear, splits, xp)
            curves[f"{label}_mean"].append(float(np.mean(errors)))
            curves[f"{label}_std"].append(float(np.std(errors)))
    return LearningCurves(name, int(X.shape[1]), K, int(pool_size), sizes, **curves)
