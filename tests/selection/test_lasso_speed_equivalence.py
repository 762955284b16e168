"""Issue 24: the fast LASSO path (hccrad.selection.l1path: inputs checked once per fold, SAGA warm-started along
increasing C) gives what scikit-learn's public ``LogisticRegression.fit`` gives cold, one fit per fold and C.

External reference: ``LogisticRegression(C, l1_ratio=1.0, solver="liblinear" | "saga", ...)`` fitted from zero
on every inner training fold and on all rows at every C of LassoSelector's grid (the implementation before
issue 24, kept here only as the reference). Compared: the CV deviance curve and its SE, the full-data
coefficient path, the chosen C, the selected set and its coefficients (atol 1e-4), for both intercept modes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from hccrad.selection import LassoSelector
from hccrad.selection.folds import patient_folds, row_groups
from hccrad.selection.l1path import L1LogisticPath
from hccrad.testing import assert_close


def _cold_fit(X, y, C, penalize_intercept: bool, random_state=0) -> tuple[np.ndarray, float]:
    if penalize_intercept:
        m = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", max_iter=1000, random_state=random_state)
    else:
        m = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000,
                               random_state=random_state)
    m.fit(X, y)
    return m.coef_[0], float(m.intercept_[0])


def _reference(X: pd.DataFrame, y: np.ndarray, sel: LassoSelector) -> dict:
    """Cold-start CV curve (mean, se of the binomial deviance) and full-data path on the selector's grid."""
    Xv = X.to_numpy(float)
    folds = patient_folds(y, row_groups(X), sel.cv, sel.random_state)
    dev = np.empty((len(folds), len(sel.Cs_)))
    for f, (tr, va) in enumerate(folds):
        for c, C in enumerate(sel.Cs_):
            w, b = _cold_fit(Xv[tr], y[tr], C, sel.penalize_intercept, sel.random_state)
            eta = Xv[va] @ w + b
            dev[f, c] = 2.0 * np.mean(np.logaddexp(0.0, eta) - y[va] * eta)
    path = np.vstack([_cold_fit(Xv, y, C, sel.penalize_intercept, sel.random_state)[0] for C in sel.Cs_])
    return {"mean": dev.mean(0), "se": dev.std(0, ddof=1) / np.sqrt(len(folds)), "path": path}


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, np.ndarray]:
    """Demo-like radiomics table: 100 patients, 200 standardised features, 6 informative."""
    X, y = make_classification(n_samples=100, n_features=200, n_informative=6, n_redundant=4, class_sep=0.8,
                               flip_y=0.05, random_state=7)
    X = (X - X.mean(0)) / X.std(0)
    return pd.DataFrame(X, columns=[f"f{i:03d}" for i in range(X.shape[1])]), y


# SAGA (free intercept) on 12 of the features: at p >= n its cold fits reach max_iter (1e5 epochs, ~40 s a
# fit, not converged) at the larger C, so neither result is a solution there and no equality can be asked.
@pytest.mark.parametrize("penalize_intercept, n_features, n_cs", [(True, 200, 20), (False, 12, 8)])
def test_fast_path_selects_what_cold_starts_select(cohort, penalize_intercept, n_features, n_cs):
    X, y = cohort
    X = X.iloc[:, :n_features]
    sel = LassoSelector(cv=5, Cs=n_cs, c_ratio=100.0, rule="1se", max_features=None,
                        penalize_intercept=penalize_intercept, random_state=0).fit(X, y)
    ref = _reference(X, y, sel)
    what = "liblinear" if penalize_intercept else "saga"
    assert_close(sel.cv_results_["mean"], ref["mean"], rtol=0, atol=1e-6, what=f"CV deviance ({what})")
    assert_close(sel.cv_results_["se"], ref["se"], rtol=0, atol=1e-6, what=f"CV deviance SE ({what})")
    assert_close(sel.coef_path_, ref["path"], rtol=0, atol=1e-4, what=f"full-data coefficient path ({what})")
    assert np.array_equal(sel.coef_path_ != 0, ref["path"] != 0), "non-zero pattern of the path differs"
    chosen = int(np.flatnonzero(np.isclose(sel.Cs_, sel.C_, rtol=1e-12))[0])
    assert np.array_equal(sel.support_, ref["path"][chosen] != 0), "selected set differs"
    assert_close(sel.coef_, ref["path"][chosen], rtol=0, atol=1e-4, what=f"selected coefficients ({what})")
    assert sel.support_.sum() >= 1


def test_liblinear_is_bit_identical_and_saga_path_order_free(cohort):
    X, y = cohort
    Xv = X.to_numpy(float)[:60]
    yv = y[:60]
    Cs = np.geomspace(0.02, 2.0, 6)
    fast = L1LogisticPath(Xv, yv, Cs, penalize_intercept=True, random_state=3)
    for i in (5, 0, 3):  # any order: no warm start with LIBLINEAR
        w, b = fast.fit(i)
        w0, b0 = _cold_fit(Xv, yv, Cs[i], True, random_state=3)
        assert np.array_equal(w, w0) and b == b0, f"LIBLINEAR at C={Cs[i]}: max diff {np.abs(w - w0).max()}"
    Xs = X.to_numpy(float)[:, :12]  # SAGA where it converges (p < n)
    forward = L1LogisticPath(Xs, y, Cs, penalize_intercept=False, random_state=0)
    backward = L1LogisticPath(Xs, y, Cs, penalize_intercept=False, random_state=0)
    last = [forward.fit(i)[0] for i in range(len(Cs))][-1]
    assert np.array_equal(backward.fit(len(Cs) - 1)[0], last), "the SAGA result depends on the order asked"


def test_keep_path_off_gives_the_same_selection_and_liblinear_prints_nothing(cohort, capfd):
    X, y = cohort
    on = LassoSelector(cv=5, Cs=12, random_state=0).fit(X, y)
    off = LassoSelector(cv=5, Cs=12, random_state=0, keep_path=False).fit(X, y)
    out, err = capfd.readouterr()
    assert "optimization finished" not in out + err, "LIBLINEAR's solver log reached stdout"
    assert off.coef_path_ is None and on.coef_path_ is not None
    assert np.array_equal(on.coef_, off.coef_) and on.C_ == off.C_
