"""k-sample log-rank test, stratified, with the Harrington–Fleming G-rho weights (R `survdiff`).

lifelines' `multivariate_logrank_test` has no strata, so the test is written out here and checked
against R survival's `survdiff` (tests/reference/test_r_survival.py) and against lifelines without strata.

For each stratum s and each distinct event time t (n_t at risk, d_t events; n_gt, d_gt in group g) with
weight w_t = S_s(t-)^rho (S_s the pooled Kaplan–Meier estimate of the stratum, left-continuous;
rho = 0 is the log-rank test, rho = 1 the Peto–Peto / Gehan–Wilcoxon-type test):

    O_g = sum w_t d_gt,     E_g = sum w_t n_gt d_t / n_t,
    V_gh = sum w_t^2 d_t (n_t - d_t) / (n_t - 1) * n_gt / n_t * (delta_gh - n_ht / n_t),

summed over strata; chisq = (O - E)' V^- (O - E) with V^- a generalised inverse and df = rank(V)
(Harrington & Fleming, Biometrika 1982; Therneau & Grambsch 2000, section 3.3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.survival._data import level_label, survival_arrays

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogrankResult:
    """Result of `logrank_test`; `summary()` gives N, observed, expected, (O-E)^2/E, (O-E)^2/V per group."""

    groups: tuple[str, ...]
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    chisq: float
    df: int
    p_value: float
    rho: float
    stratified: bool
    n_dropped: int

    def summary(self) -> pd.DataFrame:
        oe = self.observed - self.expected
        with np.errstate(divide="ignore", invalid="ignore"):
            out = pd.DataFrame({"group": list(self.groups), "n": self.n, "observed": self.observed,
                                "expected": self.expected, "oe2_over_e": oe**2 / self.expected,
                                "oe2_over_v": oe**2 / np.diag(self.variance)})
        out.attrs.update(chisq=self.chisq, df=self.df, p_value=self.p_value, rho=self.rho,
                         stratified=self.stratified)
        return out

    def __str__(self) -> str:
        kind = "stratified " if self.stratified else ""
        return (f"{kind}log-rank test (rho={self.rho:g})\n{self.summary().to_string(index=False)}\n"
                f"chisq = {self.chisq:.4g} on {self.df} df, p = {self.p_value:.4g}")


def _stratum_terms(t, e, g, k, rho):
    """O, E, V contributions of one stratum (g holds group codes 0..k-1)."""
    obs, exp_, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    event_times = np.unique(t[e == 1])
    surv_left = 1.0
    for time in event_times:
        at_risk = t >= time
        n_t = at_risk.sum()
        dead = (t == time) & (e == 1)
        d_t = dead.sum()
        n_g = np.bincount(g[at_risk], minlength=k).astype(float)
        d_g = np.bincount(g[dead], minlength=k).astype(float)
        w = surv_left**rho
        obs += w * d_g
        exp_ += w * n_g * d_t / n_t
        if n_t > 1:
            frac = n_g / n_t
            var += w**2 * d_t * (n_t - d_t) / (n_t - 1) * (np.diag(frac) - np.outer(frac, frac))
        surv_left *= 1.0 - d_t / n_t
    return obs, exp_, var


def logrank_test(time, event, groups, strata=None, *, rho: float = 0.0) -> LogrankResult:
    """Compare survival between >= 2 groups (optionally within strata), as R `survdiff`.

    Rows with a missing time, event, group or stratum are dropped and counted (logged).
    """
    n_in = np.asarray(time).size
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object).ravel()), sort=True)
    extra = {"group": np.where(codes < 0, np.nan, codes).astype(float)}
    if strata is not None:
        s_codes, _ = pd.factorize(pd.Series(np.asarray(strata, dtype=object).ravel()), sort=True)
        extra["stratum"] = np.where(s_codes < 0, np.nan, s_codes).astype(float)
    else:
        extra["stratum"] = np.zeros(n_in)
    data = survival_arrays(time, event, extra=extra, what="log-rank test")
    g_all = data.extra["group"].astype(int)
    present = np.unique(g_all)
    if present.size < 2:
        raise DataError("log-rank test needs at least two groups with data", field="groups",
                        hint="check the grouping column: every row has the same value")
    remap = {c: i for i, c in enumerate(present)}
    g_all = np.array([remap[c] for c in g_all])
    names = tuple(level_label(uniques[c]) for c in present)
    k = present.size
    obs, exp_, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    s_all = data.extra["stratum"].astype(int)
    for s in np.unique(s_all):
        sel = s_all == s
        o, e_, v = _stratum_terms(data.time[sel], data.event[sel], g_all[sel], k, rho)
        obs, exp_, var = obs + o, exp_ + e_, var + v
    u = obs - exp_
    df = int(np.linalg.matrix_rank(var))
    chisq = float(u @ np.linalg.pinv(var) @ u)
    p = float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan")
    n = np.bincount(g_all, minlength=k)
    return LogrankResult(names, n, obs, exp_, var, chisq, df, p, float(rho), strata is not None, data.n_dropped)
