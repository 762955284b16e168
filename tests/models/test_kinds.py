"""The registry of model kinds (hccrad.models.kinds) is the one list of names: the spec, the pipeline factory
and the bundle allow-list read it; a kind's parameters are settable from the spec and validated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from hccrad.config.spec import ModelSpec
from hccrad.core.errors import ModelError
from hccrad.models.factory import MODEL_STEPS, build_model_pipeline, make_step
from hccrad.models.kinds import MODEL_KIND_CLASSES, MODEL_KINDS, ModelKind
from hccrad.models.trusted_types import MODEL_KIND_TYPES


def test_one_list_of_kinds_feeds_spec_factory_and_allow_list():
    names = [cls.model_fields["kind"].default for cls in MODEL_KIND_CLASSES]
    steps = [cls.step for cls in MODEL_KIND_CLASSES]
    assert len(set(names)) == len(names) and len(set(steps)) == len(steps)
    assert set(MODEL_KINDS) == set(names) == {"logistic", "svm", "random_forest", "xgboost"}
    assert set(MODEL_STEPS) == set(MODEL_KIND_TYPES) == set(steps)
    for name, cls in MODEL_KINDS.items():
        assert ModelSpec(name="m", kind=name).kind.step == cls.step
        assert cls.trusted_types and all("." in t for t in cls.trusted_types)
        assert issubclass(cls, ModelKind) and cls.__doc__


def test_defaults_are_the_estimators_hccrad_always_built():
    rf = make_step("rf", {}, 7).get_params()
    expected = {"n_estimators": 300, "min_samples_leaf": 2, "n_jobs": 1, "random_state": 7, "max_depth": None,
                "max_features": "sqrt"}
    assert {k: rf[k] for k in expected} == expected
    svm = make_step("svm", {}, 5).get_params()
    assert (svm["C"], svm["kernel"], svm["gamma"], svm["random_state"]) == (1.0, "rbf", "scale", 5)
    assert make_step("logistic", {}, 0).get_params() == {"maxiter": 100, "firth": "auto"}


def test_spec_kind_by_name_or_with_parameters_and_how_it_is_written():
    plain = ModelSpec(name="m", kind="svm")
    assert plain.model_dump(mode="json")["kind"] == "svm"  # defaults: written as the name (same config hash)
    tuned = ModelSpec(name="m", kind={"kind": "svm", "C": 0.5})
    assert tuned.kind.C == 0.5
    assert tuned.model_dump(mode="json")["kind"] == {"kind": "svm", "C": 0.5}
    assert ModelSpec.model_validate(tuned.model_dump(mode="json")) == tuned
    assert ModelSpec(name="m").kind.kind == "logistic"


@pytest.mark.parametrize("kind, text", [
    ("svn", "svm"),                                        # unknown name: the known names are listed
    ({"kind": "svm", "c": 0.5}, "c"),                      # a typo in a parameter is not ignored
    ({"kind": "random_forest", "n_estimators": 0}, "n_estimators"),
    ({"kind": "svm", "kernel": "cubic"}, "kernel"),
])
def test_spec_refuses_unknown_kinds_and_parameters(kind, text):
    with pytest.raises(ValidationError) as err:
        ModelSpec(name="m", kind=kind)
    assert text in str(err.value)


def test_pipeline_params_reach_the_estimator_and_typos_are_named():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(size=40) > 0).astype(int)
    pipe = build_model_pipeline(["a", "b", "c"], steps=["scale", "svm"], params={"svm": {"C": 0.25}}).fit(X, y)
    assert pipe[-1].C == 0.25 and pipe.predict_proba(X).shape == (40, 2)
    with pytest.raises(ModelError, match="unknown parameter") as err:
        make_step("rf", {"n_trees": 10})
    assert err.value.field == "params.rf"
    with pytest.raises(ModelError, match="learning_rate"):
        make_step("xgboost", {"learning_rate": -1.0})
