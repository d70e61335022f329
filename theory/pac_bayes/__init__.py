"""Certified PAC-Bayes bounds and prompt bounds with a language-model prior.

Akinwande, Jiang, Sam, Kolter, "Understanding prompt engineering may not require rethinking
generalization", ICLR 2024, arXiv 2310.03957.

* :mod:`.bounds`: binary kl, its certified inverses, test-set, Occam and PAC-Bayes bounds, Monte Carlo coverage
* :mod:`.prompts`: zero-shot prompt classifiers, prompt priors, prompt evaluation and greedy search
"""

from .bounds import (
    binary_kl,
    kl_inverse,
    kl_inverse_lower,
    binomial_test_set_bound,
    test_set_kl_bound,
    realizable_test_set_bound,
    occam_bound,
    mcallester_1999_bound,
    sqrt_bound,
    maurer_bound,
    langford_seeger_bound,
    catoni_bound,
    all_bounds,
    DEFAULT_CATONI_GRID,
    OCCAM_FORMS,
    monte_carlo_coverage,
)
from .prompts import (
    Embedder,
    CausalLM,
    PromptTemplate,
    class_prompt_texts,
    prompt_errors,
    ZeroShotClassifier,
    LMPromptPrior,
    UniformTokenPrior,
    UnigramPrior,
    PromptReport,
    evaluate_prompts,
    GreedySearchResult,
    greedy_prompt_search,
    kendall_tau,
)

__all__ = [
    "binary_kl",
    "kl_inverse",
    "kl_inverse_lower",
    "binomial_test_set_bound",
    "test_set_kl_bound",
    "realizable_test_set_bound",
    "occam_bound",
    "mcallester_1999_bound",
    "sqrt_bound",
    "maurer_bound",
    "langford_seeger_bound",
    "catoni_bound",
    "all_bounds",
    "DEFAULT_CATONI_GRID",
    "OCCAM_FORMS",
    "monte_carlo_coverage",
    "Embedder",
    "CausalLM",
    "PromptTemplate",
    "class_prompt_texts",
    "prompt_errors",
    "ZeroShotClassifier",
    "LMPromptPrior",
    "UniformTokenPrior",
    "UnigramPrior",
    "PromptReport",
    "evaluate_prompts",
    "GreedySearchResult",
    "greedy_prompt_search",
    "kendall_tau",
]
