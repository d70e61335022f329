"""theory._sweep: the same tasks give the same results in-process, on a process pool and on a Dask cluster."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from theory import _io
from theory._sweep import Task, completed_keys, executor_from_options, map_tasks


def seeded_mean(seed: int, n: int, pause: float = 0.0) -> float:
    """A task whose result depends only on its configuration (seed from the key, not the worker)."""
    if pause:
        time.sleep(pause)
    return float(np.random.default_rng(seed).standard_normal(n).mean())


def _tasks(count, pause=0.0):
    return [Task(key=(i,), fn=seeded_mean, kwargs={"seed": 1000 + i, "n": 50 + i, "pause": pause}) for i in range(count)]


def test_serial_results_in_task_order_and_streamed():
    seen = []
    results = map_tasks(_tasks(5), on_result=lambda task, r: seen.append(task.key), progress=False)
    assert results == [seeded_mean(1000 + i, 50 + i) for i in range(5)]
    assert seen == [(i,) for i in range(5)]


def test_process_pool_gives_the_serial_results():
    serial = map_tasks(_tasks(6), progress=False)
    with ProcessPoolExecutor(max_workers=2) as pool:
        seen = []
        pooled = map_tasks(_tasks(6), executor=pool, on_result=lambda t, r: seen.append(t.key), progress=False)
    assert pooled == serial
    assert sorted(seen) == [(i,) for i in range(6)]


def test_resume_from_store_skips_completed(tmp_path):
    store = tmp_path / "r.jsonl"

    def keep(task, result):
        _io.append_jsonl(store, {"i": task.key[0], "value": result})

    tasks = _tasks(4)
    map_tasks(tasks[:2], on_result=keep, progress=False)
    done = completed_keys(_io.read_jsonl(store), ["i"])
    assert done == {(0,), (1,)}
    map_tasks([t for t in tasks if t.key not in done], on_result=keep, progress=False)
    values = {r["i"]: r["value"] for r in _io.read_jsonl(store)}
    assert values == {i: seeded_mean(1000 + i, 50 + i) for i in range(4)}


def test_failed_task_propagates_after_earlier_results_were_kept():
    kept = []

    def boom(x):
        raise RuntimeError(f"task {x} failed")

    tasks = [Task(key=(0,), fn=seeded_mean, kwargs={"seed": 1, "n": 3}), Task(key=(1,), fn=boom, kwargs={"x": 1})]
    with pytest.raises(RuntimeError, match="task 1 failed"):
        map_tasks(tasks, on_result=lambda t, r: kept.append(t.key), progress=False)
    assert kept == [(0,)]


@pytest.mark.parametrize("workers", [0, -1, 2.5, True])
def test_bad_workers_rejected(workers):
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        with executor_from_options(workers):
            pass


def test_one_worker_runs_in_process():
    with executor_from_options(1) as executor:
        assert executor is None


@pytest.mark.distributed
def test_dask_local_cluster_same_results_and_survives_a_killed_worker(tmp_path):
    import cloudpickle
    from distributed import Client, LocalCluster

    import tests.theory.test_sweep as this_module

    cloudpickle.register_pickle_by_value(this_module)  # workers need not import the test package
    serial = map_tasks(_tasks(8), progress=False)
    store = tmp_path / "dask.jsonl"

    def keep(task, result):
        _io.append_jsonl(store, {"i": task.key[0], "value": result})

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert map_tasks(_tasks(8), executor=client.get_executor(), progress=False) == serial
        # kill one worker while slow tasks run: what completed is kept, the rest is rescheduled
        executor = client.get_executor()
        futures = [executor.submit(t) for t in _tasks(8, pause=0.5)]
        time.sleep(1.2)
        victim = next(iter(cluster.workers.values()))
        victim.process.process.kill()
        results = [f.result(timeout=120) for f in futures]
        assert results == serial
        # an interrupted sweep: half stored, the rerun finishes the rest, equal to the serial run
        map_tasks(_tasks(8)[:4], executor=client.get_executor(), on_result=keep, progress=False)
        done = completed_keys(_io.read_jsonl(store), ["i"])
        rest = [t for t in _tasks(8) if t.key not in done]
        map_tasks(rest, executor=client.get_executor(), on_result=keep, progress=False)
    stored = {r["i"]: r["value"] for r in _io.read_jsonl(store)}
    assert [stored[i] for i in range(8)] == serial
