import json
import os
import subprocess
import sys

import pytest

from proofs_check.__main__ import main
from proofs_check.registry import Outcome, claim, registry


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
    assert "core.mehler_hermite" in printed and "pass" in printed


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
