"""Inductive bias versus input dimension (RBF-kernel hypothesis space, exact and ncx2-estimated).

Boopathy, Yue, Hwang, Iyer, Fiete, "Towards Exact Computation of Inductive Bias", IJCAI 2024,
arXiv 2406.15941: higher-dimensional tasks need more inductive bias.  Synthetic classification
tasks of input dimension d (theory.inductive_bias.tasks.synthetic_classification, 100 training and 50 test
points, 2 classes); exact I(eps) = -log2 P(test loss <= eps) of noise-free GP-posterior interpolants
(theory.inductive_bias.estimators.exact_inductive_bias), mean and range over task seeds, at two eps; the
paper's ncx2 estimate from sampled losses for comparison.  The sweep is
theory.inductive_bias.sweeps.dimension_sweep (resumable, results under theory._io.results_dir("inductive_bias")).
"""

from __future__ import annotations

import numpy as np

QUICK = {"dims": [8, 16, 32, 64, 128], "seeds": 3, "eps": [0.4, 0.5], "n_samples": 2000}
FULL = {"dims": [8, 16, 32, 64, 128, 256], "seeds": 10, "eps": [0.4, 0.5], "n_samples": 10_000}
N_TRAIN, N_TEST = 100, 50

TINY = {
    "dims": [8, 16, 32],
    "eps": [0.4, 0.5],
    "exact": {"0.4": [[2.0, 10.0, 20.0], [12.0, 14.0, 16.0], [18.0, 20.0, 24.0]],
              "0.5": [[0.5, 3.0, 6.0], [4.0, 5.0, 6.0], [8.0, 9.0, 11.0]]},
    "ncx2": {"0.4": [9.0, 13.0, 19.0], "0.5": [2.8, 4.9, 8.7]},
}


def compute(quick: bool = True) -> dict:
    from theory.inductive_bias.sweeps import dimension_sweep

    grid = QUICK if quick else FULL
    result = dimension_sweep(grid["dims"], grid["seeds"], grid["eps"], n_train=N_TRAIN, n_test=N_TEST,
                             n_samples=grid["n_samples"])
    return result.as_dict()


def make_figure(results):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(constrained_layout=True)
    dims = results["dims"]
    for colour, eps in zip(("tab:blue", "tab:red", "tab:green"), results["eps"]):
        lo, mean, hi = np.array(results["exact"][str(eps)]).T
        ax.plot(dims, mean, marker="o", color=colour, label=f"exact, eps={eps} (mean over seeds)")
        ax.fill_between(dims, lo, hi, color=colour, alpha=0.15)
        ax.plot(dims, results["ncx2"][str(eps)], marker="x", linestyle="--", color=colour,
                label=f"ncx2 estimate, eps={eps} (seed 0)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("inductive bias I(eps) [bits]")
    ax.set_title("RBF-kernel interpolants: higher dimension needs more bias")
    ax.legend(fontsize=7)
    return fig
