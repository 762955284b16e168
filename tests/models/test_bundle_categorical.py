"""Categorical variables in JSON linear bundles: a tiny study's dummy-coded logistic model is bundled, the bundle
reproduces the fitted pipeline's probabilities, unknown levels and malformed categorical entries are refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hccrad.config import parse_spec
from hccrad.core.errors import InputError, ModelError
from hccrad.models.bundle import load_bundle, predict_bundle
from hccrad.pipeline.modelling import fit_models

N = 60


def bclc_table(seed: int = 5) -> pd.DataFrame:
    """The study table of tests/pipeline/test_categorical_study.py (60 patients, text BCLC column)."""
    rng = np.random.default_rng(seed)
    bclc = rng.choice(["A", "B", "C"], N, p=[0.4, 0.35, 0.25])
    eta = -0.3 + pd.Series(bclc).map({"A": -0.5, "B": 0.3, "C": 1.0}).to_numpy()
    return pd.DataFrame({"pid": [f"P{i:03d}" for i in range(N)], "age": rng.normal(62, 9, N).round(1),
                         "BCLC": bclc, "resp": (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(int)})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    data = bclc_table().set_index("pid").assign(cohort="training")
    spec = parse_spec({
        "name": "cat", "seed": 0, "data": {"manifest": "m.csv",
                                          "categorical": {"BCLC": {"levels": ["A", "B", "C"], "reference": "B"}}},
        "cohorts": {"training": "training", "tests": []}, "outcome": {"response": {"column": "resp"}},
        "models": [{"name": "clin", "features": "none", "clinical": ["age", "BCLC"], "clinical_selection": "all"}],
        "validation": {"bootstrap": 0}})
    fm = fit_models(spec, data, habitat_columns=[], out=out)
    return fm.models["clin"], data


def test_study_bundle_reproduces_the_pipeline_probabilities(fitted):
    model, data = fitted
    assert model.bundle is not None, "the dummy-coded logistic model got no bundle"
    bundle = load_bundle(model.bundle)
    spec = bundle.spec
    bclc = next(v for v in spec["variables"] if v["name"] == "BCLC")
    assert spec["format_version"] == 2 and bclc["kind"] == "categorical"
    assert bclc["levels"] == ["A", "B", "C"] and bclc["reference"] == "B" and set(bclc["coefficients"]) == {"A", "C"}
    assert bundle.input_features == ["age", "BCLC"]
    got = predict_bundle(bundle, data[["age", "BCLC"]], check_ranges=False)["probability"].to_numpy()
    ref = model.estimator.predict_proba(data[model.columns])[:, 1]
    diff = np.max(np.abs(got - ref))
    assert diff <= 1e-10, f"bundle {got[:3]} vs pipeline {ref[:3]}: max difference {diff:.3g} (atol 1e-10)"
    assert "covariance" in spec  # the page's confidence interval works on the dummies too


def test_unknown_level_is_refused_naming_field_value_and_case(fitted):
    model, data = fitted
    bad = data[["age", "BCLC"]].assign(case_id=data.index)
    bad.iloc[7, 1] = "D"
    with pytest.raises(ModelError) as exc:
        predict_bundle(load_bundle(model.bundle), bad)
    assert exc.value.field == "BCLC" and "'D'" in exc.value.message and exc.value.case == "P007"


@pytest.mark.parametrize("edit, words", [
    (lambda v: v.update(extra=1), "unknown key(s) ['extra']"),
    (lambda v: v.update(reference="Z"), "reference 'Z'"),
    (lambda v: v["coefficients"].pop("A"), "coefficients"),
    (lambda v: v.update(kind="ordinal"), "unknown kind"),
])
def test_malformed_categorical_variable_is_refused_on_load(fitted, tmp_path, edit, words):
    model, _ = fitted
    spec = json.loads((model.bundle / "bundle.json").read_text())
    spec.pop("spec_hash")
    edit(next(v for v in spec["variables"] if v["name"] == "BCLC"))
    (tmp_path / "bundle.json").write_text(json.dumps(spec))
    with pytest.raises(InputError) as exc:
        load_bundle(tmp_path)
    assert exc.value.field == "BCLC" and words in exc.value.message
