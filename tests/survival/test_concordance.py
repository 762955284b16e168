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


def _csign(xi, ci, xj, cj):
    """compareC 1.3.3 src/survivalC.c csign(), transcribed line by line."""
    if xi > xj:
        return {(1, 1): 1, (1, 0): 0, (0, 1): 1, (0, 0): 0}[(ci, cj)]
    if xi < xj:
        return {(1, 1): -1, (1, 0): -1, (0, 1): 0, (0, 0): 0}[(ci, cj)]
    return {(1, 1): 0, (1, 0): -1, (0, 1): 1, (0, 0): 0}[(ci, cj)]


def _compare_c_loops(time, status, y, z):
    """compareC(timeX, statusX, scoreY, scoreZ) transcribed from its C loops and R code (scores = survival)."""
    n = len(time)

    def kern(i, j, which):
        c = _csign(time[i], status[i], time[j], status[j])
        return {"xx": c * c, "xy": c * np.sign(y[i] - y[j]), "xz": c * np.sign(z[i] - z[j])}[which]

    def tau(k):
        return sum(kern(i, j, k) for i in range(n) for j in range(n) if i != j) / n / (n - 1)

    def cov(k, l_):
        s1 = s2 = s3 = s4 = 0.0
        for i in range(n):
            rk = sum(kern(i, j, k) for j in range(n) if j != i)
            rl = sum(kern(i, j, l_) for j in range(n) if j != i)
            rkl = sum(kern(i, j, k) * kern(i, j, l_) for j in range(n) if j != i)
            s1 += 4 * rk * rl
            s3 += 2 * rkl
            s2 += rk
            s4 += rl
        return (s1 - s3 + (2 * n - 3) * (-2) * s2 * s4 / n / (n - 1)) / n / (n - 1) / (n - 2) / (n - 3)

    t11, t12, t13 = tau("xx"), tau("xy"), tau("xz")
    g12, g13 = np.array([1 / t11, -t12 / t11**2]), np.array([1 / t11, -t13 / t11**2])
    var_y = g12 @ np.array([[cov("xy", "xy"), cov("xx", "xy")], [cov("xx", "xy"), cov("xx", "xx")]]) @ g12 / 4
    var_z = g13 @ np.array([[cov("xz", "xz"), cov("xx", "xz")], [cov("xx", "xz"), cov("xx", "xx")]]) @ g13 / 4
    cov_yz = g12 @ np.array([[cov("xy", "xz"), cov("xx", "xz")], [cov("xx", "xy"), cov("xx", "xx")]]) @ g13 / 4
    return np.array([(t12 / t11 + 1) / 2, (t13 / t11 + 1) / 2]), np.array([[var_y, cov_yz], [cov_yz, var_z]])


def test_vectorised_estimator_equals_compareC_loops(simulate):
    d = simulate(30, seed=9).iloc[:30]
    t = np.round(d["time"].to_numpy(), 0) + 1.0  # integer times: tied event/censoring pairs occur
    e = d["event"].to_numpy()
    risk_a, risk_b = np.round(d["x"].to_numpy(), 1), d["noise"].to_numpy()
    c, cov = _compare_c_moments(t, e, [risk_a, risk_b])
    ref_c, ref_cov = _compare_c_loops(t, e, -risk_a, -risk_b)  # compareC scores predict survival
    assert_close(c, ref_c, rtol=0, atol=1e-12, what="C (compareC loops)")
    assert_close(cov, ref_cov, rtol=1e-9, atol=1e-15, what="covariance of the C estimates (compareC loops)")


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
