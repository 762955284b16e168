"""The survival stage (hccrad.pipeline.survival_stage): risk direction from the model's definition (not a
confounded multivariable coefficient), survival-only studies from the spec, and AUC(t) horizons past the
follow-up skipped with a note instead of a crash."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from hccrad.config import load_spec
from hccrad.config.spec import StudySpec
from hccrad.pipeline.run import run_study
from hccrad.pipeline.survival_stage import run_survival, usable_horizons
from hccrad.survival import cox_regression, harrell_c, time_dependent_auc
from hccrad.testing import assert_close


def _spec(**survival) -> StudySpec:
    return StudySpec.model_validate({
        "name": "t", "data": {"clinical": "x.csv"}, "cohorts": {"column": "cohort"},
        "outcome": {"survival": {"time": "time", "event": "event", "unit": "months", **survival}}})


def _collinear(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """Hazard exp(z); a covariate c = z - w and a score s = -0.5 z + w (higher score, lower risk).
    Alone, s has a negative Cox coefficient; beside c its coefficient turns positive (z = 2 c + 2 s)."""
    rng = np.random.default_rng(seed)
    z, w = rng.normal(size=n), rng.normal(size=n)
    t_event = rng.exponential(1.0 / (0.05 * np.exp(1.5 * z)))
    t_cens = rng.uniform(5, 60, size=n)
    data = pd.DataFrame({"time": np.minimum(t_event, t_cens), "event": (t_event <= t_cens).astype(int),
                         "c": z - w, "cohort": "training"}, index=[f"p{i}" for i in range(n)])
    return data, pd.Series(-0.5 * z + w, index=data.index)


def test_direction_from_definition_not_from_collinear_cox():
    data, score = _collinear()
    res = run_survival(_spec(model="m", covariates=["c"], horizons=[6, 12]), data, {"m": score})
    d = res.direction
    assert d.declared == "lower_risk" and d.observed == "lower_risk" and d.agrees and d.univariable_coef < 0
    multi = res.cox.multivariable.set_index("covariate")
    assert multi.loc["m_score", "coef"] > 0, "the test data must make the multivariable sign flip"
    c_new = res.c_indices.set_index("score").loc["m risk", "c_index"]
    c_old = harrell_c(data["time"], data["event"], np.sign(multi.loc["m_score", "coef"]) * score).c_index
    assert c_new > 0.55 and c_old < 0.45, (c_new, c_old)
    assert_close(c_new, 1 - c_old, rtol=0, atol=1e-12, what="C of the risk vs C of the inverted risk")
    assert not any("WARNING" in n for n in res.notes)


def test_declared_direction_kept_and_disagreement_reported():
    data, score = _collinear()
    res = run_survival(_spec(model="m", score_direction="higher_risk", horizons=[6, 12]), data, {"m": score})
    assert res.direction.sign == 1 and not res.direction.agrees
    assert "declared in outcome.survival.score_direction" in res.direction.source
    assert any(n.startswith("WARNING") and "'m' score" in n for n in res.notes)
    assert_close(res.risks["m risk"], score, rtol=0, atol=0, what="risk = +score when declared higher_risk")


def test_ties_method_from_the_spec_reaches_the_cox_regression():
    """outcome.survival.ties: breslow gives R coxph(ties = "breslow")'s fit (as cox_regression, itself checked
    against R), different from the Efron default when event times are tied; an unknown method is refused."""
    data, score = _collinear()
    data = data.assign(time=np.ceil(data["time"]))  # whole months: many tied event times
    fits = {t: run_survival(_spec(covariates=["c"], horizons=[6, 12], ties=t), data, {}).cox
            for t in ("efron", "breslow")}
    want = cox_regression(data, "time", "event", ["c"], ties="breslow").multivariable["coef"].to_numpy()
    got = fits["breslow"].multivariable["coef"].to_numpy()
    assert fits["breslow"].ties == "breslow" and fits["efron"].ties == "efron"
    assert_close(got, want, rtol=0, atol=0, what="Breslow coef via the spec vs cox_regression")
    assert abs(got[0] - fits["efron"].multivariable["coef"].iloc[0]) > 1e-4, "ties must matter on this data"
    with pytest.raises(ValueError, match="efron"):
        _spec(ties="exact")


def test_no_model_no_score_in_cox():
    data, score = _collinear()
    data["stage"] = np.where(data["c"] > 0, 2, 1)
    res = run_survival(_spec(covariates=["c"], groups=["stage"], compare_with=["stage"], horizons=[6, 12]),
                       data, {"m": score})
    assert res.model is None and res.direction is None and res.cutpoint is None
    assert list(res.cox.covariates) == ["c"]
    assert [g.grouping for g in res.groupings] == ["stage"]
    assert res.staging[0].result.reference == "stage"


def test_survival_decision_curve_of_training_cox_per_cohort_and_horizon():
    data, score = _collinear()
    data["cohort"] = np.where(np.arange(len(data)) < 300, "training", "test")
    spec = StudySpec.model_validate({**_spec(covariates=["c"], horizons=[6, 12]).model_dump(),
                                     "cohorts": {"column": "cohort", "training": "training", "tests": ["test"]}})
    res = run_survival(spec, data, {})
    cells = {(c.cohort, c.horizon): c for c in res.decision_curves}
    assert sorted(cells) == [("test", 6.0), ("test", 12.0), ("training", 6.0), ("training", 12.0)]
    test_curve = cells[("test", 12.0)].curve
    sub = data[data["cohort"] == "test"]
    risk = 1.0 - res.cox.predict_survival(sub, [12.0]).iloc[:, 0].to_numpy()
    # at p_t = 0 every patient is treated: the model's net benefit is treat-all's, 1 − KM(12)
    first = test_curve[test_curve["threshold"] == 0].set_index("model")["net_benefit"]
    assert_close(first["Cox model"], first["all"], rtol=0, atol=1e-15, what="NB(0) model vs treat all")
    assert_close(first["all"], test_curve["prevalence"].iloc[0], rtol=0, atol=1e-15, what="NB_all(0) vs 1 - KM")
    above = test_curve[(test_curve["model"] == "Cox model") & (test_curve["threshold"] > risk.max())]
    assert (above["net_benefit"] == 0).all(), "no patient above the largest predicted risk is treated"


def _late_events(seed: int = 0):
    """Training follow-up ends at 30 (censored, so its censoring survival is 0 there); the test cohort has
    deaths at 40-50, past the training follow-up."""
    rng = np.random.default_rng(seed)
    tr_t = np.r_[rng.uniform(1, 29, 34), 30.0]
    tr_e = np.r_[rng.integers(0, 2, 34), 0]
    te_t = np.r_[rng.uniform(1, 35, 12), 40.0, 45.0, 50.0]
    te_e = np.r_[rng.integers(0, 2, 12), 1, 1, 1]
    te_e[:3] = 1
    te_t[:3] = [5.0, 8.0, 11.0]
    return tr_t, tr_e, te_t, te_e, rng.normal(size=te_t.size)


def test_time_auc_with_events_past_training_followup():
    tr_t, tr_e, te_t, te_e, score = _late_events()
    res = time_dependent_auc(tr_t, tr_e, te_t, te_e, score, [12, 24], n_boot=0)
    late_censored = te_e * (te_t <= 24)
    ref = time_dependent_auc(tr_t, tr_e, te_t, late_censored, score, [12, 24], n_boot=0)
    assert_close(res.table["auc"], ref.table["auc"], rtol=0, atol=1e-15,
                 what="AUC(t) unchanged when events after the last horizon are counted as censored")
    ok, skipped = usable_horizons(tr_t, tr_e, te_t, te_e, [12, 24, 36, 60])
    assert ok == [12, 24] and len(skipped) == 2 and "training cohort" in skipped[0]


def test_survival_only_50_cases_finish_with_notes(tmp_path):
    tr_t, tr_e, te_t, te_e, _ = _late_events()
    rng = np.random.default_rng(1)
    n = tr_t.size + te_t.size
    assert n == 50
    table = pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "time": np.r_[tr_t, te_t],
                          "event": np.r_[tr_e, te_e], "cohort": ["training"] * tr_t.size + ["test"] * te_t.size,
                          "age": rng.normal(60, 8, n).round(), "stage": rng.integers(1, 4, n)})
    table.to_csv(tmp_path / "clinical.csv", index=False)
    (tmp_path / "study.yaml").write_text(textwrap.dedent("""\
        name: survival-only
        output_dir: out
        data: {clinical: clinical.csv, id_column: pid}
        cohorts: {column: cohort, training: training, tests: [test]}
        outcome:
          survival: {time: time, event: event, unit: months, horizons: [12, 24, 36, 120],
                     groups: [stage], covariates: [age, stage], compare_with: [stage]}
        """))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    record = json.loads(res.run_json.read_text())
    notes = " ".join(record["survival"]["notes"])
    assert "test: AUC(t) not estimable at 36" in notes and "120" in notes
    html = res.report.read_text()
    assert "Kaplan–Meier by stage" in html and "Notes and warnings" in html
    assert "Survival decision curves of the Cox model" in html
    assert "test: survival decision curve at 120 months not computed" in notes
    assert record["survival"]["cox_covariates"] == ["age", "stage"]
