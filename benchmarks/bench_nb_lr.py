"""Benchmark: batched NB/LR m* search against the reference procedure (a loop of scikit-learn fits).

Paper: Zheng, Wu, Bao, Cao, Li, Zhu, "Revisiting Discriminative vs. Generative Classifiers: Theory and
Implications", ICML 2023, arXiv 2302.02334.

1. Sub-grid, end to end.  The reference procedure as the authors' code runs it: for every
   m in range(2K, 100 n, ceil(ln n)), every trial fits its own model (scikit-learn
   ``LogisticRegression(C=1, solver="lbfgs", max_iter=1000)``; naive Bayes with the shared-variance
   formulas in NumPy), until the mean test error is within 0.01 of the Bayes error.  Ours: trials
   batched in one call (truncated Newton), m* found by doubling and a safeguarded interpolation search.
   Same data generator, same test-set size, same process; the ratio of wall times is printed, together
   with a like-for-like ratio (the same m values, fits only).  Each section prints the load average.
2. Workers: a small grid run in this process and on a pool of ``--workers`` processes (default 2);
   wall times, the speed-up and whether the results are identical.
3. The paper's full grid (K in {2,3,5,7} x n in {100,200,400,1000}, 5 trials) with
   ``run_sample_complexity`` at the settings given on the command line, on ``--workers N`` local
   processes or a Dask cluster (``--scheduler ADDRESS``); wall time, the m* table and the paper's two
   ratios printed, the results stored (resumable) under ``results/nb_lr/`` (or ``$LTL_RESULTS_DIR/nb_lr``).

Run: ``python -m benchmarks --only nb_lr`` or ``python benchmarks/bench_nb_lr.py [--skip-grid]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

from theory._sweep import add_executor_arguments, executor_from_options
from theory.nb_lr import (
    PAPER_CLASSES,
    PAPER_DIMENSIONS,
    SimulationConfig,
    bayes_error,
    evaluate_errors,
    make_test_set,
    run_sample_complexity,
    training_sample,
)

SUB_GRID = [(2, 100), (3, 100), (2, 200), (3, 200)]


def _reference_nb_error(X, y, K, X_test, y_test):
    prior = np.array([np.mean(y == k) for k in range(K)])
    means = np.array([X[y == k].mean(axis=0) for k in range(K)])
    var = sum(prior[k] * X[y == k].var(axis=0) for k in range(K)) + 1e-9
    scores = np.log(prior) - 0.5 * (((X_test[:, None, :] - means[None]) ** 2) / var).sum(axis=-1)
    return np.mean(np.argmax(scores, axis=1) != y_test)


def _reference_lr_error(X, y, X_test, y_test):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(X, y)
    return np.mean(model.predict(X_test) != y_test)


def reference_scan(K, n, model, config):
    """The authors' loop: every ceil(ln n)-th m from 2K, one scikit-learn/NumPy fit per trial."""
    X_test, y_test = make_test_set(K, n, config.test_per_class, rng=config.rng(1, K, n))
    target = bayes_error(K, n) + config.margin
    fits = 0
    for m in range(2 * K, 100 * n, math.ceil(math.log(n))):
        errors = []
        for trial in range(config.trials):
            X, y = training_sample(K, n, m, rng=config.rng(2, K, n, trial, m))
            if model == "nb":
                errors.append(_reference_nb_error(X, y, K, X_test, y_test))
            else:
                errors.append(_reference_lr_error(X, y, X_test, y_test))
            fits += 1
        if np.mean(errors) < target:
            return m, fits
    return None, fits


def bench_sub_grid(config):
    print(f"sub-grid {SUB_GRID}, trials={config.trials}, test points per class={config.test_per_class}; {_load()}")
    print(f"{'K':>2} {'n':>5} {'model':>5} {'m*_ref':>7} {'m*_ours':>7} {'t_ref s':>8} {'t_ours s':>8} {'ratio':>6}")
    total_ref = total_ours = 0.0
    for K, n in SUB_GRID:
        for model in ("nb", "lr"):
            t0 = time.perf_counter()
            m_ref, fits = reference_scan(K, n, model, config)
            t_ref = time.perf_counter() - t0
            t0 = time.perf_counter()
            (record,) = run_sample_complexity((K,), (n,), (model,), config=config, store=False, progress=False)
            t_ours = time.perf_counter() - t0
            total_ref += t_ref
            total_ours += t_ours
            print(f"{K:>2} {n:>5} {model:>5} {str(m_ref):>7} {str(record.m_star):>7} {t_ref:8.2f} {t_ours:8.2f} "
                  f"{t_ref / t_ours:6.1f}", flush=True)
    print(f"sub-grid total: reference {total_ref:.1f} s, ours {total_ours:.1f} s, "
          f"speed-up {total_ref / total_ours:.1f}x; {_load()}")
    return total_ref / total_ours


def bench_like_for_like(config, K=3, n=200, ms=(50, 200, 800)):
    """Same m values, fits + test predictions only: loop of scikit-learn vs one batched call per m."""
    X_test, y_test = make_test_set(K, n, config.test_per_class, rng=config.rng(1, K, n))
    t0 = time.perf_counter()
    for m in ms:
        for trial in range(config.trials):
            X, y = training_sample(K, n, m, rng=config.rng(2, K, n, trial, m))
            _reference_lr_error(X, y, X_test, y_test)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    for m in ms:
        evaluate_errors(K, n, m, "lr", config)
    t_ours = time.perf_counter() - t0
    print(f"like-for-like LR, K={K} n={n} m={list(ms)} x {config.trials} trials: scikit-learn loop {t_ref:.2f} s, "
          f"batched {t_ours:.2f} s, ratio {t_ref / t_ours:.1f}x")
    return t_ref / t_ours


def _load():
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def bench_workers(config, workers=2, n_classes=(2, 3), ns=(50, 100, 200)):
    """A small grid in this process and on ``workers`` processes: wall times, speed-up, identical results."""
    from concurrent.futures import ProcessPoolExecutor

    print(f"workers: grid n_classes={list(n_classes)} x n={list(ns)} x 2 models, trials={config.trials}; {_load()}",
          flush=True)
    t0 = time.perf_counter()
    serial = run_sample_complexity(n_classes, ns, config=config, store=False, progress=False)
    t_serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parallel = run_sample_complexity(n_classes, ns, config=config, store=False, progress=False, executor=pool)
    t_parallel = time.perf_counter() - t0
    print(f"  1 worker {t_serial:.1f} s, {workers} workers {t_parallel:.1f} s: speed-up {t_serial / t_parallel:.2f}x; "
          f"results identical: {parallel == serial}; {_load()}", flush=True)
    return t_serial / t_parallel


def bench_full_grid(config, executor=None):
    """The paper's grid in one call (stored results are reused: a rerun only times what was missing)."""
    print(f"full grid 4 x 4 x 2 models, trials={config.trials}, test points per class={config.test_per_class}; "
          f"{_load()}", flush=True)
    t0 = time.perf_counter()
    results = run_sample_complexity(PAPER_CLASSES, PAPER_DIMENSIONS, config=config, executor=executor)
    wall = time.perf_counter() - t0
    for r in results:
        print(f"  K={r.n_classes} n={r.n:>4} {r.model}: m*={r.m_star}  ({len(r.curve)} m evaluated; "
              f"Bayes error {r.bayes_error:.3g})")
    print(f"full grid: {wall:.0f} s wall ({wall / 60:.1f} min); {_load()}")
    table = {r.cell(): r.m_star for r in results}
    for model, bound in (("nb", "<= 2"), ("lr", ">= 4")):
        ratios = []
        for K in PAPER_CLASSES:
            lo, hi = table[(K, min(PAPER_DIMENSIONS), model)], table[(K, max(PAPER_DIMENSIONS), model)]
            ratios.append("n/a" if lo is None or hi is None else f"{hi / lo:.2f}")
        print(f"  m*_{model.upper()}(1000)/m*(100) for K={list(PAPER_CLASSES)}: {ratios} (paper: {bound})")
    return wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-grid", action="store_true", help="skip the full grid")
    p.add_argument("--skip-sub-grid", action="store_true", help="skip the sub-grid comparison")
    p.add_argument("--skip-workers", action="store_true", help="skip the 1-versus-N workers comparison")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--test-per-class", type=int, default=None,
                   help="test points per class (default: the paper's floor(10^4 / K))")
    add_executor_arguments(p)
    args = p.parse_args(argv if argv is not None else [])
    config = SimulationConfig(trials=args.trials, test_per_class=args.test_per_class)
    if not args.skip_sub_grid:
        bench_like_for_like(config)
        bench_sub_grid(config)
    if not args.skip_workers:
        bench_workers(SimulationConfig(trials=3, test_per_class=300), workers=args.workers or 2)
    if not args.skip_grid:
        with executor_from_options(args.workers, args.scheduler) as executor:
            bench_full_grid(config, executor)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
