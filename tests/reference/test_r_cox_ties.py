"""Cox regression with Breslow and Efron ties, and its score (log-rank) test, against R survival `coxph`.

Reference numbers: tests/reference/r/results/cox_ties_*.csv, written by tests/reference/r/cox_ties.R
(`make references`) on survival's `veteran` (many tied death times): coefficients and SEs, log partial
likelihoods, the LR, Wald and score tests of summary(coxph(..., ties = ...)), cox.zph, basehaz, survfit(fit,
newdata) and the
AIC stepwise traces of step().
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError
from hccrad.survival import cox_regression
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
VETERAN = pd.read_csv(RESULTS / "veteran.csv")
COEF = pd.read_csv(RESULTS / "cox_ties_coef.csv")
TESTS = pd.read_csv(RESULTS / "cox_ties_tests.csv")
ZPH = pd.read_csv(RESULTS / "cox_ties_zph.csv")
BASEHAZ = pd.read_csv(RESULTS / "cox_ties_basehaz.csv")
PREDICT = pd.read_csv(RESULTS / "cox_ties_predict.csv")
STEPS = pd.read_csv(RESULTS / "cox_ties_step.csv", keep_default_na=False)
MODELS = {"full": ["trt", "celltype", "karno", "diagtime", "age", "prior"], "numeric": ["age", "karno", "diagtime"]}
CASES = [(m, t) for m in MODELS for t in ("breslow", "efron")]
TOL = {"rtol": 1e-6, "atol": 1e-9}


@pytest.fixture(scope="module")
def fits():
    return {(m, t): cox_regression(VETERAN, "time", "status", MODELS[m], categorical={"celltype": "squamous"},
                                   ties=t) for m, t in CASES}


def _ref(table: pd.DataFrame, model: str, ties: str) -> pd.DataFrame:
    return table[(table["model"] == model) & (table["ties"] == ties)]


@pytest.mark.parametrize(("model", "ties"), CASES)
def test_coefficients_and_se_equal_coxph(fits, model, ties):
    ref = _ref(COEF, model, ties)
    table = fits[model, ties].multivariable
    table = table.assign(term=table["covariate"].str.replace("=", "", regex=False)).set_index("term")
    assert sorted(table.index) == sorted(ref["term"])
    table = table.loc[ref["term"]]  # R orders celltype's levels as the factor, hccrad sorts them
    assert_close(table["coef"].to_numpy(), ref["coef"].to_numpy(), **TOL, what=f"{model}/{ties}: coef")
    assert_close(table["se"].to_numpy(), ref["se"].to_numpy(), **TOL, what=f"{model}/{ties}: se")


@pytest.mark.parametrize(("model", "ties"), CASES)
def test_likelihoods_and_global_tests_equal_summary_coxph(fits, model, ties):
    ref = _ref(TESTS, model, ties).set_index("test")
    res = fits[model, ties]
    assert_close(res.log_likelihood_null, ref.loc["loglik_null", "statistic"], **TOL, what=f"{model}/{ties}: l(0)")
    assert_close(res.log_likelihood, ref.loc["loglik", "statistic"], **TOL, what=f"{model}/{ties}: l(beta)")
    for name, (stat, df, p) in {"lr": res.lr_test, "wald": res.wald_test, "score": res.score_test}.items():
        assert df == ref.loc[name, "df"]
        assert_close(stat, ref.loc[name, "statistic"], **TOL, what=f"{model}/{ties}: {name} chi-square")
        assert_close(p, ref.loc[name, "p"], rtol=1e-6, atol=1e-15, what=f"{model}/{ties}: {name} p")


@pytest.mark.parametrize(("model", "ties"), CASES)
def test_ph_test_follows_the_ties_method_as_cox_zph(fits, model, ties):
    ref = _ref(ZPH, model, ties)
    table = fits[model, ties].ph_test
    assert table["covariate"].tolist() == ref["term"].tolist()
    assert_close(table["chisq"].to_numpy(), ref["chisq"].to_numpy(), **TOL, what=f"{model}/{ties}: zph chi-square")


@pytest.mark.parametrize(("model", "ties"), CASES)
def test_baseline_survival_equals_basehaz(fits, model, ties):
    """S0 at R's centring (fit$means: covariate means, 0 for a factor's dummies) = exp(-basehaz), for both
    ties methods: R's survfit uses the Efron hazard estimator for an Efron fit (ctype 2), and so does hccrad
    (until 2026-12 it used lifelines' Breslow estimator there, which differs at tied death times)."""
    ref = _ref(BASEHAZ, model, ties)
    res = fits[model, ties]
    r_means = res.means.where(~res.means.index.str.contains("="), 0.0)
    shift = float(np.exp((r_means - res.means) @ res.coefficients))
    s0 = np.array([res.baseline_at(t) for t in ref["time"]]) ** shift
    assert_close(s0, np.exp(-ref["hazard"].to_numpy()), rtol=1e-6, atol=1e-9, what=f"{model}/{ties}: S0(t)")


@pytest.mark.parametrize(("model", "ties"), CASES)
def test_predicted_survival_equals_survfit(fits, model, ties):
    """S(t | x) of four patients = R `summary(survfit(fit, newdata = vet[1:4, ]), times)`."""
    ref = _ref(PREDICT, model, ties)
    times = sorted(ref["time"].unique())
    got = fits[model, ties].predict_survival(VETERAN.head(4), times).to_numpy()
    want = ref.pivot(index="patient", columns="time", values="survival").loc[[1, 2, 3, 4], times].to_numpy()
    assert_close(got, want, rtol=1e-6, atol=1e-9, what=f"{model}/{ties}: S(t|x)")


@pytest.mark.parametrize(("ties", "direction"), [("efron", "backward"), ("breslow", "forward")])  # the CSV has all 4
def test_stepwise_trace_equals_step(ties, direction):
    ref = STEPS[(STEPS["ties"] == ties) & (STEPS["direction"] == direction)]
    res = cox_regression(VETERAN, "time", "status", MODELS["full"], categorical={"celltype": "squamous"},
                         stepwise=direction, ties=ties)
    changes = [s.split(":")[0] for s in res.steps[1:]]  # "- diagtime: AIC=964.359"
    aics = [float(s.rsplit("AIC=", 1)[1]) for s in res.steps]
    assert changes == ref["change"].tolist()[1:]
    assert_close(aics, ref["aic"].to_numpy(), rtol=0, atol=5e-4, what=f"{ties}/{direction}: AIC trace (3 decimals)")
    final_aic = -2 * res.log_likelihood + 2 * len(res.covariates)
    assert_close(final_aic, ref["aic"].iloc[-1], rtol=1e-9, atol=1e-9, what=f"{ties}/{direction}: final AIC")


def test_unknown_ties_method_is_refused():
    with pytest.raises(DataError, match="ties"):
        cox_regression(VETERAN, "time", "status", ["age"], ties="exact")
