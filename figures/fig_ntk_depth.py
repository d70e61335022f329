"""Agreement of deep kernel classifiers with their infinite-depth limits, as a function of depth.

Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for classification"
(PNAS 2023; arXiv 2204.14126): ReLU tends to majority vote, the xi^2 dual to 1-NN, and the d_opt duals
to the Hilbert kernel rule.  Each panel shows the fraction of test points on which the depth-L
interpolating classifier agrees with 1-NN, majority vote and the Hilbert rule (log depth axis).
"""

from __future__ import annotations

PANELS = ("relu_ntk", "xi2_nngp", "d_opt_nngp")  # theory.ntk.sweeps.PANELS
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
    """The depth sweep of :func:`theory.ntk.sweeps.depth_sweep` (stored under ``results_dir("ntk")``)."""
    from theory.ntk.sweeps import depth_sweep

    return depth_sweep(quick)


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
