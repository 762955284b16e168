"""Optimal cut-point of a prognostic score by maximally selected log-rank statistics.

This is R `maxstat::maxstat.test(Surv(time, event) ~ score, smethod = "LogRank", pmethod = "Lau92")`,
which `survminer::surv_cutpoint` calls (seed 004). No Python library implements it, so it is written here
and checked against maxstat's own saved output (hohnloser data: M = 3.5691, cut-point 39, p = 0.01065)
and against Lausen & Schumacher's Table 2 (tests/survival/test_cutpoint.py).

Log-rank scores (exactRankTests::cscores.Surv; Hothorn & Lausen 2003): with r_i the rank of t_i among all
times, ties given the maximum rank,
    a_i = delta_i - sum_{j : r_j <= r_i} delta_j / (N - r_j + 1).
For each candidate split "score <= c" with m subjects (c running over the distinct observed scores except
the largest, with floor(N * minprop) <= m <= floor(N * maxprop)), the standardised linear rank statistic is
    S(c) = |sum_{score_i <= c} a_i - m/N sum a| / sqrt( m (N - m) / (N^2 (N - 1)) (N sum a^2 - (sum a)^2) ),
M = max_c S(c), the cut-point the smallest c attaining it (Lausen & Schumacher, Biometrics 1992;
Hothorn & Lausen, Comput Stat Data Anal 2003).

P-value corrected for the search (Lausen & Schumacher 1992, the asymptotic distribution of M under the
null, via Miller & Siegmund 1982), with eps1 = minprop, eps2 = maxprop and phi the standard normal density:
    p = 4 phi(M) / M + phi(M) (M - 1/M) log( eps2 (1 - eps1) / ((1 - eps2) eps1) ),
capped to [0, 1] (maxstat's `pLausen92`). The uncorrected log-rank p-value of the best split is far too
small and is not reported as the test of the score.

No leakage: choose the cut-point on the training cohort only and carry it to test cohorts unchanged with
`apply_cutpoint` ("high" = score > cut-point, as survminer's `surv_categorize`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata

from hccrad.core.errors import DataError
from hccrad.survival._data import survival_arrays

logger = logging.getLogger(__name__)


def logrank_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Log-rank (Savage-type) scores a_i of exactRankTests::cscores.Surv (ties: maximum rank)."""
    n = time.size
    order = np.argsort(time, kind="stable")
    ranks = rankdata(time, method="max").astype(int)
    fact = event / (n - ranks + 1.0)
    cum = np.cumsum(fact[order])
    return event - cum[ranks - 1]


def p_lausen92(statistic: float, minprop: float = 0.1, maxprop: float = 0.9) -> float:
    """Lausen & Schumacher (1992) approximate p-value of a maximally selected statistic (see module doc)."""
    b = float(statistic)
    if b <= 0:
        return 1.0
    db = stats.norm.pdf(b)
    p = 4 * db / b + db * (b - 1 / b) * np.log((maxprop * (1 - minprop)) / ((1 - maxprop) * minprop))
    return float(min(max(p, 0.0), 1.0))


@dataclass(frozen=True)
class CutpointResult:
    """The chosen cut-point, the maximal standardised log-rank statistic and its corrected p-value."""

    cutpoint: float
    statistic: float
    p_value: float
    minprop: float
    maxprop: float
    n: int
    n_low: int
    n_high: int
    n_dropped: int
    candidates: pd.DataFrame  # cutpoint, m (n at or below), statistic

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"cutpoint": self.cutpoint, "statistic": self.statistic, "p_value": self.p_value,
                              "p_method": "Lausen-Schumacher 1992", "minprop": self.minprop,
                              "maxprop": self.maxprop, "n": self.n, "n_low": self.n_low, "n_high": self.n_high}])

    def apply(self, score) -> np.ndarray:
        return apply_cutpoint(score, self.cutpoint)

    def __str__(self) -> str:
        return (f"maximally selected log-rank statistic M = {self.statistic:.4f} at cut-point {self.cutpoint:g} "
                f"(low n={self.n_low}, high n={self.n_high}); Lausen-Schumacher p = {self.p_value:.4g}")


def maxstat_cutpoint(time, event, score, *, minprop: float = 0.1, maxprop: float | None = None) -> CutpointResult:
    """Choose the cut-point of `score` maximising the standardised log-rank statistic (training data only)."""
    maxprop = 1.0 - minprop if maxprop is None else maxprop
    if not 0 < minprop < maxprop < 1:
        raise DataError(f"need 0 < minprop ({minprop}) < maxprop ({maxprop}) < 1", field="minprop",
                        hint="minprop=0.1 (survminer's default) keeps at least 10% of patients per group")
    d = survival_arrays(time, event, extra={"score": score}, what="cut-point search")
    t, e, x = d.time, d.event.astype(float), d.extra["score"]
    n = t.size
    a = logrank_scores(t, e)
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], a[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    m = np.flatnonzero(first)  # subjects strictly below each distinct value = at or below the previous one
    m = m[(m >= np.floor(n * minprop)) & (m <= np.floor(n * maxprop)) & (m > 0)]
    if m.size == 0:
        raise DataError("no candidate cut-point leaves both groups within minprop/maxprop", field="score",
                        hint="the score has too few distinct values; lower minprop or use a fixed cut-off")
    total = a.sum()
    var = m * (n - m) / (n**2 * (n - 1)) * (n * (a**2).sum() - total**2)
    if np.any(var <= 0):
        raise DataError("log-rank scores have no variance (no events?)", field="event")
    stat = np.abs((np.cumsum(ys)[m - 1] - m / n * total) / np.sqrt(var))
    k = int(np.argmax(stat))
    cut = float(xs[m[k] - 1])
    best = float(stat[k])
    cands = pd.DataFrame({"cutpoint": xs[m - 1], "m": m, "statistic": stat})
    n_low = int((x <= cut).sum())
    logger.info("cut-point %g: M=%.4f over %d candidates", cut, best, m.size)
    return CutpointResult(cut, best, p_lausen92(best, minprop, maxprop), minprop, maxprop, n, n_low, n - n_low,
                          d.n_dropped, cands)


def apply_cutpoint(score, cutpoint: float, *, labels: tuple[str, str] = ("low", "high")) -> np.ndarray:
    """Label scores `labels[1]` when > cut-point, else `labels[0]`; missing scores stay missing (None)."""
    s = pd.to_numeric(pd.Series(np.asarray(score).ravel()), errors="coerce")
    out = np.where(s > cutpoint, labels[1], labels[0]).astype(object)
    out[s.isna().to_numpy()] = None
    n_missing = int(s.isna().sum())
    if n_missing:
        logger.warning("apply_cutpoint: %d missing score(s) left unassigned", n_missing)
    return out
