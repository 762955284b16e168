"""Per-case stages of a study run (the imaging stage's descriptor pass and habitat-map + MSI pass) scheduled
like the resamples: in this process, on local worker processes, or on the Dask cluster of
`validation.scheduler` (issue 24).

:func:`map_cases` returns ``[func(*task) for task in tasks]`` in task (case) order, computed by
`hccrad.models.scheduling.run_resamples` with the study's settings:

* ``validation.scheduler`` set: chunks of cases on the Dask cluster (``func`` and the data it holds sent to the
  workers once); the workers must see the study's input files and its output folder at the same paths (a
  shared file system), since each case reads its images and writes its cache entries and habitat maps there;
* else ``validation.n_jobs`` (1 = this process, one case after another, as before; > 1 or -1 = joblib loky
  worker processes).

In every case the BLAS/OpenMP pools are pinned to one thread while a case runs, so a case gives the same
numbers wherever it runs; the results are gathered in case order, so the feature tables, the left-out table
and run.json are byte-identical to those of a run in this process (timings apart). A per-case function turns
a case's `hccrad.core.errors.HccradError` into its left-out row itself (the same row and log line as in this
process; log records and warnings raised in a worker are logged here, `run_resamples`); any other exception
stops the run as it does locally.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from hccrad.config.spec import StudySpec
from hccrad.models.scheduling import run_resamples

R = TypeVar("R")
Tick = Callable[[int, int], None]

__all__ = ["map_cases"]


def map_cases(func: Callable[..., R], tasks: Sequence[tuple], spec: StudySpec, *,
              progress: Tick | None = None) -> list[R]:
    """``[func(*task) for task in tasks]`` on the study's scheduler or worker processes (module docstring).
    ``func`` must be picklable when it leaves this process: a module-level function or a partial of one
    holding picklable data (no progress callback, no open file)."""
    v = spec.validation
    return run_resamples(func, list(tasks), n_jobs=v.n_jobs, scheduler=v.scheduler, pin_threads=True,
                         progress=progress)

