"""theory.dkm.uci: the split protocol, the resumable sweep through map_tasks, the summary and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

import theory.dkm.uci as uci
from theory.dkm import UCI_MODELS, converged_counts, load_split, load_uci_results, markdown_table, run, summarise


def test_split_is_standardised_with_training_statistics():
    X_train, y_train, X_test, y_test, y_std = load_split("yacht", 0)
    assert X_train.shape[1] == X_test.shape[1] == 6
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-12)
    assert y_train.mean() == pytest.approx(0.0, abs=1e-12) and y_train.std() == pytest.approx(1.0)
    assert y_std > 0


def test_run_appends_each_task_and_resumes(tmp_path, monkeypatch):
    calls = []
    real = uci.fit_split

    def counted(**kwargs):
        calls.append((kwargs["dataset"], kwargs["split"]))
        return real(**kwargs)

    monkeypatch.setattr(uci, "fit_split", counted)
    options = dict(splits=range(1), out_dir=tmp_path, depth=1, max_iter=15, progress=False)
    records = run(("yacht",), **options)
    assert calls == [("yacht", 0)]
    assert sorted(r["model"] for r in records) == sorted(UCI_MODELS)
    assert (tmp_path / "yacht.jsonl").exists()
    assert len(run(("yacht",), **options)) == 3 and calls == [("yacht", 0)]  # resumed: nothing rerun
    counts = converged_counts(load_uci_results(tmp_path))
    assert set(counts["yacht"]) == set(UCI_MODELS)
    table = markdown_table(summarise(records))
    assert "| yacht | 1 | dkm |" in table


def test_cli_takes_executor_flags(tmp_path, monkeypatch, capsys):
    from theory.dkm.__main__ import main

    seen = {}

    def fake_run(datasets, *, splits, out_dir, executor):
        seen.update(datasets=datasets, splits=splits, executor=executor)
        return []

    monkeypatch.setattr("theory.dkm.__main__.run", fake_run)
    main(["--datasets", "yacht", "--splits", "2", "--workers", "1", "--out", str(tmp_path)])
    assert seen == {"datasets": ["yacht"], "splits": range(2), "executor": None}
    with pytest.raises(SystemExit):
        main(["--datasets", "nosuchdata"])
