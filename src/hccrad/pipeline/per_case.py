"""Per-case stages of a study run (the imaging stage's descriptor pass and habitat-map + MSI pass) scheduled
like the resamples: in this process, on local worker processes, or on the Dask cluster of
`validation.scheduler` (issue 24).

:func:`map_cases` returns ``[func(*task) for task in tasks]`` in task (case) order, computed by
`hccrad.models.scheduling.run_resamples` with the study's settings:

* ``validation.scheduler`` set: chunks of cases on the Dask cluster (``func`` and the data it holds sent to the
  workers once); the workers must see the study's input files and its output folder at the same paths (a
  shared file system), since each case reads its images and writes its cache entries and habitat maps there;
* ``validation.n_jobs == 1``: this process, one case after another;
* ``validation.n_jobs > 1`` (or -1): adaptively. A loky worker process costs ~3.6 CPU-s to start (interpreter
  and the import of hccrad) before its first case, while a small or cached case takes ~60 ms, so sending a
  small study to workers made it ~3x slower than one process. The cases therefore run in this process, one
  after another, each timed (wall clock); after each case from the ``MIN_TIMED``-th on, the remaining work is
  estimated as ``t_case * n_left`` with ``t_case`` the mean time of the cases run so far (the first one left
  out once there are two: it pays this process's lazy imports), and the remaining cases go to ``w`` workers
  only when the time this saves exceeds the workers' start-up by a margin::

      t_case * n_left * (1 - 1/w) > WORKER_START_S * WORKER_MARGIN

  (serial: ``t_case * n_left``; parallel: ``WORKER_START_S + t_case * n_left / w``), with ``w`` = n_jobs
  capped by the cores left idle by the rest of the machine (`idle_cores`: CPU count minus the 1-minute load
  average, plus the core this process uses). On a saturated machine workers add their start-up's CPU time
  and win nothing (measured: 0.4 s cases at load 6 on 2 cores, 10.6 s in this process, 18.6 s on 2 workers).
  A study whose cases are fast (small images, a warm rerun reading its caches) or a busy machine thus never
  pays for workers; one whose cases take seconds sends all but its first ``MIN_TIMED`` cases to them.

What travels is kept small by the caller: the imaging stage's cases pickle their boolean masks bit-packed
and its habitat-map + MSI tasks leave the CT volume behind (`hccrad.pipeline.imaging.CaseVoxels`, `_for_msi`).

In every case the BLAS/OpenMP pools are pinned to one thread while a case runs, so a case gives the same
numbers wherever it runs; the results are gathered in case order, so the feature tables, the left-out table
and run.json are byte-identical to those of a run in this process (timings apart) whichever path the
adaptive choice takes. A per-case function turns a case's `hccrad.core.errors.HccradError` into its left-out
row itself (the same row and log line as in this process; log records and warnings raised in a worker are
logged here, `run_resamples`); any other exception stops the run as it does locally.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from joblib import effective_n_jobs
from threadpoolctl import threadpool_limits

from hccrad.config.spec import StudySpec
from hccrad.models.scheduling import run_resamples

R = TypeVar("R")
Tick = Callable[[int, int], None]

WORKER_START_S = 4.0  # seconds before a fresh loky worker runs its first case (interpreter + hccrad imports)
WORKER_MARGIN = 1.5   # workers only when they save clearly more than their start-up (timings are noisy)
MIN_TIMED = 3         # cases timed in this process before the first decision (the first is not counted)

__all__ = ["map_cases", "WORKER_START_S", "WORKER_MARGIN", "MIN_TIMED", "workers_pay_off", "idle_cores"]


def map_cases(func: Callable[..., R], tasks: Sequence[tuple], spec: StudySpec, *,
              progress: Tick | None = None, worker_start_s: float | None = None) -> list[R]:
    """``[func(*task) for task in tasks]`` on the study's scheduler or worker processes (module docstring).
    ``func`` must be picklable when it leaves this process: a module-level function or a partial of one
    holding picklable data (no progress callback, no open file). ``worker_start_s``: the start-up cost the
    adaptive choice weighs, default ``WORKER_START_S`` (0 sends every case after the first ``MIN_TIMED`` to
    the workers; ``inf`` none)."""
    v, tasks = spec.validation, list(tasks)
    if v.scheduler is not None or v.n_jobs == 1:
        return run_resamples(func, tasks, n_jobs=v.n_jobs, scheduler=v.scheduler, pin_threads=True,
                             progress=progress)
    start = WORKER_START_S if worker_start_s is None else worker_start_s
    return _adaptive(func, tasks, effective_n_jobs(v.n_jobs), progress, start)


def workers_pay_off(seconds: list[float], n_left: int, workers: int, worker_start_s: float) -> bool:
    """Whether ``n_left`` more cases, each estimated from the timed ``seconds``, finish clearly sooner on
    ``workers`` fresh worker processes than here (module docstring)."""
    if workers < 2 or n_left < 2 or len(seconds) < max(MIN_TIMED, 2):
        return False
    timed = seconds[1:]  # the first case pays this process's lazy imports
    remaining = sum(timed) / len(timed) * n_left
    return remaining * (1 - 1 / min(workers, n_left)) > worker_start_s * WORKER_MARGIN


def idle_cores() -> int:
    """Cores this process and its workers can use now: CPU count minus the 1-minute load average, plus the
    core this process keeps busy (at least 1)."""
    cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform: assume an idle machine
        return cpus
    return max(1, min(cpus, int(cpus - load + 1)))


def _adaptive(func: Callable[..., R], tasks: list[tuple], workers: int, progress: Tick | None,
              worker_start_s: float) -> list[R]:
    """Cases here, timed, until the rest pays for worker processes; then the rest on them (in case order)."""
    out: list[R] = []
    seconds: list[float] = []
    with threadpool_limits(limits=1):  # as in a worker: the same single-threaded arithmetic
        while len(out) < len(tasks) and not workers_pay_off(seconds, len(tasks) - len(out),
                                                            min(workers, idle_cores()), worker_start_s):
            t0 = time.perf_counter()
            out.append(func(*tasks[len(out)]))
            seconds.append(time.perf_counter() - t0)
            if progress is not None:
                progress(len(out), len(tasks))
    if len(out) == len(tasks):
        return out
    done = len(out)
    tick = None if progress is None else (lambda d, total: progress(done + d, done + total))
    return out + run_resamples(func, tasks[done:], n_jobs=workers, pin_threads=True, progress=tick)
