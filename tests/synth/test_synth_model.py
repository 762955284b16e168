"""The generating model: seed-000 marginals, and its coefficients recovered by the field's fitters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter, WeibullFitter
from sklearn.metrics import roc_auc_score

from hccrad.synth.model import GenerativeModel, sigmoid, weighted_auc
from hccrad.testing import assert_close

M = GenerativeModel()


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(20261125)
    n = 20_000
    clin = M.draw_clinical(rng, n)
    props = M.draw_proportions(rng, n)
    hab = M.habitat_part(props)
    lp = M.b0 + hab + M.clinical_part(clin)
    y = M.draw_response(rng, lp)
    t, e = M.draw_survival(rng, M.hazard_lp(hab, clin))
    return clin, props, hab, lp, y, t, e


def test_clinical_marginals_match_seed000(big):
    clin, props, *_ = big
    se = lambda p: 4 * np.sqrt(p * (1 - p) / len(clin))  # noqa: E731  (4 binomial SEs)
    for col, ref in (("comorbidities", 0.223), ("cirrhosis", 0.709), ("vp4", 0.257)):
        assert_close(clin[col].mean(), ref, rtol=0, atol=se(ref), what=f"{col} prevalence")
    assert_close(clin["tbil_umol_l"].mean(), 20.6, rtol=0, atol=0.4, what="TBIL mean")
    assert_close(clin["tbil_umol_l"].std(), 11.7, rtol=0, atol=0.8, what="TBIL SD")
    assert_close(props.mean(axis=0), [0.35, 0.45, 0.20], rtol=0, atol=0.01, what="mean habitat proportions")
    assert_close(props.sum(axis=1), np.ones(len(props)), rtol=0, atol=1e-12, what="proportions sum")


def test_response_rate_and_logistic_coefficients_recovered(big):
    clin, props, _, _, y, _, _ = big
    assert_close(y.mean(), 0.527, rtol=0, atol=0.02, what="objective response rate")
    X = pd.DataFrame({
        "high": (props[:, 2] - 0.20) / 0.10, "low": (props[:, 0] - 0.35) / 0.10,
        "comorbidities": clin["comorbidities"], "vp4": clin["vp4"],
        "tbil": clin["tbil_umol_l"] - 20.6, "cirrhosis": clin["cirrhosis"],
    })
    fit = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    truth = [M.b0, M.b_high, M.b_low, M.c_comorbidities, M.c_vp4, M.c_tbil, M.c_cirrhosis]
    se = np.asarray(fit.bse)
    assert_close(np.asarray(fit.params), truth, rtol=0, atol=4 * se.max(), what="logistic coefficients")
    assert_close(np.asarray(fit.params), truth, rtol=0, atol=4 * se, what="logistic coefficients (per SE)")


def test_weighted_population_auc_equals_sampled_auc():
    """The Bernoulli-weighted AUC equals the AUC against sampled responses (large sample)."""
    rng = np.random.default_rng(1)
    lp = rng.normal(0.0, 1.8, size=300_000)
    p = sigmoid(lp)
    y = (rng.random(p.size) < p).astype(int)
    assert_close(weighted_auc(p, p), roc_auc_score(y, p), rtol=0, atol=0.004, what="population AUC")
    # ties count 1/2 and a constant score gives 0.5
    assert_close(weighted_auc(np.zeros(10), np.full(10, 0.3)), 0.5, rtol=0, atol=1e-12, what="tied AUC")


def test_population_bayes_auc_in_target_range():
    pop = M.population_auc(np.random.default_rng(0), 200_000)
    assert 0.83 <= pop["auc"] <= 0.88, pop
    assert pop["auc_habitat_part"] > pop["auc_clinical_part"] > 0.55, pop
    assert_close(pop["prevalence"], 0.527, rtol=0, atol=0.01, what="population prevalence")


def test_weibull_baseline_recovered_by_lifelines():
    rng = np.random.default_rng(2)
    t, e = M.draw_survival(rng, np.zeros(20_000))
    wf = WeibullFitter().fit(t, e)  # S(t) = exp(-(t / lambda_)^rho_)
    assert_close(wf.rho_, M.weibull_shape, rtol=0, atol=0.05, what="Weibull shape")
    assert_close(wf.median_survival_time_, M.weibull_median_months, rtol=0.05, atol=0, what="median OS")


def test_cox_coefficients_and_censoring(big):
    clin, _, hab, _, _, t, e = big
    assert 0.28 <= 1 - e.mean() <= 0.42, f"censored fraction {1 - e.mean():.3f}"
    df = pd.DataFrame({
        "hab": hab, "comorbidities": clin["comorbidities"], "vp4": clin["vp4"],
        "tbil": clin["tbil_umol_l"] - 20.6, "cirrhosis": clin["cirrhosis"], "T": t, "E": e,
    }).iloc[:8000]
    cph = CoxPHFitter().fit(df, "T", "E")
    truth = [-M.s_habitat, M.d_comorbidities, M.d_vp4, M.d_tbil, M.d_cirrhosis]
    est = cph.params_[["hab", "comorbidities", "vp4", "tbil", "cirrhosis"]].to_numpy()
    se = cph.standard_errors_[["hab", "comorbidities", "vp4", "tbil", "cirrhosis"]].to_numpy()
    assert_close(est, truth, rtol=0, atol=4 * se, what="Cox log hazard ratios")
