"""``python -m proofs_check``: run the registered claims and report, claim by claim, whether each holds.

Quick scale by default (minutes on a 2-core CPU), ``--full`` for the papers' scale. Claims run in this
process, on ``--workers N`` local processes, or on a Dask cluster (``--scheduler ADDRESS``); each finished
claim is written to ``<out>/claims.json`` and ``<out>/report.md`` at once, so an interrupted run keeps what
finished and ``--resume`` skips those claims next time. A claim registered with ``split`` runs as one task
per value of that parameter; each finished part is written to ``<out>/parts.json`` at once and ``--resume``
reruns only the missing parts, and the claim's record is merged from its parts when the last one is in.

Exit status: 0 when every claim's outcome matches its registration (it holds, or it is a registered known
failure that still fails); 1 on anything unexpected (a new failure, an error, a known failure that now
holds); 2 for bad usage; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from proofs_check import report
from proofs_check.registry import TOPICS, load_all, merge_records, registry, run_record, select


def _parser() -> argparse.ArgumentParser:
    from theory._sweep import add_executor_arguments

    p = argparse.ArgumentParser(
        prog="python -m proofs_check",
        description="Run the papers' claims as numerical checks and report measured values and outcomes.",
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
    add_executor_arguments(p)
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


def _list() -> int:
    for c in registry().values():
        extra = f"  [needs {', '.join(c.requires)}]" if c.requires else ""
        known = "  [registered known failure]" if c.known_failure else (
            "  [registered known failure at full scale]" if c.known_failure_full else "")
        print(f"{c.id:<40} {c.paper.short()}  -- {c.stated}{extra}{known}")
    return 0


def _previous(out: Path, scale: str) -> dict[str, dict]:
    path = out / "claims.json"
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    if previous.get("meta", {}).get("scale") != scale:
        return {}
    return {r["id"]: r for r in previous["claims"] if r["verdict"] in (report.PASS, report.FAIL, report.SKIP)}


def _previous_parts(out: Path, scale: str) -> dict[tuple[str, str], dict]:
    """Finished part records of split claims stored in ``<out>/parts.json`` at this scale, by (id, str(part))."""
    path = out / report.PARTS_FILE
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    if previous.get("meta", {}).get("scale") != scale:
        return {}
    return {(r["id"], str(r["part"])): r for r in previous["parts"]
            if r["verdict"] in (report.PASS, report.FAIL, report.SKIP)}


def _run(claims, done, *, args, out, meta) -> tuple[list[dict], bool]:
    """Run the claims not in ``done``, one task per part; write the reports after each claim completes.

    A claim that is not split is one task. The parts of a split claim are written to ``<out>/parts.json`` as
    each finishes (kept with ``--resume``, so a rerun runs only the missing parts); when the last part is in,
    the parts are merged into the claim's record. Returns (records in claim order, interrupted).
    """
    from theory._sweep import Task, executor_from_options, map_tasks

    by_id = dict(done)
    order = [c.id for c in claims]
    parts_path = out / report.PARTS_FILE
    if args.resume:
        stored = _previous_parts(out, meta["scale"])
    else:
        stored = {}
        parts_path.unlink(missing_ok=True)  # parts of an earlier run are not reused without --resume
    pending = {c.id: c.parts(args.full) for c in claims if c.id not in done}
    got = {cid: {str(p): stored[(cid, str(p))] for p in parts if (cid, str(p)) in stored}
           for cid, parts in pending.items()}

    def complete(cid):
        if len(got[cid]) == len(pending[cid]):
            by_id[cid] = merge_records(cid, list(got[cid].values()), full=args.full)
            return True
        return False

    def finished(task, record):
        cid, part = task.key
        got[cid][str(part)] = record
        if part is not None:
            stored[(cid, str(part))] = record
            report.write_parts(out, list(stored.values()), {"scale": meta["scale"]})
        if complete(cid):
            report.write(out, [by_id[i] for i in order if i in by_id], meta)

    for cid in pending:
        complete(cid)  # every part already stored
    tasks = [Task(key=(cid, p), fn=run_record,
                  kwargs={"claim_id": cid, "full": args.full, "backend": args.backend, "part": p})
             for cid, parts in pending.items() if cid not in by_id for p in parts if str(p) not in got[cid]]
    interrupted = False
    try:
        with executor_from_options(args.workers, args.scheduler) as executor:
            map_tasks(tasks, executor=executor, on_result=finished, desc="claim tasks")
    except KeyboardInterrupt:
        interrupted = True
    records = [by_id[i] for i in order if i in by_id]
    report.write(out, records, meta)
    return records, interrupted


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    load_all()
    if args.list:
        return _list()
    claims = select(args.only)
    if not claims:
        parser.exit(
            2,
            f"proofs_check: error: --only {args.only!r} matches no claim id "
            f"(ids look like <topic>.<name>, topics {', '.join(TOPICS)}; see --list)\n",
        )
    if args.workers is not None and args.workers < 1:
        parser.exit(2, f"proofs_check: error: --workers must be an integer >= 1, got {args.workers}\n")
    out = _check_out_dir(parser, args.out)

    from kernels.backend import get_backend, set_backend

    if args.backend:
        try:
            set_backend(args.backend)
        except (RuntimeError, ValueError) as err:
            parser.exit(2, f"proofs_check: error: --backend {args.backend}: {err}\n")
    scale = "full" if args.full else "quick"
    meta = {
        "scale": scale,
        "backend": get_backend(),
        "workers": args.scheduler or (args.workers or 1),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    done = _previous(out, scale) if args.resume else {}
    records, interrupted = _run(claims, done, args=args, out=out, meta=meta)

    print(report.table(records))
    c = report.counts(records)
    print("\n" + report.paper_summary(records))
    print(f"\n{c[report.HOLDS]} hold, {c[report.DOCUMENTED]} do not hold (documented), "
          f"{c[report.UNEXPECTED]} unexpected, {c[report.SKIP]} skipped   (report: {out / 'report.md'})")
    for r in records:
        if r["verdict"] == report.ERROR:
            print(f"\n{r['id']} raised:\n{r.get('traceback', r['summary'])}", file=sys.stderr)
    if interrupted:
        print(f"interrupted: {len(records)} finished claims kept in {out / 'claims.json'}, finished parts of the "
              f"others in {out / report.PARTS_FILE} (rerun with --resume)")
        return 130
    return 0 if report.is_clean(records) else 1


if __name__ == "__main__":
    sys.exit(main())
