"""Compute layer: array backend, closed-form NNGP/NTK kernels, infinite-depth limits, deep kernel machines.

Papers:
- Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification",
  PNAS 2023, arXiv 2204.14126 (:mod:`kernels.fc`, :mod:`kernels.activations`, :mod:`kernels.normalized`,
  :mod:`kernels.infinite_depth`, :mod:`kernels.baselines`, :mod:`kernels.dynamics`).
- Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a deep
  generalisation of kernel methods", ICML 2023, arXiv 2108.13097 (:mod:`kernels.dkm`).
"""

from .activations import (
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
from .backend import array_namespace, get_backend, set_backend
from .baselines import (
    hilbert_kernel_predict,
    majority_vote_predict,
    one_nn_predict,
    sample_dirichlet_sphere,
    singular_kernel_predict,
)
from .dkm import DeepKernelMachine
from .dynamics import NTKClassifier, NTKRegressor, gradient_descent_mse_ensemble
from .fc import FCKernel, fc_kernel
from .infinite_depth import deep_kernel_predict, infinite_depth_predict
from .normalized import beta_exponent, consistent_dual, get_dual, nngp_ntk, regime, tabulate_depth

__all__ = [
    "ABRelu", "Abs", "Cos", "Erf", "Gelu", "Hermite", "LeakyRelu", "Polynomial", "Quadrature", "Rbf", "Relu",
    "Sign", "Sin", "get_activation",
    "array_namespace", "get_backend", "set_backend",
    "hilbert_kernel_predict", "majority_vote_predict", "one_nn_predict", "sample_dirichlet_sphere",
    "singular_kernel_predict",
    "DeepKernelMachine",
    "NTKClassifier", "NTKRegressor", "gradient_descent_mse_ensemble",
    "FCKernel", "fc_kernel",
    "deep_kernel_predict", "infinite_depth_predict",
    "beta_exponent", "consistent_dual", "get_dual", "nngp_ntk", "regime", "tabulate_depth",
]
