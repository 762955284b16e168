"""Several lesions per patient on hand-built masks: components, sizes (vs PyRadiomics), selection, combination."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from hccrad.cohort.lesions import (
    combine_lesion_features, label_components, largest, largest_n, lesion_size, lesion_table, select_lesions,
)
from hccrad.core.errors import FeatureError, GeometryError, SpecError
from hccrad.core.image import Image
from hccrad.testing import assert_close


def _two_blobs() -> np.ndarray:
    m = np.zeros((6, 20, 20), dtype=np.uint8)
    m[1:4, 2:8, 2:8] = 1          # 3 x 6 x 6 = 108 voxels
    m[2:5, 12:16, 12:15] = 1      # 3 x 4 x 3 = 36 voxels
    return m


def test_components_count_and_order_by_size():
    lab, n = label_components(_two_blobs())
    assert n == 2
    assert (lab == 1).sum() == 108 and (lab == 2).sum() == 36


def test_diagonal_contact_is_one_lesion_with_26_but_two_with_6_connectivity():
    m = np.zeros((3, 3, 3), dtype=bool)
    m[0, 0, 0] = m[1, 1, 1] = True
    assert label_components(m, connectivity=26)[1] == 1
    assert label_components(m, connectivity=18)[1] == 2
    assert label_components(m, connectivity=6)[1] == 2


def test_line_and_rectangle_diameters_by_hand():
    # 10 voxels of 1 mm in a row measure 10 mm edge to edge
    line = np.zeros((3, 3, 14), dtype=bool)
    line[1, 1, 2:12] = True
    s = lesion_size(line, (1.0, 1.0, 1.0))
    assert s["max_diameter_3d_mm"] == 10.0 and s["max_inplane_diameter_mm"] == 10.0 and s["n_voxels"] == 10
    # same row along z with 2.5 mm slices: 25 mm in 3-D, one voxel (1 mm) in any axial plane
    col = np.zeros((12, 3, 3), dtype=bool)
    col[1:11, 1, 1] = True
    s = lesion_size(col, (2.5, 1.0, 1.0))
    assert_close(s["max_diameter_3d_mm"], 25.0, rtol=0, atol=1e-12, what="z extent")
    assert_close(s["max_inplane_diameter_mm"], 1.0, rtol=0, atol=1e-12, what="in-plane single voxel")
    assert_close(s["volume_mm3"], 25.0, rtol=0, atol=1e-12, what="volume")


def _pyradiomics_shape(mask: np.ndarray, spacing: tuple[float, float, float]) -> tuple[float, float, float]:
    from radiomics import shape

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    img = sitk.GetImageFromArray(np.ones(mask.shape, dtype=np.float32))
    msk = sitk.GetImageFromArray(mask.astype(np.uint8))
    for x in (img, msk):
        x.SetSpacing(tuple(float(s) for s in spacing[::-1]))  # SimpleITK order is (x, y, z)
    f = shape.RadiomicsShape(img, msk, label=1)
    return (f.getMaximum3DDiameterFeatureValue(), f.getMaximum2DDiameterSliceFeatureValue(),
            f.getVoxelVolumeFeatureValue())


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 0.7, 0.7), (3.0, 0.8, 0.6)])
def test_diameters_match_pyradiomics(spacing):
    # Reference: PyRadiomics 3.0.1 shape features Maximum3DDiameter / Maximum2DDiameterSlice / VoxelVolume
    z, y, x = np.mgrid[:12, :30, :30]
    sp = np.asarray(spacing)
    mask = (((z - 5.5) * sp[0] / 10) ** 2 + ((y - 14.5) * sp[1] / 9) ** 2 + ((x - 14.2) * sp[2] / 7) ** 2) <= 1
    ours = lesion_size(mask, spacing)
    d3, d2, vol = _pyradiomics_shape(mask, spacing)
    assert_close(ours["max_diameter_3d_mm"], d3, rtol=1e-9, atol=1e-9, what="Maximum3DDiameter")
    assert_close(ours["max_inplane_diameter_mm"], d2, rtol=1e-9, atol=1e-9, what="Maximum2DDiameterSlice")
    assert_close(ours["volume_mm3"], vol, rtol=1e-12, atol=1e-9, what="VoxelVolume")


def test_lesion_table_from_binary_labelled_and_list_of_masks():
    m = _two_blobs()
    img = Image(m, spacing=(2.0, 1.0, 1.0))
    t = lesion_table(img, case_id="p1")
    assert t.lesion_id.tolist() == [1, 2] and t.case_id.tolist() == ["p1", "p1"]
    assert t.volume_mm3.tolist() == [216.0, 72.0]
    lab = m.copy()
    lab[2:5, 12:16, 12:15] = 7
    assert lesion_table(lab, spacing=(2.0, 1.0, 1.0), labelled=True).volume_mm3.tolist() == [216.0, 72.0]
    first, second = (m == 1).copy(), (m == 1).copy()
    first[:, 10:, :] = False
    second[:, :10, :] = False
    t3 = lesion_table([second, first], spacing=(2.0, 1.0, 1.0))
    assert t3.volume_mm3.tolist() == [216.0, 72.0]
    with pytest.raises(GeometryError, match="empty"):
        lesion_table(np.zeros((3, 3, 3)), spacing=(1, 1, 1), case_id="p9")


def _table(diameters_mm: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"lesion_id": range(1, len(diameters_mm) + 1),
                         "volume_mm3": [d**3 for d in diameters_mm],
                         "max_inplane_diameter_mm": diameters_mm, "max_diameter_3d_mm": diameters_mm})


def test_seed000_rule_two_largest_over_2cm():
    rule = largest_n(2, 20.0)
    assert select_lesions(_table([15, 30, 25, 22]), rule).max_inplane_diameter_mm.tolist() == [30, 25]
    assert select_lesions(_table([30, 15]), rule).max_inplane_diameter_mm.tolist() == [30]
    # "greater than 2 cm": exactly 20 mm is excluded unless strict=False
    assert select_lesions(_table([30, 20]), rule).max_inplane_diameter_mm.tolist() == [30]
    assert select_lesions(_table([30, 20]), largest_n(2, 20.0, strict=False)).max_inplane_diameter_mm.tolist() == [30, 20]
    with pytest.raises(FeatureError, match="no lesion"):
        select_lesions(_table([12, 15]), rule, case_id="p3")
    kept = select_lesions(_table([12, 15]), largest_n(2, 20.0, if_none="largest"))
    assert kept.max_inplane_diameter_mm.tolist() == [15]
    assert select_lesions(_table([12, 40, 15]), largest()).max_inplane_diameter_mm.tolist() == [40]
    # seed 003: up to two target lesions, no size floor
    assert len(select_lesions(_table([12, 40, 15]), largest_n(2))) == 2
    with pytest.raises(SpecError):
        largest_n(0)


def test_combine_rules_by_hand():
    feats = pd.DataFrame({
        "case_id": ["a", "a", "b"], "lesion_id": [1, 2, 1], "volume_mm3": [1000.0, 3000.0, 500.0],
        "firstorder_Mean": [1.0, 3.0, 7.0], "shape_VoxelVolume": [1000.0, 3000.0, 500.0], "glcm_x": [4.0, 2.0, 1.0],
    })
    rule = largest_n(2, 20.0)
    out, rec = combine_lesion_features(feats, default="volume_weighted_mean",
                                       rules={"*Volume*": "sum", "glcm_x": "largest"}, selection=rule)
    # volume-weighted mean: (1000*1 + 3000*3) / 4000 = 2.5; sum of volumes 4000; largest lesion (3000) glcm_x = 2
    assert_close(out.loc["a", "firstorder_Mean"], 2.5, rtol=0, atol=1e-12, what="volume-weighted mean")
    assert out.loc["a", "shape_VoxelVolume"] == 4000.0 and out.loc["a", "glcm_x"] == 2.0
    assert out.loc["a", "n_lesions"] == 2 and out.loc["b", "firstorder_Mean"] == 7.0
    assert rec["per_feature"] == {"firstorder_Mean": "volume_weighted_mean", "shape_VoxelVolume": "sum",
                                  "glcm_x": "largest"}
    assert rec["selection"]["min_diameter_mm"] == 20.0 and rec["n_lesions"] == {"a": 2, "b": 1}
    with pytest.raises(SpecError, match="matches no feature"):
        combine_lesion_features(feats, rules={"nope_*": "sum"})
    with pytest.raises(SpecError, match="must be one of"):
        combine_lesion_features(feats, default="median")
