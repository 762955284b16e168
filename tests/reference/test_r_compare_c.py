"""compare_cindex / harrell_c against compareC 1.3.3 (R), on a simulated cohort with ties and on `lung`.

Reference numbers: tests/reference/r/results/compare_c.csv, written by tests/reference/r/compare_c.R
(`make references`); the inputs the tests read are the ones R read (compare_c_input.csv).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.survival import compare_cindex, harrell_c
from hccrad.survival.concordance import _compare_c_moments
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
INPUT = pd.read_csv(RESULTS / "compare_c_input.csv")
REF = pd.read_csv(RESULTS / "compare_c.csv").set_index("dataset")
TOL = {"rtol": 1e-9, "atol": 1e-12}


def _data(dataset: str) -> tuple[pd.DataFrame, pd.Series]:
    return INPUT[INPUT["dataset"] == dataset], REF.loc[dataset]


@pytest.mark.parametrize("dataset", list(REF.index))
def test_compare_cindex_equals_compareC(dataset):
    d, ref = _data(dataset)
    assert len(d) == ref["n"]
    res = compare_cindex(d["time"], d["status"], d["risk_a"], d["risk_b"])
    assert_close(res.c_a, ref["c_a"], **TOL, what=f"{dataset}: C(a)")
    assert_close(res.c_b, ref["c_b"], **TOL, what=f"{dataset}: C(b)")
    assert_close(res.difference, ref["difference"], **TOL, what=f"{dataset}: C(a) - C(b)")
    assert_close(res.se**2, ref["var_difference"], **TOL, what=f"{dataset}: Var(C(a) - C(b))")
    assert_close(res.z, ref["z"], **TOL, what=f"{dataset}: z")
    assert_close(res.p_value, ref["p"], **TOL, what=f"{dataset}: p")


@pytest.mark.parametrize("dataset", list(REF.index))
def test_covariance_matrix_equals_compareC(dataset):
    d, ref = _data(dataset)
    scores = [d["risk_a"].to_numpy(float), d["risk_b"].to_numpy(float)]
    _, cov = _compare_c_moments(d["time"].to_numpy(float), d["status"].to_numpy(), scores)
    expected = np.array([[ref["var_c_a"], ref["cov_c_ab"]], [ref["cov_c_ab"], ref["var_c_b"]]])
    assert_close(cov, expected, **TOL, what=f"{dataset}: covariance of (C(a), C(b))")


@pytest.mark.parametrize("dataset", list(REF.index))
def test_harrell_c_se_equals_compareC(dataset):
    d, ref = _data(dataset)
    res = harrell_c(d["time"], d["status"], d["risk_a"])
    assert_close(res.c_index, ref["c_a"], **TOL, what=f"{dataset}: Harrell's C")
    assert_close(res.se**2, ref["var_c_a"], **TOL, what=f"{dataset}: Var(C)")
