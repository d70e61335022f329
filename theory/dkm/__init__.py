"""The UCI regression experiment of deep kernel machines (run with ``python -m theory.dkm``).

Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives a deep
generalisation of kernel methods", ICML 2023, arXiv 2108.13097.

* :mod:`.uci`: UCI splits, the GP/NNGP/DKM fits, resumable results and the summary table
"""

from .uci import (
    DATASETS,
    SMALL,
    load_split,
    fit_models,
    run,
    load_results,
    summarise,
    markdown_table,
)

__all__ = [
    "DATASETS",
    "SMALL",
    "load_split",
    "fit_models",
    "run",
    "load_results",
    "summarise",
    "markdown_table",
]
