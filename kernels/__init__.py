"""Compute layer: array backend, closed-form NNGP/NTK kernels, infinite-depth limits, deep kernel machines.

Papers:
- Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification",
  PNAS 2023, arXiv 2204.14126 (:mod:`kernels.ntk.fc`, :mod:`kernels.ntk.activations`, :mod:`kernels.ntk.duals`,
  :mod:`kernels.ntk.depth`, :mod:`kernels.ntk.classifiers`, :mod:`kernels.ntk.dynamics`; the paper's data
  and metrics are in :mod:`theory.ntk`).
- Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a deep
  generalisation of kernel methods", ICML 2023, arXiv 2108.13097 (:mod:`kernels.dkm`).
"""

from kernels.ntk.activations import (
    ABRelu,
    Abs,
    Cos,
    Erf,
    Gelu,
    Hermite,
    LeakyRelu,
    Polynomial,
    Quadrature,
    Rbf,
    Relu,
    Sign,
    Sin,
    get_activation,
)
from kernels.backend import array_namespace, get_backend, set_backend
from kernels.dkm import DeepKernelMachine
from kernels.ntk.dynamics import NTKClassifier, NTKRegressor, gradient_descent_mse_ensemble
from kernels.ntk.fc import FCKernel, fc_kernel
from kernels.ntk.classifiers import (
    deep_kernel_predict,
    hilbert_kernel_predict,
    infinite_depth_predict,
    majority_vote_predict,
    one_nn_predict,
    singular_kernel_predict,
)
from kernels.ntk.depth import nngp_ntk, tabulate_depth
from kernels.ntk.duals import beta_exponent, consistent_dual, get_dual, regime

__all__ = [
    "ABRelu", "Abs", "Cos", "Erf", "Gelu", "Hermite", "LeakyRelu", "Polynomial", "Quadrature", "Rbf", "Relu",
    "Sign", "Sin", "get_activation",
    "array_namespace", "get_backend", "set_backend",
    "hilbert_kernel_predict", "majority_vote_predict", "one_nn_predict", "singular_kernel_predict",
    "DeepKernelMachine",
    "NTKClassifier", "NTKRegressor", "gradient_descent_mse_ensemble",
    "FCKernel", "fc_kernel",
    "deep_kernel_predict", "infinite_depth_predict",
    "beta_exponent", "consistent_dual", "get_dual", "nngp_ntk", "regime", "tabulate_depth",
]
