"""`hccrad.io.tables.read_table`: every format a clinical table or manifest comes in, and every refusal
(file named, field where there is one, never a silently shifted or renamed column)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import InputError
from hccrad.io.tables import read_header, read_table

EXPECTED = pd.DataFrame({"case_id": ["007", "P2", "P3"], "age": [61.5, 70.0, 55.25], "cirrhosis": ["yes", "no", "yes"]})


def _write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _same(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(EXPECTED.columns)
    assert frame["case_id"].tolist() == EXPECTED["case_id"].tolist()  # ids as text: 007 stays 007
    np.testing.assert_allclose(frame["age"].to_numpy(dtype=float), EXPECTED["age"].to_numpy(), rtol=0, atol=0)
    assert frame["cirrhosis"].tolist() == EXPECTED["cirrhosis"].tolist()


@pytest.mark.parametrize("name,text", [
    ("t.csv", "case_id,age,cirrhosis\n007,61.5,yes\nP2,70,no\nP3,55.25,yes\n"),
    ("t.csv", "case_id;age;cirrhosis\n007;61,5;yes\nP2;70;no\nP3;55,25;yes\n"),  # European export
    ("t.txt", "case_id\tage\tcirrhosis\n007\t61.5\tyes\nP2\t70\tno\nP3\t55.25\tyes\n"),  # sniffed tab
    ("t.tsv", "case_id\tage\tcirrhosis\n007\t61.5\tyes\nP2\t70\tno\nP3\t55.25\tyes\n"),
    ("t.csv", "\ufeffcase_id,age,cirrhosis\r\n007,61.5,yes\r\nP2,70,no\r\nP3,55.25,yes\r\n"),  # BOM, CRLF
])
def test_delimited_formats(tmp_path, name, text):
    _same(read_table(_write(tmp_path, name, text), text_columns=("case_id",)))


def test_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    EXPECTED.to_parquet(path)
    _same(read_table(path, text_columns=("case_id",)))


def test_parquet_numeric_ids_as_text(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"case_id": [1, 2], "x": [0.5, 1.0]}).to_parquet(path)
    assert read_table(path, text_columns=("case_id",))["case_id"].tolist() == ["1", "2"]


def _xlsx(tmp_path, sheets: dict[str, pd.DataFrame], name: str = "t.xlsx"):
    path = tmp_path / name
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, frame in sheets.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return path


def test_xlsx_first_sheet_by_default_and_by_name_or_position(tmp_path):
    other = pd.DataFrame({"x": [1, 2]})
    path = _xlsx(tmp_path, {"Patients": EXPECTED, "Notes": other})
    _same(read_table(path, text_columns=("case_id",)))
    _same(read_table(path, sheet="Patients", text_columns=("case_id",)))
    assert read_table(path, sheet=1)["x"].tolist() == [1, 2]
    assert read_header(path, sheet="Notes") == ["x"]


def test_xlsx_numeric_ids_and_column_types(tmp_path):
    frame = pd.DataFrame({"case_id": [7, 8], "age": [61.5, 70.0], "stage": ["A", None]})
    out = read_table(_xlsx(tmp_path, {"s": frame}), text_columns=("case_id",))
    assert out["case_id"].tolist() == ["7", "8"]  # an id typed as a number is its digits, no '.0'
    assert pd.api.types.is_numeric_dtype(out["age"]) and out["stage"].isna().tolist() == [False, True]


def test_missing_markers_declared_replace_pandas_defaults(tmp_path):
    path = _write(tmp_path, "t.csv", "case_id,afp,note\nP1,?,NA\nP2,12.5,\nP3,NA,x\n")
    default = read_table(path)
    assert default["afp"].dtype == object and default["afp"].tolist()[0] == "?"  # '?' is text by default
    assert default["note"].isna().tolist() == [True, True, False]  # pandas reads NA as missing
    declared = read_table(path, missing_values=["?", "NA"])
    assert declared["afp"].isna().tolist() == [True, False, True] and declared["afp"].dtype == float
    only_q = read_table(path, missing_values=["?"])
    assert only_q["note"].tolist()[0] == "NA"
    assert only_q["note"].isna().tolist() == [False, True, False]  # NA is text now; blank is still missing


def test_missing_markers_in_parquet_and_xlsx(tmp_path):
    frame = pd.DataFrame({"case_id": ["P1", "P2"], "afp": ["?", "3.5"]})
    pq = tmp_path / "t.parquet"
    frame.to_parquet(pq)
    assert read_table(pq, missing_values=["?"])["afp"].isna().tolist() == [True, False]
    xl = _xlsx(tmp_path, {"s": frame})
    assert read_table(xl, missing_values=["?"])["afp"].isna().tolist() == [True, False]


def _refused(path, match: str, **kw) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        read_table(path, **kw)
    assert str(path) in str(info.value), "the error names the file"
    return info.value


@pytest.mark.parametrize("name,content,match", [
    ("t.csv", "", "the file is empty"),
    ("t.csv", " \n\n", "the file is empty"),
    ("t.csv", "case_id,age\n", "header but no rows"),
    ("t.csv", b"case_id,name\nP1,M\xfcller\n", "not UTF-8"),
    ("t.csv", "case_id,age\nP1,61\nP2,70,extra\n", "line 3 has 3 field"),
    ("t.csv", "case_id;age\nP1;1,5\nP2;2.5\n", "mixes decimal marks"),
    ("t.csv", "case_id,age,age\nP1,1,2\n", "'age' appears twice"),
    ("t.csv", "case_id,,age\nP1,x,2\n", "column 2 has no name"),
    ("t.json", "{}", "unsupported table format '.json'"),
    ("t.xls", b"\xd0\xcf\x11\xe0", r"\.xls\) is not read"),
    ("t.xlsx", b"not a zip file", "cannot be opened as an Excel workbook"),
    ("t.parquet", b"not parquet", "cannot be read as Parquet"),
])
def test_refusals_name_the_file(tmp_path, name, content, match):
    _refused(_write(tmp_path, name, content), match)


def test_missing_file(tmp_path):
    _refused(tmp_path / "absent.csv", "does not exist")


def test_blank_header_over_an_empty_column_is_dropped(tmp_path):
    frame = read_table(_write(tmp_path, "t.csv", "case_id,age,\nP1,61,\nP2,70,\n"))
    assert list(frame.columns) == ["case_id", "age"]


def test_excel_sheet_errors(tmp_path):
    path = _xlsx(tmp_path, {"Patients": EXPECTED})
    err = _refused(path, r"no sheet 'Baseline' \(sheets: \['Patients'\]\)", sheet="Baseline")
    assert err.field == "sheet"
    _refused(path, "no sheet 3", sheet=3)
    _refused(_write(tmp_path, "t.csv", "case_id\nP1\n"), "not an Excel workbook", sheet="Patients")


def test_excel_repeated_header_and_empty_sheet(tmp_path):
    path = tmp_path / "dup.xlsx"
    pd.DataFrame([["case_id", "age", "age"], ["P1", 1, 2]]).to_excel(path, header=False, index=False)
    _refused(path, "'age' appears twice")
    empty = tmp_path / "empty.xlsx"
    pd.DataFrame().to_excel(empty, index=False)
    _refused(empty, "is empty")
