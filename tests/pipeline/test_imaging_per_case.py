"""Per-case imaging work scheduled like the resamples (issue 24): on a Dask cluster of separate processes
(`validation.scheduler`; local worker processes for `validation.n_jobs` > 1 go through the same
`hccrad.models.scheduling.run_resamples`, tested in tests/models/test_scheduling.py), the imaging stage gives the
tables of a run in this process — features (both readers), habitat summary, left-out rows naming the broken case,
warnings, cache counters — and the same habitat maps; a rerun on the cluster reads every case's cache."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.study import Study
from hccrad.pipeline import per_case
from hccrad.core.image import Image
from hccrad.pipeline.imaging import CaseVoxels, ImagingResult, _for_msi, run_imaging

from .conftest import tiny_cohort, write_small_study

TABLES = ("features", "features_reader2", "habitat_summary", "errors", "warnings")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, str]:
    """10 tiny cases (12 × 24 × 24 voxels); one training case's portal phase cut in half (left out)."""
    folder = tiny_cohort(tmp_path_factory.mktemp("per_case") / "cohort", n=10, seed=3, shape=(12, 24, 24))
    man = pd.read_csv(folder / "manifest.csv").set_index("case_id")
    broken = man.index[man.cohort == "training"][0]
    path = folder / man.loc[broken, "image_portal"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return folder, str(broken)


@pytest.fixture(scope="module")
def local(cohort, tmp_path_factory) -> tuple[ImagingResult, Path]:
    """The stage run in this process (validation.n_jobs 1): the reference every other path must give."""
    return _run(cohort[0], tmp_path_factory.mktemp("local"))


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    return dask_cluster  # tests/conftest.py: one LocalCluster of 2 processes for the session


def _run(cohort: Path, root: Path, **validation) -> tuple[ImagingResult, Path]:
    shutil.copytree(cohort, root / "cohort")
    spec = write_small_study(root, "per-case", data={
        "manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv", "reader2_mask": "tumor_reader2"},
        validation={"bootstrap": 0, **validation})
    out = root / "results"
    return run_imaging(Study(spec), out), out


def _maps(out: Path) -> dict[str, np.ndarray]:
    return {p.name: sitk.GetArrayFromImage(sitk.ReadImage(str(p))) for p in sorted((out / "habitats").glob("*.nii.gz"))}


def _assert_same(a: ImagingResult, b: ImagingResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    assert a.features.to_csv() == b.features.to_csv()  # the CSV the stage writes, byte for byte
    assert (a.cache_hits, a.cache_computed, a.descriptor_cache_hits) == \
        (b.cache_hits, b.cache_computed, b.descriptor_cache_hits)
    assert [o["case_id"] for o in a.overlays] == [o["case_id"] for o in b.overlays]
    assert all(np.array_equal(x["labels"], y["labels"]) for x, y in zip(a.overlays, b.overlays))
    np.testing.assert_array_equal(a.voxel_sample[0], b.voxel_sample[0])


def test_a_dask_cluster_of_processes_gives_the_local_tables(cohort, local, cluster, tmp_path):
    folder, broken = cohort
    local, out_local = local
    assert broken not in local.features.index and len(local.features) == 9 and local.features_reader2 is not None
    rows = local.errors[local.errors.case_id == broken]
    assert list(rows.stage) == ["inputs"] and "image_portal" in rows.message.iloc[0]

    remote, out_remote = _run(folder, tmp_path / "dask", scheduler=cluster.scheduler_address)
    _assert_same(local, remote)
    maps_local, maps_remote = _maps(out_local), _maps(out_remote)
    assert sorted(maps_local) == sorted(maps_remote) and len(maps_local) == 18  # 9 cases x 2 readers
    assert all(np.array_equal(maps_local[k], maps_remote[k]) for k in maps_local)

    spec = write_small_study(tmp_path / "dask", "per-case", data={
        "manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv", "reader2_mask": "tumor_reader2"},
        validation={"bootstrap": 0, "scheduler": cluster.scheduler_address})
    again = run_imaging(Study(spec), out_remote)  # warm: the workers' cache hits are counted here
    assert (again.descriptor_cache_hits, again.cache_hits, again.cache_computed) == (9, 9, 0)
    pd.testing.assert_frame_equal(again.features, local.features, check_exact=True)


@pytest.mark.parametrize("start_s", [0.0, float("inf")], ids=["workers", "here"])
def test_n_jobs_2_gives_the_local_tables_on_either_adaptive_path(cohort, local, tmp_path, monkeypatch, start_s):
    """n_jobs 2 runs the cases here until the rest pays for worker processes (`per_case.workers_pay_off`, 2
    idle cores):
    start-up 0 sends all but the first MIN_TIMED cases of each pass to loky workers, inf keeps every case here;
    both give the tables and habitat maps of n_jobs 1."""
    sent: list[int] = []
    real = per_case.run_resamples

    def spy(func, tasks, **kw):
        sent.append(len(tasks))
        return real(func, tasks, **kw)

    monkeypatch.setattr(per_case, "WORKER_START_S", start_s)
    monkeypatch.setattr(per_case, "idle_cores", lambda: 2)  # whatever the machine's load
    monkeypatch.setattr(per_case, "run_resamples", spy)
    result, out = _run(cohort[0], tmp_path, n_jobs=2)
    assert sent == ([10 - per_case.MIN_TIMED, 9 - per_case.MIN_TIMED] if start_s == 0 else [])
    _assert_same(local[0], result)
    maps_local, maps = _maps(local[1]), _maps(out)
    assert sorted(maps_local) == sorted(maps) and all(np.array_equal(maps_local[k], maps[k]) for k in maps)


def test_workers_are_started_only_when_they_save_more_than_their_start_up():
    """t_case * n_left * (1 - 1/w) > WORKER_START_S * WORKER_MARGIN, the first timed case left out."""
    assert (per_case.WORKER_START_S, per_case.WORKER_MARGIN, per_case.MIN_TIMED) == (4.0, 1.5, 3)
    start = per_case.WORKER_START_S
    fast, slow = [5.0, 0.05, 0.07], [5.0, 2.0, 2.0]  # the first case pays the lazy imports
    assert not per_case.workers_pay_off(fast, 40, 2, start)      # 40 x 60 ms: 2.4 s of work left
    assert per_case.workers_pay_off(slow, 40, 2, start)          # 80 s left
    assert not per_case.workers_pay_off(slow[:2], 40, 2, start)  # fewer than MIN_TIMED cases: no decision yet
    assert not per_case.workers_pay_off(slow, 40, 1, start)      # one worker (or one idle core) never pays
    assert not per_case.workers_pay_off(slow, 1, 2, start)       # one case left
    assert not per_case.workers_pay_off([5.0, 0.4, 0.6], 20, 2, start)  # 10 s left: saves 5 s < 6 s
    assert per_case.workers_pay_off([5.0, 0.6, 0.8], 20, 2, start)      # 14 s left: saves 7 s > 6 s
    assert 1 <= per_case.idle_cores() <= (os.cpu_count() or 1)


def test_a_case_sent_to_a_worker_keeps_its_masks_exactly_and_leaves_its_image_behind():
    """Pickled for a worker, a case's boolean masks travel bit-packed and come back equal (dtype too); the
    habitat-map + MSI task (`_for_msi`) leaves the reference image's voxel values behind, keeping its grid."""
    rng = np.random.default_rng(0)
    shape = (10, 40, 40)
    tumor = rng.random(shape) < 0.3
    cv = CaseVoxels("c1", "training", Image(rng.integers(-100, 200, shape).astype(np.int16), spacing=(2, 1, 1)),
                    tumor, rng.random((int(tumor.sum()), 3)).astype(np.float32), shell=rng.random(shape) < 0.1)
    # copy.deepcopy goes through the same __getstate__/__setstate__ as the pickle sent to a worker, without
    # loading bytes back (the size of what travels is measured on pickle.dumps below)
    back = copy.deepcopy(cv)
    for name in ("tumor", "shell", "X"):
        a, b = getattr(cv, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.reader2 is None and np.array_equal(back.reference.array, cv.reference.array)
    task = _for_msi(cv)
    assert task.reference.spacing == cv.reference.spacing and task.reference.array.size == 1
    volumes = cv.reference.array.nbytes + cv.tumor.nbytes + cv.shell.nbytes  # 64 kB; packed masks 4 kB
    assert len(pickle.dumps(task)) < len(pickle.dumps(cv.X)) + volumes / 8
