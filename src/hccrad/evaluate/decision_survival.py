"""Survival decision curve analysis at a time horizon (Vickers et al., BMC Med Inform Decis Mak 2008; 8:53),
as the reference implementations R `dcurves::dca(Surv(time, event) ~ risk, time = t)` and Python
`dcurves.dca(..., time=t, time_to_outcome_col=...)` 1.1.7.

At threshold probability p_t, a patient is test-positive when risk >= p_t (risk = predicted probability of
the event by the horizon t). With S_KM(t | pos) the Kaplan–Meier survival at t among the test-positives
and P(pos) their share of all N patients:

    tp_rate  = (1 − S_KM(t | pos)) · P(pos)
    fp_rate  = S_KM(t | pos) · P(pos)
    NB(p_t)  = tp_rate − fp_rate · p_t / (1 − p_t)
    treat all: the same with every patient positive (overall KM); treat none: NB = 0
    prevalence = 1 − S_KM(t) over all patients
    net interventions avoided per `nper` = (NB − NB_all) / (p_t / (1 − p_t)) · nper

S_KM(t) = prod_{event times u <= t} (1 − d_u / n_u), the product-limit estimate (right-continuous step).
As dcurves: a risk of exactly 0 is never and exactly 1 always test-positive; no test-positives give
NB = 0; where the test-positives' last follow-up is before t, S_KM(t | pos) is undefined and NB is NaN.
A horizon after the last follow-up of the whole cohort is refused (dcurves returns NaN for every row).
Reproduced to 1e-9 against Python dcurves 1.1.7 on its df_surv (tests/reference/test_dcurves_surv_case_control.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

__all__ = ["km_survival_at", "survival_decision_curve"]


def km_survival_at(time: np.ndarray, event: np.ndarray, horizon: float) -> float:
    """Kaplan–Meier survival at `horizon`; NaN when the last follow-up is before `horizon` (or no data)."""
    if time.size == 0 or time.max() < horizon:
        return float("nan")
    event_times = np.unique(time[(event == 1) & (time <= horizon)])
    at_risk = (time[None, :] >= event_times[:, None]).sum(axis=1)
    deaths = ((time[None, :] == event_times[:, None]) & (event[None, :] == 1)).sum(axis=1)
    return float(np.prod(1.0 - deaths / at_risk))


def _thresholds(thresholds: Sequence[float] | np.ndarray | None) -> np.ndarray:
    thr = np.round(np.arange(0, 1, 0.01), 2) if thresholds is None else np.asarray(thresholds, dtype=float)
    if thr.ndim != 1 or thr.size == 0 or (thr < 0).any() or (thr >= 1).any():
        raise DataError("thresholds must be a non-empty 1-D sequence in [0, 1)", field="thresholds",
                        hint="e.g. numpy.arange(0, 0.5, 0.01)")
    return thr


def _checked_survival(time, event, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    ev = _checks.binary_outcome(event, field="event", need_both=False)
    tt = _checks.scores(time, ev.size, field="time")
    if (tt < 0).any():
        raise DataError(f"{int((tt < 0).sum())} negative survival time(s)", field="time",
                        hint="times must be >= 0 (from the index date to the event or last follow-up)")
    if not np.isfinite(horizon) or horizon <= 0:
        raise DataError(f"time horizon must be a positive number, got {horizon}", field="horizon",
                        hint="give the horizon in the unit of `time`, e.g. 1.5 (years)")
    if tt.max() < horizon:
        raise DataError(f"time horizon {horizon} is after the last follow-up ({tt.max():g})", field="horizon",
                        hint="choose a horizon within the follow-up; the KM estimate is undefined beyond it")
    return tt, ev


def _model_rates(risk: np.ndarray, time: np.ndarray, event: np.ndarray, thr: np.ndarray,
                 horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test-positive, true-positive and false-positive rates of one risk vector at each threshold."""
    n = risk.size
    pos_rate, tp, fp = np.empty(thr.size), np.empty(thr.size), np.empty(thr.size)
    for i, p_t in enumerate(thr):
        # test-positive: risk >= p_t, with risk == 0 never positive and risk == 1 always (dcurves ±ε)
        pos = ((risk >= p_t) & (risk > 0)) | (risk >= 1)
        pos_rate[i] = pos.sum() / n
        risk_among_pos = 0.0 if not pos.any() else 1.0 - km_survival_at(time[pos], event[pos], horizon)
        tp[i] = risk_among_pos * pos_rate[i]
        fp[i] = (1.0 - risk_among_pos) * pos_rate[i]
    return pos_rate, tp, fp


def survival_decision_curve(time: Sequence | np.ndarray, event: Sequence | np.ndarray,
                            risks: Mapping[str, Sequence | np.ndarray], horizon: float,
                            thresholds: Sequence[float] | np.ndarray | None = None, *,
                            nper: int = 1) -> pd.DataFrame:
    """Net benefit at `horizon` of each model's predicted event probability and of treat-all / treat-none.

    Returns a long DataFrame with columns: model ("all", "none", then each name), threshold, horizon, n,
    prevalence (1 − overall KM at the horizon), test_pos_rate, tp_rate, fp_rate, net_benefit,
    net_interventions_avoided (per `nper` patients, NaN at p_t = 0), standardized_net_benefit (NB / prevalence).
    Default thresholds: 0, 0.01, …, 0.99 (dcurves' default).
    """
    tt, ev = _checked_survival(time, event, float(horizon))
    if not risks:
        raise DataError("no models given", field="risks", hint="pass {name: predicted event probability at horizon}")
    reserved = {"all", "none"} & set(risks)
    if reserved:
        raise DataError(f"model name(s) {sorted(reserved)} are reserved for the reference strategies",
                        field="risks", hint="rename the model")
    thr = _thresholds(thresholds)
    n = tt.size
    prev = 1.0 - km_survival_at(tt, ev, float(horizon))
    w = thr / (1.0 - thr)
    strategies = {"all": np.ones(n), "none": np.zeros(n)}
    strategies.update({k: _checks.probabilities(v, n, field=k) for k, v in risks.items()})
    frames, nb_all = [], None
    for name, risk in strategies.items():
        pos_rate, tp, fp = _model_rates(risk, tt, ev, thr, float(horizon))
        nb = tp - fp * w
        nb_all = nb if name == "all" else nb_all
        with np.errstate(divide="ignore", invalid="ignore"):
            nia = np.where(thr > 0, (nb - nb_all) / np.where(thr > 0, w, 1.0) * nper, np.nan)
        frames.append(pd.DataFrame({"model": name, "threshold": thr, "horizon": float(horizon), "n": n,
                                    "prevalence": prev, "test_pos_rate": pos_rate, "tp_rate": tp, "fp_rate": fp,
                                    "net_benefit": nb, "net_interventions_avoided": nia,
                                    "standardized_net_benefit": nb / prev}))
    return pd.concat(frames, ignore_index=True)
