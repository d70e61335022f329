"""Depth-independent evaluation of deep normalised NNGP/NTK kernels (Radhakrishnan, Belkin, Uhler,
"Wide and deep neural networks achieve consistency for classification", PNAS 2023; arXiv 2204.14126).

Target (issue 3): for N = 2000 inputs on the unit sphere, the ReLU NTK Gram matrix at depth L = 1e5 costs
at most 2x the one at L = 10.  The anchor is the direct layer-by-layer recursion on the N x N cosines
(O(N^2 L)), timed in the same process at the depths where it is affordable.
"""

from __future__ import annotations

import time

import numpy as np

N = 2000
D_IN = 50
DEPTHS = (10, 100, 1_000, 100_000, 200_000)
REPEATS = 3


def _best_of(fn, repeats=REPEATS):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    from kernels.ntk.classifiers import cosines
    from kernels.ntk.depth import nngp_ntk, tabulate_depth

    x = np.random.default_rng(0).standard_normal((N, D_IN))
    cos = cosines(x)
    print(f"ReLU NTK Gram matrix, N = {N}, inputs on S^{D_IN - 1}, float64, numpy, best of {REPEATS}")
    print(f"{'depth':>8}  {'table build s':>13}  {'evaluate s':>10}  {'total s':>8}  {'direct s':>9}")
    totals = {}
    for depth in DEPTHS:
        build = _best_of(lambda: tabulate_depth("relu", depth))
        table = tabulate_depth("relu", depth)
        evaluate = _best_of(lambda: table(cos))
        totals[depth] = build + evaluate
        direct = _best_of(lambda: nngp_ntk(cos, "relu", depth), repeats=1) if depth <= 10 else float("nan")
        print(f"{depth:>8}  {build:>13.3f}  {evaluate:>10.3f}  {totals[depth]:>8.3f}  {direct:>9.3f}")
    ratio = totals[100_000] / totals[10]
    print(f"time(L = 1e5) / time(L = 10) = {ratio:.2f}  (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
