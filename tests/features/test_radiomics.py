"""PyRadiomics wrapper: names, equality with direct PyRadiomics, parameter files, filters, bad input."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import SimpleITK as sitk
import yaml

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.features.radiomics import (
    RadiomicsTask,
    default_params,
    load_params,
    params_hash,
    radiomics_features,
    run_radiomics_task,
    split_feature_name,
)
from hccrad.io.volume import write_image
from hccrad.testing import assert_close

N_DEFAULT = 107  # firstorder 18 + shape 14 + glcm 24 + glrlm 16 + glszm 16 + gldm 14 + ngtdm 5


@pytest.fixture
def phantom(rng):
    """Two phases on a 14x18x18 grid (2 x 0.8 x 0.8 mm) and two regions."""
    base = rng.normal(60.0, 25.0, (14, 18, 18))
    spacing = (2.0, 0.8, 0.8)
    images = {
        "arterial": Image(base, spacing, origin=(10.0, -5.0, 3.0), name="arterial"),
        "portal": Image(base * 0.7 + rng.normal(0, 5, base.shape) + 40, spacing, name="portal"),
    }
    tumor = np.zeros(base.shape, bool)
    tumor[3:11, 4:14, 4:14] = True
    hab = tumor.copy()
    hab[:, :, 9:] = False
    return images, {"tumor": tumor, "habitat1": hab}


def test_names_prefixed_and_diagnostics_dropped(phantom):
    images, regions = phantom
    feats = radiomics_features(images, regions, case_id="c1")
    assert len(feats) == 2 * 2 * N_DEFAULT
    assert "portal_habitat1_original_firstorder_Mean" in feats
    assert not any("diagnostics" in k for k in feats)
    assert split_feature_name("portal_habitat1_original_glcm_Idmn") == ("portal", "habitat1", "original_glcm_Idmn")
    assert all(isinstance(v, float) and math.isfinite(v) for v in feats.values())


def test_equals_direct_pyradiomics(phantom):
    from radiomics import featureextractor

    images, regions = phantom
    feats = radiomics_features({"arterial": images["arterial"]}, {"tumor": regions["tumor"]})
    img = sitk.GetImageFromArray(images["arterial"].array)
    img.SetSpacing((0.8, 0.8, 2.0))
    img.SetOrigin((10.0, -5.0, 3.0))
    msk = sitk.GetImageFromArray(regions["tumor"].astype(np.uint8))
    msk.CopyInformation(img)
    ref = featureextractor.RadiomicsFeatureExtractor(default_params()).execute(img, msk)
    ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
    assert set(feats) == {"arterial_tumor_" + k for k in ref}
    for k, v in ref.items():
        assert_close(feats["arterial_tumor_" + k], v, rtol=1e-12, atol=0.0, what=k)
    # geometry reached PyRadiomics: voxel volume uses the (z, y, x) spacing 2 x 0.8 x 0.8 mm
    assert_close(feats["arterial_tumor_original_shape_VoxelVolume"], regions["tumor"].sum() * 2 * 0.8 * 0.8,
                 rtol=1e-12, atol=0.0, what="VoxelVolume")
    assert_close(feats["arterial_tumor_original_firstorder_Mean"],
                 images["arterial"].array[regions["tumor"]].mean(), rtol=1e-12, atol=0.0, what="Mean")


def test_pyradiomics_parameter_file_accepted_as_is(phantom, shared_data, tmp_path):
    images, regions = phantom
    params_file = shared_data / "pyradiomics" / "Params.yaml"  # PyRadiomics' own example file
    feats = radiomics_features({"portal": images["portal"]}, {"tumor": regions["tumor"]}, params_file)
    assert "portal_tumor_original_glcm_SumAverage" not in feats  # the file disables it explicitly
    assert "portal_tumor_original_glcm_Contrast" in feats
    own = tmp_path / "mine.yaml"
    own.write_text(yaml.safe_dump(default_params(bin_width=10)))
    assert load_params(own)["setting"]["binWidth"] == 10
    assert params_hash(own) != params_hash(None)
    assert params_hash(default_params()) == params_hash(None)


def test_log_and_wavelet_enabled_by_params(phantom):
    images, regions = phantom
    params = default_params(log_sigma=(1.0,), wavelet=True, feature_classes=("firstorder",))
    feats = radiomics_features({"portal": images["portal"]}, {"tumor": regions["tumor"]}, params)
    assert "portal_tumor_log-sigma-1-0-mm-3D_firstorder_Mean" in feats
    assert "portal_tumor_wavelet-LLH_firstorder_Mean" in feats
    assert len(feats) == 18 * (1 + 1 + 8)


def test_tiny_and_flat_regions_give_nan_with_reason_not_crash(phantom, caplog):
    images, _ = phantom
    shape = images["portal"].shape
    flat_img = images["portal"].array.copy()
    flat = np.zeros(shape, bool)
    flat[2:6, 2:8, 2:8] = True
    flat_img[flat] = 50.0
    line3 = np.zeros(shape, bool)
    line3[5, 5, 5:8] = True
    ell3 = np.zeros(shape, bool)
    ell3[5, 5, 5:7] = True
    ell3[5, 6, 5] = True
    one = np.zeros(shape, bool)
    one[1, 1, 1] = True
    regions = {"flat": flat, "line3": line3, "ell3": ell3, "one": one, "empty": np.zeros(shape, bool)}
    strict = default_params()
    strict["setting"]["minimumROIDimensions"] = 2  # PyRadiomics' own default: refuses the 3-voxel line
    with caplog.at_level(logging.WARNING, logger="hccrad.features.radiomics"):
        feats = radiomics_features({"portal": images["portal"].with_array(flat_img)}, regions, strict,
                                   case_id="c9")
    assert len(feats) == 5 * N_DEFAULT  # every region keeps its columns
    for region in ("line3", "one", "empty"):
        vals = [v for k, v in feats.items() if k.startswith(f"portal_{region}_")]
        assert len(vals) == N_DEFAULT and all(math.isnan(v) for v in vals)
    text = caplog.text
    assert "too few dimensions" in text and "single voxel" in text and "region is empty" in text
    assert "'c9'" in text or "c9" in text
    # a flat region and a 3-voxel L-shaped habitat are computed (PyRadiomics' conventions, all finite)
    for region in ("flat", "ell3"):
        vals = [v for k, v in feats.items() if k.startswith(f"portal_{region}_")]
        assert all(math.isfinite(v) for v in vals), region
    assert feats["portal_flat_original_firstorder_Mean"] == 50.0
    # hccrad's default (minimumROIDimensions 1) computes the 3-voxel line: every feature is defined
    line = radiomics_features({"portal": images["portal"]}, {"line3": line3})
    assert len(line) == N_DEFAULT and all(math.isfinite(v) for v in line.values())
    assert_close(line["portal_line3_original_firstorder_Mean"], images["portal"].array[line3].mean(),
                 rtol=1e-12, atol=0.0, what="3-voxel Mean")
    assert feats["portal_flat_original_firstorder_Variance"] == 0.0
    assert_close(feats["portal_flat_original_firstorder_Entropy"], 0.0, rtol=0.0, atol=1e-12, what="Entropy")


def test_bad_input_raises_clear_errors(phantom, tmp_path):
    images, regions = phantom
    with pytest.raises(GeometryError, match="shape"):
        radiomics_features(images, {"tumor": regions["tumor"][:-1]}, case_id="c1")
    with pytest.raises(InputError, match="contain no '_'"):
        radiomics_features(images, {"tumor_reader2": regions["tumor"]})
    with pytest.raises(InputError, match="PyRadiomics rejected"):
        radiomics_features(images, regions, {"setting": {"binWidht": 5}})
    with pytest.raises(InputError, match="top-level"):
        radiomics_features(images, regions, {"binWidth": 5})
    with pytest.raises(InputError, match="does not exist"):
        radiomics_features(images, regions, tmp_path / "missing.yaml")
    bad = images["portal"].array.copy()
    bad[5, 6, 6] = np.nan
    with pytest.raises(InputError, match="NaN"):
        radiomics_features({"portal": images["portal"].with_array(bad)}, regions)


def test_run_radiomics_task_reads_files(phantom, tmp_path):
    images, regions = phantom
    hab = np.zeros(images["portal"].shape, np.int16)
    hab[regions["tumor"]] = 1
    hab[regions["tumor"] & ~regions["habitat1"]] = 2
    paths = {ph: write_image(im, tmp_path / f"{ph}.nii.gz") for ph, im in images.items()}
    tumor = write_image(images["portal"].with_array(regions["tumor"].astype(np.uint8)), tmp_path / "t.nii.gz")
    habitat = write_image(images["portal"].with_array(hab), tmp_path / "h.nii.gz")
    params = default_params(feature_classes=("firstorder",))
    task = RadiomicsTask("c1", {"portal": paths["portal"]}, {"tumor": tumor}, habitat, 3, params)
    feats = run_radiomics_task(task)
    assert len(feats) == 4 * 18  # tumor + habitat1..3 (habitat3 empty -> NaN columns)
    assert math.isnan(feats["portal_habitat3_original_firstorder_Mean"])
    direct = radiomics_features({"portal": images["portal"]}, {"habitat1": regions["habitat1"]}, params)
    assert_close(feats["portal_habitat1_original_firstorder_Mean"],
                 direct["portal_habitat1_original_firstorder_Mean"], rtol=1e-6, atol=0.0, what="Mean via files")


def test_complex_round_off_from_pyradiomics_is_made_real(caplog):
    from hccrad.features.radiomics import _real

    assert _real("original_shape_Elongation", np.complex128(1 - 8e-17j)) == 1.0
    assert math.isnan(_real("original_shape_Elongation", np.complex128(1 + 0.5j)))
    assert "complex" in caplog.text
    assert _real("x", np.float32(2.5)) == 2.5
