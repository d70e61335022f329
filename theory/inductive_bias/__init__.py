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

from .gen_chi2 import (
    GeneralizedChi2,
    CDFResult,
    BitsResult,
    BelowMinimumWarning,
)
from .gp_hypotheses import (
    RBFKernel,
    rbf_kernel,
    fc_kernel_fn,
    GPPosterior,
    gp_posterior,
    sample_functions,
    sample_losses,
    test_loss,
    loss_distribution,
    standard_normal,
)
from .nn_hypotheses import (
    MLPEnsemble,
    init_mlps,
    mlp_forward,
    train_mlps,
    nn_test_losses,
)
from .estimators import (
    NCX2Fit,
    fit_ncx2,
    ncx2_logpdf,
    sankaran_log_cdf,
    ncx2_inductive_bias,
    NCX2InductiveBias,
    InductiveBiasResult,
    NCX2Estimate,
    exact_inductive_bias,
)
from .sweeps import DimensionSweepResult, dimension_sweep
from .tasks import (
    Task,
    synthetic_classification,
    synthetic_regression,
    digits_task,
)

__all__ = [
    "GeneralizedChi2",
    "CDFResult",
    "BitsResult",
    "BelowMinimumWarning",
    "RBFKernel",
    "rbf_kernel",
    "fc_kernel_fn",
    "GPPosterior",
    "gp_posterior",
    "sample_functions",
    "sample_losses",
    "test_loss",
    "loss_distribution",
    "standard_normal",
    "MLPEnsemble",
    "init_mlps",
    "mlp_forward",
    "train_mlps",
    "nn_test_losses",
    "NCX2Fit",
    "fit_ncx2",
    "ncx2_logpdf",
    "sankaran_log_cdf",
    "ncx2_inductive_bias",
    "NCX2InductiveBias",
    "InductiveBiasResult",
    "NCX2Estimate",
    "exact_inductive_bias",
    "Task",
    "synthetic_classification",
    "synthetic_regression",
    "digits_task",
    "DimensionSweepResult",
    "dimension_sweep",
]
