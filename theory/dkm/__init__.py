"""The UCI regression experiment of deep kernel machines (run with ``python -m theory.dkm``).

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a deep
generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

* :mod:`.uci`: UCI splits, the GP/NNGP/DKM fits, the resumable sweep and the summary table
"""

from .uci import (
    DATASETS,
    SMALL,
    UCI_MODELS,
    converged_counts,
    fit_models,
    fit_split,
    load_split,
    load_uci_results,
    markdown_table,
    run,
    summarise,
)

__all__ = [
    "DATASETS",
    "SMALL",
    "UCI_MODELS",
    "load_split",
    "fit_models",
    "fit_split",
    "run",
    "load_uci_results",
    "summarise",
    "markdown_table",
    "converged_counts",
]
