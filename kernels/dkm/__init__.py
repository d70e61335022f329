"""Deep kernel machines.

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a
deep generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

* :mod:`.gram_kernels`: kernels acting on Gram matrices (squared exponential, arccos, normalised Gaussian)
* :mod:`.objective`: the DKM objective, KL terms, Gaussian likelihood and exact gradients
* :mod:`.whitened`: the objective in whitened coordinates G_l = A_l U_l U_l^T A_l^T, with its gradient
* :mod:`.solver`: ``solve_dkm`` (L-BFGS or trust-region Newton-CG on the whitened factors)
* :mod:`.sparse`: inducing-point DKM (linear in the number of points), ``solve_sparse_dkm``, predictions
* :mod:`.estimator`: the scikit-learn style ``DeepKernelMachine``
"""

from kernels.dkm.estimator import DeepKernelMachine
from kernels.dkm.gram_kernels import ArcCos, GramKernel, Linear, NormalisedGaussian, SquaredExponential, make_kernel
from kernels.linalg import CholeskyError
from kernels.dkm.objective import (
    dkm_objective,
    dkm_objective_and_grad,
    gaussian_log_likelihood,
    input_gram,
    kl_gaussian,
    kl_gaussian_grad,
    kl_terms,
    nngp_grams,
)
from kernels.dkm.solver import DKMSolution, solve_dkm
from kernels.dkm.sparse import (
    dkm_predict,
    input_blocks,
    solve_sparse_dkm,
    sparse_nngp_grams,
    sparse_objective,
    sparse_objective_and_grad,
    sparse_predict,
    sparse_whitened_objective_and_grad,
)
from kernels.dkm.whitened import WhitenedGradient, whitened_grams, whitened_objective_and_grad

__all__ = [
    "DeepKernelMachine",
    "GramKernel",
    "SquaredExponential",
    "ArcCos",
    "NormalisedGaussian",
    "Linear",
    "make_kernel",
    "CholeskyError",
    "dkm_objective",
    "dkm_objective_and_grad",
    "gaussian_log_likelihood",
    "input_gram",
    "kl_gaussian",
    "kl_gaussian_grad",
    "kl_terms",
    "nngp_grams",
    "DKMSolution",
    "solve_dkm",
    "solve_sparse_dkm",
    "WhitenedGradient",
    "whitened_grams",
    "whitened_objective_and_grad",
    "sparse_whitened_objective_and_grad",
    "dkm_predict",
    "input_blocks",
    "sparse_nngp_grams",
    "sparse_objective",
    "sparse_objective_and_grad",
    "sparse_predict",
]
