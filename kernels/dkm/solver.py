"""A quasi-Newton solver for the deep kernel machine objective.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.  The group's code maximises the objective with Adam on G = V V^T / P; here:

* Each Gram matrix is parametrised as G_l = A_l U_l U_l^T A_l^T with U_l lower triangular and
  A_l = chol(K_l(G_(l-1)) + jitter I), the Cholesky factor of the layer's own prior, recomputed from
  the layer below at every evaluation (the whitened, or non-centred, parametrisation of deep GPs).
  Then KL_l = 1/2 (||U_l||^2 - 2 sum_i log|(U_l)_ii| - P) exactly, whatever the lower layers do,
  U_l = I is the NNGP (every KL term vanishes), G_l stays positive (semi)definite for every U_l and
  -log|G_l| keeps it definite.  Near-singular priors (duplicate inputs, smooth kernels) do not make
  the KL terms stiff, as they do when A_l is held fixed while K_l moves.
* The gradient is exact: with Gbar_l = dL/dG_l from :func:`kernels.dkm.objective.dkm_objective_and_grad`
  plus what flows back through A_(l+1), dF/dU_l = tril(A_l^T (Gbar_l + Gbar_l^T) A_l U_l), and the
  Cholesky pullback Kbar_l = sym(A_l^-T Phi(A_l^T Abar_l) A_l^-1) (Phi: lower triangle, halved
  diagonal) carries dF/dA_l to G_(l-1) through the kernel.
* Kernel hyperparameters and the noise variance may be learned in the same run (log scale).
* The optimiser is scipy's L-BFGS-B on the vector of all parameters; it stops when the largest
  component of the gradient of the objective per data point, L / (P D), falls below ``tol``.

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
from kernels.dkm.gram_kernels import GramKernel
from kernels.dkm.objective import dkm_objective_and_grad, nngp_grams

__all__ = ["DKMSolution", "solve_dkm", "optimise_grams", "pack_kernels", "unpack_kernels"]


@dataclass
class DKMSolution:
    """Result of :func:`solve_dkm`.

    ``grams[l]`` is the optimal G_(l+1) (the NNGP Gram where nu is infinite); ``trace`` holds the
    objective after each iteration (starting with the initial value); ``grad_norm`` is the final
    max-abs projected gradient of L / (P D) in the solver's coordinates (as L-BFGS-B measures it).
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


#: allowed range of each learnable kernel parameter, and of the noise variance (inputs and targets
#: are expected on a standardised scale)
LOG_BOUNDS = {"lengthscale": (1e-2, 1e3), "variance": (1e-2, 1e2), "weight": (1e-2, 1e2)}
NOISE_BOUNDS = (1e-6, 1e1)


def pack_kernels(kernels) -> np.ndarray:
    return np.array([math.log(v) for k in kernels for v in k.params().values()], dtype=np.float64)


def unpack_kernels(kernels, theta) -> list[GramKernel]:
    out, i = [], 0
    for k in kernels:
        names = k.learnable
        out.append(k.with_params(**{n: math.exp(float(theta[i + j])) for j, n in enumerate(names)}))
        i += len(names)
    return out


def _fill_deterministic(G0, grams, kernels, jitter):
    """Replace the None entries (layers with nu = inf) by K(G_(l-1)) + jitter I."""
    out, G_prev = [], G0
    for l, G in enumerate(grams):
        if G is None:
            G = nngp_grams(G_prev, kernels[l:l + 1], 1, jitter)[0]
        out.append(G)
        G_prev = G
    return out


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
    tol: float = 1e-6,
    max_iter: int = 2000,
    history: int = 20,
) -> DKMSolution:
    """Maximise the DKM objective over G_1..G_L (and optionally hyperparameters and noise).

    ``init``: starting Grams (default: the NNGP recursion, i.e. the prior, where the KL terms are 0).
    Layers with nu = inf are not free: they follow the NNGP recursion of the current kernels.
    """
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    nu = [float(v) for v in nu]
    if init is None:
        init = nngp_grams(G0, kernels, len(nu), jitter)

    def objective(grams, factors, ks, s2):
        return dkm_objective_and_grad(G0, grams, Y2, ks, nu, s2, jitter, factors)

    solution = optimise_grams(
        objective, init, nu, kernels, noise_var, n_data=Y2.shape[0] * Y2.shape[1], jitter=jitter,
        learn_kernel=learn_kernel, learn_noise=learn_noise, tol=tol, max_iter=max_iter, history=history,
        base_gram=G0,
    )
    solution.grams = _fill_deterministic(G0, solution.grams, solution.kernels, jitter)
    return solution


def _phi(xp, M):
    """Lower triangle of M with the diagonal halved (the Cholesky pullback's projection)."""
    P = M.shape[0]
    eye = xp.eye(P, dtype=M.dtype)
    return xp.tril(M) - 0.5 * eye * M


def _cholesky_vjp(A, Abar):
    """dF/dK for A = chol(K) given Abar = dF/dA (lower): sym(A^-T Phi(A^T Abar) A^-1)."""
    xp = array_namespace(A, Abar)
    S = _phi(xp, A.T @ Abar)
    left = solve_triangular(A, S, lower=True, trans=1)  # A^-T S
    Kbar = solve_triangular(A, left.T, lower=True, trans=1).T  # (A^-T S) A^-1
    return 0.5 * (Kbar + Kbar.T)


def optimise_grams(
    objective,
    init,
    nu,
    kernels,
    noise_var: float,
    *,
    n_data: int,
    jitter: float,
    learn_kernel: bool,
    learn_noise: bool,
    tol: float,
    max_iter: int,
    history: int = 20,
    base_gram=None,
) -> DKMSolution:
    """L-BFGS on the Cholesky parameters U_l of the Grams, kernel log-parameters and log noise.

    ``objective(grams, factors, kernels, noise_var) -> (value, DKMGradient)`` where
    ``factors[l]`` is a lower Cholesky factor of ``grams[l]``; layers with nu = inf get None.
    The function minimised is -value / n_data; ``tol`` bounds its max-abs gradient.

    With ``base_gram`` (the Gram G_0 the first kernel acts on: X X^T / N_0, or its inducing block)
    the parametrisation is the whitened one, G_l = A_l U_l U_l^T A_l^T with A_l = chol(K_l(G_(l-1))
    + jitter I) following the layer below, so KL_l = 1/2 (||U_l||^2 - 2 sum log|(U_l)_ii| - P)
    whatever the lower layers do; the gradient is chained through the Cholesky factors.  Without
    it, A_l = chol(init[l]) is held fixed.  Either way U_l = I at the start when ``init`` is the
    NNGP recursion.
    """
    L = len(nu)
    free = [l for l in range(L) if not math.isinf(nu[l])]
    kernels = list(kernels)
    xp = array_namespace(*[init[l] for l in free]) if free else None
    whitened = base_gram is not None and bool(free)
    top = max(free) if free else -1
    sizes = {l: init[l].shape[0] for l in free}
    if whitened:
        U0 = _whitened_start(base_gram, init, kernels, free, top, jitter)
        chol = None
    else:
        chol = {l: cholesky(init[l], f"initial G_{l + 1}", jitter) for l in free}
        U0 = {l: np.eye(sizes[l]) for l in free}
    offsets, n_gram = {}, 0
    for l in free:
        offsets[l] = n_gram
        n_gram += sizes[l] ** 2
    masks = {l: xp.tril(xp.ones((sizes[l], sizes[l]), dtype=init[l].dtype)) for l in free}
    theta0 = pack_kernels(kernels) if learn_kernel else np.zeros(0)
    x0 = np.concatenate(
        [np.ravel(U0[l]) for l in free] + [theta0, np.array([math.log(noise_var)] if learn_noise else [])]
    )
    scale = 1.0 / n_data

    def unpack(x):
        U, grams, factors, chain = {}, [None] * L, [None] * L, []
        for l in free:
            m = sizes[l]
            block = np.ascontiguousarray(x[offsets[l]:offsets[l] + m * m]).reshape(m, m)
            U[l] = from_numpy(block, xp) * masks[l]
        ks = unpack_kernels(kernels, x[n_gram:n_gram + theta0.size]) if learn_kernel else kernels
        s2 = math.exp(float(x[-1])) if learn_noise else noise_var
        if whitened:
            G_prev = base_gram
            eye = xp.eye(base_gram.shape[0], dtype=base_gram.dtype)
            for l in range(top + 1):
                raw = ks[l](G_prev)
                K = raw + jitter * eye
                if l in U:
                    A = cholesky(K, f"K(G_{l}) (prior of layer {l + 1})", jitter)
                    factors[l] = A @ U[l]
                    G = factors[l] @ factors[l].T
                    grams[l] = G
                else:
                    A, G = None, K
                chain.append((G_prev, raw, A))
                G_prev = G
        else:
            for l in free:
                factors[l] = chol[l] @ U[l]
                grams[l] = factors[l] @ factors[l].T
        return U, ks, s2, grams, factors, chain

    def pullback(U, ks, factors, chain, grad):
        """Gradients w.r.t. U_l (and extra kernel-parameter terms) from the partials dL/dG_l."""
        dU, extra = {}, [dict.fromkeys(k.learnable, 0.0) for k in ks]
        if not whitened:
            for l in free:
                Gbar = grad.grams[l]
                dU[l] = (chol[l].T @ ((Gbar + Gbar.T) @ factors[l])) * masks[l]
            return dU, extra
        carry = None  # dL/dG_l through the Cholesky factor of the layer above
        for l in range(top, -1, -1):
            G_prev, raw, A = chain[l]
            total = carry if l not in U else (grad.grams[l] if carry is None else grad.grams[l] + carry)
            if l in U:
                Fbar = (total + total.T) @ factors[l]
                dU[l] = (A.T @ Fbar) * masks[l]
                Kbar = _cholesky_vjp(A, (Fbar @ U[l].T) * masks[l])
            else:
                Kbar = total
            if l == 0 and not learn_kernel:
                break
            carry, hyper = ks[l].vjp(G_prev, Kbar, raw)
            for name in ks[l].learnable:
                extra[l][name] += hyper[name]
        return dU, extra

    state = {"value": None, "evals": 0}

    def fun(x):
        try:
            U, ks, s2, grams, factors, chain = unpack(x)
            value, grad = objective(grams, factors, ks, s2)
            if not math.isfinite(value):
                raise CholeskyError("non-finite objective")
        except (CholeskyError, OverflowError):
            if state["evals"] == 0:
                raise
            # a trial step of the line search left the region where the objective is defined
            # (a Gram matrix lost definiteness or a log-parameter overflowed): reject it
            return math.inf, np.zeros_like(x)
        state["evals"] += 1
        state["value"] = value
        dU, extra = pullback(U, ks, factors, chain, grad)
        parts = [np.ravel(to_numpy(dU[l])) for l in free]
        if learn_kernel:
            parts.append(np.array([g[n] + e[n] for k, g, e in zip(ks, grad.kernels, extra) for n in k.learnable],
                                  dtype=np.float64))
        if learn_noise:
            parts.append(np.array([grad.log_noise_var]))
        g = np.concatenate(parts) if parts else np.zeros(0)
        return -value * scale, -g * scale

    value0, g0 = fun(x0)
    trace = [-value0 / scale]
    if x0.size == 0:  # nothing to optimise: every layer is deterministic and nothing is learned
        _, ks, s2, grams, _, _ = unpack(x0)
        return DKMSolution(grams, ks, s2, trace[0], 0, 1, True, 0.0, trace, "no free parameters")

    def callback(xk):
        trace.append(state["value"])

    # Box constraints keep the log-parameters where float64 kernel matrices stay well conditioned.
    bounds = [(None, None)] * n_gram
    if learn_kernel:
        bounds += [(math.log(lo), math.log(hi)) for k in kernels for lo, hi in (LOG_BOUNDS[n] for n in k.learnable)]
    if learn_noise:
        bounds += [(math.log(NOISE_BOUNDS[0]), math.log(NOISE_BOUNDS[1]))]
    x0 = np.clip(x0, [b[0] if b[0] is not None else -np.inf for b in bounds],
                 [b[1] if b[1] is not None else np.inf for b in bounds])
    result = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=callback,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15, "maxcor": history, "maxls": 40},
    )
    value, g = fun(result.x)
    _, ks, s2, grams, _, _ = unpack(result.x)
    lower = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    upper = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    grad_norm = float(np.max(np.abs(result.x - np.clip(result.x - g, lower, upper))))  # projected gradient
    return DKMSolution(
        grams=grams,
        kernels=ks,
        noise_var=s2,
        objective=-value / scale,
        n_iter=int(result.nit),
        n_evals=state["evals"],
        converged=grad_norm <= tol,
        grad_norm=grad_norm,
        trace=trace,
        message=str(result.message),
    )


def _whitened_start(base_gram, init, kernels, free, top, jitter):
    """U_l = A_l^-1 chol(init[l]) with A_l = chol(K_l(init[l-1]) + jitter I): I at the NNGP recursion."""
    xp = array_namespace(base_gram)
    eye = xp.eye(base_gram.shape[0], dtype=base_gram.dtype)
    U0, G_prev = {}, base_gram
    for l in range(top + 1):
        K = kernels[l](G_prev) + jitter * eye
        if l in free:
            if bool(xp.all(K == init[l])):  # the start is the prior: U = I exactly
                U0[l] = np.eye(K.shape[0])
            else:
                A = cholesky(K, f"K(G_{l}) (prior of layer {l + 1})", jitter)
                U0[l] = to_numpy(solve_triangular(A, cholesky(init[l], f"initial G_{l + 1}", jitter), lower=True))
            G_prev = init[l]
        else:
            G_prev = K
    return U0
