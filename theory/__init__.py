"""Bounds, estimators and the papers' experiments (may import :mod:`kernels`), one subpackage per paper.

- :mod:`theory.ntk`: Radhakrishnan, Belkin, Uhler, PNAS 2023, arXiv 2204.14126 (the Dirichlet data, the
  Bayes rule, accuracy and agreement, the depth sweep).
- :mod:`theory.dkm`: Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, ICML 2023, arXiv 2108.13097 (the UCI
  experiment, ``python -m theory.dkm``).
- :mod:`theory.pac_bayes`: Akinwande, Jiang, Sam, Kolter, ICLR 2024, arXiv 2310.03957 (kl and its certified
  inverses, bounds, coverage, prompts, priors; the language-model adapters in :mod:`theory.pac_bayes.lm` and
  the AG News experiment in :mod:`theory.pac_bayes.ag_news` need the ``lm`` extra and are imported on their own).
- :mod:`theory.nb_lr`: Zheng, Wu, Bao, Cao, Li, Zhu, ICML 2023, arXiv 2302.02334 (naive Bayes vs logistic
  regression, ``python -m theory.nb_lr``).
- :mod:`theory.inductive_bias`: Boopathy, Yue, Hwang, Iyer, Fiete, IJCAI 2024, arXiv 2406.15941 (the generalised
  chi-squared law, hypothesis spaces, estimators, tasks, the dimension sweep).

The names below are re-exported for ``import theory``; each subpackage lists its own in ``__all__``.
"""

from theory.inductive_bias import (
    GeneralizedChi2,
    digits_task,
    exact_inductive_bias,
    fit_ncx2,
    gp_posterior,
    loss_distribution,
    ncx2_inductive_bias,
    sample_losses,
    synthetic_classification,
    train_mlps,
)
from theory.nb_lr import (
    MultinomialLogisticRegression,
    SharedVarianceGaussianNB,
    consistency_bound,
    fit_logistic,
    fit_shared_variance_nb,
)
from theory.ntk import accuracy, agreement, dirichlet_bayes_predict, sample_dirichlet_sphere
from theory.pac_bayes import (
    LMPromptPrior,
    PromptTemplate,
    UniformTokenPrior,
    UnigramPrior,
    ZeroShotClassifier,
    all_bounds,
    binary_kl,
    binomial_test_set_bound,
    catoni_bound,
    evaluate_prompts,
    greedy_prompt_search,
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

__all__ = [
    "GeneralizedChi2", "gp_posterior", "loss_distribution", "sample_losses",
    "digits_task", "synthetic_classification",
    "exact_inductive_bias", "fit_ncx2", "ncx2_inductive_bias", "train_mlps",
    "MultinomialLogisticRegression", "fit_logistic", "SharedVarianceGaussianNB", "fit_shared_variance_nb",
    "consistency_bound",
    "accuracy", "agreement", "dirichlet_bayes_predict", "sample_dirichlet_sphere",
    "all_bounds", "binary_kl", "binomial_test_set_bound", "catoni_bound", "kl_inverse", "kl_inverse_lower",
    "langford_seeger_bound", "maurer_bound", "mcallester_1999_bound", "monte_carlo_coverage", "occam_bound",
    "realizable_test_set_bound", "sqrt_bound", "test_set_kl_bound",
    "LMPromptPrior", "PromptTemplate", "UniformTokenPrior", "UnigramPrior", "ZeroShotClassifier",
    "evaluate_prompts", "greedy_prompt_search",
]
