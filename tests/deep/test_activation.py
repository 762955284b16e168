"""Feature-map activations (Zeiler & Fergus 2014; seed 002 fig. 4), panels by predicted class, the layer table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from scipy import ndimage

from hccrad.core.errors import DataError, ModelError
from hccrad.deep.activation import activation_maps, activation_panels
from hccrad.deep.architecture import layer_table
from hccrad.deep.data import build_patches
from hccrad.deep.networks import Task, build_network
from hccrad.report.figures.deep import plot_activation_panels
from hccrad.testing import assert_close

from .conftest import WINDOWS


@pytest.fixture(scope="module")
def net2d():
    torch.manual_seed(0)
    return build_network("resnet", 2, (Task("response"), Task("os", 3), Task("mtm")), spatial_dims=2, width=4).eval()


def test_channel_mean_upsampled_like_scipy_zoom(net2d):
    x = np.random.default_rng(0).normal(size=(3, 2, 16, 16)).astype(np.float32)
    maps = activation_maps(net2d, x)
    assert maps.shape == (3, 16, 16)
    with torch.no_grad():  # independent path: run the trunk (it ends in cam_layer), no hooks
        feats = net2d.backbone.trunk(torch.from_numpy(x)).numpy()
    assert feats.shape[2:] == (4, 4)
    mean = feats.mean(axis=1)
    # bilinear, align_corners=False == pixel-area mapping with edge clamping (scipy grid_mode, mode nearest)
    ref = np.stack([ndimage.zoom(m, 4, order=1, grid_mode=True, mode="nearest") for m in mean])
    assert_close(maps, ref, rtol=0, atol=1e-5, what="activation map vs scipy reference")
    # a full-resolution layer needs no upsampling: exactly its channel mean
    first = net2d.backbone.trunk[0]
    with torch.no_grad():
        a0 = first(torch.from_numpy(x)).numpy().mean(axis=1)
    assert_close(activation_maps(net2d, x, layer=first), a0, rtol=0, atol=1e-6, what="stem channel mean")
    assert not net2d.training


def test_3d_maps_and_bad_input():
    torch.manual_seed(1)
    net = build_network("mobilenet", 1, (Task("response"),), spatial_dims=3, width=4)
    x = np.zeros((2, 1, 8, 12, 12), dtype=np.float32)
    assert activation_maps(net, x).shape == (2, 8, 12, 12)
    with pytest.raises(DataError):
        activation_maps(net, x[0])
    with pytest.raises(ModelError):
        activation_maps(net, x, layer=torch.nn.Conv3d(1, 1, 1))


def _predictions(ids, rng):
    os_p = rng.dirichlet(np.ones(3), size=len(ids))
    m1 = rng.uniform(size=len(ids))
    df = pd.DataFrame({f"os_p{j}": os_p[:, j] for j in range(3)}, index=ids)
    df["mtm_p0"], df["mtm_p1"] = 1 - m1, m1
    return df


def test_panels_pick_the_most_confident_case_per_group(net2d, cohort):
    cases, _, _ = cohort
    patches = build_patches(cases[:12], ["pre", "arterial"], mode="2d", size=(16, 16), k=2, windows=WINDOWS)
    ids = list(dict.fromkeys(patches.case_ids))
    pred = _predictions(ids, np.random.default_rng(3))
    pred.loc[ids[0], ["os_p0", "os_p1", "os_p2"]] = [0.0, 0.0, 1.0]
    pred.loc[ids[0], ["mtm_p0", "mtm_p1"]] = [0.0, 1.0]  # certain: shown in cell (2, 1)
    panels = activation_panels(net2d, patches, pred, rows="os", cols="mtm", row_labels=["1y", "2y", ">2y"],
                               col_labels=["non-MTM", "MTM"])
    t = panels.summary()
    r = pred[["os_p0", "os_p1", "os_p2"]].to_numpy().argmax(1)
    c = pred[["mtm_p0", "mtm_p1"]].to_numpy().argmax(1)
    assert len(t) == 6 + 2 and t["n_cases"].iloc[:6].sum() == len(ids)
    marg = t.iloc[6:]
    assert list(marg["row_class"]) == ["all", "all"] and list(marg["n_cases"]) == [int((c == 0).sum()), int((c == 1).sum())]
    conf = pred[["os_p0", "os_p1", "os_p2"]].to_numpy().max(1) * pred[["mtm_p0", "mtm_p1"]].to_numpy().max(1)
    maps = activation_maps(net2d, patches.x)
    per_case = {cid: maps[np.asarray(patches.case_ids) == cid].mean() for cid in ids}
    for i in range(3):
        for j in range(2):
            row = t.iloc[2 * i + j]
            members = [cid for cid, a, b in zip(ids, r, c) if (a, b) == (i, j)]
            assert row["n_cases"] == len(members)
            if not members:
                assert panels.cells[(i, j)] is None and row["shown_case"] == ""
                continue
            best = members[int(np.argmax([conf[ids.index(m)] for m in members]))]
            assert row["shown_case"] == best and panels.cells[(i, j)][0] == best
            assert_close(row["mean_intensity"], np.mean([per_case[m] for m in members]), rtol=1e-6, atol=1e-7,
                         what=f"mean activation of group ({i}, {j})")
            first = patches.case_ids.index(best)
            assert_close(panels.cells[(i, j)][2], maps[first], rtol=0, atol=0, what="shown map")
    assert panels.cells[(2, 1)][0] == ids[0]
    mtm_cases = [cid for cid, b in zip(ids, c) if b == 1]
    assert_close(marg["mean_intensity"].iloc[1], np.mean([per_case[m] for m in mtm_cases]), rtol=1e-6, atol=1e-7,
                 what="mean activation of the predicted-MTM group")


def test_plot_grid_says_no_case(net2d, cohort):
    cases, _, _ = cohort
    patches = build_patches(cases[:4], ["pre", "arterial"], mode="2d", size=(16, 16), windows=WINDOWS)
    ids = list(dict.fromkeys(patches.case_ids))
    pred = pd.DataFrame({"response_p0": [0.9] * 4, "response_p1": [0.1] * 4}, index=ids)  # all class 0
    panels = activation_panels(net2d, patches, pred, rows="response")
    assert panels.cells[(1, 0)] is None and panels.cols is None
    fig = Figure(figsize=(4, 5))
    plot_activation_panels(fig, panels)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no case" in texts
    assert len(fig.axes) == 3  # 2 cells + colour bar
    with pytest.raises(DataError):
        activation_panels(net2d, patches, pred, rows="mtm")


def test_layer_table_counts_every_parameter(net2d):
    t = layer_table(net2d, (2, 16, 16))
    assert list(t.columns) == ["layer", "type", "output_shape", "parameters"]
    assert t["parameters"].sum() == sum(p.numel() for p in net2d.parameters())
    assert t.iloc[0]["type"] == "Conv2d" and t.iloc[0]["output_shape"] == "4×16×16"
    assert t.iloc[-1]["type"] == "Linear" and t.iloc[-1]["output_shape"] == "2"
    conv = t[t["type"] == "Conv2d"].iloc[0]
    assert conv["parameters"] == 2 * 4 * 3 * 3  # bias-free 3×3 convolution, 2 → 4 channels
    with pytest.raises(DataError):
        layer_table(net2d, (2, 16))
