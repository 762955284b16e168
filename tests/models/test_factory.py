"""Pipeline factory, model wrappers, score fusion and seed 001's nested models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import ModelError
from hccrad.models import LogisticModel, ScoreFusion, build_model_pipeline, seed001_nested_models, selected_features


@pytest.fixture
def cohort(rng):
    n = 160
    rad = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"rad{i:02d}" for i in range(20)])
    hab = pd.DataFrame(rng.normal(size=(n, 10)), columns=[f"hab{i:02d}" for i in range(10)])
    clin = pd.DataFrame({"VI": rng.integers(0, 2, n), "d_tumor": rng.uniform(2, 15, n), "age": rng.normal(57, 11, n)})
    lp = 1.0 * rad.rad00 - 0.8 * hab.hab00 + 1.0 * clin.VI - 0.1 * (clin.d_tumor - 8)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.concat([clin, rad, hab], axis=1), y


def test_factory_validates_steps_and_params(cohort):
    X, y = cohort
    with pytest.raises(ModelError, match="unknown pipeline step"):
        build_model_pipeline(None, ["scale", "lassso", "logistic"])
    with pytest.raises(ModelError, match="unknown parameter"):
        build_model_pipeline(None, params={"lasso": {"cvv": 5}})
    with pytest.raises(ModelError, match="last step must be a model"):
        build_model_pipeline(None, ["scale", "lasso"])
    with pytest.raises(ModelError, match="not in the pipeline"):
        build_model_pipeline(None, params={"vif": {"max_vif": 5}})
    pipe = build_model_pipeline(["rad00", "rad01", "nope"])
    with pytest.raises(ModelError, match="nope"):
        pipe.fit(X, y)


@pytest.mark.parametrize("model", ["logistic", "svm", "rf", "xgboost"])
def test_each_model_fits_and_scores(cohort, model):
    X, y = cohort
    feats = [c for c in X.columns if c.startswith("rad")]
    params = {"rf": {"n_estimators": 30}, "xgboost": {"n_estimators": 30}}.get(model, {})
    pipe = build_model_pipeline(feats, ["scale", "univariate", "vif", model],
                                params={model: params} if params else None, random_state=3)
    pipe.fit(X, y)
    assert "rad00" in selected_features(pipe)
    s = pipe.decision_function(X) if model == "svm" else pipe.predict_proba(X)[:, 1]
    assert np.isfinite(s).all() and s.shape == (len(y),)


def test_score_fusion_matches_two_stage_fit(cohort):
    X, y = cohort
    hab = [c for c in X.columns if c.startswith("hab")]
    score_pipe = build_model_pipeline(None, ["scale", "univariate", "logistic"])
    fus = ScoreFusion(score_pipe, hab, ["VI", "d_tumor"]).fit(X, y)
    stage1 = build_model_pipeline(None, ["scale", "univariate", "logistic"]).fit(X[hab], y)
    z = X[["VI", "d_tumor"]].assign(HabitatScore=stage1.decision_function(X[hab]))
    stage2 = LogisticModel().fit(z, y)
    np.testing.assert_allclose(fus.decision_function(X), stage2.decision_function(z), rtol=0, atol=1e-10)
    assert list(fus.summary().index) == ["const", "VI", "d_tumor", "HabitatScore"]
    assert "HabitatScore" in fus.formula()
    assert {"hab00", "VI"} <= set(fus.selected_features_)
    stacked = ScoreFusion(score_pipe, hab, ["VI"], inner_cv=5).fit(X, y)
    assert np.isfinite(stacked.predict_proba(X)).all()


def test_seed001_nested_models(cohort):
    X, y = cohort
    models = seed001_nested_models(
        ["VI", "d_tumor", "age"], [c for c in X.columns if c.startswith("rad")],
        [c for c in X.columns if c.startswith("hab")],
        params={"rfe": {"n_features": 5, "step": 5}, "lasso": {"cv": 5, "Cs": 8, "keep_path": False}})
    assert list(models) == ["clinical", "clinical_radiomics", "clinical_radiomics_habitat"]
    fitted = {k: m.fit(X, y) for k, m in models.items()}
    used = {k: list(m[-1].feature_names_in_) for k, m in fitted.items()}
    assert used["clinical"] and set(used["clinical"]) <= {"VI", "d_tumor", "age"}
    assert "rad00" in used["clinical_radiomics"]
    assert "hab00" in used["clinical_radiomics_habitat"]


def test_stability_table_step_survives_cloning_in_resampling(cohort):
    from hccrad.models import optimism_bootstrap

    X, y = cohort
    feats = [c for c in X.columns if c.startswith("rad")]
    table = pd.DataFrame({"feature": feats, "icc": np.linspace(0.5, 0.99, len(feats))})
    pipe = build_model_pipeline(feats, ["stability", "univariate", "logistic"],
                                params={"stability": {"table": table, "icc_min": 0.8}})
    res = optimism_bootstrap(pipe, X, y, n_boot=3, seed=0)
    kept = set(table.feature[table.icc >= 0.8])
    assert set(res.selection_frequency.index) <= kept


def test_platt_svm_probabilities_are_a_monotone_map_of_the_decision_function():
    import numpy as np

    from hccrad.models.factory import PlattSVC

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    m = PlattSVC().fit(X, y)
    d, p = m.decision_function(X), m.predict_proba(X)[:, 1]
    assert np.all((p > 0) & (p < 1))
    order = np.argsort(d)
    assert np.all(np.diff(p[order]) >= -1e-12), "probability must increase with the decision value"
    assert m.platt_coef_ > 0


@pytest.mark.parametrize("inner_cv", [None, 3])
def test_score_fusion_of_a_tree_model_uses_the_logit_of_its_probability(cohort, inner_cv):
    """Seed 002's MDLR fuses an XGBoost radiomics score: a model without decision_function enters the fusion
    logistic as logit(P(y = 1))."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    X, y = cohort
    rad = [c for c in X.columns if c.startswith("rad")]
    forest = Pipeline([("rf", RandomForestClassifier(n_estimators=50, min_samples_leaf=5, random_state=0))])
    fus = ScoreFusion(forest, rad, ["VI", "d_tumor"], score_name="RadScore", inner_cv=inner_cv).fit(X, y)
    p = np.clip(fus.score_model_.predict_proba(X[rad])[:, 1], 1e-6, 1 - 1e-6)
    z = fus.fusion_inputs(X)
    np.testing.assert_allclose(z["RadScore"].to_numpy(), np.log(p / (1 - p)), rtol=0, atol=1e-12,
                               err_msg="fusion input is not the logit of the forest's probability")
    assert fus.predict_proba(X).shape == (len(y), 2) and np.isfinite(fus.predict_proba(X)).all()
