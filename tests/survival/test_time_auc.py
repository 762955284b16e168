"""Time-dependent AUC: reduces to the ordinary ROC AUC without censoring; CIs seeded; horizon checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import DataError
from hccrad.survival import compare_time_auc, time_dependent_auc
from hccrad.testing import assert_close


def test_equals_roc_auc_without_censoring(simulate):
    d = simulate(200, seed=4, censor_rate=1e-9)  # effectively no censoring: all IPC weights equal
    assert d["event"].all()
    res = time_dependent_auc(d["time"], d["event"], d["time"], d["event"], d["x"], [3.0, 8.0], n_boot=0)
    for h, auc in zip(res.table["time"], res.table["auc"]):
        ref = roc_auc_score(d["time"] <= h, d["x"])
        assert_close(auc, ref, rtol=0, atol=1e-10, what=f"AUC({h}) vs ROC AUC")


def test_bootstrap_ci_seeded_and_brackets(sim):
    a = time_dependent_auc(sim["time"], sim["event"], sim["time"], sim["event"], sim["x"], [5.0, 10.0],
                           n_boot=100, seed=3)
    b = time_dependent_auc(sim["time"], sim["event"], sim["time"], sim["event"], sim["x"], [5.0, 10.0],
                           n_boot=100, seed=3)
    assert a.table.equals(b.table)
    assert ((a.table["lower"] < a.table["auc"]) & (a.table["auc"] < a.table["upper"])).all()
    assert (a.table["n_cases"] > 0).all() and (a.table["n_controls"] > 0).all()


def test_censoring_distribution_from_training(simulate):
    train, test = simulate(300, seed=7, censor_rate=0.08), simulate(200, seed=8, censor_rate=0.08)
    own = time_dependent_auc(test["time"], test["event"], test["time"], test["event"], test["x"], [5.0], n_boot=0)
    other = time_dependent_auc(train["time"], train["event"], test["time"], test["event"], test["x"], [5.0],
                               n_boot=0)
    assert own.table["auc"].iloc[0] != other.table["auc"].iloc[0]  # G(t) really comes from `train`


def test_compare_time_auc(sim):
    res = compare_time_auc(sim["time"], sim["event"], sim["time"], sim["event"], sim["x"], sim["noise"],
                           [5.0, 10.0], n_boot=100, seed=1)
    tab = res.table
    assert_close(tab["difference"], tab["auc_a"] - tab["auc_b"], rtol=0, atol=1e-12, what="difference")
    assert (tab["p_value"] < 0.01).all() and (tab["lower"] > 0).all()


def test_horizon_outside_follow_up(sim):
    with pytest.raises(DataError, match="outside the follow-up"):
        time_dependent_auc(sim["time"], sim["event"], sim["time"], sim["event"], sim["x"],
                           [sim["time"].max() + 1], n_boot=0)
    t, e = np.arange(1.0, 11.0), np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    with pytest.raises(DataError, match="no events"):
        time_dependent_auc(t, e, t, e, np.arange(10.0), [1.5], n_boot=0)
