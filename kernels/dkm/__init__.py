"""Deep kernel machines.

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a
deep generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

* :mod:`.gram_kernels`: kernels acting on Gram matrices (squared exponential, arccos, normalised Gaussian)
* :mod:`.objective`: the DKM objective, KL terms, Gaussian likelihood and exact gradients
* :mod:`.solver`: L-BFGS on a Cholesky parametrisation of the Grams
* :mod:`.sparse`: inducing-point DKM (linear in the number of points) and predictions
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
from kernels.dkm.solver import DKMSolution, optimise_grams, solve_dkm
from kernels.dkm.sparse import dkm_predict, input_blocks, sparse_nngp_grams, sparse_objective, sparse_objective_and_grad, sparse_predict

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
    "optimise_grams",
    "solve_dkm",
    "dkm_predict",
    "input_blocks",
    "sparse_nngp_grams",
    "sparse_objective",
    "sparse_objective_and_grad",
    "sparse_predict",
]
