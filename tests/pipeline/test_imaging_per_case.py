"""Per-case imaging work scheduled like the resamples (issue 24): on a Dask cluster of separate processes
(`validation.scheduler`; local worker processes for `validation.n_jobs` > 1 go through the same
`hccrad.models.scheduling.run_resamples`, tested in tests/models/test_scheduling.py), the imaging stage gives the
tables of a run in this process — features (both readers), habitat summary, left-out rows naming the broken case,
warnings, cache counters — and the same habitat maps; a rerun on the cluster reads every case's cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.study import Study
from hccrad.pipeline.imaging import ImagingResult, run_imaging

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


def test_a_dask_cluster_of_processes_gives_the_local_tables(cohort, cluster, tmp_path):
    folder, broken = cohort
    local, out_local = _run(folder, tmp_path / "local")
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
