"""Crops, largest-area slices, windowing, targets, augmentation and class balancing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hccrad.core.case import Case
from hccrad.core.errors import DataError, GeometryError
from hccrad.core.image import Image
from hccrad.deep.data import (
    Augmentation, PatchDataset, balanced_sampler, build_patches, crop_2d, crop_3d, item_targets, largest_slices,
    normalise_intensity, survival_interval_classes,
)
from hccrad.testing import assert_close

from .conftest import WINDOWS


def _ramp_case(mask_box):
    """Voxel value = its flat index, so a crop tells exactly where it came from."""
    shape = (6, 10, 12)
    arr = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    m = np.zeros(shape, np.uint8)
    (z0, z1), (y0, y1), (x0, x1) = mask_box
    m[z0:z1, y0:y1, x0:x1] = 1
    return Case("ramp", {"a": Image(arr, name="a")}, {"tumor": Image(m, name="tumor")}), arr


def test_crop_3d_is_centred_on_the_mask_box_and_pads_outside():
    case, arr = _ramp_case(((2, 4), (3, 7), (4, 6)))
    patch, box = crop_3d(case, ["a"], (2, 4, 2), normalise="window", windows={"a": (0, 1e6)})
    assert patch.shape == (1, 2, 4, 2)
    np.testing.assert_array_equal(box, [[2, 3, 4], [4, 7, 6]])
    assert_close(patch[0] * 1e6, arr[2:4, 3:7, 4:6], rtol=1e-5, atol=1e-2, what="cropped voxels")
    # a window larger than the volume is padded with the channel minimum (0 after windowing)
    patch, box = crop_3d(case, ["a"], (8, 14, 14), windows={"a": (0, 1e6)})
    assert patch.shape == (1, 8, 14, 14)
    assert (box[0] < 0).any() and patch.min() == 0.0
    inside = patch[0, -box[0, 0]:-box[0, 0] + 6, -box[0, 1]:-box[0, 1] + 10, -box[0, 2]:-box[0, 2] + 12]
    assert_close(inside * 1e6, arr, rtol=1e-5, atol=1e-2, what="padded crop interior")


def test_resize_fit_maps_the_box_to_the_requested_size():
    case, _ = _ramp_case(((1, 5), (2, 8), (3, 9)))
    patch, box = crop_3d(case, ["a"], (4, 8, 8), normalise="zscore", fit="resize", margin=1)
    assert patch.shape == (1, 4, 8, 8)
    np.testing.assert_array_equal(box, [[0, 1, 2], [6, 9, 10]])


def test_largest_slices_order_and_2d_crops():
    m = np.zeros((5, 8, 8), bool)
    m[1, :2, :2] = True      # area 4
    m[3, :4, :4] = True      # area 16
    m[4, :3, :3] = True      # area 9
    np.testing.assert_array_equal(largest_slices(m, 3), [3, 4, 1])
    with pytest.raises(DataError):
        largest_slices(m, 4)
    case = Case("s", {"a": Image(np.ones((5, 8, 8), np.float32) * np.arange(5)[:, None, None])},
                {"tumor": Image(m.astype(np.uint8))})
    x, boxes = crop_2d(case, ["a"], (6, 6), k=2, windows={"a": (0, 4)})
    assert x.shape == (2, 1, 6, 6)
    np.testing.assert_array_equal(boxes[:, 0, 0], [3, 4])
    assert_close(x[:, 0, 3, 3], [0.75, 1.0], rtol=0, atol=1e-6, what="slice values (z/4)")


def test_build_patches_groups_items_by_patient(cohort):
    cases, _, _ = cohort
    ps = build_patches(cases[:4], ["pre", "arterial"], mode="2d", size=(16, 16), k=3, windows=WINDOWS)
    assert ps.x.shape == (12, 2, 16, 16) and ps.x.dtype == np.float32
    assert ps.case_ids[:3] == (cases[0].case_id,) * 3
    assert list(ps.summary().columns[:2]) == ["case_id", "patient_id"]
    p3 = build_patches(cases[:4], ["pre", "arterial"], mode="3d", size=(8, 16, 16), windows=WINDOWS)
    assert p3.x.shape == (4, 2, 8, 16, 16) and p3.spatial_dims == 3
    assert 0.0 <= p3.x.min() and p3.x.max() <= 1.0


def test_bad_inputs_raise_clear_errors(cohort):
    cases, _, _ = cohort
    with pytest.raises(DataError, match="no intensity window"):
        build_patches(cases[:1], ["pre"], size=(4, 8, 8), windows={"arterial": (0, 1)})
    empty = Case("e", {"a": Image(np.zeros((3, 4, 4)))}, {"tumor": Image(np.zeros((3, 4, 4), np.uint8))})
    with pytest.raises(GeometryError, match="empty"):
        crop_3d(empty, ["a"], (2, 2, 2), normalise="zscore")
    bad = Case("b", {"a": Image(np.zeros((3, 4, 4)))}, {"tumor": Image(np.ones((3, 4, 5), np.uint8))})
    with pytest.raises(GeometryError, match="shape"):
        crop_3d(bad, ["a"], (2, 2, 2), normalise="zscore")
    with pytest.raises(DataError, match="hi <= lo"):
        normalise_intensity(np.zeros(3), window=(1, 1))


def test_windowing_formula():
    a = np.array([-200.0, 0.0, 100.0, 500.0])
    assert_close(normalise_intensity(a, window=(-100, 300)), [0.0, 0.25, 0.5, 1.0], rtol=0, atol=1e-7,
                 what="windowed")
    z = normalise_intensity(a, method="zscore")
    assert_close([z.mean(), z.std()], [0.0, 1.0], rtol=0, atol=1e-6, what="z-score moments")


def test_survival_interval_classes_with_censoring_rule():
    t = [5, 12, 13, 30, 40, 10, 40, 36]
    e = [1, 1, 1, 1, 1, 0, 0, 0]
    got = survival_interval_classes(t, e, cuts=(12, 24, 36))
    # deaths: (0,12] -> 0, (12,24] -> 1, (24,36] -> 2, >36 -> 3; censored <36: unknown; censored >=36: 3
    assert_close(got, [0, 0, 1, 2, 3, np.nan, 3, 3], rtol=0, atol=0, what="interval classes")


def test_item_targets_marks_missing_as_minus_one(cohort):
    cases, _, _ = cohort
    ps = build_patches(cases[:3], ["pre"], mode="2d", size=(8, 8), k=2, windows=WINDOWS)
    table = pd.DataFrame({"response": [1, 0, 1], "mtm": [np.nan, 1, 0]}, index=[c.case_id for c in cases[:3]])
    y = item_targets(ps, table)
    np.testing.assert_array_equal(y["response"], [1, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(y["mtm"], [-1, -1, 1, 1, 0, 0])
    with pytest.raises(DataError, match="no target row"):
        item_targets(ps, table.iloc[:2])


def test_augmentation_only_in_training_mode_and_reproducible(cohort):
    cases, _, _ = cohort
    ps = build_patches(cases[:2], ["pre", "arterial"], mode="3d", size=(8, 16, 16), windows=WINDOWS)
    ds = PatchDataset(ps, {"response": np.array([0, 1])}, augmentation=Augmentation(), seed=3)
    x_eval, y = ds[1]
    assert torch.equal(x_eval, torch.from_numpy(ps.x[1])) and int(y["response"]) == 1
    ds.train()
    a1 = ds[1][0]
    assert not torch.equal(a1, x_eval) and a1.shape == x_eval.shape
    assert torch.equal(ds[1][0], a1)            # same (seed, epoch, item) -> same sample
    ds.set_epoch(1)
    assert not torch.equal(ds[1][0], a1)        # a new epoch draws new transforms
    ds.eval()
    assert torch.equal(ds[1][0], x_eval)


def test_identity_augmentation_returns_the_input(rng):
    x = rng.normal(size=(2, 6, 10, 10)).astype(np.float32)
    aug = Augmentation(shift=0, rotation_deg=0, flip=False, zoom=(1, 1), intensity_scale=0, intensity_shift=0)
    assert_close(aug.apply(x, rng), x, rtol=0, atol=1e-5, what="identity transform")


def test_balanced_sampler_equalises_classes():
    y = np.array([0] * 90 + [1] * 10)
    idx = np.array(list(balanced_sampler(y, seed=0)) + list(balanced_sampler(y, seed=1)))
    frac = (y[idx] == 1).mean()
    assert 0.4 < frac < 0.6, frac
    assert list(balanced_sampler(y, seed=5)) == list(balanced_sampler(y, seed=5))
