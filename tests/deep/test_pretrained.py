"""Pretrained weights from a checkpoint the test writes (never downloaded): weights_only loading, the
documented key mapping, strict keys, shape mismatches named, heads kept random when absent."""

from __future__ import annotations

import pytest
import torch

from hccrad.core.errors import InputError
from hccrad.deep.networks import Task
from hccrad.deep.pretrained import load_pretrained, map_keys
from hccrad.deep.spec import DeepSpec
from hccrad.deep.stage_extras import net_spec_for
from hccrad.deep.train import NetworkSpec

TASKS = (Task("response"),)
SPEC = NetworkSpec("resnet", 2, TASKS, spatial_dims=3, width=4)


class _NotATensor:
    pass


@pytest.fixture(scope="module")
def source():
    """A "pretrained" network (seed 123) whose backbone is saved DataParallel-style ("module." prefix)."""
    return SPEC.build(123)


def _save(tmp_path, state, name="w.pt"):
    path = tmp_path / name
    torch.save(state, path)
    return path


def _backbone(net, prefix="module."):
    return {prefix + k: v.clone() for k, v in net.state_dict().items() if k.startswith("backbone.")}


def test_backbone_loaded_through_the_key_map_heads_stay_seeded(tmp_path, source):
    path = _save(tmp_path, {"state_dict": _backbone(source)})
    built = NetworkSpec("resnet", 2, TASKS, spatial_dims=3, width=4, pretrained=path,
                        key_map=(("module.", ""),)).build(0)
    fresh = SPEC.build(0)
    for k, v in built.state_dict().items():
        want = source.state_dict()[k] if k.startswith("backbone.") else fresh.state_dict()[k]
        assert torch.equal(v, want), k
    # the DeepSpec keys reach the network spec the stage builds
    spec = DeepSpec(mode="3d", size=[8, 16, 16], width=4, pretrained=path, pretrained_key_map={"module.": ""})
    net = net_spec_for(spec, "resnet", 2, TASKS).build(0)
    assert torch.equal(net.backbone.trunk[0][0].weight, source.backbone.trunk[0][0].weight)


def test_whole_network_with_heads_is_loaded(tmp_path, source):
    path = _save(tmp_path, source.state_dict())
    record = load_pretrained(SPEC.build(0), path)
    assert record["heads"] == "loaded" and record["n_loaded"] == len(source.state_dict())


def test_unmapped_missing_and_misshapen_keys_are_refused_by_name(tmp_path, source):
    prefixed = _save(tmp_path, _backbone(source), "prefixed.pt")
    with pytest.raises(InputError, match="module.backbone.trunk.0.0.weight") as err:
        load_pretrained(SPEC.build(0), prefixed)
    assert err.value.field == "deep.pretrained_key_map" and "module." in err.value.hint
    partial = _backbone(source, "")
    dropped = sorted(partial)[-1]
    del partial[dropped]
    with pytest.raises(InputError, match="lacks 1 backbone key"):
        load_pretrained(SPEC.build(0), _save(tmp_path, partial, "partial.pt"))
    wrong = _backbone(source, "")
    wrong["backbone.trunk.0.0.weight"] = torch.zeros(4, 3, 3, 3, 3)   # 3 input channels, the network has 2
    with pytest.raises(InputError, match=r"'backbone.trunk.0.0.weight' has shape \(4, 3, 3, 3, 3\), the network "
                                         r"needs \(4, 2, 3, 3, 3\)"):
        load_pretrained(SPEC.build(0), _save(tmp_path, wrong, "wrong.pt"))


def test_only_plain_tensors_are_read_and_nothing_is_downloaded(tmp_path):
    code = _save(tmp_path, {"backbone.x": _NotATensor()}, "code.pt")
    with pytest.raises(InputError, match="weights_only=True"):
        load_pretrained(SPEC.build(0), code)
    with pytest.raises(InputError, match="not found") as err:
        load_pretrained(SPEC.build(0), tmp_path / "https_weights.pt")
    assert "nothing is downloaded" in err.value.hint
    with pytest.raises(InputError, match="two checkpoint keys"):
        map_keys({"module.a": torch.zeros(1), "a": torch.zeros(1)}, {"module.": ""})
    with pytest.raises(ValueError, match="pretrained_key_map needs deep.pretrained"):
        DeepSpec(pretrained_key_map={"module.": ""})
