"""Harrell's C and the comparison of two C-indices (U-statistic of Kang et al. 2015, and bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index

from hccrad.core.errors import DataError
from hccrad.survival import compare_cindex, harrell_c
from hccrad.survival.concordance import _compare_c_moments
from hccrad.testing import assert_close


def test_u_statistic_point_estimate_equals_lifelines(lung):
    # the pair kernels behind the variance reproduce lifelines' C exactly (same tie rules)
    t, e = lung["time"].to_numpy(float), lung["event"].to_numpy()
    scores = [lung["age"].to_numpy(float), lung["ph.karno"].fillna(80).to_numpy(float)]
    c, _ = _compare_c_moments(t, e, scores)
    for ci, score in zip(c, scores):
        assert_close(ci, concordance_index(t, -score, e), rtol=0, atol=1e-12, what="kernel C vs lifelines")


# The U-statistic (co)variances are checked against compareC's own output (R) in
# tests/reference/test_r_compare_c.py.


def test_risk_orientation(sim):
    high = harrell_c(sim["time"], sim["event"], sim["x"])
    low = harrell_c(sim["time"], sim["event"], -sim["x"])
    assert high.c_index > 0.6
    assert_close(high.c_index + low.c_index, 1.0, rtol=0, atol=1e-12, what="C(x) + C(-x)")


def test_u_statistic_se_agrees_with_bootstrap(sim):
    u = harrell_c(sim["time"], sim["event"], sim["x"])
    b = harrell_c(sim["time"], sim["event"], sim["x"], method="bootstrap", n_boot=200, seed=1)
    assert_close(u.se, b.se, rtol=0.2, atol=0, what="U-statistic SE vs bootstrap SE")
    assert u.lower < u.c_index < u.upper and b.lower < b.c_index < b.upper


def test_bootstrap_is_seeded(sim):
    a = harrell_c(sim["time"], sim["event"], sim["x"], method="bootstrap", n_boot=60, seed=5)
    b = harrell_c(sim["time"], sim["event"], sim["x"], method="bootstrap", n_boot=60, seed=5)
    c = harrell_c(sim["time"], sim["event"], sim["x"], method="bootstrap", n_boot=60, seed=6)
    assert (a.lower, a.upper) == (b.lower, b.upper) and (a.lower, a.upper) != (c.lower, c.upper)


def test_compare_u_statistic_vs_bootstrap(sim):
    u = compare_cindex(sim["time"], sim["event"], sim["x"], sim["noise"])
    b = compare_cindex(sim["time"], sim["event"], sim["x"], sim["noise"], method="bootstrap", n_boot=200, seed=2)
    assert_close(u.difference, b.difference, rtol=0, atol=1e-12, what="same point estimate")
    assert_close(u.se, b.se, rtol=0.2, atol=0, what="SE of the difference")
    assert u.p_value < 0.001  # the informative score beats noise


def test_compare_variance_decomposition(sim):
    # Var(Ca - Cb) = Var(Ca) + Var(Cb) - 2 Cov: with b = a the difference has no variance -> defined error
    with pytest.raises(DataError, match="identical"):
        compare_cindex(sim["time"], sim["event"], sim["x"], sim["x"])
    a = harrell_c(sim["time"], sim["event"], sim["x"]).se
    b = harrell_c(sim["time"], sim["event"], sim["noise"]).se
    d = compare_cindex(sim["time"], sim["event"], sim["x"], sim["noise"]).se
    assert d < a + b  # correlated on the same patients


def test_null_calibration_of_the_u_statistic_test(simulate):
    # two uninformative scores: over 40 seeded cohorts, about 5% (here <= 6 of 40) rejections at alpha 0.05
    rejections = 0
    for s in range(40):
        d = simulate(120, seed=100 + s, beta=0.0)
        other = np.random.default_rng(s).normal(size=len(d))
        rejections += compare_cindex(d["time"], d["event"], d["noise"], other).p_value < 0.05
    assert rejections <= 6


@pytest.mark.parametrize("kwargs, match", [({"method": "jackknife"}, "method"), ({"n_boot": 10}, "n_boot"),
                                           ({"conf_level": 1.5}, "conf_level")])
def test_argument_errors(sim, kwargs, match):
    with pytest.raises(DataError, match=match):
        harrell_c(sim["time"], sim["event"], sim["x"], **kwargs)


def test_missing_scores_dropped(sim):
    score = sim["x"].to_numpy().copy()
    score[:7] = np.nan
    res = harrell_c(sim["time"], sim["event"], score)
    assert res.n_dropped == 7 and res.n == len(sim) - 7
