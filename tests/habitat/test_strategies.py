"""The registry of habitat strategies (hccrad.habitat.strategies) is the one list of names: the spec, the
pipeline and the saved-model loader read it; a strategy's parameters live in it and are validated; schema 1's
flat two-step parameters are still read, refused where they do not apply, and written back as before so the
spec dump and every configuration hash made from it are unchanged."""

from __future__ import annotations

import json
import typing
from typing import ClassVar, Literal

import numpy as np
import pytest
from pydantic import ValidationError

from hccrad.config import parse_spec
from hccrad.config.spec import HabitatSpec
from hccrad.core.errors import ModelError
from hccrad.habitat.estimators import (PopulationHabitats, TwoStepHabitats, spatial_arguments,
                                       spatial_fit_arguments)
from hccrad.habitat.strategies import (ESTIMATOR_CLASSES, STRATEGIES, STRATEGY_CLASSES, HabitatStrategy,
                                       HabitatStrategySpec, TwoStepStrategy, load_habitat_model,
                                       unfold_flat_parameters)
from hccrad.pipeline.cache import config_hash
from hccrad.pipeline.imaging import _habitat_estimator

SHARED = {"n_habitats": 3, "k_range": (2, 5), "order_by": "AE", "descriptor_names": ["AE", "VE"],
          "max_voxels_fit": 5_000, "k_rule": "consensus", "n_bootstrap": 4, "random_state": 7}
TWO_STEP = {"kind": "two_step", "n_supervoxels": 12, "supervoxels": "slic", "compactness": 0.2}
DESCRIPTORS = [{"name": "AE", "kind": "difference", "phases": ["arterial", "pre"], "window": 3, "normalise": "none",
                "smooth_mm": 0.0},
               {"name": "VE", "kind": "difference", "phases": ["portal", "pre"], "window": 3, "normalise": "none",
                "smooth_mm": 0.0}]
# HabitatSpec().model_dump(mode="json") as written by hccrad before the registry (commit 56658ab), key order included
SCHEMA1_DEFAULT = {"descriptors": DESCRIPTORS, "strategy": "population", "n_habitats": "auto", "k_range": [2, 10],
                   "order_by": None, "max_voxels_fit": 200000, "k_rule": "elbow", "n_bootstrap": 20,
                   "n_supervoxels": 50, "supervoxels": "descriptor", "compactness": 0.1, "stability_resamples": 0,
                   "k_sensitivity": False}


@pytest.mark.parametrize("cls", STRATEGY_CLASSES, ids=lambda c: c.__name__)
def test_each_strategy_builds_its_estimator_with_the_shared_settings(cls):
    model = cls().build(**SHARED)
    assert type(model) is cls.estimator
    params = model.get_params()
    for key, value in SHARED.items():
        assert params[key] == value, key


def test_two_step_parameters_reach_the_estimator():
    model = TwoStepStrategy(n_supervoxels=12, supervoxels="slic", compactness=0.2).build(**SHARED)
    assert isinstance(model, TwoStepHabitats)
    assert (model.n_supervoxels, model.supervoxels, model.compactness) == (12, "slic", 0.2)
    assert TwoStepStrategy().build().get_params()["n_supervoxels"] == 50


def test_the_pipeline_builds_the_specs_strategy():
    spec = parse_spec({
        "name": "s", "seed": 3, "data": {"manifest": "m.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]}, "outcome": {"response": {"column": "y"}},
        "habitat": {"n_habitats": 4, "k_rule": "consensus", "strategy": TWO_STEP},
        "models": [{"name": "c", "features": "none", "clinical": ["x"]}]})
    model = _habitat_estimator(spec)
    assert isinstance(model, TwoStepHabitats)
    assert (model.n_habitats, model.random_state, model.k_rule, model.order_by) == (4, 3, "consensus", "AE")
    assert (model.n_supervoxels, model.supervoxels, model.compactness) == (12, "slic", 0.2)


@pytest.mark.parametrize("strategy, field", [
    ("kmeans", "strategy"),                                          # an unknown name
    ({"kind": "gmm"}, "strategy"),
    ({"kind": "two_step", "n_supervoxel": 40}, "n_supervoxel"),      # a typo in a parameter is not ignored
    ({"kind": "population", "n_supervoxels": 40}, "n_supervoxels"),  # a parameter of another strategy
    ({"kind": "two_step", "n_supervoxels": 1}, "n_supervoxels"),
    ({"kind": "two_step", "supervoxels": "watershed"}, "supervoxels"),
    ({"kind": "two_step", "compactness": 0.3}, "compactness"),       # applies to slic supervoxels only
])
def test_unknown_strategies_and_parameters_are_refused_naming_the_field(strategy, field):
    with pytest.raises(ValidationError) as info:
        HabitatSpec(strategy=strategy)
    assert field in str(info.value)
    if strategy == "kmeans":
        assert all(name in str(info.value) for name in STRATEGIES)  # the message lists the known strategies


def test_schema1_flat_form_equals_the_new_form():
    flat = HabitatSpec(strategy="two_step", n_supervoxels=12, supervoxels="slic", compactness=0.2)
    nested = HabitatSpec(strategy=TWO_STEP)
    assert flat == nested and flat.strategy == TwoStepStrategy(**TWO_STEP)
    assert flat.model_dump(mode="json") == nested.model_dump(mode="json")
    assert HabitatSpec(strategy="individual").strategy == HabitatSpec(strategy={"kind": "individual"}).strategy


@pytest.mark.parametrize("habitat, text", [
    ({"strategy": "population", "supervoxels": "slic"}, "supervoxels: 'slic' applies to strategy two_step only"),
    ({"n_supervoxels": 30}, "n_supervoxels: 30 applies to strategy two_step only"),  # default strategy
    ({"strategy": "individual", "compactness": 0.5}, "compactness"),
    ({"strategy": {"kind": "two_step", "n_supervoxels": 20}, "n_supervoxels": 30}, "given twice"),
])
def test_schema1_flat_parameters_are_refused_where_they_do_not_apply(habitat, text):
    with pytest.raises(ValidationError, match=text):
        HabitatSpec(**habitat)


def test_default_spec_dump_and_hash_are_those_of_schema1():
    dump = HabitatSpec().model_dump(mode="json")
    assert json.dumps(dump) == json.dumps(SCHEMA1_DEFAULT)  # same keys, values and order
    assert config_hash(dump) == config_hash(SCHEMA1_DEFAULT)
    assert HabitatSpec.model_validate(SCHEMA1_DEFAULT) == HabitatSpec()  # an earlier run.json still loads


@pytest.mark.parametrize("strategy", ["population", "individual", "two_step", TWO_STEP])
def test_dump_is_schema1_and_reads_back(strategy):
    spec = HabitatSpec(strategy=strategy)
    dump = spec.model_dump(mode="json")
    assert list(dump) == list(SCHEMA1_DEFAULT)
    assert dump["strategy"] == spec.strategy.kind
    assert {k: dump[k] for k in ("n_supervoxels", "supervoxels", "compactness")} == {
        k: getattr(spec.strategy, k, SCHEMA1_DEFAULT[k]) for k in ("n_supervoxels", "supervoxels", "compactness")}
    assert HabitatSpec.model_validate(dump) == spec
    assert HabitatSpec.model_validate_json(spec.model_dump_json()) == spec


def test_a_parameter_without_a_schema1_slot_is_written_in_the_mapping():
    class Tuned(HabitatStrategy):
        kind: Literal["tuned"] = "tuned"
        alpha: float = 1.0
        estimator: ClassVar[type] = PopulationHabitats

    assert unfold_flat_parameters(Tuned())[0] == "tuned"
    written, flat = unfold_flat_parameters(Tuned(alpha=2.0))
    assert written == {"kind": "tuned", "alpha": 2.0}
    assert flat == {k: SCHEMA1_DEFAULT[k] for k in ("n_supervoxels", "supervoxels", "compactness")}


def test_the_union_is_the_only_list_of_names():
    names = [cls.model_fields["kind"].default for cls in STRATEGY_CLASSES]
    assert list(STRATEGIES) == names and len(set(names)) == len(names)
    union = typing.get_args(typing.get_args(HabitatStrategySpec)[0])
    assert union == STRATEGY_CLASSES
    schema = HabitatSpec.model_json_schema()["properties"]["strategy"]
    assert set(schema["discriminator"]["mapping"]) == set(names)
    assert set(ESTIMATOR_CLASSES.values()) == {cls.estimator for cls in STRATEGY_CLASSES}


def test_saved_models_load_through_the_registry_only(tmp_path):
    rng = np.random.default_rng(0)
    Xs = [rng.normal(size=(60, 2)) + c for c in (0.0, 5.0, 10.0)]
    model = PopulationHabitats(n_habitats=2, descriptor_names=["AE", "VE"], n_init=1).fit(Xs)
    again = load_habitat_model(model.save(tmp_path / "m.json"))
    assert isinstance(again, PopulationHabitats) and np.array_equal(again.centres_, model.centres_)
    doc = json.loads(model.to_json())
    doc["class"] = "Pipeline"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="unknown habitat model class 'Pipeline'"):
        load_habitat_model(tmp_path / "bad.json")


def test_only_a_slic_model_asks_for_voxel_indices():
    mask = np.zeros((2, 3, 3), dtype=bool)
    mask[0, :2, :2] = True
    slic = TwoStepStrategy(supervoxels="slic").build()
    assert spatial_fit_arguments(PopulationHabitats(), [mask], [(1.0, 1.0, 1.0)]) == {}
    assert spatial_arguments(TwoStepStrategy().build(), mask, (1.0, 1.0, 1.0)) == {}
    fit = spatial_fit_arguments(slic, [mask, mask], [(2.0, 1.0, 1.0)] * 2)
    assert np.array_equal(fit["coords"][1], np.argwhere(mask)) and fit["spacings"] == [(2.0, 1.0, 1.0)] * 2
