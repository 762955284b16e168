"""inspect_case_images: each kind of broken file gives one problem naming case, file role and field;
a good case gives none. Tiny synthetic NIfTI files (16³ voxels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from hccrad.preprocess.inspect import GeometryTolerance, InputProblem, inspect_case_images

SHAPE = (16, 16, 16)


def _write(path: Path, arr: np.ndarray, *, spacing=(0.8, 0.8, 2.5), origin=(-10.0, -8.0, 30.0),
           direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)) -> Path:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    sitk.WriteImage(img, str(path), True)
    return path


def _ct(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(60, 25, SHAPE).astype(np.int16)


def _blob() -> np.ndarray:
    m = np.zeros(SHAPE, np.uint8)
    m[5:11, 4:12, 4:12] = 1
    return m


@pytest.fixture
def case(tmp_path):
    """A good case: two phases and a tumour mask on one grid."""
    return ({"image_arterial": _write(tmp_path / "art.nii.gz", _ct(1)),
             "image_portal": _write(tmp_path / "por.nii.gz", _ct(2))},
            {"mask_tumor": _write(tmp_path / "tum.nii.gz", _blob())})


def _inspect(images, masks, **kw) -> list[InputProblem]:
    return inspect_case_images("c7", images, masks, reference="image_portal", **kw)


def _only(problems: list[InputProblem]) -> InputProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_good_case_has_no_problem(case):
    assert _inspect(*case) == []


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_truncated_gzip_is_a_readability_error(case, cut):
    images, masks = case
    path = images["image_arterial"]
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    # SimpleITK alone reads the cut file without complaint (missing voxels become 0): the check must not rely on it
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(path))).shape == SHAPE
    p = _only(_inspect(images, masks))
    assert (p.case_id, p.file, p.field, p.severity) == ("c7", "image_arterial", "readability", "error")
    assert "truncated" in p.message and p.hint


def test_truncated_uncompressed_nifti_is_detected(tmp_path, case):
    images, masks = case
    img = sitk.GetImageFromArray(_ct(3))
    img.SetSpacing((0.8, 0.8, 2.5))
    img.SetOrigin((-10.0, -8.0, 30.0))
    path = tmp_path / "art.nii"
    sitk.WriteImage(img, str(path), False)
    path.write_bytes(path.read_bytes()[:-100])
    p = _only(_inspect({**images, "image_arterial": path}, masks))
    assert (p.file, p.field) == ("image_arterial", "readability") and "truncated" in p.message


def test_corrupt_gzip_crc_is_detected(case):
    images, masks = case
    path = masks["mask_tumor"]
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # inside the CRC-32 trailer: the stream decompresses but does not check out
    path.write_bytes(bytes(data))
    p = _only(_inspect(images, masks))
    assert (p.file, p.field) == ("mask_tumor", "readability")


def test_missing_file_and_blank_cell(case, tmp_path):
    images, masks = case
    probs = _inspect({**images, "image_arterial": tmp_path / "nope.nii.gz"}, {"mask_tumor": float("nan")})
    assert {(p.file, p.field) for p in probs} == {("image_arterial", "readability"), ("mask_tumor", "readability")}


@pytest.mark.parametrize("kw, what", [
    (dict(origin=(-10.0, -8.0, 32.5)), "origin"),
    (dict(spacing=(0.8, 0.8, 3.0)), "spacing"),
    (dict(direction=(0, 1.0, 0, 1.0, 0, 0, 0, 0, 1.0)), "direction"),
])
def test_mask_geometry_mismatch_names_the_property(case, tmp_path, kw, what):
    images, _ = case
    masks = {"mask_tumor": _write(tmp_path / "moved.nii.gz", _blob(), **kw)}
    p = _only(_inspect(images, masks))
    assert (p.file, p.field, p.severity) == ("mask_tumor", "geometry", "error")
    assert what in p.message and "image_portal" in p.message
    assert all(other not in p.message for other in {"origin", "spacing", "direction", "size"} - {what})


def test_phase_geometry_and_shape_mismatch(case, tmp_path):
    images, masks = case
    images = {**images, "image_arterial": _write(tmp_path / "a2.nii.gz", _ct(1)[:, :, :15])}
    p = _only(_inspect(images, masks))
    assert (p.file, p.field) == ("image_arterial", "geometry") and "size" in p.message


def test_tolerance_is_applied(case, tmp_path):
    images, _ = case
    masks = {"mask_tumor": _write(tmp_path / "m.nii.gz", _blob(), origin=(-10.0, -8.0, 30.0005))}
    assert _inspect(images, masks) == []  # 0.5 µm: within the default 1e-3 mm
    assert _only(_inspect(images, masks, tolerance=GeometryTolerance(origin_atol_mm=1e-4))).field == "geometry"


def test_labels_other_than_the_declared_one(case, tmp_path):
    images, _ = case
    masks = {"mask_tumor": _write(tmp_path / "two.nii.gz", _blob() * 2)}
    p = _only(_inspect(images, masks))
    assert (p.file, p.field, p.severity) == ("mask_tumor", "labels", "error")
    assert "[0, 2]" in p.message and "declare" in p.hint
    assert _inspect(images, masks, mask_label=2) == []
    assert _inspect(images, masks, multilabel_masks={"mask_tumor"}) == []


def test_empty_mask(case, tmp_path):
    images, _ = case
    p = _only(_inspect(images, {"mask_tumor": _write(tmp_path / "empty.nii.gz", np.zeros(SHAPE, np.uint8))}))
    assert (p.file, p.field, p.severity) == ("mask_tumor", "empty", "error")


def test_constant_image_is_a_warning(case, tmp_path):
    images, masks = case
    images = {**images, "image_arterial": _write(tmp_path / "flat.nii.gz", np.full(SHAPE, 40, np.int16))}
    p = _only(_inspect(images, masks))
    assert (p.file, p.field, p.severity) == ("image_arterial", "intensity", "warning")
    assert "constant" in p.message


def test_near_constant_inside_tumour_only(case, tmp_path):
    images, masks = case
    arr = _ct(4).astype(np.float32) * 10
    arr[_blob() == 1] = 55.0 + np.random.default_rng(5).normal(0, 0.01, int(_blob().sum()))
    images = {**images, "image_arterial": _write(tmp_path / "near.nii.gz", arr)}
    p = _only(_inspect(images, masks))
    assert (p.field, p.severity) == ("intensity", "warning") and "near-constant" in p.message


def test_nan_voxels_in_float_nifti(case, tmp_path):
    images, masks = case
    arr = _ct(6).astype(np.float32)
    arr[0, 0, :3] = np.nan
    images = {**images, "image_arterial": _write(tmp_path / "nan.nii.gz", arr)}
    p = _only(_inspect(images, masks))
    assert (p.file, p.field) == ("image_arterial", "values") and "3 NaN" in p.message


def test_several_problems_listed_at_once(case, tmp_path):
    images, _ = case
    path = images["image_arterial"]
    path.write_bytes(path.read_bytes()[:200])
    masks = {"mask_tumor": _write(tmp_path / "m.nii.gz", _blob() * 2, origin=(0.0, 0.0, 0.0))}
    probs = _inspect(images, masks)
    assert {(p.file, p.field) for p in probs} == {("image_arterial", "readability"), ("mask_tumor", "geometry"),
                                                  ("mask_tumor", "labels")}


@pytest.mark.parametrize("suffix, compress", [(".mha", False), (".mha", True), (".nrrd", False), (".nrrd", True)])
def test_truncated_metaimage_and_nrrd(case, tmp_path, suffix, compress):
    images, masks = case
    img = sitk.ReadImage(str(images["image_arterial"]))
    path = tmp_path / f"art{suffix}"
    sitk.WriteImage(img, str(path), compress)
    assert _inspect({**images, "image_arterial": path}, masks) == []  # complete: fine
    path.write_bytes(path.read_bytes()[:-40])
    p = _only(_inspect({**images, "image_arterial": path}, masks))
    assert (p.file, p.field) == ("image_arterial", "readability"), str(p)
