"""Cox regression: univariable table, categorical coding, stepwise, PH test, prediction, errors."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from hccrad.core.errors import DataError, ModelError
from hccrad.survival import cox_regression
from hccrad.testing import assert_close

@pytest.fixture(scope="module")
def full(lung):
    return cox_regression(lung, "time", "event", ["age", "sex", "ph.ecog"])


def test_univariable_rows_use_available_cases(full, lung):
    uni = full.univariable.set_index("covariate")
    assert uni.loc["age", "n"] == 228 and uni.loc["ph.ecog", "n"] == 227
    ref = CoxPHFitter().fit(lung[["time", "event", "age"]], "time", "event")
    assert_close(uni.loc["age", "coef"], ref.params_["age"], rtol=1e-10, atol=0, what="univariable age")


def test_hr_ci_consistent(full):
    tab = full.summary()
    assert_close(np.log(tab["hr"]), tab["coef"], rtol=1e-12, atol=0, what="log HR = coef")
    assert_close(np.log(tab["hr_upper"]) - tab["coef"], 1.959963984540054 * tab["se"], rtol=1e-9, atol=0,
                 what="Wald CI half-width")


def test_ph_test_table(full, lung):
    ph = full.ph_test
    assert list(ph["covariate"]) == ["age", "sex", "ph.ecog", "GLOBAL"]
    assert ph["df"].tolist() == [1, 1, 1, 3]
    assert ((ph["p"] > 0) & (ph["p"] <= 1)).all()
    # a categorical covariate is one term on its df (values checked against R in test_r_cox_zph.py)
    cat = cox_regression(lung, "time", "event", ["age", "ph.ecog"], categorical={"ph.ecog": 0}).ph_test
    assert list(cat["covariate"]) == ["age", "ph.ecog", "GLOBAL"] and cat["df"].tolist() == [1, 3, 4]


def test_categorical_dummies(lung):
    res = cox_regression(lung, "time", "event", ["age", "ph.ecog"], categorical={"ph.ecog": 0})
    names = res.summary()["covariate"].tolist()
    assert names == ["age", "ph.ecog=1", "ph.ecog=2", "ph.ecog=3"]
    # R: coxph(Surv(time, status) ~ age + factor(ph.ecog), lung) fits the same model; the 1-df trend
    # model is nested, so its LR statistic is smaller
    trend = cox_regression(lung, "time", "event", ["age", "ph.ecog"])
    assert res.lr_test[1] == 4 and res.lr_test[0] > trend.lr_test[0]


def test_categorical_unknown_reference(lung):
    with pytest.raises(DataError, match="reference level"):
        cox_regression(lung, "time", "event", ["ph.ecog"], categorical={"ph.ecog": 7})


def _aic(df, cols):
    return CoxPHFitter().fit(df[["time", "event", *cols]], "time", "event").AIC_partial_


def test_stepwise_backward_and_forward(lung):
    covs = ["age", "sex", "ph.ecog", "wt.loss", "meal.cal"]
    back = cox_regression(lung, "time", "event", covs, stepwise="backward")
    fwd = cox_regression(lung, "time", "event", covs, stepwise="forward")
    assert set(fwd.source_covariates) == set(back.source_covariates)
    assert back.steps[0].startswith("start") and fwd.steps[0].startswith("start: null model")
    assert len(back.univariable) == len(covs)  # univariable table always covers every covariate
    # stopping rule, checked with lifelines directly on the same complete cases: removing any retained
    # covariate, or adding any dropped one, does not lower the AIC
    cc = lung.dropna(subset=covs)
    kept = list(back.source_covariates)
    best = _aic(cc, kept)
    assert all(_aic(cc, [c for c in kept if c != k]) > best for k in kept if len(kept) > 1)
    assert all(_aic(cc, kept + [c]) > best for c in covs if c not in kept)
    assert back.n == len(cc)


def test_multivariable_complete_case_logged(lung, caplog):
    with caplog.at_level(logging.WARNING):
        res = cox_regression(lung, "time", "event", ["age", "wt.loss"])
    assert res.n == 214 and res.n_dropped == 14
    assert "multivariable Cox: dropped 14 of 228" in caplog.text


def test_predict_survival_hazards_are_proportional_with_lifelines_coefficients(lung):
    """S(t|x1) = S(t|x2) ** exp(lp1 - lp2) with lifelines' coefficients (the values of S(t|x) themselves are
    checked against R survfit, Efron and Breslow, in tests/reference/test_r_cox_ties.py)."""
    res = cox_regression(lung, "time", "event", ["age", "sex"])
    from hccrad.survival.cox import _NEWTON  # the same fit (hccrad runs Newton–Raphson to R's precision)

    ref = CoxPHFitter().fit(lung[["time", "event", "age", "sex"]], "time", "event", fit_options=_NEWTON)
    times = [float(res.baseline_survival.index[40]), float(res.baseline_survival.index[120])]
    got = np.log(res.predict_survival(lung.head(4), times).to_numpy())
    lp = lung.head(4)[["age", "sex"]].to_numpy(float) @ ref.params_[["age", "sex"]].to_numpy()
    assert_close(got[1:] / got[0], np.exp(lp[1:] - lp[0])[:, None] * np.ones((1, 2)), rtol=1e-8, atol=0,
                 what="log S(t|x) ratios")


def test_predict_with_missing_values_is_an_error(lung):
    res = cox_regression(lung, "time", "event", ["age", "wt.loss"])
    with pytest.raises(DataError, match="missing values"):
        res.linear_predictor(lung)


def test_errors(lung):
    with pytest.raises(DataError, match="stepwise"):
        cox_regression(lung, "time", "event", ["age"], stepwise="both")
    with pytest.raises(DataError, match="not in the table"):
        cox_regression(lung, "time", "event", ["agee"])
    bad = lung.assign(status2=lung["status"])
    with pytest.raises(DataError, match="0/1"):
        cox_regression(bad, "time", "status2", ["age"])
    with pytest.raises(DataError, match="non-numeric"):
        cox_regression(lung.assign(grade=["x"] * len(lung)), "time", "event", ["grade"])


def test_no_convergence_is_a_model_error():
    df = pd.DataFrame({"time": np.arange(1.0, 21.0), "event": [1] * 10 + [0] * 10,
                       "x": [1.0] * 10 + [0.0] * 10})  # x separates events perfectly
    with pytest.raises(ModelError):
        cox_regression(df, "time", "event", ["x"])


def test_null_loglik_is_the_efron_formula(full, lung):
    # at beta = 0 the Efron partial likelihood is -sum over event times of sum_{k<d} log(n - k d/d) = log(n - k)
    d = lung.dropna(subset=["age", "sex", "ph.ecog"])
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    ll0 = -sum(np.log((t >= u).sum() - np.arange(((t == u) & (e == 1)).sum())).sum() for u in np.unique(t[e == 1]))
    assert_close(full.log_likelihood_null, ll0, rtol=1e-10, atol=0, what="Efron partial loglik at beta = 0")
    assert_close(2 * (full.log_likelihood - full.log_likelihood_null), full.lr_test[0], rtol=1e-10, atol=0,
                 what="LR = 2 (l(beta) - l(0))")
