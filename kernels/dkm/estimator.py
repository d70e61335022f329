"""``DeepKernelMachine``: a scikit-learn regressor for the deep kernel machine.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.

``depth`` = L hidden Gram layers; ``depth=0`` is a Gaussian process with the base kernel and
``nu=inf`` is the NNGP (infinite-width network, no representation learning).  The algorithm is
the pure function :func:`kernels.dkm.solver.solve_dkm` or :func:`kernels.dkm.sparse.solve_sparse_dkm`;
this class validates its parameters and inputs and stores the results.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import validate_data

from kernels.backend import array_device, array_namespace, as_array_like
from kernels.base import Estimator, RegressorMixin, check_fitted, is_device_array
from kernels.validation import Interval, Options, StrOptions
from kernels.dkm.gram_kernels import KERNELS, GramKernel, make_kernel
from kernels.dkm.objective import input_gram
from kernels.dkm.solver import METHODS, solve_dkm
from kernels.dkm.sparse import dkm_predict, input_blocks, solve_sparse_dkm, sparse_nngp_grams, sparse_predict
from kernels.dkm.objective import nngp_grams

__all__ = ["DeepKernelMachine", "MAX_DEPTH", "MAX_NU"]

LOG_2PI = math.log(2.0 * math.pi)
#: largest depth accepted (each layer costs a P x P Gram matrix and its factorisation)
MAX_DEPTH = 100
#: largest finite nu accepted; beyond it the DKM equals the NNGP to float64 precision: pass inf
MAX_NU = 1e12


def _check_nu(nu, depth):
    """List of ``depth`` KL weights, each in (0, MAX_NU] or inf."""
    values = [nu] * depth if isinstance(nu, Real) else list(nu)
    if len(values) != depth:
        raise ValueError(f"nu must be a number or a sequence of depth={depth} numbers, got {len(values)} values")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, Real) or not (v == math.inf or 0 < v <= MAX_NU):
            raise ValueError(f"nu[{i}] must lie in (0, {MAX_NU:g}] or be inf (the NNGP layer), got {v!r}")
        out.append(float(v))
    return out


class DeepKernelMachine(RegressorMixin, Estimator):
    """Deep kernel machine regression (Gaussian likelihood).

    Parameters
    ----------
    depth : int, 0..MAX_DEPTH
        Number of learned Gram layers L.
    kernel : str, GramKernel or list of GramKernel
        "se", "arccos"/"relu", "normalised_gaussian" or "linear" (or a GramKernel) used in every layer,
        or a list of ``depth + 1`` GramKernels (one per layer and the output), e.g. ``nngp.kernels_``.
    nu : float or sequence of float
        KL weight per layer, in (0, MAX_NU] or inf (an NNGP layer).
    n_inducing : int or None
        None for the full DKM, else the number M of inducing points (a random subset of the training
        inputs drawn with ``random_state``); cost linear in the number of points.
    noise_var : float
        Initial (or, with ``learn_noise=False``, fixed) likelihood noise variance.
    learn_noise, learn_kernel : bool
        Learn the noise variance / the kernels' parameters (one set per layer) with the Grams.
    min_noise_var : float
        Lower bound of the learned noise variance, in [1e-6, 10).
    kernel_params : dict or None
        Kernel parameters (e.g. ``{"lengthscale": 1.0}``), the starting point when ``learn_kernel``.
    jitter : float
        Added to the diagonal of every kernel matrix.
    method : {"lbfgs", "lbfgsb", "newton"}
        The solver (:func:`kernels.dkm.solver.solve_dkm`).
    tol, max_iter : float, int
        Stop when the max-abs gradient of the objective per data point is below ``tol``.
    random_state : int, Generator or None
        Draws the inducing points.

    Attributes
    ----------
    grams_ : list
        Learned Gram matrices G_1..G_L (inducing Grams when sparse).
    nngp_grams_ : list
        The NNGP Grams for the fitted kernels (what nu = inf gives).
    kernels_, noise_var_ : fitted kernels (one per layer plus the output) and noise variance.
    objective_, objective_trace_ : final objective and its value per iteration.
    n_iter_, converged_, grad_norm_ : solver report.
    inducing_points_ : inducing inputs (None for the full model).
    """

    _parameter_constraints = {
        "depth": [Interval(Integral, 0, MAX_DEPTH, closed="both")],
        "kernel": [StrOptions(set(KERNELS)), GramKernel, list, tuple],
        "nu": [Interval(Real, 0, MAX_NU, closed="right"), Options(Real, {math.inf}), list, tuple, np.ndarray],
        "n_inducing": [None, Interval(Integral, 1, None, closed="left")],
        "noise_var": [Interval(Real, 0, 1e10, closed="neither")],
        "learn_noise": ["boolean"],
        "learn_kernel": ["boolean"],
        "min_noise_var": [Interval(Real, 1e-6, 10, closed="left")],
        "kernel_params": [None, dict],
        "jitter": [Interval(Real, 0, 1, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, depth=2, kernel="se", nu=1.0, n_inducing=None, noise_var=0.1, learn_noise=True,
                 learn_kernel=True, min_noise_var=1e-6, kernel_params=None, jitter=1e-6, method="lbfgs", tol=1e-5,
                 max_iter=1000, random_state=0):
        self.depth = depth
        self.kernel = kernel
        self.nu = nu
        self.n_inducing = n_inducing
        self.noise_var = noise_var
        self.learn_noise = learn_noise
        self.learn_kernel = learn_kernel
        self.min_noise_var = min_noise_var
        self.kernel_params = kernel_params
        self.jitter = jitter
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # --- validation --------------------------------------------------------------------------
    def _kernels(self):
        if isinstance(self.kernel, (list, tuple)):
            if len(self.kernel) != self.depth + 1:
                raise ValueError(f"a list of kernels needs depth + 1 = {self.depth + 1} entries, got {len(self.kernel)}")
            return [make_kernel(k) for k in self.kernel]
        return [make_kernel(self.kernel, **(self.kernel_params or {}))] * (self.depth + 1)

    def _fit_data(self, X, y):
        """(X, Y as P x D, y.ndim) validated, in float64 whatever the input's dtype and namespace (the solver's
        gradient tolerances need it); float32 only on a device without float64."""
        if is_device_array(X):
            X, y = self._validate_Xy(X, y, y_numeric=True)
            xp = array_namespace(X)
            try:
                X, y = xp.astype(X, xp.float64), xp.astype(y, xp.float64)
            except (TypeError, ValueError, RuntimeError):  # e.g. a GPU without float64 support
                pass
        else:
            X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
            y = y.astype(np.float64, copy=False)
        xp = array_namespace(X)
        Y = y[:, None] if y.ndim == 1 else y
        scale = float(xp.max(xp.abs(X))) if X.size else 0.0
        if not math.isfinite(scale * scale * X.shape[1]):
            raise ValueError(f"X is too large: X X^T / n_features overflows float64 (max |X| = {scale:.3g}); rescale X")
        y_max = float(xp.max(xp.abs(Y))) if Y.size else 0.0
        if not math.isfinite(y_max * y_max * Y.shape[0]):
            raise ValueError(f"y is too large: the sum of y^2 overflows float64 (max |y| = {y_max:.3g}); rescale y")
        return X, Y, y.ndim

    def fit(self, X, y):
        """Maximise the DKM objective on (X, y); returns self."""
        self._validate_params()
        kernels = self._kernels()
        nu = _check_nu(self.nu, self.depth)
        X, Y, self.y_ndim_ = self._fit_data(X, y)
        common = dict(jitter=float(self.jitter), learn_kernel=bool(self.learn_kernel),
                      learn_noise=bool(self.learn_noise), min_noise_var=float(self.min_noise_var), method=self.method, tol=float(self.tol),
                      max_iter=int(self.max_iter))
        if self.n_inducing is None:
            G0 = input_gram(X)
            sol = solve_dkm(G0, Y, kernels, nu, float(self.noise_var), **common)
            self.nngp_grams_ = nngp_grams(G0, sol.kernels, self.depth, float(self.jitter))
            self.inducing_points_ = None
        else:
            Z = self._inducing_points(X)
            blocks0 = input_blocks(Z, X)
            sol = solve_sparse_dkm(blocks0, Y, kernels, nu, float(self.noise_var), **common)
            self.nngp_grams_ = sparse_nngp_grams(blocks0, sol.kernels, self.depth, float(self.jitter))
            self.inducing_points_ = Z
        self.X_train_, self.Y_train_, self.nu_ = X, Y, nu
        self.grams_, self.kernels_, self.noise_var_ = sol.grams, sol.kernels, sol.noise_var
        self.objective_, self.objective_trace_ = sol.objective, sol.trace
        self.n_iter_, self.converged_, self.grad_norm_ = sol.n_iter, sol.converged, sol.grad_norm
        return self

    def _inducing_points(self, X):
        P = X.shape[0]
        if self.n_inducing > P:
            raise ValueError(f"n_inducing must be at most the number of training points P={P}, got {self.n_inducing}")
        order = np.random.default_rng(self.random_state).permutation(P)[: self.n_inducing]
        xp = array_namespace(X)
        return xp.take(X, xp.asarray(np.sort(order), device=array_device(X)), axis=0)

    def predict(self, X, return_std: bool = False, include_noise: bool = True):
        """Predictive mean; with ``return_std`` also the predictive standard deviation of y
        (of the latent function when ``include_noise=False``)."""
        check_fitted(self)
        self._check_same_namespace(X, "predict")
        X = self._validate_X(X, reset=False)
        xp = array_namespace(X)
        X = xp.astype(X, self.X_train_.dtype, copy=False)  # the dtype of the fit (float64 where the device has it)
        jitter = float(self.jitter)
        if self.inducing_points_ is None:
            mean, var = dkm_predict(self.X_train_, X, self.Y_train_, self.kernels_, self.nu_, self.grams_,
                                    self.noise_var_, jitter)
        else:
            Z = self.inducing_points_
            mean, var = sparse_predict(input_blocks(Z, self.X_train_), input_blocks(Z, X), self.Y_train_,
                                       self.kernels_, self.nu_, self.grams_, self.noise_var_, jitter)
        if self.y_ndim_ == 1:
            mean = mean[:, 0]
        if not return_std:
            return mean
        var = xp.clip(var, 0.0, None) + (self.noise_var_ if include_noise else 0.0)
        return mean, xp.sqrt(var)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # Y with D columns shares the Grams (one objective)
        return tags

    def log_likelihood(self, X, y):
        """Mean predictive log density of (X, y) per target value."""
        mean, std = self.predict(X, return_std=True)
        xp = array_namespace(mean)
        y = xp.astype(as_array_like(y, mean), mean.dtype)
        if mean.ndim == 2 and y.ndim == 1:
            y = y[:, None]
        std2 = std if mean.ndim == 1 else std[:, None]
        z = (y - mean) / std2
        return float(xp.mean(-0.5 * z * z - xp.log(std2) - 0.5 * LOG_2PI))
