"""Closed-form gradient-descent dynamics of infinitely wide networks trained on the MSE loss.

Paper: Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for
classification" (PNAS 2023; arXiv 2204.14126), whose classifiers are the t = infinity limits below.
The definitions are those of neural-tangents' ``predict.gradient_descent_mse_ensemble`` (Novak et al.,
ICLR 2020; arXiv 1912.02803; Lee et al., "Wide neural networks of any depth evolve as linear models
under gradient descent", NeurIPS 2019; arXiv 1902.06720).

Notation: ``K`` the kernel that drives training (the NTK ``Theta`` or the NNGP ``Sigma``), ``d`` train
and ``t`` test indices, ``y`` the targets with ``N = y.size`` entries, ``eta`` the learning rate and
``K_reg = K_dd + lambda I`` with ``lambda = diag_reg tr(K_dd)/n`` (or ``diag_reg`` itself when
``diag_reg_absolute_scale``).

* t = infinity (Cholesky of ``K_reg``):
  ``mean = K_td K_reg^-1 y``;
  NNGP: ``cov = Sigma_tt - Sigma_td Sigma_reg^-1 Sigma_dt``;
  NTK:  ``cov = Sigma_tt + T Sigma_dd T^T - (T Sigma_dt + (T Sigma_dt)^T)``, ``T = Theta_td Theta_reg^-1``.
* finite t (``K_reg = V diag(l) V^T``, ``e_s(l) = (1 - exp(-max(l, 0) s / N)) / |l|``, ``s = eta t``):
  ``mean = K_td V diag(e_s) V^T y``;
  NNGP: ``cov = Sigma_tt - Sigma_td V diag(e_2s) V^T Sigma_dt``;
  NTK:  as above with ``T = Theta_td V diag(e_s) V^T``.
  Where ``l = 0`` exactly, ``e_s`` takes its limit ``s / N`` (neural-tangents divides 0 by 0 there).

:func:`gp_inference` is the pure function on precomputed kernels; :func:`gradient_descent_mse_ensemble`
computes the kernels of a fully connected network with :func:`kernels.ntk.fc.fc_kernel` first.
:class:`NTKRegressor` and :class:`NTKClassifier` are scikit-learn style shells around them
(``get_params``/``set_params`` are provided here, so scikit-learn is not needed to import this module).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.backend import array_namespace, asarray, to_numpy

from kernels.linalg import cho_solve, cholesky
from kernels.ntk.fc import FCKernel, fc_kernel
from kernels.validation import check_matrix, check_positive, check_positive_int

__all__ = [
    "Gaussian",
    "gp_inference",
    "gradient_descent_mse_ensemble",
    "fc_kernel_diagonal",
    "NTKRegressor",
    "NTKClassifier",
]


@dataclass(frozen=True)
class Gaussian:
    """Predictive mean and covariance (``covariance`` is None when not requested; a vector when only
    its diagonal was requested).  With an array of times both carry a leading time axis."""

    mean: Any
    covariance: Any = None


def _eye(n, like, xp):
    return xp.eye(n, dtype=like.dtype, device=getattr(like, "device", None))


def _regularized(k, diag_reg, absolute, xp):
    n = k.shape[0]
    eye = _eye(n, k, xp)
    if diag_reg == 0.0:
        return k
    scale = diag_reg if absolute else diag_reg * float(xp.sum(k * eye)) / n
    return k + scale * eye


class _Solver:
    """``B -> f(K_reg) B`` for ``f(l) = 1/l`` (t = inf, Cholesky) or ``f = e_s`` (finite t, eigh)."""

    def __init__(self, k_reg, xp, eigen: bool):
        self.xp = xp
        if eigen:
            self.values, self.vectors = xp.linalg.eigh(k_reg)
            self.chol = None
        else:
            self.chol = cholesky(k_reg, "the train-train kernel (plus diag_reg)", hint="increase diag_reg")

    def factor(self, s, size):
        """``e_s(l)`` on the eigenvalues; ``s / size`` where ``l = 0``."""
        xp = self.xp
        positive = xp.maximum(self.values, 0.0)
        numerator = -xp.expm1(-positive * s / size)
        magnitude = xp.abs(self.values)
        safe = xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
        return xp.where(magnitude > 0, numerator / safe, xp.full_like(magnitude, s / size))

    def __call__(self, b, s=None, size=None):
        if self.chol is not None:
            return cho_solve(self.chol, b)
        v = self.vectors
        weights = self.factor(s, size)
        return v @ (weights[:, None] * (v.T @ b))


def gp_inference(
    k_train_train: FCKernel,
    k_test_train: FCKernel,
    y_train,
    *,
    get: str = "ntk",
    t=None,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    diag_reg_absolute_scale: bool = False,
    nngp_test_test=None,
) -> Gaussian:
    """Mean (and covariance) of the infinite ensemble trained by gradient flow for time ``t``.

    Parameters
    ----------
    k_train_train, k_test_train : kernels with ``.nngp`` / ``.ntk`` of shapes ``(n, n)`` and ``(m, n)``;
        the NTK covariance needs both, the NNGP one only ``.nngp``.
    y_train : targets, shape ``(n,)`` or ``(n, k)``.
    get : ``"ntk"`` (gradient descent on the network) or ``"nngp"`` (Bayesian posterior / last layer).
    t : None or ``inf`` for the converged predictor, a time ``>= 0``, or a 1-D sequence of times
        (adds a leading time axis).
    nngp_test_test : None (mean only), the ``(m, m)`` NNGP test-test matrix (full covariance) or its
        diagonal ``(m,)`` (covariance diagonal only).
    """
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get must be 'nngp' or 'ntk', got {get!r}")
    learning_rate = check_positive(learning_rate, "learning_rate")
    diag_reg = check_positive(diag_reg, "diag_reg", allow_zero=True)
    k_dd = getattr(k_train_train, get)
    k_td = getattr(k_test_train, get)
    if k_dd is None or k_td is None:
        raise ValueError(f"k_train_train and k_test_train must contain the {get!r} kernel")
    xp = array_namespace(k_dd)
    y = asarray(y_train, xp=xp, dtype=str(k_dd.dtype).rsplit(".", 1)[-1], name="y_train")
    n = k_dd.shape[0]
    if k_dd.shape != (n, n) or k_td.shape[1] != n or y.shape[0] != n or y.ndim not in (1, 2):
        raise ValueError(
            f"shapes must be k_train_train ({n}, {n}), k_test_train (m, {n}), y_train ({n},) or ({n}, k); "
            f"got {tuple(k_dd.shape)}, {tuple(k_td.shape)}, {tuple(y.shape)}"
        )
    vector_target = y.ndim == 1
    y2 = y[:, None] if vector_target else y
    size = y.shape[0] * (1 if vector_target else y.shape[1])

    times = None
    if t is not None:
        times_np = np.atleast_1d(np.asarray(t, dtype=float))
        if times_np.ndim != 1 or np.any(np.isnan(times_np)) or np.any(times_np < 0):
            raise ValueError(f"t must be None, a time >= 0 or a 1-D sequence of times >= 0, got {t!r}")
        if not (np.ndim(t) == 0 and math.isinf(float(t))):
            times = times_np
    if times is not None and np.any(np.isinf(times)):
        raise ValueError(f"t: use t=None (or a scalar inf) for the converged predictor, got {t!r}")

    solver = _Solver(_regularized(k_dd, diag_reg, diag_reg_absolute_scale, xp), xp, eigen=times is not None)
    want_cov = nngp_test_test is not None
    if want_cov:
        sigma_dd, sigma_td = k_train_train.nngp, k_test_train.nngp
        if sigma_dd is None or sigma_td is None:
            raise ValueError("the covariance needs the 'nngp' kernels in k_train_train and k_test_train")
        full_cov = nngp_test_test.ndim == 2

    def one_time(s):
        mean = k_td @ solver(y2, s, size)
        if vector_target:
            mean = mean[:, 0]
        if not want_cov:
            return mean, None
        if get == "nngp":
            s2 = None if s is None else 2.0 * s
            solved = solver(sigma_td.T, s2, size)  # (n, m)
            if full_cov:
                return mean, nngp_test_test - k_td @ solved
            return mean, nngp_test_test - xp.sum(k_td.T * solved, axis=0)
        transfer = solver(k_td.T, s, size)  # (n, m): K_reg^-1 Theta_dt or its finite-time analogue
        cross = solver(sigma_td.T, s, size)  # (n, m)
        if full_cov:
            term_2 = k_td @ cross
            return mean, transfer.T @ (sigma_dd @ transfer) - (term_2 + term_2.T) + nngp_test_test
        quadratic = xp.sum(transfer * (sigma_dd @ transfer), axis=0)
        return mean, quadratic - 2.0 * xp.sum(k_td.T * cross, axis=0) + nngp_test_test

    if times is None:
        mean, cov = one_time(None)
        return Gaussian(mean, cov)
    results = [one_time(float(s) * learning_rate) for s in times]
    means = xp.stack([r[0] for r in results])
    covs = xp.stack([r[1] for r in results]) if want_cov else None
    if np.ndim(t) == 0:
        means = means[0, ...]
        covs = None if covs is None else covs[0, ...]
    return Gaussian(means, covs)


def fc_kernel_diagonal(x, *, depth, activation, W_std=1.0, b_std=0.0):
    """Diagonals ``(nngp(x_i, x_i), ntk(x_i, x_i))`` of :func:`kernels.ntk.fc.fc_kernel` in O(n depth).

    Runs the same recursion as the Gram path (whose diagonal it reproduces bit for bit on the
    direct path) on the variances alone.
    """
    from kernels.ntk.activations import get_activation

    act = get_activation(activation)
    depth = check_positive_int(depth, "depth", minimum=0)
    W_std = check_positive(W_std, "W_std")
    b_std = check_positive(b_std, "b_std", allow_zero=True)
    xp = array_namespace(x)
    x = check_matrix(asarray(x, xp=xp, name="x"), "x")
    sw2, sb2 = W_std * W_std, b_std * b_std
    var = sw2 * (xp.sum(x * x, axis=1) / x.shape[1]) + sb2
    ntk = var
    for _ in range(depth):
        t, tdot = act.kernel(var, var, var, xp)
        var = sw2 * t + sb2
        ntk = var + sw2 * (ntk * tdot)
    return var, ntk


def gradient_descent_mse_ensemble(
    x_train,
    y_train,
    x_test,
    *,
    depth: int,
    activation,
    W_std: float = 1.0,
    b_std: float = 0.0,
    get: str = "ntk",
    t=None,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    diag_reg_absolute_scale: bool = False,
    compute_cov: bool = False,
) -> Gaussian:
    """:func:`gp_inference` for the fully connected network of :func:`kernels.ntk.fc.fc_kernel`
    (neural-tangents ``gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, ...)(t, x_test, get,
    compute_cov)``)."""
    kernel_args = dict(depth=depth, activation=activation, W_std=W_std, b_std=b_std)
    needs = ("nngp", "ntk") if (compute_cov or get == "ntk") else ("nngp",)
    k_dd = fc_kernel(x_train, None, get=needs, **kernel_args)
    k_td = fc_kernel(x_test, x_train, get=needs, **kernel_args)
    nngp_tt = fc_kernel(x_test, None, get="nngp", **kernel_args).nngp if compute_cov else None
    return gp_inference(
        k_dd, k_td, y_train, get=get, t=t, learning_rate=learning_rate, diag_reg=diag_reg,
        diag_reg_absolute_scale=diag_reg_absolute_scale, nngp_test_test=nngp_tt,
    )


class _ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` read from ``__init__``'s signature (as in scikit-learn)."""

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        is_classifier = self._estimator_type == "classifier"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags() if is_classifier else None,
            regressor_tags=None if is_classifier else RegressorTags(),
        )


_KERNELS = ("nngp", "ntk")


class _FCKernelMachine(_ParamsMixin):
    def __init__(self, kernel="ntk", depth=3, activation="relu", W_std=1.0, b_std=0.0, t=None,
                 learning_rate=1.0, diag_reg=0.0, diag_reg_absolute_scale=False):
        self.kernel = kernel
        self.depth = depth
        self.activation = activation
        self.W_std = W_std
        self.b_std = b_std
        self.t = t
        self.learning_rate = learning_rate
        self.diag_reg = diag_reg
        self.diag_reg_absolute_scale = diag_reg_absolute_scale

    def _kernel_args(self):
        return dict(depth=self.depth, activation=self.activation, W_std=self.W_std, b_std=self.b_std)

    def _fit_targets(self, X, targets):
        if self.kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {_KERNELS}, got {self.kernel!r}")
        check_positive_int(self.depth, "depth", minimum=0)
        X = check_matrix(asarray(X, name="X"), "X")
        if targets.shape[0] != X.shape[0]:
            raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {targets.shape[0]}")
        self.X_train_ = X
        self.targets_ = targets
        self.n_features_in_ = X.shape[1]
        self.k_train_train_ = fc_kernel(X, None, get=("nngp", "ntk"), **self._kernel_args())
        return self

    def _posterior(self, X, return_cov):
        if not hasattr(self, "X_train_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")
        X = check_matrix(asarray(X, xp=array_namespace(self.X_train_), name="X"), "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} columns, got {X.shape[1]}")
        k_td = fc_kernel(X, self.X_train_, get=("nngp", "ntk"), **self._kernel_args())
        nngp_tt = None
        if return_cov:
            nngp_tt = fc_kernel_diagonal(X, **self._kernel_args())[0]
        return gp_inference(
            self.k_train_train_, k_td, self.targets_, get=self.kernel, t=self.t,
            learning_rate=self.learning_rate, diag_reg=self.diag_reg,
            diag_reg_absolute_scale=self.diag_reg_absolute_scale, nngp_test_test=nngp_tt,
        )


class NTKRegressor(_FCKernelMachine):
    """Infinite-width network regression: the mean (and std) of the trained infinite ensemble.

    ``kernel`` "ntk" (gradient descent on all layers) or "nngp" (last layer / Bayesian posterior);
    ``t`` None for the converged predictor or a training time.  ``fit`` stores the training set and
    its kernels (attributes ending in ``_``); ``predict(X, return_std=True)`` adds the predictive std.
    """

    _estimator_type = "regressor"

    def fit(self, X, y):
        y = asarray(y, name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {tuple(y.shape)}")
        return self._fit_targets(X, y)

    def predict(self, X, return_std=False):
        g = self._posterior(X, return_std)
        if not return_std:
            return g.mean
        xp = array_namespace(g.mean)
        return g.mean, xp.sqrt(xp.maximum(g.covariance, 0.0))

    def score(self, X, y):
        """Coefficient of determination R^2 of the prediction (averaged over outputs)."""
        pred = to_numpy(self.predict(X)).reshape(len(to_numpy(y)), -1)
        y = np.asarray(to_numpy(y), dtype=float).reshape(pred.shape)
        ss_res = ((y - pred) ** 2).sum(axis=0)
        ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)))


class NTKClassifier(_FCKernelMachine):
    """Infinite-width network classifier: kernel regression on +-1 targets (two classes, the paper's
    ``sign(y^T K^-1 k(x))``) or one-hot targets (more classes, arg max)."""

    _estimator_type = "classifier"

    def fit(self, X, y):
        labels = np.asarray(to_numpy(y))
        if labels.ndim != 1:
            raise ValueError(f"y must be 1-D class labels, got shape {labels.shape}")
        classes, encoded = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"y must contain at least two classes, got {classes.tolist()}")
        self.classes_ = classes
        if classes.size == 2:
            targets = np.where(encoded == 1, 1.0, -1.0)
        else:
            targets = np.eye(classes.size)[encoded]
        X_arr = asarray(X, name="X")
        return self._fit_targets(X_arr, asarray(targets, xp=array_namespace(X_arr)))

    def decision_function(self, X):
        return self._posterior(X, False).mean

    def predict(self, X):
        scores = to_numpy(self.decision_function(X))
        index = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[index]

    def score(self, X, y):
        """Accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(to_numpy(y))))
