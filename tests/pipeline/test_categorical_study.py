"""Categorical clinical predictors through the study: preflight (inferred levels named, values outside the
declared levels listed) and a tiny clinical-only study with a text BCLC column, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.preflight import errors_of, preflight
from hccrad.pipeline.run import run_study

N = 60


def bclc_table(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bclc = rng.choice(["A", "B", "C"], N, p=[0.4, 0.35, 0.25])
    eta = -0.3 + pd.Series(bclc).map({"A": -0.5, "B": 0.3, "C": 1.0}).to_numpy()
    t, c = rng.exponential(30 / np.exp(eta)), rng.uniform(10, 60, N)
    return pd.DataFrame({"pid": [f"P{i:03d}" for i in range(N)], "age": rng.normal(62, 9, N).round(1),
                         "BCLC": bclc, "resp": (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(int),
                         "os": np.minimum(t, c).round(1), "death": (t <= c).astype(int),
                         "TNM": np.select([eta < -0.5, eta < 0.5], ["I", "II"], "III")})


TNM = {"levels": ["I", "II", "III"], "ordered": True}


def write_study(tmp_path, table: pd.DataFrame, cohorts: dict | None = None, **data) -> "Path":  # noqa: F821
    table.to_csv(tmp_path / "clinical.csv", index=False)
    data["categorical"] = {"TNM": TNM, **data.get("categorical", {})}
    spec = {"name": "categorical", "seed": 0, "output_dir": "results",
            "data": {"clinical": "clinical.csv", "id_column": "pid", **data},
            "cohorts": cohorts or {"column": None, "split_test_fraction": 0.3},
            "outcome": {"response": {"column": "resp"},
                        "survival": {"time": "os", "event": "death", "horizons": [12],
                                     "covariates": ["age", "BCLC"], "compare_with": ["TNM"]}},
            "models": [{"name": "clin", "features": "none", "clinical": ["age", "BCLC"],
                        "clinical_selection": "all"}],
            "validation": {"bootstrap": 0}}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return tmp_path / "study.yaml"


def test_text_predictor_is_inferred_with_a_warning_naming_its_levels(tmp_path):
    problems = preflight(load_spec(write_study(tmp_path, bclc_table())))
    assert errors_of(problems) == []
    notes = [p for p in problems if p.field == "BCLC" and p.severity == "warning"]
    assert notes and "['A', 'B', 'C']" in notes[0].message and "reference 'A'" in notes[0].message


def test_values_outside_declared_levels_are_listed_with_file_and_column(tmp_path):
    t = bclc_table()
    t.loc[[3, 8], "BCLC"] = ["E", "E"]
    t.loc[11, "BCLC"] = "X"
    path = write_study(tmp_path, t, categorical={"BCLC": {"levels": ["A", "B", "C", "D"], "reference": "B"}})
    errs = [p for p in errors_of(preflight(load_spec(path))) if "outside the declared levels" in p.message]
    assert len(errs) == 1, [str(e) for e in errs]
    e = errs[0]
    assert e.field == "BCLC" and e.file.endswith("clinical.csv") and "'E': 2" in e.message and "'X': 1" in e.message
    assert e.case_id.split(", ") == ["P003", "P008", "P011"]


def test_text_stage_needs_declared_ordered_levels(tmp_path):
    unordered = write_study(tmp_path, bclc_table(), categorical={"TNM": {"levels": ["I", "II", "III"]}})
    assert any("without an order" in p.message for p in errors_of(preflight(load_spec(unordered))))
    t = bclc_table()
    t.loc[4, "TNM"] = "IV"
    errs = errors_of(preflight(load_spec(write_study(tmp_path, t))))
    assert len(errs) == 1 and errs[0].field == "TNM" and "'IV': 1" in errs[0].message and errs[0].case_id == "P004"


def test_declared_column_must_exist(tmp_path):
    path = write_study(tmp_path, bclc_table(), categorical={"Child_Pugh": {"levels": ["A", "B"]}})
    assert any("Child_Pugh" in p.message for p in errors_of(preflight(load_spec(path))))


def test_clinical_only_study_with_a_text_bclc_column_runs(tmp_path):
    path = write_study(tmp_path, bclc_table(), categorical={"BCLC": {"levels": ["A", "B", "C"], "reference": "B"}})
    res = run_study(load_spec(path))
    patients = pd.read_csv(res.out_dir / "patients.csv")
    assert patients["clin_probability"].between(0, 1).all() and len(patients) == N
    tables = res.out_dir / "report" / "tables"
    odds = pd.read_csv(next(tables.glob("table-2-*odds-ratios*.csv")))
    bclc = odds[odds["variable"] == "BCLC"]
    assert list(bclc["term"]) == ["BCLC: A", "BCLC: C"]  # one row per level against the reference B
    assert bclc["p_variable_uv"].nunique() == 1 and bclc["p_variable_mv"].notna().all()
    cox = pd.read_csv(next(tables.glob("*univariable-cox-regression*.csv")))
    assert {"BCLC=A", "BCLC=C"} <= set(cox["covariate"]) and "BCLC=B" not in set(cox["covariate"])
    stages = pd.read_csv(next(tables.glob("*staging-systems-compared*training.csv"))).set_index("score")
    assert stages.loc["TNM", "c_index"] > 0.6  # the text stage, ranked I < II < III as declared (simulated so)
    joint = pd.read_csv(next(tables.glob("*categorical-covariates-as-a-whole*.csv")))
    assert joint.loc[0, "covariate"] == "BCLC" and joint.loc[0, "df"] == 2
    run = json.loads(res.run_json.read_text())
    assert run["survival"]["notes"] == [] and run["survival"]["cox_covariates"] == ["age", "BCLC=A", "BCLC=C"]
    assert list((res.out_dir / "report" / "figures").glob("*cox-nomogram*.png"))  # one BCLC axis, a tick per level
    model = run["models"]["clin"]
    assert model["selected"] == ["age", "BCLC[A]", "BCLC[C]"] and "·BCLC[A]" in model["formula"]
    assert not any(w["field"] == "BCLC" for w in json.loads(res.run_json.read_text())["preflight_warnings"])


def test_level_without_training_cases_is_refused_before_the_run(tmp_path):
    t = bclc_table().assign(cohort="training")
    t.loc[[50, 55], "cohort"] = "test"
    t.loc[[50, 55], "BCLC"] = "D"  # only test cases hold D
    spec = load_spec(write_study(tmp_path, t, cohorts={"column": "cohort", "tests": ["test"]}))
    errs = [p for p in errors_of(preflight(spec)) if "no case in the training cohort" in p.message]
    assert len(errs) == 1 and errs[0].field == "BCLC" and errs[0].case_id == "P050, P055" and "['D']" in errs[0].message


def test_declared_reference_must_be_a_level_in_the_data(tmp_path):
    path = write_study(tmp_path, bclc_table(), categorical={"BCLC": {"reference": "D"}})
    errs = errors_of(preflight(load_spec(path)))
    assert any(p.field == "data.categorical.BCLC" and "'D'" in p.message for p in errs)
