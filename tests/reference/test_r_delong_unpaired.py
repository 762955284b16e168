"""Unpaired DeLong test against pROC's roc.test(paired = FALSE, method = "delong") (t, Welch–Satterthwaite df).

Reference numbers: tests/reference/r/results/delong_unpaired.csv, written by tests/reference/r/delong_unpaired.R
(`make references`) on pROC's aSAH (women vs men) and two small simulated cohorts with tied scores.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hccrad.evaluate import delong_test_unpaired
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
INPUT = pd.read_csv(RESULTS / "delong_unpaired_input.csv")
REF = pd.read_csv(RESULTS / "delong_unpaired.csv").set_index("comparison")
TOL = {"rtol": 1e-9, "atol": 1e-12}


@pytest.mark.parametrize("comparison", list(REF.index))
def test_unpaired_delong_equals_pROC(comparison):
    d = INPUT[INPUT["comparison"] == comparison]
    a, b = d[d["group"] == "a"], d[d["group"] == "b"]
    ref = REF.loc[comparison]
    res = delong_test_unpaired(a["y"], a["score"], b["y"], b["score"])
    assert_close(res.auc_a, ref["auc_a"], **TOL, what=f"{comparison}: AUC a")
    assert_close(res.auc_b, ref["auc_b"], **TOL, what=f"{comparison}: AUC b")
    assert_close(res.z, ref["statistic"], **TOL, what=f"{comparison}: D statistic")
    assert_close(res.df, ref["df"], **TOL, what=f"{comparison}: Welch–Satterthwaite df")
    assert_close(res.p, ref["p"], **TOL, what=f"{comparison}: p-value")
    assert res.summary()["df"].iloc[0] == res.df and "t(" in str(res)
