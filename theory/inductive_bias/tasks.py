"""Tasks for measuring inductive bias: synthetic ones of adjustable input dimension, and digits.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941).  The paper measures inductive bias
on MNIST, CIFAR-10, Omniglot and a control task and finds that higher-dimensional tasks need more
of it.  Offline stand-ins:

* :func:`synthetic_classification`: x ~ N(0, I_d / d) (so ||x|| ~ 1 and an RBF kernel of
  lengthscale 1 sees distances of the same size at every d), label = argmax_c (W x)_c for a random
  Gaussian teacher W, one-hot targets.  The law of the teacher's scores W x sqrt(d) does not depend
  on d, so only the input dimension changes between tasks.
* :func:`synthetic_regression`: the same inputs, y = sin(3 sqrt(d) a^T x) for a random unit vector a.
* :func:`digits_task`: scikit-learn's bundled 8x8 digits (1,797 images, offline), each image
  scaled to unit Euclidean norm, stratified train/test split, one-hot targets.

Each returns a :class:`Task` of float64 numpy arrays; move them to another backend with
``kernels.backend.from_numpy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.numerics import one_hot
from kernels.validation import check_positive_int

__all__ = ["Task", "synthetic_classification", "synthetic_regression", "digits_task"]


@dataclass(frozen=True)
class Task:
    """A training and a test set; targets are 2-D (one-hot for classification)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.y_train.shape[1])


def _one_hot(labels, n_classes: int) -> np.ndarray:
    return one_hot(np.asarray(labels), n_classes, xp=np, dtype=np.float64)


def _inputs(rng, n, dim):
    return rng.standard_normal((n, dim)) / np.sqrt(dim)


def synthetic_classification(dim: int, *, n_train: int = 100, n_test: int = 100, n_classes: int = 2,
                             rng=None) -> Task:
    """Gaussian inputs of dimension ``dim`` labelled by a random linear teacher (see module docstring).

    ``rng``: anything ``numpy.random.default_rng`` accepts (an integer gives the same task every time).
    """
    dim = check_positive_int(dim, "dim")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    rng = np.random.default_rng(rng)
    teacher = rng.standard_normal((dim, n_classes))
    x = _inputs(rng, n_train + n_test, dim)
    y = _one_hot(np.argmax(x @ teacher, axis=1), n_classes)
    return Task(f"synthetic_classification(d={dim})", x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def synthetic_regression(dim: int, *, n_train: int = 100, n_test: int = 100, rng=None) -> Task:
    """Gaussian inputs of dimension ``dim``, target sin(3 sqrt(d) a^T x) with a random unit vector a."""
    dim = check_positive_int(dim, "dim")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    rng = np.random.default_rng(rng)
    direction = rng.standard_normal(dim)
    direction /= np.linalg.norm(direction)
    x = _inputs(rng, n_train + n_test, dim)
    y = np.sin(3.0 * np.sqrt(dim) * (x @ direction))[:, None]
    return Task(f"synthetic_regression(d={dim})", x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def digits_task(*, n_train: int = 200, n_test: int = 200, n_classes: int = 10, rng=None) -> Task:
    """scikit-learn's 8x8 digits: unit-norm images, stratified split, one-hot targets over ``n_classes`` digits."""
    from sklearn.datasets import load_digits

    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    n_classes = check_positive_int(n_classes, "n_classes", minimum=2)
    if n_classes > 10:
        raise ValueError(f"n_classes must lie in [2, 10], got {n_classes}")
    data = load_digits()
    keep = data.target < n_classes
    x, labels = data.data[keep].astype(np.float64), data.target[keep]
    if n_train + n_test > x.shape[0]:
        raise ValueError(
            f"n_train + n_test must be at most {x.shape[0]} for {n_classes} classes, got {n_train + n_test}"
        )
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(rng)
    # Stratified: interleave a random permutation of each class so every prefix is balanced.
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(n_classes)]
    order = [idx for group in zip(*per_class) for idx in group]
    leftovers = [idx for c in per_class for idx in c[min(len(p) for p in per_class):]]
    order = np.asarray(order + list(rng.permutation(leftovers)) if leftovers else order)
    train, test = order[:n_train], order[n_train:n_train + n_test]
    return Task(
        f"digits({n_classes} classes)",
        x[train], _one_hot(labels[train], n_classes), x[test], _one_hot(labels[test], n_classes),
    )
