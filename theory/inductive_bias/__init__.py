"""Exact computation of inductive bias.

Boopathy, Yue, Hwang, Iyer, Fiete, "Towards Exact Computation of Inductive Bias", IJCAI 2024,
arXiv 2406.15941.

* :mod:`.gen_chi2`: the generalised chi-squared law and its CDF with error bounds
* :mod:`.gp_hypotheses`: GP-posterior hypothesis spaces and their test-loss law
* :mod:`.nn_hypotheses`: trained ReLU-MLP hypothesis spaces
* :mod:`.estimators`: the exact inductive bias and the paper's fitted non-central chi-squared estimator
* :mod:`.tasks`: synthetic and digits tasks
* :mod:`.sweeps`: the dimension sweep (resumable, on any executor)
"""

from . import gen_chi2, gp_hypotheses, nn_hypotheses, estimators, sweeps, tasks
from .gen_chi2 import *  # noqa: F403
from .gp_hypotheses import *  # noqa: F403
from .nn_hypotheses import *  # noqa: F403
from .estimators import *  # noqa: F403
from .sweeps import *  # noqa: F403
from .tasks import *  # noqa: F403

__all__ = [*gen_chi2.__all__, *gp_hypotheses.__all__, *nn_hypotheses.__all__, *estimators.__all__, *sweeps.__all__, *tasks.__all__]
