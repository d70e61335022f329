"""Agreement of deep kernel classifiers with their infinite-depth limits, as a function of depth.

Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification"
(PNAS 2023; arXiv 2204.14126): ReLU tends to majority vote, the xi^2 dual to 1-NN, and the d_opt duals
to the Hilbert kernel rule.  Each panel shows the fraction of test points on which the depth-L
interpolating classifier agrees with 1-NN, majority vote and the Hilbert rule (log depth axis).
"""

from __future__ import annotations

import sys

import numpy as np

PANELS = ("relu_ntk", "xi2_nngp", "d_opt_nngp")
TITLES = {
    "relu_ntk": "ReLU, NTK (d = 2, 40/60 split)",
    "xi2_nngp": r"$\xi^2$ dual, NNGP (d = 5)",
    "d_opt_nngp": "d_opt duals, NNGP",
}

TINY = {
    "relu_ntk": {"depths": [10, 1000, 50000], "agreement": {"1-NN": [1.0, 0.94, 0.7], "majority vote": [0.65, 0.7, 0.98]}},
    "xi2_nngp": {"depths": [2, 6, 15], "agreement": {"1-NN": [0.8, 0.95, 1.0]}},
    "d_opt_nngp": {"depths": [1, 10, 100], "agreement": {"Hilbert d=2": [0.9, 0.97, 0.998], "Hilbert d=5": [0.8, 0.95, 1.0]}},
}


def compute(quick: bool = True) -> dict:
    from tqdm.auto import tqdm

    from kernels.ntk.baselines import (
        agreement,
        hilbert_kernel_predict,
        majority_vote_predict,
        one_nn_predict,
        sample_dirichlet_sphere,
    )
    from kernels.ntk.classifiers import deep_kernel_predict

    results = {}
    bar = tqdm(total=3, desc="fig_ntk_depth", disable=None, file=sys.stderr)

    x_tr, y_tr = sample_dirichlet_sphere(100, 2, seed=1001, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(500, 2, seed=2001)
    depths = [1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000, 200000]
    if quick:
        depths = [1, 10, 100, 1000, 10000, 50000, 200000]
    majority, nn = majority_vote_predict(y_tr, 500), one_nn_predict(x_tr, y_tr, x_te)
    curves = {"1-NN": [], "majority vote": []}
    for depth in depths:
        pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=depth, kernel="ntk")
        curves["1-NN"].append(agreement(pred, nn))
        curves["majority vote"].append(agreement(pred, majority))
    results["relu_ntk"] = {"depths": depths, "agreement": curves}
    bar.update()

    rng = np.random.default_rng(1)
    x_tr, y_tr = sample_dirichlet_sphere(500, 5, seed=rng)
    x_te, _ = sample_dirichlet_sphere(500, 5, seed=rng)
    nn = one_nn_predict(x_tr, y_tr, x_te)
    depths = [1, 2, 3, 4, 6, 8, 10, 15, 20, 30]
    curves = {"1-NN": []}
    for depth in depths:
        pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="hermite_2", depth=depth, kernel="nngp")
        curves["1-NN"].append(agreement(pred, nn))
    results["xi2_nngp"] = {"depths": depths, "agreement": curves}
    bar.update()

    n = 500 if quick else 2000
    depths = [1, 3, 10, 30, 100, 200]
    curves = {}
    for d in (2, 3, 5):
        rng = np.random.default_rng([0, d])
        x_tr, y_tr = sample_dirichlet_sphere(n, d, seed=rng)
        x_te, _ = sample_dirichlet_sphere(n, d, seed=rng)
        hilbert = hilbert_kernel_predict(x_tr, y_tr, x_te)
        curves[f"Hilbert d={d}"] = [
            agreement(deep_kernel_predict(x_tr, y_tr, x_te, dual=f"{d}d_opt", depth=L, kernel="nngp"), hilbert)
            for L in depths
        ]
    results["d_opt_nngp"] = {"depths": depths, "agreement": curves}
    bar.update()
    bar.close()
    return results


def make_figure(results):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12.0, 3.6), sharey=True)
    for ax, key in zip(axes, PANELS):
        panel = results[key]
        for label, values in panel["agreement"].items():
            ax.plot(panel["depths"], values, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("depth L")
        ax.set_title(TITLES[key])
        ax.legend(loc="lower right")
    axes[0].set_ylabel("agreement on test points")
    axes[0].set_ylim(0.4, 1.02)
    fig.tight_layout()
    return fig
