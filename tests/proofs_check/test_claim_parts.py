"""Claims split into independent parts: one task per part, merged into the unsplit record, resumable per part."""

import dataclasses
import json

import pytest

from proofs_check import registry as registry_module
from proofs_check.__main__ import main
from proofs_check.papers import MEHLER
from proofs_check.registry import Claim, Outcome, claim, merge_records, registry, run_record

TOY = "core.zz_parts"


def _toy_check(params, xp):
    """Per d: value d / 2 (passes when >= 0.4); logs each d run; raises on flag files (tests only)."""
    log = params["log"]
    values, flags = {}, {}
    for d in params["dims"]:
        with open(log, "a") as f:
            f.write(f"{d}\n")
        for kind, exc in (("raise", RuntimeError), ("interrupt", KeyboardInterrupt)):
            if (params["flags"] / f"{kind}{d}").exists():
                raise exc(f"boom {d}")
        values[f"d={d}"] = d / 2
        flags[str(d)] = d % 2 == 1
    return Outcome(measured={"value": values, "odd": flags}, threshold=0.4,
                   passed=min(values.values()) >= params["min_value"], details={"runs": {str(d): 1 for d in values}})


def _register(monkeypatch, tmp_path, *, split="dims", dims=(1, 2, 3), min_value=0.4):
    (tmp_path / "flags").mkdir(exist_ok=True)
    quick = {"dims": list(dims), "log": str(tmp_path / "calls.log"), "flags": tmp_path / "flags",
             "min_value": min_value}
    monkeypatch.setitem(registry_module._REGISTRY, TOY, Claim(
        id=TOY, paper=MEHLER, statement="a split test claim", stated="value >= 0.4", check=_toy_check,
        quick=quick, split=split))
    return quick


def _calls(tmp_path) -> list[int]:
    log = tmp_path / "calls.log"
    calls = [int(x) for x in log.read_text().split()] if log.exists() else []
    log.unlink(missing_ok=True)
    return sorted(calls)


def _stored(out, name="claims.json"):
    return json.loads((out / name).read_text())


def _strip(record):
    return {k: v for k, v in record.items() if k != "seconds"}


def test_parts_and_one_part_run(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path)
    c = registry_module._REGISTRY[TOY]
    assert c.parts() == [1, 2, 3] and c.parts(full=True) == [1, 2, 3]
    outcome = c.run(part=2)
    assert outcome.measured == {"value": {"d=2": 1.0}, "odd": {"2": False}}
    assert _calls(tmp_path) == [2]
    with pytest.raises(ValueError, match=r"part must be one of \[1, 2, 3\].*got 7"):
        c.run(part=7)
    whole = dataclasses.replace(c, split=None)
    assert whole.parts() == [None]
    with pytest.raises(ValueError, match="part must be one of"):
        whole.run(part=1)


def test_registration_checks_the_split_parameter():
    kw = dict(paper=MEHLER, statement="s", stated="s")
    with pytest.raises(ValueError, match=r"split 'dims' must name a list parameter, got quick\['dims'\] = 3"):
        claim("core.zz_bad_split", quick={"dims": 3}, split="dims", **kw)
    with pytest.raises(ValueError, match=r"must name a quick parameter, got \['n'\]"):
        claim("core.zz_bad_split", quick={"n": 3}, split="dims", **kw)
    with pytest.raises(ValueError, match=r"full\['dims'\]"):
        claim("core.zz_bad_split", quick={"dims": [1]}, full={"dims": 2}, split="dims", **kw)
    assert "core.zz_bad_split" not in registry_module._REGISTRY


def test_hilbert_claim_is_split_by_dimension():
    c = registry()["ntk.nngp_d_opt_matches_hilbert"]
    assert c.split == "dims"
    assert c.parts() == [2, 3, 5] and c.parts(full=True) == [2, 3, 5, 9]


def test_merged_parts_equal_the_unsplit_record(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path)
    parts = [run_record(TOY, part=p) for p in (3, 1, 2)]
    assert [r["part"] for r in parts] == [3, 1, 2] and parts[0]["params"]["dims"] == [1, 2, 3]
    merged = merge_records(TOY, parts)
    _register(monkeypatch, tmp_path, split=None)
    whole = run_record(TOY)
    assert whole["part"] is None
    unsplit = merge_records(TOY, [whole])
    assert "part" not in unsplit and _strip(unsplit) == _strip({k: v for k, v in whole.items() if k != "part"})
    assert list(merged) == list(unsplit)  # same keys in the same order
    assert _strip(merged) == _strip(unsplit)
    assert list(merged["measured"]["value"]) == ["d=1", "d=2", "d=3"]  # parts merged in parameter order
    assert merged["summary"] == "value={d=1: 0.5, d=2: 1, d=3: 1.5}; odd={1: True, 2: False, 3: True}"
    assert merged["seconds"] == pytest.approx(sum(r["seconds"] for r in parts), abs=2e-3)


def test_merged_failure_equals_the_unsplit_failure(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path, min_value=0.75)  # part 1 (value 0.5) fails, parts 2 and 3 hold
    parts = [run_record(TOY, part=p) for p in (1, 2, 3)]
    assert [r["verdict"] for r in parts] == ["FAIL", "pass", "pass"]
    merged = merge_records(TOY, parts)
    _register(monkeypatch, tmp_path, split=None, min_value=0.75)
    assert merged["verdict"] == "FAIL"
    assert _strip(merged) == _strip(merge_records(TOY, [run_record(TOY)]))


def _part(part, verdict="pass", **result):
    return {"id": TOY, "paper": "p", "arxiv": "a", "statement": "s", "stated": "s", "scale": "quick",
            "params": {"dims": [1, 2]}, "part": part, "known_failure": None, "verdict": verdict, **result}


def test_merge_rules(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path, dims=(1, 2))
    a = _part(1, measured={"m": {"x1": 1.0}, "n": 3}, threshold=0.5, summary="ignored", details={"t": 1},
              seconds=1.25)
    b = _part(2, verdict="FAIL", measured={"m": {"x2": 2.0}, "n": 4}, threshold=9.0, summary="ignored",
              details={"t": 2}, seconds=0.5)
    merged = merge_records(TOY, [b, a])
    assert merged == {
        "id": TOY, "paper": "p", "arxiv": "a", "statement": "s", "stated": "s", "scale": "quick",
        "params": {"dims": [1, 2]}, "known_failure": None, "verdict": "FAIL",
        "measured": {"m": {"x1": 1.0, "x2": 2.0}, "n": {"1": 3, "2": 4}}, "threshold": 0.5,
        "summary": "m={x1: 1, x2: 2}; n={1: 3, 2: 4}", "details": {"t": {"1": 1, "2": 2}}, "seconds": 1.75,
    }
    assert merge_records(TOY, [a, dict(b, verdict="pass")])["verdict"] == "pass"
    error = _part(2, verdict="ERROR", measured={}, summary="RuntimeError: boom", traceback="Traceback ...",
                  seconds=0.25)
    merged = merge_records(TOY, [a, error])
    assert {k: merged[k] for k in ("verdict", "measured", "summary", "traceback", "seconds")} == {
        "verdict": "ERROR", "measured": {}, "summary": "RuntimeError: boom", "traceback": "Traceback ...",
        "seconds": 1.5}
    assert "threshold" not in merged and "details" not in merged
    skipped = [_part(p, verdict="skipped", measured={}, summary="needs x (install the extra)", seconds=0.0)
               for p in (1, 2)]
    assert merge_records(TOY, skipped) == dict(
        {k: v for k, v in skipped[0].items() if k != "part"}, seconds=0.0)


def test_merge_refuses_missing_parts_and_reports_overlapping_ones(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path, dims=(1, 2))
    a = _part(1, measured={"m": {"x": 1.0}}, threshold=0.5, summary="", details={}, seconds=1.0)
    with pytest.raises(ValueError, match=r"one per part \[1, 2\], got parts \[1\]"):
        merge_records(TOY, [a])
    with pytest.raises(ValueError, match="one per part"):
        merge_records(TOY, [a, a])
    clash = merge_records(TOY, [a, dict(a, part=2, measured={"m": {"x": 2.0}})])
    assert clash["verdict"] == "ERROR" and "parts disagree on measured['m']['x']: 1.0 and 2.0" in clash["summary"]
    assert clash["seconds"] == 2.0
    same = merge_records(TOY, [a, dict(a, part=2)])  # the same value from two parts is kept once
    assert same["verdict"] == "pass" and same["measured"] == {"m": {"x": 1.0}}


@pytest.mark.parametrize("workers", [None, 2])
def test_cli_split_run_stores_the_unsplit_record(monkeypatch, tmp_path, workers):
    _register(monkeypatch, tmp_path, split=None)
    assert main(["--only", TOY, "--out", str(tmp_path / "whole")]) == 0
    assert _calls(tmp_path) == [1, 2, 3]
    assert not (tmp_path / "whole" / "parts.json").exists()  # nothing to store for an unsplit claim
    _register(monkeypatch, tmp_path)
    extra = ["--workers", str(workers)] if workers else []
    assert main(["--only", TOY, "--out", str(tmp_path / "split"), *extra]) == 0
    assert _calls(tmp_path) == [1, 2, 3]
    whole, split = (_stored(tmp_path / d)["claims"] for d in ("whole", "split"))
    assert [_strip(r) for r in split] == [_strip(r) for r in whole]
    assert sorted(r["part"] for r in _stored(tmp_path / "split", "parts.json")["parts"]) == [1, 2, 3]


def test_resume_after_an_interruption_runs_only_the_missing_parts(monkeypatch, tmp_path, capsys):
    _register(monkeypatch, tmp_path)
    out = tmp_path / "out"
    assert main(["--only", TOY, "--out", str(out)]) == 0
    reference = _stored(out)["claims"]
    _calls(tmp_path)
    (tmp_path / "flags" / "interrupt3").touch()
    assert main(["--only", TOY, "--out", str(out)]) == 130  # interrupted in part 3
    assert "rerun with --resume" in capsys.readouterr().out
    assert _calls(tmp_path) == [1, 2, 3]
    assert _stored(out)["claims"] == []  # the claim is not finished: no record yet
    assert sorted(r["part"] for r in _stored(out, "parts.json")["parts"]) == [1, 2]
    (tmp_path / "flags" / "interrupt3").unlink()
    assert main(["--only", TOY, "--out", str(out), "--resume"]) == 0
    assert _calls(tmp_path) == [3]
    assert [_strip(r) for r in _stored(out)["claims"]] == [_strip(r) for r in reference]
    assert main(["--only", TOY, "--out", str(out), "--resume"]) == 0  # finished claim: nothing reruns
    assert _calls(tmp_path) == []
    assert main(["--only", TOY, "--out", str(out)]) == 0  # without --resume every part reruns
    assert _calls(tmp_path) == [1, 2, 3]


def test_resume_reruns_only_the_part_that_raised(monkeypatch, tmp_path, capsys):
    _register(monkeypatch, tmp_path)
    out = tmp_path / "out"
    (tmp_path / "flags" / "raise2").touch()
    assert main(["--only", TOY, "--out", str(out)]) == 1
    assert "UNEXPECTED (raised)" in capsys.readouterr().out
    (record,) = _stored(out)["claims"]
    assert record["verdict"] == "ERROR" and record["summary"] == "RuntimeError: boom 2"
    assert "RuntimeError: boom 2" in record["traceback"] and "part" not in record
    assert _calls(tmp_path) == [1, 2, 3]
    (tmp_path / "flags" / "raise2").unlink()
    assert main(["--only", TOY, "--out", str(out), "--resume"]) == 0
    assert _calls(tmp_path) == [2]
    assert _stored(out)["claims"][0]["verdict"] == "pass"


def test_parts_of_the_other_scale_are_not_reused(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path)
    out = tmp_path / "out"
    (tmp_path / "flags" / "interrupt3").touch()
    assert main(["--only", TOY, "--out", str(out)]) == 130
    (tmp_path / "flags" / "interrupt3").unlink()
    _calls(tmp_path)
    assert main(["--only", TOY, "--out", str(out), "--full", "--resume"]) == 0
    assert _calls(tmp_path) == [1, 2, 3]


def test_real_hilbert_check_merges_to_its_unsplit_outcome(monkeypatch):
    """The Hilbert claim's own check at a toy size (n = 40, shallow): merged parts equal the unsplit run."""
    real = registry()["ntk.nngp_d_opt_matches_hilbert"]
    tiny = dataclasses.replace(real, id="ntk.zz_tiny_hilbert", quick={
        **real.quick, "n": 40, "dims": [2, 3], "d_opt_depth": 3, "sine_depths": [2], "erf_depth": 2})
    monkeypatch.setitem(registry_module._REGISTRY, tiny.id, tiny)
    merged = merge_records(tiny.id, [run_record(tiny.id, part=d) for d in (2, 3)])
    monkeypatch.setitem(registry_module._REGISTRY, tiny.id, dataclasses.replace(tiny, split=None))
    unsplit = merge_records(tiny.id, [run_record(tiny.id)])
    assert _strip(merged) == _strip(unsplit) and list(merged) == list(unsplit)
    assert list(merged["measured"]["agreement"]) == list(unsplit["measured"]["agreement"])
    assert set(merged["measured"]["agreement"]) == {"d=2 2d_opt L=3", "d=3 3d_opt L=3", "d=3 sine_2.676 L=2"}
    assert merged["verdict"] == ("pass" if min(merged["measured"]["agreement"].values()) >= 0.99 else "FAIL")
