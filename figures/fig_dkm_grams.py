"""Learned DKM Gram matrices beside the NNGP's, for one split of the yacht data set.

Paper: Yang, Robeyns, Milsom, Anson, Schoots, Aitchison, "A theory of representation learning gives
a deep generalisation of kernel methods", ICML 2023, arXiv 2108.13097.  The NNGP fixes
G_l = K(G_(l-1)); the DKM learns G_l, trading the likelihood against nu KL(N(0,G_l) || N(0,K(G_(l-1)))).
Points are ordered by their target so that learned structure is visible.
"""

from __future__ import annotations

import numpy as np

TINY = {
    "dataset": "toy",
    "nngp": [np.eye(4).tolist(), (np.eye(4) + 0.1).tolist()],
    "dkm": [(np.eye(4) * 1.2).tolist(), (np.eye(4) + 0.3).tolist()],
    "nu": 10.0,
}


def compute(quick: bool = True, n_show: int = 80) -> dict:
    import math

    from kernels.dkm import DeepKernelMachine
    from theory.dkm.uci import load_split

    X_train, y_train, _, _, _ = load_split("yacht", 0)
    nngp = DeepKernelMachine(depth=2, nu=math.inf, tol=1e-4).fit(X_train, y_train)
    dkm = DeepKernelMachine(depth=2, nu=10.0, kernel=nngp.kernels_, noise_var=nngp.noise_var_, learn_kernel=False,
                            learn_noise=False, tol=1e-4, max_iter=150 if quick else 1000).fit(X_train, y_train)
    order = np.argsort(y_train)[np.linspace(0, len(y_train) - 1, n_show).astype(int)]
    pick = np.ix_(order, order)
    return {"dataset": "yacht (split 0)", "nu": 10.0,
            "nngp": [np.asarray(g)[pick].tolist() for g in nngp.grams_],
            "dkm": [np.asarray(g)[pick].tolist() for g in dkm.grams_]}


def make_figure(results):
    import matplotlib.pyplot as plt

    L = len(results["nngp"])
    fig, axes = plt.subplots(2, L, figsize=(3.0 * L + 0.6, 6.0), squeeze=False)
    for l in range(L):
        for row, (name, label) in enumerate((("nngp", "NNGP"), ("dkm", f"DKM, nu = {results['nu']:g}"))):
            G = np.asarray(results[name][l])
            ax = axes[row][l]
            image = ax.imshow(G, cmap="viridis")
            ax.set_title(f"{label}: G_{l + 1}")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(f"Gram matrices, {results['dataset']}, points sorted by target")
    fig.tight_layout()
    return fig
