"""``python -m theory.nb_lr``: the sample-complexity grid of Zheng et al. (ICML 2023, arXiv 2302.02334).

Runs :func:`theory.nb_lr.simulation.run_sample_complexity` (stored and resumed under
``$LTL_RESULTS_DIR/nb_lr`` or ``results/nb_lr``) and prints m* per cell and the paper's two ratios.
``--workers N`` runs the cells on N local processes, ``--scheduler ADDRESS`` on a Dask cluster.
"""

from __future__ import annotations

import argparse
import sys

from theory._sweep import add_executor_arguments, executor_from_options
from theory.nb_lr.simulation import PAPER_CLASSES, PAPER_DIMENSIONS, SimulationConfig, run_sample_complexity


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m theory.nb_lr", description=__doc__.splitlines()[0])
    parser.add_argument("--n-classes", type=int, nargs="+", default=list(PAPER_CLASSES), metavar="K")
    parser.add_argument("--ns", type=int, nargs="+", default=list(PAPER_DIMENSIONS), metavar="N")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--test-per-class", type=int, default=None,
                        help="test points per class (default: the paper's floor(10^4 / K))")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", default=None)
    add_executor_arguments(parser)
    args = parser.parse_args(argv)
    config = SimulationConfig(trials=args.trials, test_per_class=args.test_per_class, seed=args.seed)
    with executor_from_options(args.workers, args.scheduler) as executor:
        results = run_sample_complexity(args.n_classes, args.ns, config=config, results_dir=args.results_dir,
                                        executor=executor)
    table = {r.cell(): r.m_star for r in results}
    for r in results:
        print(f"K={r.n_classes} n={r.n} {r.model}: m* = {r.m_star} (Bayes error {r.bayes_error:.3g})")
    lo, hi = min(args.ns), max(args.ns)
    for model in ("nb", "lr"):
        ratios = {K: (None if None in (table[(K, lo, model)], table[(K, hi, model)])
                      else round(table[(K, hi, model)] / table[(K, lo, model)], 2)) for K in args.n_classes}
        print(f"m*_{model.upper()}(n={hi}) / m*_{model.upper()}(n={lo}) by K: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
