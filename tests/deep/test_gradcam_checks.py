"""Grad-CAM sanity checks: cascading randomisation (Adebayo 2018) and the attribution share in the tumour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hccrad.core.errors import DataError
from hccrad.deep import gradcam_checks
from hccrad.deep.data import PatchDataset, PatchSet
from hccrad.deep.gradcam_checks import attribution_share, randomisation_check, randomisation_layers
from hccrad.deep.networks import Task, build_network
from hccrad.deep.train import NetworkSpec, TrainConfig, train_model
from hccrad.testing import assert_close


@pytest.fixture(scope="module")
def blob_model():
    """A small 2-D network trained to detect a bright blob at random positions (planted signal)."""
    rng = np.random.default_rng(0)
    n, s = 48, 24
    x = rng.normal(0, 1, (n, 1, s, s)).astype(np.float32)
    y = np.arange(n) % 2
    for i in np.flatnonzero(y):
        cy, cx = rng.integers(4, s - 4, 2)
        x[i, 0, cy - 2:cy + 3, cx - 2:cx + 3] += 2.5
    ids = tuple(f"b{i}" for i in range(n))
    ps = PatchSet(x, ids, ids, ("a",), "2d", np.zeros((n, 2, 3), int))
    spec = NetworkSpec("mobilenet", 1, (Task("response"),), spatial_dims=2, width=4)
    res = train_model(spec, PatchDataset(ps, {"response": y}), None,
                      TrainConfig(epochs=10, batch_size=8, lr=0.05, early_stopping_patience=None))
    return res.network, x[y == 1][:6]


def test_correlation_falls_after_full_randomisation(blob_model):
    net, x = blob_model
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.random.get_rng_state()
    table = randomisation_check(net, x, class_index=1, seed=0)
    assert list(table["layer"]) == randomisation_layers(net)
    assert list(table["layer"])[:2] == ["head", "backbone.trunk.4"] and table["layer"].iloc[-1] == "backbone.trunk.0"
    rho = table["spearman"].dropna().to_numpy()
    assert len(rho) and ((rho >= -1) & (rho <= 1)).all()
    last = table["spearman"].iloc[-1]
    assert np.isnan(last) or last < 0.5, table   # the trained map does not survive full randomisation
    assert (table["note"] == "").sum() >= 1 or table["note"].str.startswith("map constant").all()
    for k, v in net.state_dict().items():   # the trained model is untouched
        assert torch.equal(v, before[k]), k
    assert torch.equal(torch.random.get_rng_state(), state)   # global RNG restored
    again = randomisation_check(net, x, class_index=1, seed=0)
    assert table.equals(again)   # fixed seed → same table


def test_reinitialises_exactly_the_named_blocks_in_order(monkeypatch):
    torch.manual_seed(0)
    net = build_network("resnet", 1, (Task("response"),), spatial_dims=3, width=2).eval()
    names = randomisation_layers(net)
    seen = []
    original = gradcam_checks._reinitialise

    def spy(block):
        old = [p.detach().clone() for p in block.parameters()]
        original(block)
        changed = any(not torch.equal(o, p) for o, p in zip(old, block.parameters()))
        seen.append(([tuple(p.shape) for p in old], changed))

    monkeypatch.setattr(gradcam_checks, "_reinitialise", spy)
    table = randomisation_check(net, torch.randn(1, 1, 8, 8, 8), class_index=1)
    assert list(table["layer"]) == names and len(seen) == len(names)
    for name, (shapes, changed) in zip(names, seen):
        assert shapes == [tuple(p.shape) for p in net.get_submodule(name).parameters()], name
        assert changed, name


def test_unchanged_map_is_flagged():
    """Rows at or above the `similar` threshold carry the Adebayo note; constant maps (NaN) say so instead."""
    torch.manual_seed(0)
    net = build_network("resnet", 1, (Task("response"),), spatial_dims=2, width=2).eval()
    x = torch.randn(2, 1, 12, 12)
    table = randomisation_check(net, x, class_index=1, similar=-1.0)   # any correlation counts as "unchanged"
    flagged = table["spearman"].notna()
    assert (table.loc[flagged, "note"] == gradcam_checks.UNCHANGED_NOTE).all()
    assert (table.loc[~flagged, "note"] == gradcam_checks.CONSTANT_NOTE).all()


def test_attribution_share_by_hand():
    cam = np.zeros((4, 5))
    cam[0, 0], cam[1, 1], cam[3, 4] = 3.0, 1.0, 4.0          # total 8
    mask = np.zeros((4, 5), bool)
    mask[:2, :2] = True                                       # 4 of 20 voxels; holds 3 + 1 = 4 of 8
    got = attribution_share(cam, mask)
    assert_close(got["share_in_tumour"], 0.5, rtol=0, atol=1e-12, what="share in tumour")
    assert_close(got["tumour_share"], 0.2, rtol=0, atol=1e-12, what="tumour share")
    assert_close(got["ratio"], 2.5, rtol=0, atol=1e-12, what="ratio")
    zero = attribution_share(np.zeros((4, 5)), mask)
    assert np.isnan(zero["share_in_tumour"]) and np.isnan(zero["ratio"]) and zero["tumour_share"] == 0.2
    with pytest.raises(DataError, match="negative"):
        attribution_share(-cam, mask)
    with pytest.raises(DataError, match="empty"):
        attribution_share(cam, np.zeros_like(mask))
    with pytest.raises(DataError, match="shape"):
        attribution_share(cam, mask[:3])
