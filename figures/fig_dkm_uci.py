"""Test log-likelihood of the DKM against the NNGP and a GP on UCI regression, with standard errors.

Paper: Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives
a deep generalisation of kernel methods", ICML 2023, arXiv 2108.13097.  Results come from
:mod:`theory.dkm.uci` (``results/dkm_uci/*.jsonl``); when none are stored, the quick computation
runs two splits of yacht.
"""

from __future__ import annotations

LABELS = {"gp": "GP (L = 0)", "nngp": "NNGP (nu = inf)", "dkm": "DKM"}

TINY = {
    "summary": {
        "yacht": {"gp": {"test_ll": [-0.3, 0.1, 2], "rmse": [0.6, 0.1, 2]},
                  "nngp": {"test_ll": [-0.2, 0.1, 2], "rmse": [0.5, 0.1, 2]},
                  "dkm": {"test_ll": [-0.5, 0.2, 2], "rmse": [0.4, 0.1, 2]}},
        "energy": {"gp": {"test_ll": [-1.4, 0.1, 2], "rmse": [0.9, 0.1, 2]},
                   "nngp": {"test_ll": [-1.9, 0.1, 2], "rmse": [1.5, 0.1, 2]},
                   "dkm": {"test_ll": [-1.6, 0.2, 2], "rmse": [0.5, 0.1, 2]}},
    }
}


def compute(quick: bool = True) -> dict:
    from theory.dkm.uci import SMALL, load_uci_results, run, summarise

    records = load_uci_results()
    if not records:
        records = run(("yacht",) if quick else SMALL, splits=range(2) if quick else None)
    return {"summary": summarise(records)}


def make_figure(results):
    import matplotlib.pyplot as plt
    import numpy as np

    summary = results["summary"]
    datasets = sorted(summary)
    fig, axes = plt.subplots(1, len(datasets), figsize=(2.6 * len(datasets) + 0.5, 3.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        models = [m for m in ("gp", "nngp", "dkm") if m in summary[dataset]]
        means = [summary[dataset][m]["test_ll"][0] for m in models]
        errors = [summary[dataset][m]["test_ll"][1] for m in models]
        errors = [0.0 if not np.isfinite(e) else e for e in errors]
        # points with error bars, not bars from zero: the axis then zooms on the differences
        for i, (mean, err, colour) in enumerate(zip(means, errors, ["0.4", "tab:blue", "tab:orange"])):
            ax.errorbar([i], [mean], yerr=[err], fmt="o", color=colour, capsize=4, markersize=6)
        ax.set_xlim(-0.5, len(models) - 0.5)
        ax.set_xticks(range(len(models)), [LABELS[m] for m in models], rotation=30, ha="right")
        n = summary[dataset][models[0]]["test_ll"][2]
        ax.set_title(f"{dataset} ({n} splits)")
    axes[0][0].set_ylabel("test log-likelihood (mean ± s.e.)")
    fig.tight_layout()
    return fig
