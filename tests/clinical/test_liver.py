"""ALBI, PALBI and Child–Pugh on worked examples from their published definitions, plus unit checks."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from hccrad.clinical.liver import albi_grade, albi_score, child_pugh, palbi_grade, palbi_score
from hccrad.core.errors import DataError, InputError
from hccrad.testing import assert_close


def test_albi_worked_examples():
    # Johnson et al. JCO 2015: ALBI = 0.66*log10(bilirubin umol/L) - 0.085*albumin g/L.
    # Hand-computed: 0.66*log10(17) - 0.085*40 = 0.66*1.2304489 - 3.4 = -2.5879037 (grade 2, just above -2.60);
    # 0.66*log10(10) - 0.085*45 = 0.66 - 3.825 = -3.165 (grade 1); 0.66*2 - 0.085*25 = -0.805 (grade 3).
    s = albi_score(pd.Series([17.0, 10.0, 100.0], name="TBIL"), pd.Series([40.0, 45.0, 25.0], name="ALB"))
    assert_close(s.to_numpy(float), [-2.5879037, -3.165, -0.805], rtol=0, atol=1e-6, what="ALBI")
    assert albi_grade(s).tolist() == [2, 1, 3]


def test_albi_grade_boundaries_are_closed_as_published():
    # grade 1: <= -2.60; grade 2: -2.60 < ALBI <= -1.39; grade 3: > -1.39
    assert albi_grade([-2.60, -2.5999, -1.39, -1.3899]).tolist() == [1, 2, 2, 3]


def test_albi_declared_mg_dl_and_g_dl_convert():
    # 1 mg/dL = 17.1 umol/L, 4.0 g/dL = 40 g/L: 0.66*log10(17.1) - 3.4 = -2.5862226
    s = albi_score([1.0], [4.0], bilirubin_unit="mg/dL", albumin_unit="g/dL")
    assert_close(float(s.iloc[0]), -2.5862226, rtol=0, atol=1e-6, what="ALBI from mg/dL")


def test_albi_bilirubin_in_mg_dl_declared_as_umol_raises_naming_column_and_row():
    bil = pd.Series([0.6, 1.2, 0.9], index=["p1", "p2", "p3"], name="TBIL")
    with pytest.raises(DataError) as e:
        albi_score(bil, [40, 38, 41])
    msg = str(e.value)
    assert "TBIL" in msg and "'p1'" in msg and "mg/dL" in msg


def test_albi_cohort_median_too_low_for_umol_raises():
    # each value >= 1 passes the row check, but a cohort median of 1.5 umol/L is implausible (mg/dL values)
    with pytest.raises(DataError, match="median"):
        albi_score(pd.Series([1.1, 1.5, 2.0, 1.3, 2.8], name="bili"), [40] * 5)


def test_albumin_in_g_dl_declared_as_g_l_raises():
    with pytest.raises(DataError, match="g/dL"):
        albi_score([17.0], pd.Series([3.5], name="ALB"))


def test_unknown_unit_is_an_input_error():
    with pytest.raises(InputError, match="unit"):
        albi_score([17.0], [40.0], bilirubin_unit="mmol/L")


def test_missing_input_gives_na_and_logs(caplog):
    with caplog.at_level(logging.WARNING):
        s = albi_score(pd.Series([17.0, np.nan]), pd.Series([40.0, 40.0]))
    assert s.isna().tolist() == [False, True]
    assert "ALBI" in caplog.text and "bilirubin missing in 1" in caplog.text
    assert albi_grade(s).isna().tolist() == [False, True]


def test_palbi_worked_example():
    # Roayaie et al. Hepatology 2015 formula; B=17 umol/L, Alb=40 g/L, P=150e9/L:
    # 2.02*1.2304489 - 0.37*1.2304489^2 - 0.04*40 - 3.48*2.1760913 + 1.01*2.1760913^2 = -2.4647455 (grade 2)
    s = palbi_score([17.0], [40.0], [150.0])
    assert_close(float(s.iloc[0]), -2.4647455, rtol=0, atol=1e-6, what="PALBI")
    assert palbi_grade([-2.53, -2.52, -2.09, -2.08]).tolist() == [1, 2, 2, 3]
    assert palbi_grade(s).tolist() == [2]


def test_platelets_per_microlitre_declared_as_1e9_raises():
    with pytest.raises(DataError, match="Platelets"):
        palbi_score([17.0], [40.0], pd.Series([150000.0], name="Platelets"))


def test_child_pugh_worked_example():
    # Pugh 1973 table: bilirubin 2.5 mg/dL (2), albumin 3.0 g/dL (2), INR 1.5 (1), mild ascites (2),
    # no encephalopathy (1) -> 8 points -> class B
    cp = child_pugh([2.5], [3.0], [1.5], ["mild"], ["none"], bilirubin_unit="mg/dL", albumin_unit="g/dL")
    row = cp.iloc[0]
    assert [row.CP_bilirubin, row.CP_albumin, row.CP_INR, row.CP_ascites, row.CP_encephalopathy] == [2, 2, 1, 2, 1]
    assert row.CP_score == 8 and row.CP_class == "B"


def test_child_pugh_boundaries():
    # bilirubin 34 and 50 umol/L -> 2 points, 33.9 -> 1, 50.1 -> 3; albumin 35 and 28 g/L -> 2;
    # INR 1.7 and 2.3 -> 2
    cp = child_pugh([33.9, 34, 50, 50.1], [35.1, 35, 28, 27.9], [1.69, 1.7, 2.3, 2.31], ["none"] * 4, ["none"] * 4)
    assert cp.CP_bilirubin.tolist() == [1, 2, 2, 3]
    assert cp.CP_albumin.tolist() == [1, 2, 2, 3]
    assert cp.CP_INR.tolist() == [1, 2, 2, 3]
    assert cp.CP_score.tolist() == [5, 8, 8, 11]
    assert cp.CP_class.astype(str).tolist() == ["A", "B", "B", "C"]
    # mg/dL thresholds are applied in mg/dL: exactly 2.0 mg/dL is 2 points, 3.0 is 2, 3.01 is 3
    cpm = child_pugh([1.99, 2.0, 3.0, 3.01], [40] * 4, [1.0] * 4, ["none"] * 4, ["none"] * 4, bilirubin_unit="mg/dL")
    assert cpm.CP_bilirubin.tolist() == [1, 2, 2, 3]


def test_child_pugh_bare_presence_of_ascites_cannot_be_scored():
    with pytest.raises(InputError, match="ascites"):
        child_pugh([20], [40], [1.0], ["present"], ["none"])


def test_child_pugh_missing_component_gives_na():
    cp = child_pugh([20, 20], [40, 40], [1.0, None], ["none", "none"], ["none", "none"])
    assert cp.CP_score.isna().tolist() == [False, True]
    assert pd.isna(cp.CP_class.iloc[1])
