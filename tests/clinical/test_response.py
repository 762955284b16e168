"""RECIST 1.1 / mRECIST categories, visit assessment, best overall response, ORR/DCR tables."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from hccrad.clinical.response import (
    assess_visits, best_overall_response, disease_control, objective_response, overall_response, proportion_ci,
    response_rates, target_response,
)
from hccrad.core.errors import DataError, InputError
from hccrad.testing import assert_close


def test_recist_thresholds():
    # Eisenhauer et al. 2009: PR >= 30% decrease from baseline; PD >= 20% increase over nadir and >= 5 mm
    base = [100, 100, 100, 100, 50, 20, 100]
    cur = [70, 71, 0, 120, 60, 24, 84]
    nad = [100, 100, 100, 100, 50, 20, 70]
    got = target_response(base, cur, nad)
    # 120 vs nadir 100: +20%, +20 mm -> PD; 24 vs 20: +20% but only 4 mm -> not PD (SD);
    # 84 vs nadir 70: +20%, +14 mm -> PD even though below baseline
    assert got.astype(str).tolist() == ["PR", "SD", "CR", "PD", "PD", "SD", "PD"]


def test_mrecist_has_no_5mm_floor():
    # Lencioni & Llovet 2010: PD = >= 20% increase in the sum of viable diameters over the nadir
    got = target_response([20, 40], [24, 28], [20, 40], criteria="mrecist")
    assert got.astype(str).tolist() == ["PD", "PR"]


def test_target_response_input_errors():
    with pytest.raises(DataError, match="measurable"):
        target_response([0], [10])
    with pytest.raises(DataError, match="mm"):
        target_response([5000], [10])
    with pytest.raises(InputError, match="criteria"):
        target_response([10], [10], criteria="who")
    assert target_response([10], [None]).astype(str).tolist() == ["NE"]


def test_overall_response_table():
    # RECIST 1.1 table 1: target CR + non-target non-CR/non-PD -> PR; any new lesion -> PD
    got = overall_response(pd.Series(["CR", "CR", "PR", "SD", "NE"]), [False, False, True, False, False],
                           ["CR", "non-CR/non-PD", "CR", "PD", "CR"])
    assert got.astype(str).tolist() == ["CR", "PR", "PD", "PD", "NE"]
    missing = overall_response(pd.Series([None, None, "PR"]), [True, False, None])
    assert missing.astype(str).tolist() == ["PD", "NE", "NE"]


def _visits() -> pd.DataFrame:
    rows = [
        # case A: PR at day 42, confirmed at day 84, PD at day 126 (70 vs nadir 55: +27%, +15 mm)
        ("A", 0, 100, False), ("A", 42, 60, False), ("A", 84, 55, False), ("A", 126, 70, False),
        # case B: PR at day 42, PD at day 63 (55 vs nadir 30) -> unconfirmed PR
        ("B", 0, 50, False), ("B", 42, 30, False), ("B", 63, 55, False),
        # case C: new lesion at the first follow-up
        ("C", 0, 40, False), ("C", 42, 38, True),
        # case D: CR at day 42 and day 84
        ("D", 0, 30, False), ("D", 42, 0, False), ("D", 84, 0, False),
        # case E: stable, then PR 20 days later only (too early to confirm)
        ("E", 0, 80, False), ("E", 42, 75, False), ("E", 70, 50, False), ("E", 90, 50, False),
    ]
    return pd.DataFrame(rows, columns=["case_id", "day", "sum_mm", "new_lesions"]).sample(frac=1, random_state=1)


def test_assess_visits_uses_nadir_of_previous_visits():
    a = assess_visits(_visits())
    ra = a[a.case_id == "A"]
    assert ra.nadir_mm.tolist() == [100, 60, 55]
    assert ra.overall_response.astype(str).tolist() == ["PR", "PR", "PD"]
    assert_close(ra.pct_change_baseline.to_numpy(float), [-40, -45, -30], rtol=0, atol=1e-9, what="% change")
    assert a[a.case_id == "C"].overall_response.astype(str).tolist() == ["PD"]


def test_best_overall_response_with_and_without_confirmation():
    a = assess_visits(_visits())
    bor = best_overall_response(a)
    assert bor.astype(str).to_dict() == {"A": "PR", "B": "PR", "C": "PD", "D": "CR", "E": "PR"}
    conf = best_overall_response(a, confirm=True, confirm_min_days=28)
    # B's PR is followed only by PD -> SD; E's PR at day 70 has only day 90 (20 days) after it -> SD
    assert conf.astype(str).to_dict() == {"A": "PR", "B": "SD", "C": "PD", "D": "CR", "E": "SD"}
    # RECIST 1.1 §4.4: an unconfirmed PR before the minimum SD duration, followed by PD, is PD
    short = best_overall_response(a, sd_min_days=50, confirm=True).astype(str)
    assert short["B"] == "PD" and short["E"] == "SD"


def test_objective_response_and_disease_control():
    cats = pd.Series(["CR", "PR", "SD", "PD", "NE"])
    assert objective_response(cats).tolist()[:4] == [1, 1, 0, 0] and objective_response(cats).isna().iloc[4]
    assert disease_control(cats).tolist()[:4] == [1, 1, 1, 0]


def test_proportion_ci_matches_r_binom_test():
    # R: binom.test(682, 925)$conf.int = 0.7076683 0.7654066 (example of ?binom.test)
    assert_close(proportion_ci(682, 925), [0.7076683, 0.7654066], rtol=0, atol=5e-8, what="Clopper-Pearson")
    for method, sm in (("wilson", "wilson"), ("wald", "normal")):
        assert_close(proportion_ci(57, 105, method=method), proportion_confint(57, 105, method=sm), rtol=0,
                     atol=1e-9, what=method)


def test_response_rates_table():
    bor = pd.Series(["CR", "PR", "SD", "PD", "NE", "PR"], index=list("abcdef"))
    grp = pd.Series(["train", "train", "train", "test", "test", "test"], index=bor.index)
    r = response_rates(bor, grp)
    t = r.summary().set_index(["group", "endpoint"])
    assert (t.loc[("all", "ORR"), "n"], t.loc[("all", "ORR"), "N"]) == (3, 6)
    assert (t.loc[("all", "DCR"), "n"], t.loc[("all", "DCR"), "N"]) == (4, 6)
    assert (t.loc[("test", "ORR"), "n"], t.loc[("test", "ORR"), "N"]) == (1, 3)
    assert "[3/6]" in t.loc[("all", "ORR"), "text"]
    lo, hi = proportion_confint(3, 6, method="beta")
    assert_close([t.loc[("all", "ORR"), "ci_low"], t.loc[("all", "ORR"), "ci_high"]], [lo, hi], rtol=0, atol=1e-9,
                 what="ORR CI")
    excl = response_rates(bor, ne_as_failure=False).summary()
    assert excl.loc[excl.endpoint == "ORR", "N"].item() == 5
