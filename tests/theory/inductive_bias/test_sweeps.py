"""The dimension sweep: results, resumption from the store, the same numbers on an executor."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from theory import _io
from theory.inductive_bias import sweeps
from theory.inductive_bias.gp_hypotheses import gp_posterior, loss_distribution
from theory.inductive_bias.sweeps import STORE_NAME, DimensionSweepResult, dimension_sweep
from theory.inductive_bias.tasks import synthetic_classification

CONFIG = {"dims": [2, 4], "seeds": 2, "eps": [0.5, 0.8], "n_train": 12, "n_test": 6, "n_samples": 200}


def _run(tmp_path, **options):
    c = CONFIG
    return dimension_sweep(c["dims"], c["seeds"], c["eps"], n_train=c["n_train"], n_test=c["n_test"],
                           n_samples=c["n_samples"], results=tmp_path, progress=False, **options)


def test_sweep_values_resume_and_executor(tmp_path, monkeypatch):
    result = _run(tmp_path)
    assert isinstance(result, DimensionSweepResult) and result.dims == [2, 4]
    task = synthetic_classification(4, n_train=12, n_test=6, rng=1)
    dist = loss_distribution(gp_posterior(task.x_train, task.y_train, task.x_test), task.y_test)
    assert result.records[3]["exact"]["0.5"] == dist.bits(0.5).bits
    lo, mean, hi = result.exact["0.5"][1]
    assert lo <= mean <= hi and len(result.ncx2["0.8"]) == 2
    assert len(_io.read_jsonl(tmp_path / STORE_NAME)) == 4

    def fail(**kwargs):
        raise AssertionError("a stored configuration was recomputed")

    monkeypatch.setattr(sweeps, "dimension_point", fail)
    assert _run(tmp_path).as_dict() == result.as_dict()
    monkeypatch.undo()
    with ThreadPoolExecutor(2) as pool:
        assert _run(tmp_path / "other", executor=pool).as_dict() == result.as_dict()


def test_sweep_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seeds"):
        dimension_sweep([2], 0, [0.5], results=tmp_path)
    with pytest.raises(ValueError, match="eps"):
        dimension_sweep([2], 1, [-0.5], results=tmp_path)
