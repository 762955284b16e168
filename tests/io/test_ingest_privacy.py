"""Ingest privacy by construction: no identifier from headers, folder or file names in anything hccrad writes.

A synthetic DICOM cohort carries identifiers in PatientName/ID, dates, InstitutionName, AccessionNumber,
ReferringPhysicianName and SeriesDescription, in the case folder's name and in the file names; `hccrad
ingest` runs through the CLI; every byte it writes (decompressed), every file name, stdout/stderr and every
log record is searched for each identifier (case-insensitive, ^ also as _ or space). Only the private
mapping file may hold them. Also: the DICOM PS3.15 Basic Profile table and `deidentify`.
"""

from __future__ import annotations

import gzip
import logging
import re

import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

import hccrad.cli as cli
from hccrad.io.deid import basic_profile, deidentify, profile_action
from hccrad.io.dicom_write import write_dicom_series

NAME, PID, DOB = "DOE^JOHN", "MRN0042137", "19500214"
STUDY_DATE, INSTITUTION, ACCESSION = "20210315", "St Elsewhere General Hospital", "ACC99887766"
REFERRER = "HOUSE^GREGORY"
FOLDER = "DOE_JOHN_1950"
PV_DESCRIPTION = f"PV 1.0 {INSTITUTION} {ACCESSION}"
LOCALIZER_DESCRIPTION = f"Localizer {INSTITUTION} {ACCESSION}"
# a second, rejected case: its identifiers must not leak through an error message either
NAME2, PID2, FOLDER2 = "SMITH^ANNA", "MRN0077321", "SMITH_ANNA_1961"


def identifier_variants() -> list[str]:
    """Every identifier, lower-case, also with ^ as _ or space (as folder and file names spell them)."""
    base = [NAME, PID, DOB, STUDY_DATE, INSTITUTION, ACCESSION, REFERRER, FOLDER, PV_DESCRIPTION,
            LOCALIZER_DESCRIPTION, NAME2, PID2, FOLDER2]
    out = set()
    for s in base:
        for v in (s, s.replace("^", "_"), s.replace("^", " ")):
            out.add(v.lower())
    return sorted(out)


def _hits(text: str) -> list[str]:
    """Identifiers found in `text`, also when a console wrapped it (whitespace removed on both sides)."""
    low, squeezed = text.lower(), re.sub(r"\s+", "", text.lower())
    return [s for s in identifier_variants() if s in low or re.sub(r"\s+", "", s) in squeezed]


def _tiny(seed: int, name: str):
    from tests.conftest import blob_image

    return blob_image(shape=(4, 8, 8), spacing=(2.0, 1.0, 1.0), name=name, seed=seed)


def _series(folder, image, description, *, name, pid, study_uid, for_uid, bad_uid=None):
    paths = write_dicom_series(image, folder, series_description=description, patient_name=name, patient_id=pid,
                               patient_birth_date=DOB, study_uid=study_uid, frame_of_reference_uid=for_uid,
                               file_prefix=f"{pid}_")
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.StudyDate, ds.InstitutionName, ds.AccessionNumber = STUDY_DATE, INSTITUTION, ACCESSION
        ds.ReferringPhysicianName = REFERRER
        with pydicom.config.disable_value_validation():
            if bad_uid:  # an invalid UID that pydicom's reader quotes in a warning and a log record
                ds.FrameOfReferenceUID = bad_uid
            ds.save_as(p)
    return paths


def _identified_cohort(root):
    """cohort/DOE_JOHN_1950 (ingestable) and cohort/SMITH_ANNA_1961 (a duplicate slice: rejected)."""
    from hccrad.io import write_image
    from tests.conftest import blob_mask

    cohort = root / "cohort"
    for folder, name, pid, duplicate_slice in ((FOLDER, NAME, PID, False), (FOLDER2, NAME2, PID2, True)):
        case = cohort / folder
        uid, for_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
        portal = _tiny(1, "portal")
        paths = _series(case / f"{pid}_portal", portal, PV_DESCRIPTION, name=name, pid=pid, study_uid=uid,
                        for_uid=for_uid)
        _series(case / f"{pid}_scout", _tiny(2, "scout"), LOCALIZER_DESCRIPTION, name=name, pid=pid,
                study_uid=uid, for_uid=for_uid, bad_uid=f"1.2.{pid}")
        write_image(blob_mask(portal), case / f"{pid}_tumor.nii.gz")
        if duplicate_slice:
            (paths[1].parent / f"{pid}_copy.dcm").write_bytes(paths[1].read_bytes())
    return cohort


def _run_ingest(monkeypatch, caplog, tmp_path, *args):
    """`hccrad -v ingest ...` through CliRunner; every log record (any logger, DEBUG) goes to caplog."""
    setup = cli._setup_logging

    def setup_and_capture(verbose: bool) -> None:
        setup(verbose)  # basicConfig(force=True) drops pytest's handler: put it back on the root logger
        logging.getLogger().addHandler(caplog.handler)
        logging.getLogger().setLevel(logging.DEBUG)

    monkeypatch.setattr(cli, "_setup_logging", setup_and_capture)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)  # anything written to the working directory is searched too
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    try:
        return CliRunner().invoke(cli.app, ["-v", "ingest", *map(str, args)], catch_exceptions=False)
    finally:
        logging.getLogger().removeHandler(caplog.handler)


def _written_files(tmp_path, exclude):
    return [p for p in sorted(tmp_path.rglob("*"))
            if not p.is_relative_to(tmp_path / "cohort") and p not in exclude]


def _assert_nothing_identifying(tmp_path, result, caplog, *, exclude=()):
    assert not _hits(result.stdout), _hits(result.stdout)
    assert not _hits(result.stderr), _hits(result.stderr)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert not _hits(logged), _hits(logged)
    files = _written_files(tmp_path, exclude)
    n_nifti = 0
    for p in files:
        rel = str(p.relative_to(tmp_path))
        assert not _hits(rel), f"identifier in the file name {rel}: {_hits(rel)}"
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.name.endswith(".gz"):
            data = gzip.decompress(data)
            if p.name.endswith(".nii.gz"):  # the NIfTI-1 header (348 bytes, magic n+1) is searched as well
                assert int.from_bytes(data[:4], "little") == 348 and data[344:347] == b"n+1"
                n_nifti += 1
        text = data.decode("latin-1")
        assert not _hits(text), f"identifier in {rel}: {_hits(text)}"
    return files, n_nifti


def test_cli_ingest_writes_no_identifier(tmp_path, monkeypatch, caplog):
    cohort = _identified_cohort(tmp_path)
    out, mapping = tmp_path / "out", tmp_path / "private" / "mapping.csv"
    result = _run_ingest(monkeypatch, caplog, tmp_path, cohort, "--out", out, "--mapping", mapping)
    assert result.exit_code == 0, result.output
    assert any("ingested case-" in r.getMessage() for r in caplog.records)  # the log was captured
    assert any("rejected case-" in r.getMessage() for r in caplog.records)
    files, n_nifti = _assert_nothing_identifying(tmp_path, result, caplog, exclude={mapping})

    import pandas as pd

    report = pd.read_csv(out / "ingest_report.csv")
    assert "source" not in report.columns
    assert sorted(report.status) == ["rejected", "written"]
    rejected = report.loc[report.status == "rejected"].iloc[0]
    assert rejected.reason_code == "duplicate_slice" and "field ImagePositionPatient" in rejected.reason
    written = report.loc[report.status == "written"].iloc[0]
    assert written.phases == "portal" and written.masks == "tumor"
    assert written.ignored == "CT series (4 files): no phase word"  # the localizer, by role and count
    assert n_nifti == 2 and (out / "manifest.csv") in files and (out / written.case_id / "ingest.json") in files
    # the private mapping file is the one place that holds the source names, and it is private
    text = mapping.read_text()
    assert FOLDER in text and FOLDER2 in text and PID in text and written.case_id in text
    assert mapping.stat().st_mode & 0o777 == 0o600


def test_keep_source_names_is_an_explicit_opt_in(tmp_path, monkeypatch, caplog):
    cohort = _identified_cohort(tmp_path)
    out = tmp_path / "out"
    result = _run_ingest(monkeypatch, caplog, tmp_path, cohort, "--out", out, "--keep-source-names")
    assert result.exit_code == 0, result.output
    report = (out / "ingest_report.csv").read_text()
    assert FOLDER in report and FOLDER2 in report and LOCALIZER_DESCRIPTION in report
    assert f"{PID2}_" in report  # the file of the duplicate-slice error, relative to the cohort folder
    assert str(tmp_path) not in report
    help_text = CliRunner().invoke(cli.app, ["ingest", "--help"]).output
    assert "--keep-source-names" in help_text and "ingest_report.csv" in re.sub(r"\s+", "", help_text)


def test_discovery_failure_does_not_print_the_folder_name(tmp_path, monkeypatch, caplog):
    case = tmp_path / "cohort" / FOLDER
    case.mkdir(parents=True)
    (case / f"{PID}_{NAME.replace('^', '_')}.dcm").write_bytes(b"not a DICOM file " * 40)
    out = tmp_path / "out"
    result = _run_ingest(monkeypatch, caplog, tmp_path, tmp_path / "cohort", "--out", out)
    assert result.exit_code == 0, result.output
    assert "rejected" in result.stderr
    report = (out / "ingest_report.csv").read_text()
    assert "corrupt_file" in report
    _assert_nothing_identifying(tmp_path, result, caplog)


def test_missing_source_folder_error_names_no_path(tmp_path, monkeypatch, caplog):
    result = _run_ingest(monkeypatch, caplog, tmp_path, tmp_path / FOLDER, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "SRC" in result.stderr
    assert not _hits(result.output)


# --- DICOM PS3.15 Basic Application Level Confidentiality Profile ------------------------------------------

@pytest.mark.parametrize("tag, action", [
    (0x00100010, "Z"),      # Patient's Name
    (0x00100030, "Z"),      # Patient's Birth Date
    (0x00080050, "Z"),      # Accession Number
    (0x00080080, "X/Z/D"),  # Institution Name
    (0x00080090, "Z"),      # Referring Physician's Name
    (0x0008103E, "X"),      # Series Description
    (0x00080020, "Z"),      # Study Date
    (0x0020000D, "U"),      # Study Instance UID
    (0x00081140, "X/Z/U*"),  # Referenced Image Sequence
    (0x60023000, "X"),      # Overlay Data (60xx,3000)
])
def test_profile_table_known_entries(tag, action):
    assert profile_action(tag) == action
    assert len(basic_profile()) > 600  # the whole Table E.1-1, not a hand-picked subset
    assert profile_action(0x00280010) is None  # Rows: not in the table, kept


def test_deidentify_applies_the_basic_profile(tmp_path):
    paths = _series(tmp_path / "s", _tiny(0, "portal"), PV_DESCRIPTION, name=NAME, pid=PID,
                    study_uid=pydicom.uid.generate_uid(), for_uid=pydicom.uid.generate_uid())
    ds0, ds1 = (pydicom.dcmread(p) for p in paths[:2])
    ref = pydicom.Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ds1.SOPClassUID, ds1.SOPInstanceUID
    ds0.ReferencedImageSequence = [ref]
    other = pydicom.Dataset()
    other.PatientID = PID
    ds0.OtherPatientIDsSequence = [other]
    ds0.add_new(0x60003000, "OW", b"\x01\x02")  # overlay data
    ds0.add_new(0x00091001, "LO", INSTITUTION)  # a private tag
    clean0, clean1 = deidentify(ds0, key="k"), deidentify(ds1, key="k")
    clean0.save_as(tmp_path / "clean.dcm")
    raw = (tmp_path / "clean.dcm").read_bytes().decode("latin-1")
    assert not _hits(raw), _hits(raw)
    assert "SeriesDescription" not in clean0 and "OtherPatientIDsSequence" not in clean0
    assert 0x60003000 not in clean0 and 0x00091001 not in clean0
    assert not clean0.PatientName and not clean0.StudyDate and clean0.InstitutionName == "ANONYMIZED"
    # UIDs replaced, consistently across the instances of a set (same key), references kept intact
    assert clean0.SeriesInstanceUID == clean1.SeriesInstanceUID != ds0.SeriesInstanceUID
    assert clean0.ReferencedImageSequence[0].ReferencedSOPInstanceUID == clean1.SOPInstanceUID != ds1.SOPInstanceUID
    assert clean0.file_meta.MediaStorageSOPInstanceUID == clean0.SOPInstanceUID
    assert clean0.PatientIdentityRemoved == "YES"
    assert clean0.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert np.array_equal(clean0.pixel_array, ds0.pixel_array)
    assert ds0.PatientName == NAME  # the input is untouched
