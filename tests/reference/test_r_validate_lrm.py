"""Optimism-corrected calibration intercept and slope (and Dxy) of a fixed logistic model vs rms::validate.

Reference: tests/reference/r/results/validate_lrm.csv, written by tests/reference/r/validate_lrm.R
(`make references`): rms::validate(lrm(y ~ x1 + x2 + x3, x = TRUE, y = TRUE), B = 2000) on the seeded
data of validate_lrm_input.csv. Apparent values are deterministic and compared at 1e-6. The corrected ones
are Monte-Carlo averages (R: B = 2000, hccrad: B = 400, other random resamples); the tolerance is the
larger of a fixed bound (slope 0.03, intercept and Dxy 0.02) and 4 Monte-Carlo standard errors of the
difference (hccrad's SE from its own resamples, R's taken as that SE scaled to B = 2000).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.models.logistic import LogisticModel
from hccrad.models.validation import optimism_bootstrap
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
DATA = pd.read_csv(RESULTS / "validate_lrm_input.csv")
REF = pd.read_csv(RESULTS / "validate_lrm.csv").set_index("index")
B = 400
FIXED = {"intercept": 0.02, "slope": 0.03, "dxy": 0.02}


@pytest.fixture(scope="module")
def result():
    return optimism_bootstrap(LogisticModel(firth=False), DATA[["x1", "x2", "x3"]], DATA["y"], n_boot=B, seed=7)


def _mc_tolerance(per_resample: np.ndarray, fixed: float) -> float:
    se = np.std(per_resample, ddof=1) / np.sqrt(per_resample.size)
    return max(fixed, 4.0 * se * np.sqrt(1.0 + B / float(REF.loc["Slope", "n_boot"])))


def test_apparent_values_equal_rms(result):
    cal = result.calibration_summary()
    assert_close(cal.loc["intercept", "apparent"], REF.loc["Intercept", "apparent"], rtol=0, atol=1e-6,
                 what="apparent calibration intercept")
    assert_close(cal.loc["slope", "apparent"], REF.loc["Slope", "apparent"], rtol=0, atol=1e-6,
                 what="apparent calibration slope")
    assert_close(2 * result.apparent_auc - 1, REF.loc["Dxy_exact", "apparent"], rtol=1e-9, atol=1e-12,
                 what="apparent Dxy")


@pytest.mark.parametrize(("row", "column"), [("intercept", 0), ("slope", 1)])
def test_corrected_calibration_within_monte_carlo_error_of_rms(result, row, column):
    cal = result.calibration_summary()
    assert cal.loc[row, "n_used"] == B and cal.loc[row, "calibration_failed"] == 0
    diff = result.boot_calibration[:, column] - result.test_calibration[:, column]
    tol = _mc_tolerance(diff, FIXED[row])
    assert_close(cal.loc[row, "corrected"], REF.loc[row.capitalize(), "corrected"], rtol=0, atol=tol,
                 what=f"corrected calibration {row} (B = {B} vs rms B = 2000)")


def test_corrected_dxy_within_monte_carlo_error_of_rms(result):
    corrected_dxy = 2 * result.corrected_auc - 1
    tol = _mc_tolerance(2 * result.optimism, FIXED["dxy"])
    assert_close(corrected_dxy, REF.loc["Dxy", "corrected"], rtol=0, atol=tol, what=f"corrected Dxy (B = {B})")
