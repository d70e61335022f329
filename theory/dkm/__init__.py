"""The UCI regression experiment of deep kernel machines (run with ``python -m theory.dkm``).

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a deep
generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

* :mod:`.uci`: UCI splits, the GP/NNGP/DKM fits, the resumable sweep and the summary table
"""

from . import uci
from .uci import *  # noqa: F403

__all__ = [*uci.__all__]
