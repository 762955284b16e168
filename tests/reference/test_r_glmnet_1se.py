"""LassoSelector's CV curve, 1-SE choice and selected features vs glmnet's cv.glmnet on the same folds.

Reference: tests/reference/r/results/glmnet_1se.csv, written by tests/reference/r/glmnet_1se.R
(`make references`): cv.glmnet(family = "binomial", type.measure = "deviance", foldid, lambda grid) on the
data and folds of glmnet_1se_input.csv (5 stratified folds of 24, so every training fold has n_f = 96 and
C = 1 / (n_f lambda)). hccrad's folds are replaced by glmnet's foldid here.

With ``penalize_intercept=False`` (saga, free intercept: glmnet's objective) the curve agrees to 1e-6 except
at the all-zero end of the path, where saga leaves the intercept ~1e-2 from its optimum (deviance within
1e-4); the 1-SE choice and the selected set are identical. The default (liblinear, intercept penalised)
differs from glmnet by up to 2e-3 in CV deviance, and on this data set chooses the next smaller penalty
(one grid step) -- documented in docs/references.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hccrad.selection.wrappers as wrappers
from hccrad.selection.wrappers import LassoSelector
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
DATA = pd.read_csv(RESULTS / "glmnet_1se_input.csv")
REF = pd.read_csv(RESULTS / "glmnet_1se.csv")  # one row per lambda, decreasing = C increasing
FEATURES = [f"x{i}" for i in range(1, 11)]


def _glmnet_folds(y, groups, k, random_state):
    fold = DATA["foldid"].to_numpy()
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(1, 6)]


def _fit(monkeypatch, penalize_intercept: bool) -> LassoSelector:
    monkeypatch.setattr(wrappers, "patient_folds", _glmnet_folds)
    sel = LassoSelector(cv=5, Cs=REF["C"].to_numpy(), rule="1se", max_features=None,
                        penalize_intercept=penalize_intercept)
    return sel.fit(DATA[FEATURES], DATA["y"])


def test_free_intercept_reproduces_cv_glmnet(monkeypatch):
    sel = _fit(monkeypatch, penalize_intercept=False)
    mean, se = np.asarray(sel.cv_results_["mean"]), np.asarray(sel.cv_results_["se"])
    inner = slice(3, None)  # past the all-zero end of the path
    assert_close(mean[inner], REF["cvm"][inner], rtol=1e-6, atol=1e-6, what="CV deviance (glmnet cvm)")
    assert_close(se[inner], REF["cvsd"][inner], rtol=1e-6, atol=1e-6, what="CV SE (glmnet cvsd)")
    assert_close(mean, REF["cvm"], rtol=0, atol=1e-4, what="CV deviance, whole path")
    chosen = REF.loc[REF["is_1se"]].iloc[0]
    assert_close(sel.C_, chosen["C"], rtol=1e-12, atol=0, what="C at lambda.1se")
    selected = [f for f, c in zip(FEATURES, sel.coef_) if c != 0]
    assert selected == chosen["nonzero_refit"].split(";")


def test_default_liblinear_stays_near_glmnet(monkeypatch):
    sel = _fit(monkeypatch, penalize_intercept=True)
    assert_close(np.asarray(sel.cv_results_["mean"]), REF["cvm"], rtol=0, atol=3e-3,
                 what="CV deviance with the intercept penalised (liblinear) vs glmnet")
    lam_ratio = REF.loc[REF["is_1se"], "C"].iloc[0] / sel.C_
    grid_step = REF["C"].iloc[1] / REF["C"].iloc[0]
    assert lam_ratio == pytest.approx(1.0) or lam_ratio == pytest.approx(1 / grid_step), \
        f"1-SE C {sel.C_} vs glmnet's {REF.loc[REF['is_1se'], 'C'].iloc[0]}: more than one grid step apart"
