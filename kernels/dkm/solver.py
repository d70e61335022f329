"""Solvers for the deep kernel machine objective (full and inducing-point models).

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.  The group's code maximises the objective with Adam on G = V V^T / P; here:

* Each Gram matrix is parametrised in whitened coordinates, G_l = A_l U_l U_l^T A_l^T with
  A_l = chol(K_l(G_(l-1)) + jitter I) and U_l = I + W_l (:mod:`kernels.dkm.whitened`), and the free
  variables are the lower triangles of V_l = sqrt(nu_l) W_l.  The KL term is then nu_l/2 ||U_l||^2 - nu_l sum log (U_l)_ii
  (+ const), whose Hessian in V_l is the identity (plus the diagonal barrier), so one scale serves
  every nu_l from 1e-2 to 1e10; V_l = 0 is the NNGP.
* Kernel log-parameters and the log noise variance may be learned in the same run (box-bounded).
* ``method="lbfgs"``: scipy's L-BFGS-B, finished with Newton steps when its line search stops short of
  the tolerance; ``method="newton"``: a trust-region Newton-CG (scipy's ``trust-ncg``) whose
  Hessian-vector products are forward differences of the exact gradient.
  Either stops when the largest component of the gradient of L / (P D) with respect to the U_l
  (and the log-parameters), in the original coordinates, is at most ``tol``.

Linear algebra runs on the inputs' array library (numpy, cupy, array_api_strict); only the
parameter vector handed to scipy lives on the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from kernels.backend import array_namespace, from_numpy, to_numpy
from kernels.linalg import CholeskyError, cholesky, solve_triangular
from kernels.dkm.objective import _check_layers
from kernels.dkm.whitened import whitened_grams, whitened_objective_and_grad

__all__ = ["DKMSolution", "solve_dkm", "whitened_start", "Parameters", "minimise", "maximise", "METHODS", "LOG_BOUNDS",
           "NOISE_BOUNDS"]

#: allowed range of each learnable kernel parameter, and of the noise variance (inputs and targets
#: are expected on a standardised scale)
LOG_BOUNDS = {"lengthscale": (1e-2, 1e3), "variance": (1e-2, 1e2), "W_std": (1e-1, 1e1)}
NOISE_BOUNDS = (1e-6, 1e1)
METHODS = ("lbfgs", "newton")


@dataclass
class DKMSolution:
    """Result of :func:`solve_dkm` (or :func:`kernels.dkm.sparse.solve_sparse_dkm`).

    Attributes
    ----------
    grams : list
        Optimal G_1..G_L (inducing Grams when sparse; the NNGP Gram where nu is infinite).
    kernels : list of GramKernel
        Kernels at the optimum (learned when ``learn_kernel``).
    noise_var : float
        Noise variance at the optimum.
    objective : float
        L at the optimum; ``trace`` holds it after each iteration, starting with the initial value.
    n_iter, n_evals : int
        Solver iterations and objective-and-gradient evaluations (Hessian-vector products included).
    converged : bool
        ``grad_norm <= tol``.
    grad_norm : float
        Max-abs projected gradient of L / (P D) in the original coordinates (U_l, log-parameters).
    """

    grams: list
    kernels: list
    noise_var: float
    objective: float
    n_iter: int
    n_evals: int
    converged: bool
    grad_norm: float
    trace: list = field(default_factory=list)
    message: str = ""


class Parameters:
    """The flat host vector x = (lower triangles of V_l, kernel log-parameters, log noise) and back.

    V_l = sqrt(nu_l) (U_l - I) for each layer with finite nu_l.
    """

    def __init__(self, sizes, nu, kernels, noise_var, *, learn_kernel, learn_noise, xp, dtype,
                 min_noise_var=NOISE_BOUNDS[0]):
        self.nu = [float(v) for v in nu]
        self.free = [l for l, v in enumerate(self.nu) if not math.isinf(v)]
        self.sizes, self.kernels, self.noise_var = sizes, list(kernels), float(noise_var)
        self.learn_kernel, self.learn_noise, self.xp, self.dtype = learn_kernel, learn_noise, xp, dtype
        if not NOISE_BOUNDS[0] <= min_noise_var < NOISE_BOUNDS[1]:
            raise ValueError(f"min_noise_var must lie in [{NOISE_BOUNDS[0]:g}, {NOISE_BOUNDS[1]:g}), got {min_noise_var!r}")
        self.min_noise_var = float(min_noise_var)
        self.index = {m: np.tril_indices(m) for m in set(sizes[l] for l in self.free)}
        self.n_gram = sum(self.index[sizes[l]][0].size for l in self.free)
        self.names = [(i, n) for i, k in enumerate(self.kernels) for n in k.learnable] if learn_kernel else []

    def _blocks(self, x):
        start = 0
        for l in self.free:
            n = self.index[self.sizes[l]][0].size
            yield l, x[start:start + n]
            start += n

    def pack(self, W=None) -> np.ndarray:
        """x for deviations W_l = U_l - I (default zero: the NNGP) and the current hyperparameters."""
        parts = []
        for l in self.free:
            m = self.sizes[l]
            V = np.zeros((m, m)) if W is None or W[l] is None else to_numpy(W[l]) * math.sqrt(self.nu[l])
            parts.append(V[self.index[m]])
        parts.append(np.array([math.log(getattr(self.kernels[i], n)) for i, n in self.names]))
        parts.append(np.array([math.log(self.noise_var)] if self.learn_noise else []))
        return np.concatenate(parts)

    def unpack(self, x):
        """(W_l = U_l - I per layer (None where nu = inf), kernels, noise variance) for the vector ``x``."""
        U = [None] * len(self.nu)
        for l, block in self._blocks(x):
            m = self.sizes[l]
            V = np.zeros((m, m))
            V[self.index[m]] = block
            U[l] = self.xp.astype(from_numpy(V / math.sqrt(self.nu[l]), self.xp), self.dtype)
        kernels = list(self.kernels)
        theta = x[self.n_gram:self.n_gram + len(self.names)]
        for (i, name), value in zip(self.names, theta):
            kernels[i] = kernels[i].with_params(**{name: math.exp(float(value))})
        noise_var = math.exp(float(x[-1])) if self.learn_noise else self.noise_var
        return U, kernels, noise_var

    def flatten_grad(self, dU, kernel_grads, d_log_noise) -> np.ndarray:
        """dL/dx from dL/dU_l, {param: dL/dlog param} and dL/dlog noise."""
        parts = [to_numpy(dU[l])[self.index[self.sizes[l]]] / math.sqrt(self.nu[l]) for l in self.free]
        parts.append(np.array([kernel_grads[i][n] for i, n in self.names]))
        parts.append(np.array([d_log_noise] if self.learn_noise else []))
        return np.concatenate(parts)

    def coordinate_scale(self) -> np.ndarray:
        """d x / d(original coordinates): sqrt(nu_l) on V_l, 1 on log-parameters."""
        parts = [np.full(self.index[self.sizes[l]][0].size, math.sqrt(self.nu[l])) for l in self.free]
        parts.append(np.ones(len(self.names) + int(self.learn_noise)))
        return np.concatenate(parts)

    def bounds(self):
        """(lower, upper) per coordinate: none on V_l, LOG_BOUNDS on the kernels' log-parameters,
        [min_noise_var, NOISE_BOUNDS[1]] on the noise variance."""
        lower, upper = [-np.inf] * self.n_gram, [np.inf] * self.n_gram
        for i, name in self.names:
            lo, hi = LOG_BOUNDS[name]
            lower.append(math.log(lo))
            upper.append(math.log(hi))
        if self.learn_noise:
            lower.append(math.log(self.min_noise_var))
            upper.append(math.log(NOISE_BOUNDS[1]))
        return np.array(lower), np.array(upper)


class _Counted:
    """f(x) = -L(x) / n_data and its gradient, counted and cached; inf outside the domain."""

    def __init__(self, evaluate, n_data, bounds):
        self.evaluate, self.scale, self.bounds = evaluate, 1.0 / n_data, bounds
        self.n_evals, self.last_x, self.last = 0, None, None

    def __call__(self, x):
        if self.last_x is not None and np.array_equal(x, self.last_x):
            return self.last
        lower, upper = self.bounds
        if np.any(x < lower) or np.any(x > upper):
            return math.inf, np.zeros_like(x)
        try:
            value, grad = self.evaluate(x)
            if not math.isfinite(value):
                raise CholeskyError("non-finite objective")
        except (CholeskyError, OverflowError):
            if self.n_evals == 0:
                raise
            # a trial step left the region where the objective is defined: reject it
            return math.inf, np.zeros_like(x)
        self.n_evals += 1
        self.last_x, self.last = x.copy(), (-value * self.scale, -grad * self.scale)
        return self.last

    def hessp(self, x, p):
        """Hessian-vector product by a forward difference of exact gradients."""
        g0 = self(x)[1]
        norm = float(np.linalg.norm(p))
        if norm == 0.0:
            return np.zeros_like(p)
        h = 1e-7 * max(1.0, float(np.linalg.norm(x))) / norm
        f1, g1 = self.evaluate_uncached(x + h * p)
        return (g1 - g0) / h

    def evaluate_uncached(self, x):
        value, grad = self.evaluate(x)
        self.n_evals += 1
        return -value * self.scale, -grad * self.scale


def minimise(evaluate, x0, *, n_data, bounds, scale, method, tol, max_iter, history=20):
    """Minimise -L / n_data over x; returns (x, f, n_iter, n_evals, grad_norm, trace, message).

    ``evaluate(x) -> (L, dL/dx)``; ``scale`` = dx / d(original coordinates), so that the stopping
    rule, max |projected gradient in the original coordinates| <= tol, holds whatever the scaling.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    fun = _Counted(evaluate, n_data, bounds)
    f0 = fun(x0)[0]
    trace = [-f0 / fun.scale]
    lower, upper = bounds

    def callback(xk, *args):
        trace.append(-fun(xk)[0] / fun.scale)

    def projected(x, g):  # projected gradient in x, then in the original coordinates (d/du = scale d/dx)
        return float(np.max(np.abs(x - np.clip(x - g, lower, upper)) * scale, initial=0.0))

    if x0.size == 0:
        return x0, f0, 0, fun.n_evals, 0.0, trace, "no free parameters"
    gtol = tol / float(np.max(scale))  # scipy measures the gradient in x
    if method == "lbfgs":
        result = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lower, upper)), callback=callback,
                          options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15, "maxcor": history, "maxls": 40})
        x, n_iter, message = result.x, int(result.nit), str(result.message)
        left = max_iter - n_iter
        if projected(x, fun(x)[1]) > tol and left > 0 and not np.any((x <= lower) | (x >= upper)):
            # L-BFGS stops on its line search once the objective's rounding level is reached, short of
            # the gradient tolerance (large nu with learned hyperparameters): finish with Newton steps
            result = _trust_ncg(fun, x, gtol, left, callback)
            x, n_iter, message = result.x, n_iter + int(result.nit), message + "; then " + str(result.message)
    else:
        result = _trust_ncg(fun, x0, gtol, max_iter, callback)
        x, n_iter, message = result.x, int(result.nit), str(result.message)
    g = fun(x)[1]
    if projected(x, g) > tol:
        free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))  # bounds that hold stay fixed
        x, steps = _newton_on_gradient(fun, x, free, lambda g: float(np.max(np.abs(g * free) * scale)), tol)
        if steps:
            n_iter += steps
            message += f"; then {steps} Newton steps on the gradient"
            trace.append(-fun(x)[0] / fun.scale)
    f, g = fun(x)
    return x, f, n_iter, fun.n_evals, projected(x, g), trace, message


def _newton_on_gradient(fun, x, free, norm, tol, max_steps=20, cg_iter=100):
    """Newton steps for grad f(x) = 0 on the coordinates ``free``, each accepted when the gradient
    norm decreases (and the step stays inside the domain).

    Used at the end, once the changes of f are below its rounding level (KL weights ~1e10 make the
    objective's curvature huge in the original coordinates) so that line searches and trust regions,
    which compare values of f, cannot make progress while the gradient can still be driven to zero.
    """
    g = fun(x)[1]
    for step in range(max_steps):
        if norm(g) <= tol:
            return x, step
        p, r = np.zeros_like(x), -g * free
        d = r.copy()
        for _ in range(cg_iter):  # conjugate gradients on H p = -g, stopped at negative curvature
            Hd = fun.hessp(x, d) * free
            curvature = float(d @ Hd)
            if curvature <= 0:
                break
            alpha = float(r @ r) / curvature
            p, r_new = p + alpha * d, r - alpha * Hd
            if np.linalg.norm(r_new) <= 1e-6 * np.linalg.norm(g):
                break
            d, r = r_new + (float(r_new @ r_new) / float(r @ r)) * d, r_new
        f_new, g_new = fun(x + p)
        if not math.isfinite(f_new) or norm(g_new) >= norm(g):
            return x, step
        x, g = x + p, g_new
    return x, max_steps


def _trust_ncg(fun, x0, gtol, max_iter, callback):
    """scipy's trust-region Newton-CG with :meth:`_Counted.hessp`."""
    return minimize(lambda x: fun(x)[0], x0, jac=lambda x: fun(x)[1], hessp=fun.hessp, method="trust-ncg",
                    callback=callback, options={"maxiter": max_iter, "gtol": gtol})


def whitened_start(G0, grams, kernels, nu, jitter):
    """W_l = A_l^-1 chol(G_l) - I, A_l = chol(K_l(G_(l-1)) + jitter I): the whitened deviations of given
    Grams (zero where ``grams[l]`` is None, None where nu is infinite)."""
    xp = array_namespace(G0)
    eye = xp.eye(G0.shape[0], dtype=G0.dtype)
    U, G_prev = [], G0
    for l, G in enumerate(grams):
        K = kernels[l](G_prev) + jitter * eye
        if math.isinf(nu[l]) or G is None:
            U.append(None if math.isinf(nu[l]) else 0.0 * eye)
            G_prev = K if G is None else G
            continue
        A = cholesky(K, f"K(G_{l}) (prior of layer {l + 1})", jitter)
        U.append(solve_triangular(A, cholesky(G, f"initial G_{l + 1}", jitter), lower=True) - eye)
        G_prev = G
    return U


def solve_dkm(
    G0,
    Y,
    kernels,
    nu,
    noise_var: float,
    *,
    jitter: float = 1e-6,
    init=None,
    learn_kernel: bool = False,
    learn_noise: bool = False,
    min_noise_var: float = NOISE_BOUNDS[0],
    method: str = "lbfgs",
    tol: float = 1e-6,
    max_iter: int = 2000,
) -> DKMSolution:
    """Maximise the full DKM objective over G_1..G_L (and optionally kernel parameters and noise).

    Parameters
    ----------
    G0 : array (P, P)
        Input Gram X X^T / N_0.
    Y : array (P,) or (P, D)
        Targets.
    kernels : list of GramKernel
        ``len(nu) + 1`` kernels (the last gives the output covariance).
    nu : sequence of float
        KL weight per layer; inf makes the layer follow the NNGP recursion.
    noise_var : float
        Likelihood noise variance (the starting value when ``learn_noise``).
    init : list, optional
        Starting Grams G_l (None entries, and the default, start at the NNGP recursion).
    min_noise_var : float
        Lower bound of the noise variance when ``learn_noise`` (the DKM objective grows without bound
        as the noise vanishes once the Grams can fit the targets).
    method : {"lbfgs", "newton"}
        L-BFGS-B (finished with Newton steps if needed), or trust-region Newton-CG with Hessian-vector
        products from exact gradients.
    tol, max_iter : float, int
        Stop when the max-abs gradient of L / (P D) is at most ``tol``, or after ``max_iter`` iterations.
    """
    xp = array_namespace(G0, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    kernels = list(kernels)
    _check_layers(kernels, nu)
    params = Parameters([G0.shape[0]] * len(nu), nu, kernels, noise_var, learn_kernel=learn_kernel,
                        learn_noise=learn_noise, xp=xp, dtype=G0.dtype, min_noise_var=min_noise_var)
    x0 = np.clip(params.pack(None if init is None else whitened_start(G0, init, kernels, params.nu, jitter)),
                 *params.bounds())
    return maximise(
        lambda U, ks, s2: whitened_objective_and_grad(G0, U, Y2, ks, params.nu, s2, jitter, kernel_grad=learn_kernel),
        lambda U, ks: whitened_grams(G0, U, ks, jitter),
        params, x0, Y2.shape[0] * Y2.shape[1], method=method, tol=tol, max_iter=max_iter)


def maximise(objective_and_grad, grams_of, params, x0, n_data, *, method, tol, max_iter) -> DKMSolution:
    """Maximise a whitened DKM objective (full or sparse) over the packed coordinates of ``params``.

    ``objective_and_grad(U, kernels, noise_var) -> (L, gradient)`` and ``grams_of(U, kernels) -> Grams``;
    the search itself is :func:`minimise` on -L / n_data.
    """

    def evaluate(x):
        U, ks, s2 = params.unpack(x)
        value, grad = objective_and_grad(U, ks, s2)
        return value, params.flatten_grad(grad.U, grad.kernels, grad.log_noise_var)

    x, f, n_iter, n_evals, grad_norm, trace, message = minimise(
        evaluate, x0, n_data=n_data, bounds=params.bounds(), scale=params.coordinate_scale(),
        method=method, tol=tol, max_iter=max_iter)
    U, ks, s2 = params.unpack(x)
    return DKMSolution(grams=grams_of(U, ks), kernels=ks, noise_var=s2, objective=-f * n_data, n_iter=n_iter,
                       n_evals=n_evals, converged=grad_norm <= tol, grad_norm=grad_norm, trace=trace,
                       message=message)
