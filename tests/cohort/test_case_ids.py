"""Case ids that could name a file outside the output folder are refused where the tables are read, with
every offending row named; file names built from an id come from `safe_file_stem`."""

from __future__ import annotations

import pandas as pd
import pytest

from hccrad.cohort.study import Study
from hccrad.config.spec import StudySpec
from hccrad.core.errors import InputError
from hccrad.core.ids import case_id_problem, safe_file_stem


@pytest.mark.parametrize("bad, why", [
    ("../../x", "separator"), ("a/b", "separator"), ("a\\b", "separator"), ("a..b", "'..'"),
    (".hidden", "starts with '.'"), ("a\x00b", "control"), ("tab\there", "control"), ("", "blank"),
    ("   ", "blank"), (" x", "spaces"), (float("nan"), "blank"), (None, "blank"),
])
def test_invalid_ids_are_named(bad, why):
    assert why in case_id_problem(bad)


@pytest.mark.parametrize("good", ["HCC-001", "p_12.3", "1001", "HCC 001", "Müller-7"])
def test_valid_ids(good):
    assert case_id_problem(good) is None


def test_safe_file_stem_stays_in_its_folder_and_is_one_to_one():
    ids = ["HCC-001", "HCC 001", "HCC%20001", "a/b", "../x", ".x", "Müller"]
    stems = [safe_file_stem(i) for i in ids]
    assert stems[0] == "HCC-001" and len(set(stems)) == len(ids)
    assert all("/" not in s and "\\" not in s and not s.startswith(".") for s in stems)


def _study(tmp_path, ids, clinical_ids=None) -> Study:
    pd.DataFrame({"case_id": ids, "image_pre": "p.nii.gz", "image_arterial": "a.nii.gz", "image_portal": "x.nii.gz",
                  "mask_tumor": "m.nii.gz", "cohort": "training"}).to_csv(tmp_path / "manifest.csv", index=False)
    pd.DataFrame({"case_id": clinical_ids if clinical_ids is not None else ids, "age": 60}).to_csv(
        tmp_path / "clinical.csv", index=False)
    spec = StudySpec.model_validate({"name": "ids", "data": {
        "manifest": str(tmp_path / "manifest.csv"), "clinical": str(tmp_path / "clinical.csv"),
        }, "outcome": {"response": {"column": "age"}}})
    return Study(spec)


def test_manifest_with_unsafe_ids_is_refused_naming_rows(tmp_path):
    with pytest.raises(InputError) as err:
        _ = _study(tmp_path, ["ok1", "../../x", "ok2", ".secret"]).table
    text = str(err.value)
    assert "2 invalid case id(s)" in text and "row 2 ('../../x')" in text and "row 4 ('.secret')" in text
    assert "manifest.csv" in text and "case_id" in text


def test_clinical_table_ids_checked_and_duplicates_refused(tmp_path):
    with pytest.raises(InputError, match=r"row 2 \('a/b'\)"):
        _ = _study(tmp_path, ["p1", "p2"], ["p1", "a/b", "p2"]).table
    with pytest.raises(InputError, match=r"duplicated case ids in the clinical table: \['p1'\]"):
        _ = _study(tmp_path, ["p1", "p2"], ["p1", "p1", "p2"]).table
    assert list(_study(tmp_path, ["p1", "p2"]).table.index) == ["p1", "p2"]
