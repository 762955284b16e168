"""check_geometry: every problem gives a GeometryError naming the case, the file and what differs."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from hccrad.core.errors import GeometryError
from hccrad.core.image import Image
from hccrad.io import check_geometry, write_image


def test_good_case_passes_and_reports(make_image, make_mask):
    por = make_image()
    art = make_image(name="arterial", seed=1, origin=(-8.0, -8.0, 31.0))  # shifted but overlapping
    rec = check_geometry("c1", {"arterial": art, "portal": por}, make_mask(por))
    assert rec["reference_phase"] == "portal" and rec["mask_voxels"] == int(make_mask(por).array.sum())


@pytest.mark.parametrize("what, kwargs, pattern", [
    ("size", dict(shape=(8, 20, 25)), r"size \(z,y,x\) \(8, 20, 25\) vs \(8, 20, 24\)"),
    ("spacing", dict(spacing=(2.5, 0.8, 0.9)), r"spacing"),
    ("origin", dict(origin=(-10.0, -8.0, 33.0)), r"origin"),
    ("direction", dict(direction=(0, 1.0, 0, 1.0, 0, 0, 0, 0, 1.0)), r"direction"),
])
def test_mask_grid_mismatch_names_what_differs(make_image, what, kwargs, pattern):
    img = make_image()
    other = make_image(**kwargs)
    mask = other.with_array((other.array > 100).astype(np.uint8))
    with pytest.raises(GeometryError, match=pattern) as err:
        check_geometry("c2", {"portal": img}, mask)
    msg = str(err.value)
    assert "case 'c2'" in msg and "how to fix" in msg and "resample_to_reference" in msg


def test_mask_problems(make_image):
    img = make_image()
    empty = img.with_array(np.zeros(img.shape, np.uint8))
    with pytest.raises(GeometryError, match="mask is empty"):
        check_geometry("c3", {"portal": img}, empty)
    one = empty.array.copy()
    one[4, 10, 10] = 1
    with pytest.raises(GeometryError, match="1 voxel"):
        check_geometry("c3", {"portal": img}, img.with_array(one))
    assert check_geometry("c3", {"portal": img}, img.with_array(one), min_voxels=1)["mask_voxels"] == 1
    two = one.copy()
    two[4, 10, 11] = 3
    with pytest.raises(GeometryError, match=r"label values \[3\]"):
        check_geometry("c3", {"portal": img}, img.with_array(two))
    assert check_geometry("c3", {"portal": img}, img.with_array(two), expected_labels=(1, 3))


def test_nan_voxels(make_image, make_mask):
    img = make_image()
    arr = img.array.astype(np.float32)
    arr[0, 0, :3] = np.nan
    with pytest.raises(GeometryError, match="3 NaN/inf voxel"):
        check_geometry("c4", {"portal": img.with_array(arr)}, make_mask(img))


def test_two_d_image_file_and_single_slice(tmp_path, make_image):
    flat = sitk.GetImageFromArray(np.zeros((10, 10), np.int16))
    sitk.WriteImage(flat, str(tmp_path / "flat.nii.gz"))
    with pytest.raises(GeometryError, match="2-D") as err:
        check_geometry("c5", {"portal": tmp_path / "flat.nii.gz"}, None)
    assert "flat.nii.gz" in str(err.value)
    single = Image(np.zeros((1, 10, 10), np.int16), name="portal")
    with pytest.raises(GeometryError, match="effectively 2-D"):
        check_geometry("c5", {"portal": single}, None)


def test_phases_that_do_not_overlap(make_image, make_mask):
    por = make_image()
    far = make_image(name="arterial", origin=(500.0, -8.0, 30.0))
    with pytest.raises(GeometryError, match="do not overlap"):
        check_geometry("c6", {"arterial": far, "portal": por}, make_mask(por))


def test_mask_outside_another_phase(make_image, make_mask):
    por = make_image()
    short = make_image(name="arterial", shape=(2, 20, 24))  # covers z 30..35 mm only; the blob is deeper
    with pytest.raises(GeometryError, match="outside the field of view of phase 'arterial'"):
        check_geometry("c7", {"arterial": short, "portal": por}, make_mask(por))


def test_paths_are_named(tmp_path, make_image, make_mask):
    img = make_image()
    write_image(img, tmp_path / "portal.nii.gz")
    write_image(img.with_array(np.zeros(img.shape, np.uint8)), tmp_path / "tumor.nii.gz")
    with pytest.raises(GeometryError, match="tumor.nii.gz"):
        check_geometry("c8", {"portal": tmp_path / "portal.nii.gz"}, tmp_path / "tumor.nii.gz")


def test_read_image_reports_nifti_nan(tmp_path, make_image):
    """ITK would silently turn NaN into 0 when reading NIfTI; read_image must refuse instead."""
    from hccrad.io import read_image

    img = make_image()
    arr = img.array.astype(np.float32)
    arr[1, 2, 3] = np.nan
    write_image(img.with_array(arr), tmp_path / "nan.nii.gz")
    with pytest.raises(GeometryError, match="1 NaN/inf voxel") as err:
        read_image(tmp_path / "nan.nii.gz", case="c9")
    assert "nan.nii.gz" in str(err.value)
