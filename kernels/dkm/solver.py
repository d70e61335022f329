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
* ``method="lbfgs"``: L-BFGS (two-loop recursion over 100 pairs, or more where the data outnumber the
  coordinates: :func:`default_history`; Armijo backtracking; initial inverse Hessian D B B^T with B the
  change of variables U_l -> U_l T_l at the current point, which removes the conditioning of U_l from the
  curvature, and D a scale per layer: :class:`_TriangularMetric`) when nothing is bounded, else scipy's
  L-BFGS-B (``method="lbfgsb"`` always), finished with Newton steps when its line
  search stops short of the tolerance; ``method="newton"``: a trust-region Newton-CG (scipy's ``trust-ncg``) whose
  Hessian-vector products are forward differences of the exact gradient.
  Each stops when the largest component of the gradient of L / (P D) with respect to the U_l
  (and the log-parameters), in the original coordinates, is at most ``tol``.

Linear algebra runs on the inputs' array library (numpy, cupy, array_api_strict); only the
parameter vector handed to scipy lives on the host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import get_blas_funcs
from scipy.optimize import minimize

from kernels.backend import array_device, array_namespace, from_numpy, to_numpy
from kernels.linalg import CholeskyError, cholesky, solve_triangular, triangular_matmul
from kernels.dkm.objective import _check_layers
from kernels.dkm.whitened import whitened_grams, whitened_objective_and_grad

__all__ = ["DKMSolution", "solve_dkm", "whitened_start", "Parameters", "minimise", "maximise", "METHODS", "LOG_BOUNDS",
           "NOISE_BOUNDS", "default_history"]

#: allowed range of each learnable kernel parameter, and of the noise variance (inputs and targets
#: are expected on a standardised scale)
LOG_BOUNDS = {"lengthscale": (1e-2, 1e3), "variance": (1e-2, 1e2), "W_std": (1e-1, 1e1)}
NOISE_BOUNDS = (1e-6, 1e1)
METHODS = ("lbfgs", "lbfgsb", "newton")
#: L-BFGS memory: as many (s, y) pairs as fit in HISTORY_BUDGET doubles (2 vectors per pair), at least
#: HISTORY_RANGE[0] and at most max(HISTORY_RANGE[1], n_data / DATA_PER_PAIR).  Measured on the benchmark
#: problem (nu = 1, from the NNGP, with the metric of :class:`_TriangularMetric`): P = 120: 99 iterations with
#: 100 pairs, 110 with 50, 128 with 20; P = 250: 121 (100), 137 (50), 158 (30); the time per fit hardly changes, because
#: each pass of the two-loop recursion reads the whole history (at P = 500, 100 pairs are 400 MB; with 2 learned
#: layers the budget gives 100 pairs up to P ~ 400, 67 at P = 500).  Where the data outnumber the parameters
#: (the sparse model: M (M + 1) / 2 parameters per layer, P M^2 work per evaluation) a pair costs a fraction of an
#: evaluation, and long runs gain from a long memory: protein split 0 (P = 41,157, M = 100, tol 1e-4) converged in
#: 536 iterations with 1,000 pairs against 761 with 100 (kin8nm: 166 against 176).  One pair per DATA_PER_PAIR
#: data points keeps the recursion at about a tenth of an evaluation there.
HISTORY_BUDGET = 2**25
HISTORY_RANGE = (20, 100)
DATA_PER_PAIR = 40


#: L-BFGS-B memory when hyperparameters are learned (its subspace step costs O(history^2 n))
BOUNDED_HISTORY = 20
#: fresh starts of L-BFGS-B after it stops short of the tolerance with a decrease since the last start
LBFGSB_RESTARTS = 3


def default_history(n_params: int, n_data: int = 0) -> int:
    """Number of L-BFGS pairs for ``n_params`` coordinates and ``n_data`` data values
    (:data:`HISTORY_BUDGET`, :data:`HISTORY_RANGE`, :data:`DATA_PER_PAIR`)."""
    lo, hi = HISTORY_RANGE[0], max(HISTORY_RANGE[1], int(n_data) // DATA_PER_PAIR)
    return int(min(hi, max(lo, HISTORY_BUDGET // (2 * max(1, n_params)))))


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
                 min_noise_var=NOISE_BOUNDS[0], device=None):
        self.nu = [float(v) for v in nu]
        self.free = [l for l, v in enumerate(self.nu) if not math.isinf(v)]
        self.sizes, self.kernels, self.noise_var = sizes, list(kernels), float(noise_var)
        self.learn_kernel, self.learn_noise, self.xp, self.dtype = learn_kernel, learn_noise, xp, dtype
        self.device = device  # of the Gram matrices: where unpacked blocks are placed
        if not NOISE_BOUNDS[0] <= min_noise_var < NOISE_BOUNDS[1]:
            raise ValueError(f"min_noise_var must lie in [{NOISE_BOUNDS[0]:g}, {NOISE_BOUNDS[1]:g}), got {min_noise_var!r}")
        self.min_noise_var = float(min_noise_var)
        # flat (C-order) positions of the lower triangle: one index array gathers and scatters a block
        self.index = {m: np.flatnonzero(np.tri(m, dtype=bool)) for m in set(sizes[l] for l in self.free)}
        self.n_gram = sum(self.index[sizes[l]].size for l in self.free)
        self.names = [(i, n) for i, k in enumerate(self.kernels) for n in k.learnable] if learn_kernel else []

    def _blocks(self, x):
        start = 0
        for l in self.free:
            n = self.index[self.sizes[l]].size
            yield l, x[start:start + n]
            start += n

    def pack(self, W=None) -> np.ndarray:
        """x for deviations W_l = U_l - I (default zero: the NNGP) and the current hyperparameters."""
        parts = []
        for l in self.free:
            m = self.sizes[l]
            V = np.zeros((m, m)) if W is None or W[l] is None else to_numpy(W[l]) * math.sqrt(self.nu[l])
            parts.append(np.take(V, self.index[m]))
        parts.append(np.array([math.log(getattr(self.kernels[i], n)) for i, n in self.names]))
        parts.append(np.array([math.log(self.noise_var)] if self.learn_noise else []))
        return np.concatenate(parts)

    def unpack(self, x):
        """(W_l = U_l - I per layer (None where nu = inf), kernels, noise variance) for the vector ``x``."""
        U = [None] * len(self.nu)
        for l, block in self._blocks(x):
            m = self.sizes[l]
            V = np.zeros((m, m))
            np.put(V, self.index[m], block / math.sqrt(self.nu[l]))
            U[l] = self.xp.astype(from_numpy(V, self.xp, self.device), self.dtype, copy=False)
        kernels = list(self.kernels)
        theta = x[self.n_gram:self.n_gram + len(self.names)]
        for (i, name), value in zip(self.names, theta):
            kernels[i] = kernels[i].with_params(**{name: math.exp(float(value))})
        noise_var = math.exp(float(x[-1])) if self.learn_noise else self.noise_var
        return U, kernels, noise_var

    def flatten_grad(self, dU, kernel_grads, d_log_noise) -> np.ndarray:
        """dL/dx from dL/dU_l, {param: dL/dlog param} and dL/dlog noise."""
        parts = [np.take(to_numpy(dU[l]), self.index[self.sizes[l]]) / math.sqrt(self.nu[l]) for l in self.free]
        parts.append(np.array([kernel_grads[i][n] for i, n in self.names]))
        parts.append(np.array([d_log_noise] if self.learn_noise else []))
        return np.concatenate(parts)

    def coordinate_scale(self) -> np.ndarray:
        """d x / d(original coordinates): sqrt(nu_l) on V_l, 1 on log-parameters."""
        parts = [np.full(self.index[self.sizes[l]].size, math.sqrt(self.nu[l])) for l in self.free]
        parts.append(np.ones(len(self.names) + int(self.learn_noise)))
        return np.concatenate(parts)

    def metric(self, x) -> "_TriangularMetric":
        """The change of variables U_l -> U_l T_l at x, as the L-BFGS initial inverse Hessian's factor B
        (:class:`_TriangularMetric`)."""
        blocks = []
        for l, block in self._blocks(x):
            index = self.index[self.sizes[l]]
            U = np.zeros((self.sizes[l], self.sizes[l]))
            np.put(U, index, block / math.sqrt(self.nu[l]))
            U[np.diag_indices_from(U)] += 1.0
            blocks.append((index, U))
        return _TriangularMetric(blocks)

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


class _TriangularMetric:
    """B with B t = (U_l T_l) per layer block and the identity on log-parameters, U_l = I + V_l / sqrt(nu_l).

    In the coordinates T_l of U_l = U_l(x) T_l around the current point, G_l = F_l T_l T_l^T F_l^T, and
    near an optimum the objective's curvature is that of the Gaussian N(0, G_l) in G_l (the KL term)
    plus the likelihood's, both well scaled in T_l; in V_l it is that curvature seen through U_l, whose
    condition number reaches tens at nu = 1 (at P = 30 the Hessian's condition number is 213 in V_l,
    49 in T_l).  H0 = D B B^T undoes U_l, with D a scale per layer (:meth:`_History._layer_scales`): on the
    benchmark problem (nu = 1, from the NNGP) L-BFGS then needs 172 iterations instead of 300 at P = 500,
    124 instead of 152 at P = 200 and 99 instead of 145 at P = 120.
    B B^T is positive definite on lower-triangular blocks (tril(U^T Q) = 0 forces Q = 0).
    """

    def __init__(self, blocks):
        self.blocks = blocks  # (flat lower-triangle positions, U_l) per layer, in the order of x
        ends = np.cumsum([index.size for index, _ in blocks], dtype=int)
        self.slices = [slice(int(end - index.size), int(end)) for end, (index, _) in zip(ends, blocks)]
        self._work = [np.zeros_like(U) for _, U in blocks]  # upper triangles stay zero: scatters fill the lower

    def _map(self, q, product):
        out = q.copy()
        for (index, U), part, Q in zip(self.blocks, self.slices, self._work):
            np.put(Q, index, q[part])
            out[part] = np.take(product(U, Q), index)
        return out

    def apply(self, t):
        """B t: U_l T_l per block."""
        return self._map(t, lambda U, T: triangular_matmul(U, T))

    def transpose(self, q):
        """B^T q: the lower triangle of U_l^T Q_l per block."""
        return self._map(q, lambda U, Q: triangular_matmul(U, Q, trans=True))


class _Counted:
    """f(x) = -L(x) / n_data and its gradient, counted and cached; inf outside the domain."""

    def __init__(self, evaluate, n_data, bounds):
        self.evaluate, self.scale, self.bounds = evaluate, 1.0 / n_data, bounds
        self.n_evals, self.last_x, self.last = 0, None, None
        self.bounded = bool(np.any(np.isfinite(bounds[0])) or np.any(np.isfinite(bounds[1])))

    def __call__(self, x):
        if self.last_x is not None and np.array_equal(x, self.last_x):
            return self.last
        lower, upper = self.bounds
        if self.bounded and (np.any(x < lower) or np.any(x > upper)):
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


def minimise(evaluate, x0, *, n_data, bounds, scale, method, tol, max_iter, history=None, metric=None):
    """Minimise -L / n_data over x; returns (x, f, n_iter, n_evals, grad_norm, trace, message).

    ``evaluate(x) -> (L, dL/dx)``; ``scale`` = dx / d(original coordinates), so that the stopping
    rule, max |projected gradient in the original coordinates| <= tol, holds whatever the scaling.
    ``metric(x)`` (optional) gives the factor B of the L-BFGS initial inverse Hessian D B B^T at x
    (:meth:`Parameters.metric`, D from :meth:`_History._layer_scales`); it is used by ``method="lbfgs"``
    without bounds.
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
    bounded = bool(np.any(np.isfinite(lower)) or np.any(np.isfinite(upper)))
    if method == "lbfgs" and not bounded:
        history = default_history(x0.size, n_data) if history is None else int(history)
        x, n_iter, message = _lbfgs(fun, x0, lambda x, g: projected(x, g) <= tol, max_iter, history, callback,
                                    metric=metric)
    elif method in ("lbfgs", "lbfgsb"):  # box bounds (learned hyperparameters), or asked for: scipy's L-BFGS-B
        options = {"gtol": gtol, "ftol": 1e-15, "maxls": 40,
                   "maxcor": BOUNDED_HISTORY if history is None else int(history)}
        x, n_iter, message, f_start = x0, 0, "", math.inf
        for restart in range(1 + LBFGSB_RESTARTS):
            # a stop short of the tolerance with a lower f than the last start is often a worn-out memory
            # (flat valleys of learned hyperparameters): start again from there with an empty one
            result = minimize(fun, x, jac=True, method="L-BFGS-B", bounds=list(zip(lower, upper)), callback=callback,
                              options=options | {"maxiter": max_iter - n_iter})
            x, n_iter = result.x, n_iter + int(result.nit)
            message += ("; restarted: " if restart else "") + str(result.message)
            f_end = float(result.fun)
            if projected(x, fun(x)[1]) <= tol or n_iter >= max_iter or not f_end < f_start:
                break
            f_start = f_end
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


class _History:
    """The last ``m`` L-BFGS pairs (s, y) in a ring buffer, and the two-loop recursion for -H g."""

    def __init__(self, n, m):
        self.S, self.Y, self.rho = np.empty((m, n)), np.empty((m, n)), np.empty(m)
        self.m, self.count, self.gamma = m, 0, 1.0
        # in-place BLAS updates: the recursion is bound by reading the history, and numpy's temporaries
        # would double that traffic
        self._dot, self._axpy = get_blas_funcs(("dot", "axpy"), (self.S,))

    def add(self, s, y) -> bool:
        """Store the pair when s.y > 0 (relative 1e-10); without a metric the initial matrix is gamma I,
        gamma = s.y / y.y."""
        sy = float(s @ y)
        if not sy > 1e-10 * float(np.linalg.norm(s)) * float(np.linalg.norm(y)):
            return False
        i = self.count % self.m
        self.S[i], self.Y[i], self.rho[i] = s, y, 1.0 / sy
        self.count += 1
        self.gamma = sy / float(y @ y)
        return True

    def _layer_scales(self, i, metric):
        """gamma per layer: s.y / |B^T y|^2 of pair ``i`` on each layer's block, so that H0 matches the
        curvature of each layer (the top one's likelihood term is the stiffest); on other coordinates, and on a
        block without positive curvature, the same ratio over the whole vector."""
        s, y = self.S[i], self.Y[i]
        By = metric.transpose(y)
        scales = np.full(s.size, 1.0 / (self.rho[i] * float(By @ By)))
        for part in metric.slices:
            sy, yy = float(s[part] @ y[part]), float(By[part] @ By[part])
            if sy > 0.0 and yy > 0.0:
                scales[part] = sy / yy
        return scales

    def direction(self, g, metric=None):
        """-H g, H the L-BFGS inverse-Hessian estimate whose initial matrix is D B B^T for ``metric`` = B
        (:meth:`Parameters.metric`; D: :meth:`_layer_scales` of the newest pair), gamma I without one."""
        dot, axpy = self._dot, self._axpy
        q = g.copy()
        order = [(self.count - 1 - j) % self.m for j in range(min(self.count, self.m))]  # newest first
        alpha = np.empty(len(order))
        for j, i in enumerate(order):
            alpha[j] = self.rho[i] * dot(self.S[i], q)
            q = axpy(self.Y[i], q, a=-alpha[j])
        if metric is None:
            r = self.gamma * q
        else:
            r = metric.apply(metric.transpose(q))
            if order:
                r *= self._layer_scales(order[0], metric)
        for j in reversed(range(len(order))):
            i = order[j]
            r = axpy(self.S[i], r, a=alpha[j] - self.rho[i] * dot(self.Y[i], r))
        return -r


def _backtrack(fun, point, f, slope, t, c1=1e-4, max_tries=30):
    """Armijo backtracking along ``point(t)`` from step ``t`` (quadratic interpolation, factors in [0.1, 0.5]),
    ``slope`` the directional derivative at t = 0; (point, f, g) or None."""
    for _ in range(max_tries):
        x_new = point(t)
        f_new, g_new = fun(x_new)
        if math.isfinite(f_new) and f_new <= f + c1 * t * slope:
            return x_new, f_new, g_new
        if math.isfinite(f_new):
            t_q = -slope * t * t / (2.0 * (f_new - f - slope * t))
            t = min(0.5 * t, max(0.1 * t, t_q))
        else:  # outside the domain (a Cholesky factorisation failed): shrink fast
            t *= 0.1
    return None


def _lbfgs(fun, x, converged, max_iter, history, callback, ftol=1e-15, metric=None):
    """L-BFGS with Armijo backtracking, for unbounded coordinates (bounded problems go to scipy's L-BFGS-B).
    Stops when ``converged(x, g)``, when no step decreases f, or when f decreases by at most ``ftol``
    relative (as L-BFGS-B).  Returns (x, iterations, message).

    Each iteration costs one evaluation when the unit step is accepted (usually) and O(history n) for the
    two-loop recursion, against L-BFGS-B's subspace minimisation, which grows with history^2 n.
    """
    f, g = fun(x)
    memory = _History(x.size, max(1, min(history, max_iter)))
    for it in range(max_iter):
        if converged(x, g):
            return x, it, "converged: projected gradient <= tol"
        d = memory.direction(g, None if metric is None else metric(x))
        if not float(g @ d) < 0.0:  # not a descent direction: restart from the gradient
            memory.count, memory.gamma = 0, 1.0
            d = -g
        t = 1.0 if memory.count else 1.0 / max(float(np.linalg.norm(d)), 1e-300)
        step = _backtrack(fun, lambda t: x + t * d, f, float(g @ d), t)
        if step is None:
            return x, it, "line search found no decrease (objective at its rounding level)"
        x_new, f_new, g_new = step
        memory.add(x_new - x, g_new - g)
        stalled = f - f_new <= ftol * max(abs(f), abs(f_new), 1.0)
        x, f, g = x_new, f_new, g_new
        callback(x)
        if stalled:
            return x, it + 1, f"relative reduction of f <= {ftol:g} (objective at its rounding level)"
    return x, max_iter, "maximum number of iterations reached"


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
    eye = xp.eye(G0.shape[0], dtype=G0.dtype, device=array_device(G0))
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
    history: int | None = None,
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
    method : {"lbfgs", "lbfgsb", "newton"}
        "lbfgs": L-BFGS with :func:`default_history` pairs where no coordinate is bounded (fixed kernels and
        noise), scipy's L-BFGS-B with :data:`BOUNDED_HISTORY` pairs otherwise; "lbfgsb": scipy's L-BFGS-B
        always; either is finished with Newton steps if needed.  "newton": trust-region Newton-CG with
        Hessian-vector products from exact gradients.
    tol, max_iter : float, int
        Stop when the max-abs gradient of L / (P D) is at most ``tol``, or after ``max_iter`` iterations.
    history : int, optional
        L-BFGS memory (pairs); default :func:`default_history` of the numbers of coordinates and data values.
    """
    xp = array_namespace(G0, Y)
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    kernels = list(kernels)
    _check_layers(kernels, nu)
    params = Parameters([G0.shape[0]] * len(nu), nu, kernels, noise_var, learn_kernel=learn_kernel,
                        learn_noise=learn_noise, xp=xp, dtype=G0.dtype, min_noise_var=min_noise_var,
                        device=array_device(G0))
    x0 = np.clip(params.pack(None if init is None else whitened_start(G0, init, kernels, params.nu, jitter)),
                 *params.bounds())
    return maximise(
        lambda U, ks, s2: whitened_objective_and_grad(G0, U, Y2, ks, params.nu, s2, jitter, kernel_grad=learn_kernel),
        lambda U, ks: whitened_grams(G0, U, ks, jitter),
        params, x0, Y2.shape[0] * Y2.shape[1], method=method, tol=tol, max_iter=max_iter, history=history)


def maximise(objective_and_grad, grams_of, params, x0, n_data, *, method, tol, max_iter,
             history=None) -> DKMSolution:
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
        method=method, tol=tol, max_iter=max_iter, history=history, metric=params.metric)
    U, ks, s2 = params.unpack(x)
    return DKMSolution(grams=grams_of(U, ks), kernels=ks, noise_var=s2, objective=-f * n_data, n_iter=n_iter,
                       n_evals=n_evals, converged=grad_norm <= tol, grad_norm=grad_norm, trace=trace,
                       message=message)
