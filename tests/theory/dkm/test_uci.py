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
        records = real(**kwargs)
        calls.append((kwargs["dataset"], kwargs["split"], sorted(r["model"] for r in records)))
        return records

    monkeypatch.setattr(uci, "fit_split", counted)
    options = dict(splits=range(1), out_dir=tmp_path, depth=1, max_iter=15, progress=False)
    records = run(("yacht",), **options)
    # the baselines first; the DKM task starts from the stored NNGP fit instead of refitting it
    assert calls == [("yacht", 0, ["gp", "nngp"]), ("yacht", 0, ["dkm"])]
    assert sorted(r["model"] for r in records) == sorted(UCI_MODELS)
    assert (tmp_path / "yacht.jsonl").exists()
    assert len(run(("yacht",), **options)) == 3 and len(calls) == 2  # resumed: nothing rerun
    counts = converged_counts(load_uci_results(tmp_path))
    assert set(counts["yacht"]) == set(UCI_MODELS)
    summary = summarise(records)
    for model in UCI_MODELS:
        fit = next(r for r in records if r["model"] == model)
        assert summary["yacht"][model]["converged"] == (int(fit["converged"]), 1)
        assert summary["yacht"][model]["rmse"] == (fit["rmse"], pytest.approx(np.nan, nan_ok=True), 1)
    dkm = summary["yacht"]["dkm"]
    assert f"| yacht | 1 | dkm | {dkm['converged'][0]}/1 |" in markdown_table(summary)


def test_an_interrupted_dkm_fit_keeps_the_baselines_and_resumes_from_them(tmp_path, monkeypatch):
    """A DKM task that dies leaves the stored GP and NNGP; the rerun fits the DKM alone, from the stored
    NNGP hyperparameters, to the same result as a fit that refits the NNGP."""
    real = uci.fit_split

    def dies_in_dkm(**kwargs):
        if "dkm" in kwargs["models"]:
            raise KeyboardInterrupt
        return real(**kwargs)

    options = dict(splits=range(1), out_dir=tmp_path, depth=1, max_iter=15, progress=False)
    monkeypatch.setattr(uci, "fit_split", dies_in_dkm)
    with pytest.raises(KeyboardInterrupt):
        run(("yacht",), **options)
    assert sorted(r["model"] for r in load_uci_results(tmp_path)) == ["gp", "nngp"]
    monkeypatch.setattr(uci, "fit_split", real)
    records = run(("yacht",), **options)
    assert sorted(r["model"] for r in records) == sorted(UCI_MODELS)
    resumed = next(r for r in records if r["model"] == "dkm")
    fresh = real(dataset="yacht", split=0, depth=1, max_iter=15, models=("dkm",))  # refits its NNGP
    assert sorted(r["model"] for r in fresh) == ["dkm", "nngp"]
    again = next(r for r in fresh if r["model"] == "dkm")
    assert resumed["objective"] == again["objective"] and resumed["test_ll"] == again["test_ll"]


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
