"""Survival calibration at a horizon: a correct model is calibrated, a miscalibrated one is detected."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import DataError
from hccrad.survival import survival_calibration


@pytest.fixture(scope="module")
def cohort(simulate):
    return simulate(1500, seed=21, censor_rate=0.02)


def true_survival(x, t, beta=0.8):
    return np.exp(-0.1 * np.exp(beta * x) * t)


def test_true_model_is_calibrated(cohort):
    res = survival_calibration(cohort["time"], cohort["event"], true_survival(cohort["x"], 5.0), 5.0, n_groups=5)
    tab = res.table
    assert ((tab["lower"] <= tab["predicted"]) & (tab["predicted"] <= tab["upper"])).sum() >= 4
    assert abs(res.predicted_overall - res.observed_overall) < 0.03
    assert tab["predicted"].is_monotonic_increasing and tab["n"].sum() == len(cohort)


def test_miscalibration_detected(cohort):
    wrong = true_survival(cohort["x"], 5.0) ** 2.0  # hazard doubled: predicted survival too low
    res = survival_calibration(cohort["time"], cohort["event"], wrong, 5.0, n_groups=5)
    assert (res.table["observed"] > res.table["predicted"]).all()
    assert (res.table["lower"] > res.table["predicted"]).sum() >= 3


@pytest.mark.parametrize("pred, horizon, match", [(2.0, 5.0, r"outside \[0, 1\]"), (0.5, 1e6, "beyond")])
def test_errors(cohort, pred, horizon, match):
    with pytest.raises(DataError, match=match):
        survival_calibration(cohort["time"], cohort["event"], np.full(len(cohort), pred), horizon)
