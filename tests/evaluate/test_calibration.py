"""Calibration: Hosmer–Lemeshow on a hand-computed example, in-sample logistic identities, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from hccrad.core.errors import DataError
from hccrad.evaluate.calibration import (
    bootstrap_calibration_curve,
    calibration,
    calibration_curve_binned,
    hosmer_lemeshow,
)
from hccrad.testing import assert_close


def test_hosmer_lemeshow_hand_example():
    # groups at tertiles of p: {0.1, 0.2}, {0.3, 0.4}, {0.6, 0.8}
    # Ĉ = (0−.3)²/.3 + (2−1.7)²/1.7 + (1−.7)²/.7 + (1−1.3)²/1.3 + (2−1.4)²/1.4 + (0−.6)²/.6
    p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.8]
    y = [0, 0, 1, 0, 1, 1]
    res = hosmer_lemeshow(y, p, g=3)
    assert res.df == 1
    assert_close(res.statistic, 1.4078862314, rtol=0, atol=1e-9, what="HL statistic")
    assert_close(res.p, stats.chi2.sf(1.4078862314, 1), rtol=0, atol=1e-9, what="HL p")
    assert res.table["n"].tolist() == [2, 2, 2]


@pytest.fixture
def fitted(rng):
    X = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-(0.5 + 1.5 * X[:, 0])))).astype(int)
    return X, y


def test_in_sample_logistic_is_perfectly_calibrated_in_the_large(fitted):
    # MLE score equations: an unpenalised logistic model's own predictions have CITL 0 and slope 1
    X, y = fitted
    p = LogisticRegression(C=np.inf).fit(X, y).predict_proba(X)[:, 1]
    res = calibration(y, p)
    assert_close(res.citl, 0.0, rtol=0, atol=1e-5, what="calibration-in-the-large")
    assert_close(res.slope, 1.0, rtol=0, atol=1e-4, what="calibration slope")
    assert_close(res.brier, np.mean((p - y) ** 2), rtol=1e-12, atol=0, what="Brier")
    assert set(res.summary()["statistic"]) >= {"calibration slope", "Brier score"}


def test_overfitted_predictions_have_slope_below_one(fitted):
    X, y = fitted
    lp = np.log(0.5 / 0.5) + 1.5 * X[:, 0]
    p_extreme = 1 / (1 + np.exp(-3 * lp))  # too extreme → slope ≈ 1/3
    assert calibration(y, p_extreme).slope < 0.6


def test_binned_curve_counts(fitted):
    X, y = fitted
    p = LogisticRegression().fit(X, y).predict_proba(X)[:, 1]
    b = calibration_curve_binned(y, p, n_bins=5)
    assert b["n"].sum() == 300 and b["events"].sum() == y.sum()
    assert (b["lower"] <= b["observed"]).all() and (b["observed"] <= b["upper"]).all()


def test_bootstrap_optimism_reproducible(fitted):
    X, y = fitted
    a = bootstrap_calibration_curve(LogisticRegression(), X, y, n_boot=8, seed=5)
    b = bootstrap_calibration_curve(lambda: LogisticRegression(), X, y, n_boot=8, seed=5)
    assert_close(a.curve["corrected"].to_numpy(), b.curve["corrected"].to_numpy(), rtol=0, atol=0,
                 what="corrected curve, same seed")
    assert list(a.summary().columns) == ["predicted", "apparent", "optimism", "corrected"]


def test_probabilities_out_of_range():
    with pytest.raises(DataError):
        calibration([0, 1, 0], [0.2, 1.3, 0.1])


def test_binned_curve_with_constant_predictions():
    """A model that gives every patient the same probability has one bin (not an empty table)."""
    from hccrad.evaluate.calibration import calibration_curve_binned

    b = calibration_curve_binned([0, 1, 1, 0, 1], [0.4] * 5)
    assert len(b) == 1 and b.loc[0, "n"] == 5 and abs(b.loc[0, "observed"] - 0.6) < 1e-12
