"""Cox bundles (link = "cox"): the page's survival at the horizons equals R survfit's (reference CSV written by
tests/reference/r/cox_lung_predict.R) and CoxResult's prediction for the R `survival` lung data
(coxph(Surv(time, status) ~ age + sex))."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from hccrad.models.bundle import bundle_scores, load_bundle
from hccrad.serve import create_app
from hccrad.serve.cox import cox_bundle
from hccrad.survival.cox import cox_regression
from hccrad.testing import assert_close

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

R_RESULTS = Path(__file__).resolve().parents[1] / "reference" / "r" / "results"
HORIZONS = [180.0, 365.0, 730.0]
PATIENT = {"age": 63.0, "sex": 2}


@pytest.fixture(scope="module")
def lung(shared_data):
    df = pd.read_csv(shared_data / "stats_reference" / "survival_lung_veteran" / "lung.csv")
    return df.assign(event=(df.status == 2).astype(int))[["time", "event", "age", "sex"]]


@pytest.fixture(scope="module")
def cox_setup(lung, tmp_path_factory):
    res = cox_regression(lung, "time", "event", ["age", "sex"], time_unit="days")
    # lifelines converged as tightly as hccrad's Cox fit (its default stops ~2e-5 from R's coefficients)
    cph = CoxPHFitter().fit(lung, "time", "event", fit_options={"precision": 1e-11, "r_precision": 1e-15})
    bundle = cox_bundle(res, lung, "lung_cox", horizons=HORIZONS, units={"age": "years", "sex": "1 = male, 2 = female"},
                        covariance=cph.variance_matrix_, allowed_values={"sex": [1, 2]},
                        outcome="death (NCCTG lung)")
    folder = bundle.save(tmp_path_factory.mktemp("cox") / "lung_cox")
    return res, cph, folder


def test_coefficient_matches_r(cox_setup):
    res, _, folder = cox_setup
    age = next(v for v in load_bundle(folder).spec["variables"] if v["name"] == "age")
    assert_close(age["coefficient"], 0.017045, rtol=0, atol=5e-6, what="age coefficient vs R coxph")  # R survival


def test_survival_at_horizons_equals_r_survfit(cox_setup):
    res, _, folder = cox_setup
    c = TestClient(create_app(folder))
    out = c.post("/api/predict", json=PATIENT).json()
    assert out["probability"] is None
    # R: summary(survfit(coxph(Surv(time, status) ~ age + sex, lung), newdata), times) (Efron hazard estimator)
    ref = pd.read_csv(R_RESULTS / "cox_lung_predict.csv").set_index("time").loc[HORIZONS, "survival"].to_numpy()
    got = np.array([s["survival"] for s in out["survival"]])
    assert_close(got, ref, rtol=1e-6, atol=1e-9, what="S(t | x) vs R survfit")
    assert_close(got, res.predict_survival(pd.DataFrame([PATIENT]), HORIZONS).iloc[0].to_numpy(), rtol=0,
                 atol=1e-12, what="S(t | x) vs CoxResult")
    assert_close(out["score"], bundle_scores(load_bundle(folder), pd.DataFrame([PATIENT]))[0], rtol=0, atol=1e-12,
                 what="LP vs bundle_scores")
    for s in out["survival"]:
        assert s["lower"] < s["survival"] < s["upper"]
    assert out["risk_groups"][0]["scale"] == "score"


def test_cox_result_page(cox_setup):
    _, _, folder = cox_setup
    c = TestClient(create_app(folder))
    r = c.post("/predict", data={"age": "63", "sex": "2"})
    assert r.status_code == 200, r.text
    assert 'class="survival-figure"' in r.text and "predicted survival" in r.text
    bad = c.post("/predict", data={"age": "630", "sex": "3"})
    assert bad.status_code == 422 and 'data-error-for="sex">value 3 not allowed' in bad.text
