"""The UCI HCC Survival example (examples/uci_hcc_survival) runs unedited from the raw CSV: no id column
(`data.row_ids`), missing markers, renamed columns and recoded values declared in the spec only; validate is
clean, and a run (20 resamples) records the mapping in run.json. Skipped when ../shared/data is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hccrad.cli import app
from hccrad.cohort.study import Study
from hccrad.config import load_spec
from hccrad.pipeline.preflight import errors_of, preflight
from hccrad.pipeline.run import run_study

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "uci_hcc_survival" / "study.yaml"
RAW = REPO.parent / "shared" / "data" / "hcc_clinical" / "uci_hcc_survival" / "hcc-data_with_header.csv"

pytestmark = pytest.mark.skipif(not RAW.is_file(), reason=f"reference data not found at {RAW}")


def test_validate_is_clean():
    res = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert res.exit_code == 0, res.output


def test_table_as_declared():
    raw = pd.read_csv(RAW)
    table = Study(load_spec(EXAMPLE)).table
    assert len(table) == len(raw) == 165 and table.index[0] == "row1" and table.index[-1] == "row165"
    assert table["one_year_outcome"].tolist() == ["alive" if c == 1 else "died" for c in raw["Class"]]
    assert table["sex"].value_counts().to_dict() == {"male": int((raw["Gender"] == 1).sum()),
                                                     "female": int((raw["Gender"] == 0).sum())}
    assert table["ascites"].isna().sum() == raw["Ascites"].isna().sum() == 2  # blank stays blank
    assert (table["age"].to_numpy() == raw["Age"].to_numpy()).all()


def test_a_predictor_with_blanks_is_refused_naming_the_cases():
    spec = load_spec(EXAMPLE)
    model = spec.models[0].model_copy(update={"clinical": ["age", "AFP"]})
    problems = errors_of(preflight(spec.model_copy(update={"models": [model]})))
    assert len(problems) == 1 and problems[0].field == "AFP", problems
    raw_blank = [f"row{i + 1}" for i in pd.read_csv(RAW).index[pd.read_csv(RAW)["AFP"].isna()]]
    assert problems[0].case_id == ", ".join(raw_blank) and "8 blank value(s)" in problems[0].message


def test_run_records_the_mapping(tmp_path):
    spec = load_spec(EXAMPLE, overrides=["validation.bootstrap=20"])
    res = run_study(spec, out_dir=tmp_path / "out")
    record = json.loads(res.run_json.read_text())
    mapping = record["column_mapping"]
    assert mapping["row_ids"] is True and mapping["missing_values"] == ["?"]
    assert mapping["renamed"]["Class"] == "one_year_outcome"
    assert mapping["recoded"]["one_year_outcome"]["counts"] == {"alive": 102, "died": 63}
    assert record["n_cases"] == record["n_cases_analysed"] == 165
    assert record["models"]["clinical"]["selected"] == ["age", "performance_status", "alcohol", "cirrhosis"]
    assert "Table 1. Baseline characteristics" in res.report.read_text()
    for name in ("cohort", "outcome"):  # issue 21: no outcome column, no float level, labels and missing counts
        t1 = pd.read_csv(res.out_dir / "report" / f"table1_{name}.csv", dtype=str, keep_default_na=False)
        text = t1.to_string()
        assert "_outcome" not in text and not [c for c in t1.columns if "cohort=" in c or "_outcome=" in c]
        levels = [c.strip() for c in t1["Characteristic"] if c.startswith("    ")]
        assert levels and not [lv for lv in levels if lv.endswith(".0")], levels
        assert "AFP (ng/mL), median [Q1, Q3]" in t1["Characteristic"].tolist()
        afp = t1[t1["Characteristic"].str.startswith("AFP")].iloc[0]
        assert afp["Missing"] == ("8" if name == "cohort" else str(int(afp["Missing"])))
    t1 = pd.read_csv(res.out_dir / "report" / "table1_outcome.csv", dtype=str, keep_default_na=False)
    assert list(t1.columns[1:4]) == ["Overall (n = 115)", "died (n = 44)", "alive (n = 71)"]
