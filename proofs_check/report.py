"""Reports of a claim run: the terminal table, ``claims.json`` and ``report.md``.

Each record carries a raw verdict (``pass``, ``FAIL``, ``ERROR``, ``skipped``) and, against its registration,
an outcome in words:

- ``holds``: the claim passed and is not registered as a known failure;
- ``does not hold (documented)``: it failed and is registered as a known failure (a finding, not a regression);
- ``UNEXPECTED``: anything else (a new failure, an error, or a known failure that now holds);
- ``skipped``: an optional requirement (an extra) is missing.

The run is clean (exit 0) when no outcome is ``UNEXPECTED``.
"""

from __future__ import annotations

from collections import defaultdict

from theory import _io

__all__ = [
    "PASS",
    "FAIL",
    "ERROR",
    "SKIP",
    "HOLDS",
    "DOCUMENTED",
    "UNEXPECTED",
    "outcome_of",
    "counts",
    "is_clean",
    "table",
    "paper_summary",
    "markdown",
    "write",
    "PARTS_FILE",
    "write_parts",
]

PASS, FAIL, ERROR, SKIP = "pass", "FAIL", "ERROR", "skipped"
PARTS_FILE = "parts.json"
HOLDS, DOCUMENTED, UNEXPECTED = "holds", "does not hold (documented)", "UNEXPECTED"


def outcome_of(record: dict) -> str:
    """The record's outcome in words, judged against its registration (see the module docstring)."""
    verdict, known = record["verdict"], bool(record.get("known_failure"))
    if verdict == SKIP:
        return SKIP
    if verdict == PASS and not known:
        return HOLDS
    if verdict == FAIL and known:
        return DOCUMENTED
    return UNEXPECTED


def counts(records: list[dict]) -> dict[str, int]:
    """Number of records per outcome."""
    out = {HOLDS: 0, DOCUMENTED: 0, UNEXPECTED: 0, SKIP: 0}
    for r in records:
        out[outcome_of(r)] += 1
    return out


def is_clean(records: list[dict]) -> bool:
    """True when every outcome matches its registration."""
    return counts(records)[UNEXPECTED] == 0


def _why_unexpected(record: dict) -> str:
    if record["verdict"] == ERROR:
        return "raised"
    if record["verdict"] == PASS:
        return "known failure now holds"
    return "new failure"


def _key_number(record: dict, width: int) -> str:
    """The first measured value, which each claim lists first as its headline number."""
    summary = record.get("summary") or ""
    first = summary.split(";")[0].strip()
    return first if len(first) <= width else first[: width - 1] + "~"


def _clip(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "~"


def table(records: list[dict]) -> str:
    """Terminal table: claim, outcome in words, the key number, the stated threshold, seconds."""
    headers = ("claim", "outcome", "measured", "stated", "s")
    rows = []
    for r in records:
        outcome = outcome_of(r)
        if outcome == UNEXPECTED:
            outcome = f"UNEXPECTED ({_why_unexpected(r)})"
        rows.append((r["id"], outcome, _key_number(r, 44), _clip(r["stated"], 44), f"{r['seconds']:.1f}"))
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def paper_summary(records: list[dict]) -> str:
    """One line per paper: how many claims hold, are documented failures, are unexpected, skipped."""
    by_paper: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_paper[r["paper"]].append(r)
    lines = []
    for paper, recs in by_paper.items():
        c = counts(recs)
        parts = [f"{c[HOLDS]} hold"]
        if c[DOCUMENTED]:
            parts.append(f"{c[DOCUMENTED]} documented failure{'s' if c[DOCUMENTED] > 1 else ''}")
        if c[UNEXPECTED]:
            parts.append(f"{c[UNEXPECTED]} UNEXPECTED")
        if c[SKIP]:
            parts.append(f"{c[SKIP]} skipped")
        lines.append(f"{paper}: " + ", ".join(parts))
    return "\n".join(lines)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(records: list[dict], meta: dict) -> str:
    """``report.md``: the full stated and measured values of every claim."""
    lines = [
        "# Claims report",
        "",
        f"Scale: {meta['scale']}; backend: {meta['backend']}; workers: {meta.get('workers', 1)}; "
        f"started {meta['started']}; Python {meta['python']}; {meta['platform']}.",
        "",
        "| claim | paper | stated | measured | outcome | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        cells = (r["id"], r["paper"], r["stated"], r["summary"], outcome_of(r), f"{r['seconds']:.1f}")
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    lines += ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in counts(records).items()), ""]
    lines += ["Per paper:", "", *(f"- {line}" for line in paper_summary(records).splitlines()), ""]
    for r in records:
        lines += [f"## {r['id']}", "", r["statement"], "", f"- paper: {r['paper']}", f"- stated: {r['stated']}"]
        lines.append(f"- measured: {r['summary']}")
        lines.append(f"- outcome: {outcome_of(r)} (verdict {r['verdict']})")
        if r.get("known_failure"):
            lines.append(f"- known failure: {r['known_failure']}")
        lines.append("")
    return "\n".join(lines)


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write(out, records: list[dict], meta: dict) -> None:
    """Write ``claims.json`` (atomically) and ``report.md`` into folder ``out``."""
    _io.write_json(out / "claims.json", {"meta": meta, "claims": records}, indent=2, default=_json_default)
    (out / "report.md").write_text(markdown(records, meta))


def write_parts(out, part_records: list[dict], meta: dict) -> None:
    """Write the finished parts of split claims to ``PARTS_FILE`` in folder ``out`` (atomically).

    Each entry is a :func:`proofs_check.registry.run_record` record with its ``"part"``; ``--resume`` reruns
    only the parts not stored there with verdict pass, FAIL or skipped.
    """
    _io.write_json(out / PARTS_FILE, {"meta": meta, "parts": part_records}, indent=2, default=_json_default)
