"""The registry of selection steps (hccrad.selection.registry): every step builds its transformer, the spec
reads steps by name or with parameters, the flat parameters of earlier specs mean the same as the new form,
problems are refused naming the field, and the union is the only list of step names."""

from __future__ import annotations

import textwrap
import types
import typing

import pytest
from pydantic import ValidationError

from hccrad.config.load import load_spec
from hccrad.config.spec import ModelSpec
from hccrad.core.errors import SpecError
from hccrad.models.factory import SELECTION_STEPS as FACTORY_STEPS
from hccrad.models.factory import build_model_pipeline, make_step
from hccrad.models.trusted_types import SELECTION_STEP_TYPES
from hccrad.pipeline.modelling import build_estimator
from hccrad.selection.registry import (LEGACY_FLAT_PARAMS, SELECTION_STEP_CLASSES, SELECTION_STEPS,
                                       SelectionStepSpec, migrate_flat_params)

FEATURES = ["h0", "h1", "h2", "h3"]
STUDY = types.SimpleNamespace(seed=7, features=types.SimpleNamespace(icc_min=None))  # what build_estimator reads
# ModelSpec(name="m").model_dump(mode="json") before the registry (hccrad 56658ab): the seven flat parameters
OLD_DEFAULT_DUMP = {"name": "m", "kind": "logistic", "features": "habitat", "clinical": [],
                    "clinical_selection": "stepwise", "entry_p": 0.1, "fuse": None,
                    "selection_steps": ["univariate", "correlation", "scale", "lasso"], "univariate_p": 0.05,
                    "correlation_threshold": 0.95, "correlation_method": "spearman", "lasso_rule": "1se",
                    "lasso_cv": 10, "rfe_features": 10, "rfe_step": 1}
FLAT = {"univariate_p": "p_max", "correlation_threshold": "threshold", "correlation_method": "method",
        "lasso_rule": "rule", "lasso_cv": "cv", "rfe_features": "n_features", "rfe_step": "step"}


def _step_params(pipeline) -> dict:
    return {name: step.get_params(deep=False) for name, step in pipeline.steps}


@pytest.mark.parametrize("kind", sorted(SELECTION_STEPS))
def test_every_step_builds_its_transformer_as_the_factory_does(kind):
    step = SELECTION_STEPS[kind]()
    built = step.build(random_state=7)
    assert type(built) is step.estimator
    assert built.get_params(deep=False) == make_step(kind, step.params(), random_state=7).get_params(deep=False)
    if "random_state" in built.get_params():
        assert built.random_state == 7


def test_steps_by_name_or_with_parameters():
    ms = ModelSpec(name="m", selection_steps=["univariate", {"kind": "lasso", "cv": 3, "rule": "min"}])
    assert [s.kind for s in ms.selection_steps] == ["univariate", "lasso"]
    assert ms.selection_steps[1].build().get_params()["cv"] == 3
    assert ms.model_dump(mode="json")["selection_steps"] == ["univariate", {"kind": "lasso", "cv": 3, "rule": "min"}]
    assert ModelSpec.model_validate(ms.model_dump(mode="json")) == ms


def test_flat_parameters_of_earlier_specs_equal_the_new_form():
    legacy = ModelSpec(name="m", selection_steps=["univariate", "correlation", "scale", "rfe", "lasso"],
                       univariate_p=0.01, correlation_threshold=0.9, correlation_method="pearson", lasso_rule="min",
                       lasso_cv=5, rfe_features=3, rfe_step=0.1)
    new = ModelSpec(name="m", selection_steps=[
        {"kind": "univariate", "p_max": 0.01}, {"kind": "correlation", "threshold": 0.9, "method": "pearson"},
        "scale", {"kind": "rfe", "n_features": 3, "step": 0.1}, {"kind": "lasso", "rule": "min", "cv": 5}])
    assert legacy == new
    assert legacy.model_dump(mode="json") == new.model_dump(mode="json")
    assert set(FLAT) == set(LEGACY_FLAT_PARAMS)
    assert {flat: param for flat, (_, param) in LEGACY_FLAT_PARAMS.items()} == FLAT


def test_pipeline_params_equal_the_hand_written_ones_before_the_registry():
    """modelling._imaging_steps used to pass these params; the registry's steps build the same transformers."""
    ms = ModelSpec(name="m", selection_steps=["univariate", "correlation", "vif", "scale", "rfe", "lasso", "mrmr"],
                   univariate_p=0.2, correlation_threshold=0.9, lasso_cv=3, rfe_step=0.5)
    old = {"univariate": {"p_max": 0.2}, "correlation": {"threshold": 0.9, "method": "spearman"},
           "lasso": {"rule": "1se", "cv": 3}, "rfe": {"n_features": 10, "step": 0.5}}
    steps = [s.kind for s in ms.selection_steps] + ["logistic"]
    before = build_model_pipeline(FEATURES, steps=steps, params=old, random_state=STUDY.seed)
    after, cols = build_estimator(ms, STUDY, FEATURES, [], None, {})
    assert cols == FEATURES
    assert _step_params(after) == _step_params(before)


def test_an_old_default_dump_reads_back_and_the_dump_drops_only_the_flat_keys():
    """Documented change: run.json no longer holds the seven flat keys (the steps carry their parameters)."""
    ms = ModelSpec.model_validate(OLD_DEFAULT_DUMP)
    assert ms == ModelSpec(name="m")
    assert ms.model_dump(mode="json") == {k: v for k, v in OLD_DEFAULT_DUMP.items() if k not in FLAT}
    # an old dump with changed parameters (rfe not listed: its flat keys sit at their defaults)
    old = {**OLD_DEFAULT_DUMP, "univariate_p": 0.2, "lasso_rule": "min"}
    assert ModelSpec.model_validate(old).model_dump(mode="json")["selection_steps"] == [
        {"kind": "univariate", "p_max": 0.2}, "correlation", "scale", {"kind": "lasso", "rule": "min"}]


@pytest.mark.parametrize("fields, where, message", [
    ({"selection_steps": ["foo"]}, ("selection_steps", 0), "does not match any of the expected tags"),
    ({"selection_steps": [{"kind": "lasso", "cvv": 3}]}, ("selection_steps", 0, "lasso", "cvv"), "Extra inputs"),
    ({"selection_steps": [{"kind": "lasso", "cv": 1}]}, ("selection_steps", 0, "lasso", "cv"), "greater than"),
    ({"selection_steps": ["scale", "scale"]}, ("selection_steps",), "more than once"),
    ({"lasso_cv": 1}, (), "lasso_cv: Input should be greater than or equal to 2"),
    ({"rfe_step": 2.5, "selection_steps": ["rfe"]}, (), "rfe_step: Value error, an integer"),
    ({"univariate_p": 0.01, "selection_steps": ["scale", "lasso"]}, (), "univariate_p = 0.01 has no effect"),
    ({"lasso_cv": 5, "selection_steps": [{"kind": "lasso", "cv": 3}]}, (), "set one parameter twice"),
])
def test_problems_are_refused_naming_the_field(fields, where, message):
    with pytest.raises(ValidationError) as err:
        ModelSpec(name="m", **fields)
    first = err.value.errors()[0]
    assert first["loc"] == where and message in str(first["msg"]), first


def test_a_flat_parameter_at_its_default_without_its_step_is_accepted():
    """Earlier dumps wrote all seven flat keys whatever the steps: at their defaults they had no effect."""
    assert migrate_flat_params({"rfe_step": 1, "rfe_features": 10}, ["scale"]) == {
        "selection_steps": [{"kind": "scale"}]}
    scale_only = ModelSpec(name="m", selection_steps=["scale"])
    assert ModelSpec(name="m", selection_steps=["scale"], rfe_step=1.0) == scale_only


def test_yaml_problems_name_the_line_and_the_field(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent("""\
        name: s
        data: {manifest: m.csv}
        outcome: {response: {column: resp}}
        models:
          - name: img
            selection_steps: [scale, {kind: lasso, cvv: 3}]
          - name: old
            lasso_cv: 1
        """))
    with pytest.raises(SpecError) as err:
        load_spec(path, check_files=False)
    problems = err.value.problems
    cvv = "line 6: models[0].selection_steps[1].lasso.cvv: unknown field"
    assert any(p.startswith(cvv) for p in problems), problems
    assert any("models[1]: lasso_cv: Input should be greater than or equal to 2" in p for p in problems), problems


def test_the_union_is_the_only_list_of_step_names():
    union = typing.get_args(typing.get_args(SelectionStepSpec)[0])
    assert union == SELECTION_STEP_CLASSES
    assert list(SELECTION_STEPS) == [c.model_fields["kind"].default for c in SELECTION_STEP_CLASSES]
    schema = ModelSpec.model_json_schema()
    tags = schema["properties"]["selection_steps"]["items"]["discriminator"]["mapping"]
    assert set(tags) == set(SELECTION_STEPS)
    assert set(FACTORY_STEPS) == set(SELECTION_STEPS) | {"stepwise"}
    assert set(SELECTION_STEP_TYPES) == set(FACTORY_STEPS)
    for kind, cls in SELECTION_STEPS.items():
        assert FACTORY_STEPS[kind] is cls.estimator
        assert SELECTION_STEP_TYPES[kind] == cls.trusted_types
        for name, field in cls.model_fields.items():
            assert name == "kind" or field.description, (kind, name)  # every parameter says what it does
