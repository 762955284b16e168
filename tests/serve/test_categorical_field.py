"""A categorical variable on the web page (FastAPI TestClient): a select box of its levels; the form and the JSON
API take the level's text and give the bundle's probability; an unknown level is a 422 naming the field."""

from __future__ import annotations

import html
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from hccrad.models import build_model_pipeline
from hccrad.models.bundle import bundle_from_pipeline, load_bundle, predict_bundle
from hccrad.serve import create_app
from hccrad.serve.covariance import add_covariance
from hccrad.testing import assert_close

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x prefers httpx2; httpx still works
    from fastapi.testclient import TestClient

PATIENT = {"TBIL": 21.0, "BCLC": "C"}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 80
    X = pd.DataFrame({"TBIL": rng.gamma(4.0, 5.0, n), "BCLC": rng.choice(["A", "B", "C"], n)})
    eta = -0.4 + 0.05 * (X.TBIL - 20) + X.BCLC.map({"A": 0.0, "B": 0.6, "C": 1.2})
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    pipe = build_model_pipeline(["TBIL", "BCLC"], steps=["scale", "logistic"],
                                categorical={"BCLC": (["A", "B", "C"], "A")}).fit(X, y)
    bundle = bundle_from_pipeline(pipe, X, y, "bclc", units={"TBIL": "µmol/L"}, thresholds={"youden": 0.5})
    return add_covariance(bundle, X, y).save(tmp_path_factory.mktemp("b") / "bclc")


@pytest.fixture(scope="module")
def client(bundle_dir):
    return TestClient(create_app(bundle_dir))


def _expected(bundle_dir) -> float:
    return float(predict_bundle(load_bundle(bundle_dir), pd.DataFrame([PATIENT]))["probability"].iloc[0])


def test_form_shows_a_select_of_the_levels(client):
    page = client.get("/").text
    select = re.search(r'<select[^>]*name="BCLC"[^>]*>(.*?)</select>', page, re.S)
    assert select, "no select box for BCLC"
    assert re.findall(r'<option value="([^"]+)"', select.group(1)) == ["A", "B", "C"]
    assert re.search(r'<input[^>]*name="TBIL"', page)  # numbers stay text inputs


def test_api_and_form_take_the_level_text(client, bundle_dir):
    expected = _expected(bundle_dir)
    r = client.post("/api/predict", json=PATIENT)
    assert r.status_code == 200, r.text
    out = r.json()
    assert_close(out["probability"], expected, rtol=0, atol=1e-12, what="API probability vs bundle")
    assert out["ci_lower"] < out["probability"] < out["ci_upper"]
    total = out["intercept"] + sum(c["contribution"] for c in out["contributions"])
    assert_close(total, out["score"], rtol=0, atol=1e-10, what="sum of contributions")
    page = client.post("/predict", data={"TBIL": "21", "BCLC": "C"})
    assert page.status_code == 200, page.text
    p = float(re.search(r'id="probability" data-value="([^"]+)"', page.text).group(1))
    assert_close(p, expected, rtol=0, atol=1e-6, what="page probability vs bundle")


@pytest.mark.parametrize("value", ["D", "", 2.0])
def test_unknown_level_is_422_naming_the_field(client, value):
    r = client.post("/api/predict", json={"TBIL": 21.0, "BCLC": value})
    assert r.status_code == 422
    hit = [d for d in r.json()["detail"] if d["loc"][-1] == "BCLC"]
    assert hit, r.json()
    page = client.post("/predict", data={"TBIL": "21", "BCLC": "D"})
    assert page.status_code == 422
    message = html.unescape(re.search(r'data-error-for="BCLC">([^<]*)<', page.text).group(1))
    assert "unknown level 'D'" in message and "A, B, C" in message
