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

from . import activations, fc, duals, depth, classifiers, dynamics
from .activations import *  # noqa: F403
from .fc import *  # noqa: F403
from .duals import *  # noqa: F403
from .depth import *  # noqa: F403
from .classifiers import *  # noqa: F403
from .dynamics import *  # noqa: F403

__all__ = [*activations.__all__, *fc.__all__, *duals.__all__, *depth.__all__, *classifiers.__all__, *dynamics.__all__]
