"""Test error versus training size m for naive Bayes and logistic regression, one panel per (K, n).

Zheng et al., "Revisiting Discriminative vs. Generative Classifiers: Theory and Implications", ICML 2023,
arXiv 2302.02334: the simulation of :mod:`theory.nb_lr.simulation` (points are the m evaluated by the
m* search; the dashed line is the Bayes error + 0.01, the target that defines m*).
"""

from __future__ import annotations

import functools

import numpy as np

QUICK_GRID = {"n_classes": (2, 3), "ns": (50, 100, 200), "trials": 3, "test_per_class": 300}
# the paper's grid and test set (floor(10^4 / K) per class): the runs of the claims' full scale
FULL_GRID = {"n_classes": (2, 3, 5, 7), "ns": (100, 200, 400, 1000), "trials": 5, "test_per_class": None}

TINY = {
    "records": [
        {"n_classes": 2, "n": 10, "model": "nb", "bayes_error": 0.0095, "target": 0.0195, "m_star": 8,
         "curve": [[4, 0.2, 0.05], [8, 0.015, 0.004]]},
        {"n_classes": 2, "n": 10, "model": "lr", "bayes_error": 0.0095, "target": 0.0195, "m_star": 32,
         "curve": [[4, 0.3, 0.05], [16, 0.05, 0.01], [32, 0.018, 0.003]]},
    ]
}


@functools.lru_cache(maxsize=2)
def _records(quick: bool) -> tuple:
    """m* records of the grid (stored and resumed under results/nb_lr/ at full scale), computed once."""
    from theory.nb_lr.simulation import SimulationConfig, run_sample_complexity

    grid = QUICK_GRID if quick else FULL_GRID
    config = SimulationConfig(trials=grid["trials"], test_per_class=grid["test_per_class"])
    results = run_sample_complexity(grid["n_classes"], grid["ns"], config=config, store=not quick)
    out = []
    for r in results:
        curve = [[m, mean, float(np.std(errors))] for m, mean, errors in r.curve]
        out.append({"n_classes": r.n_classes, "n": r.n, "model": r.model, "bayes_error": r.bayes_error,
                    "target": r.target, "m_star": r.m_star, "curve": curve})
    return tuple(out)


def simulation_records(quick: bool) -> list[dict]:
    """Records shared by the curves and m* figures (one computation per process)."""
    return [dict(r) for r in _records(quick)]


def compute(quick: bool = True) -> dict:
    return {"records": simulation_records(quick)}


def make_figure(results):
    import matplotlib.pyplot as plt

    records = results["records"]
    Ks = sorted({r["n_classes"] for r in records})
    ns = sorted({r["n"] for r in records})
    fig, axes = plt.subplots(len(Ks), len(ns), figsize=(2.6 * len(ns), 2.1 * len(Ks)), squeeze=False,
                             sharey=True, constrained_layout=True)
    colours = {"nb": "tab:blue", "lr": "tab:red"}
    names = {"nb": "naive Bayes", "lr": "logistic regression"}
    for r in records:
        ax = axes[Ks.index(r["n_classes"])][ns.index(r["n"])]
        m, mean, std = zip(*sorted((c[0], c[1], c[2]) for c in r["curve"]))
        ax.errorbar(m, mean, yerr=std, marker="o", color=colours[r["model"]], label=names[r["model"]], capsize=2)
        if r["m_star"] is not None:
            ax.axvline(r["m_star"], color=colours[r["model"]], alpha=0.4, linestyle=":")
        ax.axhline(r["target"], color="k", linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_title(f"K={r['n_classes']}, n={r['n']}", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("training size m")
    for row in axes:
        row[0].set_ylabel("test error")
    axes[0][0].legend(fontsize=7)
    return fig
