"""One execution model for every sweep: tasks mapped over any ``concurrent.futures.Executor``.

A sweep is a list of independent tasks, each a picklable function and its keyword arguments (seeds
included: they are derived from the configuration, never from the order of completion). :func:`map_tasks`
runs them

- in-process, one after the other, when ``executor`` is None (the default);
- on a local process pool (``concurrent.futures.ProcessPoolExecutor``);
- on a Dask cluster, through ``distributed.Client(address).get_executor()`` (a laptop, a workstation, or a
  SLURM/PBS cluster through ``dask-jobqueue``),

and hands each result to ``on_result`` as soon as it completes, so a driver appends it to its store at
once: an interruption loses only the tasks in flight, and a rerun skips what is stored. Results come back
in task order, whatever the number of workers. :func:`executor_from_options` turns the command-line flags
``--workers N`` and ``--scheduler ADDRESS`` into an executor.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

__all__ = ["Task", "map_tasks", "completed_keys", "executor_from_options", "add_executor_arguments"]


@dataclass(frozen=True)
class Task:
    """One unit of a sweep: ``fn(**kwargs)``; ``key`` identifies it in the driver's store."""

    key: tuple
    fn: Callable
    kwargs: dict = field(default_factory=dict)

    def __call__(self):
        return self.fn(**self.kwargs)


def _run(task: Task):
    return task()


def map_tasks(
    tasks: Sequence[Task],
    *,
    executor: Executor | None = None,
    on_result: Callable[[Task, object], None] | None = None,
    desc: str | None = None,
    progress: bool = True,
) -> list:
    """Run every task and return their results in task order.

    Parameters
    ----------
    tasks : sequence of Task
        Independent tasks; each must be picklable when ``executor`` runs in other processes.
    executor : concurrent.futures.Executor, optional
        Where the tasks run; None runs them here, in order.
    on_result : callable, optional
        ``on_result(task, result)``, called in this process as each task completes (append it to a store).
    desc : str, optional
        Label of the progress bar, which counts completed tasks (shown only when ``progress`` and on a terminal).
    """
    from tqdm.auto import tqdm

    tasks = list(tasks)
    results: list = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, disable=None if progress else True, file=sys.stderr)
    try:
        if executor is None:
            for i, task in enumerate(tasks):
                results[i] = task()
                if on_result is not None:
                    on_result(task, results[i])
                bar.update()
            return results
        futures = {executor.submit(_run, task): i for i, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_result is not None:
                    on_result(tasks[i], results[i])
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return results
    finally:
        bar.close()


@contextlib.contextmanager
def executor_from_options(workers: int | None = None, scheduler: str | None = None):
    """Executor for ``--workers N`` (a local process pool) or ``--scheduler ADDRESS`` (a Dask cluster).

    Yields None (run in-process) when neither is given or ``workers`` is 1 without a scheduler.
    """
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if scheduler:
        try:
            from distributed import Client
        except ImportError as err:  # the extra is optional for a plain install
            raise ImportError("--scheduler needs the 'distributed' extra: pip install 'learning-theory-lab[distributed]'") from err
        with Client(scheduler) as client:
            yield client.get_executor()
        return
    if workers is None or workers == 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=int(workers)) as pool:
        yield pool


def add_executor_arguments(parser) -> None:
    """Add ``--workers`` and ``--scheduler`` to an ``argparse`` parser (the same flags on every driver)."""
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="run the sweep's tasks on N local processes (default: in this process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster: the scheduler's address, e.g. tcp://host:8786")


def completed_keys(records: Iterable[dict], fields: Sequence[str]) -> set:
    """Keys (tuples of ``fields``) of stored records: the tasks a rerun can skip."""
    return {tuple(r[f] for f in fields) for r in records}

