"""What a warm rerun no longer recomputes (issue 24), and that a changed input is never served from a cache:
the preflight's per-case image checks (out/cache/inspection/), the habitat robustness refits
(out/cache/habitat_robustness/) and the imaging stage's full-payload file check (out/cache/verified/), all keyed
by the content digests of the input files."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.study import Study
from hccrad.io import volume as volume_module
from hccrad.pipeline import imaging as imaging_module
from hccrad.pipeline import preflight as preflight_module
from hccrad.pipeline.imaging import run_imaging
from hccrad.pipeline.inspection_cache import InspectionCache
from hccrad.pipeline.preflight import image_problems
from hccrad.pipeline.robustness_cache import cached_robustness

from .conftest import tiny_cohort, write_small_study


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """10 tiny cases (12 × 24 × 24 voxels)."""
    return tiny_cohort(tmp_path_factory.mktemp("warm_rerun") / "cohort", n=10, seed=7, shape=(12, 24, 24))


def _edit(path: Path, change) -> None:
    """Rewrite a NIfTI file with `change(array)` applied (same header)."""
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)
    change(arr)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    sitk.WriteImage(out, str(path), True)


def _bump_one_voxel(arr: np.ndarray) -> None:
    arr[tuple(np.argwhere(np.ones_like(arr, dtype=bool))[arr.size // 2])] += 300


def _checked(spec, table: pd.DataFrame, cache_dir: Path):
    """The preflight's image checks with the run's cache, saved as `run_study` does once they passed."""
    cache = InspectionCache(cache_dir)
    found = image_problems(spec, table, workers=1, inspections=cache)
    cache.save()
    return found


def test_preflight_image_checks_rerun_only_the_case_whose_file_changed(cohort, tmp_path, monkeypatch):
    shutil.copytree(cohort, tmp_path / "cohort")
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv").set_index("case_id")
    empty, edited = man.index[0], man.index[3]
    _edit(tmp_path / "cohort" / man.loc[empty, "mask_tumor"], lambda a: a.fill(0))  # a finding to keep
    spec = write_small_study(tmp_path, "warm-preflight")
    table = Study(spec, decode_events=False).table
    inspected: list[str] = []
    real = preflight_module._inspect_case
    monkeypatch.setattr(preflight_module, "_inspect_case", lambda job, options: inspected.append(job[0]) or
                        real(job, options))
    cache = tmp_path / "results" / "cache"

    unsaved = InspectionCache(cache)
    assert image_problems(spec, table, workers=1, inspections=unsaved) and not cache.exists(), \
        "nothing is written before the preflight passed (a refused run leaves no output folder)"
    inspected.clear()
    first = _checked(spec, table, cache)
    assert sorted(inspected) == sorted(table.index) and len(inspected) == 10
    assert [(p.case_id, p.file, p.field) for p in first if p.severity == "error"] == [(empty, "mask_tumor", "empty")]
    inspected.clear()
    assert _checked(spec, table, cache) == first and inspected == []  # warm: no file read

    _edit(tmp_path / "cohort" / man.loc[edited, "image_portal"], _bump_one_voxel)
    third = _checked(spec, table, cache)
    assert inspected == [edited], "only the case with the changed voxel is read again"
    inspected.clear()
    assert third == image_problems(spec, table, workers=1) and len(inspected) == 10  # = no cache at all

    _edit(tmp_path / "cohort" / man.loc[empty, "mask_tumor"], lambda a: a.fill(0) or a.__setitem__((6, 12, 12), 1))
    inspected.clear()
    fixed = _checked(spec, table, cache)
    assert inspected == [empty] and not [p for p in fixed if p.severity == "error"], "a fixed mask is re-checked"


def test_robustness_and_file_verification_are_reused_until_an_input_changes(cohort, tmp_path, monkeypatch):
    """The habitat robustness result is read back, and the imaging stage skips the full-payload check of files
    it verified before (same content digest); one changed voxel of a training case recomputes the refits and
    re-verifies that case's files only."""
    shutil.copytree(cohort, tmp_path / "cohort")
    spec = write_small_study(tmp_path, "warm-robustness", habitat={"stability_resamples": 2})
    out = tmp_path / "results"
    calls: list[int] = []
    real = imaging_module.habitat_robustness
    monkeypatch.setattr(imaging_module, "habitat_robustness", lambda *a, **k: calls.append(1) or real(*a, **k))
    verified: list[str] = []
    real_verify = volume_module.verify_complete
    monkeypatch.setattr(volume_module, "verify_complete", lambda path: verified.append(Path(path).name.split("_")[0])
                        or real_verify(path))

    store = partial(cached_robustness, out / "cache")  # as the imaging stage of a run passes it
    first = run_imaging(Study(spec), out, robustness_cache=store)
    assert len(set(verified)) == 10
    verified.clear()
    again = run_imaging(Study(spec), out, robustness_cache=store)
    assert len(calls) == 1, "the warm rerun reads the stored result"
    example = first.overlays[0]["case_id"]  # its figure re-reads it (Study.load_case, every check)
    assert set(verified) <= {example}, "no file of the stage's own pass verified again"
    pd.testing.assert_frame_equal(again.features, first.features, check_exact=True)
    assert again.robustness.record() == first.robustness.record()
    for name in ("centre_abs_diff", "full_centres"):
        np.testing.assert_array_equal(getattr(again.robustness.stability, name),
                                      getattr(first.robustness.stability, name))

    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv").set_index("case_id")
    training_case = man.index[(man.cohort == "training") & (man.index != example)][1]
    _edit(tmp_path / "cohort" / man.loc[training_case, "image_arterial"], _bump_one_voxel)
    third = run_imaging(Study(spec), out, robustness_cache=store)
    assert len(calls) == 2, "a changed voxel of a training case recomputes the refits"
    assert set(verified) - {example} == {training_case}, "that case's files only"
    assert third.descriptor_cache_hits == 9
    assert len(list((out / "cache" / "habitat_robustness").iterdir())) == 1, "the stale entry was replaced"


def test_the_imaging_stage_does_not_verify_again_the_files_the_preflight_verified(cohort, tmp_path, monkeypatch):
    """A fresh run: the preflight's full-payload check of a case without an error marks its bytes verified
    (out/cache/verified/), so the imaging stage reads them with every other check but does not decompress and
    check them again; a case with a preflight error is not marked."""
    shutil.copytree(cohort, tmp_path / "cohort")
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv").set_index("case_id")
    bad = man.index[2]
    _edit(tmp_path / "cohort" / man.loc[bad, "mask_tumor"], lambda a: a.fill(0))  # preflight error: empty mask
    spec = write_small_study(tmp_path, "preflight-verified")
    study = Study(spec)
    _checked(spec, Study(spec, decode_events=False).table, tmp_path / "results" / "cache")
    verified: list[str] = []
    real_verify = volume_module.verify_complete
    monkeypatch.setattr(volume_module, "verify_complete", lambda path: verified.append(Path(path).name.split("_")[0])
                        or real_verify(path))
    result = run_imaging(study, tmp_path / "results")
    example = result.overlays[0]["case_id"]  # its figure re-reads it (Study.load_case, every check)
    assert set(verified) - {example} == {bad}, "only the case the preflight found an error in is verified again"
    assert bad not in result.features.index and len(result.features) == 9
