import json
import os
import subprocess
import sys

import pytest

from proofs_check.__main__ import main
from proofs_check import registry as registry_module
from proofs_check.papers import MEHLER
from proofs_check.registry import Claim, Outcome, claim, registry


def test_registry_ids_and_papers():
    claims = registry()
    assert "core.mehler_hermite" in claims
    for cid, c in claims.items():
        assert c.topic in ("core", "ntk", "dkm", "pac_bayes", "nb_lr", "inductive_bias"), cid
        assert c.paper.arxiv and c.statement and c.stated


def test_bad_claim_id_rejected():
    with pytest.raises(ValueError, match="topic"):
        claim("nonsense", paper=None, statement="", stated="")


def test_run_writes_reports(tmp_path, capsys):
    code = main(["--only", "core.mehler", "--out", str(tmp_path)])
    assert code == 0
    payload = json.loads((tmp_path / "claims.json").read_text())
    assert [r["id"] for r in payload["claims"]] == ["core.mehler_hermite"]
    assert payload["claims"][0]["verdict"] == "pass"
    report = (tmp_path / "report.md").read_text()
    assert "| core.mehler_hermite |" in report
    printed = capsys.readouterr().out
    assert "core.mehler_hermite" in printed and "holds" in printed
    assert "1 hold, 0 do not hold (documented), 0 unexpected" in printed


def test_resume_keeps_finished_claims(tmp_path):
    assert main(["--only", "core.mehler", "--out", str(tmp_path)]) == 0
    first = json.loads((tmp_path / "claims.json").read_text())["claims"][0]
    assert main(["--only", "core.mehler", "--out", str(tmp_path), "--resume"]) == 0
    again = json.loads((tmp_path / "claims.json").read_text())["claims"][0]
    assert again["seconds"] == first["seconds"]


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "proofs_check", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ)
    )


def test_unknown_pattern_is_usage_error(tmp_path):
    r = _cli("--only", "no-such-claim", "--out", str(tmp_path))
    assert r.returncode == 2
    assert "matches no claim id" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_unwritable_out_is_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = _cli("--only", "core", "--out", str(blocker / "sub"))
    assert r.returncode == 2
    assert "--out" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_list():
    r = _cli("--list")
    assert r.returncode == 0 and "core.mehler_hermite" in r.stdout


def _fake(monkeypatch, cid, *, passed=True, known=None, raises=False, known_full=None):
    def check(params, xp):
        if raises:
            raise RuntimeError("boom")
        return Outcome(measured={"value": 1.0 if passed else 0.0}, threshold=0.5, passed=passed)

    monkeypatch.setitem(registry_module._REGISTRY, cid, Claim(
        id=cid, paper=MEHLER, statement="a test claim", stated="value >= 0.5", check=check, known_failure=known,
        known_failure_full=known_full))


@pytest.mark.parametrize(
    "passed, known, raises, code, outcome",
    [
        (True, None, False, 0, "holds"),
        (False, "measured not to hold", False, 0, "does not hold (documented)"),
        (False, None, False, 1, "UNEXPECTED (new failure)"),
        (True, "measured not to hold", False, 1, "UNEXPECTED (known failure now holds)"),
        (False, None, True, 1, "UNEXPECTED (raised)"),
        (True, "measured not to hold", True, 1, "UNEXPECTED (raised)"),
    ],
)
def test_exit_code_matches_registration(monkeypatch, tmp_path, capsys, passed, known, raises, code, outcome):
    _fake(monkeypatch, "core.zz_fake", passed=passed, known=known, raises=raises)
    assert main(["--only", "core.zz_fake", "--out", str(tmp_path)]) == code
    out = capsys.readouterr().out
    assert outcome in out
    assert "O'Donnell" in out  # the per-paper summary line
    stored = json.loads((tmp_path / "claims.json").read_text())["claims"][0]
    assert stored["verdict"] == ("ERROR" if raises else "pass" if passed else "FAIL")
    assert outcome.split(" (")[0] in (tmp_path / "report.md").read_text()


def test_documented_failure_beside_a_passing_claim_is_clean(monkeypatch, tmp_path, capsys):
    _fake(monkeypatch, "core.zz_fake_a", passed=True)
    _fake(monkeypatch, "core.zz_fake_b", passed=False, known="documented finding")
    assert main(["--only", "core.zz_fake", "--out", str(tmp_path)]) == 0
    assert "1 hold, 1 do not hold (documented), 0 unexpected" in capsys.readouterr().out


def test_known_failure_at_full_scale_only(monkeypatch, tmp_path, capsys):
    """A failure registered for the full scale is documented there and unexpected at quick scale."""
    _fake(monkeypatch, "core.zz_fake", passed=False, known_full="paper-scale finding")
    assert main(["--only", "core.zz_fake", "--out", str(tmp_path / "full"), "--full"]) == 0
    assert "does not hold (documented)" in capsys.readouterr().out
    stored = json.loads((tmp_path / "full" / "claims.json").read_text())["claims"][0]
    assert stored["known_failure"] == "paper-scale finding"
    assert main(["--only", "core.zz_fake", "--out", str(tmp_path / "quick")]) == 1
    assert "UNEXPECTED (new failure)" in capsys.readouterr().out


def test_workers_flag_gives_the_serial_records(tmp_path):
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    assert main(["--only", "core.mehler", "--out", str(serial)]) == 0
    assert main(["--only", "core.mehler", "--out", str(pooled), "--workers", "2"]) == 0
    a, b = (json.loads((d / "claims.json").read_text())["claims"] for d in (serial, pooled))
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(a) == strip(b)


def test_bad_workers_is_usage_error(tmp_path):
    r = _cli("--only", "core", "--out", str(tmp_path), "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr
