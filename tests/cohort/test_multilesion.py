"""Several manifest rows (lesions) per patient: rule selection and per-patient combination, hand-checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.cohort.lesions import LesionRule, largest_n
from hccrad.cohort.multilesion import (
    combine_manifest_lesions, count_components, lesion_sizes_from_masks, patient_table, resolve_rule,
)
from hccrad.core.errors import DataError, FeatureError, InputError, SpecError
from hccrad.core.image import Image
from hccrad.io.volume import write_image
from hccrad.testing import assert_close

# lesion: patient, diameter (mm), habitat1 / habitat2 volume (mm³), msi_contrast
LESIONS = {
    "a1": ("PA", 50.0, 10000.0, 20000.0, 0.5),
    "a2": ("PA", 25.0, 1000.0, 4000.0, 1.5),
    "a3": ("PA", 15.0, 200.0, 1000.0, 3.0),
    "b1": ("PB", 30.0, 4000.0, 5000.0, 0.2),
    "b2": ("PB", 18.0, 1500.0, 500.0, 0.8),
    "c1": ("PC", 12.0, 300.0, 500.0, 1.0),
}


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = list(LESIONS)
    table = pd.DataFrame({
        "patient_id": [LESIONS[c][0] for c in ids],
        "lesion_diameter_mm": [LESIONS[c][1] for c in ids],
        "image_portal": [f"/data/{c}.nii.gz" for c in ids],
        "age": [61, 61, 61, 55, 55, 70],
        "cohort": ["training"] * 3 + ["test"] * 2 + ["training"],
    }, index=pd.Index(ids, name="case_id"))
    features = pd.DataFrame({
        "habitat1_volume_mm3": [LESIONS[c][2] for c in ids],
        "habitat2_volume_mm3": [LESIONS[c][3] for c in ids],
        "msi_contrast": [LESIONS[c][4] for c in ids],
    }, index=pd.Index(ids, name="case_id"))
    return features, table


def test_seed000_rule_two_largest_over_2cm():
    f, t = _inputs()
    f, t = f.drop(index="c1"), t.drop(index="c1")
    out, rec = combine_manifest_lesions(f, t, rule="seed000")
    assert rec["kept"] == {"PA": ["a1", "a2"], "PB": ["b1"]}
    assert rec["dropped"] == {"PA": ["a3"], "PB": ["b2"]}
    assert out.loc["PA", "n_lesions"] == 2 and out.loc["PA", "n_lesions_total"] == 3
    # largest-volume kept lesion's value; habitat volumes summed over the kept lesions
    assert out.loc["PA", "msi_contrast"] == 0.5
    assert out.loc["PA", "habitat1_volume_mm3"] == 11000.0 and out.loc["PA", "habitat2_volume_mm3"] == 24000.0
    assert out.loc["PA", "lesion_volume_mm3"] == 35000.0
    assert out.loc["PB", "msi_contrast"] == 0.2 and out.loc["PB", "lesion_volume_mm3"] == 9000.0
    assert rec["per_feature"] == {"habitat1_volume_mm3": "sum", "habitat2_volume_mm3": "sum",
                                  "msi_contrast": "largest"}
    assert rec["rule"]["min_diameter_mm"] == 20.0 and rec["ordered_by"].startswith("diameter")


def test_seed003_rule_up_to_two_and_volume_weighted_mean():
    f, t = _inputs()
    out, rec = combine_manifest_lesions(f, t, rule="seed003", combine="volume_weighted_mean")
    assert rec["kept"] == {"PA": ["a1", "a2"], "PB": ["b1", "b2"], "PC": ["c1"]}
    # PA: (30000·0.5 + 5000·1.5) / 35000; PB: (9000·0.2 + 2000·0.8) / 11000
    assert_close(out.loc["PA", "msi_contrast"], 22500.0 / 35000.0, rtol=1e-12, atol=0, what="PA vwm")
    assert_close(out.loc["PB", "msi_contrast"], 3400.0 / 11000.0, rtol=1e-12, atol=0, what="PB vwm")
    assert out.loc["PC", "msi_contrast"] == 1.0 and out.loc["PC", "n_lesions"] == 1
    assert out.loc["PB", "habitat1_volume_mm3"] == 5500.0


def test_no_lesion_over_threshold_is_an_error_or_the_declared_fallback():
    f, t = _inputs()
    with pytest.raises(FeatureError, match="PC"):
        combine_manifest_lesions(f, t, rule="seed000")
    rule = largest_n(2, 20.0, if_none="largest")
    out, rec = combine_manifest_lesions(f, t, rule=rule)
    assert rec["kept"]["PC"] == ["c1"] and rec["rule"]["if_none"] == "largest"


def test_all_lesions_with_explicit_rules():
    f, t = _inputs()
    out, rec = combine_manifest_lesions(f, t, rule="all", combine="mean", rules={"msi_*": "max"})
    assert out.loc["PA", "msi_contrast"] == 3.0 and out.loc["PA", "n_lesions"] == 3
    # explicit rules replace the default volume summing: habitat volumes use the default "mean"
    assert_close(out.loc["PA", "habitat1_volume_mm3"], 11200.0 / 3, rtol=1e-12, atol=0, what="mean volume")


def test_without_diameters_lesions_are_ordered_by_volume():
    f, t = _inputs()
    t = t.drop(columns="lesion_diameter_mm")
    # b2 (18 mm) is the smaller lesion by diameter; give it the larger volume: "largest" must then keep it
    f.loc["b2", "habitat1_volume_mm3"] = 20000.0
    out, rec = combine_manifest_lesions(f, t, rule="largest")
    assert rec["kept"]["PB"] == ["b2"] and rec["ordered_by"].startswith("volume")
    with pytest.raises(InputError, match="lesion_diameter_mm"):
        combine_manifest_lesions(f, t, rule="seed000")


def test_named_volume_column_and_missing_lesion_rows():
    f, t = _inputs()
    t["vol"] = f["habitat1_volume_mm3"] + f["habitat2_volume_mm3"]
    out, rec = combine_manifest_lesions(f, t, rule="seed003", volume_column="vol")
    assert out.loc["PA", "lesion_volume_mm3"] == 35000.0 and rec["volume_column"] == "vol"
    with pytest.raises(InputError, match="a3"):
        combine_manifest_lesions(f.drop(index="a3"), t, rule="all")
    with pytest.raises(InputError, match="zz"):
        combine_manifest_lesions(pd.concat([f, f.loc[["a1"]].rename(index={"a1": "zz"})]), t)


def test_patient_split_across_cohorts_is_an_error():
    f, t = _inputs()
    t.loc["a3", "cohort"] = "test"
    with pytest.raises(DataError, match="PA"):
        combine_manifest_lesions(f, t)


def test_unknown_rule_names():
    with pytest.raises(SpecError, match="two_largest_over_20mm"):
        resolve_rule("three_largest")
    f, t = _inputs()
    with pytest.raises(SpecError, match="combine"):
        combine_manifest_lesions(f, t, combine="median")
    assert resolve_rule("seed003") == LesionRule("largest_n", 2, 0.0, True, "inplane", "error")


def test_without_patient_column_each_row_is_a_patient():
    f, t = _inputs()
    out, _ = combine_manifest_lesions(f, t.drop(columns="patient_id"), rule="all")
    assert len(out) == 6 and (out["n_lesions"] == 1).all()
    assert out.loc["a2", "msi_contrast"] == 1.5


def test_patient_table_collapses_and_checks_consistency():
    _, t = _inputs()
    p = patient_table(t)
    assert list(p.index) == ["PA", "PB", "PC"] and p.loc["PB", "age"] == 55
    assert "image_portal" not in p.columns and "lesion_diameter_mm" not in p.columns
    t.loc["a2", "age"] = 62
    with pytest.raises(DataError, match="'age'.*PA"):
        patient_table(t)


def _two_blobs() -> np.ndarray:
    m = np.zeros((6, 20, 20), dtype=np.uint8)
    m[1:4, 2:8, 2:8] = 1          # 108 voxels
    m[2:5, 12:16, 12:15] = 1      # 36 voxels
    m[0, 18, 18] = 1              # 1 voxel speck
    return m


def test_count_components_array_image_and_file(tmp_path):
    m = _two_blobs()
    assert count_components(m) == 3
    assert count_components(m, spacing=(2.0, 1.0, 1.0), min_volume_mm3=10.0) == 2   # speck = 2 mm³
    assert count_components(m, spacing=(1.0, 1.0, 1.0), min_volume_mm3=40.0) == 1   # 36 mm³ < 40
    path = write_image(Image(m, spacing=(2.0, 0.5, 0.5)), tmp_path / "m.nii.gz")
    assert count_components(path) == 3
    assert count_components(path, min_volume_mm3=1.0) == 2    # speck 0.5 mm³; blob 36 × 0.5 = 18 mm³
    sizes = lesion_sizes_from_masks(pd.DataFrame({"mask_tumor": [str(path)]}, index=["x"]))
    assert sizes.loc["x", "n_components"] == 3
    assert_close(sizes.loc["x", "volume_mm3"], 145 * 0.5, rtol=1e-12, atol=0, what="mask volume")
