"""LogisticModel against statsmodels Logit, the paper-style formula, separation, and stepwise selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hccrad.core.errors import DataError, ModelError
from hccrad.models import LogisticModel, format_formula, stepwise_logistic
from hccrad.testing import assert_close


@pytest.fixture
def clinical(rng):
    n = 400
    df = pd.DataFrame({
        "Comorbidities": rng.integers(0, 2, n), "VP": rng.integers(0, 2, n),
        "TBIL": rng.gamma(4.0, 5.0, n), "Cirrhosis": rng.integers(0, 2, n),
        "noise1": rng.normal(size=n), "noise2": rng.normal(size=n),
    })
    lp = 1.98 - 1.5 * df.Comorbidities + 1.3 * df.VP - 0.047 * df.TBIL - 1.08 * df.Cirrhosis
    df["response"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return df


def test_coefficients_equal_statsmodels(clinical):
    cols = ["Comorbidities", "VP", "TBIL", "Cirrhosis"]
    m = LogisticModel().fit(clinical[cols], clinical["response"])
    ref = sm.Logit(clinical["response"], sm.add_constant(clinical[cols])).fit(disp=0)
    assert_close(m.intercept_[0], ref.params["const"], rtol=1e-8, atol=1e-10, what="intercept")
    assert_close(m.coef_[0], ref.params[cols].to_numpy(), rtol=1e-8, atol=1e-10, what="coefficients")
    s = m.summary()
    assert_close(s["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-8, atol=0, what="SE")
    assert_close(s["p"].to_numpy(), ref.pvalues.to_numpy(), rtol=1e-6, atol=1e-300, what="p")
    ci = np.exp(ref.conf_int().to_numpy())
    assert_close(s[["OR_lower", "OR_upper"]].to_numpy(), ci, rtol=1e-8, atol=0, what="OR 95% CI")
    assert_close(s["OR"].to_numpy(), np.exp(ref.params.to_numpy()), rtol=1e-12, atol=0, what="OR")
    p = m.predict_proba(clinical[cols])[:, 1]
    assert_close(p, ref.predict(sm.add_constant(clinical[cols])).to_numpy(), rtol=1e-8, atol=1e-12, what="P(y=1)")
    assert list(m.feature_names_in_) == cols


def test_formula_string():
    assert format_formula(0.1689, {"2b3r": 0.0722, "habitat1.1": -0.6679}, name="habitat") == \
        "habitat = 0.1689 + 0.0722·2b3r − 0.6679·habitat1.1"
    assert format_formula(-1.5, {"x": 2.0}, digits=2) == "score = −1.50 + 2.00·x"


def test_model_formula_matches_fit(clinical):
    m = LogisticModel().fit(clinical[["TBIL", "VP"]], clinical["response"])
    b0, (b1, b2) = m.intercept_[0], m.coef_[0]
    expected = format_formula(b0, {"TBIL": b1, "VP": b2})
    assert m.formula() == expected
    assert expected.startswith(f"score = {b0:.4f}") and "·TBIL" in expected


def test_separation_and_bad_input():
    X = pd.DataFrame({"x": np.arange(20.0)})
    y = (X.x > 9.5).astype(int)
    with pytest.raises(ModelError, match="separation"):
        LogisticModel(firth=False).fit(X, y)
    m = LogisticModel().fit(X, y)  # default firth="auto": finite Firth estimates instead
    assert m.method_ == "firth" and np.isfinite(m.coef_).all() and m.coef_[0, 0] > 0
    with pytest.raises(DataError, match="two classes"):
        LogisticModel().fit(X, np.zeros(20))
    with pytest.raises(DataError):
        LogisticModel().fit(X.assign(x=np.nan), y)


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_stepwise_known_case(clinical, direction):
    cands = ["Comorbidities", "VP", "TBIL", "Cirrhosis", "noise1", "noise2"]
    res = stepwise_logistic(clinical, "response", cands, entry_p=0.1, direction=direction, screen_p=None)
    assert set(res.selected) == {"Comorbidities", "VP", "TBIL", "Cirrhosis"}
    table = res.summary()
    assert {"uni_OR", "uni_p", "multi_OR", "multi_p"} <= set(table.columns)
    assert table.loc[list(res.selected), "multi_p"].max() < 0.1
    assert res.formula().startswith("score = ")


def test_stepwise_screen_and_aic(clinical):
    res = stepwise_logistic(clinical, "response", ["VP", "noise1", "noise2"], screen_p=0.1)
    assert "VP" in res.screened
    uni = res.univariable
    ref = sm.Logit(clinical["response"], sm.add_constant(clinical[["VP"]])).fit(disp=0)
    assert_close(uni.loc["VP", "p"], ref.pvalues["VP"], rtol=1e-8, atol=0, what="univariable p")
    aic = stepwise_logistic(clinical, "response", ["Comorbidities", "VP", "TBIL", "Cirrhosis", "noise1"],
                            criterion="aic", direction="both")
    assert {"Comorbidities", "VP", "TBIL", "Cirrhosis"} <= set(aic.selected)
    with pytest.raises(ModelError, match="stay_p"):
        stepwise_logistic(clinical, "response", ["VP"], entry_p=0.2, stay_p=0.1)
    with pytest.raises(DataError, match="missing_col"):
        stepwise_logistic(clinical, "response", ["missing_col"])


def test_firth_equals_haldane_corrected_log_odds_ratio():
    """Single binary covariate (saturated model): Firth's estimates equal the log odds with 0.5 added to each
    cell (Firth 1993; Heinze & Schemper 2002), also under separation (a zero cell)."""
    for a, b, c, d in [(10, 0, 5, 10), (7, 3, 4, 9), (12, 1, 0, 6)]:  # x=1: a events, b non; x=0: c, d
        x = np.r_[np.ones(a + b), np.zeros(c + d)]
        y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
        m = LogisticModel(firth=True).fit(pd.DataFrame({"x": x}), y)
        assert_close(m.coef_[0, 0], np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))), rtol=1e-8, atol=1e-8,
                     what=f"Firth log OR for table {(a, b, c, d)}")
        assert_close(m.intercept_[0], np.log((c + 0.5) / (d + 0.5)), rtol=1e-8, atol=1e-8, what="Firth intercept")


def test_firth_close_to_mle_without_separation(clinical):
    cols = ["Comorbidities", "VP", "TBIL", "Cirrhosis"]
    mle = LogisticModel(firth=False).fit(clinical[cols], clinical["response"])
    fir = LogisticModel(firth=True).fit(clinical[cols], clinical["response"])
    assert mle.method_ == "mle" and fir.method_ == "firth"
    assert_close(fir.coef_[0], mle.coef_[0], rtol=0, atol=0.1, what="Firth vs MLE, n=400")
    assert np.all(np.abs(fir.coef_[0]) <= np.abs(mle.coef_[0]) + 1e-9)  # shrinks towards zero
