"""Batch ingest: layout, manifest, found/rejected table, resumability, de-identification."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from hccrad.core.image import Image
from hccrad.io import deidentify, ingest_folder, read_image, write_image
from hccrad.io.deid import identifying_values, pseudonym
from hccrad.io.dicom_write import write_dicom_series
from hccrad.io.ingest import mask_of, phase_of

NAME, PID, DOB = "Doe^Janeway", "PID998877", "19450317"
SECRETS = ["Doe", "Janeway", PID, DOB]


@pytest.mark.parametrize("text, phase", [
    ("ART 1.0 B30f", "arterial"), ("Arterial phase", "arterial"), ("PORTAL VENOUS", "portal"),
    ("pv_1mm", "portal"), ("Plain CT", "pre"), ("pre-contrast", "pre"), ("NC 5mm", "pre"),
    ("Delayed 3min", "delayed"), ("t2w_tse", "t2"), ("Topogram", None), ("art + portal", None),
])
def test_phase_words(text, phase):
    assert phase_of(text) == phase


@pytest.mark.parametrize("text, mask", [
    ("tumor", "tumor"), ("portal_tumour_mask", "tumor"), ("Liver", "liver"), ("GTV-1", "tumor"),
    ("mask", "tumor"), ("tumor_reader2", "tumor_reader2"), ("portal", None),
])
def test_mask_words(text, mask):
    assert mask_of(text) == mask


def _nifti_case(folder, make_image, make_mask, *, seed=0, phases=("pre", "arterial", "portal")):
    folder.mkdir(parents=True)
    por = make_image(seed=seed)
    for i, ph in enumerate(phases):
        write_image(make_image(name=ph, seed=seed + i), folder / f"{ph}.nii.gz")
    write_image(make_mask(por), folder / "tumor.nii.gz")
    return por


def _dicom_case(folder, make_image, make_mask, *, name=NAME, pid=PID):
    por = None
    for i, (ph, desc) in enumerate([("pre", "Plain 1.0"), ("arterial", "ART 1.0"), ("portal", "PV 1.0")]):
        img = make_image(name=ph, seed=10 + i)
        write_dicom_series(img, folder / f"series{i}", series_description=desc, patient_name=name,
                           patient_id=pid, patient_birth_date=DOB)
        por = img if ph == "portal" else por
    write_image(make_mask(por), folder / "tumor_mask.nii.gz")
    return por


@pytest.fixture
def cohort(tmp_path, make_image, make_mask):
    src = tmp_path / "cohort"
    _dicom_case(src / "patient01", make_image, make_mask)
    _nifti_case(src / "patient02", make_image, make_mask, seed=20)
    # bad cases
    _dicom_case(src / "bad_corrupt", make_image, make_mask)
    (src / "bad_corrupt" / "series1" / "IM00003.dcm").write_bytes(b"not a dicom at all" * 20)
    _dicom_case(src / "bad_missing", make_image, make_mask)
    (src / "bad_missing" / "series2" / "IM00004.dcm").unlink()
    _dicom_case(src / "bad_mixed", make_image, make_mask)
    write_dicom_series(make_image(seed=99), src / "bad_mixed" / "series9", series_description="PV 5.0")
    por = _nifti_case(src / "bad_grid", make_image, make_mask)
    write_image(Image(make_mask(por).array, (2.0, 0.8, 0.8), por.origin), src / "bad_grid" / "tumor.nii.gz")
    por = _nifti_case(src / "bad_empty", make_image, make_mask)
    write_image(por.with_array(np.zeros(por.shape, np.uint8)), src / "bad_empty" / "tumor.nii.gz")
    one = np.zeros(por.shape, np.uint8)
    one[3, 10, 10] = 1
    _nifti_case(src / "bad_single", make_image, make_mask)
    write_image(por.with_array(one), src / "bad_single" / "tumor.nii.gz")
    _nifti_case(src / "bad_nan", make_image, make_mask)
    arr = por.array.astype(np.float32)
    arr[0, 0, 0] = np.nan
    write_image(por.with_array(arr), src / "bad_nan" / "arterial.nii.gz")
    (src / "bad_2d").mkdir()
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 24), np.int16)), str(src / "bad_2d" / "portal.nii.gz"))
    write_image(make_mask(por), src / "bad_2d" / "tumor.nii.gz")
    _nifti_case(src / "bad_nomask", make_image, make_mask)
    (src / "bad_nomask" / "tumor.nii.gz").unlink()
    return src


EXPECTED_REASONS = {
    "bad_corrupt": "corrupt or non-DICOM", "bad_missing": "missing slice", "bad_mixed": "2 sources for phase 'portal'",
    "bad_grid": "grids differ", "bad_empty": "mask is empty", "bad_single": "1 voxel(s)",
    "bad_nan": "NaN/inf voxel", "bad_2d": "2-D", "bad_nomask": "no tumour mask",
}


EXPECTED_CODES = {
    "bad_corrupt": "corrupt_file", "bad_missing": "missing_slice", "bad_mixed": "several_sources_for_phase",
    "bad_grid": "grid_mismatch", "bad_empty": "mask_empty", "bad_single": "mask_too_small",
    "bad_nan": "nan_voxels", "bad_2d": "not_3d", "bad_nomask": "no_tumour_mask",
}


def test_ingest_cohort_table_manifest_and_resume(cohort, tmp_path, caplog):
    out = tmp_path / "out"
    seen = []
    with caplog.at_level(logging.DEBUG):
        res = ingest_folder(cohort, out, progress=lambda i, n, cid: seen.append((i, n, cid)),
                            keep_source_names=True)
    assert len(seen) == 11
    table = res.table.set_index("source")
    assert (table.loc[["patient01", "patient02"], "status"] == "written").all()
    for source, reason in EXPECTED_REASONS.items():
        assert table.loc[source, "status"] == "rejected", source
        assert reason in table.loc[source, "reason"], (source, table.loc[source, "reason"])
        assert table.loc[source, "reason_code"] == EXPECTED_CODES[source]
    assert table.loc["bad_corrupt", "reason"].count("IM00003.dcm") >= 1
    man = pd.read_csv(res.manifest_path)
    assert list(man.columns) == ["case_id", "patient_id", "cohort", "image_pre", "image_arterial", "image_portal",
                                 "mask_tumor", "mask_liver"]
    assert len(man) == 2 and set(man.cohort) == {"training"}
    for _, row in man.iterrows():
        for col in ("image_pre", "image_arterial", "image_portal", "mask_tumor"):
            assert not row[col].startswith("/")
            assert read_image(out / row[col]).shape == (8, 20, 24)
    assert pd.read_csv(res.table_path).shape[0] == 11
    assert res.summary().set_index("status")["n_cases"].to_dict() == {"rejected": 9, "written": 2}
    # the DICOM mask equals the label file, on the portal grid
    dic = man.loc[man.case_id == pseudonym("patient01", (out / ".hccrad/pseudonym.key").read_text().strip())]
    assert len(dic) == 1 and dic.patient_id.item().startswith("pt-")
    # resume: nothing is redone, the manifest is the same
    again = ingest_folder(cohort, out, keep_source_names=True)
    assert set(again.table.loc[again.table.source.isin(["patient01", "patient02"]), "status"]) == {"skipped"}
    pd.testing.assert_frame_equal(again.manifest, res.manifest)
    # an interrupted case (no marker) is redone
    (out / dic.case_id.item() / "ingest.json").unlink()
    third = ingest_folder(cohort, out, keep_source_names=True)
    assert third.table.set_index("source").loc["patient01", "status"] == "written"
    _assert_no_secrets(out, caplog.text, res)


def _assert_no_secrets(out, log_text, res):
    for s in SECRETS:
        assert s.lower() not in log_text.lower(), f"{s} leaked into the log"
        assert s.lower() not in res.table.to_csv().lower() and s.lower() not in res.manifest.to_csv().lower()
    for p in out.rglob("*"):
        for s in SECRETS:
            assert s.lower() not in str(p.relative_to(out)).lower(), f"{s} in file name {p}"
        if p.is_file():
            data = p.read_bytes()
            if p.name.endswith(".gz"):
                data = gzip.decompress(data)
            for s in SECRETS:
                assert s.lower().encode() not in data.lower(), f"{s} leaked into {p}"


def test_mapping_only_when_asked_and_folder_named_after_patient(tmp_path, make_image, make_mask, caplog):
    src = tmp_path / "src"
    _dicom_case(src / PID, make_image, make_mask)  # folder named after the PatientID
    out = tmp_path / "out"
    with caplog.at_level(logging.DEBUG):
        res = ingest_folder(src, out)
    assert res.table.status.tolist() == ["written"]
    assert "source" not in res.table.columns  # only with keep_source_names
    assert not any("map" in p.name for p in out.rglob("*"))
    # the case folder itself is named PID998877 but only in src; outputs must not carry it
    _assert_no_secrets(out, caplog.text, res)
    mapping = tmp_path / "private" / "mapping.csv"
    ingest_folder(src, tmp_path / "out2", mapping_path=mapping)
    text = mapping.read_text()
    assert PID in text and "case-" in text and "pt-" in text
    assert (mapping.stat().st_mode & 0o777) == 0o600


def test_ingest_bad_source(tmp_path):
    from hccrad.core.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        ingest_folder(tmp_path / "missing", tmp_path / "out")


def test_deidentify_dataset(tmp_path, make_image):
    paths = write_dicom_series(make_image(), tmp_path / "s", patient_name=NAME, patient_id=PID,
                               patient_birth_date=DOB)
    ds = pydicom.dcmread(paths[0])
    assert set(identifying_values(ds)) >= {NAME, PID, DOB}
    clean = deidentify(ds, pseudo_id="case-0001")
    clean.save_as(tmp_path / "clean.dcm")
    raw = (tmp_path / "clean.dcm").read_bytes()
    for s in SECRETS:
        assert s.encode() not in raw
    assert clean.PatientID == "case-0001" and clean.PatientIdentityRemoved == "YES"
    assert "PatientBirthDate" in clean and not clean.PatientBirthDate  # PS3.15 action Z: kept, empty
    assert ds.PatientID == PID  # the input is not modified
    assert pseudonym(PID, "k1") == pseudonym(PID, "k1") != pseudonym(PID, "k2")


def test_ingest_dicom_with_rtstruct_ibsi_phantom(shared_data, tmp_path):
    """A case folder with a DICOM series named 'portal' and an RTSTRUCT (files linked in place)."""
    ct = shared_data / "ibsi/theibsi_data_sets/ibsi_1_ct_radiomics_phantom"
    case = tmp_path / "src" / "ibsi"
    (case / "portal").mkdir(parents=True)
    (case / "rt").mkdir()
    for f in (ct / "dicom/image").glob("*.dcm"):
        (case / "portal" / f.name).symlink_to(f)
    (case / "rt" / "rs.dcm").symlink_to(ct / "dicom/mask/DCM_RS_00060.dcm")
    res = ingest_folder(tmp_path / "src", tmp_path / "out", key="test-key")
    assert res.table.status.tolist() == ["written"], res.table.reason.tolist()
    row = res.manifest.iloc[0]
    assert row.case_id == pseudonym("ibsi", "test-key") and pd.isna(row.mask_liver)
    mask = read_image(tmp_path / "out" / row.mask_tumor)
    ref = read_image(ct / "nifti/mask/mask.nii.gz")
    assert mask.same_grid(ref) and np.array_equal(mask.array > 0, ref.array > 0)
    assert not (tmp_path / "out" / ".hccrad" / "pseudonym.key").exists()  # a given key is not stored
