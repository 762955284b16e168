"""Discretisation against IBSI config A and PyRadiomics; normalisation; N4 bias correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hccrad.core.errors import InputError, SpecError
from hccrad.core.image import Image
from hccrad.io import read_image, read_mask
from hccrad.preprocess import discretise, n4_bias_correction, normalise
from hccrad.testing import assert_close

CT = "ibsi/theibsi_data_sets/ibsi_1_ct_radiomics_phantom"
IH_TAGS = ("ih_mean", "ih_median", "ih_min", "ih_max", "ih_mode", "ih_p10", "ih_p90", "ih_range")


def _ibsi_reference(shared_data, name):
    import pandas as pd

    ref = pd.read_csv(shared_data / "ibsi/mirp_reference_values" / name, sep=";")
    return ref.set_index("tag")


def _ih(d: np.ndarray) -> dict:
    vals, counts = np.unique(d, return_counts=True)
    return {"ih_mean": d.mean(), "ih_median": np.median(d), "ih_min": d.min(), "ih_max": d.max(),
            "ih_mode": vals[np.argmax(counts)], "ih_p10": np.percentile(d, 10), "ih_p90": np.percentile(d, 90),
            "ih_range": d.max() - d.min()}


@pytest.mark.parametrize("route", ["nifti", "dicom"])
def test_ibsi_config_a_fixed_bin_size(shared_data, route):
    """IBSI config A: no interpolation, re-segmentation [-500, 400] HU, fixed bin size 25 HU from -500."""
    ref = _ibsi_reference(shared_data, "ibsi_1_chest_config_a.csv")
    if route == "nifti":
        img = read_image(shared_data / CT / "nifti/image/phantom.nii.gz")
        mask = read_mask(shared_data / CT / "nifti/mask/mask.nii.gz", img)
    else:
        img = read_image(shared_data / CT / "dicom/image")
        mask = read_mask(shared_data / CT / "dicom/mask/DCM_RS_00060.dcm", img)
    hu = np.round(img.array.astype(np.float64))  # IBSI: round the stored values to integers
    roi = (mask.array > 0) & (hu >= -500) & (hu <= 400)
    d = discretise(hu, bin_width=25, mask=roi, min_value=-500)
    assert d[~roi].max() == 0
    got = _ih(d[roi])
    for tag in IH_TAGS:
        assert_close(got[tag], ref.loc[tag, "reference value"], rtol=0, atol=ref.loc[tag, "tolerance"] + 1e-9,
                     what=f"{tag} ({route})")


def test_fixed_bin_number_matches_pyradiomics(rng):
    from radiomics import imageoperations

    x = rng.normal(50, 30, (6, 12, 12))
    mask = np.zeros(x.shape, bool)
    mask[1:5, 2:10, 3:11] = True
    for n in (8, 32, 256):
        ours = discretise(x, bin_count=n, mask=mask)
        theirs, _ = imageoperations.binImage(x, np.where(mask), binCount=n)
        assert np.array_equal(ours[mask], theirs[mask]), n
        assert ours[mask].min() == 1 and ours[mask].max() == n
    w = 7.5
    ours = discretise(x, bin_width=w, mask=mask, min_value=np.floor(x[mask].min() / w) * w)
    theirs, _ = imageoperations.binImage(x, np.where(mask), binWidth=w)
    assert np.array_equal(ours[mask], theirs[mask])


def test_discretise_definitions_and_errors():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 5)
    assert discretise(x, bin_count=2).ravel().tolist() == [1, 1, 2, 2, 2]  # floor(2*x/4)+1, max -> N_g
    assert discretise(x, bin_width=1.5).ravel().tolist() == [1, 1, 2, 3, 3]
    assert discretise(np.full((1, 1, 3), 5.0), bin_count=4).ravel().tolist() == [1, 1, 1]
    with pytest.raises(SpecError):
        discretise(x, bin_count=2, bin_width=1)
    with pytest.raises(SpecError):
        discretise(x)
    with pytest.raises(InputError, match="empty"):
        discretise(x, bin_count=2, mask=np.zeros(x.shape))
    with pytest.raises(InputError, match="NaN"):
        discretise(np.array([[[1.0, np.nan]]]), bin_count=2)
    with pytest.raises(InputError, match="below min_value"):
        discretise(x, bin_width=1, min_value=2)


def test_normalise_methods(rng):
    arr = rng.normal(100, 20, (4, 10, 10)).astype(np.float32)
    img = Image(arr, name="portal")
    mask = np.zeros(arr.shape, bool)
    mask[1:3, 2:8, 2:8] = True
    mm = normalise(img, "minmax", mask)
    assert_close([mm.array[mask].min(), mm.array[mask].max()], [0.0, 1.0], rtol=0, atol=1e-6, what="min-max")
    z = normalise(img, "zscore", mask)
    assert_close([z.array[mask].mean(), z.array[mask].std()], [0.0, 1.0], rtol=0, atol=1e-5, what="z-score")
    w = normalise(img, "window", window=(90, 110))
    assert w.array.min() >= 90 and w.array.max() <= 110
    assert np.array_equal(w.array[(arr > 90) & (arr < 110)], arr[(arr > 90) & (arr < 110)])
    with pytest.raises(SpecError):
        normalise(img, "window")
    with pytest.raises(SpecError):
        normalise(img, "histogram")
    with pytest.raises(InputError, match="constant"):
        normalise(img.with_array(np.ones(arr.shape, np.float32)), "zscore")


def test_n4_removes_a_smooth_bias_field(rng):
    shape = (24, 40, 40)
    z, y, x = np.indices(shape)
    truth = np.full(shape, 100.0)
    truth[(z - 12) ** 2 / 100 + (y - 20) ** 2 / 300 + (x - 20) ** 2 / 300 > 1] = 0  # ellipsoid "organ"
    truth[(z - 12) ** 2 + (y - 20) ** 2 + (x - 14) ** 2 < 16] = 160
    bias = np.exp(0.35 * (x - 20) / 20 + 0.2 * (y - 20) / 20)
    obs = (truth * bias + rng.normal(0, 1, shape)).clip(0)
    img = Image(obs.astype(np.float32), (2.0, 2.0, 2.0), name="t2")
    organ = ndimage.binary_erosion(truth == 100, iterations=2)
    out = n4_bias_correction(img, truth > 0, shrink_factor=2, iterations=(50, 40, 30))
    cv_before = obs[organ].std() / obs[organ].mean()
    cv_after = out.array[organ].std() / out.array[organ].mean()
    assert cv_after < 0.5 * cv_before, (cv_before, cv_after)
    with pytest.raises(InputError, match="non-negative"):
        n4_bias_correction(img.with_array(obs.astype(np.float32) - 500))
