"""The claim registry: each paper's claims as executable, self-reporting checks.

A claim is a function ``check(params, xp) -> Outcome`` registered with :func:`claim`, together with
the paper it comes from, the statement in words, and two parameter sets: ``quick`` (minutes for
the whole suite on a 2-core CPU; what ``pytest`` and ``python -m proofs_check`` run by default)
and ``full`` (the paper's scale, ``--full``).

Claim modules live in :mod:`proofs_check.claims` (one module per topic) and are imported by
:func:`load_all`.  Claim ids are ``<topic>.<name>`` with topic one of :data:`TOPICS`.

A claim whose check loops over independent cases can name that list-valued parameter as its ``split``:
each value is then a *part*, run as its own task (:func:`run_record` with ``part=``) with the parameter
replaced by the one-element list ``[part]``, and :func:`merge_records` combines the parts' records into the
claim's record, the same as the unsplit run's when the measured values are dicts keyed per case.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = [
    "TOPICS",
    "Paper",
    "Claim",
    "Outcome",
    "claim",
    "registry",
    "load_all",
    "select",
    "run_record",
    "merge_records",
]

TOPICS = ("core", "ntk", "dkm", "pac_bayes", "nb_lr", "inductive_bias")


@dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    venue: str
    arxiv: str

    def short(self) -> str:
        names = [a.strip() for a in self.authors.split(",") if a.strip()]
        lead = names[0].split(" ")[-1] + (" et al." if len(names) > 1 else "")
        return f"{lead} ({self.venue}; arXiv {self.arxiv})"


@dataclass
class Outcome:
    """What a claim measured.

    ``measured``: named numbers (floats, ints, or small dicts/lists of them);
    ``threshold``: the stated target in words or numbers; ``passed``: the verdict;
    ``summary``: a short text for the table (default: the measured values formatted).
    """

    measured: dict[str, Any]
    threshold: Any
    passed: bool
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.passed = bool(self.passed)
        if not self.summary:
            self.summary = format_measured(self.measured)


@dataclass(frozen=True)
class Claim:
    id: str
    paper: Paper
    statement: str
    stated: str
    check: Callable[[dict, Any], Outcome]
    quick: dict = field(default_factory=dict)
    full: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    known_failure: str | None = None
    known_failure_full: str | None = None
    split: str | None = None

    @property
    def topic(self) -> str:
        return self.id.split(".", 1)[0]

    def missing_requirements(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def known_failure_at(self, full: bool = False) -> str | None:
        """The registered known failure at this scale (``known_failure_full`` at full scale, if set)."""
        return (self.known_failure_full or self.known_failure) if full else self.known_failure

    def params(self, full: bool = False) -> dict:
        merged = dict(self.quick)
        if full:
            merged.update(self.full)
        return merged

    def parts(self, full: bool = False) -> list:
        """The values of the ``split`` parameter at this scale, one per part; ``[None]`` when not split."""
        if self.split is None:
            return [None]
        values = self.params(full).get(self.split)
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"claim {self.id}: split parameter {self.split!r} must be a non-empty list, got {values!r}")
        names = [str(v) for v in values]
        if len(set(names)) != len(names):
            raise ValueError(f"claim {self.id}: split parameter {self.split!r} has repeated values {list(values)!r}")
        return list(values)

    def run(self, *, full: bool = False, xp=None, part=None) -> Outcome:
        """Run the check; with ``part`` (one of :meth:`parts`), only that part: ``params[split] = [part]``."""
        if xp is None:
            from kernels.backend import namespace_of

            xp = namespace_of()
        params = self.params(full)
        if part is not None:
            allowed = self.parts(full)
            if self.split is None or str(part) not in {str(v) for v in allowed}:
                raise ValueError(f"claim {self.id}: part must be one of {allowed} (split {self.split!r}), got {part!r}")
            params[self.split] = [part]
        outcome = self.check(params, xp)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"claim {self.id} returned {type(outcome).__name__}, expected Outcome")
        return outcome


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    *,
    paper: Paper,
    statement: str,
    stated: str,
    quick: dict | None = None,
    full: dict | None = None,
    requires: tuple[str, ...] = (),
    known_failure: str | None = None,
    known_failure_full: str | None = None,
    split: str | None = None,
):
    """Register ``check(params, xp) -> Outcome`` as claim ``id``.

    ``stated``: the target as the table shows it (e.g. ``"agreement >= 0.99"``).
    ``requires``: importable modules the claim needs (an extra); without them it is skipped.
    ``known_failure``: set when the claim is measured not to hold at the stated threshold; the
    verdict is still computed and reported, and the pytest check expects the failure (strict).
    ``known_failure_full``: the same for the full scale only (a finding of the paper-scale run); at full
    scale it replaces ``known_failure``.
    ``split``: the name of a list-valued parameter whose values the check handles independently (e.g.
    ``"dims"``); each value then runs as a separate task and the parts' records are merged
    (:func:`merge_records`). Its measured values should be dicts keyed per value, so that the merge equals
    the unsplit run.
    """
    topic = id.split(".", 1)[0]
    if "." not in id or topic not in TOPICS:
        raise ValueError(f"claim id must be '<topic>.<name>' with topic in {TOPICS}, got {id!r}")
    for scale, values in (("quick", quick or {}), ("full", full or {})):
        if split is not None and split in values and not isinstance(values[split], (list, tuple)):
            raise ValueError(f"claim {id}: split {split!r} must name a list parameter, got {scale}[{split!r}] = "
                             f"{values[split]!r}")
    if split is not None and split not in (quick or {}):
        raise ValueError(f"claim {id}: split {split!r} must name a quick parameter, got {sorted(quick or {})}")

    def register(check):
        if id in _REGISTRY:
            raise ValueError(f"claim id {id!r} registered twice")
        _REGISTRY[id] = Claim(
            id=id,
            paper=paper,
            statement=statement,
            stated=stated,
            check=check,
            quick=dict(quick or {}),
            full=dict(full or {}),
            requires=tuple(requires),
            known_failure=known_failure,
            known_failure_full=known_failure_full,
            split=split,
        )
        return check

    return register


def registry() -> dict[str, Claim]:
    load_all()
    return dict(sorted(_REGISTRY.items()))


_loaded = False


def load_all() -> None:
    """Import every module of :mod:`proofs_check.claims` (each registers its claims)."""
    global _loaded
    if _loaded:
        return
    from proofs_check import claims as claims_pkg

    for info in sorted(pkgutil.iter_modules(claims_pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"{claims_pkg.__name__}.{info.name}")
    _loaded = True


def select(pattern: str | None = None) -> list[Claim]:
    """Registered claims whose id contains ``pattern`` (all when ``None``)."""
    claims = list(registry().values())
    if pattern:
        claims = [c for c in claims if pattern in c.id]
    return claims


def _format_value(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_format_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_format_value(x) for x in v) + "]"
    return str(v)


def format_measured(measured: dict) -> str:
    return "; ".join(f"{k}={_format_value(v)}" for k, v in measured.items())


def run_record(claim_id: str, *, full: bool = False, backend: str | None = None, part=None) -> dict:
    """Run one registered claim (or one ``part`` of a split claim) and return its report record.

    The record is a plain dict, as stored in ``claims.json``, with ``"part": part`` (None for the whole
    claim); :func:`merge_records` turns the records of a claim's parts into the claim's record. Picklable
    by name, so a sweep runs it on any executor (worker processes or a Dask cluster): the worker loads the
    registry and selects the array backend itself. A claim that raises is reported with verdict ``ERROR``
    and its traceback, not hidden; one whose optional requirements are missing is ``skipped``.
    """
    from kernels.backend import namespace_of, set_backend

    c = registry()[claim_id]
    record = {
        "id": c.id,
        "paper": c.paper.short(),
        "arxiv": c.paper.arxiv,
        "statement": c.statement,
        "stated": c.stated,
        "scale": "full" if full else "quick",
        "params": c.params(full),
        "part": part,
        "known_failure": c.known_failure_at(full),
    }
    missing = c.missing_requirements()
    if missing:
        record.update(verdict="skipped", measured={}, summary=f"needs {', '.join(missing)} (install the extra)",
                      seconds=0.0)
        return record
    start = time.perf_counter()
    try:
        if backend:
            set_backend(backend)  # a worker process starts with the default backend
        outcome = c.run(full=full, xp=namespace_of(), part=part)
    except Exception as err:  # a crashing claim is reported, not hidden
        record.update(verdict="ERROR", measured={}, summary=f"{type(err).__name__}: {err}".splitlines()[0][:200],
                      traceback=traceback.format_exc())
    else:
        record.update(verdict="pass" if outcome.passed else "FAIL", measured=outcome.measured,
                      threshold=outcome.threshold, summary=outcome.summary, details=outcome.details)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


_RESULT_KEYS = ("part", "verdict", "measured", "threshold", "summary", "details", "traceback", "seconds")


def _merge_values(name: str, records: list[dict]) -> dict:
    """Per key of ``record[name]``: dicts merged (union; a key given twice must agree), others ``{str(part): v}``."""
    merged: dict = {}
    for r in records:
        for key, value in r.get(name, {}).items():
            if isinstance(value, dict):
                into = merged.setdefault(key, {})
                if not isinstance(into, dict):
                    raise ValueError(f"{name}[{key!r}] is a dict in part {r['part']!r} but not in an earlier part")
                for k, v in value.items():
                    if k in into and into[k] != v:
                        raise ValueError(f"parts disagree on {name}[{key!r}][{k!r}]: {into[k]!r} and {v!r} "
                                         f"(part {r['part']!r})")
                    into[k] = v
            else:
                into = merged.setdefault(key, {})
                if not isinstance(into, dict):
                    raise ValueError(f"{name}[{key!r}] is a dict in an earlier part but not in part {r['part']!r}")
                into[str(r["part"])] = value
    return merged


def merge_records(claim_id: str, records, *, full: bool = False) -> dict:
    """The claim's record (as :func:`run_record` gives for the whole claim) from the records of its parts.

    ``records``: one record per value of :meth:`Claim.parts`, in any order. The verdict is ``ERROR`` if
    a part raised (that part's summary and traceback are kept), else ``skipped`` if a part was skipped,
    else ``FAIL`` if a part failed, else ``pass``. ``measured`` and ``details``: per key, the parts' dicts
    merged (union), other values as ``{str(part): value}``; the threshold is the first part's; the summary
    is :func:`format_measured` of the merged values; ``seconds`` is the sum over the parts. A claim that is
    not split has the one part None, whose record is returned without its ``"part"`` entry.
    """
    c = registry()[claim_id]
    records = list(records)
    by_part = {str(r.get("part")): r for r in records}
    parts = c.parts(full)
    if sorted(by_part) != sorted(str(p) for p in parts) or len(by_part) != len(records):
        raise ValueError(f"claim {claim_id}: records must be one per part {parts}, got parts "
                         f"{[r.get('part') for r in records]}")
    ordered = [by_part[str(p)] for p in parts]
    if c.split is None:
        return {k: v for k, v in ordered[0].items() if k != "part"}
    merged = {k: v for k, v in ordered[0].items() if k not in _RESULT_KEYS}
    seconds = round(sum(r["seconds"] for r in ordered), 3)
    errored = [r for r in ordered if r["verdict"] == "ERROR"]
    skipped = [r for r in ordered if r["verdict"] == "skipped"]
    if errored:
        merged.update(verdict="ERROR", measured={}, summary=errored[0]["summary"], traceback=errored[0]["traceback"])
    elif skipped:
        merged.update(verdict="skipped", measured={}, summary=skipped[0]["summary"])
    else:
        try:
            measured, details = _merge_values("measured", ordered), _merge_values("details", ordered)
        except ValueError as err:  # a claim whose parts overlap is reported, not silently overwritten
            merged.update(verdict="ERROR", measured={}, summary=f"ValueError: merging the parts: {err}"[:200],
                          traceback=traceback.format_exc())
        else:
            verdict = "FAIL" if any(r["verdict"] == "FAIL" for r in ordered) else "pass"
            merged.update(verdict=verdict, measured=measured, threshold=ordered[0]["threshold"],
                          summary=format_measured(measured), details=details)
    merged["seconds"] = seconds
    return merged
