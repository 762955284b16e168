"""Issue 24: the stepwise selection's and LogisticModel's logistic fits use hccrad's Newton-Raphson
(`_newton_logit`), which must give statsmodels' ``Logit(...).fit(method="newton")`` bit for bit: estimates,
covariance, standard errors, Wald p, log-likelihood, AIC, convergence and the separation flag."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from hccrad.core.errors import ModelError
from hccrad.models.logistic import _fit_logit, _newton_logit


def _designs():
    rng = np.random.default_rng(8)
    out = []
    for n, k, scale in [(40, 1, 1.0), (105, 3, 1.0), (105, 8, 3.0), (60, 5, 0.2), (150, 2, 50.0)]:
        X = rng.normal(size=(n, k)) * scale
        X[:, 0] += rng.integers(0, 2, n)  # a binary-ish column
        eta = X @ rng.normal(size=k) / max(scale, 1.0) * 0.8
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
        out.append((X, y))
    X = rng.normal(size=(80, 3))
    X[:, 2] = X[:, 0] * 2.0 + X[:, 1]  # rank-deficient design: AIC counts the rank, as statsmodels does
    out.append((X, (rng.random(80) < 0.5).astype(float)))
    return out


def _statsmodels(exog, y, maxiter):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.Logit(y, exog).fit(disp=0, method="newton", maxiter=maxiter)
    return res, [str(w.message) for w in caught]


@pytest.mark.parametrize("case", range(6))
def test_newton_logit_equals_statsmodels_bit_for_bit(case):
    X, y = _designs()[case]
    exog = np.column_stack([np.ones(len(y)), X])
    try:
        ref, _ = _statsmodels(exog, y, 100)
    except np.linalg.LinAlgError:  # the rank-deficient design: both refuse it
        with pytest.raises(np.linalg.LinAlgError):
            _newton_logit(exog, y, 100)
        return
    ours = _newton_logit(exog, y, 100)
    for name in ("params", "bse", "pvalues"):
        got, want = getattr(ours, name), np.asarray(getattr(ref, name))
        assert np.array_equal(got, want, equal_nan=True), \
            f"{name}: hccrad {got} vs statsmodels {want}, max difference {np.nanmax(np.abs(got - want))}"
    assert np.array_equal(ours.cov_params(), np.asarray(ref.cov_params()))
    assert ours.llf == ref.llf and ours.aic == ref.aic and ours.nobs == ref.nobs, \
        (ours.llf, ref.llf, ours.aic, ref.aic)
    assert ours.converged == ref.mle_retvals["converged"] and not ours.separated


def test_separation_and_non_convergence_flagged_as_statsmodels_does():
    x = np.r_[np.linspace(-2, -0.1, 20), np.linspace(0.1, 2, 20)]
    y = (x > 0).astype(float)  # perfectly separated
    exog = np.column_stack([np.ones_like(x), x])
    ref, messages = _statsmodels(exog, y, 100)
    ours = _newton_logit(exog, y, 100)
    assert ours.separated == any("separation" in m.lower() for m in messages) is True
    assert ours.converged == ref.mle_retvals["converged"]
    assert np.array_equal(ours.params, np.asarray(ref.params))
    with pytest.raises(ModelError, match="separation"):
        _fit_logit(x[:, None], y, ["x"], 100)
    X, y2 = _designs()[1]
    short = _newton_logit(np.column_stack([np.ones(len(y2)), X]), y2, 2)  # stopped after 2 steps
    ref2, _ = _statsmodels(np.column_stack([np.ones(len(y2)), X]), y2, 2)
    assert short.converged is False and ref2.mle_retvals["converged"] is False
    assert np.array_equal(short.params, np.asarray(ref2.params))
    with pytest.raises(ModelError, match="did not converge"):
        _fit_logit(X, y2, ["a", "b", "c"], 2)
