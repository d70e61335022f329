"""``DeepKernelMachine``: a scikit-learn style regressor for the deep kernel machine.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.

``depth`` = L hidden Gram layers; ``depth=0`` is a Gaussian process with the base kernel and
``nu=inf`` is the NNGP (infinite-width network, no representation learning).  The algorithm is
the pure function :func:`kernels.dkm.solver.solve_dkm` (or its sparse counterpart); this class
validates inputs and stores the results.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from kernels.backend import array_namespace, asarray
from kernels.validation import check_matrix, check_positive, check_positive_int, check_same_length
from kernels.dkm.gram_kernels import make_kernel
from kernels.dkm.objective import input_gram, nngp_grams
from kernels.dkm.solver import optimise_grams, solve_dkm
from kernels.dkm.sparse import dkm_predict, input_blocks, sparse_nngp_grams, sparse_objective_and_grad, sparse_predict

__all__ = ["DeepKernelMachine"]

LOG_2PI = math.log(2.0 * math.pi)


class DeepKernelMachine:
    """Deep kernel machine regression (Gaussian likelihood).

    Parameters
    ----------
    depth : number of learned Gram layers L (>= 0).
    kernel : "se", "arccos" or "normalised_gaussian" (or a GramKernel), used in every layer; or a
        list of depth + 1 GramKernels (one per layer and the output), e.g. ``nngp.kernels_``.
    nu : KL weight per layer, a positive number or a sequence of ``depth`` of them; inf = NNGP layer.
    n_inducing : None for the full DKM, else the number M of inducing points (a random subset of
        the training inputs, drawn with ``random_state``); cost linear in the number of points.
    noise_var : initial (or, with ``learn_noise=False``, fixed) likelihood noise variance.
    kernel_params : dict of kernel parameters (e.g. ``{"lengthscale": 1.0}``), the starting point
        when ``learn_kernel`` is True.  One set per layer is learned.
    jitter : added to the diagonal of every kernel matrix.
    tol, max_iter : stop when the max-abs gradient of the objective per data point is below tol.

    Attributes (after fit)
    ----------------------
    grams_ : learned Gram matrices G_1..G_L (inducing Grams when sparse)
    nngp_grams_ : the NNGP Grams for the fitted kernels (what nu = inf gives)
    kernels_ : fitted kernels (one per layer plus the output)
    noise_var_ : fitted noise variance
    objective_ : final objective; objective_trace_ : objective per iteration
    n_iter_, converged_, grad_norm_ : solver report
    inducing_points_ : inducing inputs (sparse only)
    """

    def __init__(
        self,
        depth: int = 2,
        kernel="se",
        nu=1.0,
        n_inducing=None,
        noise_var: float = 0.1,
        learn_noise: bool = True,
        learn_kernel: bool = True,
        kernel_params=None,
        jitter: float = 1e-6,
        tol: float = 1e-5,
        max_iter: int = 1000,
        random_state=0,
    ):
        self.depth = depth
        self.kernel = kernel
        self.nu = nu
        self.n_inducing = n_inducing
        self.noise_var = noise_var
        self.learn_noise = learn_noise
        self.learn_kernel = learn_kernel
        self.kernel_params = kernel_params
        self.jitter = jitter
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # --- scikit-learn protocol ---------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for DeepKernelMachine; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self):
        return f"DeepKernelMachine(depth={self.depth!r}, kernel={self.kernel!r}, nu={self.nu!r}, n_inducing={self.n_inducing!r})"

    # --- validation --------------------------------------------------------------------------
    def _validated_nu(self, depth):
        nu = self.nu
        if isinstance(nu, numbers.Real) and not isinstance(nu, bool):
            nu = [nu] * depth
        nu = list(nu)
        if len(nu) != depth:
            raise ValueError(f"nu must be a number or a sequence of depth={depth} numbers, got {len(nu)} values")
        return [check_positive(v, f"nu[{i}]", allow_inf=True) for i, v in enumerate(nu)]

    def _validate_X(self, X, xp=None):
        X = asarray(X, xp=xp, name="X")
        if X.ndim == 1:
            X = X[:, None]
        return check_matrix(X, "X")

    def fit(self, X, y):
        X = self._validate_X(X)
        xp = array_namespace(X)
        y = asarray(y, xp=xp, name="y")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {tuple(y.shape)}")
        check_same_length(X, y, "X", "y")
        Y = y[:, None] if y.ndim == 1 else y
        depth = check_positive_int(self.depth, "depth", minimum=0)
        nu = self._validated_nu(depth)
        check_positive(self.noise_var, "noise_var")
        check_positive(self.jitter, "jitter", allow_zero=True)
        check_positive(self.tol, "tol")
        check_positive_int(self.max_iter, "max_iter")
        P = X.shape[0]
        if isinstance(self.kernel, (list, tuple)):
            if len(self.kernel) != depth + 1:
                raise ValueError(f"a list of kernels needs depth + 1 = {depth + 1} entries, got {len(self.kernel)}")
            kernels = [make_kernel(k) for k in self.kernel]
        else:
            kernels = [make_kernel(self.kernel, **(self.kernel_params or {}))] * (depth + 1)
        common = dict(learn_kernel=bool(self.learn_kernel), learn_noise=bool(self.learn_noise),
                      tol=float(self.tol), max_iter=int(self.max_iter))
        if self.n_inducing is None:
            G0 = input_gram(X)
            sol = solve_dkm(G0, Y, kernels, nu, float(self.noise_var), jitter=float(self.jitter), **common)
            self.nngp_grams_ = nngp_grams(G0, sol.kernels, depth, float(self.jitter))
            self.inducing_points_ = None
        else:
            M = check_positive_int(self.n_inducing, "n_inducing")
            if M > P:
                raise ValueError(f"n_inducing must be at most the number of training points P={P}, got {M}")
            order = np.random.default_rng(self.random_state).permutation(P)[:M]
            Z = xp.take(X, xp.asarray(np.sort(order)), axis=0)
            blocks0 = input_blocks(Z, X)
            init = sparse_nngp_grams(blocks0, kernels, depth, float(self.jitter))
            jitter = float(self.jitter)

            def objective(grams, factors, ks, s2):
                return sparse_objective_and_grad(blocks0, Y, ks, nu, grams, s2, jitter, factors)

            sol = optimise_grams(objective, init, nu, kernels, float(self.noise_var), n_data=P * Y.shape[1],
                                 jitter=jitter, base_gram=blocks0.G_ii, **common)
            self.nngp_grams_ = sparse_nngp_grams(blocks0, sol.kernels, depth, jitter)
            sol.grams = [self.nngp_grams_[l] if sol.grams[l] is None else sol.grams[l] for l in range(depth)]
            self.inducing_points_ = Z
        self.X_train_, self.Y_train_, self.nu_ = X, Y, nu
        self.y_ndim_ = y.ndim
        self.grams_ = sol.grams
        self.kernels_ = sol.kernels
        self.noise_var_ = sol.noise_var
        self.objective_ = sol.objective
        self.objective_trace_ = sol.trace
        self.n_iter_ = sol.n_iter
        self.converged_ = sol.converged
        self.grad_norm_ = sol.grad_norm
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "grams_"):
            raise RuntimeError("this DeepKernelMachine is not fitted yet; call fit(X, y) first")

    def predict(self, X, return_std: bool = False, include_noise: bool = True):
        """Predictive mean; with ``return_std`` also the predictive standard deviation of y
        (of the latent function when ``include_noise=False``)."""
        self._check_fitted()
        X = self._validate_X(X, array_namespace(self.X_train_))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, the model was fitted with {self.n_features_in_}")
        xp = array_namespace(X)
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

    def log_likelihood(self, X, y):
        """Mean predictive log density of (X, y) per target value."""
        mean, std = self.predict(X, return_std=True)
        xp = array_namespace(mean)
        y = asarray(y, xp=xp, name="y")
        if mean.ndim == 2 and y.ndim == 1:
            y = y[:, None]
        std2 = std if mean.ndim == 1 else std[:, None]
        z = (y - mean) / std2
        return float(xp.mean(-0.5 * z * z - xp.log(std2) - 0.5 * LOG_2PI))

    def score(self, X, y):
        """Coefficient of determination R^2 of the predictive mean (as scikit-learn regressors)."""
        mean = self.predict(X)
        xp = array_namespace(mean)
        y = asarray(y, xp=xp, name="y")
        if mean.ndim == 2 and y.ndim == 1:
            y = y[:, None]
        resid = float(xp.sum((y - mean) ** 2))
        total = float(xp.sum((y - xp.mean(y, axis=0)) ** 2))
        return 1.0 - resid / total if total > 0 else float("nan")
