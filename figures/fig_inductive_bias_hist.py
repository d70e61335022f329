"""Test-loss histogram of GP-posterior interpolants with the exact density and the fitted ncx2 density.

Boopathy, Yue, Hwang, Iyer, Fiete, "Towards Exact Computation of Inductive Bias", IJCAI 2024,
arXiv 2406.15941.  Left: sampled test losses (theory.inductive_bias.gp_hypotheses.sample_losses) of noise-free
GP-posterior interpolants on a synthetic task (d = 16, 100 training / 50 test points), the exact
generalised chi-squared density (theory.inductive_bias.gen_chi2, Fourier inversion), exact lower tail with error bounds and the paper's fitted scaled
ncx2 density.  Right: the lower tail, log10 P(loss <= eps), exact against the ncx2 fit and the
empirical CDF: where they part is the estimator's bias.
"""

from __future__ import annotations

import numpy as np

QUICK = {"dim": 16, "n_samples": 20_000, "grid": 60}
FULL = {"dim": 16, "n_samples": 200_000, "grid": 150}

TINY = {
    "edges": [0.0, 1.0, 2.0, 3.0],
    "density": [0.2, 0.5, 0.3],
    "grid": [0.5, 1.5, 2.5],
    "exact_pdf": [0.25, 0.5, 0.25],
    "ncx2_pdf": [0.2, 0.55, 0.25],
    "tail_eps": [0.5, 1.0, 1.5],
    "tail_exact": [-6.0, -3.0, -1.0],
    "tail_ncx2": [-5.5, -2.9, -1.0],
    "tail_empirical": [None, -3.1, -1.0],
    "n_samples": 10,
}


def compute(quick: bool = True) -> dict:
    from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution, sample_losses
    from theory.inductive_bias.tasks import synthetic_classification
    from theory.inductive_bias.estimators import fit_ncx2

    p = QUICK if quick else FULL
    task = synthetic_classification(p["dim"], n_train=100, n_test=50, rng=0)
    post = gp_posterior(task.x_train, task.y_train, task.x_test)
    dist = loss_distribution(post, task.y_test)
    losses = np.sort(np.asarray(sample_losses(post, task.y_test, p["n_samples"], rng=0)))
    fit = fit_ncx2(losses)
    density, edges = np.histogram(losses, bins=60, density=True)
    sd = np.sqrt(dist.variance)
    grid = np.linspace(max(dist.minimum, dist.mean - 4 * sd), dist.mean + 5 * sd, p["grid"])
    tail_eps = np.linspace(max(dist.minimum, dist.mean - 6 * sd) + 1e-6, dist.mean, 30)
    empirical = np.searchsorted(losses, tail_eps, side="right") / losses.size
    return {
        "edges": edges.tolist(),
        "density": density.tolist(),
        "grid": grid.tolist(),
        "exact_pdf": [dist.pdf(x) for x in grid],
        "ncx2_pdf": fit.pdf(grid).tolist(),
        "tail_eps": tail_eps.tolist(),
        "tail_exact": [dist.logcdf(e) / np.log(10) for e in tail_eps],
        "tail_ncx2": [fit.log_cdf(e)[0] / np.log(10) for e in tail_eps],
        "tail_empirical": [float(np.log10(v)) if v > 0 else None for v in empirical],
        "n_samples": int(losses.size),
    }


def make_figure(results):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.6), constrained_layout=True)
    edges = np.asarray(results["edges"])
    left.stairs(results["density"], edges, fill=True, alpha=0.35, color="tab:gray",
                label=f"{results['n_samples']} sampled interpolants")
    left.plot(results["grid"], results["exact_pdf"], color="tab:blue", label="exact (generalised chi-squared)")
    left.plot(results["grid"], results["ncx2_pdf"], color="tab:red", linestyle="--", label="fitted scaled ncx2")
    left.set_xlabel("test loss")
    left.set_ylabel("density")
    left.legend(fontsize=7)
    right.plot(results["tail_eps"], results["tail_exact"], color="tab:blue", label="exact")
    right.plot(results["tail_eps"], results["tail_ncx2"], color="tab:red", linestyle="--", label="ncx2 fit")
    emp = [(e, v) for e, v in zip(results["tail_eps"], results["tail_empirical"]) if v is not None]
    if emp:
        right.plot(*zip(*emp), color="tab:gray", marker=".", linestyle="none", label="empirical")
    right.set_xlabel("eps")
    right.set_ylabel("log10 P(loss <= eps)")
    right.legend(fontsize=7)
    return fig
