"""Time-dependent AUC against riskRegression::Score(metrics = "auc", cens.model = "km"): case weights 1/G(T_i-).

Reference numbers: tests/reference/r/results/time_auc.csv, written by tests/reference/r/time_auc.R
(`make references`) on a simulated cohort with tied times and scores and on survival's `veteran`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError
from hccrad.survival import time_dependent_auc
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
INPUT = pd.read_csv(RESULTS / "time_auc_input.csv")
REF = pd.read_csv(RESULTS / "time_auc.csv")
TOL = {"rtol": 1e-9, "atol": 1e-12}


def _run(dataset: str, **kwargs):
    d = INPUT[INPUT["dataset"] == dataset]
    ref = REF[REF["dataset"] == dataset]
    res = time_dependent_auc(d["time"], d["status"], d["time"], d["status"], d["risk"], ref["time"].tolist(),
                             n_boot=0, **kwargs)
    return res.table, ref


@pytest.mark.parametrize("dataset", ["simulated", "veteran"])
def test_default_weighting_equals_riskRegression(dataset):
    table, ref = _run(dataset)
    assert_close(table["auc"].to_numpy(), ref["auc"].to_numpy(), **TOL, what=f"{dataset}: AUC(t)")
    assert table["n_cases"].tolist() == ref["n_cases"].tolist()
    assert table["n_controls"].tolist() == ref["n_controls"].tolist()


def test_right_limit_weighting_is_the_other_option():
    # 1/G(T_i) (sksurv) moves AUC(t) by up to ~6e-4 on the tied simulated cohort: a different estimator
    left, ref = _run("simulated", ipcw="left")
    right, _ = _run("simulated", ipcw="right")
    gap = np.abs(right["auc"].to_numpy() - ref["auc"].to_numpy())
    assert gap.max() > 1e-4, gap
    with pytest.raises(DataError, match="ipcw|IPC"):
        _run("simulated", ipcw="middle")
