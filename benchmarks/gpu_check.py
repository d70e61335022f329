"""``python -m benchmarks.gpu_check``: the heavy paths on the device namespace against NumPy, in one run.

Each workload runs once on NumPy and once on the device namespace (CuPy on a GPU machine; on a CPU machine
``--device-backend numpy`` stands in, so the same code path is checked end to end at smaller ``--scale``),
checks that both agree, and prints one table row: seconds on each side and their ratio. The table is also
written to ``$OUT/gpu_check.md`` and ``$OUT/gpu_check.json`` when ``OUT`` is set (or ``--out``).

Workloads (full size at ``--scale 1``):
- ReLU NTK Gram, N = 20,000, d = 50, depth 100, float64 and float32 (``kernels.fc_kernel``);
- the batched NB and LR fits of one grid cell (n_classes = 3, n = 200, m = 400, 20 trials);
- the certified kl inverse on 1e8 pairs (``theory.kl_inverse``);
- 1e5 GP-posterior test losses and the exact inductive bias of a digits task;
- one deep kernel machine fit at P = 2,000 (depth 2, a fixed number of solver iterations).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np


def _sync(xp):
    if "cupy" in getattr(xp, "__name__", ""):
        import cupy

        cupy.cuda.Device().synchronize()


def _timed(xp, fn):
    _sync(xp)
    start = time.perf_counter()
    out = fn()
    _sync(xp)
    return time.perf_counter() - start, out


def _host(x):
    from kernels.backend import to_numpy

    return to_numpy(x)


def ntk_gram(xp, scale, dtype):
    import kernels

    n = max(200, int(20_000 * math.sqrt(scale)))
    x = np.random.default_rng(0).standard_normal((n, 50)).astype(dtype)
    xd = xp.asarray(x)
    return lambda: kernels.fc_kernel(xd, depth=100, activation="relu", W_std=math.sqrt(2.0), get="ntk"), \
        lambda out: _host(getattr(out, "ntk", out))[:64, :64]


def nb_lr_cell(xp, scale, dtype):
    from theory.nb_lr.logistic import fit_logistic
    from theory.nb_lr.naive_bayes import fit_shared_variance_nb
    from theory.nb_lr.simulation import training_sample

    n_classes, n, m = 3, 200, 400
    trials = max(2, int(20 * scale))
    rng = np.random.default_rng(0)
    samples = [training_sample(n_classes, n, m, rng=rng) for _ in range(trials)]
    X = xp.asarray(np.stack([s[0] for s in samples]))
    y = xp.asarray(np.stack([s[1] for s in samples]))

    def run():
        nb = fit_shared_variance_nb(X, y, n_classes)
        lr = fit_logistic(X, y, n_classes, C=1.0)
        return nb, lr

    return run, lambda out: _host(out[1].coef)[0]


def kl_inverse_pairs(xp, scale, dtype):
    import theory

    n = max(10_000, int(1e8 * scale))
    rng = np.random.default_rng(0)
    q = xp.asarray(rng.random(n))
    c = xp.asarray(10 ** rng.uniform(-6, 1, n))
    return lambda: theory.kl_inverse(q, c), lambda out: _host(out)[:1000]


def gp_losses(xp, scale, dtype):
    import theory

    task = theory.digits_task(n_train=200, n_test=200, rng=0)
    xt, yt, xs, ys = (xp.asarray(a) for a in (task.x_train, task.y_train, task.x_test, task.y_test))
    n_samples = max(1000, int(1e5 * scale))

    def run():
        post = theory.gp_posterior(xt, yt, xs)
        losses = theory.sample_losses(post, ys, n_samples, rng=0)
        exact = theory.exact_inductive_bias(xt, yt, xs, ys, eps=0.45)
        return losses, exact

    return run, lambda out: np.array([float(out[1].bits)])


def dkm_fit(xp, scale, dtype):
    from kernels.dkm import DeepKernelMachine

    P = max(100, int(2000 * math.sqrt(scale)))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((P, 8))
    y = np.sin(X @ rng.standard_normal(8)) + 0.1 * rng.standard_normal(P)
    Xd, yd = xp.asarray(X), xp.asarray(y)
    model = DeepKernelMachine(depth=2, nu=10.0, max_iter=20)
    return lambda: model.fit(Xd, yd), lambda out: np.array([float(out.objective_)])


WORKLOADS = {
    "ReLU NTK Gram, depth 100, float64": (ntk_gram, np.float64),
    "ReLU NTK Gram, depth 100, float32": (ntk_gram, np.float32),
    "NB + LR batched fits, one grid cell": (nb_lr_cell, np.float64),
    "certified kl inverse": (kl_inverse_pairs, np.float64),
    "GP-posterior losses + exact inductive bias (digits)": (gp_losses, np.float64),
    "deep kernel machine fit, 20 iterations": (dkm_fit, np.float64),
}


def _run_workload(name, make, dtype, device_xp, host_xp, scale):
    row = {"workload": name}
    outputs = {}
    for side, xp in (("numpy", host_xp), ("device", device_xp)):
        try:
            fn, probe = make(xp, scale, dtype)
            seconds, out = _timed(xp, fn)
            row[f"{side}_s"] = seconds
            outputs[side] = np.asarray(probe(out), dtype=np.float64)
        except Exception as err:  # one failing workload must not hide the others
            row[f"{side}_error"] = f"{type(err).__name__}: {err}"[:300]
            traceback.print_exc(file=sys.stderr)
    if "numpy" in outputs and "device" in outputs:
        a, b = outputs["numpy"], outputs["device"]
        tol = 5e-4 if dtype == np.float32 else 1e-8
        row["max_rel_diff"] = float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300)))
        row["agree"] = bool(row["max_rel_diff"] <= tol or np.allclose(a, b, rtol=tol, atol=tol))
        row["speedup"] = row["numpy_s"] / row["device_s"]
    return row


def _markdown(rows, meta) -> str:
    lines = [f"Device: {meta['device']}; device backend: {meta['device_backend']}; scale {meta['scale']}; "
             f"{meta['started']}", "", "| workload | NumPy s | device s | speed-up | agree (max rel diff) |",
             "|---|---|---|---|---|"]
    for r in rows:
        def cell(side):
            return f"{r[side + '_s']:.3g}" if side + "_s" in r else f"error: {r.get(side + '_error', '?')[:60]}"
        speed = f"{r['speedup']:.1f}x" if "speedup" in r else "-"
        agree = f"{r['agree']} ({r['max_rel_diff']:.1e})" if "agree" in r else "-"
        lines.append(f"| {r['workload']} | {cell('numpy')} | {cell('device')} | {speed} | {agree} |")
    return "\n".join(lines)


def _device_name(device_backend):
    if device_backend == "cupy":
        try:
            import cupy

            return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        except Exception as err:  # reported in the table, not fatal
            return f"cupy device unavailable ({err})"
    return f"CPU stand-in ({os.cpu_count()} cores)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--device-backend", default="cupy", choices=["cupy", "numpy", "array_api_strict"])
    p.add_argument("--scale", type=float, default=1.0, help="problem size factor (1 = the sizes in the docstring)")
    p.add_argument("--only", default=None, help="run workloads whose name contains this")
    p.add_argument("--out", default=os.environ.get("OUT"), help="folder for gpu_check.md/json (default: $OUT)")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    from kernels.backend import namespace_of

    device_xp, host_xp = namespace_of(args.device_backend), namespace_of("numpy")
    meta = {"device": _device_name(args.device_backend), "device_backend": args.device_backend,
            "scale": args.scale, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    rows = []
    for name, (make, dtype) in WORKLOADS.items():
        if args.only and args.only not in name:
            continue
        rows.append(_run_workload(name, make, dtype, device_xp, host_xp, args.scale))
        print(json.dumps(rows[-1]))
    table = _markdown(rows, meta)
    print("\n" + table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_check.md").write_text(table + "\n")
        (out / "gpu_check.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    failed = [r["workload"] for r in rows if "numpy_s" not in r or "device_s" not in r or not r.get("agree", False)]
    if failed:
        print(f"\nfailed or disagreeing: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
