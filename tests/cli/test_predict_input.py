"""`hccrad predict` input checks: empty files, duplicate/blank ids, delimiter sniffing, decimal comma, --sep.

Each case is one small CSV against a hand-written JSON linear bundle (score = 0.5 + 1.0 a - 2.0 b); every
refusal exits with code 2 and a one-line reason, never a traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hccrad.cli import app
from hccrad.core.errors import InputError
from hccrad.models.bundle import FORMAT, FORMAT_VERSION, ModelBundle
from hccrad.models.cases_table import read_cases_table, sniff_delimiter

runner = CliRunner()
ROWS = "P1,1.5,0.25\nP2,2.0,0.5\n007,0.5,0.75\n"


@pytest.fixture
def bundle(tmp_path):
    spec = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": "ab", "kind": "linear", "link": "logit",
            "score_name": "score", "intercept": 0.5, "range_tolerance": 0.5,
            "variables": [{"name": "a", "coefficient": 1.0, "center": 0.0, "scale": 1.0, "range": [0.0, 3.0]},
                          {"name": "b", "coefficient": -2.0, "center": 0.0, "scale": 1.0, "range": [0.0, 1.0]}]}
    return ModelBundle(spec).save(tmp_path / "bundle")


def _predict(bundle, path, *extra):
    res = runner.invoke(app, ["predict", str(bundle), str(path), *extra])
    assert "Traceback" not in res.output
    return res, " ".join(res.output.split())


def _expected() -> np.ndarray:
    a, b = np.array([1.5, 2.0, 0.5]), np.array([0.25, 0.5, 0.75])
    return 0.5 + a - 2.0 * b


def _write(tmp_path, text: str, name: str = "cases.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text,message", [("", "the file is empty"), ("\n \n", "the file is empty"),
                                          ("case_id,a,b\n", "header but no patient rows")])
def test_empty_file_is_a_clear_error(bundle, tmp_path, text, message):
    res, out = _predict(bundle, _write(tmp_path, text))
    # rich may break a long temporary path anywhere, even mid-name: look for the name without whitespace
    assert res.exit_code == 2 and message in out and "cases.csv" in "".join(out.split()), res.output


def test_duplicate_ids_refused_unless_allowed(bundle, tmp_path):
    path = _write(tmp_path, "case_id,a,b\n" + ROWS + "P2,2.5,0.5\nP1,1.0,0.0\n")
    res, out = _predict(bundle, path)
    assert res.exit_code == 2, res.output
    assert "'P1' (2x)" in out and "'P2' (2x)" in out and "--allow-duplicates" in out
    res, _ = _predict(bundle, path, "--allow-duplicates")
    assert res.exit_code == 0, res.output
    assert res.output.count("P1,") == 2


def test_blank_id_refused_with_its_line(bundle, tmp_path):
    res, out = _predict(bundle, _write(tmp_path, "case_id,a,b\nP1,1,0.5\n,2,0.5\n"))
    assert res.exit_code == 2 and "blank patient id on line(s) [3]" in out, res.output


@pytest.mark.parametrize("text", [
    "case_id;a;b\n" + ROWS.replace(",", ";"),                                  # ';' with decimal point
    "case_id;a;b\nP1;1,5;0,25\nP2;2;0,5\n007;0,5;0,75\n",                      # ';' with decimal comma
    "case_id\ta\tb\n" + ROWS.replace(",", "\t"),                               # tab in a .csv file
    "case_id,a,b\n" + ROWS,                                                    # plain
])
def test_delimiter_and_decimal_comma_are_sniffed(bundle, tmp_path, text):
    out = tmp_path / "pred.csv"
    res, _ = _predict(bundle, _write(tmp_path, text), "--out", str(out))
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out, dtype={"case_id": str})
    assert list(pred["case_id"]) == ["P1", "P2", "007"]  # ids stay text: 007 is not 7
    np.testing.assert_allclose(pred["score"].to_numpy(), _expected(), rtol=0, atol=1e-12)


def test_mixed_decimal_marks_refused(bundle, tmp_path):
    res, out = _predict(bundle, _write(tmp_path, "case_id;a;b\nP1;1,5;0,25\nP2;2.5;0,5\n"))
    assert res.exit_code == 2 and "field 'a'" in out and "mixes decimal marks" in out, res.output


def test_wrong_sep_says_which_delimiter_the_file_uses(bundle, tmp_path):
    path = _write(tmp_path, "case_id;a;b\n" + ROWS.replace(",", ";"))
    res, out = _predict(bundle, path, "--sep", ",")
    assert res.exit_code == 2, res.output
    assert "appears to use ';' as delimiter" in out and "--sep ';'" in out
    res, _ = _predict(bundle, path, "--sep", ";")
    assert res.exit_code == 0, res.output
    res, out = _predict(bundle, path, "--sep", "|")
    assert res.exit_code == 2 and "unsupported delimiter" in out


def test_wrong_sep_with_decimal_commas_names_the_delimiter(bundle, tmp_path):
    path = _write(tmp_path, "case_id;a;b\nP1;1,5;0,25\nP2;2;0,5\n")
    res, out = _predict(bundle, path, "--sep", ",")
    assert res.exit_code == 2 and "delimiter" in out, res.output


def test_sniffer_fallbacks():
    assert sniff_delimiter("case_id\nA\nB\n") == ","
    assert sniff_delimiter("x;y\n1,5;2\n") == ";"
    with pytest.raises(InputError, match="does not exist"):
        read_cases_table("/nonexistent/cases.csv")


def test_row_with_extra_fields_refused_with_its_line(bundle, tmp_path):
    res, out = _predict(bundle, _write(tmp_path, "case_id,a,b\nP1,1,0.5\nP2,1,5,0.5\n"))
    assert res.exit_code == 2 and "line 3 has 4 field(s)" in out, res.output
