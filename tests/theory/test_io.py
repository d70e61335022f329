"""theory._io: data directory, results policy, JSONL resume, atomic writes."""
from pathlib import Path

import pytest

from theory import _io as data


def test_data_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="LTL_DATA_DIR"):
        data.data_dir()
    with pytest.raises(FileNotFoundError, match="LTL_DATA_DIR"):
        monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path))
        data.data_path("nope.csv")


def test_packaged_data_is_the_default(monkeypatch):
    import theory

    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    root = data.data_dir()
    assert root == data.packaged_data_dir()
    assert root.is_relative_to(Path(theory.__file__).parent)  # inside the installed package, nothing beside it
    assert (root / "uci" / "yacht" / "data.txt").is_file()
    assert (root / "ag_news" / "test.csv").is_file() and (root / "README.md").is_file()
    for name in ("concrete", "energy", "kin8nm", "naval-propulsion-plant", "power-plant",
                 "protein-tertiary-structure", "wine-quality-red", "yacht"):
        n_splits = int((root / "uci" / name / "n_splits.txt").read_text())
        assert (root / "uci" / name / f"index_test_{n_splits - 1}.txt").is_file(), name




def test_results_dir_policy(monkeypatch, tmp_path):
    monkeypatch.delenv(data.RESULTS_ENV_VAR, raising=False)
    assert data.results_dir("nb_lr") == Path("results") / "nb_lr"
    monkeypatch.setenv(data.RESULTS_ENV_VAR, str(tmp_path))
    assert data.results_dir("nb_lr") == tmp_path / "nb_lr"
    assert data.results_dir("nb_lr", tmp_path / "mine") == tmp_path / "mine"


def test_jsonl_resume_after_torn_line(tmp_path):
    path = tmp_path / "sub" / "r.jsonl"
    assert data.read_jsonl(path) == []
    data.append_jsonl(path, {"a": 1})
    with path.open("a") as fh:
        fh.write('{"a": 2, "b"')  # an interrupted write
    assert data.read_jsonl(path) == [{"a": 1}]
    data.append_jsonl(path, {"a": 3})
    assert data.read_jsonl(path) == [{"a": 1}, {"a": 3}]
    assert path.read_text().count("\n") == 3


def test_atomic_json_and_npy(tmp_path):
    import numpy as np

    data.write_json(tmp_path / "x.json", {"k": [1, 2]})
    assert data.read_json(tmp_path / "x.json") == {"k": [1, 2]}
    assert data.read_json(tmp_path / "none.json") is None
    data.write_npy(tmp_path / "a.npy", np.arange(3.0))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "x.json"]
