"""Kaplan–Meier estimates with Greenwood CIs, medians with CIs, survival at horizons, numbers at risk.

The product-limit estimate and its event table come from `lifelines.KaplanMeierFitter`; the variance and
the confidence intervals follow R `survival::survfit` (Therneau, survival 3.8) so results match R:

* Greenwood variance of log S:  Var[log S(t)] = sum_{t_i <= t} d_i / (n_i (n_i - d_i)),
  standard error of S reported as S(t) * sqrt(Var) (R's `std.err` column of `summary.survfit`).
* `conf_type="log"` (R's default):      S * exp(+-z * se_log), upper bound clipped at 1.
* `conf_type="log-log"` (lifelines' and SAS' default, Kalbfleisch & Prentice 1980):
  S ** exp(-+z * se_log / log S)  (always inside [0, 1]).
* `conf_type="plain"`:                   S +- z * S * se_log, clipped to [0, 1].
  Where S = 0 the interval is undefined and reported as NaN, as R reports NA.
* Median (and any quantile p) as in R's `quantile.survfit`: the first time at which the curve drops
  below 1 - p; if the curve equals 1 - p exactly on a plateau, the midpoint of that plateau's start and
  the next drop. The CI of the median is the same rule applied to the lower (-> lower limit) and upper
  (-> upper limit) confidence curves (Brookmeyer & Crowley 1982 as implemented by survfit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.survival._data import level_label, survival_arrays

logger = logging.getLogger(__name__)

CONF_TYPES = ("log", "log-log", "plain")
_TOL = np.sqrt(np.finfo(float).eps)


def _confidence(surv: np.ndarray, se_log: np.ndarray, z: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lower = surv * np.exp(-z * se_log)
            upper = np.minimum(1.0, surv * np.exp(z * se_log))
        elif conf_type == "log-log":
            se_ll = se_log / np.abs(np.log(surv))
            lower = surv ** np.exp(z * se_ll)
            upper = surv ** np.exp(-z * se_ll)
            one = surv >= 1.0
            lower[one], upper[one] = 1.0, 1.0
        else:
            lower = np.maximum(0.0, surv - z * surv * se_log)
            upper = np.minimum(1.0, surv + z * surv * se_log)
    undefined = (surv <= 0.0) | ~np.isfinite(se_log)
    lower[undefined] = np.nan
    upper[undefined] = np.nan
    return lower, upper


def _r_quantile(times: np.ndarray, curve: np.ndarray, target: float) -> float:
    """R quantile.survfit rule for one curve (NaN values never count as crossing)."""
    s = pd.Series(curve)
    keep = ~s.duplicated().to_numpy()
    x, y = times[keep], curve[keep]
    equal = np.flatnonzero(np.abs(y - target) < _TOL)
    if equal.size:
        k = equal[0]
        return float((x[k] + x[k + 1]) / 2.0) if k + 1 < x.size else float(x[k])
    below = np.flatnonzero(y < target)
    return float(x[below[0]]) if below.size else float("nan")


@dataclass(frozen=True)
class KMCurve:
    """One group's Kaplan–Meier table (all distinct times) and its raw follow-up data."""

    group: str
    table: pd.DataFrame  # time, n_risk, n_event, n_censor, survival, std_err, lower, upper
    time: np.ndarray = field(repr=False)
    event: np.ndarray = field(repr=False)

    def survival_at(self, times: Sequence[float]) -> pd.DataFrame:
        """R `summary(fit, times=)`: rows for requested times within follow-up (later ones omitted)."""
        tab = self.table
        rows, previous = [], -np.inf
        for t in sorted(float(x) for x in times):
            if t > self.time.max():
                logger.info("group %s: time %g is beyond the last follow-up (%g); omitted as in R",
                            self.group, t, self.time.max())
                continue
            idx = np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1
            if idx < 0:
                surv, se, lo, up = 1.0, 0.0, 1.0, 1.0
            else:
                r = tab.iloc[idx]
                surv, se, lo, up = r["survival"], r["std_err"], r["lower"], r["upper"]
            n_event = int(self.event[(self.time > previous) & (self.time <= t)].sum())
            rows.append({"group": self.group, "time": t, "n_risk": int((self.time >= t).sum()),
                         "n_event": n_event, "survival": surv, "std_err": se, "lower": lo, "upper": up})
            previous = t
        return pd.DataFrame(rows, columns=["group", "time", "n_risk", "n_event", "survival", "std_err",
                                           "lower", "upper"])

    def quantile(self, p: float = 0.5) -> tuple[float, float, float]:
        """Time by which a fraction p has had the event, with the CI limits (NaN when not reached)."""
        t = self.table["time"].to_numpy()
        target = 1.0 - p
        est = _r_quantile(t, self.table["survival"].to_numpy(), target)
        low = _r_quantile(t, self.table["lower"].to_numpy(), target)
        high = _r_quantile(t, self.table["upper"].to_numpy(), target)
        return est, low, high


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan–Meier curves by group; immutable. `summary()` gives n, events, median (CI) per group."""

    curves: tuple[KMCurve, ...]
    conf_type: str
    conf_level: float
    time_unit: str
    n_dropped: int

    def curve(self, group: str) -> KMCurve:
        for c in self.curves:
            if c.group == str(group):
                return c
        raise DataError(f"no Kaplan–Meier group {group!r}", hint=f"groups are {[c.group for c in self.curves]}")

    @property
    def groups(self) -> list[str]:
        return [c.group for c in self.curves]

    def summary(self) -> pd.DataFrame:
        rows = []
        for c in self.curves:
            med, lo, hi = c.quantile(0.5)
            rows.append({"group": c.group, "n": int(c.time.size), "events": int(c.event.sum()),
                         "median": med, "median_lower": lo, "median_upper": hi})
        out = pd.DataFrame(rows)
        out.attrs.update(conf_type=self.conf_type, conf_level=self.conf_level, time_unit=self.time_unit)
        return out

    def survival_at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival (SE, CI), numbers at risk and events since the previous time, per group and time."""
        return pd.concat([c.survival_at(times) for c in self.curves], ignore_index=True)

    def numbers_at_risk(self, times: Sequence[float]) -> pd.DataFrame:
        """Groups x times table of numbers still at risk (follow-up >= t), as printed under KM plots."""
        data = {float(t): [int((c.time >= t).sum()) for c in self.curves] for t in times}
        return pd.DataFrame(data, index=pd.Index(self.groups, name="group"))

    def __str__(self) -> str:
        return f"Kaplan–Meier ({self.conf_type} CI, {self.conf_level:.0%}, time in {self.time_unit})\n" + \
            self.summary().to_string(index=False)


def _fit_curve(group: str, t: np.ndarray, e: np.ndarray, z: float, conf_type: str) -> KMCurve:
    kmf = KaplanMeierFitter().fit(t, e)
    et = kmf.event_table
    times = et.index.to_numpy(dtype=float)
    n_risk = et["at_risk"].to_numpy(dtype=float)
    d = et["observed"].to_numpy(dtype=float)
    keep = times > 0 if times[0] == 0 and d[0] == 0 and et["censored"].iloc[0] == 0 else np.ones_like(times, bool)
    times, n_risk, d = times[keep], n_risk[keep], d[keep]
    censored = et["censored"].to_numpy(dtype=float)[keep]
    surv = kmf.survival_function_.reindex(times).to_numpy(dtype=float).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    var_log = np.cumsum(inc)
    se_log = np.sqrt(var_log)
    lower, upper = _confidence(surv, se_log, z, conf_type)
    with np.errstate(invalid="ignore"):
        std_err = np.where(surv > 0, surv * se_log, np.nan)
    table = pd.DataFrame({"time": times, "n_risk": n_risk.astype(int), "n_event": d.astype(int),
                          "n_censor": censored.astype(int), "survival": surv, "std_err": std_err,
                          "lower": lower, "upper": upper})
    return KMCurve(group, table, t, e)


def kaplan_meier(
    time,
    event,
    groups=None,
    *,
    conf_type: str = "log",
    conf_level: float = 0.95,
    time_unit: str = "days",
) -> KaplanMeierResult:
    """Kaplan–Meier curves (overall or by group) with R-compatible Greenwood CIs.

    Rows with a missing time, event or group are dropped and counted (`n_dropped`, logged).
    `conf_type`: "log" (R survfit default), "log-log" (lifelines/SAS default) or "plain".
    """
    if conf_type not in CONF_TYPES:
        raise DataError(f"unknown conf_type {conf_type!r}", field="conf_type", hint=f"use one of {CONF_TYPES}")
    if not 0.0 < conf_level < 1.0:
        raise DataError(f"conf_level {conf_level} not in (0, 1)", field="conf_level")
    z = float(stats.norm.ppf(0.5 + conf_level / 2.0))
    n_in = np.asarray(time).size
    if groups is None:
        g = np.zeros(n_in)
    else:
        g_series = pd.Series(np.asarray(groups, dtype=object).ravel())
        codes, uniques = pd.factorize(g_series, sort=True)
        g = np.where(codes < 0, np.nan, codes).astype(float)
    data = survival_arrays(time, event, extra={"group": g}, what="Kaplan–Meier", min_events=0)
    curves = []
    gcodes = data.extra["group"].astype(int)
    for code in np.unique(gcodes):
        name = "all" if groups is None else level_label(uniques[code])
        sel = gcodes == code
        curves.append(_fit_curve(name, data.time[sel], data.event[sel], z, conf_type))
    return KaplanMeierResult(tuple(curves), conf_type, conf_level, time_unit, data.n_dropped)
