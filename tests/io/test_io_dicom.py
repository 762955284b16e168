"""DICOM series reading: sorting by position, gaps, duplicates, corrupt files, mixed series, permissions."""

from __future__ import annotations

import os

import numpy as np
import pydicom
import pytest

from hccrad.core.errors import InputError
from hccrad.core.image import Image
from hccrad.io import list_series, read_dicom_series, read_image
from hccrad.io.dicom_write import write_dicom_series


def test_round_trip_sorted_by_position_not_file_name(tmp_path, make_image):
    # z axis pointing to the feet (direction with negative z column) and shuffled file names
    img = make_image(direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, -1.0))
    paths = write_dicom_series(img, tmp_path / "s", series_description="Portal venous")
    rng = np.random.default_rng(3)
    for i, p in enumerate(rng.permutation(paths)):
        p.rename(p.with_name(f"x{i:03d}.dcm"))
    back = read_image(tmp_path / "s", name="portal")
    # reading sorts ascending along the normal (r x c = +z), so the volume comes back flipped in z
    assert np.array_equal(back.array, img.array[::-1])
    expected_origin = np.asarray(img.origin) + (img.shape[0] - 1) * img.spacing[0] * np.array([0, 0, -1.0])
    np.testing.assert_allclose(back.origin, expected_origin, atol=1e-4)
    np.testing.assert_allclose(back.spacing, img.spacing, atol=1e-4)
    np.testing.assert_allclose(back.direction, (1, 0, 0, 0, 1, 0, 0, 0, 1), atol=1e-6)
    # same physical content: voxel (k) of back is voxel (n-1-k) of img, at the same position
    assert back.meta["modality"] == "CT" and "series_description" not in back.meta  # no free text
    assert "PatientName" not in back.meta and "patient_id" not in back.meta


def test_missing_slice_is_detected(tmp_path, make_image):
    paths = write_dicom_series(make_image(), tmp_path / "s")
    paths[4].unlink()
    with pytest.raises(InputError, match=r"missing slice") as err:
        read_dicom_series(tmp_path / "s")
    assert "IM00005.dcm" in str(err.value) and "how to fix" in str(err.value)


def test_duplicate_slice_is_rejected(tmp_path, make_image):
    paths = write_dicom_series(make_image(), tmp_path / "s")
    ds = pydicom.dcmread(paths[3])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp_path / "s" / "dup.dcm")
    with pytest.raises(InputError, match="same position"):
        read_dicom_series(tmp_path / "s")


def test_corrupt_file_is_named(tmp_path, make_image):
    write_dicom_series(make_image(), tmp_path / "s")
    (tmp_path / "s" / "IM00002.dcm").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError, match="corrupt or non-DICOM") as err:
        read_dicom_series(tmp_path / "s")
    assert "IM00002.dcm" in str(err.value)


def test_truncated_pixel_data_is_named(tmp_path, make_image):
    paths = write_dicom_series(make_image(), tmp_path / "s")
    raw = paths[1].read_bytes()
    paths[1].write_bytes(raw[:-200])
    with pytest.raises(InputError) as err:
        read_dicom_series(tmp_path / "s")
    assert "IM00001.dcm" in str(err.value)


def test_mixed_series_needs_a_choice(tmp_path, make_image):
    art = make_image(name="arterial", seed=1)
    por = make_image(name="portal", seed=2)
    write_dicom_series(art, tmp_path / "mix", series_description="ART 1.0 B30f", file_prefix="A")
    write_dicom_series(por, tmp_path / "mix", series_description="PV 1.0 B30f", file_prefix="P")
    with pytest.raises(InputError, match="mixed series") as err:
        read_dicom_series(tmp_path / "mix")
    assert "ART 1.0 B30f" in str(err.value) and "PV 1.0 B30f" in str(err.value)
    got = read_dicom_series(tmp_path / "mix", description="pv 1.0")
    assert np.array_equal(got.array, por.array)
    table = list_series(tmp_path / "mix")
    assert sorted(table["n_files"]) == [8, 8]
    uid = table.loc[table.description.str.startswith("ART"), "series_uid"].item()
    assert np.array_equal(read_dicom_series(tmp_path / "mix", series_uid=uid).array, art.array)
    with pytest.raises(InputError, match="no series"):
        read_dicom_series(tmp_path / "mix", series_uid="1.2.3")


def test_single_slice_is_2d(tmp_path):
    img = Image(np.zeros((1, 8, 8), np.int16))
    write_dicom_series(img, tmp_path / "s")
    with pytest.raises(InputError, match="single slice"):
        read_dicom_series(tmp_path / "s")


def test_non_existent_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.nii.gz", case="c1")
    with pytest.raises(InputError, match="does not exist"):
        read_dicom_series(tmp_path / "nope")


def test_empty_folder(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match="no DICOM image files"):
        read_dicom_series(tmp_path / "e")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="running as root: chmod 000 files stay readable, so the permission error cannot occur")
def test_unreadable_file(tmp_path, make_image):
    paths = write_dicom_series(make_image(), tmp_path / "s")
    paths[0].chmod(0)
    try:
        with pytest.raises(InputError, match="not readable"):
            read_dicom_series(tmp_path / "s")
    finally:
        paths[0].chmod(0o644)


def test_unreadable_file_simulated(tmp_path, make_image, monkeypatch):
    """Same check without relying on the user id: os.access reports the file unreadable."""
    paths = write_dicom_series(make_image(), tmp_path / "s")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(paths[2]) else real(p, mode))
    with pytest.raises(InputError, match="not readable") as err:
        read_dicom_series(tmp_path / "s")
    assert "IM00002.dcm" in str(err.value)
