"""Mask readers: label images, RTSTRUCT, DICOM-SEG, Slicer .seg.nrrd; the IBSI CT phantom both ways."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.io import read_image, read_mask, write_image
from hccrad.io.dicom_write import write_dicom_series
from hccrad.io.masks import rasterise_rtstruct
from hccrad.io.volume import to_sitk
from hccrad.testing import assert_close

CT = "ibsi/theibsi_data_sets/ibsi_1_ct_radiomics_phantom"


def test_ibsi_ct_phantom_dicom_rtstruct_equals_nifti(shared_data):
    """The same CT and GTV through DICOM + RTSTRUCT and through NIfTI: identical image and mask."""
    d_img = read_image(shared_data / CT / "dicom/image", name="ct")
    n_img = read_image(shared_data / CT / "nifti/image/phantom.nii.gz", name="ct")
    assert d_img.same_grid(n_img, atol=1e-4)
    assert_close(np.abs(d_img.array - np.round(n_img.array)).max(), 0.0, rtol=0, atol=0, what="max |HU diff|")
    d_mask = read_mask(shared_data / CT / "dicom/mask/DCM_RS_00060.dcm", d_img, labels={"GTV-1": 1})
    n_mask = read_mask(shared_data / CT / "nifti/mask/mask.nii.gz", n_img, labels={"gtv": 1})
    a, b = d_mask.array > 0, n_mask.array > 0
    dice = 2 * np.sum(a & b) / (a.sum() + b.sum())
    assert_close(dice, 1.0, rtol=0, atol=0, what="Dice RTSTRUCT vs NIfTI mask")
    assert_close(int(np.sum(a ^ b)), 0, rtol=0, atol=0, what="voxels that differ")
    assert_close(int(a.sum()), 125256, rtol=0, atol=0, what="GTV voxel count")
    assert d_mask.meta["labels"] == {"GTV-1": 1}


def test_rtstruct_needs_reference_and_known_roi(shared_data):
    path = shared_data / CT / "dicom/mask/DCM_RS_00060.dcm"
    with pytest.raises(InputError, match="needs the reference image"):
        read_mask(path)
    ref = read_image(shared_data / CT / "nifti/image/phantom.nii.gz")
    with pytest.raises(InputError, match="segment 'liver' not found"):
        read_mask(path, ref, labels={"liver": 2})


def _rtstruct(contours_xyz: list[np.ndarray]) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.Modality = "RTSTRUCT"
    roi = pydicom.Dataset()
    roi.ROINumber, roi.ROIName = 1, "Tumor"
    ds.StructureSetROISequence = [roi]
    rc = pydicom.Dataset()
    rc.ReferencedROINumber = 1
    seq = []
    for pts in contours_xyz:
        c = pydicom.Dataset()
        c.ContourGeometricType = "CLOSED_PLANAR"
        c.NumberOfContourPoints = len(pts)
        c.ContourData = [float(v) for v in np.asarray(pts).ravel()]
        seq.append(c)
    rc.ContourSequence = seq
    ds.ROIContourSequence = [rc]
    return ds


def test_rtstruct_square_with_hole_in_physical_coordinates():
    ref = Image(np.zeros((3, 20, 20), np.int16), spacing=(2.0, 0.5, 0.5), origin=(10.0, -5.0, 100.0))
    z = 100.0 + 1 * 2.0  # slice 1
    outer = np.array([[11.2, -3.8, z], [14.8, -3.8, z], [14.8, -0.2, z], [11.2, -0.2, z]])  # idx x 2.4..9.6
    inner = np.array([[12.2, -2.8, z], [13.8, -2.8, z], [13.8, -1.2, z], [12.2, -1.2, z]])  # idx x 4.4..7.6
    m = rasterise_rtstruct(_rtstruct([outer, inner]), ref)
    expected = np.zeros(ref.shape, bool)
    expected[1, 3:10, 3:10] = True
    expected[1, 5:8, 5:8] = False
    assert np.array_equal(m.array > 0, expected)
    off = outer.copy()
    off[:, 2] = 101.0  # half a slice off the grid
    with pytest.raises(GeometryError, match="does not lie on a slice"):
        rasterise_rtstruct(_rtstruct([off]), ref)


def test_label_image_on_other_grid_is_rejected(tmp_path, make_image, make_mask):
    img = make_image()
    mask = make_mask(img)
    shifted = Image(mask.array, img.spacing, (img.origin[0] + 3.0, *img.origin[1:]), img.direction)
    write_image(shifted, tmp_path / "m.nii.gz")
    with pytest.raises(GeometryError, match=r"(?s)origin .* how to fix") as err:
        read_mask(tmp_path / "m.nii.gz", img, case="c7")
    assert "case 'c7'" in str(err.value) and "resample_to_reference" in str(err.value)
    write_image(mask, tmp_path / "ok.nii.gz")
    assert np.array_equal(read_mask(tmp_path / "ok.nii.gz", img).array, mask.array)


def test_label_image_with_unexpected_values(tmp_path, make_image):
    img = make_image()
    arr = np.zeros(img.shape, np.uint8)
    arr[2, 3, 3], arr[3, 4, 4] = 1, 7
    write_image(img.with_array(arr), tmp_path / "m.nii.gz")
    with pytest.raises(GeometryError, match=r"label values \[7\]"):
        read_mask(tmp_path / "m.nii.gz", img, labels={"tumor": 1})
    prob = img.with_array(np.full(img.shape, 0.3, np.float32))
    write_image(prob, tmp_path / "p.nii.gz")
    with pytest.raises(GeometryError, match="probability map"):
        read_mask(tmp_path / "p.nii.gz")


def test_slicer_seg_nrrd_names_to_labels(tmp_path, make_image):
    img = make_image()
    arr = np.zeros(img.shape, np.uint8)
    arr[2:5, 5:10, 5:10] = 1  # liver drawn as value 1
    arr[3, 6:8, 6:8] = 2  # tumour as value 2
    itk = to_sitk(img.with_array(arr))
    for key, val in {"Segment0_Name": "Liver", "Segment0_LabelValue": "1", "Segment0_Layer": "0",
                     "Segment0_ID": "Segment_1", "Segment1_Name": "Tumor", "Segment1_LabelValue": "2",
                     "Segment1_Layer": "0", "Segment1_ID": "Segment_2"}.items():
        itk.SetMetaData(key, val)
    sitk.WriteImage(itk, str(tmp_path / "case.seg.nrrd"), True)
    m = read_mask(tmp_path / "case.seg.nrrd", img, labels={"tumor": 1, "LIVER": 2})
    assert m.meta["labels"] == {"Tumor": 1, "Liver": 2}
    assert int((m.array == 1).sum()) == 4 and int((m.array == 2).sum()) == 75 - 4
    only = read_mask(tmp_path / "case.seg.nrrd", labels={"tumor": 1})
    assert int(only.array.sum()) == 4
    with pytest.raises(InputError, match="not found"):
        read_mask(tmp_path / "case.seg.nrrd", labels={"spleen": 3})


def test_dicom_seg_round_trip(tmp_path, make_image, make_mask):
    hd = pytest.importorskip("highdicom")
    img = make_image()
    mask = make_mask(img)
    write_dicom_series(img, tmp_path / "ct", series_description="portal")
    ref = read_image(tmp_path / "ct")
    sources = sorted((pydicom.dcmread(p) for p in (tmp_path / "ct").glob("*.dcm")),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    desc = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Tumour",
        segmented_property_category=hd.sr.CodedConcept("49755003", "SCT", "Morphologically Altered Structure"),
        segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask.array.astype(bool), segmentation_type="BINARY",
        segment_descriptions=[desc], series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="hccrad-test", manufacturer_model_name="test", software_versions="0",
        device_serial_number="0")
    seg.save_as(tmp_path / "seg.dcm")
    back = read_mask(tmp_path / "seg.dcm", ref, labels={"tumour": 1})
    assert np.array_equal(back.array, mask.array)
    own = read_mask(tmp_path / "seg.dcm")  # no reference: the SEG's own frame grid
    assert int(own.array.sum()) == int(mask.array.sum())


def test_mask_folder_and_wrong_dicom_kind(tmp_path, make_image):
    img = make_image()
    paths = write_dicom_series(img, tmp_path / "ct")
    with pytest.raises(InputError, match="neither RTSTRUCT nor SEG"):
        read_mask(paths[0], img)
    with pytest.raises(InputError, match="exactly one DICOM file"):
        read_mask(tmp_path / "ct", img)
    with pytest.raises(InputError, match="does not exist"):
        read_mask(tmp_path / "none.nii.gz")
