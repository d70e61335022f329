"""``python -m benchmarks [--only NAME]``: run every ``benchmarks/bench_*.py`` (each has ``main()``).

Each benchmark times the anchor and this package in the same process and prints the ratios.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--only", help="run benchmarks whose module name contains this")
    args = p.parse_args(argv)
    # Line-buffered output: a long benchmark that is interrupted keeps every ratio it printed.
    sys.stdout.reconfigure(line_buffering=True)
    import benchmarks

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if args.only in n]
    if not names:
        p.exit(2, f"benchmarks: error: no benchmark matches {args.only!r}\n")
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
