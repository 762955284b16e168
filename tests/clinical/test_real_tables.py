"""Scores on real HCC tables with missing values and mixed units (../shared/data/hcc_clinical), read in place.

UCI HCC Survival (Santos et al. 2015): bilirubin mg/dL, albumin g/dL (labelled "mg/dL" in the description,
range 1.9–4.9), ascites and encephalopathy coded 1–3 (= Child–Pugh points), platelets partly in 10^9/L and
partly per µL (description range 1.71–459000), 1 row with 0 nodules.
"""

from __future__ import annotations

import pandas as pd
import pytest

from hccrad.clinical.liver import albi_grade, albi_score, child_pugh
from hccrad.clinical.scores import plr
from hccrad.clinical.staging import bclc_stage
from hccrad.core.errors import DataError


@pytest.fixture(scope="module")
def uci(shared_data) -> pd.DataFrame:
    df = pd.read_csv(shared_data / "hcc_clinical" / "uci_hcc_survival" / "hcc-data_with_header.csv")
    df.index = [f"row{i + 1}" for i in range(len(df))]
    return df


def test_child_pugh_and_albi_on_uci_missing_rows_are_na(uci):
    cp = child_pugh(uci.Total_Bil, uci.Albumin, uci.INR, uci.Ascites, uci.Encephalopathy,
                    bilirubin_unit="mg/dL", albumin_unit="g/dL", grade_coding="points")
    inputs_missing = uci[["Total_Bil", "Albumin", "INR", "Ascites", "Encephalopathy"]].isna().any(axis=1)
    assert cp.CP_score.isna().equals(inputs_missing)
    assert cp.CP_score.dropna().between(5, 15).all()
    assert len(cp) == 165 and int(inputs_missing.sum()) == 10
    grade = albi_grade(albi_score(uci.Total_Bil, uci.Albumin, bilirubin_unit="mg/dL", albumin_unit="g/dL"))
    assert grade.isna().equals(uci[["Total_Bil", "Albumin"]].isna().any(axis=1))
    # declaring the mg/dL bilirubin column as µmol/L is caught
    with pytest.raises(DataError, match="Total_Bil"):
        albi_score(uci.Total_Bil, uci.Albumin, albumin_unit="g/dL")


def test_uci_platelets_in_mixed_units_are_reported_with_rows(uci):
    with pytest.raises(DataError) as e:
        plr(uci.Platelets, uci.Leucocytes)
    assert "Platelets" in str(e.value) and "'row7'" in str(e.value) and "/uL" in str(e.value)


def test_uci_zero_nodules_is_reported(uci):
    cp = child_pugh(uci.Total_Bil, uci.Albumin, uci.INR, uci.Ascites, uci.Encephalopathy,
                    bilirubin_unit="mg/dL", albumin_unit="g/dL", grade_coding="points")
    zero = uci.index[uci.Nodules == 0][0]
    with pytest.raises(DataError, match=repr(zero)):
        bclc_stage(uci.Nodules, uci.Major_Dim, uci.PS, cp.CP_class, uci.PVT, uci.Metastasis)
