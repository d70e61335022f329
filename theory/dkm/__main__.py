"""``python -m theory.dkm``: run (or resume) the UCI comparison and print the summary table."""

import argparse

from theory._sweep import add_executor_arguments, executor_from_options
from theory.dkm.uci import DATASETS, SMALL, converged_counts, load_uci_results, markdown_table, run, summarise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m theory.dkm",
                                     description="UCI regression: GP, NNGP and DKM on the standard splits (resumable).")
    parser.add_argument("--datasets", nargs="*", default=list(SMALL), choices=list(DATASETS), metavar="NAME")
    parser.add_argument("--splits", type=int, default=None, help="number of splits (default: all)")
    parser.add_argument("--out", default=None, help="results folder (default: $LTL_RESULTS_DIR/dkm_uci or results/dkm_uci)")
    add_executor_arguments(parser)
    args = parser.parse_args(argv)
    with executor_from_options(args.workers, args.scheduler) as executor:
        run(args.datasets, splits=None if args.splits is None else range(args.splits), out_dir=args.out,
            executor=executor)
    records = load_uci_results(args.out)
    print(markdown_table(summarise(records)))
    for dataset, models in sorted(converged_counts(records).items()):
        print(dataset, ", ".join(f"{m} {c}/{n} converged" for m, (c, n) in models.items()))


if __name__ == "__main__":
    main()
