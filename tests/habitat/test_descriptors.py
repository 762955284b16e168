"""Descriptor maps, voxel matrices and label volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hccrad.core.errors import FeatureError, GeometryError
from hccrad.core.image import Image
from hccrad.habitat import (
    SEED000_DESCRIPTORS,
    Descriptor,
    descriptor_maps,
    habitat_image,
    labels_to_volume,
    voxel_matrix,
)
from hccrad.testing import assert_close


def test_ae_ve_are_phase_differences(cohort):
    images, mask, _ = cohort[0]
    maps = descriptor_maps(images, mask, SEED000_DESCRIPTORS)
    assert_close(maps["AE"], images["arterial"].array - images["pre"].array, rtol=0, atol=0, what="AE")
    assert_close(maps["VE"], images["portal"].array - images["pre"].array, rtol=0, atol=0, what="VE")


def test_voxel_matrix_order_and_labels_round_trip(cohort):
    images, mask, truth = cohort[1]
    maps = descriptor_maps(images, mask, SEED000_DESCRIPTORS)
    X = voxel_matrix(maps, mask, ["VE", "AE"])
    assert X.shape == (mask.sum(), 2)
    idx = tuple(a[5] for a in np.nonzero(mask))
    assert X[5, 0] == maps["VE"][idx] and X[5, 1] == maps["AE"][idx]
    vol = labels_to_volume(truth[mask], mask)
    assert vol.dtype == np.int16
    np.testing.assert_array_equal(vol, truth)
    with pytest.raises(FeatureError, match="labels"):
        labels_to_volume(truth[mask][:-1], mask)


def test_local_mean_and_entropy_hand_values():
    arr = np.zeros((3, 3, 3))
    arr[:, :, 1] = 1.0  # a plane of ones: in the central 3x3x3 window 9 of 27 voxels are 1
    img = {"p": Image(arr)}
    mask = np.ones((3, 3, 3), bool)  # tumour intensity range [0, 1] -> 2 bins {0}, {1}
    ds = [Descriptor("m", "local_mean", ("p",)), Descriptor("e", "local_entropy", ("p",), bins=2)]
    maps = descriptor_maps(img, mask, ds)
    assert_close(maps["m"][1, 1, 1], 9 / 27, rtol=1e-12, atol=0, what="local mean")
    h = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    assert_close(maps["e"][1, 1, 1], h, rtol=1e-12, atol=0, what="local entropy")


def test_zscore_normalisation_uses_tumour_voxels(cohort):
    images, mask, _ = cohort[2]
    d = Descriptor("P", "intensity", ("portal",), normalise="zscore")
    v = descriptor_maps(images, mask, [d])["P"][mask]
    assert_close([v.mean(), v.std()], [0.0, 1.0], rtol=0, atol=1e-12, what="z-scored tumour voxels")


def test_descriptor_errors(cohort):
    images, mask, _ = cohort[0]
    with pytest.raises(FeatureError, match="needs 2 phase"):
        Descriptor("AE", "difference", ("arterial",))
    with pytest.raises(FeatureError, match="odd"):
        Descriptor("m", "local_mean", ("pre",), window=4)
    with pytest.raises(GeometryError, match="delayed"):
        descriptor_maps(images, mask, [Descriptor("DE", "difference", ("delayed", "pre"))], case_id="c0")
    with pytest.raises(GeometryError, match="empty"):
        descriptor_maps(images, np.zeros_like(mask), SEED000_DESCRIPTORS)
    shifted = dict(images)
    shifted["arterial"] = Image(images["arterial"].array, (1.0, 1.0, 1.0), name="arterial")
    with pytest.raises(GeometryError, match="grid"):
        descriptor_maps(shifted, mask, SEED000_DESCRIPTORS)
    flat = {"p": Image(np.ones(mask.shape))}
    with pytest.raises(FeatureError, match="constant"):
        descriptor_maps(flat, mask, [Descriptor("p", "intensity", ("p",), normalise="zscore")])


def test_habitat_image_keeps_geometry(cohort):
    images, mask, truth = cohort[0]
    img = habitat_image(truth, images["portal"])
    assert img.same_grid(images["portal"]) and img.array.dtype == np.int16


def test_habitat_map_written_as_nifti_aligned_with_input(cohort, tmp_path):
    from hccrad.io.volume import read_image, write_image

    images, mask, truth = cohort[3]
    portal = Image(images["portal"].array, (2.0, 0.8, 0.8), origin=(10.0, -5.0, 3.0), name="portal")
    path = write_image(habitat_image(truth, portal), tmp_path / "habitat.nii.gz")
    back = read_image(path, name="habitat")
    assert back.same_grid(portal)
    np.testing.assert_array_equal(back.array, truth)


def test_local_maps_on_cropped_box_equal_full_volume_filters(cohort):
    from scipy import ndimage

    images, mask, _ = cohort[4]
    d = Descriptor("pm", "local_mean", ("portal",), window=5)
    maps = descriptor_maps(images, mask, [d, Descriptor("pe", "local_entropy", ("portal",), bins=8)])
    full = ndimage.uniform_filter(images["portal"].array, size=5, mode="reflect")
    assert_close(maps["pm"][mask], full[mask], rtol=1e-10, atol=1e-9, what="local mean in tumour")
    assert np.all(maps["pe"][mask] >= 0) and np.all(maps["pe"][mask] <= 3.0)  # log2(8) = 3 bits max
