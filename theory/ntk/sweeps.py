"""The depth sweep of the paper: agreement of deep kernel classifiers with their infinite-depth limits.

Paper: A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
classification", PNAS 120(14), 2023; arXiv 2204.14126.  ReLU tends to majority vote (and agrees with 1-NN
at small depth), the xi^2 dual to 1-NN, and the d_opt duals to the Hilbert kernel rule.

Three panels, each a list of (setting, depth) tasks:

* ``relu_ntk``: ReLU NTK, d = 2, 100 training points split 40/60 (``rng=1001``), 500 test points (``rng=2001``);
  agreement with 1-NN and with majority vote.
* ``xi2_nngp``: the xi^2 (``hermite_2``) NNGP, d = 5, 500 + 500 points from ``default_rng(1)``; agreement with 1-NN.
* ``d_opt_nngp``: the d_opt NNGP for d = 2, 3, 5 (and 9 at full scale), n + n points from ``default_rng([0, d])``; agreement with
  the Hilbert rule.

Every task draws its own data from seeds fixed by its setting, so a task gives the same number in any
process and in any order.  Finished tasks are appended to ``<results>/depth_sweep.jsonl``
(:func:`theory._io.results_dir`, topic ``ntk``) as they complete; a rerun skips them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from kernels.ntk.classifiers import deep_kernel_predict, hilbert_kernel_predict, majority_vote_predict, one_nn_predict
from theory._io import append_jsonl, read_jsonl, results_dir
from theory._sweep import Task, map_tasks
from theory.ntk.data import sample_dirichlet_sphere
from theory.ntk.metrics import agreement

__all__ = ["PANELS", "SweepPlan", "sweep_plan", "depth_point", "depth_sweep"]

PANELS = ("relu_ntk", "xi2_nngp", "d_opt_nngp")
STORE = "depth_sweep.jsonl"


@dataclass(frozen=True)
class SweepPlan:
    """Depths and sample size of each panel (``quick`` or full)."""

    relu_depths: tuple
    xi2_depths: tuple
    d_opt_depths: tuple
    d_opt_n: int
    d_opt_dims: tuple = (2, 3, 5)


def sweep_plan(quick: bool = True) -> SweepPlan:
    """The sweep of the figure: ``quick`` uses fewer ReLU depths and n = 500 for the d_opt panel (d = 2, 3, 5);
    full scale is the authors' n_train = n_test = 10,000 with d = 9 as well."""
    relu = (1, 10, 100, 1000, 10000, 50000, 200000) if quick else (
        1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000, 200000)
    return SweepPlan(relu_depths=relu, xi2_depths=(1, 2, 3, 4, 6, 8, 10, 15, 20, 30),
                     d_opt_depths=(1, 3, 10, 30, 100, 200), d_opt_n=500 if quick else 10_000,
                     d_opt_dims=(2, 3, 5) if quick else (2, 3, 5, 9))


def _relu_point(depth):
    x_tr, y_tr = sample_dirichlet_sphere(100, 2, rng=1001, n_positive=40)
    x_te, _ = sample_dirichlet_sphere(500, 2, rng=2001)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="relu", depth=depth, kernel="ntk")
    return {"1-NN": agreement(pred, one_nn_predict(x_tr, y_tr, x_te)),
            "majority vote": agreement(pred, majority_vote_predict(y_tr, x_te.shape[0]))}


def _xi2_point(depth):
    rng = np.random.default_rng(1)
    x_tr, y_tr = sample_dirichlet_sphere(500, 5, rng=rng)
    x_te, _ = sample_dirichlet_sphere(500, 5, rng=rng)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual="hermite_2", depth=depth, kernel="nngp")
    return {"1-NN": agreement(pred, one_nn_predict(x_tr, y_tr, x_te))}


def _d_opt_point(depth, d, n):
    rng = np.random.default_rng([0, d])
    x_tr, y_tr = sample_dirichlet_sphere(n, d, rng=rng)
    x_te, _ = sample_dirichlet_sphere(n, d, rng=rng)
    pred = deep_kernel_predict(x_tr, y_tr, x_te, dual=f"{d}d_opt", depth=depth, kernel="nngp")
    return {f"Hilbert d={d}": agreement(pred, hilbert_kernel_predict(x_tr, y_tr, x_te))}


def depth_point(panel: str, depth: int, d: int = 0, n: int = 0) -> dict:
    """Agreements ``{curve: value}`` of one panel at one depth (``d``, ``n``: the d_opt panel's setting)."""
    if panel == "relu_ntk":
        return _relu_point(depth)
    if panel == "xi2_nngp":
        return _xi2_point(depth)
    if panel == "d_opt_nngp":
        return _d_opt_point(depth, d, n)
    raise ValueError(f"panel must be one of {PANELS}, got {panel!r}")


def _tasks(plan: SweepPlan) -> list[Task]:
    tasks = [Task(("relu_ntk", L, 0, 0), depth_point, {"panel": "relu_ntk", "depth": L}) for L in plan.relu_depths]
    tasks += [Task(("xi2_nngp", L, 0, 0), depth_point, {"panel": "xi2_nngp", "depth": L}) for L in plan.xi2_depths]
    tasks += [
        Task(("d_opt_nngp", L, d, plan.d_opt_n), depth_point, {"panel": "d_opt_nngp", "depth": L, "d": d, "n": plan.d_opt_n})
        for d in plan.d_opt_dims for L in plan.d_opt_depths
    ]
    return tasks


def _key(record) -> tuple:
    return (record["panel"], record["depth"], record["d"], record["n"])


def _assemble(plan: SweepPlan, stored: dict) -> dict:
    panels = {"relu_ntk": plan.relu_depths, "xi2_nngp": plan.xi2_depths, "d_opt_nngp": plan.d_opt_depths}
    out = {}
    for panel, depths in panels.items():
        settings = [(d, plan.d_opt_n) for d in plan.d_opt_dims] if panel == "d_opt_nngp" else [(0, 0)]
        curves: dict = {}
        for d, n in settings:
            for depth in depths:
                for curve, value in stored[(panel, depth, d, n)].items():
                    curves.setdefault(curve, []).append(value)
        out[panel] = {"depths": list(depths), "agreement": curves}
    return out


def depth_sweep(quick: bool = True, *, executor=None, results: str | os.PathLike | None = None,
                resume: bool = True, progress: bool = True) -> dict:
    """Run (or resume) the depth sweep and return ``{panel: {"depths": [...], "agreement": {curve: [...]}}}``.

    Parameters
    ----------
    quick : bool
        The plan of :func:`sweep_plan`.
    executor : concurrent.futures.Executor, optional
        Where the tasks run (:func:`theory._sweep.map_tasks`); None runs them in this process.
    results : path-like, optional
        Folder of the store (default :func:`theory._io.results_dir` ``("ntk")``).
    resume : bool
        Skip the tasks already in the store.
    """
    plan = sweep_plan(quick)
    path = results_dir("ntk", results) / STORE
    stored = {_key(r): r["agreement"] for r in read_jsonl(path)} if resume else {}
    todo = [t for t in _tasks(plan) if t.key not in stored]

    def keep(task, value):
        panel, depth, d, n = task.key
        append_jsonl(path, {"panel": panel, "depth": depth, "d": d, "n": n, "agreement": value})
        stored[task.key] = value

    map_tasks(todo, executor=executor, on_result=keep, desc="ntk depth sweep", progress=progress)
    return _assemble(plan, stored)
