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

from . import _common, naive_bayes, logistic, simulation, real_data, consistency
from ._common import *  # noqa: F403
from .naive_bayes import *  # noqa: F403
from .logistic import *  # noqa: F403
from .simulation import *  # noqa: F403
from .real_data import *  # noqa: F403
from .consistency import *  # noqa: F403

__all__ = [*_common.__all__, *naive_bayes.__all__, *logistic.__all__, *simulation.__all__, *real_data.__all__, *consistency.__all__]
