"""The data, metrics and depth sweep of the infinite-depth classification experiments.

Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification",
PNAS 2023, arXiv 2204.14126.

* :mod:`.data`: the paper's Dirichlet data on the sphere and its Bayes-optimal rule
* :mod:`.metrics`: accuracy and agreement of classifiers
* :mod:`.sweeps`: the depth sweep (agreement with the infinite-depth limits), resumable, on any executor
"""

from .data import DIRICHLET_ALPHAS, dirichlet_bayes_predict, sample_dirichlet_sphere
from .metrics import accuracy, agreement
from .sweeps import PANELS, SweepPlan, depth_point, depth_sweep, sweep_plan

__all__ = [
    "DIRICHLET_ALPHAS",
    "sample_dirichlet_sphere",
    "dirichlet_bayes_predict",
    "accuracy",
    "agreement",
    "PANELS",
    "SweepPlan",
    "sweep_plan",
    "depth_point",
    "depth_sweep",
]
