"""PlattSVC (hccrad.models.factory): the sigmoid is fitted on patient-grouped, seeded, weighted out-of-fold
decision values, and why it is not scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``
(issue 25, item 6: the measured difference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import SVC

from hccrad.models.factory import PlattSVC, make_step
from hccrad.selection.folds import patient_folds, row_groups
from hccrad.testing import assert_close


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.8 * rng.normal(size=60) > 0).astype(int)
    return X, y


def _platt_by_hand(X, y, folds, weights=None):
    """Platt's sigmoid on 0/1 targets over out-of-fold SVC decision values (the definition)."""
    params = None if weights is None else {"sample_weight": weights}
    dec = cross_val_predict(SVC(), X, y, cv=folds, method="decision_function", params=params)
    lr = LogisticRegression(C=1e6).fit(dec.reshape(-1, 1), y, sample_weight=weights)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def test_one_row_per_patient_gives_the_previous_folds_and_numbers(data):
    """With one row per patient the inner folds are StratifiedKFold(5, shuffle, random_state) -- with the
    pipeline's seed 0 exactly the folds (and probabilities) of the previous hard-coded implementation."""
    X, y = data
    m = make_step("svm", random_state=0).fit(X, y)
    assert isinstance(m, PlattSVC) and m.random_state == 0
    ref = _platt_by_hand(X, y, StratifiedKFold(5, shuffle=True, random_state=0))
    assert_close([m.platt_coef_, m.platt_intercept_], ref, rtol=1e-12, atol=0, what="Platt A, B")


def test_the_seed_is_the_estimators_random_state(data):
    X, y = data
    a = PlattSVC(random_state=0).fit(X, y)
    b = PlattSVC(random_state=3).fit(X, y)
    ref = _platt_by_hand(X, y, StratifiedKFold(5, shuffle=True, random_state=3))
    assert_close([b.platt_coef_, b.platt_intercept_], ref, rtol=1e-12, atol=0, what="Platt A, B, seed 3")
    assert a.platt_coef_ != b.platt_coef_
    assert make_step("svm", random_state=7).random_state == 7


def test_sample_weights_reach_the_inner_folds_and_the_sigmoid(data):
    X, y = data
    w = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    m = PlattSVC(random_state=0).fit(X, y, sample_weight=w)
    ref = _platt_by_hand(X, y, StratifiedKFold(5, shuffle=True, random_state=0), weights=w)
    assert_close([m.platt_coef_, m.platt_intercept_], ref, rtol=1e-12, atol=0, what="weighted Platt A, B")
    unweighted = PlattSVC(random_state=0).fit(X, y)
    assert abs(m.platt_coef_ - unweighted.platt_coef_) > 1e-6


def test_bootstrap_copies_of_a_patient_stay_in_one_inner_fold(data):
    """In a bootstrap resample (DataFrame index = original row) a patient's copies share one inner fold, so
    no copy is calibrated by a model that saw its twin."""
    X, y = data
    draw = np.random.default_rng(1).integers(0, len(y), len(y))
    Xb = pd.DataFrame(X[draw], index=draw, columns=["a", "b", "c"])
    yb = y[draw]
    m = PlattSVC(random_state=0).fit(Xb, yb)
    groups = row_groups(Xb)
    first = np.unique(groups, return_index=True)[1]
    k = int(min(5, np.bincount(yb[first]).min()))
    folds = patient_folds(yb, groups, k, 0)
    for train, test in folds:
        assert not set(draw[train]) & set(draw[test]), "a patient in both the training and calibration fold"
    ref = _platt_by_hand(Xb, yb, folds)
    assert_close([m.platt_coef_, m.platt_intercept_], ref, rtol=1e-12, atol=0, what="grouped Platt A, B")
    leaky = _platt_by_hand(Xb, yb, StratifiedKFold(k, shuffle=True, random_state=0))
    assert abs(leaky[0] - m.platt_coef_) > 1e-6  # the ungrouped folds give another (leaky) sigmoid


def _sigmoid_on_smoothed_targets(dec: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's (1999) regularised targets t+ = (N+ + 1)/(N+ + 2), t- = 1/(N- + 2), cross-entropy minimised."""
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(ab):
        eta = ab[0] * dec + ab[1]
        return float(np.sum(np.logaddexp(0.0, eta) - t * eta))

    res = minimize(loss, x0=np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    return float(res.x[0]), float(res.x[1])


def test_calibrated_classifier_cv_fits_smoothed_targets_so_it_differs(data):
    """scikit-learn 1.9.1's CalibratedClassifierCV(method="sigmoid", ensemble=False) on the same folds equals
    a sigmoid fitted to Platt's smoothed targets, not to 0/1: it has no option for 0/1 targets, so switching
    would move the probabilities (measured here: max |difference| 0.043 on 60 cases)."""
    X, y = data
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    ours = PlattSVC(random_state=0).fit(X, y)
    cal = CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False, cv=folds).fit(X, y)
    p_ours, p_cal = ours.predict_proba(X)[:, 1], cal.predict_proba(X)[:, 1]
    dec = cross_val_predict(SVC(), X, y, cv=folds, method="decision_function")
    a, b = _sigmoid_on_smoothed_targets(dec, y)
    assert_close(p_cal, expit(a * ours.decision_function(X) + b), rtol=0, atol=1e-6,
                 what="CalibratedClassifierCV vs sigmoid on smoothed targets")
    diff = float(np.max(np.abs(p_ours - p_cal)))
    assert 0.03 < diff < 0.06, f"max |P(PlattSVC) - P(CalibratedClassifierCV)| = {diff:.4f}"
