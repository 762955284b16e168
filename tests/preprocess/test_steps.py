"""Resampling and intensity steps after registration (`hccrad.preprocess.steps`) on tiny synthetic volumes:
anisotropic → isotropic grid (size, spacing, masks binary and non-empty, either mask interpolator), a tumour
mask emptied by a coarse grid refused naming case/file/field, the HU clip, N4 removing a planted
multiplicative bias field, the z-score inside the region, and the QC rows."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.case import Case
from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.preprocess.steps import STEPS_QC_COLUMNS, GridIntensitySteps, process_case

SPACING_ZYX = (2.5, 0.8, 0.8)
SHAPE = (8, 24, 24)


def _case(values: np.ndarray, tumour: np.ndarray, spacing=SPACING_ZYX) -> Case:
    images = {p: Image(values + off, spacing, name=p) for p, off in (("portal", 0.0), ("arterial", 15.0))}
    masks = {"tumor": Image(tumour.astype(np.uint8), spacing, name="tumor", meta={"path": "c1_tumor.nii.gz"})}
    return Case("c1", images, masks)


@pytest.fixture(scope="module")
def ct_case() -> Case:
    rng = np.random.default_rng(1)
    z, y, x = np.mgrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    tumour = ((z - 4) / 2.0) ** 2 + ((y - 12) / 5.0) ** 2 + ((x - 12) / 5.0) ** 2 < 1
    values = np.where(tumour, 80.0, 40.0) + 60.0 * rng.standard_normal(SHAPE)
    return _case(values.astype(np.float32), tumour)


def test_anisotropic_to_isotropic_keeps_masks_binary_and_non_empty(ct_case):
    for mask_interpolator in ("nearest", "label_gaussian"):
        out, rows = process_case(ct_case, GridIntensitySteps(spacing_xyz=(1.0, 1.0, 1.0),
                                                             mask_interpolator=mask_interpolator),
                                 tumour_mask="tumor", liver_mask=None)
        # round(n · s / 1 mm): 24 × 0.8 = 19.2 → 19 in x and y, 8 × 2.5 = 20 in z
        for vol in [*out.images.values(), *out.masks.values()]:
            assert vol.shape == (20, 19, 19) and vol.spacing == (1.0, 1.0, 1.0), (vol.name, vol.shape, vol.spacing)
        tumour = out.masks["tumor"].array
        assert set(np.unique(tumour)) == {0, 1}, np.unique(tumour)
        ml_before = ct_case.mask("tumor").sum() * np.prod(SPACING_ZYX) / 1000
        ml_after = tumour.sum() / 1000
        assert abs(ml_after - ml_before) / ml_before < 0.25, (mask_interpolator, ml_before, ml_after)
        assert list(rows[0]) == STEPS_QC_COLUMNS and len(rows) == 2
        assert rows[0]["spacing_before_mm"] == "0.8 × 0.8 × 2.5" and rows[0]["spacing_after_mm"] == "1 × 1 × 1"
        assert rows[0]["steps"] == "resample"
        changed = abs(rows[0]["tumour_ml_after"] - rows[0]["tumour_ml_before"]) > 0.1 * rows[0]["tumour_ml_before"]
        assert ("tumour volume" in rows[0]["warning"]) == changed, rows[0]


def test_a_grid_that_empties_the_tumour_is_refused(ct_case):
    tiny = np.zeros(SHAPE, bool)
    tiny[4, 12, 12] = True  # one 0.8 × 0.8 × 2.5 mm voxel, off the 10 mm grid's voxel centres
    case = ct_case.with_masks({"tumor": Image(tiny.astype(np.uint8), SPACING_ZYX, name="tumor",
                                              meta={"path": "c1_tumor.nii.gz"})})
    with pytest.raises(GeometryError) as err:
        process_case(case, GridIntensitySteps(spacing_xyz=(10.0, 10.0, 10.0)), tumour_mask="tumor", liver_mask=None)
    assert err.value.case == "c1" and err.value.field == "preprocess.spacing_mm"
    assert err.value.file == "c1_tumor.nii.gz" and "empty after resampling" in err.value.message


def test_hu_window_clips_every_phase(ct_case):
    out, rows = process_case(ct_case, GridIntensitySteps(hu_window=(-100.0, 150.0)), tumour_mask="tumor",
                             liver_mask=None)
    for phase, img in out.images.items():
        before = ct_case.images[phase].array
        assert img.array.min() >= -100 and img.array.max() <= 150
        inside = (before >= -100) & (before <= 150)
        np.testing.assert_array_equal(img.array[inside], before[inside].astype(np.float32))
        assert (before < -100).any() and (before > 150).any(), "the test data must reach past the window"
    clipped = ct_case.images["portal"].array[ct_case.mask("tumor")]
    expected = 100 * np.mean((clipped < -100) | (clipped > 150))
    assert rows[0]["phase"] == "portal" and rows[0]["clipped_pct"] == pytest.approx(expected, abs=1e-3)


@pytest.fixture(scope="module")
def biased_mri():
    """A smooth 'liver' (200 a.u.) with a brighter tumour, times a planted bias field 0.6 → 1.4 along x."""
    rng = np.random.default_rng(2)
    shape = (16, 24, 24)
    z, y, x = np.mgrid[:shape[0], :shape[1], :shape[2]]
    tumour = ((z - 8) / 3.0) ** 2 + ((y - 12) / 4.0) ** 2 + ((x - 12) / 4.0) ** 2 < 1
    truth = np.where(tumour, 260.0, 200.0) + 4.0 * rng.standard_normal(shape)
    bias = 0.6 + 0.8 * x / (shape[2] - 1)
    case = _case((truth * bias).astype(np.float32), tumour, spacing=(2.0, 2.0, 2.0))
    return case, truth


def test_n4_removes_a_planted_bias_field(biased_mri):
    case, truth = biased_mri
    steps = GridIntensitySteps(n4=True, region="tumour_box", box_margin_mm=30.0)
    out, rows = process_case(case, steps, tumour_mask="tumor", liver_mask=None)
    before = np.corrcoef(case.images["portal"].array.ravel(), truth.ravel())[0, 1]
    after = np.corrcoef(out.images["portal"].array.ravel(), truth.ravel())[0, 1]
    assert after > before + 0.1, (before, after)
    # the liver (uniform 200 a.u. in truth) right over left: 1.33/0.67 ≈ 2 with the field, ≈ 1 without it
    x = np.arange(truth.shape[2])[None, None, :] * np.ones(truth.shape)
    liver = ~case.mask("tumor")

    def right_over_left(a: np.ndarray) -> float:
        return float(a[liver & (x > 18)].mean() / a[liver & (x < 6)].mean())

    assert right_over_left(case.images["portal"].array) > 1.8
    assert abs(right_over_left(out.images["portal"].array) - 1.0) < 0.1, right_over_left(out.images["portal"].array)
    assert rows[0]["n4_bias_max"] / rows[0]["n4_bias_min"] > 1.5, rows[0]  # most of the 0.6 → 1.4 field
    again, _ = process_case(case, steps, tumour_mask="tumor", liver_mask=None)
    np.testing.assert_array_equal(again.images["portal"].array, out.images["portal"].array)  # one thread


def test_zscore_inside_the_region_and_its_checks(biased_mri):
    case, _ = biased_mri
    out, rows = process_case(case, GridIntensitySteps(normalise="zscore", region="tumour_box", box_margin_mm=4.0),
                             tumour_mask="tumor", liver_mask=None)
    z, y, x = np.nonzero(case.mask("tumor"))
    box = (slice(z.min() - 2, z.max() + 3), slice(y.min() - 2, y.max() + 3), slice(x.min() - 2, x.max() + 3))
    inside = out.images["portal"].array[box]
    assert abs(inside.mean()) < 1e-4 and abs(inside.std() - 1) < 1e-4
    assert rows[0]["region"] == "tumour_box" and rows[0]["region_sd"] > 0
    with pytest.raises(InputError) as err:  # the liver region without a liver mask names the case and mask
        process_case(case, GridIntensitySteps(normalise="zscore", region="liver"), tumour_mask="tumor",
                     liver_mask="liver")
    assert err.value.case == "c1" and err.value.field == "mask_liver"


def test_n4_refuses_negative_intensities(ct_case):
    with pytest.raises(InputError) as err:
        process_case(ct_case, GridIntensitySteps(n4=True), tumour_mask="tumor", liver_mask=None)
    assert err.value.case == "c1" and err.value.field == "image_portal"
