"""``python -m proofs_check``: run the registered claims and write a report.

Quick scale by default (minutes on a 2-core CPU), ``--full`` for the papers' scale.  Results are
written to ``<out>/claims.json`` after every claim, so an interrupted run keeps what finished and
``--resume`` skips those claims next time.  Exit status: 0 when every claim that ran passed,
1 when a claim failed or raised, 2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from proofs_check.registry import TOPICS, Claim, load_all, registry, select

PASS, FAIL, ERROR, SKIP = "pass", "FAIL", "ERROR", "skipped"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m proofs_check",
        description="Run the papers' claims as numerical checks and report measured values and verdicts.",
    )
    p.add_argument("--full", action="store_true", help="paper-scale parameters (slow) instead of quick ones")
    p.add_argument("--only", metavar="PATTERN", help="run claims whose id contains PATTERN")
    p.add_argument("--list", action="store_true", help="list the registered claims and exit")
    p.add_argument(
        "--backend",
        default=None,
        choices=["auto", "numpy", "cupy", "array_api_strict"],
        help="array library for the claims (default: $LTL_BACKEND or auto)",
    )
    p.add_argument("--out", default="results/claims", metavar="DIR", help="output directory (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="keep results already in DIR/claims.json and skip those claims")
    return p


def _check_out_dir(parser, out: str) -> Path:
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        parser.exit(2, f"proofs_check: error: --out {out!r} is not a writable directory ({err.strerror or err})\n")
    return path


def _run_one(c: Claim, *, full: bool, xp) -> dict:
    record = {
        "id": c.id,
        "paper": c.paper.short(),
        "arxiv": c.paper.arxiv,
        "statement": c.statement,
        "stated": c.stated,
        "scale": "full" if full else "quick",
        "params": c.params(full),
        "known_failure": c.known_failure,
    }
    missing = c.missing_requirements()
    if missing:
        record.update(verdict=SKIP, measured={}, summary=f"needs {', '.join(missing)} (install the extra)", seconds=0.0)
        return record
    start = time.perf_counter()
    try:
        outcome = c.run(full=full, xp=xp)
    except Exception as err:  # a crashing claim is reported, not hidden
        record.update(
            verdict=ERROR,
            measured={},
            summary=f"{type(err).__name__}: {err}".splitlines()[0][:200],
            traceback=traceback.format_exc(),
        )
    else:
        record.update(
            verdict=PASS if outcome.passed else FAIL,
            measured=outcome.measured,
            threshold=outcome.threshold,
            summary=outcome.summary,
            details=outcome.details,
        )
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _write(out: Path, records: list[dict], meta: dict) -> None:
    payload = {"meta": meta, "claims": records}
    tmp = out / "claims.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default))
    os.replace(tmp, out / "claims.json")
    (out / "report.md").write_text(_markdown(records, meta))


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict_text(r: dict) -> str:
    v = r["verdict"]
    if v == FAIL and r.get("known_failure"):
        return "FAIL (known)"
    return v


def _markdown(records: list[dict], meta: dict) -> str:
    lines = [
        "# Claims report",
        "",
        f"Scale: {meta['scale']}; backend: {meta['backend']}; started {meta['started']}; "
        f"Python {meta['python']}; {meta['platform']}.",
        "",
        "| claim | paper | stated | measured | verdict | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (r["id"], r["paper"], r["stated"], r["summary"], _verdict_text(r), f"{r['seconds']:.1f}")
            )
            + " |"
        )
    counts = _counts(records)
    lines += ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in counts.items()), ""]
    for r in records:
        lines += [f"## {r['id']}", "", r["statement"], "", f"- paper: {r['paper']}", f"- stated: {r['stated']}"]
        lines.append(f"- measured: {r['summary']}")
        lines.append(f"- verdict: {_verdict_text(r)}")
        if r.get("known_failure"):
            lines.append(f"- known failure: {r['known_failure']}")
        lines.append("")
    return "\n".join(lines)


def _counts(records):
    counts = {PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0}
    for r in records:
        counts[r["verdict"]] += 1
    return counts


def _table(records: list[dict]) -> str:
    headers = ("claim", "paper", "stated", "measured", "verdict", "seconds")
    rows = [
        (r["id"], r["paper"], r["stated"], r["summary"], _verdict_text(r), f"{r['seconds']:.1f}") for r in records
    ]
    limits = (34, 34, 32, 60, 12, 8)
    rows = [tuple(c if len(c) <= lim else c[: lim - 1] + "~" for c, lim in zip(row, limits)) for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    load_all()

    if args.list:
        for c in registry().values():
            extra = f"  [needs {', '.join(c.requires)}]" if c.requires else ""
            print(f"{c.id:<40} {c.paper.short()}  -- {c.stated}{extra}")
        return 0

    claims = select(args.only)
    if not claims:
        parser.exit(
            2,
            f"proofs_check: error: --only {args.only!r} matches no claim id "
            f"(ids look like <topic>.<name>, topics {', '.join(TOPICS)}; see --list)\n",
        )
    out = _check_out_dir(parser, args.out)

    from kernels.backend import get_backend, namespace_of, set_backend

    if args.backend:
        try:
            set_backend(args.backend)
        except (RuntimeError, ValueError) as err:
            parser.exit(2, f"proofs_check: error: --backend {args.backend}: {err}\n")
    xp = namespace_of()
    scale = "full" if args.full else "quick"
    meta = {
        "scale": scale,
        "backend": get_backend(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }

    done: dict[str, dict] = {}
    if args.resume and (out / "claims.json").exists():
        previous = json.loads((out / "claims.json").read_text())
        if previous.get("meta", {}).get("scale") == scale:
            done = {r["id"]: r for r in previous["claims"] if r["verdict"] in (PASS, FAIL, SKIP)}

    from tqdm.auto import tqdm

    records: list[dict] = []
    interrupted = False
    bar = tqdm(claims, desc="claims", unit="claim", disable=None, file=sys.stderr)
    try:
        for c in bar:
            bar.set_postfix_str(c.id)
            record = done.get(c.id) or _run_one(c, full=args.full, xp=xp)
            records.append(record)
            _write(out, records, meta)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    _write(out, records, meta)

    print(_table(records))
    counts = _counts(records)
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + f"   (report: {out / 'report.md'})")
    for r in records:
        if r["verdict"] == ERROR:
            print(f"\n{r['id']} raised:\n{r.get('traceback', r['summary'])}", file=sys.stderr)
    if interrupted:
        print(f"interrupted: {len(records)} finished claims kept in {out / 'claims.json'} (rerun with --resume)")
        return 130
    return 1 if counts[FAIL] or counts[ERROR] else 0


if __name__ == "__main__":
    sys.exit(main())
