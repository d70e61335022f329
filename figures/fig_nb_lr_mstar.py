"""m* (samples to reach the Bayes error + 0.01) versus dimension n, with fits against log n and n.

Zheng et al., "Revisiting Discriminative vs. Generative Classifiers: Theory and Implications", ICML 2023,
arXiv 2302.02334: naive Bayes' m* grows like log n, logistic regression's like n.  Uses the same runs as
``fig_nb_lr_curves`` (stored under results/nb_lr/ at full scale).
"""

from __future__ import annotations

import numpy as np

from figures.fig_nb_lr_curves import simulation_records

TINY = {
    "records": [
        {"n_classes": 2, "n": n, "model": model, "m_star": m}
        for model, ms in (("nb", (6, 8, 9)), ("lr", (40, 90, 170)))
        for n, m in zip((10, 20, 40), ms)
    ]
}


def compute(quick: bool = True) -> dict:
    return {"records": [{k: r[k] for k in ("n_classes", "n", "model", "m_star")} for r in simulation_records(quick)]}


def _fit(x, y):
    A = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1 - np.sum((y - A @ coef) ** 2) / total if total > 0 else float("nan")
    return coef, r2


def make_figure(results):
    import matplotlib.pyplot as plt

    records = [r for r in results["records"] if r["m_star"] is not None]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, model, title in zip(axes, ("nb", "lr"), ("naive Bayes", "logistic regression")):
        for i, K in enumerate(sorted({r["n_classes"] for r in records})):
            pts = sorted((r["n"], r["m_star"]) for r in records if r["model"] == model and r["n_classes"] == K)
            if not pts:
                continue
            n, m = (np.asarray(v, dtype=float) for v in zip(*pts))
            colour = f"C{i}"
            ax.plot(n, m, "o", color=colour, label=f"K={K}")
            if n.size >= 2:
                grid = np.linspace(n.min(), n.max(), 100)
                (a, b), r2_log = _fit(np.log(n), m)
                ax.plot(grid, a + b * np.log(grid), "--", color=colour, linewidth=1,
                        label=f"  a+b ln n, R²={r2_log:.2f}")
                (a, b), r2_lin = _fit(n, m)
                ax.plot(grid, a + b * grid, ":", color=colour, linewidth=1, label=f"  a+b n, R²={r2_lin:.2f}")
        ax.set_title(title)
        ax.set_xlabel("dimension n")
        ax.set_ylabel("m*")
        ax.legend(fontsize=6, ncol=2)
    return fig
