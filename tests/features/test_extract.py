"""Cohort extraction: processes, per-case cache (resume), error table, worker crash, Dask."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hccrad.core.errors import InputError
from hccrad.features.extract import extract_cohort, load_cached


@dataclass(frozen=True)
class Job:
    case_id: str
    x: float
    log_dir: str  # each call leaves a file here, so the test sees what was recomputed
    fail: bool = False
    crash: bool = False


def _features(job: Job) -> dict[str, float]:
    tag = f"{os.getpid()}.{np.random.default_rng().integers(1 << 30)}"  # unique per call
    Path(job.log_dir, f"{job.case_id.replace('/', '%')}.{tag}").touch()
    if job.crash:
        os._exit(3)  # a dying worker (segfault / OOM stand-in)
    if job.fail:
        raise ValueError(f"cannot read {job.case_id}")
    return {"square": job.x**2, "half": job.x / 2, "nan_feature": float("nan")}


def _calls(log_dir: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in log_dir.iterdir())


def _key(job: Job) -> str:
    return job.case_id


@pytest.fixture
def log_dir(tmp_path):
    d = tmp_path / "calls"
    d.mkdir()
    return d


def test_parallel_cache_resume_and_errors(tmp_path, log_dir):
    jobs = [Job(f"case/{i}", float(i), str(log_dir), fail=(i == 2)) for i in range(5)]
    seen = []
    res = extract_cohort(jobs, _features, tmp_path / "cache", key=_key, config_hash="abc123", n_jobs=2,
                         progress=lambda done, total, k: seen.append((done, total)))
    assert list(res.features.index) == ["case/0", "case/1", "case/3", "case/4"]
    assert res.features.loc["case/3", "square"] == 9.0 and np.isnan(res.features.loc["case/3", "nan_feature"])
    assert list(res.errors.columns) == ["case_id", "error_type", "message"]
    assert res.errors.loc[0, "case_id"] == "case/2" and res.errors.loc[0, "error_type"] == "ValueError"
    assert "cannot read case/2" in res.errors.loc[0, "message"]
    assert seen[-1] == (5, 5) and len(seen) == 5
    assert (res.n_cached, res.n_computed) == (0, 5)
    payload = json.loads((tmp_path / "cache" / "abc123" / "case%2F4.json").read_text())
    assert payload["case_id"] == "case/4" and payload["features"]["square"] == 16.0
    assert load_cached(tmp_path / "cache", "abc123", "case/4")["half"] == 2.0

    # rerun: only the failed case is computed again (now fixed)
    for p in log_dir.iterdir():
        p.unlink()
    fixed = [Job(j.case_id, j.x, j.log_dir) for j in jobs]
    res2 = extract_cohort(fixed, _features, tmp_path / "cache", key=_key, config_hash="abc123", n_jobs=2)
    assert _calls(log_dir) == ["case%2"]
    assert (res2.n_cached, res2.n_computed) == (4, 1) and res2.errors.empty
    assert list(res2.features.index) == [f"case/{i}" for i in range(5)]
    assert res2.summary().loc[0, "from_cache"] == 4

    # a new configuration hash recomputes everything, beside the old cache
    res3 = extract_cohort(fixed, _features, tmp_path / "cache", key=_key, config_hash="def456", n_jobs=1)
    assert res3.n_computed == 5 and (tmp_path / "cache" / "abc123").is_dir()


def test_sequential_equals_parallel(tmp_path, log_dir):
    jobs = [Job(f"c{i}", float(i), str(log_dir)) for i in range(4)]
    a = extract_cohort(jobs, _features, tmp_path / "a", key=_key, config_hash="h", n_jobs=1).features
    b = extract_cohort(jobs, _features, tmp_path / "b", key=_key, config_hash="h", n_jobs=2).features
    assert a.equals(b)


def test_worker_crash_is_one_error_row_not_a_dead_batch(tmp_path, log_dir):
    jobs = [Job(f"c{i}", float(i), str(log_dir), crash=(i == 1)) for i in range(4)]
    res = extract_cohort(jobs, _features, tmp_path / "cache", key=_key, config_hash="h", n_jobs=2)
    assert list(res.features.index) == ["c0", "c2", "c3"]
    assert res.errors["case_id"].tolist() == ["c1"] and res.errors.loc[0, "error_type"] == "WorkerCrash"


def test_bad_arguments(tmp_path, log_dir):
    jobs = [Job("same", 1.0, str(log_dir)), Job("same", 2.0, str(log_dir))]
    with pytest.raises(InputError, match="duplicate"):
        extract_cohort(jobs, _features, tmp_path, key=_key, config_hash="h")
    with pytest.raises(InputError, match="module level"):
        extract_cohort(jobs[:1], lambda j: {"x": 1.0}, tmp_path, key=_key, config_hash="h", n_jobs=2)
    with pytest.raises(InputError, match="config_hash"):
        extract_cohort(jobs[:1], _features, tmp_path, key=_key, config_hash="../x")


def test_corrupt_cache_file_is_recomputed(tmp_path, log_dir):
    jobs = [Job("c0", 3.0, str(log_dir))]
    extract_cohort(jobs, _features, tmp_path, key=_key, config_hash="h", n_jobs=1)
    (tmp_path / "h" / "c0.json").write_text("{truncated")
    res = extract_cohort(jobs, _features, tmp_path, key=_key, config_hash="h", n_jobs=1)
    assert res.n_computed == 1 and res.features.loc["c0", "square"] == 9.0


def test_dask_local_cluster(tmp_path, log_dir):
    distributed = pytest.importorskip("distributed")
    jobs = [Job(f"c{i}", float(i), str(log_dir), fail=(i == 2)) for i in range(4)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = extract_cohort(jobs, _features, tmp_path, key=_key, config_hash="h",
                             scheduler=cluster.scheduler_address)
    assert list(res.features.index) == ["c0", "c1", "c3"]
    assert res.errors["case_id"].tolist() == ["c2"]
    assert (tmp_path / "h" / "c3.json").is_file()
    local = extract_cohort(jobs, _features, tmp_path / "local", key=_key, config_hash="h", n_jobs=1)
    assert local.features.equals(res.features)
