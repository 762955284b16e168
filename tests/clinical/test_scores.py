"""Six-and-twelve, CRAFITY, NLR, PLR and AFP strata on worked examples from their definitions."""

from __future__ import annotations

import pandas as pd
import pytest

from hccrad.clinical.scores import afp_strata, crafity, nlr, plr, six_and_twelve
from hccrad.core.errors import DataError
from hccrad.testing import assert_close


def test_six_and_twelve_strata():
    # Wang et al. J Hepatol 2019 (seed 004 table 3 footnote): score = largest diameter (cm) + number;
    # <= 6 low, > 6 to <= 12 intermediate, > 12 high. 5 cm + 1 = 6 (low); 5.1 + 1 = 6.1 (intermediate);
    # 9 + 3 = 12 (intermediate); 10 + 3 = 13 (high)
    t = six_and_twelve([5.0, 5.1, 9.0, 10.0], [1, 1, 3, 3])
    assert_close(t.six12_score.to_numpy(float), [6.0, 6.1, 12.0, 13.0], rtol=0, atol=1e-12, what="six-and-twelve")
    assert t.six12_stratum.astype(str).tolist() == ["low", "intermediate", "intermediate", "high"]


def test_six_and_twelve_diameter_in_mm_and_bad_number():
    t = six_and_twelve([50.0], [2], diameter_unit="mm")
    assert float(t.six12_score.iloc[0]) == 7.0
    with pytest.raises(DataError, match="whole number"):
        six_and_twelve([5.0], [1.5])
    with pytest.raises(DataError, match="mm"):
        six_and_twelve(pd.Series([96.0], name="d_tumor"), [1])  # 96 "cm": the column is in mm


def test_crafity_thresholds_and_crp_units():
    # Scheiner et al. J Hepatol 2022: AFP >= 100 ng/mL and CRP >= 1 mg/dL, one point each
    t = crafity([99.9, 100, 100, 5000], [0.99, 0.99, 1.0, 3.0])
    assert t.CRAFITY.tolist() == [0, 1, 2, 2]
    assert t.CRAFITY_group.astype(str).tolist() == ["low", "intermediate", "high", "high"]
    # seed 001 reports CRP in mg/L: 10 mg/L = 1 mg/dL
    assert crafity([10], [10.0], crp_unit="mg/L").CRAFITY.tolist() == [1]


def test_nlr_plr_and_unit_errors():
    assert_close(nlr([4.11], [2.43]).to_numpy(float), [4.11 / 2.43], rtol=1e-12, atol=0, what="NLR")
    assert_close(plr([182.0], [2.0]).to_numpy(float), [91.0], rtol=1e-12, atol=0, what="PLR")
    with pytest.raises(DataError, match="Neu"):
        nlr(pd.Series([4100.0], name="Neu"), [2.4])  # cells/uL declared as 10^9/L
    with pytest.raises(DataError, match="plausible|≤ 0"):
        nlr([4.0], [0.0])


def test_afp_strata_seed001_closed_ends():
    # seed 001 table 3: < 20 / 20–200 / > 200 ng/mL
    s = afp_strata(pd.Series([5, 19.99, 20, 200, 200.01, None]))
    assert s.astype(object).where(s.notna(), None).tolist() == ["<20", "<20", "[20,200]", "[20,200]", ">200", None]
    s400 = afp_strata([400, 401], "afp400")
    assert s400.astype(str).tolist() == ["<=400", ">400"]
