"""Registration in the imaging stage (`preprocess.registration`) on a tiny synthetic study with one phase of
one case shifted by 3 voxels: the preflight warns naming that case and phase (and only it); the imaging stage
with rigid registration records the QC (the shift recovered, NCC raised); a rerun comes from the caches; a
changed registration setting recomputes the transforms and the habitat features; run.json's entry comes from
the same rows; later stages (deep) read the registered phases."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

import hccrad.synth.cohort as synth_cohort
from hccrad.cohort.study import Study
from hccrad.pipeline.imaging import run_imaging
from hccrad.pipeline.preflight import preflight
from hccrad.core.errors import InputError
from hccrad.pipeline.registration_stage import registration_record, with_registered_phases
from hccrad.synth.phantom import PhantomSpec

from .conftest import write_small_study

SHIFT_VOX = 3  # along x (1.5 mm voxels): 4.5 mm


def _spec(root: Path, registration: str):
    return write_small_study(root, "registration", preprocess={"registration": registration})


@pytest.fixture(scope="module")
def study_root(tmp_path_factory) -> tuple[Path, str]:
    """10 tiny cases (16 × 40 × 40 voxels, 2.5 × 1.5 × 1.5 mm); the arterial phase of one training case is
    shifted by SHIFT_VOX voxels along x after generation."""
    root = tmp_path_factory.mktemp("registration")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synth_cohort, "PhantomSpec", lambda: PhantomSpec(shape=(16, 40, 40), spacing=(2.5, 1.5, 1.5)))
        synth_cohort.generate_cohort(root / "cohort", n=10, seed=4, noise_hu=4.0)
    man = pd.read_csv(root / "cohort" / "manifest.csv")
    case = man.loc[man.cohort == "training", "case_id"].iloc[0]
    path = root / "cohort" / man.set_index("case_id").loc[case, "image_arterial"]
    img = sitk.ReadImage(str(path))
    arr = ndi.shift(sitk.GetArrayFromImage(img).astype(np.float32), (0, 0, SHIFT_VOX), order=1, mode="nearest")
    out = sitk.GetImageFromArray(np.rint(arr).astype(np.int16))
    out.CopyInformation(img)
    sitk.WriteImage(out, str(path), True)
    return root, case


def test_preflight_warns_about_the_shifted_phase_only(study_root):
    root, case = study_root
    problems = preflight(_spec(root, "none"), workers=1)
    flagged = [p for p in problems if p.field == "alignment"]
    assert [(p.case_id, p.file, p.severity) for p in flagged] == [(case, "image_arterial", "warning")], flagged
    assert "registration: rigid" in flagged[0].hint
    # with registration on, the preflight does not ask for it
    assert not [p for p in preflight(_spec(root, "rigid"), workers=1) if p.field == "alignment"]


def test_rigid_registration_qc_cache_and_invalidation(study_root, tmp_path):
    root, case = study_root
    shutil.copytree(root / "cohort", tmp_path / "cohort")
    out = tmp_path / "results"
    spec = _spec(tmp_path, "rigid")
    first = run_imaging(Study(spec), out)
    qc = first.registration_qc.set_index(["case_id", "phase"])
    assert len(qc) == 2 * len(first.features), "one QC row per case and non-reference phase"
    row = qc.loc[(case, "arterial")]
    assert abs(row["tx_mm"] - SHIFT_VOX * 1.5) < 0.5 and abs(row["ty_mm"]) < 0.5 and abs(row["tz_mm"]) < 0.5, row
    assert row["ncc_after"] > row["ncc_before"] + 0.05, row
    others = qc.drop(index=(case, "arterial"))
    assert (others["translation_mm"] < 1.0).all(), others["translation_mm"].max()
    reg_files = sorted(p.name for p in (out / "cache" / "registration").glob("*.json"))
    assert len(reg_files) == len(first.features)
    assert (out / "registered").is_dir() and len(list((out / "registered").glob("*.nii.gz"))) == 2 * len(reg_files)

    # later stages reading files (deep) get the registered phases; a case without them is an error naming it
    study = Study(spec)
    loaded = with_registered_phases(spec, study.load_case(case), out)
    assert not np.array_equal(loaded.image("arterial").array, study.load_case(case).image("arterial").array)
    assert loaded.image("portal") is not None
    with pytest.raises(InputError) as err:
        with_registered_phases(spec, study.load_case(case), tmp_path / "elsewhere")
    assert err.value.case == case

    again = run_imaging(Study(spec), out)  # same inputs and settings: everything from the caches
    assert again.cache_hits == len(first.features) and again.cache_computed == 0
    pd.testing.assert_frame_equal(again.registration_qc, first.registration_qc)
    pd.testing.assert_frame_equal(again.features, first.features)

    affine = run_imaging(Study(_spec(tmp_path, "affine")), out)  # changed setting: recomputed
    assert affine.cache_hits == 0 and affine.cache_computed == len(first.features)
    assert set(affine.registration_qc["transform"]) == {"affine"}
    new_files = sorted(p.name for p in (out / "cache" / "registration").glob("*.json"))
    assert len(new_files) == len(reg_files) and not set(new_files) & set(reg_files), "old entries replaced"

    unregistered = run_imaging(Study(_spec(tmp_path, "none")), out)
    assert unregistered.cache_computed == len(first.features) and not len(unregistered.registration_qc)

    record = registration_record(spec, first.registration_qc, "features/registration_qc.csv")
    assert record["n_phases_registered"] == len(qc) and record["settings"]["registration"] == "rigid"
    assert record["median_ncc_after"] >= record["median_ncc_before"]
    assert registration_record(_spec(tmp_path, "none"), unregistered.registration_qc, None) is None
