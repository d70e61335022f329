"""Tests for theory/ntk/sweeps.py: the depth sweep's tasks, store, resumption and executors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from theory._io import read_jsonl
from theory.ntk import sweeps
from theory.ntk.sweeps import SweepPlan, depth_point, depth_sweep

TINY_PLAN = SweepPlan(relu_depths=(1, 10), xi2_depths=(2,), d_opt_depths=(3,), d_opt_n=40, d_opt_dims=(2, 3))


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(sweeps, "sweep_plan", lambda quick=True: TINY_PLAN)


def test_sweep_stores_resumes_and_assembles(tiny, tmp_path, monkeypatch):
    out = depth_sweep(results=tmp_path, progress=False)
    assert out["relu_ntk"]["depths"] == [1, 10]
    assert set(out["relu_ntk"]["agreement"]) == {"1-NN", "majority vote"}
    assert out["relu_ntk"]["agreement"]["1-NN"][1] == 1.0  # the paper's measurement at L = 10
    assert set(out["d_opt_nngp"]["agreement"]) == {"Hilbert d=2", "Hilbert d=3"}
    records = read_jsonl(tmp_path / sweeps.STORE)
    assert len(records) == 2 + 1 + 2
    # a rerun computes nothing: every task is in the store
    monkeypatch.setattr(sweeps, "depth_point", lambda **kw: pytest.fail(f"recomputed {kw}"))
    assert depth_sweep(results=tmp_path, progress=False) == out


def test_torn_store_line_is_recomputed(tiny, tmp_path):
    first = depth_sweep(results=tmp_path, progress=False)
    path = tmp_path / sweeps.STORE
    text = path.read_text()
    path.write_text(text[: len(text) - 10])  # the last record torn by an interruption
    assert depth_sweep(results=tmp_path, progress=False) == first
    assert len(read_jsonl(path)) == 5


def test_executor_gives_the_same_numbers(tiny, tmp_path):
    here = depth_sweep(results=tmp_path / "a", progress=False)
    with ThreadPoolExecutor(2) as pool:
        there = depth_sweep(results=tmp_path / "b", executor=pool, progress=False)
    assert here == there


def test_depth_point_rejects_unknown_panel():
    with pytest.raises(ValueError, match="panel must be one of"):
        depth_point("resnet", 3)
