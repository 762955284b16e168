"""DeLong AUC, variance, covariance, CI and paired test against pROC 1.19 on its aSAH data.

Reference values: ../shared/data/stats_reference/PROVENANCE.md §A (pROC's own test suite).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.evaluate.discrimination import auc_ci, delong_covariance, delong_test
from hccrad.testing import assert_close

TOL = {"rtol": 0.0, "atol": 1e-6}
MARKERS = ("wfns", "ndka", "s100b")


@pytest.fixture(scope="module")
def asah(shared_data):
    df = pd.read_csv(shared_data / "stats_reference" / "pROC_aSAH" / "aSAH.csv")
    return (df["outcome"] == "Poor").to_numpy(), df


@pytest.fixture(scope="module")
def delong(asah):
    y, df = asah
    return delong_covariance(y, {m: df[m] for m in MARKERS})


@pytest.mark.parametrize("marker, ref", [("wfns", 0.823678861788618), ("ndka", 0.611957994579946),
                                         ("s100b", 0.731368563685637)])
def test_auc(delong, marker, ref):
    assert_close(delong[0][marker], ref, **TOL, what=f"AUC {marker}")


@pytest.mark.parametrize("marker, ref", [("wfns", 0.00146991470882363), ("ndka", 0.0031908105493913),
                                         ("s100b", 0.00266868245717244)])
def test_delong_variance(delong, marker, ref):
    assert_close(delong[1].loc[marker, marker], ref, rtol=0.0, atol=1e-9, what=f"var(AUC {marker})")


@pytest.mark.parametrize("a, b, ref", [("wfns", "ndka", -0.000532967856762438),
                                       ("ndka", "s100b", -0.000756164938056579),
                                       ("s100b", "wfns", 0.00119615567376754)])
def test_delong_covariance(delong, a, b, ref):
    assert_close(delong[1].loc[a, b], ref, rtol=0.0, atol=1e-9, what=f"cov({a}, {b})")
    assert delong[1].loc[a, b] == delong[1].loc[b, a]


@pytest.mark.parametrize("bound, ref", [("lower", 0.501244999271703), ("upper", 0.722670989888189)])
def test_ci_auc_ndka(asah, bound, ref):
    y, df = asah
    res = auc_ci(y, df["ndka"], method="delong")
    assert_close(getattr(res, bound), ref, **TOL, what=f"ci.auc(ndka) {bound}")
    assert res.method == "DeLong"


@pytest.mark.parametrize("a, b, field, ref", [
    ("wfns", "s100b", "z", 2.20898359144091),
    ("wfns", "s100b", "p", 0.0271757822291882),
    ("wfns", "s100b", "lower", 0.0104061769564846),
    ("wfns", "s100b", "upper", 0.174214419249478),
    ("wfns", "ndka", "z", 2.79777591868904),
    ("wfns", "ndka", "p", 0.00514557970691098),
])
def test_roc_test_paired(asah, a, b, field, ref):
    y, df = asah
    res = delong_test(y, df[a], df[b], names=(a, b))
    assert_close(getattr(res, field), ref, **TOL, what=f"roc.test({a}, {b}) {field}")


def test_sample_order_invariance(asah):
    y, df = asah
    perm = np.random.default_rng(7).permutation(len(y))
    r1 = delong_test(y, df["wfns"], df["s100b"])
    r2 = delong_test(y[perm], df["wfns"].to_numpy()[perm], df["s100b"].to_numpy()[perm])
    assert_close(r2.z, r1.z, rtol=0.0, atol=1e-12, what="Z after permuting patients")
