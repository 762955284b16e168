"""The JSON API and the HTML form (FastAPI TestClient): predictions equal the bundle's own scores, the
uncertainty equals statsmodels' interval, bad inputs are refused per field, the token and size limits hold."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hccrad.core.errors import ModelError
from hccrad.models.bundle import bundle_scores, load_bundle
from hccrad.models.published import load_published
from hccrad.serve import create_app
from hccrad.serve.predict import score_percentile
from hccrad.testing import assert_close

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x prefers httpx2; httpx still works
    from fastapi.testclient import TestClient

PATIENT = {"TBIL": 18.5, "AFP": 2.7, "VP": 1}


@pytest.fixture(scope="module")
def client(bundle_dir):
    return TestClient(create_app(bundle_dir))


def _data_value(html: str, ident: str) -> float:
    m = re.search(rf'id="{ident}" data-value="([^"]+)"', html)
    assert m, f"no element #{ident} with data-value in the page"
    return float(m.group(1))


def test_api_prediction_equals_bundle_scores(client, bundle_dir):
    r = client.post("/api/predict", json=PATIENT)
    assert r.status_code == 200, r.text
    out = r.json()
    ref = bundle_scores(load_bundle(bundle_dir), pd.DataFrame([PATIENT]))[0]
    assert_close(out["score"], ref, rtol=0, atol=1e-12, what="API score vs bundle_scores")
    assert_close(out["probability"], 1 / (1 + np.exp(-ref)), rtol=0, atol=1e-12, what="API probability")
    # contributions (coefficient x value on raw units) + intercept reproduce the score
    total = out["intercept"] + sum(c["contribution"] for c in out["contributions"])
    assert_close(total, ref, rtol=0, atol=1e-10, what="sum of contributions")
    assert out["risk_groups"][0]["group"] == ("high risk" if out["probability"] >= 0.5 else "low risk")


def test_ci_equals_statsmodels_prediction_interval(client, cohort):
    """Delta-method CI of the page == statsmodels' Logit get_prediction interval (linear, then expit)."""
    X, y = cohort
    res = sm.Logit(y, sm.add_constant(X[["TBIL", "AFP", "VP"]])).fit(disp=0)
    x = np.array([[1.0, PATIENT["TBIL"], PATIENT["AFP"], PATIENT["VP"]]])
    lo, hi = res.get_prediction(x, which="linear").conf_int(alpha=0.05)[0]
    out = client.post("/api/predict", json=PATIENT).json()
    assert_close(out["ci_lower"], 1 / (1 + np.exp(-lo)), rtol=1e-6, atol=1e-8, what="CI lower")
    assert_close(out["ci_upper"], 1 / (1 + np.exp(-hi)), rtol=1e-6, atol=1e-8, what="CI upper")
    assert out["ci_lower"] < out["probability"] < out["ci_upper"]


def test_form_result_page_equals_bundle_scores(client, bundle_dir):
    r = client.post("/predict", data={k: str(v) for k, v in PATIENT.items()})
    assert r.status_code == 200, r.text
    ref = bundle_scores(load_bundle(bundle_dir), pd.DataFrame([PATIENT]))[0]
    assert_close(_data_value(r.text, "score"), ref, rtol=0, atol=1e-6, what="page score")
    assert_close(_data_value(r.text, "probability"), 1 / (1 + np.exp(-ref)), rtol=0, atol=1e-6, what="page P")
    assert "<svg" in r.text and "95% CI" in r.text and "Risk group" in r.text


@pytest.mark.parametrize("body, field, words", [
    ({"AFP": 2.0, "VP": 0}, "TBIL", "required"),
    ({"TBIL": 900.0, "AFP": 2.0, "VP": 0}, "TBIL", "far outside"),
    ({"TBIL": 20.0, "AFP": 2.0, "VP": 3}, "VP", "not allowed"),
    ({"TBIL": 20.0, "AFP": "high", "VP": 0}, "AFP", "number"),
    ({"TBIL": 20.0, "AFP": 2.0, "VP": 0, "AGE": 60}, "AGE", "extra"),
])
def test_api_rejects_bad_inputs_naming_the_field(client, body, field, words):
    r = client.post("/api/predict", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    hit = [d for d in detail if d["loc"][-1] == field]
    assert hit, detail
    assert words in hit[0]["msg"].lower() or words in hit[0]["type"], hit


def test_form_shows_message_next_to_each_bad_field(client):
    r = client.post("/predict", data={"TBIL": "900", "AFP": "", "VP": "1"})
    assert r.status_code == 422
    tbil = re.search(r'data-error-for="TBIL">([^<]*)<', r.text).group(1)
    afp = re.search(r'data-error-for="AFP">([^<]*)<', r.text).group(1)
    vp = re.search(r'data-error-for="VP">([^<]*)<', r.text).group(1)
    assert "far outside" in tbil and "µmol/L" in tbil
    assert "required" in afp
    assert vp == ""
    assert 'value="900"' in r.text  # the entered value is kept


def test_extrapolation_warning_inside_accepted_range(client, cohort):
    X, _ = cohort
    just_above = float(X.TBIL.max()) * 1.1
    out = client.post("/api/predict", json={**PATIENT, "TBIL": just_above}).json()
    assert "TBIL" in out["warnings"] and "extrapolates" in out["warnings"]["TBIL"]


def test_token_required_when_set(bundle_dir):
    c = TestClient(create_app(bundle_dir, token="s3cret"))
    assert c.get("/").status_code == 401
    assert c.post("/api/predict", json=PATIENT).status_code == 401
    assert c.post("/api/predict", json=PATIENT, headers={"X-Hccrad-Token": "wrong"}).status_code == 401
    assert c.post("/api/predict", json=PATIENT, headers={"X-Hccrad-Token": "s3cret"}).status_code == 200
    assert c.post("/api/predict", json=PATIENT, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = c.get("/?token=s3cret")
    assert page.status_code == 200 and 'action="/predict?token=s3cret"' in page.text
    form = {k: str(v) for k, v in PATIENT.items()}
    assert c.post("/predict", data=form).status_code == 401
    # the token is checked before the body is read, so a token inside the form body is not accepted
    assert c.post("/predict", data={**form, "token": "s3cret"}).status_code == 401
    assert c.post("/predict?token=s3cret", data=form).status_code == 200
    assert c.get("/static/style.css").status_code == 200  # the stylesheet is public


def test_upload_size_limit(bundle_dir):
    c = TestClient(create_app(bundle_dir, max_upload_mb=1))
    big = {"TBIL": "20", "AFP": "2", "VP": "1", "pad": "x" * (2 * 2**20)}
    assert c.post("/predict", data=big).status_code == 413
    assert c.post("/predict", data={"TBIL": "20", "AFP": "2", "VP": "1"}).status_code == 200


def test_security_headers_and_openapi(client):
    r = client.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert not re.search(r'(src|href|action)="(https?:)?//', r.text), "page must load nothing from elsewhere"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/predict" in paths
    props = client.get("/openapi.json").json()["components"]["schemas"]["PatientInputs"]["properties"]
    assert set(props) == {"TBIL", "AFP", "VP"} and "µmol/L" in props["TBIL"]["description"]


def test_bundle_without_covariance_says_so(bundle_dir_nocov):
    c = TestClient(create_app(bundle_dir_nocov))
    out = c.post("/api/predict", json=PATIENT).json()
    assert out["ci_lower"] is None and "does not store the covariance" in out["uncertainty"]
    assert out["risk_groups"] == []
    page = c.post("/predict", data={k: str(v) for k, v in PATIENT.items()}).text
    assert "no confidence interval" in page and "stores no threshold" in page


@pytest.mark.parametrize("by_name", [True, False])
def test_published_clinical_model(tmp_path, by_name):
    from pathlib import Path

    folder = load_published("wu2025_clinical").save(tmp_path / "wu2025_clinical")
    c = TestClient(create_app(Path("wu2025_clinical") if by_name else folder))
    patient = {"Comorbidities": 0, "VP": 1, "TBIL": 15.0, "Cirrhosis": 1}
    out = c.post("/api/predict", json=patient).json()
    ref = 1.9806 + 1.2923 - 0.0470 * 15.0 - 1.0785  # the formula printed in seed 000, section 3.3
    assert_close(out["score"], ref, rtol=0, atol=1e-12, what="published clinical score")
    assert out["percentile"] is None and "no summary" in out["percentile_note"]
    assert out["total_points"] is None  # no training ranges: no nomogram points
    assert c.post("/api/predict", json={**patient, "VP": 4}).status_code == 422


def test_unservable_published_model_is_refused(tmp_path):
    folder = load_published("wu2025_habitat").save(tmp_path / "h")
    with pytest.raises(ModelError, match="normalisation"):
        create_app(folder)


def test_percentile_interpolation():
    s = {"min": -2.0, "p25": -1.0, "median": 0.0, "p75": 1.0, "max": 2.0}
    assert score_percentile(0.5, s)[0] == pytest.approx(62.5)
    assert score_percentile(-3.0, s)[0] == 0.0 and score_percentile(3.0, s)[0] == 100.0
    tied = {"min": 0.0, "p25": 0.0, "median": 0.0, "p75": 1.0, "max": 2.0}
    assert score_percentile(0.5, tied)[0] == pytest.approx((25 + 75) / 2)  # 0 -> mean(0,25,50)=25, 1 -> 75
    assert score_percentile(1.0, None)[0] is None


def test_form_file_count_limit(bundle_dir):
    c = TestClient(create_app(bundle_dir, max_files=2))
    files = [("f", (f"x{i}.txt", b"1")) for i in range(3)]
    r = c.post("/predict", data={"TBIL": "20", "AFP": "2", "VP": "1"}, files=files)
    assert r.status_code == 400 and "files" in r.text.lower()


def test_skops_bundle(cohort, tmp_path):
    from hccrad.models import build_model_pipeline
    from hccrad.models.bundle import bundle_from_pipeline

    X, y = cohort
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "rf"], params={"rf": {"n_estimators": 20}}).fit(X, y)
    folder = bundle_from_pipeline(pipe, X, y, "synthetic_rf", units={"TBIL": "µmol/L"}).save(tmp_path / "rf")
    c = TestClient(create_app(folder))
    out = c.post("/api/predict", json=PATIENT).json()
    ref = bundle_scores(load_bundle(folder), pd.DataFrame([PATIENT]))[0]
    assert_close(out["score"], ref, rtol=0, atol=1e-12, what="skops score vs bundle_scores")
    assert "non-linear" in out["uncertainty"] and out["ci_lower"] is None
    page = c.post("/predict", data={k: str(v) for k, v in PATIENT.items()})
    assert page.status_code == 200 and 'id="probability"' in page.text
    assert c.post("/api/predict", json={**PATIENT, "TBIL": -500}).status_code == 422


def test_fused_bundle_asks_for_the_embedded_score_inputs(cohort, tmp_path):
    from hccrad.models import build_model_pipeline
    from hccrad.models.bundle import bundle_from_pipeline
    from hccrad.models.factory import ScoreFusion

    X, y = cohort
    fus = ScoreFusion(build_model_pipeline(None, steps=["scale", "logistic"]), ["TBIL", "AFP"], ["VP"],
                      score_name="LabScore").fit(X, y)
    folder = bundle_from_pipeline(fus, X, y, "fused", units={"TBIL": "µmol/L"}).save(tmp_path / "fused")
    c = TestClient(create_app(folder))
    assert {f["name"] for f in c.get("/api/model").json()["fields"]} == {"TBIL", "AFP", "VP"}
    out = c.post("/api/predict", json=PATIENT).json()
    ref = bundle_scores(load_bundle(folder), pd.DataFrame([PATIENT]))[0]
    assert_close(out["score"], ref, rtol=0, atol=1e-12, what="fused score vs bundle_scores")
    assert_close(out["score"], fus.decision_function(pd.DataFrame([PATIENT]))[0], rtol=0, atol=1e-9,
                 what="fused score vs the fitted ScoreFusion")
    rows = {r["variable"]: r for r in out["contributions"]}
    assert set(rows) == {"VP", "LabScore"}
    assert_close(out["intercept"] + sum(r["contribution"] for r in rows.values()), ref, rtol=0, atol=1e-10,
                 what="fused contributions")
    from hccrad.serve.covariance import add_covariance

    with_cov = add_covariance(load_bundle(folder), X, y).save(tmp_path / "fused_cov")  # derived score held fixed
    out = TestClient(create_app(with_cov)).post("/api/predict", json=PATIENT).json()
    assert out["ci_lower"] < out["probability"] < out["ci_upper"] and "treated as fixed" in out["uncertainty"]


@pytest.mark.parametrize("value", [True, "18.5", [18.5], {"v": 1}])
def test_api_refuses_wrong_json_types(client, value):
    r = client.post("/api/predict", json={**PATIENT, "TBIL": value})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "TBIL"


def test_inputs_are_escaped_in_the_page(client):
    r = client.post("/predict", data={"TBIL": "<script>x</script>", "AFP": "2", "VP": "1"})
    assert r.status_code == 422 and "<script>x" not in r.text and "must be a number" in r.text


def test_serve_refuses_public_host_without_token(bundle_dir):
    from hccrad.core.errors import InputError
    from hccrad.serve import serve

    with pytest.raises(InputError, match="without a token"):
        serve(bundle_dir, host="0.0.0.0", port=0)


def test_add_covariance_refuses_other_training_data(cohort, bundle_dir_nocov):
    from hccrad.serve.covariance import add_covariance

    X, y = cohort
    bundle = load_bundle(bundle_dir_nocov)
    cov = add_covariance(bundle, X, y).spec["covariance"]
    assert cov["terms"] == ["intercept", "TBIL", "AFP", "VP"] and np.all(np.diag(cov["matrix"]) > 0)
    with pytest.raises(ModelError, match="does not reproduce"):
        add_covariance(bundle, X.iloc[:60], y[:60])
    with pytest.raises(ModelError, match="not a logit-link"):
        add_covariance(load_published("seed001_clinical"), X, y)
