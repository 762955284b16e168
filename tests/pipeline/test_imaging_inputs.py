"""The imaging stage inspects every case before analysing it: a truncated image or a shifted mask leaves
that case out (errors table, stage "inputs", naming file role and field), a constant image gives a per-case
warning, and the rest of the batch goes on. A mask corrected in place (same size, mtime set back) is
recomputed: the per-case cache key holds a digest of the input files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.study import Study
from hccrad.pipeline.imaging import run_imaging
from hccrad.synth import generate_cohort

from .conftest import write_small_study


def _spec(root: Path):
    return write_small_study(root, "inputs", habitat={"max_voxels_fit": 5000})


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("imaging_inputs")
    generate_cohort(root / "cohort", n=12, seed=21)
    return root


def _copy(cohort: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    shutil.copytree(cohort / "cohort", tmp_path / "cohort")
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    return tmp_path, man


def _path(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else root / "cohort" / p


def test_bad_cases_left_out_with_reason_and_warning(cohort, tmp_path):
    root, man = _copy(cohort, tmp_path)
    train = man.loc[man.cohort == "training", "case_id"].tolist()
    cut, shifted, flat = train[0], train[1], train[2]
    art = _path(root, man.set_index("case_id").loc[cut, "image_arterial"])
    art.write_bytes(art.read_bytes()[: art.stat().st_size // 2])
    mpath = _path(root, man.set_index("case_id").loc[shifted, "mask_tumor"])
    mask = sitk.ReadImage(str(mpath))
    mask.SetOrigin(tuple(o + 2.0 for o in mask.GetOrigin()))
    sitk.WriteImage(mask, str(mpath), True)
    ppath = _path(root, man.set_index("case_id").loc[flat, "image_pre"])
    pre = sitk.ReadImage(str(ppath))
    const = sitk.GetImageFromArray(np.full(sitk.GetArrayFromImage(pre).shape, 40, np.int16))
    const.CopyInformation(pre)
    sitk.WriteImage(const, str(ppath), True)

    res = run_imaging(Study(_spec(root)), root / "results")
    err = res.errors.set_index("case_id")
    assert set(err.index) == {cut, shifted}
    assert err.loc[cut, "stage"] == "inputs" and err.loc[cut, "message"].startswith("image_arterial (readability)")
    assert "truncated" in err.loc[cut, "message"]
    assert err.loc[shifted, "message"].startswith("mask_tumor (geometry)") and "origin" in err.loc[shifted, "message"]
    assert cut not in res.features.index and shifted not in res.features.index
    assert len(res.features) == len(man) - 2  # the batch went on
    w = res.warnings
    assert w.shape[0] == 1 and (w.iloc[0]["case_id"], w.iloc[0]["file"], w.iloc[0]["field"]) == \
        (flat, "image_pre", "intensity")


def test_mask_changed_in_place_is_recomputed(cohort, tmp_path):
    root, man = _copy(cohort, tmp_path)
    case = man.loc[man.cohort == "internal_test", "case_id"].iloc[0]  # a test case: the habitat model stays
    src = _path(root, man.set_index("case_id").loc[case, "mask_tumor"])
    raw = root / "cohort" / f"{case}_tumor_raw.nii"
    sitk.WriteImage(sitk.ReadImage(str(src)), str(raw), False)  # uncompressed: an edit keeps the size
    man.loc[man.case_id == case, "mask_tumor"] = str(raw)
    man.to_csv(root / "cohort" / "manifest.csv", index=False)
    spec, out = _spec(root), root / "results"

    first = run_imaging(Study(spec), out)
    assert (first.cache_hits, first.cache_computed) == (0, len(man))
    again = run_imaging(Study(spec), out)
    assert (again.cache_hits, again.cache_computed) == (len(man), 0)
    cols = list(first.features.columns)  # (column order from the cache is issue 19 item 7, not tested here)
    pd.testing.assert_frame_equal(again.features[cols], first.features)

    img = sitk.ReadImage(str(raw))
    arr = sitk.GetArrayFromImage(img)
    z = np.nonzero(arr.any(axis=(1, 2)))[0]
    arr[z[: max(1, len(z) // 3)]] = 0  # a reader removes the top third of the lesion
    header = raw.read_bytes()[: raw.stat().st_size - arr.nbytes]
    st = raw.stat()
    raw.write_bytes(header + arr.astype(arr.dtype).tobytes())
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    assert raw.stat().st_size == st.st_size and raw.stat().st_mtime_ns == st.st_mtime_ns

    third = run_imaging(Study(spec), out)
    assert (third.cache_hits, third.cache_computed) == (len(man) - 1, 1)
    changed = third.features.loc[case, cols] != first.features.loc[case, cols]
    assert changed.any(), "the features of the corrected case did not change"
    others = third.features.index != case
    pd.testing.assert_frame_equal(third.features.loc[others, cols], first.features[others])
