"""Declared derived columns: bins (no leakage), ALBI / Child–Pugh / BCLC worked examples, response, errors."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

from hccrad.clinical.derive import DeriveSpec, derive_columns, load_derive_spec
from hccrad.core.errors import DataError, InputError, SpecError
from hccrad.testing import assert_close


def _table() -> pd.DataFrame:
    """Six hand-made patients; P6 has missing bilirubin and no response assessment."""
    return pd.DataFrame({
        "afp": [5.0, 20.0, 150.0, 200.0, 201.0, 3000.0],
        "nlr": [1.0, 2.99, 3.0, 4.5, np.nan, 2.0],
        "tbil_umol_l": [17.1, 10.0, 40.0, 60.0, 25.0, np.nan],
        "alb_g_l": [40.0, 45.0, 32.0, 25.0, 38.0, 41.0],
        "inr": [1.0, 1.1, 1.8, 2.5, 1.2, 1.0],
        "ascites": ["none", "none", "mild", "moderate_severe", "none", "none"],
        "he": ["none", "none", "none", "grade_1_2", "none", "none"],
        "n_tumours": [1, 1, 3, 4, 1, 2],
        "diam_cm": [1.5, 6.0, 2.5, 3.0, 4.0, 8.0],
        "ecog": [0, 0, 0, 0, 1, 0],
        "mvi": [False, False, False, False, False, True],
        "ehs": [False, False, False, False, False, False],
        "mrecist_bor": ["CR", "PR", "SD", "PD", "NE", None],
        "cohort": ["training", "training", "training", "test", "test", "test"],
    }, index=pd.Index([f"P{i}" for i in range(1, 7)], name="case_id"))


SPEC = {
    "bins": [
        {"column": "afp", "bins": ["<20", "[20,200]", ">200"], "name": "afp_group"},
        {"column": "afp", "bins": ["<=200", ">200"], "output": "indicator", "names": {">200": "afp_gt_200"}},
        {"column": "nlr", "bins": ["<3", ">=3"], "output": "indicator"},
    ],
    "scores": [
        {"score": "albi", "bilirubin": "tbil_umol_l", "albumin": "alb_g_l", "bilirubin_unit": "umol/L"},
        {"score": "child_pugh", "bilirubin": "tbil_umol_l", "albumin": "alb_g_l", "inr": "inr",
         "ascites": "ascites", "encephalopathy": "he"},
        {"score": "bclc", "number": "n_tumours", "largest_diameter": "diam_cm", "ps": "ecog",
         "child_pugh_class": "CP_class", "vascular_invasion": "mvi", "extrahepatic_spread": "ehs"},
        {"score": "six_and_twelve", "largest_diameter": "diam_cm", "number": "n_tumours"},
    ],
    "response": [{"from": "mrecist_bor", "objective_response": "orr", "disease_control": "dcr",
                  "category": "bor"}],
}


@pytest.fixture(scope="module")
def derived() -> tuple[pd.DataFrame, dict]:
    return derive_columns(_table(), DeriveSpec.model_validate(SPEC))


def test_bins_categories_and_indicators(derived):
    out, rec = derived
    assert isinstance(out["afp_group"].dtype, pd.CategoricalDtype) and out["afp_group"].cat.ordered
    assert out["afp_group"].astype(str).tolist() == ["<20", "[20,200]", "[20,200]", "[20,200]", ">200", ">200"]
    assert out["afp_gt_200"].dtype == np.float64
    assert out["afp_gt_200"].tolist() == [0, 0, 0, 0, 1, 1]
    nlr3 = out["nlr[>=3]"]
    assert nlr3.dtype == np.float64
    assert nlr3.iloc[[0, 1, 2, 3, 5]].tolist() == [0, 0, 1, 1, 0] and np.isnan(nlr3.iloc[4])
    assert rec["n_missing"]["nlr[>=3]"] == 1
    assert rec["bins"][0]["reference"] == "<20" and rec["bins"][1]["columns"] == ["afp_gt_200"]


def test_bins_do_not_depend_on_other_cohorts(derived):
    """Leakage check: deriving on the training rows alone equals the training rows of the full derivation,
    and a test cohort with extreme values changes nothing for training."""
    full, _ = derived
    t = _table()
    train_only, _ = derive_columns(t[t["cohort"] == "training"], SPEC)
    extreme = t.copy()
    extreme.loc[extreme["cohort"] == "test", ["afp", "nlr"]] = [[1e6, 90.0]] * 3
    with_extreme, _ = derive_columns(extreme, SPEC)
    cols = ["afp_group", "afp_gt_200", "nlr[>=3]", "ALBI", "CP_score", "BCLC"]
    for other in (train_only, with_extreme):
        pd.testing.assert_frame_equal(other.loc[train_only.index, cols].astype(object),
                                      full.loc[train_only.index, cols].astype(object))
    assert with_extreme.loc["P4", "afp_group"] == ">200"


def test_albi_equals_published_formula(derived):
    out, _ = derived
    # Johnson 2015: ALBI = 0.66·log10(bilirubin µmol/L) − 0.085·albumin g/L; 17.1 µmol/L (1 mg/dL), 40 g/L
    assert_close(out.loc["P1", "ALBI"], -2.5862226, rtol=0, atol=1e-6, what="ALBI worked example")
    ref = 0.66 * math.log10(40.0) - 0.085 * 32.0
    assert_close(out.loc["P3", "ALBI"], ref, rtol=1e-12, atol=0, what="ALBI P3")
    assert out["ALBI"].dtype == np.float64 and np.isnan(out.loc["P6", "ALBI"])
    # grade: −2.586 > −2.60 → 2; 10 µmol/L, 45 g/L → 0.66 − 3.825 = −3.165 → 1; 60, 25 → −0.951 → 3
    assert out.loc[["P1", "P2", "P4"], "ALBI_grade"].tolist() == [2.0, 1.0, 3.0]


def test_albi_in_mg_dl_gives_the_same_score():
    t = pd.DataFrame({"bil": [1.0], "alb": [4.0]}, index=["A"])
    out, rec = derive_columns(t, {"scores": [{"score": "albi", "bilirubin": "bil", "albumin": "alb",
                                              "bilirubin_unit": "mg/dL", "albumin_unit": "g/dL"}]})
    assert_close(out.loc["A", "ALBI"], -2.5862226, rtol=0, atol=1e-6, what="ALBI mg/dL, g/dL")
    assert rec["scores"][0]["units"] == {"bilirubin_unit": "mg/dL", "albumin_unit": "g/dL"}


def test_child_pugh_worked_example(derived):
    out, _ = derived
    # P1: bil 17.1 (<34: 1) alb 40 (>35: 1) INR 1.0 (1) none (1) none (1) = 5, A
    # P3: bil 40 (2) alb 32 (2) INR 1.8 (2) mild (2) none (1) = 9, B
    # P4: bil 60 (3) alb 25 (3) INR 2.5 (3) mod-severe (3) grade 1-2 (2) = 14, C
    assert out.loc[["P1", "P3", "P4"], "CP_score"].tolist() == [5.0, 9.0, 14.0]
    assert out.loc[["P1", "P3", "P4"], "CP_class"].astype(str).tolist() == ["A", "B", "C"]
    assert isinstance(out["CP_class"].dtype, pd.CategoricalDtype)
    assert np.isnan(out.loc["P6", "CP_score"]) and pd.isna(out.loc["P6", "CP_class"])


def test_bclc_worked_example_uses_derived_child_pugh(derived):
    out, rec = derived
    # P1 single 1.5 cm PS0 CP-A → 0; P2 single 6 cm → A; P3 3 nodules ≤ 3 cm, CP-B → A;
    # P4 CP-C → D; P5 PS 1 → C; P6 has MVI but no Child–Pugh class (bilirubin missing), which is needed
    # to rule out D → missing, not guessed
    assert out["BCLC"].astype(object).iloc[:5].tolist() == ["0", "A", "A", "D", "C"]
    assert pd.isna(out.loc["P6", "BCLC"])
    assert list(out["BCLC"].cat.categories) == ["0", "A", "B", "C", "D"]
    assert rec["scores"][2]["inputs"]["child_pugh_class"] == "CP_class"


def test_six_and_twelve(derived):
    out, _ = derived
    # P6: 8 cm + 2 tumours = 10 → intermediate; P1: 1.5 + 1 = 2.5 → low
    assert out.loc[["P1", "P6"], "six12_score"].tolist() == [2.5, 10.0]
    assert out.loc[["P1", "P6"], "six12_stratum"].astype(str).tolist() == ["low", "intermediate"]


def test_response_derivation(derived):
    out, rec = derived
    assert out["orr"].iloc[:4].tolist() == [1.0, 1.0, 0.0, 0.0] and out["orr"].iloc[4:].isna().all()
    assert out["dcr"].iloc[:4].tolist() == [1.0, 1.0, 1.0, 0.0] and out["dcr"].iloc[4:].isna().all()
    assert out["orr"].dtype == np.float64
    assert out["bor"].cat.ordered and out.loc["P5", "bor"] == "NE" and pd.isna(out.loc["P6", "bor"])
    assert rec["response"] == [{"from": "mrecist_bor", "columns": ["orr", "dcr", "bor"]}]
    assert rec["n_missing"]["orr"] == 2


def test_missing_inputs_are_logged_not_guessed(caplog):
    with caplog.at_level(logging.WARNING, logger="hccrad"):
        out, rec = derive_columns(_table(), {"scores": [SPEC["scores"][0]]})
    assert rec["n_missing"]["ALBI"] == 1
    assert any("'ALBI'" in r.getMessage() and "1 of 6" in r.getMessage() for r in caplog.records)


def test_input_table_is_not_modified(derived):
    t = _table()
    derive_columns(t, SPEC)
    pd.testing.assert_frame_equal(t, _table())


def test_missing_column_error_names_field_and_column():
    bad = {"scores": [{"score": "albi", "bilirubin": "TBIL", "albumin": "alb_g_l"}]}
    with pytest.raises(InputError) as e:
        derive_columns(_table(), bad)
    assert "derive.scores[0].bilirubin" in str(e.value) and "'TBIL'" in str(e.value)
    with pytest.raises(InputError, match=r"derive\.response\[0\]\.from.*'best'"):
        derive_columns(_table(), {"response": [{"from": "best", "objective_response": "orr"}]})
    with pytest.raises(InputError, match=r"derive\.bins\[0\]\.column.*'AFP'"):
        derive_columns(_table(), {"bins": [{"column": "AFP", "bins": ["<20", ">=20"]}]})


def test_output_clash_and_duplicate_outputs_are_errors():
    with pytest.raises(InputError, match="already exist"):
        derive_columns(_table(), {"bins": [{"column": "afp", "bins": ["<20", ">=20"], "name": "nlr"}]})
    with pytest.raises(SpecError, match="unique"):
        load_derive_spec({"scores": [SPEC["scores"][0], SPEC["scores"][0]]})


def test_unknown_score_and_typos_are_spec_errors():
    with pytest.raises(SpecError) as e:
        load_derive_spec({"scores": [{"score": "meld", "bilirubin": "tbil_umol_l"}]})
    assert "'meld'" in str(e.value) and "albi" in str(e.value)
    with pytest.raises(SpecError, match=r"derive\.scores\.0\.albi\.albumen: unknown field"):
        load_derive_spec({"scores": [{"score": "albi", "bilirubin": "b", "albumin": "a", "albumen": "x"}]})
    with pytest.raises(SpecError, match="gap"):
        derive_columns(_table(), {"bins": [{"column": "afp", "bins": ["<20", ">200"]}]})


def test_wrong_unit_is_a_data_error_naming_the_column():
    t = _table().assign(tbil_umol_l=[1.0, 0.6, 2.3, 3.5, 1.5, np.nan])  # mg/dL values declared as µmol/L
    with pytest.raises(DataError, match="tbil_umol_l"):
        derive_columns(t, {"scores": [SPEC["scores"][0]]})


def test_spec_is_frozen_and_round_trips():
    spec = load_derive_spec(SPEC)
    with pytest.raises(Exception):
        spec.bins = []  # type: ignore[misc]
    dumped = spec.model_dump(mode="json")   # what hccrad.config.load writes into run.json
    assert dumped["response"][0]["from"] == "mrecist_bor"
    assert DeriveSpec.model_validate(dumped) == spec


def test_ajcc_hklc_nlr_worked_examples():
    t = pd.DataFrame({
        "n": [1, 1, 2], "d_mm": [15.0, 30.0, 60.0], "vi": [False, True, False], "mvi": [False, False, False],
        "adj": [False, False, False], "n1": [False, False, True], "m1": [False, False, False],
        "ps": [0, 0, 0], "cp": ["A", "A", "A"], "evm": [False, False, False],
        "neut": [4.0, 6.0, 3.0], "lymph": [2.0, 1.5, np.nan],
    }, index=["X", "Y", "Z"])
    spec = {"scores": [
        {"score": "ajcc", "number": "n", "largest_diameter": "d_mm", "diameter_unit": "mm", "vascular_invasion": "vi",
         "major_vessel_invasion": "mvi", "adjacent_organ_invasion": "adj", "n1": "n1", "m1": "m1"},
        {"score": "hklc", "ps": "ps", "child_pugh_class": "cp", "number": "n", "largest_diameter": "d_mm",
         "diameter_unit": "mm", "intrahepatic_venous_invasion": "vi",
         "extrahepatic_vascular_invasion_or_metastasis": "evm"},
        {"score": "nlr", "neutrophils": "neut", "lymphocytes": "lymph"},
    ], "bins": [{"column": "NLR", "bins": ["<3", ">=3"], "output": "indicator", "names": {">=3": "nlr_ge_3"}}]}
    out, _ = derive_columns(t, spec)
    # X solitary 1.5 cm → T1a, N0M0 → IA; Y solitary 3 cm with VI → T2 → II; Z 2 tumours, one 6 cm → T3, N1 → IVA
    assert out["AJCC_T"].astype(str).tolist() == ["T1a", "T2", "T3"]
    assert out["AJCC_stage"].astype(str).tolist() == ["IA", "II", "IVA"]
    # HKLC: X ≤ 5 cm, 1 nodule, no IHVI → early → I; Y with IHVI → intermediate → IIa; Z > 5 cm, 2 nodules → IIa
    assert out["HKLC_tumour_status"].astype(str).tolist() == ["early", "intermediate", "intermediate"]
    assert out["HKLC"].astype(str).tolist() == ["I", "IIa", "IIa"]
    assert out["NLR"].iloc[:2].tolist() == [2.0, 4.0] and np.isnan(out.loc["Z", "NLR"])
    assert out["nlr_ge_3"].iloc[:2].tolist() == [0.0, 1.0] and np.isnan(out.loc["Z", "nlr_ge_3"])  # bins a score
    only_t, _ = derive_columns(t, {"scores": [{**spec["scores"][0], "n1": None, "m1": None}]})
    assert "AJCC_T" in only_t.columns and "AJCC_stage" not in only_t.columns
    with pytest.raises(SpecError, match="n1 and m1"):
        load_derive_spec({"scores": [{**spec["scores"][0], "m1": None}]})
