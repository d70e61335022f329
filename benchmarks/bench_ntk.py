"""fc_kernel against neural-tangents' jitted kernel_fn: ReLU network, N = 2000, d = 50, float64, CPU.

Paper: Radhakrishnan, Belkin, Uhler, "Wide and deep neural networks achieve consistency for
classification" (PNAS 2023; arXiv 2204.14126); anchor: neural-tangents 0.6.5 (Novak et al., ICLR 2020).

Network: ``stax.serial(*[Dense(1, sqrt 2, 0), Relu()] * L, Dense(1, sqrt 2, 0))``, NNGP and NTK of the
Gram matrix.  Both are timed in this process: neural-tangents' first call (tracing + XLA compilation)
and its warm call (best of ``repeats``), our first call (includes tabulating the depth-L cosine map)
and our warm call (the map is cached).  Targets (issue 3): warm NT / ours >= 3 at L = 10 and 100,
first-call NT / ours >= 20 at L = 100.  Memory: an N = 20,000 NTK Gram (``get="ntk"``) with the
peak of traced allocations (tracemalloc) compared with the N^2 * 8 bytes of the output.
Run: ``python -m benchmarks --only ntk`` (the L = 100 first call of neural-tangents takes ~1.5 min).
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc

import numpy as np

N, D = 2000, 50
DEPTHS = (10, 100)
W_STD = math.sqrt(2.0)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _best(fn, repeats):
    return min(_timed(fn)[0] for _ in range(repeats))


def _neural_tangents_kernel_fn(depth):
    from neural_tangents import stax

    _, _, kernel_fn = stax.serial(*[stax.Dense(1, W_STD, 0.0), stax.Relu()] * depth, stax.Dense(1, W_STD, 0.0))
    return kernel_fn


def main(repeats: int = 2, memory_n: int = 20_000) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    from kernels.ntk.fc import clear_table_cache, fc_kernel

    x = np.random.default_rng(0).normal(size=(N, D))
    x_jax = jax.numpy.asarray(x)
    print(f"ReLU, N = {N}, d = {D}, float64, CPU ({os.cpu_count()} cores visible; shared machine: timings are noisy)")
    results = {}
    # memory first: the L = 100 first call of neural-tangents (XLA compilation) is the long part
    xm = np.random.default_rng(1).normal(size=(memory_n, D))
    tracemalloc.start()
    seconds, big = _timed(lambda: fc_kernel(xm, depth=100, activation="relu", W_std=W_STD, get="ntk"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    output_bytes = memory_n * memory_n * 8
    finite = bool(np.all(np.isfinite(big.ntk)))
    del big
    results["memory"] = dict(n=memory_n, seconds=seconds, peak_bytes=peak, output_bytes=output_bytes)
    print(
        f"memory: N = {memory_n}, L = 100, get='ntk': {seconds:.1f} s, peak traced {peak / 2**30:.2f} GiB = "
        f"{peak / output_bytes:.2f} x the N^2 * 8 B output ({output_bytes / 2**30:.2f} GiB), finite: {finite}",
        flush=True,
    )

    for depth in DEPTHS:
        kernel_fn = jax.jit(_neural_tangents_kernel_fn(depth), static_argnames="get")

        def theirs():
            out = kernel_fn(x_jax, None, get=("nngp", "ntk"))
            out.ntk.block_until_ready()
            return out

        nt_first, ref = _timed(theirs)
        nt_warm = _best(theirs, repeats)
        clear_table_cache()
        ours_first, mine = _timed(lambda: fc_kernel(x, depth=depth, activation="relu", W_std=W_STD))
        ours_warm = _best(lambda: fc_kernel(x, depth=depth, activation="relu", W_std=W_STD), repeats)
        # jit evaluates the generic formula on the diagonal (off by ~1e-7 there), so compare off-diagonal
        off = ~np.eye(N, dtype=bool)
        err = max(
            float(np.max(np.abs(mine.nngp - np.asarray(ref.nngp))[off] / np.abs(np.asarray(ref.nngp))[off])),
            float(np.max(np.abs(mine.ntk - np.asarray(ref.ntk))[off] / np.abs(np.asarray(ref.ntk))[off])),
        )
        results[depth] = dict(nt_first=nt_first, nt_warm=nt_warm, ours_first=ours_first, ours_warm=ours_warm,
                              max_rel_diff_offdiag=err)
        print(
            f"L = {depth:4d}: neural-tangents first {nt_first:7.2f} s, warm {nt_warm:6.2f} s | "
            f"fc_kernel first {ours_first:6.2f} s, warm {ours_warm:6.2f} s | "
            f"warm/ours-first {nt_warm / ours_first:5.1f}x, warm/warm {nt_warm / ours_warm:5.1f}x, "
            f"first/first {nt_first / ours_first:5.1f}x | max rel diff (off-diagonal) {err:.1e}",
            flush=True,
        )

    return results


if __name__ == "__main__":
    main()
