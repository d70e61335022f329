"""UCI regression with deep kernel machines, against a GP and the NNGP.

Paper: Adam X. Yang, Maxime Robeyns, Edward Milsom, Ben Anson, Nandi Schoots, Laurence Aitchison,
"A theory of representation learning gives a deep generalisation of kernel methods", ICML 2023,
arXiv 2108.13097.  The paper's message: learning the intermediate Gram matrices (finite nu) helps
over the NNGP (nu = inf), where representations are fixed.

Protocol (the standard splits of data_dir()/uci, Hernandez-Lobato and Adams 2015): inputs and
targets standardised with training statistics; models

* ``gp``   : depth 0 (a GP with the base squared-exponential kernel), hyperparameters and noise by
             maximum marginal likelihood;
* ``nngp`` : depth L with nu = inf, hyperparameters and noise by maximum marginal likelihood;
* ``dkm``  : depth L with finite nu, Grams learned with the NNGP's hyperparameters and noise held
             fixed (learning the noise together with the Grams drives it to zero).

Full models when the training set has at most ``full_max`` points, else the inducing-point
versions with M points (the same approximation for all three models of a data set).  Test RMSE and
mean test log-likelihood are reported in the original units (log-likelihood minus log std(y)).
Two tasks per (dataset, split) (:func:`fit_split`): the baselines (GP, NNGP), then the DKM from the
stored NNGP fit; run through :func:`theory._sweep.map_tasks` on any executor, their records are
appended per model to ``<results>/dkm_uci/<dataset>.jsonl`` as each task completes, and a rerun skips
what is there.
"""

from __future__ import annotations

import math
import time

import numpy as np

from theory import _io
from theory._io import data_path
from kernels.dkm import DeepKernelMachine

__all__ = ["DATASETS", "SMALL", "UCI_MODELS", "load_split", "fit_models", "fit_split", "run", "load_uci_results",
           "summarise", "markdown_table", "converged_counts"]

DATASETS = ("yacht", "energy", "concrete", "wine-quality-red", "kin8nm", "power-plant",
            "naval-propulsion-plant", "protein-tertiary-structure")
SMALL = ("yacht", "energy", "concrete", "wine-quality-red")
UCI_MODELS = ("gp", "nngp", "dkm")
RESULTS_TOPIC = "dkm_uci"


def n_splits(dataset: str) -> int:
    return int(data_path("uci", dataset, "n_splits.txt").read_text().split()[0])


def load_split(dataset: str, split: int):
    """(X_train, y_train, X_test, y_test, y_std) standardised with the training statistics."""
    folder = data_path("uci", dataset)
    data = np.loadtxt(folder / "data.txt")
    features = np.atleast_1d(np.loadtxt(folder / "index_features.txt", dtype=int))
    target = int(np.loadtxt(folder / "index_target.txt"))
    train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=int)
    test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=int)
    X, y = data[:, features], data[:, target]
    x_mean, x_std = X[train].mean(axis=0), X[train].std(axis=0)
    x_std = np.where(x_std > 0, x_std, 1.0)  # constant columns stay zero
    y_mean, y_std = y[train].mean(), y[train].std()
    return ((X[train] - x_mean) / x_std, (y[train] - y_mean) / y_std,
            (X[test] - x_mean) / x_std, (y[test] - y_mean) / y_std, float(y_std))


def _metrics(model, X_test, y_test, y_std):
    mean = np.asarray(model.predict(X_test))
    rmse = float(np.sqrt(np.mean((mean - y_test) ** 2)) * y_std)
    return rmse, model.log_likelihood(X_test, y_test) - math.log(y_std)


def _kernel_record(kernel) -> dict:
    """A JSON-able description of a fitted kernel: its name in :data:`kernels.dkm.KERNELS` and parameters."""
    from dataclasses import fields

    from kernels.dkm.gram_kernels import KERNELS

    name = next(n for n, cls in KERNELS.items() if cls is type(kernel))
    return {"name": name, **{f.name: getattr(kernel, f.name) for f in fields(kernel) if f.init}}


def _kernel_from_record(record: dict):
    from kernels.dkm.gram_kernels import make_kernel

    params = dict(record)
    return make_kernel(params.pop("name"), **params)


def fit_models(X_train, y_train, *, depth=2, nu=10.0, n_inducing=None, tol=1e-4, max_iter=2000, models=UCI_MODELS,
               nngp_fit=None):
    """Fit the GP, NNGP and DKM of the protocol; returns {name: (model, seconds)}.

    ``nngp_fit`` = (kernels, noise variance) of an NNGP fitted before: the DKM then starts from them and the
    NNGP is not refitted (unless ``"nngp"`` is asked for).
    """
    out = {}
    common = dict(n_inducing=n_inducing, tol=tol)
    if "gp" in models:
        t = time.perf_counter()
        out["gp"] = (DeepKernelMachine(depth=0, max_iter=max_iter, **common).fit(X_train, y_train), time.perf_counter() - t)
    if "nngp" in models or ("dkm" in models and nngp_fit is None):
        t = time.perf_counter()
        nngp = DeepKernelMachine(depth=depth, nu=math.inf, max_iter=max_iter, **common).fit(X_train, y_train)
        out["nngp"] = (nngp, time.perf_counter() - t)
        nngp_fit = (nngp.kernels_, nngp.noise_var_)
    if "dkm" in models:
        t = time.perf_counter()
        dkm = DeepKernelMachine(depth=depth, nu=nu, kernel=list(nngp_fit[0]), noise_var=nngp_fit[1],
                                learn_kernel=False, learn_noise=False, max_iter=max_iter, **common)
        out["dkm"] = (dkm.fit(X_train, y_train), time.perf_counter() - t)
    return out


def _stored_nngp(out_dir, dataset: str, split: int):
    """(kernels, noise variance) of the NNGP stored for (dataset, split) under ``out_dir``, or None."""
    for record in _io.read_jsonl(_io.results_dir(RESULTS_TOPIC, out_dir) / f"{dataset}.jsonl"):
        if (record.get("split"), record.get("model")) == (split, "nngp") and "kernels" in record:
            return [_kernel_from_record(k) for k in record["kernels"]], float(record["noise_var"])
    return None


def fit_split(dataset: str, split: int, *, depth=2, nu=10.0, full_max=300, n_inducing=100, tol=1e-4,
              max_iter=2000, models=UCI_MODELS, out_dir=None) -> list[dict]:
    """One task of the sweep: the models of the protocol on one split; one record per model fitted.

    The DKM starts from the NNGP's hyperparameters: those stored under ``out_dir`` when there are (the
    sweep's baselines task has run, or an interrupted run is resumed), else a fresh NNGP fit, whose
    record is returned too.  NNGP records carry the fitted kernels and noise variance for that.
    BLAS runs on one thread inside the task (the matrices are small, and the sweep's parallelism is
    over tasks).
    """
    from threadpoolctl import threadpool_limits

    X_train, y_train, X_test, y_test, y_std = load_split(dataset, split)
    M = None if X_train.shape[0] <= full_max else n_inducing
    nngp_fit = _stored_nngp(out_dir, dataset, split) if "dkm" in models and "nngp" not in models else None
    with threadpool_limits(1):
        fitted = fit_models(X_train, y_train, depth=depth, nu=nu, n_inducing=M, tol=tol, max_iter=max_iter,
                            models=models, nngp_fit=nngp_fit)
        records = []
        for name, (model, seconds) in fitted.items():
            rmse, ll = _metrics(model, X_test, y_test, y_std)
            record = {"dataset": dataset, "split": split, "model": name, "rmse": rmse, "test_ll": ll,
                      "objective": model.objective_, "n_iter": model.n_iter_,
                      "converged": bool(model.converged_), "grad_norm": model.grad_norm_,
                      "seconds": seconds, "n_train": int(X_train.shape[0]), "n_inducing": M,
                      "depth": model.depth, "nu": None if name != "dkm" else nu}
            if name == "nngp":
                record.update(kernels=[_kernel_record(k) for k in model.kernels_], noise_var=float(model.noise_var_))
            records.append(record)
    return records


def _tasks(datasets, splits, done, options, out_dir):
    """Per (dataset, split) not yet stored: a baselines task (GP and NNGP, minutes at most) and a DKM task,
    all baselines first, so that the long DKM fits start from stored NNGP fits and an interruption during
    one loses nothing else; splits are the outer loop so that every data set gets its first splits early."""
    from theory._sweep import Task

    baselines, dkms = [], []
    for split in range(max(n_splits(d) for d in datasets)) if splits is None else splits:
        for dataset in datasets:
            if split >= n_splits(dataset):
                continue
            missing = tuple(m for m in ("gp", "nngp") if (dataset, split, m) not in done)
            if missing:
                baselines.append(Task((dataset, split, "baselines"), fit_split,
                                      dict(dataset=dataset, split=split, models=missing, **options)))
            if (dataset, split, "dkm") not in done:
                dkms.append(Task((dataset, split, "dkm"), fit_split,
                                 dict(dataset=dataset, split=split, models=("dkm",), out_dir=out_dir, **options)))
    return baselines + dkms


def run(datasets=SMALL, *, splits=None, out_dir=None, depth=2, nu=10.0, full_max=300, n_inducing=100,
        tol=1e-4, max_iter=2000, executor=None, progress=True) -> list[dict]:
    """Run (or resume) the protocol; returns every stored record.

    Parameters
    ----------
    datasets : sequence of str
        Names among :data:`DATASETS`.
    splits : iterable of int, optional
        Split indices (default: all of each data set).
    out_dir : path, optional
        Results folder (default :func:`theory._io.results_dir` of ``dkm_uci``); one JSONL file per
        data set, appended as each task completes, so a rerun resumes.
    executor : concurrent.futures.Executor, optional
        Where the tasks run (:func:`theory._sweep.map_tasks`); None runs them in this process.
    """
    from theory._sweep import completed_keys, map_tasks

    out_dir = _io.results_dir(RESULTS_TOPIC, out_dir)
    done = completed_keys(load_uci_results(out_dir), ("dataset", "split", "model"))
    options = dict(depth=depth, nu=nu, full_max=full_max, n_inducing=n_inducing, tol=tol, max_iter=max_iter)

    def store(task, records):
        for record in records:
            key = (record["dataset"], record["split"], record["model"])
            if key not in done:  # a DKM task that had to refit its NNGP returns it a second time
                _io.append_jsonl(out_dir / f"{record['dataset']}.jsonl", record)
                done.add(key)

    map_tasks(_tasks(datasets, splits, done, options, str(out_dir)), executor=executor, on_result=store,
              desc="dkm uci", progress=progress)
    return load_uci_results(out_dir)


def load_uci_results(out_dir=None) -> list[dict]:
    """Every stored record of the UCI sweep (a torn last line is skipped)."""
    records = []
    for path in sorted(_io.results_dir(RESULTS_TOPIC, out_dir).glob("*.jsonl")):
        records += _io.read_jsonl(path)
    return records


def summarise(records) -> dict:
    """{dataset: {model: {metric: (mean, standard error, n)}}} over the splits present for all models, and
    under "converged" (fits that met the gradient tolerance, n) over the same splits."""
    by = {}
    for r in records:
        by.setdefault(r["dataset"], {}).setdefault(r["model"], {})[r["split"]] = r
    out = {}
    for dataset, models in by.items():
        common = set.intersection(*(set(v) for v in models.values()))
        out[dataset] = {}
        for model, rows in models.items():
            stats = {}
            for metric in ("rmse", "test_ll"):
                values = np.array([rows[s][metric] for s in sorted(common)])
                se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else float("nan")
                stats[metric] = (float(values.mean()) if values.size else float("nan"), se, int(values.size))
            stats["converged"] = (sum(bool(rows[s].get("converged")) for s in common), len(common))
            out[dataset][model] = stats
    return out


def markdown_table(summary) -> str:
    lines = ["| data set | splits | model | converged | test RMSE | test log-likelihood |", "|---|---|---|---|---|---|"]
    for dataset in sorted(summary):
        for model in UCI_MODELS:
            if model not in summary[dataset]:
                continue
            stats = summary[dataset][model]
            (rm, rs, n), (lm, ls, _), (c, _) = stats["rmse"], stats["test_ll"], stats["converged"]
            # RMSE to 4 significant digits: naval's targets are ~1e-2 in original units
            lines.append(f"| {dataset} | {n} | {model} | {c}/{n} | {rm:.4g} ± {rs:.2g} | {lm:.3f} ± {ls:.3f} |")
    return "\n".join(lines)



def converged_counts(records) -> dict:
    """{dataset: {model: (converged fits, fits)}}."""
    out = {}
    for r in records:
        c = out.setdefault(r["dataset"], {}).setdefault(r["model"], [0, 0])
        c[0] += int(bool(r.get("converged")))
        c[1] += 1
    return {d: {m: tuple(v) for m, v in models.items()} for d, models in out.items()}
