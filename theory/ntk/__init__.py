"""The data, metrics and depth sweep of the infinite-depth classification experiments.

Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification",
PNAS 2023, arXiv 2204.14126.

* :mod:`.data`: the paper's Dirichlet data on the sphere and its Bayes-optimal rule
* :mod:`.metrics`: accuracy and agreement of classifiers
* :mod:`.sweeps`: the depth sweep (agreement with the infinite-depth limits), resumable, on any executor
"""

from . import data, metrics, sweeps
from .data import *  # noqa: F403
from .metrics import *  # noqa: F403
from .sweeps import *  # noqa: F403

__all__ = [*data.__all__, *metrics.__all__, *sweeps.__all__]
