"""Maximally selected log-rank cut-point against R maxstat 0.7 and Lausen & Schumacher (1992) Table 2.

Reference data: the `hohnloser` data set shipped with R maxstat (data/hohnloser.txt; Hohnloser et al.,
left ventricular ejection fraction EF and survival in 94 patients) and maxstat's saved example output
(tests/Examples/maxstat-Ex.Rout.save, cran/maxstat commit 167db863): maxstat.test(Surv(month, cens) ~ EF,
smethod="LogRank", pmethod="Lau92") -> M = 3.5691, p-value = 0.01065, estimated cutpoint 39.
The 94 rows (3 small integers each) are inlined here because they are not in ../shared/data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError
from hccrad.survival import apply_cutpoint, logrank_test, maxstat_cutpoint, p_lausen92
from hccrad.testing import assert_close

HOHNLOSER = """
11 1 0|11 5 1|12 14 0|13 2 1|13 10 0|13 39 0|15 16 1|17 17 0|20 1 1|20 1 1|20 1 1|20 8 1|20 29 0|21 22 1|22 1 0
22 3 0|22 11 1|22 15 0|23 13 0|24 1 0|24 1 0|24 3 1|24 5 1|24 7 1|24 11 0|24 33 0|25 3 1|25 16 1|26 1 1|26 13 0
26 23 0|27 20 0|28 12 0|30 1 0|30 1 1|31 18 1|31 20 0|32 23 0|33 9 1|33 12 0|33 17 0|33 21 0|34 1 0|34 5 1
34 14 1|34 38 0|36 6 0|37 1 1|38 3 1|38 12 0|38 18 0|39 8 1|40 19 0|41 3 0|41 10 0|41 15 1|43 19 0|43 31 0
43 33 0|44 23 0|44 24 0|49 5 0|50 13 0|51 4 1|51 21 0|51 28 0|52 3 0|52 16 0|52 37 0|56 1 0|56 3 1|56 33 0
57 23 0|57 29 0|58 5 1|58 9 0|58 36 0|59 19 1|60 1 0|60 10 0|61 7 0|64 1 0|64 6 0|64 7 0|64 14 0|65 6 0
70 5 0|70 23 0|72 36 0|75 30 0|77 10 0|77 20 0|80 7 0|93 22 0
"""


@pytest.fixture(scope="module")
def hohnloser() -> pd.DataFrame:
    rows = [r.split() for r in HOHNLOSER.replace("\n", "|").split("|") if r.strip()]
    return pd.DataFrame(np.array(rows, dtype=float), columns=["EF", "month", "cens"])


@pytest.fixture(scope="module")
def hohn_cut(hohnloser):
    return maxstat_cutpoint(hohnloser["month"], hohnloser["cens"], hohnloser["EF"], minprop=0.1)


def test_hohnloser_rows(hohnloser):
    assert len(hohnloser) == 94


@pytest.mark.parametrize("field, ref, atol", [("statistic", 3.5691, 5e-5), ("p_value", 0.01065, 5e-6),
                                              ("cutpoint", 39.0, 0.0)])
def test_maxstat_hohnloser(hohn_cut, field, ref, atol):
    assert_close(getattr(hohn_cut, field), ref, rtol=0.0, atol=atol, what=f"maxstat {field}")


def test_split_sizes(hohn_cut, hohnloser):
    assert hohn_cut.n_low == int((hohnloser["EF"] <= 39).sum()) and hohn_cut.n_low + hohn_cut.n_high == 94
    assert hohn_cut.candidates["m"].between(np.floor(94 * 0.1), np.floor(94 * 0.9)).all()


# Lausen & Schumacher (1992) Table 2 (as maxstat's LausenTab2): quantiles b with pLausen92(b) = alpha
TABLE2 = [(0.25, 0.75, 0.1, 2.539), (0.25, 0.75, 0.05, 2.829), (0.25, 0.75, 0.025, 3.088), (0.25, 0.75, 0.01, 3.395),
          (0.4, 0.6, 0.1, 2.263), (0.4, 0.6, 0.05, 2.560), (0.4, 0.6, 0.025, 2.828), (0.4, 0.6, 0.01, 3.149),
          (0.1, 0.9, 0.1, 2.784), (0.1, 0.9, 0.05, 3.054), (0.1, 0.9, 0.025, 3.297), (0.1, 0.9, 0.01, 3.588),
          (0.4, 0.9, 0.1, 2.597), (0.4, 0.9, 0.05, 2.883), (0.4, 0.9, 0.025, 3.138), (0.4, 0.9, 0.01, 3.442)]


@pytest.mark.parametrize("minprop, maxprop, alpha, b", TABLE2)
def test_lausen_schumacher_table2(minprop, maxprop, alpha, b):
    # b is printed to 3 decimals: allow the change of p over +-0.0005 in b
    slope = abs(p_lausen92(b + 5e-4, minprop, maxprop) - p_lausen92(b - 5e-4, minprop, maxprop))
    assert_close(p_lausen92(b, minprop, maxprop), alpha, rtol=0.0, atol=slope, what="pLausen92 at Table 2 quantile")


def test_corrected_p_exceeds_naive_logrank_p(hohnloser, hohn_cut):
    naive = logrank_test(hohnloser["month"], hohnloser["cens"], hohnloser["EF"] > hohn_cut.cutpoint).p_value
    assert hohn_cut.p_value > naive


def test_cutpoint_chosen_on_training_only(simulate):
    # the test cohort cannot move the cut-point: labels of test patients depend only on the training fit
    train, test = simulate(200, seed=1), simulate(150, seed=2)
    cut = maxstat_cutpoint(train["time"], train["event"], train["x"])
    labels = apply_cutpoint(test["x"], cut.cutpoint)
    altered = test.assign(time=test["time"][::-1].to_numpy())  # different outcomes, same scores
    cut_again = maxstat_cutpoint(train["time"], train["event"], train["x"])
    assert cut_again.cutpoint == cut.cutpoint
    assert (apply_cutpoint(altered["x"], cut_again.cutpoint) == labels).all()
    assert set(labels) == {"low", "high"}
    assert ((test["x"] > cut.cutpoint) == (labels == "high")).all()


def test_apply_cutpoint_keeps_missing():
    out = apply_cutpoint([1.0, np.nan, 3.0], 2.0)
    assert out.tolist() == ["low", None, "high"]


def test_errors():
    with pytest.raises(DataError, match="minprop"):
        maxstat_cutpoint([1, 2, 3], [1, 0, 1], [1, 2, 3], minprop=0.6)
    with pytest.raises(DataError, match="too few distinct"):
        maxstat_cutpoint(np.arange(1, 21), [1, 0] * 10, [0] * 19 + [1], minprop=0.1)
