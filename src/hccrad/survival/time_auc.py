"""Time-dependent (cumulative/dynamic) AUC at chosen horizons, with bootstrap CIs and a paired comparison.

AUC(t) (Uno et al., JASA 2007; Hung & Chiang, Can J Stat 2010; Blanche, Dartigues & Jacqmin-Gadda,
Stat Med 2013): cases are subjects with an event at or before t, controls those still event-free after t;
cases are weighted by the inverse probability of censoring w_i = 1 / G(T_i-), G being the Kaplan–Meier
estimate of the censoring distribution **fitted on the training cohort** (pass the training times/events;
for an apparent, single-cohort analysis pass the same data twice),
    G(T_i-) = prod_{u < T_i} (1 - c_u / (n_u - d_u))
(c_u censorings and d_u events at u, n_u subjects with T >= u: events tied with censorings come first, as
prodlim's `reverse = TRUE`); controls share the weight 1 / G(t), which cancels:

    AUC(t) = sum_i sum_j 1(T_i <= t, d_i = 1) 1(T_j > t) w_i [1(f_i > f_j) + 1/2 1(f_i = f_j)]
             / ( sum_i 1(T_i <= t, d_i = 1) w_i * sum_j 1(T_j > t) ).

`ipcw="left"` (default) is this left limit G(T_i-), the weighting of timeROC and riskRegression `Score`
(checked against riskRegression to 1e-9, tests/reference/test_r_time_auc.py); `ipcw="right"` weights cases
by 1 / G(T_i) instead, as `sksurv.metrics.cumulative_dynamic_auc` does (hccrad's weighting before issue 22;
it differs where censorings fall on or just before the cases' event times).

CIs: nonparametric bootstrap of the evaluation cohort (seeded; the training censoring distribution kept
fixed), percentile intervals. `compare_time_auc` bootstraps AUC_a(t) - AUC_b(t) on the same resamples
(paired), gives the percentile CI and a two-sided p-value from the normal approximation
diff / SD_boot (the bootstrap test of seed 002 table 3, as `timeROC::compare` does with its iid
representation).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sksurv.metrics import cumulative_dynamic_auc
from sksurv.util import Surv

from hccrad.core.errors import DataError
from hccrad.survival._data import survival_arrays

logger = logging.getLogger(__name__)


def _check_times(times: Sequence[float], train_t, test_t, test_e) -> np.ndarray:
    tt = np.asarray(sorted(float(t) for t in times))
    if tt.size == 0:
        raise DataError("no horizons given", field="times", hint="e.g. times=years_to('months', (1, 3, 5))")
    lo, hi = test_t.min(), test_t.max()
    bad = tt[(tt < lo) | (tt >= hi) | (tt >= train_t.max())]
    if bad.size:
        raise DataError(f"horizon(s) {bad.tolist()} outside the follow-up range [{lo:g}, {hi:g}) of the "
                        f"evaluation cohort (training max {train_t.max():g})", field="times",
                        hint="time-dependent AUC needs subjects still under follow-up after each horizon")
    no_case = [t for t in tt if not np.any((test_t <= t) & (test_e == 1))]
    if no_case:
        raise DataError(f"no events at or before horizon(s) {no_case}: AUC undefined", field="times",
                        hint="choose later horizons")
    return tt


IPCW = ("left", "right")


def _auc_sksurv(train, test_t, test_e, score, times) -> np.ndarray:
    """AUC(t) with case weights 1 / G(T_i) (sksurv `cumulative_dynamic_auc`)."""
    # An event after the last horizon makes its subject a control at every horizon, where no weight is used;
    # sksurv still evaluates G at that event time and stops when G is zero there (past the training
    # cohort's last follow-up). Counting those events as censored leaves every AUC(t <= last horizon) unchanged.
    event = test_e.astype(bool) & (test_t <= np.max(times))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auc, _ = cumulative_dynamic_auc(train, Surv.from_arrays(event, test_t), score, times)
    return np.asarray(auc, dtype=float)


def censoring_survival_before(train_time: np.ndarray, train_event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """G(s-) = prod_{u < s} (1 - c_u / (n_u - d_u)), the left limit at each `at` of the Kaplan–Meier estimate
    of the censoring times (events tied with censorings come first: prodlim `reverse = TRUE`)."""
    u, inverse = np.unique(train_time, return_inverse=True)
    censored = np.bincount(inverse, weights=(train_event == 0).astype(float), minlength=u.size)
    at_risk = train_time.size - np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=u.size))[:-1]])
    events = np.bincount(inverse, weights=(train_event == 1).astype(float), minlength=u.size)
    at_risk_censoring = at_risk - events  # 0 only where everyone left is an event: no censoring there
    hazard = np.divide(censored, at_risk_censoring, out=np.zeros(u.size), where=at_risk_censoring > 0)
    g = np.concatenate([[1.0], np.cumprod(1.0 - hazard)])
    return g[np.searchsorted(u, at, side="left")]


def _auc_left(train_t, train_e, test_t, test_e, score, times) -> np.ndarray:
    """AUC(t) with case weights 1 / G(T_i-) (timeROC, riskRegression `Score`); tied scores count 1/2."""
    g_before = censoring_survival_before(train_t, train_e, test_t)  # > 0 for every case (horizon < train max)
    out = np.empty(len(times))
    for k, h in enumerate(times):
        cases = (test_t <= h) & (test_e == 1)
        controls = np.sort(score[test_t > h])
        below = np.searchsorted(controls, score[cases], side="left")
        ties = np.searchsorted(controls, score[cases], side="right") - below
        w = 1.0 / g_before[cases]
        out[k] = float((w * (below + 0.5 * ties)).sum() / (w.sum() * controls.size))
    return out


def _auc(train, test_t, test_e, score, times, ipcw: str = "left") -> np.ndarray:
    if ipcw == "right":
        return _auc_sksurv(train, test_t, test_e, score, times)
    return _auc_left(train["time"], train["event"].astype(int), test_t, test_e, score, times)


def _check_ipcw(ipcw: str) -> None:
    if ipcw not in IPCW:
        raise DataError(f"unknown IPC weighting {ipcw!r}", field="ipcw",
                        hint='use "left" (1/G(T-), timeROC/riskRegression) or "right" (1/G(T), sksurv)')


def _prepare(train_time, train_event, time, event, scores: dict):
    tr = survival_arrays(train_time, train_event, what="time-dependent AUC (training censoring)")
    te = survival_arrays(time, event, extra=scores, what="time-dependent AUC")
    train = Surv.from_arrays(tr.event.astype(bool), tr.time)
    return tr, te, train


def _boot_indices(n: int, events: np.ndarray, test_t, times, n_boot: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        t, e = test_t[idx], events[idx]
        ok = all(np.any((t <= h) & (e == 1)) and np.any(t > h) for h in times) and t.max() > times.max()
        yield idx if ok else None


@dataclass(frozen=True)
class TimeAUCResult:
    """AUC(t) per horizon with bootstrap CI and case/control counts."""

    table: pd.DataFrame  # time, auc, lower, upper, n_cases, n_controls
    n_boot: int
    seed: int
    conf_level: float
    time_unit: str
    n_dropped: int
    ipcw: str = "left"  # case weights 1/G(T-) ("left", timeROC/riskRegression) or 1/G(T) ("right")

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        weight = "1/G(T-)" if self.ipcw == "left" else "1/G(T)"
        return f"time-dependent AUC (cumulative/dynamic, IPCW {weight}; time in {self.time_unit})\n" + \
            self.table.to_string(index=False)


@dataclass(frozen=True)
class TimeAUCComparison:
    """Paired bootstrap comparison of AUC_a(t) and AUC_b(t)."""

    table: pd.DataFrame  # time, auc_a, auc_b, difference, lower, upper, se, z, p_value
    n_boot: int
    seed: int
    conf_level: float
    n_dropped: int

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        return "AUC(t) difference (paired bootstrap)\n" + self.table.to_string(index=False)


def time_dependent_auc(
    train_time,
    train_event,
    time,
    event,
    score,
    times: Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    conf_level: float = 0.95,
    time_unit: str = "days",
    ipcw: str = "left",
) -> TimeAUCResult:
    """Cumulative/dynamic AUC of a risk score at each horizon (IPCW from the training cohort).

    `ipcw`: "left" weights cases by 1/G(T_i-) as timeROC and riskRegression (default); "right" by 1/G(T_i)
    as sksurv.
    """
    _check_ipcw(ipcw)
    tr, te, train = _prepare(train_time, train_event, time, event, {"score": score})
    t, e, s = te.time, te.event, te.extra["score"]
    horizons = _check_times(times, tr.time, t, e)
    auc = _auc(train, t, e, s, horizons, ipcw)
    alpha = 1 - conf_level
    lower = np.full(horizons.size, np.nan)
    upper = np.full(horizons.size, np.nan)
    if n_boot:
        boots = [_auc(train, t[i], e[i], s[i], horizons, ipcw)
                 for i in _boot_indices(t.size, e, t, horizons, n_boot, seed) if i is not None]
        if len(boots) < 0.9 * n_boot:
            raise DataError(f"only {len(boots)} of {n_boot} bootstrap samples had cases and controls at every "
                            "horizon", field="times", hint="choose horizons with more events and more follow-up")
        lower, upper = np.quantile(np.array(boots), [alpha / 2, 1 - alpha / 2], axis=0)
    table = pd.DataFrame({"time": horizons, "auc": auc, "lower": lower, "upper": upper,
                          "n_cases": [int(((t <= h) & (e == 1)).sum()) for h in horizons],
                          "n_controls": [int((t > h).sum()) for h in horizons]})
    return TimeAUCResult(table, n_boot, seed, conf_level, time_unit, te.n_dropped, ipcw)


def compare_time_auc(
    train_time,
    train_event,
    time,
    event,
    score_a,
    score_b,
    times: Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    conf_level: float = 0.95,
    ipcw: str = "left",
) -> TimeAUCComparison:
    """Test AUC_a(t) = AUC_b(t) at each horizon by a paired, seeded bootstrap of the evaluation cohort.

    `ipcw` as in :func:`time_dependent_auc` ("left": 1/G(T_i-), the default; "right": 1/G(T_i)).
    """
    _check_ipcw(ipcw)
    if n_boot < 50:
        raise DataError(f"n_boot={n_boot} is too small", field="n_boot", hint="use at least 200 (1000 typical)")
    tr, te, train = _prepare(train_time, train_event, time, event, {"a": score_a, "b": score_b})
    t, e, a, b = te.time, te.event, te.extra["a"], te.extra["b"]
    horizons = _check_times(times, tr.time, t, e)
    auc_a, auc_b = _auc(train, t, e, a, horizons, ipcw), _auc(train, t, e, b, horizons, ipcw)
    diffs = [_auc(train, t[i], e[i], a[i], horizons, ipcw) - _auc(train, t[i], e[i], b[i], horizons, ipcw)
             for i in _boot_indices(t.size, e, t, horizons, n_boot, seed) if i is not None]
    diffs = np.array(diffs)
    alpha = 1 - conf_level
    lower, upper = np.quantile(diffs, [alpha / 2, 1 - alpha / 2], axis=0)
    se = diffs.std(axis=0, ddof=1)
    diff = auc_a - auc_b
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.nan)
    if np.any(se <= 0):
        raise DataError("the two scores rank every bootstrap sample identically: no difference to test",
                        field="score_b")
    p = 2 * stats.norm.sf(np.abs(z))
    table = pd.DataFrame({"time": horizons, "auc_a": auc_a, "auc_b": auc_b, "difference": diff,
                          "lower": lower, "upper": upper, "se": se, "z": z, "p_value": p})
    return TimeAUCComparison(table, n_boot, seed, conf_level, te.n_dropped)
