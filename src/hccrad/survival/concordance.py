"""Harrell's C with a CI, and tests for a difference in C between two scores on the same patients.

Point estimate: `lifelines.utils.concordance_index` (Harrell et al., Stat Med 1996), with the score read
as a *risk* (higher score = earlier event; we pass -score to lifelines, which expects predicted times).
A pair (i, j) is comparable when t_i < t_j and i had the event, or t_i = t_j with i an event and j
censored; pairs of tied event times are not comparable; tied scores count 1/2 (R `concordance`).

Standard error, method "u-statistic": the estimator of R `compareC` 1.3.3 (Kang, Chen, Petrick & Gallas,
"Comparing two correlated C indices with right-censored survival outcome: a one-shot nonparametric
approach", Stat Med 2015;34:685-703), ported from its C source (src/survivalC.c, R/preload.R). With
c_ij = +1 / -1 when the pair is comparable and j / i has the earlier event (0 when not comparable) and
the symmetric kernels A_ij = c_ij^2 (comparable pair) and B_ij = c_ij sign(y_j - y_i) for a risk score y,
    tau_K = sum_{i != j} K_ij / (n (n-1)),     C = (tau_B / tau_A + 1) / 2,
the unbiased U-statistic (co)variances, with row sums k_i = sum_{j != i} K_ij,
    Cov(tau_K, tau_L) = [4 sum_i k_i l_i - 2 sum_{i != j} K_ij L_ij
                         - 2 (2n - 3) (sum_i k_i)(sum_i l_i) / (n (n-1))] / (n (n-1) (n-2) (n-3)),
and the delta method with gradient g_y = (1 / tau_A, -tau_B / tau_A^2) on (tau_B, tau_A):
    Var(C_y) = g_y' Sigma_y g_y / 4,  Cov(C_y, C_z) = g_y' Sigma_yz g_z / 4,
    Sigma_yz = [[Cov(tau_By, tau_Bz), Cov(tau_By, tau_A)], [Cov(tau_A, tau_Bz), Var(tau_A)]]
(rows: score y, columns: score z; R's `matrix(c(...), 2)` in compareC fills this by column),
    Var(C_y - C_z) = Var(C_y) + Var(C_z) - 2 Cov(C_y, C_z),  z = (C_y - C_z) / sqrt(Var), two-sided p.
(compareC reads scores as predicted survival; we negate risk scores first, which changes no variance.)
Checked against compareC 1.3.3's output to 1e-9 (tests/reference/test_r_compare_c.py, numbers from
tests/reference/r/compare_c.R).
Method "bootstrap": subjects resampled with replacement (seeded), percentile CI, SE = SD of the bootstrap
estimates, p-value from the normal approximation diff / SE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.survival._data import survival_arrays

logger = logging.getLogger(__name__)

METHODS = ("u-statistic", "bootstrap")
_CHUNK = 512


def _pair_sums(time: np.ndarray, event: np.ndarray, scores: list[np.ndarray]) -> dict:
    """Row sums and elementwise product sums of the compareC kernels A and B_y (O(n^2), row chunks).

    Returns {"a": row sums of A, "b": [row sums of B_y], "aa": sum A^2, "ab": [sum A B_y],
    "bb": {(p, q): sum B_p B_q}} over i != j (the diagonal of every kernel is 0).
    """
    n = time.size
    k = len(scores)
    a = np.zeros(n)
    b = [np.zeros(n) for _ in range(k)]
    aa = 0.0
    ab = [0.0] * k
    bb = {(p, q): 0.0 for p in range(k) for q in range(p, k)}
    for start in range(0, n, _CHUNK):
        rows = slice(start, min(n, start + _CHUNK))
        ti, ei = time[rows, None], event[rows, None]
        tj, ej = time[None, :], event[None, :]
        # c_ij = +1 when j has the earlier event (i outlives j), -1 when i does, 0 if not comparable
        j_first = (ej == 1) & ((tj < ti) | ((tj == ti) & (ei == 0)))
        i_first = (ei == 1) & ((ti < tj) | ((ti == tj) & (ej == 0)))
        c = j_first.astype(float) - i_first.astype(float)
        A = c * c
        a[rows] = A.sum(axis=1)
        aa += float((A * A).sum())
        Bs = []
        for p, y in enumerate(scores):
            # risk score: concordant when the earlier event has the higher risk
            B = c * np.sign(y[None, :] - y[rows, None])
            b[p][rows] = B.sum(axis=1)
            ab[p] += float((A * B).sum())
            Bs.append(B)
        for p in range(k):
            for q in range(p, k):
                bb[(p, q)] += float((Bs[p] * Bs[q]).sum())
    return {"a": a, "b": b, "aa": aa, "ab": ab, "bb": bb}


def _u_cov(n: int, k: np.ndarray, l_: np.ndarray, kl: float) -> float:
    """compareC's unbiased covariance of two U-statistics from row sums and the sum of kernel products."""
    return float((4 * (k * l_).sum() - 2 * kl - 2 * (2 * n - 3) * k.sum() * l_.sum() / (n * (n - 1)))
                 / (n * (n - 1) * (n - 2) * (n - 3)))


def _compare_c_moments(time, event, scores: list[np.ndarray]):
    """(C per score, covariance matrix of the C estimates) as compareC computes them."""
    n = time.size
    if n < 4:
        raise DataError(f"{n} subjects: the U-statistic variance needs at least 4", field="time")
    s = _pair_sums(time, event, scores)
    t_a = s["a"].sum() / (n * (n - 1))
    if t_a <= 0:
        raise DataError("no comparable pairs: Harrell's C is undefined", field="event",
                        hint="C needs at least one event before another subject's follow-up ends")
    t_b = [bp.sum() / (n * (n - 1)) for bp in s["b"]]
    c = np.array([(tb / t_a + 1) / 2 for tb in t_b])
    var_a = _u_cov(n, s["a"], s["a"], s["aa"])
    grads = [np.array([1 / t_a, -tb / t_a**2]) for tb in t_b]
    k = len(scores)
    cov = np.zeros((k, k))
    for p in range(k):
        for q in range(p, k):
            cov_bpbq = _u_cov(n, s["b"][p], s["b"][q], s["bb"][(p, q)])
            cov_bpa = _u_cov(n, s["b"][p], s["a"], s["ab"][p])
            cov_bqa = _u_cov(n, s["b"][q], s["a"], s["ab"][q])
            # Cov((tau_Bp, tau_A), (tau_Bq, tau_A)): rows belong to score p, columns to score q (compareC's
            # matrix(c(cov.t1213, cov.t1113, cov.t1112, var.t11), 2) is filled by column: the same matrix)
            sigma = np.array([[cov_bpbq, cov_bpa], [cov_bqa, var_a]])
            cov[p, q] = cov[q, p] = float(grads[p] @ sigma @ grads[q]) / 4
    return c, cov


def _c_index(time, event, score) -> float:
    return float(concordance_index(time, -score, event))


@dataclass(frozen=True)
class CIndexResult:
    """Harrell's C (risk-score orientation) with SE and CI."""

    c_index: float
    se: float
    lower: float
    upper: float
    method: str
    conf_level: float
    n: int
    n_events: int
    n_dropped: int

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"c_index": self.c_index, "se": self.se, "lower": self.lower, "upper": self.upper,
                              "method": self.method, "n": self.n, "events": self.n_events}])

    def __str__(self) -> str:
        return (f"Harrell's C = {self.c_index:.4f} ({self.conf_level:.0%} CI {self.lower:.4f}-{self.upper:.4f}, "
                f"{self.method}; n={self.n}, events={self.n_events})")


@dataclass(frozen=True)
class CIndexComparison:
    """Difference in Harrell's C between two scores on the same patients (a - b)."""

    c_a: float
    c_b: float
    difference: float
    se: float
    lower: float
    upper: float
    z: float
    p_value: float
    method: str
    conf_level: float
    n: int
    n_dropped: int

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"c_a": self.c_a, "c_b": self.c_b, "difference": self.difference, "se": self.se,
                              "lower": self.lower, "upper": self.upper, "z": self.z, "p_value": self.p_value,
                              "method": self.method, "n": self.n}])

    def __str__(self) -> str:
        return (f"C(a) - C(b) = {self.c_a:.4f} - {self.c_b:.4f} = {self.difference:.4f} "
                f"({self.conf_level:.0%} CI {self.lower:.4f} to {self.upper:.4f}), p = {self.p_value:.4g} "
                f"[{self.method}]")


def _check(method: str, conf_level: float, n_boot: int) -> float:
    if method not in METHODS:
        raise DataError(f"unknown method {method!r}", field="method", hint=f"use one of {METHODS}")
    if not 0 < conf_level < 1:
        raise DataError(f"conf_level {conf_level} not in (0, 1)", field="conf_level")
    if n_boot < 50:
        raise DataError(f"n_boot={n_boot} is too small", field="n_boot", hint="use at least 200 (1000 typical)")
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def harrell_c(
    time,
    event,
    score,
    *,
    method: str = "u-statistic",
    conf_level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> CIndexResult:
    """Harrell's C of a risk score (higher = worse prognosis) with a U-statistic or bootstrap CI."""
    z = _check(method, conf_level, n_boot)
    d = survival_arrays(time, event, extra={"score": score}, what="Harrell's C")
    t, e, s = d.time, d.event, d.extra["score"]
    c = _c_index(t, e, s)
    if method == "u-statistic":
        _, cov = _compare_c_moments(t, e, [s])
        se = float(np.sqrt(max(cov[0, 0], 0.0)))
        lower, upper = c - z * se, c + z * se
    else:
        rng = np.random.default_rng(seed)
        boots = np.empty(n_boot)
        for b in range(n_boot):
            idx = rng.integers(0, t.size, t.size)
            boots[b] = _c_index(t[idx], e[idx], s[idx]) if e[idx].sum() else np.nan
        boots = boots[np.isfinite(boots)]
        se = float(boots.std(ddof=1))
        alpha = 1 - conf_level
        lower, upper = (float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    return CIndexResult(c, se, float(lower), float(upper), method, conf_level, int(t.size), int(e.sum()),
                        d.n_dropped)


def compare_cindex(
    time,
    event,
    score_a,
    score_b,
    *,
    method: str = "u-statistic",
    conf_level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> CIndexComparison:
    """Test C(score_a) = C(score_b) on the same patients (Kang et al. 2015 U-statistic, or bootstrap)."""
    z = _check(method, conf_level, n_boot)
    d = survival_arrays(time, event, extra={"score_a": score_a, "score_b": score_b}, what="C-index comparison")
    t, e, a, b = d.time, d.event, d.extra["score_a"], d.extra["score_b"]
    c_a, c_b = _c_index(t, e, a), _c_index(t, e, b)
    diff = c_a - c_b
    if method == "u-statistic":
        _, cov = _compare_c_moments(t, e, [a, b])
        var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
        se = float(np.sqrt(var)) if var > 1e-15 else 0.0
        lower, upper = diff - z * se, diff + z * se
    else:
        rng = np.random.default_rng(seed)
        boots = np.empty(n_boot)
        for i in range(n_boot):
            idx = rng.integers(0, t.size, t.size)
            if e[idx].sum() == 0:
                boots[i] = np.nan
                continue
            boots[i] = _c_index(t[idx], e[idx], a[idx]) - _c_index(t[idx], e[idx], b[idx])
        boots = boots[np.isfinite(boots)]
        se = float(boots.std(ddof=1))
        alpha = 1 - conf_level
        lower, upper = (float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2]))
    if se <= 0:
        raise DataError("the two scores give identical concordance on every pair: no difference to test",
                        field="score_b", hint="compare two different scores")
    zstat = diff / se
    p = float(2 * stats.norm.sf(abs(zstat)))
    return CIndexComparison(c_a, c_b, diff, se, float(lower), float(upper), float(zstat), p, method, conf_level,
                            int(t.size), d.n_dropped)
