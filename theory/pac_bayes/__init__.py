"""Certified PAC-Bayes bounds and prompt bounds with a language-model prior.

Akinwande, Jiang, Sam, Kolter, "Understanding prompt engineering may not require rethinking
generalization", ICLR 2024, arXiv 2310.03957.

* :mod:`.kl`: the binary kl and its certified upper and lower inverses
* :mod:`.bounds`: test-set, Occam and PAC-Bayes bounds
* :mod:`.coverage`: Monte Carlo coverage of every bound on classes with known true risks
* :mod:`.prompts`: zero-shot prompt classifier, prompt evaluation and greedy search
* :mod:`.priors`: priors over prompts (language model, uniform tokens, unigram), one base class
* :mod:`.lm` and :mod:`.ag_news` (imported on their own; need the ``lm`` extra at call time): the real
  embedder and language model, and the AG News experiment
"""

from .kl import binary_kl, kl_inverse, kl_inverse_lower
from .bounds import (
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
)
from .coverage import CoverageResult, CoverageSetting, coverage_allowance, coverage_study, monte_carlo_coverage
from .priors import PromptPrior, LMPromptPrior, UniformTokenPrior, UnigramPrior
from .prompts import (
    Embedder,
    CausalLM,
    PromptTemplate,
    class_prompt_texts,
    prompt_errors,
    ZeroShotClassifier,
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
    "CoverageResult",
    "CoverageSetting",
    "coverage_allowance",
    "coverage_study",
    "monte_carlo_coverage",
    "Embedder",
    "CausalLM",
    "PromptTemplate",
    "class_prompt_texts",
    "prompt_errors",
    "ZeroShotClassifier",
    "PromptPrior",
    "LMPromptPrior",
    "UniformTokenPrior",
    "UnigramPrior",
    "PromptReport",
    "evaluate_prompts",
    "GreedySearchResult",
    "greedy_prompt_search",
    "kendall_tau",
]
