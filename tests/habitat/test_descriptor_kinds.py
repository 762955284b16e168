"""The registry of descriptor kinds (hccrad.habitat.descriptor_kinds): every kind builds the Descriptor that
descriptor_maps computes with, the YAML form and its dump are those of before the registry, problems are
refused naming the field, and the union is the only list of kind names."""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import ndimage

import hccrad.config.spec as config_spec
import hccrad.habitat.descriptors as descriptors_module
from hccrad.config.spec import DescriptorSpec, HabitatSpec
from hccrad.core.errors import FeatureError
from hccrad.core.image import Image
from hccrad.habitat.descriptor_kinds import (DESCRIPTOR_KIND_CLASSES, DESCRIPTOR_KINDS, Descriptor,
                                             DescriptorKindSpec)
from hccrad.habitat.descriptors import descriptor_maps, descriptor_unit

SPEC = TypeAdapter(DescriptorSpec)
# DescriptorSpec(...).model_dump(mode="json") before the registry (hccrad 56658ab), which config hashes (the
# descriptor cache, the habitat model's reuse key) and run.json (read back by hccrad serve) hold
OLD_DUMPS = [
    ({"name": "AE", "kind": "difference", "phases": ["arterial", "pre"], "smooth_mm": 1.0},
     {"name": "AE", "kind": "difference", "phases": ["arterial", "pre"], "window": 3, "normalise": "none",
      "smooth_mm": 1.0}),
    ({"name": "AE", "phases": ["arterial", "pre"]},
     {"name": "AE", "kind": "difference", "phases": ["arterial", "pre"], "window": 3, "normalise": "none",
      "smooth_mm": 0.0}),
    ({"name": "p", "kind": "intensity", "phases": ["pre"], "normalise": "zscore"},
     {"name": "p", "kind": "intensity", "phases": ["pre"], "window": 3, "normalise": "zscore", "smooth_mm": 0.0}),
    ({"name": "e", "kind": "local_entropy", "phases": ["portal"], "window": 5},
     {"name": "e", "kind": "local_entropy", "phases": ["portal"], "window": 5, "normalise": "none",
      "smooth_mm": 0.0}),
]


def _fields(kind: str) -> dict:
    cls = DESCRIPTOR_KINDS[kind]
    return {"name": f"d_{kind}", "kind": kind, "phases": ["a", "b"][:cls.n_phases]}


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    images = {p: Image(rng.normal(size=(8, 8, 8)), (2.0, 1.0, 1.0), name=p) for p in ("a", "b")}
    mask = np.zeros((8, 8, 8), bool)
    mask[2:6, 2:6, 2:6] = True
    return images, mask


@pytest.mark.parametrize("kind", sorted(DESCRIPTOR_KINDS))
def test_every_kind_builds_the_descriptor_that_maps_compute_with(kind, case):
    images, mask = case
    spec = SPEC.validate_python(_fields(kind))
    d = spec.build()
    assert isinstance(d, Descriptor) and d.kind == kind and d.spec == spec
    assert Descriptor(**dataclasses.asdict(d)) == d  # the JSON form hccrad serve writes (window, bins) reads back
    out = descriptor_maps(images, mask, [d])[d.name]
    a, b = images["a"].array, images["b"].array
    expected = {"difference": a - b, "intensity": a}.get(kind)
    if kind == "local_mean":
        expected = np.zeros(mask.shape)
        expected[1:7, 1:7, 1:7] = ndimage.uniform_filter(a[1:7, 1:7, 1:7], size=3, mode="reflect")
    if expected is not None:
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12, err_msg=kind)
    else:  # entropy in bits of at most 16 bins: 0 <= H <= 4 inside the tumour, 0 far from it
        assert 0 <= out[mask].min() and out[mask].max() <= 4 and out[0, 0, 0] == 0 and out[mask].max() > 0
    assert descriptor_unit(kind, intensity_unit="a.u.") == ("bits" if kind == "local_entropy" else "a.u.")


@pytest.mark.parametrize("given, old", OLD_DUMPS)
def test_the_yaml_form_reads_and_dumps_as_before_the_registry(given, old):
    spec = SPEC.validate_python(given)
    assert json.dumps(spec.model_dump(mode="json")) == json.dumps(old)  # same keys, same order
    assert SPEC.validate_python(old) == spec  # an earlier run.json reads back (window: 3 on every kind)


def test_default_descriptors_and_a_later_field_dump():
    assert [d.model_dump(mode="json") for d in HabitatSpec().descriptors] == [
        OLD_DUMPS[1][1], {**OLD_DUMPS[1][1], "name": "VE", "phases": ["portal", "pre"]}]
    e = SPEC.validate_python({"name": "e", "kind": "local_entropy", "phases": ["p"], "bins": 8})
    assert e.model_dump(mode="json")["bins"] == 8 and e.build().bins == 8  # written only when changed
    assert "bins" not in SPEC.validate_python({**e.model_dump(), "bins": 16}).model_dump()


@pytest.mark.parametrize("fields, loc, message", [
    ({"name": "x", "kind": "foo", "phases": ["a"]}, ("descriptors", 0), "expected tags: 'difference'"),
    ({"name": "x", "kind": "local_mean", "phases": ["a"], "wind": 5}, ("descriptors", 0, "local_mean", "wind"),
     "Extra inputs"),
    ({"name": "x", "phases": ["a"]}, ("descriptors", 0, "difference", "phases"), "needs 2 phase(s)"),
    ({"name": "x", "kind": "local_mean", "phases": ["a"], "window": 4}, ("descriptors", 0, "local_mean", "window"),
     "odd"),
    ({"name": "x", "kind": "intensity", "phases": ["a"], "window": 5}, ("descriptors", 0, "intensity"),
     "window applies to kind(s) ['local_entropy', 'local_mean'] only"),
    ({"name": "x", "kind": "local_mean", "phases": ["a"], "bins": 8}, ("descriptors", 0, "local_mean"),
     "bins applies to kind(s) ['local_entropy'] only"),
])
def test_problems_are_refused_naming_the_field(fields, loc, message):
    with pytest.raises(ValidationError) as err:
        HabitatSpec(descriptors=[fields])
    first = err.value.errors()[0]
    assert first["loc"] == loc and message in first["msg"], first


def test_a_descriptor_record_is_validated_by_the_registry():
    with pytest.raises(FeatureError) as err:
        Descriptor("x", "foo", ("a",))
    assert err.value.field == "descriptor x.kind" and "difference" in str(err.value)
    with pytest.raises(FeatureError) as err:
        Descriptor("e", "local_entropy", ("a",), bins=1)
    assert err.value.field == "descriptor e.bins"
    with pytest.raises(FeatureError, match="window applies"):
        Descriptor("x", "difference", ("a", "b"), window=5)  # was accepted and silently unused


def test_the_union_is_the_only_list_of_kind_names():
    union = typing.get_args(typing.get_args(DescriptorKindSpec)[0])
    assert union == DESCRIPTOR_KIND_CLASSES
    assert list(DESCRIPTOR_KINDS) == [c.model_fields["kind"].default for c in DESCRIPTOR_KIND_CLASSES]
    schema = HabitatSpec.model_json_schema()
    assert set(schema["properties"]["descriptors"]["items"]["discriminator"]["mapping"]) == set(DESCRIPTOR_KINDS)
    for module in (descriptors_module, config_spec):  # the modules that listed the kinds before the registry
        source = inspect.getsource(module)
        for kind in DESCRIPTOR_KINDS:
            assert f'"{kind}"' not in source, (module.__name__, kind)
