"""``python -m theory.dkm``: run (or resume) the UCI comparison and print the summary table."""

import argparse

from theory.dkm.uci import SMALL, load_results, markdown_table, run, summarise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m theory.dkm", description="UCI regression: GP, NNGP and DKM on the standard splits (resumable).")
    parser.add_argument("--datasets", nargs="*", default=list(SMALL))
    parser.add_argument("--splits", type=int, default=None, help="number of splits (default: all)")
    parser.add_argument("--out", default=None, help="results folder (default: $LTL_RESULTS_DIR/dkm_uci or results/dkm_uci)")
    args = parser.parse_args(argv)
    run(args.datasets, splits=None if args.splits is None else range(args.splits), out_dir=args.out)
    print(markdown_table(summarise(load_results(args.out))))


if __name__ == "__main__":
    main()
