"""``python -m figures``: build every figure (PNG and PDF).

Each ``figures/fig_*.py`` module provides ``compute(quick: bool) -> dict`` (JSON-serialisable
results) and ``make_figure(results) -> matplotlib.figure.Figure``.  Results are stored in
``<out>/<name>.json`` and reused on the next run (``--recompute`` to refresh), so a figure can be
restyled without recomputing it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from theory import _io


def figure_modules(pattern: str | None = None):
    import figures

    names = sorted(m.name for m in pkgutil.iter_modules(figures.__path__) if m.name.startswith("fig_"))
    if pattern:
        names = [n for n in names if pattern in n]
    return [importlib.import_module(f"figures.{n}") for n in names]


def build(module, out: Path, *, quick: bool, recompute: bool = False) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from figures.style import RC

    name = module.__name__.rsplit(".", 1)[-1]
    store = out / f"{name}.json"
    results = None if recompute else _io.read_json(store)
    if results is None:
        results = module.compute(quick=quick)
        _io.write_json(store, results, indent=1)
    with plt.rc_context(RC):
        fig = module.make_figure(results)
        paths = [out / f"{name}.png", out / f"{name}.pdf"]
        for p in paths:
            fig.savefig(p)
        plt.close(fig)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m figures", description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="output directory (default: $LTL_RESULTS_DIR/figures or results/figures)")
    p.add_argument("--only", help="build figures whose module name contains this")
    p.add_argument("--full", action="store_true", help="paper-scale computations (slow)")
    p.add_argument("--recompute", action="store_true", help="ignore stored results")
    args = p.parse_args(argv)
    out = _io.results_dir("figures", args.out)
    out.mkdir(parents=True, exist_ok=True)
    modules = figure_modules(args.only)
    if not modules:
        p.exit(2, f"figures: error: no figure module matches {args.only!r}\n")
    from tqdm.auto import tqdm

    for module in tqdm(modules, desc="figures", disable=None, file=sys.stderr):
        for path in build(module, out, quick=not args.full, recompute=args.recompute):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
