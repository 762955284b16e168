"""Selection transformers: numbers against scipy/statsmodels, selection behaviour, fallbacks and errors."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.outliers_influence import variance_inflation_factor

from hccrad.core.errors import DataError, ModelError
from hccrad.models.stepwise import StepwiseSelector
from hccrad.selection import (
    CorrelationPruner,
    LassoSelector,
    MRMRSelector,
    RFESelector,
    StabilityFilter,
    UnivariateFilter,
    VIFPruner,
    univariate_pvalues,
    vif,
)
from hccrad.testing import assert_close


def _data(rng, n=120, p=20, beta=(1.5, -1.2)):
    X = rng.normal(size=(n, p))
    lp = X[:, : len(beta)] @ np.asarray(beta)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(p)]), y


def test_univariate_pvalues_match_scipy(rng):
    X, y = _data(rng)
    X["skewed"] = np.exp(3 * rng.normal(size=len(y)))  # log-normal: Shapiro-Wilk rejects normality
    p, tests = univariate_pvalues(X.to_numpy(), y, "auto")
    a, b = X[y == 0], X[y == 1]
    for j, col in enumerate(X.columns):
        if tests[j] == "ttest":
            ref = stats.ttest_ind(a[col], b[col], equal_var=False).pvalue
        else:
            ref = stats.mannwhitneyu(a[col], b[col], alternative="two-sided").pvalue
        assert_close(p[j], ref, rtol=1e-10, atol=0, what=f"p-value of {col}")
    assert tests[-1] == "mannwhitney"
    assert (tests[:-1] == "ttest").mean() > 0.7  # normal columns mostly pass Shapiro-Wilk


def test_univariate_filter_keeps_signal_and_pandas_out(rng):
    X, y = _data(rng)
    f = UnivariateFilter(p_max=0.01).set_output(transform="pandas").fit(X, y)
    Z = f.transform(X)
    assert isinstance(Z, pd.DataFrame)
    assert {"f00", "f01"} <= set(Z.columns)
    assert list(f.get_feature_names_out()) == list(Z.columns) == f.selected_features_


def test_univariate_filter_fallback_keeps_best(rng, caplog):
    X, y = _data(rng, beta=(0.0,))
    with caplog.at_level(logging.WARNING):
        f = UnivariateFilter(p_max=1e-12).fit(X, y)
    assert f.support_.sum() == 1
    assert f.selected_features_ == [X.columns[int(np.argmin(f.pvalues_))]]
    assert "keeping the best one" in caplog.text


def test_univariate_errors(rng):
    X, y = _data(rng)
    with pytest.raises(DataError, match="two classes"):
        UnivariateFilter().fit(X, np.ones(len(y)))
    Xn = X.copy()
    Xn.iloc[3, 5] = np.nan
    with pytest.raises(DataError, match="f05"):
        UnivariateFilter().fit(Xn, y)
    with pytest.raises(ModelError, match="The 'test' parameter of UnivariateFilter must be"):
        UnivariateFilter(test="wilcoxon").fit(X, y)


def test_correlation_pruner_keeps_smaller_p(rng):
    X, y = _data(rng)
    X["f00_copy"] = X["f00"] + rng.normal(scale=0.01, size=len(y))  # ~identical, slightly noisier
    X["f05_copy"] = X["f05"] * 2.0 + 0.001 * rng.normal(size=len(y))
    cp = CorrelationPruner(threshold=0.9, method="spearman").fit(X, y)
    kept = set(cp.selected_features_)
    for a, b in [("f00", "f00_copy"), ("f05", "f05_copy")]:
        assert len(kept & {a, b}) == 1
        ia, ib = list(X.columns).index(a), list(X.columns).index(b)
        winner = a if cp.pvalues_[ia] <= cp.pvalues_[ib] else b
        assert winner in kept
    assert len(kept) == X.shape[1] - 2
    assert_close(cp.correlation_[0, 1], abs(stats.spearmanr(X["f00"], X["f01"]).statistic), rtol=1e-10, atol=1e-12,
                 what="Spearman |rho|")


def test_vif_matches_statsmodels_and_pruner(rng):
    X, y = _data(rng, p=5)
    X["collinear"] = X["f00"] + X["f01"] + rng.normal(scale=0.05, size=len(y))
    exog = np.column_stack([np.ones(len(X)), X.to_numpy()])
    ref = [variance_inflation_factor(exog, j) for j in range(1, exog.shape[1])]
    assert_close(vif(X.to_numpy()), ref, rtol=1e-8, atol=0, what="VIF")
    v = VIFPruner(max_vif=10).fit(X)
    assert v.support_.sum() == X.shape[1] - 1
    assert np.nanmax(v.vif_) <= 10


def test_stability_filter(rng):
    X, y = _data(rng, p=4)
    table = pd.DataFrame({"feature": X.columns, "icc": [0.9, 0.5, 0.8, 0.95], "cv": [0.1, 0.1, 0.3, 0.05]})
    assert StabilityFilter(table, icc_min=0.75).fit(X).selected_features_ == ["f00", "f02", "f03"]
    assert StabilityFilter(table, icc_min=0.75, cv_max=0.15).fit(X).selected_features_ == ["f00", "f03"]
    assert StabilityFilter(None).fit(X).support_.all()
    with pytest.raises(ModelError, match="no stability estimate"):
        StabilityFilter(table.iloc[:2]).fit(X)
    assert StabilityFilter(table.iloc[:2], missing="keep").fit(X).selected_features_ == ["f00", "f02", "f03"]
    assert StabilityFilter(table, icc_min=0.99).fit(X).selected_features_ == ["f03"]  # fallback: best ICC


def test_lasso_selector_path_rules_and_determinism(rng):
    X, y = _data(rng, n=200, p=30)
    X = (X - X.mean()) / X.std()
    a = LassoSelector(cv=5, Cs=15, rule="min", max_features=None, random_state=1).fit(X, y)
    b = LassoSelector(cv=5, Cs=15, rule="1se", max_features=None, random_state=1).fit(X, y)
    assert {"f00", "f01"} <= set(b.selected_features_)
    assert b.support_.sum() <= a.support_.sum()
    assert b.C_ <= a.C_
    cvr = pd.DataFrame(a.cv_results_)
    assert cvr.shape == (15, 5) and a.coef_path_.shape == (15, 30)
    assert (cvr["n_nonzero"].diff().dropna() >= -2).all()  # path grows (almost monotone)
    again = LassoSelector(cv=5, Cs=15, rule="min", max_features=None, random_state=1).fit(X, y)
    assert np.array_equal(a.coef_, again.coef_)
    capped = LassoSelector(cv=5, Cs=15, rule="min", max_features=2, random_state=1).fit(X, y)
    assert capped.support_.sum() <= 2
    auc = LassoSelector(cv=5, Cs=8, scoring="auc", random_state=1).fit(X, y)
    assert auc.support_.sum() >= 1
    with pytest.raises(ModelError, match="per class"):
        LassoSelector(cv=10).fit(X.iloc[:15], y[:15])


def test_rfe_mrmr_stepwise_find_signal(rng):
    X, y = _data(rng, n=200, p=12, beta=(2.0, -1.5))
    assert {"f00", "f01"} <= set(RFESelector(n_features=3).fit(X, y).selected_features_)
    assert "f00" in MRMRSelector(n_features=3).fit(X, y).selected_features_
    sw = StepwiseSelector(direction="forward").fit(X, y)
    assert {"f00", "f01"} <= set(sw.selected_features_)
    assert set(sw.result_.selected) == set(sw.selected_features_)


def test_lasso_min_rule_matches_sklearn_logistic_regression_cv(rng):
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    X = rng.normal(size=(200, 30))
    y = (rng.random(200) < 1 / (1 + np.exp(-(X[:, 0] - X[:, 1])))).astype(int)
    ours = LassoSelector(cv=5, Cs=15, rule="min", max_features=None, random_state=1).fit(X, y)
    ref = LogisticRegressionCV(
        Cs=ours.Cs_, cv=StratifiedKFold(5, shuffle=True, random_state=1), l1_ratios=(1.0,), solver="liblinear",
        scoring="neg_log_loss", max_iter=1000, use_legacy_attributes=False, random_state=1,
    ).fit(X, y)
    assert_close(ours.C_, ref.C_, rtol=1e-12, atol=0, what="C chosen by the min rule")
    assert_close(ours.coef_, ref.coef_.ravel(), rtol=1e-8, atol=1e-10, what="LASSO coefficients at C")
