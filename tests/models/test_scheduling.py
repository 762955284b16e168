"""Resample scheduling: chunks, BLAS threads pinned in every worker, a Dask cluster of separate processes giving
the very numbers of the local run, and a clear error for a scheduler that cannot be reached."""

from __future__ import annotations

import logging
import socket
import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from hccrad.config.spec import StudySpec
from hccrad.core.cluster import check_scheduler
from hccrad.core.errors import ClusterError
from hccrad.models import build_model_pipeline, optimism_bootstrap, repeated_cv
from hccrad.core.runlog import current_log_context, log_context
from hccrad.models.scheduling import chunks_of, run_resamples
from hccrad.pipeline.preflight import scheduler_problems


def _cohort() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(60, 8))
    y = (rng.random(60) < 1.0 / (1.0 + np.exp(-1.5 * X[:, 0]))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]), y


def _pipeline():
    return build_model_pipeline(None, params={"lasso": {"cv": 3, "Cs": 4, "max_features": "epv",
                                                        "keep_path": False}}, random_state=0)


def _threads_and_square(x: int) -> tuple[int, int]:
    """The largest BLAS/OpenMP pool size seen inside the task, and x squared."""
    return max((p["num_threads"] for p in threadpool_info()), default=1), x * x


def _closed_port() -> int:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_bootstrap():
    X, y = _cohort()
    return X, y, optimism_bootstrap(_pipeline(), X, y, n_boot=6, seed=3, n_jobs=1)


def test_chunks_cover_every_task_once_in_order():
    assert [list(c) for c in chunks_of(10, 2)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]  # ceil(10 / 8)
    assert [list(c) for c in chunks_of(7, 1, chunk_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [list(c) for c in chunks_of(60, 2)][-1] == list(range(56, 60))  # 8 per chunk (60 / 8), 8 chunks
    assert len(chunks_of(1000, 2)) == 100  # at most MAX_CHUNK = 10 per chunk
    assert chunks_of(0, 4) == []
    with pytest.raises(ValueError, match="chunk_size"):
        chunks_of(3, 1, chunk_size=0)


def test_tasks_run_pinned_to_one_blas_thread_with_a_tick_each():
    ticks: list[tuple[int, int]] = []
    with threadpool_limits(limits=2):  # the caller's pools have 2 threads; each resample sees 1
        here = run_resamples(_threads_and_square, [(i,) for i in range(5)], n_jobs=1,
                             progress=lambda d, n: ticks.append((d, n)))
        unpinned = run_resamples(_threads_and_square, [(2,)], n_jobs=1, pin_threads=False)
    assert here == [(1, i * i) for i in range(5)] and ticks == [(i, 5) for i in range(1, 6)]
    assert unpinned == [(2, 4)]  # the check above sees the pool size


def test_bootstrap_numbers_do_not_depend_on_chunking(local_bootstrap):
    """n_jobs=2 (loky processes), one resample per task and chunks of 4: the numbers of n_jobs=1."""
    X, y, local = local_bootstrap
    ticks: list[int] = []
    for chunk_size in (1, 4):
        ticks.clear()
        par = optimism_bootstrap(_pipeline(), X, y, n_boot=6, seed=3, n_jobs=2, chunk_size=chunk_size,
                                 progress=lambda d, n: ticks.append(d))
        assert np.array_equal(par.optimism, local.optimism), chunk_size
        assert np.array_equal(par.boot_calibration, local.boot_calibration)
        assert par.selection_frequency.equals(local.selection_frequency)
        assert max(ticks) == 6 and len(ticks) == (6 if chunk_size == 1 else 2)  # a tick per chunk
    assert run_resamples(_threads_and_square, [(i,) for i in range(5)], n_jobs=2, chunk_size=2) == \
        [(1, i * i) for i in range(5)]  # task order kept, one thread in the workers


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    return dask_cluster  # tests/conftest.py: one LocalCluster of 2 processes for the session


def test_dask_cluster_gives_the_local_numbers(cluster, local_bootstrap):
    X, y, local = local_bootstrap
    ticks: list[int] = []
    remote = optimism_bootstrap(_pipeline(), X, y, n_boot=6, seed=3, scheduler=cluster.scheduler_address,
                                progress=lambda d, n: ticks.append(d))
    for name in ("optimism", "boot_auc", "test_auc", "oob_auc", "boot_calibration", "test_calibration"):
        assert np.array_equal(getattr(remote, name), getattr(local, name), equal_nan=True), name
    assert remote.selection_frequency.equals(local.selection_frequency)
    assert sorted(ticks)[-1] == 6
    cv_local = repeated_cv(_pipeline(), X, y, n_splits=3, n_repeats=1, seed=2)
    cv_remote = repeated_cv(_pipeline(), X, y, n_splits=3, n_repeats=1, seed=2, scheduler=cluster.scheduler_address)
    assert np.array_equal(cv_remote.fold_auc, cv_local.fold_auc)


def test_unreachable_scheduler_is_a_clear_error_naming_the_field():
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(ClusterError) as err:
        check_scheduler(address, timeout=2)
    assert isinstance(err.value, ValueError) and err.value.field == "validation.scheduler"
    assert address in err.value.message and "dask scheduler" in err.value.hint
    with pytest.raises(ClusterError, match="not a Dask scheduler address"):
        check_scheduler("tcp://:8786")
    X, y = _cohort()
    with pytest.raises(ClusterError, match="cannot be reached"):  # before any resample is fitted
        optimism_bootstrap(_pipeline(), X, y, n_boot=2, scheduler=address)


def test_spec_scheduler_checked_by_the_preflight():
    base = {"name": "s", "data": {"manifest": "m.csv", "clinical": "c.csv"}, "outcome": {"response": {"column": "y"}}}
    assert scheduler_problems(StudySpec.model_validate(base)) == []
    address = f"tcp://127.0.0.1:{_closed_port()}"
    problems = scheduler_problems(StudySpec.model_validate({**base, "validation": {"scheduler": address}}))
    assert len(problems) == 1 and problems[0].field == "validation.scheduler" and problems[0].severity == "error"
    assert "cannot be reached" in problems[0].message and problems[0].hint
    with pytest.raises(ValueError, match="scheduler"):
        StudySpec.model_validate({**base, "validation": {"scheduler": "localhost"}})


def _noisy(i: int) -> int:
    with log_context(f"resample {i}"):
        warnings.warn("planted warning", UserWarning)
        logging.getLogger("hccrad.test_scheduling").warning("planted note %d", i % 2)
    return i


def test_worker_warnings_and_notes_come_back_to_the_parent_with_their_resample():
    """Issue 26: a loky worker's warnings are not printed raw; every one is logged in this process, in the
    context of the resample that raised it (so the run's repeat counter can count and name them)."""
    seen: list[tuple[str, str, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.name, record.getMessage(), current_log_context()))

    keep = Keep(logging.WARNING)
    logging.getLogger().addHandler(keep)
    try:
        assert run_resamples(_noisy, [(i,) for i in range(6)], n_jobs=2, chunk_size=2) == list(range(6))
    finally:
        logging.getLogger().removeHandler(keep)
    notes = sorted(s for s in seen if s[0] == "hccrad.test_scheduling")
    assert notes == sorted(("hccrad.test_scheduling", f"planted note {i % 2}", f"resample {i}") for i in range(6))
    planted = [s for s in seen if s[0] == "py.warnings" and "planted warning" in s[1]]
    assert sorted(c for _, _, c in planted) == sorted(f"resample {i}" for i in range(6))  # repeats kept
