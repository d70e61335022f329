"""Inductive bias versus input dimension (RBF-kernel hypothesis space, exact and ncx2-estimated).

Boopathy, Yue, Hwang, Iyer, Fiete, "Towards Exact Computation of Inductive Bias", IJCAI 2024,
arXiv 2406.15941: higher-dimensional tasks need more inductive bias.  Synthetic classification
tasks of input dimension d (theory.inductive_bias.tasks.synthetic_classification, 100 training and 50 test
points, 2 classes); exact I(eps) = -log2 P(test loss <= eps) of noise-free GP-posterior interpolants
(theory.inductive_bias.estimators.exact_inductive_bias), mean and range over task seeds, at two eps; the
paper's ncx2 estimate from sampled losses for comparison.  Each (d, seed) is appended to
results/inductive_bias/dimension_sweep.jsonl and reused on the next run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

QUICK = {"dims": [8, 16, 32, 64, 128], "seeds": 3, "eps": [0.4, 0.5], "n_samples": 2000}
FULL = {"dims": [8, 16, 32, 64, 128, 256], "seeds": 10, "eps": [0.4, 0.5], "n_samples": 10_000}
N_TRAIN, N_TEST = 100, 50
STORE = Path("results/inductive_bias/dimension_sweep.jsonl")

TINY = {
    "dims": [8, 16, 32],
    "eps": [0.4, 0.5],
    "exact": {"0.4": [[2.0, 10.0, 20.0], [12.0, 14.0, 16.0], [18.0, 20.0, 24.0]],
              "0.5": [[0.5, 3.0, 6.0], [4.0, 5.0, 6.0], [8.0, 9.0, 11.0]]},
    "ncx2": {"0.4": [9.0, 13.0, 19.0], "0.5": [2.8, 4.9, 8.7]},
}


def _one(dim: int, seed: int, eps_values, n_samples: int) -> dict:
    from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution, sample_losses
    from theory.inductive_bias.tasks import synthetic_classification
    from theory.inductive_bias.estimators import fit_ncx2

    task = synthetic_classification(dim, n_train=N_TRAIN, n_test=N_TEST, seed=seed)
    post = gp_posterior(task.x_train, task.y_train, task.x_test)
    dist = loss_distribution(post, task.y_test)
    record = {"dim": dim, "seed": seed, "n_samples": n_samples,
              "exact": {str(e): dist.bits(e).bits for e in eps_values}}
    if seed == 0:
        fit = fit_ncx2(sample_losses(post, task.y_test, n_samples, rng=seed))
        record["ncx2"] = {str(e): -fit.log_cdf(e)[0] / np.log(2.0) for e in eps_values}
    return record


def compute(quick: bool = True) -> dict:
    from tqdm.auto import tqdm

    grid = QUICK if quick else FULL
    done = {}
    if STORE.exists():
        for line in STORE.read_text().splitlines():
            r = json.loads(line)
            done[(r["dim"], r["seed"], r["n_samples"], tuple(sorted(r["exact"])))] = r
    STORE.parent.mkdir(parents=True, exist_ok=True)
    eps_key = tuple(sorted(str(e) for e in grid["eps"]))
    configs = [(d, s) for d in grid["dims"] for s in range(grid["seeds"])]
    records = {}
    for dim, seed in tqdm(configs, desc="inductive bias vs dimension", disable=None, file=sys.stderr):
        key = (dim, seed, grid["n_samples"], eps_key)
        if key not in done:
            done[key] = _one(dim, seed, grid["eps"], grid["n_samples"])
            with STORE.open("a") as fh:
                fh.write(json.dumps(done[key]) + "\n")
        records[(dim, seed)] = done[key]
    out = {"dims": grid["dims"], "eps": grid["eps"], "exact": {}, "ncx2": {}}
    for e in grid["eps"]:
        key = str(e)
        out["exact"][key] = [
            [float(np.min(v)), float(np.mean(v)), float(np.max(v))]
            for v in ([records[(d, s)]["exact"][key] for s in range(grid["seeds"])] for d in grid["dims"])
        ]
        out["ncx2"][key] = [records[(d, 0)]["ncx2"][key] for d in grid["dims"]]
    return out


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
