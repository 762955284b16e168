"""Leakage-free validation. The key test: optimism-corrected AUC ~ AUC on a large fresh cohort, while
select-on-all-then-validate is optimistic (and the same check fails for a procedure that leaks)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import DataError
from hccrad.models import (
    build_model_pipeline,
    optimism_bootstrap,
    repeated_cv,
    scores_of,
    selected_features,
    split_train_test,
    train_test_validate,
)

BETA = np.array([1.0, -0.8, 0.7, 0.5])  # 4 real features, then noise; Bayes AUC about 0.8


def _cohort(n: int, p: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    X = rng.normal(size=(n, p))
    lp = X[:, : BETA.size] @ BETA
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:03d}" for i in range(p)]), y


def _pipeline():
    return build_model_pipeline(
        None, params={"lasso": {"cv": 5, "Cs": 8, "max_features": "epv", "keep_path": False}}, random_state=0)


def test_bootstrap_seeded_and_reports_frequencies():
    rng = np.random.default_rng(5)
    X, y = _cohort(100, 20, rng)
    a = optimism_bootstrap(_pipeline(), X, y, n_boot=4, seed=7, n_jobs=1)
    b = optimism_bootstrap(_pipeline(), X, y, n_boot=4, seed=7, n_jobs=1)
    assert np.array_equal(a.optimism, b.optimism)
    assert a.selection_frequency.equals(b.selection_frequency)
    c = optimism_bootstrap(_pipeline(), X, y, n_boot=4, seed=8, n_jobs=1)
    assert not np.array_equal(a.optimism, c.optimism)
    s = a.summary()
    assert {"apparent_auc", "mean_optimism", "corrected_auc", "ci_lower", "ci_upper", "auc_632plus"} <= set(s)
    assert a.corrected_auc == pytest.approx(a.apparent_auc - a.optimism.mean())
    assert a.ci[0] <= a.corrected_auc <= a.ci[1] or len(a.optimism) < 5
    assert ((a.selection_frequency > 0) & (a.selection_frequency <= 1)).all()
    assert "f000" in a.selection_frequency.index


@pytest.mark.slow
def test_optimism_corrected_auc_matches_fresh_cohort_and_naive_is_optimistic(caplog):
    """(n_jobs=2 and chunking giving the n_jobs=1 numbers: tests/models/test_scheduling.py.)"""
    caplog.set_level(logging.ERROR, logger="hccrad")  # restored after the test
    naive, corrected, fresh, leaky = [], [], [], []
    for s in range(6):
        rng = np.random.default_rng(1000 + s)
        X, y = _cohort(150, 300, rng)
        X_new, y_new = _cohort(5000, 300, rng)
        pipe = _pipeline()
        full = pipe.fit(X, y)
        naive.append(roc_auc_score(y, scores_of(full, X)))  # select on all, fit, score on all
        fresh.append(roc_auc_score(y_new, scores_of(full, X_new)))
        res = optimism_bootstrap(_pipeline(), X, y, n_boot=10, seed=s, n_jobs=1)
        corrected.append(res.corrected_auc)
        # leaky procedure: features chosen once on all patients, only the final logistic is bootstrapped
        chosen = selected_features(full)
        leaky.append(optimism_bootstrap(build_model_pipeline(None, ["logistic"]), X[chosen], y, n_boot=10,
                                        seed=s).corrected_auc)
    naive, corrected, fresh, leaky = map(np.asarray, (naive, corrected, fresh, leaky))
    gap = float(np.mean(corrected - fresh))
    assert abs(gap) <= 0.04, f"optimism-corrected AUC {corrected.mean():.3f} vs fresh {fresh.mean():.3f}"
    assert np.mean(naive - fresh) >= 0.08, f"naive AUC {naive.mean():.3f} should be optimistic vs {fresh.mean():.3f}"
    assert np.mean(leaky - fresh) > 0.04, "the leaky procedure should fail the same check"


def test_repeated_cv_and_train_test(rng):
    X, y = _cohort(120, 30, rng)
    cv = repeated_cv(_pipeline(), X, y, n_splits=3, n_repeats=2, seed=1)
    assert cv.fold_auc.size == 6 and 0.5 < cv.mean_auc < 1.0
    assert cv.summary().loc[0, "n_folds"] == 6
    df = X.assign(y=y, centre=np.repeat(["A", "B", "C"], 40))
    tr, te = split_train_test(df, "y", centre_col="centre", test_centres=["C"])
    assert set(te.centre) == {"C"} and "C" not in set(tr.centre)
    feats = [c for c in X.columns]
    res = train_test_validate(build_model_pipeline(feats, params={"lasso": {"cv": 5}}), tr, tr["y"], te, te["y"])
    assert res.test_ci[0] <= res.test_auc <= res.test_ci[1]
    assert res.selected and set(res.selected) <= set(feats)
    assert list(res.summary().index) == ["train (apparent)", "test"]
    tr2, te2 = split_train_test(df, "y", test_size=0.25, seed=3)
    assert len(te2) == 30 and abs(te2.y.mean() - df.y.mean()) < 0.05
    with pytest.raises(DataError, match="two classes"):
        optimism_bootstrap(_pipeline(), X, np.zeros(len(y)), n_boot=2)
