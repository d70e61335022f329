"""Naive Bayes vs logistic regression learning curves on scikit-learn's digits, wine and breast cancer.

Zheng et al., "Revisiting Discriminative vs. Generative Classifiers: Theory and Implications", ICML 2023,
arXiv 2302.02334 (the two regimes); computed by :func:`theory.nb_lr.real_data.real_learning_curves`.
"""

from __future__ import annotations

TINY = {
    "curves": [
        {"dataset": "wine", "n_features": 13, "n_classes": 3, "pool_size": 124, "sizes": [6, 20, 124],
         "nb_mean": [0.2, 0.06, 0.05], "nb_std": [0.05, 0.02, 0.01],
         "lr_mean": [0.25, 0.08, 0.02], "lr_std": [0.05, 0.02, 0.01]}
    ]
}


def compute(quick: bool = True) -> dict:
    from dataclasses import asdict

    import numpy as np

    from theory.nb_lr.real_data import REAL_DATASETS, real_learning_curves

    trials = 3 if quick else 20
    seeds = [np.random.SeedSequence([0, i]) for i in range(len(REAL_DATASETS))]  # one stream per data set
    return {"curves": [asdict(real_learning_curves(name, trials=trials, rng=seed))
                       for name, seed in zip(REAL_DATASETS, seeds)]}


def make_figure(results):
    import matplotlib.pyplot as plt

    curves = results["curves"]
    fig, axes = plt.subplots(1, len(curves), figsize=(3.3 * len(curves), 3.0), squeeze=False,
                             constrained_layout=True)
    for ax, c in zip(axes[0], curves):
        for model, colour, label in (("nb", "tab:blue", "naive Bayes"), ("lr", "tab:red", "logistic regression")):
            ax.errorbar(c["sizes"], c[f"{model}_mean"], yerr=c[f"{model}_std"], marker="o", color=colour,
                        label=label, capsize=2)
        ax.set_xscale("log")
        ax.set_title(f"{c['dataset']} (n={c['n_features']}, K={c['n_classes']})")
        ax.set_xlabel("training size m")
    axes[0][0].set_ylabel("test error")
    axes[0][0].legend(fontsize=8)
    return fig
