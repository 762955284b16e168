"""Per-case descriptor cache (issue 24): a rerun with unchanged inputs reads every case's descriptor values;
one changed voxel of one phase recomputes that case only, and its new values equal a run without cache; a
changed descriptor setting recomputes every case; an entry whose shapes do not fit the case is never used."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.study import Study
from hccrad.pipeline.cache import CaseCache
from hccrad.pipeline.descriptor_cache import cached_descriptor_matrices
from hccrad.pipeline.imaging import run_imaging

from .conftest import tiny_cohort, write_small_study


def _spec(root: Path, smooth_mm: float = 0.0):
    return write_small_study(root, "descriptor-cache", habitat={
        "descriptors": [{"name": "AE", "phases": ["arterial", "pre"], "smooth_mm": smooth_mm},
                        {"name": "VE", "phases": ["portal", "pre"]}]})


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """10 tiny cases (12 × 32 × 32 voxels)."""
    return tiny_cohort(tmp_path_factory.mktemp("descriptor_cache") / "cohort", n=10, seed=5)


def _entries(out: Path) -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """case id -> (file name, arrays) of out/cache/descriptors/ (one entry per case)."""
    found = {}
    for p in sorted((out / "cache" / "descriptors").glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            found[p.name.rsplit(".", 4)[0]] = (p.name, {k: z[k] for k in z.files})
    return found


def test_rerun_reads_descriptors_and_one_changed_voxel_recomputes_that_case(cohort, tmp_path):
    shutil.copytree(cohort, tmp_path / "cohort")
    spec, out = _spec(tmp_path), tmp_path / "results"
    first = run_imaging(Study(spec), out)
    n = len(first.features)
    assert first.descriptor_cache_hits == 0 and len(_entries(out)) == n
    before = _entries(out)

    again = run_imaging(Study(spec), out)
    assert again.descriptor_cache_hits == n
    pd.testing.assert_frame_equal(again.features, first.features)

    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv").set_index("case_id")
    case = man.index[man.cohort == "internal_test"][0]  # a test case: the habitat model stays the same
    path = tmp_path / "cohort" / man.loc[case, "image_arterial"]
    tumour = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "cohort" / man.loc[case, "mask_tumor"]))) > 0
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)
    z, y, x = np.argwhere(tumour)[0]
    arr[z, y, x] += 300  # one voxel of one phase
    changed = sitk.GetImageFromArray(arr)
    changed.CopyInformation(img)
    sitk.WriteImage(changed, str(path), True)

    third = run_imaging(Study(spec), out)
    assert third.descriptor_cache_hits == n - 1, "only the edited case is recomputed"
    after = _entries(out)
    assert len(after) == n and after[case][0] != before[case][0], "the stale entry was replaced"
    delta = after[case][1]["X"] - before[case][1]["X"]
    assert delta[0, 0] == pytest.approx(300.0) and np.count_nonzero(delta) == 1, "AE of that one voxel only"
    assert all(after[c][0] == before[c][0] for c in after if c != case)

    fresh_out = tmp_path / "fresh"  # no cache: the same values
    fresh = run_imaging(Study(spec), fresh_out)
    assert fresh.descriptor_cache_hits == 0
    for c, (_, arrays) in _entries(fresh_out).items():
        np.testing.assert_array_equal(after[c][1]["X"], arrays["X"], err_msg=c)
    pd.testing.assert_frame_equal(third.features, fresh.features)

    smoothed = run_imaging(Study(_spec(tmp_path, smooth_mm=2.0)), out)  # a changed descriptor setting
    assert smoothed.descriptor_cache_hits == 0 and len(_entries(out)) == n


def test_an_entry_that_does_not_fit_the_case_is_recomputed(tmp_path):
    cache = CaseCache(tmp_path, "descriptors", "k1")
    tumour = np.zeros((3, 4, 4), dtype=bool)
    tumour[1, 1:3, 1:3] = True
    calls = []

    def compute():
        calls.append(1)
        return np.full((4, 2), 7.0, dtype=np.float32), None

    cache.put_arrays("c1", {"X": np.zeros((5, 2), dtype=np.float32)}, "digest")  # 5 rows for a 4-voxel mask
    X, X2 = cached_descriptor_matrices(cache, "c1", "digest", tumour, None, 2, compute)
    assert calls == [1] and X2 is None and np.all(X == 7.0)
    X, _ = cached_descriptor_matrices(cache, "c1", "digest", tumour, None, 2, compute)
    assert calls == [1] and np.all(X == 7.0) and cache.hits == 1
    reader2 = tumour.copy()  # an entry without reader-2 values does not serve a case that has them
    cached_descriptor_matrices(cache, "c1", "digest", tumour, reader2, 2, lambda: (compute()[0], compute()[0]))
    assert len(calls) == 3
    cached_descriptor_matrices(cache, "c1", "other-digest", tumour, None, 2, compute)  # changed inputs
    assert len(calls) == 4
