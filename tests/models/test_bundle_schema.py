"""bundle.json is validated against its pydantic schema on every load (hccrad.models.bundle_schema): unknown
keys and wrong types are refused naming the file and the field, version-1 files are migrated, newer
versions refused, and every bundle hccrad writes or ships validates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import InputError
from hccrad.models.bundle import ModelBundle, list_published, load_bundle, load_published, spec_hash
from hccrad.models.bundle_schema import FORMAT, FORMAT_VERSION, BundleDocument, migrate


def _linear(version: int = 1, **extra) -> dict:
    spec = {"format": FORMAT, "format_version": version, "name": "ab", "kind": "linear", "link": "logit",
            "score_name": "score", "intercept": -0.5,
            "variables": [{"name": "a", "coefficient": 0.8, "center": 1.0, "scale": 2.0, "unit": "ng/mL",
                           "definition": "marker a", "range": [0.0, 5.0]}]}
    spec.update(extra)
    return spec


def _write(tmp_path, spec: dict):
    spec = dict(spec)
    spec["spec_hash"] = spec_hash(spec)  # a consistent hash: the schema, not the hash check, must refuse
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / "bundle.json").write_text(json.dumps(spec))
    return folder


def test_every_shipped_published_model_validates():
    names = list_published()
    assert len(names) >= 5
    for name in names:
        doc = BundleDocument.model_validate(migrate(load_published(name).spec))
        assert doc.format_version == FORMAT_VERSION and doc.kind == "linear", name


def test_a_valid_version_1_file_loads_migrated_and_the_file_is_untouched(tmp_path):
    folder = _write(tmp_path, _linear(version=1))
    before = (folder / "bundle.json").read_text()
    bundle = load_bundle(folder)
    assert bundle.spec["format_version"] == 2
    assert (folder / "bundle.json").read_text() == before
    score = bundle.formula()
    assert score.startswith("score = "), score


@pytest.mark.parametrize("change, field", [
    ({"intercpt": 1.0}, "intercpt"),                                   # a typo is not ignored
    ({"intercept": "high"}, "intercept"),                               # a wrong type
    ({"link": "probit"}, "link"),                                       # a link hccrad does not score
    ({"variables": [{"name": "a", "coefficient": 0.8, "scale": 0.0}]}, "variables.0.scale"),
    ({"variables": [{"name": "a", "coefficient": 0.8, "centre": 1.0}]}, "variables.0.centre"),
    ({"thresholds": {"youden": "0.4"}, "threshold_scale": "percent"}, "threshold_scale"),
    ({"link": "cox"}, ""),                                              # Cox without its baseline survival
])
def test_a_malformed_document_is_refused_naming_the_field(tmp_path, change, field):
    folder = _write(tmp_path, _linear(**change))
    with pytest.raises(InputError) as err:
        load_bundle(folder)
    assert "bundle.json" in str(err.value.file)
    assert field in err.value.message, (field, err.value.message)
    assert "bundle schema" in err.value.message


def test_a_newer_format_is_refused_with_upgrade_hint(tmp_path):
    folder = _write(tmp_path, _linear(version=FORMAT_VERSION + 1))
    with pytest.raises(InputError, match="newer than this hccrad reads") as err:
        load_bundle(folder)
    assert "upgrade" in (err.value.hint or "")


def test_a_newer_format_is_named_as_newer_before_its_content_is_read(tmp_path):
    # a variable kind this hccrad does not know: the version, not the variable, is what the user must hear
    newer = _linear(version=FORMAT_VERSION + 1, variables=[{"name": "a", "kind": "spline", "knots": [1, 2]}])
    with pytest.raises(InputError, match="newer than this hccrad reads") as err:
        load_bundle(_write(tmp_path, newer))
    assert err.value.field == "format_version"


@pytest.mark.parametrize("document", [[1, 2], _linear(version="3"), _linear(version=True)])
def test_a_malformed_header_is_an_input_error_not_a_crash(tmp_path, document):
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "bundle.json").write_text(json.dumps(document))
    with pytest.raises(InputError) as err:
        load_bundle(folder)
    assert "bundle.json" in str(err.value.file)


def test_derived_score_needs_exactly_one_source():
    inner = _linear(version=2)
    ok = _linear(version=2, derived={"S": {"spec": inner}})
    assert BundleDocument.model_validate(ok).derived["S"].spec.name == "ab"
    for bad in ({}, {"spec": inner, "bundle": "wu2025_habitat"}):
        with pytest.raises(ValueError, match="exactly one"):
            BundleDocument.model_validate(_linear(version=2, derived={"S": bad}))


def test_save_refuses_to_write_a_bundle_that_would_not_load(tmp_path):
    bad = ModelBundle(_linear(version=2, variables=[{"name": "a", "coefficient": float("inf")}]))
    with pytest.raises(InputError, match="finite"):
        bad.save(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_categorical_variable_rules_in_the_schema():
    cat = {"name": "BCLC", "kind": "categorical", "levels": ["A", "B", "C"], "reference": "A",
           "coefficients": {"B": 0.4, "C": 1.1}}
    assert BundleDocument.model_validate(_linear(version=2, variables=[cat])).variables[0].reference == "A"
    for broken in ({**cat, "reference": "D"}, {**cat, "coefficients": {"B": 0.4}}, {**cat, "levels": ["A", "A"]}):
        with pytest.raises(ValueError):
            BundleDocument.model_validate(_linear(version=2, variables=[broken]))


def test_a_saved_fitted_bundle_round_trips_through_the_schema(tmp_path):
    from hccrad.models import build_model_pipeline
    from hccrad.models.bundle import bundle_from_pipeline

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + rng.normal(size=80) > 0).astype(int)
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "logistic"]).fit(X, y)
    folder = bundle_from_pipeline(pipe, X, y, "fitted", thresholds={"youden": 0.5}).save(tmp_path / "b")
    doc = BundleDocument.model_validate_json((folder / "bundle.json").read_text())
    assert doc.training_summary.n == 80 and len(doc.variables) == 4
