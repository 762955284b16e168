"""Scheduling of resamples (bootstrap samples, CV folds): chunks of resamples per task, BLAS threads pinned.

:func:`run_resamples` calls ``func(*task)`` for every task and returns the results in task order. The tasks
are cut into consecutive chunks of ``chunk_size`` (default ``min(ceil(n_tasks / (4 * workers)), 10)``: at least
four chunks per worker balance uneven fits, at most 10 resamples per chunk keep the progress ticks frequent and
the tail left by a slowed worker short, while the shared data and the task overhead are paid once per chunk
instead of once per resample) and each chunk runs in one task:

* ``n_jobs == 1``: in this process, one resample after another;
* ``n_jobs > 1`` (``-1`` = every core): joblib loky worker processes;
* ``scheduler="tcp://host:8786"``: a Dask distributed cluster (``distributed.Client``); ``func`` -- usually a
  ``functools.partial`` holding the pipeline and the data -- is sent to the workers once (``Client.scatter``).

Inside every chunk (and in this process for ``n_jobs == 1``) the BLAS/OpenMP thread pools are limited to one
thread (``threadpoolctl.threadpool_limits(1)``): two worker processes on two cores then never compete with
each other's BLAS threads (oversubscription made 2 jobs slower than 1), and every resample runs with the same
single-threaded arithmetic wherever it runs, so the results do not depend on ``n_jobs``, the chunking or the
cluster. The progress callback is called with ``(done, total)`` as each chunk arrives (per resample when
``n_jobs == 1``).

Warnings and log records raised in a worker (a separation note of resample 17, scipy's warnings) travel back
with the chunk's results and are logged in this process, in their resample's context, so the run's repeat
counter shows each once with its count instead of every worker printing them raw.

A scheduler that cannot be reached raises :class:`hccrad.core.errors.ClusterError` naming
``validation.scheduler`` before any work is sent (:func:`hccrad.core.cluster.dask_client`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

from hccrad.core.cluster import dask_client
from hccrad.core.runlog import current_log_context, log_context

Progress = Callable[[int, int], None]
MAX_CHUNK = 10  # resamples per task at most: progress ticks every few seconds, a slowed worker's tail is short

__all__ = ["run_resamples", "chunks_of"]


def chunks_of(n_tasks: int, workers: int, chunk_size: int | None = None) -> list[range]:
    """Consecutive index ranges covering ``range(n_tasks)``: ``chunk_size`` each (the last may be shorter),
    by default ``min(ceil(n_tasks / (4 * workers)), MAX_CHUNK)``."""
    if chunk_size is None:
        chunk_size = min(math.ceil(n_tasks / (4 * max(1, workers))), MAX_CHUNK) if n_tasks else 1
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return [range(start, min(start + chunk_size, n_tasks)) for start in range(0, n_tasks, chunk_size)]


@contextmanager
def _pinned(pin_threads: bool) -> Iterator[None]:
    if pin_threads:
        with threadpool_limits(limits=1):
            yield
    else:
        yield


def _run_chunk(func: Callable[..., Any], tasks: list[tuple], pin_threads: bool) -> list[Any]:
    """Every task of one chunk, BLAS/OpenMP pinned to one thread."""
    with _pinned(pin_threads):
        return [func(*task) for task in tasks]


class _RecordCollector(logging.Handler):
    """Keeps (logger, level, message, resample context) of every record a worker logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage(), current_log_context()))


def _run_chunk_in_worker(func: Callable[..., Any], tasks: list[tuple],
                         pin_threads: bool) -> tuple[list[Any], list[tuple[str, int, str, str]]]:
    """Worker body: the chunk's results and the warnings and log records its resamples raised (every one:
    warnings "always", so repeats are counted too), returned to the parent, which logs them through its own
    handlers (repeats counted, the resample named: `hccrad.core.runlog`) instead of the worker printing them
    raw on stderr."""
    collector = _RecordCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(True)
            try:
                results = _run_chunk(func, tasks, pin_threads)
            finally:
                logging.captureWarnings(False)
    finally:
        root.removeHandler(collector)
    return results, collector.records


def _replay(records: list[tuple[str, int, str, str]]) -> None:
    """Log a worker's records in this process, each in the resample context it was raised in."""
    for name, level, message, context in records:
        with log_context(context):
            logging.getLogger(name).log(level, "%s", message)


def _run_chunk_numbered(number: int, func: Callable[..., Any], tasks: list[tuple],
                        pin_threads: bool) -> tuple[int, list[Any], list[tuple[str, int, str, str]]]:
    return (number, *_run_chunk_in_worker(func, tasks, pin_threads))


def run_resamples(func: Callable[..., Any], tasks: Sequence[tuple], *, n_jobs: int = 1,
                  scheduler: str | None = None, chunk_size: int | None = None, pin_threads: bool = True,
                  progress: Progress | None = None) -> list[Any]:
    """``[func(*task) for task in tasks]``, computed in chunks locally or on a Dask cluster (module docstring).

    ``func`` must be picklable for ``n_jobs != 1`` or a scheduler (a module-level function or a partial of
    one). Exceptions raised by ``func`` propagate (catch data problems inside ``func``).
    """
    tasks = list(tasks)
    if scheduler is not None:
        return _run_dask(func, tasks, scheduler, chunk_size, pin_threads, progress)
    workers = effective_n_jobs(n_jobs)
    if workers == 1 or len(tasks) <= 1:
        return _run_here(func, tasks, pin_threads, progress)
    chunks = chunks_of(len(tasks), workers, chunk_size)
    done: dict[int, list[Any]] = {}
    finished = 0
    parallel = Parallel(n_jobs=min(workers, len(chunks)), backend="loky", return_as="generator_unordered")
    for number, results, records in parallel(delayed(_run_chunk_numbered)(k, func, [tasks[i] for i in chunk],
                                                                          pin_threads)
                                             for k, chunk in enumerate(chunks)):
        _replay(records)
        done[number] = results
        finished += len(results)
        if progress is not None:
            progress(finished, len(tasks))
    return [r for k in range(len(chunks)) for r in done[k]]


def _run_here(func: Callable[..., Any], tasks: list[tuple], pin_threads: bool,
              progress: Progress | None) -> list[Any]:
    out = []
    with _pinned(pin_threads):
        for task in tasks:
            out.append(func(*task))
            if progress is not None:
                progress(len(out), len(tasks))
    return out


def _cluster_workers(client: Any) -> int:
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def _run_dask(func: Callable[..., Any], tasks: list[tuple], scheduler: str, chunk_size: int | None,
              pin_threads: bool, progress: Progress | None) -> list[Any]:
    from distributed import as_completed  # lazy: optional heavy dependency (dask.distributed)

    with dask_client(scheduler) as client:
        chunks = chunks_of(len(tasks), _cluster_workers(client), chunk_size)
        shared = client.scatter(func, broadcast=True, hash=False)  # the pipeline and data, sent once
        futures = {client.submit(_run_chunk_in_worker, shared, [tasks[i] for i in chunk], pin_threads,
                                 pure=False): k for k, chunk in enumerate(chunks)}
        done: dict[int, list[Any]] = {}
        finished = 0
        for fut in as_completed(list(futures)):
            results, records = fut.result()  # an error raised in func is raised here
            _replay(records)
            done[futures[fut]] = results
            finished += len(done[futures[fut]])
            if progress is not None:
                progress(finished, len(tasks))
    return [r for k in range(len(chunks)) for r in done[k]]
