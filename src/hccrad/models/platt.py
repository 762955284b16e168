"""Platt-calibrated support vector machine: an SVC whose probabilities come from a sigmoid fitted to
out-of-fold decision values (Platt 1999), with patient-grouped inner folds.

Bundles written before this module existed name the class ``hccrad.models.factory.PlattSVC``; factory
re-exports it under that name and the bundle allow-list (:mod:`hccrad.models.trusted_types`) holds both.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.svm import SVC
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from hccrad.selection.contract import binary_target_tags, not_binary
from hccrad.selection.folds import patient_folds, row_groups


class PlattSVC(SVC):
    """SVC whose `predict_proba` is Platt's sigmoid P(y = 1 | f) = 1 / (1 + exp(-(A f + B))) fitted by maximum
    likelihood on 0/1 targets to out-of-fold decision values f of the training data (Platt 1999), so its output
    is a probability for calibration and decision curves; `decision_function` is the plain SVC's.
    (SVC(probability=True) is deprecated in scikit-learn 1.9.)

    Inner folds: k = min(5, patients in the smaller class) stratified folds that keep a patient's copies
    together (:func:`hccrad.selection.folds.patient_folds`, patients from :func:`~hccrad.selection.folds.row_groups`:
    the DataFrame index, which labels bootstrap copies of one patient alike), seeded by ``random_state``; with
    one row per patient these are ``StratifiedKFold(k, shuffle=True, random_state)``. With fewer than 2
    patients in a class the in-sample decision values are used. ``sample_weight`` weights the SVC fits of the
    inner folds and the sigmoid fit as well as the final SVC.

    Not ``CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False)`` (scikit-learn 1.9.1): on the same
    out-of-fold decision values it fits the sigmoid to Platt's smoothed targets ((N+ + 1)/(N+ + 2) and
    1/(N- + 2)) instead of 0/1, which moves the probabilities (by up to 0.043 on 60 cases), it has no option
    for 0/1 targets, and it cannot take patient groups without metadata routing; so results would change
    (tests/models/test_platt_calibration.py measures the difference)."""

    def __sklearn_tags__(self):
        return binary_target_tags(super().__sklearn_tags__())

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        if self.classes_.size != 2:
            raise not_binary("PlattSVC", self.classes_.size)
        yv = np.asarray(y).ravel()
        target = (yv == self.classes_[1]).astype(int)
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        dec = self._out_of_fold_decision(X, target, row_groups(X), weights)
        platt = LogisticRegression(C=1e6).fit(dec.reshape(-1, 1), target, sample_weight=weights)
        self.platt_coef_, self.platt_intercept_ = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        return self

    def _out_of_fold_decision(self, X, target: np.ndarray, groups: np.ndarray, weights) -> np.ndarray:
        first = np.unique(groups, return_index=True)[1]  # one row per patient
        folds = int(min(5, np.bincount(target[first], minlength=2).min()))
        if folds < 2:
            return super().decision_function(X)
        cv = patient_folds(target, groups, folds, self.random_state)
        params = None if weights is None else {"sample_weight": weights}
        return cross_val_predict(SVC(**self.get_params()), X, target, cv=cv, method="decision_function",
                                 params=params)

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "platt_coef_")
        p1 = expit(self.platt_coef_ * self.decision_function(X) + self.platt_intercept_)
        return np.column_stack([1.0 - p1, p1])
