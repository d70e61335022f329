"""Inductive bias against input dimension: the resumable sweep behind ``figures/fig_inductive_bias_dimension.py``.

Paper: Akhilan Boopathy, William Yue, Jaedong Hwang, Abhiram Iyer, Ila Fiete, "Towards Exact
Computation of Inductive Bias", IJCAI 2024 (arXiv 2406.15941): higher-dimensional tasks need more
inductive bias.  For each input dimension d and task seed s, a synthetic classification task
(:func:`~theory.inductive_bias.tasks.synthetic_classification` with ``rng=s``), the noise-free RBF
GP posterior, and the exact I(eps) = -log2 P(test loss <= eps) at every eps
(:meth:`~theory.inductive_bias.gen_chi2.GeneralizedChi2.bits`); for seed 0 also the paper's ncx2
estimate from ``n_samples`` sampled losses (``rng=s``).  Every (d, s) is one task of
:func:`theory._sweep.map_tasks`, appended to ``dimension_sweep.jsonl`` under
``theory._io.results_dir("inductive_bias")`` as it completes; a rerun reuses what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kernels.validation import check_positive, check_positive_int
from theory import _io
from theory._sweep import Task, map_tasks

__all__ = ["DimensionSweepResult", "dimension_point", "dimension_sweep", "STORE_NAME"]

STORE_NAME = "dimension_sweep.jsonl"


@dataclass(frozen=True)
class DimensionSweepResult:
    """Exact bits per dimension (min, mean, max over task seeds) and the ncx2 estimate (seed 0).

    Attributes
    ----------
    dims : list of int
        Input dimensions.
    eps : list of float
        Test-loss levels.
    exact : dict
        ``exact[str(eps)][i] = [min, mean, max]`` of the exact bits at ``dims[i]`` over the seeds.
    ncx2 : dict
        ``ncx2[str(eps)][i]``: the paper's fitted-ncx2 estimate at ``dims[i]``, task seed 0.
    records : list of dict
        The stored per-(dim, seed) records.
    """

    dims: list
    eps: list
    exact: dict
    ncx2: dict
    records: list

    def as_dict(self) -> dict:
        """JSON-serialisable summary (without the records), the figure's input."""
        return {"dims": list(self.dims), "eps": list(self.eps), "exact": self.exact, "ncx2": self.ncx2}


def dimension_point(*, dim: int, seed: int, eps: list, n_train: int, n_test: int, n_samples: int) -> dict:
    """One (dimension, seed) configuration: exact bits at each eps, and the ncx2 estimate for seed 0."""
    from theory.inductive_bias.estimators import fit_ncx2
    from theory.inductive_bias.gen_chi2 import LN2
    from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution, sample_losses
    from theory.inductive_bias.tasks import synthetic_classification

    task = synthetic_classification(dim, n_train=n_train, n_test=n_test, rng=seed)
    post = gp_posterior(task.x_train, task.y_train, task.x_test)
    dist = loss_distribution(post, task.y_test)
    bits = {str(e): dist.bits(e) for e in eps}
    record = {"dim": dim, "seed": seed, "n_train": n_train, "n_test": n_test, "n_samples": n_samples,
              "exact": {e: b.bits for e, b in bits.items()}, "exact_error": {e: b.bits_error for e, b in bits.items()}}
    if seed == 0:
        fit = fit_ncx2(sample_losses(post, task.y_test, n_samples, rng=seed))
        record["ncx2"] = {str(e): -fit.log_cdf(e)[0] / LN2 for e in eps}
    return record


def _key(record: dict) -> tuple:
    return (record["dim"], record["seed"], record.get("n_train", 100), record.get("n_test", 50),
            record["n_samples"], tuple(sorted(record["exact"])))


def dimension_sweep(dims, seeds: int, eps, *, n_train: int = 100, n_test: int = 50, n_samples: int = 2000,
                    executor=None, results=None, progress: bool = True) -> DimensionSweepResult:
    """Run (or resume) the dimension sweep.

    Parameters
    ----------
    dims : sequence of int
        Input dimensions.
    seeds : int
        Task seeds 0 .. seeds - 1 per dimension.
    eps : sequence of float
        Test-loss levels.
    n_train, n_test, n_samples : int
        Task sizes and the number of sampled losses for the ncx2 estimate.
    executor : concurrent.futures.Executor, optional
        Where the configurations run (:func:`theory._sweep.map_tasks`); None runs them here.
    results : path-like, optional
        Folder of the store (default ``theory._io.results_dir("inductive_bias")``).
    """
    dims = [check_positive_int(d, "dims") for d in dims]
    seeds = check_positive_int(seeds, "seeds")
    eps = [check_positive(e, "eps") for e in eps]
    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    n_samples = check_positive_int(n_samples, "n_samples")
    store = Path(_io.results_dir("inductive_bias", results)) / STORE_NAME
    eps_key = tuple(sorted(str(e) for e in eps))
    done = {_key(r): r for r in _io.read_jsonl(store)}
    tasks, records = [], {}
    for dim in dims:
        for seed in range(seeds):
            key = (dim, seed, n_train, n_test, n_samples, eps_key)
            if key in done:
                records[(dim, seed)] = done[key]
            else:
                tasks.append(Task(key, dimension_point, {"dim": dim, "seed": seed, "eps": eps, "n_train": n_train,
                                                         "n_test": n_test, "n_samples": n_samples}))
    for task, record in zip(tasks, map_tasks(tasks, executor=executor, desc="inductive bias vs dimension",
                                             on_result=lambda t, r: _io.append_jsonl(store, r), progress=progress)):
        records[(task.kwargs["dim"], task.kwargs["seed"])] = record
    return _summarise(dims, seeds, eps, records)


def _summarise(dims, seeds, eps, records) -> DimensionSweepResult:
    exact, ncx2 = {}, {}
    for e in eps:
        key = str(e)
        per_dim = [[records[(d, s)]["exact"][key] for s in range(seeds)] for d in dims]
        exact[key] = [[float(np.min(v)), float(np.mean(v)), float(np.max(v))] for v in per_dim]
        ncx2[key] = [records[(d, 0)]["ncx2"][key] for d in dims]
    ordered = [records[(d, s)] for d in dims for s in range(seeds)]
    return DimensionSweepResult(dims=list(dims), eps=list(eps), exact=exact, ncx2=ncx2, records=ordered)
