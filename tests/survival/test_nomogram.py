"""Nomogram points: total points map back exactly to the model's own predictions (Cox and logistic)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from hccrad.core.errors import ModelError
from hccrad.survival import cox_regression, nomogram_points
from hccrad.testing import assert_close


@pytest.fixture(scope="module")
def lung_cc(lung):
    return lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)


def test_cox_round_trip(lung_cc):
    res = cox_regression(lung_cc, "time", "event", ["age", "sex", "ph.ecog"])
    nomo = nomogram_points(res, lung_cc, horizon=365.0)
    want = res.predict_survival(lung_cc, [365.0]).iloc[:, 0].to_numpy()
    got = nomo.predict(nomo.total_points(lung_cc))
    assert_close(got, want, rtol=1e-10, atol=1e-12, what="S(365) from nomogram points")


def test_points_scale(lung_cc):
    res = cox_regression(lung_cc, "time", "event", ["age", "sex", "ph.ecog"])
    nomo = nomogram_points(res, lung_cc, horizon=365.0)
    pts = nomo.scales.groupby("variable")["points"]
    assert_close(pts.max().max(), 100.0, rtol=0, atol=1e-9, what="widest predictor spans 0-100")
    assert_close(pts.min().to_numpy(), np.zeros(3), rtol=0, atol=1e-9, what="each axis starts at 0")
    # sex has a protective coefficient: its 0-points end is the higher value (2 = female)
    sex = nomo.scales[nomo.scales["variable"] == "sex"].set_index("value")["points"]
    assert sex.loc[2.0] == 0.0 and sex.loc[1.0] > 0


def test_logistic_statsmodels_and_sklearn_round_trip(lung_cc):
    df = lung_cc.assign(dead_1y=((lung_cc["time"] <= 365) & (lung_cc["event"] == 1)).astype(int))
    X = df[["age", "ph.ecog"]]
    fit = sm.Logit(df["dead_1y"], sm.add_constant(X)).fit(disp=0)
    nomo = nomogram_points(fit, df)
    assert_close(nomo.predict(nomo.total_points(df)), fit.predict(sm.add_constant(X)).to_numpy(), rtol=1e-10,
                 atol=1e-12, what="logistic probability from points (statsmodels)")
    sk = LogisticRegression(C=1e6, max_iter=1000).fit(X, df["dead_1y"])
    nomo2 = nomogram_points(sk, df)
    assert_close(nomo2.predict(nomo2.total_points(df)), sk.predict_proba(X)[:, 1], rtol=1e-9, atol=1e-12,
                 what="logistic probability from points (scikit-learn)")


def test_errors(lung_cc):
    res = cox_regression(lung_cc, "time", "event", ["age", "sex"])
    with pytest.raises(ModelError, match="horizon"):
        nomogram_points(res, lung_cc)
    with pytest.raises(ModelError, match="cannot read coefficients"):
        nomogram_points(object(), lung_cc)
    with pytest.raises(ModelError, match="every model variable"):
        nomogram_points(res, lung_cc, horizon=100.0, variables=["age"])
