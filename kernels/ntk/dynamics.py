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
:class:`NTKRegressor` and :class:`NTKClassifier` are scikit-learn estimators around them (on the one base
:class:`kernels.base.Estimator`).
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from kernels.backend import array_device, array_namespace, as_array_like, asarray, to_numpy
from kernels.base import ClassifierMixin, Estimator, RegressorMixin, check_fitted, is_device_array
from kernels.linalg import CholeskyError, cho_solve, cholesky
from kernels.ntk.activations import Activation, get_activation
from kernels.ntk.fc import FCKernel, fc_kernel
from kernels.validation import Interval, StrOptions, check_matrix, check_positive, check_positive_int

__all__ = [
    "Gaussian",
    "gp_inference",
    "gradient_descent_mse_ensemble",
    "fc_kernel_diagonal",
    "NTKRegressor",
    "NTKClassifier",
    "SingularKernelWarning",
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


def _times(t):
    """None (converged predictor: t None or a scalar inf) or a 1-D NumPy array of finite times >= 0."""
    if t is None:
        return None
    times = np.atleast_1d(np.asarray(t, dtype=float))
    if times.ndim != 1 or np.any(np.isnan(times)) or np.any(times < 0):
        raise ValueError(f"t must be None, a time >= 0 or a 1-D sequence of times >= 0, got {t!r}")
    if np.ndim(t) == 0 and math.isinf(float(t)):
        return None
    if np.any(np.isinf(times)):
        raise ValueError(f"t: use t=None (or a scalar inf) for the converged predictor, got {t!r}")
    return times


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
    learning_rate = check_positive(learning_rate, "learning_rate")
    diag_reg = check_positive(diag_reg, "diag_reg", allow_zero=True)
    k_dd, k_td, y2, vector_target, xp = _gp_inputs(k_train_train, k_test_train, y_train, get)
    size = y2.shape[0] * (1 if vector_target else y2.shape[1])
    times = _times(t)
    solver = _Solver(_regularized(k_dd, diag_reg, diag_reg_absolute_scale, xp), xp, eigen=times is not None)
    cov_terms = None
    if nngp_test_test is not None:
        if k_train_train.nngp is None or k_test_train.nngp is None:
            raise ValueError("the covariance needs the 'nngp' kernels in k_train_train and k_test_train")
        cov_terms = (k_train_train.nngp, k_test_train.nngp, nngp_test_test)

    def at(s):
        return _moments_at(s, solver, size, y2, vector_target, k_td, get, cov_terms, xp)

    if times is None:
        return Gaussian(*at(None))
    results = [at(float(s) * learning_rate) for s in times]
    means = xp.stack([r[0] for r in results])
    covs = xp.stack([r[1] for r in results]) if cov_terms is not None else None
    if np.ndim(t) == 0:
        means = means[0, ...]
        covs = None if covs is None else covs[0, ...]
    return Gaussian(means, covs)


def _gp_inputs(k_train_train, k_test_train, y_train, get):
    """The ``get`` kernels, the targets as a column block, whether they came as a vector, and the namespace."""
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get must be 'nngp' or 'ntk', got {get!r}")
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
    return k_dd, k_td, (y[:, None] if vector_target else y), vector_target, xp


def _moments_at(s, solver, size, y2, vector_target, k_td, get, cov_terms, xp):
    """(mean, covariance or its diagonal or None) at scaled time ``s`` (None: converged)."""
    mean = k_td @ solver(y2, s, size)
    if vector_target:
        mean = mean[:, 0]
    if cov_terms is None:
        return mean, None
    sigma_dd, sigma_td, nngp_test_test = cov_terms
    full_cov = nngp_test_test.ndim == 2
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


def fc_kernel_diagonal(x, *, depth, activation, W_std=1.0, b_std=0.0):
    """Diagonals ``(nngp(x_i, x_i), ntk(x_i, x_i))`` of :func:`kernels.ntk.fc.fc_kernel` in O(n depth).

    Runs the same recursion as the Gram path (whose diagonal it reproduces bit for bit on the
    direct path) on the variances alone.
    """
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


_KERNELS = ("nngp", "ntk")
_DIAG_REG_LADDER = (1e-10, 1e-8, 1e-6, 1e-4)  # relative diag_reg tried in turn when the Gram is singular


class SingularKernelWarning(UserWarning):
    """The train-train kernel was singular at the requested ``diag_reg``; a larger one was used."""


class _FCKernelMachine(Estimator):
    """Shared shell: validated parameters, the training kernels, the GP inference of :func:`gp_inference`."""

    _parameter_constraints = {
        "kernel": [StrOptions(set(_KERNELS))],
        "depth": [Interval(Integral, 0, None, closed="left")],
        "activation": [str, Activation, callable],
        "W_std": [Interval(Real, 0, None, closed="neither")],
        "b_std": [Interval(Real, 0, None, closed="left")],
        "t": [None, Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "diag_reg": [Interval(Real, 0, None, closed="left")],
        "diag_reg_absolute_scale": ["boolean"],
    }

    def __init__(self, kernel="ntk", depth=3, activation="relu", W_std=1.0, b_std=0.0, t=None,
                 learning_rate=1.0, diag_reg=1e-10, diag_reg_absolute_scale=False):
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
        """Store the training set and its kernels; settle the diag_reg that makes the Gram factorisable."""
        self.X_train_ = X
        self.targets_ = targets
        self.k_train_train_ = fc_kernel(X, None, get=("nngp", "ntk"), **self._kernel_args())
        self.diag_reg_ = self._working_diag_reg(getattr(self.k_train_train_, self.kernel))
        return self

    def _working_diag_reg(self, k_dd):
        """``diag_reg``, or (with a :class:`SingularKernelWarning`) the first larger relative value of
        ``_DIAG_REG_LADDER`` for which ``K + lambda I`` has a Cholesky factor (converged predictor only)."""
        if self.t is not None:
            return float(self.diag_reg)  # finite time: eigh, which never fails
        xp = array_namespace(k_dd)
        first_error = None
        candidates = [float(self.diag_reg)]
        if not self.diag_reg_absolute_scale:
            candidates += [v for v in _DIAG_REG_LADDER if v > self.diag_reg]
        for value in candidates:
            try:
                cholesky(_regularized(k_dd, value, self.diag_reg_absolute_scale, xp), "the train-train kernel")
            except CholeskyError as err:
                first_error = first_error or err
                continue
            if value != candidates[0]:
                warnings.warn(
                    f"{type(self).__name__}: the train-train {self.kernel} kernel is singular with diag_reg="
                    f"{self.diag_reg:g} (duplicated or parallel training points?); fitted with diag_reg={value:g} "
                    f"(relative to the mean diagonal) instead",
                    SingularKernelWarning, stacklevel=3,
                )
            return value
        raise first_error

    def _posterior(self, X, return_cov, method):
        check_fitted(self)
        self._check_same_namespace(X, method)
        X = self._validate_X(X, reset=False)
        k_td = fc_kernel(X, self.X_train_, get=("nngp", "ntk"), **self._kernel_args())
        nngp_tt = fc_kernel_diagonal(X, **self._kernel_args())[0] if return_cov else None
        return gp_inference(
            self.k_train_train_, k_td, self.targets_, get=self.kernel, t=self.t,
            learning_rate=self.learning_rate, diag_reg=self.diag_reg_,
            diag_reg_absolute_scale=self.diag_reg_absolute_scale, nngp_test_test=nngp_tt,
        )


class NTKRegressor(RegressorMixin, _FCKernelMachine):
    """Infinite-width network regression: the mean (and std) of the trained infinite ensemble.

    Parameters
    ----------
    kernel : {"ntk", "nngp"}
        Gradient descent on all layers, or the last layer / Bayesian posterior.
    depth, activation, W_std, b_std
        The network of :func:`kernels.ntk.fc.fc_kernel`.
    t : float or None
        Training time; None for the converged predictor.
    learning_rate : float
        Gradient-flow rate eta (only ``eta t`` matters).
    diag_reg : float
        Ridge ``lambda`` added to the train-train kernel, relative to its mean diagonal unless
        ``diag_reg_absolute_scale``.  The default 1e-10 keeps a Gram with duplicated or parallel points
        factorisable; when the Cholesky factorisation still fails, up to 1e-4 is tried with a
        :class:`SingularKernelWarning` (the value used is ``diag_reg_``).

    Attributes
    ----------
    X_train_, targets_, k_train_train_, diag_reg_, n_features_in_
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Store ``X`` (n, d), the targets ``y`` (n,) or (n, k) and the training kernels."""
        self._validate_params()
        shape = tuple(y.shape) if is_device_array(y) else np.shape(np.asarray(y))
        if len(shape) == 2 and shape[1] != 1:
            X = self._validate_X(X, reset=True)
            y = _targets_2d(y, X)
        else:
            X, y = self._validate_Xy(X, y, y_numeric=True)
        if not is_device_array(X):
            y = np.asarray(y, dtype=X.dtype)
        return self._fit_targets(X, y)

    def predict(self, X, return_std=False):
        """Predictive mean (and standard deviation with ``return_std``) at the rows of ``X``."""
        g = self._posterior(X, return_std, "predict")
        if not return_std:
            return g.mean
        xp = array_namespace(g.mean)
        std = xp.sqrt(xp.maximum(g.covariance, 0.0))
        return g.mean, (std[:, None] * xp.ones_like(g.mean) if g.mean.ndim == 2 else std)


def _targets_2d(y, X):
    """A 2-D numeric target matrix with one row per row of ``X``, in ``X``'s namespace."""
    if is_device_array(X):
        xp = array_namespace(X)
        y = xp.astype(as_array_like(y, X), X.dtype)
        finite = bool(xp.all(xp.isfinite(y)))
    else:
        from sklearn.utils import check_array

        y = check_array(y, ensure_2d=True, dtype=[np.float64, np.float32], input_name="y")
        finite = True
    if not finite:
        raise ValueError("Input y contains NaN or infinity.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows (one per row of X), got shape {tuple(y.shape)}")
    return y


class NTKClassifier(ClassifierMixin, _FCKernelMachine):
    """Infinite-width network classifier: kernel regression on +-1 targets (two classes, the paper's
    ``sign(y^T K^-1 k(x))``) or one-hot targets (more classes, arg max).

    Parameters are those of :class:`NTKRegressor`.  ``y`` must hold class labels (a continuous target is
    refused, as in scikit-learn); ``classes_`` are the sorted labels seen in ``fit``.
    """

    def fit(self, X, y):
        """Store ``X``, the encoded labels of ``y`` and the training kernels."""
        self._validate_params()
        X, y = self._validate_Xy(X, y, y_numeric=False)
        labels = np.asarray(to_numpy(y))
        check_classification_targets(labels)
        classes, encoded = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"y must contain at least two classes, got 1 class ({classes.tolist()})")
        self.classes_ = classes
        targets = np.where(encoded == 1, 1.0, -1.0) if classes.size == 2 else np.eye(classes.size)[encoded]
        xp = array_namespace(X)
        return self._fit_targets(X, xp.asarray(targets, dtype=X.dtype, device=array_device(X)))

    def decision_function(self, X):
        """Posterior mean of the encoded labels: shape (n,) for two classes, (n, n_classes) otherwise."""
        return self._posterior(X, False, "decision_function").mean

    def predict(self, X):
        """The class of largest decision value (two classes: ``classes_[1]`` where it is positive)."""
        scores = self._posterior(X, False, "predict").mean
        xp = array_namespace(scores)
        index = xp.astype(scores > 0, xp.int64) if scores.ndim == 1 else xp.argmax(scores, axis=1)
        if self.classes_.dtype.kind in "biuf":  # numeric labels: in the namespace and on the device of X
            return xp.take(as_array_like(self.classes_, scores), index)
        return self.classes_[to_numpy(index)]
