"""Bounds, estimators and simulations stated by the papers (may import :mod:`kernels`).

Papers:
- Akinwande, Jiang, Sam, Kolter, "Understanding prompt engineering may not require rethinking
  generalization", ICLR 2024, arXiv 2310.03957 (:mod:`theory.pac_bayes.bounds`, :mod:`theory.pac_bayes.prompts`,
  :mod:`theory.pac_bayes.lm`; the latter needs the ``lm`` extra and is imported on its own).
- Zheng, Wu, Bao, Cao, Li, Zhu, "Revisiting Discriminative vs. Generative Classifiers: Theory and
  Implications", ICML 2023, arXiv 2302.02334 (:mod:`theory.nb_lr.naive_bayes`, :mod:`theory.nb_lr.logistic`,
  :mod:`theory.nb_lr.simulation`, :mod:`theory.nb_lr.real_data`, :mod:`theory.nb_lr.consistency`).
- Boopathy, Yue, Hwang, Iyer, Fiete, "Towards Exact Computation of Inductive Bias", IJCAI 2024,
  arXiv 2406.15941 (:mod:`theory.inductive_bias.gen_chi2`, :mod:`theory.inductive_bias.gp_hypotheses`, :mod:`theory.inductive_bias.estimators`,
  :mod:`theory.inductive_bias.nn_hypotheses`, :mod:`theory.inductive_bias.tasks`).
- Yang et al., ICML 2023, arXiv 2108.13097: the UCI experiment of deep kernel machines (:mod:`theory.dkm.uci`).
"""

from theory.nb_lr.consistency import consistency_bound
from theory.inductive_bias.gen_chi2 import GeneralizedChi2
from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution, sample_losses
from theory.inductive_bias.tasks import digits_task, synthetic_classification
from theory.inductive_bias.estimators import exact_inductive_bias, fit_ncx2, ncx2_inductive_bias
from theory.nb_lr.logistic import MultinomialLogisticRegression, fit_logistic
from theory.nb_lr.naive_bayes import SharedVarianceGaussianNB, fit_shared_variance_nb
from theory.inductive_bias.nn_hypotheses import train_mlps
from theory.pac_bayes.bounds import (
    all_bounds,
    binary_kl,
    binomial_test_set_bound,
    catoni_bound,
    kl_inverse,
    kl_inverse_lower,
    langford_seeger_bound,
    maurer_bound,
    mcallester_1999_bound,
    monte_carlo_coverage,
    occam_bound,
    realizable_test_set_bound,
    sqrt_bound,
    test_set_kl_bound,
)
from theory.pac_bayes.prompts import (
    LMPromptPrior,
    PromptTemplate,
    UniformTokenPrior,
    UnigramPrior,
    ZeroShotClassifier,
    evaluate_prompts,
    greedy_prompt_search,
)

__all__ = [
    "consistency_bound",
    "GeneralizedChi2", "gp_posterior", "loss_distribution", "sample_losses",
    "digits_task", "synthetic_classification",
    "exact_inductive_bias", "fit_ncx2", "ncx2_inductive_bias", "train_mlps",
    "MultinomialLogisticRegression", "fit_logistic", "SharedVarianceGaussianNB", "fit_shared_variance_nb",
    "all_bounds", "binary_kl", "binomial_test_set_bound", "catoni_bound", "kl_inverse", "kl_inverse_lower",
    "langford_seeger_bound", "maurer_bound", "mcallester_1999_bound", "monte_carlo_coverage", "occam_bound",
    "realizable_test_set_bound", "sqrt_bound", "test_set_kl_bound",
    "LMPromptPrior", "PromptTemplate", "UniformTokenPrior", "UnigramPrior", "ZeroShotClassifier",
    "evaluate_prompts", "greedy_prompt_search",
]
