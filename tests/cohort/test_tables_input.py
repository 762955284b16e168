"""A study's clinical table and manifests as users have them (issue 21 items 2–3): Excel with a sheet,
TSV, Parquet, decimal comma, names with spaces renamed by `data.columns`, `missing_values`, value tables in
`data.recode`, `data.row_ids`; what `validate` (the preflight) lists and what run.json records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from hccrad.config.columns import recode_column, uncovered_values
from hccrad.cohort.study import Study
from hccrad.config import load_spec
from hccrad.core.errors import InputError, SpecError
from hccrad.pipeline.preflight import errors_of, format_problems, preflight

N = 24


def raw_clinical() -> pd.DataFrame:
    """A clinical table as exported by a hospital system: spaces in names, yes/no text, '?' for missing."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "Patient ID": [f"H{i:03d}" for i in range(N)],
        "Age (years)": rng.integers(40, 80, N),
        "Cirrhosis": rng.choice(["yes", "no"], N),
        "AFP ng/mL": [("?" if i == 5 else f"{v:.1f}") for i, v in enumerate(rng.lognormal(3, 1, N))],
        "Child-Pugh": rng.choice(["A", "B"], N),
        "Response": np.r_[[0, 1], rng.integers(0, 2, N - 2)],
    })


MAPPING = {
    "columns": {"Patient ID": "case_id", "Age (years)": "age", "AFP ng/mL": "afp", "Child-Pugh": "child_pugh"},
    "missing_values": ["?"],
    "recode": {"Cirrhosis": {"yes": 1, "no": 0}, "child_pugh": {"A": 1, "B": 2}},
}


def write_study(tmp_path, clinical_name: str = "clinical.csv", data_extra: dict | None = None,
                frame: pd.DataFrame | None = None, mapping: dict | None = None):
    frame = raw_clinical() if frame is None else frame
    path = tmp_path / clinical_name
    suffix = path.suffix
    if suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            pd.DataFrame({"note": ["exported 2026"]}).to_excel(writer, sheet_name="About", index=False)
            frame.to_excel(writer, sheet_name="Baseline", index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_csv(path, index=False)
    data = {"clinical": clinical_name, **(MAPPING if mapping is None else mapping), **(data_extra or {})}
    spec = {"name": "tables", "seed": 0, "output_dir": "out", "data": data, "cohorts": {"column": None},
            "outcome": {"response": {"column": "Response", "label": "response"}},
            "models": [{"name": "clinical", "features": "none", "clinical": ["age", "Cirrhosis", "child_pugh"],
                        "clinical_selection": "all"}],
            "validation": {"bootstrap": 0}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return tmp_path / "study.yaml"


def _check_table(table: pd.DataFrame) -> None:
    raw = raw_clinical()
    assert list(table.index[:2]) == ["H000", "H001"] and table.index.name == "case_id"
    assert {"age", "afp", "child_pugh", "Cirrhosis"} <= set(table.columns)
    assert table["Cirrhosis"].tolist() == [1 if v == "yes" else 0 for v in raw["Cirrhosis"]]
    assert table["child_pugh"].tolist() == [1 if v == "A" else 2 for v in raw["Child-Pugh"]]
    assert pd.api.types.is_numeric_dtype(table["afp"]) and table["afp"].isna().tolist() == [i == 5 for i in range(N)]


@pytest.mark.parametrize("name,extra", [("clinical.csv", {}), ("clinical.tsv", {}), ("clinical.parquet", {}),
                                        ("clinical.xlsx", {"clinical_sheet": "Baseline"}),
                                        ("clinical.xlsx", {"clinical_sheet": 1})])
def test_every_format_through_the_spec(tmp_path, name, extra):
    spec = load_spec(write_study(tmp_path, name, extra))
    study = Study(spec)
    _check_table(study.table)
    assert not errors_of(preflight(spec)), format_problems(preflight(spec))
    record = study.column_record
    assert record["renamed"]["Patient ID"] == "case_id" and record["missing_values"] == ["?"]
    assert record["recoded"]["Cirrhosis"]["values"] == {"yes": 1, "no": 0}
    raw = raw_clinical()
    assert record["recoded"]["Cirrhosis"]["counts"] == {"0": int((raw["Cirrhosis"] == "no").sum()),
                                                         "1": int((raw["Cirrhosis"] == "yes").sum())}


def test_decimal_comma_csv_through_the_spec(tmp_path):
    frame = raw_clinical()
    spec_path = write_study(tmp_path, "clinical.csv", frame=frame)
    text = frame.to_csv(sep=";", index=False).replace(".", ",")  # the European spreadsheet export
    (tmp_path / "clinical.csv").write_text(text)
    table = Study(load_spec(spec_path)).table
    expected = pd.to_numeric(frame["AFP ng/mL"].replace("?", np.nan))
    np.testing.assert_allclose(table["afp"].to_numpy(dtype=float), expected.to_numpy(dtype=float), rtol=0, atol=1e-12)


def test_wrong_sheet_is_a_listed_problem(tmp_path):
    with pytest.raises(SpecError, match=r"no sheet 'Patients' \(sheets: \['About', 'Baseline'\]\)"):
        load_spec(write_study(tmp_path, "clinical.xlsx", {"clinical_sheet": "Patients"}))


def test_uncovered_recode_values_listed_with_file_column_and_values(tmp_path):
    frame = raw_clinical()
    frame.loc[[2, 3], "Cirrhosis"] = "Yes"
    frame.loc[4, "Cirrhosis"] = "unknown"
    frame.loc[6, "Child-Pugh"] = "C"
    spec = load_spec(write_study(tmp_path, frame=frame))
    problems = errors_of(preflight(spec))
    text = format_problems(problems)
    assert len(problems) == 2, text
    by_field = {p.field: p for p in problems}
    assert by_field["Cirrhosis"].file.endswith("clinical.csv")
    assert "'Yes' (2x)" in by_field["Cirrhosis"].message and "'unknown' (1x)" in by_field["Cirrhosis"].message
    assert "'C' (1x)" in by_field["child_pugh"].message
    with pytest.raises(InputError, match="does not cover") as info:
        _ = Study(spec).table  # never silently NaN
    assert info.value.field == "Cirrhosis" and "clinical.csv" in str(info.value)


def test_blank_stays_blank_after_recoding(tmp_path):
    frame = raw_clinical()
    frame.loc[7, "Cirrhosis"] = "?"
    frame.loc[8, "Cirrhosis"] = None
    table = Study(load_spec(write_study(tmp_path, frame=frame))).table
    assert table["Cirrhosis"].isna().sum() == 2 and set(table["Cirrhosis"].dropna()) == {0, 1}
    problems = preflight(load_spec(tmp_path / "study.yaml"))  # a blank predictor is refused, never imputed
    assert any(p.field == "Cirrhosis" and "2 blank value(s)" in p.message for p in errors_of(problems))


@pytest.mark.parametrize("mapping,match", [
    ({**MAPPING, "columns": {**MAPPING["columns"], "Age in years": "age_years"}},
     r"data.columns: column 'Age in years' is in none of the tables"),
    ({**MAPPING, "recode": {"cirrhosis": {"yes": 1, "no": 0}}},
     r"data.recode: column 'cirrhosis' is in none of the tables.*did you mean 'Cirrhosis'"),
    ({**MAPPING, "columns": {**MAPPING["columns"], "Response": "age"}},
     r"renames several columns of this table \(\['Age \(years\)', 'Response'\]\) to \['age'\]"),
])
def test_absent_or_clashing_columns_are_spec_problems(tmp_path, mapping, match):
    with pytest.raises(SpecError, match=match):
        load_spec(write_study(tmp_path, mapping=mapping))


def test_rename_onto_an_existing_column_is_refused(tmp_path):
    mapping = {**MAPPING, "columns": {**MAPPING["columns"], "Response": "Cirrhosis"}}
    with pytest.raises(SpecError, match="already has a column of that name"):
        load_spec(write_study(tmp_path, mapping=mapping))


def test_without_declared_markers_a_question_mark_is_a_problem(tmp_path):
    frame = raw_clinical().astype({"Age (years)": object})
    frame.loc[5, "Age (years)"] = "?"
    mapping = {k: v for k, v in MAPPING.items() if k != "missing_values"}
    problems = errors_of(preflight(load_spec(write_study(tmp_path, frame=frame, mapping=mapping))))
    assert [p.field for p in problems] == ["age"], format_problems(problems)
    assert "not numeric" in problems[0].message and "'?'" in problems[0].message
    declared = errors_of(preflight(load_spec(write_study(tmp_path, frame=frame))))  # '?' declared missing:
    assert [p.field for p in declared] == ["age"] and "1 blank value(s)" in declared[0].message  # refused


def test_row_ids_for_a_table_without_ids(tmp_path):
    frame = raw_clinical().drop(columns="Patient ID")
    mapping = {**MAPPING, "columns": {k: v for k, v in MAPPING["columns"].items() if k != "Patient ID"}}
    study = Study(load_spec(write_study(tmp_path, frame=frame, mapping=mapping, data_extra={"row_ids": True})))
    assert list(study.table.index[:3]) == ["row1", "row2", "row3"] and len(study.table) == N
    assert study.column_record["row_ids"] is True
    with pytest.raises(SpecError, match="row_ids is set, but the table has an id column"):
        load_spec(write_study(tmp_path, data_extra={"row_ids": True}))


def test_recode_matches_numbers_as_numbers():
    values = pd.Series([1.0, 2, "3", None, " 1 "])
    table = {1: "A", 2: "B", 3: "C"}
    assert uncovered_values(values, table) == {}
    assert recode_column(values, table).tolist() == ["A", "B", "C", None, "A"]
    assert uncovered_values(pd.Series([1, 4, 4]), table) == {"4": 2}
    assert uncovered_values(pd.Series([1.0, 4.0, None, 4.5]), table) == {"4": 1, "4.5": 1}  # as written
    assert recode_column(pd.Series(["yes", "no", None]), {"yes": 1, "no": 0}).isna().tolist() == [False, False, True]
