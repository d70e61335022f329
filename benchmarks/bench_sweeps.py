"""Every sweep driver in this process and on a pool of worker processes: wall times, speed-up, same results.

The drivers of :mod:`theory._sweep` (one execution model): the claim runner (``python -m proofs_check``), the
UCI comparison, the NB-vs-LR sample-complexity grid, the inductive-bias dimension sweep, the NTK depth sweep
and the Monte Carlo coverage study.  Each runs a small configuration twice, into fresh result folders: on a
pool of one fresh worker process and on ``SWEEP_BENCH_WORKERS`` (default 2), so both pay the same imports and
start with cold caches, and the results are compared (they must be identical: seeds come from the
configuration, not the worker).

Each worker (and this process) uses one BLAS thread, so the speed-up counts cores, not threads.  The
speed-up of a sweep is bounded by its largest task: the table prints the longest task's share.

``python -m benchmarks --only sweeps``; ``SWEEP_BENCH_ONLY=ntk,uci`` runs a subset.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _one_blas_thread():
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _claims(executor, folder):
    from proofs_check.registry import load_all, run_record
    from theory._sweep import Task, map_tasks

    load_all()
    ids = ["pac_bayes.kl_inverse_certified", "pac_bayes.coverage", "nb_lr.consistency_bound",
           "inductive_bias.exact_cdf_vs_monte_carlo", "dkm.linear_closed_form", "dkm.small_step_ascent",
           "ntk.beta_values", "ntk.xi2_matches_one_nn"]
    tasks = [Task(key=(i,), fn=run_record, kwargs={"claim_id": i}) for i in ids]
    records = map_tasks(tasks, executor=executor, progress=False)
    return [(r["id"], r["verdict"], json.dumps(r["measured"], sort_keys=True, default=str)) for r in records]


def _uci(executor, folder):
    from theory.dkm.uci import run

    records = run(["yacht"], splits=range(4), out_dir=folder, executor=executor, progress=False)
    return sorted((r["dataset"], r["split"], r["model"], r["test_ll"], r["rmse"]) for r in records)


def _nb_lr(executor, folder):
    from theory.nb_lr.simulation import SimulationConfig, run_sample_complexity

    results = run_sample_complexity((2, 3), (50, 100, 200), config=SimulationConfig(trials=3, test_per_class=300),
                                    results_dir=folder, progress=False, executor=executor)
    return sorted(repr(r) for r in results)


def _inductive_bias(executor, folder):
    from theory.inductive_bias.sweeps import dimension_sweep

    result = dimension_sweep([4, 8, 16, 32], 3, [0.1, 0.3], n_samples=2000, executor=executor, results=folder,
                             progress=False)
    return repr(result)


def _ntk(executor, folder):
    from theory.ntk.sweeps import depth_sweep

    return json.dumps(depth_sweep(True, executor=executor, results=folder, progress=False), sort_keys=True)


def _coverage(executor, folder):
    import numpy as np

    from theory.pac_bayes.coverage import CoverageSetting, coverage_study

    settings = [CoverageSetting(f"m={m}, n={n}", n, tuple(np.linspace(0.05, 0.45, m))) for m in (10, 100)
                for n in (100, 1000, 10000)]
    return [repr(r) for r in coverage_study(settings, 0.05, 2000, rng=0, executor=executor)]


SWEEPS = {"claims": _claims, "uci": _uci, "nb_lr": _nb_lr, "inductive_bias": _inductive_bias, "ntk": _ntk,
          "coverage": _coverage}


def _timed(fn, executor):
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        out = fn(executor, Path(folder))
        return time.perf_counter() - start, out


def bench(names, workers: int) -> list[dict]:
    rows = []
    for name in names:
        fn = SWEEPS[name]
        load_before = _load()
        with ProcessPoolExecutor(max_workers=1) as pool:  # a fresh process, as the pool's: same imports, cold caches
            serial_s, serial = _timed(fn, pool)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pool_s, pooled = _timed(fn, pool)
        rows.append({"sweep": name, "serial_s": serial_s, "pool_s": pool_s, "speed_up": serial_s / pool_s,
                     "identical": serial == pooled})
        print(f"{name:<15} 1 worker {serial_s:7.1f} s   {workers} workers {pool_s:7.1f} s   speed-up "
              f"{serial_s / pool_s:5.2f}x   identical results: {serial == pooled}   ({load_before} before, "
              f"{_load()} after)", flush=True)
    return rows


def main() -> None:
    workers = int(os.environ.get("SWEEP_BENCH_WORKERS", "2"))
    only = os.environ.get("SWEEP_BENCH_ONLY")
    names = [n for n in SWEEPS if not only or n in only.split(",")]
    print(f"sweeps on 1 vs {workers} worker processes, one BLAS thread each; {os.cpu_count()} cores; {_load()}")
    with _one_blas_thread():
        bench(names, workers)


if __name__ == "__main__":
    main()
