"""The asaur hepatoCellular example (examples/asaur_hepatocellular_survival) run as a survival-only study:
its Kaplan–Meier, log-rank and Cox numbers equal R survival's. The references are written by
tests/survival/R/asaur_reference.R (Rscript; R 4.2, survival 3.5) into tests/survival/results/asaur_*.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hccrad.cohort.study import Study
from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.pipeline.survival_stage import run_survival
from hccrad.testing import assert_close

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLE = REPO / "examples" / "asaur_hepatocellular_survival" / "study.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("asaur")
    spec = load_spec(EXAMPLE)
    res = run_study(spec, out_dir=out)
    return res, run_survival(spec, Study(spec).table)  # the stage's result, the report's only source


def test_example_writes_report_and_run_json(run):
    res, _ = run
    record = json.loads(res.run_json.read_text())
    assert record["survival"]["model"] is None and record["survival"]["groupings"] == ["BCLC", "TNM"]
    html = res.report.read_text()
    for title in ("Kaplan–Meier by BCLC", "Univariable Cox regression", "Multivariable Cox regression",
                  "Staging systems compared"):
        assert title in html, title
    assert "ROC curves" not in html  # no response model: no classification sections


def test_km_by_bclc_equals_r(run):
    _, sr = run
    ref = pd.read_csv(RESULTS / "asaur_km_bclc.csv")
    g = next(x for x in sr.groupings if x.grouping == "BCLC")
    for group, r in ref.groupby("group"):
        table = g.km.curve(str(group)).table
        mine = table[table["n_event"] > 0].reset_index(drop=True)  # R's summary(): event times only
        assert_close(mine["time"], r["time"], rtol=0, atol=0, what=f"KM BCLC={group} event times")
        assert_close(mine["n_risk"], r["n_risk"], rtol=0, atol=0, what=f"KM BCLC={group} n at risk")
        for col in ("survival", "std_err", "lower", "upper"):
            assert_close(mine[col], r[col], rtol=1e-10, atol=1e-12, what=f"KM BCLC={group} {col}")


@pytest.mark.parametrize("grouping", ["BCLC", "TNM"])
def test_logrank_equals_r(run, grouping):
    _, sr = run
    ref = pd.read_csv(RESULTS / "asaur_logrank.csv").set_index("grouping").loc[grouping]
    lr = next(x for x in sr.groupings if x.grouping == grouping).logrank
    assert lr.df == ref["df"]
    assert_close(lr.chisq, ref["chisq"], rtol=1e-10, atol=1e-12, what=f"log-rank chi-square by {grouping}")
    assert_close(lr.p_value, ref["p"], rtol=1e-8, atol=1e-14, what=f"log-rank p by {grouping}")


@pytest.mark.parametrize("kind", ["univariable", "multivariable"])
def test_cox_equals_r(run, kind):
    _, sr = run
    ref = pd.read_csv(RESULTS / f"asaur_cox_{kind}.csv")
    mine = getattr(sr.cox, kind).set_index("covariate").loc[ref["covariate"]]
    # lifelines runs Newton–Raphson to 1e-11 (hccrad.survival.cox._NEWTON); R coxph stops when the relative
    # change in the log partial likelihood is below 1e-9, so R's own coefficients carry ~1e-7 of slack
    for col, rcol in (("coef", "coef"), ("hr", "hr"), ("se", "se"), ("p", "p")):
        assert_close(mine[col].to_numpy(), ref[rcol].to_numpy(), rtol=1e-5, atol=1e-6,
                     what=f"Cox {kind} {col} ({', '.join(ref['covariate'])})")
    assert (mine["n"].to_numpy() == ref["n"].to_numpy()).all()
    assert (mine["events"].to_numpy() == ref["events"].to_numpy()).all()
