"""Issue 24: LassoSelector(cv_stop=k) (default 4), the C grid ended once the CV curve has risen past the 1-SE
bound, selects what the whole grid of plain LIBLINEAR fits selects; the rule is the same whether the C past
the end are scored for the report's figure (keep_path, the apparent fit) or left unfitted (resampling).

External reference: scikit-learn's public ``LogisticRegression(C, l1_ratio=1.0, solver="liblinear")`` fitted
cold on every inner training fold at every C of the grid (the whole CV curve), the 1-SE rule applied to that
curve (moved to the next C when the chosen one keeps no feature, as LassoSelector does), and the same
``LogisticRegression`` on all rows at the chosen C -- on a demo-like cohort (105 patients,
15 correlated standardised features, as the seed-000 habitat model hands its LASSO) and on bootstrap resamples
of it (copies of a patient kept in one inner fold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from hccrad.models.factory import build_model_pipeline, without_lasso_path
from hccrad.selection import LassoSelector
from hccrad.selection.folds import patient_folds, row_groups
from hccrad.selection.wrappers import grid_can_stop
from hccrad.testing import assert_close


def _liblinear(X, y, C) -> tuple[np.ndarray, float]:
    m = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", max_iter=1000, random_state=0).fit(X, y)
    return m.coef_[0], float(m.intercept_[0])


def _reference(X: pd.DataFrame, y: np.ndarray, Cs: np.ndarray, cv: int) -> dict:
    """The whole grid, cold LIBLINEAR fits: CV deviance curve, the 1-SE choice, its coefficients on all rows."""
    Xv = X.to_numpy(float)
    dev = np.empty((cv, len(Cs)))
    for f, (tr, va) in enumerate(patient_folds(y, row_groups(X), cv, 0)):
        for c, C in enumerate(Cs):
            w, b = _liblinear(Xv[tr], y[tr], C)
            eta = Xv[va] @ w + b
            dev[f, c] = 2.0 * np.mean(np.logaddexp(0.0, eta) - y[va] * eta)
    mean, se = dev.mean(0), dev.std(0, ddof=1) / np.sqrt(cv)
    best = int(np.argmin(mean))
    chosen = int(np.argmax(mean <= mean[best] + se[best]))
    coef = _liblinear(Xv, y, Cs[chosen])[0]
    while not np.any(coef):  # LassoSelector's rule: a chosen C that keeps no feature -> the next that keeps one
        chosen += 1
        coef = _liblinear(Xv, y, Cs[chosen])[0]
    return {"mean": mean, "se": se, "chosen": chosen, "coef": coef}


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(n_samples=105, n_features=15, n_informative=4, n_redundant=6, class_sep=0.7,
                               flip_y=0.05, random_state=3)
    X = (X - X.mean(0)) / X.std(0)
    return pd.DataFrame(X, columns=[f"h{i:02d}" for i in range(X.shape[1])]), y


@pytest.mark.parametrize("resample", [None, 0, 1])
def test_early_stopped_grid_selects_what_the_whole_liblinear_grid_selects(demo, resample):
    X, y = demo
    if resample is not None:  # a bootstrap resample: rows labelled with their patient (the index)
        rows = np.random.default_rng(resample).integers(0, len(y), len(y))
        X, y = X.iloc[rows], y[rows]
    sel = LassoSelector(cv=10, Cs=20, rule="1se", max_features=None, keep_path=False,
                        cv_stop=4, random_state=0).fit(X, y)
    scored = int(np.sum(~np.isnan(sel.cv_results_["mean"])))
    assert scored < len(sel.Cs_), f"the grid was not ended early: {scored} of {len(sel.Cs_)} C scored"
    ref = _reference(X, y, sel.Cs_, 10)
    what = "demo" if resample is None else f"resample {resample}"
    assert_close(sel.cv_results_["mean"][:scored], ref["mean"][:scored], rtol=0, atol=1e-6,
                 what=f"CV deviance at the C scored ({what})")
    assert_close(sel.cv_results_["se"][:scored], ref["se"][:scored], rtol=0, atol=1e-6,
                 what=f"CV deviance SE at the C scored ({what})")
    assert sel.C_ == sel.Cs_[ref["chosen"]], \
        f"chosen C {sel.C_} != whole-grid choice {sel.Cs_[ref['chosen']]} ({what})"
    assert np.array_equal(sel.support_, ref["coef"] != 0), \
        f"selected set {np.flatnonzero(sel.support_)} != reference {np.flatnonzero(ref['coef'])} ({what})"
    assert_close(sel.coef_, ref["coef"], rtol=0, atol=1e-4, what=f"selected coefficients ({what})")


@pytest.mark.parametrize("scoring, rule", [("deviance", "min"), ("auc", "1se")])
def test_early_stop_keeps_the_whole_grids_numbers_bit_for_bit(demo, scoring, rule):
    X, y = demo
    whole = LassoSelector(cv=5, Cs=16, scoring=scoring, rule=rule, keep_path=False, cv_stop=None).fit(X, y)
    early = LassoSelector(cv=5, Cs=16, scoring=scoring, rule=rule, keep_path=False, cv_stop=3).fit(X, y)
    n = int(np.sum(~np.isnan(early.cv_results_["mean"])))
    assert n < 16, f"{scoring}: the grid was not ended early"
    assert np.array_equal(early.cv_results_["mean"][:n], whole.cv_results_["mean"][:n])
    assert np.array_equal(early.cv_results_["se"][:n], whole.cv_results_["se"][:n])
    assert np.isnan(early.cv_results_["mean"][n:]).all()
    assert early.C_ == whole.C_ and np.array_equal(early.coef_, whole.coef_), \
        f"{scoring}/{rule}: C {early.C_} vs {whole.C_}, coef diff {np.abs(early.coef_ - whole.coef_).max()}"


def test_grid_can_stop_only_past_patience_c_above_the_1se_bound():
    se = np.full(8, 0.05)
    rising = np.array([1.0, 0.8, 0.86, 0.9, 1.0, 1.1, 1.2, 1.3])  # bound 0.85
    assert grid_can_stop(rising[:5], se[:5], 3) is True  # 0.86, 0.9, 1.0: the last three above 0.85
    assert grid_can_stop(rising[:4], se[:4], 3) is False  # only 2 C after the best
    assert grid_can_stop(rising[:6], se[:6], 4) is True
    assert grid_can_stop(rising[:5], se[:5], 4) is False  # only 3 C after the best
    within = np.array([1.0, 0.8, 0.84, 0.9, 1.0, 1.1])  # 0.84 lies within the bound
    assert grid_can_stop(within, se[:6], 4) is False
    assert grid_can_stop(within, se[:6], 3) is True
    # the documented limit: a curve that dips below its minimum again after rising for k C is cut before it
    dip = np.array([1.0, 0.8, 0.9, 1.0, 1.1, 1.2, 0.5])
    assert grid_can_stop(dip[:6], np.full(6, 0.05), 4) is True


@pytest.mark.parametrize("cv_stop", [1, 2, 4])
def test_apparent_and_resample_fits_choose_by_the_same_rule(demo, cv_stop):
    """keep_path=True (the apparent fit: the whole curve scored for the figure) and keep_path=False (a resample:
    the grid left unfitted past its end) choose among the same C -- the bootstrap repeats the selection exactly,
    even where a small cv_stop ends the grid before the whole grid's choice."""
    X, y = demo
    shown = LassoSelector(cv=5, Cs=16, keep_path=True, cv_stop=cv_stop).fit(X, y)
    fast = LassoSelector(cv=5, Cs=16, keep_path=False, cv_stop=cv_stop).fit(X, y)
    assert not np.isnan(shown.cv_results_["mean"]).any(), "the apparent fit's curve must be whole (figure)"
    end = shown.cv_grid_end_
    assert end == fast.cv_grid_end_ == int(np.sum(~np.isnan(fast.cv_results_["mean"])))
    assert np.array_equal(shown.cv_results_["mean"][:end], fast.cv_results_["mean"][:end])
    assert shown.C_ == fast.C_ and np.array_equal(shown.coef_, fast.coef_), (cv_stop, shown.C_, fast.C_)


def test_spec_step_and_resampling_clone():
    """The spec's lasso step builds cv_stop 4 (null: the whole grid); a resample's clone drops only the path."""
    from hccrad.selection.registry import LassoStep

    assert LassoStep().build().cv_stop == 4 and LassoStep(cv_stop=None).build().cv_stop is None
    assert LassoStep().changed_params() == {}, "a default step must be written as its name, as before"
    pipe = build_model_pipeline(["a", "b"], steps=["scale", "lasso", "logistic"], random_state=0)
    out = without_lasso_path(pipe)
    assert out.named_steps["lasso"].keep_path is False and out.named_steps["lasso"].cv_stop == 4
