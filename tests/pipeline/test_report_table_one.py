"""Table 1 of a study run (variables, groups, exports) and the outcome's polarity (names, risk direction)."""

import numpy as np
import pandas as pd
import pytest

from hccrad.cohort.outcomes import default_score_direction, response_group_names
from hccrad.config.load import parse_spec
from hccrad.config.spec import ResponseOutcome
from hccrad.core.errors import HccradError, SpecError
from hccrad.pipeline.report_table_one import section_table_one, table_one_columns, table_one_record
from hccrad.pipeline.survival_stage import risk_direction
from hccrad.report.document import Report


def _spec(tmp_path, **report):
    return parse_spec({
        "name": "t1", "data": {"clinical": str(tmp_path / "c.csv"), "recode": {"sex": {0: "female", 1: "male"}}},
        "cohorts": {"column": None, "split_test_fraction": 0.3},
        "outcome": {"response": {"column": "status", "levels": {"dead": 1, "alive": 0}, "polarity": "adverse"},
                    "survival": {"time": "os", "event": "death", "covariates": ["albumin"]}},
        "models": [{"name": "m", "features": "none", "clinical": ["age", "ecog"], "clinical_selection": "all"}],
        "report": report})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame({
        "case_id": [f"c{i}" for i in range(n)], "cohort": ["training"] * 30 + ["test"] * 10,
        "age": rng.normal(60, 8, n).round(), "ecog": np.tile([0.0, 1.0, 2.0, 1.0], n // 4),
        "albumin": rng.normal(38, 4, n), "sex": np.tile(["male", "female"], n // 2),
        "status": np.tile(["dead", "alive", "alive", "dead", "alive"], n // 5),
        "os": rng.uniform(1, 40, n), "death": rng.integers(0, 2, n), "post_tace_response": rng.integers(0, 2, n)})


def test_default_variables_are_model_and_survival_covariates(tmp_path, data):
    cols, note = table_one_columns(_spec(tmp_path), data, set())
    assert cols == ["age", "ecog", "albumin"] and "models" in note   # no outcome, time, event or other column
    cols, _ = table_one_columns(_spec(tmp_path, table_one=["sex", "age"]), data, set())
    assert cols == ["sex", "age"]
    with pytest.raises(SpecError, match="report.table_one lists outcome column"):
        _spec(tmp_path, table_one=["age", "status"])
    with pytest.raises(HccradError, match="not in the clinical table"):
        table_one_columns(_spec(tmp_path, table_one=["AGE"]), data, set())


def test_section_writes_journal_tables(tmp_path, data):
    spec = _spec(tmp_path, table_one=["age", "ecog", "sex"], table_one_labels={"age": "Age (years)"})
    rep = Report(tmp_path / "report", "t")
    section_table_one(rep, table_one_record(spec, data, set(), ["training", "test"]))
    outcome = pd.read_csv(tmp_path / "report" / "table1_outcome.csv", dtype=str, keep_default_na=False)
    assert list(outcome.columns[:4]) == ["Characteristic", "Overall (n = 30)", "dead (n = 12)", "alive (n = 18)"]
    assert outcome["Characteristic"].tolist() == ["Age (years), median [Q1, Q3]" if "median" in
                                                  outcome["Characteristic"][0] else "Age (years), mean ± SD",
                                                  "ecog, n (%)", "    0", "    1", "    2",
                                                  "sex, n (%)", "    female", "    male"]
    cohort = pd.read_csv(tmp_path / "report" / "table1_cohort.csv", dtype=str, keep_default_na=False)
    assert list(cohort.columns[2:4]) == ["training (n = 30)", "test (n = 10)"]
    assert (tmp_path / "report" / "table1_outcome.html").read_text().count("<tr>") == 1 + len(outcome)
    body = rep.sections[0].items[0].body   # the report shows the journal layout too ("test" is also a column name)
    assert "test (n = 10)" in body and "cohort=" not in body and "status" not in body


def test_polarity_names_and_default_direction():
    fav = ResponseOutcome(column="r")
    adv = ResponseOutcome(column="r", polarity="adverse")
    assert response_group_names(fav) == ("non-responder", "responder")
    assert response_group_names(adv) == ("no event", "event")
    assert response_group_names(ResponseOutcome(column="r", positive="died", negative="alive")) == ("alive", "died")
    assert response_group_names(ResponseOutcome(column="r", levels={"CR": 1, "PR": 1, "SD": 0, "PD": 0})) == (
        "SD/PD", "CR/PR")
    assert default_score_direction(fav) == "lower_risk" and default_score_direction(None) == "lower_risk"
    assert default_score_direction(adv) == "higher_risk"
    with pytest.raises(ValueError):
        ResponseOutcome(column="r", polarity="bad")


def test_risk_direction_wording_follows_polarity():
    rng = np.random.default_rng(0)
    score = rng.random(60)
    time = rng.exponential(10 / (0.5 + score))
    d = risk_direction(time, np.ones(60, int), score, "m", declared="higher_risk", explicit=False)
    assert "polarity: adverse" in d.source and "higher risk" in d.source and d.observed == "higher_risk"
    d = risk_direction(time, np.ones(60, int), score, "m", declared="lower_risk", explicit=False)
    assert "lower risk" in d.source


def test_id_like_text_column_is_named_not_tabulated(tmp_path, data):
    wide = data.assign(notes=[f"free text {i}" for i in range(len(data))])
    spec = _spec(tmp_path)
    spec.models[0].clinical.append("notes")
    rep = Report(tmp_path / "r2", "t")
    section_table_one(rep, table_one_record(spec, wide, set(), ["training", "test"]))
    item = rep.sections[0].items[0]
    assert "notes (40 distinct text values)" in item.caption and "notes" not in item.body
    with pytest.raises(HccradError, match="more than 20 text values"):
        section_table_one(Report(tmp_path / "r3", "t"),
                          table_one_record(_spec(tmp_path, table_one=["age", "notes"]), wide, set(), ["training", "test"]))


def test_validate_names_unknown_table_one_columns(tmp_path, data):
    from hccrad.config.load import check_inputs

    data.drop(columns="cohort").to_csv(tmp_path / "c.csv", index=False)
    problems = check_inputs(_spec(tmp_path, table_one=["agee", "sex"], table_one_labels={"AFP": "AFP (ng/mL)"}))
    assert any("report.table_one: column 'agee'" in p and "age" in p for p in problems)
    assert any("report.table_one_labels: column 'AFP'" in p for p in problems)
    assert not any("'sex'" in p for p in problems)


def test_adverse_polarity_sets_the_default_score_direction():
    from hccrad.config.spec import StudySpec
    from hccrad.pipeline.survival_stage import run_survival

    rng = np.random.default_rng(5)
    n = 120
    score = pd.Series(rng.random(n), index=[f"p{i}" for i in range(n)])   # P(death): higher, higher hazard
    t = rng.exponential(1 / (0.05 * np.exp(2 * score.to_numpy())))
    data = pd.DataFrame({"time": np.minimum(t, 40), "event": (t <= 40).astype(int), "cohort": "training",
                         "dead": (t <= 12).astype(int)}, index=score.index)

    def spec(polarity):
        return StudySpec.model_validate({
            "name": "t", "data": {"clinical": "x.csv"}, "cohorts": {"column": "cohort"},
            "outcome": {"response": {"column": "dead", "polarity": polarity},
                        "survival": {"time": "time", "event": "event", "model": "m", "horizons": [6, 12]}}})

    adverse = run_survival(spec("adverse"), data, {"m": score}).direction
    assert adverse.declared == "higher_risk" and adverse.agrees and "polarity: adverse" in adverse.source
    favourable = run_survival(spec("favourable"), data, {"m": score}).direction
    assert favourable.declared == "lower_risk" and not favourable.agrees   # the old default, contradicted by Cox
