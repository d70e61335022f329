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

from . import kl, bounds, coverage, priors, prompts
from .kl import *  # noqa: F403
from .bounds import *  # noqa: F403
from .coverage import *  # noqa: F403
from .priors import *  # noqa: F403
from .prompts import *  # noqa: F403

__all__ = [*kl.__all__, *bounds.__all__, *coverage.__all__, *priors.__all__, *prompts.__all__]
