"""Grad-CAM: agreement with MONAI's GradCAM, localisation of a planted signal, NIfTI alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from monai.visualize import GradCAM
from torch import nn

from hccrad.core.errors import DataError
from hccrad.core.image import Image
from hccrad.deep.data import PatchDataset, PatchSet, build_patches
from hccrad.deep.gradcam import cam_to_image, grad_cam
from hccrad.deep.networks import Task, build_network
from hccrad.deep.train import NetworkSpec, TrainConfig, train_model
from hccrad.io.volume import read_image, write_image
from hccrad.testing import assert_close

from .conftest import WINDOWS, make_cohort


class _Logits(nn.Module):
    def __init__(self, net, task):
        super().__init__()
        self.net, self.task = net, task

    def forward(self, x):
        return self.net(x)[self.task]


@pytest.mark.parametrize("arch,dims,shape,layer", [
    ("resnet", 3, (2, 2, 12, 12, 12), "net.backbone.trunk.3"),
    ("mobilenet", 2, (2, 2, 24, 24), "net.backbone.trunk.4"),
    ("inception", 2, (2, 1, 20, 20), "net.backbone.trunk.3"),
])
def test_matches_monai_gradcam(arch, dims, shape, layer):
    torch.manual_seed(0)
    net = build_network(arch, shape[1], (Task("response"), Task("os", 4)), spatial_dims=dims, width=4).eval()
    x = torch.randn(shape)
    raw = grad_cam(net, x, task="os", class_index=2, normalise=False)
    # MONAI's default post-processing maps (min, max) to (1, 0); compare the raw upsampled maps
    ref = GradCAM(nn_module=_Logits(net, "os").eval(), target_layers=layer, postprocessing=lambda t: t)
    ref_map = ref(x, class_idx=2)[:, 0].detach().numpy()
    assert raw.max() > 0
    assert_close(raw, ref_map, rtol=1e-4, atol=1e-6 * float(raw.max()), what=f"{arch} Grad-CAM vs MONAI")
    ours = grad_cam(net, x, task="os", class_index=2)
    axes = tuple(range(1, ref_map.ndim))
    lo, hi = ref_map.min(axis=axes, keepdims=True), ref_map.max(axis=axes, keepdims=True)
    assert_close(ours, (ref_map - lo) / (hi - lo), rtol=1e-4, atol=1e-5, what=f"{arch} normalised Grad-CAM")
    assert ours.shape == (shape[0], *shape[2:]) and ours.min() >= 0 and ours.max() <= 1


def test_cam_mass_concentrates_on_the_planted_blob():
    """Trained to detect a blob at random positions, the map is brighter on the blob than elsewhere."""
    rng = np.random.default_rng(0)
    n, s = 48, 24
    x = rng.normal(0, 1, (n, 1, s, s)).astype(np.float32)
    y = np.arange(n) % 2
    blob = np.zeros((n, s, s), bool)
    for i in range(n):
        cy, cx = rng.integers(4, s - 4, 2)
        blob[i, cy - 2:cy + 3, cx - 2:cx + 3] = True
        if y[i]:
            x[i, 0][blob[i]] += 2.5
    ids = tuple(f"b{i}" for i in range(n))
    ps = PatchSet(x, ids, ids, ("a",), "2d", np.zeros((n, 2, 3), int))
    spec = NetworkSpec("mobilenet", 1, (Task("response"),), spatial_dims=2, width=4)
    res = train_model(spec, PatchDataset(ps, {"response": y}), None,
                      TrainConfig(epochs=10, batch_size=8, lr=0.05, early_stopping_patience=None))
    cam = grad_cam(res.network, x[y == 1], class_index=1)
    inside = np.array([c[m].mean() for c, m in zip(cam, blob[y == 1])])
    outside = np.array([c[~m].mean() for c, m in zip(cam, blob[y == 1])])
    frac_mass = np.array([c[m].sum() / c.sum() for c, m in zip(cam, blob[y == 1])])
    assert np.median(inside / outside) > 2.0
    assert (inside > outside).mean() >= 0.9
    assert np.median(frac_mass) > 2 * blob[0].mean()   # > twice the blob's share of the area


def test_3d_map_goes_back_on_the_case_grid_as_nifti(tmp_path):
    cases, _, _ = make_cohort(2, 5)
    ps = build_patches(cases, ["pre", "arterial"], mode="3d", size=(8, 16, 16), windows=WINDOWS)
    torch.manual_seed(0)
    net = build_network("resnet", 2, (Task("response"),), spatial_dims=3, width=4)
    cam = grad_cam(net, ps.x[:1])
    ref = cases[0].image("arterial")
    img = cam_to_image(cam[0], ref, ps.boxes[0])
    assert img.shape == ref.shape and img.spacing == ref.spacing
    (z0, y0, x0), (z1, y1, x1) = np.clip(ps.boxes[0], 0, None)
    assert_close(img.array[z0:z1, y0:y1, x0:x1].sum(), cam[0][-min(ps.boxes[0][0][0], 0):].sum(), rtol=1e-5,
                 atol=1e-4, what="map mass inside the box")
    back = read_image(write_image(img, tmp_path / "cam.nii.gz"))
    assert back.same_grid(ref)
    assert_close(back.array, img.array, rtol=0, atol=1e-6, what="NIfTI round trip")


def test_2d_map_and_errors():
    ref = Image(np.zeros((4, 10, 10), np.float32))
    out = cam_to_image(np.ones((4, 4), np.float32), ref, np.array([[2, 3, 3], [3, 7, 7]]))
    assert out.array.sum() == 16 and out.array[2, 3:7, 3:7].min() == 1
    with pytest.raises(DataError, match="one-slice"):
        cam_to_image(np.ones((4, 4)), ref, np.array([[0, 0, 0], [2, 4, 4]]))
    net = build_network("resnet", 1, (Task("response"),), spatial_dims=2, width=4)
    with pytest.raises(DataError, match="spatial dims"):
        grad_cam(net, np.zeros((1, 8, 8), np.float32))
    for prm in net.parameters():
        prm.requires_grad_(False)                       # frozen weights still give a map
    before = [t.clone() for t in net.state_dict().values()]
    cam = grad_cam(net, np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32))
    assert cam.shape == (1, 8, 8) and np.isfinite(cam).all()
    assert all(torch.equal(a, b) for a, b in zip(before, net.state_dict().values()))  # weights unchanged
    assert all(prm.grad is None for prm in net.parameters())


def test_3d_cam_concentrates_on_the_enhancing_blob_inside_the_tumour():
    cases, y, blobs = make_cohort(24, 2)
    ps = build_patches(cases, ["pre", "arterial"], mode="3d", size=(8, 16, 16), windows=WINDOWS)
    spec = NetworkSpec("resnet", 2, (Task("response"),), spatial_dims=3, width=4)
    res = train_model(spec, PatchDataset(ps, {"response": y}), None,
                      TrainConfig(epochs=8, batch_size=4, lr=0.01, early_stopping_patience=None))
    pos = np.flatnonzero(y == 1)
    cam = grad_cam(res.network, ps.x[pos], class_index=1)
    ratio = []
    for c, i in zip(cam, pos):
        b = np.asarray(blobs[i]) - ps.boxes[i][0]          # blob centre in patch coordinates
        m = np.zeros(c.shape, bool)
        m[max(b[0] - 2, 0):b[0] + 3, b[1] - 2:b[1] + 3, b[2] - 2:b[2] + 3] = True
        ratio.append(c[m].mean() / c[~m].mean())
    ratio = np.asarray(ratio)
    assert np.median(ratio) > 1.5 and (ratio > 1).mean() >= 0.9


def test_figures(tmp_path):
    from matplotlib.figure import Figure

    from hccrad.report.figures.deep import plot_cam_overlay, plot_loss_curves

    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    hist = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [0.7, 0.5, 0.4], "val_loss": [0.72, 0.6, 0.65]})
    assert plot_loss_curves(ax1, hist, best_epoch=1) is ax1
    assert len(ax1.get_lines()) == 3
    ax3 = fig.add_subplot(2, 2, 4)
    plot_loss_curves(ax3, pd.concat([hist.assign(fold=0), hist.assign(fold=1)]))
    assert len(ax3.get_lines()) == 4
    img = np.random.default_rng(0).normal(size=(16, 16))
    cam = np.zeros((16, 16))
    cam[4:8, 4:8] = 1
    assert plot_cam_overlay(ax2, img, cam, mask=cam > 0) is ax2
    fig.savefig(tmp_path / "f.png")
    with pytest.raises(DataError, match="same 2-D shape"):
        plot_cam_overlay(ax2, img, cam[:8])
    with pytest.raises(DataError, match="columns"):
        plot_loss_curves(ax1, pd.DataFrame({"x": [1]}))
