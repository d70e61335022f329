"""NNGP and NTK kernels of fully connected networks and their infinite-depth limits.

Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification",
PNAS 2023, arXiv 2204.14126.

* :mod:`.activations`: closed-form dual activations (T, Tdot) and Gauss-Hermite quadrature for any callable
* :mod:`.fc`: fc_kernel: the NNGP and NTK of a fully connected network
* :mod:`.duals`: normalised duals, their regime and exponent beta, consistent activations
* :mod:`.depth`: the deep recursions of the cosine and their depth tables (the one tabulation engine)
* :mod:`.classifiers`: kernel interpolation with deep kernels, the infinite-depth limits, 1-NN, majority
  vote, Hilbert and singular kernel rules

The paper's Dirichlet data, its Bayes rule, accuracy/agreement and the depth sweep are in :mod:`theory.ntk`.
* :mod:`.dynamics`: gp_inference, gradient_descent_mse_ensemble, NTKRegressor, NTKClassifier
"""

from .activations import (
    Activation,
    ABRelu,
    Relu,
    LeakyRelu,
    Abs,
    Erf,
    Sign,
    Gelu,
    Sin,
    Cos,
    Rbf,
    Hermite,
    Polynomial,
    Quadrature,
    ACTIVATIONS,
    get_activation,
    gauss_hermite_kernel,
)
from .fc import (
    FCKernel,
    fc_kernel,
)
from .duals import (
    NormalizedDual,
    DUAL_NAMES,
    get_dual,
    polynomial_dual,
    dual_from_hermite,
    hermite_coefficients,
    sine_dual,
    regime,
    beta_exponent,
    sine_beta,
    sine_parameter_for_dimension,
    consistent_dual,
)
from .depth import (
    nngp_ntk,
    log_nngp_ntk,
    DepthTable,
    tabulate_depth,
)
from .classifiers import (
    majority_vote_predict,
    one_nn_predict,
    singular_kernel_predict,
    hilbert_kernel_predict,
    half_squared_distances,
    cosines,
    normalized_kernel,
    kernel_interpolation_predict,
    deep_kernel_predict,
    infinite_depth_predict,
    limit_name,
)
from .dynamics import (
    Gaussian,
    gp_inference,
    gradient_descent_mse_ensemble,
    fc_kernel_diagonal,
    NTKRegressor,
    NTKClassifier,
)

__all__ = [
    "Activation",
    "ABRelu",
    "Relu",
    "LeakyRelu",
    "Abs",
    "Erf",
    "Sign",
    "Gelu",
    "Sin",
    "Cos",
    "Rbf",
    "Hermite",
    "Polynomial",
    "Quadrature",
    "ACTIVATIONS",
    "get_activation",
    "gauss_hermite_kernel",
    "FCKernel",
    "fc_kernel",
    "NormalizedDual",
    "DUAL_NAMES",
    "get_dual",
    "polynomial_dual",
    "dual_from_hermite",
    "hermite_coefficients",
    "sine_dual",
    "regime",
    "beta_exponent",
    "sine_beta",
    "sine_parameter_for_dimension",
    "consistent_dual",
    "nngp_ntk",
    "log_nngp_ntk",
    "DepthTable",
    "tabulate_depth",
    "majority_vote_predict",
    "one_nn_predict",
    "singular_kernel_predict",
    "hilbert_kernel_predict",
    "half_squared_distances",
    "cosines",
    "normalized_kernel",
    "kernel_interpolation_predict",
    "deep_kernel_predict",
    "infinite_depth_predict",
    "limit_name",
    "Gaussian",
    "gp_inference",
    "gradient_descent_mse_ensemble",
    "fc_kernel_diagonal",
    "NTKRegressor",
    "NTKClassifier",
]
