"""Multiclass naive Bayes vs logistic regression: sample complexity and consistency.

Zheng, Wu, Bao, Cao, Li, Zhu, "Revisiting Discriminative vs. Generative Classifiers: Theory and
Implications", ICML 2023, arXiv 2302.02334.

* :mod:`.naive_bayes`: batched Gaussian naive Bayes with a shared diagonal covariance
* :mod:`.logistic`: batched L2 multinomial logistic regression (truncated Newton)
* :mod:`.simulation`: the paper's simulation, exact Bayes errors, the sample-complexity sweep
  (``python -m theory.nb_lr``)
* :mod:`.real_data`: learning curves on scikit-learn's bundled data sets
* :mod:`.consistency`: the logistic-loss consistency bound
"""

from ._common import LinearClassifier, linear_predict
from .naive_bayes import (
    SharedVarianceNBParams,
    fit_shared_variance_nb,
    nb_linear_classifier,
    nb_joint_log_likelihood,
    SharedVarianceGaussianNB,
)
from .logistic import (
    LogisticFit,
    logistic_objective,
    fit_logistic,
    logistic_predict_proba,
    MultinomialLogisticRegression,
)
from .simulation import (
    PAPER_CLASSES,
    PAPER_DIMENSIONS,
    SIMULATION_MODELS,
    MAX_CLASSES,
    class_mean_coefficients,
    easy_covariance_diagonal,
    preprocessing_shift_scale,
    pool_size_per_class,
    test_size_per_class,
    sample_points,
    make_pool,
    make_test_set,
    training_sample,
    bayes_error,
    SimulationConfig,
    ErrorEvaluation,
    evaluate_errors,
    MStarSearch,
    search_m_star,
    MStarResult,
    sample_complexity_cell,
    run_sample_complexity,
    load_sample_complexity_results,
)
from .real_data import (
    REAL_DATASETS,
    load_real_dataset,
    default_sizes,
    LearningCurves,
    real_learning_curves,
)
from .consistency import (
    consistency_bound,
    excess_zero_one,
    excess_cross_entropy,
    total_variation,
    near_tight_pair,
)

__all__ = [
    "LinearClassifier",
    "linear_predict",
    "SharedVarianceNBParams",
    "fit_shared_variance_nb",
    "nb_linear_classifier",
    "nb_joint_log_likelihood",
    "SharedVarianceGaussianNB",
    "LogisticFit",
    "logistic_objective",
    "fit_logistic",
    "logistic_predict_proba",
    "MultinomialLogisticRegression",
    "PAPER_CLASSES",
    "PAPER_DIMENSIONS",
    "SIMULATION_MODELS",
    "MAX_CLASSES",
    "class_mean_coefficients",
    "easy_covariance_diagonal",
    "preprocessing_shift_scale",
    "pool_size_per_class",
    "test_size_per_class",
    "sample_points",
    "make_pool",
    "make_test_set",
    "training_sample",
    "bayes_error",
    "SimulationConfig",
    "ErrorEvaluation",
    "evaluate_errors",
    "MStarSearch",
    "search_m_star",
    "MStarResult",
    "sample_complexity_cell",
    "run_sample_complexity",
    "load_sample_complexity_results",
    "REAL_DATASETS",
    "load_real_dataset",
    "default_sizes",
    "LearningCurves",
    "real_learning_curves",
    "consistency_bound",
    "excess_zero_one",
    "excess_cross_entropy",
    "total_variation",
    "near_tight_pair",
]
