"""Model bundles: JSON round trip gives identical predictions; bad inputs are refused with named columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import InputError, ModelError
from hccrad.models import build_model_pipeline
from hccrad.models.bundle import bundle_from_pipeline, load_bundle, predict_bundle
from hccrad.testing import assert_close


@pytest.fixture
def cohort(rng):
    n, p = 160, 25
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{i:02d}" for i in range(p)])
    X["TBIL"] = rng.gamma(4.0, 5.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * X.f00 - 0.8 * X.f01 - 0.05 * (X.TBIL - 20))))).astype(int)
    X.insert(0, "case_id", [f"p{i:03d}" for i in range(n)])
    return X, y


def _fit(cohort):
    X, y = cohort
    feats = [c for c in X.columns if c != "case_id"]
    pipe = build_model_pipeline(feats, params={"lasso": {"cv": 5, "Cs": 10}}).fit(X, y)
    return pipe, bundle_from_pipeline(pipe, X, y, "demo", units={"TBIL": "µmol/L"}, thresholds={"youden": 0.5})


def test_json_round_trip_identical_predictions(cohort, tmp_path):
    X, y = cohort
    pipe, bundle = _fit(cohort)
    folder = bundle.save(tmp_path / "b")
    spec = json.loads((folder / "bundle.json").read_text())
    assert spec["kind"] == "linear" and spec["spec_hash"]
    assert {"versions", "training_summary", "thresholds", "variables", "intercept"} <= set(spec)
    loaded = load_bundle(folder)
    out = predict_bundle(loaded, X)
    assert list(out.columns) == ["case_id", "score", "probability"]
    assert_close(out["score"].to_numpy(), pipe.decision_function(X), rtol=0, atol=1e-12, what="bundle score")
    assert_close(out["probability"].to_numpy(), pipe.predict_proba(X)[:, 1], rtol=0, atol=1e-12, what="bundle P")
    assert loaded.formula().startswith("score = ")


def test_refuses_missing_column_and_wrong_units(cohort, tmp_path):
    X, y = cohort
    _, bundle = _fit(cohort)
    used = [v["name"] for v in bundle.spec["variables"]]
    with pytest.raises(ModelError, match=used[0]):
        predict_bundle(bundle, X.drop(columns=used[0]))
    bad = X.copy()
    col = used[0]
    bad.loc[5, col] = bad[col].max() * 100 + 100  # e.g. the wrong unit
    with pytest.raises(ModelError, match=rf"{col}.*p005|p005.*{col}"):
        predict_bundle(bundle, bad)
    assert len(predict_bundle(bundle, bad, check_ranges=False)) == len(bad)


def test_tampered_bundle_refused(cohort, tmp_path):
    _, bundle = _fit(cohort)
    folder = bundle.save(tmp_path / "b")
    spec = json.loads((folder / "bundle.json").read_text())
    spec["intercept"] += 1.0
    (folder / "bundle.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match="spec_hash"):
        load_bundle(folder)
    with pytest.raises(InputError, match="no bundle"):
        load_bundle(tmp_path / "nowhere")


def test_skops_bundle_for_tree_model(cohort, tmp_path):
    X, y = cohort
    feats = [c for c in X.columns if c != "case_id"]
    pipe = build_model_pipeline(feats, steps=["univariate", "rf"], params={"rf": {"n_estimators": 5}}).fit(X, y)
    bundle = bundle_from_pipeline(pipe, X, y, "rf")
    assert bundle.kind == "skops"
    loaded = load_bundle(bundle.save(tmp_path / "rf"))
    out = predict_bundle(loaded, X)
    assert_close(out["probability"].to_numpy(), pipe.predict_proba(X)[:, 1], rtol=0, atol=0, what="rf P")
    with pytest.raises(ModelError, match="f03"):
        predict_bundle(loaded, X.drop(columns="f03"))


def test_score_fusion_bundle_is_json_with_embedded_score(cohort, tmp_path):
    from hccrad.models import ScoreFusion

    X, y = cohort
    rad = [f"f{i:02d}" for i in range(2, 25)]
    fus = ScoreFusion(build_model_pipeline(None, params={"lasso": {"cv": 5, "Cs": 8}}), rad, ["f00", "TBIL"]).fit(X, y)
    bundle = bundle_from_pipeline(fus, X, y, "combined", units={"TBIL": "µmol/L"})
    assert bundle.kind == "linear" and "HabitatScore" in bundle.spec["derived"]
    loaded = load_bundle(bundle.save(tmp_path / "fusion"))
    assert not (tmp_path / "fusion" / "model.skops").exists()
    out = predict_bundle(loaded, X)
    assert_close(out["score"].to_numpy(), fus.decision_function(X), rtol=0, atol=1e-12, what="fusion score")
    assert "TBIL" in loaded.input_features


def test_bundle_without_column_selector_uses_fitted_feature_names(cohort, tmp_path):
    X, y = cohort
    feats = [f"f{i:02d}" for i in range(6)]
    svm = build_model_pipeline(None, ["scale", "svm"]).fit(X[feats], y)
    loaded = load_bundle(bundle_from_pipeline(svm, X, y, "svm").save(tmp_path / "svm"))
    assert loaded.input_features == feats
    out = predict_bundle(loaded, X)  # extra columns (case_id, others) are ignored
    # the SVM has Platt probabilities, so the bundle's score is P(y=1) (scores_of), identical after reload
    assert_close(out["score"].to_numpy(), svm.predict_proba(X[feats])[:, 1], rtol=0, atol=0, what="svm P(y=1)")
    assert_close(out["probability"].to_numpy(), svm.predict_proba(X[feats])[:, 1], rtol=0, atol=0,
                 what="svm probability")
