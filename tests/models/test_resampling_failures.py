"""Issue 19 (6): inner folds group bootstrap copies by patient; failed resamples are recorded, never hidden."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from hccrad.core.errors import ModelError
from hccrad.models.factory import build_model_pipeline
from hccrad.models.validation import FAILED_FRACTION_LIMIT, optimism_bootstrap, repeated_cv
from hccrad.selection import LassoSelector
from hccrad.selection.folds import patient_folds, row_groups


def test_patient_folds_keep_copies_together_and_both_classes_in_training():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.r_[np.ones(12), np.zeros(38)]).astype(int)
    for _ in range(200):
        b = rng.integers(0, y.size, y.size)
        if np.unique(y[b]).size < 2 or min(np.unique(b[y[b] == c]).size for c in (0, 1)) < 2:
            continue
        folds = patient_folds(y[b], b, 5, 0)
        assert sorted(np.concatenate([va for _, va in folds]).tolist()) == list(range(b.size))
        for tr, va in folds:
            assert va.size > 0, "an empty validation fold"
            assert np.unique(y[b][tr]).size == 2, "a training fold with one outcome class"
            assert not set(b[tr]) & set(b[va]), "a patient's copy on both sides of an inner fold"


def test_patient_folds_refuse_what_cannot_be_stratified():
    y = np.array([0] * 10 + [1])
    with pytest.raises(ModelError, match="impossible"):
        patient_folds(y, np.arange(11), 5, 0)


def test_row_groups_from_index_not_values():
    X = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0]}, index=[7, 8, 7, 9])  # rows 0/1 equal values, other patients
    assert row_groups(X).tolist() == [0, 1, 0, 2]
    assert row_groups(X.to_numpy()).tolist() == [0, 1, 2, 3]
    assert row_groups(X, groups=["p", "p", "q", "q"]).tolist() == [0, 0, 1, 1]


def test_lasso_on_coarse_features_of_a_bootstrap_sample_fits():
    """Coarse values make different patients identical rows: grouping by value merged patients of both
    classes into one group and could leave a training fold with one class (the liblinear crash)."""
    rng = np.random.default_rng(1)
    n = 60
    y = rng.permutation(np.r_[np.ones(20), np.zeros(40)]).astype(int)
    X = pd.DataFrame(rng.integers(0, 2, size=(n, 1)).astype(float), columns=["binary"])
    b = rng.integers(0, n, n)
    Xb = X.iloc[b].set_axis(pd.Index(b), axis=0)
    sel = LassoSelector(cv=5, keep_path=False, cv_stop=None).fit(Xb, y[b])  # every C on every fold
    assert np.isfinite(sel.cv_results_["mean"]).all()


class _FailsWithPatientZero(LogisticRegression):
    """A model that cannot be fitted whenever patient 0 (original row 0) is in the training rows."""

    def fit(self, X, y, sample_weight=None):
        if 0 in set(np.asarray(X.index)) and X.index.name == "resample_row":
            raise ModelError("patient 0 makes this fit impossible (test)")
        return super().fit(X, y, sample_weight)


def test_failed_resamples_are_recorded_and_flagged():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    y = np.r_[np.ones(20), np.zeros(20)].astype(int)
    res = optimism_bootstrap(_FailsWithPatientZero(), X, y, n_boot=20, seed=3)
    assert res.n_failed == len(res.failures) > 0
    assert res.n_used == 20 - res.n_failed == res.optimism.size
    assert all(f.error == "ModelError" and "patient 0" in f.message for f in res.failures)
    assert res.n_failed / 20 > FAILED_FRACTION_LIMIT and res.flagged and "could not be fitted" in res.warning
    rec = res.record()
    assert rec["requested"] == 20 and rec["used"] == res.n_used and len(rec["failed_resamples"]) == res.n_failed
    assert sorted(f["resample"] for f in rec["failed_resamples"]) == [f.resample for f in res.failures]
    s = res.summary()
    assert int(s["n_used"].iloc[0]) == res.n_used and bool(s["flagged"].iloc[0])
    cv = repeated_cv(_FailsWithPatientZero(), X, y, n_splits=4, n_repeats=2, seed=0)
    assert cv.n_failed == 6 and cv.n_used == 2 and cv.flagged  # patient 0 trains in 3 of every 4 folds


def test_shuffled_labels_finish_with_corrected_auc_near_half():
    """Pure noise: the optimism-corrected AUC must be near 0.5. Tolerance 0.12: under the null the AUC of
    n1 = n0 = 50 has SD sqrt((n1 + n0 + 1) / (12 n1 n0)) = 0.058 (Hanley & McNeil 1982), so 0.12 is ~2 SD;
    the run is seeded, hence deterministic (not flaky). Coarse (integer) features reproduce issue 19's crash."""
    rng = np.random.default_rng(4)
    n = 100
    X = pd.DataFrame(rng.integers(0, 3, size=(n, 12)).astype(float), columns=[f"f{i}" for i in range(12)],
                     index=[f"case{i:03d}" for i in range(n)])
    y = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n // 2)]).astype(int)
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "univariate", "lasso", "logistic"],
                                params={"lasso": {"cv": 5}})
    res = optimism_bootstrap(pipe, X, y, n_boot=25, seed=5)
    assert res.n_used + res.n_failed == 25 and len(res.failures) == res.n_failed
    diff = res.corrected_auc - 0.5
    assert abs(diff) < 0.12, f"corrected AUC {res.corrected_auc:.3f}, reference 0.5, difference {diff:+.3f}"
