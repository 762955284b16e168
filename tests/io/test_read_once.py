"""read_image decompresses a .nii.gz once (issue 24): the image is SimpleITK's own read of the .nii.gz, voxel for
voxel and in geometry, for several pixel types and a scaled (scl_slope) NIfTI; a cut-off file is still refused."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from hccrad.core.errors import InputError
from hccrad.io import volume
from hccrad.io.volume import CorruptFileError, read_image


def _geometry(img: sitk.Image) -> tuple:
    return img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection(), img.GetPixelID()


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32, np.float64])
def test_same_image_as_simpleitk_on_the_gz(tmp_path, dtype):
    rng = np.random.default_rng(0)
    img = sitk.GetImageFromArray((rng.normal(size=(5, 7, 9)) * 40).astype(dtype))
    img.SetSpacing((0.7, 0.8, 2.5))
    img.SetOrigin((-12.0, 30.5, 7.25))
    img.SetDirection((0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    path = tmp_path / "x.nii.gz"
    sitk.WriteImage(img, str(path), True)
    ref = sitk.ReadImage(str(path))
    got = read_image(path)
    back = volume.to_sitk(got)
    assert _geometry(back) == _geometry(ref)
    assert np.array_equal(got.array, sitk.GetArrayFromImage(ref)) and got.array.dtype == dtype


def test_scaled_nifti_reads_as_simpleitk_does(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    nimg = nib.Nifti1Image(data, np.diag([0.9, 0.9, 3.0, 1.0]))
    nimg.header.set_slope_inter(0.5, -1024.0)
    path = tmp_path / "scaled.nii.gz"
    nib.save(nimg, str(path))
    ref = sitk.ReadImage(str(path))
    got = read_image(path)
    assert np.array_equal(got.array, sitk.GetArrayFromImage(ref)) and got.array.dtype == sitk.GetArrayFromImage(ref).dtype
    assert _geometry(volume.to_sitk(got)) == _geometry(ref)


def test_cut_off_gz_still_refused(tmp_path):
    path = tmp_path / "cut.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.random.default_rng(1).normal(size=(8, 8, 8))), str(path), True)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptFileError, match="truncated or corrupt"):
        read_image(path)


def test_a_reader_error_names_the_users_file_not_the_temporary_copy(tmp_path):
    """SimpleITK has no NIfTI-2 reader: the integrity check passes (nibabel reads the header), the read fails."""
    data = np.random.default_rng(2).normal(size=(4, 5, 6)).astype(np.float32)
    path = tmp_path / "two.nii.gz"
    nib.save(nib.Nifti2Image(data, np.diag([0.8, 0.9, 2.0, 1.0])), str(path))
    with pytest.raises(InputError, match="cannot read image") as err:
        read_image(path, name="arterial", case="c1")
    assert err.value.file == str(path) or str(err.value.file) == str(path)
    assert "hccrad-" not in str(err.value)


def test_nan_in_a_float_gz_still_refused(tmp_path):
    arr = np.zeros((4, 4, 4), np.float32)
    arr[1, 2, 3] = np.nan
    path = tmp_path / "nan.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(arr), str(path), True)
    with pytest.raises(volume.NonFiniteVoxelsError, match="1 NaN/inf"):
        read_image(path)


def test_no_usable_temporary_folder_falls_back_to_reading_the_gz(tmp_path, monkeypatch):
    """A temporary folder that cannot be written (absent, full) costs the second decompression, not the read."""
    img = sitk.GetImageFromArray(np.arange(60, dtype=np.int16).reshape(3, 4, 5))
    path = tmp_path / "x.nii.gz"
    sitk.WriteImage(img, str(path), True)

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(volume.tempfile, "mkstemp", refuse)
    got = read_image(path)
    assert np.array_equal(got.array, sitk.GetArrayFromImage(img))
